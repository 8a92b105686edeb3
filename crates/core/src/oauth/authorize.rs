//! `POST /recipe/oauth/auth`, the authorization endpoint the SDK calls for every `GET /oauth/auth` of
//! the browser and for each of its internal redirects. One flow (a row of `oauth_flows`) goes:
//!
//! 1. **start** (no verifier): the request is validated and stored; answer: the SDK's login page
//!    `{apiDomain}/oauth/login?login_challenge=…` and a login CSRF cookie;
//! 2. the SDK accepts (or rejects) the login request ([`super::challenges`]), which hands out a
//!    login verifier: `{apiDomain}/oauth/auth?<original query>&login_verifier=…`;
//! 3. **login verifier**: checked (single use, 30 minutes, CSRF cookie); answer: the consent page
//!    `{apiDomain}/oauth/consent?consent_challenge=…` and a consent CSRF cookie;
//! 4. the SDK accepts (or rejects) the consent request, which hands out a consent verifier;
//! 5. **consent verifier**: checked the same way; answer: the client's redirect URI with the
//!    authorization code (or, for implicit and hybrid response types, tokens in the fragment).
//!
//! Errors found before the client and its redirect URI are trusted are not redirected (RFC 6749
//! §4.1.2.1): `OAUTH_ERROR` with status 400, or `CLIENT_NOT_FOUND_ERROR`. Later errors go back to the
//! client's redirect URI with `error`, `error_description` and `state`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::claims::{mint_id_token_only, mint_user_tokens, GrantRecord, IdClaims, Issued, Signer, TokenExt, UserTokens, AUTH_CODE_PREFIX};
use super::client::{Client, Grant};
use super::cookies::{self, CsrfKind};
use super::defaults::{AUTH_CODE_LIFESPAN_MS, CODE_REUSE_RETENTION_MS, LOGIN_CONSENT_LIFESPAN_MS, MIN_PARAMETER_ENTROPY};
use super::errors::{BadInput, Failure, Kind, OAuthError};
use super::matching;
use super::pkce;
use super::random::{self, Random};
use super::url::{encode_pairs, with_params, ResponseMode};
use super::{split_spaces, API_DOMAIN};
use crate::crypto::{secrets_equal, sha256_hex};

/// Bounds on `params` (the browser's query string): an authorization request is small.
pub const MAX_PARAMS: usize = 64;
pub const MAX_PARAMS_BYTES: usize = 16 * 1024;

/// The query parameters of an authorization request, in the order they came.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params(pairs)
    }

    /// The value of `key` (an empty value counts as absent, as Go's `Form.Get` callers treat it).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// The original query string, without the verifiers (which the redirects add themselves).
    pub fn original_query(&self) -> String {
        let kept: Vec<&(String, String)> =
            self.0.iter().filter(|(k, _)| k != "login_verifier" && k != "consent_verifier").collect();
        encode_pairs(&kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>())
    }
}

/// The body of `/recipe/oauth/auth`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthInput {
    pub params: Params,
    /// The openid issuer (`apiDomain + apiBasePath`).
    pub iss: Option<String>,
    /// The browser's `Cookie` header, merged by the SDK with the cookies of earlier hops.
    pub cookies: Option<String>,
    /// Custom claims for tokens issued straight from this endpoint (implicit flows); the SDKs never
    /// send them, overrides may.
    pub access_token: Option<Map<String, Value>>,
    pub id_token: Option<Map<String, Value>>,
}

