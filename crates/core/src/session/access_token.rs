//! Access tokens in every format the core has used; `version` says which.
//!
//! - **V1 / V2** (CDI below 2.21): `H.P.S` in *standard* base64 with `=` padding. `H` is one of two
//!   fixed strings (no `kid`: verification tries every key); `P` is
//!   `{userId, expiryTime, timeCreated, sessionHandle, refreshTokenHash1, [parentRefreshTokenHash1],
//!   [antiCsrfToken], userData}` with times in exact milliseconds, the custom claims nested in
//!   `userData` and the two optional members left out when unset.
//! - **V3 / V4 / V5** (CDI 2.21, 3.x, 4.0 and later): a JWS (base64url, no padding) with `kid`
//!   and `version` in the header, signed RS256 as the core signs, or ES256 where the app opted in
//!   (`access_token_signing_algorithm`; the header's `alg` says which, and a key only ever checks
//!   signatures of its own algorithm); claims `sub exp iat [tId] [rsub] sessionHandle refreshTokenHash1
//!   parentRefreshTokenHash1 antiCsrfToken` (`tId` from V4, `rsub` from V5; the last two always
//!   present, `null` when unset, because Java cores require every one of them), then the custom
//!   claims at the top level. `exp`/`iat` are whole seconds.
//!
//! Tokens are read as the core reads them, whatever CDI version the request speaks: the header and
//! payload with its mixed-alphabet base64 decoder, the signature with the URL decoder (V3+) or the
//! basic one (V1/V2), lenient about trailing bits as Java is.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::crypto::java_base64::{decode_basic, decode_mixed, decode_url};
use crate::crypto::keys::{Algorithm, PublicKey, SigningKey};
use crate::crypto::CryptoError;

/// The claims a V5 token sets itself (see [`protected_claims`] for the other versions).
pub const PROTECTED_CLAIMS: &[&str] =
    &["sub", "exp", "iat", "sessionHandle", "refreshTokenHash1", "parentRefreshTokenHash1", "antiCsrfToken", "tId", "rsub"];

/// The core's list for V1 and V2 (their custom claims are nested, but a session's payload is still
/// checked against it in some places: see `session::versions`).
const PROTECTED_V2: &[&str] = &["userId", "expiryTime", "timeCreated", "sessionHandle", "refreshTokenHash1"];

pub const LATEST_VERSION: u8 = 5;

/// The core's message when a custom claim uses a protected name (400, or UNAUTHORISED at refresh).
pub const PROTECTED_FIELD_MESSAGE: &str = "The user payload contains protected field";

/// The fixed headers of V1 and V2 tokens: standard base64 of
/// `{"alg":"RS256","typ":"JWT","version":"1"|"2"}`. Tokens are recognised by these exact strings.
const V1_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIxIn0=";
const V2_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";

/// The names a token of `version` sets itself, in the core's order: they must all be present when
/// a token is read, and a custom claim may not use them when a V3+ token is minted.
pub fn protected_claims(version: u8) -> &'static [&'static str] {
    match version {
        1 | 2 => PROTECTED_V2,
        3 => &PROTECTED_CLAIMS[..7],
        4 => &PROTECTED_CLAIMS[..8],
        _ => PROTECTED_CLAIMS,
    }
}

/// Whether a token of `version` is a legacy V1/V2 token (no `kid`, exact milliseconds).
pub fn is_legacy(version: u8) -> bool {
    version <= 2
}

/// What an access token says.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessTokenInfo {
    pub version: u8,
    /// The signing key's id; empty for V1/V2 tokens, which name none.
    pub kid: String,
    pub session_handle: String,
    /// The primary user id (`sub`; `userId` in V1/V2).
    pub user_id: String,
    /// The recipe user id (`rsub`; `sub`/`userId` before V5).
    pub recipe_user_id: String,
    /// `tId` from V4; always `public` before (a V3 token's custom `tId` is a custom claim).
    pub tenant_id: String,
    pub refresh_token_hash_1: String,
    pub parent_refresh_token_hash_1: Option<String>,
    pub anti_csrf_token: Option<String>,
    /// Expiry and creation time in milliseconds: exact for V1/V2, whole seconds for V3+ (read from a
    /// token), or whatever the minter chose (minting floors V3+ times itself).
    pub expiry_ms: i64,
    pub created_ms: i64,
    /// The custom claims.
    pub user_data: Map<String, Value>,
}

