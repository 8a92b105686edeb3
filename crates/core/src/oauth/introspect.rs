//! `POST /recipe/oauth/introspect` (RFC 7662). A token is active only if every check passes; any
//! failure (unparsable, badly signed, expired, revoked, unknown, lacking a requested scope) is the
//! same `{"status":"OK","active":false}` — never an error (RFC 7662 §2.2).
//!
//! Access tokens are JWTs: the handler verifies the signature with the key its `kid` names, then
//! [`access_lookup`] says which grant to look at, and [`access_answer`] answers from the grant's
//! live `jti` list (revoking one access token removes its jti; revoking a grant deletes the row).
//! Refresh tokens (`st_rt_…`) are looked up by hash ([`super::token::refresh_hash`]).

use serde_json::{json, Map, Value};

use super::claims::{GrantRecord, REFRESH_TOKEN_PREFIX, STT_ACCESS};
use super::errors::{BadInput, Failure};
use crate::crypto::sha256_hex;

/// The body: `token` (required string), `scope` (optional, space-separated: every one must have been
/// granted for the token to be active).
pub fn parse(body: &Map<String, Value>) -> Result<(String, Vec<String>), Failure> {
    let Some(Value::String(token)) = body.get("token") else { return Err(BadInput::field_invalid("token").into()) };
    let scopes = match body.get("scope") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) => super::split_spaces(s),
        Some(_) => return Err(BadInput::field_invalid("scope").into()),
    };
    Ok((token.clone(), scopes))
}

/// `{"status":"OK","active":false}`.
pub fn inactive() -> Value {
    json!({"active": false})
}

/// Whether the token is a refresh token (by its prefix, as the SDKs decide) and its hash.
pub fn refresh_token_hash(token: &str) -> Option<String> {
    token.starts_with(REFRESH_TOKEN_PREFIX).then(|| sha256_hex(token))
}

fn scp(claims: &Map<String, Value>) -> Vec<&str> {
    claims.get("scp").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// For verified access-token claims: the grant id and jti to check, or `None` (inactive) when the
/// token is not an unexpired access token holding every requested scope.
pub fn access_lookup<'c>(claims: &'c Map<String, Value>, now: i64, scopes: &[String]) -> Option<(&'c str, &'c str)> {
    let exp = claims.get("exp").and_then(Value::as_i64)?;
    if claims.get("stt").and_then(Value::as_i64) != Some(STT_ACCESS) || exp.saturating_mul(1000) < now {
        return None;
    }
    let granted = scp(claims);
    if !scopes.iter().all(|s| granted.contains(&s.as_str())) {
        return None;
    }
    Some((claims.get("gid")?.as_str()?, claims.get("jti")?.as_str()?))
}

/// Whether `jti` is in the plugin's `"<jti>,<jti>,"` list.
pub fn jti_is_live(list: &str, jti: &str) -> bool {
    list.split(',').any(|j| !j.is_empty() && j == jti)
}

/// The answer for an access token whose grant row held `jti_list` (`None`: no row, revoked):
/// every claim, plus `active`, `token_type`, `token_use`, `scope` (RFC 7662's space-joined
/// string, next to `scp`: D11) and `status`.
pub fn access_answer(mut claims: Map<String, Value>, jti_list: Option<&str>) -> Value {
    let live = match (jti_list, claims.get("jti").and_then(Value::as_str)) {
        (Some(list), Some(jti)) => jti_is_live(list, jti),
        _ => false,
    };
    if !live {
        return inactive();
    }
    let scope = scp(&claims).join(" ");
    claims.insert("active".into(), json!(true));
    claims.insert("token_type".into(), json!("Bearer"));
    claims.insert("token_use".into(), json!("access_token"));
    claims.insert("scope".into(), json!(scope));
    Value::Object(claims)
}

