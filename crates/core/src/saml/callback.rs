//! `POST /<t>/recipe/saml/callback` (and the legacy callback): which login a response answers,
//! the statuses in the core's order, and where the browser goes next.
//!
//! The order, which decides the status when several things are wrong (the core's):
//! 1. decode and parse the response (`response::decode`, `SamlResponse::parse`) → 400
//!    `Invalid or malformed SAML response input`;
//! 2. a non-empty `relayState` → SP-initiated: its row (this tenant, not expired) or
//!    `INVALID_RELAY_STATE_ERROR` ([`relay_state_row`]), then the row's client or
//!    `INVALID_CLIENT_ERROR` ([`sp_initiated`]);
//!    none → IdP-initiated: the client whose IdP entity id is the response's issuer or
//!    `INVALID_CLIENT_ERROR`, which must allow it or `IDP_LOGIN_DISALLOWED_ERROR`
//!    ([`idp_initiated`]);
//! 3. `SamlResponse::verify` with [`Target::expected`] → `SAML_RESPONSE_VERIFICATION_FAILED_ERROR`;
//! 4. a new code ([`new_code`]) stored with the claims for `saml_claims_validity`; for an
//!    SP-initiated login in the same transaction as the relay state is consumed (single use: a
//!    relay state already consumed by a concurrent or earlier callback → `INVALID_RELAY_STATE_ERROR`).
//!    The relay state is consumed only after verification, so a forged post cannot burn a login;
//! 5. `OK` with [`Target::redirect_uri_with_code`].

use super::client::SamlClient;
use super::response::{Expected, Login, MalformedResponse, Refusal};
use super::encoding::form_urlencode;
use crate::crypto::{uuid_v4, CryptoError};

/// A relay state row as stored (`saml_relay_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayState {
    pub relay_state: String,
    pub client_id: String,
    /// The frontend's `state`, returned with the code; `None` when the login had none.
    pub state: Option<String>,
    pub redirect_uri: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl RelayState {
    /// The row a login stores: valid for `saml_relay_state_validity` milliseconds.
    pub fn new(relay_state: String, client_id: String, state: Option<String>, redirect_uri: String, now_ms: i64, validity_ms: i64) -> RelayState {
        RelayState { relay_state, client_id, state, redirect_uri, created_at: now_ms, expires_at: now_ms.saturating_add(validity_ms) }
    }
}

/// Claims stored under a code (`saml_claims`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeClaims {
    pub client_id: String,
    pub code: String,
    /// The claims as compact JSON.
    pub claims: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl CodeClaims {
    /// Valid for `saml_claims_validity` milliseconds.
    pub fn new(client_id: String, code: String, claims: &super::claims::Claims, now_ms: i64, validity_ms: i64) -> CodeClaims {
        let claims = serde_json::Value::Object(claims.clone()).to_string();
        CodeClaims { client_id, code, claims, created_at: now_ms, expires_at: now_ms.saturating_add(validity_ms) }
    }
}

/// Every non-OK answer of the callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// 400 with the core's text.
    #[error(transparent)]
    Malformed(#[from] MalformedResponse),
    #[error("unknown or expired relay state")]
    InvalidRelayState,
    #[error("unknown client")]
    InvalidClient,
    #[error("the response failed verification")]
    VerificationFailed(Refusal),
    #[error("the client does not allow IdP-initiated login")]
    IdpLoginDisallowed,
}

impl From<super::response::VerificationFailed> for CallbackError {
    fn from(v: super::response::VerificationFailed) -> Self {
        CallbackError::VerificationFailed(v.0)
    }
}

/// The relay state of an SP-initiated login: the non-empty `relayState` (an empty one means an
/// IdP-initiated login, as in the core).
pub fn solicited(relay_state: Option<&str>) -> Option<&str> {
    relay_state.filter(|r| !r.is_empty())
}

/// The row of the relay state (read for this tenant and not expired), or the status.
pub fn relay_state_row(row: Option<RelayState>) -> Result<RelayState, CallbackError> {
    row.ok_or(CallbackError::InvalidRelayState)
}

/// Who the response is for and where the browser goes with the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub client: SamlClient,
    /// The relay state of an SP-initiated login (consumed on success); `None` for IdP-initiated.
    pub relay_state: Option<String>,
    pub state: Option<String>,
    pub redirect_uri: String,
}

/// An SP-initiated login: the row's client (it may have been removed since the login).
pub fn sp_initiated(row: RelayState, client: Option<SamlClient>) -> Result<Target, CallbackError> {
    let client = client.ok_or(CallbackError::InvalidClient)?;
    Ok(Target { client, relay_state: Some(row.relay_state), state: row.state, redirect_uri: row.redirect_uri })
}

/// An IdP-initiated login: the client of the response's issuer, if it allows such logins; the
/// browser goes to its default redirect URI, with no `state`. (An unknown or missing issuer is a
/// 500 in the core.)
pub fn idp_initiated(client: Option<SamlClient>) -> Result<Target, CallbackError> {
    let client = client.ok_or(CallbackError::InvalidClient)?;
    if !client.allow_idp_initiated_login {
        return Err(CallbackError::IdpLoginDisallowed);
    }
    let redirect_uri = client.default_redirect_uri.clone();
    Ok(Target { client, relay_state: None, state: None, redirect_uri })
}

