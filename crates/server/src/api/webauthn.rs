//! WebAuthn (passkeys): register and sign-in options, sign-up and sign-in with a credential, the
//! email change, account recovery tokens, and a user's credentials. Each handler parses its
//! request, calls `portcullis_core::webauthn::flows`, and renders the outcome with the core's keys
//! in its order; the CDI's refusals are HTTP 200 with a `status` (and a `reason` for the three
//! kinds that carry one).

use axum::response::Response;
use portcullis_core::webauthn::flows::{self, Outcome};
use portcullis_core::webauthn::options::{options_json, RegisterOptionsRequest, SignInConsumption, SignInOptionsRequest};
use portcullis_core::webauthn::storage::StoredCredential;
use portcullis_core::webauthn::WebauthnError;
use serde_json::{json, Map, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;

fn status_of(e: &WebauthnError) -> Status {
    match e {
        WebauthnError::InvalidOptions(_) => Status::InvalidOptions,
        WebauthnError::InvalidCredentials(_) => Status::InvalidCredentials,
        WebauthnError::InvalidAuthenticator(_) => Status::InvalidAuthenticator,
        WebauthnError::OptionsNotFound => Status::OptionsNotFound,
        WebauthnError::CredentialNotFound => Status::CredentialNotFound,
        WebauthnError::CredentialAlreadyExists => Status::CredentialAlreadyExists,
        WebauthnError::EmailAlreadyExists => Status::EmailAlreadyExists,
        WebauthnError::UserWithEmailAlreadyExists => Status::UserWithEmailAlreadyExists,
        WebauthnError::UnknownUserId => Status::UnknownUserId,
        WebauthnError::RecoverAccountTokenInvalid => Status::RecoverAccountTokenInvalid,
    }
}

/// A refusal: `{"status": …}`, with `reason` for the kinds that carry one.
fn refused(e: &WebauthnError) -> Value {
    match e.reason() {
        Some(reason) => json!({"status": status_of(e), "reason": reason}),
        None => json!({"status": status_of(e)}),
    }
}

/// Renders an outcome: OK through `ok`, a refusal as its status.
fn render<T>(outcome: Outcome<T>, ok: impl FnOnce(T) -> Value) -> Result<Response, ApiError> {
    json(match outcome {
        Ok(value) => ok(value),
        Err(e) => refused(&e),
    })
}

/// An optional string: absent is `None`; anything but a string (null included) is refused.
fn opt_str(body: &Body, field: &str) -> Result<Option<String>, ApiError> {
    if body.has(field) { body.str(field).map(Some) } else { Ok(None) }
}

/// The core's optional long: a JSON integer or a numeric string.
fn opt_long(body: &Body, field: &str) -> Result<Option<i64>, ApiError> {
    match body.0.get(field) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| ApiError::field_invalid(field)),
        Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| ApiError::field_invalid(field)),
        Some(_) => Err(ApiError::field_invalid(field)),
    }
}

/// The credential JSON the SDKs forward (the browser's `toJSON()`), checked by core.
fn credential(body: &Body) -> Result<Value, ApiError> {
    Ok(Value::Object(body.object("credential")?))
}

/// `POST /<t>/recipe/webauthn/options/register`.
pub async fn register_options(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let supported_algorithm_ids = match body.0.get("supportedAlgorithmIDs") {
        None => None,
        Some(Value::Array(items)) => Some(items.clone()),
        Some(_) => return Err(ApiError::field_invalid("supportedAlgorithmIDs")),
    };
    let request = RegisterOptionsRequest {
        email: body.str("email")?,
        display_name: opt_str(&body, "displayName")?,
        relying_party_name: body.str("relyingPartyName")?,
        relying_party_id: body.str("relyingPartyId")?,
        origin: body.str("origin")?,
        timeout: opt_long(&body, "timeout")?,
        attestation: opt_str(&body, "attestation")?,
        resident_key: opt_str(&body, "residentKey")?,
        user_verification: opt_str(&body, "userVerification")?,
        user_presence: body.opt_bool("userPresence")?,
        supported_algorithm_ids,
    };
    let outcome = flows::register_options(tenant.storage.as_ref(), ctx.id.key(), request, ctx.now(), json!(Status::Ok)).await?;
    render(outcome, |body| body)
}

/// `POST /<t>/recipe/webauthn/options/signin`.
pub async fn sign_in_options(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let request = SignInOptionsRequest {
        relying_party_name: body.str("relyingPartyName")?,
        relying_party_id: body.str("relyingPartyId")?,
        origin: body.str("origin")?,
        timeout: opt_long(&body, "timeout")?,
        user_verification: opt_str(&body, "userVerification")?,
        user_presence: body.opt_bool("userPresence")?,
    };
    let outcome = flows::sign_in_options(tenant.storage.as_ref(), ctx.id.key(), request, ctx.now(), json!(Status::Ok)).await?;
    render(outcome, |body| body)
}

/// `GET /<t>/recipe/webauthn/options?webauthnGeneratedOptionsId=`: the stored options, expired or used ones too.
pub async fn get_options(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let id = ctx.query.required("webauthnGeneratedOptionsId")?;
    json(match tenant.storage.wa_options(ctx.id.key(), id).await? {
        Some(o) => options_json(&o, json!(Status::Ok)),
        None => refused(&WebauthnError::OptionsNotFound),
    })
}

/// `DELETE /<t>/recipe/webauthn/options/remove?webauthnGeneratedOptionsId=`.
pub async fn remove_options(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let id = ctx.query.required("webauthnGeneratedOptionsId")?;
    let removed = tenant.storage.wa_remove_options(ctx.id.key(), id).await?;
    render(if removed { Ok(()) } else { Err(WebauthnError::OptionsNotFound) }, |()| json!({"status": Status::Ok}))
}

