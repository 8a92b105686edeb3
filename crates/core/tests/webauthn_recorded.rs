//! Real responses of Chromium's virtual authenticator (tests/fixtures/webauthn/chromium.json, see
//! its README) verify as the SDKs would have them verified: EdDSA, ES256 and RS256 credentials,
//! with `none` and `packed` x5c attestation, registered and then signing in twice. Then the same
//! recorded responses, replayed or checked against other options, are refused.
//!
//! The output of the SDK tests' software authenticators (tests/sdk/node/webauthn-authenticator.js
//! and tests/sdk/python/webauthn_authenticator.py, run once to make software-{node,python}.json)
//! verifies too: every algorithm with `none`, `packed` self and `packed` x5c.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portcullis_core::webauthn::storage::{CredentialWithTenants, GeneratedOptions};
use portcullis_core::webauthn::verify::attestation::AttestationKind;
use portcullis_core::webauthn::verify::{registration, sign_in, sign_in_credential_id, VerifiedRegistration};
use portcullis_core::webauthn::{b64url, b64url_decode, WebauthnError};
use serde_json::Value;

const RECORDED: &str = include_str!("fixtures/webauthn/chromium.json");
const NOW: i64 = 1_765_000_000_000;

fn cases() -> Vec<Value> {
    let file: Value = serde_json::from_str(RECORDED).expect("fixture JSON");
    file["cases"].as_array().expect("cases").clone()
}

