//! SAML in SQLite: `saml_clients`, `saml_relay_state`, `saml_claims` (the newer plugin's tables,
//! mirrored) and the app's SP key in two `key_value` rows. The units of two statements run in one
//! IMMEDIATE transaction, which holds SQLite's write lock, so no other callback interleaves.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::saml::client::parse_redirect_uris_column;
use portcullis_core::saml::sp_key::{CERTIFICATE_NAME, KEY_PAIR_NAME};
use portcullis_core::saml::storage::{CodeClaims, ConsumedCode, RelayState, SamlClient, SamlStorage, StoredSpKey, UpsertClientOutcome};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::{query_err, SqliteStorage};

const CLIENT_COLUMNS: &str = "client_id, client_secret, sso_login_url, redirect_uris, default_redirect_uri, idp_entity_id, \
     idp_signing_certificate, allow_idp_initiated_login, enable_request_signing, created_at, updated_at";

fn client_row(r: &Row<'_>) -> rusqlite::Result<SamlClient> {
    let uris: String = r.get(3)?;
    Ok(SamlClient {
        client_id: r.get(0)?,
        client_secret: r.get(1)?,
        sso_login_url: r.get(2)?,
        redirect_uris: parse_redirect_uris_column(&uris).unwrap_or_default(),
        default_redirect_uri: r.get(4)?,
        idp_entity_id: r.get(5)?,
        idp_signing_certificate: r.get(6)?,
        allow_idp_initiated_login: r.get(7)?,
        enable_request_signing: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

fn relay_state_row(r: &Row<'_>) -> rusqlite::Result<RelayState> {
    Ok(RelayState {
        relay_state: r.get(0)?,
        client_id: r.get(1)?,
        state: r.get(2)?,
        redirect_uri: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
    })
}

/// The unique constraint on `(app_id, tenant_id, idp_entity_id)` refused the row.
fn is_duplicate_entity(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, Some(msg))
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE && msg.contains("saml_clients.idp_entity_id"))
}

fn insert_claims(c: &Connection, app: &str, tenant: &str, claims: &CodeClaims) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO saml_claims (app_id, tenant_id, client_id, code, claims, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![app, tenant, claims.client_id, claims.code, claims.claims, claims.created_at, claims.expires_at],
    )
}

fn read_sp_key(c: &Connection, app: &str) -> rusqlite::Result<Option<StoredSpKey>> {
    let get = |name: &str| {
        c.query_row("SELECT value FROM key_value WHERE app_id = ?1 AND tenant_id = 'public' AND name = ?2", params![app, name], |r| {
            r.get::<_, String>(0)
        })
        .optional()
    };
    Ok(match (get(KEY_PAIR_NAME)?, get(CERTIFICATE_NAME)?) {
        (Some(key_pair), Some(certificate)) => Some(StoredSpKey { key_pair, certificate }),
        _ => None,
    })
}

#[async_trait]
impl SamlStorage for SqliteStorage {
    async fn saml_upsert_client(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, client: &SamlClient) -> Result<UpsertClientOutcome, StorageError> {
        let (app, tenant, c) = (app_id.to_owned(), tenant_id.to_owned(), client.clone());
        self.with_conn(move |conn| {
            let sql = format!(
                "INSERT INTO saml_clients (app_id, tenant_id, {CLIENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (app_id, tenant_id, client_id) DO UPDATE SET client_secret = excluded.client_secret,
                 sso_login_url = excluded.sso_login_url, redirect_uris = excluded.redirect_uris,
                 default_redirect_uri = excluded.default_redirect_uri, idp_entity_id = excluded.idp_entity_id,
                 idp_signing_certificate = excluded.idp_signing_certificate,
                 allow_idp_initiated_login = excluded.allow_idp_initiated_login,
                 enable_request_signing = excluded.enable_request_signing, updated_at = excluded.updated_at
                 RETURNING created_at"
            );
            let result = conn.query_row(
                &sql,
                params![
                    app,
                    tenant,
                    c.client_id,
                    c.client_secret,
                    c.sso_login_url,
                    c.redirect_uris_column(),
                    c.default_redirect_uri,
                    c.idp_entity_id,
                    c.idp_signing_certificate,
                    c.allow_idp_initiated_login,
                    c.enable_request_signing,
                    c.created_at,
                    c.updated_at
                ],
                |r| r.get::<_, i64>(0),
            );
            match result {
                Ok(created_at) => Ok(UpsertClientOutcome::Saved(SamlClient { created_at, ..c })),
                Err(e) if is_duplicate_entity(&e) => Ok(UpsertClientOutcome::DuplicateIdpEntity),
                Err(e) => Err(query_err(e)),
            }
        })
        .await
    }

