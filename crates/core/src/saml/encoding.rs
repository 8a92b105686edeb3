//! Encodings the SAML bindings and the core's APIs share: Java's strict base64, X.509 parsing and
//! Java's form URL encoding.

/// Base64 as Java's basic decoder reads it: the standard alphabet only (no whitespace), padding
/// optional.
pub fn decode_base64_strict(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent).with_decode_allow_trailing_bits(true),
    );
    ENGINE.decode(s).ok()
}

/// A DER X.509 certificate, or `None` when it is not one (the core's `CertificateFactory` check).
pub fn parse_certificate(der: &[u8]) -> Option<x509_cert::Certificate> {
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
}
