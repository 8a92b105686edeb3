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
mod session;
mod thirdparty;
mod totp;
mod tx;
mod useridmapping;
mod users;
mod webauthn;
mod accountlinking;
mod multitenancy;
mod saml;
mod oauth;
mod ratelimit;
mod file;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis_core::ids::TenantKey;
use portcullis_core::storage::{Storage, StorageError};
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = include_str!("schema.sql");
/// The OAuth2 provider's tables, beside the seed's (not in the seed schema).
const OAUTH_SCHEMA: &str = include_str!("schema_oauth.sql");
/// The bulk-import queue, beside the seed's tables (not in the seed schema).
const BULK_IMPORT_SCHEMA: &str = include_str!("schema_bulkimport.sql");
/// The newer plugin's indexes on the seed's tables (not in the seed schema).
const NEWER_INDEXES: &str = include_str!("schema_newer_indexes.sql");

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
        file::check_tables(&conn, &path, &format!("{SCHEMA}\n{OAUTH_SCHEMA}\n{BULK_IMPORT_SCHEMA}"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(query_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(query_err)?;
        Self::prepare(conn, &path.display().to_string(), lock)
    }

    /// Settings of every connection, then the missing tables.
    fn prepare(conn: Connection, shown: &str, lock: Option<Arc<file::FileLock>>) -> Result<Self, StorageError> {
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(query_err)?;
        // Cascades are how removing an app or tenant removes its data.
        conn.pragma_update(None, "foreign_keys", "ON").map_err(query_err)?;
        conn.execute_batch(&format!("BEGIN;\n{SCHEMA}\n{OAUTH_SCHEMA}\n{BULK_IMPORT_SCHEMA}\n{NEWER_INDEXES}\nCOMMIT;"))
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

    async fn transaction(&self, work: Box<dyn portcullis_core::storage::tx::Work>) -> Result<(), StorageError> {
        self.with_conn(move |c| tx::run(c, work)).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.with_conn(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(query_err)).await
    }

    async fn key_value_get(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, name: &str) -> Result<Option<String>, StorageError> {
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

    async fn key_value_set(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, name: &str, value: &str, now_ms: i64) -> Result<(), StorageError> {
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
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
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
    use portcullis_core::multitenancy::storage::TenantStorage;

    #[tokio::test]
    async fn conformance_in_memory() {
        let s = SqliteStorage::open(":memory:").unwrap();
        portcullis_testkit::conformance::run_all(&s).await;
        portcullis_testkit::conformance::run_sessions(&s, &s).await;
        portcullis_testkit::conformance::run_users(&s).await;
        portcullis_testkit::conformance::run_dashboard(&s, &s).await;
        portcullis_testkit::conformance::run_email_verification(&s).await;
        portcullis_testkit::conformance::run_passwordless(&s).await;
        portcullis_testkit::conformance::run_totp(&s).await;
        portcullis_testkit::conformance::run_metadata(&s).await;
        portcullis_testkit::conformance::run_roles(&s).await;
        portcullis_testkit::conformance::run_saml(&s).await;
        portcullis_testkit::conformance::run_oauth(&s).await;
        portcullis_testkit::conformance::run_webauthn(&s).await;
        portcullis_testkit::conformance::run_rate_limits(&s).await;
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
        portcullis_testkit::conformance::run_user_groups(&s, link).await;
    }

    /// The WebAuthn tables exist with the plugin's columns, and their keys and cascades hold: an
    /// email once per tenant, credentials only for webauthn users, a deleted user takes its
    /// webauthn rows and recovery tokens with it, a deleted tenant its options.
    #[tokio::test]
    async fn webauthn_tables_have_the_plugins_columns_keys_and_cascades() {
        let s = SqliteStorage::open(":memory:").unwrap();
        s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
        s.add_tenant_rows(TenantKey::new("public", "t1"), 1).await.unwrap();
        s.with_conn(|c| {
            let names: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE name LIKE 'webauthn%' ORDER BY name")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(
                names,
                [
                    "webauthn_account_recovery_token_email_index",
                    "webauthn_account_recovery_token_expires_at_index",
                    "webauthn_account_recovery_token_token_index",
                    "webauthn_account_recovery_tokens",
                    "webauthn_credentials",
                    "webauthn_credentials_user_id_index",
                    "webauthn_generated_options",
                    "webauthn_user_challenges_expires_at_index",
                    "webauthn_user_to_tenant",
                    "webauthn_user_to_tenant_email_index",
                    "webauthn_users",
                ]
            );
            let columns = |table: &str| -> Vec<String> {
                c.prepare(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"))
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            };
            assert_eq!(columns("webauthn_users"), ["app_id", "user_id", "email", "rp_id", "time_joined"]);
            assert_eq!(columns("webauthn_user_to_tenant"), ["app_id", "tenant_id", "user_id", "email"]);
            assert_eq!(
                columns("webauthn_generated_options"),
                ["app_id", "tenant_id", "id", "challenge", "email", "rp_id", "rp_name", "origin", "expires_at", "created_at",
                 "user_presence_required", "user_verification"]
            );
            assert_eq!(
                columns("webauthn_credentials"),
                ["id", "app_id", "rp_id", "user_id", "counter", "public_key", "transports", "created_at", "updated_at"]
            );
            assert_eq!(columns("webauthn_account_recovery_tokens"), ["app_id", "tenant_id", "user_id", "email", "token", "expires_at"]);

            let user = |id: &str, email: &str| {
                c.execute_batch(&format!(
                    "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES ('public', '{id}', 'webauthn', '{id}');
                     INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id, time_joined, primary_or_recipe_user_time_joined)
                       VALUES ('public', 'public', '{id}', '{id}', 'webauthn', 1, 1);
                     INSERT INTO webauthn_users (app_id, user_id, email, rp_id, time_joined) VALUES ('public', '{id}', '{email}', 'example.com', 1);
                     INSERT INTO webauthn_user_to_tenant (app_id, tenant_id, user_id, email) VALUES ('public', 'public', '{id}', '{email}');"
                ))
            };
            user("u1", "a@b.com").unwrap();
            let duplicate = user("u2", "a@b.com").unwrap_err().to_string();
            assert!(duplicate.contains("UNIQUE") && duplicate.contains("webauthn_user_to_tenant.email"), "{duplicate}");
            c.execute_batch(
                "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id, time_joined, primary_or_recipe_user_time_joined)
                   VALUES ('public', 't1', 'u1', 'u1', 'webauthn', 1, 1);
                 INSERT INTO webauthn_user_to_tenant (app_id, tenant_id, user_id, email) VALUES ('public', 't1', 'u1', 'a@b.com');
                 INSERT INTO webauthn_credentials (id, app_id, rp_id, user_id, counter, public_key, transports, created_at, updated_at)
                   VALUES ('cred-1', 'public', 'example.com', 'u1', 0, x'0102', 'null', 1, 1);
                 INSERT INTO webauthn_generated_options (app_id, tenant_id, id, challenge, email, rp_id, rp_name, origin, expires_at, created_at)
                   VALUES ('public', 't1', 'options-1', 'c', NULL, 'example.com', 'Example', 'https://example.com', 2, 1);
                 INSERT INTO webauthn_account_recovery_tokens (app_id, tenant_id, user_id, email, token, expires_at)
                   VALUES ('public', 'public', 'u1', 'a@b.com', 'hash', 2);",
            )
            .unwrap();
            // Defaults of the options table.
            let (presence, verification): (bool, String) = c
                .query_row("SELECT user_presence_required, user_verification FROM webauthn_generated_options", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            assert_eq!((presence, verification.as_str()), (false, "preferred"));
            // The same credential id under another rp id is another row; under the same, a clash.
            let credential = |rp: &str| {
                c.execute_batch(&format!(
                    "INSERT INTO webauthn_credentials (id, app_id, rp_id, user_id, counter, public_key, transports, created_at, updated_at)
                       VALUES ('cred-1', 'public', '{rp}', 'u1', 0, x'01', 'null', 1, 1)"
                ))
            };
            assert!(credential("example.com").is_err());
            credential("other.example").unwrap();
            // Keys to rows that do not exist.
            assert!(c
                .execute_batch(
                    "INSERT INTO webauthn_credentials (id, app_id, rp_id, user_id, counter, public_key, transports, created_at, updated_at)
                       VALUES ('cred-2', 'public', 'example.com', 'nobody', 0, x'01', 'null', 1, 1)"
                )
                .is_err());
            assert!(c
                .execute_batch(
                    "INSERT INTO webauthn_generated_options (app_id, tenant_id, id, challenge, rp_id, rp_name, origin, expires_at, created_at)
                       VALUES ('public', 'no-such-tenant', 'o', 'c', 'r', 'n', 'o', 1, 1)"
                )
                .is_err());
            let count = |table: &str| -> i64 { c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap() };
            // Deleting the user removes every webauthn row of it. (u2's batch stopped at its
            // tenant row: u2 remains a webauthn user without a tenant.)
            c.execute_batch("DELETE FROM app_id_to_user_id WHERE user_id = 'u1'").unwrap();
            let of_u1 = |table: &str| -> i64 {
                c.query_row(&format!("SELECT count(*) FROM {table} WHERE user_id = 'u1'"), [], |r| r.get(0)).unwrap()
            };
            for table in ["webauthn_users", "webauthn_user_to_tenant", "webauthn_credentials", "webauthn_account_recovery_tokens"] {
                assert_eq!(of_u1(table), 0, "{table}");
            }
            assert_eq!(count("webauthn_credentials"), 0);
            assert_eq!(count("webauthn_users"), 1);
            assert_eq!(count("webauthn_generated_options"), 1);
            c.execute_batch("DELETE FROM tenants WHERE tenant_id = 't1'").unwrap();
            assert_eq!(count("webauthn_generated_options"), 0);
            Ok(())
        })
        .await
        .unwrap();
    }

    /// The SAML tables (newer plugin tables): created on open, also in a database made before
    /// them, with the plugin's keys, uniqueness, nullable `state` and cascades.
    /// The newer plugin's indexes on the seed's tables (schema_newer_indexes.sql) exist with the
    /// plugin's columns, are added to a file made without them, and serve the app-wide lookups.
    #[tokio::test]
    async fn the_newer_plugins_indexes_exist_and_serve_the_app_wide_lookups() {
        let dir = std::env::temp_dir().join(format!("portcullis-newer-indexes-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let path = path.to_str().unwrap();
        let expected = [
            ("emailpassword_users_email_index", "emailpassword_users", "app_id,email"),
            ("passwordless_users_email_index", "passwordless_users", "app_id,email"),
            ("passwordless_users_phone_number_index", "passwordless_users", "app_id,phone_number"),
            ("session_info_user_id_app_id_index", "session_info", "user_id,app_id"),
            ("user_roles_app_id_user_id_index", "user_roles", "app_id,user_id"),
        ];
        {
            let s = SqliteStorage::open(path).unwrap();
            // As if made by a version without them.
            let drops: String = expected.iter().map(|(i, _, _)| format!("DROP INDEX {i};")).collect();
            s.with_conn(move |c| c.execute_batch(&drops).map_err(query_err)).await.unwrap();
        }
        let s = SqliteStorage::open(path).unwrap();
        let (found, plans) = s
            .with_conn(move |c| {
                let mut found = Vec::new();
                for (index, _, _) in expected {
                    let table: String = c
                        .query_row("SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ?1", [index], |r| r.get(0))
                        .map_err(query_err)?;
                    let mut stmt = c.prepare(&format!("SELECT name FROM pragma_index_info('{index}') ORDER BY seqno")).map_err(query_err)?;
                    let columns: Vec<String> = stmt.query_map([], |r| r.get(0)).map_err(query_err)?.collect::<Result<_, _>>().map_err(query_err)?;
                    found.push((index, table, columns.join(",")));
                }
                let plan = |sql: &str| -> Result<String, StorageError> {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).map_err(query_err)?;
                    let rows: Vec<String> = stmt.query_map([], |r| r.get(3)).map_err(query_err)?.collect::<Result<_, _>>().map_err(query_err)?;
                    Ok(rows.join("; "))
                };
                let plans = vec![
                    plan("SELECT user_id FROM emailpassword_users WHERE app_id = 'public' AND email = 'a@b.c'")?,
                    plan("SELECT user_id FROM passwordless_users WHERE app_id = 'public' AND phone_number = '+1'")?,
                    plan("DELETE FROM user_roles WHERE app_id = 'public' AND user_id = 'u'")?,
                    plan("SELECT 1 FROM session_info WHERE app_id = 'public' AND user_id = 'u'")?,
                ];
                Ok((found, plans))
            })
            .await
            .unwrap();
        let expected: Vec<_> = expected.iter().map(|(i, t, c)| (*i, (*t).to_owned(), (*c).to_owned())).collect();
        assert_eq!(found, expected);
        for (plan, index) in plans.iter().zip([
            "emailpassword_users_email_index",
            "passwordless_users_phone_number_index",
            "user_roles_app_id_user_id_index",
            "session_info_user_id_app_id_index",
        ]) {
            assert!(plan.contains(index), "{plan}");
        }
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_saml_tables_are_created() {
        let dir = std::env::temp_dir().join(format!("portcullis-saml-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let path = path.to_str().unwrap();
        {
            let s = SqliteStorage::open(path).unwrap();
            // As if made by a version without them.
            s.with_conn(move |c| c.execute_batch("DROP TABLE saml_clients; DROP TABLE saml_relay_state; DROP TABLE saml_claims;").map_err(query_err))
                .await
                .unwrap();
        }
        let s = SqliteStorage::open(path).unwrap();
        let (names, indexes) = s
            .with_conn(|c| {
                let list = |kind: &str| -> Result<Vec<String>, StorageError> {
                    let mut stmt = c
                        .prepare("SELECT name FROM sqlite_master WHERE type = ?1 AND name LIKE 'saml%' ORDER BY name")
                        .map_err(query_err)?;
                    let rows = stmt.query_map([kind], |r| r.get(0)).map_err(query_err)?;
                    rows.collect::<Result<Vec<String>, _>>().map_err(query_err)
                };
                Ok((list("table")?, list("index")?))
            })
            .await
            .unwrap();
        assert_eq!(names, ["saml_claims", "saml_clients", "saml_relay_state"]);
        for index in [
            "saml_clients_app_id_tenant_id_index",
            "saml_relay_state_app_id_tenant_id_index",
            "saml_relay_state_expires_at_index",
            "saml_claims_app_id_tenant_id_index",
            "saml_claims_expires_at_index",
        ] {
            assert!(indexes.iter().any(|i| i == index), "{index} in {indexes:?}");
        }

        s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
        s.add_tenant_rows(TenantKey::new("public", "t1"), 1).await.unwrap();
        let insert_client = |tenant: &'static str, id: &'static str, entity: &'static str| {
            s.with_conn(move |c| {
                c.execute(
                    "INSERT INTO saml_clients (app_id, tenant_id, client_id, sso_login_url, redirect_uris, default_redirect_uri,
                     idp_entity_id, idp_signing_certificate, created_at, updated_at) VALUES ('public', ?1, ?2, 'u', '[]', 'd', ?3, 'x', 1, 1)",
                    params![tenant, id, entity],
                )
                .map_err(query_err)
            })
        };
        insert_client("t1", "c1", "https://idp").await.unwrap();
        // The same IdP in another tenant is fine; twice in one tenant is not.
        insert_client("public", "c1", "https://idp").await.unwrap();
        let err = insert_client("t1", "c2", "https://idp").await.unwrap_err().to_string();
        assert!(err.contains("UNIQUE") && err.contains("saml_clients.idp_entity_id"), "{err}");
        s.with_conn(|c| {
            c.execute_batch(
                "INSERT INTO saml_relay_state (app_id, tenant_id, relay_state, client_id, state, redirect_uri, created_at, expires_at)
                 VALUES ('public', 't1', 'r', 'c1', NULL, 'd', 1, 2);
                 INSERT INTO saml_claims (app_id, tenant_id, client_id, code, claims, created_at, expires_at)
                 VALUES ('public', 't1', 'c1', 'k', '{}', 1, 2);",
            )
            .map_err(query_err)
        })
        .await
        .unwrap();
        assert!(s.delete_tenant_rows(TenantKey::new("public", "t1")).await.unwrap());
        let counts = s
            .with_conn(|c| {
                [
                    "SELECT count(*) FROM saml_clients WHERE tenant_id = 't1'",
                    "SELECT count(*) FROM saml_relay_state WHERE tenant_id = 't1'",
                    "SELECT count(*) FROM saml_claims WHERE tenant_id = 't1'",
                ]
                .iter()
                .map(|sql| c.query_row(sql, [], |r| r.get::<_, i64>(0)).map_err(query_err))
                .collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap();
        assert_eq!(counts, [0, 0, 0], "a tenant's SAML rows go with it");
        drop(s);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn reopening_a_file_keeps_data() {
        let dir = std::env::temp_dir().join(format!("portcullis-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let path = path.to_str().unwrap();
        {
            let s = SqliteStorage::open(path).unwrap();
            s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
            s.key_value_insert_if_absent(TenantKey::new("public", "public"), "k", "v1", 1).await.unwrap();
        }
        let s = SqliteStorage::open(path).unwrap();
        assert_eq!(s.key_value_get(TenantKey::new("public", "public"), "k").await.unwrap().as_deref(), Some("v1"));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// The OAuth tables exist beside the seed's, with the columns, keys and indexes of the PostgreSQL
    /// template, and their cascades work (foreign keys are on for every connection).
    #[tokio::test]
    async fn oauth_tables_are_created_with_their_keys() {
        let s = SqliteStorage::open(":memory:").unwrap();
        let expected: [(&str, &[&str]); 8] = [
            ("oauth_clients", &["app_id", "client_id", "client_secret", "enable_refresh_token_rotation", "is_client_credentials_only"]),
            (
                "oauth_sessions",
                &["gid", "app_id", "client_id", "session_handle", "external_refresh_token", "internal_refresh_token", "jti", "exp"],
            ),
            ("oauth_m2m_tokens", &["app_id", "client_id", "iat", "exp"]),
            (
                "oauth_logout_challenges",
                &["app_id", "challenge", "client_id", "post_logout_redirect_uri", "session_handle", "state", "time_created"],
            ),
            ("oauth_client_configs", &["app_id", "client_id", "client_name", "config", "created_at", "updated_at"]),
            (
                "oauth_flows",
                &[
                    "app_id", "login_challenge", "client_id", "request", "requested_at", "login_csrf", "login_verifier_hash",
                    "login_outcome", "login_verifier_used", "consent_challenge", "consent_csrf", "consent_skip",
                    "consent_verifier_hash", "consent_outcome", "consent_verifier_used", "gid", "code_hash", "code_expires_at",
                    "code_used", "expires_at",
                ],
            ),
            (
                "oauth_grants",
                &["gid", "app_id", "subject", "granted_scope", "granted_audience", "access_token_ext", "id_token_claims", "created_at"],
            ),
            ("oauth_consents", &["app_id", "client_id", "subject", "granted_scope", "granted_audience", "remember_until", "time_created"]),
        ];
        let (columns, indexes) = s
            .with_conn(move |c| {
                let mut columns = Vec::new();
                for (table, _) in expected {
                    let mut stmt = c.prepare(&format!("PRAGMA table_info({table})")).map_err(query_err)?;
                    let names: Vec<String> =
                        stmt.query_map([], |r| r.get::<_, String>(1)).map_err(query_err)?.collect::<Result<_, _>>().map_err(query_err)?;
                    columns.push(names);
                }
                let mut stmt = c
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'oauth%' AND sql IS NOT NULL")
                    .map_err(query_err)?;
                let indexes: Vec<String> =
                    stmt.query_map([], |r| r.get(0)).map_err(query_err)?.collect::<Result<_, _>>().map_err(query_err)?;
                Ok((columns, indexes))
            })
            .await
            .unwrap();
        for ((table, want), got) in expected.iter().zip(&columns) {
            assert_eq!(got, want, "columns of {table}");
        }
        let mut indexes = indexes;
        indexes.sort();
        assert_eq!(
            indexes,
            [
                "oauth_client_configs_client_name_index",
                "oauth_consents_remember_until_index",
                "oauth_flows_expires_at_index",
                "oauth_logout_challenges_time_created_index",
                "oauth_m2m_token_exp_index",
                "oauth_m2m_token_iat_index",
                "oauth_session_client_id_index",
                "oauth_session_exp_index",
                "oauth_session_external_refresh_token_index",
                "oauth_session_session_handle_index",
            ]
        );

        s.add_tenant_rows(TenantKey::new("oa", "public"), 1).await.unwrap();
        let counts = s
            .with_conn(|c| {
                c.execute_batch(
                    "INSERT INTO oauth_clients VALUES ('oa', 'c1', NULL, 0, 0);
                     INSERT INTO oauth_client_configs VALUES ('oa', 'c1', 'n', '{}', 1, 1);
                     INSERT INTO oauth_sessions (gid, app_id, client_id, jti, exp) VALUES ('g1', 'oa', 'c1', 'j1,', 9);
                     INSERT INTO oauth_sessions (gid, app_id, client_id, jti, exp) VALUES ('g2', 'oa', 'c1', 'j2,', 9);
                     INSERT INTO oauth_grants VALUES ('g1', 'oa', 's', 'openid', '[]', '{}', '{}', 1);
                     INSERT INTO oauth_grants VALUES ('g2', 'oa', 's', 'openid', '[]', '{}', '{}', 1);
                     INSERT INTO oauth_m2m_tokens VALUES ('oa', 'c1', 1, 2);
                     INSERT INTO oauth_logout_challenges VALUES ('oa', 'ch', 'c1', NULL, 'sh', NULL, 1);
                     INSERT INTO oauth_flows (app_id, login_challenge, client_id, request, requested_at, login_csrf, expires_at)
                         VALUES ('oa', 'lc', 'c1', '{}', 1, 'x', 2);
                     INSERT INTO oauth_consents VALUES ('oa', 'c1', 's', 'openid', '[]', NULL, 1);
                     DELETE FROM oauth_sessions WHERE gid = 'g1';",
                )
                .map_err(query_err)?;
                let count = |t: &str| c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0)).map_err(query_err);
                // A session row needs its client.
                let orphan = c.execute("INSERT INTO oauth_sessions (gid, app_id, client_id, jti, exp) VALUES ('g3', 'oa', 'nope', '', 1)", []);
                Ok((count("oauth_grants")?, orphan.is_err()))
            })
            .await
            .unwrap();
        assert_eq!(counts, (1, true), "grant data goes with its grant; foreign keys are enforced");
        s.delete_app_rows(portcullis_core::ids::AppKey::new("oa")).await.unwrap();
        let left = s
            .with_conn(|c| {
                let mut total = 0;
                for t in ["oauth_clients", "oauth_client_configs", "oauth_sessions", "oauth_grants", "oauth_m2m_tokens", "oauth_logout_challenges", "oauth_flows", "oauth_consents"] {
                    total += c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get::<_, i64>(0)).map_err(query_err)?;
                }
                Ok(total)
            })
            .await
            .unwrap();
        assert_eq!(left, 0, "deleting the app removes every OAuth row");
    }
}
