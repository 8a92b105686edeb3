//! `POST /recipe/oauth/token`: the token endpoint (RFC 6749 §3.2) for the `authorization_code`
//! (with PKCE), `refresh_token` and `client_credentials` grants. The SDK forwards the relying
//! party's form body as `inputBody` and its `Authorization` header as `authorizationHeader`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use super::authorize::{grant_of, Flow};
use super::claims::{mint_m2m_token, mint_user_tokens, GrantRecord, Issued, M2mToken, Signer, UserTokens, REFRESH_TOKEN_PREFIX};
use super::client::{AuthMethod, Client, Grant};
use super::errors::{BadInput, Failure, Kind, OAuthError};
use super::random::Random;
use super::url::form_decode;
use super::{allows_refresh, matching, pkce, split_spaces};
use crate::crypto::sha256_hex;

/// The Java core's 400 for an `inputBody` value that is not a string, or an undecodable header.
pub const MALFORMED: &str = "malformed request body or authorization header";

/// The relying party's token request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenInput {
    /// The openid issuer (`apiDomain + apiBasePath`).
    pub iss: String,
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<Vec<String>>,
    pub audience: Vec<String>,
    pub authorization_header: Option<String>,
    /// Custom claims the SDK built for refresh and client-credentials tokens.
    pub access_token: Option<Map<String, Value>>,
    pub id_token: Option<Map<String, Value>>,
}

/// A form value: a string, or (for `scope` and `audience`: node sends `audience` as an array) an
/// array of strings, read as space-separated items.
fn form_value(key: &str, v: &Value) -> Result<Option<String>, BadInput> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Array(items) if key == "scope" || key == "audience" => {
            let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            strings.map(|s| Some(s.join(" "))).ok_or_else(|| BadInput(MALFORMED.into()))
        }
        _ => Err(BadInput(MALFORMED.into())),
    }
}

impl TokenInput {
    /// Reads the body: `iss` and `inputBody` required, `inputBody.grant_type` required;
    /// `access_token` and `id_token` objects required for the grants that use them (the SDK sends
    /// them), as the Java core required them.
    pub fn from_body(body: &Map<String, Value>) -> Result<TokenInput, Failure> {
        let Some(Value::String(iss)) = body.get("iss") else { return Err(BadInput::field_invalid("iss").into()) };
        let Some(Value::Object(form)) = body.get("inputBody") else { return Err(BadInput::field_invalid("inputBody").into()) };
        let mut t = TokenInput { iss: iss.clone(), ..TokenInput::default() };
        for (k, v) in form {
            let Some(value) = form_value(k, v)? else { continue };
            match k.as_str() {
                "grant_type" => t.grant_type = value,
                "code" => t.code = Some(value),
                "redirect_uri" => t.redirect_uri = Some(value),
                "code_verifier" => t.code_verifier = Some(value),
                "refresh_token" => t.refresh_token = Some(value),
                "client_id" => t.client_id = Some(value),
                "client_secret" => t.client_secret = Some(value),
                "scope" => t.scope = Some(split_spaces(&value)),
                "audience" => t.audience = split_spaces(&value),
                _ => {}
            }
        }
        if t.grant_type.is_empty() {
            return Err(BadInput::field_invalid("grant_type").into());
        }
        t.authorization_header = match body.get("authorizationHeader") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(BadInput::field_invalid("authorizationHeader").into()),
        };
        let needs_payloads = t.grant_type != "authorization_code";
        for key in ["access_token", "id_token"] {
            let value = match body.get(key) {
                Some(Value::Object(m)) => Some(m.clone()),
                // The code grant's tokens take the consent's payloads; these are not read.
                _ if !needs_payloads => None,
                _ => return Err(BadInput::field_invalid(key).into()),
            };
            if key == "access_token" {
                t.access_token = value;
            } else {
                t.id_token = value;
            }
        }
        if matches!(body.get("useStaticSigningKey"), Some(v) if !v.is_null() && !v.is_boolean()) {
            return Err(BadInput::field_invalid("useStaticSigningKey").into());
        }
        Ok(t)
    }
}

/// The client credentials a request presents, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    /// `client_secret_basic` for the header, `client_secret_post` for a secret in the body, `none`
    /// for an id alone.
    pub method: AuthMethod,
}

