//! The SAML response verifier against the recorded fixtures of `tests/fixtures/saml` (made by the
//! signxml test IdP, `tests/sdk/python/saml_idp.py`; see the README there): every valid response is
//! accepted with the claims it carries, every forgery is refused with the right status, and no
//! input, however broken, makes the verifier panic.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use portcullis_core::saml::callback::{self, CallbackError};
use portcullis_core::saml::response::{decode, Expected, Login, MalformedResponse, Refusal, SamlResponse};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml")
}

struct Fixture {
    now: i64,
    relay_state: String,
    sp_entity_id: String,
    certificate: String,
}

fn fixture() -> Fixture {
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(dir().join("fixture.json")).unwrap()).unwrap();
    let pem = std::fs::read_to_string(dir().join("idp_cert.pem")).unwrap();
    Fixture {
        now: meta["now_ms"].as_i64().unwrap(),
        relay_state: meta["relay_state"].as_str().unwrap().to_owned(),
        sp_entity_id: meta["sp_entity_id"].as_str().unwrap().to_owned(),
        certificate: pem.lines().filter(|l| !l.starts_with("-----")).collect(),
    }
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The whole callback verification of one posted response, as the API runs it: decode, parse,
/// verify; `Ok(claims)` or the status it would answer.
fn post(saml_response_b64: &str, login: Login<'_>, certificate: &str, now: i64) -> Result<Value, CallbackError> {
    let f = fixture();
    let xml = decode(saml_response_b64)?;
    let response = SamlResponse::parse(&xml)?;
    let expected = Expected { idp_certificate: certificate, sp_entity_id: &f.sp_entity_id, now_ms: now, login };
    Ok(Value::Object(response.verify(&expected)?))
}

fn verify_at(name: &str, login: Login<'_>, now: i64) -> Result<Value, CallbackError> {
    post(&STANDARD.encode(read(name)), login, &fixture().certificate, now)
}

/// SP-initiated, one second after the IdP answered.
fn verify(name: &str) -> Result<Value, CallbackError> {
    let f = fixture();
    verify_at(name, Login::SpInitiated { relay_state: &f.relay_state }, f.now + 1000)
}

fn refusal(name: &str) -> Refusal {
    match verify(name) {
        Err(CallbackError::VerificationFailed(r)) => r,
        other => panic!("{name}: expected a verification failure, got {other:?}"),
    }
}

#[test]
fn a_valid_assertion_signed_response_gives_its_claims() {
    let claims = verify("valid_assertion_signed.xml").unwrap();
    assert_eq!(
        claims.to_string(),
        r#"{"NameID":["alice@example.com"],"NameIDFormat":["urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"],"email":["alice@example.com"],"groups":["admins","developers","qa"],"department":["engineering"],"nested":["nested value"]}"#
    );
}