impl AuthInput {
    /// Reads the body: `params` an object of strings (400 otherwise, where the Java core failed with a
    /// 500), `iss` and `cookies` strings, `access_token` / `id_token` objects, `useStaticSigningKey` a
    /// boolean; `session` (sent by the SDKs) is ignored, as the Java core ignored it.
    pub fn from_body(body: &Map<String, Value>) -> Result<AuthInput, Failure> {
        let Some(Value::Object(raw)) = body.get("params") else {
            return Err(BadInput::field_invalid("params").into());
        };
        let mut pairs = Vec::with_capacity(raw.len());
        let mut bytes = 0;
        for (k, v) in raw {
            let Value::String(v) = v else { return Err(BadInput::field_invalid("params").into()) };
            bytes += k.len() + v.len();
            pairs.push((k.clone(), v.clone()));
        }
        if pairs.len() > MAX_PARAMS || bytes > MAX_PARAMS_BYTES {
            return Err(OAuthError::hint(Kind::InvalidRequest, "The authorization request is too large.").into());
        }
        let opt_string = |key: &str| match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(BadInput::field_invalid(key)),
        };
        let opt_object = |key: &str| match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(BadInput::field_invalid(key)),
        };
        if matches!(body.get("useStaticSigningKey"), Some(v) if !v.is_null() && !v.is_boolean()) {
            return Err(BadInput::field_invalid("useStaticSigningKey").into());
        }
        Ok(AuthInput {
            params: Params(pairs),
            iss: opt_string("iss")?,
            cookies: opt_string("cookies")?,
            access_token: opt_object("access_token")?,
            id_token: opt_object("id_token")?,
        })
    }

    /// Which step of the flow this call is (a request with both verifiers is a login step, as in Hydra).
    pub fn step(&self) -> Step<'_> {
        if let Some(v) = self.params.get("login_verifier") {
            Step::LoginVerifier(v)
        } else if let Some(v) = self.params.get("consent_verifier") {
            Step::ConsentVerifier(v)
        } else {
            Step::Start
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    Start,
    LoginVerifier(&'a str),
    ConsentVerifier(&'a str),
}

impl Step<'_> {
    /// The stored form of the verifier (flows are looked up by it).
    pub fn verifier_hash(&self) -> Option<String> {
        match self {
            Step::Start => None,
            Step::LoginVerifier(v) | Step::ConsentVerifier(v) => Some(sha256_hex(v)),
        }
    }
}

/// What `/recipe/oauth/auth` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthAnswer {
    /// `{"status":"OK","redirectTo":…,"cookies":[…]}` (exactly these three keys).
    Redirect { redirect_to: String, cookies: Vec<String> },
    Failed(Failure),
}

impl AuthAnswer {
    /// The JSON of a redirect (`None` for a failure, which the handler renders by its kind).
    pub fn redirect_json(&self) -> Option<Value> {
        match self {
            AuthAnswer::Redirect { redirect_to, cookies } => {
                Some(json!({"redirectTo": redirect_to, "cookies": cookies}))
            }
            AuthAnswer::Failed(_) => None,
        }
    }
}

impl From<Failure> for AuthAnswer {
    fn from(f: Failure) -> AuthAnswer {
        AuthAnswer::Failed(f)
    }
}

/// A validated authorization request, as stored in `oauth_flows.request`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    /// The redirect URI the request resolved to.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent: the token request must then send the same (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// Sorted.
    pub response_types: Vec<String>,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub pkce: Option<pkce::Challenge>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub acr_values: Vec<String>,
    pub ui_locales: Vec<String>,
    pub display: Option<String>,
    /// The original query string (without verifiers), for the verifier redirects and `requestUrl`.
    pub query: String,
    pub iss: Option<String>,
    /// The login session id the login and consent requests show (`sessionId`, `loginSessionId`).
    #[serde(default)]
    pub login_session_id: String,
}

impl AuthRequest {
    pub fn has_response_type(&self, t: &str) -> bool {
        self.response_types.iter().any(|r| r == t)
    }

    /// Whether tokens come straight from this endpoint (implicit or hybrid).
    pub fn is_implicit(&self) -> bool {
        self.has_response_type("token") || self.has_response_type("id_token")
    }

    /// The error redirect for this request.
    pub fn error(&self, e: OAuthError) -> AuthAnswer {
        error_redirect(&self.redirect_uri, self.response_mode, self.state.as_deref(), &e)
    }

    /// `{apiDomain}/oauth/auth?<original query>&<name>=<verifier>`.
    pub fn verifier_redirect(&self, name: &str, verifier: &str) -> String {
        let sep = if self.query.is_empty() { "" } else { "&" };
        format!("{API_DOMAIN}/oauth/auth?{}{sep}{}", self.query, encode_pairs(&[(name, verifier)]))
    }

