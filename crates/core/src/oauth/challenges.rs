//! The login and consent requests of a flow, as the SDK reads and answers them:
//! `GET /recipe/oauth/auth/requests/login|consent` and `PUT …/accept|reject`. Accepting or rejecting
//! hands out a verifier (`{apiDomain}/oauth/auth?<original query>&login_verifier=…`) that the SDK
//! follows back into [`super::authorize`]. A request may be answered again until its verifier is
//! used (as in Hydra); after that it is gone (410).

use serde_json::{json, Map, Value};

use super::authorize::{ConsentAccepted, ConsentOutcome, Denial, Flow, LoginAccepted, LoginOutcome};
use super::client::Client;
use super::errors::{BadInput, Failure, Kind, OAuthError};
use super::matching;
use super::random::{self, Random};
use crate::crypto::sha256_hex;

/// The challenge of a login-request call, under any of the names the SDKs use (`loginChallenge`;
/// node's reject uses `login_challenge`; Hydra accepts `challenge`).
pub fn login_challenge<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<&'a str, BadInput> {
    ["loginChallenge", "login_challenge", "challenge"]
        .iter()
        .find_map(|k| get(k))
        .ok_or_else(|| BadInput::query_missing("loginChallenge"))
}

/// The challenge of a consent-request call (`consentChallenge`, `consent_challenge`, `challenge`).
pub fn consent_challenge<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<&'a str, BadInput> {
    ["consentChallenge", "consent_challenge", "challenge"]
        .iter()
        .find_map(|k| get(k))
        .ok_or_else(|| BadInput::query_missing("consentChallenge"))
}

/// A login or consent request that can still be answered: known, its verifier unused, not expired.
fn open_flow(flow: Option<&Flow>, which: Which, now: i64) -> Result<&Flow, OAuthError> {
    let flow = flow.ok_or_else(OAuthError::unknown_challenge)?;
    let used = match which {
        Which::Login => flow.login_verifier_used,
        Which::Consent => flow.consent_verifier_used,
    };
    if used {
        return Err(OAuthError::already_handled());
    }
    if flow.request_expired(now) {
        let hint = match which {
            Which::Login => "The login request has expired. Please try again.",
            Which::Consent => "The consent request has expired, please try again.",
        };
        return Err(OAuthError::hint(Kind::RequestUnauthorized, hint));
    }
    Ok(flow)
}

#[derive(Clone, Copy)]
enum Which {
    Login,
    Consent,
}

/// `oidcContext`: the OpenID Connect parameters of the request. Arrays and the hint claims are always
/// there, strings only when set; `login_hint` is added next to `loginHint` because the SDK reads
/// the snake-case key (D9).
fn oidc_context(flow: &Flow) -> Value {
    let r = &flow.request;
    let mut m = Map::new();
    m.insert("acrValues".into(), json!(r.acr_values));
    m.insert("uiLocales".into(), json!(r.ui_locales));
    m.insert("idTokenHintClaims".into(), json!({}));
    if let Some(d) = &r.display {
        m.insert("display".into(), json!(d));
    }
    if let Some(h) = &r.login_hint {
        m.insert("loginHint".into(), json!(h));
        m.insert("login_hint".into(), json!(h));
    }
    Value::Object(m)
}

/// `GET /recipe/oauth/auth/requests/login`: exactly `status, challenge, requestedScope,
/// requestedAccessTokenAudience, skip, subject, oidcContext, client, requestUrl, sessionId`.
/// Login sessions are not remembered, so `skip` is false and `subject` empty.
pub fn login_request(flow: Option<&Flow>, client: Option<&Client>, now: i64) -> Result<Value, Failure> {
    let flow = open_flow(flow, Which::Login, now)?;
    let client = client.filter(|c| c.client_id == flow.client_id).ok_or(Failure::ClientNotFound)?;
    Ok(json!({
        "challenge": flow.login_challenge,
        "requestedScope": flow.request.scopes,
        "requestedAccessTokenAudience": flow.request.audience,
        "skip": false,
        "subject": "",
        "oidcContext": oidc_context(flow),
        "client": Value::Object(client.to_json(None)),
        "requestUrl": flow.request.request_url(),
        "sessionId": flow.request.login_session_id,
    }))
}

