//! WebAuthn: options, users, credentials and recovery tokens in the plugin's five `webauthn_*`
//! tables. A ceremony's write first locks its options row (`FOR UPDATE`, unused ones only), so of
//! two concurrent uses one writes and the other finds them gone; every refusal is decided before
//! anything is written, or by a constraint that aborts the transaction.

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
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::users::unique;
use crate::PgStorage;

const OPTION_COLUMNS: &str =
    "tenant_id, id, challenge, email, rp_id, rp_name, origin, expires_at, created_at, user_presence_required, user_verification";
const CREDENTIAL_COLUMNS: &str = "id, rp_id, user_id, counter, public_key, transports, created_at, updated_at";

pub struct Statements {
    insert_options: String,
    options: String,
    options_in_app: String,
    delete_options: String,
    lock_unused_options: String,
    mark_options_consumed: String,
    credential_in_app: String,
    insert_credential: String,
    credential_for_sign_in: String,
    move_counter: String,
    credential_of_user: String,
    credentials_of_user: String,
    delete_credential: String,
    user_exists: String,
    insert_app_user: String,
    insert_all_auth: String,
    insert_user: String,
    insert_user_tenant: String,
    lock_user: String,
    update_user_email: String,
    update_tenant_email: String,
    insert_token: String,
    token: String,
    claim_token: String,
    delete_email_tokens: String,
    delete_expired_options: String,
    delete_expired_tokens: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let options = n.table("webauthn_generated_options")?;
        let credentials = n.table("webauthn_credentials")?;
        let users = n.table("webauthn_users")?;
        let to_tenant = n.table("webauthn_user_to_tenant")?;
        let tokens = n.table("webauthn_account_recovery_tokens")?;
        let by_id = "app_id = $1 AND tenant_id = $2 AND id = $3";
        Ok(Statements {
            insert_options: format!(
                "INSERT INTO {options} (app_id, {OPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            options: format!("SELECT {OPTION_COLUMNS} FROM {options} WHERE {by_id}"),
            options_in_app: format!("SELECT {OPTION_COLUMNS} FROM {options} WHERE app_id = $1 AND id = $2 ORDER BY tenant_id LIMIT 1"),
            delete_options: format!("DELETE FROM {options} WHERE {by_id}"),
            // Sign-in options used at CDI ≤ 5.4 stay, marked by expires_at < created_at.
            lock_unused_options: format!("SELECT 1 FROM {options} WHERE {by_id} AND expires_at >= created_at FOR UPDATE"),
            mark_options_consumed: format!("UPDATE {options} SET expires_at = $4 WHERE {by_id}"),
            credential_in_app: format!("SELECT 1 FROM {credentials} WHERE app_id = $1 AND id = $2"),
            insert_credential: format!("INSERT INTO {credentials} (app_id, {CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
            credential_for_sign_in: format!(
                "SELECT {CREDENTIAL_COLUMNS}, ARRAY(SELECT t.tenant_id FROM {to_tenant} t WHERE t.app_id = c.app_id AND t.user_id = c.user_id) \
                 FROM {credentials} c WHERE app_id = $1 AND rp_id = $2 AND id = $3"
            ),
            move_counter: format!(
                "UPDATE {credentials} SET counter = $5, updated_at = $6 WHERE app_id = $1 AND rp_id = $2 AND id = $3 AND counter = $4"
            ),
            credential_of_user: format!("SELECT {CREDENTIAL_COLUMNS} FROM {credentials} WHERE app_id = $1 AND user_id = $2 AND id = $3"),
            credentials_of_user: format!(
                "SELECT {CREDENTIAL_COLUMNS} FROM {credentials} WHERE app_id = $1 AND user_id = $2 ORDER BY created_at, id"
            ),
            delete_credential: format!("DELETE FROM {credentials} WHERE app_id = $1 AND user_id = $2 AND id = $3"),
            user_exists: format!("SELECT 1 FROM {users} WHERE app_id = $1 AND user_id = $2"),
            insert_app_user: format!(
                "INSERT INTO {} (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES ($1, $2, $3, $2)",
                n.table("app_id_to_user_id")?
            ),
            insert_all_auth: format!(
                "INSERT INTO {} (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, \
                 recipe_id, time_joined, primary_or_recipe_user_time_joined) VALUES ($1, $2, $3, $3, FALSE, $4, $5, $5)",
                n.table("all_auth_recipe_users")?
            ),
            insert_user: format!("INSERT INTO {users} (app_id, user_id, email, rp_id, time_joined) VALUES ($1, $2, $3, $4, $5)"),
            insert_user_tenant: format!("INSERT INTO {to_tenant} (app_id, tenant_id, user_id, email) VALUES ($1, $2, $3, $4)"),
            lock_user: format!("SELECT 1 FROM {users} WHERE app_id = $1 AND user_id = $2 FOR UPDATE"),
            update_user_email: format!("UPDATE {users} SET email = $3 WHERE app_id = $1 AND user_id = $2"),
            // By key, with the user's tenants from all_auth_recipe_users (see emailpassword.rs).
            update_tenant_email: format!(
                "UPDATE {to_tenant} SET email = $3 WHERE app_id = $1 AND user_id = $2 \
                 AND tenant_id IN (SELECT tenant_id FROM {} WHERE app_id = $1 AND user_id = $2)",
                n.table("all_auth_recipe_users")?
            ),
            insert_token: format!(
                "INSERT INTO {tokens} (app_id, tenant_id, user_id, email, token, expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
            ),
            token: format!(
                "SELECT tenant_id, user_id, email, token, expires_at FROM {tokens} WHERE app_id = $1 AND tenant_id = $2 AND token = $3"
            ),
            // The claim is the one guarded statement: a token is used once however many try at once.
            claim_token: format!(
                "DELETE FROM {tokens} WHERE app_id = $1 AND tenant_id = $2 AND token = $3 AND expires_at >= $4 \
                 RETURNING tenant_id, user_id, email, token, expires_at"
            ),
            delete_email_tokens: format!("DELETE FROM {tokens} WHERE app_id = $1 AND tenant_id = $2 AND email = $3"),
            delete_expired_options: format!("DELETE FROM {options} WHERE expires_at < $1"),
            delete_expired_tokens: format!("DELETE FROM {tokens} WHERE expires_at < $1"),
        })
    }
}

fn id(r: &Row, i: usize) -> Result<String, WorkError> {
    Ok(r.try_get::<_, String>(i)?.trim_end().to_owned())
}

fn options_from_row(r: &Row) -> Result<GeneratedOptions, WorkError> {
    Ok(GeneratedOptions {
        tenant_id: r.try_get(0)?,
        id: id(r, 1)?,
        challenge: r.try_get(2)?,
        email: r.try_get(3)?,
        rp_id: r.try_get(4)?,
        rp_name: r.try_get(5)?,
        origin: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        created_at: r.try_get(8)?,
        user_presence_required: r.try_get(9)?,
        user_verification: r.try_get(10)?,
    })
}

fn credential_from_row(r: &Row) -> Result<StoredCredential, WorkError> {
    Ok(StoredCredential {
        id: r.try_get(0)?,
        rp_id: r.try_get(1)?,
        user_id: id(r, 2)?,
        counter: r.try_get(3)?,
        public_key: r.try_get(4)?,
        transports: r.try_get(5)?,
        created_at: r.try_get(6)?,
        updated_at: r.try_get(7)?,
    })
}

fn token_from_row(r: &Row) -> Result<RecoveryTokenRow, WorkError> {
    Ok(RecoveryTokenRow {
        tenant_id: r.try_get(0)?,
        user_id: id(r, 1)?,
        email: r.try_get(2)?,
        token_hash: r.try_get(3)?,
        expires_at: r.try_get(4)?,
    })
}

fn sql_state(e: &WorkError) -> Option<&SqlState> {
    match e {
        WorkError::Pg(pg) => pg.code(),
        WorkError::Invalid(_) => None,
    }
}

async fn insert_credential(db: Conn<'_>, sql: &Statements, app: &str, c: &StoredCredential) -> Result<bool, WorkError> {
    let params: [&(dyn ToSql + Sync); 9] =
        [&app, &c.id, &c.rp_id, &c.user_id, &c.counter, &c.public_key, &c.transports, &c.created_at, &c.updated_at];
    unique(db.execute(&sql.insert_credential, &params)).await
}

async fn lock_unused_options(db: Conn<'_>, sql: &Statements, app: &str, o: OptionsRef<'_>) -> Result<bool, WorkError> {
    Ok(db.query_opt(&sql.lock_unused_options, &[&app, &o.tenant_id, &o.id]).await?.is_some())
}

async fn credential_in_app(db: Conn<'_>, sql: &Statements, app: &str, id: &str) -> Result<bool, WorkError> {
    Ok(db.query_opt(&sql.credential_in_app, &[&app, &id]).await?.is_some())
}

async fn sign_up(
    db: Conn<'_>,
    sql: &Statements,
    (app, tenant): (&str, &str),
    o: OptionsRef<'_>,
    u: &NewWebauthnUser,
    c: &StoredCredential,
) -> Result<SignUpOutcome, WorkError> {
    if !lock_unused_options(db, sql, app, o).await? {
        return Ok(SignUpOutcome::OptionsGone);
    }
    // The plugin's key is (app, rp id, id): an id registered for another rp id is a clash too.
    if credential_in_app(db, sql, app, &c.id).await? {
        return Ok(SignUpOutcome::CredentialAlreadyExists);
    }
    let recipe = RecipeId::WebAuthn.as_str();
    if !unique(db.execute(&sql.insert_app_user, &[&app, &u.user_id, &recipe])).await? {
        return Ok(SignUpOutcome::DuplicateUserId);
    }
    db.execute(&sql.insert_all_auth, &[&app, &tenant, &u.user_id, &recipe, &u.time_joined]).await?;
    db.execute(&sql.insert_user, &[&app, &u.user_id, &u.email, &u.rp_id, &u.time_joined]).await?;
    if !unique(db.execute(&sql.insert_user_tenant, &[&app, &tenant, &u.user_id, &u.email])).await? {
        return Ok(SignUpOutcome::EmailAlreadyExists);
    }
    if !insert_credential(db, sql, app, c).await? {
        return Ok(SignUpOutcome::CredentialAlreadyExists);
    }
    db.execute(&sql.delete_options, &[&app, &o.tenant_id, &o.id]).await?;
    Ok(SignUpOutcome::Created)
}

async fn register_credential(db: Conn<'_>, sql: &Statements, app: &str, o: OptionsRef<'_>, c: &StoredCredential) -> Result<RegisterCredentialOutcome, WorkError> {
    if !lock_unused_options(db, sql, app, o).await? {
        return Ok(RegisterCredentialOutcome::OptionsGone);
    }
    if db.query_opt(&sql.user_exists, &[&app, &c.user_id]).await?.is_none() {
        return Ok(RegisterCredentialOutcome::UnknownUser);
    }
    if credential_in_app(db, sql, app, &c.id).await? || !insert_credential(db, sql, app, c).await? {
        return Ok(RegisterCredentialOutcome::CredentialAlreadyExists);
    }
    db.execute(&sql.delete_options, &[&app, &o.tenant_id, &o.id]).await?;
    Ok(RegisterCredentialOutcome::Registered)
}

async fn finish_sign_in(
    db: Conn<'_>,
    sql: &Statements,
    app: &str,
    o: OptionsRef<'_>,
    consumption: SignInConsumption,
    c: &CounterUpdate<'_>,
) -> Result<FinishSignInOutcome, WorkError> {
    if !lock_unused_options(db, sql, app, o).await? {
        return Ok(FinishSignInOutcome::OptionsGone);
    }
    let moved = db.execute(&sql.move_counter, &[&app, &c.rp_id, &c.credential_id, &c.old_counter, &c.new_counter, &c.now]).await?;
    if moved == 0 {
        return Ok(FinishSignInOutcome::CounterMoved);
    }
    match consumption {
        SignInConsumption::Delete => db.execute(&sql.delete_options, &[&app, &o.tenant_id, &o.id]).await?,
        SignInConsumption::MarkConsumed => {
            let Some(row) = db.query_opt(&sql.options, &[&app, &o.tenant_id, &o.id]).await? else { return Ok(FinishSignInOutcome::OptionsGone) };
            let marked = consumed_expires_at(options_from_row(&row)?.created_at);
            db.execute(&sql.mark_options_consumed, &[&app, &o.tenant_id, &o.id, &marked]).await?
        }
    };
    Ok(FinishSignInOutcome::Done)
}

async fn consume_token(db: Conn<'_>, sql: &Statements, (app, tenant): (&str, &str), hash: &str, now: i64) -> Result<Option<RecoveryTokenRow>, WorkError> {
    let Some(row) = db.query_opt(&sql.claim_token, &[&app, &tenant, &hash, &now]).await? else { return Ok(None) };
    let token = token_from_row(&row)?;
    db.execute(&sql.delete_email_tokens, &[&app, &tenant, &token.email]).await?;
    Ok(Some(token))
}

#[async_trait]
impl WebauthnStorage for PgStorage {
    async fn wa_save_options(&self, AppKey { app_id }: AppKey<'_>, o: &GeneratedOptions) -> Result<SaveOptionsOutcome, StorageError> {
        let ctx = (&self.sql, app_id, o);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, o)| {
                Box::pin(async move {
                    let params: [&(dyn ToSql + Sync); 12] = [
                        app, &o.tenant_id, &o.id, &o.challenge, &o.email, &o.rp_id, &o.rp_name, &o.origin, &o.expires_at, &o.created_at,
                        &o.user_presence_required, &o.user_verification,
                    ];
                    match db.execute(&sql.webauthn.insert_options, &params).await.map_err(WorkError::from) {
                        Ok(_) => Ok(SaveOptionsOutcome::Saved),
                        Err(e) if sql_state(&e) == Some(&SqlState::UNIQUE_VIOLATION) => Ok(SaveOptionsOutcome::DuplicateId),
                        Err(e) if sql_state(&e) == Some(&SqlState::FOREIGN_KEY_VIOLATION) => Ok(SaveOptionsOutcome::UnknownTenant),
                        Err(e) => Err(e),
                    }
                })
            })
            .await
    }

    async fn wa_options(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, id: &str) -> Result<Option<GeneratedOptions>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, id)| {
                Box::pin(async move { db.query_opt(&sql.webauthn.options, &[app, tenant, id]).await?.map(|r| options_from_row(&r)).transpose() })
            })
            .await
    }

    async fn wa_options_in_app(&self, AppKey { app_id }: AppKey<'_>, id: &str) -> Result<Option<GeneratedOptions>, StorageError> {
        let ctx = (&self.sql, app_id, id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, id)| {
                Box::pin(async move { db.query_opt(&sql.webauthn.options_in_app, &[app, id]).await?.map(|r| options_from_row(&r)).transpose() })
            })
            .await
    }

    async fn wa_remove_options(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, id)| {
                Box::pin(async move { Ok(db.execute(&sql.webauthn.delete_options, &[app, tenant, id]).await? > 0) })
            })
            .await
    }

    async fn wa_sign_up(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        options: OptionsRef<'_>,
        user: &NewWebauthnUser,
        credential: &StoredCredential,
    ) -> Result<SignUpOutcome, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), options, user, credential);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, o, u, c)| Box::pin(sign_up(db, &sql.webauthn, *key, *o, u, c)))
            .await
    }

    async fn wa_register_credential(
        &self,
        AppKey { app_id }: AppKey<'_>,
        options: OptionsRef<'_>,
        credential: &StoredCredential,
    ) -> Result<RegisterCredentialOutcome, StorageError> {
        let ctx = (&self.sql, app_id, options, credential);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, o, c)| Box::pin(register_credential(db, &sql.webauthn, app, *o, c)))
            .await
    }

    async fn wa_credential_for_sign_in(
        &self,
        AppKey { app_id }: AppKey<'_>,
        rp_id: &str,
        credential_id: &str,
    ) -> Result<Option<CredentialWithTenants>, StorageError> {
        let ctx = (&self.sql, app_id, rp_id, credential_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, rp, id)| {
                Box::pin(async move {
                    let Some(r) = db.query_opt(&sql.webauthn.credential_for_sign_in, &[app, rp, id]).await? else { return Ok(None) };
                    Ok(Some(CredentialWithTenants { credential: credential_from_row(&r)?, user_tenant_ids: r.try_get(8)? }))
                })
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
        let ctx = (&self.sql, app_id, options, consumption, counter);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, o, how, c)| Box::pin(finish_sign_in(db, &sql.webauthn, app, *o, *how, c)))
            .await
    }

    async fn wa_credential_of_user(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, credential_id: &str) -> Result<Option<StoredCredential>, StorageError> {
        let ctx = (&self.sql, app_id, user_id, credential_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, user, id)| {
                Box::pin(async move { db.query_opt(&sql.webauthn.credential_of_user, &[app, user, id]).await?.map(|r| credential_from_row(&r)).transpose() })
            })
            .await
    }

    async fn wa_credentials_of_user(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Vec<StoredCredential>, StorageError> {
        let ctx = (&self.sql, app_id, user_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, user)| {
                Box::pin(async move { db.query(&sql.webauthn.credentials_of_user, &[app, user]).await?.iter().map(credential_from_row).collect() })
            })
            .await
    }

    async fn wa_remove_credential(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, credential_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user_id, credential_id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, user, id)| {
                Box::pin(async move { Ok(db.execute(&sql.webauthn.delete_credential, &[app, user, id]).await? > 0) })
            })
            .await
    }

    async fn wa_add_recovery_token(&self, AppKey { app_id }: AppKey<'_>, t: &RecoveryTokenRow) -> Result<AddRecoveryTokenOutcome, StorageError> {
        let ctx = (&self.sql, app_id, t);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, t)| {
                Box::pin(async move {
                    let params: [&(dyn ToSql + Sync); 6] = [app, &t.tenant_id, &t.user_id, &t.email, &t.token_hash, &t.expires_at];
                    match db.execute(&sql.webauthn.insert_token, &params).await.map_err(WorkError::from) {
                        Ok(_) => Ok(AddRecoveryTokenOutcome::Added),
                        Err(e) if sql_state(&e) == Some(&SqlState::UNIQUE_VIOLATION) => Ok(AddRecoveryTokenOutcome::Duplicate),
                        Err(e) if sql_state(&e) == Some(&SqlState::FOREIGN_KEY_VIOLATION) => Ok(AddRecoveryTokenOutcome::UnknownUser),
                        Err(e) => Err(e),
                    }
                })
            })
            .await
    }

    async fn wa_recovery_token(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, token_hash: &str) -> Result<Option<RecoveryTokenRow>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, token_hash);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, hash)| {
                Box::pin(async move { db.query_opt(&sql.webauthn.token, &[app, tenant, hash]).await?.map(|r| token_from_row(&r)).transpose() })
            })
            .await
    }

    async fn wa_consume_recovery_token(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<RecoveryTokenRow>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), token_hash, now);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, hash, now)| Box::pin(consume_token(db, &sql.webauthn, *key, hash, *now)))
            .await
    }

    async fn wa_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, now);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, now)| {
                Box::pin(async move {
                    let options = db.execute(&sql.webauthn.delete_expired_options, &[now]).await?;
                    let tokens = db.execute(&sql.webauthn.delete_expired_tokens, &[now]).await?;
                    Ok(options + tokens)
                })
            })
            .await
    }
}

#[async_trait]
impl WebauthnTx for PgTx<'_> {
    async fn wa_lock_user(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let r = self.db.query_opt(&self.sql.webauthn.lock_user, &[&app_id, &user_id]).await.map(|r| r.is_some()).map_err(WorkError::from);
        self.keep(r)
    }

    async fn wa_set_email(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError> {
        let (db, sql) = (self.db, &self.sql.webauthn);
        let r = async {
            if !unique(db.execute(&sql.update_tenant_email, &[&app_id, &user_id, &email])).await? {
                return Ok(false);
            }
            db.execute(&sql.update_user_email, &[&app_id, &user_id, &email]).await?;
            Ok(true)
        }
        .await;
        self.keep(r)
    }
}