/// Reads `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1). A header of another
/// scheme is not client authentication and is ignored.
fn basic_credentials(header: &str) -> Result<Option<(String, String)>, BadInput> {
    let Some(encoded) = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic ")) else {
        return Ok(None);
    };
    let malformed = || BadInput(MALFORMED.into());
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let (id, secret) = (form_decode(id).ok_or_else(malformed)?, form_decode(secret).ok_or_else(malformed)?);
    Ok(Some((id, secret)))
}

/// The presented credentials: the `Authorization` header wins; else `client_id` (+ `client_secret`)
/// from the body.
pub fn presented(header: Option<&str>, client_id: Option<&str>, client_secret: Option<&str>) -> Result<Presented, Failure> {
    if let Some((id, secret)) = header.map(basic_credentials).transpose()?.flatten() {
        return Ok(Presented { client_id: id, secret: Some(secret), method: AuthMethod::Basic });
    }
    match client_id.filter(|c| !c.is_empty()) {
        Some(id) => Ok(Presented {
            client_id: id.to_owned(),
            secret: client_secret.filter(|s| !s.is_empty()).map(str::to_owned),
            method: if client_secret.is_some_and(|s| !s.is_empty()) { AuthMethod::Post } else { AuthMethod::None },
        }),
        None => Err(OAuthError::hint(
            Kind::InvalidRequest,
            "Client credentials missing or malformed in both HTTP Authorization header and HTTP POST body.",
        )
        .into()),
    }
}

/// What remains of client authentication after [`authenticate`]: nothing for a public client, or
/// the secret check (slow for a caller-chosen secret: see [`super::secret::needs_slow_check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretCheck {
    Public,
    Verify { presented: String, stored: String },
}

/// `invalid_client` (401) with the standard description only: nothing tells which part was wrong.
pub fn invalid_client() -> OAuthError {
    OAuthError::new(Kind::InvalidClient)
}

/// Client authentication (RFC 6749 §2.3, fosite's rules): the client must exist; a public client is
/// identified by its id alone; a confidential one must use its registered method and present a
/// secret. An unknown client is `invalid_client` 401, as RFC 6749 §5.2 asks (D1).
pub fn authenticate(client: Option<&Client>, p: &Presented) -> Result<SecretCheck, OAuthError> {
    let client = client.filter(|c| c.client_id == p.client_id).ok_or_else(invalid_client)?;
    if client.is_public() {
        return Ok(SecretCheck::Public);
    }
    let expected = client.config.token_endpoint_auth_method;
    if p.method != expected {
        return Err(OAuthError::hint(
            Kind::InvalidClient,
            &format!(
                "The OAuth 2.0 Client supports client authentication method '{}', but method '{}' was requested. You must configure the OAuth 2.0 client's 'token_endpoint_auth_method' value to accept '{}'.",
                expected.name(),
                p.method.name(),
                p.method.name()
            ),
        ));
    }
    match (&p.secret, &client.secret_hash) {
        (Some(presented), Some(stored)) => Ok(SecretCheck::Verify { presented: presented.clone(), stored: stored.clone() }),
        _ => Err(invalid_client()),
    }
}

/// The grant type of the request, allowed for the client.
pub fn grant_type(t: &TokenInput, client: &Client) -> Result<Grant, OAuthError> {
    let grant = match t.grant_type.as_str() {
        "authorization_code" => Grant::AuthorizationCode,
        "refresh_token" => Grant::RefreshToken,
        "client_credentials" => Grant::ClientCredentials,
        other => {
            return Err(OAuthError::hint(
                Kind::UnsupportedGrantType,
                &format!("The grant type '{other}' is not supported by this server."),
            ))
        }
    };
    if !client.allows_grant(grant) {
        return Err(OAuthError::hint(
            Kind::UnauthorizedClient,
            &format!("The OAuth 2.0 Client is not allowed to use authorization grant '{}'.", grant.name()),
        ));
    }
    Ok(grant)
}

/// `sha256` of the code, the key its flow is found by (`None`: no code was sent).
pub fn code_hash(t: &TokenInput) -> Option<String> {
    t.code.as_deref().filter(|c| !c.is_empty()).map(sha256_hex)
}

