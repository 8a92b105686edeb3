//! Email-password: sign-up, sign-in, updates, password reset, the deprecated user lookup and
//! importing users with existing hashes. Each handler parses its request, calls
//! `portcullis_core::emailpassword`, and renders the outcome.

use axum::response::Response;
use portcullis_core::emailpassword::{
    self as recipe, ConsumeResetTokenOutcome, ResetPasswordOutcome, CreateResetTokenOutcome, Hashing, SignInOutcome, SignUpOutcome, UpdateOutcome,
};
use portcullis_core::multitenancy::legacy::Recipe as LoginRecipe;
use portcullis_core::ratelimit::Kind;
use portcullis_core::users::normalise_email;
use serde_json::{json, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::version::Version;
use crate::tenancy::Tenant;

fn hashing<'a>(ctx: &'a Ctx, tenant: &'a Tenant) -> Hashing<'a> {
    Hashing { hasher: &ctx.state.hashing, settings: &tenant.settings.passwords }
}

pub async fn sign_up(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    if email.is_empty() {
        return Err(ApiError::bad("Field name 'email' cannot be an empty String"));
    }
    ctx.require_login_enabled(tenant, LoginRecipe::EmailPassword)?;
    let outcome =
        recipe::sign_up(tenant.storage.as_ref(), hashing(ctx, tenant), &ctx.state.last_active, ctx.id.key(), ctx.now(), &email, password).await?;
    json(match outcome {
        SignUpOutcome::Ok(s) => ctx.sign_in_json(json!({"status": Status::Ok, "user": ctx.user_json(&s.user), "recipeUserId": s.recipe_user_id})),
        SignUpOutcome::EmailAlreadyExists => json!({"status": Status::EmailAlreadyExists}),
    })
}

pub async fn sign_in(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    ctx.require_login_enabled(tenant, LoginRecipe::EmailPassword)?;
    let limit = tenant.settings.limits.sign_in;
    let outcome =
        recipe::sign_in(tenant.storage.as_ref(), hashing(ctx, tenant), &ctx.state.last_active, ctx.id.key(), ctx.now(), &email, password, limit)
            .await?;
    json(match outcome {
        SignInOutcome::Ok(s) => ctx.sign_in_json(json!({"status": Status::Ok, "user": ctx.user_json(&s.user), "recipeUserId": s.recipe_user_id})),
        SignInOutcome::WrongCredentials => json!({"status": Status::WrongCredentials}),
        // The recipe's own answer, so the SDKs show "wrong credentials" (docs/reliability.md).
        SignInOutcome::Limited(kind) => {
            ctx.state.metrics.record_rate_limited(kind);
            json!({"status": Status::WrongCredentials})
        }
    })
}

pub async fn create_reset_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let user_id = body.str("userId")?;
    ctx.require_login_enabled(tenant, LoginRecipe::EmailPassword)?;
    // Below 4.0 (before account linking) the token is for the user's own email-password email.
    let email = if ctx.version >= Version::V4_0 {
        normalise_email(&body.str("email")?)
    } else {
        match recipe::legacy_reset_email(tenant.storage.as_ref(), ctx.id.app_key(), &user_id).await? {
            Some(e) => e,
            None => return json(json!({"status": Status::UnknownUserId})),
        }
    };
    let (lifetime, limit) = (tenant.settings.password_reset_token_lifetime_ms, tenant.settings.limits.password_reset_tokens);
    json(match recipe::create_reset_token(tenant.storage.as_ref(), ctx.id.app_key(), lifetime, ctx.now(), &user_id, &email, limit).await? {
        CreateResetTokenOutcome::Created { token } => json!({"status": Status::Ok, "token": token}),
        CreateResetTokenOutcome::UnknownUserId => json!({"status": Status::UnknownUserId}),
        // The SDKs send no email on this status and answer the user as for an unknown email.
        CreateResetTokenOutcome::Limited => {
            ctx.state.metrics.record_rate_limited(Kind::PasswordResetTokens);
            json!({"status": Status::UnknownUserId})
        }
    })
}

pub async fn consume_reset_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let token = ctx.body()?.str("token")?;
    json(match recipe::consume_reset_token(tenant.storage.as_ref(), ctx.id.app_key(), &token, ctx.now()).await? {
        ConsumeResetTokenOutcome::Ok { user_id, email } => json!({"status": Status::Ok, "userId": user_id, "email": email}),
        ConsumeResetTokenOutcome::InvalidToken => json!({"status": Status::ResetPasswordInvalidToken}),
    })
}

