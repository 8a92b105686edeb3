//! Tenant configurations in the tenant_* tables.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantIdentifier, TenantKey};
use portcullis_core::multitenancy::storage::TenantStorage;
use portcullis_core::multitenancy::{Provider, ProviderClient, TenantConfig, UserInfoMap, UserInfoMapFields};
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, Transaction};
use serde_json::{Map, Value};

use crate::{query_err, SqliteStorage};

fn json_text(map: &Option<Map<String, Value>>) -> Option<String> {
    map.as_ref().map(|m| Value::Object(m.clone()).to_string())
}

fn parse_map(text: Option<String>) -> Option<Map<String, Value>> {
    text.and_then(|t| serde_json::from_str::<Value>(&t).ok()).and_then(|v| match v {
        Value::Object(m) => Some(m),
        _ => None,
    })
}

/// Writes the tenant's row and replaces its providers and factors. Returns true when the tenant is new.
pub fn upsert(tx: &Transaction<'_>, t: &TenantConfig) -> Result<bool, rusqlite::Error> {
    let id = &t.id;
    let key = params![id.cud, id.app_id, id.tenant_id];
    let existed: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM tenant_configs WHERE connection_uri_domain = ?1 AND app_id = ?2 AND tenant_id = ?3)",
        key,
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO tenant_configs (connection_uri_domain, app_id, tenant_id, core_config,
             email_password_enabled, passwordless_enabled, third_party_enabled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (connection_uri_domain, app_id, tenant_id) DO UPDATE SET
             core_config = excluded.core_config,
             email_password_enabled = excluded.email_password_enabled,
             passwordless_enabled = excluded.passwordless_enabled,
             third_party_enabled = excluded.third_party_enabled",
        params![
            id.cud,
            id.app_id,
            id.tenant_id,
            Value::Object(t.core_config.clone()).to_string(),
            t.email_password_enabled,
            t.passwordless_enabled,
            t.third_party_enabled
        ],
    )?;
    for table in ["tenant_thirdparty_providers", "tenant_first_factors", "tenant_required_secondary_factors"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE connection_uri_domain = ?1 AND app_id = ?2 AND tenant_id = ?3"),
            key,
        )?;
    }
    for (table, factors) in [
        ("tenant_first_factors", &t.first_factors),
        ("tenant_required_secondary_factors", &t.required_secondary_factors),
    ] {
        for f in factors.iter().flatten() {
            tx.execute(
                &format!("INSERT INTO {table} (connection_uri_domain, app_id, tenant_id, factor_id) VALUES (?1, ?2, ?3, ?4)"),
                params![id.cud, id.app_id, id.tenant_id, f],
            )?;
        }
    }
    for p in &t.providers {
        insert_provider(tx, id, p)?;
    }
    Ok(!existed)
}

fn insert_provider(tx: &Transaction<'_>, id: &TenantIdentifier, p: &Provider) -> Result<(), rusqlite::Error> {
    let m = &p.user_info_map;
    tx.execute(
        "INSERT INTO tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id, third_party_id, name,
             authorization_endpoint, authorization_endpoint_query_params, token_endpoint, token_endpoint_body_params,
             user_info_endpoint, user_info_endpoint_query_params, user_info_endpoint_headers, jwks_uri,
             oidc_discovery_endpoint, require_email,
             user_info_map_from_id_token_payload_user_id, user_info_map_from_id_token_payload_email,
             user_info_map_from_id_token_payload_email_verified, user_info_map_from_user_info_endpoint_user_id,
             user_info_map_from_user_info_endpoint_email, user_info_map_from_user_info_endpoint_email_verified)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
        params![
            id.cud,
            id.app_id,
            id.tenant_id,
            p.third_party_id,
            p.name,
            p.authorization_endpoint,
            json_text(&p.authorization_endpoint_query_params),
            p.token_endpoint,
            json_text(&p.token_endpoint_body_params),
            p.user_info_endpoint,
            json_text(&p.user_info_endpoint_query_params),
            json_text(&p.user_info_endpoint_headers),
            p.jwks_uri,
            p.oidc_discovery_endpoint,
            p.require_email,
            m.from_id_token_payload.user_id,
            m.from_id_token_payload.email,
            m.from_id_token_payload.email_verified,
            m.from_user_info_api.user_id,
            m.from_user_info_api.email,
            m.from_user_info_api.email_verified,
        ],
    )?;
    for c in &p.clients {
        tx.execute(
            "INSERT INTO tenant_thirdparty_provider_clients (connection_uri_domain, app_id, tenant_id, third_party_id,
                 client_type, client_id, client_secret, scope, force_pkce, additional_config)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id.cud,
                id.app_id,
                id.tenant_id,
                p.third_party_id,
                c.client_type.clone().unwrap_or_default(),
                c.client_id,
                c.client_secret,
                c.scope.as_ref().map(|s| Value::from(s.clone()).to_string()),
                c.force_pkce,
                json_text(&c.additional_config),
            ],
        )?;
    }
    Ok(())
}

