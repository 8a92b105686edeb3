//! Access-token signing keys in their stored string forms, their signatures, and the JWK form of
//! their public halves.
//!
//! - **RS256** (the SuperTokens core's only algorithm): RSA-2048, stored as
//!   `b64(SubjectPublicKeyInfo DER) | b64(PKCS#8 DER)` (old dynamic keys used `;`).
//! - **ES256** (Portcullis's opt-in, `access_token_signing_algorithm`): ECDSA P-256 with SHA-256,
//!   stored as `ES256:b64(SubjectPublicKeyInfo DER):b64(PKCS#8 DER)`. The string has neither `|`
//!   nor `;` on purpose: a Java core reading `jwt_signing_keys` takes such rows for symmetric keys
//!   and leaves them out of its JWKS and key choice instead of failing on them (docs/deployment.md).
//!   Signatures are in JWS form (`r || s`, 64 bytes), not DER.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{self, KeyPair};
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use super::CryptoError;

/// A JWS signing algorithm of access tokens and `/recipe/jwt` JWTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    #[default]
    Rs256,
    Es256,
}

impl Algorithm {
    /// The JWS name (`alg`), which is also what `jwt_signing_keys.algorithm` holds.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    /// The algorithm a JWS `alg` (or a stored `algorithm` column) names; exact spelling.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "ES256" => Some(Algorithm::Es256),
            _ => None,
        }
    }
}

/// The prefix of an ES256 key string.
const ES256_PREFIX: &str = "ES256:";

/// The DER of a P-256 SubjectPublicKeyInfo up to the uncompressed point (RFC 5480): the
/// `id-ecPublicKey` and `prime256v1` OIDs and the BIT STRING header of 66 bytes.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The uncompressed P-256 point (`04 || x || y`) a SubjectPublicKeyInfo holds, if it is one.
fn p256_point_of_spki(der: &[u8]) -> Option<&[u8]> {
    let point = der.strip_prefix(&P256_SPKI_PREFIX[..])?;
    (point.len() == 65 && point[0] == 0x04).then_some(point)
}

enum Signer {
    Rsa(signature::RsaKeyPair),
    Ec(signature::EcdsaKeyPair),
}

/// A parsed key pair, ready to sign.
pub struct SigningKey {
    signer: Signer,
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

/// Generates a new P-256 key pair and returns its ES256 key string (microseconds, unlike RSA).
pub fn generate_es256_key_string() -> Result<String, CryptoError> {
    let rng = ring::rand::SystemRandom::new();
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| CryptoError::KeyGeneration)?;
    let pair = signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|_| CryptoError::KeyGeneration)?;
    let spki = [&P256_SPKI_PREFIX[..], pair.public_key().as_ref()].concat();
    Ok(format!("{ES256_PREFIX}{}:{}", STANDARD.encode(spki), STANDARD.encode(pkcs8.as_ref())))
}

/// A new key string of `algorithm`.
pub fn generate_key_string_for(algorithm: Algorithm) -> Result<String, CryptoError> {
    match algorithm {
        Algorithm::Rs256 => generate_key_string(),
        Algorithm::Es256 => generate_es256_key_string(),
    }
}

/// The algorithm a key string is for, by its form.
pub fn algorithm_of_key_string(s: &str) -> Algorithm {
    if s.starts_with(ES256_PREFIX) {
        Algorithm::Es256
    } else {
        Algorithm::Rs256
    }
}

/// Splits a key string into (algorithm, public SPKI DER, private PKCS#8 DER).
fn split_key_string(s: &str) -> Result<(Algorithm, Vec<u8>, Vec<u8>), CryptoError> {
    let (algorithm, (public, private)) = match s.strip_prefix(ES256_PREFIX) {
        Some(rest) => (Algorithm::Es256, rest.split_once(':').ok_or(CryptoError::MalformedKey)?),
        None => (Algorithm::Rs256, s.split_once(['|', ';']).ok_or(CryptoError::MalformedKey)?),
    };
    let public = STANDARD.decode(public.trim()).map_err(|_| CryptoError::MalformedKey)?;
    let private = STANDARD.decode(private.trim()).map_err(|_| CryptoError::MalformedKey)?;
    Ok((algorithm, public, private))
}

