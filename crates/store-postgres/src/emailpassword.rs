//! Email-password updates and password-reset tokens.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::emailpassword::storage::{EmailPasswordStorage, EmailPasswordTx, ResetToken};
use portcullis_core::users::LoginMethod;
use portcullis_core::storage::StorageError;

use crate::db::{Mode, WorkError};
use crate::names::Names;
use crate::users::unique;
use crate::tx::PgTx;
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
        let all = n.table("all_auth_recipe_users")?;
        Ok(Statements {
            lock_user: format!("SELECT 1 FROM {users} WHERE app_id = $1 AND user_id = $2 FOR UPDATE"),
            // The key is (app_id, tenant_id, user_id): name the user's tenants (from the index on
            // all_auth_recipe_users, whose rows these reference) so each row is found by its key,
            // not by reading every row of the app.
            update_tenant_email: format!(
                "UPDATE {to_tenant} SET email = $3 WHERE app_id = $1 AND user_id = $2 \
                 AND tenant_id IN (SELECT tenant_id FROM {all} WHERE app_id = $1 AND user_id = $2)"
            ),
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

#[async_trait]
impl EmailPasswordStorage for PgStorage {
    async fn ep_create_user(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        user_id: &str,
        email: &str,
        password_hash: &str,
        time_joined: i64,
    ) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, user_id), (email, password_hash), time_joined);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, (email, hash), t)| {
                Box::pin(crate::users::ep_create(db, &sql.users, *key, email, hash, *t))
            })
            .await
    }

    async fn ep_login_method_by_email(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, email: &str) -> Result<Option<LoginMethod>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, email));
        self.db.run(Mode::Snapshot, &ctx, |db, (sql, key)| Box::pin(crate::users::ep_by_email(db, &sql.users, *key))).await
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

}

#[async_trait]
impl EmailPasswordTx for PgTx<'_> {
    async fn ep_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let r = self.db.query_opt(&self.sql.emailpassword.lock_user, &[&app_id, &user_id]).await.map(|r| r.is_some()).map_err(WorkError::from);
        self.keep(r)
    }

    async fn ep_set_email(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError> {
        let (db, sql) = (self.db, &self.sql.emailpassword);
        let r = async {
            // A unique violation aborts the transaction; nothing else may run after it (see `unique`).
            if !unique(db.execute(&sql.update_tenant_email, &[&app_id, &user_id, &email])).await? {
                return Ok(false);
            }
            db.execute(&sql.update_email, &[&app_id, &user_id, &email]).await?;
            Ok(true)
        }
        .await;
        self.keep(r)
    }

    async fn ep_set_password_hash(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, hash: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.emailpassword.update_hash, &[&app_id, &user_id, &hash]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn ep_lock_reset_token(&mut self, AppKey { app_id }: AppKey<'_>, hash: &str) -> Result<Option<ResetToken>, StorageError> {
        let (db, sql) = (self.db, &self.sql.emailpassword);
        let r = async {
            Ok(match db.query_opt(&sql.token_for_update, &[&app_id, &hash]).await? {
                Some(row) => Some(ResetToken { user_id: row.try_get::<_, String>(0)?.trim_end().to_owned(), expiry: row.try_get(1)?, email: row.try_get(2)? }),
                None => None,
            })
        }
        .await;
        self.keep(r)
    }

    async fn ep_remove_reset_tokens(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.emailpassword.delete_tokens, &[&app_id, &user_id]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }
}
