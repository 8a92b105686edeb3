//! Revocation (RFC 7009): one token (`POST /recipe/oauth/token/revoke`), every token of a client
//! (`/tokens/revoke`), every token of a SuperTokens session (`/session/revoke`, and logout).
//!
//! Revoking a refresh token deletes its grant, so the grant's access tokens die with it; revoking
//! an access token removes its `jti` from its grant's live list. The client is authenticated for
//! both kinds (RFC 7009 §2.1; the Java core did not for access tokens: D4), and a token issued to
//! another client is left alone — the answer is `OK` either way, as for unknown tokens (§2.2).

use serde_json::{json, Map, Value};

use super::claims::{GrantRecord, STT_ACCESS};
use super::errors::{BadInput, Failure};
use super::token::{presented, Presented};

/// `POST /recipe/oauth/token/revoke`'s body: `token`, and the client's credentials as
/// `authorizationHeader` or `client_id` (+ `client_secret`). A public client may send `id:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeInput {
    pub token: String,
    pub client: Presented,
}

pub fn parse(body: &Map<String, Value>) -> Result<RevokeInput, Failure> {
    let Some(Value::String(token)) = body.get("token") else { return Err(BadInput::field_invalid("token").into()) };
    let string = |key: &str| match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(BadInput::field_invalid(key)),
    };
    let client = presented(string("authorizationHeader")?, string("client_id")?, string("client_secret")?)?;
    Ok(RevokeInput { token: token.clone(), client })
}

/// What to revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Unknown, invalid, or another client's token.
    Nothing,
    /// A refresh token: its whole grant.
    Grant { gid: String },
    /// An access token: its jti out of its grant's list.
    AccessToken { gid: String, jti: String },
}

/// For a refresh token whose grant is `grant` (found by the token's hash).
pub fn of_refresh_token(grant: Option<&GrantRecord>, client_id: &str) -> Revocation {
    match grant {
        Some(g) if g.client_id == client_id => Revocation::Grant { gid: g.gid.clone() },
        _ => Revocation::Nothing,
    }
}

/// For an access token whose signature verified (`claims`; `None` when it did not).
pub fn of_access_token(claims: Option<&Map<String, Value>>, client_id: &str) -> Revocation {
    let Some(c) = claims else { return Revocation::Nothing };
    let s = |k: &str| c.get(k).and_then(Value::as_str);
    match (c.get("stt").and_then(Value::as_i64), s("client_id"), s("gid"), s("jti")) {
        (Some(STT_ACCESS), Some(owner), Some(gid), Some(jti)) if owner == client_id => {
            Revocation::AccessToken { gid: gid.to_owned(), jti: jti.to_owned() }
        }
        _ => Revocation::Nothing,
    }
}

/// `{"status":"OK"}`: the answer of every revocation (RFC 7009 §2.2).
pub fn ok() -> Value {
    json!({})
}

/// `POST /recipe/oauth/tokens/revoke`: `{"client_id"}`.
pub fn parse_by_client(body: &Map<String, Value>) -> Result<String, BadInput> {
    match body.get("client_id") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(BadInput::field_invalid("client_id")),
    }
}

/// `POST /recipe/oauth/session/revoke`: `{"sessionHandle"}`.
pub fn parse_by_session(body: &Map<String, Value>) -> Result<String, BadInput> {
    match body.get("sessionHandle") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(BadInput::field_invalid("sessionHandle")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::claims::tests::grant;
    use crate::oauth::client::AuthMethod;
    use crate::oauth::testing::obj;
    use base64::Engine;

    #[test]
    fn only_the_owners_tokens_are_revoked() {
        let g = grant();
        assert_eq!(of_refresh_token(Some(&g), "stcl_test"), Revocation::Grant { gid: "g-1".into() });
        assert_eq!(of_refresh_token(Some(&g), "other"), Revocation::Nothing);
        assert_eq!(of_refresh_token(None, "stcl_test"), Revocation::Nothing);
        let at = obj(json!({"stt": 1, "client_id": "stcl_test", "gid": "g-1", "jti": "j-1"}));
        assert_eq!(of_access_token(Some(&at), "stcl_test"), Revocation::AccessToken { gid: "g-1".into(), jti: "j-1".into() });
        assert_eq!(of_access_token(Some(&at), "other"), Revocation::Nothing);
        assert_eq!(of_access_token(None, "stcl_test"), Revocation::Nothing);
        let id = obj(json!({"stt": 2, "client_id": "stcl_test", "gid": "g-1", "jti": "j-1"}));
        assert_eq!(of_access_token(Some(&id), "stcl_test"), Revocation::Nothing);
    }

    #[test]
    fn input() {
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("stcl_pub:"));
        let r = parse(&obj(json!({"token": "t", "authorizationHeader": header}))).unwrap();
        assert_eq!(r.client, Presented { client_id: "stcl_pub".into(), secret: Some(String::new()), method: AuthMethod::Basic });
        let r = parse(&obj(json!({"token": "t", "client_id": "c", "client_secret": "s"}))).unwrap();
        assert_eq!(r.client.method, AuthMethod::Post);
        assert_eq!(parse(&obj(json!({"client_id": "c"}))).unwrap_err(), Failure::BadInput(BadInput::field_invalid("token")));
        assert!(matches!(parse(&obj(json!({"token": "t"}))).unwrap_err(), Failure::OAuth(e) if e.error == "invalid_request"));
        assert!(matches!(parse(&obj(json!({"token": "t", "authorizationHeader": "Basic !!!"}))).unwrap_err(), Failure::BadInput(_)));
        assert_eq!(parse_by_client(&obj(json!({"client_id": "c"}))), Ok("c".into()));
        assert_eq!(parse_by_client(&obj(json!({"clientId": "c"}))), Err(BadInput::field_invalid("client_id")));
        assert_eq!(parse_by_session(&obj(json!({"sessionHandle": "h"}))), Ok("h".into()));
        assert_eq!(parse_by_session(&obj(json!({}))), Err(BadInput::field_invalid("sessionHandle")));
        assert_eq!(ok(), json!({}));
    }
}
