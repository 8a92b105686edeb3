//! Email-password updates and password-reset tokens in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::emailpassword::storage::{EmailPasswordStorage, EmailPasswordTx, ResetToken};
use portcullis_core::users::LoginMethod;
use portcullis_core::storage::StorageError;
use rusqlite::{params, OptionalExtension};

use crate::tx::is_unique_violation;
use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

#[async_trait]
impl EmailPasswordStorage for SqliteStorage {
    async fn ep_create_user(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        user_id: &str,
        email: &str,
        password_hash: &str,
        time_joined: i64,
    ) -> Result<bool, StorageError> {
        let (app, tenant, user, email, hash) =
            (app_id.to_owned(), tenant_id.to_owned(), user_id.to_owned(), email.to_owned(), password_hash.to_owned());
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(query_err)?;
            let write = || -> Result<(), rusqlite::Error> {
                tx.execute(
                    "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES (?1, ?2, 'emailpassword', ?2)",
                    params![app, user],
                )?;
                tx.execute(
                    "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id,
                         time_joined, primary_or_recipe_user_time_joined)
                     VALUES (?1, ?2, ?3, ?3, 'emailpassword', ?4, ?4)",
                    params![app, tenant, user, time_joined],
                )?;
                tx.execute(
                    "INSERT INTO emailpassword_users (app_id, user_id, email, password_hash, time_joined) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![app, user, email, hash, time_joined],
                )?;
                tx.execute(
                    "INSERT INTO emailpassword_user_to_tenant (app_id, tenant_id, user_id, email) VALUES (?1, ?2, ?3, ?4)",
                    params![app, tenant, user, email],
                )?;
                Ok(())
            };
            match write() {
                Ok(()) => {
                    tx.commit().map_err(query_err)?;
                    Ok(true)
                }
                // Dropping the transaction rolls back whatever was written.
                Err(e) if is_unique_violation(&e) => Ok(false),
                Err(e) => Err(query_err(e)),
            }
        })
        .await
    }

    async fn ep_login_method_by_email(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, email: &str) -> Result<Option<LoginMethod>, StorageError> {
        let (app, tenant, email) = (app_id.to_owned(), tenant_id.to_owned(), email.to_owned());
        self.with_conn(move |c| {
            let user: Option<String> = c
                .query_row(
                    "SELECT user_id FROM emailpassword_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3",
                    params![app, tenant, email],
                    |r| r.get(0),
                )
                .optional()
                .map_err(query_err)?;
            match user {
                Some(u) => crate::users::login_method(c, &app, &u).map_err(query_err),
                None => Ok(None),
            }
        })
        .await
    }

    async fn reset_token_create(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError> {
        let (a, u, e, h) = (app_id.to_owned(), user_id.to_owned(), email.to_owned(), token_hash.to_owned());
        self.in_transaction(move |tx| {
            tx.execute(
                "INSERT INTO emailpassword_pswd_reset_tokens (app_id, user_id, token, token_expiry, email) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a, u, h, expiry, e],
            )?;
            Ok(())
        })
        .await
    }

}

#[async_trait]
impl EmailPasswordTx for SqliteTx<'_> {
    async fn ep_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        // The IMMEDIATE transaction already excludes every other writer.
        self.conn()?
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM emailpassword_users WHERE app_id = ?1 AND user_id = ?2)",
                params![app_id, user_id],
                |r| r.get(0),
            )
            .map_err(query_err)
    }

    async fn ep_set_email(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError> {
        let c = self.conn()?;
        let changed = c
            .execute(
                "UPDATE emailpassword_user_to_tenant SET email = ?3 WHERE app_id = ?1 AND user_id = ?2 \
                 AND tenant_id IN (SELECT tenant_id FROM all_auth_recipe_users WHERE app_id = ?1 AND user_id = ?2)",
                params![app_id, user_id, email],
            )
            .and_then(|_| c.execute("UPDATE emailpassword_users SET email = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app_id, user_id, email]));
        self.unique(changed)
    }

    async fn ep_set_password_hash(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, hash: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("UPDATE emailpassword_users SET password_hash = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app_id, user_id, hash])
            .map(drop)
            .map_err(query_err)
    }

    async fn ep_lock_reset_token(&mut self, AppKey { app_id }: AppKey<'_>, hash: &str) -> Result<Option<ResetToken>, StorageError> {
        self.conn()?
            .query_row(
                "SELECT user_id, token_expiry, email FROM emailpassword_pswd_reset_tokens WHERE app_id = ?1 AND token = ?2",
                params![app_id, hash],
                |r| Ok(ResetToken { user_id: r.get(0)?, expiry: r.get(1)?, email: r.get(2)? }),
            )
            .optional()
            .map_err(query_err)
    }

    async fn ep_remove_reset_tokens(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM emailpassword_pswd_reset_tokens WHERE app_id = ?1 AND user_id = ?2", params![app_id, user_id])
            .map(drop)
            .map_err(query_err)
    }
}
