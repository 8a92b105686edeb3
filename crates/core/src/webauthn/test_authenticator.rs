//! A software WebAuthn authenticator for tests (compiled for this crate's tests and, with the
//! `test-authenticator` feature, for other crates' tests). It makes what a browser forwards after
//! `navigator.credentials.create()` / `.get()` — the `toJSON()` form, base64url without padding —
//! for ES256, EdDSA and RS256 credentials with `none`, `packed` self and `packed` x5c attestation
//! (WebAuthn L3 §6.1, §6.5, §8.2). Every encoding comes from a crate: `ciborium` and `coset` for
//! CBOR and COSE, `ring` and `rsa` for keys and signatures, `rcgen` for the x5c certificate.
//!
//! Negative tests change one thing: the [`Request`] (origin, rp id, flags, client-data type,
//! challenge), the authenticator's counter, or the JSON afterwards ([`tamper`]).

// Test support: a failure here is a broken test set-up, best reported by a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use ciborium::Value as Cbor;
use coset::iana::{self, EnumI64};
use coset::{CborSerializable, CoseKeyBuilder};
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};

use super::verify::authenticator_data::{FLAG_AT, FLAG_UP, FLAG_UV};
use super::{b64url, b64url_decode};

/// The AAGUID the authenticator reports (any 16 bytes; Chromium's virtual one uses 01..08 twice).
pub const AAGUID: [u8; 16] = *b"portcullis-test!";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
    EdDsa,
    Rs256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256];

    pub fn cose(self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::EdDsa => -8,
            Algorithm::Rs256 => -257,
        }
    }
}

/// The attestation certificate's properties; the default meets packed attestation's requirements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateProfile {
    pub organizational_unit: String,
    pub ca: bool,
    /// The id-fido-gen-ce-aaguid extension's value, if the certificate has one.
    pub aaguid_extension: Option<[u8; 16]>,
    pub aaguid_extension_critical: bool,
}

impl Default for CertificateProfile {
    fn default() -> Self {
        CertificateProfile {
            organizational_unit: "Authenticator Attestation".into(),
            ca: false,
            aaguid_extension: Some(AAGUID),
            aaguid_extension_critical: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attestation {
    None,
    PackedSelf,
    /// Packed with an ES256 attestation key and a self-signed certificate.
    PackedX5c(CertificateProfile),
}

impl Attestation {
    pub fn x5c() -> Attestation {
        Attestation::PackedX5c(CertificateProfile::default())
    }
}

/// One ceremony as the browser runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The options' `challenge`, as the options gave it (base64url).
    pub challenge: String,
    pub origin: String,
    /// Hashed into the authenticator data.
    pub rp_id: String,
    /// User present and verified by default; AT is added for registrations.
    pub flags: u8,
    /// The client data `type`; `None` = the right one for the ceremony.
    pub client_data_type: Option<String>,
    pub cross_origin: bool,
}

impl Request {
    pub fn new(challenge: &str, origin: &str, rp_id: &str) -> Request {
        Request {
            challenge: challenge.to_owned(),
            origin: origin.to_owned(),
            rp_id: rp_id.to_owned(),
            flags: FLAG_UP | FLAG_UV,
            client_data_type: None,
            cross_origin: false,
        }
    }

    fn client_data_json(&self, default_type: &str) -> Vec<u8> {
        let kind = self.client_data_type.as_deref().unwrap_or(default_type);
        json!({"type": kind, "challenge": self.challenge, "origin": self.origin, "crossOrigin": self.cross_origin})
            .to_string()
            .into_bytes()
    }
}

enum SigningKey {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256 { pair: RsaKeyPair, n: Vec<u8>, e: Vec<u8> },
}

fn new_rsa_pkcs8() -> Vec<u8> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("RSA key");
    key.to_pkcs8_der().expect("PKCS#8").as_bytes().to_vec()
}

/// RSA key generation is slow (a second or more on a busy machine): RS256 authenticators share
/// two keys, taken in turn. A test that needs a key of its own asks for a fresh one.
fn rsa_pkcs8(fresh: bool) -> Vec<u8> {
    static POOL: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if fresh {
        return new_rsa_pkcs8();
    }
    let pool = POOL.get_or_init(|| [new_rsa_pkcs8(), new_rsa_pkcs8()]);
    pool[NEXT.fetch_add(1, Ordering::Relaxed) % pool.len()].clone()
}

impl SigningKey {
    fn generate(alg: Algorithm, fresh: bool) -> SigningKey {
        let rng = SystemRandom::new();
        match alg {
            Algorithm::Es256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
                SigningKey::Es256(EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap())
            }
            Algorithm::EdDsa => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
                SigningKey::EdDsa(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
            }
            Algorithm::Rs256 => {
                use rsa::pkcs8::DecodePrivateKey;
                use rsa::traits::PublicKeyParts;
                let der = rsa_pkcs8(fresh);
                let key = rsa::RsaPrivateKey::from_pkcs8_der(&der).unwrap();
                let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
                SigningKey::Rs256 { pair, n: key.n().to_bytes_be(), e: key.e().to_bytes_be() }
            }
        }
    }

