//! A SAML client: one IdP connection of a tenant (`saml_clients`), its input rules and its JSON.

use serde_json::{json, Map, Value};

use super::metadata::{self, IdpMetadata, InvalidMetadata};
use crate::crypto::{uuid_v4, CryptoError};

/// Client ids the core generates start with this.
pub const CLIENT_ID_PREFIX: &str = "st_saml_";

/// `client_id` is a VARCHAR(256) in the plugin's table.
const MAX_CLIENT_ID_CHARS: usize = 256;

#[derive(Clone, PartialEq, Eq)]
pub struct SamlClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub sso_login_url: String,
    pub redirect_uris: Vec<String>,
    pub default_redirect_uri: String,
    pub idp_entity_id: String,
    /// base64 DER, whitespace removed.
    pub idp_signing_certificate: String,
    pub allow_idp_initiated_login: bool,
    pub enable_request_signing: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for SamlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("SamlClient")
            .field("client_id", &self.client_id)
            .field("idp_entity_id", &self.idp_entity_id)
            .field("sso_login_url", &self.sso_login_url)
            .finish_non_exhaustive()
    }
}

/// The 400 texts of `PUT /recipe/saml/clients` that are SAML rules (the JSON field rules are the
/// server's input parser's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientInputError {
    #[error("redirectURIs is required in the input")]
    RedirectUrisRequired,
    /// The core takes any JSON array and fails later (500) on non-strings; we refuse them here.
    #[error("Field name 'redirectURIs' is invalid in JSON input")]
    RedirectUrisNotStrings,
    /// Longer than the column (the core's insert would fail with a 500).
    #[error("Field name 'clientId' is invalid in JSON input")]
    ClientIdTooLong,
    #[error("metadataXML does not have a valid SAML metadata")]
    InvalidMetadata,
}

impl From<InvalidMetadata> for ClientInputError {
    fn from(_: InvalidMetadata) -> Self {
        ClientInputError::InvalidMetadata
    }
}

/// The request of `PUT /recipe/saml/clients`, its fields already read as JSON types.
#[derive(Clone, Debug)]
pub struct ClientInput {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub default_redirect_uri: String,
    pub redirect_uris: Vec<String>,
    /// base64 of the IdP's metadata XML.
    pub metadata_xml: String,
    /// Absent: false.
    pub allow_idp_initiated_login: Option<bool>,
    /// Absent: true.
    pub enable_request_signing: Option<bool>,
}

/// `redirectURIs`, checked right after it is read (before `metadataXML`, as the core does): not
/// empty, every element a string.
pub fn check_redirect_uris(values: &[Value]) -> Result<Vec<String>, ClientInputError> {
    if values.is_empty() {
        return Err(ClientInputError::RedirectUrisRequired);
    }
    values.iter().map(|v| v.as_str().map(str::to_owned).ok_or(ClientInputError::RedirectUrisNotStrings)).collect()
}

/// A new client id: `st_saml_` and a UUIDv4.
pub fn new_client_id() -> Result<String, CryptoError> {
    Ok(format!("{CLIENT_ID_PREFIX}{}", uuid_v4()?))
}

