//! The worked examples of docs/migrating.md: exports from Auth0, Firebase and Cognito, converted by
//! scripts/bulk-import (tests/bulk-import/test_converters.py checks that the committed expected.json
//! files are exactly what the converters write), are valid bulk-import batches; the imported hashes
//! are stored as they are and verify with the users' original passwords (Firebase's only with its
//! project's signer key); Cognito's shared hash matches no password.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use portcullis_core::bulkimport::api::{parse_batch, validate_batch, Batch};
use portcullis_core::bulkimport::model::Password;
use portcullis_core::bulkimport::plan::{Account, ImportPlan};
use portcullis_core::bulkimport::{AppFacts, BulkUser};
use portcullis_core::crypto::password::{verify, PasswordError, VerifySettings, MISSING_SIGNER_KEY_MESSAGE};
use serde_json::Value;

const NOW: i64 = 1_750_000_000_000;

fn read(path: &str) -> String {
    let full = format!("{}/../../tests/bulk-import/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn facts(signer_key: bool) -> AppFacts {
    AppFacts { tenant_pools: [("public".to_owned(), String::new())].into(), firebase_signer_key_set: signer_key, ..AppFacts::default() }
}

/// The batch validated as `POST /bulk-import/users` validates it.
fn validate(path: &str, facts: &AppFacts) -> Result<Vec<BulkUser>, Value> {
    let body = json(path);
    let Ok(Batch::Users(users)) = parse_batch(body.as_object().expect("a JSON object")) else { panic!("{path}: not a batch of users") };
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("00000000-0000-4000-8000-{n:012}")
    };
    validate_batch(&users, facts, NOW, &mut next)
}

fn hash_of<'u>(users: &'u [BulkUser], external_id: &str) -> &'u str {
    let user = users.iter().find(|u| u.external_user_id.as_deref() == Some(external_id)).unwrap_or_else(|| panic!("{external_id} missing"));
    match user.login_methods.iter().find_map(|m| m.password()) {
        Some(Password::Hash(h)) => h,
        other => panic!("{external_id}: expected an imported hash, got {other:?}"),
    }
}

fn passwords(path: &str) -> Vec<(String, String)> {
    json(path).as_object().expect("passwords").iter().map(|(k, v)| (k.clone(), v.as_str().expect("a password").to_owned())).collect()
}

/// Imported hashes are planned exactly as given: never hashed again.
fn assert_planned_verbatim(users: &[BulkUser]) {
    for u in users {
        let plan = ImportPlan::new(u, &HashMap::new(), NOW).expect("no plain-text password to hash");
        for planned in &plan.login_methods {
            if let Account::EmailPassword { password_hash, .. } = &planned.account {
                let source = u.login_methods.iter().find(|m| m.super_tokens_user_id == planned.recipe_user_id).expect("its method");
                assert_eq!(Some(password_hash.as_str()), source.password_hash.as_deref());
            }
        }
    }
}

#[test]
fn auth0_bcrypt_hashes_import_and_verify() {
    let users = validate("auth0/expected.json", &facts(false)).expect("the Auth0 batch is valid");
    assert_eq!(users.len(), 4);
    let no_key = VerifySettings::default();
    for (external_id, password) in passwords("auth0/passwords.json") {
        let hash = hash_of(&users, &external_id);
        assert!(hash.starts_with("$2b$10$"), "{hash}");
        assert_eq!(verify(&password, hash, &no_key), Ok(true), "{external_id} signs in with the password it had");
        assert_eq!(verify(&format!("{password}x"), hash, &no_key), Ok(false));
    }
    // The linked Auth0 user: its database identity is primary, Google is linked to it; emails
    // are normalised by the import.
    let alice = users.iter().find(|u| u.external_user_id.as_deref() == Some("auth0|5dea9f9c82dd7c0e76e4ec93")).unwrap();
    assert_eq!(alice.login_methods.len(), 2);
    assert!(alice.login_methods[0].is_primary && alice.login_methods[0].is_verified);
    assert_eq!(alice.login_methods[0].email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.login_methods[1].third_party_id.as_deref(), Some("google"));
    assert_eq!(alice.login_methods[0].time_joined, 1_575_657_372_412);
    assert_eq!(alice.id, alice.login_methods[0].super_tokens_user_id);
    assert_planned_verbatim(&users);
}

