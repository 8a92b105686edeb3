//! Email verification in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::emailverification::storage::{EmailVerificationStorage, EmailVerificationTx, Token};
use portcullis_core::storage::StorageError;
use rusqlite::{params, OptionalExtension};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

fn owned(s: &str) -> String {
    s.to_owned()
}

#[async_trait]
impl EmailVerificationStorage for SqliteStorage {
    async fn ev_token_create(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError> {
        let (a, t, u, e, h) = (owned(app_id), owned(tenant_id), owned(user_id), owned(email), owned(token_hash));
        self.in_transaction(move |tx| {
            tx.execute(
                "INSERT INTO emailverification_tokens (app_id, tenant_id, user_id, email, token, token_expiry) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a, t, u, e, h, expiry],
            )?;
            Ok(())
        })
        .await
    }

    async fn ev_is_verified(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError> {
        let (a, u, e) = (owned(app_id), owned(user_id), owned(email));
        self.in_transaction(move |tx| {
            tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM emailverification_verified_emails WHERE app_id = ?1 AND user_id = ?2 AND email = ?3)",
                params![a, u, e],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn ev_mark_verified(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let (a, u, e) = (owned(app_id), owned(user_id), owned(email));
        self.in_transaction(move |tx| {
            tx.execute(
                "INSERT INTO emailverification_verified_emails (app_id, user_id, email) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![a, u, e],
            )?;
            Ok(())
        })
        .await
    }

    async fn ev_unverify(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let (a, u, e) = (owned(app_id), owned(user_id), owned(email));
        self.in_transaction(move |tx| {
            tx.execute("DELETE FROM emailverification_verified_emails WHERE app_id = ?1 AND user_id = ?2 AND email = ?3", params![a, u, e])?;
            Ok(())
        })
        .await
    }

    async fn ev_revoke_tokens(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        let (a, t, u, e) = (owned(app_id), owned(tenant_id), owned(user_id), owned(email));
        self.in_transaction(move |tx| {
            tx.execute(
                "DELETE FROM emailverification_tokens WHERE app_id = ?1 AND tenant_id = ?2 AND user_id = ?3 AND email = ?4",
                params![a, t, u, e],
            )?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl EmailVerificationTx for SqliteTx<'_> {
    async fn ev_lock_token(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, hash: &str) -> Result<Option<Token>, StorageError> {
        self.conn()?
            .query_row(
                "SELECT user_id, email, token_expiry FROM emailverification_tokens WHERE app_id = ?1 AND tenant_id = ?2 AND token = ?3",
                params![app_id, tenant_id, hash],
                |r| Ok(Token { user_id: r.get(0)?, email: r.get(1)?, expiry: r.get(2)? }),
            )
            .optional()
            .map_err(query_err)
    }

    async fn ev_remove_tokens(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "DELETE FROM emailverification_tokens WHERE app_id = ?1 AND tenant_id = ?2 AND user_id = ?3 AND email = ?4",
                params![app_id, tenant_id, user_id, email],
            )
            .map(drop)
            .map_err(query_err)
    }

    async fn ev_set_verified(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute(
                "INSERT INTO emailverification_verified_emails (app_id, user_id, email) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![app_id, user_id, email],
            )
            .map(drop)
            .map_err(query_err)
    }
}
