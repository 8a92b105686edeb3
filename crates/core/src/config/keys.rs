//! Every configuration key Portcullis knows: the SuperTokens core's, its PostgreSQL plugin's, and
//! Portcullis's own. One row per key: type, default, the level at which it may be overridden, and
//! the environment variable that overrides the file. This table is the one place these facts live;
//! what each key means is in about.rs, beside it.

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
    pub name: &'static str,
    pub kind: Kind,
    /// The default as a JSON literal (`null` for none).
    pub default: &'static str,
    pub level: Level,
    pub env: Option<&'static str>,
}

const fn k(name: &'static str, kind: Kind, default: &'static str, level: Level, env: Option<&'static str>) -> KeyDef {
    KeyDef { name, kind, default, level, env }
}

use Kind::*;
use Level::*;

pub static KEYS: &[KeyDef] = &[
    // --- core ---
    k("core_config_version", Int, "0", Base, None),
    k("access_token_validity", Long, "3600", App, Some("ACCESS_TOKEN_VALIDITY")),
    k("access_token_blacklisting", Bool, "false", App, Some("ACCESS_TOKEN_BLACKLISTING")),
    k("refresh_token_validity", Double, "144000", App, Some("REFRESH_TOKEN_VALIDITY")),
    k("refresh_token_rotation_grace_period", Int, "30", App, Some("REFRESH_TOKEN_ROTATION_GRACE_PERIOD")),
    k("access_token_validity_jitter", Double, "0.05", App, Some("ACCESS_TOKEN_VALIDITY_JITTER")),
    k("recent_token_reuse_behaviour", Str, "\"TOKEN_THEFT\"", Base, Some("RECENT_TOKEN_REUSE_BEHAVIOUR")),
    k("password_reset_token_lifetime", Long, "3600000", Tenant, Some("PASSWORD_RESET_TOKEN_LIFETIME")),
    k("email_verification_token_lifetime", Long, "86400000", Tenant, Some("EMAIL_VERIFICATION_TOKEN_LIFETIME")),
    k("passwordless_max_code_input_attempts", Int, "5", Tenant, Some("PASSWORDLESS_MAX_CODE_INPUT_ATTEMPTS")),
    k("passwordless_code_lifetime", Long, "900000", Tenant, Some("PASSWORDLESS_CODE_LIFETIME")),
    k("totp_max_attempts", Int, "5", Tenant, Some("TOTP_MAX_ATTEMPTS")),
    k("totp_rate_limit_cooldown_sec", Int, "900", Tenant, Some("TOTP_RATE_LIMIT_COOLDOWN_SEC")),
    k("info_log_path", Str, "null", Base, Some("INFO_LOG_PATH")),
    k("error_log_path", Str, "null", Base, Some("ERROR_LOG_PATH")),
    k("access_token_signing_key_dynamic", Bool, "true", App, Some("ACCESS_TOKEN_SIGNING_KEY_DYNAMIC")),
    k("access_token_dynamic_signing_key_update_interval", Double, "168", App, Some("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL")),
    k("port", Int, "3567", Base, Some("SUPERTOKENS_PORT")),
    k("host", Str, "\"localhost\"", Base, Some("SUPERTOKENS_HOST")),
    k("max_server_pool_size", Int, "10", Base, Some("MAX_SERVER_POOL_SIZE")),
    k("api_keys", Str, "null", App, Some("API_KEYS")),
    k("disable_telemetry", Bool, "false", App, Some("DISABLE_TELEMETRY")),
    k("password_hashing_alg", Str, "\"BCRYPT\"", App, Some("PASSWORD_HASHING_ALG")),
    k("argon2_iterations", Int, "1", Base, Some("ARGON2_ITERATIONS")),
    k("argon2_memory_kb", Int, "87795", Base, Some("ARGON2_MEMORY_KB")),
    k("argon2_parallelism", Int, "2", Base, Some("ARGON2_PARALLELISM")),
    k("argon2_hashing_pool_size", Int, "1", Base, Some("ARGON2_HASHING_POOL_SIZE")),
    k("firebase_password_hashing_pool_size", Int, "1", Base, Some("FIREBASE_PASSWORD_HASHING_POOL_SIZE")),
    k("bcrypt_log_rounds", Int, "11", Base, Some("BCRYPT_LOG_ROUNDS")),
    k("webserver_https_enabled", Bool, "false", Base, None),
    k("base_path", Str, "\"\"", Base, Some("BASE_PATH")),
    k("log_level", Str, "\"INFO\"", Base, Some("LOG_LEVEL")),
    k("firebase_password_hashing_signer_key", Str, "null", App, Some("FIREBASE_PASSWORD_HASHING_SIGNER_KEY")),
    k("ip_allow_regex", Str, "null", Tenant, Some("IP_ALLOW_REGEX")),
    k("ip_deny_regex", Str, "null", Tenant, Some("IP_DENY_REGEX")),
    k("oauth_provider_public_service_url", Str, "null", App, Some("OAUTH_PROVIDER_PUBLIC_SERVICE_URL")),
    k("oauth_provider_admin_service_url", Str, "null", App, Some("OAUTH_PROVIDER_ADMIN_SERVICE_URL")),
    k("oauth_provider_consent_login_base_url", Str, "null", App, Some("OAUTH_PROVIDER_CONSENT_LOGIN_BASE_URL")),
    k("oauth_provider_url_configured_in_oauth_provider", Str, "null", App, Some("OAUTH_PROVIDER_URL_CONFIGURED_IN_OAUTH_PROVIDER")),
    k("oauth_client_secret_encryption_key", Str, "null", Base, Some("OAUTH_CLIENT_SECRET_ENCRYPTION_KEY")),
    k("supertokens_saas_secret", Str, "null", Base, Some("SUPERTOKENS_SAAS_SECRET")),
    k("supertokens_max_cdi_version", Str, "null", App, Some("SUPERTOKENS_MAX_CDI_VERSION")),
    k("supertokens_min_cdi_version", Str, "null", App, Some("SUPERTOKENS_MIN_CDI_VERSION")),
    k("supertokens_saas_load_only_cud", Str, "null", Base, Some("SUPERTOKENS_SAAS_LOAD_ONLY_CUD")),
    k("saml_legacy_acs_url", Str, "null", App, Some("SAML_LEGACY_ACS_URL")),
    k("saml_sp_entity_id", Str, "null", Tenant, Some("SAML_SP_ENTITY_ID")),
    k("saml_claims_validity", Long, "300000", Tenant, Some("SAML_CLAIMS_VALIDITY")),
    k("saml_relay_state_validity", Long, "300000", Tenant, Some("SAML_RELAY_STATE_VALIDITY")),
    k("bulk_migration_parallelism", Int, "2", App, Some("BULK_MIGRATION_PARALLELISM")),
    k("bulk_migration_batch_size", Int, "8000", App, Some("BULK_MIGRATION_BATCH_SIZE")),
    k("bulk_migration_sleep_between_rounds_in_batch_ms", Int, "1000", App, Some("BULK_MIGRATION_SLEEP_BETWEEN_ROUNDS_IN_BATCH_MS")),
    k("webauthn_recover_account_token_lifetime", Long, "3600000", App, Some("WEBAUTHN_RECOVER_ACCOUNT_TOKEN_LIFETIME")),
    k("otel_collector_connection_uri", Str, "null", Base, Some("OTEL_COLLECTOR_CONNECTION_URI")),
    k("deadlock_logger_enable", Bool, "false", Base, Some("DEADLOCK_LOGGER_ENABLE")),
    // --- PostgreSQL plugin ---
    k("postgresql_connection_pool_size", Int, "10", Database, Some("POSTGRESQL_CONNECTION_POOL_SIZE")),
    k("postgresql_host", Str, "null", Database, Some("POSTGRESQL_HOST")),
    k("postgresql_port", Int, "-1", Database, Some("POSTGRESQL_PORT")),
    k("postgresql_user", Str, "null", Database, Some("POSTGRESQL_USER")),
    k("postgresql_password", Str, "null", Database, Some("POSTGRESQL_PASSWORD")),
    k("postgresql_database_name", Str, "null", Database, Some("POSTGRESQL_DATABASE_NAME")),
    k("postgresql_table_names_prefix", Str, "\"\"", Database, Some("POSTGRESQL_TABLE_NAMES_PREFIX")),
    k("postgresql_key_value_table_name", Str, "null", Database, Some("POSTGRESQL_KEY_VALUE_TABLE_NAME")),
    k("postgresql_session_info_table_name", Str, "null", Database, Some("POSTGRESQL_SESSION_INFO_TABLE_NAME")),
    k("postgresql_emailpassword_users_table_name", Str, "null", Database, Some("POSTGRESQL_EMAILPASSWORD_USERS_TABLE_NAME")),
    k("postgresql_emailpassword_pswd_reset_tokens_table_name", Str, "null", Database, Some("POSTGRESQL_EMAILPASSWORD_PSWD_RESET_TOKENS_TABLE_NAME")),
    k("postgresql_emailverification_tokens_table_name", Str, "null", Database, Some("POSTGRESQL_EMAILVERIFICATION_TOKENS_TABLE_NAME")),
    k("postgresql_emailverification_verified_emails_table_name", Str, "null", Database, Some("POSTGRESQL_EMAILVERIFICATION_VERIFIED_EMAILS_TABLE_NAME")),
    k("postgresql_thirdparty_users_table_name", Str, "null", Database, Some("POSTGRESQL_THIRDPARTY_USERS_TABLE_NAME")),
    k("postgresql_table_schema", Str, "\"public\"", Database, Some("POSTGRESQL_TABLE_SCHEMA")),
    k("postgresql_connection_uri", Str, "null", Database, Some("POSTGRESQL_CONNECTION_URI")),
    k("postgresql_connection_attributes", Str, "\"allowPublicKeyRetrieval=true\"", Database, Some("POSTGRESQL_CONNECTION_ATTRIBUTES")),
    k("postgresql_connection_scheme", Str, "\"postgresql\"", Database, Some("POSTGRESQL_CONNECTION_SCHEME")),
    k("postgresql_idle_connection_timeout", Long, "60000", Database, Some("POSTGRESQL_IDLE_CONNECTION_TIMEOUT")),
    k("postgresql_minimum_idle_connections", Int, "null", Database, Some("POSTGRESQL_MINIMUM_IDLE_CONNECTIONS")),
    // --- Portcullis ---
    k("postgresql_sslmode", Str, "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLMODE")),
    k("postgresql_sslrootcert", Str, "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLROOTCERT")),
    k("postgresql_sslcert", Str, "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLCERT")),
    k("postgresql_sslkey", Str, "null", Database, Some("PORTCULLIS_POSTGRESQL_SSLKEY")),
    k("postgresql_target_session_attrs", Str, "null", Database, Some("PORTCULLIS_POSTGRESQL_TARGET_SESSION_ATTRS")),
    k("postgresql_transaction_pooling", Bool, "false", Database, Some("PORTCULLIS_POSTGRESQL_TRANSACTION_POOLING")),
    k("sqlite_path", Str, "\"portcullis.db\"", Base, Some("PORTCULLIS_SQLITE_PATH")),
    k("test_mode", Bool, "false", Base, Some("PORTCULLIS_TEST_MODE")),
    k("database_timeout_ms", Long, "5000", Base, Some("PORTCULLIS_DATABASE_TIMEOUT_MS")),
    k("tenant_sync_interval_sec", Long, "60", Base, Some("PORTCULLIS_TENANT_SYNC_INTERVAL_SEC")),
    k("max_request_body_bytes", Long, "1048576", Base, Some("PORTCULLIS_MAX_REQUEST_BODY_BYTES")),
    k("header_read_timeout_sec", Long, "30", Base, Some("PORTCULLIS_HEADER_READ_TIMEOUT_SEC")),
    k("log_format", Str, "\"text\"", Base, Some("PORTCULLIS_LOG_FORMAT")),
    k("metrics_path", Str, "\"/metrics\"", Base, Some("PORTCULLIS_METRICS_PATH")),
    k("database_wait_sec", Long, "0", Base, Some("PORTCULLIS_DATABASE_WAIT_SEC")),
];