impl AccessTokenInfo {
    /// The times the core reports for this token (`accessToken.expiry`/`createdTime`): exact
    /// milliseconds for V1/V2, floored to the second for V3+ (what the token itself can say).
    pub fn reported_times(&self) -> (i64, i64) {
        if is_legacy(self.version) {
            (self.expiry_ms, self.created_ms)
        } else {
            (floor_to_second(self.expiry_ms), floor_to_second(self.created_ms))
        }
    }
}

fn floor_to_second(ms: i64) -> i64 {
    ms - ms.rem_euclid(1000)
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

/// Why a token could not be minted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// A custom claim uses a name the token's version sets itself.
    #[error("{}", PROTECTED_FIELD_MESSAGE)]
    ProtectedField,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Refuses custom claims that use a name of `version`'s protected list.
pub fn check_custom_claims_for(version: u8, claims: &Map<String, Value>) -> Result<(), String> {
    let protected = protected_claims(version);
    if claims.keys().any(|k| protected.contains(&k.as_str())) {
        return Err(PROTECTED_FIELD_MESSAGE.to_owned());
    }
    Ok(())
}

/// [`check_custom_claims_for`] the latest version.
pub fn check_custom_claims(claims: &Map<String, Value>) -> Result<(), String> {
    check_custom_claims_for(LATEST_VERSION, claims)
}

/// Mints a token of `info.version` (V1…V5) signed with `key`; `info.kid` names the key for V3+.
/// A V3+ token whose custom claims use a protected name is refused, as the core refuses it.
pub fn mint(info: &AccessTokenInfo, key: &SigningKey) -> Result<String, MintError> {
    if is_legacy(info.version) {
        return mint_legacy(info, key);
    }
    check_custom_claims_for(info.version, &info.user_data).map_err(|_| MintError::ProtectedField)?;
    let header = json!({"alg": key.algorithm().name(), "typ": "JWT", "version": info.version.to_string(), "kid": info.kid});
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(info.user_id));
    claims.insert("exp".into(), json!(info.expiry_ms.div_euclid(1000)));
    claims.insert("iat".into(), json!(info.created_ms.div_euclid(1000)));
    if info.version >= 4 {
        claims.insert("tId".into(), json!(info.tenant_id));
    }
    if info.version >= 5 {
        claims.insert("rsub".into(), json!(info.recipe_user_id));
    }
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

/// V1/V2: the fixed header, the payload in the core's member order, standard padded base64.
fn mint_legacy(info: &AccessTokenInfo, key: &SigningKey) -> Result<String, MintError> {
    // The fixed headers say RS256.
    if key.algorithm() != Algorithm::Rs256 {
        return Err(MintError::Crypto(CryptoError::MalformedKey));
    }
    let mut payload = Map::new();
    payload.insert("userId".into(), json!(info.user_id));
    payload.insert("expiryTime".into(), json!(info.expiry_ms));
    payload.insert("timeCreated".into(), json!(info.created_ms));
    payload.insert("sessionHandle".into(), json!(info.session_handle));
    payload.insert("refreshTokenHash1".into(), json!(info.refresh_token_hash_1));
    if let Some(p) = &info.parent_refresh_token_hash_1 {
        payload.insert("parentRefreshTokenHash1".into(), json!(p));
    }
    if let Some(a) = &info.anti_csrf_token {
        payload.insert("antiCsrfToken".into(), json!(a));
    }
    payload.insert("userData".into(), Value::Object(info.user_data.clone()));
    let header = if info.version == 1 { V1_HEADER } else { V2_HEADER };
    let signing_input = format!("{header}.{}", STANDARD.encode(Value::Object(payload).to_string()));
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", STANDARD.encode(sig)))
}

/// A token split and decoded, not yet verified.
pub struct Parsed {
    pub version: u8,
    /// The header's `alg` (always RS256 for V1/V2).
    pub alg: Algorithm,
    /// The key that signed it (V3+). V1/V2 tokens name none: try every key ([`Parsed::verify_any`]).
    pub kid: Option<String>,
    signing_input: String,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

fn decode_json_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = decode_mixed(part).ok()?;
    // Java reads the bytes as UTF-8 leniently before parsing.
    match serde_json::from_str(&String::from_utf8_lossy(&bytes)).ok()? {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// The algorithm, version and kid named by a V3+ header, by the core's rules (`typ` JWT, `alg`
/// RS256 (or ES256, which only Portcullis signs), `version` a string naming 3, 4 or 5 and absent
/// meaning the latest, `kid` a string).
fn read_header(header: &Map<String, Value>) -> Result<(Algorithm, u8, String), TokenError> {
    let alg = header.get("alg").and_then(Value::as_str).and_then(Algorithm::from_name);
    let (Some(alg), Some("JWT")) = (alg, header.get("typ").and_then(Value::as_str)) else {
        return Err(TokenError::Invalid("the access token header is not an RS256 or ES256 JWT"));
    };
    let version = match header.get("version") {
        None => LATEST_VERSION,
        Some(Value::String(v)) => match v.as_str() {
            "3" => 3,
            "4" => 4,
            "5" => 5,
            _ => return Err(TokenError::Invalid("unsupported access token version")),
        },
        Some(_) => return Err(TokenError::Invalid("the access token version is not a string")),
    };
    let kid = header.get("kid").and_then(Value::as_str).ok_or(TokenError::Invalid("the access token has no kid"))?;
    Ok((alg, version, kid.to_owned()))
}

/// Splits and decodes a token of any version, checking the header rules of the core.
pub fn parse(token: &str) -> Result<Parsed, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Invalid("the access token is not a JWT"));
    };
    let (alg, version, kid) = match h {
        V1_HEADER => (Algorithm::Rs256, 1, None),
        V2_HEADER => (Algorithm::Rs256, 2, None),
        _ => {
            let header = decode_json_object(h).ok_or(TokenError::Invalid("the access token header is malformed"))?;
            let (alg, version, kid) = read_header(&header)?;
            (alg, version, Some(kid))
        }
    };
    let claims = decode_json_object(p).ok_or(TokenError::Invalid("the access token payload is malformed"))?;
    let signature = if is_legacy(version) { decode_basic(s) } else { decode_url(s) }
        .map_err(|_| TokenError::Invalid("the access token signature is malformed"))?;
    Ok(Parsed { version, alg, kid, signing_input: format!("{h}.{p}"), signature, claims })
}

