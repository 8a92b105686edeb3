//! What the recipes read from a tenant's effective config, derived once when the tenant is loaded
//! (not per request): durations in milliseconds, limits, key timing, hashing parameters.

use crate::config::Config;
use crate::crypto::password::{HashSettings, VerifySettings};

#[derive(Clone, Debug, PartialEq)]
pub struct TenantSettings {
    pub session: crate::session::Settings,
    pub passwordless: crate::passwordless::Settings,
    pub totp: crate::totp::codes::Limits,
    /// `password_reset_token_lifetime`.
    pub password_reset_token_lifetime_ms: i64,
    /// `email_verification_token_lifetime`.
    pub email_verification_token_lifetime_ms: i64,
    /// How new password hashes are made (`password_hashing_alg` and the costs); the error is kept
    /// for the request that needs a hash, as a value out of range only matters then.
    pub hashing: Result<HashSettings, String>,
    /// What checking a password needs besides its stored hash.
    pub verifying: VerifySettings,
}

impl TenantSettings {
    pub fn from_config(cfg: &Config) -> TenantSettings {
        TenantSettings {
            session: crate::session::Settings::from_config(cfg),
            passwordless: crate::passwordless::Settings::from_config(cfg),
            totp: crate::totp::codes::Limits::from_config(cfg),
            password_reset_token_lifetime_ms: cfg.password_reset_token_lifetime(),
            email_verification_token_lifetime_ms: cfg.email_verification_token_lifetime(),
            hashing: HashSettings::from_config(cfg).map_err(|e| e.to_string()),
            verifying: VerifySettings::from_config(cfg),
        }
    }
}