impl SigningKey {
    pub fn from_key_string(s: &str) -> Result<SigningKey, CryptoError> {
        let (algorithm, public_spki_der, private) = split_key_string(s)?;
        let signer = match algorithm {
            Algorithm::Rs256 => Signer::Rsa(signature::RsaKeyPair::from_pkcs8(&private).map_err(|_| CryptoError::MalformedKey)?),
            Algorithm::Es256 => {
                let rng = ring::rand::SystemRandom::new();
                let pair = signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &private, &rng)
                    .map_err(|_| CryptoError::MalformedKey)?;
                // The stored public half must be this pair's, or the JWKS would publish another key.
                if p256_point_of_spki(&public_spki_der) != Some(pair.public_key().as_ref()) {
                    return Err(CryptoError::MalformedKey);
                }
                Signer::Ec(pair)
            }
        };
        Ok(SigningKey { signer, public_spki_der })
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.signer {
            Signer::Rsa(_) => Algorithm::Rs256,
            Signer::Ec(_) => Algorithm::Es256,
        }
    }

    /// The JWS signature over `message`: RSASSA-PKCS1-v1_5 with SHA-256 (RS256), or ECDSA P-256
    /// with SHA-256 as `r || s` (ES256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let rng = ring::rand::SystemRandom::new();
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig).map_err(|_| CryptoError::MalformedKey)?;
                Ok(sig)
            }
            Signer::Ec(pair) => Ok(pair.sign(&rng, message).map_err(|_| CryptoError::MalformedKey)?.as_ref().to_vec()),
        }
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

#[derive(Clone, Debug, PartialEq, Eq)]
enum Public {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point, `04 || x || y`.
    Ec { point: Vec<u8> },
}

/// A public key, for verifying signatures of its own algorithm and publishing as a JWK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(Public);