    /// What the login request shows as `requestUrl`: the issuer's authorization URL with the original
    /// query (the SDK reads only the query part).
    pub fn request_url(&self) -> String {
        format!("{}/oauth/auth?{}", self.iss.as_deref().unwrap_or(API_DOMAIN), self.query)
    }

    fn cookie_is_secure(&self) -> bool {
        self.iss.as_deref().is_some_and(|i| i.starts_with("https://"))
    }
}

fn error_redirect(redirect_uri: &str, mode: ResponseMode, state: Option<&str>, e: &OAuthError) -> AuthAnswer {
    AuthAnswer::Redirect { redirect_to: with_params(redirect_uri, &e.redirect_pairs(state), mode), cookies: vec![] }
}

/// The response types fosite has handlers for (as sets).
const KNOWN_RESPONSE_TYPES: [&[&str]; 7] =
    [&["code"], &["token"], &["id_token"], &["code", "id_token"], &["code", "token"], &["id_token", "token"], &["code", "id_token", "token"]];

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Validates an authorization request against its client (fosite's order, which decides what can
/// be redirected). `client` is the client named by `client_id`, if it exists.
pub fn validate(input: &AuthInput, client: Option<&Client>) -> Result<AuthRequest, AuthAnswer> {
    let p = &input.params;
    let fail = |e: OAuthError| AuthAnswer::Failed(Failure::OAuth(e));
    let Some(client_id) = p.get("client_id") else {
        return Err(fail(OAuthError::hint(Kind::InvalidClient, "The requested OAuth 2.0 Client does not exist.").with_status(400)));
    };
    let Some(client) = client.filter(|c| c.client_id == client_id) else {
        return Err(AuthAnswer::Failed(Failure::ClientNotFound));
    };
    if p.get("request").is_some() {
        return Err(fail(OAuthError::new(Kind::RequestNotSupported)));
    }
    if p.get("request_uri").is_some() {
        return Err(fail(OAuthError::new(Kind::RequestUriNotSupported)));
    }
    let explicit_mode = match p.get("response_mode") {
        None => None,
        Some("query") => Some(Some(ResponseMode::Query)),
        Some("fragment") => Some(Some(ResponseMode::Fragment)),
        // Understood but not supported: reported through the redirect below.
        Some("form_post") => Some(None),
        Some(other) => {
            return Err(fail(OAuthError::hint(
                Kind::UnsupportedResponseMode,
                &format!("Request with unsupported response_mode '{other}'."),
            )))
        }
    };
    let scopes = split_spaces(p.get("scope").unwrap_or(""));
    if p.get("redirect_uri").is_none() && scopes.iter().any(|s| s == "openid") {
        return Err(fail(OAuthError::hint(Kind::InvalidRequest, "The 'redirect_uri' parameter is required when using OpenID Connect 1.0.")));
    }
    let redirect_uri = matching::resolve_redirect_uri(&client.config.redirect_uris, p.get("redirect_uri")).map_err(fail)?;

    // From here on the redirect URI is trusted: errors go back to it.
    let response_types = sorted(split_spaces(p.get("response_type").unwrap_or("")));
    let default_mode = if response_types == ["code"] { ResponseMode::Query } else { ResponseMode::Fragment };
    let mode = explicit_mode.flatten().unwrap_or(default_mode);
    let state = p.get("state").map(str::to_owned);
    let redirect = |e: OAuthError| error_redirect(redirect_uri, mode, state.as_deref(), &e);

    matching::check_scopes(&client.scopes(), &scopes).map_err(redirect)?;
    let audience = split_spaces(p.get("audience").unwrap_or(""));
    matching::check_audiences(&client.config.audience, &audience).map_err(redirect)?;
    if p.get("registration").is_some() {
        return Err(redirect(OAuthError::new(Kind::RegistrationNotSupported)));
    }
    if response_types.is_empty() {
        return Err(redirect(OAuthError::hint(Kind::UnsupportedResponseType, "The request is missing the 'response_type' parameter.")));
    }
    let allowed = client.response_types().iter().any(|t| sorted(split_spaces(t)) == response_types);
    if !allowed {
        return Err(redirect(OAuthError::hint(
            Kind::UnsupportedResponseType,
            &format!("The client is not allowed to request response_type '{}'.", p.get("response_type").unwrap_or("")),
        )));
    }
    if !KNOWN_RESPONSE_TYPES.iter().any(|k| k.iter().copied().eq(response_types.iter().map(String::as_str))) {
        return Err(redirect(OAuthError::hint(
            Kind::UnsupportedResponseType,
            &format!("The response_type '{}' is not supported.", p.get("response_type").unwrap_or("")),
        )));
    }
    let has = |t: &str| response_types.iter().any(|r| r == t);
    let implicit = has("token") || has("id_token");
    for (needed, grant) in [(has("code"), Grant::AuthorizationCode), (implicit, Grant::Implicit)] {
        if needed && !client.allows_grant(grant) {
            return Err(redirect(OAuthError::hint(
                Kind::UnauthorizedClient,
                &format!("The OAuth 2.0 Client is not allowed to use the authorization grant '{}'.", grant.name()),
            )));
        }
    }
    if has("id_token") && !scopes.iter().any(|s| s == "openid") {
        return Err(redirect(OAuthError::hint(Kind::InvalidScope, "The 'id_token' response type needs the 'openid' scope.")));
    }
    match explicit_mode {
        Some(None) => {
            return Err(redirect(OAuthError::hint(
                Kind::UnsupportedResponseMode,
                "The client is not allowed to request response_mode 'form_post'.",
            )))
        }
        Some(Some(ResponseMode::Query)) if implicit => {
            return Err(redirect(OAuthError::hint(
                Kind::UnsupportedResponseMode,
                "Tokens must not be sent in the query: use response_mode 'fragment'.",
            )))
        }
        _ => {}
    }
    if state.as_deref().map_or(0, |s| s.chars().count()) < MIN_PARAMETER_ENTROPY {
        return Err(redirect(OAuthError::hint(
            Kind::InvalidState,
            &format!("Request parameter 'state' must be at least be {MIN_PARAMETER_ENTROPY} characters long to ensure sufficient entropy."),
        )));
    }
    let nonce = p.get("nonce").map(str::to_owned);
    match &nonce {
        Some(n) if n.chars().count() < MIN_PARAMETER_ENTROPY => {
            return Err(redirect(OAuthError::hint(
                Kind::InvalidRequest,
                &format!("Parameter 'nonce' is set but does not fulfill the minimum entropy requirement of {MIN_PARAMETER_ENTROPY} characters."),
            )))
        }
        None if has("id_token") => {
            return Err(redirect(OAuthError::hint(
                Kind::InvalidRequest,
                "Parameter 'nonce' must be set when using the OpenID Connect Implicit or Hybrid flow.",
            )))
        }
        _ => {}
    }
    let pkce = if has("code") {
        pkce::challenge_of(p.get("code_challenge"), p.get("code_challenge_method")).map_err(redirect)?
    } else {
        None
    };
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        redirect_uri_sent: p.get("redirect_uri").is_some(),
        response_types,
        response_mode: mode,
        scopes,
        audience,
        state,
        nonce,
        pkce,
        prompt: p.get("prompt").map(str::to_owned),
        max_age: p.get("max_age").map(str::to_owned),
        login_hint: p.get("login_hint").map(str::to_owned),
        acr_values: split_spaces(p.get("acr_values").unwrap_or("")),
        ui_locales: split_spaces(p.get("ui_locales").unwrap_or("")),
        display: p.get("display").map(str::to_owned),
        query: p.original_query(),
        iss: input.iss.clone(),
        login_session_id: String::new(),
    })
}

