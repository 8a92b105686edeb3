//! Dashboard users and sessions.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::dashboard::storage::{DashboardSession, DashboardStorage, DashboardUser, DashboardUserKey};
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
    users: String,
    user_by_id: String,
    update_email: String,
    update_hash: String,
    delete_user: String,
    sessions_of: String,
    delete_expired: String,
    active_count: String,
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
            users: format!(
                "SELECT user_id, email, password_hash, time_joined FROM {users} WHERE app_id = $1 ORDER BY time_joined, user_id"
            ),
            user_by_id: format!("SELECT user_id, email, password_hash, time_joined FROM {users} WHERE app_id = $1 AND user_id = $2"),
            update_email: format!("UPDATE {users} SET email = $3 WHERE app_id = $1 AND user_id = $2"),
            update_hash: format!("UPDATE {users} SET password_hash = $3 WHERE app_id = $1 AND user_id = $2"),
            delete_user: format!("DELETE FROM {users} WHERE app_id = $1 AND user_id = $2"),
            sessions_of: format!(
                "SELECT session_id, user_id, time_created, expiry FROM {sessions} WHERE app_id = $1 AND user_id = $2 ORDER BY time_created"
            ),
            delete_expired: format!("DELETE FROM {sessions} WHERE expiry < $1"),
            active_count: format!(
                "SELECT COUNT(*) FROM {} WHERE app_id = $1 AND last_active_time >= $2",
                n.table("user_last_active")?
            ),
        })
    }
}

async fn create_user(db: Conn<'_>, sql: &Statements, app: &str, u: &DashboardUser) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.create_user, &[&app, &u.user_id, &u.email, &u.password_hash, &u.time_joined]).await? == 1)
}

fn user_row(r: &tokio_postgres::Row) -> Result<DashboardUser, WorkError> {
    Ok(DashboardUser {
        user_id: r.try_get::<_, String>(0)?.trim_end().to_owned(),
        email: r.try_get(1)?,
        password_hash: r.try_get(2)?,
        time_joined: r.try_get(3)?,
    })
}

async fn user_by_email(db: Conn<'_>, sql: &Statements, app: &str, email: &str) -> Result<Option<DashboardUser>, WorkError> {
    db.query_opt(&sql.user_by_email, &[&app, &email]).await?.map(|r| user_row(&r)).transpose()
}

async fn update_user(db: Conn<'_>, sql: &Statements, (app, user): (&str, &str), email: Option<&str>, hash: Option<&str>) -> Result<bool, WorkError> {
    if let Some(email) = email {
        // A unique violation aborts the transaction: answer at once, the runner rolls back.
        if !crate::users::unique(db.execute(&sql.update_email, &[&app, &user, &email])).await? {
            return Ok(false);
        }
    }
    if let Some(hash) = hash {
        db.execute(&sql.update_hash, &[&app, &user, &hash]).await?;
    }
    Ok(true)
}

#[async_trait]
impl DashboardStorage for PgStorage {
    async fn dashboard_user_create(&self, AppKey { app_id }: AppKey<'_>, user: &DashboardUser) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, user)| Box::pin(create_user(db, &sql.dashboard, app, user))).await
    }

    async fn dashboard_user_by_email(&self, AppKey { app_id }: AppKey<'_>, email: &str) -> Result<Option<DashboardUser>, StorageError> {
        let ctx = (&self.sql, app_id, email);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, email)| Box::pin(user_by_email(db, &sql.dashboard, app, email))).await
    }

    async fn dashboard_session_create(&self, AppKey { app_id }: AppKey<'_>, session_id: &str, user_id: &str, now: i64, expiry: i64) -> Result<(), StorageError> {
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

    async fn dashboard_session_email(&self, AppKey { app_id }: AppKey<'_>, session_id: &str, now: i64) -> Result<Option<String>, StorageError> {
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

    async fn dashboard_session_delete(&self, AppKey { app_id }: AppKey<'_>, session_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, session_id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, session)| {
                Box::pin(async move { Ok(db.execute(&sql.dashboard.delete_session, &[app, session]).await? > 0) })
            })
            .await
    }

    async fn dashboard_users(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<DashboardUser>, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app)| {
                Box::pin(async move { db.query(&sql.dashboard.users, &[app]).await?.iter().map(user_row).collect() })
            })
            .await
    }

    async fn dashboard_user_find(&self, AppKey { app_id }: AppKey<'_>, key: &DashboardUserKey) -> Result<Option<DashboardUser>, StorageError> {
        let ctx = (&self.sql, app_id, key);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, key)| {
                Box::pin(async move {
                    let (statement, value) = match key {
                        DashboardUserKey::Id(v) => (&sql.dashboard.user_by_id, v),
                        DashboardUserKey::Email(v) => (&sql.dashboard.user_by_email, v),
                    };
                    db.query_opt(statement, &[app, value]).await?.map(|r| user_row(&r)).transpose()
                })
            })
            .await
    }

    async fn dashboard_user_update(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: Option<&str>, password_hash: Option<&str>) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, user_id), email, password_hash);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, email, hash)| Box::pin(update_user(db, &sql.dashboard, *key, *email, *hash)))
            .await
    }

    async fn dashboard_user_delete(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, user)| {
                Box::pin(async move { Ok(db.execute(&sql.dashboard.delete_user, &[app, user]).await? > 0) })
            })
            .await
    }

    async fn dashboard_sessions_of(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<DashboardSession>, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, user)| {
                Box::pin(async move {
                    let rows = db.query(&sql.dashboard.sessions_of, &[app, user]).await?;
                    rows.iter()
                        .map(|r| {
                            Ok(DashboardSession {
                                session_id: r.try_get::<_, String>(0)?.trim_end().to_owned(),
                                user_id: r.try_get::<_, String>(1)?.trim_end().to_owned(),
                                time_created: r.try_get(2)?,
                                expiry: r.try_get(3)?,
                            })
                        })
                        .collect()
                })
            })
            .await
    }

    async fn dashboard_sessions_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, now);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, now)| Box::pin(async move { Ok(db.execute(&sql.dashboard.delete_expired, &[now]).await?) }))
            .await
    }

    async fn active_users_count(&self, AppKey { app_id }: AppKey<'_>, since: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app_id, since);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, since)| {
                Box::pin(async move {
                    let row = db.query_opt(&sql.dashboard.active_count, &[app, since]).await?;
                    Ok(row.map(|r| r.try_get::<_, i64>(0)).transpose()?.unwrap_or(0) as u64)
                })
            })
            .await
    }
}
