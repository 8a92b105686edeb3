//! The attestation object (WebAuthn L3 §6.5) and its statement.
//!
//! - `none`: accepted (nothing to check);
//! - `packed` (§8.2): verified. With `x5c`, the signature is checked with the first certificate's
//!   key and the certificate against the format's requirements; there is no trust anchor (the
//!   core has no metadata service), so x5c is "basic, untrusted" attestation, as in the Java core,
//!   which checks no statement at all. Without `x5c` (self attestation), the signature is checked
//!   with the credential's own key, whose algorithm it must use;
//! - `fido-u2f`, `tpm`, `android-key`, `android-safetynet`, `apple`: accepted without checking
//!   the statement, as the Java core does (the SDKs ask for `attestation: "none"`, so browsers send
//!   `none`); any other format is refused with the core's message.

use ciborium::Value;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519};
use x509_parser::x509::X509Version;

use super::authenticator_data::AuthenticatorData;
use super::cose::{PublicKey, EDDSA, ES256, ES384, PS256, RS256, RS384, RS512};
use super::super::WebauthnError;

/// id-fido-gen-ce-aaguid: the certificate extension carrying the authenticator's AAGUID.
const AAGUID_EXTENSION_OID: &str = "1.3.6.1.4.1.45724.1.1.4";

/// The formats accepted without looking at their statement (see the module doc).
const UNCHECKED_FORMATS: [&str; 4] = ["tpm", "android-key", "android-safetynet", "apple"];

#[derive(Clone, Debug, PartialEq)]
pub struct AttestationObject {
    pub fmt: String,
    pub att_stmt: Vec<(Value, Value)>,
    pub auth_data: Vec<u8>,
}

/// What an accepted statement proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttestationKind {
    /// `none`, or a format whose statement is not checked.
    Unverified,
    /// Packed, signed by the credential key itself.
    SelfAttestation,
    /// Packed, signed by the key of an attestation certificate (not chained to a trust anchor).
    Basic,
}

fn text_key<'a>(map: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    map.iter().find(|(k, _)| k.as_text() == Some(key)).map(|(_, v)| v)
}

impl AttestationObject {
    /// Decodes the CBOR map `{fmt, attStmt, authData}`; the error is an INVALID_CREDENTIALS_ERROR.
    pub fn decode(bytes: &[u8]) -> Result<AttestationObject, WebauthnError> {
        let malformed = |what: &str| WebauthnError::invalid_credentials(format!("attestationObject {what}"));
        let mut reader = bytes;
        let value: Value = ciborium::de::from_reader(&mut reader).map_err(|e| malformed(&format!("is not valid CBOR: {e}")))?;
        if !reader.is_empty() {
            return Err(malformed("has unexpected trailing bytes"));
        }
        let map = value.into_map().map_err(|_| malformed("is not a CBOR map"))?;
        let fmt = match text_key(&map, "fmt") {
            Some(Value::Text(t)) => t.clone(),
            _ => return Err(malformed("has no text 'fmt'")),
        };
        let att_stmt = match text_key(&map, "attStmt") {
            Some(Value::Map(m)) => m.clone(),
            _ => return Err(malformed("has no map 'attStmt'")),
        };
        let auth_data = match text_key(&map, "authData") {
            Some(Value::Bytes(b)) => b.clone(),
            _ => return Err(malformed("has no byte string 'authData'")),
        };
        Ok(AttestationObject { fmt, att_stmt, auth_data })
    }

    /// Verifies the statement over `authData ‖ clientDataHash`.
    pub fn verify(
        &self,
        auth_data: &AuthenticatorData,
        credential_key: &PublicKey,
        client_data_hash: &[u8],
    ) -> Result<AttestationKind, WebauthnError> {
        let aaguid = auth_data.attested.as_ref().map(|a| a.aaguid).unwrap_or_default();
        match self.fmt.as_str() {
            "none" => Ok(AttestationKind::Unverified),
            "packed" => {
                let signed = [self.auth_data.as_slice(), client_data_hash].concat();
                verify_packed(&self.att_stmt, &aaguid, credential_key, &signed)
            }
            "fido-u2f" if aaguid != [0u8; 16] => {
                Err(WebauthnError::invalid_authenticator("AAGUID is expected to be zero filled in U2F attestation, but it isn't."))
            }
            "fido-u2f" => Ok(AttestationKind::Unverified),
            f if UNCHECKED_FORMATS.contains(&f) => Ok(AttestationKind::Unverified),
            f => Err(WebauthnError::invalid_authenticator(format!(
                "AttestationVerifier is not configured to handle the supplied AttestationStatement format '{f}'."
            ))),
        }
    }
}

