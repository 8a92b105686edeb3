//! SAML (`saml_clients`, `saml_relay_state`, `saml_claims`: the newer plugin's tables) and the
//! app's SP key (two `key_value` rows of its public tenant). A relay state is consumed with a
//! `DELETE … RETURNING`-style count in the transaction that stores the claims, and a code by a
//! `DELETE … RETURNING`: of concurrent callers, one gets the row.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::saml::client::parse_redirect_uris_column;
use portcullis_core::saml::sp_key::{CERTIFICATE_NAME, KEY_PAIR_NAME};
use portcullis_core::saml::storage::{CodeClaims, ConsumedCode, RelayState, SamlClient, SamlStorage, StoredSpKey, UpsertClientOutcome};
use portcullis_core::storage::StorageError;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::PgStorage;

const CLIENT_COLUMNS: &str = "client_id, client_secret, sso_login_url, redirect_uris, default_redirect_uri, idp_entity_id, \
     idp_signing_certificate, allow_idp_initiated_login, enable_request_signing, created_at, updated_at";

pub struct Statements {
    upsert_client: String,
    client: String,
    client_by_entity: String,
    clients: String,
    remove_client: String,
    entity_constraint: String,
    insert_relay_state: String,
    relay_state: String,
    consume_relay_state: String,
    insert_claims: String,
    consume_code: String,
    delete_expired_relay_states: String,
    delete_expired_claims: String,
    kv_select: String,
    kv_lock_app: String,
    kv_upsert: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let clients = n.table("saml_clients")?;
        let relay = n.table("saml_relay_state")?;
        let claims = n.table("saml_claims")?;
        let kv = n.table("key_value")?;
        let apps = n.table("apps")?;
        let tenant = "app_id = $1 AND tenant_id = $2";
        Ok(Statements {
            upsert_client: format!(
                "INSERT INTO {clients} (app_id, tenant_id, {CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (app_id, tenant_id, client_id) DO UPDATE SET client_secret = EXCLUDED.client_secret, \
                 sso_login_url = EXCLUDED.sso_login_url, redirect_uris = EXCLUDED.redirect_uris, \
                 default_redirect_uri = EXCLUDED.default_redirect_uri, idp_entity_id = EXCLUDED.idp_entity_id, \
                 idp_signing_certificate = EXCLUDED.idp_signing_certificate, \
                 allow_idp_initiated_login = EXCLUDED.allow_idp_initiated_login, \
                 enable_request_signing = EXCLUDED.enable_request_signing, updated_at = EXCLUDED.updated_at \
                 RETURNING created_at"
            ),
            client: format!("SELECT {CLIENT_COLUMNS} FROM {clients} WHERE {tenant} AND client_id = $3"),
            client_by_entity: format!("SELECT {CLIENT_COLUMNS} FROM {clients} WHERE {tenant} AND idp_entity_id = $3"),
            clients: format!("SELECT {CLIENT_COLUMNS} FROM {clients} WHERE {tenant} ORDER BY created_at ASC, client_id ASC"),
            remove_client: format!("DELETE FROM {clients} WHERE {tenant} AND client_id = $3"),
            entity_constraint: n.constraint("saml_clients", "idp_entity_id_key")?,
            insert_relay_state: format!(
                "INSERT INTO {relay} (app_id, tenant_id, relay_state, client_id, state, redirect_uri, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            relay_state: format!(
                "SELECT relay_state, client_id, state, redirect_uri, created_at, expires_at FROM {relay} \
                 WHERE {tenant} AND relay_state = $3 AND expires_at >= $4"
            ),
            consume_relay_state: format!("DELETE FROM {relay} WHERE {tenant} AND relay_state = $3 AND expires_at >= $4"),
            insert_claims: format!(
                "INSERT INTO {claims} (app_id, tenant_id, client_id, code, claims, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ),
            consume_code: format!("DELETE FROM {claims} WHERE {tenant} AND code = $3 AND expires_at >= $4 RETURNING client_id, claims"),
            delete_expired_relay_states: format!("DELETE FROM {relay} WHERE expires_at <= $1"),
            delete_expired_claims: format!("DELETE FROM {claims} WHERE expires_at <= $1"),
            kv_select: format!("SELECT name, value FROM {kv} WHERE app_id = $1 AND tenant_id = 'public' AND name IN ($2, $3)"),
            // Serialises instances storing the app's first key (the rows may not exist yet to lock).
            kv_lock_app: format!("SELECT 1 FROM {apps} WHERE app_id = $1 FOR NO KEY UPDATE"),
            kv_upsert: format!(
                "INSERT INTO {kv} (app_id, tenant_id, name, value, created_at_time) VALUES ($1, 'public', $2, $3, $4) \
                 ON CONFLICT (app_id, tenant_id, name) DO UPDATE SET value = EXCLUDED.value, created_at_time = EXCLUDED.created_at_time"
            ),
        })
    }
}