#[test]
fn a_fresh_2b_hash_as_auth0_exports_it_imports_and_verifies() {
    // A hash made here (bcrypt's $2b$ identifier, cost 10), as the Auth0 export carries them.
    let salt: [u8; 16] = portcullis_core::crypto::random_bytes(16).unwrap().try_into().unwrap();
    let hash = bcrypt::hash_with_salt("made in this test", 10, salt).unwrap().format_for_version(bcrypt::Version::TwoB);
    let batch = serde_json::json!({"users": [{"externalUserId": "auth0|fresh", "loginMethods": [
        {"recipeId": "emailpassword", "email": "fresh@example.com", "passwordHash": hash, "hashingAlgorithm": "bcrypt", "isPrimary": true}
    ]}]});
    let Ok(Batch::Users(users)) = parse_batch(batch.as_object().unwrap()) else { panic!("batch") };
    let mut next = || "00000000-0000-4000-8000-000000000001".to_owned();
    let users = validate_batch(&users, &facts(false), NOW, &mut next).expect("valid");
    assert_eq!(verify("made in this test", hash_of(&users, "auth0|fresh"), &VerifySettings::default()), Ok(true));
}

fn signer_key(path: &str) -> String {
    let text = read(path);
    let after = text.split("base64_signer_key").nth(1).expect("a signer key");
    after.trim_start_matches(|c: char| c == '"' || c == ':' || c.is_whitespace()).split(|c: char| c == '"' || c == ',' || c.is_whitespace()).next().expect("value").to_owned()
}

#[test]
fn firebase_scrypt_hashes_verify_with_their_projects_signer_key() {
    let projects = [("project-a", "hash-config.txt"), ("project-b", "hash-config.json")];
    let keys: Vec<String> = projects.iter().map(|(p, c)| signer_key(&format!("firebase/{p}/{c}"))).collect();
    for (i, (project, _)) in projects.iter().enumerate() {
        let path = format!("firebase/{project}/expected.json");
        // Without the signer key the batch is refused, user by user (the core answers 500).
        let refused = validate(&path, &facts(false)).expect_err("no signer key");
        assert!(refused.to_string().contains(MISSING_SIGNER_KEY_MESSAGE), "{refused}");
        let users = validate(&path, &facts(true)).expect("valid with the signer key set");
        let right = VerifySettings { firebase_signer_key: Some(keys[i].clone()) };
        let other = VerifySettings { firebase_signer_key: Some(keys[1 - i].clone()) };
        for (external_id, password) in passwords(&format!("firebase/{project}/passwords.json")) {
            let hash = hash_of(&users, &external_id);
            assert!(hash.starts_with("$f_scrypt$") && hash.len() <= 256, "{hash}");
            assert_eq!(verify(&password, hash, &right), Ok(true), "{project}: {external_id} signs in with its password");
            assert_eq!(verify("wrong password", hash, &right), Ok(false));
            assert_eq!(verify(&password, hash, &other), Ok(false), "another project's signer key does not verify");
            assert_eq!(verify(&password, hash, &VerifySettings::default()), Err(PasswordError::MissingFirebaseSignerKey));
        }
        assert_planned_verbatim(&users);
    }
    let users = validate("firebase/project-a/expected.json", &facts(true)).unwrap();
    // The phone user's number is normalised to E.164; the email-link user is passwordless.
    let phone = users.iter().find(|u| u.external_user_id.as_deref() == Some("Hk3pQz9aWmB1cD2eF3gH4iJ5kL6m")).unwrap();
    assert_eq!(phone.login_methods[0].phone_number.as_deref(), Some("+14155550123"));
    assert_eq!(users[0].user_metadata.as_ref().and_then(|m| m.get("role")), Some(&Value::from("editor")));
}

#[test]
fn cognito_users_get_a_hash_that_matches_no_password() {
    let users = validate("cognito/expected.json", &facts(false)).expect("the Cognito batch is valid");
    let unusable = read("cognito/unusable-hash.txt").trim().to_owned();
    for u in users.iter().filter(|u| u.login_methods.iter().any(|m| m.password().is_some())) {
        assert_eq!(hash_of(&users, u.external_user_id.as_deref().unwrap()), unusable);
        assert_eq!(u.user_metadata.as_ref().and_then(|m| m.get("cognitoPasswordReset")), Some(&Value::Bool(true)));
        for guess in ["", "password", "testuser@example.com", u.external_user_id.as_deref().unwrap()] {
            assert_eq!(verify(guess, &unusable, &VerifySettings::default()), Ok(false));
        }
    }
    let federated = users.iter().find(|u| u.external_user_id.as_deref() == Some("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")).unwrap();
    assert_eq!(federated.login_methods[0].third_party_user_id.as_deref(), Some("110987654321098765432"));
    assert_eq!(users[0].login_methods[0].time_joined, 1_689_980_857_949);
    assert_planned_verbatim(&users);
}
