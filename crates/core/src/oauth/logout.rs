//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), as the SDKs drive it:
//! `GET /recipe/oauth/sessions/logout` turns the relying party's end-session request into a logout
//! challenge and a redirect to the SDK's logout page; `PUT …/logout/accept` consumes the challenge,
//! revokes the OAuth grants of the SuperTokens session the `id_token_hint` named, and sends the
//! browser to the `post_logout_redirect_uri` (with `state`); `PUT …/logout/reject` drops it.

use serde_json::{json, Map, Value};

use super::claims::STT_ID;
use super::client::Client;
use super::defaults::LOGOUT_CHALLENGE_LIFESPAN_MS;
use super::errors::{BadInput, Failure, Kind, OAuthError};
use super::random::{self, Random};
use super::url::{with_params, ResponseMode};
use super::API_DOMAIN;

/// Column sizes of `oauth_logout_challenges`: longer values are refused (the Java core failed with
/// a 500 on them).
pub const MAX_STATE_CHARS: usize = 128;
pub const MAX_REDIRECT_URI_CHARS: usize = 1024;

/// A row of `oauth_logout_challenges`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutChallenge {
    pub challenge: String,
    pub client_id: String,
    pub post_logout_redirect_uri: Option<String>,
    pub session_handle: Option<String>,
    pub state: Option<String>,
    /// ms.
    pub time_created: i64,
}

/// The end-session request (query `clientId`, `idTokenHint`, `postLogoutRedirectUri`, `state`;
/// `logoutVerifier` is ignored, as the Java core ignored it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndSession {
    pub client_id: Option<String>,
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

impl EndSession {
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> EndSession {
        let s = |k: &str| get(k).filter(|v| !v.is_empty()).map(str::to_owned);
        EndSession {
            client_id: s("clientId"),
            id_token_hint: s("idTokenHint"),
            post_logout_redirect_uri: s("postLogoutRedirectUri"),
            state: s("state"),
        }
    }
}

fn invalid(hint: &str) -> OAuthError {
    OAuthError::hint(Kind::InvalidRequest, hint)
}

/// What the (signature-checked) `id_token_hint` says: its client and SuperTokens session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    pub client_id: String,
    pub session_handle: Option<String>,
}

/// Reads the hint's claims. `claims` is `None` when the hint did not verify with any of the app's
/// keys. An expired hint is accepted: logging out with an old ID token is the common case, and the
/// specification asks the OP to accept it (D18). It must be an ID token (`stt: 2`) with an `aud`.
pub fn hint_of(claims: Option<&Map<String, Value>>) -> Result<Hint, OAuthError> {
    let c = claims.ok_or_else(|| OAuthError::new(Kind::InvalidRequest))?;
    if c.get("stt").and_then(Value::as_i64) != Some(STT_ID) {
        return Err(OAuthError::new(Kind::InvalidRequest));
    }
    let client_id = match c.get("aud") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.len() == 1 => a[0].as_str().ok_or_else(|| OAuthError::new(Kind::InvalidRequest))?.to_owned(),
        _ => return Err(OAuthError::new(Kind::InvalidRequest)),
    };
    Ok(Hint { client_id, session_handle: c.get("sid").and_then(Value::as_str).map(str::to_owned) })
}

/// The first checks, before anything is loaded: a redirect URI or state needs a hint, and the
/// column sizes. Then the handler verifies the hint (if any) and calls [`client_of`].
pub fn check_request(r: &EndSession) -> Result<(), OAuthError> {
    if r.id_token_hint.is_none() {
        if r.post_logout_redirect_uri.is_some() {
            return Err(invalid("Logout failed because query parameter postLogoutRedirectionUri is set but idTokenHint is missing."));
        }
        if r.state.is_some() {
            return Err(invalid("Logout failed because query parameter state is set but idTokenHint is missing."));
        }
    }
    if r.state.as_deref().is_some_and(|s| s.chars().count() > MAX_STATE_CHARS) {
        return Err(invalid(&format!("The state parameter may hold at most {MAX_STATE_CHARS} characters.")));
    }
    if r.post_logout_redirect_uri.as_deref().is_some_and(|u| u.chars().count() > MAX_REDIRECT_URI_CHARS) {
        return Err(invalid(&format!("The post_logout_redirect_uri may hold at most {MAX_REDIRECT_URI_CHARS} characters.")));
    }
    Ok(())
}