/// The Java core converted top-level camelCase keys to Hydra's snake_case; both spellings arrive.
fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn wrong_type(key: &str) -> Failure {
    OAuthError::hint(Kind::InvalidRequest, &format!("The field '{key}' has the wrong type.")).into()
}

fn unknown_field(key: &str) -> Failure {
    OAuthError::hint(Kind::InvalidRequest, &format!("The request body contains the unknown field '{key}'.")).into()
}

fn opt_str(key: &str, v: &Value) -> Result<Option<String>, Failure> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(wrong_type(key)),
    }
}

fn opt_bool(key: &str, v: &Value) -> Result<Option<bool>, Failure> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => Err(wrong_type(key)),
    }
}

fn opt_i64(key: &str, v: &Value) -> Result<Option<i64>, Failure> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| wrong_type(key)),
        _ => Err(wrong_type(key)),
    }
}

fn opt_strings(key: &str, v: &Value) -> Result<Vec<String>, Failure> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_owned).ok_or_else(|| wrong_type(key))).collect(),
        _ => Err(wrong_type(key)),
    }
}

/// The redirect a handled request answers: `{"status":"OK","redirectTo":…}`.
fn redirect_json(to: String) -> Value {
    json!({"redirectTo": to})
}

/// What answering a login request writes (only while its verifier is unused): a new verifier and
/// the outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginHandled {
    pub verifier_hash: String,
    pub outcome: LoginOutcome,
}

/// `PUT /recipe/oauth/auth/requests/login/accept`. The body is Hydra's: `subject` (required),
/// `identityProviderSessionId`, `acr`, `amr`, `context`, `remember`, `rememberFor`,
/// `extendSessionLifespan`, `forceSubjectIdentifier` — `null` allowed for each (python sends it);
/// any other field is refused, as Hydra did. Login sessions are not remembered (nothing in the SDKs
/// relies on it), so `remember*` and `extendSessionLifespan` are accepted and have no effect.
pub fn accept_login(flow: Option<&Flow>, body: &Map<String, Value>, now: i64, rng: &dyn Random) -> Result<(LoginHandled, Value), Failure> {
    let mut accepted = LoginAccepted {
        subject: String::new(),
        identity_provider_session_id: None,
        acr: String::new(),
        amr: vec![],
        context: Value::Null,
        authenticated_at: now,
    };
    for (k, v) in body {
        match snake_case(k).as_str() {
            "subject" => accepted.subject = opt_str(k, v)?.unwrap_or_default(),
            "identity_provider_session_id" => accepted.identity_provider_session_id = opt_str(k, v)?,
            "acr" => accepted.acr = opt_str(k, v)?.unwrap_or_default(),
            "amr" => accepted.amr = opt_strings(k, v)?,
            "context" => accepted.context = v.clone(),
            "remember" | "extend_session_lifespan" => {
                opt_bool(k, v)?;
            }
            "remember_for" => {
                opt_i64(k, v)?;
            }
            "force_subject_identifier" => {
                opt_str(k, v)?;
            }
            _ => return Err(unknown_field(k)),
        }
    }
    if accepted.subject.is_empty() {
        return Err(OAuthError::hint(Kind::InvalidRequest, "Field 'subject' must not be empty.").into());
    }
    let flow = open_flow(flow, Which::Login, now)?;
    let verifier = random::token(rng)?;
    let handled = LoginHandled { verifier_hash: sha256_hex(&verifier), outcome: LoginOutcome::Accepted(accepted) };
    Ok((handled, redirect_json(flow.request.verifier_redirect("login_verifier", &verifier))))
}