    async fn saml_client(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, client_id: &str) -> Result<Option<SamlClient>, StorageError> {
        let (app, tenant, id) = (app_id.to_owned(), tenant_id.to_owned(), client_id.to_owned());
        self.with_conn(move |c| {
            let sql = format!("SELECT {CLIENT_COLUMNS} FROM saml_clients WHERE app_id = ?1 AND tenant_id = ?2 AND client_id = ?3");
            c.query_row(&sql, params![app, tenant, id], client_row).optional().map_err(query_err)
        })
        .await
    }

    async fn saml_client_by_idp_entity_id(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, idp_entity_id: &str) -> Result<Option<SamlClient>, StorageError> {
        let (app, tenant, entity) = (app_id.to_owned(), tenant_id.to_owned(), idp_entity_id.to_owned());
        self.with_conn(move |c| {
            let sql = format!("SELECT {CLIENT_COLUMNS} FROM saml_clients WHERE app_id = ?1 AND tenant_id = ?2 AND idp_entity_id = ?3");
            c.query_row(&sql, params![app, tenant, entity], client_row).optional().map_err(query_err)
        })
        .await
    }

    async fn saml_clients(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>) -> Result<Vec<SamlClient>, StorageError> {
        let (app, tenant) = (app_id.to_owned(), tenant_id.to_owned());
        self.with_conn(move |c| {
            let sql = format!("SELECT {CLIENT_COLUMNS} FROM saml_clients WHERE app_id = ?1 AND tenant_id = ?2 ORDER BY created_at ASC, client_id ASC");
            let mut st = c.prepare(&sql).map_err(query_err)?;
            let rows = st.query_map(params![app, tenant], client_row).map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn saml_remove_client(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, client_id: &str) -> Result<bool, StorageError> {
        let (app, tenant, id) = (app_id.to_owned(), tenant_id.to_owned(), client_id.to_owned());
        self.with_conn(move |c| {
            c.execute("DELETE FROM saml_clients WHERE app_id = ?1 AND tenant_id = ?2 AND client_id = ?3", params![app, tenant, id])
                .map(|n| n > 0)
                .map_err(query_err)
        })
        .await
    }

    async fn saml_save_relay_state(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, row: &RelayState) -> Result<(), StorageError> {
        let (app, tenant, r) = (app_id.to_owned(), tenant_id.to_owned(), row.clone());
        self.with_conn(move |c| {
            c.execute(
                "INSERT INTO saml_relay_state (app_id, tenant_id, relay_state, client_id, state, redirect_uri, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![app, tenant, r.relay_state, r.client_id, r.state, r.redirect_uri, r.created_at, r.expires_at],
            )
            .map(drop)
            .map_err(query_err)
        })
        .await
    }

    async fn saml_relay_state(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, relay_state: &str, now_ms: i64) -> Result<Option<RelayState>, StorageError> {
        let (app, tenant, rs) = (app_id.to_owned(), tenant_id.to_owned(), relay_state.to_owned());
        self.with_conn(move |c| {
            c.query_row(
                "SELECT relay_state, client_id, state, redirect_uri, created_at, expires_at FROM saml_relay_state
                 WHERE app_id = ?1 AND tenant_id = ?2 AND relay_state = ?3 AND expires_at >= ?4",
                params![app, tenant, rs, now_ms],
                relay_state_row,
            )
            .optional()
            .map_err(query_err)
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
        let (app, tenant, rs, claims) = (app_id.to_owned(), tenant_id.to_owned(), relay_state.to_owned(), claims.clone());
        self.in_transaction(move |tx| {
            let consumed = tx.execute(
                "DELETE FROM saml_relay_state WHERE app_id = ?1 AND tenant_id = ?2 AND relay_state = ?3 AND expires_at >= ?4",
                params![app, tenant, rs, now_ms],
            )?;
            if consumed == 0 {
                return Ok(false);
            }
            insert_claims(tx, &app, &tenant, &claims)?;
            Ok(true)
        })
        .await
    }

    async fn saml_save_claims(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, claims: &CodeClaims) -> Result<(), StorageError> {
        let (app, tenant, claims) = (app_id.to_owned(), tenant_id.to_owned(), claims.clone());
        self.with_conn(move |c| insert_claims(c, &app, &tenant, &claims).map(drop).map_err(query_err)).await
    }

    async fn saml_consume_code(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, code: &str, now_ms: i64) -> Result<Option<ConsumedCode>, StorageError> {
        let (app, tenant, code) = (app_id.to_owned(), tenant_id.to_owned(), code.to_owned());
        self.with_conn(move |c| {
            c.query_row(
                "DELETE FROM saml_claims WHERE app_id = ?1 AND tenant_id = ?2 AND code = ?3 AND expires_at >= ?4 RETURNING client_id, claims",
                params![app, tenant, code, now_ms],
                |r| Ok(ConsumedCode { client_id: r.get(0)?, claims: r.get(1)? }),
            )
            .optional()
            .map_err(query_err)
        })
        .await
    }

    async fn saml_delete_expired(&self, now_ms: i64) -> Result<(u64, u64), StorageError> {
        self.in_transaction(move |tx| {
            let relay_states = tx.execute("DELETE FROM saml_relay_state WHERE expires_at <= ?1", params![now_ms])?;
            let codes = tx.execute("DELETE FROM saml_claims WHERE expires_at <= ?1", params![now_ms])?;
            Ok((relay_states as u64, codes as u64))
        })
        .await
    }

    async fn saml_sp_key(&self, AppKey { app_id }: AppKey<'_>) -> Result<Option<StoredSpKey>, StorageError> {
        let app = app_id.to_owned();
        self.with_conn(move |c| read_sp_key(c, &app).map_err(query_err)).await
    }

    async fn saml_store_sp_key(&self, AppKey { app_id }: AppKey<'_>, key: &StoredSpKey, replacing: Option<&str>, now_ms: i64) -> Result<StoredSpKey, StorageError> {
        let (app, key, replacing) = (app_id.to_owned(), key.clone(), replacing.map(str::to_owned));
        self.in_transaction(move |tx| {
            let current = read_sp_key(tx, &app)?;
            // Stored when there is none, or when the stored one is still the one being replaced.
            if let Some(current) = current.filter(|c| replacing.as_deref() != Some(c.certificate.as_str())) {
                return Ok(current);
            }
            for (name, value) in [(KEY_PAIR_NAME, &key.key_pair), (CERTIFICATE_NAME, &key.certificate)] {
                tx.execute(
                    "INSERT INTO key_value (app_id, tenant_id, name, value, created_at_time) VALUES (?1, 'public', ?2, ?3, ?4)
                     ON CONFLICT (app_id, tenant_id, name) DO UPDATE SET value = excluded.value, created_at_time = excluded.created_at_time",
                    params![app, name, value, now_ms],
                )?;
            }
            Ok(key)
        })
        .await
    }
}
