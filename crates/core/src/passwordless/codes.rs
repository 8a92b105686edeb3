//! Passwordless codes in the SuperTokens core's formats (algorithms.md §3.3), so that devices and
//! codes written by the Java core can be consumed here and the other way round.
//!
//! - device id: 32 random bytes, sent to the client as standard base64 (44 chars, padded);
//! - device id hash (the client's `preAuthSessionId`): url-safe base64 of SHA-256(device id), unpadded;
//! - link code salt: 32 random bytes per device, stored as standard base64;
//! - link code: HMAC-SHA256(key = device id ‖ salt, user input code), url-safe base64 unpadded. The
//!   salt keeps clients from deriving link codes from a device id and so guessing user input codes
//!   without counting as failed attempts;
//! - link code hash (stored): url-safe base64 of SHA-256(link code), padded.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::digest::{digest, SHA256};
use ring::hmac;

use crate::crypto::java_base64::{decode_basic, decode_url};
use crate::crypto::{random_bytes, CryptoError};

/// Which input failed to decode; the API answers 400 `Input encoding error in <field>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingError(pub &'static str);

/// A device id: the secret the client keeps to ask for new codes and to type codes in.
pub struct DeviceId(Vec<u8>);

impl DeviceId {
    pub fn generate() -> Result<DeviceId, CryptoError> {
        Ok(DeviceId(random_bytes(32)?))
    }

    pub fn decode(s: &str) -> Result<DeviceId, EncodingError> {
        decode_basic(s).map(DeviceId).map_err(|_| EncodingError("deviceId"))
    }

    pub fn encode(&self) -> String {
        STANDARD.encode(&self.0)
    }

    /// The `preAuthSessionId` and the devices table's key.
    pub fn hash(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest(&SHA256, &self.0))
    }

    /// The link code for a user input code on this device.
    pub fn link_code(&self, salt: &LinkCodeSalt, user_input_code: &str) -> LinkCode {
        let mut key = Vec::with_capacity(self.0.len() + salt.0.len());
        key.extend_from_slice(&self.0);
        key.extend_from_slice(&salt.0);
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), user_input_code.as_bytes());
        LinkCode(tag.as_ref().to_vec())
    }
}

/// The per-device salt mixed into link codes.
pub struct LinkCodeSalt(Vec<u8>);

impl LinkCodeSalt {
    pub fn generate() -> Result<LinkCodeSalt, CryptoError> {
        Ok(LinkCodeSalt(random_bytes(32)?))
    }

    pub fn decode(s: &str) -> Result<LinkCodeSalt, EncodingError> {
        decode_basic(s.trim_end()).map(LinkCodeSalt).map_err(|_| EncodingError("LinkCodeSalt"))
    }

    pub fn encode(&self) -> String {
        STANDARD.encode(&self.0)
    }
}

/// A link code: what a magic link carries instead of the device id and user input code.
pub struct LinkCode(Vec<u8>);

