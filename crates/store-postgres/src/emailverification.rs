//! Email verification tokens and verified emails.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::emailverification::storage::{EmailVerificationStorage, EmailVerificationTx, Token};
use portcullis_core::storage::StorageError;

use crate::db::{Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::PgStorage;

pub struct Statements {
    insert_token: String,
    token_for_update: String,
    delete_tokens: String,
    mark_verified: String,
    is_verified: String,
    unverify: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let tokens = n.table("emailverification_tokens")?;
        let verified = n.table("emailverification_verified_emails")?;
        Ok(Statements {
            insert_token: format!(
                "INSERT INTO {tokens} (app_id, tenant_id, user_id, email, token, token_expiry) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            token_for_update: format!(
                "SELECT user_id, email, token_expiry FROM {tokens} WHERE app_id = $1 AND tenant_id = $2 AND token = $3 FOR UPDATE"
            ),
            delete_tokens: format!("DELETE FROM {tokens} WHERE app_id = $1 AND tenant_id = $2 AND user_id = $3 AND email = $4"),
            mark_verified: format!("INSERT INTO {verified} (app_id, user_id, email) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"),
            is_verified: format!("SELECT 1 FROM {verified} WHERE app_id = $1 AND user_id = $2 AND email = $3"),
            unverify: format!("DELETE FROM {verified} WHERE app_id = $1 AND user_id = $2 AND email = $3"),
        })
    }
}

#[async_trait]
impl EmailVerificationStorage for PgStorage {
    async fn ev_token_create(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, user_id, email), token_hash, expiry);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, (a, t, u, e), h, x)| {
                Box::pin(async move {
                    db.execute(&sql.emailverification.insert_token, &[a, t, u, e, h, x]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn ev_is_verified(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user_id, email);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, a, u, e)| {
                Box::pin(async move { Ok(db.query_opt(&sql.emailverification.is_verified, &[a, u, e]).await?.is_some()) })
            })
            .await
    }

    async fn ev_mark_verified(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, user_id, email);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, a, u, e)| {
                Box::pin(async move {
                    db.execute(&sql.emailverification.mark_verified, &[a, u, e]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn ev_unverify(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, user_id, email);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, a, u, e)| {
                Box::pin(async move {
                    db.execute(&sql.emailverification.unverify, &[a, u, e]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn ev_revoke_tokens(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, user_id, email);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, a, t, u, e)| {
                Box::pin(async move {
                    db.execute(&sql.emailverification.delete_tokens, &[a, t, u, e]).await?;
                    Ok(())
                })
            })
            .await
    }
}

#[async_trait]
impl EmailVerificationTx for PgTx<'_> {
    async fn ev_lock_token(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<Option<Token>, StorageError> {
        let (db, sql) = (self.db, &self.sql.emailverification);
        let r = async {
            Ok(match db.query_opt(&sql.token_for_update, &[&app_id, &tenant_id, &hash]).await? {
                Some(row) => Some(Token { user_id: row.try_get(0)?, email: row.try_get(1)?, expiry: row.try_get(2)? }),
                None => None,
            })
        }
        .await;
        self.keep(r)
    }

    async fn ev_remove_tokens(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.emailverification.delete_tokens, &[&app_id, &tenant_id, &user_id, &email]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }

    async fn ev_set_verified(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let r = self.db.execute(&self.sql.emailverification.mark_verified, &[&app_id, &user_id, &email]).await.map(drop).map_err(WorkError::from);
        self.keep(r)
    }
}
