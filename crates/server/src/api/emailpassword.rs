//! Email-password: sign-up, sign-in, updates, password reset, the deprecated user lookup and
//! importing users with existing hashes.

use axum::response::Response;
use portcullis_core::crypto::uuid_v4;
use portcullis_core::emailpassword::storage::UpdateOutcome;
use portcullis_core::users::normalise_email;
use serde_json::json;

use portcullis_core::services::PasswordHasher;

use portcullis_core::services::ActivityLog;

use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::ctx::Ctx;

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
    if storage.ep_login_method_by_email(ctx.id.key(), &email).await?.is_some() {
        return json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
    }
    let hash = ctx.state.hashing.hash(&tenant.settings, password).await?;
    let user_id = uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = ctx.now();
    if !storage.ep_create_user(ctx.id.key(), &user_id, &email, &hash, now).await? {
        return json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
    }
    ctx.state.last_active.record(storage.as_ref(), ctx.id.app_key(), &user_id, now).await;
    let user = storage
        .get_user(ctx.id.app_key(), &user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("a user just created cannot be read".into()))?;
    json(json!({"status": "OK", "user": user.to_json(), "recipeUserId": user_id}))
}

fn recipe_user_id_of(user: &portcullis_core::users::User, st_id: &str) -> String {
    user.login_method(st_id).map_or_else(|| st_id.to_owned(), |m| m.public_id().to_owned())
}

pub async fn sign_in(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let password = body.str("password")?;
    let method = tenant.storage.ep_login_method_by_email(ctx.id.key(), &email).await?;
    let stored = method.as_ref().and_then(|m| m.password_hash.clone());
    // An unknown email costs a verification too, so response times do not tell which emails exist.
    let ok = ctx.state.hashing.verify(&tenant.settings, password, stored).await?;
    let Some(method) = method.filter(|_| ok) else {
        return json(json!({"status": "WRONG_CREDENTIALS_ERROR"}));
    };
    ctx.state.last_active.record(tenant.storage.as_ref(), ctx.id.app_key(), &method.recipe_user_id, ctx.now()).await;
    let user = tenant
        .storage
        .get_user(ctx.id.app_key(), &method.recipe_user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("a user just signed in cannot be read".into()))?;
    let recipe_user_id = recipe_user_id_of(&user, &method.recipe_user_id);
    json(json!({"status": "OK", "user": user.to_json(), "recipeUserId": recipe_user_id}))
}

pub async fn create_reset_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let given = body.str("userId")?;
    let email = normalise_email(&body.str("email")?);
    let found = super::users::resolve_in(tenant.storage.as_ref(), ctx.id.app_key(), &given).await?;
    // Any user may get a token (CDI >= 4.0): a primary user without an email-password login method
    // gets one when it resets a password, the SDK creating and linking that method afterwards.
    let Some(user_id) = found.map(|f| f.recipe_user_id) else {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    };
    let token = portcullis_core::crypto::new_reset_token().map_err(|e| ApiError::Internal(e.to_string()))?;
    let expiry = ctx.now() + tenant.settings.password_reset_token_lifetime_ms;
    let hash = portcullis_core::crypto::sha256_hex(&token);
    tenant.storage.reset_token_create(ctx.id.app_key(), &user_id, &email, &hash, expiry).await?;
    json(json!({"status": "OK", "token": token}))
}

pub async fn consume_reset_token(ctx: &Ctx) -> Result<Response, ApiError> {
    use portcullis_core::emailpassword::storage::ResetOutcome;
    let tenant = ctx.tenant()?;
    let token = ctx.body()?.str("token")?;
    let hash = portcullis_core::crypto::sha256_hex(&token);
    match tenant.storage.reset_token_consume(ctx.id.app_key(), &hash, ctx.now()).await? {
        ResetOutcome::Invalid => json(json!({"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"})),
        ResetOutcome::Valid { user_id, email } => {
            let user = tenant.storage.get_user(ctx.id.app_key(), &user_id).await?;
            let method = user.as_ref().and_then(|u| u.login_method(&user_id));
            // Tokens made without an email name the user's own.
            let email = email.or_else(|| method.and_then(|m| m.email.clone()));
            let public_id = method.map_or(user_id.as_str(), |m| m.public_id());
            json(json!({"status": "OK", "userId": public_id, "email": email}))
        }
    }
}

