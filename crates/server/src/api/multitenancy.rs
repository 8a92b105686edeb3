//! Connection-URI domains, apps and tenants (the v2 APIs), and per-tenant third-party providers.

use axum::response::Response;
use portcullis_core::config::keys::is_protected;
use portcullis_core::ids::{normalise_app_id, normalise_cud, normalise_tenant_id, TenantIdentifier, PUBLIC};
use portcullis_core::multitenancy::rules::{self, Act, Scope};
use portcullis_core::multitenancy::legacy::{self, LegacyUpdate};
use portcullis_core::multitenancy::{check_factor_list, Provider, V2Update};
use serde_json::{json, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::version::Version;
use crate::tenancy::Tenant;

/// Reads the v2 fields shared by the domain, app and tenant create-or-update APIs.
fn v2_update(body: &Body) -> Result<V2Update, ApiError> {
    for (legacy, name) in rules::LEGACY_FIELDS {
        if body.has(legacy) {
            return Err(rules::legacy_field(name).into());
        }
    }
    let first_factors = body.opt_nullable_strings("firstFactors")?;
    let required_secondary_factors = body.opt_nullable_strings("requiredSecondaryFactors")?;
    for (name, list) in [("firstFactors", &first_factors), ("requiredSecondaryFactors", &required_secondary_factors)] {
        if let Some(Some(l)) = list {
            check_factor_list(name, l).map_err(ApiError::BadRequest)?;
        }
    }
    rules::check_required_secondary(&required_secondary_factors)?;
    let core_config = body.opt_object("coreConfig")?;
    if let Some(cc) = &core_config {
        rules::check_core_config(cc)?;
    }
    Ok(V2Update { first_factors, required_secondary_factors, core_config })
}

async fn create_or_update(ctx: &Ctx, target: TenantIdentifier, body: &Body) -> Result<Response, ApiError> {
    let update = v2_update(body)?;
    rules::check_update(ctx.protect_configs, &target, &update)?;
    let created = ctx
        .registry()
        .create_or_update(&ctx.id, &target, |t| {
            t.apply_v2(update);
            Ok(())
        })
        .await?;
    json(json!({"status": Status::Ok, "createdNew": created}))
}

pub async fn create_or_update_cud(ctx: &Ctx) -> Result<Response, ApiError> {
    rules::may(&ctx.id, Scope::ConnectionUriDomain, Act::CreateOrUpdate)?;
    let body = ctx.body()?;
    let cud = normalise_cud(&body.str("connectionUriDomain")?).map_err(ApiError::BadRequest)?;
    create_or_update(ctx, TenantIdentifier::new(&cud, PUBLIC, PUBLIC), &body).await
}

pub async fn create_or_update_app(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::App, Act::CreateOrUpdate)?;
    let body = ctx.body()?;
    let app_id = normalise_app_id(&body.str("appId")?).map_err(ApiError::BadRequest)?;
    create_or_update(ctx, TenantIdentifier::new(&ctx.id.cud, &app_id, PUBLIC), &body).await
}

pub async fn create_or_update_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::Tenant, Act::CreateOrUpdate)?;
    let body = ctx.body()?;
    let tenant_id = normalise_tenant_id(&body.str("tenantId")?).map_err(ApiError::BadRequest)?;
    create_or_update(ctx, TenantIdentifier::new(&ctx.id.cud, &ctx.id.app_id, &tenant_id), &body).await
}

/// Which tenant objects an API shows: the v2 APIs', or the deprecated non-v2 APIs' at the
/// request's CDI version.
#[derive(Clone, Copy)]
enum Shape {
    V2,
    Deprecated,
}

fn tenant_json(ctx: &Ctx, t: &Tenant, shape: Shape) -> Value {
    let mut out = match shape {
        Shape::V2 => t.config.to_json_v2(),
        Shape::Deprecated => legacy::tenant_json(&t.config, ctx.version),
    };
    if ctx.protect_configs {
        if let Some(Value::Object(cc)) = out.get_mut("coreConfig") {
            cc.retain(|k, _| !is_protected(k));
        }
    }
    out
}

pub fn get_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    get_tenant_as(ctx, Shape::V2)
}

fn get_tenant_as(ctx: &Ctx, shape: Shape) -> Result<Response, ApiError> {
    match ctx.snapshot.get(&ctx.id) {
        None => {
            // The app must exist; an unknown tenant of a known app is a business outcome.
            if !ctx.snapshot.app_exists(&ctx.id.cud, &ctx.id.app_id) {
                return Err(ApiError::tenant_not_found(&ctx.id));
            }
            json(json!({"status": Status::TenantNotFound}))
        }
        Some(t) => {
            let mut out = tenant_json(ctx, t, shape);
            if let Value::Object(o) = &mut out {
                o.insert("status".into(), json!(Status::Ok));
            }
            json(out)
        }
    }
}

