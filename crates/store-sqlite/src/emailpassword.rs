//! Email-password updates and password-reset tokens in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::emailpassword::storage::{EmailPasswordStorage, ResetOutcome, UpdateOutcome};
use portcullis_core::storage::StorageError;
use rusqlite::{params, OptionalExtension};

use crate::users::is_unique_violation;
use crate::{query_err, SqliteStorage};

#[async_trait]
impl EmailPasswordStorage for SqliteStorage {
    async fn ep_update(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: Option<&str>, password_hash: Option<&str>) -> Result<UpdateOutcome, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        let (email, hash) = (email.map(str::to_owned), password_hash.map(str::to_owned));
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(query_err)?;
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM emailpassword_users WHERE app_id = ?1 AND user_id = ?2)",
                    params![app, user],
                    |r| r.get(0),
                )
                .map_err(query_err)?;
            if !exists {
                return Ok(UpdateOutcome::UnknownUser);
            }
            if let Some(e) = email.as_deref() {
                let new = portcullis_core::accountlinking::Info { email: Some(e), ..Default::default() };
                if crate::accountlinking::change_conflict(&tx, &app, &user, new).map_err(query_err)?.is_some() {
                    return Ok(UpdateOutcome::EmailChangeNotAllowed);
                }
            }
            if let Some(email) = &email {
                let changed = tx
                    .execute("UPDATE emailpassword_user_to_tenant SET email = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app, user, email])
                    .and_then(|_| tx.execute("UPDATE emailpassword_users SET email = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app, user, email]));
                match changed {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => return Ok(UpdateOutcome::EmailAlreadyExists),
                    Err(e) => return Err(query_err(e)),
                }
            }
            if let Some(hash) = &hash {
                tx.execute("UPDATE emailpassword_users SET password_hash = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app, user, hash])
                    .map_err(query_err)?;
            }
            tx.commit().map_err(query_err)?;
            Ok(UpdateOutcome::Updated)
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

    async fn reset_token_consume(&self, AppKey { app_id }: AppKey<'_>, token_hash: &str, now: i64) -> Result<ResetOutcome, StorageError> {
        let (a, h) = (app_id.to_owned(), token_hash.to_owned());
        self.in_transaction(move |tx| {
            let row: Option<(String, i64, Option<String>)> = tx
                .query_row(
                    "SELECT user_id, token_expiry, email FROM emailpassword_pswd_reset_tokens WHERE app_id = ?1 AND token = ?2",
                    params![a, h],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((user_id, expiry, email)) = row else { return Ok(ResetOutcome::Invalid) };
            tx.execute("DELETE FROM emailpassword_pswd_reset_tokens WHERE app_id = ?1 AND user_id = ?2", params![a, user_id])?;
            Ok(if expiry < now { ResetOutcome::Invalid } else { ResetOutcome::Valid { user_id, email } })
        })
        .await
    }
}