/// The client of the logout: the hint's audience, which must equal `clientId` when both are given.
/// No client at all is `invalid_request` (the Java core failed with a 500: D5).
pub fn client_of(r: &EndSession, hint: Option<&Hint>) -> Result<String, OAuthError> {
    match (hint, &r.client_id) {
        (Some(h), Some(c)) if h.client_id != *c => {
            Err(invalid("The client_id in the id_token_hint does not match the client_id in the request."))
        }
        (Some(h), _) => Ok(h.client_id.clone()),
        (None, Some(c)) => Ok(c.clone()),
        (None, None) => Err(invalid("The client_id could not be determined: send an id_token_hint or a client_id.")),
    }
}

/// The logout challenge to store, and the answer `{"status":"OK","redirectTo":
/// "{apiDomain}/oauth/logout?logout_challenge=<uuid>"}`. An unknown client is `invalid_request` (the
/// Java core's `CLIENT_NOT_FOUND_ERROR` made the SDK crash: D5); a redirect URI must be one the
/// client registered, exactly (D6).
pub fn end_session(
    r: &EndSession,
    hint: Option<&Hint>,
    client: Option<&Client>,
    now: i64,
    rng: &dyn Random,
) -> Result<(LogoutChallenge, Value), Failure> {
    let client_id = client_of(r, hint)?;
    let client = client.filter(|c| c.client_id == client_id).ok_or_else(|| invalid("The OAuth 2.0 Client does not exist."))?;
    if let Some(uri) = &r.post_logout_redirect_uri {
        if !client.config.post_logout_redirect_uris.iter().any(|u| u == uri) {
            return Err(invalid("The post_logout_redirect_uri is not valid for this client.").into());
        }
    }
    let row = LogoutChallenge {
        challenge: random::uuid_v4(rng)?,
        client_id,
        post_logout_redirect_uri: r.post_logout_redirect_uri.clone(),
        session_handle: hint.and_then(|h| h.session_handle.clone()),
        state: r.state.clone(),
        time_created: now,
    };
    let to = format!("{API_DOMAIN}/oauth/logout?logout_challenge={}", row.challenge);
    Ok((row, json!({"redirectTo": to})))
}

/// The `challenge` of an accept or reject: from the body, else from the query (the SDKs send a
/// reject's challenge in the query, which the Java core refused: D8).
pub fn challenge_of<'a>(body: &'a Map<String, Value>, query: Option<&'a str>) -> Result<&'a str, BadInput> {
    match body.get("challenge") {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => query.ok_or_else(|| BadInput::field_invalid("challenge")),
        Some(_) => Err(BadInput::field_invalid("challenge")),
    }
}

/// Logout challenges older than this (ms) are not accepted; the cron deletes them.
pub fn oldest_acceptable(now: i64) -> i64 {
    now - LOGOUT_CHALLENGE_LIFESPAN_MS
}