    /// ECDSA in ASN.1 DER, Ed25519 raw, RSASSA-PKCS1-v1_5 with SHA-256.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            SigningKey::Es256(pair) => pair.sign(&rng, message).unwrap().as_ref().to_vec(),
            SigningKey::EdDsa(pair) => pair.sign(message).as_ref().to_vec(),
            SigningKey::Rs256 { pair, .. } => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig).unwrap();
                sig
            }
        }
    }

    fn cose_key(&self) -> Vec<u8> {
        let key = match self {
            SigningKey::Es256(pair) => {
                let point = pair.public_key().as_ref();
                CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, point[1..33].to_vec(), point[33..65].to_vec())
                    .algorithm(iana::Algorithm::ES256)
                    .build()
            }
            SigningKey::EdDsa(pair) => CoseKeyBuilder::new_okp_key()
                .algorithm(iana::Algorithm::EdDSA)
                .param(iana::OkpKeyParameter::Crv.to_i64(), Cbor::from(iana::EllipticCurve::Ed25519.to_i64()))
                .param(iana::OkpKeyParameter::X.to_i64(), Cbor::Bytes(pair.public_key().as_ref().to_vec()))
                .build(),
            SigningKey::Rs256 { n, e, .. } => CoseKeyBuilder::new()
                .key_type(iana::KeyType::RSA)
                .algorithm(iana::Algorithm::RS256)
                .param(iana::RsaKeyParameter::N.to_i64(), Cbor::Bytes(n.clone()))
                .param(iana::RsaKeyParameter::E.to_i64(), Cbor::Bytes(e.clone()))
                .build(),
        };
        key.to_vec().unwrap()
    }
}

/// A self-signed attestation certificate (DER) and the PKCS#8 of its ES256 key.
fn attestation_certificate(profile: &CertificateProfile) -> (Vec<u8>, Vec<u8>) {
    use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa};
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, "Portcullis Tests");
    dn.push(DnType::OrganizationalUnitName, profile.organizational_unit.as_str());
    dn.push(DnType::CommonName, "Portcullis Test Authenticator");
    params.distinguished_name = dn;
    params.is_ca = if profile.ca { IsCa::Ca(rcgen::BasicConstraints::Unconstrained) } else { IsCa::ExplicitNoCa };
    if let Some(aaguid) = profile.aaguid_extension {
        // The extension's value is a DER OCTET STRING (tag 0x04, length 16) holding the AAGUID.
        let content = [&[0x04, 0x10][..], &aaguid].concat();
        let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4], content);
        ext.set_criticality(profile.aaguid_extension_critical);
        params.custom_extensions.push(ext);
    }
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), key.serialize_der())
}

/// A software authenticator holding one credential.
pub struct Authenticator {
    pub algorithm: Algorithm,
    pub credential_id: Vec<u8>,
    pub aaguid: [u8; 16],
    /// The signature counter: reported at registration, then incremented by `counter_step`
    /// before each assertion (0 = an authenticator without a counter, like synced passkeys).
    pub sign_count: u32,
    pub counter_step: u32,
    /// A COSE key to register instead of the real one (for keys the server must refuse).
    pub cose_key_override: Option<Vec<u8>>,
    key: SigningKey,
}

impl Authenticator {
    /// A new credential. RS256 keys may be shared with other authenticators (see
    /// [`Authenticator::with_own_key`]); ES256 and EdDSA keys are always new.
    pub fn new(algorithm: Algorithm) -> Authenticator {
        Authenticator::make(algorithm, false)
    }

    /// A new credential whose key no other authenticator has (to sign as an impostor).
    pub fn with_own_key(algorithm: Algorithm) -> Authenticator {
        Authenticator::make(algorithm, true)
    }