fn text(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

/// The options row the core would have stored for these options.
fn options(id: &str, challenge: &Value, case: &Value, email: Option<&str>) -> GeneratedOptions {
    GeneratedOptions {
        tenant_id: "public".into(),
        id: id.into(),
        challenge: text(challenge),
        email: email.map(str::to_owned),
        rp_id: text(&case["rpId"]),
        rp_name: "Portcullis".into(),
        origin: text(&case["origin"]),
        expires_at: NOW + 60_000,
        created_at: NOW,
        user_presence_required: true,
        user_verification: "preferred".into(),
    }
}

fn register(case: &Value) -> (GeneratedOptions, VerifiedRegistration) {
    let o = &case["registerOptions"];
    let options = options(&text(&o["webauthnGeneratedOptionsId"]), &o["challenge"], case, Some("fixture@example.com"));
    let verified = registration(Some(&options), &case["registration"], NOW).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
    (options, verified)
}

fn sign_in_options(case: &Value, i: usize) -> GeneratedOptions {
    options(&format!("sign-in-{i}"), &case["signIns"][i]["options"]["challenge"], case, None)
}

#[test]
fn recorded_registrations_and_sign_ins_verify() {
    let cases = cases();
    assert_eq!(cases.len(), 6);
    for case in &cases {
        let name = text(&case["name"]);
        let (_, verified) = register(case);
        assert_eq!(verified.algorithm, case["algorithm"].as_i64().unwrap(), "{name}");
        let direct = case["attestation"] == "direct";
        assert_eq!(verified.format, if direct { "packed" } else { "none" }, "{name}");
        assert_eq!(verified.attestation, if direct { AttestationKind::Basic } else { AttestationKind::Unverified }, "{name}");
        assert_eq!(verified.credential_id, text(&case["registration"]["id"]), "{name}");
        assert_eq!(verified.transports, r#"["internal"]"#, "{name}");
        // The attested credential data as stored: Chromium's AAGUID, then the id's length and bytes.
        let id = b64url_decode(&verified.credential_id).unwrap();
        assert_eq!(verified.public_key[..16], [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8], "{name}");
        assert_eq!(usize::from(u16::from_be_bytes([verified.public_key[16], verified.public_key[17]])), id.len(), "{name}");
        assert_eq!(verified.public_key[18..18 + id.len()], id[..], "{name}");

        let mut stored = CredentialWithTenants { credential: verified.credential_row("user", NOW), user_tenant_ids: vec!["public".into()] };
        for i in 0..2 {
            let options = sign_in_options(case, i);
            let assertion = &case["signIns"][i]["assertion"];
            assert_eq!(sign_in_credential_id(Some(&options), assertion).unwrap(), verified.credential_id, "{name}");
            let signed_in = sign_in(&options, assertion, Some(&stored), NOW).unwrap_or_else(|e| panic!("{name}, sign-in {i}: {e}"));
            assert!(signed_in.new_counter > signed_in.old_counter, "{name}");
            // The user handle is the register options' user.id.
            assert_eq!(assertion["response"]["userHandle"], case["registerOptions"]["user"]["id"], "{name}");
            stored.credential.counter = signed_in.new_counter;
        }
        assert_eq!(Some(stored.credential.counter), case["finalSignCount"].as_i64(), "{name}");
    }
}

fn reason<T: std::fmt::Debug>(r: Result<T, WebauthnError>) -> String {
    r.unwrap_err().reason().unwrap_or_default().to_owned()
}

#[test]
fn recorded_responses_replayed_or_misdirected_are_refused() {
    for case in &cases() {
        let name = text(&case["name"]);
        let (register_options, verified) = register(case);
        let stored = CredentialWithTenants { credential: verified.credential_row("user", NOW), user_tenant_ids: vec!["public".into()] };
        let first = &case["signIns"][0]["assertion"];

        // A replayed challenge: the first assertion against the second sign-in's options.
        assert_eq!(
            reason(sign_in(&sign_in_options(case, 1), first, Some(&stored), NOW)),
            "The actual challenge does not match the expected challenge",
            "{name}"
        );
        // A replayed assertion after the counter moved on.
        let mut moved = stored.clone();
        moved.credential.counter = case["finalSignCount"].as_i64().unwrap();
        assert_eq!(
            reason(sign_in(&sign_in_options(case, 0), first, Some(&moved), NOW)),
            "Malicious counter value is detected. Cloned authenticators exist in parallel.",
            "{name}"
        );
        // Another origin, another relying party.
        let elsewhere = GeneratedOptions { origin: "https://portcullis.example".into(), ..sign_in_options(case, 0) };
        assert!(reason(sign_in(&elsewhere, first, Some(&stored), NOW)).contains("origin doesn't match"), "{name}");
        let other_rp = GeneratedOptions { rp_id: "example.com".into(), ..sign_in_options(case, 0) };
        assert_eq!(reason(sign_in(&other_rp, first, Some(&stored), NOW)), "rpIdHash doesn't match the hash of preconfigured rpId.", "{name}");
        let other_rp = GeneratedOptions { rp_id: "example.com".into(), ..register_options.clone() };
        assert_eq!(reason(registration(Some(&other_rp), &case["registration"], NOW)), "rpIdHash doesn't match the hash of preconfigured rpId.", "{name}");
        // A forged signature.
        let mut forged = first.clone();
        let mut sig = b64url_decode(forged["response"]["signature"].as_str().unwrap()).unwrap();
        sig[10] ^= 1;
        forged["response"]["signature"] = b64url(&sig).into();
        assert_eq!(reason(sign_in(&sign_in_options(case, 0), &forged, Some(&stored), NOW)), "Assertion signature is not valid.", "{name}");
        // The registration with the sign-in challenge (a challenge made for another ceremony).
        let wrong = GeneratedOptions { challenge: sign_in_options(case, 0).challenge, ..register_options.clone() };
        assert_eq!(reason(registration(Some(&wrong), &case["registration"], NOW)), "The actual challenge does not match the expected challenge", "{name}");
        // An assertion is not a registration and the other way round.
        assert_eq!(reason(registration(Some(&register_options), first, NOW)), "attestationObject must not be null", "{name}");
        assert_eq!(reason(sign_in(&sign_in_options(case, 0), &case["registration"], Some(&stored), NOW)), "signature must not be null", "{name}");
    }
}

const SOFTWARE: [&str; 2] = [include_str!("fixtures/webauthn/software-node.json"), include_str!("fixtures/webauthn/software-python.json")];

#[test]
fn the_sdk_tests_software_authenticators_verify() {
    for file in SOFTWARE {
        let file: Value = serde_json::from_str(file).expect("fixture JSON");
        let cases = file["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 9, "{}", file["madeBy"]);
        for case in cases {
            let name = text(&case["name"]);
            let register_options = options("register", &case["registerChallenge"], case, Some("a@b.com"));
            let verified = registration(Some(&register_options), &case["registration"], NOW).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(verified.algorithm, case["algorithm"].as_i64().unwrap(), "{name}");
            let kind = match case["attestation"].as_str() {
                Some("none") => AttestationKind::Unverified,
                Some("packed") => AttestationKind::SelfAttestation,
                _ => AttestationKind::Basic,
            };
            assert_eq!(verified.attestation, kind, "{name}");
            let stored = CredentialWithTenants { credential: verified.credential_row("user", NOW), user_tenant_ids: vec!["public".into()] };
            let sign_in_options = options("sign-in", &case["signInChallenge"], case, None);
            let signed_in = sign_in(&sign_in_options, &case["assertion"], Some(&stored), NOW).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((signed_in.old_counter, signed_in.new_counter), (0, 1), "{name}");
        }
    }
}
