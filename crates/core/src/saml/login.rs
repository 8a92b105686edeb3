//! `POST /<t>/recipe/saml/login` (and the legacy authorize): the AuthnRequest, its HTTP-Redirect
//! encoding and the relay state that brings the browser back.
//!
//! The request is the core's: `ID`, `IssueInstant`, `Destination` = the SSO URL,
//! `ProtocolBinding` = HTTP-POST, `AssertionConsumerServiceURL` = the ACS given, then `Issuer` =
//! the SP entity id, an enveloped signature when the client asks for one, and
//! `NameIDPolicy AllowCreate="true"`. It travels as raw DEFLATE (level 8), base64, then URL-encoded.
//!
//! One difference on purpose: the ID is not random but derived from the login's relay state and ACS
//! URL ([`request_id`]), so the callback can check `InResponseTo` and `Recipient` against a relay
//! state row that has no column for either (the plugin's table).

use std::io::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::client::SamlClient;
use super::sp_key::SpKey;
use super::xml::{escape, NS_ASSERTION, NS_PROTOCOL};
use super::encoding::form_urlencode;
use super::time::format_date_time;
use crate::crypto::{hex, uuid_v4, CryptoError};

const HTTP_POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// The only non-OK status of the login API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// No such client in the tenant, or the redirect URI is not one of its.
    #[error("unknown client or redirect URI")]
    InvalidClient,
}

/// Something went wrong on our side (a 500): randomness, or signing with a broken SP key.
#[derive(Debug, thiserror::Error)]
pub enum LoginBuildError {
    #[error(transparent)]
    Random(#[from] CryptoError),
    #[error("the client asks for signed requests but no SP key was given")]
    MissingKey,
    #[error("signing the AuthnRequest failed: {0}")]
    Signing(String),
    #[error("encoding the AuthnRequest failed")]
    Encoding,
}

/// The client of a login, if it exists and allows `redirect_uri`.
pub fn check_client(client: Option<SamlClient>, redirect_uri: &str) -> Result<SamlClient, LoginError> {
    client.filter(|c| c.allows_redirect_uri(redirect_uri)).ok_or(LoginError::InvalidClient)
}

/// The AuthnRequest ID of a login: `"_" + hex(SHA-256(relayState ‖ 0x00 ‖ acsURL))`, an NCName
/// unique per login (the relay state is a fresh random UUID). The IdP echoes it in `InResponseTo`.
pub fn request_id(relay_state: &str, acs_url: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(relay_state.as_bytes());
    ctx.update(&[0]);
    ctx.update(acs_url.as_bytes());
    format!("_{}", hex(ctx.finish().as_ref()))
}

/// What a login produces: the relay state to store and where to send the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedLogin {
    pub relay_state: String,
    /// The SSO URL with `SAMLRequest` and `RelayState` (the API's `ssoRedirectURI`).
    pub sso_redirect_uri: String,
}

/// The input of [`prepare`].
pub struct LoginInput<'a> {
    pub client: &'a SamlClient,
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
    pub now_ms: i64,
    /// The app's SP key; needed when the client has `enable_request_signing`.
    pub sp_key: Option<&'a SpKey>,
}

/// A new relay state (UUIDv4), the AuthnRequest for it, signed when the client asks, and the
/// redirect URL. The caller stores the relay state row ([`super::storage::SamlStorage::saml_save_relay_state`]).
pub fn prepare(input: &LoginInput<'_>) -> Result<PreparedLogin, LoginBuildError> {
    let relay_state = uuid_v4()?;
    let id = request_id(&relay_state, input.acs_url);
    let signing = match (input.client.enable_request_signing, input.sp_key) {
        (false, _) => None,
        (true, Some(key)) => Some(key),
        (true, None) => return Err(LoginBuildError::MissingKey),
    };
    let xml = authn_request(&id, input, signing)?;
    let sso_redirect_uri = redirect_binding_url(&input.client.sso_login_url, &xml, &relay_state)?;
    Ok(PreparedLogin { relay_state, sso_redirect_uri })
}