/// The body of a reject: `error` (default as Hydra's), `errorDescription`, `statusCode` (default 400).
fn denial(body: &Map<String, Value>, default_error: &str) -> Result<Denial, Failure> {
    let mut d = Denial { error: default_error.to_owned(), description: None, status_code: 400 };
    for (k, v) in body {
        match snake_case(k).as_str() {
            "error" => {
                if let Some(e) = opt_str(k, v)?.filter(|e| !e.is_empty()) {
                    d.error = e;
                }
            }
            "error_description" => d.description = opt_str(k, v)?,
            "status_code" => {
                if let Some(code) = opt_i64(k, v)? {
                    // A status the SDK can answer with; anything else is the default.
                    d.status_code = u16::try_from(code).ok().filter(|c| (400..=599).contains(c)).unwrap_or(400);
                }
            }
            // Hydra's other fields of a denial carry nothing the SDKs use.
            "error_hint" | "error_debug" => {
                opt_str(k, v)?;
            }
            _ => return Err(unknown_field(k)),
        }
    }
    Ok(d)
}

/// `PUT /recipe/oauth/auth/requests/login/reject`: the login is refused; following the verifier
/// ends at the client's redirect URI with the error.
pub fn reject_login(flow: Option<&Flow>, body: &Map<String, Value>, now: i64, rng: &dyn Random) -> Result<(LoginHandled, Value), Failure> {
    let d = denial(body, "login request denied")?;
    let flow = open_flow(flow, Which::Login, now)?;
    let verifier = random::token(rng)?;
    let handled = LoginHandled { verifier_hash: sha256_hex(&verifier), outcome: LoginOutcome::Rejected(d) };
    Ok((handled, redirect_json(flow.request.verifier_redirect("login_verifier", &verifier))))
}

/// `GET /recipe/oauth/auth/requests/consent`: `status, challenge, requestedScope,
/// requestedAccessTokenAudience, skip, subject, oidcContext, client` (without secret and rotation
/// flag), `requestUrl, loginChallenge, loginSessionId, acr, amr, context`.
pub fn consent_request(flow: Option<&Flow>, client: Option<&Client>, now: i64) -> Result<Value, Failure> {
    let flow = open_flow(flow, Which::Consent, now)?;
    let (Some(challenge), Some(login)) = (&flow.consent_challenge, flow.accepted_login()) else {
        return Err(OAuthError::unknown_challenge().into());
    };
    let client = client.filter(|c| c.client_id == flow.client_id).ok_or(Failure::ClientNotFound)?;
    Ok(json!({
        "challenge": challenge,
        "requestedScope": flow.request.scopes,
        "requestedAccessTokenAudience": flow.request.audience,
        "skip": flow.consent_skip,
        "subject": login.subject,
        "oidcContext": oidc_context(flow),
        "client": Value::Object(client.fields_json()),
        "requestUrl": flow.request.request_url(),
        "loginChallenge": flow.login_challenge,
        "loginSessionId": flow.request.login_session_id,
        "acr": login.acr,
        "amr": login.amr,
        "context": login.context,
    }))
}

/// What answering a consent request writes (only while its verifier is unused).
#[derive(Clone, Debug, PartialEq)]
pub struct ConsentHandled {
    pub verifier_hash: String,
    pub outcome: ConsentOutcome,
    /// The grant id of an accepted consent (every token of the grant carries it).
    pub gid: Option<String>,
}

fn required_string(body: &Map<String, Value>, key: &str) -> Result<String, Failure> {
    match body.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(BadInput::field_invalid(key).into()),
    }
}

fn required_object(body: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, Failure> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(BadInput::field_invalid(key).into()),
    }
}

