//! Dashboard users and their sessions: create a user, sign in, verify and revoke a session.

use axum::response::Response;
use portcullis_core::crypto::uuid_v4;
use portcullis_core::storage::dashboard::DashboardUser;
use portcullis_core::users::normalise_email;
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::{json, not_found_error, Ctx};
use crate::tenancy::Tenant;

/// Dashboard sessions last 30 days, as the core's do.
const SESSION_LIFETIME_MS: i64 = 30 * 24 * 3_600_000;

fn app(ctx: &Ctx) -> Result<&std::sync::Arc<Tenant>, ApiError> {
    ctx.require_public_tenant()?;
    ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| not_found_error(&ctx.id))
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
        return json(json!({"status": "PASSWORD_WEAK_ERROR", "message": "Password must contain at least 8 characters, including a number"}));
    }
    let password_hash = ctx.state.hashing.hash(&app.effective, password).await?;
    let user = DashboardUser {
        user_id: uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?,
        email,
        password_hash,
        time_joined: ctx.now(),
    };
    if !app.storage.dashboard_user_create(&ctx.id.app_id, &user).await? {
        return json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
    }
    json(json!({"status": "OK", "user": {"userId": user.user_id, "email": user.email, "timeJoined": user.time_joined}}))
}

pub async fn sign_in(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    let user = app.storage.dashboard_user_by_email(&ctx.id.app_id, &email).await?;
    let ok = ctx.state.hashing.verify(&app.effective, password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        return json(json!({"status": "INVALID_CREDENTIALS_ERROR"}));
    };
    let session_id = uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = ctx.now();
    app.storage.dashboard_session_create(&ctx.id.app_id, &session_id, &user.user_id, now, now + SESSION_LIFETIME_MS).await?;
    json(json!({"status": "OK", "sessionId": session_id}))
}

pub async fn verify_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let session_id = ctx.body()?.str("sessionId")?;
    match app.storage.dashboard_session_email(&ctx.id.app_id, &session_id, ctx.now()).await? {
        Some(email) => json(json!({"status": "OK", "email": email})),
        None => json(json!({"status": "INVALID_SESSION_ERROR"})),
    }
}

pub async fn revoke_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let app = app(ctx)?;
    let session_id = ctx.query.required("sessionId")?.to_owned();
    app.storage.dashboard_session_delete(&ctx.id.app_id, &session_id).await?;
    json(json!({"status": "OK"}))
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
