//! Email verification: create and consume tokens, check, unverify, revoke tokens.

use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use portcullis_core::crypto::{hex, random_bytes, sha256_hex};
use portcullis_core::emailverification::storage::ConsumeOutcome;
use portcullis_core::users::normalise_email;
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::ctx::Ctx;

/// `userId` and `email` (normalised) of a body.
fn user_and_email(ctx: &Ctx) -> Result<(String, String), ApiError> {
    let body = ctx.body()?;
    Ok((body.str("userId")?, normalise_email(&body.str("email")?)))
}

async fn is_verified(ctx: &Ctx, user_id: &str, email: &str) -> Result<bool, ApiError> {
    for storage in ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id) {
        if storage.ev_is_verified(ctx.id.app_key(), user_id, email).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn create_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let (user_id, email) = user_and_email(ctx)?;
    if is_verified(ctx, &user_id, &email).await? {
        return json(json!({"status": "EMAIL_ALREADY_VERIFIED_ERROR"}));
    }
    // The core's form: 48 random bytes as hex, that text as unpadded base64url (128 characters).
    let raw = random_bytes(48).map_err(|e| ApiError::Internal(e.to_string()))?;
    let token = URL_SAFE_NO_PAD.encode(hex(&raw));
    let expiry = ctx.now() + tenant.settings.email_verification_token_lifetime_ms;
    tenant.storage.ev_token_create(ctx.id.key(), &user_id, &email, &sha256_hex(&token), expiry).await?;
    json(json!({"status": "OK", "token": token}))
}

/// `POST /<t>/recipe/user/email/verify` consumes a token; `GET /recipe/user/email/verify` checks.
pub async fn verify(ctx: &Ctx) -> Result<Response, ApiError> {
    if ctx.method == axum::http::Method::GET {
        ctx.require_public_tenant()?;
        if !ctx.snapshot.app_exists(&ctx.id.cud, &ctx.id.app_id) {
            return Err(ApiError::tenant_not_found(&ctx.id));
        }
        let user_id = ctx.query.required("userId")?.to_owned();
        let email = normalise_email(ctx.query.required("email")?);
        return json(json!({"status": "OK", "isVerified": is_verified(ctx, &user_id, &email).await?}));
    }
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    if body.str("method")? != "token" {
        return Err(ApiError::bad("Unsupported method for email verification"));
    }
    let token = body.str("token")?;
    match tenant.storage.ev_consume(ctx.id.key(), &sha256_hex(&token), ctx.now()).await? {
        ConsumeOutcome::Verified { user_id, email } => json(json!({"status": "OK", "userId": user_id, "email": email})),
        ConsumeOutcome::Invalid => json(json!({"status": "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"})),
    }
}

pub async fn unverify(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let (user_id, email) = user_and_email(ctx)?;
    let storages = ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id);
    if storages.is_empty() {
        return Err(ApiError::tenant_not_found(&ctx.id));
    }
    for storage in storages {
        storage.ev_unverify(ctx.id.app_key(), &user_id, &email).await?;
    }
    json(json!({"status": "OK"}))
}

pub async fn revoke_tokens(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let (user_id, email) = user_and_email(ctx)?;
    tenant.storage.ev_revoke_tokens(ctx.id.key(), &user_id, &email).await?;
    json(json!({"status": "OK"}))
}
