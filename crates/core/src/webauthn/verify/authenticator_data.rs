//! Authenticator data (WebAuthn L3 §6.1): a fixed 37-byte header (`rpIdHash[32] ‖ flags ‖
//! signCount[4, big-endian]`), then the attested credential data when the AT flag is set (its COSE
//! key is CBOR), then an extensions CBOR map when the ED flag is set. Nothing may follow.

use super::cose::{read_attested_credential_data, AttestedCredentialData};

pub const FLAG_UP: u8 = 0x01;
pub const FLAG_UV: u8 = 0x04;
pub const FLAG_BE: u8 = 0x08;
pub const FLAG_BS: u8 = 0x10;
pub const FLAG_AT: u8 = 0x40;
pub const FLAG_ED: u8 = 0x80;

const HEADER_LEN: usize = 37;

#[derive(Clone, Debug, PartialEq)]
pub struct AuthenticatorData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub attested: Option<AttestedCredentialData>,
    /// The attested credential data's bytes (what `webauthn_credentials.public_key` stores).
    pub attested_bytes: Option<Vec<u8>>,
}

impl AuthenticatorData {
    /// Parses authenticator data; the error is a reason for INVALID_CREDENTIALS_ERROR.
    pub fn parse(bytes: &[u8]) -> Result<AuthenticatorData, String> {
        if bytes.len() < HEADER_LEN {
            return Err("authenticator data is too short".into());
        }
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&bytes[..32]);
        let flags = bytes[32];
        let sign_count = u32::from_be_bytes([bytes[33], bytes[34], bytes[35], bytes[36]]);
        let mut rest = &bytes[HEADER_LEN..];
        let (attested, attested_bytes) = if flags & FLAG_AT != 0 {
            let start = rest;
            let data = read_attested_credential_data(&mut rest)?;
            (Some(data), Some(start[..start.len() - rest.len()].to_vec()))
        } else {
            (None, None)
        };
        if flags & FLAG_ED != 0 {
            let extensions: ciborium::Value =
                ciborium::de::from_reader(&mut rest).map_err(|e| format!("authenticator data extensions are not valid CBOR: {e}"))?;
            if !extensions.is_map() {
                return Err("authenticator data extensions are not a CBOR map".into());
            }
        }
        if !rest.is_empty() {
            return Err("authenticator data has unexpected trailing bytes".into());
        }
        Ok(AuthenticatorData { rp_id_hash, flags, sign_count, attested, attested_bytes })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::{iana, CborSerializable, CoseKeyBuilder};

    fn header(flags: u8, count: u32) -> Vec<u8> {
        let mut b = vec![0xaa; 32];
        b.push(flags);
        b.extend_from_slice(&count.to_be_bytes());
        b
    }

    fn attested() -> Vec<u8> {
        let key = CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, vec![1; 32], vec![2; 32])
            .algorithm(iana::Algorithm::ES256)
            .build();
        let mut b = vec![5u8; 16];
        b.extend_from_slice(&[0, 2, 0xcc, 0xdd]);
        b.extend_from_slice(&key.to_vec().unwrap());
        b
    }

    #[test]
    fn assertion_data() {
        let d = AuthenticatorData::parse(&header(FLAG_UP | FLAG_UV, 258)).unwrap();
        assert_eq!((d.rp_id_hash, d.flags, d.sign_count, d.attested.is_none()), ([0xaa; 32], 5, 258, true));
        assert!(d.has(FLAG_UV) && !d.has(FLAG_BE));
    }

    #[test]
    fn registration_data_with_extensions() {
        let mut b = header(FLAG_UP | FLAG_AT | FLAG_ED, 0);
        b.extend_from_slice(&attested());
        b.extend_from_slice(&[0xa1, 0x61, b'x', 0xf5]); // {"x": true}
        let d = AuthenticatorData::parse(&b).unwrap();
        let a = d.attested.unwrap();
        assert_eq!((a.aaguid, a.credential_id), ([5; 16], vec![0xcc, 0xdd]));
        assert_eq!(d.attested_bytes.unwrap(), attested());
    }

    #[test]
    fn malformed_data_is_refused_with_a_reason() {
        assert_eq!(AuthenticatorData::parse(&[0; 36]).unwrap_err(), "authenticator data is too short");
        let mut trailing = header(FLAG_UP, 1);
        trailing.push(0);
        assert_eq!(AuthenticatorData::parse(&trailing).unwrap_err(), "authenticator data has unexpected trailing bytes");
        // AT set but no credential data; truncated COSE key; ED set without extensions.
        assert!(AuthenticatorData::parse(&header(FLAG_AT, 0)).is_err());
        let mut cut = header(FLAG_AT, 0);
        cut.extend_from_slice(&attested()[..40]);
        assert!(AuthenticatorData::parse(&cut).unwrap_err().contains("CBOR"));
        assert!(AuthenticatorData::parse(&header(FLAG_ED, 0)).unwrap_err().contains("extensions"));
        let mut not_map = header(FLAG_ED, 0);
        not_map.push(0x01);
        assert_eq!(AuthenticatorData::parse(&not_map).unwrap_err(), "authenticator data extensions are not a CBOR map");
        // A credential id length beyond the data.
        let mut long = header(FLAG_AT, 0);
        long.extend_from_slice(&[0; 16]);
        long.extend_from_slice(&[0xff, 0xff, 1, 2]);
        assert!(AuthenticatorData::parse(&long).unwrap_err().contains("too short"));
    }
}