/// Why an authorization was refused, as stored when a login or consent request is rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    pub error: String,
    pub description: Option<String>,
    pub status_code: u16,
}

impl Denial {
    pub fn to_error(&self) -> OAuthError {
        OAuthError { error: self.error.clone(), description: self.description.clone(), status_code: self.status_code }
    }
}

/// An accepted login request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginAccepted {
    pub subject: String,
    pub identity_provider_session_id: Option<String>,
    pub acr: String,
    pub amr: Vec<String>,
    pub context: Value,
    /// When the login was accepted (ms): the ID token's `auth_time`.
    pub authenticated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoginOutcome {
    Accepted(LoginAccepted),
    Rejected(Denial),
}

/// An accepted consent request: what is granted, and the SuperTokens session it was granted in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentAccepted {
    pub grant_scope: Vec<String>,
    pub grant_audience: Vec<String>,
    pub remember: bool,
    /// Seconds; 0 = indefinitely.
    pub remember_for: i64,
    pub context: Value,
    pub iss: String,
    pub tenant_id: String,
    pub rsub: String,
    pub session_handle: String,
    pub initial_access_token_payload: Map<String, Value>,
    pub initial_id_token_payload: Map<String, Value>,
}

// One per flow, read and written once per step: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ConsentOutcome {
    Accepted(ConsentAccepted),
    Rejected(Denial),
}

