//! Dashboard users and sessions.

use async_trait::async_trait;
use portcullis_core::storage::dashboard::{DashboardStorage, DashboardUser};
use portcullis_core::storage::StorageError;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::PgStorage;

pub struct Statements {
    create_user: String,
    user_by_email: String,
    create_session: String,
    session_email: String,
    delete_session: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let users = n.table("dashboard_users")?;
        let sessions = n.table("dashboard_user_sessions")?;
        Ok(Statements {
            create_user: format!(
                "INSERT INTO {users} (app_id, user_id, email, password_hash, time_joined) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING"
            ),
            user_by_email: format!(
                "SELECT user_id, email, password_hash, time_joined FROM {users} WHERE app_id = $1 AND email = $2"
            ),
            create_session: format!(
                "INSERT INTO {sessions} (app_id, session_id, user_id, time_created, expiry) VALUES ($1, $2, $3, $4, $5)"
            ),
            session_email: format!(
                "SELECT u.email FROM {sessions} s JOIN {users} u ON u.app_id = s.app_id AND u.user_id = s.user_id \
                 WHERE s.app_id = $1 AND s.session_id = $2 AND s.expiry > $3"
            ),
            delete_session: format!("DELETE FROM {sessions} WHERE app_id = $1 AND session_id = $2"),
        })
    }
}

async fn create_user(db: Conn<'_>, sql: &Statements, app: &str, u: &DashboardUser) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.create_user, &[&app, &u.user_id, &u.email, &u.password_hash, &u.time_joined]).await? == 1)
}

async fn user_by_email(db: Conn<'_>, sql: &Statements, app: &str, email: &str) -> Result<Option<DashboardUser>, WorkError> {
    match db.query_opt(&sql.user_by_email, &[&app, &email]).await? {
        Some(r) => Ok(Some(DashboardUser {
            user_id: r.try_get::<_, String>(0)?.trim_end().to_owned(),
            email: r.try_get(1)?,
            password_hash: r.try_get(2)?,
            time_joined: r.try_get(3)?,
        })),
        None => Ok(None),
    }
}

#[async_trait]
impl DashboardStorage for PgStorage {
    async fn dashboard_user_create(&self, app_id: &str, user: &DashboardUser) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, user)| Box::pin(create_user(db, &sql.dashboard, app, user))).await
    }

    async fn dashboard_user_by_email(&self, app_id: &str, email: &str) -> Result<Option<DashboardUser>, StorageError> {
        let ctx = (&self.sql, app_id, email);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, email)| Box::pin(user_by_email(db, &sql.dashboard, app, email))).await
    }

    async fn dashboard_session_create(&self, app_id: &str, session_id: &str, user_id: &str, now: i64, expiry: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, session_id, user_id), now, expiry);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, (app, session, user), now, expiry)| {
                Box::pin(async move {
                    db.execute(&sql.dashboard.create_session, &[app, session, user, now, expiry]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn dashboard_session_email(&self, app_id: &str, session_id: &str, now: i64) -> Result<Option<String>, StorageError> {
        let ctx = (&self.sql, app_id, session_id, now);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, session, now)| {
                Box::pin(async move {
                    Ok(match db.query_opt(&sql.dashboard.session_email, &[app, session, now]).await? {
                        Some(r) => Some(r.try_get::<_, String>(0)?),
                        None => None,
                    })
                })
            })
            .await
    }

    async fn dashboard_session_delete(&self, app_id: &str, session_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, session_id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, session)| {
                Box::pin(async move { Ok(db.execute(&sql.dashboard.delete_session, &[app, session]).await? > 0) })
            })
            .await
    }
}
