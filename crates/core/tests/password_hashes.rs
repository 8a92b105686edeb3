//! Password hashes made by other implementations (pyca bcrypt, libargon2 through argon2-cffi, a
//! Python reference of Firebase's scrypt, and vectors published by the Java core's tests and by
//! Firebase) verify, and are accepted by the import checks; see fixtures/README.md.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_core::crypto::password::{algorithm_of, check_imported, verify, Algorithm, VerifySettings};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let f: Value = serde_json::from_str(include_str!("fixtures/password_hashes.json")).expect("fixture parses");
    f["cases"].as_array().expect("cases").clone()
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key].as_str().unwrap_or_else(|| panic!("{key} in {case}"))
}

fn settings(case: &Value) -> VerifySettings {
    VerifySettings { firebase_signer_key: case["signer_key"].as_str().map(str::to_owned) }
}

#[test]
fn every_fixture_verifies_and_a_wrong_password_does_not() {
    let all = cases();
    assert!(all.len() >= 25, "fixture has {} cases", all.len());
    for case in &all {
        let (password, hash) = (text(case, "password"), text(case, "hash"));
        let s = settings(case);
        assert_eq!(verify(password, hash, &s), Ok(true), "{case}");
        // The slow case (the Java core's default argon2 parameters, 86 MiB) is checked once only.
        if case["slow"].as_bool() != Some(true) {
            // bcrypt reads only the first 72 bytes, in pyca's C code and jBCrypt alike.
            let beyond_bcrypt_limit = case["algorithm"] == "bcrypt" && password.len() >= 72;
            assert_eq!(verify(&format!("{password}!"), hash, &s), Ok(beyond_bcrypt_limit), "{case}");
            let mut shorter = password.to_owned();
            if shorter.pop().is_some() {
                assert_eq!(verify(&shorter, hash, &s), Ok(false), "{case}");
            }
        }
    }
}

#[test]
fn fixtures_are_accepted_by_the_import_checks_with_and_without_a_hint() {
    for case in cases() {
        let (name, hash) = (text(&case, "algorithm"), text(&case, "hash"));
        let algorithm = Algorithm::from_name(name).expect("known algorithm");
        assert_eq!(algorithm_of(hash), Some(algorithm), "{case}");
        assert_eq!(check_imported(hash, Some(name)), Ok(algorithm), "{case}");
        assert_eq!(check_imported(hash, None), Ok(algorithm), "{case}");
    }
}

#[test]
fn every_algorithm_variant_is_covered() {
    let all = cases();
    let hashes: Vec<&str> = all.iter().map(|c| text(c, "hash")).collect();
    for prefix in [
        "$2a$",
        "$2b$",
        "$2y$",
        "$argon2i$v=19$",
        "$argon2d$v=19$",
        "$argon2id$v=19$",
        "$argon2i$v=16$",
        "$argon2d$v=16$",
        "$argon2id$v=16$",
        "$argon2id$m=",
        "$f_scrypt$",
    ] {
        assert!(hashes.iter().any(|h| h.starts_with(prefix)), "no fixture starts with {prefix}");
    }
    assert!(all.iter().any(|c| !text(c, "password").is_ascii()), "a non-ASCII password is covered");
}

#[test]
fn firebase_fixtures_need_their_own_signer_key() {
    for case in cases().iter().filter(|c| c["algorithm"] == "firebase_scrypt") {
        let (password, hash) = (text(case, "password"), text(case, "hash"));
        let none = VerifySettings::default();
        assert!(verify(password, hash, &none).is_err(), "{case}");
        // Another valid key (the first byte changed) gives another hash.
        let key = text(case, "signer_key");
        let other = format!("{}{}", if key.starts_with('A') { "B" } else { "A" }, &key[1..]);
        let wrong = VerifySettings { firebase_signer_key: Some(other) };
        assert_eq!(verify(password, hash, &wrong), Ok(false), "{case}");
    }
}
