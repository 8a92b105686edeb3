//! Storage on an embedded SQLite file: the default when no PostgreSQL is configured, so that
//! `portcullis start` works with nothing else installed. Same tables as the PostgreSQL schema.
//!
//! SQLite allows one writer at a time, so one connection behind a mutex serves every request; the
//! work runs on tokio's blocking pool so the async runtime never waits on the disk.

mod bulkimport;
mod metadata;
mod roles;
mod dashboard;
mod emailpassword;
mod emailverification;
mod passwordless;
mod sessions;
mod thirdparty;
mod totp;
mod useridmapping;
mod users;
mod accountlinking;
mod tenants;
mod file;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis_core::ids::TenantIdentifier;
use portcullis_core::multitenancy::TenantConfig;
use portcullis_core::storage::{Storage, StorageError};
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = include_str!("schema.sql");
/// The bulk-import queue, beside the seed's tables (not in the seed schema).
const BULK_IMPORT_SCHEMA: &str = include_str!("schema_bulkimport.sql");

pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
    /// This process's lock on the file (none in memory); after `conn`, so it is released last.
    _lock: Option<Arc<file::FileLock>>,
}

pub(crate) fn query_err(e: rusqlite::Error) -> StorageError {
    StorageError::Query(e.to_string())
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path`; `:memory:` gives a private in-memory database.
    /// A file another process uses, a file that cannot be opened (named by its absolute path,
    /// with the system's reason) and a file whose tables have another shape are refused before
    /// anything is written.
    pub fn open(path: &str) -> Result<Self, StorageError> {
        if path == ":memory:" {
            let conn = Connection::open_in_memory()
                .map_err(|e| StorageError::Unavailable(format!("cannot open an in-memory SQLite database: {e}")))?;
            return Self::prepare(conn, path, None);
        }
        let path = file::absolute(path)?;
        let lock = file::lock(&path)?;
        Self::open_file(path, Some(lock))
    }

    /// Opens a file a Portcullis server may be using, without taking the one-process lock: for
    /// tools that work beside a running server (the benchmark's database floors); SQLite's own
    /// locking keeps the file consistent. Never for serving.
    pub fn open_beside_server(path: &str) -> Result<Self, StorageError> {
        Self::open_file(file::absolute(path)?, None)
    }

    fn open_file(path: std::path::PathBuf, lock: Option<Arc<file::FileLock>>) -> Result<Self, StorageError> {
        let conn = Connection::open(&path).map_err(|e| {
            StorageError::Unavailable(format!("cannot open the SQLite database '{}': {e}", path.display()))
        })?;
        // Before anything else: another process (a tool beside the server) may hold a write lock.
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(query_err)?;
        file::check_tables(&conn, &path, &format!("{SCHEMA}\n{BULK_IMPORT_SCHEMA}"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(query_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(query_err)?;
        Self::prepare(conn, &path.display().to_string(), lock)
    }

    /// Settings of every connection, then the missing tables.
    fn prepare(conn: Connection, shown: &str, lock: Option<Arc<file::FileLock>>) -> Result<Self, StorageError> {
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(query_err)?;
        // Cascades are how removing an app or tenant removes its data.
        conn.pragma_update(None, "foreign_keys", "ON").map_err(query_err)?;
        conn.execute_batch(&format!("BEGIN;\n{SCHEMA}\n{BULK_IMPORT_SCHEMA}\nCOMMIT;"))
            .map_err(|e| StorageError::Query(format!("cannot create the schema in '{shown}': {e}")))?;
        Ok(SqliteStorage { conn: Arc::new(Mutex::new(conn)), _lock: lock })
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StorageError::Unavailable("SQLite connection poisoned".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("SQLite worker failed: {e}")))?
    }

    /// Runs `work` inside one transaction, committed only when it succeeds.
    async fn in_transaction<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(query_err)?;
            let out = work(&tx).map_err(query_err)?;
            tx.commit().map_err(query_err)?;
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.with_conn(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(query_err)).await
    }

    async fn load_tenant_configs(&self) -> Result<Vec<TenantConfig>, StorageError> {
        self.with_conn(|c| tenants::load_all(c).map_err(query_err)).await
    }

    async fn upsert_tenant_config(&self, config: &TenantConfig) -> Result<bool, StorageError> {
        let config = config.clone();
        self.in_transaction(move |tx| tenants::upsert(tx, &config)).await
    }

    async fn delete_tenant_config(&self, id: &TenantIdentifier) -> Result<bool, StorageError> {
        let id = id.clone();
        self.in_transaction(move |tx| {
            let n = tx.execute(
                "DELETE FROM tenant_configs WHERE connection_uri_domain = ?1 AND app_id = ?2 AND tenant_id = ?3",
                params![id.cud, id.app_id, id.tenant_id],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn add_tenant_rows(&self, app_id: &str, tenant_id: &str, now_ms: i64) -> Result<(), StorageError> {
        let (app_id, tenant_id) = (app_id.to_owned(), tenant_id.to_owned());
        self.in_transaction(move |tx| {
            tx.execute(
                "INSERT INTO apps (app_id, created_at_time) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![app_id, now_ms],
            )?;
            tx.execute(
                "INSERT INTO tenants (app_id, tenant_id, created_at_time) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![app_id, tenant_id, now_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_tenant_rows(&self, app_id: &str, tenant_id: &str) -> Result<bool, StorageError> {
        let (app_id, tenant_id) = (app_id.to_owned(), tenant_id.to_owned());
        self.in_transaction(move |tx| {
            Ok(tx.execute("DELETE FROM tenants WHERE app_id = ?1 AND tenant_id = ?2", params![app_id, tenant_id])? > 0)
        })
        .await
    }

    async fn delete_app_rows(&self, app_id: &str) -> Result<bool, StorageError> {
        let app_id = app_id.to_owned();
        self.in_transaction(move |tx| Ok(tx.execute("DELETE FROM apps WHERE app_id = ?1", params![app_id])? > 0))
            .await
    }

    async fn key_value_get(&self, app_id: &str, tenant_id: &str, name: &str) -> Result<Option<String>, StorageError> {
        let (a, t, n) = (app_id.to_owned(), tenant_id.to_owned(), name.to_owned());
        self.with_conn(move |c| {
            c.query_row(
                "SELECT value FROM key_value WHERE app_id = ?1 AND tenant_id = ?2 AND name = ?3",
                params![a, t, n],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(query_err)
        })
        .await
    }

    async fn lease(&self, name: &str, now_ms: i64, interval_ms: i64) -> Result<bool, StorageError> {
        let name = name.to_owned();
        self.in_transaction(move |tx| {
            let taken: Option<String> = tx
                .query_row(
                    "INSERT INTO key_value (app_id, tenant_id, name, value, created_at_time) VALUES ('public', 'public', ?1, 'lease', ?2)
                     ON CONFLICT (app_id, tenant_id, name) DO UPDATE SET created_at_time = excluded.created_at_time
                     WHERE key_value.created_at_time IS NULL OR key_value.created_at_time <= ?2 - ?3
                     RETURNING name",
                    params![name, now_ms, interval_ms],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(taken.is_some())
        })
        .await
    }

    async fn key_value_set(&self, app_id: &str, tenant_id: &str, name: &str, value: &str, now_ms: i64) -> Result<(), StorageError> {
        let (a, t, n, v) = (app_id.to_owned(), tenant_id.to_owned(), name.to_owned(), value.to_owned());
        self.in_transaction(move |tx| {
            tx.execute(
                "INSERT INTO key_value (app_id, tenant_id, name, value, created_at_time) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (app_id, tenant_id, name) DO UPDATE SET value = excluded.value, created_at_time = excluded.created_at_time",
                params![a, t, n, v, now_ms],
            )?;
            Ok(())
        })
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
        let (a, t, n, v) = (app_id.to_owned(), tenant_id.to_owned(), name.to_owned(), value.to_owned());
        self.in_transaction(move |tx| {
            tx.execute(
                "INSERT INTO key_value (app_id, tenant_id, name, value, created_at_time) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![a, t, n, v, now_ms],
            )?;
            let stored: Option<String> = tx.query_row(
                "SELECT value FROM key_value WHERE app_id = ?1 AND tenant_id = ?2 AND name = ?3",
                params![a, t, n],
                |r| r.get(0),
            )?;
            Ok(stored.unwrap_or_default())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance_in_memory() {
        let s = SqliteStorage::open(":memory:").unwrap();
        portcullis_core::storage::conformance::run_all(&s).await;
        portcullis_core::storage::conformance::run_sessions(&s, &s).await;
        portcullis_core::storage::conformance::run_users(&s, &s).await;
        portcullis_core::storage::conformance::run_dashboard(&s, &s).await;
        portcullis_core::storage::conformance::run_email_verification(&s, &s).await;
        portcullis_core::storage::conformance::run_passwordless(&s, &s).await;
        portcullis_core::storage::conformance::run_totp(&s, &s).await;
        portcullis_core::storage::conformance::run_metadata(&s, &s).await;
        portcullis_core::storage::conformance::run_roles(&s, &s).await;
    }

    #[tokio::test]
    async fn linked_user_groups() {
        let s = SqliteStorage::open(":memory:").unwrap();
        // The account-linking columns as the core writes them (algorithms.md §4.4).
        let link = |app: &'static str, user: &'static str, primary: &'static str| {
            let s = &s;
            async move {
                s.with_conn(move |c| {
                    for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
                        c.execute(
                            &format!(
                                "UPDATE {table} SET is_linked_or_is_a_primary_user = 1,
                                 primary_or_recipe_user_id = CASE WHEN user_id = ?2 THEN ?3 ELSE primary_or_recipe_user_id END
                                 WHERE app_id = ?1 AND user_id IN (?2, ?3)"
                            ),
                            params![app, user, primary],
                        )
                        .map_err(query_err)?;
                    }
                    c.execute(
                        "UPDATE all_auth_recipe_users SET primary_or_recipe_user_time_joined = (SELECT MIN(time_joined)
                         FROM all_auth_recipe_users WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2)
                         WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2",
                        params![app, primary],
                    )
                    .map_err(query_err)?;
                    Ok(())
                })
                .await
                .unwrap()
            }
        };
        portcullis_core::storage::conformance::run_user_groups(&s, &s, link).await;
    }

    #[tokio::test]
    async fn reopening_a_file_keeps_data() {
        let dir = std::env::temp_dir().join(format!("portcullis-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let path = path.to_str().unwrap();
        {
            let s = SqliteStorage::open(path).unwrap();
            s.add_tenant_rows("public", "public", 1).await.unwrap();
            s.key_value_insert_if_absent("public", "public", "k", "v1", 1).await.unwrap();
        }
        let s = SqliteStorage::open(path).unwrap();
        assert_eq!(s.key_value_get("public", "public", "k").await.unwrap().as_deref(), Some("v1"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