/// A code that cannot be redeemed. `revoke_gid`: the code was used before, so what it issued is
/// revoked (RFC 6749 §4.1.2), in its own committed unit, before answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRefused {
    pub error: OAuthError,
    pub revoke_gid: Option<String>,
}

impl From<OAuthError> for CodeRefused {
    fn from(error: OAuthError) -> CodeRefused {
        CodeRefused { error, revoke_gid: None }
    }
}

fn bad_code(hint: &str) -> CodeRefused {
    OAuthError::hint(Kind::InvalidGrant, hint).into()
}

/// The refusal for a code used twice (also what a lost redemption race answers: the winner's grant
/// is revoked, since one of the two presenters holds a stolen code).
pub fn code_reused(flow: &Flow) -> CodeRefused {
    CodeRefused {
        error: OAuthError::hint(Kind::InvalidGrant, "The authorization code has already been used."),
        revoke_gid: flow.gid.clone(),
    }
}

/// The checks of an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6), on the flow found by
/// [`code_hash`]. `Ok` is the grant the code stands for; then tokens are minted and one atomic unit
/// marks the code used (only if unused) and records the grant.
pub fn check_code(t: &TokenInput, client: &Client, flow: Option<&Flow>, now: i64) -> Result<GrantRecord, CodeRefused> {
    let hash = code_hash(t);
    let flow = flow
        .filter(|f| hash.is_some() && f.code_hash == hash)
        .ok_or_else(|| bad_code("The authorization code is unknown."))?;
    if flow.code_used {
        return Err(code_reused(flow));
    }
    if flow.code_expires_at.is_none_or(|e| now > e) {
        return Err(bad_code("The authorization code has expired."));
    }
    if flow.client_id != client.client_id {
        return Err(bad_code("The OAuth 2.0 Client ID from this request does not match the one from the authorize request."));
    }
    let req = &flow.request;
    let redirect_ok = match (&t.redirect_uri, req.redirect_uri_sent) {
        (Some(sent), true) => *sent == req.redirect_uri,
        (None, true) => false,
        (Some(sent), false) => *sent == req.redirect_uri,
        (None, false) => true,
    };
    if !redirect_ok {
        return Err(bad_code("The 'redirect_uri' from this request does not match the one from the authorize request."));
    }
    pkce::verify(req.pkce.as_ref(), t.code_verifier.as_deref())?;
    let (Some(login), Some(consent)) = (flow.accepted_login(), flow.accepted_consent()) else {
        return Err(bad_code("The authorization code is unknown."));
    };
    grant_of(flow, login, consent, now).ok_or_else(|| bad_code("The authorization code is unknown."))
}

/// The tokens of a redeemed code: access token with the consent's payload, an ID token with
/// `openid`, a refresh token with `offline`/`offline_access` when the client may refresh.
pub fn code_tokens(t: &TokenInput, client: &Client, flow: &Flow, grant: &mut GrantRecord, signer: &Signer, now: i64, rng: &dyn Random) -> Result<Issued, Failure> {
    let consent = flow.accepted_consent().ok_or(Failure::Internal("a code without an accepted consent"))?;
    let issued = mint_user_tokens(
        &UserTokens {
            client,
            grant,
            kind: Grant::AuthorizationCode,
            scopes: &grant.scopes,
            access_payload: Some(&consent.initial_access_token_payload),
            id_payload: Some(&consent.initial_id_token_payload),
            id_iss: &t.iss,
            with_id_token: grant.has_scope("openid"),
            with_refresh_token: allows_refresh(&grant.scopes) && client.allows_grant(Grant::RefreshToken),
            code: None,
        },
        signer,
        now,
        rng,
    )?;
    grant.exp_s = issued.session_exp_s();
    Ok(issued)
}

/// The hash a refresh token is stored under (`None`: not a refresh token of ours).
pub fn refresh_hash(t: &TokenInput) -> Option<String> {
    t.refresh_token.as_deref().filter(|r| r.starts_with(REFRESH_TOKEN_PREFIX)).map(sha256_hex)
}

/// `token_inactive` 401, the Java core's answer for a refresh token that is unknown, expired, revoked
/// or rotated away (the SDK's own introspection has already answered the relying party with
/// `invalid_grant` 400: D3).
pub fn token_inactive() -> OAuthError {
    OAuthError::new(Kind::TokenInactive)
}