type Key = (String, String, String);

fn key_of(r: &rusqlite::Row<'_>) -> Result<Key, rusqlite::Error> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

/// Every tenant configuration, read in five queries.
pub fn load_all(c: &Connection) -> Result<Vec<TenantConfig>, rusqlite::Error> {
    let mut factors: HashMap<(&str, Key), Vec<String>> = HashMap::new();
    for table in ["tenant_first_factors", "tenant_required_secondary_factors"] {
        let mut st = c.prepare(&format!(
            "SELECT connection_uri_domain, app_id, tenant_id, factor_id FROM {table} ORDER BY factor_id"
        ))?;
        let rows = st.query_map([], |r| Ok((key_of(r)?, r.get::<_, String>(3)?)))?;
        for row in rows {
            let (k, f) = row?;
            factors.entry((table, k)).or_default().push(f);
        }
    }

    let mut clients: HashMap<(Key, String), Vec<ProviderClient>> = HashMap::new();
    let mut st = c.prepare(
        "SELECT connection_uri_domain, app_id, tenant_id, third_party_id, client_type, client_id, client_secret,
                scope, force_pkce, additional_config
         FROM tenant_thirdparty_provider_clients ORDER BY client_type",
    )?;
    let rows = st.query_map([], |r| {
        let client_type: String = r.get(4)?;
        let scope: Option<String> = r.get(7)?;
        Ok((
            (key_of(r)?, r.get::<_, String>(3)?),
            ProviderClient {
                client_type: (!client_type.is_empty()).then_some(client_type),
                client_id: r.get(5)?,
                client_secret: r.get(6)?,
                scope: scope.and_then(|s| serde_json::from_str(&s).ok()),
                force_pkce: r.get(8)?,
                additional_config: parse_map(r.get(9)?),
            },
        ))
    })?;
    for row in rows {
        let (k, client) = row?;
        clients.entry(k).or_default().push(client);
    }

    let mut providers: HashMap<Key, Vec<Provider>> = HashMap::new();
    let mut st = c.prepare(
        "SELECT connection_uri_domain, app_id, tenant_id, third_party_id, name, authorization_endpoint,
                authorization_endpoint_query_params, token_endpoint, token_endpoint_body_params, user_info_endpoint,
                user_info_endpoint_query_params, user_info_endpoint_headers, jwks_uri, oidc_discovery_endpoint,
                require_email, user_info_map_from_id_token_payload_user_id, user_info_map_from_id_token_payload_email,
                user_info_map_from_id_token_payload_email_verified, user_info_map_from_user_info_endpoint_user_id,
                user_info_map_from_user_info_endpoint_email, user_info_map_from_user_info_endpoint_email_verified
         FROM tenant_thirdparty_providers ORDER BY third_party_id",
    )?;
    let rows = st.query_map([], |r| {
        let third_party_id: String = r.get(3)?;
        Ok((
            key_of(r)?,
            Provider {
                third_party_id,
                name: r.get(4)?,
                clients: vec![],
                authorization_endpoint: r.get(5)?,
                authorization_endpoint_query_params: parse_map(r.get(6)?),
                token_endpoint: r.get(7)?,
                token_endpoint_body_params: parse_map(r.get(8)?),
                user_info_endpoint: r.get(9)?,
                user_info_endpoint_query_params: parse_map(r.get(10)?),
                user_info_endpoint_headers: parse_map(r.get(11)?),
                jwks_uri: r.get(12)?,
                oidc_discovery_endpoint: r.get(13)?,
                require_email: r.get(14)?,
                user_info_map: UserInfoMap {
                    from_id_token_payload: UserInfoMapFields {
                        user_id: r.get(15)?,
                        email: r.get(16)?,
                        email_verified: r.get(17)?,
                    },
                    from_user_info_api: UserInfoMapFields {
                        user_id: r.get(18)?,
                        email: r.get(19)?,
                        email_verified: r.get(20)?,
                    },
                },
            },
        ))
    })?;
    for row in rows {
        let (k, mut p) = row?;
        p.clients = clients.remove(&(k.clone(), p.third_party_id.clone())).unwrap_or_default();
        providers.entry(k).or_default().push(p);
    }

    let mut st = c.prepare(
        "SELECT connection_uri_domain, app_id, tenant_id, core_config, email_password_enabled,
                passwordless_enabled, third_party_enabled
         FROM tenant_configs ORDER BY connection_uri_domain, app_id, tenant_id",
    )?;
    let rows = st.query_map([], |r| {
        let core: Option<String> = r.get(3)?;
        Ok((
            key_of(r)?,
            parse_map(core).unwrap_or_default(),
            r.get::<_, Option<bool>>(4)?.unwrap_or(true),
            r.get::<_, Option<bool>>(5)?.unwrap_or(true),
            r.get::<_, Option<bool>>(6)?.unwrap_or(true),
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (k, core_config, ep, pl, tp) = row?;
        let first_factors = factors.remove(&("tenant_first_factors", k.clone()));
        let required_secondary_factors = factors.remove(&("tenant_required_secondary_factors", k.clone()));
        out.push(TenantConfig {
            providers: providers.remove(&k).unwrap_or_default(),
            id: TenantIdentifier { cud: k.0, app_id: k.1, tenant_id: k.2 },
            email_password_enabled: ep,
            passwordless_enabled: pl,
            third_party_enabled: tp,
            first_factors,
            required_secondary_factors,
            core_config,
        });
    }
    Ok(out)
}

#[async_trait]
impl TenantStorage for SqliteStorage {
    async fn load_tenant_configs(&self) -> Result<Vec<TenantConfig>, StorageError> {
        self.with_conn(|c| load_all(c).map_err(query_err)).await
    }

    async fn upsert_tenant_config(&self, config: &TenantConfig) -> Result<bool, StorageError> {
        let config = config.clone();
        self.in_transaction(move |tx| upsert(tx, &config)).await
    }

    async fn delete_tenant_config(&self, id: &TenantIdentifier) -> Result<bool, StorageError> {
        let id = id.clone();
        self.in_transaction(move |tx| {
            let n = tx.execute(
                "DELETE FROM tenant_configs WHERE connection_uri_domain = ?1 AND app_id = ?2 AND tenant_id = ?3",
                params![id.cud, id.app_id, id.tenant_id],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn add_tenant_rows(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, now_ms: i64) -> Result<(), StorageError> {
        let (app_id, tenant_id) = (app_id.to_owned(), tenant_id.to_owned());
        self.in_transaction(move |tx| {
            tx.execute(
                "INSERT INTO apps (app_id, created_at_time) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![app_id, now_ms],
            )?;
            tx.execute(
                "INSERT INTO tenants (app_id, tenant_id, created_at_time) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![app_id, tenant_id, now_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_tenant_rows(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>) -> Result<bool, StorageError> {
        let (app_id, tenant_id) = (app_id.to_owned(), tenant_id.to_owned());
        self.in_transaction(move |tx| {
            Ok(tx.execute("DELETE FROM tenants WHERE app_id = ?1 AND tenant_id = ?2", params![app_id, tenant_id])? > 0)
        })
        .await
    }

    async fn delete_app_rows(&self, AppKey { app_id }: AppKey<'_>) -> Result<bool, StorageError> {
        let app_id = app_id.to_owned();
        self.in_transaction(move |tx| Ok(tx.execute("DELETE FROM apps WHERE app_id = ?1", params![app_id])? > 0))
            .await
    }
}
