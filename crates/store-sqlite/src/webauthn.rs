//! WebAuthn in SQLite: the plugin's five `webauthn_*` tables. Each write runs in one IMMEDIATE
//! transaction (which already excludes every other writer); a refusal is decided before anything
//! is written, or rolls the transaction back.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::storage::StorageError;
use portcullis_core::users::RecipeId;
use portcullis_core::webauthn::options::consumed_expires_at;
use portcullis_core::webauthn::storage::{
    AddRecoveryTokenOutcome, CounterUpdate, CredentialWithTenants, FinishSignInOutcome, GeneratedOptions, NewWebauthnUser, OptionsRef,
    RecoveryTokenRow, RegisterCredentialOutcome, SaveOptionsOutcome, SignInConsumption, SignUpOutcome, StoredCredential, WebauthnStorage,
    WebauthnTx,
};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::tx::{is_unique_violation, SqliteTx};
use crate::{query_err, SqliteStorage};

const OPTIONS: &str = "SELECT tenant_id, id, challenge, email, rp_id, rp_name, origin, expires_at, created_at, user_presence_required,
     user_verification FROM webauthn_generated_options";
const CREDENTIALS: &str = "SELECT id, rp_id, user_id, counter, public_key, transports, created_at, updated_at FROM webauthn_credentials";
const TOKENS: &str = "SELECT tenant_id, user_id, email, token, expires_at FROM webauthn_account_recovery_tokens";

fn options_from_row(r: &Row<'_>) -> rusqlite::Result<GeneratedOptions> {
    Ok(GeneratedOptions {
        tenant_id: r.get(0)?,
        id: r.get(1)?,
        challenge: r.get(2)?,
        email: r.get(3)?,
        rp_id: r.get(4)?,
        rp_name: r.get(5)?,
        origin: r.get(6)?,
        expires_at: r.get(7)?,
        created_at: r.get(8)?,
        user_presence_required: r.get(9)?,
        user_verification: r.get(10)?,
    })
}

fn credential_from_row(r: &Row<'_>) -> rusqlite::Result<StoredCredential> {
    Ok(StoredCredential {
        id: r.get(0)?,
        rp_id: r.get(1)?,
        user_id: r.get(2)?,
        counter: r.get(3)?,
        public_key: r.get(4)?,
        transports: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<RecoveryTokenRow> {
    Ok(RecoveryTokenRow { tenant_id: r.get(0)?, user_id: r.get(1)?, email: r.get(2)?, token_hash: r.get(3)?, expires_at: r.get(4)? })
}

fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// Whether unused options exist (used sign-in options have `expires_at < created_at`).
fn unused_options(c: &Connection, app: &str, o: OptionsRef<'_>) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT EXISTS (SELECT 1 FROM webauthn_generated_options WHERE app_id = ?1 AND tenant_id = ?2 AND id = ?3 AND expires_at >= created_at)",
        params![app, o.tenant_id, o.id],
        |r| r.get(0),
    )
}

fn delete_options(c: &Connection, app: &str, o: OptionsRef<'_>) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM webauthn_generated_options WHERE app_id = ?1 AND tenant_id = ?2 AND id = ?3", params![app, o.tenant_id, o.id])
}

/// Whether the app has a credential with this id, whatever its rp id (the plugin's key has the rp id).
fn credential_in_app(c: &Connection, app: &str, id: &str) -> rusqlite::Result<bool> {
    c.query_row("SELECT EXISTS (SELECT 1 FROM webauthn_credentials WHERE app_id = ?1 AND id = ?2)", params![app, id], |r| r.get(0))
}

fn insert_credential(c: &Connection, app: &str, cr: &StoredCredential) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO webauthn_credentials (app_id, id, rp_id, user_id, counter, public_key, transports, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![app, cr.id, cr.rp_id, cr.user_id, cr.counter, cr.public_key, cr.transports, cr.created_at, cr.updated_at],
    )
}

/// Runs `work` in an IMMEDIATE transaction, committed only when it returns `(true, outcome)`.
fn write<T>(conn: &mut Connection, work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<(bool, T)>) -> Result<T, StorageError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(query_err)?;
    let (commit, out) = work(&tx).map_err(query_err)?;
    if commit {
        tx.commit().map_err(query_err)?;
    }
    Ok(out)
}

