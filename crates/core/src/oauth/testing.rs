//! Helpers shared by the provider's unit tests: deterministic randomness, a signing key, clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::client::{Client, ClientConfig};
use super::random::Random;
use crate::crypto::keys::{generate_key_string, SigningKey};
use crate::crypto::CryptoError;

/// Bytes from a counter: every call gives different, reproducible bytes.
pub struct SeqRandom(AtomicU64);

impl SeqRandom {
    pub fn new() -> SeqRandom {
        SeqRandom(AtomicU64::new(1))
    }
}

impl Random for SeqRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (n as u8).wrapping_mul(31).wrapping_add(i as u8).wrapping_add((n >> 8) as u8);
        }
        Ok(())
    }
}

/// A random source that always fails.
pub struct BrokenRandom;

impl Random for BrokenRandom {
    fn fill(&self, _: &mut [u8]) -> Result<(), CryptoError> {
        Err(CryptoError::Random)
    }
}

/// One RSA key for all tests of the process (generating one takes a while).
pub fn key_string() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| generate_key_string().expect("key"))
}

pub fn signing_key() -> SigningKey {
    SigningKey::from_key_string(key_string()).expect("key")
}

pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

pub const NOW: i64 = 1_700_000_000_000;

/// A confidential client allowed the code, refresh and client-credentials grants.
pub fn client() -> Client {
    let config = ClientConfig {
        client_name: "RP".into(),
        scope: "openid offline_access email api.*".into(),
        redirect_uris: vec!["https://rp.example.com/cb".into(), "http://localhost:3000/cb?x=1".into()],
        post_logout_redirect_uris: vec!["https://rp.example.com/bye".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into(), "client_credentials".into()],
        response_types: vec!["code".into(), "id_token".into(), "code id_token".into(), "token id_token".into()],
        audience: vec!["https://api.example.com".into()],
        metadata: obj(json!({"k": "v"})),
        ..ClientConfig::default()
    };
    Client {
        client_id: "stcl_test".into(),
        secret_hash: None,
        enable_refresh_token_rotation: false,
        config,
        created_at: NOW - 1000,
        updated_at: NOW - 1000,
    }
}
