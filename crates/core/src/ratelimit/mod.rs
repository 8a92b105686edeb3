//! Brute-force limits, opt-in per app or tenant (beyond the SuperTokens core, which has none).
//!
//! The rule, written once here:
//! - a limit is `max` calls in a fixed window of `window_ms` that starts at the first counted
//!   call; `max = 0` turns the limit off, and then nothing is read or written;
//! - a call is counted before it is served (one atomic upsert, see `storage.rs`), so two instances
//!   on one database agree and a burst cannot slip past the limit between a read and a write; the
//!   call is allowed when its count is at most `max`; a refused call is counted too but never
//!   moves the window's end, so the window still ends on time;
//! - what is counted:
//!   - [`Kind::SignInByEmail`]: email-password sign-in attempts per (tenant, email), for emails
//!     with and without an account alike; [`Kind::SignInByUser`]: the same per user (across
//!     tenants). A successful sign-in clears both counters, so they count failures since the last
//!     success; once `max` failed, the next attempt is refused (even with the right password)
//!     until the window ends;
//!   - [`Kind::PasswordlessCodes`]: passwordless codes created per (tenant, email or phone);
//!   - [`Kind::PasswordResetTokens`] and [`Kind::EmailVerificationTokens`]: tokens created per user.
//! - what is counted is stored as its SHA-256, never in clear.

pub mod storage;

use crate::config::Config;
use crate::crypto::sha256_hex;
use crate::ids::AppKey;
use crate::storage::{Storage, StorageError};
use storage::CounterKey;

/// What a counter counts. Its name is the `kind` column and the metrics label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    SignInByEmail,
    SignInByUser,
    PasswordlessCodes,
    PasswordResetTokens,
    EmailVerificationTokens,
}

impl Kind {
    pub const ALL: [Kind; 5] =
        [Kind::SignInByEmail, Kind::SignInByUser, Kind::PasswordlessCodes, Kind::PasswordResetTokens, Kind::EmailVerificationTokens];

    pub fn name(self) -> &'static str {
        match self {
            Kind::SignInByEmail => "sign_in_by_email",
            Kind::SignInByUser => "sign_in_by_user",
            Kind::PasswordlessCodes => "passwordless_codes",
            Kind::PasswordResetTokens => "password_reset_tokens",
            Kind::EmailVerificationTokens => "email_verification_tokens",
        }
    }

    /// Counters per user span the app's tenants (a user may belong to several).
    fn spans_app(self) -> bool {
        matches!(self, Kind::SignInByUser | Kind::PasswordResetTokens | Kind::EmailVerificationTokens)
    }
}

/// `max` calls per window of `window_ms`; `max = 0` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_ms: i64,
}

impl Limit {
    fn from_keys(max: i64, window_sec: i64) -> Limit {
        Limit { max, window_ms: window_sec.saturating_mul(1000) }
    }

    pub fn is_on(&self) -> bool {
        self.max > 0
    }

    /// Whether the call that made the window's count `count` is served.
    pub fn allows(&self, count: i64) -> bool {
        !self.is_on() || count <= self.max
    }

    /// When a window opened by a call at `now` ends.
    pub fn window_end(&self, now: i64) -> i64 {
        now.saturating_add(self.window_ms)
    }
}

/// The limits of a tenant's effective config.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `emailpassword_max_failed_sign_ins` per `emailpassword_failed_sign_in_window_sec`, per
    /// (tenant, email) and per user.
    pub sign_in: Limit,
    /// `passwordless_max_codes_created` per `passwordless_codes_created_window_sec`.
    pub passwordless_codes: Limit,
    /// `password_reset_max_tokens_created` per `password_reset_tokens_created_window_sec`.
    pub password_reset_tokens: Limit,
    /// `email_verification_max_tokens_created` per `email_verification_tokens_created_window_sec`.
    pub email_verification_tokens: Limit,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        Settings {
            sign_in: Limit::from_keys(cfg.emailpassword_max_failed_sign_ins(), cfg.emailpassword_failed_sign_in_window_sec()),
            passwordless_codes: Limit::from_keys(cfg.passwordless_max_codes_created(), cfg.passwordless_codes_created_window_sec()),
            password_reset_tokens: Limit::from_keys(cfg.password_reset_max_tokens_created(), cfg.password_reset_tokens_created_window_sec()),
            email_verification_tokens: Limit::from_keys(
                cfg.email_verification_max_tokens_created(),
                cfg.email_verification_tokens_created_window_sec(),
            ),
        }
    }
}