/// What a refresh writes, in one conditional statement on the grant found by `old_hash` (which
/// must still be unexpired): the new hash when rotating, the new access token's jti, the new expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshWrite {
    pub old_hash: String,
    pub new_hash: Option<String>,
    pub jti: String,
    pub exp_s: i64,
}

/// The refresh grant (RFC 6749 §6) on the grant found by [`refresh_hash`]: tokens, and what to write.
/// A narrower `scope` may be asked for (each must have been granted). With rotation (the client's
/// flag, read now) a new refresh token replaces the old one; without, the answer has no
/// `refresh_token` and the client keeps using its own.
pub fn refresh(
    t: &TokenInput,
    client: &Client,
    grant: Option<&GrantRecord>,
    signer: &Signer,
    now: i64,
    rng: &dyn Random,
) -> Result<(Issued, RefreshWrite), Failure> {
    let old_hash = refresh_hash(t).ok_or_else(token_inactive)?;
    let grant = grant.filter(|g| g.exp_s >= now / 1000).ok_or_else(token_inactive)?;
    if grant.client_id != client.client_id {
        return Err(OAuthError::hint(
            Kind::InvalidGrant,
            "The OAuth 2.0 Client ID from this request does not match the ID during the initial token issuance.",
        )
        .into());
    }
    if !allows_refresh(&grant.scopes) {
        return Err(OAuthError::hint(Kind::ScopeNotGranted, "The OAuth 2.0 Client was not granted scope offline and may thus not perform the 'refresh_token' authorization grant.").into());
    }
    let scopes = match &t.scope {
        Some(asked) if !asked.is_empty() => {
            if let Some(s) = asked.iter().find(|s| !grant.has_scope(s)) {
                return Err(OAuthError::hint(Kind::InvalidScope, &format!("The requested scope '{s}' was not originally granted by the resource owner.")).into());
            }
            asked.clone()
        }
        _ => grant.scopes.clone(),
    };
    let rotate = client.enable_refresh_token_rotation;
    let issued = mint_user_tokens(
        &UserTokens {
            client,
            grant,
            kind: Grant::RefreshToken,
            scopes: &scopes,
            access_payload: t.access_token.as_ref(),
            id_payload: t.id_token.as_ref(),
            id_iss: &t.iss,
            with_id_token: scopes.iter().any(|s| s == "openid"),
            with_refresh_token: true,
            code: None,
        },
        signer,
        now,
        rng,
    )?;
    let exp_s = issued.session_exp_s();
    let mut issued = issued;
    let new_hash = if rotate {
        issued.refresh.as_ref().map(|r| r.hash.clone())
    } else {
        issued.refresh = None;
        None
    };
    let write = RefreshWrite { old_hash, new_hash, jti: issued.jti.clone(), exp_s };
    Ok((issued, write))
}

/// One M2M issuance as stored: a row of `oauth_sessions` (fresh gid, no session handle, `exp` the
/// token's) and one of `oauth_m2m_tokens` (statistics; at most one per client and second).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct M2mIssue {
    pub gid: String,
    pub client_id: String,
    pub jti: String,
    pub iat_s: i64,
    pub exp_s: i64,
}

/// The client-credentials grant (RFC 6749 §4.4): a confidential client; each requested scope and
/// audience allowed; granted = requested.
pub fn client_credentials(t: &TokenInput, client: &Client, signer: &Signer, now: i64, rng: &dyn Random) -> Result<(Issued, M2mIssue), Failure> {
    if client.is_public() {
        return Err(OAuthError::hint(
            Kind::InvalidGrant,
            "The OAuth 2.0 Client is marked as public and is thus not allowed to use authorization grant 'client_credentials'.",
        )
        .into());
    }
    let scopes = t.scope.clone().unwrap_or_default();
    matching::check_scopes(&client.scopes(), &scopes)?;
    matching::check_audiences(&client.config.audience, &t.audience)?;
    let (issued, gid) = mint_m2m_token(
        &M2mToken { client, iss: &t.iss, scopes: &scopes, audience: &t.audience, custom: t.access_token.as_ref() },
        signer,
        now,
        rng,
    )?;
    let issue = M2mIssue { gid, client_id: client.client_id.clone(), jti: issued.jti.clone(), iat_s: now / 1000, exp_s: issued.access_exp_s };
    Ok((issued, issue))
}
