//! Storage on PostgreSQL, in the schema of the SuperTokens PostgreSQL plugin: same tables, columns,
//! constraint and index names, in the configured schema and with the configured table-name prefix, so
//! that Portcullis and the Java core can use one database.
//!
//! - `settings`/`uri`: where to connect (the plugin's `postgresql_*` keys), pool size and timeouts.
//! - `names`: table and constraint names, by the plugin's rules.
//! - `schema` (+ `schema.sql`): creates what is missing of the schema at connect time.
//! - `db`: the pool and the transaction runner (retries on conflicts and dead connections).
//! - `tenants`, `key_value`: the SQL of each storage area.

mod bulkimport;
mod dashboard;
mod db;
mod emailpassword;
mod emailverification;
mod key_value;
mod metadata;
mod names;
mod passwordless;
mod roles;
mod schema;
mod sessions;
mod settings;
mod tenants;
mod uri;
mod thirdparty;
mod totp;
mod useridmapping;
mod users;
mod accountlinking;

use async_trait::async_trait;
use portcullis_core::config::Config;
use portcullis_core::ids::TenantIdentifier;
use portcullis_core::multitenancy::TenantConfig;
use portcullis_core::session::signing_keys::DynamicKey;
use portcullis_core::storage::session::{SessionRow, SessionStorage, StaticKey, TenantScope};
use portcullis_core::storage::users::{AccountInfo, AssociateOutcome, UserFilter, UserPage, UserStorage};
use portcullis_core::storage::{Storage, StorageError};
use portcullis_core::users::{LoginMethod, User};

use crate::db::{Db, Mode};
use crate::names::Names;
use crate::settings::Settings;

pub use crate::names::TABLE_NAME_OVERRIDES;

/// Every statement, rendered once at connect time with the configured table names.
struct Statements {
    tenants: tenants::Statements,
    kv: key_value::Statements,
    sessions: sessions::Statements,
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
    let prefix = cfg.str("postgresql_table_names_prefix").unwrap_or("");
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
            tenants: tenants::Statements::new(&settings.names).map_err(invalid)?,
            kv: key_value::Statements::new(&settings.names).map_err(invalid)?,
            sessions: sessions::Statements::new(&settings.names).map_err(invalid)?,
            users: users::Statements::new(&settings.names).map_err(invalid)?,
            accountlinking: accountlinking::Statements::new(&settings.names).map_err(invalid)?,
            dashboard: dashboard::Statements::new(&settings.names).map_err(invalid)?,
            emailverification: emailverification::Statements::new(&settings.names).map_err(invalid)?,
            emailpassword: emailpassword::Statements::new(&settings.names).map_err(invalid)?,
            useridmapping: useridmapping::Statements::new(&settings.names).map_err(invalid)?,
            passwordless: passwordless::Statements::new(&settings.names).map_err(invalid)?,
            thirdparty: thirdparty::Statements::new(&settings.names).map_err(invalid)?,
            totp: totp::Statements::new(&settings.names).map_err(invalid)?,
            metadata: metadata::Statements::new(&settings.names).map_err(invalid)?,
            roles: roles::Statements::new(&settings.names).map_err(invalid)?,
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

    async fn load_tenant_configs(&self) -> Result<Vec<TenantConfig>, StorageError> {
        self.db.run(Mode::Snapshot, &self.sql, |db, sql| Box::pin(tenants::load_all(db, &sql.tenants))).await
    }

    async fn upsert_tenant_config(&self, config: &TenantConfig) -> Result<bool, StorageError> {
        let ctx = (&self.sql, config);
        self.db.run(Mode::Write, &ctx, |db, (sql, config)| Box::pin(tenants::upsert(db, &sql.tenants, config))).await
    }

    async fn delete_tenant_config(&self, id: &TenantIdentifier) -> Result<bool, StorageError> {
        let ctx = (&self.sql, id);
        self.db.run(Mode::Write, &ctx, |db, (sql, id)| Box::pin(tenants::delete(db, &sql.tenants, id))).await
    }

