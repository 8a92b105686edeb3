//! The SAML APIs (CDI 5.4): clients, login, callback, the code exchange, the SP metadata, and the
//! BoxyHQ-style legacy authorize/callback/token/userinfo. Parse → `portcullis_core::saml` → render.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::saml::callback::CallbackError;
use portcullis_core::saml::client::{check_redirect_uris, ClientInput};
use portcullis_core::saml::sp_key::{KeySpec, SpKeyError, StoredSpKey};
use portcullis_core::saml::storage::UpsertClientOutcome;
use portcullis_core::saml::{self as rules, legacy, LoginOutcome, LoginRequest};
use portcullis_core::storage::Storage;
use serde_json::{json, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::{Body, Query};
use crate::http::reply::json;
use crate::http::status::Status;
use crate::tenancy::Tenant;

/// An optional string field: absent = `None`; anything but a string (`null` included) is invalid.
fn opt_str(body: &Body, field: &str) -> Result<Option<String>, ApiError> {
    match body.0.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field_invalid(field)),
    }
}

/// The app's public tenant's database, which holds the app's SP key.
fn app_public_storage(ctx: &Ctx) -> Result<&Arc<dyn Storage>, ApiError> {
    ctx.snapshot.get(&ctx.id.app_public()).map(|t| &t.storage).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))
}

/// Makes an SP key on the blocking pool (4096-bit RSA takes seconds).
async fn generate_key(spec: KeySpec, now_ms: i64) -> Result<StoredSpKey, SpKeyError> {
    tokio::task::spawn_blocking(move || StoredSpKey::generate(spec, now_ms)).await.map_err(|_| SpKeyError::Generation)?
}

fn callback_status(e: CallbackError) -> Status {
    match e {
        CallbackError::InvalidRelayState => Status::InvalidRelayState,
        CallbackError::InvalidClient => Status::InvalidClient,
        CallbackError::IdpLoginDisallowed => Status::IdpLoginDisallowed,
        CallbackError::VerificationFailed(_) | CallbackError::Malformed(_) => Status::SamlResponseVerificationFailed,
    }
}

fn redirect(code: StatusCode, location: &str) -> Result<Response, ApiError> {
    let location = header::HeaderValue::from_str(location).map_err(|_| ApiError::Internal("redirect URI is not a header value".into()))?;
    Ok((code, [(header::LOCATION, location)]).into_response())
}

/// `PUT /<t>/recipe/saml/clients`.
pub async fn save_client(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let client_id = opt_str(&body, "clientId")?;
    let client_secret = opt_str(&body, "clientSecret")?;
    let default_redirect_uri = body.str("defaultRedirectURI")?;
    let Some(Value::Array(uris)) = body.0.get("redirectURIs") else { return Err(ApiError::field_invalid("redirectURIs")) };
    let redirect_uris = check_redirect_uris(uris).map_err(|e| ApiError::bad(e.to_string()))?;
    let metadata_xml = body.str("metadataXML")?;
    let allow_idp_initiated_login = body.opt_bool("allowIDPInitiatedLogin")?;
    let enable_request_signing = body.opt_bool("enableRequestSigning")?;
    let input = ClientInput {
        client_id,
        client_secret,
        default_redirect_uri,
        redirect_uris,
        metadata_xml,
        allow_idp_initiated_login,
        enable_request_signing,
    };
    let tenant = ctx.tenant()?;
    match rules::save_client(tenant.storage.as_ref(), ctx.id.key(), input, ctx.now()).await? {
        UpsertClientOutcome::Saved(client) => {
            let mut out = client.to_json();
            out.insert("status".into(), json!(Status::Ok));
            json(Value::Object(out))
        }
        UpsertClientOutcome::DuplicateIdpEntity => json(json!({"status": Status::DuplicateIdpEntity})),
    }
}

