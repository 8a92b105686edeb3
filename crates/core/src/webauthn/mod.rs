//! WebAuthn (passkeys): the recipe's rules, with no I/O. The HTTP handlers parse a request, load
//! what a rule needs through [`storage::WebauthnStorage`], call the rule, write what it decided and
//! render its outcome; the statuses a rule can end in are the variants of [`WebauthnError`].
//!
//! - [`options`]: register and sign-in options (defaults, validation, the JSON shapes), their
//!   expiry and single use;
//! - [`credential`]: the credential JSON the SDKs forward (the browser's `toJSON()`);
//! - [`verify`]: registration (attestation) and authentication (assertion) ceremonies;
//! - [`recovery`]: account-recovery tokens;
//! - [`flows`]: the operations, one per API (load, decide with the rules above, write);
//! - [`storage`]: the storage trait and its rows (the plugin's five `webauthn_*` tables).
//!
//! # Why no WebAuthn crate does the verification
//!
//! Issue #23 asks for a well-kept crate rather than hand-written CBOR, COSE or signature code, with
//! `none` and `packed` (self and x5c) attestation and ES256, EdDSA and RS256 credentials, checked
//! against options *we* stored. None of the WebAuthn relying-party crates meets that (checked
//! against crates.io and their sources):
//! - `webauthn-rs-core` 0.6 replaced OpenSSL with pre-release RustCrypto and dropped Ed25519: an
//!   EdDSA credential fails at registration, and Chromium's virtual authenticator picks EdDSA for
//!   the core's default algorithm list `[-8, -7, -257]`. Its ceremony state cannot be built from
//!   stored options (private fields), and it always requires user presence;
//! - `webauthn-rs-core` 0.5 needs OpenSSL (a system library the project does not link);
//! - `webauthn_rp` 0.3 rejects packed attestation with `x5c` and owns the challenge; `passkey-rp`
//!   does ES256 with `none` only; others need a newer compiler than the workspace's.
//!
//! So the ceremony's checklist (WebAuthn L3 §7.1, §7.2, §8.2) is ours, and every encoding and
//! primitive under it comes from a maintained crate: `ciborium` decodes CBOR, `coset` (Google's
//! COSE crate) models COSE keys, `ring` (already the workspace's crypto) verifies ES256, ES384,
//! EdDSA, RS256/384/512 and PS256 signatures, and `x509-parser` reads packed attestation
//! certificates. Nothing parses CBOR, ASN.1 or signatures by hand.

pub mod credential;
pub mod flows;
pub mod options;
pub mod origin;
pub mod recovery;
pub mod storage;
pub mod verify;

#[cfg(any(test, feature = "test-authenticator"))]
pub mod test_authenticator;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

/// The `webauthn_*` columns' width for emails, relying-party ids and names, origins and credential
/// ids (VARCHAR(256)); longer values are refused before anything is written.
pub const MAX_COLUMN_CHARS: usize = 256;

/// A business outcome other than OK: the handler renders it as HTTP 200 with its status (and
/// `reason`, for the three kinds that carry one), exactly as the SuperTokens core answers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebauthnError {
    /// The options are unusable (invalid values, expired, or not made for this ceremony).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The credential JSON is malformed (shape, base64url, CBOR, client data).
    #[error("invalid credentials: {0}")]
    InvalidCredentials(String),
    /// The credential is well formed but does not verify (challenge, origin, flags, signature...).
    #[error("invalid authenticator: {0}")]
    InvalidAuthenticator(String),
    #[error("options not found")]
    OptionsNotFound,
    #[error("credential not found")]
    CredentialNotFound,
    #[error("credential already exists")]
    CredentialAlreadyExists,
    /// Another webauthn user of the tenant has the email.
    #[error("email already exists")]
    EmailAlreadyExists,
    /// The user is (linked to) a primary user and another primary user sharing a tenant has the email.
    #[error("a user with the email already exists")]
    UserWithEmailAlreadyExists,
    #[error("unknown user id")]
    UnknownUserId,
    #[error("recover account token invalid")]
    RecoverAccountTokenInvalid,
}

impl WebauthnError {
    /// The reason the three kinds that carry one give.
    pub fn reason(&self) -> Option<&str> {
        match self {
            WebauthnError::InvalidOptions(r) | WebauthnError::InvalidCredentials(r) | WebauthnError::InvalidAuthenticator(r) => {
                Some(r)
            }
            _ => None,
        }
    }

    pub(crate) fn invalid_credentials(reason: impl Into<String>) -> WebauthnError {
        WebauthnError::InvalidCredentials(reason.into())
    }

    pub(crate) fn invalid_authenticator(reason: impl Into<String>) -> WebauthnError {
        WebauthnError::InvalidAuthenticator(reason.into())
    }
}

/// Java's URL decoder accepts base64url with or without `=` padding, and ignores the unused bits
/// of the last character; so does this.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64url, padded or not.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_LENIENT.decode(s).ok()
}

/// Encodes base64url without padding, as WebAuthn's JSON forms do.
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status strings, for the tests' assertions (the handlers name them from http/status.rs).
    impl WebauthnError {
        pub(crate) fn status(&self) -> &'static str {
            match self {
                WebauthnError::InvalidOptions(_) => "INVALID_OPTIONS_ERROR",
                WebauthnError::InvalidCredentials(_) => "INVALID_CREDENTIALS_ERROR",
                WebauthnError::InvalidAuthenticator(_) => "INVALID_AUTHENTICATOR_ERROR",
                WebauthnError::OptionsNotFound => "OPTIONS_NOT_FOUND_ERROR",
                WebauthnError::CredentialNotFound => "CREDENTIAL_NOT_FOUND_ERROR",
                WebauthnError::CredentialAlreadyExists => "CREDENTIAL_ALREADY_EXISTS_ERROR",
                WebauthnError::EmailAlreadyExists => "EMAIL_ALREADY_EXISTS_ERROR",
                WebauthnError::UserWithEmailAlreadyExists => "USER_WITH_EMAIL_ALREADY_EXISTS_ERROR",
                WebauthnError::UnknownUserId => "UNKNOWN_USER_ID_ERROR",
                WebauthnError::RecoverAccountTokenInvalid => "RECOVER_ACCOUNT_TOKEN_INVALID_ERROR",
            }
        }
    }

    #[test]
    fn base64url_is_lenient_about_padding_only() {
        assert_eq!(b64url_decode("AQI"), Some(vec![1, 2]));
        assert_eq!(b64url_decode("AQI="), Some(vec![1, 2]));
        assert_eq!(b64url_decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(b64url_decode("+/8"), None);
        assert_eq!(b64url_decode("a b"), None);
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }
}