pub fn find(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| d.name == name)
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
pub const DATABASE_IDENTITY_KEYS: &[&str] = &[
    "postgresql_connection_uri",
    "postgresql_host",
    "postgresql_port",
    "postgresql_user",
    "postgresql_password",
    "postgresql_database_name",
    "postgresql_table_schema",
    "postgresql_table_names_prefix",
    "postgresql_connection_pool_size",
    "postgresql_idle_connection_timeout",
    "postgresql_minimum_idle_connections",
    "postgresql_connection_attributes",
    "postgresql_connection_scheme",
    "postgresql_key_value_table_name",
    "postgresql_session_info_table_name",
    "postgresql_emailpassword_users_table_name",
    "postgresql_emailpassword_pswd_reset_tokens_table_name",
    "postgresql_emailverification_tokens_table_name",
    "postgresql_emailverification_verified_emails_table_name",
    "postgresql_thirdparty_users_table_name",
    "postgresql_sslmode",
    "postgresql_sslrootcert",
    "postgresql_sslcert",
    "postgresql_sslkey",
    "postgresql_target_session_attrs",
    "postgresql_transaction_pooling",
];

/// Keys hidden from, and not changeable by, callers that did not authenticate with the SaaS secret
/// (besides every database setting).
pub const PROTECTED_KEYS: &[&str] = &[
    "ip_allow_regex",
    "ip_deny_regex",
    "oauth_provider_public_service_url",
    "oauth_provider_admin_service_url",
    "oauth_provider_consent_login_base_url",
    "oauth_provider_url_configured_in_oauth_provider",
    "saml_legacy_acs_url",
];