impl Target {
    /// What the response must satisfy for this target.
    pub fn expected<'a>(&'a self, sp_entity_id: &'a str, now_ms: i64) -> Expected<'a> {
        Expected {
            idp_certificate: &self.client.idp_signing_certificate,
            sp_entity_id,
            now_ms,
            login: match &self.relay_state {
                Some(relay_state) => Login::SpInitiated { relay_state },
                None => Login::IdpInitiated,
            },
        }
    }

    /// The redirect URI with `code` and, when the login had one, `state`.
    pub fn redirect_uri_with_code(&self, code: &str) -> String {
        redirect_uri_with_code(&self.redirect_uri, code, self.state.as_deref())
    }
}

/// A new single-use code (UUIDv4).
pub fn new_code() -> Result<String, CryptoError> {
    uuid_v4()
}

/// `redirect_uri` with `code=…` and `&state=…` added to its query (form-encoded once), its
/// fragment kept at the end. The core rebuilds the URI with `java.net.URI`, which encodes `%` a
/// second time and fails (500) on an invalid URI; for ordinary URIs and UUID-like states the
/// result is the same.
pub fn redirect_uri_with_code(redirect_uri: &str, code: &str, state: Option<&str>) -> String {
    let (base, fragment) = match redirect_uri.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (redirect_uri, None),
    };
    let mut out = String::with_capacity(redirect_uri.len() + 64);
    out.push_str(base);
    match base.split_once('?') {
        None => out.push('?'),
        Some((_, "")) => {}
        Some(_) => out.push('&'),
    }
    out.push_str("code=");
    out.push_str(&form_urlencode(code));
    if let Some(state) = state {
        out.push_str("&state=");
        out.push_str(&form_urlencode(state));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(allow_idp: bool) -> SamlClient {
        SamlClient {
            client_id: "c".into(),
            client_secret: None,
            sso_login_url: "https://idp/sso".into(),
            redirect_uris: vec!["http://app/cb".into()],
            default_redirect_uri: "http://app/default".into(),
            idp_entity_id: "https://idp".into(),
            idp_signing_certificate: "CERT".into(),
            allow_idp_initiated_login: allow_idp,
            enable_request_signing: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn row(state: Option<&str>) -> RelayState {
        RelayState::new("rs".into(), "c".into(), state.map(str::to_owned), "http://app/cb".into(), 1000, 300_000)
    }

    #[test]
    fn statuses_in_the_cores_order() {
        assert_eq!(solicited(Some("")), None);
        assert_eq!(solicited(None), None);
        assert_eq!(solicited(Some("rs")), Some("rs"));
        assert_eq!(relay_state_row(None), Err(CallbackError::InvalidRelayState));
        assert_eq!(sp_initiated(row(None), None), Err(CallbackError::InvalidClient));
        assert_eq!(idp_initiated(None), Err(CallbackError::InvalidClient));
        assert_eq!(idp_initiated(Some(client(false))), Err(CallbackError::IdpLoginDisallowed));
        let malformed = CallbackError::Malformed(MalformedResponse);
        assert_eq!(malformed.to_string(), "Invalid or malformed SAML response input");
    }

    #[test]
    fn targets() {
        let t = sp_initiated(row(Some("st")), Some(client(false))).unwrap();
        assert_eq!(t.expected("sp", 5).login, Login::SpInitiated { relay_state: "rs" });
        assert_eq!(t.expected("sp", 5).idp_certificate, "CERT");
        assert_eq!(t.redirect_uri_with_code("code-1"), "http://app/cb?code=code-1&state=st");
        let t = idp_initiated(Some(client(true))).unwrap();
        assert_eq!(t.expected("sp", 5).login, Login::IdpInitiated);
        assert_eq!(t.redirect_uri_with_code("code-1"), "http://app/default?code=code-1");
        assert_eq!(row(None).expires_at, 301_000);
    }

    #[test]
    fn redirect_uris_get_code_and_state() {
        let r = |uri, state| redirect_uri_with_code(uri, "6f3c", state);
        assert_eq!(r("http://h/auth/callback/saml-x", Some("abc")), "http://h/auth/callback/saml-x?code=6f3c&state=abc");
        assert_eq!(r("http://h/cb?x=1", None), "http://h/cb?x=1&code=6f3c");
        assert_eq!(r("http://h/cb?", None), "http://h/cb?code=6f3c");
        assert_eq!(r("http://h/cb#frag?x", Some("a b/c")), "http://h/cb?code=6f3c&state=a+b%2Fc#frag?x");
        assert_eq!(r("http://h/cb?x=%41#f", Some("")), "http://h/cb?x=%41&code=6f3c&state=#f");
    }

    #[test]
    fn code_claims_are_compact_json() {
        let mut claims = super::super::claims::Claims::new();
        claims.insert("NameID".into(), serde_json::json!(["u"]));
        let c = CodeClaims::new("c".into(), "code".into(), &claims, 10, 300_000);
        assert_eq!(c.claims, r#"{"NameID":["u"]}"#);
        assert_eq!((c.created_at, c.expires_at), (10, 300_010));
        assert_eq!(RelayState::new("r".into(), "c".into(), None, "u".into(), i64::MAX - 1, 10).expires_at, i64::MAX);
    }
}