/// The AuthnRequest XML, signed with `key` when given.
fn authn_request(id: &str, input: &LoginInput<'_>, key: Option<&SpKey>) -> Result<String, LoginBuildError> {
    let signature = match key {
        Some(key) => signature_template(id, key.certificate_b64()),
        None => String::new(),
    };
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><saml2p:AuthnRequest xmlns:saml2p="{NS_PROTOCOL}" AssertionConsumerServiceURL="{acs}" Destination="{destination}" ID="{id}" IssueInstant="{instant}" ProtocolBinding="{HTTP_POST_BINDING}" Version="2.0"><saml2:Issuer xmlns:saml2="{NS_ASSERTION}">{issuer}</saml2:Issuer>{signature}<saml2p:NameIDPolicy AllowCreate="true"/></saml2p:AuthnRequest>"#,
        acs = escape(input.acs_url),
        destination = escape(&input.client.sso_login_url),
        instant = format_date_time(input.now_ms),
        issuer = escape(input.sp_entity_id),
    );
    match key {
        None => Ok(xml),
        Some(key) => {
            let ctx = bergshamra_dsig::DsigContext::new(bergshamra_keys::KeysManager::new()).with_hsm_signer(key.xml_signer());
            bergshamra_dsig::sign::sign_owned(&ctx, xml).map_err(|e| LoginBuildError::Signing(e.to_string()))
        }
    }
}

/// The core's request signature: RSA-SHA256 over exclusive C14N, one Reference to the request's
/// ID with the enveloped-signature and exclusive C14N transforms, SHA-256 digest, the SP
/// certificate in KeyInfo. The library fills in the digest and signature values.
fn signature_template(id: &str, certificate_b64: &str) -> String {
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue>"#,
            r#"</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>"#,
            r#"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"#,
        ),
        id = id,
        cert = certificate_b64,
    )
}