/// `PUT /recipe/user`: a new email and/or password for an email-password user.
pub async fn update(ctx: &Ctx) -> Result<Response, ApiError> {
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
    let Some((found, storage)) = super::users::find_user(ctx, &user_id).await? else {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    };
    let user_id = found.recipe_user_id;
    if found.user.login_method(&user_id).is_none_or(|m| m.password_hash.is_none()) {
        return json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    }
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    let hash = match password {
        Some(p) => Some(ctx.state.hashing.hash(&app.settings, p).await?),
        None => None,
    };
    match storage.ep_update(ctx.id.app_key(), &user_id, email.as_deref(), hash.as_deref()).await? {
        UpdateOutcome::Updated => json(json!({"status": "OK"})),
        UpdateOutcome::UnknownUser => json(json!({"status": "UNKNOWN_USER_ID_ERROR"})),
        UpdateOutcome::EmailAlreadyExists => json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"})),
        UpdateOutcome::EmailChangeNotAllowed => {
            json(json!({"status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "reason": "New email is associated with another primary user ID"}))
        }
    }
}

/// `GET /recipe/user` (deprecated since CDI 4.0, multiplexed by `rid`): an email-password user by id
/// (any tenant) or by email (this tenant).
pub async fn get_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let (user_id, email) = (ctx.query.get("userId"), ctx.query.get("email"));
    match (user_id, email) {
        (Some(id), None) => {
            let found = super::users::find_user(ctx, id.trim()).await?;
            match found.filter(|(f, _)| f.user.login_method(&f.recipe_user_id).is_some_and(|m| m.password_hash.is_some())) {
                Some((f, _)) => json(json!({"status": "OK", "user": f.user.to_json()})),
                None => json(json!({"status": "UNKNOWN_USER_ID_ERROR"})),
            }
        }
        (None, Some(email)) => {
            let tenant = ctx.tenant()?;
            let email = normalise_email(email);
            let method = tenant.storage.ep_login_method_by_email(ctx.id.key(), &email).await?;
            let user = match method {
                Some(m) => tenant.storage.get_user(ctx.id.app_key(), &m.recipe_user_id).await?,
                None => None,
            };
            match user {
                Some(u) => json(json!({"status": "OK", "user": u.to_json()})),
                None => json(json!({"status": "UNKNOWN_EMAIL_ERROR"})),
            }
        }
        _ => Err(ApiError::bad("Please provide one of userId or email")),
    }
}

/// `POST /recipe/user/passwordhash/import`: creates an email-password user with a hash made
/// elsewhere, or replaces the hash of the tenant's user with that email.
pub async fn import_with_hash(ctx: &Ctx) -> Result<Response, ApiError> {
    use portcullis_core::crypto::password::{check_imported, trim_imported, Algorithm, MISSING_SIGNER_KEY_MESSAGE};
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = normalise_email(&body.str("email")?);
    let hash = body.str("passwordHash")?;
    let hint = match body.0.get("hashingAlgorithm") {
        None => None,
        Some(serde_json::Value::String(h)) => Some(h.clone()),
        Some(_) => return Err(ApiError::field_invalid("hashingAlgorithm")),
    };
    if email.is_empty() {
        return Err(ApiError::bad("Field name 'email' cannot be an empty String"));
    }
    let no_signer_key = tenant.effective.firebase_password_hashing_signer_key().is_none();
    if no_signer_key && hint.as_deref().is_some_and(|h| Algorithm::from_name(h) == Some(Algorithm::FirebaseScrypt)) {
        return Err(ApiError::Internal(MISSING_SIGNER_KEY_MESSAGE.into()));
    }
    let algorithm = check_imported(&hash, hint.as_deref()).map_err(ApiError::bad)?;
    if no_signer_key && algorithm == Algorithm::FirebaseScrypt {
        return Err(ApiError::Internal(MISSING_SIGNER_KEY_MESSAGE.into()));
    }
    let hash = trim_imported(&hash);
    let key = ctx.id.key();
    // Update the existing user, else create one; a concurrent sign-up of the email between the
    // two makes the creation fail, and the next round updates that user instead.
    for _ in 0..2 {
        if let Some(m) = tenant.storage.ep_login_method_by_email(key, &email).await? {
            if tenant.storage.ep_update(key.app(), &m.recipe_user_id, None, Some(hash)).await? == UpdateOutcome::Updated {
                return imported(ctx, &m.recipe_user_id, true).await;
            }
            continue;
        }
        let user_id = uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?;
        if tenant.storage.ep_create_user(key, &user_id, &email, hash, ctx.now()).await? {
            return imported(ctx, &user_id, false).await;
        }
    }
    Err(ApiError::Internal("the user changed twice while being imported".into()))
}

async fn imported(ctx: &Ctx, user_id: &str, existed: bool) -> Result<Response, ApiError> {
    let user = ctx
        .tenant()?
        .storage
        .get_user(ctx.id.app_key(), user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("an imported user cannot be read".into()))?;
    json(json!({"status": "OK", "didUserAlreadyExist": existed, "user": user.to_json()}))
}
