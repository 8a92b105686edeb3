//! The core's rules about which values are acceptable.

use super::keys::{Config, Key};

/// CDI versions Portcullis answers to; `/apiversion` lists them.
/// Every CDI version served (the `cdi` module holds the version rules).
pub const SUPPORTED_CDI_VERSIONS: &[&str] = &crate::cdi::ACCEPTED;

pub fn validate(c: &Config, is_base: bool) -> Result<(), String> {
    let test_mode = c.test_mode();
    let atv = c.access_token_validity();
    if !(1..=86_400_000).contains(&atv) {
        return Err("'access_token_validity' must be between 1 and 86400000 seconds inclusive.".into());
    }
    let rtv_seconds = c.refresh_token_validity() * 60.0;
    if !test_mode && rtv_seconds <= atv as f64 {
        return Err("'refresh_token_validity' must be strictly greater than 'access_token_validity'.".into());
    }
    let interval = c.access_token_dynamic_signing_key_update_interval();
    if interval <= 0.0 || (!test_mode && interval < 1.0) {
        return Err("'access_token_dynamic_signing_key_update_interval' must be greater than, equal to 1 hour.".into());
    }
    let grace = c.refresh_token_rotation_grace_period();
    if !(0..=300).contains(&grace) {
        return Err("'refresh_token_rotation_grace_period' must be between 0 and 300 seconds inclusive.".into());
    }
    let jitter = c.access_token_validity_jitter();
    if !(0.0..=0.25).contains(&jitter) {
        return Err("'access_token_validity_jitter' must be between 0 and 0.25 inclusive.".into());
    }
    for key in [
        Key::password_reset_token_lifetime,
        Key::email_verification_token_lifetime,
        Key::passwordless_code_lifetime,
        Key::passwordless_max_code_input_attempts,
        Key::totp_max_attempts,
        Key::max_server_pool_size,
        Key::argon2_iterations,
        Key::argon2_memory_kb,
        Key::argon2_parallelism,
        Key::argon2_hashing_pool_size,
        Key::firebase_password_hashing_pool_size,
        Key::bcrypt_log_rounds,
        Key::saml_claims_validity,
        Key::saml_relay_state_validity,
        Key::database_timeout_ms,
        Key::tenant_sync_interval_sec,
        Key::max_request_body_bytes,
        Key::webauthn_recover_account_token_lifetime,
        Key::max_connections,
        Key::request_queue_timeout_ms,
    ] {
        if c.int(key) <= 0 {
            return Err(format!("'{}' must be > 0", key.name()));
        }
    }
    check_duration_bounds(c)?;
    // The core's messages.
    for key in [Key::bulk_migration_parallelism, Key::bulk_migration_batch_size] {
        if c.int(key) < 1 {
            return Err(format!("Provided {} must be >= 1", key.name()));
        }
    }
    if c.bulk_migration_sleep_between_rounds_in_batch_ms() < 0 {
        return Err("'bulk_migration_sleep_between_rounds_in_batch_ms' must be >= 0".into());
    }
    if c.bulk_import_interval_sec() < 1 || c.bulk_import_interval_sec() > MAX_DURATION_MS / 1000 {
        return Err(format!("'bulk_import_interval_sec' must be between 1 and {}", MAX_DURATION_MS / 1000));
    }
    if c.database_wait_sec() < 0 {
        return Err("'database_wait_sec' must be >= 0".into());
    }
    if c.totp_rate_limit_cooldown_sec() < 0 {
        return Err("'totp_rate_limit_cooldown_sec' must be >= 0".into());
    }
    check_brute_force_limits(c)?;
    if c.bcrypt_log_rounds() > 31 {
        return Err("'bcrypt_log_rounds' must be at most 31".into());
    }
    if c.argon2_hashing_pool_size() > c.max_server_pool_size() {
        return Err("'argon2_hashing_pool_size' must be <= 'max_server_pool_size'".into());
    }
    match c.password_hashing_alg() {
        Some("ARGON2" | "BCRYPT") => {}
        _ => return Err("'password_hashing_alg' must be one of 'ARGON2' or 'BCRYPT'".into()),
    }
    if c.access_token_signing_algorithm().and_then(crate::crypto::keys::Algorithm::from_name).is_none() {
        return Err("'access_token_signing_algorithm' must be one of 'RS256' or 'ES256'".into());
    }
    match c.recent_token_reuse_behaviour() {
        Some("TOKEN_THEFT" | "UNAUTHORISED") => {}
        _ => return Err("'recent_token_reuse_behaviour' must be one of 'TOKEN_THEFT' or 'UNAUTHORISED'".into()),
    }
    match c.log_level().map(str::to_uppercase).as_deref() {
        Some("DEBUG" | "INFO" | "WARN" | "ERROR" | "NONE") => {}
        _ => return Err("'log_level' config must be one of \"NONE\",\"DEBUG\", \"INFO\", \"WARN\" or \"ERROR\".".into()),
    }
    match c.log_format() {
        Some("text" | "json") => {}
        _ => return Err("'log_format' must be one of \"text\" or \"json\"".into()),
    }
    // A value that names no key must not turn key checking off: "", " " and "," are refused, as
    // is an empty entry between commas (the core refuses every entry under 20 characters).
    if let Some(raw) = c.api_keys() {
        let compact: String = raw.chars().filter(|ch| !ch.is_whitespace()).collect();
        if compact.split(',').any(str::is_empty) {
            return Err("One of the API keys is too short. Please use at least 20 characters".into());
        }
    }
    for key in c.api_key_list() {
        if key.len() < 20 {
            return Err("One of the API keys is too short. Please use at least 20 characters".into());
        }
        if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'-') {
            return Err("Invalid characters in API key. Please only use '=', '-' and alpha-numeric (including capitals)".into());
        }
    }
    if let Some(secret) = c.supertokens_saas_secret() {
        if c.api_key_list().is_empty() {
            return Err("'supertokens_saas_secret' can only be used when 'api_key' is also specified".into());
        }
        if secret.len() < 40 {
            return Err("'supertokens_saas_secret' is too short. Please use at least 40 characters".into());
        }
    }
    for key in [Key::ip_allow_regex, Key::ip_deny_regex] {
        if let Some(re) = c.string(key) {
            ip_filter(re).map_err(|_| format!("Provided regular expression is invalid for {} config", key.name()))?;
        }
    }
    crate::cdi::validate_bounds(c.string(Key::supertokens_max_cdi_version), c.string(Key::supertokens_min_cdi_version))?;
    if is_base {
        let port = c.port();
        if !(1..=65535).contains(&port) {
            return Err("'port' must be between 1 and 65535".into());
        }
        let base_path = c.base_path().unwrap_or("");
        if !base_path.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)) {
            return Err("base_path must contain only letters, digits, '-', '_', '.' and '/'".into());
        }
    }
    Ok(())
}

