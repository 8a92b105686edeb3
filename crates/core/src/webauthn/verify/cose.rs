//! Credential public keys: COSE keys (decoded by `ciborium`, modelled by `coset`) turned into keys
//! `ring` verifies signatures with. Only algorithms ring can verify are accepted, so that a
//! credential registered here can always sign in.

use coset::iana::{self, EnumI64};
use coset::{AsCborValue, CoseKey, KeyType, Label, RegisteredLabelWithPrivate};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

/// COSE algorithm ids (IANA).
pub const ES256: i64 = -7;
pub const EDDSA: i64 = -8;
pub const ES384: i64 = -35;
pub const PS256: i64 = -37;
pub const RS256: i64 = -257;
pub const RS384: i64 = -258;
pub const RS512: i64 = -259;

/// RSA moduli ring verifies (2048 to 8192 bits).
const RSA_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;

/// A public key with the algorithm it verifies with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// ES256: an uncompressed P-256 point (`0x04 ‖ x ‖ y`).
    P256(Vec<u8>),
    /// ES384: an uncompressed P-384 point.
    P384(Vec<u8>),
    /// EdDSA with Ed25519: the 32-byte public key.
    Ed25519(Vec<u8>),
    /// RS256, RS384, RS512 or PS256: modulus and exponent, big-endian without leading zeros.
    Rsa { alg: i64, n: Vec<u8>, e: Vec<u8> },
}

/// Why a COSE key cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The algorithm (or its absence) is not one Portcullis verifies.
    Unsupported(String),
    /// The key's parameters do not fit its algorithm.
    Invalid,
}

impl KeyError {
    pub fn reason(&self) -> String {
        match self {
            KeyError::Unsupported(alg) => format!("Unsupported credential public key algorithm {alg}"),
            KeyError::Invalid => "Credential public key is not a valid COSE key".into(),
        }
    }
}

fn param(key: &CoseKey, label: i64) -> Option<&ciborium::Value> {
    key.params.iter().find(|(l, _)| *l == Label::Int(label)).map(|(_, v)| v)
}

fn bytes_param(key: &CoseKey, label: i64, len: Option<usize>) -> Result<Vec<u8>, KeyError> {
    match param(key, label) {
        Some(ciborium::Value::Bytes(b)) if len.is_none_or(|l| b.len() == l) && !b.is_empty() => Ok(b.clone()),
        _ => Err(KeyError::Invalid),
    }
}

fn int_param(key: &CoseKey, label: i64) -> Option<i128> {
    match param(key, label) {
        Some(ciborium::Value::Integer(i)) => Some(i128::from(*i)),
        _ => None,
    }
}

fn strip_leading_zeros(b: Vec<u8>) -> Vec<u8> {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[first..].to_vec()
}

impl PublicKey {
    /// The key a COSE key describes, checked against its `alg` (which WebAuthn requires).
    pub fn from_cose(key: &CoseKey) -> Result<PublicKey, KeyError> {
        let alg = match &key.alg {
            Some(RegisteredLabelWithPrivate::Assigned(a)) => a.to_i64(),
            Some(RegisteredLabelWithPrivate::PrivateUse(a)) => *a,
            Some(RegisteredLabelWithPrivate::Text(t)) => return Err(KeyError::Unsupported(format!("'{t}'"))),
            None => return Err(KeyError::Unsupported("(none)".into())),
        };
        let kty = |want: iana::KeyType| key.kty == KeyType::Assigned(want);
        // Curve labels are -1 for both EC2 and OKP keys; x -2, y -3; RSA n -1, e -2.
        let crv = int_param(key, iana::Ec2KeyParameter::Crv.to_i64());
        match alg {
            ES256 | ES384 => {
                let (curve, len) =
                    if alg == ES256 { (iana::EllipticCurve::P_256, 32) } else { (iana::EllipticCurve::P_384, 48) };
                if !kty(iana::KeyType::EC2) || crv != Some(i128::from(curve.to_i64())) {
                    return Err(KeyError::Invalid);
                }
                let x = bytes_param(key, iana::Ec2KeyParameter::X.to_i64(), Some(len))?;
                let y = bytes_param(key, iana::Ec2KeyParameter::Y.to_i64(), Some(len))?;
                let point = [&[0x04][..], &x, &y].concat();
                Ok(if alg == ES256 { PublicKey::P256(point) } else { PublicKey::P384(point) })
            }
            EDDSA => {
                if !kty(iana::KeyType::OKP) || crv != Some(i128::from(iana::EllipticCurve::Ed25519.to_i64())) {
                    // Ed448 is EdDSA too, but ring does not verify it.
                    return Err(if kty(iana::KeyType::OKP) { KeyError::Unsupported(format!("{alg} (Ed448)")) } else { KeyError::Invalid });
                }
                Ok(PublicKey::Ed25519(bytes_param(key, iana::OkpKeyParameter::X.to_i64(), Some(32))?))
            }
            RS256 | RS384 | RS512 | PS256 => {
                if !kty(iana::KeyType::RSA) {
                    return Err(KeyError::Invalid);
                }
                let n = strip_leading_zeros(bytes_param(key, iana::RsaKeyParameter::N.to_i64(), None)?);
                let e = strip_leading_zeros(bytes_param(key, iana::RsaKeyParameter::E.to_i64(), None)?);
                PublicKey::rsa(alg, n, e)
            }
            other => Err(KeyError::Unsupported(other.to_string())),
        }
    }

