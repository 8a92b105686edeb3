//! The session and JWT recipes' APIs, and the JWKS.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::services::ActivityLog;
use portcullis_core::session::access_token::check_custom_claims_for;
use portcullis_core::session::versions::{self, FieldRule, HandshakeSettings, LegacyKeys};
use portcullis_core::session::jwt::{self, JwtOutcome, JwtRequest};
use portcullis_core::session::revocation::{self, Within};
use portcullis_core::session::storage::SessionStorage;
use portcullis_core::session::{self as rules, tenant_of_handle, SessionCtx, SessionData, SessionError};
use serde_json::{json, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::version::Version;
use crate::keys::AppKeyProvider;
use crate::tenancy::Tenant;

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::BadInput(m) => ApiError::BadRequest(m),
            SessionError::Storage(s) => s.into(),
            SessionError::Crypto(c) => ApiError::Internal(c.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Business outcomes of the session recipe are 200s with a status; the rest are errors.
fn outcome(e: SessionError) -> Result<Response, ApiError> {
    match e {
        SessionError::Unauthorised(m) => json(json!({"status": Status::Unauthorised, "message": m})),
        SessionError::TryRefreshToken(m) => json(json!({"status": Status::TryRefreshToken, "message": m})),
        SessionError::TokenTheft { handle, user_id, recipe_user_id } => json(json!({
            "status": Status::TokenTheftDetected,
            "session": {"handle": handle, "userId": user_id, "recipeUserId": recipe_user_id},
        })),
        other => Err(other.into()),
    }
}

fn storage_of(t: &Tenant) -> &dyn SessionStorage {
    t.storage.as_ref()
}

/// The app's public tenant: where its keys live.
fn app_of(ctx: &Ctx) -> Result<&Arc<Tenant>, ApiError> {
    ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))
}

fn keys<'a>(ctx: &Ctx, app: &'a Arc<Tenant>, now: i64) -> AppKeyProvider<'a> {
    ctx.state.keys.provider(&app.config.id, &app.storage, &app.settings.session, now)
}

/// The legacy key members of CDI 2.x answers (empty from 2.21, so nothing is read then).
async fn legacy_keys(ctx: &Ctx, provider: &AppKeyProvider<'_>, tenant: &Tenant) -> Result<LegacyKeys, ApiError> {
    if ctx.version >= Version::V2_21 {
        return Ok(LegacyKeys::None);
    }
    Ok(provider.legacy_keys(tenant.settings.session.legacy_dynamic_key).await?)
}

/// A request field read, or not, as the version says ([`FieldRule`]).
fn versioned_bool(body: &Body, field: &str, rule: FieldRule) -> Result<Option<bool>, ApiError> {
    match rule {
        FieldRule::NotRead => Ok(None),
        FieldRule::Optional => body.opt_bool(field),
        FieldRule::Required => required_bool(body, field).map(Some),
    }
}

fn required_bool(body: &Body, field: &str) -> Result<bool, ApiError> {
    body.opt_bool(field)?.ok_or_else(|| ApiError::field_invalid(field))
}

fn optional_str(body: &Body, field: &str) -> Result<Option<String>, ApiError> {
    match body.0.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field_invalid(field)),
    }
}

pub async fn create(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let app = app_of(ctx)?;
    let body = ctx.body()?;
    let given = body.str("userId")?;
    let jwt = body.object("userDataInJWT")?;
    let db = body.object("userDataInDatabase")?;
    let enable_anti_csrf = required_bool(&body, "enableAntiCsrf")?;
    // Below 2.21 the app's `access_token_signing_key_dynamic` chooses the key, not the request.
    let use_dynamic = match versions::create_use_dynamic_signing_key(ctx.version) {
        FieldRule::NotRead => tenant.settings.session.legacy_dynamic_key,
        rule => versioned_bool(&body, "useDynamicSigningKey", rule)?.unwrap_or(true),
    };
    let user = rules::session_user(storage_of(tenant), ctx.id.app_key(), &given).await?;
    let user_id = user.user_id.clone();
    let now = ctx.now();
    let provider = keys(ctx, app, now);
    let s = SessionCtx { app: ctx.id.app_key(), storage: storage_of(tenant), keys: &provider, settings: &tenant.settings.session, now, cdi: ctx.version };
    let issued = s.create(&ctx.id.tenant_id, user, jwt, Value::Object(db), enable_anti_csrf, use_dynamic).await?;
    ctx.state.last_active.record(tenant.storage.as_ref(), ctx.id.app_key(), &user_id, now).await;
    let legacy = legacy_keys(ctx, &provider, tenant).await?;
    json(versions::created_json(&issued, ctx.version, &legacy, &json!(Status::Ok)).map_err(|e| ApiError::Internal(e.to_string()))?)
}

