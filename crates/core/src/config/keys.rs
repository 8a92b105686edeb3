//! Every configuration key Portcullis knows: the SuperTokens core's, its PostgreSQL plugin's, and
//! Portcullis's own. One row per key: type, default, the level at which it may be overridden, and
//! the environment variable that overrides the file. This table is the one place these facts live;
//! what each key means is in about.rs, beside it.
//!
//! The table is one macro call, which also makes the key names types: [`Key`] has a variant per
//! key and [`Config`] a typed accessor per key (`cfg.access_token_validity()`), so a misspelled key
//! does not compile. Values are kept by key, in the order of the table.

use serde_json::Value;

/// The JSON type a key's value is normalised to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Long,
    Double,
    Bool,
    Str,
}

/// Where a key may be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Only in config.yaml / the environment.
    Base,
    /// May differ between apps, but must be the same for every tenant of one app.
    App,
    /// May differ per tenant.
    Tenant,
    /// A database setting: per tenant, but tenants that share a database must agree on it.
    Database,
}

pub struct KeyDef {
    pub key: Key,
    pub name: &'static str,
    pub kind: Kind,
    /// The default as a JSON literal (`null` for none).
    pub default: &'static str,
    pub level: Level,
    pub env: Option<&'static str>,
}

/// A complete configuration: a value for every key (its default when nobody set it), by key.
/// Loading, layering and validation are in `config/mod.rs`.
///
/// Keys are read through their accessors, so a misspelled key is a compile error:
///
/// ```
/// let cfg = portcullis_core::config::Config::defaults();
/// assert_eq!(cfg.access_token_validity(), 3600);
/// ```
///
/// ```compile_fail
/// let cfg = portcullis_core::config::Config::defaults();
/// let _ = cfg.acess_token_validity();
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `values[key as usize]`, normalised to the key's kind (see `config::coerce`); `Null` = unset.
    pub(super) values: Vec<Value>,
}

impl Config {
    /// A key's value as JSON (`Null` when unset).
    pub fn get(&self, key: Key) -> &Value {
        self.values.get(key as usize).unwrap_or(&Value::Null)
    }

    /// A whole-number key's value (0 when unset).
    pub fn int(&self, key: Key) -> i64 {
        self.get(key).as_i64().unwrap_or(0)
    }

    /// A number key's value (0 when unset).
    pub fn float(&self, key: Key) -> f64 {
        self.get(key).as_f64().unwrap_or(0.0)
    }

    /// A boolean key's value (false when unset).
    pub fn flag(&self, key: Key) -> bool {
        self.get(key).as_bool().unwrap_or(false)
    }

    /// A string key's value (`None` when unset).
    pub fn string(&self, key: Key) -> Option<&str> {
        self.get(key).as_str()
    }
}

/// The table: `name: Kind = default, Level, environment variable;` per key. Generates [`Key`],
/// [`KEYS`] and the typed accessors.
macro_rules! config_keys {
    ($( $name:ident : $kind:ident = $default:literal, $level:ident, $env:expr; )*) => {
        /// A configuration key. Its number is its row in [`KEYS`].
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Key {
            $( $name, )*
        }

        /// Every key, in the order of [`Key`].
        pub static KEYS: &[KeyDef] = &[
            $( KeyDef {
                key: Key::$name,
                name: stringify!($name),
                kind: Kind::$kind,
                default: $default,
                level: Level::$level,
                env: $env,
            }, )*
        ];

        impl Config {
            $( config_keys!(@accessor $name $kind); )*
        }
    };
    (@accessor $name:ident Int) => {
        #[doc = concat!("`", stringify!($name), "` (see `config/keys.rs`).")]
        pub fn $name(&self) -> i64 { self.int(Key::$name) }
    };
    (@accessor $name:ident Long) => {
        #[doc = concat!("`", stringify!($name), "` (see `config/keys.rs`).")]
        pub fn $name(&self) -> i64 { self.int(Key::$name) }
    };
    (@accessor $name:ident Double) => {
        #[doc = concat!("`", stringify!($name), "` (see `config/keys.rs`).")]
        pub fn $name(&self) -> f64 { self.float(Key::$name) }
    };
    (@accessor $name:ident Bool) => {
        #[doc = concat!("`", stringify!($name), "` (see `config/keys.rs`).")]
        pub fn $name(&self) -> bool { self.flag(Key::$name) }
    };
    (@accessor $name:ident Str) => {
        #[doc = concat!("`", stringify!($name), "` (see `config/keys.rs`).")]
        pub fn $name(&self) -> Option<&str> { self.string(Key::$name) }
    };
}

