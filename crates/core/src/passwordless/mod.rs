//! The passwordless recipe: devices (one sign-in attempt for an email or phone number), their
//! codes, and consuming a code to sign a user in or up.

pub mod codes;
pub mod storage;

use crate::config::Config;

/// The passwordless recipe's settings, derived once from a tenant's effective config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `passwordless_code_lifetime`: how long a code (and its link) can be consumed.
    pub code_lifetime_ms: i64,
    /// `passwordless_max_code_input_attempts`: wrong user input codes per device before it goes.
    pub max_attempts: i64,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        Settings { code_lifetime_ms: cfg.passwordless_code_lifetime(), max_attempts: cfg.passwordless_max_code_input_attempts() }
    }
}
