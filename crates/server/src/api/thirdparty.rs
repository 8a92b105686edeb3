//! Third-party sign-in-up (the SDK has done the OAuth exchange and sends the provider's answer),
//! and the recipe's deprecated lookups.

use axum::response::Response;
use portcullis_core::crypto::uuid_v4;
use portcullis_core::thirdparty::storage::{SignInUpOutcome, ThirdPartyAccount};
use portcullis_core::users::storage::AccountInfo;
use portcullis_core::users::{normalise_email, RecipeId, User};
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::ctx::Ctx;
use crate::http::version::Version;

fn non_empty(body: &crate::http::input::Body, field: &str) -> Result<String, ApiError> {
    let v = body.str(field)?;
    if v.trim().is_empty() {
        return Err(ApiError::bad(format!("Field name '{field}' cannot be an empty String")));
    }
    Ok(v)
}

/// `POST /<tenant>/recipe/signinup`.
pub async fn sign_in_up(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let third_party_id = non_empty(&body, "thirdPartyId")?;
    let third_party_user_id = non_empty(&body, "thirdPartyUserId")?;
    let email = body.object("email")?;
    let email = match email.get("id") {
        Some(Value::String(e)) => normalise_email(e),
        _ => return Err(ApiError::field_invalid("id")),
    };
    // From CDI 4.0 the provider's verdict on the email is required (account linking uses it).
    let is_verified = body.0.get("email").and_then(|e| e.get("isVerified"));
    if ctx.version >= Version(4, 0) && !is_verified.is_some_and(Value::is_boolean) {
        return Err(ApiError::field_invalid("isVerified"));
    }
    let is_verified = is_verified.and_then(Value::as_bool).unwrap_or(false);
    let account = ThirdPartyAccount { third_party_id, third_party_user_id, email };
    let new_id = uuid_v4().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = ctx.now();
    let storage = &tenant.storage;
    let (user_id, created) = match storage.tp_sign_in_up(ctx.id.key(), &new_id, &account, now).await? {
        SignInUpOutcome::Created => (new_id, true),
        SignInUpOutcome::Existing { user_id } => (user_id, false),
        SignInUpOutcome::EmailChangeNotAllowed => {
            return json(json!({"status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "reason": "Email already associated with another primary user."}));
        }
    };
    let read = || async {
        storage.get_user(ctx.id.app_key(), &user_id).await?.ok_or_else(|| ApiError::Internal("a user just signed in cannot be read".into()))
    };
    let mut user = read().await?;
    // The core records the provider's word that the email is verified, under the id the
    // application uses for this login method.
    if let Some(m) = user.login_method(&user_id).filter(|m| is_verified && !m.verified) {
        let email = m.email.clone().unwrap_or_default();
        storage.ev_mark_verified(ctx.id.app_key(), m.public_id(), &email).await?;
        user = read().await?;
    }
    let recipe_user_id = user.login_method(&user_id).map_or(user_id.as_str(), |m| m.public_id()).to_owned();
    json(json!({"status": "OK", "createdNewUser": created, "user": user.to_json(), "recipeUserId": recipe_user_id}))
}

fn has_third_party_method(user: &User, recipe_user_id: &str) -> bool {
    user.login_method(recipe_user_id).is_some_and(|m| m.recipe_id == RecipeId::ThirdParty)
}

/// `GET /recipe/user` with `rid: thirdparty` (deprecated): by user id, or by provider account in
/// the tenant.
pub async fn get_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let q = &ctx.query;
    match (q.get("userId"), q.get("thirdPartyId"), q.get("thirdPartyUserId")) {
        (Some(id), None, None) => {
            let found = super::users::find_user(ctx, id.trim()).await?;
            match found.filter(|(f, _)| has_third_party_method(&f.user, &f.recipe_user_id)) {
                Some((f, _)) => json(json!({"status": "OK", "user": f.user.to_json()})),
                None => json(json!({"status": "UNKNOWN_USER_ID_ERROR"})),
            }
        }
        (None, Some(tp), Some(tp_user)) => {
            let tenant = ctx.tenant()?;
            let info = AccountInfo::ThirdParty { id: tp.trim().to_owned(), user_id: tp_user.trim().to_owned() };
            let ids = tenant.storage.user_ids_by_account_info(ctx.id.key(), &info).await?;
            match ids.first() {
                Some(id) => match tenant.storage.get_user(ctx.id.app_key(), id).await? {
                    Some(u) => json(json!({"status": "OK", "user": u.to_json()})),
                    None => json(json!({"status": "UNKNOWN_THIRD_PARTY_USER_ERROR"})),
                },
                None => json(json!({"status": "UNKNOWN_THIRD_PARTY_USER_ERROR"})),
            }
        }
        _ => Err(ApiError::bad("Please provide one of userId or (thirdPartyId & thirdPartyUserId)")),
    }
}

/// `GET /<tenant>/recipe/users/by-email` (deprecated): the tenant's third-party users with an email.
pub async fn users_by_email(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let email = normalise_email(ctx.query.required("email")?);
    let mut users = Vec::new();
    for id in tenant.storage.tp_user_ids_by_email(ctx.id.key(), &email).await? {
        if let Some(u) = tenant.storage.get_user(ctx.id.app_key(), &id).await? {
            users.push(u.to_json());
        }
    }
    json(json!({"status": "OK", "users": users}))
}
