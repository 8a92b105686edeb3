//! The SAML APIs through the real HTTP server, on every backend: clients, login (a real
//! AuthnRequest, signed or not), the callback with the responses the test IdP recorded
//! (`crates/core/tests/fixtures/saml`, signed by signxml at a fixed instant: the server's clock is
//! set to it) and every refusal's status, the code exchange, the SP metadata, the legacy
//! endpoints, and the cleanup of expired rows.

use std::io::Read;

use base64::Engine;
use portcullis_core::ids::TenantKey;
use portcullis_core::saml::storage::RelayState;
use serde_json::{json, Value};

use crate::common::{backends, config, TestApp};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures/saml");
const REDIRECT: &str = "http://app.test/auth/callback/saml-test";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

fn facts() -> Value {
    serde_json::from_str(&fixture("fixture.json")).unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The app with its clock at the fixtures' instant.
async fn app_at_fixture_time(extra: &[(&str, &str)], b: crate::common::Backend) -> TestApp {
    let app = TestApp::spawn_with(config(b, extra)).await;
    let now = facts()["now_ms"].as_i64().unwrap();
    app.clock.advance(now - app.clock.now());
    app
}

async fn create_client(app: &TestApp, prefix: &str, extra: Value) -> Value {
    let mut body = json!({
        "clientId": "c1",
        "clientSecret": "s3cret",
        "defaultRedirectURI": REDIRECT,
        "redirectURIs": [REDIRECT],
        "metadataXML": b64(&fixture("idp_metadata.xml")),
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.json("PUT", &format!("{prefix}/recipe/saml/clients"), Some(body)).await
}

/// The fixtures' relay state, stored as a login would have (its login is the one the
/// SP-initiated fixtures answer).
async fn store_fixture_relay_state(app: &TestApp, tenant: &str, state: Option<&str>) {
    let f = facts();
    let row = RelayState::new(f["relay_state"].as_str().unwrap().into(), "c1".into(), state.map(Into::into), REDIRECT.into(), app.clock.now(), 300_000);
    let storage = app.state.registry.base_storage();
    storage.saml_save_relay_state(TenantKey::new("public", tenant), &row).await.unwrap();
}

async fn post_callback(app: &TestApp, file: &str, relay_state: Option<&str>) -> (u16, String) {
    let mut body = json!({"samlResponse": b64(&fixture(file))});
    if let Some(rs) = relay_state {
        body["relayState"] = json!(rs);
    }
    app.call("POST", "/recipe/saml/callback", Some(body)).await
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == name).then(|| urlencoding_decode(v))
    })
}

fn urlencoding_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn clients_are_created_listed_replaced_and_removed() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let created = create_client(&app, "", json!({})).await;
        let cert = fixture("idp_cert.pem").lines().filter(|l| !l.starts_with("-----")).collect::<String>();
        assert_eq!(
            created,
            json!({"clientId": "c1", "clientSecret": "s3cret", "defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT],
                   "idpEntityId": "https://idp.test/metadata", "idpSigningCertificate": cert,
                   "allowIDPInitiatedLogin": false, "enableRequestSigning": true, "status": "OK"}),
            "{b:?}"
        );
        // A generated id; the same IdP twice in a tenant is refused.
        let (s, text) = app
            .call("PUT", "/recipe/saml/clients", Some(json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT], "metadataXML": b64(&fixture("idp_metadata.xml"))})))
            .await;
        assert_eq!((s, text.as_str()), (200, "{\"status\":\"DUPLICATE_IDP_ENTITY_ERROR\"}\n"));
        // Full replace: the secret left out is removed.
        let replaced = app
            .json("PUT", "/recipe/saml/clients", Some(json!({"clientId": "c1", "defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT, "http://app.test/2"], "metadataXML": b64(&fixture("idp_metadata.xml"))})))
            .await;
        assert!(replaced.get("clientSecret").is_none(), "{replaced}");
        assert_eq!(replaced["redirectURIs"], json!([REDIRECT, "http://app.test/2"]));
        let list = app.json("GET", "/recipe/saml/clients/list", None).await;
        assert_eq!(list["status"], "OK");
        assert_eq!(list["clients"].as_array().unwrap().len(), 1);
        assert_eq!(app.json("POST", "/recipe/saml/clients/remove", Some(json!({"clientId": "c1"}))).await, json!({"status": "OK", "didExist": true}));
        assert_eq!(app.json("POST", "/recipe/saml/clients/remove", Some(json!({"clientId": "c1"}))).await, json!({"status": "OK", "didExist": false}));
        let generated = app
            .json("PUT", "/recipe/saml/clients", Some(json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT], "metadataXML": b64(&fixture("idp_metadata.xml"))})))
            .await;
        assert!(generated["clientId"].as_str().unwrap().starts_with("st_saml_"), "{generated}");
    }
}

