//! The storage-agnostic heart of Portcullis: configuration, the tenancy model, recipe rules
//! and the storage traits that the database adapters implement.

// Shared foundations.
pub mod cdi;
pub mod config;
pub mod crypto;
pub mod error;
pub mod ids;
pub mod input;
pub mod services;
pub mod settings;
pub mod storage;

// One module per recipe: its rules, and its storage trait in `<recipe>/storage.rs`.
pub mod accountlinking;
pub mod bulkimport;
pub mod dashboard;
pub mod emailpassword;
pub mod emailverification;
pub mod metadata;
pub mod multitenancy;
pub mod oauth;
pub mod passwordless;
pub mod ratelimit;
pub mod roles;
pub mod saml;
pub mod session;
pub mod thirdparty;
pub mod totp;
pub mod useridmapping;
pub mod users;
pub mod webauthn;

/// Milliseconds since the Unix epoch, as the schema stores time.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
