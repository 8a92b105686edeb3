//! SAML 2.0 service provider: the rules of the core's `saml` recipe (CDI 5.4), pure functions with
//! the clock and randomness as inputs. Storage is `storage::saml`; HTTP lives in the server.
//!
//! The flow (an SDK's `saml` third-party provider drives it):
//! 1. `PUT /<t>/recipe/saml/clients`: the IdP metadata ([`metadata`]) becomes a client ([`client`]);
//! 2. `POST /<t>/recipe/saml/login`: an AuthnRequest for the IdP's SSO URL and a relay state
//!    ([`login`]), signed with the app's SP key when the client asks ([`sp_key`]);
//! 3. `POST /<t>/recipe/saml/callback`: the IdP's response is verified ([`response`]: XML-DSig by
//!    `bergshamra`, then our SAML signature profile and checks), its claims ([`claims`]) are kept
//!    under a single-use code, and the browser goes back to the client's redirect URI
//!    ([`callback`]);
//! 4. `POST /<t>/recipe/saml/user`: the code is exchanged for `sub`, `email` and the claims
//!    ([`claims::user_info`]).
//!
//! Beside them: the SP metadata document ([`sp_metadata`]) and the BoxyHQ-style legacy endpoints'
//! rules ([`legacy`]). Every non-OK status and every 400 text of these APIs is a typed value here.

pub mod callback;
pub mod claims;
pub mod client;
pub mod legacy;
pub mod login;
pub mod metadata;
pub mod response;
pub mod sp_key;
pub mod sp_metadata;
mod time;
mod xml;

pub use time::{format_date_time, parse_date_time};

/// `saml_sp_entity_id` when not configured.
pub const DEFAULT_SP_ENTITY_ID: &str = "https://saml.supertokens.com";

/// The SP entity id of a tenant: its `saml_sp_entity_id`, or the core's default.
pub fn sp_entity_id(configured: Option<&str>) -> &str {
    configured.unwrap_or(DEFAULT_SP_ENTITY_ID)
}

/// Base64 as Java's basic decoder reads it: the standard alphabet only (no whitespace), padding
/// optional.
pub(crate) fn decode_base64_strict(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent).with_decode_allow_trailing_bits(true),
    );
    ENGINE.decode(s).ok()
}

/// A DER X.509 certificate, or `None` when it is not one (the core's `CertificateFactory` check).
pub(crate) fn parse_certificate(der: &[u8]) -> Option<x509_cert::Certificate> {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(der).ok()
}

/// `application/x-www-form-urlencoded` encoding as Java's `URLEncoder` does it: letters, digits and
/// `.-*_` stay, a space becomes `+`, every other UTF-8 byte is `%XX` (upper-case hex).
pub fn form_urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_urlencoding_matches_javas_url_encoder() {
        assert_eq!(form_urlencode("aZ09.-*_"), "aZ09.-*_");
        assert_eq!(form_urlencode("a b+c/d=e&f"), "a+b%2Bc%2Fd%3De%26f");
        assert_eq!(form_urlencode("é~"), "%C3%A9%7E");
    }

    #[test]
    fn strict_base64() {
        assert_eq!(decode_base64_strict("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64_strict("aGk"), Some(b"hi".to_vec()));
        assert_eq!(decode_base64_strict(""), Some(vec![]));
        assert_eq!(decode_base64_strict("aG k="), None);
        assert_eq!(decode_base64_strict("aGk=\n"), None);
        assert_eq!(decode_base64_strict("a-_k"), None);
    }

    #[test]
    fn the_default_sp_entity_id() {
        assert_eq!(sp_entity_id(None), "https://saml.supertokens.com");
        assert_eq!(sp_entity_id(Some("urn:sp")), "urn:sp");
    }
}