impl LinkCode {
    pub fn decode(s: &str) -> Result<LinkCode, EncodingError> {
        decode_url(s).map(LinkCode).map_err(|_| EncodingError("linkCode"))
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    /// What the codes table stores (44 chars, padded).
    pub fn hash(&self) -> String {
        URL_SAFE.encode(digest(&SHA256, &self.0))
    }
}

/// Six random decimal digits, the core's user input code.
pub fn generate_user_input_code() -> Result<String, CryptoError> {
    // Rejection sampling keeps every digit uniform: bytes of 250 and above are drawn again.
    let mut code = String::with_capacity(6);
    while code.len() < 6 {
        for b in random_bytes(16)? {
            if b < 250 && code.len() < 6 {
                code.push(char::from(b'0' + b % 10));
            }
        }
    }
    Ok(code)
}

/// Compares a client's `preAuthSessionId` with a device id hash; the client's may carry `=` padding.
pub fn pre_auth_session_id_matches(device_id_hash: &str, from_client: &str) -> bool {
    let given: String = from_client.chars().filter(|&c| c != '=').collect();
    crate::crypto::secrets_equal(device_id_hash.trim_end().as_bytes(), given.as_bytes())
}

/// The core's phone number normalisation, for the numbers it can parse: an international number
/// (`+`, a country code that does not start with 0, separators) becomes E.164 (`+` and digits).
/// Anything else is kept as sent, trimmed. The SDKs send E.164 already.
pub fn normalise_phone_number(phone: &str) -> String {
    let trimmed = phone.trim();
    let Some(rest) = trimmed.strip_prefix('+') else { return trimmed.to_owned() };
    if !rest.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.')) {
        return trimmed.to_owned();
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if !(2..=17).contains(&digits.len()) || digits.starts_with('0') {
        return trimmed.to_owned();
    }
    format!("+{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vectors computed independently (Python's hashlib, hmac and base64) for device id bytes
    /// 0..32, salt bytes 32..64 and the user input code "123456".
    #[test]
    fn known_vectors() {
        let device = DeviceId((0u8..32).collect());
        let salt = LinkCodeSalt((32u8..64).collect());
        assert_eq!(device.encode(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        assert_eq!(device.hash(), "Yw3NKWbEM2aRElRIu7JbT_QSpJxzLbLIq8G4WBvXEN0");
        assert_eq!(salt.encode(), "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=");
        let link = device.link_code(&salt, "123456");
        assert_eq!(link.encode(), "GG0Ss4OqlRCeHdv7UHj5zeJmudmi8pXGJTZlfjEbW4Q");
        assert_eq!(link.hash(), "nDpoavHqv8vldu3TKssOJvqFyOknHBs1tz-eXK0LVps=");
        // Round trips, with and without padding.
        assert_eq!(DeviceId::decode(&device.encode()).unwrap().hash(), device.hash());
        assert_eq!(DeviceId::decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap().hash(), device.hash());
        assert_eq!(LinkCode::decode(&link.encode()).unwrap().hash(), link.hash());
        assert_eq!(LinkCode::decode(&format!("{}=", link.encode())).unwrap().hash(), link.hash());
        assert_eq!(LinkCodeSalt::decode(&salt.encode()).unwrap().encode(), salt.encode());
    }

    #[test]
    fn formats_and_lengths() {
        let device = DeviceId::generate().unwrap();
        let salt = LinkCodeSalt::generate().unwrap();
        assert_eq!(device.encode().len(), 44);
        assert!(device.encode().ends_with('='));
        assert_eq!(device.hash().len(), 43);
        assert_eq!(salt.encode().len(), 44);
        let link = device.link_code(&salt, "000000");
        assert_eq!(link.encode().len(), 43);
        assert!(link.encode().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(link.hash().len(), 44);
        for _ in 0..50 {
            let code = generate_user_input_code().unwrap();
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn bad_encodings_name_the_field() {
        assert_eq!(DeviceId::decode("not base64!").err(), Some(EncodingError("deviceId")));
        assert_eq!(LinkCode::decode("a+b/").err(), Some(EncodingError("linkCode")));
    }

    /// Java's decoders ignore non-zero trailing bits: these decode (to ids no device or code has),
    /// so the APIs answer RESTART_FLOW_ERROR as the core does, not 400.
    #[test]
    fn trailing_bits_are_ignored_as_in_java() {
        assert_eq!(DeviceId::decode("random").map(|d| d.0.len()), Ok(4));
        assert_eq!(LinkCode::decode("invalidLinkCode").map(|l| l.0.len()), Ok(11));
        assert!(DeviceId::decode("YQ=").is_err(), "a short padded group stays illegal");
    }

    #[test]
    fn pre_auth_session_ids_compare_without_padding() {
        assert!(pre_auth_session_id_matches("abc", "abc="));
        assert!(pre_auth_session_id_matches("abc ", "abc"));
        assert!(!pre_auth_session_id_matches("abc", "abd"));
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(normalise_phone_number(" +1 (415) 555-0100 "), "+14155550100");
        assert_eq!(normalise_phone_number("+919876543210"), "+919876543210");
        assert_eq!(normalise_phone_number(" 0123 "), "0123");
        assert_eq!(normalise_phone_number("+0123"), "+0123");
        assert_eq!(normalise_phone_number("+1abc"), "+1abc");
    }
}