#[test]
fn response_signed_both_signed_and_sha1_responses_are_accepted() {
    for name in ["valid_response_signed.xml", "valid_both_signed.xml", "valid_sha1.xml"] {
        let claims = verify(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(claims["NameID"], serde_json::json!(["alice@example.com"]), "{name}");
    }
}

#[test]
fn a_comment_inside_the_name_id_never_truncates_it() {
    let claims = verify("valid_comment_in_name_id.xml").unwrap();
    assert_eq!(claims["NameID"], serde_json::json!(["admin@victim.example.evil.example"]));
}

#[test]
fn idp_initiated_responses_carry_no_in_response_to() {
    let f = fixture();
    let at = f.now + 1000;
    assert!(verify_at("valid_idp_initiated.xml", Login::IdpInitiated, at).is_ok());
    // A solicited response posted without its relay state is refused...
    assert_eq!(
        verify_at("valid_assertion_signed.xml", Login::IdpInitiated, at),
        Err(CallbackError::VerificationFailed(Refusal::SubjectConfirmation("InResponseTo in an unsolicited response")))
    );
    // ...and an unsolicited one does not answer a login.
    assert_eq!(
        verify_at("valid_idp_initiated.xml", Login::SpInitiated { relay_state: &f.relay_state }, at),
        Err(CallbackError::VerificationFailed(Refusal::SubjectConfirmation("no Recipient")))
    );
}

#[test]
fn the_response_answers_only_its_own_login() {
    let f = fixture();
    let other = Login::SpInitiated { relay_state: "9b2d7c44-1e0f-4a3b-8c5d-6e7f8a9b0c1d" };
    assert_eq!(
        verify_at("valid_assertion_signed.xml", other, f.now),
        Err(CallbackError::VerificationFailed(Refusal::SubjectConfirmation("InResponseTo or Recipient is not this login's")))
    );
    assert_eq!(refusal("wrong_in_response_to.xml"), Refusal::SubjectConfirmation("InResponseTo or Recipient is not this login's"));
    assert_eq!(refusal("wrong_recipient.xml"), Refusal::SubjectConfirmation("InResponseTo or Recipient is not this login's"));
    assert_eq!(refusal("wrong_destination.xml"), Refusal::SubjectConfirmation("the Response's Destination differs"));
}

#[test]
fn time_limits() {
    let f = fixture();
    let sp = Login::SpInitiated { relay_state: &f.relay_state };
    let valid = "valid_assertion_signed.xml";
    // Conditions: NotBefore = now - 5 s, no skew.
    assert!(verify_at(valid, sp, f.now - 5000).is_ok());
    assert_eq!(verify_at(valid, sp, f.now - 5001), Err(CallbackError::VerificationFailed(Refusal::Conditions)));
    // The bearer confirmation expires with Conditions (now + 5 min): valid until just before.
    assert!(verify_at(valid, sp, f.now + 299_999).is_ok());
    assert_eq!(verify_at(valid, sp, f.now + 300_000), Err(CallbackError::VerificationFailed(Refusal::SubjectConfirmation("expired"))));
    // IssueInstant: 5 minutes either way.
    assert_eq!(verify_at(valid, sp, f.now + 300_001), Err(CallbackError::VerificationFailed(Refusal::IssueInstant)));

    assert_eq!(refusal("expired.xml"), Refusal::IssueInstant);
    assert_eq!(refusal("issue_instant_skewed.xml"), Refusal::IssueInstant);
    assert_eq!(refusal("conditions_expired.xml"), Refusal::Conditions);
    assert_eq!(refusal("not_yet_valid.xml"), Refusal::Conditions);
    assert_eq!(refusal("subject_confirmation_expired.xml"), Refusal::SubjectConfirmation("expired"));
}

#[test]
fn audience_and_status() {
    assert_eq!(refusal("wrong_audience.xml"), Refusal::Audience);
    assert_eq!(refusal("status_failure.xml"), Refusal::Status);
    // A tenant with another SP entity id refuses the default one's responses.
    let f = fixture();
    let xml = read("valid_assertion_signed.xml");
    let response = SamlResponse::parse(&xml).unwrap();
    let expected = Expected {
        idp_certificate: &f.certificate,
        sp_entity_id: "https://sp.example.com",
        now_ms: f.now,
        login: Login::SpInitiated { relay_state: &f.relay_state },
    };
    assert_eq!(response.verify(&expected).unwrap_err().0, Refusal::Audience);
}

#[test]
fn signature_forgeries_are_refused() {
    let cases = [
        ("forged_tampered_name_id.xml", Refusal::SignatureInvalid),
        ("forged_xsw_advice.xml", Refusal::SignatureInvalid),
        ("forged_xsw_advice_same_id.xml", Refusal::DuplicateId),
        ("forged_xsw_extensions_response.xml", Refusal::SignatureInvalid),
        ("forged_xsw_extensions_assertion.xml", Refusal::NotSigned),
        ("forged_xsw_extensions_assertion_copied_signature.xml", Refusal::SignatureInvalid),
        ("forged_unsigned_sibling.xml", Refusal::AssertionCount),
        ("forged_two_signed_assertions.xml", Refusal::AssertionCount),
        ("forged_encrypted_assertion_beside.xml", Refusal::EncryptedAssertion),
        ("forged_other_key.xml", Refusal::SignatureInvalid),
        ("forged_unsigned.xml", Refusal::NotSigned),
        ("forged_hmac_signature_method.xml", Refusal::SignatureInvalid),
    ];
    for (name, expected) in cases {
        assert_eq!(refusal(name), expected, "{name}");
    }
}

/// What the pre-scan refuses is refused before the signature library runs at all: no file is
/// read for `URI="Cargo.toml"` (which exists in this crate's directory, the tests' working
/// directory), no XPath or XSLT is evaluated.
#[test]
fn dangerous_signature_content_is_refused_before_the_library_runs() {
    let cases = [
        ("forged_reference_local_file.xml", "a Reference that is not to an ID in the document"),
        ("forged_empty_reference_uri.xml", "a Reference that is not to an ID in the document"),
        ("forged_xpath_transform.xml", "a Transform other than enveloped-signature or exclusive C14N"),
        ("forged_xslt_transform.xml", "a Transform other than enveloped-signature or exclusive C14N"),
        ("forged_ds_object.xml", "a ds:Object, ds:Manifest or ds:RetrievalMethod"),
        ("forged_two_references.xml", "a SignedInfo without exactly one Reference"),
    ];
    assert!(std::path::Path::new("Cargo.toml").exists(), "the tests run in the crate directory");
    for (name, reason) in cases {
        assert_eq!(refusal(name), Refusal::Forbidden(reason), "{name}");
    }
}

#[test]
fn doctypes_are_malformed_input() {
    for name in ["forged_doctype_internal_entity.xml", "forged_doctype_external_entity.xml"] {
        assert_eq!(verify(name), Err(CallbackError::Malformed(MalformedResponse)), "{name}");
    }
}

#[test]
fn a_signature_by_the_stored_certificate_only() {
    let f = fixture();
    // The other key's certificate travels in its response's KeyInfo; trusting it makes the genuine
    // responses fail and that one pass, so the stored certificate is what decides.
    let forged = read("forged_other_key.xml");
    let start = forged.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = forged.find("</ds:X509Certificate>").unwrap();
    let other_cert: String = forged[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    let sp = Login::SpInitiated { relay_state: &f.relay_state };
    assert!(post(&STANDARD.encode(&forged), sp, &other_cert, f.now).is_ok());
    assert_eq!(
        post(&STANDARD.encode(read("valid_assertion_signed.xml")), sp, &other_cert, f.now),
        Err(CallbackError::VerificationFailed(Refusal::SignatureInvalid))
    );
    assert_eq!(
        post(&STANDARD.encode(read("valid_assertion_signed.xml")), sp, "not a certificate", f.now),
        Err(CallbackError::VerificationFailed(Refusal::BadCertificate))
    );
}

#[test]
fn the_issuer_picks_the_client_of_an_idp_initiated_login() {
    let xml = read("valid_idp_initiated.xml");
    assert_eq!(SamlResponse::parse(&xml).unwrap().issuer().as_deref(), Some("https://idp.test/metadata"));
    // Without a Response Issuer, the assertion's.
    let start = xml.find("<saml:Issuer>").unwrap();
    let end = xml.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    let without = format!("{}{}", &xml[..start], &xml[end..]);
    assert_eq!(SamlResponse::parse(&without).unwrap().issuer().as_deref(), Some("https://idp.test/metadata"));
    let bare = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#;
    assert_eq!(SamlResponse::parse(bare).unwrap().issuer(), None);
}

#[test]
fn malformed_input_is_the_cores_400() {
    let f = fixture();
    let sp = Login::SpInitiated { relay_state: &f.relay_state };
    let malformed = Err(CallbackError::Malformed(MalformedResponse));
    let valid = read("valid_assertion_signed.xml");
    for input in [
        String::new(),
        "%%%".into(),
        STANDARD.encode("hello"),
        STANDARD.encode("<root></root>"),
        STANDARD.encode(&valid[..valid.len() / 2]),
        STANDARD.encode([0xc3, 0x28, 0xa0, 0xa1]),
        STANDARD.encode(valid.replace("samlp:Response", "samlp:LogoutResponse")),
        STANDARD.encode(format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000))),
        "A".repeat(3 << 20),
    ] {
        assert_eq!(post(&input, sp, &f.certificate, f.now), malformed, "{}", &input[..input.len().min(40)]);
    }
    // Base64 wrapped in lines (as some IdPs and proxies send it) is read.
    let wrapped: Vec<String> = STANDARD.encode(&valid).as_bytes().chunks(76).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    assert!(post(&wrapped.join("\r\n"), sp, &f.certificate, f.now).is_ok());
}