fn client_row(r: &Row) -> Result<SamlClient, WorkError> {
    let uris: String = r.try_get(3)?;
    Ok(SamlClient {
        client_id: r.try_get(0)?,
        client_secret: r.try_get(1)?,
        sso_login_url: r.try_get(2)?,
        redirect_uris: parse_redirect_uris_column(&uris).ok_or_else(|| WorkError::Invalid("saml_clients.redirect_uris is not a JSON array".into()))?,
        default_redirect_uri: r.try_get(4)?,
        idp_entity_id: r.try_get(5)?,
        idp_signing_certificate: r.try_get(6)?,
        allow_idp_initiated_login: r.try_get(7)?,
        enable_request_signing: r.try_get(8)?,
        created_at: r.try_get(9)?,
        updated_at: r.try_get(10)?,
    })
}

async fn sp_key(db: Conn<'_>, sql: &Statements, app: &str) -> Result<Option<StoredSpKey>, WorkError> {
    let (mut key_pair, mut certificate) = (None, None);
    for r in db.query(&sql.kv_select, &[&app, &KEY_PAIR_NAME, &CERTIFICATE_NAME]).await? {
        let (name, value): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        if name == KEY_PAIR_NAME {
            key_pair = Some(value);
        } else {
            certificate = Some(value);
        }
    }
    Ok(key_pair.zip(certificate).map(|(key_pair, certificate)| StoredSpKey { key_pair, certificate }))
}

