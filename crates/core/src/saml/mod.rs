//! SAML 2.0 service provider: the rules of the core's `saml` recipe (CDI 5.4), pure functions with
//! the clock and randomness as inputs. Storage is [`storage`]; HTTP lives in the server.
//!
//! The flow (an SDK's `saml` third-party provider drives it):
//! 1. `PUT /<t>/recipe/saml/clients`: the IdP metadata ([`metadata`]) becomes a client ([`client`]);
//! 2. `POST /<t>/recipe/saml/login`: an AuthnRequest for the IdP's SSO URL and a relay state
//!    ([`login`]), signed with the app's SP key when the client asks ([`sp_key`]);
//! 3. `POST /<t>/recipe/saml/callback`: the IdP's response is verified ([`response`]: XML-DSig by
//!    `bergshamra`, then our SAML signature profile and checks), its claims ([`claims`]) are kept
//!    under a single-use code, and the browser goes back to the client's redirect URI
//!    ([`callback`]);
//! 4. `POST /<t>/recipe/saml/user`: the code is exchanged for `sub`, `email` and the claims
//!    ([`claims::user_info`]).
//!
//! Beside them: the SP metadata document ([`sp_metadata`]) and the BoxyHQ-style legacy endpoints'
//! rules ([`legacy`]). Every non-OK status and every 400 text of these APIs is a typed value here.

pub mod callback;
pub mod encoding;
pub mod claims;
pub mod client;
pub mod legacy;
pub mod login;
pub mod metadata;
pub mod response;
pub mod sp_key;
pub mod sp_metadata;
pub mod storage;
pub mod time;
mod xml;

use callback::{CallbackError, CodeClaims, RelayState};
use client::{ClientCreationError, ClientInput};
pub use encoding::form_urlencode;
use sp_key::StoredSpKey;
use storage::UpsertClientOutcome;

use crate::error::Error;
use crate::ids::{AppKey, TenantKey};
use crate::storage::Storage;
pub use time::{format_date_time, parse_date_time};

/// `saml_sp_entity_id` when not configured.
pub const DEFAULT_SP_ENTITY_ID: &str = "https://saml.supertokens.com";

/// The SP entity id of a tenant: its `saml_sp_entity_id`, or the core's default.
pub fn sp_entity_id(configured: Option<&str>) -> &str {
    configured.unwrap_or(DEFAULT_SP_ENTITY_ID)
}

/// What the SAML APIs read from a tenant's effective config, derived once per snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `saml_sp_entity_id`, or the core's default.
    pub sp_entity_id: String,
    /// `saml_claims_validity`: life of a code.
    pub claims_validity_ms: i64,
    /// `saml_relay_state_validity`: life of a relay state.
    pub relay_state_validity_ms: i64,
    /// `saml_legacy_acs_url` (app level).
    pub legacy_acs_url: Option<String>,
    /// The SP key to make when none is stored: the core's test mode makes a small one.
    pub key_spec: sp_key::KeySpec,
}

impl Settings {
    pub fn from_config(cfg: &crate::config::Config) -> Settings {
        Settings {
            sp_entity_id: sp_entity_id(cfg.saml_sp_entity_id()).to_owned(),
            claims_validity_ms: cfg.saml_claims_validity(),
            relay_state_validity_ms: cfg.saml_relay_state_validity(),
            legacy_acs_url: cfg.saml_legacy_acs_url().map(str::to_owned),
            key_spec: if cfg.test_mode() { sp_key::KeySpec::TEST_MODE } else { sp_key::KeySpec::PRODUCTION },
        }
    }
}

/// `PUT /recipe/saml/clients`: the client made from the IdP metadata, created or fully replaced.
pub async fn save_client(storage: &dyn Storage, tenant: TenantKey<'_>, input: ClientInput, now_ms: i64) -> Result<UpsertClientOutcome, Error> {
    let client = input.into_client(now_ms).map_err(|e| match e {
        ClientCreationError::Input(e) => Error::BadInput(e.to_string()),
        ClientCreationError::Random(e) => Error::Internal(e.to_string()),
    })?;
    Ok(storage.saml_upsert_client(tenant, &client).await?)
}

/// The answer of a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Where to send the browser (`ssoRedirectURI`).
    Redirect(String),
    /// No such client, or the redirect URI is not one of its.
    InvalidClient,
}

/// A login request (`POST /recipe/saml/login`, or the legacy authorize with the configured ACS).
pub struct LoginRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: Option<String>,
    pub acs_url: &'a str,
}