/// Broken versions of a valid response (cut short anywhere, a byte changed anywhere) give a 400 or
/// a refusal, never a panic; and when one is still accepted, its claims are the genuine ones.
/// (A change can be harmless: inside a KeyInfo, which is never trusted, or one that turns the
/// Response's own signature into an unknown element, leaving the signed assertion.)
#[test]
fn damaged_responses_never_panic_or_change_the_claims() {
    let f = fixture();
    let sp = Login::SpInitiated { relay_state: &f.relay_state };
    for name in ["valid_both_signed.xml", "valid_assertion_signed.xml"] {
        let valid = read(name).into_bytes();
        let genuine = post(&STANDARD.encode(&valid), sp, &f.certificate, f.now).unwrap();
        let mut refused = 0;
        for cut in (1..valid.len()).step_by(53) {
            let result = post(&STANDARD.encode(&valid[..cut]), sp, &f.certificate, f.now);
            assert!(result.is_err(), "{name}: cut at {cut}");
        }
        for at in (0..valid.len()).step_by(29) {
            let mut damaged = valid.clone();
            damaged[at] = if damaged[at] == b'x' { b'y' } else { b'x' };
            match post(&STANDARD.encode(&damaged), sp, &f.certificate, f.now) {
                Ok(claims) => assert_eq!(claims, genuine, "{name}: byte {at} changed the claims"),
                Err(_) => refused += 1,
            }
        }
        assert!(refused > valid.len() / 29 / 2, "{name}: most changes are refused ({refused})");
    }
}

