//! Dashboard users and their sessions (create, list, update, delete users; sign in, verify, list and
//! revoke sessions), the active-users count the dashboard's analytics read, and a tenant's settings
//! as its tenant page shows them.

use axum::response::Response;
use portcullis_core::config::about::dashboard_fields;
use portcullis_core::crypto::uuid_v4;
use portcullis_core::dashboard::storage::{DashboardUser, DashboardUserKey};
use portcullis_core::users::normalise_email;
use serde_json::{json, Value};

use portcullis_core::services::PasswordHasher;

use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::ctx::Ctx;
use crate::tenancy::Tenant;

/// Dashboard sessions last 30 days, as the core's do.
const SESSION_LIFETIME_MS: i64 = 30 * 24 * 3_600_000;

fn app(ctx: &Ctx) -> Result<&std::sync::Arc<Tenant>, ApiError> {
    ctx.require_public_tenant()?;
    ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !email.contains(char::is_whitespace)
}

/// The core's rule for dashboard passwords: 8 to 100 characters with a letter and a digit.
fn strong_enough(password: &str) -> bool {
    let n = password.chars().count();
    (8..=100).contains(&n) && password.chars().any(|c| c.is_ascii_alphabetic()) && password.chars().any(|c| c.is_ascii_digit())
}

pub async fn create_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    if !valid_email(&email) {
        return json(json!({"status": "INVALID_EMAIL_ERROR"}));
    }
    if !strong_enough(&password) {
        return json(json!({"status": "PASSWORD_WEAK_ERROR", "message": WEAK}));
    }
    let password_hash = ctx.state.hashing.hash(&app.settings.passwords, password).await?;
    let user = DashboardUser {
        user_id: uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?,
        email,
        password_hash,
        time_joined: ctx.now(),
    };
    if !app.storage.dashboard_user_create(ctx.id.app_key(), &user).await? {
        return json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
    }
    json(json!({"status": "OK", "user": user_json(&user)}))
}

fn user_json(u: &DashboardUser) -> Value {
    json!({"userId": u.user_id, "email": u.email, "timeJoined": u.time_joined})
}

const WEAK: &str = "Password must contain at least 8 characters, including a number";

/// The user a request names by `userId` or `email` (body or query).
fn user_key(user_id: Option<String>, email: Option<String>) -> Result<DashboardUserKey, ApiError> {
    match (user_id, email) {
        (Some(id), _) if !id.trim().is_empty() => Ok(DashboardUserKey::Id(id.trim().to_owned())),
        (_, Some(email)) if !email.trim().is_empty() => Ok(DashboardUserKey::Email(normalise_email(&email))),
        _ => Err(ApiError::bad("Either field 'userId' or 'email' must be present")),
    }
}

fn optional_string(body: &crate::http::input::Body, field: &str) -> Result<Option<String>, ApiError> {
    match body.0.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field_invalid(field)),
    }
}

pub async fn list_users(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let users = app.storage.dashboard_users(ctx.id.app_key()).await?;
    json(json!({"status": "OK", "users": users.iter().map(user_json).collect::<Vec<_>>()}))
}

/// `PUT /recipe/dashboard/user`: a new email and/or password for the user named by id or email.
pub async fn update_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let body = ctx.body()?;
    let key = user_key(optional_string(&body, "userId")?, optional_string(&body, "email")?)?;
    let new_email = optional_string(&body, "newEmail")?.map(|e| normalise_email(&e));
    let new_password = optional_string(&body, "newPassword")?;
    if new_email.as_deref().is_some_and(|e| !valid_email(e)) {
        return json(json!({"status": "INVALID_EMAIL_ERROR"}));
    }
    if new_password.as_deref().is_some_and(|p| !strong_enough(p)) {
        return json(json!({"status": "PASSWORD_WEAK_ERROR", "message": WEAK}));
    }
    let Some(user) = app.storage.dashboard_user_find(ctx.id.app_key(), &key).await? else {
        return json(json!({"status": "UNKNOWN_USER_ERROR"}));
    };
    let hash = match new_password {
        Some(p) => Some(ctx.state.hashing.hash(&app.settings.passwords, p).await?),
        None => None,
    };
    if !app.storage.dashboard_user_update(ctx.id.app_key(), &user.user_id, new_email.as_deref(), hash.as_deref()).await? {
        return json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
    }
    let updated = app.storage.dashboard_user_find(ctx.id.app_key(), &DashboardUserKey::Id(user.user_id)).await?;
    match updated {
        Some(u) => json(json!({"status": "OK", "user": user_json(&u)})),
        // Deleted between the update and this read.
        None => json(json!({"status": "UNKNOWN_USER_ERROR"})),
    }
}

pub async fn delete_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let key = user_key(ctx.query.get("userId").map(str::to_owned), ctx.query.get("email").map(str::to_owned))?;
    let existed = match app.storage.dashboard_user_find(ctx.id.app_key(), &key).await? {
        Some(u) => app.storage.dashboard_user_delete(ctx.id.app_key(), &u.user_id).await?,
        None => false,
    };
    json(json!({"status": "OK", "didUserExist": existed}))
}

pub async fn sessions_of_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let user_id = ctx.query.required("userId")?.trim().to_owned();
    let sessions = app.storage.dashboard_sessions_of(ctx.id.app_key(), &user_id).await?;
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|s| json!({"sessionId": s.session_id, "userId": s.user_id, "timeCreated": s.time_created, "expiry": s.expiry}))
        .collect();
    json(json!({"status": "OK", "sessions": sessions}))
}

/// `GET /users/count/active?since=<ms>`: users active (session created or refreshed, signed in or
/// up) at or after `since`, across the app's databases.
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
    let mut count = 0;
    for storage in ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id) {
        count += storage.active_users_count(ctx.id.app_key(), since).await?;
    }
    json(json!({"status": "OK", "count": count}))
}

pub async fn sign_in(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    let user = app.storage.dashboard_user_by_email(ctx.id.app_key(), &email).await?;
    let ok = ctx.state.hashing.verify(&app.settings.passwords, password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        return json(json!({"status": "INVALID_CREDENTIALS_ERROR"}));
    };
    let session_id = uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = ctx.now();
    app.storage.dashboard_session_create(ctx.id.app_key(), &session_id, &user.user_id, now, now + SESSION_LIFETIME_MS).await?;
    json(json!({"status": "OK", "sessionId": session_id}))
}

pub async fn verify_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let session_id = ctx.body()?.str("sessionId")?;
    match app.storage.dashboard_session_email(ctx.id.app_key(), &session_id, ctx.now()).await? {
        Some(email) => json(json!({"status": "OK", "email": email})),
        None => json(json!({"status": "INVALID_SESSION_ERROR"})),
    }
}

pub async fn revoke_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let session_id = ctx.query.required("sessionId")?.to_owned();
    app.storage.dashboard_session_delete(ctx.id.app_key(), &session_id).await?;
    json(json!({"status": "OK"}))
}

/// `GET /<t>/recipe/dashboard/tenant/core-config`: the tenant's effective settings as rows of the
/// dashboard's tenant page (see `config::about`). Secrets (API keys, database password and URI)
/// are never listed.
pub fn tenant_core_config(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let fields = dashboard_fields(&tenant.effective, ctx.protect_configs);
    json(json!({"status": "OK", "config": fields}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_and_password_rules() {
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("a@b") && !valid_email("@b.co") && !valid_email("a b@c.co"));
        assert!(strong_enough("abcdefg1"));
        assert!(!strong_enough("abcdefgh") && !strong_enough("12345678") && !strong_enough("abc1"));
    }
}