/// `POST /<t>/recipe/webauthn/signup`.
pub async fn sign_up(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let options_id = body.str("webauthnGeneratedOptionsId")?;
    let credential = credential(&body)?;
    let outcome =
        flows::sign_up(tenant.storage.as_ref(), &ctx.state.last_active, ctx.id.key(), &options_id, &credential, ctx.now()).await?;
    render(outcome, |(signed, registration)| {
        json!({
            "status": Status::Ok,
            "user": signed.user.to_json(),
            "webauthnCredentialId": registration.credential_id,
            "relyingPartyId": registration.rp_id,
            "relyingPartyName": registration.rp_name,
            "recipeUserId": signed.recipe_user_id,
        })
    })
}

/// `POST /<t>/recipe/webauthn/signin`. At CDI ≤ 5.4 the used options stay readable (the SDKs read
/// them back after signing in) but cannot be used again; from 5.5 they are deleted.
pub async fn sign_in(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let options_id = body.str("webauthnGeneratedOptionsId")?;
    let credential = credential(&body)?;
    let consumption = SignInConsumption::for_cdi(ctx.version.major, ctx.version.minor);
    let outcome =
        flows::sign_in(tenant.storage.as_ref(), &ctx.state.last_active, ctx.id.key(), &options_id, &credential, ctx.now(), consumption)
            .await?;
    render(outcome, |signed| json!({"status": Status::Ok, "user": signed.user.to_json(), "recipeUserId": signed.recipe_user_id}))
}

/// `PUT /<t>/recipe/webauthn/user/email`.
pub async fn update_email(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let user_id = body.str("recipeUserId")?;
    let email = body.str("email")?;
    let outcome = flows::update_email(&ctx.app_storages()?, ctx.id.app_key(), &user_id, &email).await?;
    render(outcome, |()| json!({"status": Status::Ok}))
}

/// `POST /<t>/recipe/webauthn/user/recover/token`.
pub async fn create_recovery_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = body.str("email")?;
    let user_id = body.str("userId")?;
    let lifetime = tenant.effective.webauthn_recover_account_token_lifetime();
    let outcome = flows::create_recovery_token(&ctx.app_storages()?, ctx.id.key(), &user_id, &email, ctx.now(), lifetime).await?;
    render(outcome, |token| json!({"status": Status::Ok, "token": token}))
}

/// `POST /<t>/recipe/webauthn/user/recover/token/consume`.
pub async fn consume_recovery_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let token = ctx.body()?.str("token")?;
    let outcome = flows::consume_recovery_token(tenant.storage.as_ref(), ctx.id.key(), &token, ctx.now()).await?;
    render(outcome, |(user_id, email)| json!({"status": Status::Ok, "userId": user_id, "email": email}))
}

/// `GET /<t>/recipe/webauthn/user/recover?token=`.
pub async fn recovery_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let token = ctx.query.required("token")?;
    let outcome = flows::recovery_user(tenant.storage.as_ref(), ctx.id.key(), token, ctx.now()).await?;
    render(outcome, |(recipe_user_id, user)| json!({"status": Status::Ok, "recipeUserId": recipe_user_id, "user": user.to_json()}))
}

/// `POST /recipe/webauthn/user/credential/register`.
pub async fn register_credential(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let user_id = body.str("recipeUserId")?;
    let options_id = body.str("webauthnGeneratedOptionsId")?;
    let credential = credential(&body)?;
    let outcome = flows::register_credential(&ctx.app_storages()?, ctx.id.app_key(), &user_id, &options_id, &credential, ctx.now()).await?;
    render(outcome, |r| {
        json!({
            "status": Status::Ok,
            "webauthnCredentialId": r.credential_id,
            "recipeUserId": user_id,
            "email": r.email,
            "relyingPartyId": r.rp_id,
            "relyingPartyName": r.rp_name,
        })
    })
}

/// `GET /recipe/webauthn/user/credential?recipeUserId=&webauthnCredentialId=`.
pub async fn get_credential(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("recipeUserId")?;
    let credential_id = ctx.query.required("webauthnCredentialId")?;
    let outcome = flows::credential(&ctx.app_storages()?, ctx.id.app_key(), user_id, credential_id).await?;
    render(outcome, |c| {
        json!({
            "webauthnCredentialId": c.id,
            "recipeUserId": user_id,
            "relyingPartyId": c.rp_id,
            "createdAt": c.created_at,
            "updatedAt": c.updated_at,
            "status": Status::Ok,
        })
    })
}

fn listed(c: &StoredCredential, user_id: &str) -> Value {
    let mut o = Map::new();
    o.insert("webauthnCredentialId".into(), json!(c.id));
    o.insert("recipeUserId".into(), json!(user_id));
    o.insert("relyingPartyId".into(), json!(c.rp_id));
    o.insert("createdAt".into(), json!(c.created_at));
    Value::Object(o)
}

/// `GET /recipe/webauthn/user/credential/list?recipeUserId=`: an unknown user has none.
pub async fn list_credentials(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("recipeUserId")?;
    let credentials = flows::credentials(&ctx.app_storages()?, ctx.id.app_key(), user_id).await?;
    let items: Vec<Value> = credentials.iter().map(|c| listed(c, user_id)).collect();
    json(json!({"credentials": items, "status": Status::Ok}))
}

/// `DELETE /recipe/webauthn/user/credential/remove?recipeUserId=&webauthnCredentialId=`.
pub async fn remove_credential(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("recipeUserId")?;
    let credential_id = ctx.query.required("webauthnCredentialId")?;
    let outcome = flows::remove_credential(&ctx.app_storages()?, ctx.id.app_key(), user_id, credential_id).await?;
    render(outcome, |()| json!({"status": Status::Ok}))
}