/// The answer for a refresh token whose grant is `grant` (`None`: unknown, rotated away or revoked).
pub fn refresh_answer(grant: Option<&GrantRecord>, now: i64, scopes: &[String]) -> Value {
    let Some(g) = grant.filter(|g| g.exp_s >= now / 1000 && scopes.iter().all(|s| g.has_scope(s))) else {
        return inactive();
    };
    let created_s = g.created_at / 1000;
    json!({
        "active": true,
        "scope": g.scopes.join(" "),
        "client_id": g.client_id,
        "sub": g.subject,
        "exp": g.exp_s,
        "iat": created_s,
        "nbf": created_s,
        "aud": g.audience,
        "iss": g.ext.iss,
        "token_type": "Bearer",
        "token_use": "refresh_token",
        "gid": g.gid,
        "rsub": g.ext.rsub,
        "tId": g.ext.tenant_id,
        "sessionHandle": g.ext.session_handle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::claims::tests::grant;
    use crate::oauth::testing::{obj, NOW};

    fn access_claims() -> Map<String, Value> {
        obj(json!({"iss": "i", "sub": "u", "client_id": "c", "scp": ["openid", "email"], "iat": NOW / 1000,
                   "exp": NOW / 1000 + 60, "jti": "j-2", "stt": 1, "gid": "g-1", "custom": true}))
    }

    #[test]
    fn live_access_tokens_answer_all_claims() {
        let c = access_claims();
        assert_eq!(access_lookup(&c, NOW, &[]), Some(("g-1", "j-2")));
        let v = access_answer(c, Some("j-1,j-2,"));
        assert_eq!(v["active"], true);
        assert_eq!(v["token_use"], "access_token");
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["scope"], "openid email");
        assert_eq!(v["scp"], json!(["openid", "email"]));
        assert_eq!(v["custom"], true);
    }

    #[test]
    fn revoked_expired_and_wrong_tokens_are_inactive() {
        let c = access_claims();
        // Revoked: its jti was removed, or the grant row deleted.
        assert_eq!(access_answer(c.clone(), Some("j-1,j-22,")), inactive());
        assert_eq!(access_answer(c.clone(), None), inactive());
        assert_eq!(access_answer(c.clone(), Some("")), inactive());
        // Expired, an ID token, a missing scope.
        assert_eq!(access_lookup(&c, NOW + 61_000, &[]), None);
        let mut id = c.clone();
        id.insert("stt".into(), json!(2));
        assert_eq!(access_lookup(&id, NOW, &[]), None);
        assert_eq!(access_lookup(&c, NOW, &["admin".into()]), None);
        assert!(access_lookup(&c, NOW, &["email".into()]).is_some());
        let mut no_gid = c;
        no_gid.remove("gid");
        assert_eq!(access_lookup(&no_gid, NOW, &[]), None);
        assert_eq!(inactive(), json!({"active": false}));
    }

    #[test]
    fn refresh_tokens() {
        let g = grant();
        let v = refresh_answer(Some(&g), NOW, &[]);
        assert_eq!(v["active"], true);
        assert_eq!(v["token_use"], "refresh_token");
        assert_eq!(v["aud"], json!([]));
        assert_eq!(v["sessionHandle"], "sh-1");
        assert_eq!(v["client_id"], "stcl_test");
        assert_eq!(v["sub"], "user-1");
        assert_eq!(v["scope"], "openid offline_access");
        assert_eq!(refresh_answer(None, NOW, &[]), inactive());
        assert_eq!(refresh_answer(Some(&g), (g.exp_s + 1) * 1000, &[]), inactive());
        assert_eq!(refresh_answer(Some(&g), NOW, &["email".into()]), inactive());
        assert!(refresh_token_hash("st_rt_abc").is_some());
        assert!(refresh_token_hash("eyJ.a.b").is_none());
        assert_eq!(parse(&obj(json!({}))).unwrap_err(), Failure::BadInput(BadInput::field_invalid("token")));
        assert_eq!(parse(&obj(json!({"token": "t", "scope": "a b"}))).unwrap(), ("t".to_owned(), vec!["a".to_owned(), "b".to_owned()]));
    }
}