pub async fn verify(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app_of(ctx)?;
    let body = ctx.body()?;
    let token = body.str("accessToken")?;
    let anti_csrf = optional_str(&body, "antiCsrfToken")?;
    let do_check = required_bool(&body, "doAntiCsrfCheck")?;
    let enable = required_bool(&body, "enableAntiCsrf")?;
    // Below 2.21 the app's `access_token_blacklisting` decides.
    let check_db = versioned_bool(&body, "checkDatabase", versions::verify_check_database(ctx.version))?
        .unwrap_or(app.settings.session.legacy_check_database);
    let now = ctx.now();
    let provider = keys(ctx, app, now);
    // The token names its tenant; read it first (signature checked) to pick that tenant's storage.
    let probe = SessionCtx { app: ctx.id.app_key(), storage: storage_of(app), keys: &provider, settings: &app.settings.session, now, cdi: ctx.version };
    let result = match probe.read_access_token(&token, true).await {
        Ok(info) => match ctx.tenant_named(&info.tenant_id).await {
            Some(tenant) => {
                let s = SessionCtx { storage: storage_of(&tenant), settings: &tenant.settings.session, ..probe };
                s.verify_read(info, anti_csrf.as_deref(), do_check, enable, check_db).await
            }
            None => Err(SessionError::Unauthorised("The tenant of this session no longer exists".into())),
        },
        Err(e) => Err(e),
    };
    // CDI 2.x SDKs take the current keys from every OK and TRY_REFRESH_TOKEN answer.
    match result {
        Ok(v) => json(versions::verified_json(&v, ctx.version, &legacy_keys(ctx, &provider, app).await?, &json!(Status::Ok))),
        Err(SessionError::TryRefreshToken(m)) => {
            json(versions::try_refresh_json(&m, ctx.version, &legacy_keys(ctx, &provider, app).await?, &json!(Status::TryRefreshToken)))
        }
        Err(e) => outcome(e),
    }
}

pub async fn refresh(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app_of(ctx)?;
    let body = ctx.body()?;
    let token = body.str("refreshToken")?;
    let anti_csrf = optional_str(&body, "antiCsrfToken")?;
    let enable = required_bool(&body, "enableAntiCsrf")?;
    let use_dynamic = versioned_bool(&body, "useDynamicSigningKey", versions::refresh_use_dynamic_signing_key(ctx.version))?;
    let now = ctx.now();
    let provider = keys(ctx, app, now);
    let master = provider_master(&provider).await?;
    let Some(info) = portcullis_core::session::refresh_token::parse(&master, &token) else {
        return outcome(SessionError::Unauthorised("Invalid refresh token".into()));
    };
    let Some(tenant) = ctx.tenant_named(&info.tenant_id).await else {
        return outcome(SessionError::Unauthorised("The tenant of this session no longer exists".into()));
    };
    let s = SessionCtx { app: ctx.id.app_key(), storage: storage_of(&tenant), keys: &provider, settings: &tenant.settings.session, now, cdi: ctx.version };
    match s.refresh(&token, &info, anti_csrf.as_deref(), enable, use_dynamic).await {
        Ok(i) => {
            ctx.state.last_active.record(tenant.storage.as_ref(), ctx.id.app_key(), &i.session.recipe_user_id, now).await;
            json(versions::refreshed_json(&i, ctx.version, &json!(Status::Ok)).map_err(|e| ApiError::Internal(e.to_string()))?)
        }
        Err(e) => outcome(e),
    }
}

async fn provider_master(p: &AppKeyProvider<'_>) -> Result<Arc<str>, ApiError> {
    use portcullis_core::session::KeyProvider;
    Ok(p.refresh_master_key().await?)
}

