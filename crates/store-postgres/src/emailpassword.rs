//! Email-password updates and password-reset tokens.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::emailpassword::storage::{EmailPasswordStorage, ResetOutcome, UpdateOutcome};
use portcullis_core::storage::StorageError;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::users::unique;
use crate::PgStorage;

pub struct Statements {
    lock_user: String,
    update_tenant_email: String,
    update_email: String,
    update_hash: String,
    insert_token: String,
    token_for_update: String,
    delete_tokens: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let users = n.table("emailpassword_users")?;
        let to_tenant = n.table("emailpassword_user_to_tenant")?;
        let tokens = n.table("emailpassword_pswd_reset_tokens")?;
        Ok(Statements {
            lock_user: format!("SELECT 1 FROM {users} WHERE app_id = $1 AND user_id = $2 FOR UPDATE"),
            update_tenant_email: format!("UPDATE {to_tenant} SET email = $3 WHERE app_id = $1 AND user_id = $2"),
            update_email: format!("UPDATE {users} SET email = $3 WHERE app_id = $1 AND user_id = $2"),
            update_hash: format!("UPDATE {users} SET password_hash = $3 WHERE app_id = $1 AND user_id = $2"),
            insert_token: format!(
                "INSERT INTO {tokens} (app_id, user_id, token, token_expiry, email) VALUES ($1, $2, $3, $4, $5)"
            ),
            token_for_update: format!(
                "SELECT user_id, token_expiry, email FROM {tokens} WHERE app_id = $1 AND token = $2 FOR UPDATE"
            ),
            delete_tokens: format!("DELETE FROM {tokens} WHERE app_id = $1 AND user_id = $2"),
        })
    }
}

async fn update(
    db: Conn<'_>,
    sql: &Statements,
    (app, user): (&str, &str),
    email: Option<&str>,
    hash: Option<&str>,
) -> Result<UpdateOutcome, WorkError> {
    if db.query_opt(&sql.lock_user, &[&app, &user]).await?.is_none() {
        return Ok(UpdateOutcome::UnknownUser);
    }
    if let Some(email) = email {
        // A unique violation aborts the transaction; nothing else may run after it (see `unique`).
        if !unique(db.execute(&sql.update_tenant_email, &[&app, &user, &email])).await? {
            return Ok(UpdateOutcome::EmailAlreadyExists);
        }
        db.execute(&sql.update_email, &[&app, &user, &email]).await?;
    }
    if let Some(hash) = hash {
        db.execute(&sql.update_hash, &[&app, &user, &hash]).await?;
    }
    Ok(UpdateOutcome::Updated)
}

async fn consume(db: Conn<'_>, sql: &Statements, app: &str, hash: &str, now: i64) -> Result<ResetOutcome, WorkError> {
    let Some(row) = db.query_opt(&sql.token_for_update, &[&app, &hash]).await? else { return Ok(ResetOutcome::Invalid) };
    let user_id: String = row.try_get::<_, String>(0)?.trim_end().to_owned();
    let expiry: i64 = row.try_get(1)?;
    let email: Option<String> = row.try_get(2)?;
    db.execute(&sql.delete_tokens, &[&app, &user_id]).await?;
    Ok(if expiry < now { ResetOutcome::Invalid } else { ResetOutcome::Valid { user_id, email } })
}

#[async_trait]
impl EmailPasswordStorage for PgStorage {
    async fn ep_update(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: Option<&str>, password_hash: Option<&str>) -> Result<UpdateOutcome, StorageError> {
        let ctx = (&self.sql, (app_id, user_id), email, password_hash);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, email, hash)| {
                Box::pin(async move {
                    if let Some(e) = email {
                        let new = portcullis_core::accountlinking::Info { email: Some(e), ..Default::default() };
                        if crate::accountlinking::change_conflict(db, &sql.accountlinking, &sql.users, *key, new).await?.is_some() {
                            return Ok(UpdateOutcome::EmailChangeNotAllowed);
                        }
                    }
                    update(db, &sql.emailpassword, *key, *email, *hash).await
                })
            })
            .await
    }

    async fn reset_token_create(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, user_id, email), token_hash, expiry);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, (a, u, e), h, x)| {
                Box::pin(async move {
                    db.execute(&sql.emailpassword.insert_token, &[a, u, h, x, e]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn reset_token_consume(&self, AppKey { app_id }: AppKey<'_>, token_hash: &str, now: i64) -> Result<ResetOutcome, StorageError> {
        let ctx = (&self.sql, app_id, token_hash, now);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, hash, now)| Box::pin(consume(db, &sql.emailpassword, app, hash, *now))).await
    }
}
