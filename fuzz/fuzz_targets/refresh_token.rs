//! Refresh tokens from a hostile client: `session::refresh_token::parse` (split, AES-GCM
//! decryption, payload JSON). The first byte picks the mode: raw token text, or a payload we
//! encrypt under the app's key ourselves so that the reading after decryption sees arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::crypto::refresh;
use portcullis_core::session::refresh_token::{create, parse};

/// A fixed master key in the core's format (the content does not matter, only that it is fixed).
const MASTER: &str = "1000:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff:ffeeddccbbaa99887766554433221100";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match mode % 3 {
        0 => {
            // Nothing we did not encrypt may decrypt.
            assert!(parse(MASTER, text).is_none(), "a token we did not encrypt was read");
        }
        1 => {
            // An encrypted payload of any content, with the nonce taken from after the first NUL.
            let (payload, nonce) = text.split_once('\0').unwrap_or((text, ""));
            let encrypted = refresh::encrypt(MASTER, payload).expect("encrypt");
            if let Some(info) = parse(MASTER, &format!("{encrypted}.{nonce}.V2")) {
                // Whatever it read round-trips through the token it would mint.
                let again = create(MASTER, &info).expect("create");
                assert_eq!(parse(MASTER, &again), Some(info));
            }
        }
        _ => {
            // decrypt alone, on arbitrary base64-ish text.
            if let Ok(plain) = refresh::decrypt(MASTER, text) {
                panic!("decrypted a forged ciphertext: {plain:?}");
            }
        }
    }
});
