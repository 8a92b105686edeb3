//! Storage on PostgreSQL, in the schema of the SuperTokens PostgreSQL plugin: same tables, columns,
//! constraint and index names, in the configured schema and with the configured table-name prefix, so
//! that Portcullis and the Java core can use one database.
//!
//! - `settings`/`uri`: where to connect (the plugin's `postgresql_*` keys, several hosts, TLS), pool
//!   size and timeouts.
//! - `tls`: libpq's `sslmode` and certificate files on rustls; `connect`: opening connections for the
//!   pool (host selection, TLS fallbacks, `target_session_attrs`).
//! - `names`: table and constraint names, by the plugin's rules.
//! - `schema` (+ `schema.sql`): creates what is missing of the schema at connect time.
//! - `db`: the pool and the transaction runner (retries on conflicts and dead connections; prepared or
//!   unnamed statements).
//! - one module per recipe (`session`, `users`, `passwordless`, …; `multitenancy` for the tenant
//!   configurations, `key_value` for the key-value store): the recipe's SQL and row mapping.

mod bulkimport;
mod connect;
mod dashboard;
mod db;
mod emailpassword;
mod emailverification;
mod key_value;
mod metadata;
mod names;
mod oauth;
mod passwordless;
mod ratelimit;
mod roles;
mod saml;
mod schema;
mod session;
mod settings;
mod multitenancy;
mod tls;
mod uri;
mod thirdparty;
mod totp;
mod tx;
mod useridmapping;
mod users;
mod accountlinking;
mod webauthn;

use async_trait::async_trait;
use portcullis_core::config::Config;
use portcullis_core::ids::TenantKey;
use portcullis_core::storage::{Storage, StorageError};

use crate::db::{Db, Mode};
use crate::names::Names;
use crate::settings::Settings;

pub use crate::names::TABLE_NAME_OVERRIDES;

/// Every statement, rendered once at connect time with the configured table names.
struct Statements {
    multitenancy: multitenancy::Statements,
    kv: key_value::Statements,
    session: session::Statements,
    users: users::Statements,
    accountlinking: accountlinking::Statements,
    metadata: metadata::Statements,
    roles: roles::Statements,
    dashboard: dashboard::Statements,
    emailverification: emailverification::Statements,
    emailpassword: emailpassword::Statements,
    useridmapping: useridmapping::Statements,
    passwordless: passwordless::Statements,
    thirdparty: thirdparty::Statements,
    totp: totp::Statements,
    webauthn: webauthn::Statements,
    saml: saml::Statements,
    oauth: oauth::Statements,
    ratelimit: ratelimit::Statements,
    bulkimport: bulkimport::Statements,
}

pub struct PgStorage {
    db: Db,
    sql: Statements,
    names: Names,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("endpoint", &self.db.endpoint())
            .field("schema", &self.names.schema())
            .finish()
    }
}

/// Where `cfg` points, for the start-up log: `user@host:port/database, schema 's', table prefix 'p'`,
/// never the password. Fails, naming the setting, when the settings are invalid.
pub fn describe_target(cfg: &Config) -> Result<String, String> {
    let s = Settings::from_config(cfg)?;
    let user = s.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
    let prefix = cfg.postgresql_table_names_prefix().unwrap_or("");
    Ok(format!("{user}{}/{}, schema '{}', table prefix '{prefix}'", s.endpoint(), s.database, s.names.schema()))
}

