//! Tenant configurations: `tenant_configs` and the rows that hang off it (third-party providers and
//! their clients, first factors, required secondary factors), stored as the plugin stores them
//! (`multitenancy/*SQLHelper.java`): provider maps as JSON text, `scope` as VARCHAR(128)[], an absent
//! client type as ''.

use std::collections::HashMap;

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantIdentifier, TenantKey};
use portcullis_core::multitenancy::storage::TenantStorage;
use portcullis_core::multitenancy::{Provider, ProviderClient, TenantConfig, UserInfoMap, UserInfoMapFields};
use portcullis_core::storage::StorageError;
use serde_json::{Map, Value};
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::key_value;
use crate::names::Names;
use crate::PgStorage;

const KEY: &str = "connection_uri_domain = $1 AND app_id = $2 AND tenant_id = $3";

const PROVIDER_COLUMNS: &str = "connection_uri_domain, app_id, tenant_id, third_party_id, name, \
     authorization_endpoint, authorization_endpoint_query_params, token_endpoint, token_endpoint_body_params, \
     user_info_endpoint, user_info_endpoint_query_params, user_info_endpoint_headers, jwks_uri, \
     oidc_discovery_endpoint, require_email, \
     user_info_map_from_id_token_payload_user_id, user_info_map_from_id_token_payload_email, \
     user_info_map_from_id_token_payload_email_verified, user_info_map_from_user_info_endpoint_user_id, \
     user_info_map_from_user_info_endpoint_email, user_info_map_from_user_info_endpoint_email_verified";

const CLIENT_COLUMNS: &str = "connection_uri_domain, app_id, tenant_id, third_party_id, client_type, client_id, \
     client_secret, scope, force_pkce, additional_config";

const CONFIG_COLUMNS: &str = "connection_uri_domain, app_id, tenant_id, core_config, \
     email_password_enabled, passwordless_enabled, third_party_enabled";

/// The statements of this module, rendered once with the configured table names.
pub struct Statements {
    insert_config: String,
    update_config: String,
    delete_config: String,
    delete_clients: String,
    delete_providers: String,
    delete_first_factors: String,
    delete_required_factors: String,
    insert_provider: String,
    insert_client: String,
    insert_first_factor: String,
    insert_required_factor: String,
    select_configs: String,
    select_providers: String,
    select_clients: String,
    select_first_factors: String,
    select_required_factors: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let configs = n.table("tenant_configs")?;
        let providers = n.table("tenant_thirdparty_providers")?;
        let clients = n.table("tenant_thirdparty_provider_clients")?;
        let first = n.table("tenant_first_factors")?;
        let required = n.table("tenant_required_secondary_factors")?;
        let factor_insert = |table: &str| {
            // A repeated factor is harmless: keep one row, as the plugin does for first factors.
            format!(
                "INSERT INTO {table} (connection_uri_domain, app_id, tenant_id, factor_id) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING"
            )
        };
        let factor_select = |table: &str| {
            format!("SELECT connection_uri_domain, app_id, tenant_id, factor_id FROM {table} ORDER BY factor_id")
        };
        Ok(Statements {
            insert_config: format!(
                "INSERT INTO {configs} ({CONFIG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (connection_uri_domain, app_id, tenant_id) DO NOTHING"
            ),
            update_config: format!(
                "UPDATE {configs} SET core_config = $4, email_password_enabled = $5, passwordless_enabled = $6, \
                 third_party_enabled = $7 WHERE {KEY}"
            ),
            delete_config: format!("DELETE FROM {configs} WHERE {KEY}"),
            delete_clients: format!("DELETE FROM {clients} WHERE {KEY}"),
            delete_providers: format!("DELETE FROM {providers} WHERE {KEY}"),
            delete_first_factors: format!("DELETE FROM {first} WHERE {KEY}"),
            delete_required_factors: format!("DELETE FROM {required} WHERE {KEY}"),
            insert_provider: format!(
                "INSERT INTO {providers} ({PROVIDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
            ),
            insert_client: format!(
                "INSERT INTO {clients} ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            insert_first_factor: factor_insert(first),
            insert_required_factor: factor_insert(required),
            select_configs: format!(
                "SELECT {CONFIG_COLUMNS} FROM {configs} ORDER BY connection_uri_domain, app_id, tenant_id"
            ),
            select_providers: format!("SELECT {PROVIDER_COLUMNS} FROM {providers} ORDER BY third_party_id"),
            select_clients: format!("SELECT {CLIENT_COLUMNS} FROM {clients} ORDER BY client_type"),
            select_first_factors: factor_select(first),
            select_required_factors: factor_select(required),
        })
    }
}

/// A map as the plugin stores it: compact JSON text (null values kept), or NULL.
fn json_text(map: &Option<Map<String, Value>>) -> Option<String> {
    map.as_ref().map(|m| Value::Object(m.clone()).to_string())
}

