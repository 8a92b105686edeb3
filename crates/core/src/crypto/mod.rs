//! Pure cryptographic functions in the SuperTokens core's formats (no I/O): hashes, random tokens,
//! RSA (RS256) and P-256 (ES256) signing keys and their string forms, JWS signatures, and
//! refresh-token encryption.
//!
//! ring does the signing, verification, AES-GCM and PBKDF2 (fast, constant-time); the RustCrypto
//! `rsa` crate is used only to generate RSA key pairs, which ring cannot do.

pub mod calibrate;
pub mod jwt;
pub mod java_base64;
pub mod keys;
pub mod password;
pub mod refresh;

use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("malformed key")]
    MalformedKey,
    #[error("cannot decrypt")]
    Decrypt,
    #[error("random source failed")]
    Random,
    #[error("key generation failed")]
    KeyGeneration,
}

/// Lower-case hex, two characters per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// `hex(SHA-256(utf8(s)))`, the core's `Utils.hashSHA256`.
pub fn sha256_hex(s: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref())
}

/// `n` bytes from the operating system's secure random source.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut buf = vec![0u8; n];
    SystemRandom::new().fill(&mut buf).map_err(|_| CryptoError::Random)?;
    Ok(buf)
}

/// A random version-4 UUID in lower case, as `java.util.UUID.randomUUID()` prints it.
pub fn uuid_v4() -> Result<String, CryptoError> {
    let mut b = random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

/// A password-reset token in the core's form: a random PBKDF2 output as hex, that text in base64
/// with `=`, `/` and `+` removed (about 128 characters). Opaque; only its SHA-256 is stored.
pub fn new_reset_token() -> Result<String, CryptoError> {
    use base64::Engine;
    let random = random_bytes(64)?;
    let salt = random_bytes(64)?;
    let mut out = [0u8; 48];
    let iterations = std::num::NonZeroU32::new(1000).ok_or(CryptoError::Random)?;
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA512, iterations, &salt, hex(&random).as_bytes(), &mut out);
    let text = base64::engine::general_purpose::STANDARD.encode(hex(&out));
    Ok(text.chars().filter(|c| !matches!(c, '=' | '/' | '+')).collect())
}

/// Compares two secrets in constant time (for equal lengths; the length itself is not secret).
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_known_vector() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn uuids_are_v4() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]));
        assert_ne!(u, uuid_v4().unwrap());
    }

    #[test]
    fn constant_time_equality() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
    }
}
