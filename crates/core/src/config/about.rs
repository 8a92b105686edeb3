//! What each configuration key means and how the dashboard shows it: the companion of the key
//! table in keys.rs (a test checks that both name exactly the same keys). The descriptions feed
//! docs/configuration.md and the dashboard's tenant page (`GET /<t>/recipe/dashboard/tenant/core-config`).

use serde_json::{json, Value};

use super::keys::{is_protected, Kind, KeyDef, Level, KEYS};
use super::Config;

/// How the dashboard's tenant page treats a key. Keys of the base level are never shown there,
/// whatever this says: they cannot be changed per app or tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// A core setting row.
    Core,
    /// A database row (`isPluginProperty`); `editable` when the page may offer to change it.
    Plugin { editable: bool },
    /// Not listed: a secret, a deprecated switch, or an internal of a feature the page does not manage.
    Hidden,
}

pub struct About {
    pub name: &'static str,
    pub shown: Shown,
    pub text: &'static str,
}

const fn a(name: &'static str, shown: Shown, text: &'static str) -> About {
    About { name, shown, text }
}

use Shown::*;

const POOL: Shown = Plugin { editable: true };
const DB: Shown = Plugin { editable: false };

/// In the order of `keys::KEYS` (tested), so that the two can be zipped.
pub static ABOUT: &[About] = &[
    // --- core ---
    a("core_config_version", Hidden, "Version stamp of the config file format; Portcullis reads and ignores it."),
    a("access_token_validity", Core, "Seconds an access token stays valid after it is issued."),
    a("access_token_blacklisting", Hidden, "Deprecated: only for CDI 2.18 and older, where it made every access-token check consult the database so a revoked session failed at once."),
    a("refresh_token_validity", Core, "Minutes a refresh token stays valid; a session that is not refreshed for this long ends."),
    a("refresh_token_rotation_grace_period", Core, "Seconds during which the previous refresh token may still be used after a refresh, so that concurrent refreshes are not taken for token theft."),
    a("access_token_validity_jitter", Core, "Fraction of the access token validity by which a token's expiry may be randomly shortened, spreading refreshes out."),
    a("recent_token_reuse_behaviour", Hidden, "What happens when a refresh token is reused just after it was rotated: TOKEN_THEFT revokes the session, UNAUTHORISED only refuses the request."),
    a("password_reset_token_lifetime", Core, "Milliseconds a password-reset token (and its link) can be used."),
    a("email_verification_token_lifetime", Core, "Milliseconds an email-verification token (and its link) can be used."),
    a("passwordless_max_code_input_attempts", Core, "Wrong passwordless codes accepted per sign-in attempt before the user must request a new code."),
    a("passwordless_code_lifetime", Core, "Milliseconds a passwordless code or magic link can be used."),
    a("totp_max_attempts", Core, "Consecutive wrong TOTP codes after which the user is locked out for the cooldown."),
    a("totp_rate_limit_cooldown_sec", Core, "Seconds a user stays locked out of TOTP verification after too many wrong codes."),
    a("info_log_path", Hidden, "File for informational log lines; unset or \"null\" writes them to standard output."),
    a("error_log_path", Hidden, "File for error log lines; unset or \"null\" writes them to standard error."),
    a("access_token_signing_key_dynamic", Hidden, "Deprecated: for CDI 2.18 and older, whether access tokens were signed with rotating keys rather than one static key."),
    a("access_token_dynamic_signing_key_update_interval", Core, "Hours after which a new access-token signing key takes over from the current one."),
    a("port", Hidden, "TCP port to listen on."),
    a("host", Hidden, "Address to listen on: a host name, an IP address, or 0.0.0.0 for every interface."),
    a("max_server_pool_size", Hidden, "Upper bound on requests handled at once; also bounds the argon2 hashing pool."),
    a("api_keys", Hidden, "Comma-separated keys a caller must send in the api-key header; at least 20 characters each, letters, digits, '=' and '-'. Unset means no key is needed."),
    a("disable_telemetry", Core, "Switches telemetry off. Portcullis never sends telemetry; the value is kept for compatibility."),
    a("password_hashing_alg", Core, "Algorithm for new password hashes: BCRYPT or ARGON2. Existing hashes of either kind keep verifying."),
    a("argon2_iterations", Hidden, "Argon2 time cost (number of passes) for new password hashes."),
    a("argon2_memory_kb", Hidden, "Argon2 memory cost in kibibytes for new password hashes."),
    a("argon2_parallelism", Hidden, "Argon2 lanes for new password hashes."),
    a("argon2_hashing_pool_size", Hidden, "How many argon2 hashes may run at the same time; further requests wait their turn."),
    a("firebase_password_hashing_pool_size", Hidden, "How many imported Firebase scrypt hashes may be checked at the same time."),
    a("bcrypt_log_rounds", Hidden, "Bcrypt cost factor (log2 of the rounds) for new password hashes."),
    a("webserver_https_enabled", Hidden, "Accepted for compatibility; Portcullis serves plain HTTP (put TLS in front of it)."),
    a("base_path", Hidden, "Path prefix under which every API is served, e.g. /auth."),
    a("log_level", Hidden, "Least severe log level written: DEBUG, INFO, WARN, ERROR, or NONE for silence."),
    a("firebase_password_hashing_signer_key", Core, "Base64 signer key of the Firebase project whose scrypt password hashes were imported; needed to check them."),
    a("ip_allow_regex", Core, "Only clients whose IP address matches this regular expression may call the tenant's APIs."),
    a("ip_deny_regex", Core, "Clients whose IP address matches this regular expression are refused."),
    a("oauth_provider_public_service_url", Hidden, "Public URL of the OAuth2 provider service (OAuth2 provider feature)."),
    a("oauth_provider_admin_service_url", Hidden, "Admin URL of the OAuth2 provider service (OAuth2 provider feature)."),
    a("oauth_provider_consent_login_base_url", Hidden, "Base URL that replaces the OAuth2 provider's consent and login pages (OAuth2 provider feature)."),
    a("oauth_provider_url_configured_in_oauth_provider", Hidden, "The OAuth2 provider's own idea of its URL, when it differs from the public one (OAuth2 provider feature)."),
    a("oauth_client_secret_encryption_key", Hidden, "Key with which OAuth2 client secrets are encrypted in the database (OAuth2 provider feature)."),
    a("supertokens_saas_secret", Hidden, "When set, callers that authenticate with this secret instead of an API key may read and change database and network settings of tenants; others may not."),
    a("supertokens_max_cdi_version", Hidden, "The CDI version assumed for requests that do not name one; unset means the newest supported."),
    a("supertokens_min_cdi_version", Hidden, "The oldest CDI version offered in /apiversion; unset means every supported version."),
    a("supertokens_saas_load_only_cud", Hidden, "When set, only this connection URI domain is loaded and served; the others in the database are ignored."),
    a("saml_legacy_acs_url", Core, "Assertion consumer URL kept for SAML clients set up before per-client URLs (SAML feature)."),
    a("saml_sp_entity_id", Core, "Entity id of this service provider in SAML exchanges (SAML feature)."),
    a("saml_claims_validity", Core, "Milliseconds the claims from a SAML response stay redeemable (SAML feature)."),
    a("saml_relay_state_validity", Core, "Milliseconds a SAML relay state stays valid (SAML feature)."),
    a("bulk_migration_parallelism", Core, "Worker threads used to import users in bulk (bulk import feature)."),
    a("bulk_migration_batch_size", Core, "Users loaded per batch when importing in bulk (bulk import feature)."),
    a("bulk_migration_sleep_between_rounds_in_batch_ms", Hidden, "Pause in milliseconds between rounds of a bulk import batch (bulk import feature)."),
    a("webauthn_recover_account_token_lifetime", Core, "Milliseconds a WebAuthn account-recovery token can be used (WebAuthn feature)."),
    a("otel_collector_connection_uri", Hidden, "Address of an OpenTelemetry collector; accepted for compatibility, Portcullis exports Prometheus metrics instead."),
    a("deadlock_logger_enable", Hidden, "Accepted for compatibility with the Java core's thread-deadlock logger; has no effect."),
    // --- PostgreSQL plugin ---
    a("postgresql_connection_pool_size", POOL, "Most connections kept open to this tenant's PostgreSQL database."),
    a("postgresql_host", DB, "Host name or address of the PostgreSQL server."),
    a("postgresql_port", DB, "TCP port of the PostgreSQL server; -1 means the default, 5432."),
    a("postgresql_user", DB, "Role Portcullis connects as. It needs to create tables unless they already exist."),
    a("postgresql_password", Hidden, "Password of the PostgreSQL role."),
    a("postgresql_database_name", DB, "Database holding the tables."),
    a("postgresql_table_names_prefix", DB, "Prefix (followed by an underscore) put before every table name, so several user pools can share one schema."),
    a("postgresql_key_value_table_name", Hidden, "Custom name for the key_value table."),
    a("postgresql_session_info_table_name", Hidden, "Custom name for the session_info table."),
    a("postgresql_emailpassword_users_table_name", Hidden, "Custom name for the emailpassword_users table."),
    a("postgresql_emailpassword_pswd_reset_tokens_table_name", Hidden, "Custom name for the emailpassword_pswd_reset_tokens table."),
    a("postgresql_emailverification_tokens_table_name", Hidden, "Custom name for the emailverification_tokens table."),
    a("postgresql_emailverification_verified_emails_table_name", Hidden, "Custom name for the emailverification_verified_emails table."),
    a("postgresql_thirdparty_users_table_name", Hidden, "Custom name for the thirdparty_users table."),
    a("postgresql_table_schema", DB, "Schema in which the tables live."),
    a("postgresql_connection_uri", Hidden, "The whole connection as a URI, postgresql://user:password@host:port/database?options; separate settings above take precedence over its parts."),
    a("postgresql_connection_attributes", DB, "Extra connection options, as the query string of a connection URI."),
    a("postgresql_connection_scheme", DB, "URI scheme of the connection, postgresql or postgres."),
    a("postgresql_idle_connection_timeout", POOL, "Milliseconds after which an unused pooled connection is closed."),
    a("postgresql_minimum_idle_connections", POOL, "Connections kept open even when idle; unset means as many as the pool size."),
    // --- Portcullis ---
    a("postgresql_sslmode", DB, "TLS to PostgreSQL, as libpq's sslmode: disable, allow, prefer (default), require, verify-ca or verify-full; wins over sslmode in the connection URI or attributes."),
    a("postgresql_sslrootcert", DB, "PEM file of the CA certificates that sign the server's certificate, or \"system\" for the operating system's CAs (then only verify-full is allowed), as libpq's sslrootcert."),
    a("postgresql_sslcert", DB, "PEM file of a client certificate to present to PostgreSQL (with postgresql_sslkey), as libpq's sslcert."),
    a("postgresql_sslkey", DB, "PEM (or DER PKCS#8) file of the client certificate's private key, unencrypted, as libpq's sslkey."),
    a("postgresql_target_session_attrs", DB, "With several hosts: which one to use, as libpq's target_session_attrs: any (default), read-write, read-only, primary, standby or prefer-standby."),
    a("postgresql_transaction_pooling", DB, "true when PostgreSQL is reached through a transaction-pooling proxy (PgBouncer pool_mode=transaction, …): no named prepared statements, no session settings (as prepareThreshold=0 in the URI)."),
    a("sqlite_path", Hidden, "File of the embedded SQLite database used when no PostgreSQL is configured; \":memory:\" keeps everything in memory (tests)."),
    a("test_mode", Hidden, "The Java core's test-mode relaxations (short key intervals, short refresh validity); never in production."),
    a("database_timeout_ms", Hidden, "Milliseconds a database call may wait for a pooled connection, a new connection or a statement's answer; a server that stops answering at all is given up on after 4 times this."),
    a("tenant_sync_interval_sec", Hidden, "Seconds between re-reads of tenant configurations from the database, to pick up other instances' changes."),
    a("max_request_body_bytes", Hidden, "Largest request body accepted, in bytes."),
    a("header_read_timeout_sec", Hidden, "Seconds a connection may take to send a request's headers, then its body, and may stay idle between requests."),
    a("log_format", Hidden, "\"text\" for human-readable log lines or \"json\" for one JSON object per line."),
    a("metrics_path", Hidden, "Path at which Prometheus metrics are served (behind the base API keys when set); \"\" turns them off."),
    a("database_wait_sec", Hidden, "Seconds to keep trying to reach PostgreSQL at start before giving up (for containers that start before their database); 0 gives up at the first failure."),
];

