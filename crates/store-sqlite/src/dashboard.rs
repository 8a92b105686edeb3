//! Dashboard users and sessions in SQLite.

use async_trait::async_trait;
use portcullis_core::storage::dashboard::{DashboardStorage, DashboardUser};
use portcullis_core::storage::StorageError;
use rusqlite::{params, OptionalExtension};

use crate::{query_err, SqliteStorage};

#[async_trait]
impl DashboardStorage for SqliteStorage {
    async fn dashboard_user_create(&self, app_id: &str, user: &DashboardUser) -> Result<bool, StorageError> {
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

    async fn dashboard_user_by_email(&self, app_id: &str, email: &str) -> Result<Option<DashboardUser>, StorageError> {
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

    async fn dashboard_session_create(&self, app_id: &str, session_id: &str, user_id: &str, now: i64, expiry: i64) -> Result<(), StorageError> {
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

    async fn dashboard_session_email(&self, app_id: &str, session_id: &str, now: i64) -> Result<Option<String>, StorageError> {
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

    async fn dashboard_session_delete(&self, app_id: &str, session_id: &str) -> Result<bool, StorageError> {
        let (app, session) = (app_id.to_owned(), session_id.to_owned());
        self.with_conn(move |c| {
            c.execute("DELETE FROM dashboard_user_sessions WHERE app_id = ?1 AND session_id = ?2", params![app, session])
                .map(|n| n > 0)
                .map_err(query_err)
        })
        .await
    }
}
