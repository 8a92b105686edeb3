//! Dashboard users and sessions in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::dashboard::storage::{DashboardSession, DashboardStorage, DashboardUser, DashboardUserKey};
use portcullis_core::storage::StorageError;
use rusqlite::{params, OptionalExtension};

use crate::tx::is_unique_violation;
use crate::{query_err, SqliteStorage};

const USER_COLUMNS: &str = "user_id, email, password_hash, time_joined";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DashboardUser> {
    Ok(DashboardUser { user_id: r.get(0)?, email: r.get(1)?, password_hash: r.get(2)?, time_joined: r.get(3)? })
}

#[async_trait]
impl DashboardStorage for SqliteStorage {
    async fn dashboard_user_create(&self, AppKey { app_id }: AppKey<'_>, user: &DashboardUser) -> Result<bool, StorageError> {
        let (app, u) = (app_id.to_owned(), user.clone());
        self.with_conn(move |c| {
            let n = c
                .execute(
                    "INSERT INTO dashboard_users (app_id, user_id, email, password_hash, time_joined) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                    params![app, u.user_id, u.email, u.password_hash, u.time_joined],
                )
                .map_err(query_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn dashboard_user_by_email(&self, AppKey { app_id }: AppKey<'_>, email: &str) -> Result<Option<DashboardUser>, StorageError> {
        let (app, email) = (app_id.to_owned(), email.to_owned());
        self.with_conn(move |c| {
            c.query_row(
                "SELECT user_id, email, password_hash, time_joined FROM dashboard_users WHERE app_id = ?1 AND email = ?2",
                params![app, email],
                |r| Ok(DashboardUser { user_id: r.get(0)?, email: r.get(1)?, password_hash: r.get(2)?, time_joined: r.get(3)? }),
            )
            .optional()
            .map_err(query_err)
        })
        .await
    }

    async fn dashboard_session_create(&self, AppKey { app_id }: AppKey<'_>, session_id: &str, user_id: &str, now: i64, expiry: i64) -> Result<(), StorageError> {
        let (app, session, user) = (app_id.to_owned(), session_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO dashboard_user_sessions (app_id, session_id, user_id, time_created, expiry) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![app, session, user, now, expiry],
            )
            .map(|_| ())
            .map_err(query_err)
        })
        .await
    }

    async fn dashboard_session_email(&self, AppKey { app_id }: AppKey<'_>, session_id: &str, now: i64) -> Result<Option<String>, StorageError> {
        let (app, session) = (app_id.to_owned(), session_id.to_owned());
        self.with_conn(move |c| {
            c.query_row(
                "SELECT u.email FROM dashboard_user_sessions s JOIN dashboard_users u ON u.app_id = s.app_id AND u.user_id = s.user_id
                 WHERE s.app_id = ?1 AND s.session_id = ?2 AND s.expiry > ?3",
                params![app, session, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(query_err)
        })
        .await
    }

    async fn dashboard_session_delete(&self, AppKey { app_id }: AppKey<'_>, session_id: &str) -> Result<bool, StorageError> {
        let (app, session) = (app_id.to_owned(), session_id.to_owned());
        self.with_conn(move |c| {
            c.execute("DELETE FROM dashboard_user_sessions WHERE app_id = ?1 AND session_id = ?2", params![app, session])
                .map(|n| n > 0)
                .map_err(query_err)
        })
        .await
    }

    async fn dashboard_users(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<DashboardUser>, StorageError> {
        let app = app_id.to_owned();
        self.with_conn(move |c| {
            let mut st = c
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM dashboard_users WHERE app_id = ?1 ORDER BY time_joined, user_id"))
                .map_err(query_err)?;
            let rows = st.query_map(params![app], user_row).map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn dashboard_user_find(&self, AppKey { app_id }: AppKey<'_>, key: &DashboardUserKey) -> Result<Option<DashboardUser>, StorageError> {
        let (app, key) = (app_id.to_owned(), key.clone());
        self.with_conn(move |c| {
            let (column, value) = match &key {
                DashboardUserKey::Id(v) => ("user_id", v),
                DashboardUserKey::Email(v) => ("email", v),
            };
            c.query_row(&format!("SELECT {USER_COLUMNS} FROM dashboard_users WHERE app_id = ?1 AND {column} = ?2"), params![app, value], user_row)
                .optional()
                .map_err(query_err)
        })
        .await
    }

    async fn dashboard_user_update(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: Option<&str>, password_hash: Option<&str>) -> Result<bool, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        let (email, hash) = (email.map(str::to_owned), password_hash.map(str::to_owned));
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(query_err)?;
            if let Some(email) = &email {
                match tx.execute("UPDATE dashboard_users SET email = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app, user, email]) {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Ok(false),
                    Err(e) => return Err(query_err(e)),
                }
            }
            if let Some(hash) = &hash {
                tx.execute("UPDATE dashboard_users SET password_hash = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app, user, hash])
                    .map_err(query_err)?;
            }
            tx.commit().map_err(query_err)?;
            Ok(true)
        })
        .await
    }

    async fn dashboard_user_delete(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.in_transaction(move |tx| Ok(tx.execute("DELETE FROM dashboard_users WHERE app_id = ?1 AND user_id = ?2", params![app, user])? > 0))
            .await
    }

    async fn dashboard_sessions_of(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<DashboardSession>, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT session_id, user_id, time_created, expiry FROM dashboard_user_sessions
                     WHERE app_id = ?1 AND user_id = ?2 ORDER BY time_created",
                )
                .map_err(query_err)?;
            let rows = st
                .query_map(params![app, user], |r| {
                    Ok(DashboardSession { session_id: r.get(0)?, user_id: r.get(1)?, time_created: r.get(2)?, expiry: r.get(3)? })
                })
                .map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn dashboard_sessions_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        self.in_transaction(move |tx| Ok(tx.execute("DELETE FROM dashboard_user_sessions WHERE expiry < ?1", params![now])? as u64))
            .await
    }

    async fn active_users_count(&self, AppKey { app_id }: AppKey<'_>, since: i64) -> Result<u64, StorageError> {
        let app = app_id.to_owned();
        self.with_conn(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM user_last_active WHERE app_id = ?1 AND last_active_time >= ?2",
                params![app, since],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(query_err)
        })
        .await
    }
}
