//! Email-password sign-up and sign-in.

use axum::response::Response;
use portcullis_core::crypto::uuid_v4;
use portcullis_core::users::normalise_email;
use serde_json::json;

use crate::http::error::ApiError;
use crate::http::{json, Ctx};

pub async fn sign_up(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    if email.is_empty() {
        return Err(ApiError::bad("Field name 'email' cannot be an empty String"));
    }
    let storage = &tenant.storage;
    // Cheap check first, so that a taken email costs no hashing; the database's constraint decides.
    if storage.ep_login_method_by_email(&ctx.id.app_id, &ctx.id.tenant_id, &email).await?.is_some() {
        return json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
    }
    let hash = ctx.state.hashing.hash(&tenant.effective, password).await?;
    let user_id = uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = ctx.now();
    if !storage.ep_create_user(&ctx.id.app_id, &ctx.id.tenant_id, &user_id, &email, &hash, now).await? {
        return json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
    }
    crate::last_active::touch(ctx, storage.as_ref(), &user_id, now).await;
    let user = storage
        .get_user(&ctx.id.app_id, &user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("a user just created cannot be read".into()))?;
    json(json!({"status": "OK", "user": user.to_json(), "recipeUserId": user_id}))
}

pub async fn sign_in(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    let method = tenant.storage.ep_login_method_by_email(&ctx.id.app_id, &ctx.id.tenant_id, &email).await?;
    let stored = method.as_ref().and_then(|m| m.password_hash.clone());
    // An unknown email costs a verification too, so response times do not tell which emails exist.
    let ok = ctx.state.hashing.verify(&tenant.effective, password, stored).await?;
    let Some(method) = method.filter(|_| ok) else {
        return json(json!({"status": "WRONG_CREDENTIALS_ERROR"}));
    };
    crate::last_active::touch(ctx, tenant.storage.as_ref(), &method.recipe_user_id, ctx.now()).await;
    let user = tenant
        .storage
        .get_user(&ctx.id.app_id, &method.recipe_user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("a user just signed in cannot be read".into()))?;
    json(json!({"status": "OK", "user": user.to_json(), "recipeUserId": method.recipe_user_id}))
}

pub async fn create_reset_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let user_id = body.str("userId")?;
    let email = normalise_email(&body.str("email")?);
    let user = tenant.storage.get_user(&ctx.id.app_id, &user_id).await?;
    let has_password = user.as_ref().and_then(|u| u.login_method(&user_id)).is_some_and(|m| m.password_hash.is_some());
    if !has_password {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    }
    let token = portcullis_core::crypto::new_reset_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let expiry = ctx.now() + tenant.effective.i64("password_reset_token_lifetime");
    let hash = portcullis_core::crypto::sha256_hex(&token);
    tenant.storage.reset_token_create(&ctx.id.app_id, &user_id, &email, &hash, expiry).await?;
    json(json!({"status": "OK", "token": token}))
}

pub async fn consume_reset_token(ctx: &Ctx) -> Result<Response, ApiError> {
    use portcullis_core::storage::emailpassword::ResetOutcome;
    let tenant = ctx.tenant()?;
    let token = ctx.body()?.str("token")?;
    let hash = portcullis_core::crypto::sha256_hex(&token);
    match tenant.storage.reset_token_consume(&ctx.id.app_id, &hash, ctx.now()).await? {
        ResetOutcome::Invalid => json(json!({"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"})),
        ResetOutcome::Valid { user_id, email } => {
            // Tokens made without an email name the user's own.
            let email = match email {
                Some(e) => Some(e),
                None => tenant.storage.get_user(&ctx.id.app_id, &user_id).await?.and_then(|u| u.login_method(&user_id).and_then(|m| m.email.clone())),
            };
            json(json!({"status": "OK", "userId": user_id, "email": email}))
        }
    }
}

/// `PUT /recipe/user`: a new email and/or password for an email-password user.
pub async fn update(ctx: &Ctx) -> Result<Response, ApiError> {
    use portcullis_core::storage::emailpassword::UpdateOutcome;
    ctx.require_public_tenant()?;
    let body = ctx.body()?;
    let user_id = if body.has("recipeUserId") { body.str("recipeUserId")? } else { body.str("userId")? };
    let email = match body.0.get("email") {
        None => None,
        Some(serde_json::Value::String(e)) => Some(normalise_email(e)),
        Some(_) => return Err(ApiError::field_invalid("email")),
    };
    let password = match body.0.get("password") {
        None => None,
        Some(serde_json::Value::String(p)) => Some(p.clone()),
        Some(_) => return Err(ApiError::field_invalid("password")),
    };
    if email.is_none() && password.is_none() {
        return Err(ApiError::bad("You must provide either email or password"));
    }
    let Some((user, storage)) = super::users::find_user(ctx, &user_id).await? else {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    };
    if user.login_method(&user_id).is_none_or(|m| m.password_hash.is_none()) {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    }
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| crate::http::not_found_error(&ctx.id))?;
    let hash = match password {
        Some(p) => Some(ctx.state.hashing.hash(&app.effective, p).await?),
        None => None,
    };
    match storage.ep_update(&ctx.id.app_id, &user_id, email.as_deref(), hash.as_deref()).await? {
        UpdateOutcome::Updated => json(json!({"status": "OK"})),
        UpdateOutcome::UnknownUser => json(json!({"status": "UNKNOWN_USER_ID_ERROR"})),
        UpdateOutcome::EmailAlreadyExists => json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"})),
    }
}
