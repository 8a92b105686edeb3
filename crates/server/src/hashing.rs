//! Password hashing off the async runtime, bounded as the core bounds it: argon2 work shares
//! `argon2_hashing_pool_size` permits (it is memory-hungry), Firebase scrypt verification
//! `firebase_password_hashing_pool_size`; bcrypt runs on the blocking pool unbounded. No database
//! connection is held while hashing.

use portcullis_core::config::Config;
use portcullis_core::crypto::password::{self, Algorithm, HashAlgorithm, HashSettings, VerifySettings};
use tokio::sync::Semaphore;

use crate::http::error::ApiError;

pub struct Hashing {
    argon2: Semaphore,
    firebase: Semaphore,
}

fn permits(cfg: &Config, key: &str) -> usize {
    usize::try_from(cfg.i64(key)).unwrap_or(1).max(1)
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Internal(format!("hashing worker failed: {e}")))
}

impl Hashing {
    pub fn new(base: &Config) -> Hashing {
        Hashing {
            argon2: Semaphore::new(permits(base, "argon2_hashing_pool_size")),
            firebase: Semaphore::new(permits(base, "firebase_password_hashing_pool_size")),
        }
    }

    async fn permit(&self, algorithm: Option<Algorithm>) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, ApiError> {
        let pool = match algorithm {
            Some(Algorithm::Argon2) => &self.argon2,
            Some(Algorithm::FirebaseScrypt) => &self.firebase,
            _ => return Ok(None),
        };
        pool.acquire().await.map(Some).map_err(|_| ApiError::Internal("hashing pool closed".into()))
    }

    /// A new hash of `password` with the app's configured algorithm and costs.
    pub async fn hash(&self, cfg: &Config, password: String) -> Result<String, ApiError> {
        let settings = HashSettings::from_config(cfg).map_err(|e| ApiError::Internal(e.to_string()))?;
        let algorithm = match settings.algorithm {
            HashAlgorithm::Argon2 => Algorithm::Argon2,
            HashAlgorithm::Bcrypt => Algorithm::Bcrypt,
        };
        let _permit = self.permit(Some(algorithm)).await?;
        blocking(move || password::hash(&password, &settings)).await?.map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Whether `password` matches `stored`. Without a stored hash (no such user) the same work is
    /// done and false returned, so that timing does not tell which accounts exist.
    pub async fn verify(&self, cfg: &Config, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let Some(stored) = stored else {
            self.hash(cfg, password).await?;
            return Ok(false);
        };
        let settings = VerifySettings::from_config(cfg);
        let _permit = self.permit(password::algorithm_of(&stored)).await?;
        blocking(move || password::verify(&password, &stored, &settings)).await?.map_err(|e| ApiError::Internal(e.to_string()))
    }
}