/// `sso_url` + `SAMLRequest` (raw DEFLATE level 8, base64, URL-encoded) + `RelayState`. The core
/// always appends `?`; an SSO URL that has a query already (Google Workspace's `?idpid=…`) gets `&`.
pub fn redirect_binding_url(sso_url: &str, xml: &str, relay_state: &str) -> Result<String, LoginBuildError> {
    let mut deflater = flate2::write::DeflateEncoder::new(Vec::with_capacity(xml.len() / 2), flate2::Compression::new(8));
    deflater.write_all(xml.as_bytes()).map_err(|_| LoginBuildError::Encoding)?;
    let deflated = deflater.finish().map_err(|_| LoginBuildError::Encoding)?;
    let separator = if sso_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{sso_url}{separator}SAMLRequest={}&RelayState={}",
        form_urlencode(&STANDARD.encode(deflated)),
        form_urlencode(relay_state)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::sp_key::test_support::{test_key, NOW};
    use std::io::Read;

    fn client(signing: bool, sso: &str) -> SamlClient {
        SamlClient {
            client_id: "c".into(),
            client_secret: None,
            sso_login_url: sso.into(),
            redirect_uris: vec!["http://app/cb".into()],
            default_redirect_uri: "http://app/cb".into(),
            idp_entity_id: "https://idp".into(),
            idp_signing_certificate: String::new(),
            allow_idp_initiated_login: false,
            enable_request_signing: signing,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn query_param<'a>(url: &'a str, name: &str) -> &'a str {
        let query = url.split_once('?').unwrap().1;
        query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).unwrap()
    }

    fn percent_decode(s: &str) -> String {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// URL-decode, base64-decode, raw-inflate: what an IdP does with `SAMLRequest`.
    fn inflate(url: &str) -> String {
        let deflated = STANDARD.decode(percent_decode(query_param(url, "SAMLRequest"))).unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..]).read_to_string(&mut xml).unwrap();
        xml
    }

    #[test]
    fn request_ids_bind_the_relay_state_and_the_acs_url() {
        let id = request_id("3f1c6a1e-6a8e-4c55-9a55-0d6b2f7c1a10", "http://localhost:3001/auth/public/saml/callback");
        // The test IdP (tests/sdk/python/saml_idp.py) derives the same value.
        assert_eq!(id, "_01f1d64b160aeef12f1983d92a1e28cbe98008e0120c958d472f979cb4d009ee");
        assert!(crate::saml::xml::is_ascii_ncname(&id));
        assert_ne!(request_id("a", "bc"), request_id("ab", "c"), "the separator keeps the parts apart");
    }

    #[test]
    fn an_unsigned_request_in_the_redirect_binding() {
        let c = client(false, "https://idp.test/sso");
        let input = LoginInput { client: &c, acs_url: "http://api/auth/public/saml/callback?a=1&b=<", sp_entity_id: "https://sp", now_ms: NOW, sp_key: None };
        let login = prepare(&input).unwrap();
        assert_eq!(login.relay_state.len(), 36);
        assert!(login.sso_redirect_uri.starts_with("https://idp.test/sso?SAMLRequest="));
        assert_eq!(query_param(&login.sso_redirect_uri, "RelayState"), login.relay_state);
        let xml = inflate(&login.sso_redirect_uri);
        let id = request_id(&login.relay_state, input.acs_url);
        assert_eq!(
            xml,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><saml2p:AuthnRequest xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" AssertionConsumerServiceURL="http://api/auth/public/saml/callback?a=1&amp;b=&lt;" Destination="https://idp.test/sso" ID="{id}" IssueInstant="2026-01-15T12:00:00Z" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Version="2.0"><saml2:Issuer xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion">https://sp</saml2:Issuer><saml2p:NameIDPolicy AllowCreate="true"/></saml2p:AuthnRequest>"#
            )
        );
        assert_ne!(prepare(&input).unwrap().relay_state, login.relay_state);
    }

    #[test]
    fn an_sso_url_with_a_query_gets_an_ampersand() {
        let c = client(false, "https://accounts.google.com/o/saml2/idp?idpid=C01");
        let login = prepare(&LoginInput { client: &c, acs_url: "http://api/acs", sp_entity_id: "sp", now_ms: NOW, sp_key: None }).unwrap();
        assert!(login.sso_redirect_uri.starts_with("https://accounts.google.com/o/saml2/idp?idpid=C01&SAMLRequest="));
    }

    #[test]
    fn a_signed_request_verifies_with_the_sp_certificate() {
        let key = test_key().load().unwrap();
        let c = client(true, "https://idp.test/sso");
        let input = LoginInput { client: &c, acs_url: "http://api/acs", sp_entity_id: "https://sp", now_ms: NOW, sp_key: Some(&key) };
        let login = prepare(&input).unwrap();
        let xml = inflate(&login.sso_redirect_uri);
        assert_eq!(xml.matches("<ds:Signature ").count(), 1);
        assert!(!xml.contains("<ds:DigestValue></ds:DigestValue>") && !xml.contains("<ds:SignatureValue></ds:SignatureValue>"));
        // The signature sits right after Issuer.
        assert!(xml.contains("</saml2:Issuer><ds:Signature"));
        assert!(xml.contains(&format!("<ds:X509Certificate>{}</ds:X509Certificate>", key.certificate_b64())));

        let cert = STANDARD.decode(key.certificate_b64()).unwrap();
        let mut keys = bergshamra_keys::KeysManager::new();
        keys.add_key(bergshamra_keys::loader::load_x509_cert_der(&cert).unwrap());
        let ctx = bergshamra_dsig::DsigContext::new(keys);
        let result = bergshamra_dsig::verify::verify(&ctx, &xml).unwrap();
        let bergshamra_dsig::VerifyResult::Valid { references, .. } = result else { panic!("{result:?}") };
        assert_eq!(references.len(), 1);
        assert_eq!(references[0].uri, format!("#{}", request_id(&login.relay_state, "http://api/acs")));

        // A tampered request does not verify.
        let tampered = xml.replace("http://api/acs", "http://evil/acs");
        assert!(!bergshamra_dsig::verify::verify(&ctx, &tampered).unwrap().is_valid());
    }

    #[test]
    fn signing_needs_the_key() {
        let c = client(true, "https://idp.test/sso");
        let input = LoginInput { client: &c, acs_url: "http://api/acs", sp_entity_id: "sp", now_ms: NOW, sp_key: None };
        assert!(matches!(prepare(&input), Err(LoginBuildError::MissingKey)));
    }

    #[test]
    fn the_client_must_exist_and_allow_the_redirect_uri() {
        assert_eq!(check_client(None, "http://app/cb"), Err(LoginError::InvalidClient));
        assert_eq!(check_client(Some(client(false, "x")), "http://app/cb/"), Err(LoginError::InvalidClient));
        assert!(check_client(Some(client(false, "x")), "http://app/cb").is_ok());
    }
}
