//! The service provider's RSA key pair and self-signed certificate, one per app, kept in two
//! `key_value` rows of the app's public tenant in the core's formats, so that a database shared with
//! the Java core keeps one SP identity:
//!
//! - `saml_key_pair`: `b64(PKCS#8 DER private key) "\n" b64(SubjectPublicKeyInfo DER public key)`;
//! - `saml_certificate`: `b64(DER X.509 certificate)`.
//!
//! The certificate is X.509 v3, subject = issuer = `CN=SAML-SP, O=SuperTokens, C=US`, a random
//! 128-bit serial, valid from now for 3650 days, keyUsage (critical) digitalSignature and
//! keyEncipherment, basicConstraints (critical) CA=false, signed with SHA256withRSA. The core makes
//! RSA-4096 keys (2048 bits in its test mode).
//!
//! The RSA private-key operations (the certificate's signature, AuthnRequest signatures) are
//! ring's; the `rsa` crate only generates the key, as in `crypto::keys`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::sync::Arc;

use ring::signature::{self, RsaKeyPair};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};

use crate::crypto::random_bytes;

pub const KEY_PAIR_NAME: &str = "saml_key_pair";
pub const CERTIFICATE_NAME: &str = "saml_certificate";

const VALIDITY_MS: i64 = 3650 * 86_400_000;

/// What key to make: the core's production size and name, or its test mode's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub bits: usize,
    pub common_name: &'static str,
}

impl KeySpec {
    pub const PRODUCTION: KeySpec = KeySpec { bits: 4096, common_name: "SAML-SP" };
    /// `--test-mode`: a 2048-bit key, generated in well under a second.
    pub const TEST_MODE: KeySpec = KeySpec { bits: 2048, common_name: "SAML-SP-TEST" };
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpKeyError {
    #[error("the stored SAML key pair or certificate is malformed")]
    Malformed,
    #[error("SAML key generation failed")]
    Generation,
    #[error("signing failed")]
    Signing,
}

/// The two `key_value` values, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSpKey {
    pub key_pair: String,
    pub certificate: String,
}

impl std::fmt::Debug for StoredSpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("StoredSpKey").field("certificate", &self.certificate).finish_non_exhaustive()
    }
}

/// A loaded SP key: ready to sign, with its certificate.
pub struct SpKey {
    pair: Arc<RsaKeyPair>,
    certificate_b64: String,
    not_after_ms: i64,
}

impl std::fmt::Debug for SpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKey").field("not_after_ms", &self.not_after_ms).finish_non_exhaustive()
    }
}

impl StoredSpKey {
    /// A new key pair and certificate valid from `now_ms`. Slow for 4096 bits (seconds): call it
    /// on a blocking thread.
    pub fn generate(spec: KeySpec, now_ms: i64) -> Result<StoredSpKey, SpKeyError> {
        let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, spec.bits).map_err(|_| SpKeyError::Generation)?;
        let pkcs8 = private.to_pkcs8_der().map_err(|_| SpKeyError::Generation)?;
        let spki = private.to_public_key().to_public_key_der().map_err(|_| SpKeyError::Generation)?;
        let certificate = self_signed_certificate(pkcs8.as_bytes(), spec.common_name, now_ms)?;
        Ok(StoredSpKey {
            key_pair: format!("{}\n{}", STANDARD.encode(pkcs8.as_bytes()), STANDARD.encode(spki.as_bytes())),
            certificate: STANDARD.encode(certificate),
        })
    }

    /// Reads the stored rows (written by Portcullis or the Java core).
    pub fn load(&self) -> Result<SpKey, SpKeyError> {
        // Java's `split("\n")` ignores a trailing newline; so do we.
        let mut parts = self.key_pair.trim_end_matches('\n').split('\n');
        let (Some(private), Some(public), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SpKeyError::Malformed);
        };
        let private = STANDARD.decode(private.trim()).map_err(|_| SpKeyError::Malformed)?;
        let public = STANDARD.decode(public.trim()).map_err(|_| SpKeyError::Malformed)?;
        let pair = RsaKeyPair::from_pkcs8(&private).map_err(|_| SpKeyError::Malformed)?;
        let certificate_b64 = self.certificate.trim().to_owned();
        let der = STANDARD.decode(&certificate_b64).map_err(|_| SpKeyError::Malformed)?;
        let cert = super::encoding::parse_certificate(&der).ok_or(SpKeyError::Malformed)?;
        // The rows are written together; a certificate of another key would make every signed
        // request fail at the IdP, so refuse the pair instead.
        use x509_cert::der::Encode;
        let cert_spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| SpKeyError::Malformed)?;
        if cert_spki != public {
            return Err(SpKeyError::Malformed);
        }
        let not_after_ms = i64::try_from(cert.tbs_certificate.validity.not_after.to_unix_duration().as_millis())
            .map_err(|_| SpKeyError::Malformed)?;
        Ok(SpKey { pair: Arc::new(pair), certificate_b64, not_after_ms })
    }
}

