//! RSA-2048 signing keys in the core's string form, `b64(SubjectPublicKeyInfo DER) | b64(PKCS#8 DER)`,
//! RS256 signatures, and the JWK form of public keys.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature;
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use super::CryptoError;

/// A parsed RSA key pair, ready to sign.
pub struct SigningKey {
    pair: signature::RsaKeyPair,
    public_spki_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("SigningKey(..)")
    }
}

/// Generates a new RSA-2048 key pair (e = 65537) and returns its key string.
pub fn generate_key_string() -> Result<String, CryptoError> {
    let mut rng = rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|_| CryptoError::KeyGeneration)?;
    let pkcs8 = private.to_pkcs8_der().map_err(|_| CryptoError::KeyGeneration)?;
    let spki = private.to_public_key().to_public_key_der().map_err(|_| CryptoError::KeyGeneration)?;
    Ok(format!("{}|{}", STANDARD.encode(spki.as_bytes()), STANDARD.encode(pkcs8.as_bytes())))
}

/// Splits a key string into (public SPKI DER, private PKCS#8 DER). Old dynamic keys used `;`.
fn split_key_string(s: &str) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let (public, private) = s.split_once(['|', ';']).ok_or(CryptoError::MalformedKey)?;
    let public = STANDARD.decode(public.trim()).map_err(|_| CryptoError::MalformedKey)?;
    let private = STANDARD.decode(private.trim()).map_err(|_| CryptoError::MalformedKey)?;
    Ok((public, private))
}

impl SigningKey {
    pub fn from_key_string(s: &str) -> Result<SigningKey, CryptoError> {
        let (public_spki_der, private) = split_key_string(s)?;
        let pair = signature::RsaKeyPair::from_pkcs8(&private).map_err(|_| CryptoError::MalformedKey)?;
        Ok(SigningKey { pair, public_spki_der })
    }

    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(&signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), message, &mut sig)
            .map_err(|_| CryptoError::MalformedKey)?;
        Ok(sig)
    }

    /// The public half as CDI 2.x published it (`jwtSigningPublicKey`): standard base64 of the
    /// SubjectPublicKeyInfo DER, no PEM wrapper.
    pub fn public_spki_base64(&self) -> String {
        STANDARD.encode(&self.public_spki_der)
    }

    pub fn public_key(&self) -> Result<PublicKey, CryptoError> {
        PublicKey::from_spki_der(&self.public_spki_der)
    }
}

/// An RSA public key, for verifying RS256 signatures and publishing as a JWK.
#[derive(Clone, Debug)]
pub struct PublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl PublicKey {
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, CryptoError> {
        let key = rsa::RsaPublicKey::from_public_key_der(der).map_err(|_| CryptoError::MalformedKey)?;
        Ok(PublicKey { n: key.n().to_bytes_be(), e: key.e().to_bytes_be() })
    }

    /// The public half of a key string.
    pub fn from_key_string(s: &str) -> Result<PublicKey, CryptoError> {
        let (public, _) = split_key_string(s)?;
        Self::from_spki_der(&public)
    }

    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let key = signature::RsaPublicKeyComponents { n: &self.n, e: &self.e };
        key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig).is_ok()
    }

    /// `{kty, kid, n, e, alg, use}` with `n` and `e` as unpadded base64url big-endian integers.
    pub fn jwk(&self, kid: &str) -> Value {
        json!({
            "kty": "RSA",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
            "alg": "RS256",
            "use": "sig",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify_and_publish() {
        let s = generate_key_string().unwrap();
        assert_eq!(s.matches('|').count(), 1);
        let key = SigningKey::from_key_string(&s).unwrap();
        let sig = key.sign(b"payload").unwrap();
        assert_eq!(sig.len(), 256);
        let public = PublicKey::from_key_string(&s).unwrap();
        assert!(public.verify(b"payload", &sig));
        assert!(!public.verify(b"payload2", &sig));
        let jwk = public.jwk("d-1");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kty"], "RSA");
        // A ';' separator (old dynamic keys) parses too.
        assert!(SigningKey::from_key_string(&s.replace('|', ";")).is_ok());
    }

    #[test]
    fn malformed_key_strings_are_errors() {
        assert!(SigningKey::from_key_string("nope").is_err());
        assert!(SigningKey::from_key_string("a|b").is_err());
        assert!(PublicKey::from_key_string("!!|!!").is_err());
    }
}
