//! PKCE (RFC 7636): the challenge an authorization request carries, and the verifier the token
//! request must present. Both methods are accepted, `S256` and `plain` (an absent method means
//! `plain`, RFC 7636 §4.3) — the issue asks for "S256 and plain as allowed" (D10; Hydra refused
//! `plain`). PKCE stays optional, as in Hydra (`oauth2.pkce.enforced` false by default).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest::{digest, SHA256};

use super::errors::{Kind, OAuthError};
use crate::crypto::secrets_equal;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    S256,
    #[serde(rename = "plain")]
    Plain,
}

/// The challenge of an authorization request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    pub challenge: String,
    pub method: Method,
}

/// `code_verifier` syntax (RFC 7636 §4.1): 43-128 characters of `[A-Za-z0-9-._~]`; a `plain`
/// challenge is a verifier itself, so the same rule applies to it.
fn check_syntax(v: &str, what: &str) -> Result<(), OAuthError> {
    let kind = if what == "verifier" { Kind::InvalidGrant } else { Kind::InvalidRequest };
    if v.len() < 43 {
        return Err(OAuthError::hint(kind, &format!("The PKCE code {what} must be at least 43 characters.")));
    }
    if v.len() > 128 {
        return Err(OAuthError::hint(kind, &format!("The PKCE code {what} can not be longer than 128 characters.")));
    }
    if !v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')) {
        return Err(OAuthError::hint(kind, &format!("The PKCE code {what} must only contain [a-Z], [0-9], '-', '.', '_', '~'.")));
    }
    Ok(())
}

/// Reads `code_challenge` / `code_challenge_method` of an authorization request.
pub fn challenge_of(challenge: Option<&str>, method: Option<&str>) -> Result<Option<Challenge>, OAuthError> {
    let challenge = challenge.filter(|c| !c.is_empty());
    let method = method.filter(|m| !m.is_empty());
    let Some(challenge) = challenge else {
        return match method {
            None => Ok(None),
            Some(_) => Err(OAuthError::hint(
                Kind::InvalidRequest,
                "The code_challenge_method parameter was set but no code_challenge was given.",
            )),
        };
    };
    let method = match method {
        None | Some("plain") => Method::Plain,
        Some("S256") => Method::S256,
        Some(_) => {
            return Err(OAuthError::hint(
                Kind::InvalidRequest,
                "The code_challenge_method is not supported, use S256 instead.",
            ))
        }
    };
    // An S256 challenge is base64url(SHA-256): 43 characters of the same alphabet.
    check_syntax(challenge, "challenge")?;
    Ok(Some(Challenge { challenge: challenge.to_owned(), method }))
}

fn mismatch() -> OAuthError {
    OAuthError::hint(Kind::InvalidGrant, "The PKCE code challenge did not match the code verifier.")
}

/// The token request's check (RFC 7636 §4.6): a stored challenge needs a matching verifier; a verifier
/// without a stored challenge is refused too (it means the code was not the one the client asked for).
pub fn verify(stored: Option<&Challenge>, verifier: Option<&str>) -> Result<(), OAuthError> {
    let verifier = verifier.filter(|v| !v.is_empty());
    match (stored, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(mismatch()),
        (Some(_), None) => Err(OAuthError::hint(
            Kind::InvalidGrant,
            "The PKCE code verifier must be at least 43 characters.",
        )),
        (Some(c), Some(v)) => {
            check_syntax(v, "verifier")?;
            let expected = match c.method {
                Method::S256 => URL_SAFE_NO_PAD.encode(digest(&SHA256, v.as_bytes())),
                Method::Plain => v.to_owned(),
            };
            if secrets_equal(expected.as_bytes(), c.challenge.as_bytes()) {
                Ok(())
            } else {
                Err(mismatch())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_and_plain_verify() {
        let s256 = challenge_of(Some(CHALLENGE), Some("S256")).unwrap().unwrap();
        assert_eq!(s256.method, Method::S256);
        assert!(verify(Some(&s256), Some(VERIFIER)).is_ok());
        let plain = challenge_of(Some(VERIFIER), None).unwrap().unwrap();
        assert_eq!(plain.method, Method::Plain);
        assert!(verify(Some(&plain), Some(VERIFIER)).is_ok());
        assert!(verify(None, None).is_ok());
    }

    #[test]
    fn mismatches_are_invalid_grant() {
        let s256 = challenge_of(Some(CHALLENGE), Some("S256")).unwrap().unwrap();
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
        for (verifier, hint) in [
            (Some(other), "did not match"),
            (None, "at least 43"),
            (Some(""), "at least 43"),
            (Some("short"), "at least 43"),
            (Some(&*"a".repeat(129)), "longer than 128"),
            (Some(&*format!("{other}!")), "must only contain"),
        ] {
            let e = verify(Some(&s256), verifier).unwrap_err();
            assert_eq!((e.error.as_str(), e.status_code), ("invalid_grant", 400));
            assert!(e.description.unwrap().contains(hint), "{verifier:?}");
        }
        // A verifier for a code that had no challenge.
        assert_eq!(verify(None, Some(VERIFIER)).unwrap_err().error, "invalid_grant");
        // Plain compares the verifier itself: the S256 challenge as a plain verifier does not match.
        let plain = challenge_of(Some(VERIFIER), Some("plain")).unwrap().unwrap();
        assert!(verify(Some(&plain), Some(CHALLENGE)).is_err());
    }

    #[test]
    fn bad_challenges_are_invalid_request() {
        assert_eq!(challenge_of(None, None), Ok(None));
        for (c, m) in [(Some(CHALLENGE), Some("S512")), (None, Some("S256")), (Some("short"), Some("S256")), (Some(&*"x".repeat(200)), None)] {
            let e = challenge_of(c, m).unwrap_err();
            assert_eq!(e.error, "invalid_request", "{c:?} {m:?}");
        }
    }
}