impl SpKey {
    /// base64 of the certificate's DER, as the SP metadata and signed requests carry it.
    pub fn certificate_b64(&self) -> &str {
        &self.certificate_b64
    }

    /// The certificate's notAfter (the SP metadata's `validUntil`).
    pub fn not_after_ms(&self) -> i64 {
        self.not_after_ms
    }

    /// Whether the certificate has expired: the core then makes a new key pair.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.not_after_ms < now_ms
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256.
    pub fn sign_rsa_sha256(&self, data: &[u8]) -> Result<Vec<u8>, SpKeyError> {
        sign_rsa_sha256(&self.pair, data)
    }

    /// The key as the signer the XML-DSig library calls (its private-key operation stays ring's).
    pub(crate) fn xml_signer(&self) -> Box<dyn kryptering::Signer> {
        Box::new(RingRsaSha256(Arc::clone(&self.pair)))
    }
}

fn sign_rsa_sha256(pair: &RsaKeyPair, data: &[u8]) -> Result<Vec<u8>, SpKeyError> {
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), data, &mut sig)
        .map_err(|_| SpKeyError::Signing)?;
    Ok(sig)
}

struct RingRsaSha256(Arc<RsaKeyPair>);

impl kryptering::Signer for RingRsaSha256 {
    fn algorithm(&self) -> kryptering::SignatureAlgorithm {
        kryptering::SignatureAlgorithm::RsaPkcs1v15(kryptering::HashAlgorithm::Sha256)
    }

    fn sign(&self, data: &[u8]) -> kryptering::Result<Vec<u8>> {
        sign_rsa_sha256(&self.0, data).map_err(|e| kryptering::Error::Crypto(e.to_string()))
    }
}

