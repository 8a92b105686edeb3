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