fn sign_up(tx: &Transaction<'_>, (app, tenant): (&str, &str), o: OptionsRef<'_>, u: &NewWebauthnUser, cr: &StoredCredential) -> rusqlite::Result<(bool, SignUpOutcome)> {
    if !unused_options(tx, app, o)? {
        return Ok((false, SignUpOutcome::OptionsGone));
    }
    if credential_in_app(tx, app, &cr.id)? {
        return Ok((false, SignUpOutcome::CredentialAlreadyExists));
    }
    let taken: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM app_id_to_user_id WHERE app_id = ?1 AND user_id = ?2)", params![app, u.user_id], |r| r.get(0))?;
    if taken {
        return Ok((false, SignUpOutcome::DuplicateUserId));
    }
    let email_taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM webauthn_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3)",
        params![app, tenant, u.email],
        |r| r.get(0),
    )?;
    if email_taken {
        return Ok((false, SignUpOutcome::EmailAlreadyExists));
    }
    let recipe = RecipeId::WebAuthn.as_str();
    tx.execute(
        "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES (?1, ?2, ?3, ?2)",
        params![app, u.user_id, recipe],
    )?;
    tx.execute(
        "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user,
             recipe_id, time_joined, primary_or_recipe_user_time_joined) VALUES (?1, ?2, ?3, ?3, 0, ?4, ?5, ?5)",
        params![app, tenant, u.user_id, recipe, u.time_joined],
    )?;
    tx.execute(
        "INSERT INTO webauthn_users (app_id, user_id, email, rp_id, time_joined) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![app, u.user_id, u.email, u.rp_id, u.time_joined],
    )?;
    tx.execute(
        "INSERT INTO webauthn_user_to_tenant (app_id, tenant_id, user_id, email) VALUES (?1, ?2, ?3, ?4)",
        params![app, tenant, u.user_id, u.email],
    )?;
    insert_credential(tx, app, cr)?;
    delete_options(tx, app, o)?;
    Ok((true, SignUpOutcome::Created))
}

fn register_credential(tx: &Transaction<'_>, app: &str, o: OptionsRef<'_>, cr: &StoredCredential) -> rusqlite::Result<(bool, RegisterCredentialOutcome)> {
    if !unused_options(tx, app, o)? {
        return Ok((false, RegisterCredentialOutcome::OptionsGone));
    }
    let user: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM webauthn_users WHERE app_id = ?1 AND user_id = ?2)", params![app, cr.user_id], |r| r.get(0))?;
    if !user {
        return Ok((false, RegisterCredentialOutcome::UnknownUser));
    }
    if credential_in_app(tx, app, &cr.id)? {
        return Ok((false, RegisterCredentialOutcome::CredentialAlreadyExists));
    }
    insert_credential(tx, app, cr)?;
    delete_options(tx, app, o)?;
    Ok((true, RegisterCredentialOutcome::Registered))
}

