//! The storage-agnostic heart of Portcullis: configuration, the tenancy model, recipe rules
//! and the storage traits that the database adapters implement.

pub mod accountlinking;
pub mod bulkimport;
pub mod config;
pub mod crypto;
pub mod ids;
pub mod metadata;
pub mod multitenancy;
pub mod passwordless;
pub mod roles;
pub mod session;
pub mod totp;
pub mod users;
pub mod storage;

/// Milliseconds since the Unix epoch, as the schema stores time.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
