//! Base64 decoding of client input as the Java core's `java.util.Base64` decoders do it, so that the
//! same input is refused (or accepted) by both.
//!
//! Java's basic and URL decoders: padding is optional, but when present the last group must be
//! exactly `xx==` or `xxx=` with nothing after it; a lone symbol in the last group is illegal;
//! non-zero trailing bits are ignored (`YR` decodes like `YQ`); any byte outside the alphabet
//! (whitespace, the other alphabet's two symbols, non-ASCII) is illegal; nothing is trimmed.
//!
//! The `base64` crate, told to allow trailing bits and to be indifferent to padding, agrees on every
//! input but one shape: two symbols followed by a single `=` at the very end (`YQ=`), which it
//! accepts and Java refuses. [`decode`] refuses that shape first.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const JAVA_LIKE: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true).with_decode_padding_mode(DecodePaddingMode::Indifferent);
const BASIC: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, JAVA_LIKE);
const URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, JAVA_LIKE);

/// The input is not base64 as Java reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidBase64;

/// `xx=` at the end: a final group of two symbols with one `=`.
fn has_short_padding(input: &str) -> bool {
    let Some(first_pad) = input.find('=') else { return false };
    input.len() == first_pad + 1 && first_pad % 4 == 2
}

fn decode(engine: &GeneralPurpose, input: &str) -> Result<Vec<u8>, InvalidBase64> {
    if has_short_padding(input) {
        return Err(InvalidBase64);
    }
    engine.decode(input).map_err(|_| InvalidBase64)
}

/// `Base64.getDecoder()`: the `+/` alphabet.
pub fn decode_basic(input: &str) -> Result<Vec<u8>, InvalidBase64> {
    decode(&BASIC, input)
}

/// `Base64.getUrlDecoder()`: the `-_` alphabet.
pub fn decode_url(input: &str) -> Result<Vec<u8>, InvalidBase64> {
    decode(&URL, input)
}

/// The core's `Utils.convertFromBase64` (access-token headers and payloads): `-`/`_` read as `+`/`/`,
/// so either alphabet, or a mix of both, decodes.
pub fn decode_mixed(input: &str) -> Result<Vec<u8>, InvalidBase64> {
    if input.contains(['-', '_']) {
        decode_basic(&input.replace('-', "+").replace('_', "/"))
    } else {
        decode_basic(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The table of java.util.Base64's behaviour (Java 17) from the CDI-versions spec, §5.2.
    #[test]
    fn basic_decoder_matches_java() {
        let ok: &[(&str, &str)] = &[
            ("YQ", "61"),
            ("YQ==", "61"),
            ("YWJ", "6162"),
            ("YR", "61"),
            ("a+b/", "6be6ff"),
            ("random", "ada9dda2"),
            ("", ""),
            ("YWJj", "616263"),
            ("YWI=", "6162"),
        ];
        for (input, want) in ok {
            assert_eq!(decode_basic(input).map(|b| hex(&b)), Ok(want.to_string()), "{input:?}");
        }
        for input in ["YQ=", "YQ===", "YQ==A", "aGVsbG8gd", "a-b_", "Y Q==", "YQ==\n", "é", "Y", "=", "==", "YWJj=", "+A=", "AAAAYQ="] {
            assert_eq!(decode_basic(input), Err(InvalidBase64), "{input:?}");
        }
    }

    #[test]
    fn url_decoder_matches_java() {
        assert_eq!(decode_url("a-b_").map(|b| hex(&b)), Ok("6be6ff".into()));
        assert_eq!(decode_url("a+b/"), Err(InvalidBase64));
        assert_eq!(decode_url("aW52YWxpZExpbmtDb2Rl").map(|b| b.len()), Ok(15));
        // "invalidLinkCode": 15 symbols, a dangling group of three; the last bits are ignored.
        assert_eq!(decode_url("invalidLinkCode").map(|b| b.len()), Ok(11));
        assert_eq!(decode_url("YQ="), Err(InvalidBase64));
        assert_eq!(decode_url("YQ"), Ok(vec![0x61]));
    }

    #[test]
    fn mixed_decoder_reads_both_alphabets() {
        assert_eq!(decode_mixed("a-b/").map(|b| hex(&b)), Ok("6be6ff".into()));
        assert_eq!(decode_mixed("a+b_").map(|b| hex(&b)), Ok("6be6ff".into()));
        assert_eq!(decode_mixed("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
        assert_eq!(decode_mixed("eyJhIjoxfQ=="), decode_mixed("eyJhIjoxfQ"));
        assert_eq!(decode_mixed("a.b"), Err(InvalidBase64));
    }
}