macro_rules! stored_json {
    ($t:ty) => {
        impl $t {
            /// The JSON text stored in its `oauth_flows` column.
            pub fn to_stored(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }

            pub fn from_stored(text: &str) -> Result<Self, String> {
                serde_json::from_str(text).map_err(|e| format!("unreadable OAuth flow data: {e}"))
            }
        }
    };
}
stored_json!(AuthRequest);
stored_json!(LoginOutcome);
stored_json!(ConsentOutcome);

/// A row of `oauth_flows`: one authorization request from start to code.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub login_challenge: String,
    pub client_id: String,
    pub request: AuthRequest,
    /// ms; the ID token's `rat`.
    pub requested_at: i64,
    pub login_csrf: String,
    pub login_verifier_hash: Option<String>,
    pub login: Option<LoginOutcome>,
    pub login_verifier_used: bool,
    pub consent_challenge: Option<String>,
    pub consent_csrf: Option<String>,
    pub consent_skip: bool,
    pub consent_verifier_hash: Option<String>,
    pub consent: Option<ConsentOutcome>,
    pub consent_verifier_used: bool,
    /// The grant id, fixed when consent is accepted.
    pub gid: Option<String>,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<i64>,
    pub code_used: bool,
    /// When the row may be deleted (ms).
    pub expires_at: i64,
}

impl Flow {
    /// Whether the login and consent requests of this flow have timed out.
    pub fn request_expired(&self, now: i64) -> bool {
        now > self.requested_at + LOGIN_CONSENT_LIFESPAN_MS
    }

    pub fn accepted_login(&self) -> Option<&LoginAccepted> {
        match &self.login {
            Some(LoginOutcome::Accepted(a)) => Some(a),
            _ => None,
        }
    }

    pub fn accepted_consent(&self) -> Option<&ConsentAccepted> {
        match &self.consent {
            Some(ConsentOutcome::Accepted(a)) => Some(a),
            _ => None,
        }
    }
}

/// A consent remembered for a client and subject (`oauth_consents`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RememberedConsent {
    pub client_id: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
    /// ms; `None` = indefinitely.
    pub remember_until: Option<i64>,
    pub time_created: i64,
}

impl RememberedConsent {
    /// Whether it covers a request: not expired, and every requested scope and audience granted.
    pub fn covers(&self, req: &AuthRequest, now: i64) -> bool {
        self.remember_until.is_none_or(|t| t > now)
            && req.scopes.iter().all(|s| self.scopes.contains(s))
            && req.audience.iter().all(|a| self.audience.contains(a))
    }
}