/// Reads back a map column. Text that is not a JSON object is refused, as the plugin refuses it.
fn parse_map(
    text: Option<String>,
    column: &str,
    id: &TenantIdentifier,
) -> Result<Option<Map<String, Value>>, WorkError> {
    let Some(text) = text else { return Ok(None) };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(WorkError::Invalid(format!("tenant {id}: the stored {column} is not a JSON object"))),
    }
}

/// Writes the tenant's row and replaces its providers and factors. Returns true when the row is new.
pub async fn upsert(db: Conn<'_>, sql: &Statements, t: &TenantConfig) -> Result<bool, WorkError> {
    let id = &t.id;
    let core_config = Value::Object(t.core_config.clone()).to_string();
    let row: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
        &id.cud,
        &id.app_id,
        &id.tenant_id,
        &core_config,
        &t.email_password_enabled,
        &t.passwordless_enabled,
        &t.third_party_enabled,
    ];
    // Insert-or-nothing then update, rather than a single upsert: "was it new" must be exact even when
    // two writers race, and this needs nothing PostgreSQL-specific (like xmax) to tell.
    let created = db.execute(&sql.insert_config, &row).await? == 1;
    if !created {
        db.execute(&sql.update_config, &row).await?;
    }

    let key: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&id.cud, &id.app_id, &id.tenant_id];
    // Clients would cascade with their providers; deleting them first keeps that independent of the FK.
    for stmt in [&sql.delete_clients, &sql.delete_providers, &sql.delete_first_factors, &sql.delete_required_factors] {
        db.execute(stmt, &key).await?;
    }
    for (stmt, factors) in
        [(&sql.insert_first_factor, &t.first_factors), (&sql.insert_required_factor, &t.required_secondary_factors)]
    {
        for f in factors.iter().flatten() {
            db.execute(stmt, &[&id.cud, &id.app_id, &id.tenant_id, f]).await?;
        }
    }
    for p in &t.providers {
        insert_provider(db, sql, id, p).await?;
    }
    Ok(created)
}