    /// An RSA key for one of the RSA algorithms; moduli ring cannot verify with are refused here,
    /// at registration, rather than at every sign-in.
    pub fn rsa(alg: i64, n: Vec<u8>, e: Vec<u8>) -> Result<PublicKey, KeyError> {
        if !RSA_MODULUS_BYTES.contains(&n.len()) || e.is_empty() || e.len() > 4 {
            return Err(KeyError::Unsupported(format!("{alg} with a {}-bit modulus", n.len() * 8)));
        }
        Ok(PublicKey::Rsa { alg, n, e })
    }

    /// The COSE algorithm id.
    pub fn algorithm(&self) -> i64 {
        match self {
            PublicKey::P256(_) => ES256,
            PublicKey::P384(_) => ES384,
            PublicKey::Ed25519(_) => EDDSA,
            PublicKey::Rsa { alg, .. } => *alg,
        }
    }

    /// Verifies a WebAuthn signature: ECDSA in ASN.1 DER, Ed25519 raw, RSA PKCS#1 v1.5 or PSS.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let result = match self {
            PublicKey::P256(point) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, point).verify(message, sig),
            PublicKey::P384(point) => UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_ASN1, point).verify(message, sig),
            PublicKey::Ed25519(key) => UnparsedPublicKey::new(&signature::ED25519, key).verify(message, sig),
            PublicKey::Rsa { alg, n, e } => {
                let params = match *alg {
                    RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }.verify(params, message, sig)
            }
        };
        result.is_ok()
    }
}

/// Decodes one COSE key from the front of `reader`, leaving the reader after it.
pub fn read_cose_key(reader: &mut &[u8]) -> Result<CoseKey, String> {
    let value: ciborium::Value =
        ciborium::de::from_reader(&mut *reader).map_err(|e| format!("credential public key is not valid CBOR: {e}"))?;
    CoseKey::from_cbor_value(value).map_err(|e| format!("credential public key is not a COSE key: {e}"))
}

/// The attested credential data, as stored in `webauthn_credentials.public_key` (by us and by
/// the Java core): `aaguid(16) ‖ credential id length(2, big-endian) ‖ credential id ‖ COSE key`.
#[derive(Clone, Debug, PartialEq)]
pub struct AttestedCredentialData {
    pub aaguid: [u8; 16],
    pub credential_id: Vec<u8>,
    pub key: CoseKey,
}

/// Reads attested credential data from the front of `reader`, leaving the reader after the COSE key.
pub fn read_attested_credential_data(reader: &mut &[u8]) -> Result<AttestedCredentialData, String> {
    let input = *reader;
    if input.len() < 18 {
        return Err("attested credential data is too short".into());
    }
    let mut aaguid = [0u8; 16];
    aaguid.copy_from_slice(&input[..16]);
    let len = usize::from(u16::from_be_bytes([input[16], input[17]]));
    let rest = &input[18..];
    if rest.len() < len {
        return Err("attested credential data is too short for its credential id".into());
    }
    let credential_id = rest[..len].to_vec();
    *reader = &rest[len..];
    let key = read_cose_key(reader)?;
    Ok(AttestedCredentialData { aaguid, credential_id, key })
}

