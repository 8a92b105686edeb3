//! Connection-URI domains, apps and tenants (the v2 APIs), and per-tenant third-party providers.

use axum::response::Response;
use portcullis_core::ids::{normalise_app_id, normalise_cud, normalise_tenant_id, TenantIdentifier, DEFAULT_CUD, PUBLIC};
use portcullis_core::config::keys::is_protected;
use portcullis_core::multitenancy::{check_factor_list, Provider, V2Update};
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::ctx::Ctx;
use crate::tenancy::Tenant;

fn forbidden(msg: &str) -> ApiError {
    ApiError::Forbidden(msg.to_owned())
}

/// Reads the v2 fields shared by the domain, app and tenant create-or-update APIs.
fn v2_update(body: &Body) -> Result<V2Update, ApiError> {
    for (legacy, name) in [
        ("emailPasswordEnabled", "emailPasswordEnabled"),
        ("thirdPartyEnabled", "thirdParty"),
        ("passwordlessEnabled", "passwordless"),
    ] {
        if body.has(legacy) {
            return Err(ApiError::bad(format!("{name} is not a valid input for this API")));
        }
    }
    let first_factors = body.opt_nullable_strings("firstFactors")?;
    let required_secondary_factors = body.opt_nullable_strings("requiredSecondaryFactors")?;
    for (name, list) in [("firstFactors", &first_factors), ("requiredSecondaryFactors", &required_secondary_factors)] {
        if let Some(Some(l)) = list {
            check_factor_list(name, l).map_err(ApiError::BadRequest)?;
        }
    }
    // An empty first-factor list means "no login method"; an empty required list means nothing.
    if matches!(&required_secondary_factors, Some(Some(l)) if l.is_empty()) {
        return Err(ApiError::bad(
            "requiredSecondaryFactors cannot be empty. Set null instead to remove all required secondary factors.",
        ));
    }
    let core_config = body.opt_object("coreConfig")?;
    if let Some(cc) = &core_config {
        portcullis_core::config::check_core_config(cc).map_err(|m| ApiError::bad(format!("Invalid core config: {m}")))?;
    }
    Ok(V2Update { first_factors, required_secondary_factors, core_config })
}

async fn create_or_update(ctx: &Ctx, target: TenantIdentifier, body: &Body) -> Result<Response, ApiError> {
    let update = v2_update(body)?;
    if ctx.protect_configs && update.core_config.as_ref().is_some_and(|c| c.keys().any(|k| is_protected(k))) {
        return Err(forbidden("Not allowed to modify DB related configs."));
    }
    if target.is_base() && update.core_config.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::bad("Cannot modify base config"));
    }
    let created = ctx
        .registry()
        .create_or_update(&ctx.id, &target, |t| {
            t.apply_v2(update);
            Ok(())
        })
        .await?;
    json(json!({"status": "OK", "createdNew": created}))
}

pub async fn create_or_update_cud(ctx: &Ctx) -> Result<Response, ApiError> {
    if !ctx.id.is_base() {
        return Err(forbidden(
            "Only the public tenantId, public appId and default connectionUriDomain is allowed to create or update a connectionUriDomain",
        ));
    }
    let body = ctx.body()?;
    let cud = normalise_cud(&body.str("connectionUriDomain")?).map_err(ApiError::BadRequest)?;
    create_or_update(ctx, TenantIdentifier::new(&cud, PUBLIC, PUBLIC), &body).await
}

pub async fn create_or_update_app(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    if ctx.id.app_id != PUBLIC || !ctx.id.is_public_tenant() {
        return Err(forbidden("Only the public tenantId and public appId is allowed to create or update an app"));
    }
    let body = ctx.body()?;
    let app_id = normalise_app_id(&body.str("appId")?).map_err(ApiError::BadRequest)?;
    create_or_update(ctx, TenantIdentifier::new(&ctx.id.cud, &app_id, PUBLIC), &body).await
}

pub async fn create_or_update_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    if !ctx.id.is_public_tenant() {
        return Err(forbidden("Only the public tenantId is allowed to create or update a tenant"));
    }
    let body = ctx.body()?;
    let tenant_id = normalise_tenant_id(&body.str("tenantId")?).map_err(ApiError::BadRequest)?;
    create_or_update(ctx, TenantIdentifier::new(&ctx.id.cud, &ctx.id.app_id, &tenant_id), &body).await
}

fn tenant_json(ctx: &Ctx, t: &Tenant) -> Value {
    let mut out = t.config.to_json_v2();
    if ctx.protect_configs {
        if let Some(Value::Object(cc)) = out.get_mut("coreConfig") {
            cc.retain(|k, _| !is_protected(k));
        }
    }
    out
}

pub fn get_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    match ctx.snapshot.get(&ctx.id) {
        None => {
            // The app must exist; an unknown tenant of a known app is a business outcome.
            if !ctx.snapshot.app_exists(&ctx.id.cud, &ctx.id.app_id) {
                return Err(ApiError::tenant_not_found(&ctx.id));
            }
            json(json!({"status": "TENANT_NOT_FOUND_ERROR"}))
        }
        Some(t) => {
            let mut out = tenant_json(ctx, t);
            if let Value::Object(o) = &mut out {
                o.insert("status".into(), json!("OK"));
            }
            json(out)
        }
    }
}

