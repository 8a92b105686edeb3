//! Third-party sign-in-up (the SDK has done the OAuth exchange and sends the provider's answer),
//! and the recipe's deprecated lookups. Each handler parses its request, calls
//! `portcullis_core::thirdparty`, and renders the outcome.

use axum::response::Response;
use portcullis_core::multitenancy::legacy::Recipe as LoginRecipe;
use portcullis_core::thirdparty::storage::ThirdPartyAccount;
use portcullis_core::thirdparty::{self as recipe, SignInUpOutcome};
use portcullis_core::users::normalise_email;
use serde_json::{json, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::version::Version;

fn non_empty(body: &Body, field: &str) -> Result<String, ApiError> {
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
    // The provider's verdict on the email is required and applied at CDI 2.7 and from 4.0 (account
    // linking uses it); 2.8 to 3.1 neither read it nor mark the email verified.
    let is_verified = if ctx.version == Version::V2_7 || ctx.version >= Version::V4_0 {
        match body.0.get("email").and_then(|e| e.get("isVerified")) {
            Some(Value::Bool(v)) => *v,
            _ => return Err(ApiError::field_invalid("isVerified")),
        }
    } else {
        false
    };
    // 2.7 predates the per-tenant recipe switches.
    if ctx.version != Version::V2_7 {
        ctx.require_login_enabled(tenant, LoginRecipe::ThirdParty)?;
    }
    let account = ThirdPartyAccount { third_party_id, third_party_user_id, email };
    json(match recipe::sign_in_up(tenant.storage.as_ref(), ctx.id.key(), ctx.now(), account, is_verified).await? {
        SignInUpOutcome::Ok { created, user, recipe_user_id } => {
            ctx.sign_in_json(json!({"status": Status::Ok, "createdNewUser": created, "user": ctx.user_json(&user), "recipeUserId": recipe_user_id}))
        }
        SignInUpOutcome::EmailChangeNotAllowed => {
            json!({"status": Status::EmailChangeNotAllowed, "reason": "Email already associated with another primary user."})
        }
    })
}

/// `GET /recipe/user` with `rid: thirdparty` (deprecated): by user id, or by provider account in
/// the tenant.
pub async fn get_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let (user, missing) = match (q.get("userId"), q.get("thirdPartyId"), q.get("thirdPartyUserId")) {
        (Some(id), None, None) => (recipe::user_by_id(&ctx.app_storages()?, ctx.id.app_key(), id.trim()).await?, Status::UnknownUserId),
        (None, Some(tp), Some(tp_user)) => {
            let tenant = ctx.tenant()?;
            let user = recipe::user_by_account(tenant.storage.as_ref(), ctx.id.key(), tp.trim(), tp_user.trim()).await?;
            (user, Status::UnknownThirdPartyUser)
        }
        _ => return Err(ApiError::bad("Please provide one of userId or (thirdPartyId & thirdPartyUserId)")),
    };
    json(match user {
        Some(u) => json!({"status": Status::Ok, "user": ctx.user_json(&u)}),
        None => json!({"status": missing}),
    })
}

/// `GET /<tenant>/recipe/users/by-email` (deprecated): the tenant's third-party users with an email.
pub async fn users_by_email(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let email = normalise_email(ctx.query.required("email")?);
    let users = recipe::users_by_email(tenant.storage.as_ref(), ctx.id.key(), &email).await?;
    json(json!({"status": Status::Ok, "users": users.iter().map(|u| ctx.user_json(u)).collect::<Vec<Value>>()}))
}
