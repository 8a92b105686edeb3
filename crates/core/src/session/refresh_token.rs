//! Refresh tokens in the core's V2 format: `<encrypted payload>.<nonce>.V2`, the payload a JSON
//! object `{sessionHandle, userId, parentRefreshTokenHash1?, nonce, antiCsrfToken?, tenantId?}` with
//! nulls left out (and `tenantId` left out for the public tenant), encrypted under the app's key.

use serde_json::{Map, Value};

use crate::crypto::{refresh, sha256_hex, uuid_v4, CryptoError};
use crate::ids::PUBLIC;

#[derive(Clone, Debug, PartialEq)]
pub struct RefreshTokenInfo {
    pub session_handle: String,
    /// The recipe user id (external when mapped).
    pub user_id: String,
    pub parent_refresh_token_hash_1: Option<String>,
    pub anti_csrf_token: Option<String>,
    pub tenant_id: String,
}

pub fn create(master_key: &str, info: &RefreshTokenInfo) -> Result<String, CryptoError> {
    let nonce = sha256_hex(&uuid_v4()?);
    let mut o = Map::new();
    o.insert("sessionHandle".into(), Value::from(info.session_handle.clone()));
    o.insert("userId".into(), Value::from(info.user_id.clone()));
    if let Some(p) = &info.parent_refresh_token_hash_1 {
        o.insert("parentRefreshTokenHash1".into(), Value::from(p.clone()));
    }
    o.insert("nonce".into(), Value::from(nonce.clone()));
    if let Some(a) = &info.anti_csrf_token {
        o.insert("antiCsrfToken".into(), Value::from(a.clone()));
    }
    if info.tenant_id != PUBLIC {
        o.insert("tenantId".into(), Value::from(info.tenant_id.clone()));
    }
    let encrypted = refresh::encrypt(master_key, &Value::Object(o).to_string())?;
    Ok(format!("{encrypted}.{nonce}.V2"))
}

/// Reads a refresh token; `None` for anything that is not a valid token of this app.
pub fn parse(master_key: &str, token: &str) -> Option<RefreshTokenInfo> {
    let parts: Vec<&str> = token.split('.').collect();
    let [encrypted, nonce, kind] = parts.as_slice() else { return None };
    if !["v0", "v1", "v2"].contains(&kind.to_ascii_lowercase().as_str()) {
        return None;
    }
    let plain = refresh::decrypt(master_key, encrypted).ok()?;
    let Value::Object(o) = serde_json::from_str::<Value>(&plain).ok()? else { return None };
    let string = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    if string("nonce").as_deref() != Some(*nonce) {
        return None;
    }
    Some(RefreshTokenInfo {
        session_handle: string("sessionHandle")?,
        user_id: string("userId")?,
        parent_refresh_token_hash_1: string("parentRefreshTokenHash1"),
        anti_csrf_token: string("antiCsrfToken"),
        tenant_id: string("tenantId").unwrap_or_else(|| PUBLIC.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let key = refresh::new_master_key().unwrap();
        let info = RefreshTokenInfo {
            session_handle: "h_t1".into(),
            user_id: "u".into(),
            parent_refresh_token_hash_1: Some("p".into()),
            anti_csrf_token: None,
            tenant_id: "t1".into(),
        };
        let token = create(&key, &info).unwrap();
        assert!(token.ends_with(".V2"));
        assert_eq!(parse(&key, &token), Some(info.clone()));
        assert_eq!(parse("other", &token), None);
        assert_eq!(parse(&key, &token.replace(".V2", ".V9")), None);
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = "0000";
        assert_eq!(parse(&key, &parts.join(".")), None, "the nonce must match the payload");
        assert_eq!(parse(&key, "garbage"), None);
        let public = RefreshTokenInfo { tenant_id: PUBLIC.into(), ..info };
        assert_eq!(parse(&key, &create(&key, &public).unwrap()), Some(public));
    }
}