/// The longest duration any validity, lifetime or interval setting may name: 100 years. The core
/// sets no upper bound, so `refresh_token_validity: 1e308` made `now + validity` wrap and sessions
/// were born expired; with this bound every `now + duration` in milliseconds fits an `i64` with
/// room to spare.
pub const MAX_DURATION_MS: i64 = 100 * 365 * 24 * 3_600_000;

/// Every duration key with the number of milliseconds in its unit.
const DURATION_KEYS: &[(Key, i64)] = &[
    (Key::access_token_validity, 1000),
    (Key::refresh_token_validity, 60_000),
    (Key::access_token_dynamic_signing_key_update_interval, 3_600_000),
    (Key::refresh_token_rotation_grace_period, 1000),
    (Key::password_reset_token_lifetime, 1),
    (Key::email_verification_token_lifetime, 1),
    (Key::passwordless_code_lifetime, 1),
    (Key::totp_rate_limit_cooldown_sec, 1000),
    (Key::saml_claims_validity, 1),
    (Key::saml_relay_state_validity, 1),
    (Key::webauthn_recover_account_token_lifetime, 1),
    (Key::bulk_migration_sleep_between_rounds_in_batch_ms, 1),
    (Key::postgresql_idle_connection_timeout, 1),
    (Key::database_timeout_ms, 1),
    (Key::request_queue_timeout_ms, 1),
    (Key::tenant_sync_interval_sec, 1000),
    (Key::header_read_timeout_sec, 1000),
];