fn self_signed_certificate(pkcs8_der: &[u8], common_name: &str, now_ms: i64) -> Result<Vec<u8>, SpKeyError> {
    use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose, SerialNumber};

    let key = KeyPair::try_from(pkcs8_der).map_err(|_| SpKeyError::Generation)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "SuperTokens");
    name.push(DnType::CountryName, "US");
    params.distinguished_name = name;
    // 128 random bits, as a positive integer.
    params.serial_number = Some(SerialNumber::from_slice(&random_bytes(16).map_err(|_| SpKeyError::Generation)?));
    let at = |ms: i64| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).map_err(|_| SpKeyError::Generation);
    params.not_before = at(now_ms)?;
    params.not_after = at(now_ms + VALIDITY_MS)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.is_ca = IsCa::ExplicitNoCa;
    let cert = params.self_signed(&key).map_err(|_| SpKeyError::Generation)?;
    Ok(cert.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::test_support::{test_key, NOW};

    #[test]
    fn generated_rows_have_the_cores_format_and_certificate() {
        use x509_cert::der::Decode;
        let stored = test_key();
        let (private, public) = stored.key_pair.split_once('\n').unwrap();
        assert!(!stored.key_pair.contains(['\r', ' ']) && !stored.certificate.contains(['\n', ' ']));
        assert!(RsaKeyPair::from_pkcs8(&STANDARD.decode(private).unwrap()).is_ok());
        let der = STANDARD.decode(&stored.certificate).unwrap();
        let cert = x509_cert::Certificate::from_der(&der).unwrap();
        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.version, x509_cert::Version::V3);
        // RFC 4514 prints the RDNs last first: the DER order is CN, O, C, as BouncyCastle encodes
        // the core's "CN=SAML-SP, O=SuperTokens, C=US".
        assert_eq!(tbs.subject.to_string(), "C=US,O=SuperTokens,CN=SAML-SP-TEST");
        assert_eq!(tbs.issuer, tbs.subject);
        // sha256WithRSAEncryption
        assert_eq!(cert.signature_algorithm.oid.to_string(), "1.2.840.113549.1.1.11");
        let serial = tbs.serial_number.as_bytes();
        assert!(serial.len() <= 17 && serial[0] & 0x80 == 0, "a positive serial of at most 128 bits");
        assert_eq!(tbs.validity.not_before.to_unix_duration().as_millis() as i64, NOW);
        assert_eq!(tbs.validity.not_after.to_unix_duration().as_millis() as i64, NOW + VALIDITY_MS);
        use x509_cert::der::Encode;
        assert_eq!(tbs.subject_public_key_info.to_der().unwrap(), STANDARD.decode(public).unwrap());
        let exts = tbs.extensions.as_ref().unwrap();
        let ext = |oid: &str| exts.iter().find(|e| e.extn_id.to_string() == oid).unwrap();
        let key_usage = ext("2.5.29.15");
        assert!(key_usage.critical);
        // BIT STRING: digitalSignature (bit 0) | keyEncipherment (bit 2) = 0b1010_0000, 5 unused bits.
        assert_eq!(key_usage.extn_value.as_bytes(), &[0x03, 0x02, 0x05, 0xa0]);
        let basic = ext("2.5.29.19");
        assert!(basic.critical);
        assert_eq!(basic.extn_value.as_bytes(), &[0x30, 0x00], "CA=false");
    }

    #[test]
    fn loading_reads_validity_and_signs() {
        let key = test_key().load().unwrap();
        assert_eq!(key.not_after_ms(), NOW + VALIDITY_MS);
        assert!(!key.is_expired(NOW + VALIDITY_MS));
        assert!(key.is_expired(NOW + VALIDITY_MS + 1));
        assert_eq!(key.certificate_b64(), test_key().certificate);
        let sig = key.sign_rsa_sha256(b"data").unwrap();
        assert_eq!(sig.len(), 256);
        // Verifies with the certificate's public key.
        let der = STANDARD.decode(key.certificate_b64()).unwrap();
        let cert = crate::saml::encoding::parse_certificate(&der).unwrap();
        let rsa_public_key = cert.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
        let public_key = signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, rsa_public_key);
        public_key.verify(b"data", &sig).unwrap();
        assert!(public_key.verify(b"other", &sig).is_err());
        assert!(!format!("{key:?} {:?}", test_key()).contains(&test_key().key_pair[..40]), "no key material in Debug");
    }

    #[test]
    fn malformed_rows_are_refused() {
        let good = test_key();
        let other = StoredSpKey::generate(KeySpec { bits: 2048, common_name: "x" }, NOW).unwrap();
        let cases = [
            StoredSpKey { key_pair: "abc".into(), certificate: good.certificate.clone() },
            StoredSpKey { key_pair: format!("{}\nx", good.key_pair), certificate: good.certificate.clone() },
            StoredSpKey { key_pair: good.key_pair.replacen('M', "!", 1), certificate: good.certificate.clone() },
            StoredSpKey { key_pair: good.key_pair.clone(), certificate: "bm90IGEgY2VydA==".into() },
            // A certificate of another key.
            StoredSpKey { key_pair: good.key_pair.clone(), certificate: other.certificate.clone() },
        ];
        for c in cases {
            assert_eq!(c.load().unwrap_err(), SpKeyError::Malformed);
        }
        let trailing_newline = StoredSpKey { key_pair: format!("{}\n", good.key_pair), certificate: good.certificate.clone() };
        assert!(trailing_newline.load().is_ok());
    }
}

/// A test key shared by the SAML tests (generation takes a moment).
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::sync::OnceLock;

    pub const NOW: i64 = 1_768_478_400_000;

    /// One test key for the whole test binary (generation takes a moment).
    pub fn test_key() -> &'static StoredSpKey {
        static KEY: OnceLock<StoredSpKey> = OnceLock::new();
        KEY.get_or_init(|| StoredSpKey::generate(KeySpec::TEST_MODE, NOW).unwrap())
    }
}