/// Step 1: a new flow for a validated request, and the redirect to the SDK's login page. `Err` is the
/// answer to give instead (an error redirect, or a failure of the random source).
pub fn start(mut request: AuthRequest, now: i64, rng: &dyn Random) -> Result<(Flow, AuthAnswer), AuthAnswer> {
    let prompts = split_spaces(request.prompt.as_deref().unwrap_or(""));
    if prompts.iter().any(|p| p == "none") {
        // Login sessions are not remembered (the SDKs never ask for it), so `prompt=none` cannot be
        // satisfied; the SDKs themselves rename it to `st_prompt` and handle it.
        let e = if prompts.len() > 1 {
            OAuthError::hint(Kind::InvalidRequest, "Parameter 'prompt' was set to 'none', but contains other values as well.")
        } else {
            OAuthError::hint(Kind::LoginRequired, "Prompt 'none' was requested, but no existing login session was found.")
        };
        return Err(request.error(e));
    }
    let internal = |e: crate::crypto::CryptoError| AuthAnswer::Failed(e.into());
    let login_challenge = random::token(rng).map_err(internal)?;
    let csrf = random::token(rng).map_err(internal)?;
    request.login_session_id = random::uuid_v4(rng).map_err(internal)?;
    let cookie = cookies::csrf_set_cookie(
        &cookies::csrf_cookie_name(CsrfKind::Login, &request.client_id),
        &csrf,
        now,
        request.cookie_is_secure(),
    );
    let answer = AuthAnswer::Redirect {
        redirect_to: format!("{API_DOMAIN}/oauth/login?{}", encode_pairs(&[("login_challenge", &login_challenge)])),
        cookies: vec![cookie],
    };
    let flow = Flow {
        login_challenge,
        client_id: request.client_id.clone(),
        request,
        requested_at: now,
        login_csrf: csrf,
        login_verifier_hash: None,
        login: None,
        login_verifier_used: false,
        consent_challenge: None,
        consent_csrf: None,
        consent_skip: false,
        consent_verifier_hash: None,
        consent: None,
        consent_verifier_used: false,
        gid: None,
        code_hash: None,
        code_expires_at: None,
        code_used: false,
        expires_at: now + LOGIN_CONSENT_LIFESPAN_MS,
    };
    Ok((flow, answer))
}

/// The CSRF check of a verifier step: the cookie set with the challenge must come back unchanged.
fn check_csrf(cookie_header: Option<&str>, kind: CsrfKind, client_id: &str, expected: Option<&str>) -> Result<(), OAuthError> {
    let name = cookies::csrf_cookie_name(kind, client_id);
    let Some(sent) = cookie_header.and_then(|h| cookies::find(h, &name)) else {
        return Err(OAuthError::hint(Kind::RequestForbidden, "No CSRF value available in the session cookie."));
    };
    match expected {
        Some(e) if secrets_equal(sent.as_bytes(), e.as_bytes()) => Ok(()),
        _ => Err(OAuthError::hint(Kind::RequestForbidden, "The CSRF value from the token does not match the CSRF value from the data store.")),
    }
}

/// Step 3, first half: the flow a login verifier names, checked. `flow` is the row found by the
/// verifier's hash. `Ok` is the accepted login; `Err` the error redirect (a rejected login becomes
/// its stored error). After this, [`begin_consent`] and an atomic "use the login verifier" write,
/// whose loss to a concurrent use is answered with [`verifier_already_used`].
pub fn check_login_verifier<'f>(
    flow: Option<&'f Flow>,
    req: &AuthRequest,
    cookie_header: Option<&str>,
    now: i64,
) -> Result<&'f LoginAccepted, AuthAnswer> {
    let unusable = || req.error(verifier_already_used_error("login"));
    let flow = flow.filter(|f| !f.login_verifier_used).ok_or_else(unusable)?;
    let outcome = flow.login.as_ref().ok_or_else(unusable)?;
    if flow.client_id != req.client_id {
        return Err(req.error(OAuthError::hint(Kind::InvalidClient, "The flow client id does not match the authorize request client id.")));
    }
    if flow.request_expired(now) {
        return Err(req.error(OAuthError::hint(Kind::RequestUnauthorized, "The login request has expired. Please try again.")));
    }
    check_csrf(cookie_header, CsrfKind::Login, &flow.client_id, Some(&flow.login_csrf)).map_err(|e| req.error(e))?;
    match outcome {
        LoginOutcome::Rejected(d) => Err(req.error(d.to_error())),
        LoginOutcome::Accepted(a) => Ok(a),
    }
}

fn verifier_already_used_error(which: &str) -> OAuthError {
    OAuthError::hint(Kind::AccessDenied, &format!("The {which} verifier has already been used, has not been granted, or is invalid."))
}

/// The answer when the atomic "use the verifier" write found it used already (a concurrent request
/// won): the same error as an unknown verifier.
pub fn verifier_already_used(req: &AuthRequest, which: CsrfKind) -> AuthAnswer {
    req.error(verifier_already_used_error(match which {
        CsrfKind::Login => "login",
        CsrfKind::Consent => "consent",
    }))
}