    async fn add_tenant_rows(&self, app_id: &str, tenant_id: &str, now_ms: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, now)| {
                Box::pin(key_value::add_tenant_rows(db, &sql.kv, app, tenant, *now))
            })
            .await
    }

    async fn delete_tenant_rows(&self, app_id: &str, tenant_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant)| {
                Box::pin(key_value::delete_tenant_rows(db, &sql.kv, app, tenant))
            })
            .await
    }

    async fn delete_app_rows(&self, app_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db.run(Mode::Write, &ctx, |db, (sql, app)| Box::pin(key_value::delete_app_rows(db, &sql.kv, app))).await
    }

    async fn key_value_get(&self, app_id: &str, tenant_id: &str, name: &str) -> Result<Option<String>, StorageError> {
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

    async fn key_value_set(&self, app_id: &str, tenant_id: &str, name: &str, value: &str, now_ms: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, name), value, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, value, now)| Box::pin(key_value::set(db, &sql.kv, *key, value, *now)))
            .await
    }

    async fn key_value_insert_if_absent(
        &self,
        app_id: &str,
        tenant_id: &str,
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

#[async_trait]
impl SessionStorage for PgStorage {
    async fn session_insert(&self, app_id: &str, row: &SessionRow) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, row);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, row)| Box::pin(sessions::insert(db, &sql.sessions, app, row))).await
    }

    async fn session_primary_user(&self, app_id: &str, user_id: &str) -> Result<Option<String>, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, user)| Box::pin(sessions::primary_user(db, &sql.sessions, app, user))).await
    }

    async fn session_get(&self, app_id: &str, tenant_id: &str, handle: &str) -> Result<Option<SessionRow>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, handle);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, handle)| Box::pin(sessions::get(db, &sql.sessions, app, tenant, handle)))
            .await
    }

    async fn session_replace_refresh_hash(
        &self,
        app_id: &str,
        tenant_id: &str,
        handle: &str,
        expected_hash_2: &str,
        new_hash_2: &str,
        new_expires_at: i64,
    ) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), (expected_hash_2, new_hash_2), new_expires_at);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, (old, new), expires)| {
                Box::pin(sessions::replace_hash(db, &sql.sessions, *key, old, new, *expires))
            })
            .await
    }

    async fn session_set_use_static_key(&self, app_id: &str, tenant_id: &str, handle: &str, value: bool) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), value);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, value)| Box::pin(sessions::set_static(db, &sql.sessions, *key, *value)))
            .await
    }

    async fn session_update_data(&self, app_id: &str, tenant_id: &str, handle: &str, data: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), data);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, text)| Box::pin(sessions::update(db, &sql.sessions, *key, text, false)))
            .await
    }

    async fn session_update_jwt_payload(&self, app_id: &str, tenant_id: &str, handle: &str, payload: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), payload);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, text)| Box::pin(sessions::update(db, &sql.sessions, *key, text, true)))
            .await
    }

    async fn session_delete(&self, app_id: &str, list: &[(String, String)]) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app_id, list);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, list)| Box::pin(sessions::delete(db, &sql.sessions, app, list))).await
    }

    async fn session_handles_for_user(
        &self,
        app_id: &str,
        scope: TenantScope<'_>,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let tenant = match scope {
            TenantScope::One(t) => Some(t),
            TenantScope::AllTenants => None,
        };
        let ctx = (&self.sql, app_id, tenant, user_id, now);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, user, now)| {
                Box::pin(sessions::handles_for_user(db, &sql.sessions, app, *tenant, user, *now))
            })
            .await
    }

    async fn session_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, now);
        self.db.run(Mode::Write, &ctx, |db, (sql, now)| Box::pin(sessions::delete_expired(db, &sql.sessions, *now))).await
    }

    async fn dynamic_keys(&self, app_id: &str) -> Result<Vec<DynamicKey>, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app)| Box::pin(sessions::keys(db, &sql.sessions, app))).await
    }

    async fn dynamic_key_insert(&self, app_id: &str, key: &DynamicKey) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, key);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, key)| Box::pin(sessions::key_insert(db, &sql.sessions, app, key))).await
    }

    async fn dynamic_keys_delete_before(&self, app_id: &str, before: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app_id, before);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, before)| Box::pin(sessions::keys_delete_before(db, &sql.sessions, app, *before)))
            .await
    }

    async fn static_keys(&self, app_id: &str) -> Result<Vec<StaticKey>, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app)| Box::pin(sessions::static_keys(db, &sql.sessions, app))).await
    }

    async fn static_key_insert(&self, app_id: &str, key: &StaticKey) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, key);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, key)| Box::pin(sessions::static_key_insert(db, &sql.sessions, app, key)))
            .await
    }

    async fn user_last_active_upsert(&self, app_id: &str, user_id: &str, now: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, user_id, now);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, user, now)| Box::pin(sessions::last_active(db, &sql.sessions, app, user, *now)))
            .await
    }
}