#[tokio::test]
async fn bad_client_input_is_a_400_in_the_cores_words() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let meta = b64(&fixture("idp_metadata.xml"));
        let cases = [
            (json!({"redirectURIs": [REDIRECT], "metadataXML": meta}), "Field name 'defaultRedirectURI' is invalid in JSON input\n"),
            (json!({"defaultRedirectURI": REDIRECT, "metadataXML": meta}), "Field name 'redirectURIs' is invalid in JSON input\n"),
            (json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [], "metadataXML": meta}), "redirectURIs is required in the input\n"),
            (json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [1], "metadataXML": meta}), "Field name 'redirectURIs' is invalid in JSON input\n"),
            (json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT]}), "Field name 'metadataXML' is invalid in JSON input\n"),
            (json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT], "metadataXML": "not base64!"}), "metadataXML does not have a valid SAML metadata\n"),
            (json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT], "metadataXML": b64("<x/>")}), "metadataXML does not have a valid SAML metadata\n"),
            (
                json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT], "metadataXML": b64(&format!("<!DOCTYPE r [<!ENTITY e \"x\">]>{}", fixture("idp_metadata.xml")))}),
                "metadataXML does not have a valid SAML metadata\n",
            ),
            (json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT], "metadataXML": meta, "enableRequestSigning": "true"}), "Field name 'enableRequestSigning' is invalid in JSON input\n"),
            (json!({"defaultRedirectURI": REDIRECT, "redirectURIs": [REDIRECT], "metadataXML": meta, "clientSecret": null}), "Field name 'clientSecret' is invalid in JSON input\n"),
        ];
        for (body, expected) in cases {
            let (s, text) = app.call("PUT", "/recipe/saml/clients", Some(body.clone())).await;
            assert_eq!((s, text.as_str()), (400, expected), "{b:?} {body}");
        }
        let (s, text) = app.call("POST", "/recipe/saml/callback", Some(json!({}))).await;
        assert_eq!((s, text.as_str()), (400, "Field name 'samlResponse' is invalid in JSON input\n"));
        let (s, text) = app.call("POST", "/recipe/saml/user", Some(json!({"accessToken": "x"}))).await;
        assert_eq!((s, text.as_str()), (400, "Field name 'clientId' is invalid in JSON input\n"));
    }
}

