//! Collected client data (WebAuthn L3 §5.8.1): the JSON the browser signed over (by its hash).
//! Members other than the ones checked here are ignored (browsers add some on purpose).

use serde::Deserialize;
use serde_json::Value;

use super::super::origin::same_origin;
use super::super::{b64url_decode, WebauthnError};
use super::super::storage::GeneratedOptions;
use crate::crypto::secrets_equal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    Create,
    Get,
}

#[derive(Debug, Deserialize)]
pub struct ClientData {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub challenge: Option<String>,
    pub origin: Option<String>,
    #[serde(rename = "crossOrigin")]
    pub cross_origin: Option<bool>,
    #[serde(rename = "tokenBinding")]
    pub token_binding: Option<Value>,
}

impl ClientData {
    /// Decodes clientDataJSON; the error is an INVALID_CREDENTIALS_ERROR.
    pub fn parse(bytes: &[u8]) -> Result<ClientData, WebauthnError> {
        serde_json::from_slice(bytes).map_err(|e| WebauthnError::invalid_credentials(format!("clientDataJSON is not valid: {e}")))
    }

    /// The checks of both ceremonies, in webauthn4j's order and with its messages: type,
    /// challenge, origin, (authentication only) cross-origin, token binding.
    pub fn check(&self, ceremony: Ceremony, options: &GeneratedOptions) -> Result<(), WebauthnError> {
        let (expected, message) = match ceremony {
            Ceremony::Create => ("webauthn.create", "ClientData.type must be 'create' on registration, but it isn't."),
            Ceremony::Get => ("webauthn.get", "ClientData.type must be 'get' on authentication, but it isn't."),
        };
        if self.kind.as_deref() != Some(expected) {
            return Err(WebauthnError::invalid_authenticator(message));
        }
        let expected_challenge = b64url_decode(&options.challenge);
        let actual_challenge = self.challenge.as_deref().and_then(b64url_decode);
        let challenge_matches = matches!((&expected_challenge, &actual_challenge), (Some(e), Some(a)) if secrets_equal(e, a));
        if !challenge_matches {
            return Err(WebauthnError::invalid_authenticator("The actual challenge does not match the expected challenge"));
        }
        let origin = self.origin.as_deref().unwrap_or("null");
        if !same_origin(&options.origin, origin) {
            return Err(WebauthnError::invalid_authenticator(format!(
                "The collectedClientData '{origin}' origin doesn't match any of the preconfigured server origin."
            )));
        }
        if ceremony == Ceremony::Get && self.cross_origin == Some(true) {
            return Err(WebauthnError::invalid_authenticator(
                "Cross-origin request is prohibited. Relax AuthenticationDataVerifier config if necessary.",
            ));
        }
        self.check_token_binding()
    }

    /// The server has no token binding id: a client that says it used one does not match.
    fn check_token_binding(&self) -> Result<(), WebauthnError> {
        let Some(binding) = self.token_binding.as_ref().filter(|b| !b.is_null()) else { return Ok(()) };
        match binding.get("status").and_then(Value::as_str) {
            Some("present") if binding.get("id").is_some_and(|id| !id.is_null()) => {
                Err(WebauthnError::invalid_authenticator("TokenBinding id does not match"))
            }
            Some("present" | "supported" | "not-supported") => Ok(()),
            _ => Err(WebauthnError::invalid_authenticator("Unknown TokenBindingStatus value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webauthn::b64url;

    fn options() -> GeneratedOptions {
        GeneratedOptions {
            tenant_id: "public".into(),
            id: "id".into(),
            challenge: b64url(&[1u8; 32]),
            email: None,
            rp_id: "example.com".into(),
            rp_name: "Example".into(),
            origin: "https://example.com".into(),
            expires_at: 10,
            created_at: 0,
            user_presence_required: false,
            user_verification: "preferred".into(),
        }
    }

    fn check(json: Value, ceremony: Ceremony) -> Result<(), String> {
        let data = ClientData::parse(json.to_string().as_bytes()).map_err(|e| e.to_string())?;
        data.check(ceremony, &options()).map_err(|e| e.reason().unwrap_or_default().to_owned())
    }

    fn client(kind: &str) -> Value {
        serde_json::json!({"type": kind, "challenge": b64url(&[1u8; 32]), "origin": "https://example.com", "crossOrigin": false,
                           "other_keys_can_be_added_here": "ignored"})
    }

    #[test]
    fn good_client_data() {
        assert_eq!(check(client("webauthn.create"), Ceremony::Create), Ok(()));
        assert_eq!(check(client("webauthn.get"), Ceremony::Get), Ok(()));
        // A padded challenge decodes to the same bytes.
        let mut padded = client("webauthn.get");
        padded["challenge"] = format!("{}=", b64url(&[1u8; 32])).into();
        assert_eq!(check(padded, Ceremony::Get), Ok(()));
    }

    #[test]
    fn each_check_with_its_reason() {
        assert_eq!(check(client("webauthn.get"), Ceremony::Create).unwrap_err(), "ClientData.type must be 'create' on registration, but it isn't.");
        assert_eq!(check(client("webauthn.create"), Ceremony::Get).unwrap_err(), "ClientData.type must be 'get' on authentication, but it isn't.");
        let mut c = client("webauthn.get");
        c["challenge"] = b64url(&[2u8; 32]).into();
        assert_eq!(check(c.clone(), Ceremony::Get).unwrap_err(), "The actual challenge does not match the expected challenge");
        c["challenge"] = "!!".into();
        assert_eq!(check(c, Ceremony::Get).unwrap_err(), "The actual challenge does not match the expected challenge");
        let mut c = client("webauthn.get");
        c["origin"] = "https://evil.com".into();
        assert_eq!(
            check(c, Ceremony::Get).unwrap_err(),
            "The collectedClientData 'https://evil.com' origin doesn't match any of the preconfigured server origin."
        );
        let mut c = client("webauthn.get");
        c.as_object_mut().unwrap().remove("origin");
        assert!(check(c, Ceremony::Get).unwrap_err().starts_with("The collectedClientData 'null' origin"));
        let mut c = client("webauthn.get");
        c["crossOrigin"] = true.into();
        assert!(check(c.clone(), Ceremony::Get).unwrap_err().starts_with("Cross-origin request is prohibited"));
        c["type"] = "webauthn.create".into();
        assert_eq!(check(c, Ceremony::Create), Ok(()));
        let mut c = client("webauthn.get");
        c["tokenBinding"] = serde_json::json!({"status": "present", "id": "abc"});
        assert_eq!(check(c.clone(), Ceremony::Get).unwrap_err(), "TokenBinding id does not match");
        c["tokenBinding"] = serde_json::json!({"status": "supported"});
        assert_eq!(check(c.clone(), Ceremony::Get), Ok(()));
        c["tokenBinding"] = serde_json::json!({"status": "sure"});
        assert_eq!(check(c, Ceremony::Get).unwrap_err(), "Unknown TokenBindingStatus value");
    }

    #[test]
    fn malformed_client_data_is_invalid_credentials() {
        for bytes in [&b"not json"[..], b"[1]", br#"{"type": 5}"#, br#"{"crossOrigin": "yes"}"#, &[0xff, 0xfe]] {
            let e = ClientData::parse(bytes).unwrap_err();
            assert_eq!(e.status(), "INVALID_CREDENTIALS_ERROR");
        }
    }
}