#[async_trait]
impl UserStorage for PgStorage {
    async fn ep_create_user(
        &self,
        app_id: &str,
        tenant_id: &str,
        user_id: &str,
        email: &str,
        password_hash: &str,
        time_joined: i64,
    ) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, user_id), (email, password_hash), time_joined);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, (email, hash), t)| {
                Box::pin(users::ep_create(db, &sql.users, *key, email, hash, *t))
            })
            .await
    }

    async fn ep_login_method_by_email(&self, app_id: &str, tenant_id: &str, email: &str) -> Result<Option<LoginMethod>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, email));
        self.db.run(Mode::Snapshot, &ctx, |db, (sql, key)| Box::pin(users::ep_by_email(db, &sql.users, *key))).await
    }

    async fn get_user(&self, app_id: &str, user_id: &str) -> Result<Option<User>, StorageError> {
        // One statement: its own snapshot, no transaction needed.
        let ctx = (&self.sql, app_id, user_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, user)| Box::pin(users::get_user(db, &sql.users, app, user))).await
    }

    async fn get_users(&self, app_id: &str, user_ids: &[String]) -> Result<Vec<User>, StorageError> {
        let ctx = (&self.sql, app_id, user_ids);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, ids)| Box::pin(users::get_users(db, &sql.users, app, ids))).await
    }

    async fn list_users(
        &self,
        app_id: &str,
        filter: &UserFilter,
        ascending: bool,
        limit: usize,
        after: Option<(i64, String)>,
    ) -> Result<UserPage, StorageError> {
        let ctx = (&self.sql, (app_id, filter), ascending, i64::try_from(limit).unwrap_or(i64::MAX), after);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, key, asc, limit, after)| {
                Box::pin(users::list(db, &sql.users, *key, *asc, *limit, after))
            })
            .await
    }

    async fn count_users(&self, app_id: &str, filter: &UserFilter) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app_id, filter);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, filter)| Box::pin(users::count(db, &sql.users, app, filter))).await
    }

    async fn user_ids_by_account_info(&self, app_id: &str, tenant_id: &str, info: &AccountInfo) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), info);
        self.db.run(Mode::Read, &ctx, |db, (sql, key, info)| Box::pin(users::ids_by_account_info(db, &sql.users, *key, info))).await
    }

    async fn associate_user_with_tenant(&self, app_id: &str, tenant_id: &str, recipe_user_id: &str) -> Result<AssociateOutcome, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, recipe_user_id));
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key)| {
                Box::pin(async move {
                    if let Some(reason) = accountlinking::association_conflict(db, &sql.accountlinking, &sql.users, *key).await? {
                        return Ok(AssociateOutcome::NotAllowed { reason });
                    }
                    users::associate(db, &sql.users, *key).await
                })
            })
            .await
    }

    async fn disassociate_user_from_tenant(&self, app_id: &str, tenant_id: &str, recipe_user_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, recipe_user_id));
        self.db.run(Mode::Write, &ctx, |db, (sql, key)| Box::pin(users::disassociate(db, &sql.users, *key))).await
    }

    async fn delete_users(&self, app_id: &str, user_ids: &[String]) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user_ids);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, users)| Box::pin(users::delete(db, &sql.users, app, users))).await
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