#[tokio::test]
async fn login_makes_an_authn_request_and_a_relay_state() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        create_client(&app, "", json!({})).await;
        let acs = "http://api.test/auth/public/saml/callback";
        let r = app.json("POST", "/recipe/saml/login", Some(json!({"clientId": "c1", "redirectURI": REDIRECT, "state": "st", "acsURL": acs}))).await;
        assert_eq!(r["status"], "OK", "{b:?} {r}");
        let url = r["ssoRedirectURI"].as_str().unwrap();
        assert!(url.starts_with("https://idp.test/sso?SAMLRequest="), "{url}");
        let relay_state = query_param(url, "RelayState").unwrap();
        let deflated = base64::engine::general_purpose::STANDARD.decode(query_param(url, "SAMLRequest").unwrap()).unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml).unwrap();
        let id = portcullis_core::saml::login::request_id(&relay_state, acs);
        assert!(xml.contains(&format!("ID=\"{id}\"")), "{xml}");
        assert!(xml.contains(&format!("AssertionConsumerServiceURL=\"{acs}\"")), "{xml}");
        assert!(xml.contains("<saml2:Issuer xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\">https://saml.supertokens.com</saml2:Issuer>"), "{xml}");
        assert!(xml.contains("<ds:SignatureValue>") && !xml.contains("<ds:SignatureValue></ds:SignatureValue>"), "signed by default: {xml}");
        let stored = app.state.registry.base_storage().saml_relay_state(TenantKey::new("public", "public"), &relay_state, app.clock.now()).await.unwrap().unwrap();
        assert_eq!((stored.client_id.as_str(), stored.state.as_deref(), stored.redirect_uri.as_str()), ("c1", Some("st"), REDIRECT));

        // Unsigned when the client says so; unknown client or redirect URI → INVALID_CLIENT_ERROR.
        create_client(&app, "", json!({"enableRequestSigning": false})).await;
        let r = app.json("POST", "/recipe/saml/login", Some(json!({"clientId": "c1", "redirectURI": REDIRECT, "acsURL": acs}))).await;
        let deflated = base64::engine::general_purpose::STANDARD.decode(query_param(r["ssoRedirectURI"].as_str().unwrap(), "SAMLRequest").unwrap()).unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml).unwrap();
        assert!(!xml.contains("Signature"), "{xml}");
        for body in [
            json!({"clientId": "nope", "redirectURI": REDIRECT, "acsURL": acs}),
            json!({"clientId": "c1", "redirectURI": "http://evil.test/cb", "acsURL": acs}),
        ] {
            let (s, text) = app.call("POST", "/recipe/saml/login", Some(body)).await;
            assert_eq!((s, text.as_str()), (200, "{\"status\":\"INVALID_CLIENT_ERROR\"}\n"));
        }
        let (s, text) = app.call("POST", "/recipe/saml/login", Some(json!({"clientId": "c1", "redirectURI": REDIRECT}))).await;
        assert_eq!((s, text.as_str()), (400, "Field name 'acsURL' is invalid in JSON input\n"));

        // The SP metadata carries the app's signing certificate (the key made at the first signed login).
        let resp = app.client.get(format!("{}/.well-known/sp-metadata", app.url)).send().await.unwrap();
        assert_eq!(resp.headers()["content-type"], "text/xml; charset=UTF-8");
        let xml = resp.text().await.unwrap();
        assert!(xml.starts_with("<?xml") && xml.contains("entityID=\"https://saml.supertokens.com\"") && xml.contains("<ds:X509Certificate>MII"), "{xml}");
    }
}

#[tokio::test]
async fn a_valid_response_gives_a_code_once_and_the_code_gives_the_user_once() {
    for b in backends() {
        let app = app_at_fixture_time(&[], b).await;
        create_client(&app, "", json!({})).await;
        store_fixture_relay_state(&app, "public", Some("st-1")).await;
        let rs = facts()["relay_state"].as_str().unwrap().to_owned();
        let (s, text) = post_callback(&app, "valid_assertion_signed.xml", Some(&rs)).await;
        assert_eq!(s, 200, "{b:?} {text}");
        let r: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(r["status"], "OK");
        let redirect = r["redirectURI"].as_str().unwrap();
        assert!(redirect.starts_with(&format!("{REDIRECT}?code=")) && redirect.ends_with("&state=st-1"), "{redirect}");
        let code = query_param(redirect, "code").unwrap();

        // The relay state is single-use.
        let (s, text) = post_callback(&app, "valid_assertion_signed.xml", Some(&rs)).await;
        assert_eq!((s, text.as_str()), (200, "{\"status\":\"INVALID_RELAY_STATE_ERROR\"}\n"), "replayed response");

        // The code: another client's exchange burns it; a second use is refused.
        let user = app.json("POST", "/recipe/saml/user", Some(json!({"accessToken": code, "clientId": "c1"}))).await;
        assert_eq!(user["status"], "OK");
        assert_eq!(user["aud"], "c1");
        assert!(user["sub"].is_string() && user["claims"].is_object(), "{user}");
        let (s, text) = app.call("POST", "/recipe/saml/user", Some(json!({"accessToken": code, "clientId": "c1"}))).await;
        assert_eq!((s, text.as_str()), (200, "{\"status\":\"INVALID_TOKEN_ERROR\"}\n"), "a code is used once");
    }
}