/// `GET /<t>/recipe/saml/clients/list`.
pub async fn list_clients(ctx: &Ctx) -> Result<Response, ApiError> {
    let clients = ctx.tenant()?.storage.saml_clients(ctx.id.key()).await?;
    let clients: Vec<Value> = clients.iter().map(|c| Value::Object(c.to_json())).collect();
    json(json!({"status": Status::Ok, "clients": clients}))
}

/// `POST /<t>/recipe/saml/clients/remove`.
pub async fn remove_client(ctx: &Ctx) -> Result<Response, ApiError> {
    let client_id = ctx.body()?.str("clientId")?;
    let existed = ctx.tenant()?.storage.saml_remove_client(ctx.id.key(), &client_id).await?;
    json(json!({"status": Status::Ok, "didExist": existed}))
}

/// A login for `tenant` (the API's or the legacy authorize's).
async fn start_login(ctx: &Ctx, tenant: &Tenant, request: LoginRequest<'_>) -> Result<LoginOutcome, ApiError> {
    let now = ctx.now();
    let app_storage = app_public_storage(ctx)?;
    let outcome = rules::login(
        tenant.storage.as_ref(),
        app_storage.as_ref(),
        ctx.id.key(),
        request,
        &tenant.settings.saml,
        now,
        |spec| generate_key(spec, now),
    )
    .await?;
    Ok(outcome)
}

/// `POST /<t>/recipe/saml/login`.
pub async fn login(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let client_id = body.str("clientId")?;
    let redirect_uri = body.str("redirectURI")?;
    let state = opt_str(&body, "state")?;
    let acs_url = body.str("acsURL")?;
    let tenant = ctx.tenant()?;
    let request = LoginRequest { client_id: &client_id, redirect_uri: &redirect_uri, state, acs_url: &acs_url };
    match start_login(ctx, tenant, request).await? {
        LoginOutcome::Redirect(uri) => json(json!({"status": Status::Ok, "ssoRedirectURI": uri})),
        LoginOutcome::InvalidClient => json(json!({"status": Status::InvalidClient})),
    }
}

/// `POST /<t>/recipe/saml/callback`.
pub async fn callback(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let saml_response = body.str("samlResponse")?;
    let relay_state = opt_str(&body, "relayState")?;
    let tenant = ctx.tenant()?;
    let result =
        rules::handle_callback(tenant.storage.as_ref(), ctx.id.key(), &saml_response, relay_state.as_deref(), &tenant.settings.saml, ctx.now())
            .await?;
    match result {
        Ok(redirect_uri) => json(json!({"status": Status::Ok, "redirectURI": redirect_uri})),
        Err(CallbackError::Malformed(m)) => Err(ApiError::bad(m.to_string())),
        Err(e) => json(json!({"status": callback_status(e)})),
    }
}

/// `POST /<t>/recipe/saml/user`: the code exchange.
pub async fn user(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let code = body.str("accessToken")?;
    let client_id = body.str("clientId")?;
    let tenant = ctx.tenant()?;
    match rules::user_info(tenant.storage.as_ref(), ctx.id.key(), &code, &client_id, ctx.now(), false).await? {
        Ok(mut info) => {
            info.insert("status".into(), json!(Status::Ok));
            json(Value::Object(info))
        }
        Err(_) => json(json!({"status": Status::InvalidToken})),
    }
}

/// `GET /<t>/.well-known/sp-metadata`: the SP's metadata, with the app's signing certificate.
pub async fn sp_metadata(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let now = ctx.now();
    let settings = &tenant.settings.saml;
    let key = rules::load_sp_key(app_public_storage(ctx)?.as_ref(), ctx.id.app_key(), settings.key_spec, now, |spec| generate_key(spec, now)).await?;
    let xml = portcullis_core::saml::sp_metadata::sp_metadata_xml(&settings.sp_entity_id, &key);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/xml; charset=UTF-8")], format!("{xml}\n")).into_response())
}

/// The legacy endpoints run on the public tenant (CDI 5.0 and later refuse another).
fn legacy_tenant(ctx: &Ctx) -> Result<&Arc<Tenant>, ApiError> {
    ctx.require_public_tenant()?;
    ctx.tenant()
}