/// The key of a stored credential (a `webauthn_credentials.public_key` value). Trailing bytes are
/// ignored: only the key matters here.
pub fn stored_public_key(stored: &[u8]) -> Result<PublicKey, String> {
    let mut reader = stored;
    let data = read_attested_credential_data(&mut reader)?;
    PublicKey::from_cose(&data.key).map_err(|e| e.reason())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::{CborSerializable, CoseKeyBuilder};

    fn ec(curve: iana::EllipticCurve, len: usize, alg: iana::Algorithm) -> CoseKey {
        CoseKeyBuilder::new_ec2_pub_key(curve, vec![1; len], vec![2; len]).algorithm(alg).build()
    }

    #[test]
    fn keys_by_algorithm() {
        let k = PublicKey::from_cose(&ec(iana::EllipticCurve::P_256, 32, iana::Algorithm::ES256)).unwrap();
        assert_eq!(k.algorithm(), ES256);
        assert!(matches!(&k, PublicKey::P256(p) if p.len() == 65 && p[0] == 4));
        let k = PublicKey::from_cose(&ec(iana::EllipticCurve::P_384, 48, iana::Algorithm::ES384)).unwrap();
        assert_eq!(k.algorithm(), ES384);
        let ed = CoseKeyBuilder::new_okp_key()
            .param(iana::OkpKeyParameter::Crv.to_i64(), ciborium::Value::from(iana::EllipticCurve::Ed25519.to_i64()))
            .param(iana::OkpKeyParameter::X.to_i64(), ciborium::Value::Bytes(vec![3; 32]))
            .algorithm(iana::Algorithm::EdDSA)
            .build();
        assert_eq!(PublicKey::from_cose(&ed).unwrap(), PublicKey::Ed25519(vec![3; 32]));
        let rsa = CoseKeyBuilder::new()
            .key_type(iana::KeyType::RSA)
            .algorithm(iana::Algorithm::RS256)
            .param(iana::RsaKeyParameter::N.to_i64(), ciborium::Value::Bytes([vec![0], vec![0xc1; 256]].concat()))
            .param(iana::RsaKeyParameter::E.to_i64(), ciborium::Value::Bytes(vec![1, 0, 1]))
            .build();
        let k = PublicKey::from_cose(&rsa).unwrap();
        assert!(matches!(&k, PublicKey::Rsa { alg: RS256, n, e } if n.len() == 256 && e == &[1, 0, 1]));
    }

    #[test]
    fn keys_that_do_not_fit_their_algorithm() {
        // Wrong curve, wrong coordinate length, wrong key type.
        assert_eq!(PublicKey::from_cose(&ec(iana::EllipticCurve::P_384, 32, iana::Algorithm::ES256)), Err(KeyError::Invalid));
        assert_eq!(PublicKey::from_cose(&ec(iana::EllipticCurve::P_256, 31, iana::Algorithm::ES256)), Err(KeyError::Invalid));
        assert_eq!(PublicKey::from_cose(&ec(iana::EllipticCurve::P_256, 32, iana::Algorithm::EdDSA)), Err(KeyError::Invalid));
        assert_eq!(PublicKey::from_cose(&ec(iana::EllipticCurve::P_256, 32, iana::Algorithm::RS256)), Err(KeyError::Invalid));
        // Algorithms ring does not verify, or none at all.
        let es512 = ec(iana::EllipticCurve::P_521, 66, iana::Algorithm::ES512);
        assert_eq!(PublicKey::from_cose(&es512).unwrap_err().reason(), "Unsupported credential public key algorithm -36");
        let no_alg = CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, vec![1; 32], vec![2; 32]).build();
        assert_eq!(PublicKey::from_cose(&no_alg).unwrap_err().reason(), "Unsupported credential public key algorithm (none)");
        let small_rsa = CoseKeyBuilder::new()
            .key_type(iana::KeyType::RSA)
            .algorithm(iana::Algorithm::RS256)
            .param(-1, ciborium::Value::Bytes(vec![0xc1; 128]))
            .param(-2, ciborium::Value::Bytes(vec![1, 0, 1]))
            .build();
        assert_eq!(
            PublicKey::from_cose(&small_rsa).unwrap_err().reason(),
            "Unsupported credential public key algorithm -257 with a 1024-bit modulus"
        );
    }

    #[test]
    fn attested_credential_data_round_trip_and_truncation() {
        let key = ec(iana::EllipticCurve::P_256, 32, iana::Algorithm::ES256);
        let cose = key.clone().to_vec().unwrap();
        let mut data = vec![7u8; 16];
        data.extend_from_slice(&3u16.to_be_bytes());
        data.extend_from_slice(&[9, 9, 9]);
        data.extend_from_slice(&cose);
        data.extend_from_slice(&[0xa0]); // what follows (extensions) stays in the reader
        let mut reader = &data[..];
        let parsed = read_attested_credential_data(&mut reader).unwrap();
        assert_eq!((parsed.aaguid, parsed.credential_id.as_slice(), &parsed.key), ([7u8; 16], &[9u8, 9, 9][..], &key));
        assert_eq!(reader, &[0xa0]);
        assert!(stored_public_key(&data).is_ok());
        for cut in [0, 10, 18, 20, data.len() - 2] {
            assert!(stored_public_key(&data[..cut]).is_err(), "cut at {cut}");
        }
        // Not CBOR, or CBOR that is not a COSE key.
        let mut bad = data[..21].to_vec();
        bad.push(0xff);
        assert!(stored_public_key(&bad).unwrap_err().contains("not valid CBOR"));
        let mut bad = data[..21].to_vec();
        bad.push(0x01);
        assert!(stored_public_key(&bad).unwrap_err().contains("not a COSE key"));
    }

    #[test]
    fn verification_rejects_garbage_without_panicking() {
        for key in [
            PublicKey::P256(vec![4; 65]),
            PublicKey::P384(vec![4; 97]),
            PublicKey::Ed25519(vec![0; 32]),
            PublicKey::Rsa { alg: RS256, n: vec![0xc1; 256], e: vec![1, 0, 1] },
            PublicKey::Rsa { alg: -1, n: vec![0xc1; 256], e: vec![1, 0, 1] },
        ] {
            assert!(!key.verify(b"message", b"signature"));
            assert!(!key.verify(b"", b""));
        }
    }
}