#[test]
fn every_fixture_is_covered() {
    let tested = [
        "valid_assertion_signed.xml", "valid_response_signed.xml", "valid_both_signed.xml", "valid_sha1.xml",
        "valid_comment_in_name_id.xml", "valid_idp_initiated.xml", "expired.xml", "issue_instant_skewed.xml",
        "conditions_expired.xml", "not_yet_valid.xml", "subject_confirmation_expired.xml", "wrong_audience.xml",
        "status_failure.xml", "wrong_in_response_to.xml", "wrong_recipient.xml", "wrong_destination.xml",
        "forged_tampered_name_id.xml", "forged_xsw_advice.xml", "forged_xsw_advice_same_id.xml",
        "forged_xsw_extensions_response.xml", "forged_xsw_extensions_assertion.xml",
        "forged_xsw_extensions_assertion_copied_signature.xml", "forged_unsigned_sibling.xml",
        "forged_two_signed_assertions.xml", "forged_encrypted_assertion_beside.xml", "forged_other_key.xml",
        "forged_unsigned.xml", "forged_hmac_signature_method.xml", "forged_reference_local_file.xml",
        "forged_empty_reference_uri.xml", "forged_xpath_transform.xml", "forged_xslt_transform.xml",
        "forged_ds_object.xml", "forged_two_references.xml", "forged_doctype_internal_entity.xml",
        "forged_doctype_external_entity.xml", "idp_metadata.xml",
    ];
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".xml") {
            assert!(tested.contains(&name.as_str()), "{name} has no test");
        }
    }
}

#[test]
fn the_callback_target_feeds_the_verifier() {
    let f = fixture();
    let client = portcullis_core::saml::client::SamlClient {
        client_id: "c".into(),
        client_secret: None,
        sso_login_url: "https://idp.test/sso".into(),
        redirect_uris: vec!["http://app/cb".into()],
        default_redirect_uri: "http://app/cb".into(),
        idp_entity_id: "https://idp.test/metadata".into(),
        idp_signing_certificate: f.certificate.clone(),
        allow_idp_initiated_login: true,
        enable_request_signing: false,
        created_at: 0,
        updated_at: 0,
    };
    let row = callback::RelayState::new(f.relay_state.clone(), "c".into(), Some("st".into()), "http://app/cb".into(), f.now, 300_000);
    let target = callback::sp_initiated(row, Some(client.clone())).unwrap();
    let xml = read("valid_assertion_signed.xml");
    let claims = SamlResponse::parse(&xml).unwrap().verify(&target.expected(&f.sp_entity_id, f.now)).unwrap();
    assert_eq!(claims["NameID"][0], "alice@example.com");
    let target = callback::idp_initiated(Some(client)).unwrap();
    let xml = read("valid_idp_initiated.xml");
    assert!(SamlResponse::parse(&xml).unwrap().verify(&target.expected(&f.sp_entity_id, f.now)).is_ok());
}