/// `POST /<t>/recipe/user/password/reset` (the API before `/token/consume`, still served at every
/// version): `{"method": "token", token, newPassword}`; the answer names the user from CDI 2.12.
pub async fn reset_password(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let method = body.str("method")?;
    let token = body.str("token")?;
    let new_password = body.str("newPassword")?;
    if method != "token" {
        return Err(ApiError::bad("Unsupported method for password reset"));
    }
    if new_password.is_empty() {
        return Err(ApiError::bad("Password cannot be an empty string"));
    }
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    json(match recipe::reset_password(tenant.storage.as_ref(), hashing(ctx, app), ctx.id.app_key(), &token, new_password, ctx.now()).await? {
        ResetPasswordOutcome::Ok { user_id } if ctx.version >= Version::V2_12 => json!({"status": Status::Ok, "userId": user_id}),
        ResetPasswordOutcome::Ok { .. } => json!({"status": Status::Ok}),
        ResetPasswordOutcome::InvalidToken => json!({"status": Status::ResetPasswordInvalidToken}),
    })
}

/// `PUT /recipe/user`: a new email and/or password for an email-password user.
pub async fn update(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let body = ctx.body()?;
    let user_id = body.str(ctx.recipe_user_id_field())?;
    let email = match body.0.get("email") {
        None => None,
        Some(Value::String(e)) => Some(normalise_email(e)),
        Some(_) => return Err(ApiError::field_invalid("email")),
    };
    let password = match body.0.get("password") {
        None => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(ApiError::field_invalid("password")),
    };
    if email.is_none() && password.is_none() {
        return Err(ApiError::bad("You have to provide either email or password."));
    }
    let storages = ctx.app_storages()?;
    // New hashes follow the app's algorithm.
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    json(match recipe::update(&storages, hashing(ctx, app), ctx.id.app_key(), &user_id, email, password).await? {
        UpdateOutcome::Updated => json!({"status": Status::Ok}),
        UpdateOutcome::UnknownUser => json!({"status": Status::UnknownUserId}),
        UpdateOutcome::EmailAlreadyExists => json!({"status": Status::EmailAlreadyExists}),
        UpdateOutcome::EmailChangeNotAllowed => {
            json!({"status": Status::EmailChangeNotAllowed, "reason": "New email is associated with another primary user ID"})
        }
    })
}

/// `GET /recipe/user` (deprecated since CDI 4.0, multiplexed by `rid`): an email-password user by id
/// (any tenant) or by email (this tenant).
pub async fn get_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let (user_id, email) = (ctx.query.get("userId"), ctx.query.get("email"));
    let (user, missing) = match (user_id, email) {
        (Some(id), None) => (recipe::user_by_id(&ctx.app_storages()?, ctx.id.app_key(), id.trim()).await?, Status::UnknownUserId),
        (None, Some(email)) => {
            let tenant = ctx.tenant()?;
            (recipe::user_by_email(tenant.storage.as_ref(), ctx.id.key(), &normalise_email(email)).await?, Status::UnknownEmail)
        }
        _ => return Err(ApiError::bad("Please provide one of userId or email")),
    };
    json(match user {
        Some(u) => json!({"status": Status::Ok, "user": ctx.user_json(&u)}),
        None => json!({"status": missing}),
    })
}

/// `POST /recipe/user/passwordhash/import`: creates an email-password user with a hash made
/// elsewhere, or replaces the hash of the tenant's user with that email.
pub async fn import_with_hash(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let hash = body.str("passwordHash")?;
    let hint = match body.0.get("hashingAlgorithm") {
        None => None,
        Some(Value::String(h)) => Some(h.clone()),
        Some(_) => return Err(ApiError::field_invalid("hashingAlgorithm")),
    };
    if email.is_empty() {
        return Err(ApiError::bad("Field name 'email' cannot be an empty String"));
    }
    ctx.require_login_enabled(tenant, LoginRecipe::EmailPassword)?;
    let settings = &tenant.settings.passwords;
    let imported = recipe::import_with_hash(tenant.storage.as_ref(), settings, ctx.id.key(), ctx.now(), &email, &hash, hint.as_deref()).await?;
    json(json!({"status": Status::Ok, "didUserAlreadyExist": imported.did_user_already_exist, "user": ctx.user_json(&imported.user)}))
}