pub fn list_tenants(ctx: &Ctx) -> Result<Response, ApiError> {
    list_tenants_as(ctx, Shape::V2)
}

fn list_tenants_as(ctx: &Ctx, shape: Shape) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::Tenant, Act::List)?;
    let tenants: Vec<Value> = ctx.snapshot.tenants_of_app(&ctx.id.cud, &ctx.id.app_id).map(|t| tenant_json(ctx, t, shape)).collect();
    json(json!({"status": Status::Ok, "tenants": tenants}))
}

fn apps_of_cud(ctx: &Ctx, cud: &str, shape: Shape) -> Vec<Value> {
    let mut apps: Vec<Value> = Vec::new();
    let mut current: Option<(String, Vec<Value>)> = None;
    for t in ctx.snapshot.tenants.values().filter(|t| t.config.id.cud == cud) {
        let app_id = &t.config.id.app_id;
        if current.as_ref().is_some_and(|(a, _)| a != app_id) {
            if let Some((a, ts)) = current.take() {
                apps.push(json!({"appId": a, "tenants": ts}));
            }
        }
        current.get_or_insert_with(|| (app_id.clone(), Vec::new())).1.push(tenant_json(ctx, t, shape));
    }
    if let Some((a, ts)) = current {
        apps.push(json!({"appId": a, "tenants": ts}));
    }
    apps
}

pub fn list_apps(ctx: &Ctx) -> Result<Response, ApiError> {
    list_apps_as(ctx, Shape::V2)
}

fn list_apps_as(ctx: &Ctx, shape: Shape) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::App, Act::List)?;
    json(json!({"status": Status::Ok, "apps": apps_of_cud(ctx, &ctx.id.cud, shape)}))
}

pub fn list_cuds(ctx: &Ctx) -> Result<Response, ApiError> {
    list_cuds_as(ctx, Shape::V2)
}

fn list_cuds_as(ctx: &Ctx, shape: Shape) -> Result<Response, ApiError> {
    rules::may(&ctx.id, Scope::ConnectionUriDomain, Act::List)?;
    let mut cuds: Vec<&str> = ctx.snapshot.tenants.keys().map(|k| k.cud.as_str()).collect();
    cuds.dedup();
    let list: Vec<Value> =
        cuds.into_iter().map(|c| json!({"connectionUriDomain": c, "apps": apps_of_cud(ctx, c, shape)})).collect();
    json(json!({"status": Status::Ok, "connectionUriDomains": list}))
}

pub async fn remove_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::Tenant, Act::Remove)?;
    let tenant_id = normalise_tenant_id(&ctx.body()?.str("tenantId")?).map_err(ApiError::BadRequest)?;
    rules::removable(Scope::Tenant, &tenant_id)?;
    let target = TenantIdentifier::new(&ctx.id.cud, &ctx.id.app_id, &tenant_id);
    let did_exist = ctx.registry().remove(|id| *id == target).await?;
    json(json!({"status": Status::Ok, "didExist": did_exist}))
}

pub async fn remove_app(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::App, Act::Remove)?;
    let app_id = normalise_app_id(&ctx.body()?.str("appId")?).map_err(ApiError::BadRequest)?;
    rules::removable(Scope::App, &app_id)?;
    let cud = ctx.id.cud.clone();
    let did_exist = ctx.registry().remove(|id| id.cud == cud && id.app_id == app_id).await?;
    json(json!({"status": Status::Ok, "didExist": did_exist}))
}

pub async fn remove_cud(ctx: &Ctx) -> Result<Response, ApiError> {
    rules::may(&ctx.id, Scope::ConnectionUriDomain, Act::Remove)?;
    let cud = normalise_cud(&ctx.body()?.str("connectionUriDomain")?).map_err(ApiError::BadRequest)?;
    rules::removable(Scope::ConnectionUriDomain, &cud)?;
    let did_exist = ctx.registry().remove(|id| id.cud == cud).await?;
    json(json!({"status": Status::Ok, "didExist": did_exist}))
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
    json(json!({"status": Status::Ok, "createdNew": created}))
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
    json(json!({"status": Status::Ok, "didConfigExist": existed}))
}

