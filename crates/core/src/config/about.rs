//! What each configuration key means and how the dashboard shows it: the companion of the key
//! table in keys.rs (a test checks that both name exactly the same keys). The descriptions feed
//! docs/configuration.md and the dashboard's tenant page (`GET /<t>/recipe/dashboard/tenant/core-config`).

use serde_json::{json, Value};

use super::keys::{is_protected, Config, Key, Kind, KeyDef, Level, KEYS};

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
    pub key: Key,
    pub shown: Shown,
    pub text: &'static str,
}

const fn a(key: Key, shown: Shown, text: &'static str) -> About {
    About { key, shown, text }
}

use Shown::*;

const POOL: Shown = Plugin { editable: true };
const DB: Shown = Plugin { editable: false };

/// In the order of `keys::KEYS` (tested), so that the two can be zipped.
pub static ABOUT: &[About] = &[
    // --- core ---
    a(Key::core_config_version, Hidden, "Version stamp of the config file format; Portcullis reads and ignores it."),
    a(Key::access_token_validity, Core, "Seconds an access token stays valid after it is issued."),
    a(Key::access_token_blacklisting, Hidden, "Deprecated: only for CDI 2.18 and older, where it made every access-token check consult the database so a revoked session failed at once."),
    a(Key::refresh_token_validity, Core, "Minutes a refresh token stays valid; a session that is not refreshed for this long ends."),
    a(Key::refresh_token_rotation_grace_period, Core, "Seconds during which the previous refresh token may still be used after a refresh, so that concurrent refreshes are not taken for token theft."),
    a(Key::access_token_validity_jitter, Core, "Fraction of the access token validity by which a token's expiry may be randomly shortened, spreading refreshes out."),
    a(Key::recent_token_reuse_behaviour, Hidden, "What happens when a refresh token is reused just after it was rotated: TOKEN_THEFT revokes the session, UNAUTHORISED only refuses the request."),
    a(Key::password_reset_token_lifetime, Core, "Milliseconds a password-reset token (and its link) can be used."),
    a(Key::email_verification_token_lifetime, Core, "Milliseconds an email-verification token (and its link) can be used."),
    a(Key::passwordless_max_code_input_attempts, Core, "Wrong passwordless codes accepted per sign-in attempt before the user must request a new code."),
    a(Key::passwordless_code_lifetime, Core, "Milliseconds a passwordless code or magic link can be used."),
    a(Key::totp_max_attempts, Core, "Consecutive wrong TOTP codes after which the user is locked out for the cooldown."),
    a(Key::totp_rate_limit_cooldown_sec, Core, "Seconds a user stays locked out of TOTP verification after too many wrong codes."),
    a(Key::info_log_path, Hidden, "File for informational log lines; unset or \"null\" writes them to standard output."),
    a(Key::error_log_path, Hidden, "File for error log lines; unset or \"null\" writes them to standard error."),
    a(Key::access_token_signing_key_dynamic, Hidden, "Deprecated: for CDI 2.18 and older, whether access tokens were signed with rotating keys rather than one static key."),
    a(Key::access_token_dynamic_signing_key_update_interval, Core, "Hours after which a new access-token signing key takes over from the current one."),
    a(Key::port, Hidden, "TCP port to listen on."),
    a(Key::host, Hidden, "Address to listen on: a host name, an IP address, or 0.0.0.0 for every interface."),
    a(Key::max_server_pool_size, Hidden, "Requests handled at once (reading their body or running): one more waits its turn for a free slot up to request_queue_timeout_ms, then gets 503 (counted in portcullis_requests_refused_total); also bounds the argon2 hashing pool."),
    a(Key::api_keys, Hidden, "Comma-separated keys a caller must send in the api-key header; at least 20 characters each, letters, digits, '=' and '-'. Unset means no key is needed."),
    a(Key::disable_telemetry, Core, "Switches telemetry off. Portcullis never sends telemetry; the value is kept for compatibility."),
    a(Key::password_hashing_alg, Core, "Algorithm for new password hashes: BCRYPT or ARGON2. Existing hashes of either kind keep verifying."),
    a(Key::argon2_iterations, Hidden, "Argon2 time cost (number of passes) for new password hashes."),
    a(Key::argon2_memory_kb, Hidden, "Argon2 memory cost in kibibytes for new password hashes."),
    a(Key::argon2_parallelism, Hidden, "Argon2 lanes for new password hashes."),
    a(Key::argon2_hashing_pool_size, Hidden, "How many argon2 hashes may run at the same time; further requests wait their turn."),
    a(Key::firebase_password_hashing_pool_size, Hidden, "How many imported Firebase scrypt hashes may be checked at the same time."),
    a(Key::bcrypt_log_rounds, Hidden, "Bcrypt cost factor (log2 of the rounds) for new password hashes."),
    a(Key::webserver_https_enabled, Hidden, "Accepted for compatibility; Portcullis serves plain HTTP (put TLS in front of it)."),
    a(Key::base_path, Hidden, "Path prefix under which every API is served, e.g. /auth."),
    a(Key::log_level, Hidden, "Least severe log level written: DEBUG, INFO, WARN, ERROR, or NONE for silence."),
    a(Key::firebase_password_hashing_signer_key, Core, "Base64 signer key of the Firebase project whose scrypt password hashes were imported; needed to check them."),
    a(Key::ip_allow_regex, Core, "Only clients whose IP address matches this regular expression may call the tenant's APIs."),
    a(Key::ip_deny_regex, Core, "Clients whose IP address matches this regular expression are refused."),
    a(Key::oauth_provider_public_service_url, Hidden, "Public URL of the OAuth2 provider service (OAuth2 provider feature)."),
    a(Key::oauth_provider_admin_service_url, Hidden, "Admin URL of the OAuth2 provider service (OAuth2 provider feature)."),
    a(Key::oauth_provider_consent_login_base_url, Hidden, "Base URL that replaces the OAuth2 provider's consent and login pages (OAuth2 provider feature)."),
    a(Key::oauth_provider_url_configured_in_oauth_provider, Hidden, "The OAuth2 provider's own idea of its URL, when it differs from the public one (OAuth2 provider feature)."),
    a(Key::oauth_client_secret_encryption_key, Hidden, "Key with which OAuth2 client secrets are encrypted in the database (OAuth2 provider feature)."),
    a(Key::supertokens_saas_secret, Hidden, "When set, callers that authenticate with this secret instead of an API key may read and change database and network settings of tenants; others may not."),
    a(Key::supertokens_max_cdi_version, Hidden, "The CDI version assumed for requests that do not name one; unset means the newest supported."),
    a(Key::supertokens_min_cdi_version, Hidden, "The oldest CDI version accepted: a request naming an older one gets 400; unset means every supported version."),
    a(Key::supertokens_saas_load_only_cud, Hidden, "When set, only this connection URI domain is loaded and served; the others in the database are ignored."),
    a(Key::saml_legacy_acs_url, Core, "Assertion consumer URL kept for SAML clients set up before per-client URLs (SAML feature)."),
    a(Key::saml_sp_entity_id, Core, "Entity id of this service provider in SAML exchanges (SAML feature)."),
    a(Key::saml_claims_validity, Core, "Milliseconds the claims from a SAML response stay redeemable (SAML feature)."),
    a(Key::saml_relay_state_validity, Core, "Milliseconds a SAML relay state stays valid (SAML feature)."),
    a(Key::bulk_migration_parallelism, Core, "Bulk-import workers of this instance that claim and import chunks of the queue at once (each chunk is batch_size / parallelism users, at least 1)."),
    a(Key::bulk_migration_batch_size, Core, "Users the bulk-import workers of this instance claim per round, split between the workers."),
    a(Key::bulk_migration_sleep_between_rounds_in_batch_ms, Hidden, "Pause in milliseconds between rounds of the bulk-import worker while the queue is not empty (0: none)."),
    a(Key::webauthn_recover_account_token_lifetime, Core, "Milliseconds a WebAuthn account-recovery token can be used (WebAuthn feature)."),
    a(Key::otel_collector_connection_uri, Hidden, "Address of an OpenTelemetry collector; accepted for compatibility, Portcullis exports Prometheus metrics instead."),
    a(Key::deadlock_logger_enable, Hidden, "Accepted for compatibility with the Java core's thread-deadlock logger; has no effect."),
    // --- PostgreSQL plugin ---
    a(Key::postgresql_connection_pool_size, POOL, "Most connections kept open to this tenant's PostgreSQL database."),
    a(Key::postgresql_host, DB, "Host name or address of the PostgreSQL server."),
    a(Key::postgresql_port, DB, "TCP port of the PostgreSQL server; -1 means the default, 5432."),
    a(Key::postgresql_user, DB, "Role Portcullis connects as. It needs to create tables unless they already exist."),
    a(Key::postgresql_password, Hidden, "Password of the PostgreSQL role."),
    a(Key::postgresql_database_name, DB, "Database holding the tables."),
    a(Key::postgresql_table_names_prefix, DB, "Prefix (followed by an underscore) put before every table name, so several user pools can share one schema."),
    a(Key::postgresql_key_value_table_name, Hidden, "Custom name for the key_value table."),
    a(Key::postgresql_session_info_table_name, Hidden, "Custom name for the session_info table."),
    a(Key::postgresql_emailpassword_users_table_name, Hidden, "Custom name for the emailpassword_users table."),
    a(Key::postgresql_emailpassword_pswd_reset_tokens_table_name, Hidden, "Custom name for the emailpassword_pswd_reset_tokens table."),
    a(Key::postgresql_emailverification_tokens_table_name, Hidden, "Custom name for the emailverification_tokens table."),
    a(Key::postgresql_emailverification_verified_emails_table_name, Hidden, "Custom name for the emailverification_verified_emails table."),
    a(Key::postgresql_thirdparty_users_table_name, Hidden, "Custom name for the thirdparty_users table."),
    a(Key::postgresql_table_schema, DB, "Schema in which the tables live."),
    a(Key::postgresql_connection_uri, Hidden, "The whole connection as a URI, postgresql://user:password@host:port/database?options; separate settings above take precedence over its parts."),
    a(Key::postgresql_connection_attributes, DB, "Extra connection options, as the query string of a connection URI."),
    a(Key::postgresql_connection_scheme, DB, "URI scheme of the connection, postgresql or postgres."),
    a(Key::postgresql_idle_connection_timeout, POOL, "Milliseconds after which an unused pooled connection is closed."),
    a(Key::postgresql_minimum_idle_connections, POOL, "Connections kept open even when idle; unset means as many as the pool size."),
    // --- Portcullis ---
    a(Key::postgresql_sslmode, DB, "TLS to PostgreSQL, as libpq's sslmode: disable, allow, prefer (default), require, verify-ca or verify-full; wins over sslmode in the connection URI or attributes."),
    a(Key::postgresql_sslrootcert, DB, "PEM file of the CA certificates that sign the server's certificate, or \"system\" for the operating system's CAs (then only verify-full is allowed), as libpq's sslrootcert."),
    a(Key::postgresql_sslcert, DB, "PEM file of a client certificate to present to PostgreSQL (with postgresql_sslkey), as libpq's sslcert."),
    a(Key::postgresql_sslkey, DB, "PEM (or DER PKCS#8) file of the client certificate's private key, unencrypted, as libpq's sslkey."),
    a(Key::postgresql_target_session_attrs, DB, "With several hosts: which one to use, as libpq's target_session_attrs: any (default), read-write, read-only, primary, standby or prefer-standby."),
    a(Key::postgresql_transaction_pooling, DB, "true when PostgreSQL is reached through a transaction-pooling proxy (PgBouncer pool_mode=transaction, …): no named prepared statements, no session settings (as prepareThreshold=0 in the URI)."),
    a(Key::sqlite_path, Hidden, "File of the embedded SQLite database used when no PostgreSQL is configured; \":memory:\" keeps everything in memory (tests)."),
    a(Key::test_mode, Hidden, "The Java core's test-mode relaxations (short key intervals, short refresh validity); never in production."),
    a(Key::database_timeout_ms, Hidden, "Milliseconds a database call may wait for a pooled connection, a new connection or a statement's answer; a server that stops answering at all is given up on after 4 times this."),
    a(Key::tenant_sync_interval_sec, Hidden, "Seconds between re-reads of tenant configurations from the database, to pick up other instances' changes."),
    a(Key::max_request_body_bytes, Hidden, "Largest request body accepted, in bytes (`POST /bulk-import/users` takes up to 32 MiB whatever this says: 10,000 users per call)."),
    a(Key::header_read_timeout_sec, Hidden, "Seconds a connection may take to send a request's headers, then its body, and may stay idle between requests."),
    a(Key::log_format, Hidden, "\"text\" for human-readable log lines or \"json\" for one JSON object per line."),
    a(Key::metrics_path, Hidden, "Path at which Prometheus metrics are served (behind the base API keys when set); \"\" turns them off."),
    a(Key::database_wait_sec, Hidden, "Seconds to keep trying to reach PostgreSQL at start before giving up (for containers that start before their database); 0 gives up at the first failure."),
    a(Key::max_connections, Hidden, "Open connections served at once; a connection accepted beyond them is closed at once (counted in portcullis_connections_refused_total, logged at most once a second)."),
    a(Key::request_queue_timeout_ms, Hidden, "Milliseconds a request may wait for one of max_server_pool_size slots before it is answered 503 `Server busy`. Waiting requests hold no body (bodies are read once a slot is taken), so a burst, such as many sign-ins at once whose password hashes take the CPU, queues and is served in turn, as the core's web server queues it, instead of failing."),
    a(Key::bcrypt_refuse_long_passwords, Core, "With password_hashing_alg BCRYPT, refuse a new password (sign-up, password change) longer than 72 bytes with a 400, instead of hashing its first 72 bytes as bcrypt (and the core) silently do. Off by default, as in the core. Sign-in is unaffected; argon2 has no such limit."),
    a(Key::bulk_import_interval_sec, Core, "Seconds between runs of the bulk-import worker (each run drains the queue; a successful POST /bulk-import/users also wakes this instance's worker at once). The core's interval, fixed at 300 s there."),
    a(Key::bulk_migration_cron_enabled, Core, "false: this instance runs no bulk-import worker (the core reads only the environment variable BULK_MIGRATION_CRON_ENABLED)."),
    a(Key::emailpassword_max_failed_sign_ins, Core, "Failed email-password sign-ins allowed per (tenant, email) and per user within emailpassword_failed_sign_in_window_sec; further attempts get WRONG_CREDENTIALS_ERROR without a password check until the window ends. A successful sign-in resets the count. 0 (the default) is no limit."),
    a(Key::emailpassword_failed_sign_in_window_sec, Core, "Seconds of the window, from its first failed sign-in, in which emailpassword_max_failed_sign_ins applies."),
    a(Key::passwordless_max_codes_created, Core, "Passwordless codes created per (tenant, email or phone number) within passwordless_codes_created_window_sec; further ones are refused (429 for a new sign-in attempt, RESTART_FLOW_ERROR for a resend). 0 (the default) is no limit."),
    a(Key::passwordless_codes_created_window_sec, Core, "Seconds of the window, from its first code, in which passwordless_max_codes_created applies."),
    a(Key::password_reset_max_tokens_created, Core, "Password-reset tokens created per user within password_reset_tokens_created_window_sec; further requests get UNKNOWN_USER_ID_ERROR (the SDKs then send no email and answer OK). 0 (the default) is no limit."),
    a(Key::password_reset_tokens_created_window_sec, Core, "Seconds of the window, from its first token, in which password_reset_max_tokens_created applies."),
    a(Key::email_verification_max_tokens_created, Core, "Email-verification tokens created per user within email_verification_tokens_created_window_sec; further requests get 429. 0 (the default) is no limit."),
    a(Key::email_verification_tokens_created_window_sec, Core, "Seconds of the window, from its first token, in which email_verification_max_tokens_created applies."),
    a(Key::access_token_signing_algorithm, Core, "Algorithm that signs new access tokens (and the keys made for them): RS256 (the default, as the core) or ES256 (ECDSA P-256, several times cheaper to sign; beyond the core). Tokens signed before a change keep verifying until they expire. See docs/deployment.md before moving such a database back to a Java core."),
];

