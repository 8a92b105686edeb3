//! Access tokens: RS256 JWTs in the core's V3-V5 formats (`version` in the header). CDI 5.4 mints V5:
//! claims `sub exp iat tId rsub sessionHandle refreshTokenHash1 parentRefreshTokenHash1 antiCsrfToken`
//! (the last two always present, `null` when unset, because Java cores require every one of them),
//! then the custom claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::crypto::keys::{PublicKey, SigningKey};
use crate::crypto::CryptoError;

/// Claims the core sets itself; a custom claim may not use these names.
pub const PROTECTED_CLAIMS: &[&str] =
    &["sub", "exp", "iat", "tId", "rsub", "sessionHandle", "refreshTokenHash1", "parentRefreshTokenHash1", "antiCsrfToken"];

pub const LATEST_VERSION: u8 = 5;

/// What an access token says.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessTokenInfo {
    pub version: u8,
    pub kid: String,
    pub session_handle: String,
    /// The primary user id (`sub`).
    pub user_id: String,
    /// The recipe user id (`rsub`; `sub` before V5).
    pub recipe_user_id: String,
    pub tenant_id: String,
    pub refresh_token_hash_1: String,
    pub parent_refresh_token_hash_1: Option<String>,
    pub anti_csrf_token: Option<String>,
    /// Expiry and creation time in milliseconds (whole seconds, as the token stores seconds).
    pub expiry_ms: i64,
    pub created_ms: i64,
    /// The custom claims.
    pub user_data: Map<String, Value>,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of ours, or tampered: the client must refresh.
    Invalid(&'static str),
    /// Signed by a key we do not know (it may be newer than our cache).
    UnknownKey,
    Expired,
}

pub fn check_custom_claims(claims: &Map<String, Value>) -> Result<(), String> {
    match claims.keys().find(|k| PROTECTED_CLAIMS.contains(&k.as_str())) {
        Some(k) => Err(format!("The user payload contains protected field: {k}")),
        None => Ok(()),
    }
}

/// Mints a V5 token. The caller has checked the custom claims.
pub fn mint(info: &AccessTokenInfo, key: &SigningKey) -> Result<String, CryptoError> {
    let header = json!({"alg": "RS256", "typ": "JWT", "version": LATEST_VERSION.to_string(), "kid": info.kid});
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(info.user_id));
    claims.insert("exp".into(), json!(info.expiry_ms / 1000));
    claims.insert("iat".into(), json!(info.created_ms / 1000));
    claims.insert("tId".into(), json!(info.tenant_id));
    claims.insert("rsub".into(), json!(info.recipe_user_id));
    claims.insert("sessionHandle".into(), json!(info.session_handle));
    claims.insert("refreshTokenHash1".into(), json!(info.refresh_token_hash_1));
    claims.insert("parentRefreshTokenHash1".into(), json!(info.parent_refresh_token_hash_1));
    claims.insert("antiCsrfToken".into(), json!(info.anti_csrf_token));
    for (k, v) in &info.user_data {
        claims.insert(k.clone(), v.clone());
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
    );
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// A token split and decoded, not yet verified.
pub struct Parsed {
    pub version: u8,
    pub kid: String,
    signing_input: String,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

fn decode_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Splits and decodes a token, checking the header rules of the core.
pub fn parse(token: &str) -> Result<Parsed, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Invalid("the access token is not a JWT"));
    };
    let Some(Value::Object(header)) = decode_json(h) else {
        return Err(TokenError::Invalid("the access token header is malformed"));
    };
    if header.get("typ").and_then(Value::as_str) != Some("JWT") || header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(TokenError::Invalid("the access token header is not RS256 JWT"));
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or(TokenError::Invalid("the access token has no kid"))?;
    let version = match header.get("version") {
        None => LATEST_VERSION,
        Some(Value::String(v)) => match v.parse::<u8>() {
            Ok(n @ 3..=5) => n,
            _ => return Err(TokenError::Invalid("unsupported access token version")),
        },
        Some(_) => return Err(TokenError::Invalid("the access token version is not a string")),
    };
    let Some(Value::Object(claims)) = decode_json(p) else {
        return Err(TokenError::Invalid("the access token payload is malformed"));
    };
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Invalid("the access token signature is malformed"))?;
    Ok(Parsed { version, kid: kid.to_owned(), signing_input: format!("{h}.{p}"), signature, claims })
}

fn required_keys(version: u8) -> &'static [&'static str] {
    match version {
        3 => &PROTECTED_CLAIMS[..3],
        4 => &PROTECTED_CLAIMS[..4],
        _ => &PROTECTED_CLAIMS[..5],
    }
}

