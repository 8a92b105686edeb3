//! Access tokens from a hostile client: `session::access_token::parse` then `verify`.
//! The first byte picks the mode: raw token text (parse and verify against our key), or claims
//! JSON that we sign ourselves so that `verify`'s claim reading sees arbitrary, validly signed input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::crypto::keys::{generate_key_string, PublicKey, SigningKey};
use portcullis_core::session::access_token::{parse, AccessTokenInfo, TokenError};

/// Generated once, before fuzzing starts (RSA key generation takes seconds).
fn keys() -> &'static (SigningKey, PublicKey) {
    static KEYS: OnceLock<(SigningKey, PublicKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = SigningKey::from_key_string(&generate_key_string().expect("keygen")).expect("key");
        let public = key.public_key().expect("public key");
        (key, public)
    })
}

/// A token over the given header and payload text, signed with our key.
fn signed(header: &[u8], payload: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let sig = keys().0.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn check(token: &str) -> Option<Result<AccessTokenInfo, TokenError>> {
    let parsed = parse(token).ok()?;
    let version = parsed.version;
    let got = parsed.verify(&keys().1);
    if let Ok(info) = &got {
        assert_eq!(info.version, version);
        assert!((3..=5).contains(&info.version));
    }
    Some(got)
}

fuzz_target!(init: { keys(); }, |data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            // Raw text: nothing unsigned by us may verify.
            if let Ok(token) = std::str::from_utf8(rest) {
                if let Some(Ok(_)) = check(token) {
                    panic!("a token we did not sign verified");
                }
            }
        }
        1 => {
            // Arbitrary payload under a valid header.
            let header = br#"{"alg":"RS256","typ":"JWT","version":"5","kid":"d-1"}"#;
            check(&signed(header, rest));
        }
        _ => {
            // Header and payload both arbitrary, split at the first NUL.
            let at = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let (header, payload) = rest.split_at(at);
            check(&signed(header, payload.get(1..).unwrap_or_default()));
        }
    }
});