#[tokio::test]
async fn every_forgery_and_broken_response_is_refused_with_the_cores_status() {
    const FAILED: &str = "{\"status\":\"SAML_RESPONSE_VERIFICATION_FAILED_ERROR\"}\n";
    const MALFORMED: &str = "Invalid or malformed SAML response input\n";
    for b in backends() {
        let app = app_at_fixture_time(&[], b).await;
        create_client(&app, "", json!({})).await;
        store_fixture_relay_state(&app, "public", None).await;
        let rs = facts()["relay_state"].as_str().unwrap().to_owned();
        for file in [
            "expired.xml",
            "issue_instant_skewed.xml",
            "conditions_expired.xml",
            "not_yet_valid.xml",
            "subject_confirmation_expired.xml",
            "wrong_audience.xml",
            "wrong_in_response_to.xml",
            "wrong_recipient.xml",
            "wrong_destination.xml",
            "status_failure.xml",
            "forged_tampered_name_id.xml",
            "forged_xsw_advice.xml",
            "forged_xsw_advice_same_id.xml",
            "forged_xsw_extensions_response.xml",
            "forged_xsw_extensions_assertion.xml",
            "forged_xsw_extensions_assertion_copied_signature.xml",
            "forged_unsigned_sibling.xml",
            "forged_two_signed_assertions.xml",
            "forged_encrypted_assertion_beside.xml",
            "forged_other_key.xml",
            "forged_unsigned.xml",
            "forged_hmac_signature_method.xml",
            "forged_reference_local_file.xml",
            "forged_empty_reference_uri.xml",
            "forged_xpath_transform.xml",
            "forged_xslt_transform.xml",
            "forged_ds_object.xml",
            "forged_two_references.xml",
        ] {
            let (s, text) = post_callback(&app, file, Some(&rs)).await;
            assert_eq!((s, text.as_str()), (200, FAILED), "{b:?} {file}");
        }
        for file in ["forged_doctype_internal_entity.xml", "forged_doctype_external_entity.xml"] {
            let (s, text) = post_callback(&app, file, Some(&rs)).await;
            assert_eq!((s, text.as_str()), (400, MALFORMED), "{b:?} {file}");
        }
        for junk in ["", "not base64 at all!", &b64("hello"), &b64("<root/>")] {
            let (s, text) = app.call("POST", "/recipe/saml/callback", Some(json!({"samlResponse": junk, "relayState": rs}))).await;
            assert_eq!((s, text.as_str()), (400, MALFORMED), "{b:?} {junk:?}");
        }
        // None of them consumed the relay state: the genuine response still signs the user in.
        let (s, text) = post_callback(&app, "valid_response_signed.xml", Some(&rs)).await;
        assert!(s == 200 && text.contains("\"status\":\"OK\""), "{b:?} {text}");

        // Unknown relay state; the relay state of another tenant; a client removed since the login.
        let (_, text) = post_callback(&app, "valid_assertion_signed.xml", Some("00000000-0000-4000-8000-000000000000")).await;
        assert_eq!(text, "{\"status\":\"INVALID_RELAY_STATE_ERROR\"}\n");
        store_fixture_relay_state(&app, "public", None).await;
        app.json("POST", "/recipe/saml/clients/remove", Some(json!({"clientId": "c1"}))).await;
        let (_, text) = post_callback(&app, "valid_assertion_signed.xml", Some(&rs)).await;
        assert_eq!(text, "{\"status\":\"INVALID_CLIENT_ERROR\"}\n");
    }
}

#[tokio::test]
async fn idp_initiated_login_only_where_the_client_allows_it() {
    for b in backends() {
        let app = app_at_fixture_time(&[], b).await;
        let (_, text) = post_callback(&app, "valid_idp_initiated.xml", None).await;
        assert_eq!(text, "{\"status\":\"INVALID_CLIENT_ERROR\"}\n", "{b:?}: no client for the issuer");
        create_client(&app, "", json!({})).await;
        let (_, text) = post_callback(&app, "valid_idp_initiated.xml", None).await;
        assert_eq!(text, "{\"status\":\"IDP_LOGIN_DISALLOWED_ERROR\"}\n");
        create_client(&app, "", json!({"allowIDPInitiatedLogin": true})).await;
        let r: Value = serde_json::from_str(&post_callback(&app, "valid_idp_initiated.xml", Some("")).await.1).unwrap();
        assert_eq!(r["status"], "OK", "{r}");
        let redirect = r["redirectURI"].as_str().unwrap();
        assert!(redirect.starts_with(&format!("{REDIRECT}?code=")) && !redirect.contains("state="), "{redirect}");
        // An SP-initiated response cannot be replayed as an unsolicited one.
        let (_, text) = post_callback(&app, "valid_assertion_signed.xml", None).await;
        assert_eq!(text, "{\"status\":\"SAML_RESPONSE_VERIFICATION_FAILED_ERROR\"}\n");
    }
}