fn legacy_error(e: legacy::LegacyError) -> ApiError {
    match e {
        legacy::LegacyError::InvalidToken => ApiError::bad(Status::InvalidToken.as_str()),
        legacy::LegacyError::AcsUrlNotConfigured => ApiError::Internal(e.to_string()),
        other => ApiError::bad(other.to_string()),
    }
}

/// `GET /recipe/saml/legacy/authorize`: 307 to the IdP, with `saml_legacy_acs_url` as the ACS.
pub async fn legacy_authorize(ctx: &Ctx) -> Result<Response, ApiError> {
    let client_id = ctx.query.required("client_id")?.to_owned();
    let redirect_uri = ctx.query.required("redirect_uri")?.to_owned();
    let state = ctx.query.get("state").map(str::to_owned);
    let tenant = legacy_tenant(ctx)?;
    let acs_url = legacy::acs_url(tenant.settings.saml.legacy_acs_url.as_deref()).map_err(legacy_error)?.to_owned();
    let request = LoginRequest { client_id: &client_id, redirect_uri: &redirect_uri, state, acs_url: &acs_url };
    match start_login(ctx, tenant, request).await? {
        LoginOutcome::Redirect(uri) => redirect(StatusCode::TEMPORARY_REDIRECT, &uri),
        LoginOutcome::InvalidClient => json(json!({"status": Status::InvalidClient})),
    }
}

/// The form of a legacy POST (`application/x-www-form-urlencoded`).
fn form(ctx: &Ctx) -> Query {
    Query::parse(std::str::from_utf8(&ctx.body).ok())
}

/// `POST /recipe/saml/legacy/callback`: the IdP's form, forwarded by the operator's ACS; 302 to
/// the client's redirect URI with the code, or a 400 naming the status.
pub async fn legacy_callback(ctx: &Ctx) -> Result<Response, ApiError> {
    let form = form(ctx);
    let get = |name: &str| form.get(name).or_else(|| ctx.query.get(name));
    let (saml_response, relay_state) = legacy::callback_fields(get).map_err(legacy_error)?;
    let tenant = legacy_tenant(ctx)?;
    let result = rules::handle_callback(tenant.storage.as_ref(), ctx.id.key(), saml_response, relay_state, &tenant.settings.saml, ctx.now()).await?;
    match result {
        Ok(redirect_uri) => redirect(StatusCode::FOUND, &redirect_uri),
        Err(CallbackError::Malformed(m)) => Err(ApiError::bad(m.to_string())),
        Err(e) => Err(ApiError::bad(callback_status(e).as_str())),
    }
}

/// `POST /recipe/saml/legacy/token`: the client's credentials for an access token naming the code
/// (the code itself is checked by the userinfo).
pub async fn legacy_token(ctx: &Ctx) -> Result<Response, ApiError> {
    let form = form(ctx);
    let (client_id, client_secret, code) =
        legacy::token_fields(form.get("client_id"), form.get("client_secret"), form.get("code")).map_err(legacy_error)?;
    let tenant = legacy_tenant(ctx)?;
    let client = tenant.storage.saml_client(ctx.id.key(), client_id).await?;
    legacy::check_client_secret(client.as_ref(), client_secret).map_err(legacy_error)?;
    json(json!({"status": Status::Ok, "access_token": legacy::access_token(code, client_id)}))
}

/// `GET /recipe/saml/legacy/userinfo`: the claims of the bearer token's code (consumed).
pub async fn legacy_userinfo(ctx: &Ctx) -> Result<Response, ApiError> {
    let authorization = ctx.authorization.as_deref();
    let (code, client_id) = legacy::userinfo_token(authorization).map_err(legacy_error)?;
    let tenant = legacy_tenant(ctx)?;
    match rules::user_info(tenant.storage.as_ref(), ctx.id.key(), code, client_id, ctx.now(), true).await? {
        Ok(info) => json(Value::Object(info)),
        Err(_) => Err(legacy_error(legacy::LegacyError::InvalidToken)),
    }
}
