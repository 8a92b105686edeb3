//! Both ceremonies end to end with the software authenticator: every algorithm and attestation
//! format, then one changed input per negative test. (Recorded Chromium responses are checked in
//! `tests/webauthn_recorded.rs`.)

use ciborium::Value as Cbor;
use serde_json::{json, Value};

use super::attestation::AttestationKind;
use super::authenticator_data::{FLAG_AT, FLAG_BS, FLAG_UP, FLAG_UV};
use super::*;
use crate::webauthn::options::{consumed_expires_at, options_json, Fresh, RegisterOptions, RegisterOptionsRequest, SignInOptions, SignInOptionsRequest};
use crate::webauthn::storage::CredentialWithTenants;
use crate::webauthn::test_authenticator::{tamper, Algorithm, Attestation, Authenticator, CertificateProfile, Request};
use crate::webauthn::{b64url, b64url_decode};

const NOW: i64 = 1_765_000_000_000;
const ORIGIN: &str = "https://example.com";
const RP: &str = "example.com";

fn register_options_with(user_verification: &str, user_presence: bool) -> GeneratedOptions {
    let req = RegisterOptionsRequest {
        email: "a@b.com".into(),
        relying_party_name: "Example".into(),
        relying_party_id: RP.into(),
        origin: ORIGIN.into(),
        timeout: Some(60_000),
        user_verification: Some(user_verification.into()),
        user_presence: Some(user_presence),
        ..RegisterOptionsRequest::default()
    };
    RegisterOptions::validate(req).unwrap().generate("public", &Fresh::generate().unwrap(), None, NOW, serde_json::json!("OK")).0
}

fn register_options() -> GeneratedOptions {
    register_options_with("preferred", true)
}

fn sign_in_options_with(user_verification: &str) -> GeneratedOptions {
    let req = SignInOptionsRequest {
        relying_party_name: "Example".into(),
        relying_party_id: RP.into(),
        origin: ORIGIN.into(),
        timeout: Some(60_000),
        user_verification: Some(user_verification.into()),
        user_presence: Some(true),
    };
    SignInOptions::validate(req).unwrap().generate("public", &Fresh::generate().unwrap(), NOW, serde_json::json!("OK")).0
}

fn sign_in_options() -> GeneratedOptions {
    sign_in_options_with("preferred")
}

fn request(options: &GeneratedOptions) -> Request {
    Request::new(&options.challenge, ORIGIN, RP)
}

/// (status, reason) of a failed ceremony.
fn failure<T: std::fmt::Debug>(r: Result<T, WebauthnError>) -> (&'static str, String) {
    let e = r.unwrap_err();
    (e.status(), e.reason().unwrap_or_default().to_owned())
}

fn authenticator_error(reason: &str) -> (&'static str, String) {
    ("INVALID_AUTHENTICATOR_ERROR", reason.to_owned())
}

/// Registers `auth` with fresh options and returns the stored credential of user `u1` in `public`.
fn registered(auth: &mut Authenticator, attestation: &Attestation) -> CredentialWithTenants {
    let options = register_options();
    let json = auth.register(&request(&options), attestation);
    let verified = registration(Some(&options), &json, NOW).unwrap();
    CredentialWithTenants { credential: verified.credential_row("u1", NOW), user_tenant_ids: vec!["public".into()] }
}

fn verify_assertion_json(stored: &CredentialWithTenants, options: &GeneratedOptions, json: &Value) -> Result<VerifiedAssertion, WebauthnError> {
    let id = sign_in_credential_id(Some(options), json)?;
    assert_eq!(id, stored.credential.id);
    sign_in(options, json, Some(stored), NOW)
}

/// Re-encodes the attestation object of a registration JSON after `change`.
fn edit_attestation(credential: &mut Value, change: impl FnOnce(&mut Vec<(Cbor, Cbor)>)) {
    tamper(credential, "/response/attestationObject", |bytes| {
        let value: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap();
        let mut map = value.into_map().unwrap();
        change(&mut map);
        bytes.clear();
        ciborium::ser::into_writer(&Cbor::Map(map), bytes).unwrap();
    });
}

