//! Compact RS256 JWTs with arbitrary claims, over the RSA keys of [`super::keys`]: what the OAuth
//! provider signs (access and ID tokens) and verifies (introspection, revocation, `id_token_hint`).
//! Session access tokens have their own format rules in `session::access_token`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::keys::{Algorithm, PublicKey, SigningKey};
use super::CryptoError;

/// `header.claims.signature`, each part unpadded base64url of compact JSON, signed RS256.
pub fn sign(header: &Map<String, Value>, claims: &Map<String, Value>, key: &SigningKey) -> Result<String, CryptoError> {
    // The header says RS256: an ES256 key must not sign under it.
    if key.algorithm() != Algorithm::Rs256 {
        return Err(CryptoError::MalformedKey);
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header.clone()).to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string())
    );
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// A JWT split and decoded, its signature not yet checked.
#[derive(Debug)]
pub struct Unverified {
    pub header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Splits and decodes a token. `None` unless it has three parts, an RS256 header and JSON objects.
pub fn decode(token: &str) -> Option<Unverified> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let header = decode_object(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return None;
    }
    let claims = decode_object(p)?;
    let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
    Some(Unverified { header, claims, signing_input: format!("{h}.{p}"), signature })
}

impl Unverified {
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The claims, if `key` made the signature.
    pub fn verify(self, key: &PublicKey) -> Option<Map<String, Value>> {
        key.verify_as(Algorithm::Rs256, self.signing_input.as_bytes(), &self.signature).then_some(self.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::generate_key_string;
    use serde_json::json;

    #[test]
    fn sign_decode_verify() {
        let key = SigningKey::from_key_string(&generate_key_string().unwrap()).unwrap();
        let header = json!({"kid": "s-1", "typ": "JWT", "alg": "RS256"}).as_object().cloned().unwrap();
        let claims = json!({"sub": "u", "n": 1}).as_object().cloned().unwrap();
        let token = sign(&header, &claims, &key).unwrap();
        let u = decode(&token).unwrap();
        assert_eq!(u.kid(), Some("s-1"));
        assert_eq!(u.verify(&key.public_key().unwrap()), Some(claims.clone()));
        // Another key, a tampered payload, garbage.
        let other = SigningKey::from_key_string(&generate_key_string().unwrap()).unwrap();
        assert!(decode(&token).unwrap().verify(&other.public_key().unwrap()).is_none());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(r#"{"sub":"admin"}"#);
        assert!(decode(&parts.join(".")).unwrap().verify(&key.public_key().unwrap()).is_none());
        for bad in ["", "a.b", "a.b.c.d", "!.!.!", "e30.e30.AA"] {
            assert!(decode(bad).is_none(), "{bad}");
        }
        let none_alg = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode("{}"));
        assert!(decode(&none_alg).is_none());
    }
}