    fn make(algorithm: Algorithm, own_key: bool) -> Authenticator {
        let credential_id = crate::crypto::random_bytes(32).unwrap();
        Authenticator {
            algorithm,
            credential_id,
            aaguid: AAGUID,
            sign_count: 0,
            counter_step: 1,
            cose_key_override: None,
            key: SigningKey::generate(algorithm, own_key),
        }
    }

    /// The credential JSON's `id`.
    pub fn credential_id_b64(&self) -> String {
        b64url(&self.credential_id)
    }

    /// The attested credential data this authenticator registers (what the credentials table stores).
    pub fn attested_credential_data(&self) -> Vec<u8> {
        let mut data = self.aaguid.to_vec();
        data.extend_from_slice(&u16::try_from(self.credential_id.len()).unwrap().to_be_bytes());
        data.extend_from_slice(&self.credential_id);
        data.extend_from_slice(&self.cose_key_override.clone().unwrap_or_else(|| self.key.cose_key()));
        data
    }

    /// Signs with the credential key, as the authenticator signs assertions and self attestation.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message)
    }

    fn authenticator_data(&self, rp_id: &str, flags: u8, attested: bool) -> Vec<u8> {
        let mut data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        data.push(flags);
        data.extend_from_slice(&self.sign_count.to_be_bytes());
        if attested {
            data.extend_from_slice(&self.attested_credential_data());
        }
        data
    }

    /// `navigator.credentials.create()`: the registration JSON.
    pub fn register(&mut self, request: &Request, attestation: &Attestation) -> Value {
        let client_data = request.client_data_json("webauthn.create");
        let auth_data = self.authenticator_data(&request.rp_id, request.flags | FLAG_AT, true);
        let signed = [auth_data.as_slice(), digest(&SHA256, &client_data).as_ref()].concat();
        let (fmt, statement) = match attestation {
            Attestation::None => ("none", vec![]),
            Attestation::PackedSelf => (
                "packed",
                vec![(Cbor::from("alg"), Cbor::from(self.algorithm.cose())), (Cbor::from("sig"), Cbor::Bytes(self.key.sign(&signed)))],
            ),
            Attestation::PackedX5c(profile) => {
                let (cert, pkcs8) = attestation_certificate(profile);
                let rng = SystemRandom::new();
                let att_key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng).unwrap();
                let sig = att_key.sign(&rng, &signed).unwrap().as_ref().to_vec();
                (
                    "packed",
                    vec![
                        (Cbor::from("alg"), Cbor::from(-7)),
                        (Cbor::from("sig"), Cbor::Bytes(sig)),
                        (Cbor::from("x5c"), Cbor::Array(vec![Cbor::Bytes(cert)])),
                    ],
                )
            }
        };
        let object = Cbor::Map(vec![
            (Cbor::from("fmt"), Cbor::from(fmt)),
            (Cbor::from("attStmt"), Cbor::Map(statement)),
            (Cbor::from("authData"), Cbor::Bytes(auth_data.clone())),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::ser::into_writer(&object, &mut attestation_object).unwrap();
        json!({
            "id": self.credential_id_b64(),
            "rawId": self.credential_id_b64(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(&client_data),
                "attestationObject": b64url(&attestation_object),
                "authenticatorData": b64url(&auth_data),
                "transports": ["internal"],
                "publicKeyAlgorithm": self.algorithm.cose(),
            },
        })
    }

    /// `navigator.credentials.get()`: the assertion JSON (the counter moves first).
    pub fn assert(&mut self, request: &Request, user_handle: Option<&[u8]>) -> Value {
        self.sign_count = self.sign_count.wrapping_add(self.counter_step);
        let client_data = request.client_data_json("webauthn.get");
        let auth_data = self.authenticator_data(&request.rp_id, request.flags, false);
        let signed = [auth_data.as_slice(), digest(&SHA256, &client_data).as_ref()].concat();
        json!({
            "id": self.credential_id_b64(),
            "rawId": self.credential_id_b64(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(&client_data),
                "authenticatorData": b64url(&auth_data),
                "signature": b64url(&self.key.sign(&signed)),
                "userHandle": user_handle.map(b64url),
            },
        })
    }
}

/// Changes the bytes of a base64url member of a credential JSON (`pointer` as in
/// `/response/signature`), re-encoding them.
pub fn tamper(credential: &mut Value, pointer: &str, change: impl FnOnce(&mut Vec<u8>)) {
    let slot = credential.pointer_mut(pointer).expect("member");
    let mut bytes = b64url_decode(slot.as_str().expect("a string")).expect("base64url");
    change(&mut bytes);
    *slot = Value::String(b64url(&bytes));
}