/// Whether `name` is a protected key or a database setting.
pub fn is_protected(name: &str) -> bool {
    PROTECTED_KEYS.contains(&name) || find(name).is_some_and(|d| d.level == Level::Database)
}

/// Keys that may not be set in a coreConfig because they only make sense once per process.
pub fn is_base_only(name: &str) -> bool {
    find(name).is_some_and(|d| d.level == Level::Base)
}

#[cfg(test)]
mod tests {
    use super::*;

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

/// The configuration reference (docs/configuration.md), rendered from this table so that the two
/// cannot drift apart: a test compares them.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         Generated from `crates/core/src/config/keys.rs` (a test checks that this file matches it; run\n\
         `UPDATE_DOCS=1 cargo test -p portcullis-core config_reference` to regenerate).\n\n\
         Sources, later ones winning: the defaults below, `config.yaml`, the environment variable, the command\n\
         line. Levels: **base** = config.yaml / environment only; **app** = may differ per app (the same for\n\
         every tenant of an app); **tenant** = may differ per tenant; **database** = chooses or tunes a\n\
         database (tenants with different values get different storages). Apps and tenants override keys of\n\
         the app, tenant and database levels with their `coreConfig`. Numbers may be given as strings.\n\n\
         | key | type | default | level | environment variable | description |\n|---|---|---|---|---|---|\n",
    );
    for d in KEYS {
        let kind = match d.kind {
            Kind::Int => "int",
            Kind::Long => "long",
            Kind::Double => "number",
            Kind::Bool => "bool",
            Kind::Str => "string",
        };
        let level = match d.level {
            Level::Base => "base",
            Level::App => "app",
            Level::Tenant => "tenant",
            Level::Database => "database",
        };
        let env = d.env.map(|e| format!("`{e}`")).unwrap_or_else(|| "—".into());
        let text = super::about::about(d.name).map(|a| a.text).unwrap_or_default().replace('|', "\\|");
        out.push_str(&format!("| `{}` | {kind} | `{}` | {level} | {env} | {text} |\n", d.name, d.default));
    }
    out
}

#[cfg(test)]
mod reference_tests {
    #[test]
    fn config_reference_matches_docs() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
        let rendered = super::reference_markdown();
        if std::env::var("UPDATE_DOCS").is_ok() {
            std::fs::write(path, &rendered).expect("write docs/configuration.md");
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(on_disk == rendered, "docs/configuration.md is out of date: run UPDATE_DOCS=1 cargo test -p portcullis-core");
    }
}