/// `POST /recipe/saml/login`: the AuthnRequest (signed with the app's SP key when the client asks)
/// and a stored relay state. `app_storage` holds the app's SP key (its public tenant's database).
pub async fn login<F, Fut>(
    storage: &dyn Storage,
    app_storage: &dyn Storage,
    tenant: TenantKey<'_>,
    request: LoginRequest<'_>,
    settings: &Settings,
    now_ms: i64,
    generate_key: F,
) -> Result<LoginOutcome, Error>
where
    F: FnOnce(sp_key::KeySpec) -> Fut,
    Fut: std::future::Future<Output = Result<StoredSpKey, sp_key::SpKeyError>>,
{
    let client = match login::check_client(storage.saml_client(tenant, request.client_id).await?, request.redirect_uri) {
        Ok(client) => client,
        Err(login::LoginError::InvalidClient) => return Ok(LoginOutcome::InvalidClient),
    };
    let key = if client.enable_request_signing {
        Some(load_sp_key(app_storage, tenant.app(), settings.key_spec, now_ms, generate_key).await?)
    } else {
        None
    };
    let input = login::LoginInput { client: &client, acs_url: request.acs_url, sp_entity_id: &settings.sp_entity_id, now_ms, sp_key: key.as_ref() };
    let prepared = login::prepare(&input).map_err(|e| Error::Internal(e.to_string()))?;
    let row = RelayState::new(
        prepared.relay_state,
        client.client_id,
        request.state,
        request.redirect_uri.to_owned(),
        now_ms,
        settings.relay_state_validity_ms,
    );
    storage.saml_save_relay_state(tenant, &row).await?;
    Ok(LoginOutcome::Redirect(prepared.sso_redirect_uri))
}

/// The app's SP key: the stored one, or (none stored, or its certificate expired) a new one made
/// by `generate` and stored unless another instance stored one first, in which case that one is
/// used.
pub async fn load_sp_key<F, Fut>(storage: &dyn Storage, app: AppKey<'_>, spec: sp_key::KeySpec, now_ms: i64, generate: F) -> Result<sp_key::SpKey, Error>
where
    F: FnOnce(sp_key::KeySpec) -> Fut,
    Fut: std::future::Future<Output = Result<StoredSpKey, sp_key::SpKeyError>>,
{
    let internal = |e: sp_key::SpKeyError| Error::Internal(e.to_string());
    let replacing = match storage.saml_sp_key(app).await? {
        Some(stored) => {
            let key = stored.load().map_err(internal)?;
            if !key.is_expired(now_ms) {
                return Ok(key);
            }
            Some(stored.certificate)
        }
        None => None,
    };
    let new = generate(spec).await.map_err(internal)?;
    let stored = storage.saml_store_sp_key(app, &new, replacing.as_deref(), now_ms).await?;
    stored.load().map_err(internal)
}

/// `POST /recipe/saml/callback` (and the legacy callback): the verified response's claims stored
/// under a new code, and the redirect URI with it; or why not (see `callback` for the order).
pub async fn handle_callback(
    storage: &dyn Storage,
    tenant: TenantKey<'_>,
    saml_response: &str,
    relay_state: Option<&str>,
    settings: &Settings,
    now_ms: i64,
) -> Result<Result<String, CallbackError>, Error> {
    let Ok(xml) = response::decode(saml_response) else { return Ok(Err(CallbackError::Malformed(response::MalformedResponse))) };
    // Parsed once here to answer malformed input first and to read the issuer; verified below
    // from a parse of the same text (the document is not kept across the reads).
    let issuer = match response::SamlResponse::parse(&xml) {
        Ok(parsed) => parsed.issuer(),
        Err(e) => return Ok(Err(e.into())),
    };
    let target = match callback::solicited(relay_state) {
        Some(rs) => {
            let row = match callback::relay_state_row(storage.saml_relay_state(tenant, rs, now_ms).await?) {
                Ok(row) => row,
                Err(e) => return Ok(Err(e)),
            };
            let client = storage.saml_client(tenant, &row.client_id).await?;
            callback::sp_initiated(row, client)
        }
        None => {
            let client = match &issuer {
                Some(entity) => storage.saml_client_by_idp_entity_id(tenant, entity).await?,
                None => None,
            };
            callback::idp_initiated(client)
        }
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let verified = response::SamlResponse::parse(&xml)
        .map_err(CallbackError::from)
        .and_then(|parsed| parsed.verify(&target.expected(&settings.sp_entity_id, now_ms)).map_err(CallbackError::from));
    let claims = match verified {
        Ok(claims) => claims,
        Err(e) => return Ok(Err(e)),
    };
    let code = callback::new_code().map_err(|e| Error::Internal(e.to_string()))?;
    let row = CodeClaims::new(target.client.client_id.clone(), code.clone(), &claims, now_ms, settings.claims_validity_ms);
    match &target.relay_state {
        Some(rs) => {
            if !storage.saml_consume_relay_state_and_save_claims(tenant, rs, now_ms, &row).await? {
                return Ok(Err(CallbackError::InvalidRelayState));
            }
        }
        None => storage.saml_save_claims(tenant, &row).await?,
    }
    Ok(Ok(target.redirect_uri_with_code(&code)))
}

/// `POST /recipe/saml/user` (and, with `legacy`, the legacy userinfo): the code, consumed, for
/// the user's claims; a code is `client_id`'s and is used once.
pub async fn user_info(
    storage: &dyn Storage,
    tenant: TenantKey<'_>,
    code: &str,
    client_id: &str,
    now_ms: i64,
    legacy: bool,
) -> Result<Result<serde_json::Map<String, serde_json::Value>, claims::UserInfoError>, Error> {
    let consumed = storage.saml_consume_code(tenant, code, now_ms).await?;
    Ok(claims::user_info(consumed, client_id, legacy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sp_entity_id() {
        assert_eq!(sp_entity_id(None), "https://saml.supertokens.com");
        assert_eq!(sp_entity_id(Some("urn:sp")), "urn:sp");
    }
}