// The deprecated non-v2 APIs (`…/connectionuridomain`, `…/app`, `…/tenant` and their lists), still
// called by SDKs of CDI 3.0 – 5.0: per-recipe `enabled` flags, whose meaning and defaults changed at 5.0
// (the rules are `multitenancy::legacy`'s).

/// Reads a deprecated create-or-update request: the three recipe flags, from 5.0 the two factor
/// lists, and the core config.
fn deprecated_update(ctx: &Ctx, body: &Body) -> Result<LegacyUpdate, ApiError> {
    let modern = ctx.version >= Version::V5_0;
    let update = LegacyUpdate {
        email_password_enabled: body.opt_bool("emailPasswordEnabled")?,
        third_party_enabled: body.opt_bool("thirdPartyEnabled")?,
        passwordless_enabled: body.opt_bool("passwordlessEnabled")?,
        first_factors: if modern { body.opt_nullable_strings("firstFactors")? } else { None },
        required_secondary_factors: if modern { body.opt_nullable_strings("requiredSecondaryFactors")? } else { None },
        core_config: body.opt_object("coreConfig")?,
    };
    if let Some(cc) = &update.core_config {
        rules::check_core_config(cc)?;
    }
    if modern {
        legacy::check_update_5_0(&update).map_err(ApiError::BadRequest)?;
    }
    Ok(update)
}

async fn deprecated_create_or_update(ctx: &Ctx, target: TenantIdentifier, body: &Body) -> Result<Response, ApiError> {
    let update = deprecated_update(ctx, body)?;
    let as_v2 = V2Update { first_factors: None, required_secondary_factors: None, core_config: update.core_config.clone() };
    rules::check_update(ctx.protect_configs, &target, &as_v2)?;
    let cdi = ctx.version;
    let created = ctx
        .registry()
        .create_or_update_from(&ctx.id, &target, |id| legacy::new_tenant(id, cdi), |t| {
            legacy::apply_update(t, &update, cdi);
            legacy::check_factor_names(t)
        })
        .await?;
    json(json!({"status": Status::Ok, "createdNew": created}))
}

/// `PUT /recipe/multitenancy/connectionuridomain` (deprecated).
pub async fn deprecated_create_or_update_cud(ctx: &Ctx) -> Result<Response, ApiError> {
    rules::may(&ctx.id, Scope::ConnectionUriDomain, Act::CreateOrUpdate)?;
    let body = ctx.body()?;
    let cud = normalise_cud(&body.str("connectionUriDomain")?).map_err(ApiError::BadRequest)?;
    deprecated_create_or_update(ctx, TenantIdentifier::new(&cud, PUBLIC, PUBLIC), &body).await
}

/// `PUT /recipe/multitenancy/app` (deprecated).
pub async fn deprecated_create_or_update_app(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::App, Act::CreateOrUpdate)?;
    let body = ctx.body()?;
    let app_id = normalise_app_id(&body.str("appId")?).map_err(ApiError::BadRequest)?;
    deprecated_create_or_update(ctx, TenantIdentifier::new(&ctx.id.cud, &app_id, PUBLIC), &body).await
}

/// `PUT /<t>/recipe/multitenancy/tenant` (deprecated).
pub async fn deprecated_create_or_update_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    rules::may(&ctx.id, Scope::Tenant, Act::CreateOrUpdate)?;
    let body = ctx.body()?;
    let tenant_id = normalise_tenant_id(&body.str("tenantId")?).map_err(ApiError::BadRequest)?;
    deprecated_create_or_update(ctx, TenantIdentifier::new(&ctx.id.cud, &ctx.id.app_id, &tenant_id), &body).await
}

/// `GET /<t>/recipe/multitenancy/tenant` (deprecated).
pub fn deprecated_get_tenant(ctx: &Ctx) -> Result<Response, ApiError> {
    get_tenant_as(ctx, Shape::Deprecated)
}

/// `GET /<t>/recipe/multitenancy/tenant/list` (deprecated).
pub fn deprecated_list_tenants(ctx: &Ctx) -> Result<Response, ApiError> {
    list_tenants_as(ctx, Shape::Deprecated)
}

/// `GET /recipe/multitenancy/app/list` (deprecated).
pub fn deprecated_list_apps(ctx: &Ctx) -> Result<Response, ApiError> {
    list_apps_as(ctx, Shape::Deprecated)
}

/// `GET /recipe/multitenancy/connectionuridomain/list` (deprecated).
pub fn deprecated_list_cuds(ctx: &Ctx) -> Result<Response, ApiError> {
    list_cuds_as(ctx, Shape::Deprecated)
}