config_keys! {
    // --- core ---
    core_config_version: Int = "0", Base, None;
    access_token_validity: Long = "3600", App, Some("ACCESS_TOKEN_VALIDITY");
    access_token_blacklisting: Bool = "false", App, Some("ACCESS_TOKEN_BLACKLISTING");
    refresh_token_validity: Double = "144000", App, Some("REFRESH_TOKEN_VALIDITY");
    refresh_token_rotation_grace_period: Int = "30", App, Some("REFRESH_TOKEN_ROTATION_GRACE_PERIOD");
    access_token_validity_jitter: Double = "0.05", App, Some("ACCESS_TOKEN_VALIDITY_JITTER");
    recent_token_reuse_behaviour: Str = "\"TOKEN_THEFT\"", Base, Some("RECENT_TOKEN_REUSE_BEHAVIOUR");
    password_reset_token_lifetime: Long = "3600000", Tenant, Some("PASSWORD_RESET_TOKEN_LIFETIME");
    email_verification_token_lifetime: Long = "86400000", Tenant, Some("EMAIL_VERIFICATION_TOKEN_LIFETIME");
    passwordless_max_code_input_attempts: Int = "5", Tenant, Some("PASSWORDLESS_MAX_CODE_INPUT_ATTEMPTS");
    passwordless_code_lifetime: Long = "900000", Tenant, Some("PASSWORDLESS_CODE_LIFETIME");
    totp_max_attempts: Int = "5", Tenant, Some("TOTP_MAX_ATTEMPTS");
    totp_rate_limit_cooldown_sec: Int = "900", Tenant, Some("TOTP_RATE_LIMIT_COOLDOWN_SEC");
    info_log_path: Str = "null", Base, Some("INFO_LOG_PATH");
    error_log_path: Str = "null", Base, Some("ERROR_LOG_PATH");
    access_token_signing_key_dynamic: Bool = "true", App, Some("ACCESS_TOKEN_SIGNING_KEY_DYNAMIC");
    access_token_dynamic_signing_key_update_interval: Double = "168", App, Some("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL");
    port: Int = "3567", Base, Some("SUPERTOKENS_PORT");
    host: Str = "\"localhost\"", Base, Some("SUPERTOKENS_HOST");
    max_server_pool_size: Int = "10", Base, Some("MAX_SERVER_POOL_SIZE");
    api_keys: Str = "null", App, Some("API_KEYS");
    disable_telemetry: Bool = "false", App, Some("DISABLE_TELEMETRY");
    password_hashing_alg: Str = "\"BCRYPT\"", App, Some("PASSWORD_HASHING_ALG");
    argon2_iterations: Int = "1", Base, Some("ARGON2_ITERATIONS");
    argon2_memory_kb: Int = "87795", Base, Some("ARGON2_MEMORY_KB");
    argon2_parallelism: Int = "2", Base, Some("ARGON2_PARALLELISM");
    argon2_hashing_pool_size: Int = "1", Base, Some("ARGON2_HASHING_POOL_SIZE");
    firebase_password_hashing_pool_size: Int = "1", Base, Some("FIREBASE_PASSWORD_HASHING_POOL_SIZE");
    bcrypt_log_rounds: Int = "11", Base, Some("BCRYPT_LOG_ROUNDS");
    webserver_https_enabled: Bool = "false", Base, None;
    base_path: Str = "\"\"", Base, Some("BASE_PATH");
    log_level: Str = "\"INFO\"", Base, Some("LOG_LEVEL");
    firebase_password_hashing_signer_key: Str = "null", App, Some("FIREBASE_PASSWORD_HASHING_SIGNER_KEY");
    ip_allow_regex: Str = "null", Tenant, Some("IP_ALLOW_REGEX");
    ip_deny_regex: Str = "null", Tenant, Some("IP_DENY_REGEX");
    oauth_provider_public_service_url: Str = "null", App, Some("OAUTH_PROVIDER_PUBLIC_SERVICE_URL");
    oauth_provider_admin_service_url: Str = "null", App, Some("OAUTH_PROVIDER_ADMIN_SERVICE_URL");
    oauth_provider_consent_login_base_url: Str = "null", App, Some("OAUTH_PROVIDER_CONSENT_LOGIN_BASE_URL");
    oauth_provider_url_configured_in_oauth_provider: Str = "null", App, Some("OAUTH_PROVIDER_URL_CONFIGURED_IN_OAUTH_PROVIDER");
    oauth_client_secret_encryption_key: Str = "null", Base, Some("OAUTH_CLIENT_SECRET_ENCRYPTION_KEY");
    supertokens_saas_secret: Str = "null", Base, Some("SUPERTOKENS_SAAS_SECRET");
    supertokens_max_cdi_version: Str = "null", App, Some("SUPERTOKENS_MAX_CDI_VERSION");
    supertokens_min_cdi_version: Str = "null", App, Some("SUPERTOKENS_MIN_CDI_VERSION");
    supertokens_saas_load_only_cud: Str = "null", Base, Some("SUPERTOKENS_SAAS_LOAD_ONLY_CUD");
    saml_legacy_acs_url: Str = "null", App, Some("SAML_LEGACY_ACS_URL");
    saml_sp_entity_id: Str = "null", Tenant, Some("SAML_SP_ENTITY_ID");
    saml_claims_validity: Long = "300000", Tenant, Some("SAML_CLAIMS_VALIDITY");
    saml_relay_state_validity: Long = "300000", Tenant, Some("SAML_RELAY_STATE_VALIDITY");
    bulk_migration_parallelism: Int = "2", App, Some("BULK_MIGRATION_PARALLELISM");
    bulk_migration_batch_size: Int = "8000", App, Some("BULK_MIGRATION_BATCH_SIZE");
    bulk_migration_sleep_between_rounds_in_batch_ms: Int = "1000", App, Some("BULK_MIGRATION_SLEEP_BETWEEN_ROUNDS_IN_BATCH_MS");
    webauthn_recover_account_token_lifetime: Long = "3600000", App, Some("WEBAUTHN_RECOVER_ACCOUNT_TOKEN_LIFETIME");
    otel_collector_connection_uri: Str = "null", Base, Some("OTEL_COLLECTOR_CONNECTION_URI");
    deadlock_logger_enable: Bool = "false", Base, Some("DEADLOCK_LOGGER_ENABLE");
    // --- PostgreSQL plugin ---
    postgresql_connection_pool_size: Int = "10", Database, Some("POSTGRESQL_CONNECTION_POOL_SIZE");
    postgresql_host: Str = "null", Database, Some("POSTGRESQL_HOST");
    postgresql_port: Int = "-1", Database, Some("POSTGRESQL_PORT");
    postgresql_user: Str = "null", Database, Some("POSTGRESQL_USER");
    postgresql_password: Str = "null", Database, Some("POSTGRESQL_PASSWORD");
    postgresql_database_name: Str = "null", Database, Some("POSTGRESQL_DATABASE_NAME");
    postgresql_table_names_prefix: Str = "\"\"", Database, Some("POSTGRESQL_TABLE_NAMES_PREFIX");
    postgresql_key_value_table_name: Str = "null", Database, Some("POSTGRESQL_KEY_VALUE_TABLE_NAME");
    postgresql_session_info_table_name: Str = "null", Database, Some("POSTGRESQL_SESSION_INFO_TABLE_NAME");
    postgresql_emailpassword_users_table_name: Str = "null", Database, Some("POSTGRESQL_EMAILPASSWORD_USERS_TABLE_NAME");
    postgresql_emailpassword_pswd_reset_tokens_table_name: Str = "null", Database, Some("POSTGRESQL_EMAILPASSWORD_PSWD_RESET_TOKENS_TABLE_NAME");
    postgresql_emailverification_tokens_table_name: Str = "null", Database, Some("POSTGRESQL_EMAILVERIFICATION_TOKENS_TABLE_NAME");
    postgresql_emailverification_verified_emails_table_name: Str = "null", Database, Some("POSTGRESQL_EMAILVERIFICATION_VERIFIED_EMAILS_TABLE_NAME");
    postgresql_thirdparty_users_table_name: Str = "null", Database, Some("POSTGRESQL_THIRDPARTY_USERS_TABLE_NAME");
    postgresql_table_schema: Str = "\"public\"", Database, Some("POSTGRESQL_TABLE_SCHEMA");
    postgresql_connection_uri: Str = "null", Database, Some("POSTGRESQL_CONNECTION_URI");
    postgresql_connection_attributes: Str = "\"allowPublicKeyRetrieval=true\"", Database, Some("POSTGRESQL_CONNECTION_ATTRIBUTES");
    postgresql_connection_scheme: Str = "\"postgresql\"", Database, Some("POSTGRESQL_CONNECTION_SCHEME");
    postgresql_idle_connection_timeout: Long = "60000", Database, Some("POSTGRESQL_IDLE_CONNECTION_TIMEOUT");
    postgresql_minimum_idle_connections: Int = "null", Database, Some("POSTGRESQL_MINIMUM_IDLE_CONNECTIONS");
    // --- Portcullis ---
    postgresql_sslmode: Str = "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLMODE");
    postgresql_sslrootcert: Str = "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLROOTCERT");
    postgresql_sslcert: Str = "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLCERT");
    postgresql_sslkey: Str = "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLKEY");
    postgresql_target_session_attrs: Str = "null", Database, Some("PORTCULLIS_POSTGRESQL_TARGET_SESSION_ATTRS");
    postgresql_transaction_pooling: Bool = "false", Database, Some("PORTCULLIS_POSTGRESQL_TRANSACTION_POOLING");
    sqlite_path: Str = "\"portcullis.db\"", Base, Some("PORTCULLIS_SQLITE_PATH");
    test_mode: Bool = "false", Base, Some("PORTCULLIS_TEST_MODE");
    database_timeout_ms: Long = "5000", Base, Some("PORTCULLIS_DATABASE_TIMEOUT_MS");
    tenant_sync_interval_sec: Long = "60", Base, Some("PORTCULLIS_TENANT_SYNC_INTERVAL_SEC");
    max_request_body_bytes: Long = "1048576", Base, Some("PORTCULLIS_MAX_REQUEST_BODY_BYTES");
    header_read_timeout_sec: Long = "30", Base, Some("PORTCULLIS_HEADER_READ_TIMEOUT_SEC");
    log_format: Str = "\"text\"", Base, Some("PORTCULLIS_LOG_FORMAT");
    metrics_path: Str = "\"/metrics\"", Base, Some("PORTCULLIS_METRICS_PATH");
    database_wait_sec: Long = "0", Base, Some("PORTCULLIS_DATABASE_WAIT_SEC");
    max_connections: Long = "1024", Base, Some("PORTCULLIS_MAX_CONNECTIONS");
    request_queue_timeout_ms: Long = "30000", Base, Some("PORTCULLIS_REQUEST_QUEUE_TIMEOUT_MS");
    bcrypt_refuse_long_passwords: Bool = "false", App, Some("PORTCULLIS_BCRYPT_REFUSE_LONG_PASSWORDS");
    bulk_import_interval_sec: Long = "300", Base, Some("PORTCULLIS_BULK_IMPORT_INTERVAL_SEC");
    bulk_migration_cron_enabled: Bool = "true", Base, Some("BULK_MIGRATION_CRON_ENABLED");
    emailpassword_max_failed_sign_ins: Int = "0", Tenant, Some("PORTCULLIS_EMAILPASSWORD_MAX_FAILED_SIGN_INS");
    emailpassword_failed_sign_in_window_sec: Int = "900", Tenant, Some("PORTCULLIS_EMAILPASSWORD_FAILED_SIGN_IN_WINDOW_SEC");
    passwordless_max_codes_created: Int = "0", Tenant, Some("PORTCULLIS_PASSWORDLESS_MAX_CODES_CREATED");
    passwordless_codes_created_window_sec: Int = "3600", Tenant, Some("PORTCULLIS_PASSWORDLESS_CODES_CREATED_WINDOW_SEC");
    password_reset_max_tokens_created: Int = "0", Tenant, Some("PORTCULLIS_PASSWORD_RESET_MAX_TOKENS_CREATED");
    password_reset_tokens_created_window_sec: Int = "3600", Tenant, Some("PORTCULLIS_PASSWORD_RESET_TOKENS_CREATED_WINDOW_SEC");
    email_verification_max_tokens_created: Int = "0", Tenant, Some("PORTCULLIS_EMAIL_VERIFICATION_MAX_TOKENS_CREATED");
    email_verification_tokens_created_window_sec: Int = "3600", Tenant, Some("PORTCULLIS_EMAIL_VERIFICATION_TOKENS_CREATED_WINDOW_SEC");
    access_token_signing_algorithm: Str = "\"RS256\"", App, Some("ACCESS_TOKEN_SIGNING_ALGORITHM");
}