/// The fixed set of values some string keys accept (the dashboard offers them as a choice).
pub static CHOICES: &[(Key, &[&str])] = &[
    (Key::password_hashing_alg, &["ARGON2", "BCRYPT"]),
    (Key::recent_token_reuse_behaviour, &["TOKEN_THEFT", "UNAUTHORISED"]),
    (Key::log_level, &["DEBUG", "INFO", "WARN", "ERROR", "NONE"]),
    (Key::log_format, &["text", "json"]),
    (Key::access_token_signing_algorithm, &["RS256", "ES256"]),
];

/// The rows of the dashboard's tenant page for a tenant whose effective configuration is `config`:
/// every key of the app or tenant level that is not hidden, core settings first, then database
/// settings when the tenant is on PostgreSQL. `protect` drops what only the SaaS secret may see.
pub fn dashboard_fields(config: &Config, protect: bool) -> Vec<Value> {
    let on_postgresql = config.uses_postgresql();
    let row = |about: &About, def: &KeyDef, plugin: Option<bool>| {
        let value_type = match (choices(def.key), def.kind) {
            (Some(_), _) => "enum",
            (None, Kind::Bool) => "boolean",
            (None, Kind::Str) => "string",
            (None, Kind::Int | Kind::Long | Kind::Double) => "number",
        };
        let default: Value = serde_json::from_str(def.default).unwrap_or(Value::Null);
        json!({
            "key": def.name,
            "valueType": value_type,
            "value": config.get(def.key),
            "description": about.text,
            "isDifferentAcrossTenants": def.level != Level::App,
            "possibleValues": choices(def.key),
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

pub fn about(key: Key) -> Option<&'static About> {
    ABOUT.iter().find(|a| a.key == key)
}

pub fn choices(key: Key) -> Option<&'static [&'static str]> {
    CHOICES.iter().find(|(k, _)| *k == key).map(|(_, c)| *c)
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
        let text = about(d.key).map(|a| a.text).unwrap_or_default().replace('|', "\\|");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_described_once_in_the_same_order() {
        let keys: Vec<Key> = KEYS.iter().map(|k| k.key).collect();
        let described: Vec<Key> = ABOUT.iter().map(|a| a.key).collect();
        assert_eq!(keys, described);
        for a in ABOUT {
            assert!(a.text.len() > 10 && a.text.ends_with('.'), "description of {}", a.key.name());
        }
    }

    #[test]
    fn choices_agree_with_validation() {
        for (key, values) in CHOICES {
            let def = key.def();
            let name = def.name;
            assert_eq!(def.kind, Kind::Str, "{name}");
            for v in values.iter().copied().chain(["NOT_A_CHOICE"]) {
                let mut base = Config::defaults();
                base.values[*key as usize] = Value::String(v.to_owned());
                let accepted = base.validate(true).is_ok();
                assert_eq!(accepted, v != "NOT_A_CHOICE", "{name}={v}");
            }
        }
    }
}