impl Parsed {
    pub fn signature_matches(&self, key: &PublicKey) -> bool {
        key.verify_as(self.alg, self.signing_input.as_bytes(), &self.signature)
    }

    /// Verifies the signature with `key` and reads the claims. Expiry is checked by the caller.
    pub fn verify(&self, key: &PublicKey) -> Result<AccessTokenInfo, TokenError> {
        if !self.signature_matches(key) {
            return Err(TokenError::Invalid("the access token signature does not match"));
        }
        self.read_claims()
    }

    /// Verifies with the first of `keys` whose signature matches (how V1/V2 tokens, which name no
    /// key, are verified: the core tries every dynamic key, then every static key). None matching
    /// is [`TokenError::UnknownKey`]: the caller may read the keys again and retry.
    pub fn verify_any<'k>(&self, keys: impl IntoIterator<Item = &'k PublicKey>) -> Result<AccessTokenInfo, TokenError> {
        if !keys.into_iter().any(|k| self.signature_matches(k)) {
            return Err(TokenError::UnknownKey);
        }
        self.read_claims()
    }

    /// The claims as the core reads them (`AccessTokenInfo.fromJSON`), once the signature is checked.
    fn read_claims(&self) -> Result<AccessTokenInfo, TokenError> {
        let c = &self.claims;
        if protected_claims(self.version).iter().any(|k| !c.contains_key(*k)) {
            return Err(TokenError::Invalid("Access token does not contain all the information. Maybe the structure has changed?"));
        }
        let string = |k: &str, err: &'static str| c.get(k).and_then(Value::as_str).map(str::to_owned).ok_or(TokenError::Invalid(err));
        let number = |k: &str, err: &'static str| c.get(k).and_then(Value::as_i64).ok_or(TokenError::Invalid(err));
        let optional = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
        let session_handle = string("sessionHandle", "sessionHandle is not a string")?;
        let refresh_token_hash_1 = string("refreshTokenHash1", "refreshTokenHash1 is not a string")?;
        let (parent_refresh_token_hash_1, anti_csrf_token) = (optional("parentRefreshTokenHash1"), optional("antiCsrfToken"));
        if is_legacy(self.version) {
            let user_id = string("userId", "userId is not a string")?;
            let Some(Value::Object(user_data)) = c.get("userData") else {
                return Err(TokenError::Invalid("userData is not an object"));
            };
            return Ok(AccessTokenInfo {
                version: self.version,
                kid: String::new(),
                session_handle,
                recipe_user_id: user_id.clone(),
                user_id,
                tenant_id: crate::ids::PUBLIC.to_owned(),
                refresh_token_hash_1,
                parent_refresh_token_hash_1,
                anti_csrf_token,
                expiry_ms: number("expiryTime", "expiryTime is not a number")?,
                created_ms: number("timeCreated", "timeCreated is not a number")?,
                user_data: user_data.clone(),
            });
        }
        let user_id = string("sub", "sub is not a string")?;
        let exp = number("exp", "exp is not a number")?;
        let iat = number("iat", "iat is not a number")?;
        let tenant_id = if self.version >= 4 { string("tId", "tId is not a string")? } else { crate::ids::PUBLIC.to_owned() };
        let recipe_user_id = if self.version >= 5 { string("rsub", "rsub is not a string")? } else { user_id.clone() };
        // Everything this version does not set itself is custom (a V3 token's `tId` included).
        let protected = protected_claims(self.version);
        let user_data = c.iter().filter(|(k, _)| !protected.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(AccessTokenInfo {
            version: self.version,
            kid: self.kid.clone().unwrap_or_default(),
            session_handle,
            user_id,
            recipe_user_id,
            tenant_id,
            refresh_token_hash_1,
            parent_refresh_token_hash_1,
            anti_csrf_token,
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

    fn info(version: u8) -> AccessTokenInfo {
        AccessTokenInfo {
            version,
            kid: if is_legacy(version) { String::new() } else { "d-1".into() },
            session_handle: "h".into(),
            user_id: "u".into(),
            recipe_user_id: if version >= 5 { "r".into() } else { "u".into() },
            tenant_id: if version >= 4 { "t1".into() } else { "public".into() },
            refresh_token_hash_1: "x".into(),
            parent_refresh_token_hash_1: None,
            anti_csrf_token: Some("csrf".into()),
            expiry_ms: if is_legacy(version) { 2_000_123 } else { 2_000_000 },
            created_ms: if is_legacy(version) { 1_000_456 } else { 1_000_000 },
            user_data: json!({"role": "admin"}).as_object().cloned().unwrap_or_default(),
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_key_string(&generate_key_string().unwrap()).unwrap()
    }

    fn decoded_part(token: &str, i: usize) -> Value {
        serde_json::from_slice(&decode_mixed(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn every_version_round_trips() {
        let key = key();
        let public = key.public_key().unwrap();
        for version in 1..=5 {
            let token = mint(&info(version), &key).unwrap();
            let parsed = parse(&token).unwrap();
            assert_eq!(parsed.version, version);
            assert_eq!(parsed.kid.is_none(), version <= 2, "only V3+ name a key");
            assert_eq!(parsed.verify(&public).unwrap(), info(version), "V{version}");
        }
    }

    #[test]
    fn v3_to_v5_claims_and_header() {
        let key = key();
        let names = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let v3 = mint(&info(3), &key).unwrap();
        assert_eq!(
            names(&decoded_part(&v3, 1)),
            ["sub", "exp", "iat", "sessionHandle", "refreshTokenHash1", "parentRefreshTokenHash1", "antiCsrfToken", "role"]
        );
        let v4 = decoded_part(&mint(&info(4), &key).unwrap(), 1);
        assert_eq!(names(&v4)[..4], ["sub", "exp", "iat", "tId"]);
        assert_eq!(v4["tId"], "t1");
        let v5 = decoded_part(&mint(&info(5), &key).unwrap(), 1);
        assert_eq!(names(&v5)[..5], ["sub", "exp", "iat", "tId", "rsub"]);
        assert_eq!((v5["exp"].clone(), v5["parentRefreshTokenHash1"].clone()), (json!(2000), Value::Null));
        for version in 3..=5u8 {
            let header = decoded_part(&mint(&info(version), &key).unwrap(), 0);
            assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "version": version.to_string(), "kid": "d-1"}));
        }
        assert!(!v3.contains('=') && !v3.contains('+') && !v3.contains('/'), "base64url without padding");
    }

    #[test]
    fn es256_tokens_name_their_algorithm_and_verify_only_with_their_key() {
        let ec = SigningKey::from_key_string(&crate::crypto::keys::generate_es256_key_string().unwrap()).unwrap();
        let rsa = key();
        for version in 3..=5u8 {
            let token = mint(&info(version), &ec).unwrap();
            let header = decoded_part(&token, 0);
            assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "version": version.to_string(), "kid": "d-1"}));
            assert_eq!(decode_url(token.rsplit('.').next().unwrap()).unwrap().len(), 64, "JWS r || s");
            let parsed = parse(&token).unwrap();
            assert_eq!(parsed.alg, Algorithm::Es256);
            assert_eq!(parsed.verify(&ec.public_key().unwrap()).unwrap(), info(version));
            assert!(parsed.verify(&rsa.public_key().unwrap()).is_err());
            assert_eq!(parsed.verify_any([&rsa.public_key().unwrap()]), Err(TokenError::UnknownKey));
        }
        // A header that relabels an RS256 token as ES256 (or the reverse) never verifies.
        let token = mint(&info(5), &rsa).unwrap();
        let relabelled = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "typ": "JWT", "version": "5", "kid": "d-1"}).to_string()),
            token.split_once('.').unwrap().1
        );
        assert!(parse(&relabelled).unwrap().verify(&rsa.public_key().unwrap()).is_err());
        // Legacy formats have a fixed RS256 header: an ES256 key cannot mint them.
        assert!(mint(&info(2), &ec).is_err());
    }

    #[test]
    fn v2_format_is_the_cores() {
        let key = key();
        let mut i = info(2);
        i.parent_refresh_token_hash_1 = Some("p".into());
        let token = mint(&i, &key).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts[0], V2_HEADER);
        assert_eq!(STANDARD.decode(parts[0]).unwrap(), br#"{"alg":"RS256","typ":"JWT","version":"2"}"#);
        assert_eq!(STANDARD.decode(V1_HEADER).unwrap(), br#"{"alg":"RS256","typ":"JWT","version":"1"}"#);
        assert_eq!(
            String::from_utf8(STANDARD.decode(parts[1]).unwrap()).unwrap(),
            r#"{"userId":"u","expiryTime":2000123,"timeCreated":1000456,"sessionHandle":"h","refreshTokenHash1":"x","parentRefreshTokenHash1":"p","antiCsrfToken":"csrf","userData":{"role":"admin"}}"#
        );
        assert_eq!(parts[2].len(), 344, "a 256-byte signature in padded standard base64");
        assert!(parts[2].ends_with("=="));
        // Unset optional members are left out, not null.
        let bare = AccessTokenInfo { anti_csrf_token: None, ..info(2) };
        let payload = decoded_part(&mint(&bare, &key).unwrap(), 1);
        assert!(payload.get("antiCsrfToken").is_none() && payload.get("parentRefreshTokenHash1").is_none());
        assert_eq!(parse(&mint(&bare, &key).unwrap()).unwrap().verify(&key.public_key().unwrap()).unwrap(), bare);
        // V1 differs only in its header.
        assert!(mint(&info(1), &key).unwrap().starts_with(V1_HEADER));
    }

    /// The appendix A fixture of the CDI-versions spec: a V2 token made outside Portcullis, checked
    /// with supertokens-node 13's own V2 verifier.
    #[test]
    fn the_reference_v2_token_verifies() {
        let fixture: Value = serde_json::from_str(include_str!("../../tests/fixtures/access_token_v2.json")).unwrap();
        let spki = STANDARD.decode(fixture["publicKey"].as_str().unwrap()).unwrap();
        let public = PublicKey::from_spki_der(&spki).unwrap();
        let token = fixture["token"].as_str().unwrap();
        let parsed = parse(token).unwrap();
        assert_eq!((parsed.version, parsed.kid.as_deref()), (2, None));
        let got = parsed.verify_any([&public]).unwrap();
        assert_eq!(got.user_id, "fa7a0841-b533-4478-9553-0fde890c3483");
        assert_eq!(got.recipe_user_id, got.user_id);
        assert_eq!(got.tenant_id, "public");
        assert_eq!(got.session_handle, "3a9f0c2e-7b1d-4c5e-8f6a-2d4b6c8e0a1f");
        assert_eq!(got.refresh_token_hash_1, "5f2b".repeat(16));
        assert_eq!(got.parent_refresh_token_hash_1, Some("9c1e".repeat(16)));
        assert_eq!(got.anti_csrf_token.as_deref(), Some("1b6e3f4a-8c1d-4e2f-9a7b-0c5d6e7f8a9b"));
        assert_eq!((got.expiry_ms, got.created_ms), (1_700_003_600_066, 1_700_000_000_123));
        assert_eq!(got.reported_times(), (1_700_003_600_066, 1_700_000_000_123), "exact milliseconds");
        assert_eq!(Value::Object(got.user_data), json!({"role": "admin", "iss": "http://localhost:3001/auth"}));
        // One changed byte of the payload, or another key, and it no longer verifies.
        let mut tampered: Vec<String> = token.split('.').map(str::to_owned).collect();
        tampered[1] = tampered[1].replacen("eyJ1c2VySWQiOiJm", "eyJ1c2VySWQiOiJn", 1);
        assert!(parse(&tampered.join(".")).unwrap().verify_any([&public]).is_err());
        let other = key().public_key().unwrap();
        assert_eq!(parse(token).unwrap().verify_any([&other]), Err(TokenError::UnknownKey));
        assert!(parse(token).unwrap().verify_any([&other, &public]).is_ok(), "every key is tried");
    }

    #[test]
    fn reported_times_floor_only_v3_and_later() {
        let mut i = info(5);
        (i.expiry_ms, i.created_ms) = (1_700_003_600_066, 1_700_000_000_123);
        assert_eq!(i.reported_times(), (1_700_003_600_000, 1_700_000_000_000));
        i.version = 2;
        assert_eq!(i.reported_times(), (1_700_003_600_066, 1_700_000_000_123));
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let key = key();
        let public = key.public_key().unwrap();
        let token = mint(&info(5), &key).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(r#"{"sub":"admin","exp":9999999999,"iat":1,"tId":"public","rsub":"admin","sessionHandle":"h","refreshTokenHash1":"x","parentRefreshTokenHash1":null,"antiCsrfToken":null}"#);
        parts[1] = &evil;
        assert!(parse(&parts.join(".")).unwrap().verify(&public).is_err());
        for bad in ["", "a.b", "a.b.c.d", "!!!.!!!.!!!", &token[..token.len() - 5]] {
            assert!(parse(bad).and_then(|p| p.verify(&public)).is_err(), "{bad}");
        }
        let other = key_pair_public();
        assert!(parse(&token).unwrap().verify(&other).is_err());
        // A V2 header with a V5 body, or a legacy-looking header that is not byte-for-byte the fixed one.
        let v2 = mint(&info(2), &key).unwrap();
        let v2_parts: Vec<&str> = v2.split('.').collect();
        let unpadded = format!("{}.{}.{}", v2_parts[0].trim_end_matches('='), v2_parts[1], v2_parts[2]);
        assert!(parse(&unpadded).is_err(), "an unpadded V2 header names version 2 in a V3+ header: refused");
    }

    fn key_pair_public() -> PublicKey {
        key().public_key().unwrap()
    }

    #[test]
    fn header_rules_of_the_core() {
        let key = key();
        let forge = |header: Value| {
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(r#"{}"#));
            let sig = key.sign(input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        };
        assert_eq!(parse(&forge(json!({"alg": "RS256", "typ": "JWT", "kid": "k"}))).unwrap().version, 5, "absent = latest");
        for bad in [
            json!({"alg": "RS256", "typ": "JWT", "kid": "k", "version": "2"}),
            json!({"alg": "RS256", "typ": "JWT", "kid": "k", "version": "1"}),
            json!({"alg": "RS256", "typ": "JWT", "kid": "k", "version": "03"}),
            json!({"alg": "RS256", "typ": "JWT", "kid": "k", "version": 3}),
            json!({"alg": "RS256", "typ": "JWT", "kid": "k", "version": "6"}),
            json!({"alg": "RS256", "typ": "JWT", "version": "5"}),
            json!({"alg": "RS256", "typ": "JWT", "kid": 1}),
            json!({"alg": "HS256", "typ": "JWT", "kid": "k"}),
            json!({"alg": "RS256", "kid": "k"}),
        ] {
            assert!(parse(&forge(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn lenient_decoding_as_java() {
        let key = key();
        let public = key.public_key().unwrap();
        let token = mint(&info(5), &key).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        // Padding on the header and payload, and the standard alphabet there, are read as Java reads them.
        let std_payload = STANDARD.encode(URL_SAFE_NO_PAD.decode(parts[1]).unwrap());
        let std_header = STANDARD.encode(URL_SAFE_NO_PAD.decode(parts[0]).unwrap());
        let parsed = parse(&format!("{std_header}.{std_payload}.{}", parts[2])).unwrap();
        // The signature covers the text as sent, so this re-encoded token no longer verifies...
        assert!(parsed.verify(&public).is_err());
        // ...and a V3+ signature in the standard alphabet is a refusal (TRY_REFRESH_TOKEN), never a
        // panic or a 500 as in Java, whose URL decoder throws there.
        let std_sig = format!("+/{}", &parts[2][2..]);
        assert_eq!(parse(&format!("{}.{}.{std_sig}", parts[0], parts[1])).err(), Some(TokenError::Invalid("the access token signature is malformed")));
    }

    #[test]
    fn required_claims_per_version() {
        let key = key();
        let public = key.public_key().unwrap();
        // A V3 token's custom `tId` and `rsub` stay custom; the tenant is `public`.
        let mut i = info(3);
        i.user_data = json!({"tId": "t9", "rsub": "x"}).as_object().cloned().unwrap();
        let got = parse(&mint(&i, &key).unwrap()).unwrap().verify(&public).unwrap();
        assert_eq!(got.tenant_id, "public");
        assert_eq!(Value::Object(got.user_data), json!({"tId": "t9", "rsub": "x"}));
        // Every protected claim must be present (null counts as present).
        let forge = |claims: Value| {
            let header = json!({"alg": "RS256", "typ": "JWT", "kid": "k", "version": "3"});
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
            let sig = key.sign(input.as_bytes()).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        };
        let full = json!({"sub": "u", "exp": 2, "iat": 1, "sessionHandle": "h", "refreshTokenHash1": "x", "parentRefreshTokenHash1": null, "antiCsrfToken": null});
        assert!(parse(&forge(full.clone())).unwrap().verify(&public).is_ok());
        for missing in protected_claims(3) {
            let mut c = full.clone();
            c.as_object_mut().unwrap().remove(*missing);
            assert!(parse(&forge(c)).unwrap().verify(&public).is_err(), "{missing}");
        }
    }

    #[test]
    fn protected_claims_per_version() {
        let claims = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(check_custom_claims(&claims(json!({"sub": 1}))), Err(PROTECTED_FIELD_MESSAGE.to_owned()));
        assert!(check_custom_claims(&claims(json!({"role": 1}))).is_ok());
        assert!(check_custom_claims_for(3, &claims(json!({"tId": 1, "rsub": 2}))).is_ok());
        assert!(check_custom_claims_for(4, &claims(json!({"tId": 1}))).is_err());
        assert!(check_custom_claims_for(4, &claims(json!({"rsub": 1}))).is_ok());
        assert!(check_custom_claims_for(2, &claims(json!({"userId": 1}))).is_err());
        assert!(check_custom_claims_for(2, &claims(json!({"sub": 1}))).is_ok());
        // Minting refuses what the version protects; V2 nests the claims and refuses nothing.
        let key = key();
        for (version, name, refused) in [(5, "rsub", true), (4, "rsub", false), (4, "tId", true), (3, "tId", false), (3, "sub", true), (2, "userId", false)] {
            let mut i = info(version);
            i.user_data = claims(json!({ name: "x" }));
            assert_eq!(mint(&i, &key).err() == Some(MintError::ProtectedField), refused, "V{version} {name}");
        }
    }
}
