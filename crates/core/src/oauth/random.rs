//! Randomness, injected: every value the provider makes up (challenges, verifiers, CSRF values,
//! codes, refresh tokens, secrets, salts, grant and token ids) comes from a [`Random`], so that the
//! decisions are deterministic under test and use the operating system's source in production.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::crypto::{hex, CryptoError};

pub trait Random: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError>;
}

/// The operating system's secure random source.
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new().fill(buf).map_err(|_| CryptoError::Random)
    }
}

/// `n` random bytes.
pub fn bytes(rng: &dyn Random, n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf)?;
    Ok(buf)
}

/// 256 random bits as unpadded base64url (43 characters): never contains `=`, `&`, `+` or `/`, so it
/// travels in queries and cookies unencoded (the Java core's query parser drops values with `=`).
pub fn token(rng: &dyn Random) -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(bytes(rng, 32)?))
}

/// A version-4 UUID in lower case (grant ids, token ids, logout challenges).
pub fn uuid_v4(rng: &dyn Random) -> Result<String, CryptoError> {
    let mut b = bytes(rng, 16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_long() {
        let t = token(&OsRandom).unwrap();
        assert_eq!(t.len(), 43);
        assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{t}");
        assert_ne!(t, token(&OsRandom).unwrap());
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4(&OsRandom).unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]));
    }
}