#[tokio::test]
async fn relay_states_and_codes_expire_and_the_cleanup_deletes_them() {
    for b in backends() {
        let app = app_at_fixture_time(&[("SAML_CLAIMS_VALIDITY", "1000"), ("SAML_RELAY_STATE_VALIDITY", "1000")], b).await;
        create_client(&app, "", json!({"allowIDPInitiatedLogin": true})).await;
        let r = app
            .json("POST", "/recipe/saml/login", Some(json!({"clientId": "c1", "redirectURI": REDIRECT, "acsURL": "http://api.test/acs"})))
            .await;
        let relay_state = query_param(r["ssoRedirectURI"].as_str().unwrap(), "RelayState").unwrap();
        let r: Value = serde_json::from_str(&post_callback(&app, "valid_idp_initiated.xml", None).await.1).unwrap();
        let code = query_param(r["redirectURI"].as_str().unwrap(), "code").unwrap();
        app.clock.advance(1001);
        let (_, text) = post_callback(&app, "valid_idp_initiated.xml", Some(&relay_state)).await;
        assert_eq!(text, "{\"status\":\"INVALID_RELAY_STATE_ERROR\"}\n", "{b:?}: expired relay state");
        let ran = portcullis::cron::run(&app.state, portcullis::cron::Job::DeleteExpiredSamlData, app.clock.now()).await.unwrap();
        assert_eq!(ran, Some(2), "the cron deletes the expired relay state and code");
        let (_, text) = app.call("POST", "/recipe/saml/user", Some(json!({"accessToken": code, "clientId": "c1"}))).await;
        assert_eq!(text, "{\"status\":\"INVALID_TOKEN_ERROR\"}\n");
    }
}

#[tokio::test]
async fn legacy_endpoints_emulate_boxyhq() {
    for b in backends() {
        let app = app_at_fixture_time(&[("SAML_LEGACY_ACS_URL", "http://localhost:5225/api/oauth/saml")], b).await;
        create_client(&app, "", json!({"allowIDPInitiatedLogin": true})).await;
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let resp = no_redirects
            .get(format!("{}/recipe/saml/legacy/authorize?client_id=c1&redirect_uri={}&state=s1", app.url, urlencode(REDIRECT)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 307, "{b:?}");
        assert!(resp.headers()["location"].to_str().unwrap().starts_with("https://idp.test/sso?SAMLRequest="));

        let form = format!("SAMLResponse={}", urlencode(&b64(&fixture("valid_idp_initiated.xml"))));
        let resp = no_redirects
            .post(format!("{}/recipe/saml/legacy/callback", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 302);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let code = query_param(&location, "code").unwrap();

        let token = |secret: &str| {
            no_redirects
                .post(format!("{}/recipe/saml/legacy/token", app.url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("client_id=c1&client_secret={secret}&code={code}"))
                .send()
        };
        let resp = token("wrong").await.unwrap();
        assert_eq!((resp.status().as_u16(), resp.text().await.unwrap()), (400, "Invalid client_secret\n".to_owned()));
        let r: Value = token("s3cret").await.unwrap().json().await.unwrap();
        assert_eq!(r, json!({"status": "OK", "access_token": format!("{code}.c1")}));

        let userinfo = |auth: Option<String>| {
            let mut req = no_redirects.get(format!("{}/recipe/saml/legacy/userinfo", app.url));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            req.send()
        };
        let resp = userinfo(None).await.unwrap();
        assert_eq!((resp.status().as_u16(), resp.text().await.unwrap()), (400, "Authorization header is required\n".to_owned()));
        let resp = userinfo(Some(format!("Bearer {code}.c1"))).await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let info: Value = resp.json().await.unwrap();
        assert!(info.get("id").is_some() && info.get("status").is_none() && info["aud"] == "c1", "{info}");
        let resp = userinfo(Some(format!("Bearer {code}.c1"))).await.unwrap();
        assert_eq!((resp.status().as_u16(), resp.text().await.unwrap()), (400, "INVALID_TOKEN_ERROR\n".to_owned()));

        // Forgeries through the legacy callback are 400s naming the status.
        let form = format!("SAMLResponse={}", urlencode(&b64(&fixture("forged_other_key.xml"))));
        let resp = no_redirects
            .post(format!("{}/recipe/saml/legacy/callback", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!((resp.status().as_u16(), resp.text().await.unwrap()), (400, "SAML_RESPONSE_VERIFICATION_FAILED_ERROR\n".to_owned()));
    }
}

fn urlencode(s: &str) -> String {
    portcullis_core::saml::form_urlencode(s)
}