pub fn find(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| d.name == name)
}

impl Key {
    /// The key's row in the table.
    pub fn def(self) -> &'static KeyDef {
        // The table is generated in the order of the enum (tested).
        &KEYS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }
}

/// The known key an unknown `name` is most likely a misspelling of: the nearest by edit distance
/// (ignoring case, and `-` for `_`) when it is at most 1 for short names, 2 for longer ones.
pub fn suggest_key(name: &str) -> Option<&'static str> {
    nearest(name, KEYS.iter().map(|d| d.name))
}

/// The environment variable an unknown variable `name` is most likely a misspelling of, by the same rule.
pub fn suggest_env(name: &str) -> Option<&'static str> {
    nearest(name, KEYS.iter().filter_map(|d| d.env))
}

fn nearest(name: &str, known: impl Iterator<Item = &'static str>) -> Option<&'static str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let wanted = norm(name);
    let limit = if wanted.chars().count() <= 5 { 1 } else { 2 };
    known
        .map(|k| (edit_distance(&wanted, &norm(k)), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of two neighbouring
/// characters (optimal string alignment), so that "prot" is one edit from "port".
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Keys that choose a database. Tenants whose values differ for any of these live in different databases.
pub const DATABASE_IDENTITY_KEYS: &[Key] = &[
    Key::postgresql_connection_uri,
    Key::postgresql_host,
    Key::postgresql_port,
    Key::postgresql_user,
    Key::postgresql_password,
    Key::postgresql_database_name,
    Key::postgresql_table_schema,
    Key::postgresql_table_names_prefix,
    Key::postgresql_connection_pool_size,
    Key::postgresql_idle_connection_timeout,
    Key::postgresql_minimum_idle_connections,
    Key::postgresql_connection_attributes,
    Key::postgresql_connection_scheme,
    Key::postgresql_key_value_table_name,
    Key::postgresql_session_info_table_name,
    Key::postgresql_emailpassword_users_table_name,
    Key::postgresql_emailpassword_pswd_reset_tokens_table_name,
    Key::postgresql_emailverification_tokens_table_name,
    Key::postgresql_emailverification_verified_emails_table_name,
    Key::postgresql_thirdparty_users_table_name,
    Key::postgresql_sslmode,
    Key::postgresql_sslrootcert,
    Key::postgresql_sslcert,
    Key::postgresql_sslkey,
    Key::postgresql_target_session_attrs,
    Key::postgresql_transaction_pooling,
];

/// Keys hidden from, and not changeable by, callers that did not authenticate with the SaaS secret
/// (besides every database setting).
pub const PROTECTED_KEYS: &[Key] = &[
    Key::ip_allow_regex,
    Key::ip_deny_regex,
    Key::oauth_provider_public_service_url,
    Key::oauth_provider_admin_service_url,
    Key::oauth_provider_consent_login_base_url,
    Key::oauth_provider_url_configured_in_oauth_provider,
    Key::saml_legacy_acs_url,
];

/// Whether `name` is a protected key or a database setting.
pub fn is_protected(name: &str) -> bool {
    find(name).is_some_and(|d| PROTECTED_KEYS.contains(&d.key) || d.level == Level::Database)
}

/// Keys that may not be set in a coreConfig because they only make sense once per process.
pub fn is_base_only(name: &str) -> bool {
    find(name).is_some_and(|d| d.level == Level::Base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_numbered_in_table_order() {
        for (i, d) in KEYS.iter().enumerate() {
            assert_eq!(d.key as usize, i, "{}", d.name);
            assert_eq!(d.key.name(), d.name);
        }
        assert_eq!(Config::defaults().access_token_validity(), 3600);
    }

    #[test]
    fn every_default_parses_and_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for d in KEYS {
            assert!(seen.insert(d.name), "duplicate key {}", d.name);
            let v: serde_json::Value = serde_json::from_str(d.default).expect(d.name);
            let ok = matches!(
                (d.kind, &v),
                (_, serde_json::Value::Null)
                    | (Kind::Int | Kind::Long | Kind::Double, serde_json::Value::Number(_))
                    | (Kind::Bool, serde_json::Value::Bool(_))
                    | (Kind::Str, serde_json::Value::String(_))
            );
            assert!(ok, "default of {} has the wrong type", d.name);
        }
    }

    #[test]
    fn misspelled_keys_and_variables_are_recognised() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("prot", "port"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(suggest_key("postgresql_conection_uri"), Some("postgresql_connection_uri"));
        assert_eq!(suggest_key("postgres_connection_uri"), Some("postgresql_connection_uri"));
        assert_eq!(suggest_key("access-token-validity"), Some("access_token_validity"));
        assert_eq!(suggest_key("PORT"), Some("port"));
        assert_eq!(suggest_key("prot"), Some("port"));
        assert_eq!(suggest_key("sqlite_pth"), Some("sqlite_path"));
        assert_eq!(suggest_key("my_own_setting"), None);
        assert_eq!(suggest_key("mysql_connection_uri"), None);
        assert_eq!(suggest_env("POSTGRESQL_CONECTION_URI"), Some("POSTGRESQL_CONNECTION_URI"));
        assert_eq!(suggest_env("PORTCULLIS_SQLITE_PAHT"), Some("PORTCULLIS_SQLITE_PATH"));
        assert_eq!(suggest_env("PORTCULLIS_TEST_PG_URI"), None);
        assert_eq!(suggest_env("POSTGRESQL_PASSWORD_FILE"), None);
    }
}