impl PublicKey {
    /// An RSA or P-256 SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, CryptoError> {
        if let Some(point) = p256_point_of_spki(der) {
            return Ok(PublicKey(Public::Ec { point: point.to_vec() }));
        }
        let key = rsa::RsaPublicKey::from_public_key_der(der).map_err(|_| CryptoError::MalformedKey)?;
        Ok(PublicKey(Public::Rsa { n: key.n().to_bytes_be(), e: key.e().to_bytes_be() }))
    }

    /// The public half of a key string.
    pub fn from_key_string(s: &str) -> Result<PublicKey, CryptoError> {
        let (algorithm, public, _) = split_key_string(s)?;
        let key = Self::from_spki_der(&public)?;
        if key.algorithm() != algorithm {
            return Err(CryptoError::MalformedKey);
        }
        Ok(key)
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            Public::Rsa { .. } => Algorithm::Rs256,
            Public::Ec { .. } => Algorithm::Es256,
        }
    }

    /// Whether `sig` is this key's signature of `message` under the key's own algorithm (a token
    /// that names another `alg` must be refused by the caller before: see `verify_as`).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.0 {
            Public::Rsa { n, e } => {
                let key = signature::RsaPublicKeyComponents { n, e };
                key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig).is_ok()
            }
            Public::Ec { point } => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, sig).is_ok()
            }
        }
    }

    /// [`PublicKey::verify`] for a token whose header names `alg`: a key of another algorithm never
    /// matches, so that no token can choose how its signature is checked.
    pub fn verify_as(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        alg == self.algorithm() && self.verify(message, sig)
    }

    /// RSA: `{kty, kid, n, e, alg, use}` with `n` and `e` as unpadded base64url big-endian
    /// integers. P-256: `{kty: "EC", kid, crv: "P-256", x, y, alg: "ES256", use}` (RFC 7518 6.2.1).
    pub fn jwk(&self, kid: &str) -> Value {
        match &self.0 {
            Public::Rsa { n, e } => json!({
                "kty": "RSA",
                "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(n),
                "e": URL_SAFE_NO_PAD.encode(e),
                "alg": "RS256",
                "use": "sig",
            }),
            Public::Ec { point } => json!({
                "kty": "EC",
                "kid": kid,
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                "alg": "ES256",
                "use": "sig",
            }),
        }
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
        assert_eq!(key.algorithm(), Algorithm::Rs256);
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
    fn es256_keys_sign_in_jws_form_and_publish_an_ec_jwk() {
        let s = generate_es256_key_string().unwrap();
        // Java cores read a jwt_signing_keys row without '|' or ';' as a symmetric key and skip it.
        assert!(!s.contains('|') && !s.contains(';'));
        assert_eq!(algorithm_of_key_string(&s), Algorithm::Es256);
        let key = SigningKey::from_key_string(&s).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Es256);
        let sig = key.sign(b"payload").unwrap();
        assert_eq!(sig.len(), 64, "r || s, not DER");
        let public = PublicKey::from_key_string(&s).unwrap();
        assert_eq!(public, key.public_key().unwrap());
        assert!(public.verify(b"payload", &sig));
        assert!(!public.verify(b"payload2", &sig));
        assert!(public.verify_as(Algorithm::Es256, b"payload", &sig));
        assert!(!public.verify_as(Algorithm::Rs256, b"payload", &sig));
        // ECDSA is randomised: two signatures differ and both verify.
        assert!(public.verify(b"payload", &key.sign(b"payload").unwrap()));
        let jwk = public.jwk("d-1");
        assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()), (Some("EC"), Some("P-256"), Some("ES256")));
        for c in ["x", "y"] {
            assert_eq!(URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap().len(), 32);
        }
    }

    #[test]
    fn keys_of_one_algorithm_never_verify_the_other() {
        let rsa = SigningKey::from_key_string(&generate_key_string().unwrap()).unwrap();
        let ec = SigningKey::from_key_string(&generate_es256_key_string().unwrap()).unwrap();
        let rsa_sig = rsa.sign(b"m").unwrap();
        let ec_sig = ec.sign(b"m").unwrap();
        assert!(!ec.public_key().unwrap().verify(b"m", &rsa_sig));
        assert!(!rsa.public_key().unwrap().verify(b"m", &ec_sig));
        assert!(!rsa.public_key().unwrap().verify_as(Algorithm::Es256, b"m", &rsa_sig));
    }

    #[test]
    fn malformed_key_strings_are_errors() {
        assert!(SigningKey::from_key_string("nope").is_err());
        assert!(SigningKey::from_key_string("a|b").is_err());
        assert!(PublicKey::from_key_string("!!|!!").is_err());
        assert!(SigningKey::from_key_string("ES256:a").is_err());
        assert!(SigningKey::from_key_string("ES256:!!:!!").is_err());
        // An ES256 string whose public half is another pair's.
        let (a, b) = (generate_es256_key_string().unwrap(), generate_es256_key_string().unwrap());
        let mixed = format!("{}:{}", a.rsplit_once(':').unwrap().0, b.rsplit_once(':').unwrap().1);
        assert!(SigningKey::from_key_string(&mixed).is_err());
        // An RSA pair labelled ES256.
        let rsa = generate_key_string().unwrap().replacen('|', ":", 1);
        assert!(SigningKey::from_key_string(&format!("ES256:{rsa}")).is_err());
        assert!(PublicKey::from_key_string(&format!("ES256:{rsa}")).is_err());
        for (alg, name) in [(Algorithm::Rs256, "RS256"), (Algorithm::Es256, "ES256")] {
            assert_eq!((alg.name(), Algorithm::from_name(name)), (name, Some(alg)));
        }
        assert_eq!(Algorithm::from_name("es256"), None);
    }
}