/// What the login-verifier step writes (with `login_verifier_used = TRUE`, only if it was FALSE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentStart {
    pub consent_challenge: String,
    pub consent_csrf: String,
    /// A remembered consent covers the request: the consent request shows `skip: true`.
    pub skip: bool,
}

/// Step 3, second half: the consent request, and the redirect to the SDK's consent page.
/// `remembered` is the consent stored for this client and the login's subject, if any.
pub fn begin_consent(
    flow: &Flow,
    remembered: Option<&RememberedConsent>,
    now: i64,
    rng: &dyn Random,
) -> Result<(ConsentStart, AuthAnswer), Failure> {
    let skip = remembered.is_some_and(|r| r.client_id == flow.client_id && r.covers(&flow.request, now));
    let start = ConsentStart { consent_challenge: random::token(rng)?, consent_csrf: random::token(rng)?, skip };
    let cookie = cookies::csrf_set_cookie(
        &cookies::csrf_cookie_name(CsrfKind::Consent, &flow.client_id),
        &start.consent_csrf,
        now,
        flow.request.cookie_is_secure(),
    );
    let answer = AuthAnswer::Redirect {
        redirect_to: format!("{API_DOMAIN}/oauth/consent?{}", encode_pairs(&[("consent_challenge", &start.consent_challenge)])),
        cookies: vec![cookie],
    };
    Ok((start, answer))
}

/// Step 5, first half: the flow a consent verifier names, checked like a login verifier. `Ok` is the
/// accepted login and consent.
pub fn check_consent_verifier<'f>(
    flow: Option<&'f Flow>,
    req: &AuthRequest,
    cookie_header: Option<&str>,
    now: i64,
) -> Result<(&'f LoginAccepted, &'f ConsentAccepted), AuthAnswer> {
    let unusable = || req.error(verifier_already_used_error("consent"));
    let flow = flow.filter(|f| !f.consent_verifier_used).ok_or_else(unusable)?;
    let outcome = flow.consent.as_ref().ok_or_else(unusable)?;
    let login = flow.accepted_login().ok_or_else(unusable)?;
    if flow.client_id != req.client_id {
        return Err(req.error(OAuthError::hint(Kind::InvalidClient, "The flow client id does not match the authorize request client id.")));
    }
    if flow.request_expired(now) {
        return Err(req.error(OAuthError::hint(Kind::RequestUnauthorized, "The consent request has expired, please try again.")));
    }
    check_csrf(cookie_header, CsrfKind::Consent, &flow.client_id, flow.consent_csrf.as_deref()).map_err(|e| req.error(e))?;
    match outcome {
        ConsentOutcome::Rejected(d) => Err(req.error(d.to_error())),
        ConsentOutcome::Accepted(c) => Ok((login, c)),
    }
}

/// An authorization code: the value for the redirect, the hash to store, when it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCode {
    pub plain: String,
    pub hash: String,
    pub expires_at: i64,
}

/// What the consent-verifier step writes, in one atomic unit with `consent_verifier_used = TRUE`
/// (only if it was FALSE).
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// The code to store on the flow (response types with `code`).
    pub code: Option<NewCode>,
    /// The flow's new `expires_at`: kept past the code's life so that a replay is seen as reuse.
    pub flow_expires_at: i64,
    /// The consent to remember for the client and subject.
    pub remember: Option<RememberedConsent>,
    /// The grant of tokens issued straight away (implicit and hybrid flows), with the token's jti.
    pub grant: Option<(GrantRecord, Issued)>,
}

/// The grant a flow's consent produced, for the tokens of the code exchange or of an implicit flow.
pub fn grant_of(flow: &Flow, login: &LoginAccepted, consent: &ConsentAccepted, now: i64) -> Option<GrantRecord> {
    Some(GrantRecord {
        gid: flow.gid.clone()?,
        client_id: flow.client_id.clone(),
        subject: login.subject.clone(),
        scopes: consent.grant_scope.clone(),
        audience: consent.grant_audience.clone(),
        ext: TokenExt {
            iss: consent.iss.clone(),
            tenant_id: consent.tenant_id.clone(),
            rsub: consent.rsub.clone(),
            session_handle: consent.session_handle.clone(),
        },
        id_claims: IdClaims {
            auth_time: login.authenticated_at / 1000,
            rat: flow.requested_at / 1000,
            sid: Some(consent.session_handle.clone()),
            nonce: flow.request.nonce.clone(),
            acr: Some(login.acr.clone()).filter(|a| !a.is_empty()),
            amr: login.amr.clone(),
        },
        created_at: now,
        exp_s: 0,
    })
}