#[async_trait]
impl SamlStorage for PgStorage {
    async fn saml_upsert_client(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, client: &SamlClient) -> Result<UpsertClientOutcome, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, client, client.redirect_uris_column());
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, c, uris)| {
                Box::pin(async move {
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
                        app,
                        tenant,
                        &c.client_id,
                        &c.client_secret,
                        &c.sso_login_url,
                        uris,
                        &c.default_redirect_uri,
                        &c.idp_entity_id,
                        &c.idp_signing_certificate,
                        &c.allow_idp_initiated_login,
                        &c.enable_request_signing,
                        &c.created_at,
                        &c.updated_at,
                    ];
                    match db.query_opt(&sql.upsert_client, &params).await {
                        Ok(Some(row)) => Ok(UpsertClientOutcome::Saved(SamlClient { created_at: row.try_get(0)?, ..(*c).clone() })),
                        Ok(None) => Err(WorkError::Invalid("the client upsert returned no row".into())),
                        Err(e)
                            if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                                && e.as_db_error().and_then(|d| d.constraint()) == Some(sql.entity_constraint.as_str()) =>
                        {
                            Ok(UpsertClientOutcome::DuplicateIdpEntity)
                        }
                        Err(e) => Err(e.into()),
                    }
                })
            })
            .await
    }

    async fn saml_client(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, client_id: &str) -> Result<Option<SamlClient>, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, client_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, id)| {
                Box::pin(async move { db.query_opt(&sql.client, &[app, tenant, id]).await?.as_ref().map(client_row).transpose() })
            })
            .await
    }

    async fn saml_client_by_idp_entity_id(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, idp_entity_id: &str) -> Result<Option<SamlClient>, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, idp_entity_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, entity)| {
                Box::pin(async move { db.query_opt(&sql.client_by_entity, &[app, tenant, entity]).await?.as_ref().map(client_row).transpose() })
            })
            .await
    }

    async fn saml_clients(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>) -> Result<Vec<SamlClient>, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant)| {
                Box::pin(async move { db.query(&sql.clients, &[app, tenant]).await?.iter().map(client_row).collect() })
            })
            .await
    }

    async fn saml_remove_client(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, client_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, client_id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, id)| Box::pin(async move { Ok(db.execute(&sql.remove_client, &[app, tenant, id]).await? > 0) }))
            .await
    }

    async fn saml_save_relay_state(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, row: &RelayState) -> Result<(), StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, row);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, r)| {
                Box::pin(async move {
                    db.execute(
                        &sql.insert_relay_state,
                        &[app, tenant, &r.relay_state, &r.client_id, &r.state, &r.redirect_uri, &r.created_at, &r.expires_at],
                    )
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn saml_relay_state(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, relay_state: &str, now_ms: i64) -> Result<Option<RelayState>, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, relay_state, now_ms);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, rs, now)| {
                Box::pin(async move {
                    let Some(r) = db.query_opt(&sql.relay_state, &[app, tenant, rs, now]).await? else { return Ok(None) };
                    Ok(Some(RelayState {
                        relay_state: r.try_get(0)?,
                        client_id: r.try_get(1)?,
                        state: r.try_get(2)?,
                        redirect_uri: r.try_get(3)?,
                        created_at: r.try_get(4)?,
                        expires_at: r.try_get(5)?,
                    }))
                })
            })
            .await
    }

    async fn saml_consume_relay_state_and_save_claims(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        relay_state: &str,
        now_ms: i64,
        claims: &CodeClaims,
    ) -> Result<bool, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, relay_state, now_ms, claims);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, rs, now, c)| {
                Box::pin(async move {
                    if db.execute(&sql.consume_relay_state, &[app, tenant, rs, now]).await? == 0 {
                        return Ok(false);
                    }
                    db.execute(&sql.insert_claims, &[app, tenant, &c.client_id, &c.code, &c.claims, &c.created_at, &c.expires_at]).await?;
                    Ok(true)
                })
            })
            .await
    }

    async fn saml_save_claims(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, claims: &CodeClaims) -> Result<(), StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, claims);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, c)| {
                Box::pin(async move {
                    db.execute(&sql.insert_claims, &[app, tenant, &c.client_id, &c.code, &c.claims, &c.created_at, &c.expires_at]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn saml_consume_code(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code: &str, now_ms: i64) -> Result<Option<ConsumedCode>, StorageError> {
        let ctx = (&self.sql.saml, app_id, tenant_id, code, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, code, now)| {
                Box::pin(async move {
                    let Some(r) = db.query_opt(&sql.consume_code, &[app, tenant, code, now]).await? else { return Ok(None) };
                    Ok(Some(ConsumedCode { client_id: r.try_get(0)?, claims: r.try_get(1)? }))
                })
            })
            .await
    }

    async fn saml_delete_expired(&self, now_ms: i64) -> Result<(u64, u64), StorageError> {
        let ctx = (&self.sql.saml, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, now)| {
                Box::pin(async move {
                    let relay_states = db.execute(&sql.delete_expired_relay_states, &[now]).await?;
                    let codes = db.execute(&sql.delete_expired_claims, &[now]).await?;
                    Ok((relay_states, codes))
                })
            })
            .await
    }

    async fn saml_sp_key(&self, AppKey { app_id }: AppKey<'_>) -> Result<Option<StoredSpKey>, StorageError> {
        let ctx = (&self.sql.saml, app_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app)| Box::pin(sp_key(db, sql, app))).await
    }

    async fn saml_store_sp_key(&self, AppKey { app_id }: AppKey<'_>, key: &StoredSpKey, replacing: Option<&str>, now_ms: i64) -> Result<StoredSpKey, StorageError> {
        let ctx = (&self.sql.saml, app_id, key, replacing, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, key, replacing, now)| {
                Box::pin(async move {
                    db.execute(&sql.kv_lock_app, &[app]).await?;
                    let current = sp_key(db, sql, app).await?;
                    // Stored when there is none, or when the stored one is still the one being replaced.
                    if let Some(current) = current.filter(|c| *replacing != Some(c.certificate.as_str())) {
                        return Ok(current);
                    }
                    for (name, value) in [(KEY_PAIR_NAME, &key.key_pair), (CERTIFICATE_NAME, &key.certificate)] {
                        db.execute(&sql.kv_upsert, &[app, &name, value, now]).await?;
                    }
                    Ok((*key).clone())
                })
            })
            .await
    }
}
