//! Email verification: create and consume tokens, check, unverify, revoke tokens. Each handler
//! parses its request, calls `portcullis_core::emailverification`, and renders the outcome.

use axum::response::Response;
use portcullis_core::emailverification::{self as recipe, CreateTokenOutcome, VerifyOutcome};
use portcullis_core::users::normalise_email;
use serde_json::json;

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::status::Status;

/// `userId` and `email` (normalised) of a body.
fn user_and_email(ctx: &Ctx) -> Result<(String, String), ApiError> {
    let body = ctx.body()?;
    Ok((body.str("userId")?, normalise_email(&body.str("email")?)))
}

pub async fn create_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let (user_id, email) = user_and_email(ctx)?;
    let storages = ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id);
    let (lifetime, limit) = (tenant.settings.email_verification_token_lifetime_ms, tenant.settings.limits.email_verification_tokens);
    let outcome = recipe::create_token(&storages, tenant.storage.as_ref(), ctx.id.key(), lifetime, ctx.now(), &user_id, &email, limit).await?;
    json(match outcome {
        CreateTokenOutcome::Created { token } => json!({"status": Status::Ok, "token": token}),
        CreateTokenOutcome::EmailAlreadyVerified => json!({"status": Status::EmailAlreadyVerified}),
        // No CDI status fits (EMAIL_ALREADY_VERIFIED_ERROR would make the SDKs treat the email as
        // verified): 429, on which the SDKs send no email (docs/compatibility.md).
        CreateTokenOutcome::Limited => {
            ctx.state.metrics.record_rate_limited(portcullis_core::ratelimit::Kind::EmailVerificationTokens);
            return Err(ApiError::TooManyRequests);
        }
    })
}

/// `POST /<t>/recipe/user/email/verify` consumes a token; `GET /recipe/user/email/verify` checks.
pub async fn verify(ctx: &Ctx) -> Result<Response, ApiError> {
    if ctx.method == axum::http::Method::GET {
        ctx.require_public_tenant()?;
        let storages = ctx.app_storages()?;
        let user_id = ctx.query.required("userId")?.to_owned();
        let email = normalise_email(ctx.query.required("email")?);
        let verified = recipe::is_verified(&storages, ctx.id.app_key(), &user_id, &email).await?;
        return json(json!({"status": Status::Ok, "isVerified": verified}));
    }
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    if body.str("method")? != "token" {
        return Err(ApiError::bad("Unsupported method for email verification"));
    }
    let token = body.str("token")?;
    json(match recipe::verify(tenant.storage.as_ref(), ctx.id.key(), &token, ctx.now()).await? {
        VerifyOutcome::Verified { user_id, email } => json!({"status": Status::Ok, "userId": user_id, "email": email}),
        VerifyOutcome::InvalidToken => json!({"status": Status::EmailVerificationInvalidToken}),
    })
}

pub async fn unverify(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let (user_id, email) = user_and_email(ctx)?;
    let storages = ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id);
    if storages.is_empty() {
        return Err(ApiError::tenant_not_found(&ctx.id));
    }
    recipe::unverify(&storages, ctx.id.app_key(), &user_id, &email).await?;
    json(json!({"status": Status::Ok}))
}

pub async fn revoke_tokens(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let (user_id, email) = user_and_email(ctx)?;
    tenant.storage.ev_revoke_tokens(ctx.id.key(), &user_id, &email).await?;
    json(json!({"status": Status::Ok}))
}
