//! Dashboard users and their sessions (create, list, update, delete users; sign in, verify, list and
//! revoke sessions), the active-users count the dashboard's analytics read, and a tenant's settings
//! as its tenant page shows them. Each handler parses its request, calls
//! `portcullis_core::dashboard`, and renders the outcome.

use axum::response::Response;
use portcullis_core::config::about::dashboard_fields;
use portcullis_core::dashboard::storage::{DashboardUser, DashboardUserKey};
use portcullis_core::dashboard::{self as recipe, UserOutcome, WEAK_PASSWORD};
use portcullis_core::users::normalise_email;
use serde_json::{json, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::version::Version;
use crate::tenancy::Tenant;

fn app(ctx: &Ctx) -> Result<&std::sync::Arc<Tenant>, ApiError> {
    ctx.require_public_tenant()?;
    ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))
}

fn user_json(u: &DashboardUser) -> Value {
    json!({"userId": u.user_id, "email": u.email, "timeJoined": u.time_joined})
}

/// The reply for a created or updated user.
fn render(outcome: UserOutcome) -> Result<Response, ApiError> {
    json(match outcome {
        UserOutcome::Ok(u) => json!({"status": Status::Ok, "user": user_json(&u)}),
        UserOutcome::InvalidEmail => json!({"status": Status::InvalidEmail}),
        UserOutcome::PasswordWeak => json!({"status": Status::PasswordWeak, "message": WEAK_PASSWORD}),
        UserOutcome::EmailAlreadyExists => json!({"status": Status::EmailAlreadyExists}),
        UserOutcome::UnknownUser => json!({"status": Status::UnknownUser}),
    })
}

pub async fn create_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    let (storage, settings) = (app.storage.as_ref(), &app.settings.passwords);
    render(recipe::create_user(storage, &ctx.state.hashing, settings, ctx.id.app_key(), ctx.now(), email, password).await?)
}

/// The user a request names by `userId` or `email` (body or query).
fn user_key(user_id: Option<String>, email: Option<String>) -> Result<DashboardUserKey, ApiError> {
    match (user_id, email) {
        (Some(id), _) if !id.trim().is_empty() => Ok(DashboardUserKey::Id(id.trim().to_owned())),
        (_, Some(email)) if !email.trim().is_empty() => Ok(DashboardUserKey::Email(normalise_email(&email))),
        _ => Err(ApiError::bad("Either field 'userId' or 'email' must be present")),
    }
}

fn optional_string(body: &Body, field: &str) -> Result<Option<String>, ApiError> {
    match body.0.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field_invalid(field)),
    }
}

pub async fn list_users(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let users = app.storage.dashboard_users(ctx.id.app_key()).await?;
    json(json!({"status": Status::Ok, "users": users.iter().map(user_json).collect::<Vec<_>>()}))
}

/// `PUT /recipe/dashboard/user`: a new email and/or password for the user named by id or email.
pub async fn update_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let body = ctx.body()?;
    let key = user_key(optional_string(&body, "userId")?, optional_string(&body, "email")?)?;
    let new_email = optional_string(&body, "newEmail")?.map(|e| normalise_email(&e));
    let new_password = optional_string(&body, "newPassword")?;
    let (storage, settings) = (app.storage.as_ref(), &app.settings.passwords);
    render(recipe::update_user(storage, &ctx.state.hashing, settings, ctx.id.app_key(), &key, new_email, new_password).await?)
}

pub async fn delete_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let key = user_key(ctx.query.get("userId").map(str::to_owned), ctx.query.get("email").map(str::to_owned))?;
    let existed = recipe::delete_user(app.storage.as_ref(), ctx.id.app_key(), &key).await?;
    json(json!({"status": Status::Ok, "didUserExist": existed}))
}

pub async fn sessions_of_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let user_id = ctx.query.required("userId")?.trim().to_owned();
    let sessions = app.storage.dashboard_sessions_of(ctx.id.app_key(), &user_id).await?;
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|s| json!({"sessionId": s.session_id, "userId": s.user_id, "timeCreated": s.time_created, "expiry": s.expiry}))
        .collect();
    json(json!({"status": Status::Ok, "sessions": sessions}))
}

/// `GET /users/count/active?since=<ms>`.
pub async fn active_users_count(ctx: &Ctx) -> Result<Response, ApiError> {
    app(ctx)?;
    let since: i64 = ctx
        .query
        .required("since")?
        .trim()
        .parse()
        .ok()
        .filter(|s| *s >= 0)
        .ok_or_else(|| ApiError::bad("'since' must be a non-negative number"))?;
    let storages = ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id);
    let count = recipe::active_users_count(&storages, ctx.id.app_key(), since).await?;
    json(json!({"status": Status::Ok, "count": count}))
}

pub async fn sign_in(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    let (storage, settings) = (app.storage.as_ref(), &app.settings.passwords);
    json(match recipe::sign_in(storage, &ctx.state.hashing, settings, ctx.id.app_key(), ctx.now(), &email, password).await? {
        Some(session_id) => json!({"status": Status::Ok, "sessionId": session_id}),
        None => json!({"status": Status::InvalidCredentials}),
    })
}

pub async fn verify_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let session_id = ctx.body()?.str("sessionId")?;
    json(match app.storage.dashboard_session_email(ctx.id.app_key(), &session_id, ctx.now()).await? {
        // The signed-in dashboard user's email is part of the answer from CDI 3.0.
        Some(email) if ctx.version >= Version::V3_0 => json!({"status": Status::Ok, "email": email}),
        Some(_) => json!({"status": Status::Ok}),
        None => json!({"status": Status::InvalidSession}),
    })
}

pub async fn revoke_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let session_id = ctx.query.required("sessionId")?.to_owned();
    app.storage.dashboard_session_delete(ctx.id.app_key(), &session_id).await?;
    json(json!({"status": Status::Ok}))
}

/// `GET /<t>/recipe/dashboard/tenant/core-config`: the tenant's effective settings as rows of the
/// dashboard's tenant page (see `config::about`). Secrets (API keys, database password and URI)
/// are never listed.
pub fn tenant_core_config(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let fields = dashboard_fields(&tenant.effective, ctx.protect_configs);
    json(json!({"status": Status::Ok, "config": fields}))
}