fn verify_packed(stmt: &[(Value, Value)], aaguid: &[u8; 16], credential_key: &PublicKey, signed: &[u8]) -> Result<AttestationKind, WebauthnError> {
    let alg = text_key(stmt, "alg")
        .and_then(Value::as_integer)
        .and_then(|i| i64::try_from(i).ok())
        .ok_or_else(|| WebauthnError::invalid_authenticator("Packed attestation statement has no integer 'alg'"))?;
    let sig = match text_key(stmt, "sig") {
        Some(Value::Bytes(b)) => b,
        _ => return Err(WebauthnError::invalid_authenticator("Packed attestation statement has no byte string 'sig'")),
    };
    let bad_signature = || WebauthnError::invalid_authenticator("Packed attestation signature is not valid.");
    match text_key(stmt, "x5c") {
        None => {
            if alg != credential_key.algorithm() {
                return Err(WebauthnError::invalid_authenticator("Self attestation algorithm does not match the credential key"));
            }
            credential_key.verify(signed, sig).then_some(AttestationKind::SelfAttestation).ok_or_else(bad_signature)
        }
        Some(x5c) => {
            let first = match x5c {
                Value::Array(certs) if !certs.is_empty() && certs.iter().all(Value::is_bytes) => certs[0].as_bytes(),
                _ => None,
            }
            .ok_or_else(|| WebauthnError::invalid_authenticator("Packed attestation 'x5c' is not an array of certificates"))?;
            let (_, cert) = x509_parser::parse_x509_certificate(first)
                .map_err(|_| WebauthnError::invalid_authenticator("Packed attestation certificate is not a valid X.509 certificate"))?;
            check_certificate(&cert, aaguid).map_err(|why| {
                WebauthnError::invalid_authenticator(format!("Packed attestation certificate does not meet the requirements: {why}"))
            })?;
            let key = certificate_key(&cert, alg).map_err(WebauthnError::invalid_authenticator)?;
            key.verify(signed, sig).then_some(AttestationKind::Basic).ok_or_else(bad_signature)
        }
    }
}

/// The packed attestation certificate requirements (WebAuthn L3 §8.2.1).
fn check_certificate(cert: &X509Certificate<'_>, aaguid: &[u8; 16]) -> Result<(), &'static str> {
    if cert.version() != X509Version::V3 {
        return Err("it must be an X.509 version 3 certificate");
    }
    let subject = cert.subject();
    if subject.iter_country().next().is_none() || subject.iter_organization().next().is_none() || subject.iter_common_name().next().is_none() {
        return Err("its subject must name C, O and CN");
    }
    let ou = subject.iter_organizational_unit().next().and_then(|a| a.as_str().ok());
    if ou != Some("Authenticator Attestation") {
        return Err("its subject OU must be 'Authenticator Attestation'");
    }
    match cert.basic_constraints() {
        Err(_) => return Err("its basic constraints are malformed"),
        Ok(Some(bc)) if bc.value.ca => return Err("it must not be a CA certificate"),
        Ok(_) => {}
    }
    let mut aaguid_extensions = cert.extensions().iter().filter(|e| e.oid.to_id_string() == AAGUID_EXTENSION_OID);
    if let Some(ext) = aaguid_extensions.next() {
        if aaguid_extensions.next().is_some() {
            return Err("it has the AAGUID extension twice");
        }
        if ext.critical {
            return Err("its AAGUID extension must not be critical");
        }
        let value = x509_parser::der_parser::der::parse_der_octetstring(ext.value)
            .ok()
            .filter(|(rest, _)| rest.is_empty())
            .and_then(|(_, obj)| obj.as_slice().ok().map(<[u8]>::to_vec))
            .ok_or("its AAGUID extension is not an OCTET STRING")?;
        if value != aaguid {
            return Err("its AAGUID does not match the authenticator data");
        }
    }
    Ok(())
}

/// The certificate's public key for the statement's algorithm.
fn certificate_key(cert: &X509Certificate<'_>, alg: i64) -> Result<PublicKey, String> {
    let spki = cert.public_key();
    let oid = &spki.algorithm.algorithm;
    let data = spki.subject_public_key.data.to_vec();
    let mismatch = || format!("Packed attestation certificate key does not match alg {alg}");
    match alg {
        ES256 | ES384 => {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
            let want = if alg == ES256 { OID_EC_P256 } else { OID_NIST_EC_P384 };
            if *oid != OID_KEY_TYPE_EC_PUBLIC_KEY || curve != Some(want) {
                return Err(mismatch());
            }
            Ok(if alg == ES256 { PublicKey::P256(data) } else { PublicKey::P384(data) })
        }
        EDDSA if *oid == OID_SIG_ED25519 && data.len() == 32 => Ok(PublicKey::Ed25519(data)),
        RS256 | RS384 | RS512 | PS256 if *oid == OID_PKCS1_RSAENCRYPTION => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                let strip = |b: &[u8]| b.iter().position(|&x| x != 0).map_or_else(Vec::new, |i| b[i..].to_vec());
                PublicKey::rsa(alg, strip(rsa.modulus), strip(rsa.exponent)).map_err(|e| e.reason())
            }
            _ => Err(mismatch()),
        },
        EDDSA | RS256 | RS384 | RS512 | PS256 => Err(mismatch()),
        other => Err(format!("Unsupported attestation algorithm {other}")),
    }
}