/// The fixed set of values some string keys accept (the dashboard offers them as a choice).
pub static CHOICES: &[(&str, &[&str])] = &[
    ("password_hashing_alg", &["ARGON2", "BCRYPT"]),
    ("recent_token_reuse_behaviour", &["TOKEN_THEFT", "UNAUTHORISED"]),
    ("log_level", &["DEBUG", "INFO", "WARN", "ERROR", "NONE"]),
    ("log_format", &["text", "json"]),
];

/// The rows of the dashboard's tenant page for a tenant whose effective configuration is `config`:
/// every key of the app or tenant level that is not hidden, core settings first, then database
/// settings when the tenant is on PostgreSQL. `protect` drops what only the SaaS secret may see.
pub fn dashboard_fields(config: &Config, protect: bool) -> Vec<Value> {
    let on_postgresql = config.uses_postgresql();
    let row = |about: &About, def: &KeyDef, plugin: Option<bool>| {
        let value_type = match (choices(def.name), def.kind) {
            (Some(_), _) => "enum",
            (None, Kind::Bool) => "boolean",
            (None, Kind::Str) => "string",
            (None, Kind::Int | Kind::Long | Kind::Double) => "number",
        };
        let default: Value = serde_json::from_str(def.default).unwrap_or(Value::Null);
        json!({
            "key": def.name,
            "valueType": value_type,
            "value": config.get(def.name),
            "description": about.text,
            "isDifferentAcrossTenants": def.level != Level::App,
            "possibleValues": choices(def.name),
            "isNullable": default.is_null(),
            "defaultValue": default,
            "isPluginProperty": plugin.is_some(),
            "isPluginPropertyEditable": plugin.unwrap_or(false),
        })
    };
    let visible = |def: &KeyDef| def.level != Level::Base && !(protect && is_protected(def.name));
    let core = ABOUT.iter().zip(KEYS).filter(|(a, d)| a.shown == Core && visible(d)).map(|(a, d)| row(a, d, None));
    let plugin = ABOUT.iter().zip(KEYS).filter_map(|(a, d)| match a.shown {
        Plugin { editable } if on_postgresql && visible(d) => Some(row(a, d, Some(editable))),
        _ => None,
    });
    core.chain(plugin).collect()
}

pub fn about(name: &str) -> Option<&'static About> {
    ABOUT.iter().find(|a| a.name == name)
}

pub fn choices(name: &str) -> Option<&'static [&'static str]> {
    CHOICES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_described_once_in_the_same_order() {
        let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        let described: Vec<&str> = ABOUT.iter().map(|a| a.name).collect();
        assert_eq!(keys, described);
        for a in ABOUT {
            assert!(a.text.len() > 10 && a.text.ends_with('.'), "description of {}", a.name);
        }
    }

    #[test]
    fn choices_agree_with_validation() {
        for (name, values) in CHOICES {
            let def = super::super::keys::find(name).expect(name);
            assert_eq!(def.kind, Kind::Str, "{name}");
            for v in values.iter().copied().chain(["NOT_A_CHOICE"]) {
                let mut base = Config::defaults();
                base.values.insert((*name).to_owned(), Value::String(v.to_owned()));
                let accepted = base.validate(true).is_ok();
                assert_eq!(accepted, v != "NOT_A_CHOICE", "{name}={v}");
            }
        }
    }
}
