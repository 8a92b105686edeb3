//! Password hashing off the async runtime, bounded as the core bounds it: argon2 work shares
//! `argon2_hashing_pool_size` permits (it is memory-hungry), Firebase scrypt verification
//! `firebase_password_hashing_pool_size`; bcrypt one per core. No database
//! connection is held while hashing.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use portcullis_core::config::{Config, Key};
use portcullis_core::crypto::password::{self, Algorithm, HashAlgorithm, PasswordSettings};
use portcullis_core::error::Error;
use portcullis_core::services::PasswordHasher;
use tokio::sync::Semaphore;

pub struct Hashing {
    argon2: Semaphore,
    firebase: Semaphore,
    /// bcrypt is CPU-bound: more at once than there are cores only queues threads and starves the
    /// rest of the server (measured: 64 concurrent sign-ins, p50 of 5-15 s), so one per core.
    bcrypt: Semaphore,
    /// For metrics: hashes waiting for a slot, and hashes being computed.
    waiting: AtomicUsize,
    running: AtomicUsize,
}

/// Counts one unit in a gauge for as long as it lives.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(gauge: &'a AtomicUsize) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Counted(gauge)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn permits(cfg: &Config, key: Key) -> usize {
    usize::try_from(cfg.int(key)).unwrap_or(1).max(1)
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(format!("hashing worker failed: {e}")))
}

impl Hashing {
    pub fn new(base: &Config) -> Hashing {
        Hashing {
            argon2: Semaphore::new(permits(base, Key::argon2_hashing_pool_size)),
            firebase: Semaphore::new(permits(base, Key::firebase_password_hashing_pool_size)),
            bcrypt: Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from)),
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
        }
    }

    /// (waiting, running) hashes, for metrics.
    pub fn queue(&self) -> (usize, usize) {
        (self.waiting.load(Ordering::Relaxed), self.running.load(Ordering::Relaxed))
    }

    async fn permit(&self, algorithm: Option<Algorithm>) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, Error> {
        let pool = match algorithm {
            Some(Algorithm::Argon2) => &self.argon2,
            Some(Algorithm::FirebaseScrypt) => &self.firebase,
            Some(Algorithm::Bcrypt) => &self.bcrypt,
            None => return Ok(None),
        };
        pool.acquire().await.map(Some).map_err(|_| Error::Internal("hashing pool closed".into()))
    }
}

#[async_trait]
impl PasswordHasher for Hashing {
    async fn hash(&self, tenant: &PasswordSettings, password: String) -> Result<String, Error> {
        let settings = tenant.hashing.clone().map_err(Error::Internal)?;
        let algorithm = match settings.algorithm {
            HashAlgorithm::Argon2 => Algorithm::Argon2,
            HashAlgorithm::Bcrypt => Algorithm::Bcrypt,
        };
        let waiting = Counted::new(&self.waiting);
        let _permit = self.permit(Some(algorithm)).await?;
        drop(waiting);
        let _running = Counted::new(&self.running);
        blocking(move || password::hash(&password, &settings)).await?.map_err(|e| Error::Internal(e.to_string()))
    }

    async fn verify(&self, tenant: &PasswordSettings, password: String, stored: Option<String>) -> Result<bool, Error> {
        let Some(stored) = stored else {
            self.hash(tenant, password).await?;
            return Ok(false);
        };
        let settings = tenant.verifying.clone();
        let waiting = Counted::new(&self.waiting);
        let _permit = self.permit(password::algorithm_of(&stored)).await?;
        drop(waiting);
        let _running = Counted::new(&self.running);
        blocking(move || password::verify(&password, &stored, &settings)).await?.map_err(|e| Error::Internal(e.to_string()))
    }
}