fn check_duration_bounds(c: &Config) -> Result<(), String> {
    for &(key, unit_ms) in DURATION_KEYS {
        // Integer keys are read as whole numbers already; the two in fractional units as f64.
        let value = c.float(key);
        if !value.is_finite() || value * unit_ms as f64 > MAX_DURATION_MS as f64 {
            return Err(format!("'{}' must be at most {} (100 years)", key.name(), MAX_DURATION_MS / unit_ms));
        }
    }
    Ok(())
}

/// The brute-force limits (`ratelimit`): each a count and a window in seconds. A count is a whole
/// number from 0 (off) to [`MAX_LIMIT_COUNT`]; a window from 1 s to a year, so `now + window` cannot
/// overflow and a row never outlives a year.
pub const MAX_LIMIT_COUNT: i64 = 1_000_000;
pub const MAX_LIMIT_WINDOW_SEC: i64 = 365 * 24 * 3600;

const BRUTE_FORCE_LIMITS: &[(Key, Key)] = &[
    (Key::emailpassword_max_failed_sign_ins, Key::emailpassword_failed_sign_in_window_sec),
    (Key::passwordless_max_codes_created, Key::passwordless_codes_created_window_sec),
    (Key::password_reset_max_tokens_created, Key::password_reset_tokens_created_window_sec),
    (Key::email_verification_max_tokens_created, Key::email_verification_tokens_created_window_sec),
];

fn check_brute_force_limits(c: &Config) -> Result<(), String> {
    for &(count, window) in BRUTE_FORCE_LIMITS {
        if !(0..=MAX_LIMIT_COUNT).contains(&c.int(count)) {
            return Err(format!("'{}' must be between 0 and {MAX_LIMIT_COUNT} inclusive.", count.name()));
        }
        if !(1..=MAX_LIMIT_WINDOW_SEC).contains(&c.int(window)) {
            return Err(format!("'{}' must be between 1 and {MAX_LIMIT_WINDOW_SEC} seconds inclusive.", window.name()));
        }
    }
    Ok(())
}