fn member<'a>(map: &'a mut [(Cbor, Cbor)], key: &str) -> &'a mut Cbor {
    &mut map.iter_mut().find(|(k, _)| k.as_text() == Some(key)).unwrap().1
}

fn statement_member<'a>(map: &'a mut [(Cbor, Cbor)], key: &str) -> &'a mut Cbor {
    let Cbor::Map(stmt) = member(map, "attStmt") else { panic!("attStmt") };
    &mut stmt.iter_mut().find(|(k, _)| k.as_text() == Some(key)).unwrap().1
}

// ---------------------------------------------------------------------------------------------
// Every algorithm with every attestation format, registered and then signing in twice.

#[test]
fn every_algorithm_and_attestation_registers_and_signs_in() {
    for alg in Algorithm::ALL {
        for (attestation, kind) in [
            (Attestation::None, AttestationKind::Unverified),
            (Attestation::PackedSelf, AttestationKind::SelfAttestation),
            (Attestation::x5c(), AttestationKind::Basic),
        ] {
            let what = format!("{alg:?} with {attestation:?}");
            let mut auth = Authenticator::new(alg);
            let options = register_options();
            let json = auth.register(&request(&options), &attestation);
            let verified = registration(Some(&options), &json, NOW).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(verified.credential_id, auth.credential_id_b64(), "{what}");
            assert_eq!(verified.public_key, auth.attested_credential_data(), "{what}");
            assert_eq!((verified.algorithm, verified.attestation, verified.counter), (alg.cose(), kind, 0), "{what}");
            assert_eq!(verified.format, if attestation == Attestation::None { "none" } else { "packed" });
            assert_eq!((verified.email.as_str(), verified.rp_id.as_str(), verified.transports.as_str()), ("a@b.com", RP, r#"["internal"]"#));

            let mut stored = CredentialWithTenants { credential: verified.credential_row("u1", NOW), user_tenant_ids: vec!["public".into()] };
            for expected_counter in [1, 2] {
                let options = sign_in_options();
                let assertion = auth.assert(&request(&options), Some(b"user-handle"));
                let signed_in = verify_assertion_json(&stored, &options, &assertion).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(
                    signed_in,
                    VerifiedAssertion {
                        credential_id: auth.credential_id_b64(),
                        rp_id: RP.into(),
                        user_id: "u1".into(),
                        old_counter: expected_counter - 1,
                        new_counter: expected_counter,
                    },
                    "{what}"
                );
                stored.credential.counter = signed_in.new_counter;
            }
        }
    }
}

#[test]
fn authenticators_without_a_counter_sign_in_every_time() {
    let mut auth = Authenticator::new(Algorithm::Es256);
    auth.counter_step = 0;
    let stored = registered(&mut auth, &Attestation::None);
    for _ in 0..2 {
        let options = sign_in_options();
        let assertion = auth.assert(&request(&options), None);
        assert_eq!(verify_assertion_json(&stored, &options, &assertion).unwrap().new_counter, 0);
    }
}

#[test]
fn a_key_stored_by_the_java_core_verifies() {
    // The Java core re-encodes the COSE key (Jackson CBOR: integer labels, its own order).
    let mut auth = Authenticator::new(Algorithm::EdDsa);
    let mut stored = registered(&mut auth, &Attestation::None);
    let data = auth.attested_credential_data();
    let header_len = 18 + auth.credential_id.len();
    let key: Cbor = ciborium::de::from_reader(&data[header_len..]).unwrap();
    let mut entries = key.into_map().unwrap();
    entries.reverse();
    let mut reencoded = data[..header_len].to_vec();
    ciborium::ser::into_writer(&Cbor::Map(entries), &mut reencoded).unwrap();
    assert_ne!(reencoded, data);
    stored.credential.public_key = reencoded;
    let options = sign_in_options();
    let assertion = auth.assert(&request(&options), None);
    assert!(verify_assertion_json(&stored, &options, &assertion).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Registration: options.

#[test]
fn registration_needs_usable_registration_options() {
    let mut auth = Authenticator::new(Algorithm::Es256);
    let options = register_options();
    let json = auth.register(&request(&options), &Attestation::None);
    assert_eq!(registration(None, &json, NOW), Err(WebauthnError::OptionsNotFound));
    let consumed = GeneratedOptions { expires_at: consumed_expires_at(options.created_at), ..options.clone() };
    assert_eq!(registration(Some(&consumed), &json, NOW), Err(WebauthnError::OptionsNotFound));
    let late = options.expires_at + 1;
    assert_eq!(failure(registration(Some(&options), &json, late)), ("INVALID_OPTIONS_ERROR", "Options expired".into()));
    // The credential's shape is checked before expiry, as in the core.
    assert_eq!(failure(registration(Some(&options), &json!({}), late)), ("INVALID_CREDENTIALS_ERROR", "credential id is missing!".into()));
    // Sign-in options (no email) cannot register a credential.
    let sign_in = GeneratedOptions { email: None, ..options.clone() };
    assert_eq!(
        failure(registration(Some(&sign_in), &json, NOW)),
        ("INVALID_OPTIONS_ERROR", "Options were not generated for registration".into())
    );
    assert!(registration(Some(&options), &json, options.expires_at).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Registration: what the client and the authenticator say.

fn register_with(change: impl FnOnce(&mut Request), attestation: &Attestation, options: &GeneratedOptions) -> Result<VerifiedRegistration, WebauthnError> {
    let mut auth = Authenticator::new(Algorithm::Es256);
    let mut req = request(options);
    change(&mut req);
    let json = auth.register(&req, attestation);
    registration(Some(options), &json, NOW)
}

#[test]
fn registration_checks_client_data_rp_and_flags() {
    let options = register_options();
    let att = Attestation::PackedSelf;
    assert_eq!(
        failure(register_with(|r| r.origin = "https://evil.com".into(), &att, &options)),
        authenticator_error("The collectedClientData 'https://evil.com' origin doesn't match any of the preconfigured server origin.")
    );
    assert_eq!(
        failure(register_with(|r| r.challenge = b64url(&[0u8; 32]), &att, &options)),
        authenticator_error("The actual challenge does not match the expected challenge")
    );
    assert_eq!(
        failure(register_with(|r| r.client_data_type = Some("webauthn.get".into()), &att, &options)),
        authenticator_error("ClientData.type must be 'create' on registration, but it isn't.")
    );
    assert_eq!(
        failure(register_with(|r| r.rp_id = "evil.com".into(), &att, &options)),
        authenticator_error("rpIdHash doesn't match the hash of preconfigured rpId.")
    );
    assert_eq!(
        failure(register_with(|r| r.flags = FLAG_UV, &att, &options)),
        authenticator_error("Verifier is configured to check user present, but UP flag in authenticatorData is not set.")
    );
    assert_eq!(
        failure(register_with(|r| r.flags = FLAG_UP | FLAG_UV | FLAG_BS, &att, &options)),
        authenticator_error("Backup state bit must not be set if backup eligibility bit is not set")
    );
    // UV is checked only when the options require it; UP only when they ask for it.
    assert!(register_with(|r| r.flags = FLAG_UP, &att, &options).is_ok());
    let required = register_options_with("required", false);
    assert_eq!(
        failure(register_with(|r| r.flags = FLAG_UP, &att, &required)),
        authenticator_error("Verifier is configured to check user verified, but UV flag in authenticatorData is not set.")
    );
    assert!(register_with(|r| r.flags = FLAG_UV, &att, &required).is_ok());
}

#[test]
fn registration_checks_the_packed_signatures() {
    for attestation in [Attestation::PackedSelf, Attestation::x5c()] {
        for alg in Algorithm::ALL {
            let mut auth = Authenticator::new(alg);
            let options = register_options();
            let mut json = auth.register(&request(&options), &attestation);
            edit_attestation(&mut json, |m| {
                let Cbor::Bytes(sig) = statement_member(m, "sig") else { panic!("sig") };
                let last = sig.len() - 1;
                sig[last] ^= 1;
            });
            assert_eq!(
                failure(registration(Some(&options), &json, NOW)),
                authenticator_error("Packed attestation signature is not valid."),
                "{alg:?} {attestation:?}"
            );
        }
    }
    // Self attestation must use the credential key's algorithm.
    let mut auth = Authenticator::new(Algorithm::Es256);
    let options = register_options();
    let mut json = auth.register(&request(&options), &Attestation::PackedSelf);
    edit_attestation(&mut json, |m| *statement_member(m, "alg") = Cbor::from(-257));
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Self attestation algorithm does not match the credential key"));
    // The signature covers the client data: another client data (same challenge) breaks it.
    let mut json = auth.register(&request(&options), &Attestation::PackedSelf);
    let other = auth.register(&Request { cross_origin: true, ..request(&options) }, &Attestation::None);
    json["response"]["clientDataJSON"] = other["response"]["clientDataJSON"].clone();
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Packed attestation signature is not valid."));
}

#[test]
fn registration_checks_the_attestation_certificate() {
    let options = register_options();
    let reason = |why: &str| authenticator_error(&format!("Packed attestation certificate does not meet the requirements: {why}"));
    let with = |profile: CertificateProfile| register_with(|_| {}, &Attestation::PackedX5c(profile), &options);
    assert_eq!(
        failure(with(CertificateProfile { organizational_unit: "Sales".into(), ..CertificateProfile::default() })),
        reason("its subject OU must be 'Authenticator Attestation'")
    );
    assert_eq!(failure(with(CertificateProfile { ca: true, ..CertificateProfile::default() })), reason("it must not be a CA certificate"));
    assert_eq!(
        failure(with(CertificateProfile { aaguid_extension: Some([0xee; 16]), ..CertificateProfile::default() })),
        reason("its AAGUID does not match the authenticator data")
    );
    assert_eq!(
        failure(with(CertificateProfile { aaguid_extension_critical: true, ..CertificateProfile::default() })),
        reason("its AAGUID extension must not be critical")
    );
    // The AAGUID extension is optional.
    assert!(with(CertificateProfile { aaguid_extension: None, ..CertificateProfile::default() }).is_ok());

    let mut auth = Authenticator::new(Algorithm::EdDsa);
    let mut json = auth.register(&request(&options), &Attestation::x5c());
    edit_attestation(&mut json, |m| *statement_member(m, "x5c") = Cbor::Array(vec![Cbor::Bytes(vec![0x30, 0x03, 1, 2, 3])]));
    assert_eq!(
        failure(registration(Some(&options), &json, NOW)),
        authenticator_error("Packed attestation certificate is not a valid X.509 certificate")
    );
    let mut json = auth.register(&request(&options), &Attestation::x5c());
    edit_attestation(&mut json, |m| *statement_member(m, "x5c") = Cbor::Array(vec![]));
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Packed attestation 'x5c' is not an array of certificates"));
    // The statement's alg must match the certificate's key (an ES256 key here).
    let mut json = auth.register(&request(&options), &Attestation::x5c());
    edit_attestation(&mut json, |m| *statement_member(m, "alg") = Cbor::from(-257));
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Packed attestation certificate key does not match alg -257"));
    let mut json = auth.register(&request(&options), &Attestation::x5c());
    edit_attestation(&mut json, |m| *statement_member(m, "alg") = Cbor::from(-65535));
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Unsupported attestation algorithm -65535"));
    let mut json = auth.register(&request(&options), &Attestation::PackedSelf);
    edit_attestation(&mut json, |m| *statement_member(m, "sig") = Cbor::from("not bytes"));
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Packed attestation statement has no byte string 'sig'"));
}

#[test]
fn registration_formats_other_than_none_and_packed() {
    let options = register_options();
    let mut auth = Authenticator::new(Algorithm::Es256);
    let with_format = |auth: &mut Authenticator, fmt: &str| {
        let mut json = auth.register(&request(&options), &Attestation::None);
        edit_attestation(&mut json, |m| *member(m, "fmt") = Cbor::from(fmt));
        registration(Some(&options), &json, NOW)
    };
    for fmt in ["tpm", "android-key", "android-safetynet", "apple"] {
        assert_eq!(with_format(&mut auth, fmt).unwrap().attestation, AttestationKind::Unverified, "{fmt}");
    }
    assert_eq!(
        failure(with_format(&mut auth, "fido-u2f")),
        authenticator_error("AAGUID is expected to be zero filled in U2F attestation, but it isn't.")
    );
    auth.aaguid = [0; 16];
    assert!(with_format(&mut auth, "fido-u2f").is_ok());
    assert_eq!(
        failure(with_format(&mut auth, "compound")),
        authenticator_error("AttestationVerifier is not configured to handle the supplied AttestationStatement format 'compound'.")
    );
}

#[test]
fn registration_refuses_keys_it_could_not_verify_later() {
    use coset::{iana, CborSerializable, CoseKeyBuilder};
    let options = register_options();
    let mut auth = Authenticator::new(Algorithm::Es256);
    auth.cose_key_override = Some(
        CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_521, vec![1; 66], vec![2; 66])
            .algorithm(iana::Algorithm::ES512)
            .build()
            .to_vec()
            .unwrap(),
    );
    let json = auth.register(&request(&options), &Attestation::None);
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Unsupported credential public key algorithm -36"));
    auth.cose_key_override = Some(
        CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, vec![1; 31], vec![2; 32]).algorithm(iana::Algorithm::ES256).build().to_vec().unwrap(),
    );
    let json = auth.register(&request(&options), &Attestation::None);
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("Credential public key is not a valid COSE key"));
}

#[test]
fn registration_needs_the_attested_credential_id() {
    let options = register_options();
    let mut auth = Authenticator::new(Algorithm::Es256);
    let mut json = auth.register(&request(&options), &Attestation::None);
    json["id"] = b64url(&[1, 2, 3]).into();
    assert_eq!(
        failure(registration(Some(&options), &json, NOW)),
        ("INVALID_CREDENTIALS_ERROR", "credential id does not match the attested credential id".into())
    );
    let mut json = auth.register(&request(&options), &Attestation::None);
    json["rawId"] = b64url(&[1, 2, 3]).into();
    assert_eq!(failure(registration(Some(&options), &json, NOW)).1, "credential id does not match the attested credential id");
    // Authenticator data without attested credential data.
    let mut json = auth.register(&request(&options), &Attestation::None);
    edit_attestation(&mut json, |m| {
        let Cbor::Bytes(auth_data) = member(m, "authData") else { panic!("authData") };
        auth_data.truncate(37);
        auth_data[32] &= !FLAG_AT;
    });
    assert_eq!(failure(registration(Some(&options), &json, NOW)), authenticator_error("attestedCredentialData must not be null on registration"));
}

#[test]
fn malformed_registrations_are_invalid_credentials_never_panics() {
    let options = register_options();
    let mut auth = Authenticator::new(Algorithm::Rs256);
    let good = auth.register(&request(&options), &Attestation::x5c());
    let creds = |json: &Value| {
        let e = registration(Some(&options), json, NOW).unwrap_err();
        assert_eq!(e.status(), "INVALID_CREDENTIALS_ERROR", "{e}");
        e.reason().unwrap_or_default().to_owned()
    };
    let mut json = good.clone();
    json["response"]["attestationObject"] = "not base64!".into();
    assert_eq!(creds(&json), "attestationObject is not valid base64url");
    let mut json = good.clone();
    json["response"]["attestationObject"] = b64url(b"\xff\xff").into();
    assert!(creds(&json).starts_with("attestationObject is not valid CBOR"));
    let mut json = good.clone();
    json["response"]["attestationObject"] = b64url(&[0x01]).into();
    assert_eq!(creds(&json), "attestationObject is not a CBOR map");
    let mut json = good.clone();
    tamper(&mut json, "/response/attestationObject", |b| b.push(0));
    assert_eq!(creds(&json), "attestationObject has unexpected trailing bytes");
    let mut json = good.clone();
    json["response"]["clientDataJSON"] = b64url(b"{not json").into();
    assert!(creds(&json).starts_with("clientDataJSON is not valid"));
    let mut json = good.clone();
    edit_attestation(&mut json, |m| m.retain(|(k, _)| k.as_text() != Some("fmt")));
    assert_eq!(creds(&json), "attestationObject has no text 'fmt'");
    let mut json = good.clone();
    edit_attestation(&mut json, |m| {
        let Cbor::Bytes(auth_data) = member(m, "authData") else { panic!("authData") };
        auth_data.truncate(60);
    });
    assert!(creds(&json).contains("too short"));

    // Every truncation of the attestation object, and of its authenticator data, fails cleanly.
    let object = b64url_decode(good["response"]["attestationObject"].as_str().unwrap()).unwrap();
    for cut in 0..object.len() {
        let mut json = good.clone();
        json["response"]["attestationObject"] = b64url(&object[..cut]).into();
        assert!(registration(Some(&options), &json, NOW).is_err());
    }
    let auth_data_len = b64url_decode(good["response"]["authenticatorData"].as_str().unwrap()).unwrap().len();
    for cut in 0..auth_data_len {
        let mut json = good.clone();
        edit_attestation(&mut json, |m| {
            let Cbor::Bytes(auth_data) = member(m, "authData") else { panic!("authData") };
            auth_data.truncate(cut);
        });
        assert!(registration(Some(&options), &json, NOW).is_err());
    }
    // Random bytes in every binary member.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..300 {
        let len = (round % 97) + 1;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        for pointer in ["/response/attestationObject", "/response/clientDataJSON"] {
            let mut json = good.clone();
            *json.pointer_mut(pointer).unwrap() = b64url(&bytes).into();
            assert!(registration(Some(&options), &json, NOW).is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in.

#[test]
fn sign_in_needs_usable_options_and_a_credential_of_the_tenant() {
    let mut auth = Authenticator::new(Algorithm::EdDsa);
    let stored = registered(&mut auth, &Attestation::None);
    let options = sign_in_options();
    let assertion = auth.assert(&request(&options), None);
    assert_eq!(sign_in_credential_id(None, &assertion), Err(WebauthnError::OptionsNotFound));
    assert_eq!(failure(sign_in_credential_id(Some(&options), &json!({"id": "AQID"}))).1, "credential type is missing!");
    // Unknown credential; credential of a user who is not in the options' tenant.
    assert_eq!(sign_in(&options, &assertion, None, NOW), Err(WebauthnError::CredentialNotFound));
    let elsewhere = CredentialWithTenants { user_tenant_ids: vec!["t1".into()], ..stored.clone() };
    assert_eq!(sign_in(&options, &assertion, Some(&elsewhere), NOW), Err(WebauthnError::CredentialNotFound));
    let t1_options = GeneratedOptions { tenant_id: "t1".into(), ..options.clone() };
    assert!(sign_in(&t1_options, &assertion, Some(&elsewhere), NOW).is_ok());
    // Expiry comes after the credential lookup, as in the core.
    let late = options.expires_at + 1;
    assert_eq!(failure(sign_in(&options, &assertion, Some(&stored), late)), ("INVALID_OPTIONS_ERROR", "Options expired".into()));
    assert_eq!(sign_in(&options, &assertion, None, late), Err(WebauthnError::CredentialNotFound));
    assert!(sign_in(&options, &assertion, Some(&stored), NOW).is_ok());
}

#[test]
fn sign_in_options_are_single_use_but_stay_readable() {
    let mut auth = Authenticator::new(Algorithm::Es256);
    auth.counter_step = 0; // so that only single use stops the replay
    let stored = registered(&mut auth, &Attestation::None);
    let options = sign_in_options();
    let assertion = auth.assert(&request(&options), None);
    assert!(verify_assertion_json(&stored, &options, &assertion).is_ok());
    // What the store does on success at CDI ≤ 5.4 ...
    let used = GeneratedOptions { expires_at: consumed_expires_at(options.created_at), ..options.clone() };
    // ... the SDKs then read the options back: still there ...
    assert_eq!(options_json(&used, serde_json::json!("OK"))["webauthnGeneratedOptionsId"], options.id.as_str());
    // ... but the same assertion cannot sign in again.
    assert_eq!(sign_in_credential_id(Some(&used), &assertion), Err(WebauthnError::OptionsNotFound));
    // Nor with other options: the challenge is theirs.
    let other = sign_in_options();
    assert_eq!(
        failure(verify_assertion_json(&stored, &other, &assertion)),
        authenticator_error("The actual challenge does not match the expected challenge")
    );
}

fn assert_with(change: impl FnOnce(&mut Request)) -> (CredentialWithTenants, GeneratedOptions, Value) {
    let mut auth = Authenticator::new(Algorithm::Es256);
    let stored = registered(&mut auth, &Attestation::None);
    let options = sign_in_options();
    let mut req = request(&options);
    change(&mut req);
    let assertion = auth.assert(&req, None);
    (stored, options, assertion)
}

#[test]
fn sign_in_checks_client_data_rp_and_flags() {
    let check = |change: fn(&mut Request)| {
        let (stored, options, assertion) = assert_with(change);
        failure(verify_assertion_json(&stored, &options, &assertion))
    };
    assert_eq!(
        check(|r| r.origin = "https://example.com.evil.com".into()),
        authenticator_error("The collectedClientData 'https://example.com.evil.com' origin doesn't match any of the preconfigured server origin.")
    );
    assert_eq!(check(|r| r.challenge = b64url(b"an old challenge")), authenticator_error("The actual challenge does not match the expected challenge"));
    assert_eq!(check(|r| r.client_data_type = Some("webauthn.create".into())), authenticator_error("ClientData.type must be 'get' on authentication, but it isn't."));
    assert_eq!(check(|r| r.cross_origin = true), authenticator_error("Cross-origin request is prohibited. Relax AuthenticationDataVerifier config if necessary."));
    assert_eq!(check(|r| r.rp_id = "other.example".into()), authenticator_error("rpIdHash doesn't match the hash of preconfigured rpId."));
    assert_eq!(check(|r| r.flags = 0), authenticator_error("Verifier is configured to check user present, but UP flag in authenticatorData is not set."));

    // UV required but not set.
    let mut auth = Authenticator::new(Algorithm::Rs256);
    let stored = registered(&mut auth, &Attestation::None);
    let options = sign_in_options_with("required");
    let assertion = auth.assert(&Request { flags: FLAG_UP, ..request(&options) }, None);
    assert_eq!(
        failure(verify_assertion_json(&stored, &options, &assertion)),
        authenticator_error("Verifier is configured to check user verified, but UV flag in authenticatorData is not set.")
    );
    let assertion = auth.assert(&request(&options), None);
    assert!(verify_assertion_json(&stored, &options, &assertion).is_ok());
}

#[test]
fn forged_signatures_are_refused() {
    for alg in Algorithm::ALL {
        let mut auth = Authenticator::new(alg);
        let stored = registered(&mut auth, &Attestation::None);
        let options = sign_in_options();
        let mut assertion = auth.assert(&request(&options), None);
        tamper(&mut assertion, "/response/signature", |sig| sig[5] ^= 0x40);
        assert_eq!(failure(verify_assertion_json(&stored, &options, &assertion)), authenticator_error("Assertion signature is not valid."), "{alg:?}");
        // Signed by another key claiming the credential's id.
        let mut impostor = Authenticator::with_own_key(alg);
        impostor.credential_id = auth.credential_id.clone();
        impostor.sign_count = 10;
        let assertion = impostor.assert(&request(&options), None);
        assert_eq!(failure(verify_assertion_json(&stored, &options, &assertion)), authenticator_error("Assertion signature is not valid."), "{alg:?}");
        // Authenticator data changed after signing (the counter pushed up).
        let mut assertion = auth.assert(&request(&options), None);
        tamper(&mut assertion, "/response/authenticatorData", |d| d[36] = d[36].wrapping_add(7));
        assert_eq!(failure(verify_assertion_json(&stored, &options, &assertion)), authenticator_error("Assertion signature is not valid."), "{alg:?}");
    }
}

#[test]
fn counters_must_grow() {
    let mut auth = Authenticator::new(Algorithm::EdDsa);
    let mut stored = registered(&mut auth, &Attestation::None);
    stored.credential.counter = 5;
    auth.sign_count = 2;
    let backwards = "Malicious counter value is detected. Cloned authenticators exist in parallel.";
    let options = sign_in_options();
    let assertion = auth.assert(&request(&options), None); // counter 3 < 5
    assert_eq!(failure(verify_assertion_json(&stored, &options, &assertion)), authenticator_error(backwards));
    auth.sign_count = 4;
    let assertion = auth.assert(&request(&options), None); // counter 5 = 5: a replay
    assert_eq!(failure(verify_assertion_json(&stored, &options, &assertion)), authenticator_error(backwards));
    let assertion = auth.assert(&request(&options), None); // 6 > 5
    assert_eq!(verify_assertion_json(&stored, &options, &assertion).unwrap().new_counter, 6);
    // An authenticator that stops counting after it counted is a clone, too.
    auth.sign_count = 0;
    auth.counter_step = 0;
    let assertion = auth.assert(&request(&options), None);
    assert_eq!(failure(verify_assertion_json(&stored, &options, &assertion)), authenticator_error(backwards));
}

#[test]
fn malformed_assertions_are_refused_never_panics() {
    let mut auth = Authenticator::new(Algorithm::Es256);
    let stored = registered(&mut auth, &Attestation::None);
    let options = sign_in_options();
    let good = auth.assert(&request(&options), None);
    let check = |json: &Value| failure(sign_in(&options, json, Some(&stored), NOW));
    let mut json = good.clone();
    json["response"]["authenticatorData"] = "%%".into();
    assert_eq!(check(&json), ("INVALID_CREDENTIALS_ERROR", "authenticatorData is not valid base64url".into()));
    let mut json = good.clone();
    tamper(&mut json, "/response/authenticatorData", |d| d.truncate(20));
    assert_eq!(check(&json), ("INVALID_CREDENTIALS_ERROR", "authenticator data is too short".into()));
    let mut json = good.clone();
    json["response"]["clientDataJSON"] = b64url(b"[]").into();
    assert_eq!(check(&json).0, "INVALID_CREDENTIALS_ERROR");
    let mut json = good.clone();
    json["response"]["signature"] = b64url(b"").into();
    assert_eq!(check(&json), authenticator_error("Assertion signature is not valid."));
    let mut json = good.clone();
    json["rawId"] = b64url(b"other").into();
    assert_eq!(check(&json), ("INVALID_CREDENTIALS_ERROR", "credential rawId does not match its id".into()));
    let mut json = good.clone();
    json["response"].as_object_mut().unwrap().remove("signature");
    assert_eq!(check(&json), authenticator_error("signature must not be null"));

    // Attested credential data in an assertion.
    let mut json = good.clone();
    let registration_data = {
        let reg = auth.register(&request(&register_options()), &Attestation::None);
        b64url_decode(reg["response"]["authenticatorData"].as_str().unwrap()).unwrap()
    };
    let client_data = b64url_decode(json["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
    let signed = [registration_data.as_slice(), ring::digest::digest(&SHA256, &client_data).as_ref()].concat();
    json["response"]["authenticatorData"] = b64url(&registration_data).into();
    json["response"]["signature"] = b64url(&auth.sign(&signed)).into();
    assert_eq!(check(&json), authenticator_error("attestedCredentialData must be null on authentication"));

    // A stored key that cannot be read.
    let broken = CredentialWithTenants {
        credential: StoredCredential { public_key: vec![0; 10], ..stored.credential.clone() },
        ..stored.clone()
    };
    let e = sign_in(&options, &good, Some(&broken), NOW).unwrap_err();
    assert!(e.reason().unwrap_or_default().starts_with("The stored credential public key cannot be used"), "{e}");

    // Every truncation and random bytes.
    let data = b64url_decode(good["response"]["authenticatorData"].as_str().unwrap()).unwrap();
    for cut in 0..data.len() {
        let mut json = good.clone();
        json["response"]["authenticatorData"] = b64url(&data[..cut]).into();
        assert!(sign_in(&options, &json, Some(&stored), NOW).is_err());
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..300 {
        let bytes: Vec<u8> = (0..(round % 80) + 1)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        for pointer in ["/response/authenticatorData", "/response/clientDataJSON", "/response/signature"] {
            let mut json = good.clone();
            *json.pointer_mut(pointer).unwrap() = b64url(&bytes).into();
            assert!(sign_in(&options, &json, Some(&stored), NOW).is_err());
        }
    }
}
