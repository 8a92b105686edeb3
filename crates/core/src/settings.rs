//! What the recipes read from a tenant's effective config, derived once when the tenant is loaded
//! (not per request): durations in milliseconds, limits, key timing, hashing parameters.

use crate::config::Config;
use crate::crypto::password::PasswordSettings;

#[derive(Clone, Debug, PartialEq)]
pub struct TenantSettings {
    pub session: crate::session::Settings,
    pub passwordless: crate::passwordless::Settings,
    pub totp: crate::totp::codes::Limits,
    /// `password_reset_token_lifetime`.
    pub password_reset_token_lifetime_ms: i64,
    /// `email_verification_token_lifetime`.
    pub email_verification_token_lifetime_ms: i64,
    /// Password hashing and checking (`password_hashing_alg`, the costs, the Firebase signer key).
    pub passwords: PasswordSettings,
    pub saml: crate::saml::Settings,
    /// The brute-force limits (`ratelimit`), all off by default.
    pub limits: crate::ratelimit::Settings,
}

impl TenantSettings {
    pub fn from_config(cfg: &Config) -> TenantSettings {
        TenantSettings {
            session: crate::session::Settings::from_config(cfg),
            passwordless: crate::passwordless::Settings::from_config(cfg),
            totp: crate::totp::codes::Limits::from_config(cfg),
            password_reset_token_lifetime_ms: cfg.password_reset_token_lifetime(),
            email_verification_token_lifetime_ms: cfg.email_verification_token_lifetime(),
            passwords: PasswordSettings::from_config(cfg),
            saml: crate::saml::Settings::from_config(cfg),
            limits: crate::ratelimit::Settings::from_config(cfg),
        }
    }
}
