//! Hello, API versions, licence and feature flags, telemetry, config path.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portcullis_core::ids::PUBLIC;
use serde_json::json;

use crate::http::error::{text, ApiError};
use crate::http::reply::json;
use crate::http::ctx::Ctx;
use crate::http::status::Status;

/// The key_value entry the core writes once per app: a random id (Portcullis sends no telemetry).
pub const TELEMETRY_ID_KEY: &str = "TELEMETRY_ID";

/// Every enterprise feature of the SuperTokens core; Portcullis has no paid features, so all are on.
const FEATURES: &[&str] = &["account_linking", "multi_tenancy", "dashboard_login", "mfa", "security", "oauth", "saml"];

/// `/hello` and `/`: the app (and for `/` the tenant) must exist and its databases must answer.
pub async fn hello(ctx: &Ctx, is_root: bool) -> Result<Response, ApiError> {
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    if is_root && ctx.snapshot.get(&ctx.id).is_none() {
        return Err(ApiError::NotFound);
    }
    let tenants = ctx.snapshot.tenants_of_app(&app.config.id.cud, &app.config.id.app_id);
    ctx.registry().ping(tenants).await?;
    Ok(text(StatusCode::OK, "Hello"))
}

/// `/health`: pings every database in use, all at once, each bounded by the database timeout.
/// 200 when all answer, 503 when any does not; the body says how many (never which or why: it
/// is unauthenticated).
pub async fn health(ctx: &Ctx) -> Result<Response, ApiError> {
    let mut pings = tokio::task::JoinSet::new();
    for storage in crate::tenancy::Snapshot::distinct_storages(ctx.snapshot.tenants.values()) {
        let storage = std::sync::Arc::clone(storage);
        pings.spawn(async move { storage.ping().await });
    }
    let (mut total, mut failed) = (0, 0);
    while let Some(result) = pings.join_next().await {
        total += 1;
        if let Err(e) = result.map_err(|e| e.to_string()).and_then(|r| r.map_err(|e| e.to_string())) {
            failed += 1;
            tracing::warn!(error = %e, "health check: a database does not answer");
        }
    }
    let body = json!({"status": if failed == 0 { Status::Ok } else { Status::Unavailable }, "databases": total, "unavailable": failed});
    let status = if failed == 0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, [(axum::http::header::CONTENT_TYPE, "application/json")], body.to_string()).into_response())
}

/// `/user/search/tags`: the tags `GET /users` searches by.
pub fn search_tags(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    json(json!({"status": Status::Ok, "tags": ["email", "phone", "provider"]}))
}

pub fn api_version(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    ctx.require_public_tenant()?;
    let max = portcullis_core::cdi::max_version(ctx.app_access().max_cdi.as_deref());
    json(json!({ "versions": portcullis_core::cdi::api_versions(max) }))
}

/// `/config?pid=`: the path of the config file, only to a caller who knows this process's id.
pub fn config(ctx: &Ctx) -> Result<Response, ApiError> {
    if !ctx.id.is_base() {
        return Err(ApiError::Forbidden(
            "you can call this only from the base connection uri domain, public app and tenant".into(),
        ));
    }
    let pid = ctx.query.required("pid")?;
    if pid.trim() != std::process::id().to_string() {
        return json(json!({"status": Status::NotAllowed}));
    }
    let path = ctx
        .state
        .config_path
        .as_ref()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.display().to_string());
    json(json!({"status": Status::Ok, "path": path}))
}

pub async fn telemetry(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    ctx.require_public_tenant()?;
    let id = tenant.storage.key_value_get(ctx.id.app_key().tenant(PUBLIC), TELEMETRY_ID_KEY).await?;
    match id {
        Some(id) => json(json!({"status": Status::Ok, "exists": true, "telemetryId": id})),
        None => json(json!({"status": Status::Ok, "exists": false})),
    }
}

/// Licence keys are accepted and ignored: every feature is available without one.
pub fn license(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    ctx.require_public_tenant()?;
    match ctx.method.as_str() {
        "GET" => json(json!({"status": Status::NoLicenseKeyFound})),
        _ => json(json!({"status": Status::Ok})),
    }
}

pub fn feature_flags(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.tenant()?;
    ctx.require_public_tenant()?;
    json(json!({"status": Status::Ok, "features": FEATURES, "usageStats": {}}))
}