fn finish_sign_in(tx: &Transaction<'_>, app: &str, o: OptionsRef<'_>, how: SignInConsumption, c: &CounterUpdate<'_>) -> rusqlite::Result<(bool, FinishSignInOutcome)> {
    let created_at: Option<i64> = tx
        .query_row(
            "SELECT created_at FROM webauthn_generated_options WHERE app_id = ?1 AND tenant_id = ?2 AND id = ?3 AND expires_at >= created_at",
            params![app, o.tenant_id, o.id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(created_at) = created_at else { return Ok((false, FinishSignInOutcome::OptionsGone)) };
    let moved = tx.execute(
        "UPDATE webauthn_credentials SET counter = ?5, updated_at = ?6 WHERE app_id = ?1 AND rp_id = ?2 AND id = ?3 AND counter = ?4",
        params![app, c.rp_id, c.credential_id, c.old_counter, c.new_counter, c.now],
    )?;
    if moved == 0 {
        return Ok((false, FinishSignInOutcome::CounterMoved));
    }
    match how {
        SignInConsumption::Delete => delete_options(tx, app, o)?,
        SignInConsumption::MarkConsumed => tx.execute(
            "UPDATE webauthn_generated_options SET expires_at = ?4 WHERE app_id = ?1 AND tenant_id = ?2 AND id = ?3",
            params![app, o.tenant_id, o.id, consumed_expires_at(created_at)],
        )?,
    };
    Ok((true, FinishSignInOutcome::Done))
}

#[async_trait]
impl WebauthnStorage for SqliteStorage {
    async fn wa_save_options(&self, AppKey { app_id }: AppKey<'_>, o: &GeneratedOptions) -> Result<SaveOptionsOutcome, StorageError> {
        let (app, o) = (app_id.to_owned(), o.clone());
        self.with_conn(move |c| {
            let inserted = c.execute(
                "INSERT INTO webauthn_generated_options (app_id, tenant_id, id, challenge, email, rp_id, rp_name, origin, expires_at,
                     created_at, user_presence_required, user_verification) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    app, o.tenant_id, o.id, o.challenge, o.email, o.rp_id, o.rp_name, o.origin, o.expires_at, o.created_at,
                    o.user_presence_required, o.user_verification
                ],
            );
            match inserted {
                Ok(_) => Ok(SaveOptionsOutcome::Saved),
                Err(e) if is_unique_violation(&e) => Ok(SaveOptionsOutcome::DuplicateId),
                Err(e) if is_foreign_key_violation(&e) => Ok(SaveOptionsOutcome::UnknownTenant),
                Err(e) => Err(query_err(e)),
            }
        })
        .await
    }

    async fn wa_options(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, id: &str) -> Result<Option<GeneratedOptions>, StorageError> {
        let (app, tenant, id) = (app_id.to_owned(), tenant_id.to_owned(), id.to_owned());
        self.with_conn(move |c| {
            c.query_row(&format!("{OPTIONS} WHERE app_id = ?1 AND tenant_id = ?2 AND id = ?3"), params![app, tenant, id], options_from_row)
                .optional()
                .map_err(query_err)
        })
        .await
    }

    async fn wa_options_in_app(&self, AppKey { app_id }: AppKey<'_>, id: &str) -> Result<Option<GeneratedOptions>, StorageError> {
        let (app, id) = (app_id.to_owned(), id.to_owned());
        self.with_conn(move |c| {
            c.query_row(&format!("{OPTIONS} WHERE app_id = ?1 AND id = ?2 ORDER BY tenant_id LIMIT 1"), params![app, id], options_from_row)
                .optional()
                .map_err(query_err)
        })
        .await
    }

    async fn wa_remove_options(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, id: &str) -> Result<bool, StorageError> {
        let (app, tenant, id) = (app_id.to_owned(), tenant_id.to_owned(), id.to_owned());
        self.with_conn(move |c| delete_options(c, &app, OptionsRef { tenant_id: &tenant, id: &id }).map(|n| n > 0).map_err(query_err))
            .await
    }

    async fn wa_sign_up(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        options: OptionsRef<'_>,
        user: &NewWebauthnUser,
        credential: &StoredCredential,
    ) -> Result<SignUpOutcome, StorageError> {
        let (app, tenant, o_tenant, o_id) = (app_id.to_owned(), tenant_id.to_owned(), options.tenant_id.to_owned(), options.id.to_owned());
        let (user, credential) = (user.clone(), credential.clone());
        self.with_conn(move |c| {
            write(c, |tx| sign_up(tx, (&app, &tenant), OptionsRef { tenant_id: &o_tenant, id: &o_id }, &user, &credential))
        })
        .await
    }

    async fn wa_register_credential(
        &self,
        AppKey { app_id }: AppKey<'_>,
        options: OptionsRef<'_>,
        credential: &StoredCredential,
    ) -> Result<RegisterCredentialOutcome, StorageError> {
        let (app, o_tenant, o_id, credential) = (app_id.to_owned(), options.tenant_id.to_owned(), options.id.to_owned(), credential.clone());
        self.with_conn(move |c| write(c, |tx| register_credential(tx, &app, OptionsRef { tenant_id: &o_tenant, id: &o_id }, &credential)))
            .await
    }

    async fn wa_credential_for_sign_in(
        &self,
        AppKey { app_id }: AppKey<'_>,
        rp_id: &str,
        credential_id: &str,
    ) -> Result<Option<CredentialWithTenants>, StorageError> {
        let (app, rp, id) = (app_id.to_owned(), rp_id.to_owned(), credential_id.to_owned());
        self.with_conn(move |c| {
            let read = || -> rusqlite::Result<Option<CredentialWithTenants>> {
                let found = c
                    .query_row(&format!("{CREDENTIALS} WHERE app_id = ?1 AND rp_id = ?2 AND id = ?3"), params![app, rp, id], credential_from_row)
                    .optional()?;
                let Some(credential) = found else { return Ok(None) };
                let mut st = c.prepare_cached("SELECT tenant_id FROM webauthn_user_to_tenant WHERE app_id = ?1 AND user_id = ?2")?;
                let user_tenant_ids = st.query_map(params![app, credential.user_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(Some(CredentialWithTenants { credential, user_tenant_ids }))
            };
            read().map_err(query_err)
        })
        .await
    }

    async fn wa_finish_sign_in(
        &self,
        AppKey { app_id }: AppKey<'_>,
        options: OptionsRef<'_>,
        consumption: SignInConsumption,
        counter: &CounterUpdate<'_>,
    ) -> Result<FinishSignInOutcome, StorageError> {
        let (app, o_tenant, o_id) = (app_id.to_owned(), options.tenant_id.to_owned(), options.id.to_owned());
        let (rp, cred, old, new, now) =
            (counter.rp_id.to_owned(), counter.credential_id.to_owned(), counter.old_counter, counter.new_counter, counter.now);
        self.with_conn(move |c| {
            let counter = CounterUpdate { rp_id: &rp, credential_id: &cred, old_counter: old, new_counter: new, now };
            write(c, |tx| finish_sign_in(tx, &app, OptionsRef { tenant_id: &o_tenant, id: &o_id }, consumption, &counter))
        })
        .await
    }

    async fn wa_credential_of_user(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, credential_id: &str) -> Result<Option<StoredCredential>, StorageError> {
        let (app, user, id) = (app_id.to_owned(), user_id.to_owned(), credential_id.to_owned());
        self.with_conn(move |c| {
            c.query_row(&format!("{CREDENTIALS} WHERE app_id = ?1 AND user_id = ?2 AND id = ?3"), params![app, user, id], credential_from_row)
                .optional()
                .map_err(query_err)
        })
        .await
    }

    async fn wa_credentials_of_user(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<StoredCredential>, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| {
            let read = || -> rusqlite::Result<Vec<StoredCredential>> {
                let mut st = c.prepare_cached(&format!("{CREDENTIALS} WHERE app_id = ?1 AND user_id = ?2 ORDER BY created_at, id"))?;
                let rows = st.query_map(params![app, user], credential_from_row)?;
                rows.collect()
            };
            read().map_err(query_err)
        })
        .await
    }

    async fn wa_remove_credential(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, credential_id: &str) -> Result<bool, StorageError> {
        let (app, user, id) = (app_id.to_owned(), user_id.to_owned(), credential_id.to_owned());
        self.with_conn(move |c| {
            c.execute("DELETE FROM webauthn_credentials WHERE app_id = ?1 AND user_id = ?2 AND id = ?3", params![app, user, id])
                .map(|n| n > 0)
                .map_err(query_err)
        })
        .await
    }

    async fn wa_add_recovery_token(&self, AppKey { app_id }: AppKey<'_>, t: &RecoveryTokenRow) -> Result<AddRecoveryTokenOutcome, StorageError> {
        let (app, t) = (app_id.to_owned(), t.clone());
        self.with_conn(move |c| {
            let inserted = c.execute(
                "INSERT INTO webauthn_account_recovery_tokens (app_id, tenant_id, user_id, email, token, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![app, t.tenant_id, t.user_id, t.email, t.token_hash, t.expires_at],
            );
            match inserted {
                Ok(_) => Ok(AddRecoveryTokenOutcome::Added),
                Err(e) if is_unique_violation(&e) => Ok(AddRecoveryTokenOutcome::Duplicate),
                Err(e) if is_foreign_key_violation(&e) => Ok(AddRecoveryTokenOutcome::UnknownUser),
                Err(e) => Err(query_err(e)),
            }
        })
        .await
    }

    async fn wa_recovery_token(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, token_hash: &str) -> Result<Option<RecoveryTokenRow>, StorageError> {
        let (app, tenant, hash) = (app_id.to_owned(), tenant_id.to_owned(), token_hash.to_owned());
        self.with_conn(move |c| {
            c.query_row(&format!("{TOKENS} WHERE app_id = ?1 AND tenant_id = ?2 AND token = ?3"), params![app, tenant, hash], token_from_row)
                .optional()
                .map_err(query_err)
        })
        .await
    }

    async fn wa_consume_recovery_token(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<RecoveryTokenRow>, StorageError> {
        let (app, tenant, hash) = (app_id.to_owned(), tenant_id.to_owned(), token_hash.to_owned());
        self.with_conn(move |c| {
            write(c, |tx| {
                let claimed = tx
                    .query_row(
                        "DELETE FROM webauthn_account_recovery_tokens WHERE app_id = ?1 AND tenant_id = ?2 AND token = ?3 AND expires_at >= ?4
                         RETURNING tenant_id, user_id, email, token, expires_at",
                        params![app, tenant, hash, now],
                        token_from_row,
                    )
                    .optional()?;
                let Some(token) = claimed else { return Ok((false, None)) };
                tx.execute(
                    "DELETE FROM webauthn_account_recovery_tokens WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3",
                    params![app, tenant, token.email],
                )?;
                Ok((true, Some(token)))
            })
        })
        .await
    }

    async fn wa_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        self.with_conn(move |c| {
            write(c, |tx| {
                let options = tx.execute("DELETE FROM webauthn_generated_options WHERE expires_at < ?1", params![now])?;
                let tokens = tx.execute("DELETE FROM webauthn_account_recovery_tokens WHERE expires_at < ?1", params![now])?;
                Ok((true, (options + tokens) as u64))
            })
        })
        .await
    }
}

#[async_trait]
impl WebauthnTx for SqliteTx<'_> {
    async fn wa_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        self.conn()?
            .query_row("SELECT EXISTS (SELECT 1 FROM webauthn_users WHERE app_id = ?1 AND user_id = ?2)", params![app_id, user_id], |r| r.get(0))
            .map_err(query_err)
    }

    async fn wa_set_email(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError> {
        let r = self.conn()?.execute(
            "UPDATE webauthn_user_to_tenant SET email = ?3 WHERE app_id = ?1 AND user_id = ?2 \
             AND tenant_id IN (SELECT tenant_id FROM all_auth_recipe_users WHERE app_id = ?1 AND user_id = ?2)",
            params![app_id, user_id, email],
        );
        if !self.unique(r)? {
            return Ok(false);
        }
        self.conn()?
            .execute("UPDATE webauthn_users SET email = ?3 WHERE app_id = ?1 AND user_id = ?2", params![app_id, user_id, email])
            .map(drop)
            .map_err(query_err)?;
        Ok(true)
    }
}
