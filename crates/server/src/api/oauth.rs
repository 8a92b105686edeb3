//! The OAuth2 provider's APIs (`/recipe/oauth/*`): app-wide (public tenant only, from CDI 5.0), kept
//! in the app's public tenant's database. Each handler parses, calls `portcullis_core::oauth::flows`
//! and renders: `OK` with the answer's fields, `OAUTH_ERROR` / `CLIENT_NOT_FOUND_ERROR` (200), or the
//! core's 400 text.

use axum::response::Response;
use portcullis_core::oauth::errors::Failure;
use portcullis_core::oauth::flows::{self, Answer, Env, Stop};
use portcullis_core::oauth::logout::{self, EndSession};
use portcullis_core::oauth::random::OsRandom;
use portcullis_core::oauth::challenges;
use serde_json::{json, Map, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::status::Status;

/// Runs `op` with the app's environment and renders what it answered.
async fn run<F>(ctx: &Ctx, op: F) -> Result<Response, ApiError>
where
    F: for<'e> FnOnce(&'e Env<'e>) -> std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send + 'e>>,
{
    ctx.require_public_tenant()?;
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    let now = ctx.now();
    let keys = ctx.state.keys.provider(&app.config.id, &app.storage, &app.settings.session, now);
    let env = Env {
        storage: app.storage.as_ref(),
        app: app.config.id.app_key(),
        keys: &keys,
        hasher: &ctx.state.hashing,
        passwords: &app.settings.passwords,
        rng: &OsRandom,
        now,
    };
    render(op(&env).await)
}

fn render(answer: Answer) -> Result<Response, ApiError> {
    match answer {
        Ok(Value::Object(mut fields)) => {
            fields.insert("status".into(), json!(Status::Ok));
            json(Value::Object(fields))
        }
        Ok(_) => Err(ApiError::Internal("an OAuth answer that is not an object".into())),
        Err(Stop::Failure(Failure::BadInput(b))) => Err(ApiError::bad(b.0)),
        Err(Stop::Failure(Failure::OAuth(e))) => {
            let mut body = e.to_json();
            body["status"] = json!(Status::OAuthError);
            json(body)
        }
        Err(Stop::Failure(Failure::ClientNotFound)) => json(json!({"status": Status::ClientNotFound})),
        Err(Stop::Failure(Failure::Internal(why))) => Err(ApiError::Internal(why.into())),
        Err(Stop::Error(e)) => Err(e.into()),
    }
}

fn body_of(ctx: &Ctx) -> Result<Map<String, Value>, ApiError> {
    Ok(ctx.body()?.0)
}

fn query(ctx: &Ctx, key: &str) -> Option<String> {
    ctx.query.get(key).map(str::to_owned)
}

pub async fn client_get(ctx: &Ctx) -> Result<Response, ApiError> {
    let id = query(ctx, "clientId");
    run(ctx, |env| Box::pin(async move { flows::client_get(env, id.as_deref()).await })).await
}

pub async fn client_create(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::client_create(env, &body).await })).await
}

pub async fn client_update(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::client_update(env, &body).await })).await
}

pub async fn client_list(ctx: &Ctx) -> Result<Response, ApiError> {
    let (size, name, token) = (query(ctx, "pageSize"), query(ctx, "clientName"), query(ctx, "pageToken"));
    run(ctx, |env| Box::pin(async move { flows::client_list(env, size.as_deref(), name.as_deref(), token.as_deref()).await })).await
}

pub async fn client_remove(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::client_remove(env, &body).await })).await
}

pub async fn auth(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::auth(env, &body).await })).await
}

fn login_challenge(ctx: &Ctx) -> Result<String, ApiError> {
    challenges::login_challenge(|k| ctx.query.get(k)).map(str::to_owned).map_err(|b| ApiError::bad(b.0))
}

fn consent_challenge(ctx: &Ctx) -> Result<String, ApiError> {
    challenges::consent_challenge(|k| ctx.query.get(k)).map(str::to_owned).map_err(|b| ApiError::bad(b.0))
}

pub async fn login_request(ctx: &Ctx) -> Result<Response, ApiError> {
    let challenge = login_challenge(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::login_request(env, &challenge).await })).await
}

pub async fn login_handle(ctx: &Ctx, accept: bool) -> Result<Response, ApiError> {
    let challenge = login_challenge(ctx)?;
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::login_handle(env, &challenge, &body, accept).await })).await
}

pub async fn consent_request(ctx: &Ctx) -> Result<Response, ApiError> {
    let challenge = consent_challenge(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::consent_request(env, &challenge).await })).await
}

pub async fn consent_handle(ctx: &Ctx, accept: bool) -> Result<Response, ApiError> {
    let challenge = consent_challenge(ctx)?;
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::consent_handle(env, &challenge, &body, accept).await })).await
}

pub async fn token(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::token(env, &body).await })).await
}

pub async fn introspect(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::introspect(env, &body).await })).await
}

pub async fn revoke_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::revoke_token(env, &body).await })).await
}

pub async fn revoke_by_client(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::revoke_by_client(env, &body).await })).await
}

pub async fn revoke_by_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = body_of(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::revoke_by_session(env, &body).await })).await
}

pub async fn end_session(ctx: &Ctx) -> Result<Response, ApiError> {
    let request = EndSession::parse(|k| ctx.query.get(k));
    run(ctx, |env| Box::pin(async move { flows::end_session(env, &request).await })).await
}

fn logout_challenge(ctx: &Ctx) -> Result<String, ApiError> {
    let body = if ctx.body.is_empty() { Map::new() } else { body_of(ctx)? };
    logout::challenge_of(&body, ctx.query.get("challenge")).map(str::to_owned).map_err(|b| ApiError::bad(b.0))
}

pub async fn logout_accept(ctx: &Ctx) -> Result<Response, ApiError> {
    let challenge = logout_challenge(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::logout_accept(env, &challenge).await })).await
}

pub async fn logout_reject(ctx: &Ctx) -> Result<Response, ApiError> {
    let challenge = logout_challenge(ctx)?;
    run(ctx, |env| Box::pin(async move { flows::logout_reject(env, &challenge).await })).await
}