/// `PUT /recipe/oauth/auth/requests/consent/accept`. Required as the Java core required them:
/// `iss`, `tId`, `rsub`, `sessionHandle` (strings), `initialAccessTokenPayload`,
/// `initialIdTokenPayload` (objects). Hydra's fields: `grantScope`, `grantAccessTokenAudience`,
/// `remember`, `rememberFor`, `handledAt`, `context` (`null` allowed); a `session` is replaced, as
/// the Java core replaced it. What is granted must be allowed for the client.
pub fn accept_consent(
    flow: Option<&Flow>,
    client: Option<&Client>,
    body: &Map<String, Value>,
    now: i64,
    rng: &dyn Random,
) -> Result<(ConsentHandled, Value), Failure> {
    let mut c = ConsentAccepted {
        grant_scope: vec![],
        grant_audience: vec![],
        remember: false,
        remember_for: 0,
        context: Value::Null,
        iss: required_string(body, "iss")?,
        tenant_id: required_string(body, "tId")?,
        rsub: required_string(body, "rsub")?,
        session_handle: required_string(body, "sessionHandle")?,
        initial_access_token_payload: required_object(body, "initialAccessTokenPayload")?,
        initial_id_token_payload: required_object(body, "initialIdTokenPayload")?,
    };
    for (k, v) in body {
        match k.as_str() {
            "iss" | "tId" | "rsub" | "sessionHandle" | "initialAccessTokenPayload" | "initialIdTokenPayload" | "session" => continue,
            _ => {}
        }
        match snake_case(k).as_str() {
            "grant_scope" => c.grant_scope = opt_strings(k, v)?,
            "grant_access_token_audience" => c.grant_audience = opt_strings(k, v)?,
            "remember" => c.remember = opt_bool(k, v)?.unwrap_or(false),
            "remember_for" => c.remember_for = opt_i64(k, v)?.unwrap_or(0).max(0),
            "context" => c.context = v.clone(),
            "handled_at" => {}
            _ => return Err(unknown_field(k)),
        }
    }
    let flow = open_flow(flow, Which::Consent, now)?;
    if flow.consent_challenge.is_none() || flow.accepted_login().is_none() {
        return Err(OAuthError::unknown_challenge().into());
    }
    let client = client.filter(|cl| cl.client_id == flow.client_id).ok_or(Failure::ClientNotFound)?;
    matching::check_scopes(&client.scopes(), &c.grant_scope)?;
    matching::check_audiences(&client.config.audience, &c.grant_audience)?;
    let verifier = random::token(rng)?;
    let handled = ConsentHandled {
        verifier_hash: sha256_hex(&verifier),
        outcome: ConsentOutcome::Accepted(c),
        gid: Some(random::uuid_v4(rng)?),
    };
    Ok((handled, redirect_json(flow.request.verifier_redirect("consent_verifier", &verifier))))
}

/// `PUT /recipe/oauth/auth/requests/consent/reject`.
pub fn reject_consent(flow: Option<&Flow>, body: &Map<String, Value>, now: i64, rng: &dyn Random) -> Result<(ConsentHandled, Value), Failure> {
    let d = denial(body, "consent request denied")?;
    let flow = open_flow(flow, Which::Consent, now)?;
    if flow.consent_challenge.is_none() {
        return Err(OAuthError::unknown_challenge().into());
    }
    let verifier = random::token(rng)?;
    let handled = ConsentHandled { verifier_hash: sha256_hex(&verifier), outcome: ConsentOutcome::Rejected(d), gid: None };
    Ok((handled, redirect_json(flow.request.verifier_redirect("consent_verifier", &verifier))))
}

/// The answer when the atomic write of an accept or reject found the verifier used in between.
pub fn handled_meanwhile() -> Failure {
    OAuthError::already_handled().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_and_snake_keys() {
        assert_eq!(snake_case("identityProviderSessionId"), "identity_provider_session_id");
        assert_eq!(snake_case("remember_for"), "remember_for");
        assert_eq!(snake_case("rememberFor"), "remember_for");
        assert_eq!(snake_case("subject"), "subject");
    }

    #[test]
    fn challenge_parameters_under_every_name() {
        let q = |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        assert_eq!(login_challenge(q(&[("loginChallenge", "a")])), Ok("a"));
        assert_eq!(login_challenge(q(&[("login_challenge", "b")])), Ok("b"));
        assert_eq!(login_challenge(q(&[("challenge", "c")])), Ok("c"));
        assert_eq!(login_challenge(q(&[])), Err(BadInput::query_missing("loginChallenge")));
        assert_eq!(consent_challenge(q(&[("consent_challenge", "d")])), Ok("d"));
        assert_eq!(consent_challenge(q(&[])), Err(BadInput::query_missing("consentChallenge")));
    }
}
