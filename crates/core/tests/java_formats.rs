//! Keys and tokens made by other implementations from the documented formats are read and accepted.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_core::crypto::keys::{PublicKey, SigningKey};
use portcullis_core::session::refresh_token;
use serde_json::Value;

#[test]
fn openssl_key_pair_in_the_core_key_string_form_signs_and_verifies() {
    let s = include_str!("fixtures/keypair_openssl.txt").trim();
    let key = SigningKey::from_key_string(s).expect("the key string parses");
    let sig = key.sign(b"header.payload").unwrap();
    let public = PublicKey::from_key_string(s).unwrap();
    assert!(public.verify(b"header.payload", &sig));
    let jwk = public.jwk("d-1");
    assert_eq!(jwk["e"], "AQAB");
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(jwk["n"].as_str().unwrap().len(), 342);
}

#[test]
fn reference_refresh_token_decrypts() {
    let f: Value = serde_json::from_str(include_str!("fixtures/refresh_token_reference.json")).unwrap();
    let info = refresh_token::parse(f["master_key"].as_str().unwrap(), f["token"].as_str().unwrap()).expect("the token parses");
    let p = &f["payload"];
    assert_eq!(info.session_handle, p["sessionHandle"].as_str().unwrap());
    assert_eq!(info.user_id, p["userId"].as_str().unwrap());
    assert_eq!(info.parent_refresh_token_hash_1.as_deref(), p["parentRefreshTokenHash1"].as_str());
    assert_eq!(info.anti_csrf_token.as_deref(), p["antiCsrfToken"].as_str());
    assert_eq!(info.tenant_id, "t1");
    assert!(refresh_token::parse("another key", f["token"].as_str().unwrap()).is_none());
}