impl Parsed {
    /// Verifies the signature with `key` and reads the claims. Expiry is checked by the caller.
    pub fn verify(self, key: &PublicKey) -> Result<AccessTokenInfo, TokenError> {
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(TokenError::Invalid("the access token signature does not match"));
        }
        let c = &self.claims;
        let string = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
        let optional = |k: &str| match c.get(k) {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Null) => Ok(None),
            _ => Err(TokenError::Invalid("the access token is missing a claim")),
        };
        for k in required_keys(self.version).iter().chain(["sessionHandle", "refreshTokenHash1"].iter()) {
            if !c.contains_key(*k) {
                return Err(TokenError::Invalid("the access token is missing a claim"));
            }
        }
        let user_id = string("sub").ok_or(TokenError::Invalid("sub is not a string"))?;
        let exp = c.get("exp").and_then(Value::as_i64).ok_or(TokenError::Invalid("exp is not a number"))?;
        let iat = c.get("iat").and_then(Value::as_i64).ok_or(TokenError::Invalid("iat is not a number"))?;
        let tenant_id = if self.version >= 4 {
            string("tId").ok_or(TokenError::Invalid("tId is not a string"))?
        } else {
            crate::ids::PUBLIC.to_owned()
        };
        let recipe_user_id =
            if self.version >= 5 { string("rsub").ok_or(TokenError::Invalid("rsub is not a string"))? } else { user_id.clone() };
        let user_data =
            c.iter().filter(|(k, _)| !PROTECTED_CLAIMS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(AccessTokenInfo {
            version: self.version,
            kid: self.kid.clone(),
            session_handle: string("sessionHandle").ok_or(TokenError::Invalid("sessionHandle is not a string"))?,
            refresh_token_hash_1: string("refreshTokenHash1").ok_or(TokenError::Invalid("refreshTokenHash1 is not a string"))?,
            parent_refresh_token_hash_1: optional("parentRefreshTokenHash1").unwrap_or(None),
            anti_csrf_token: optional("antiCsrfToken").unwrap_or(None),
            user_id,
            recipe_user_id,
            tenant_id,
            expiry_ms: exp.saturating_mul(1000),
            created_ms: iat.saturating_mul(1000),
            user_data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::generate_key_string;

    fn info() -> AccessTokenInfo {
        AccessTokenInfo {
            version: 5,
            kid: "d-1".into(),
            session_handle: "h".into(),
            user_id: "u".into(),
            recipe_user_id: "r".into(),
            tenant_id: "public".into(),
            refresh_token_hash_1: "x".into(),
            parent_refresh_token_hash_1: None,
            anti_csrf_token: Some("csrf".into()),
            expiry_ms: 2_000_000,
            created_ms: 1_000_000,
            user_data: json!({"role": "admin"}).as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn mint_parse_verify() {
        let ks = generate_key_string().unwrap();
        let key = SigningKey::from_key_string(&ks).unwrap();
        let token = mint(&info(), &key).unwrap();
        let parsed = parse(&token).unwrap();
        assert_eq!((parsed.version, parsed.kid.as_str()), (5, "d-1"));
        assert!(parsed.claims.contains_key("parentRefreshTokenHash1"), "null claims must be present");
        let got = parsed.verify(&key.public_key().unwrap()).unwrap();
        assert_eq!(got, info());
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let ks = generate_key_string().unwrap();
        let key = SigningKey::from_key_string(&ks).unwrap();
        let public = key.public_key().unwrap();
        let token = mint(&info(), &key).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(r#"{"sub":"admin","exp":9999999999,"iat":1,"tId":"public","rsub":"admin","sessionHandle":"h","refreshTokenHash1":"x","parentRefreshTokenHash1":null,"antiCsrfToken":null}"#);
        parts[1] = &evil;
        assert!(parse(&parts.join(".")).unwrap().verify(&public).is_err());
        for bad in ["", "a.b", "a.b.c.d", "!!!.!!!.!!!", &token[..token.len() - 5]] {
            assert!(parse(bad).and_then(|p| p.verify(&public)).is_err(), "{bad}");
        }
        let other = SigningKey::from_key_string(&generate_key_string().unwrap()).unwrap();
        assert!(parse(&token).unwrap().verify(&other.public_key().unwrap()).is_err());
    }

    #[test]
    fn protected_claims_cannot_be_custom() {
        assert!(check_custom_claims(json!({"sub": 1}).as_object().unwrap()).is_err());
        assert!(check_custom_claims(json!({"role": 1}).as_object().unwrap()).is_ok());
    }
}