/// One counter: its kind, and the tenant and hash it is stored under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    kind: Kind,
    tenant_id: String,
    key_hash: String,
}

impl Counter {
    /// The counter of `kind` for `subject` (a normalised email or phone number, or a user id) in
    /// the tenant `tenant_id` (ignored for counters per user, which span the app).
    pub fn new(kind: Kind, tenant_id: &str, subject: &str) -> Counter {
        let tenant_id = if kind.spans_app() { String::new() } else { tenant_id.to_owned() };
        Counter { kind, tenant_id, key_hash: sha256_hex(subject) }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    fn key(&self) -> CounterKey<'_> {
        CounterKey { tenant_id: &self.tenant_id, kind: self.kind.name(), key_hash: &self.key_hash }
    }
}

/// Counts a call against `limit` and says whether it is served. Off limits cost nothing.
pub async fn hit(storage: &dyn Storage, app: AppKey<'_>, counter: &Counter, limit: Limit, now: i64) -> Result<bool, StorageError> {
    if !limit.is_on() {
        return Ok(true);
    }
    let count = storage.rate_limit_hit(app, counter.key(), now, limit.window_end(now)).await?;
    Ok(limit.allows(count))
}

/// Forgets a counter (after a successful sign-in). Off limits cost nothing.
pub async fn clear(storage: &dyn Storage, app: AppKey<'_>, counter: &Counter, limit: Limit) -> Result<(), StorageError> {
    if !limit.is_on() {
        return Ok(());
    }
    storage.rate_limit_clear(app, counter.key()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_limit_serves_max_calls_per_window_and_zero_is_off() {
        let limit = Limit { max: 3, window_ms: 60_000 };
        assert!((1..=3).all(|c| limit.allows(c)));
        assert!(!limit.allows(4) && !limit.allows(i64::MAX));
        let off = Limit { max: 0, window_ms: 60_000 };
        assert!(!off.is_on() && off.allows(1_000_000));
        assert_eq!(limit.window_end(1_000), 61_000);
        assert_eq!(Limit { max: 1, window_ms: i64::MAX }.window_end(5), i64::MAX);
    }

    #[test]
    fn settings_read_the_keys_in_seconds_and_default_to_off() {
        let s = Settings::from_config(&Config::defaults());
        assert!(!s.sign_in.is_on() && !s.passwordless_codes.is_on() && !s.password_reset_tokens.is_on() && !s.email_verification_tokens.is_on());
        let cfg = Config::defaults()
            .overlay(
                json!({
                    "emailpassword_max_failed_sign_ins": 5, "emailpassword_failed_sign_in_window_sec": 900,
                    "passwordless_max_codes_created": 4, "passwordless_codes_created_window_sec": 60,
                    "password_reset_max_tokens_created": 3, "password_reset_tokens_created_window_sec": 30,
                    "email_verification_max_tokens_created": 2, "email_verification_tokens_created_window_sec": 10,
                })
                .as_object()
                .unwrap(),
            )
            .unwrap();
        let s = Settings::from_config(&cfg);
        assert_eq!(s.sign_in, Limit { max: 5, window_ms: 900_000 });
        assert_eq!(s.passwordless_codes, Limit { max: 4, window_ms: 60_000 });
        assert_eq!(s.password_reset_tokens, Limit { max: 3, window_ms: 30_000 });
        assert_eq!(s.email_verification_tokens, Limit { max: 2, window_ms: 10_000 });
    }

    #[test]
    fn counters_hash_their_subject_and_per_user_ones_span_the_app() {
        let tenant = "t1";
        let by_email = Counter::new(Kind::SignInByEmail, tenant, "a@example.com");
        assert_eq!(by_email.key().tenant_id, "t1");
        assert_eq!(by_email.key().key_hash, sha256_hex("a@example.com"));
        assert!(!by_email.key().key_hash.contains('@') && by_email.key().key_hash.len() == 64);
        let long = Counter::new(Kind::PasswordlessCodes, tenant, &"x".repeat(100_000));
        assert_eq!(long.key().key_hash.len(), 64);
        for kind in [Kind::SignInByUser, Kind::PasswordResetTokens, Kind::EmailVerificationTokens] {
            assert_eq!(Counter::new(kind, tenant, "user").key().tenant_id, "", "{kind:?}");
        }
        let names: std::collections::HashSet<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        assert!(names.iter().all(|n| n.len() <= 32));
    }
}