pub fn list_tenants(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    if !ctx.id.is_public_tenant() {
        return Err(forbidden("Only the public tenantId is allowed to list all tenants associated with this app"));
    }
    let tenants: Vec<Value> = ctx.snapshot.tenants_of_app(&ctx.id.cud, &ctx.id.app_id).map(|t| tenant_json(ctx, t)).collect();
    json(json!({"status": "OK", "tenants": tenants}))
}

fn apps_of_cud(ctx: &Ctx, cud: &str) -> Vec<Value> {
    let mut apps: Vec<Value> = Vec::new();
    let mut current: Option<(String, Vec<Value>)> = None;
    for t in ctx.snapshot.tenants.values().filter(|t| t.config.id.cud == cud) {
        let app_id = &t.config.id.app_id;
        if current.as_ref().is_some_and(|(a, _)| a != app_id) {
            if let Some((a, ts)) = current.take() {
                apps.push(json!({"appId": a, "tenants": ts}));
            }
        }
        current.get_or_insert_with(|| (app_id.clone(), Vec::new())).1.push(tenant_json(ctx, t));
    }
    if let Some((a, ts)) = current {
        apps.push(json!({"appId": a, "tenants": ts}));
    }
    apps
}

pub fn list_apps(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    if ctx.id.app_id != PUBLIC || !ctx.id.is_public_tenant() {
        return Err(forbidden(
            "Only the public tenantId and public appId is allowed to list all apps associated with this connection uri domain",
        ));
    }
    json(json!({"status": "OK", "apps": apps_of_cud(ctx, &ctx.id.cud)}))
}

pub fn list_cuds(ctx: &Ctx) -> Result<Response, ApiError> {
    if !ctx.id.is_base() {
        return Err(forbidden(
            "Only the public tenantId, public appId and default connectionUriDomain is allowed to list all connectionUriDomains and appIds associated with this core",
        ));
    }
    let mut cuds: Vec<&str> = ctx.snapshot.tenants.keys().map(|k| k.cud.as_str()).collect();
    cuds.dedup();
    let list: Vec<Value> =
        cuds.into_iter().map(|c| json!({"connectionUriDomain": c, "apps": apps_of_cud(ctx, c)})).collect();
    json(json!({"status": "OK", "connectionUriDomains": list}))
}

pub async fn remove_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    if !ctx.id.is_public_tenant() {
        return Err(forbidden("Only the public tenantId is allowed to delete a tenant"));
    }
    let tenant_id = normalise_tenant_id(&ctx.body()?.str("tenantId")?).map_err(ApiError::BadRequest)?;
    if tenant_id == PUBLIC {
        return Err(forbidden("Cannot delete public tenant, use remove app API instead"));
    }
    let target = TenantIdentifier::new(&ctx.id.cud, &ctx.id.app_id, &tenant_id);
    let did_exist = ctx.registry().remove(|id| *id == target).await?;
    json(json!({"status": "OK", "didExist": did_exist}))
}

pub async fn remove_app(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    if ctx.id.app_id != PUBLIC || !ctx.id.is_public_tenant() {
        return Err(forbidden("Only the public tenantId and public appId is allowed to delete an app"));
    }
    let app_id = normalise_app_id(&ctx.body()?.str("appId")?).map_err(ApiError::BadRequest)?;
    if app_id == PUBLIC {
        return Err(forbidden("Cannot delete the public app, use remove connection uri domain API instead"));
    }
    let cud = ctx.id.cud.clone();
    let did_exist = ctx.registry().remove(|id| id.cud == cud && id.app_id == app_id).await?;
    json(json!({"status": "OK", "didExist": did_exist}))
}

pub async fn remove_cud(ctx: &Ctx) -> Result<Response, ApiError> {
    if !ctx.id.is_base() {
        return Err(forbidden(
            "Only the public tenantId, public appId and default connectionUriDomain is allowed to delete a connectionUriDomain",
        ));
    }
    let cud = normalise_cud(&ctx.body()?.str("connectionUriDomain")?).map_err(ApiError::BadRequest)?;
    if cud == DEFAULT_CUD {
        return Err(forbidden("Cannot delete the default connection uri domain"));
    }
    let did_exist = ctx.registry().remove(|id| id.cud == cud).await?;
    json(json!({"status": "OK", "didExist": did_exist}))
}

pub async fn create_or_update_third_party(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    let body = ctx.body()?;
    let config = body.object("config")?;
    let provider: Provider = serde_json::from_value(Value::Object(config))
        .map_err(|e| ApiError::bad(format!("Invalid third party config: {e}")))?;
    let skip_validation = body.opt_bool("skipValidation")?.unwrap_or(false);
    provider
        .validate(!skip_validation)
        .map_err(|m| ApiError::bad(format!("Invalid third party config: {m}")))?;
    let mut created = false;
    ctx.registry()
        .create_or_update(&ctx.id, &ctx.id, |t| {
            created = t.upsert_provider(provider);
            Ok(())
        })
        .await?;
    json(json!({"status": "OK", "createdNew": created}))
}

pub async fn remove_third_party(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    let third_party_id = ctx.body()?.str("thirdPartyId")?;
    let mut existed = false;
    ctx.registry()
        .create_or_update(&ctx.id, &ctx.id, |t| {
            existed = t.remove_provider(&third_party_id);
            Ok(())
        })
        .await?;
    json(json!({"status": "OK", "didConfigExist": existed}))
}