async fn insert_provider(db: Conn<'_>, sql: &Statements, id: &TenantIdentifier, p: &Provider) -> Result<(), WorkError> {
    let m = &p.user_info_map;
    db.execute(
        &sql.insert_provider,
        &[
            &id.cud,
            &id.app_id,
            &id.tenant_id,
            &p.third_party_id,
            &p.name,
            &p.authorization_endpoint,
            &json_text(&p.authorization_endpoint_query_params),
            &p.token_endpoint,
            &json_text(&p.token_endpoint_body_params),
            &p.user_info_endpoint,
            &json_text(&p.user_info_endpoint_query_params),
            &json_text(&p.user_info_endpoint_headers),
            &p.jwks_uri,
            &p.oidc_discovery_endpoint,
            &p.require_email,
            &m.from_id_token_payload.user_id,
            &m.from_id_token_payload.email,
            &m.from_id_token_payload.email_verified,
            &m.from_user_info_api.user_id,
            &m.from_user_info_api.email,
            &m.from_user_info_api.email_verified,
        ],
    )
    .await?;
    for c in &p.clients {
        // The key column cannot be NULL: the plugin stores an absent client type as ''.
        let client_type = c.client_type.as_deref().unwrap_or("");
        db.execute(
            &sql.insert_client,
            &[
                &id.cud,
                &id.app_id,
                &id.tenant_id,
                &p.third_party_id,
                &client_type,
                &c.client_id,
                &c.client_secret,
                &c.scope,
                &c.force_pkce,
                &json_text(&c.additional_config),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Removes a tenant configuration; its providers, clients and factors go with it (ON DELETE CASCADE).
pub async fn delete(db: Conn<'_>, sql: &Statements, id: &TenantIdentifier) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.delete_config, &[&id.cud, &id.app_id, &id.tenant_id]).await? > 0)
}

fn id_of(r: &Row) -> Result<TenantIdentifier, tokio_postgres::Error> {
    Ok(TenantIdentifier { cud: r.try_get(0)?, app_id: r.try_get(1)?, tenant_id: r.try_get(2)? })
}

/// Every tenant configuration, read in five pipelined queries of one snapshot.
pub async fn load_all(db: Conn<'_>, sql: &Statements) -> Result<Vec<TenantConfig>, WorkError> {
    let (config_rows, provider_rows, client_rows, first_rows, required_rows) = tokio::try_join!(
        db.query(&sql.select_configs, &[]),
        db.query(&sql.select_providers, &[]),
        db.query(&sql.select_clients, &[]),
        db.query(&sql.select_first_factors, &[]),
        db.query(&sql.select_required_factors, &[]),
    )?;

    let mut clients: HashMap<(TenantIdentifier, String), Vec<ProviderClient>> = HashMap::new();
    for r in &client_rows {
        let id = id_of(r)?;
        let client_type: String = r.try_get(4)?;
        // NULL array elements cannot come from the plugin or from us; skip rather than fail on them.
        let scope: Option<Vec<Option<String>>> = r.try_get(7)?;
        let client = ProviderClient {
            client_type: (!client_type.is_empty()).then_some(client_type),
            client_id: r.try_get(5)?,
            client_secret: r.try_get(6)?,
            scope: scope.map(|s| s.into_iter().flatten().collect()),
            force_pkce: r.try_get(8)?,
            additional_config: parse_map(r.try_get(9)?, "additional_config", &id)?,
        };
        clients.entry((id, r.try_get(3)?)).or_default().push(client);
    }

    let mut providers: HashMap<TenantIdentifier, Vec<Provider>> = HashMap::new();
    for r in &provider_rows {
        let id = id_of(r)?;
        let third_party_id: String = r.try_get(3)?;
        let provider = Provider {
            clients: clients.remove(&(id.clone(), third_party_id.clone())).unwrap_or_default(),
            third_party_id,
            name: r.try_get(4)?,
            authorization_endpoint: r.try_get(5)?,
            authorization_endpoint_query_params: parse_map(r.try_get(6)?, "authorization_endpoint_query_params", &id)?,
            token_endpoint: r.try_get(7)?,
            token_endpoint_body_params: parse_map(r.try_get(8)?, "token_endpoint_body_params", &id)?,
            user_info_endpoint: r.try_get(9)?,
            user_info_endpoint_query_params: parse_map(r.try_get(10)?, "user_info_endpoint_query_params", &id)?,
            user_info_endpoint_headers: parse_map(r.try_get(11)?, "user_info_endpoint_headers", &id)?,
            jwks_uri: r.try_get(12)?,
            oidc_discovery_endpoint: r.try_get(13)?,
            require_email: r.try_get(14)?,
            user_info_map: UserInfoMap {
                from_id_token_payload: UserInfoMapFields {
                    user_id: r.try_get(15)?,
                    email: r.try_get(16)?,
                    email_verified: r.try_get(17)?,
                },
                from_user_info_api: UserInfoMapFields {
                    user_id: r.try_get(18)?,
                    email: r.try_get(19)?,
                    email_verified: r.try_get(20)?,
                },
            },
        };
        providers.entry(id).or_default().push(provider);
    }

    let mut factors = [HashMap::new(), HashMap::new()];
    for (map, rows) in factors.iter_mut().zip([&first_rows, &required_rows]) {
        for r in rows {
            // factor_id is part of the primary key: unique per tenant and never NULL.
            let factor: String = r.try_get(3)?;
            map.entry(id_of(r)?).or_insert_with(Vec::new).push(factor);
        }
    }
    let [mut first_factors, mut required_factors] = factors;

    let mut out = Vec::with_capacity(config_rows.len());
    for r in &config_rows {
        let id = id_of(r)?;
        let core_config = parse_map(r.try_get(3)?, "core_config", &id)?.unwrap_or_default();
        out.push(TenantConfig {
            providers: providers.remove(&id).unwrap_or_default(),
            // No rows means "not set" (the plugin reads an empty list back as null).
            first_factors: first_factors.remove(&id),
            required_secondary_factors: required_factors.remove(&id),
            core_config,
            // The plugin reads a NULL switch as false (JDBC getBoolean); it never writes one.
            email_password_enabled: r.try_get::<_, Option<bool>>(4)?.unwrap_or(false),
            passwordless_enabled: r.try_get::<_, Option<bool>>(5)?.unwrap_or(false),
            third_party_enabled: r.try_get::<_, Option<bool>>(6)?.unwrap_or(false),
            id,
        });
    }
    Ok(out)
}

#[async_trait]
impl TenantStorage for PgStorage {
    async fn load_tenant_configs(&self) -> Result<Vec<TenantConfig>, StorageError> {
        self.db.run(Mode::Snapshot, &self.sql, |db, sql| Box::pin(load_all(db, &sql.multitenancy))).await
    }

    async fn upsert_tenant_config(&self, config: &TenantConfig) -> Result<bool, StorageError> {
        let ctx = (&self.sql, config);
        self.db.run(Mode::Write, &ctx, |db, (sql, config)| Box::pin(upsert(db, &sql.multitenancy, config))).await
    }

    async fn delete_tenant_config(&self, id: &TenantIdentifier) -> Result<bool, StorageError> {
        let ctx = (&self.sql, id);
        self.db.run(Mode::Write, &ctx, |db, (sql, id)| Box::pin(delete(db, &sql.multitenancy, id))).await
    }

    async fn add_tenant_rows(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, now_ms: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, now_ms);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant, now)| {
                Box::pin(key_value::add_tenant_rows(db, &sql.kv, app, tenant, *now))
            })
            .await
    }

    async fn delete_tenant_rows(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, tenant)| {
                Box::pin(key_value::delete_tenant_rows(db, &sql.kv, app, tenant))
            })
            .await
    }

    async fn delete_app_rows(&self, AppKey { app_id }: AppKey<'_>) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db.run(Mode::Write, &ctx, |db, (sql, app)| Box::pin(key_value::delete_app_rows(db, &sql.kv, app))).await
    }
}