/// The answer of an accept, for the challenge storage consumed (deleted, with the grants of its
/// session revoked, in one unit): the post-logout URI with `state` (encoded, appended with `?` or
/// `&`: D7), or the SDK's fallback page without one.
pub fn accept_answer(consumed: Option<&LogoutChallenge>) -> Result<Value, OAuthError> {
    let c = consumed.ok_or_else(|| invalid("Logout request not found"))?;
    let to = match (&c.post_logout_redirect_uri, &c.state) {
        (Some(uri), Some(state)) => with_params(uri, &[("state", state)], ResponseMode::Query),
        (Some(uri), None) => uri.clone(),
        (None, _) => format!("{API_DOMAIN}/fallbacks/logout/callback"),
    };
    Ok(json!({"redirectTo": to}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testing::{client, obj, SeqRandom, NOW};

    fn request(hint: bool, uri: Option<&str>, state: Option<&str>) -> EndSession {
        EndSession {
            client_id: None,
            id_token_hint: hint.then(|| "eyJ...".to_owned()),
            post_logout_redirect_uri: uri.map(str::to_owned),
            state: state.map(str::to_owned),
        }
    }

    #[test]
    fn a_full_logout() {
        let c = client();
        let hint = hint_of(Some(&obj(json!({"stt": 2, "aud": "stcl_test", "sid": "sh-1", "exp": 1})))).unwrap();
        let r = request(true, Some("https://rp.example.com/bye"), Some("s t&ate"));
        check_request(&r).unwrap();
        let (row, answer) = end_session(&r, Some(&hint), Some(&c), NOW, &SeqRandom::new()).unwrap();
        assert_eq!(row.session_handle.as_deref(), Some("sh-1"));
        assert_eq!(row.client_id, "stcl_test");
        assert_eq!(answer["redirectTo"], format!("{{apiDomain}}/oauth/logout?logout_challenge={}", row.challenge));
        assert_eq!(row.challenge.len(), 36);
        let accepted = accept_answer(Some(&row)).unwrap();
        assert_eq!(accepted["redirectTo"], "https://rp.example.com/bye?state=s+t%26ate");
        let mut with_query = row.clone();
        with_query.post_logout_redirect_uri = Some("https://rp.example.com/bye?x=1".into());
        assert_eq!(accept_answer(Some(&with_query)).unwrap()["redirectTo"], "https://rp.example.com/bye?x=1&state=s+t%26ate");
        let mut bare = row;
        bare.post_logout_redirect_uri = None;
        assert_eq!(accept_answer(Some(&bare)).unwrap()["redirectTo"], "{apiDomain}/fallbacks/logout/callback");
        assert_eq!(accept_answer(None).unwrap_err().description.unwrap(), format!("{} Logout request not found", Kind::InvalidRequest.description()));
    }

    #[test]
    fn refusals() {
        let c = client();
        assert!(check_request(&request(false, Some("https://rp.example.com/bye"), None)).unwrap_err().description.unwrap().contains("idTokenHint is missing"));
        assert!(check_request(&request(false, None, Some("s"))).unwrap_err().description.unwrap().contains("state is set"));
        assert!(check_request(&request(true, None, Some(&"s".repeat(129)))).is_err());
        assert!(check_request(&request(true, Some(&format!("https://a/{}", "x".repeat(1030))), None)).is_err());
        // Hints: unverifiable, not an ID token, no audience.
        for claims in [None, Some(obj(json!({"stt": 1, "aud": "stcl_test"}))), Some(obj(json!({"stt": 2})))] {
            assert_eq!(hint_of(claims.as_ref()).unwrap_err().error, "invalid_request");
        }
        let hint = Hint { client_id: "stcl_test".into(), session_handle: None };
        let mut r = request(true, None, None);
        r.client_id = Some("other".into());
        assert!(client_of(&r, Some(&hint)).unwrap_err().description.unwrap().contains("does not match"));
        assert!(client_of(&request(false, None, None), None).is_err());
        // Unknown client, unregistered URI, client without any (D6).
        let r = request(true, Some("https://rp.example.com/elsewhere"), None);
        let rng = SeqRandom::new();
        assert!(matches!(end_session(&r, Some(&hint), None, NOW, &rng), Err(Failure::OAuth(e)) if e.error == "invalid_request"));
        assert!(matches!(end_session(&r, Some(&hint), Some(&c), NOW, &rng), Err(Failure::OAuth(e)) if e.description.as_deref().unwrap().contains("not valid for this client")));
        let mut none = c.clone();
        none.config.post_logout_redirect_uris.clear();
        let r = request(true, Some("https://rp.example.com/bye"), None);
        assert!(matches!(end_session(&r, Some(&hint), Some(&none), NOW, &rng), Err(Failure::OAuth(e)) if e.error == "invalid_request"));
        // Without a hint, a client id alone is enough (no session to revoke).
        let mut r = request(false, None, None);
        r.client_id = Some("stcl_test".into());
        let (row, _) = end_session(&r, None, Some(&c), NOW, &rng).unwrap();
        assert_eq!(row.session_handle, None);
    }

    #[test]
    fn challenge_from_body_or_query() {
        assert_eq!(challenge_of(&obj(json!({"challenge": "a"})), Some("b")), Ok("a"));
        assert_eq!(challenge_of(&obj(json!({})), Some("b")), Ok("b"));
        assert_eq!(challenge_of(&obj(json!({})), None), Err(BadInput::field_invalid("challenge")));
        assert_eq!(challenge_of(&obj(json!({"challenge": 1})), Some("b")), Err(BadInput::field_invalid("challenge")));
        assert_eq!(oldest_acceptable(NOW), NOW - 48 * 3_600_000);
        let q = |k: &str| if k == "idTokenHint" { Some("h") } else if k == "state" { Some("") } else { None };
        let r = EndSession::parse(q);
        assert_eq!((r.id_token_hint.as_deref(), r.state), (Some("h"), None));
    }
}