pub async fn regenerate(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app_of(ctx)?;
    let body = ctx.body()?;
    let token = body.str("accessToken")?;
    let new_data = body.opt_object("userDataInJWT")?;
    let now = ctx.now();
    let provider = keys(ctx, app, now);
    let probe = SessionCtx { app: ctx.id.app_key(), storage: storage_of(app), keys: &provider, settings: &app.settings.session, now, cdi: ctx.version };
    let info = match probe.read_access_token(&token, false).await {
        Ok(i) => i,
        Err(SessionError::TryRefreshToken(m)) => return outcome(SessionError::Unauthorised(m)),
        Err(e) => return outcome(e),
    };
    let Some(tenant) = ctx.tenant_named(&info.tenant_id).await else {
        return outcome(SessionError::Unauthorised("Session does not exist.".into()));
    };
    let s = SessionCtx { storage: storage_of(&tenant), settings: &tenant.settings.session, ..probe };
    match s.regenerate(&token, new_data).await {
        Ok(v) => json(versions::regenerated_json(&v, ctx.version, &json!(Status::Ok))),
        Err(e) => outcome(e),
    }
}

pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let revoked = if body.has("userId") {
        let user_id = body.str("userId")?;
        let across = body.opt_bool("revokeAcrossAllTenants")?.unwrap_or(true);
        let linked = body.opt_bool("revokeSessionsForLinkedAccounts")?.unwrap_or(true);
        if across {
            ctx.require_public_tenant()?;
        }
        let tenant;
        let within = if across {
            Within::AllTenants
        } else {
            tenant = ctx.tenant()?;
            Within::Tenant(&ctx.id.tenant_id, tenant.storage.as_ref())
        };
        let sessions = revocation::user_sessions(ctx, ctx.id.app_key(), &user_id, within, linked, ctx.now()).await?;
        revocation::revoke(ctx, ctx.id.app_key(), sessions).await?
    } else if body.has("sessionHandles") {
        let handles = match body.0.get("sessionHandles") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| ApiError::field_invalid("sessionHandles")))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(ApiError::field_invalid("sessionHandles")),
        };
        let sessions = handles.into_iter().map(|h| (tenant_of_handle(&h).to_owned(), h)).collect();
        revocation::revoke(ctx, ctx.id.app_key(), sessions).await?
    } else {
        return Err(ApiError::bad("Invalid JSON input - use one of userId or sessionHandles array"));
    };
    json(json!({"status": Status::Ok, "sessionHandlesRevoked": revoked}))
}

pub async fn handles_for_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("userId")?.to_owned();
    let across = ctx.query.get("fetchAcrossAllTenants").map(|v| v.eq_ignore_ascii_case("true")).unwrap_or(true);
    if across {
        ctx.require_public_tenant()?;
        app_of(ctx)?;
    }
    let linked = ctx.query.get("fetchSessionsForAllLinkedAccounts").map(|v| v.eq_ignore_ascii_case("true")).unwrap_or(true);
    let tenant;
    let within = if across {
        Within::AllTenants
    } else {
        tenant = ctx.tenant()?;
        Within::Tenant(&ctx.id.tenant_id, tenant.storage.as_ref())
    };
    let sessions = revocation::user_sessions(ctx, ctx.id.app_key(), &user_id, within, linked, ctx.now()).await?;
    let handles: Vec<String> = sessions.into_iter().map(|(_, h)| h).collect();
    json(json!({"status": Status::Ok, "sessionHandles": handles}))
}

fn session_not_found() -> Result<Response, ApiError> {
    outcome(SessionError::Unauthorised("Session does not exist.".into()))
}

/// The tenant a session handle belongs to.
async fn by_handle(ctx: &Ctx, handle: &str) -> Result<Option<Arc<Tenant>>, ApiError> {
    app_of(ctx)?;
    Ok(ctx.tenant_named(tenant_of_handle(handle)).await)
}

pub async fn get_info(ctx: &Ctx) -> Result<Response, ApiError> {
    let handle = ctx.query.required("sessionHandle")?.to_owned();
    let Some(tenant) = by_handle(ctx, &handle).await? else { return session_not_found() };
    let Some(row) = rules::live_session(storage_of(&tenant), tenant.config.id.key(), &handle, ctx.now()).await? else {
        return session_not_found();
    };
    let mut body = json!({
        "sessionHandle": row.handle,
        "userId": row.primary_user_id.as_deref().unwrap_or(&row.user_id),
        "recipeUserId": row.user_id,
        "userDataInDatabase": row.data(SessionData::Database),
        "expiry": row.expires_at,
        "userDataInJWT": row.data(SessionData::Claims),
        "timeCreated": row.created_at,
        "status": Status::Ok,
        "tenantId": row.tenant_id,
    });
    if let Value::Object(o) = &mut body {
        versions::trim_session_info(o, ctx.version);
    }
    json(body)
}

