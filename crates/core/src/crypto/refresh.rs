//! Refresh-token encryption in the core's format: `b64(iv(12) || AES-256-GCM(ciphertext || tag))`,
//! the AES key derived per token with PBKDF2-HMAC-SHA512(password = the app's refresh-token key,
//! salt = iv, 100 iterations, 32 bytes). And the master key's own format.

use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::pbkdf2;

use super::{hex, random_bytes, CryptoError};

const PER_TOKEN_ITERATIONS: u32 = 100;
const MASTER_KEY_ITERATIONS: u32 = 1000;

fn token_key(master: &str, iv: &[u8]) -> Result<LessSafeKey, CryptoError> {
    let mut key = [0u8; 32];
    let iterations = NonZeroU32::new(PER_TOKEN_ITERATIONS).ok_or(CryptoError::Decrypt)?;
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, iterations, iv, master.as_bytes(), &mut key);
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| CryptoError::Decrypt)?;
    Ok(LessSafeKey::new(unbound))
}

/// Encrypts `plaintext` under the app's refresh-token key.
pub fn encrypt(master: &str, plaintext: &str) -> Result<String, CryptoError> {
    let iv = random_bytes(NONCE_LEN)?;
    let key = token_key(master, &iv)?;
    let nonce = Nonce::try_assume_unique_for_key(&iv).map_err(|_| CryptoError::Random)?;
    let mut data = plaintext.as_bytes().to_vec();
    key.seal_in_place_append_tag(nonce, Aad::empty(), &mut data).map_err(|_| CryptoError::Random)?;
    let mut out = iv;
    out.extend_from_slice(&data);
    Ok(STANDARD.encode(out))
}

/// Decrypts what `encrypt` produced (or the Java core did); any tampering is an error.
pub fn decrypt(master: &str, encoded: &str) -> Result<String, CryptoError> {
    let raw = super::java_base64::decode_basic(encoded).map_err(|_| CryptoError::Decrypt)?;
    if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(CryptoError::Decrypt);
    }
    let (iv, sealed) = raw.split_at(NONCE_LEN);
    let key = token_key(master, iv)?;
    let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| CryptoError::Decrypt)?;
    let mut buf = sealed.to_vec();
    let plain = key.open_in_place(nonce, Aad::empty(), &mut buf).map_err(|_| CryptoError::Decrypt)?;
    String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Decrypt)
}

/// A new master key in the core's format: `1000:<hex salt(64)>:<hex PBKDF2-HMAC-SHA512(hex(random 64),
/// salt, 1000, 64)>` (262 characters). The whole string is used as a password; it is never parsed.
pub fn new_master_key() -> Result<String, CryptoError> {
    let salt = random_bytes(64)?;
    let password = hex(&random_bytes(64)?);
    let mut out = [0u8; 64];
    let iterations = NonZeroU32::new(MASTER_KEY_ITERATIONS).ok_or(CryptoError::Random)?;
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA512, iterations, &salt, password.as_bytes(), &mut out);
    Ok(format!("{MASTER_KEY_ITERATIONS}:{}:{}", hex(&salt), hex(&out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let master = new_master_key().unwrap();
        assert_eq!(master.len(), 262);
        assert!(master.starts_with("1000:"));
        let token = encrypt(&master, r#"{"sessionHandle":"h"}"#).unwrap();
        assert_eq!(decrypt(&master, &token).unwrap(), r#"{"sessionHandle":"h"}"#);
        assert!(decrypt("another key", &token).is_err());
        let mut raw = STANDARD.decode(&token).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(decrypt(&master, &STANDARD.encode(raw)).is_err());
        assert!(decrypt(&master, "short").is_err());
        assert!(decrypt(&master, "!!!").is_err());
    }
}
