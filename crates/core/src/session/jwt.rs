//! The JWT recipe: a JWT with a custom payload (`POST /recipe/jwt`), signed with the app's keys.
//!
//! The request's `algorithm` decides, case-insensitively: `RS256` (the only value of the CDI and
//! of the core, and what the SDKs send) or `ES256` (Portcullis only). The app's
//! `access_token_signing_algorithm` does not change it: a JWT's header always says what the caller
//! asked for, and each algorithm has its own static and dynamic keys, all in the JWKS.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::{KeyProvider, SessionError};
use crate::crypto::keys::Algorithm;

/// What a request for a JWT asks.
#[derive(Clone, Debug)]
pub struct JwtRequest {
    pub payload: Map<String, Value>,
    pub algorithm: String,
    pub jwks_domain: String,
    /// Seconds.
    pub validity: i64,
    pub use_static_key: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtOutcome {
    Created(String),
    /// Neither RS256 nor ES256.
    UnsupportedAlgorithm,
}

/// The longest validity a JWT may be given, in seconds (the configuration's bound on durations):
/// beyond it `exp` would be meaningless, and near `i64::MAX` it would wrap.
pub const MAX_VALIDITY_SECONDS: i64 = crate::config::MAX_DURATION_MS / 1000;

/// The validity must be positive (the core's message says "greater than or equal to 0") and at
/// most [`MAX_VALIDITY_SECONDS`] (the core has no upper bound).
pub fn check_validity(validity: i64) -> Result<(), SessionError> {
    if validity <= 0 {
        return Err(SessionError::BadInput("validity must be greater than or equal to 0".into()));
    }
    if validity > MAX_VALIDITY_SECONDS {
        return Err(SessionError::BadInput(format!("validity must be at most {MAX_VALIDITY_SECONDS} seconds")));
    }
    Ok(())
}


/// Signs the JWT: the header names the key; the claims are, in the core's order, `iss` (the JWKS
/// domain), `iat`, `exp`, then the payload, whose keys win.
pub async fn create(keys: &dyn KeyProvider, request: JwtRequest, now_ms: i64) -> Result<JwtOutcome, SessionError> {
    let Some(algorithm) = Algorithm::from_name(&request.algorithm.to_uppercase()) else {
        return Ok(JwtOutcome::UnsupportedAlgorithm);
    };
    let (kid, key) = keys.signing_key(algorithm, request.use_static_key).await?;
    let header = json!({"alg": algorithm.name(), "typ": "JWT", "kid": kid});
    let iat = now_ms / 1000;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(request.jwks_domain));
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(iat.saturating_add(request.validity)));
    claims.extend(request.payload);
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
    );
    let sig = key.sign(input.as_bytes())?;
    Ok(JwtOutcome::Created(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))))
}

#[cfg(test)]
mod validity_tests {
    use super::*;

    #[test]
    fn validity_is_positive_and_bounded() {
        assert!(check_validity(0).is_err());
        assert!(check_validity(1).is_ok());
        assert!(check_validity(MAX_VALIDITY_SECONDS).is_ok());
        assert!(check_validity(MAX_VALIDITY_SECONDS + 1).is_err());
        assert!(check_validity(i64::MAX).is_err());
    }
}