impl ClientInput {
    /// The client to store (created and updated now; on update the store keeps `created_at`).
    pub fn into_client(self, now_ms: i64) -> Result<SamlClient, ClientCreationError> {
        let IdpMetadata { entity_id, sso_url, signing_certificate } =
            metadata::parse_base64(&self.metadata_xml).map_err(|e| ClientCreationError::Input(e.into()))?;
        let client_id = match self.client_id {
            Some(id) if id.chars().count() > MAX_CLIENT_ID_CHARS => {
                return Err(ClientCreationError::Input(ClientInputError::ClientIdTooLong))
            }
            Some(id) => id,
            None => new_client_id().map_err(ClientCreationError::Random)?,
        };
        Ok(SamlClient {
            client_id,
            client_secret: self.client_secret,
            sso_login_url: sso_url,
            redirect_uris: self.redirect_uris,
            default_redirect_uri: self.default_redirect_uri,
            idp_entity_id: entity_id,
            idp_signing_certificate: signing_certificate,
            allow_idp_initiated_login: self.allow_idp_initiated_login.unwrap_or(false),
            enable_request_signing: self.enable_request_signing.unwrap_or(true),
            created_at: now_ms,
            updated_at: now_ms,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientCreationError {
    #[error(transparent)]
    Input(ClientInputError),
    #[error(transparent)]
    Random(CryptoError),
}

impl SamlClient {
    /// The core's client JSON (`SAMLClient.toJson`), keys in its order; `clientSecret` only when set.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("clientId".into(), json!(self.client_id));
        if let Some(secret) = &self.client_secret {
            m.insert("clientSecret".into(), json!(secret));
        }
        m.insert("defaultRedirectURI".into(), json!(self.default_redirect_uri));
        m.insert("redirectURIs".into(), json!(self.redirect_uris));
        m.insert("idpEntityId".into(), json!(self.idp_entity_id));
        m.insert("idpSigningCertificate".into(), json!(self.idp_signing_certificate));
        m.insert("allowIDPInitiatedLogin".into(), json!(self.allow_idp_initiated_login));
        m.insert("enableRequestSigning".into(), json!(self.enable_request_signing));
        m
    }

    /// `redirect_uris` as the column stores it: a compact JSON array.
    pub fn redirect_uris_column(&self) -> String {
        Value::from(self.redirect_uris.clone()).to_string()
    }

    /// Whether `redirect_uri` is one of the client's (exact string match, as in the core).
    pub fn allows_redirect_uri(&self, redirect_uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == redirect_uri)
    }
}

/// Reads the `redirect_uris` column (a JSON array; a row the Java core wrote with non-string
/// elements gives their JSON text, as Gson's `getAsString` would for numbers). `None` if it is
/// not an array.
pub fn parse_redirect_uris_column(text: &str) -> Option<Vec<String>> {
    let Value::Array(values) = serde_json::from_str(text).ok()? else { return None };
    Some(
        values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    pub(crate) fn metadata_b64() -> String {
        let xml = include_str!("../../tests/fixtures/saml/idp_metadata.xml");
        base64::engine::general_purpose::STANDARD.encode(xml)
    }

    fn input() -> ClientInput {
        ClientInput {
            client_id: None,
            client_secret: None,
            default_redirect_uri: "http://localhost:3000/auth/callback/saml-test".into(),
            redirect_uris: vec!["http://localhost:3000/auth/callback/saml-test".into()],
            metadata_xml: metadata_b64(),
            allow_idp_initiated_login: None,
            enable_request_signing: None,
        }
    }

    #[test]
    fn a_client_from_metadata_with_the_cores_defaults() {
        let c = input().into_client(7).unwrap();
        assert!(c.client_id.starts_with("st_saml_") && c.client_id.len() == 8 + 36, "{}", c.client_id);
        assert_eq!(c.idp_entity_id, "https://idp.test/metadata");
        assert_eq!(c.sso_login_url, "https://idp.test/sso");
        assert!(!c.allow_idp_initiated_login);
        assert!(c.enable_request_signing, "request signing defaults to on");
        assert_eq!((c.created_at, c.updated_at), (7, 7));
        let given = ClientInput { client_id: Some("mine".into()), client_secret: Some("s".into()), ..input() };
        let c = given.into_client(7).unwrap();
        assert_eq!((c.client_id.as_str(), c.client_secret.as_deref()), ("mine", Some("s")));
    }

    #[test]
    fn the_json_has_the_cores_keys_in_its_order() {
        let mut c = ClientInput { client_id: Some("c1".into()), ..input() }.into_client(1).unwrap();
        c.redirect_uris.push("http://b".into());
        let keys: Vec<_> = c.to_json().keys().cloned().collect();
        assert_eq!(
            keys,
            ["clientId", "defaultRedirectURI", "redirectURIs", "idpEntityId", "idpSigningCertificate", "allowIDPInitiatedLogin", "enableRequestSigning"]
        );
        c.client_secret = Some("s".into());
        let json = Value::Object(c.to_json()).to_string();
        assert!(json.starts_with(r#"{"clientId":"c1","clientSecret":"s","defaultRedirectURI":"#), "{json}");
        assert!(json.contains(r#""redirectURIs":["http://localhost:3000/auth/callback/saml-test","http://b"]"#));
        assert!(json.ends_with(r#""allowIDPInitiatedLogin":false,"enableRequestSigning":true}"#));
        assert!(!format!("{c:?}").contains("\"s\""), "no secret in Debug");
    }

    #[test]
    fn input_rules_and_their_texts() {
        assert_eq!(check_redirect_uris(&[]), Err(ClientInputError::RedirectUrisRequired));
        assert_eq!(ClientInputError::RedirectUrisRequired.to_string(), "redirectURIs is required in the input");
        assert_eq!(check_redirect_uris(&[json!("a"), json!({})]), Err(ClientInputError::RedirectUrisNotStrings));
        assert_eq!(ClientInputError::RedirectUrisNotStrings.to_string(), "Field name 'redirectURIs' is invalid in JSON input");
        assert_eq!(check_redirect_uris(&[json!("a"), json!("b")]), Ok(vec!["a".to_owned(), "b".to_owned()]));

        let bad = ClientInput { metadata_xml: "PHJvb3QvPg==".into(), ..input() };
        let err = bad.into_client(1).unwrap_err();
        assert!(matches!(err, ClientCreationError::Input(ClientInputError::InvalidMetadata)));
        assert_eq!(err.to_string(), "metadataXML does not have a valid SAML metadata");
        let long = ClientInput { client_id: Some("x".repeat(257)), ..input() };
        assert!(matches!(long.into_client(1), Err(ClientCreationError::Input(ClientInputError::ClientIdTooLong))));
        assert!(ClientInput { client_id: Some("x".repeat(256)), ..input() }.into_client(1).is_ok());
    }

    #[test]
    fn redirect_uris_column_round_trip_and_matching() {
        let c = ClientInput { redirect_uris: vec!["http://a/cb?x=1&y=é".into(), "http://b".into()], ..input() }.into_client(1).unwrap();
        let text = c.redirect_uris_column();
        assert_eq!(text, r#"["http://a/cb?x=1&y=é","http://b"]"#);
        assert_eq!(parse_redirect_uris_column(&text), Some(c.redirect_uris.clone()));
        assert_eq!(parse_redirect_uris_column("[1,\"a\"]"), Some(vec!["1".to_owned(), "a".to_owned()]));
        assert_eq!(parse_redirect_uris_column("{}"), None);
        assert!(c.allows_redirect_uri("http://b"));
        assert!(!c.allows_redirect_uri("http://b/"));
        assert!(!c.allows_redirect_uri("HTTP://b"));
    }
}