/// Step 5, second half: the code and/or tokens, and the redirect to the client. `signer` signs the
/// tokens of implicit and hybrid flows; `input` carries their optional custom payloads.
#[allow(clippy::too_many_arguments)]
pub fn complete(
    flow: &Flow,
    login: &LoginAccepted,
    consent: &ConsentAccepted,
    client: &Client,
    input: &AuthInput,
    signer: &Signer,
    now: i64,
    rng: &dyn Random,
) -> Result<(Completion, AuthAnswer), Failure> {
    let req = &flow.request;
    let remember = (consent.remember && !flow.consent_skip).then(|| RememberedConsent {
        client_id: flow.client_id.clone(),
        subject: login.subject.clone(),
        scopes: consent.grant_scope.clone(),
        audience: consent.grant_audience.clone(),
        remember_until: (consent.remember_for > 0).then(|| now + consent.remember_for.saturating_mul(1000)),
        time_created: now,
    });
    let code = if req.has_response_type("code") {
        let plain = format!("{AUTH_CODE_PREFIX}{}", random::token(rng)?);
        Some(NewCode { hash: sha256_hex(&plain), plain, expires_at: now + AUTH_CODE_LIFESPAN_MS })
    } else {
        None
    };
    let mut pairs: Vec<(&str, String)> = vec![];
    if let Some(c) = &code {
        pairs.push(("code", c.plain.clone()));
    }
    let mut grant = None;
    if req.is_implicit() {
        let mut record = grant_of(flow, login, consent, now).ok_or(Failure::Internal("an accepted consent without a grant id"))?;
        let with_id = req.has_response_type("id_token");
        if with_id && !record.has_scope("openid") {
            let e = OAuthError::hint(Kind::InvalidScope, "The 'openid' scope was not granted, so no ID token can be issued.");
            return Ok((Completion { code: None, flow_expires_at: flow.expires_at, remember, grant: None }, req.error(e)));
        }
        let tokens = UserTokens {
            client,
            grant: &record,
            kind: Grant::Implicit,
            scopes: &record.scopes,
            access_payload: Some(input.access_token.as_ref().unwrap_or(&consent.initial_access_token_payload)),
            id_payload: Some(input.id_token.as_ref().unwrap_or(&consent.initial_id_token_payload)),
            id_iss: input.iss.as_deref().unwrap_or(&consent.iss),
            with_id_token: with_id,
            with_refresh_token: false,
            code: code.as_ref().map(|c| c.plain.as_str()),
        };
        if req.has_response_type("token") {
            // Tokens from the authorization endpoint: the access token's grant is recorded now.
            let issued = mint_user_tokens(&tokens, signer, now, rng)?;
            pairs.push(("access_token", issued.access_token.clone()));
            pairs.push(("expires_in", issued.expires_in.to_string()));
            pairs.push(("token_type", "bearer".to_owned()));
            if let Some(id) = &issued.id_token {
                pairs.push(("id_token", id.clone()));
            }
            record.exp_s = issued.session_exp_s();
            grant = Some((record, issued));
        } else {
            // Only an ID token: nothing to revoke later, so no grant row (a code makes its own).
            pairs.push(("id_token", mint_id_token_only(&tokens, signer, now, rng)?));
        }
    }
    pairs.push(("scope", consent.grant_scope.join(" ")));
    if let Some(s) = &req.state {
        pairs.push(("state", s.clone()));
    }
    let flow_expires_at = code.as_ref().map_or(flow.expires_at, |c| c.expires_at + CODE_REUSE_RETENTION_MS);
    let answer = AuthAnswer::Redirect { redirect_to: with_params(&req.redirect_uri, &pairs, req.response_mode), cookies: vec![] };
    Ok((Completion { code, flow_expires_at, remember, grant }, answer))
}