/// `ip_allow_regex` / `ip_deny_regex` as the filter applies it: the whole address must match (as
/// with Tomcat's RemoteAddrFilter). Validation compiles exactly this, so a value that passes can
/// never leave the filter off at run time.
pub fn ip_filter(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ip_filters_take_the_cores_documented_regexes_and_match_whole_addresses() {
        let localhost = ip_filter(r"127\.\d+\.\d+\.\d+|::1|0:0:0:0:0:0:0:1").unwrap();
        assert!(localhost.is_match("127.0.0.1") && localhost.is_match("::1"));
        assert!(!localhost.is_match("10.0.0.1") && !localhost.is_match("1127.0.0.1"));
        assert!(ip_filter(r"\w+\s").is_ok());
        assert!(ip_filter("(").is_err());
    }

    #[test]
    fn test_mode_relaxes_key_interval_and_refresh_validity() {
        let base = Config::defaults();
        let short = json!({"access_token_dynamic_signing_key_update_interval": "0.001", "refresh_token_validity": 0.01});
        let c = base.overlay(short.as_object().unwrap()).unwrap();
        assert!(c.validate(false).is_err());
        let t = Config::defaults().overlay_unchecked_test_mode();
        let c = t.overlay(short.as_object().unwrap()).unwrap();
        assert!(c.validate(false).is_ok());
    }

    #[test]
    fn bulk_import_keys_are_checked_with_the_cores_messages() {
        let check = |v: serde_json::Value| Config::defaults().overlay(v.as_object().unwrap()).unwrap().validate(false);
        for bad in [0, -3] {
            assert_eq!(check(json!({"bulk_migration_parallelism": bad})), Err("Provided bulk_migration_parallelism must be >= 1".to_owned()));
            assert_eq!(check(json!({"bulk_migration_batch_size": bad})), Err("Provided bulk_migration_batch_size must be >= 1".to_owned()));
        }
        assert!(check(json!({"bulk_migration_sleep_between_rounds_in_batch_ms": -1})).is_err());
        assert!(check(json!({"bulk_migration_sleep_between_rounds_in_batch_ms": 0, "bulk_migration_parallelism": 1, "bulk_migration_batch_size": 1})).is_ok());
    }

    #[test]
    fn the_webauthn_recovery_token_lifetime_must_be_positive() {
        for bad in [0, -1] {
            let c = Config::defaults().overlay(json!({"webauthn_recover_account_token_lifetime": bad}).as_object().unwrap()).unwrap();
            assert_eq!(c.validate(false), Err("'webauthn_recover_account_token_lifetime' must be > 0".to_owned()));
        }
        assert!(Config::defaults().validate(false).is_ok());
    }

    #[test]
    fn durations_are_bounded_so_now_plus_validity_cannot_overflow() {
        for (key, huge) in [
            ("refresh_token_validity", json!(1e308)),
            ("refresh_token_validity", json!(1e12)),
            ("access_token_dynamic_signing_key_update_interval", json!(1e300)),
            ("password_reset_token_lifetime", json!(i64::MAX)),
            ("email_verification_token_lifetime", json!("9223372036854775807")),
            ("passwordless_code_lifetime", json!(1e18)),
        ] {
            let c = Config::defaults().overlay(json!({ key: huge }).as_object().unwrap()).unwrap();
            let err = c.validate(false).unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
        // The largest allowed value still fits `now + validity` in milliseconds.
        let c = Config::defaults().overlay(json!({"refresh_token_validity": MAX_DURATION_MS / 60_000}).as_object().unwrap()).unwrap();
        assert!(c.validate(false).is_ok());
        assert!(crate::session::Settings::from_config(&c).refresh_validity_ms.checked_add(4_102_444_800_000).is_some());
    }

    #[test]
    fn api_keys_are_checked() {
        let c = Config::defaults().overlay(json!({"api_keys": "short"}).as_object().unwrap()).unwrap();
        assert!(c.validate(false).is_err());
    }

    #[test]
    fn blank_api_keys_and_empty_entries_are_refused() {
        let good = "aaaaaaaaaaaaaaaaaaaaaaaa";
        for blank in ["", " ", ",", " , ", &format!("{good},"), &format!(",{good}"), &format!("{good},,{good}")] {
            let c = Config::defaults().overlay(json!({ "api_keys": blank }).as_object().unwrap()).unwrap();
            assert!(c.validate(false).is_err(), "{blank:?} was accepted");
        }
        let c = Config::defaults().overlay(json!({ "api_keys": format!("{good}, {good}b") }).as_object().unwrap()).unwrap();
        assert!(c.validate(false).is_ok());
        assert!(Config::defaults().validate(true).is_ok());
    }

    #[test]
    fn brute_force_limits_are_bounded_whole_numbers() {
        let ok = json!({"emailpassword_max_failed_sign_ins": 5, "emailpassword_failed_sign_in_window_sec": 1, "passwordless_max_codes_created": 0});
        assert!(Config::defaults().overlay(ok.as_object().unwrap()).unwrap().validate(false).is_ok());
        for (key, bad) in [
            ("emailpassword_max_failed_sign_ins", json!(-1)),
            ("passwordless_max_codes_created", json!(MAX_LIMIT_COUNT + 1)),
            ("password_reset_tokens_created_window_sec", json!(0)),
            ("email_verification_tokens_created_window_sec", json!(MAX_LIMIT_WINDOW_SEC + 1)),
        ] {
            let c = Config::defaults().overlay(json!({ key: bad }).as_object().unwrap()).unwrap();
            let err = c.validate(false).unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
        // Not whole numbers, or too large for an int: refused when laid over.
        for bad in [json!(1.5), json!("x"), json!(3e9)] {
            assert!(Config::defaults().overlay(json!({"emailpassword_max_failed_sign_ins": bad}).as_object().unwrap()).is_err(), "{bad}");
        }
    }

    impl Config {
        fn overlay_unchecked_test_mode(mut self) -> Config {
            self.values[Key::test_mode as usize] = json!(true);
            self
        }
    }
}
