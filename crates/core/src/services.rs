//! What the recipes ask of the process that runs them, besides a storage: hashing passwords (on
//! worker threads, bounded, never holding a database connection) and recording user activity
//! (throttled). The server implements both; tests can give their own.

use async_trait::async_trait;

use crate::crypto::password::PasswordSettings;
use crate::error::Error;
use crate::ids::AppKey;
use crate::storage::Storage;

#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A new hash of `password` with the tenant's algorithm and costs.
    async fn hash(&self, settings: &PasswordSettings, password: String) -> Result<String, Error>;

    /// Whether `password` matches `stored`. Without a stored hash (no such user) the same work is
    /// done and false returned, so that timing does not tell which accounts exist.
    async fn verify(&self, settings: &PasswordSettings, password: String, stored: Option<String>) -> Result<bool, Error>;
}

#[async_trait]
pub trait ActivityLog: Send + Sync {
    /// Records that the user (any id the application uses for it) was active at `now`, in
    /// `user_last_active`. Never fails a request: a failure is only logged.
    async fn record(&self, storage: &dyn Storage, app: AppKey<'_>, user_id: &str, now: i64);
}