impl PgStorage {
    /// Connects with the `postgresql_*` keys of `cfg` and creates whatever is missing of the schema.
    /// Fails with a message naming host:port and the reason (never the password).
    pub async fn connect(cfg: &Config) -> Result<PgStorage, StorageError> {
        let invalid = |e: String| StorageError::Unavailable(format!("invalid PostgreSQL configuration: {e}"));
        let mut settings = Settings::from_config(cfg).map_err(invalid)?;
        for base in schema::table_bases() {
            settings.names.add_table(&base).map_err(invalid)?;
        }
        let sql = Statements {
            multitenancy: multitenancy::Statements::new(&settings.names).map_err(invalid)?,
            kv: key_value::Statements::new(&settings.names).map_err(invalid)?,
            session: session::Statements::new(&settings.names).map_err(invalid)?,
            users: users::Statements::new(&settings.names).map_err(invalid)?,
            accountlinking: accountlinking::Statements::new(&settings.names).map_err(invalid)?,
            dashboard: dashboard::Statements::new(&settings.names).map_err(invalid)?,
            emailverification: emailverification::Statements::new(&settings.names).map_err(invalid)?,
            emailpassword: emailpassword::Statements::new(&settings.names).map_err(invalid)?,
            useridmapping: useridmapping::Statements::new(&settings.names).map_err(invalid)?,
            passwordless: passwordless::Statements::new(&settings.names).map_err(invalid)?,
            thirdparty: thirdparty::Statements::new(&settings.names).map_err(invalid)?,
            totp: totp::Statements::new(&settings.names).map_err(invalid)?,
            oauth: oauth::Statements::new(&settings.names).map_err(invalid)?,
            metadata: metadata::Statements::new(&settings.names).map_err(invalid)?,
            roles: roles::Statements::new(&settings.names).map_err(invalid)?,
            webauthn: webauthn::Statements::new(&settings.names).map_err(invalid)?,
            saml: saml::Statements::new(&settings.names).map_err(invalid)?,
            ratelimit: ratelimit::Statements::new(&settings.names).map_err(invalid)?,
            bulkimport: bulkimport::Statements::new(&settings.names).map_err(invalid)?,
        };
        let db = Db::new(&settings)?;
        schema::ensure(&db, &settings.names).await?;
        Ok(PgStorage { db, sql, names: settings.names })
    }

    /// The schema-qualified name of a table of the schema (by its base name, e.g. "key_value").
    pub fn table_name(&self, base: &str) -> Option<&str> {
        self.names.table(base).ok()
    }
}

#[async_trait]
impl Storage for PgStorage {
    fn kind(&self) -> &'static str {
        "postgresql"
    }

    fn pool_status(&self) -> Option<portcullis_core::storage::PoolStatus> {
        Some(self.db.pool_status())
    }

    async fn transaction(&self, work: Box<dyn portcullis_core::storage::tx::Work>) -> Result<(), StorageError> {
        tx::run(&self.db, &self.sql, work).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.db
            .run(Mode::Read, &(), |db, _| {
                Box::pin(async move {
                    db.query("SELECT 1", &[]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn key_value_get(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, name: &str) -> Result<Option<String>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, name);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, name)| {
                Box::pin(key_value::get(db, &sql.kv, app, tenant, name))
            })
            .await
    }

    async fn lease(&self, name: &str, now_ms: i64, interval_ms: i64) -> Result<bool, StorageError> {
        let ctx = (&self.sql, name, now_ms, interval_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, name, now, interval)| {
                Box::pin(key_value::lease(db, &sql.kv, name, *now, *interval))
            })
            .await
    }

    async fn key_value_set(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, name: &str, value: &str, now_ms: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, name), value, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, value, now)| Box::pin(key_value::set(db, &sql.kv, *key, value, *now)))
            .await
    }

    async fn key_value_insert_if_absent(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        name: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<String, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, name), value, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, value, now)| {
                Box::pin(key_value::insert_if_absent(db, &sql.kv, *key, value, *now))
            })
            .await
    }
}

/// For the crate's own tests against a real PostgreSQL (`PORTCULLIS_TEST_PG_URI`).
#[cfg(test)]
pub(crate) mod testing {
    use portcullis_core::config::{Config, Sources};

    /// The server's URI and a config for it with `extra` YAML lines, or `None` (the test says on
    /// stderr that it skips, and passes).
    pub(crate) fn pg_config(test: &str, extra: &str) -> Option<(String, Config)> {
        let Ok(uri) = std::env::var("PORTCULLIS_TEST_PG_URI") else {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipping {test}: PORTCULLIS_TEST_PG_URI is not set");
            return None;
        };
        let no_env = |_: &str| None;
        let yaml = format!("postgresql_connection_uri: \"{uri}\"\n{extra}");
        let (cfg, _) = Config::load(Sources { yaml: Some(&yaml), env: &no_env, overrides: vec![] }).expect("test config");
        Some((uri, cfg))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_described_target_names_user_host_database_schema_and_prefix_but_not_the_password() {
        let cfg = portcullis_core::config::Config::defaults()
            .overlay(
                json!({"postgresql_connection_uri": "postgresql://auth:s3cret@db.internal:6432/users",
                       "postgresql_table_schema": "st", "postgresql_table_names_prefix": "p"})
                .as_object()
                .unwrap(),
            )
            .unwrap();
        let text = super::describe_target(&cfg).unwrap();
        assert_eq!(text, "auth@db.internal:6432/users, schema 'st', table prefix 'p'");
        assert!(!text.contains("s3cret"));
    }
}