/// GET and PUT of `userDataInDatabase` (`/recipe/session/data`) and of the claims (`/recipe/jwt/data`).
pub async fn data(ctx: &Ctx, claims: bool) -> Result<Response, ApiError> {
    let (field, which) = if claims { ("userDataInJWT", SessionData::Claims) } else { ("userDataInDatabase", SessionData::Database) };
    if ctx.method == axum::http::Method::GET {
        let handle = ctx.query.required("sessionHandle")?.to_owned();
        let Some(tenant) = by_handle(ctx, &handle).await? else { return session_not_found() };
        return match rules::live_session(storage_of(&tenant), tenant.config.id.key(), &handle, ctx.now()).await? {
            None => session_not_found(),
            Some(r) => json(json!({"status": Status::Ok, field: r.data(which)})),
        };
    }
    let body = ctx.body()?;
    let handle = body.str("sessionHandle")?;
    let value = body.object(field)?;
    if let Some(version) = versions::jwt_data_protected_check(ctx.version).filter(|_| claims) {
        check_custom_claims_for(version, &value).map_err(ApiError::BadRequest)?;
    }
    let Some(tenant) = by_handle(ctx, &handle).await? else { return session_not_found() };
    if !rules::update_data(storage_of(&tenant), tenant.config.id.key(), &handle, which, value).await? {
        return session_not_found();
    }
    json(json!({"status": Status::Ok}))
}

/// `/.well-known/jwks.json` (no status) and `/recipe/jwt/jwks`.
pub async fn jwks(ctx: &Ctx, with_status: bool) -> Result<Response, ApiError> {
    let app = app_of(ctx)?;
    let (keys, max_age) = keys(ctx, app, ctx.now()).jwks().await?;
    let mut body = if with_status { json!({"status": Status::Ok, "keys": keys}) } else { json!({"keys": keys}) }.to_string();
    body.push('\n');
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json; charset=UTF-8".to_owned()),
            (header::CACHE_CONTROL, format!("max-age={max_age}, must-revalidate")),
        ],
        body,
    )
        .into_response())
}

/// `POST /recipe/jwt`: a JWT with a custom payload, signed with the app's static key by default.
pub async fn create_jwt(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let app = app_of(ctx)?;
    let body = ctx.body()?;
    let payload = body.object("payload")?;
    let algorithm = body.str("algorithm")?;
    let jwks_domain = body.str("jwksDomain")?;
    let validity = match body.0.get("validity") {
        // A fraction is truncated as the core does; a number outside i64 (1e308) is refused,
        // never saturated into an `exp` of i64::MAX.
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 9.2e18).map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| ApiError::field_invalid("validity"))?;
    jwt::check_validity(validity)?;
    let use_static_key = versioned_bool(&body, "useStaticSigningKey", versions::jwt_use_static_signing_key(ctx.version))?.unwrap_or(true);
    let now = ctx.now();
    let provider = keys(ctx, app, now);
    let request = JwtRequest { payload, algorithm, jwks_domain, validity, use_static_key };
    match jwt::create(&provider, request, now).await? {
        JwtOutcome::Created(jwt) => json(json!({"status": Status::Ok, "jwt": jwt})),
        JwtOutcome::UnsupportedAlgorithm => json(json!({"status": Status::UnsupportedAlgorithm})),
    }
}

/// `POST /recipe/handshake` (CDI 2.7 – 2.20): the keys and settings an SDK of that era verifies
/// tokens with; from 2.21 (and without a `cdi-version` header) the route is not found.
pub async fn handshake(ctx: &Ctx) -> Result<Response, ApiError> {
    if !versions::handshake_served(ctx.version) {
        return Err(ApiError::NotFound);
    }
    let tenant = ctx.tenant()?;
    let app = app_of(ctx)?;
    let provider = keys(ctx, app, ctx.now());
    let legacy = provider.legacy_keys(tenant.settings.session.legacy_dynamic_key).await?;
    let settings = HandshakeSettings {
        access_token_blacklisting: tenant.settings.session.legacy_check_database,
        access_token_validity_ms: tenant.settings.session.access_validity_ms,
        refresh_token_validity_ms: tenant.settings.session.refresh_validity_ms,
    };
    json(versions::handshake_json(ctx.version, &legacy, settings, &json!(Status::Ok)).ok_or(ApiError::NotFound)?)
}
