//! The credential JSON the SDKs forward: the browser's `PublicKeyCredential.toJSON()`, with
//! base64url members. Unknown members are ignored, and JSON `null` counts as absent (python sends
//! `null` for every unset optional).
//!
//! Malformed input is an INVALID_CREDENTIALS_ERROR with a reason; a missing ceremony member is an
//! INVALID_AUTHENTICATOR_ERROR "`<member>` must not be null", as webauthn4j reports it in the core.

use serde_json::{Map, Value};

use super::{b64url_decode, WebauthnError, MAX_COLUMN_CHARS};

/// A registration response (`navigator.credentials.create()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationCredential {
    /// `id` as received: the stored credential id.
    pub id: String,
    pub id_bytes: Vec<u8>,
    pub raw_id: Option<Vec<u8>>,
    pub client_data_json: Vec<u8>,
    pub attestation_object: Vec<u8>,
    /// `response.transports` as JSON text (`null` when absent), for the `transports` column.
    pub transports: String,
}

/// An authentication response (`navigator.credentials.get()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssertionCredential {
    pub id: String,
    pub id_bytes: Vec<u8>,
    pub raw_id: Option<Vec<u8>>,
    pub client_data_json: Vec<u8>,
    pub authenticator_data: Vec<u8>,
    pub signature: Vec<u8>,
    pub user_handle: Option<Vec<u8>>,
}

fn present<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// The core's credential checks (its `CredentialsValidator`), in its order, plus the id's width:
/// returns the credential `id`, which sign-in looks the stored credential up by.
pub fn check_shape(credential: &Value) -> Result<String, WebauthnError> {
    let o = credential.as_object().ok_or_else(|| WebauthnError::invalid_credentials("credential id is missing!"))?;
    // Gson's getAsString: a number or boolean reads as its text.
    let id = match present(o, "id") {
        None => return Err(WebauthnError::invalid_credentials("credential id is missing!")),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(_) => return Err(WebauthnError::invalid_credentials("Credential ID has to be base64 url encoded")),
    };
    if id.is_empty() {
        return Err(WebauthnError::invalid_credentials("credential id is empty!"));
    }
    if b64url_decode(&id).is_none() {
        return Err(WebauthnError::invalid_credentials("Credential ID has to be base64 url encoded"));
    }
    let kind = match present(o, "type") {
        None => return Err(WebauthnError::invalid_credentials("credential type is missing!")),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    if kind.is_empty() {
        return Err(WebauthnError::invalid_credentials("credential type is empty!"));
    }
    if !kind.eq_ignore_ascii_case("public-key") {
        return Err(WebauthnError::invalid_credentials(format!("not supported credential type: '{kind}'")));
    }
    if id.chars().count() > MAX_COLUMN_CHARS {
        return Err(WebauthnError::invalid_credentials("credential id is too long"));
    }
    Ok(id)
}

/// The `response` member.
fn response(credential: &Value) -> Result<&Map<String, Value>, WebauthnError> {
    match credential.get("response").filter(|v| !v.is_null()) {
        None => Err(WebauthnError::invalid_credentials("credential response is missing!")),
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(WebauthnError::invalid_credentials("credential response has to be an object")),
    }
}

/// A required base64url member; `what` is webauthn4j's name for it in "must not be null".
fn required_bytes(o: &Map<String, Value>, key: &str, what: &str) -> Result<Vec<u8>, WebauthnError> {
    match present(o, key) {
        None => Err(WebauthnError::invalid_authenticator(format!("{what} must not be null"))),
        Some(v) => bytes(v, key),
    }
}

fn optional_bytes(o: &Map<String, Value>, key: &str) -> Result<Option<Vec<u8>>, WebauthnError> {
    present(o, key).map(|v| bytes(v, key)).transpose()
}

fn bytes(v: &Value, key: &str) -> Result<Vec<u8>, WebauthnError> {
    v.as_str()
        .and_then(b64url_decode)
        .ok_or_else(|| WebauthnError::invalid_credentials(format!("{key} is not valid base64url")))
}

/// The id as bytes (already checked to decode by [`check_shape`]).
fn id_and_bytes(credential: &Value) -> Result<(String, Vec<u8>), WebauthnError> {
    let id = check_shape(credential)?;
    let bytes = b64url_decode(&id).ok_or_else(|| WebauthnError::invalid_credentials("Credential ID has to be base64 url encoded"))?;
    Ok((id, bytes))
}

pub fn parse_registration(credential: &Value) -> Result<RegistrationCredential, WebauthnError> {
    let (id, id_bytes) = id_and_bytes(credential)?;
    let raw_id = credential.as_object().map(|o| optional_bytes(o, "rawId")).transpose()?.flatten();
    let r = response(credential)?;
    let client_data_json = required_bytes(r, "clientDataJSON", "collectedClientData")?;
    let attestation_object = required_bytes(r, "attestationObject", "attestationObject")?;
    let transports = present(r, "transports").map_or_else(|| "null".to_owned(), Value::to_string);
    Ok(RegistrationCredential { id, id_bytes, raw_id, client_data_json, attestation_object, transports })
}

pub fn parse_assertion(credential: &Value) -> Result<AssertionCredential, WebauthnError> {
    let (id, id_bytes) = id_and_bytes(credential)?;
    let raw_id = credential.as_object().map(|o| optional_bytes(o, "rawId")).transpose()?.flatten();
    let r = response(credential)?;
    let client_data_json = required_bytes(r, "clientDataJSON", "collectedClientData")?;
    let authenticator_data = required_bytes(r, "authenticatorData", "authenticatorData")?;
    let signature = required_bytes(r, "signature", "signature")?;
    let user_handle = optional_bytes(r, "userHandle")?;
    Ok(AssertionCredential { id, id_bytes, raw_id, client_data_json, authenticator_data, signature, user_handle })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason(r: Result<impl std::fmt::Debug, WebauthnError>) -> (&'static str, String) {
        let e = r.unwrap_err();
        (e.status(), e.reason().unwrap_or_default().to_owned())
    }

    fn creds(reason: &str) -> (&'static str, String) {
        ("INVALID_CREDENTIALS_ERROR", reason.to_owned())
    }

    #[test]
    fn shape_checks_in_the_core_order() {
        assert_eq!(check_shape(&json!({"id": "AQID", "type": "public-key"})), Ok("AQID".into()));
        assert_eq!(check_shape(&json!({"id": "AQID", "type": "Public-Key"})), Ok("AQID".into()));
        assert_eq!(reason(check_shape(&json!({}))), creds("credential id is missing!"));
        assert_eq!(reason(check_shape(&json!({"id": null, "type": "x"}))), creds("credential id is missing!"));
        assert_eq!(reason(check_shape(&json!({"id": "", "type": "x"}))), creds("credential id is empty!"));
        assert_eq!(reason(check_shape(&json!({"id": "a+b/", "type": "x"}))), creds("Credential ID has to be base64 url encoded"));
        assert_eq!(reason(check_shape(&json!({"id": {"x": 1}}))), creds("Credential ID has to be base64 url encoded"));
        assert_eq!(reason(check_shape(&json!({"id": "AQID"}))), creds("credential type is missing!"));
        assert_eq!(reason(check_shape(&json!({"id": "AQID", "type": ""}))), creds("credential type is empty!"));
        assert_eq!(reason(check_shape(&json!({"id": "AQID", "type": "password"}))), creds("not supported credential type: 'password'"));
        assert_eq!(reason(check_shape(&json!("not an object"))), creds("credential id is missing!"));
        let long = "A".repeat(260);
        assert_eq!(reason(check_shape(&json!({"id": long, "type": "public-key"}))), creds("credential id is too long"));
        assert!(check_shape(&json!({"id": "A".repeat(256), "type": "public-key"})).is_ok());
    }

    #[test]
    fn registration_members() {
        let c = json!({"id": "AQID", "rawId": "AQID", "type": "public-key",
                       "response": {"clientDataJSON": "e30", "attestationObject": "oA", "transports": ["internal", "hybrid"]}});
        let parsed = parse_registration(&c).unwrap();
        assert_eq!(parsed.id_bytes, vec![1, 2, 3]);
        assert_eq!(parsed.raw_id, Some(vec![1, 2, 3]));
        assert_eq!(parsed.client_data_json, b"{}");
        assert_eq!(parsed.attestation_object, vec![0xa0]);
        assert_eq!(parsed.transports, r#"["internal","hybrid"]"#);
        // Python's nulls for unset optionals.
        let c = json!({"id": "AQID", "rawId": null, "type": "public-key", "authenticatorAttachment": null,
                       "response": {"clientDataJSON": "e30=", "attestationObject": "oA", "transports": null, "publicKey": null}});
        let parsed = parse_registration(&c).unwrap();
        assert_eq!((parsed.raw_id, parsed.transports.as_str()), (None, "null"));

        let no_response = json!({"id": "AQID", "type": "public-key"});
        assert_eq!(reason(parse_registration(&no_response)), creds("credential response is missing!"));
        let bad = json!({"id": "AQID", "type": "public-key", "response": []});
        assert_eq!(reason(parse_registration(&bad)), creds("credential response has to be an object"));
        let bad = json!({"id": "AQID", "type": "public-key", "response": {"attestationObject": "oA"}});
        assert_eq!(reason(parse_registration(&bad)), ("INVALID_AUTHENTICATOR_ERROR", "collectedClientData must not be null".into()));
        let bad = json!({"id": "AQID", "type": "public-key", "response": {"clientDataJSON": "e30"}});
        assert_eq!(reason(parse_registration(&bad)), ("INVALID_AUTHENTICATOR_ERROR", "attestationObject must not be null".into()));
        let bad = json!({"id": "AQID", "type": "public-key", "response": {"clientDataJSON": "%%%", "attestationObject": "oA"}});
        assert_eq!(reason(parse_registration(&bad)), creds("clientDataJSON is not valid base64url"));
        let bad = json!({"id": "AQID", "type": "public-key", "response": {"clientDataJSON": 5, "attestationObject": "oA"}});
        assert_eq!(reason(parse_registration(&bad)), creds("clientDataJSON is not valid base64url"));
        let bad = json!({"id": "AQID", "rawId": "***", "type": "public-key", "response": {"clientDataJSON": "e30", "attestationObject": "oA"}});
        assert_eq!(reason(parse_registration(&bad)), creds("rawId is not valid base64url"));
    }

    #[test]
    fn assertion_members() {
        let c = json!({"id": "AQID", "type": "public-key",
                       "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AQ", "userHandle": "Ag"}});
        let parsed = parse_assertion(&c).unwrap();
        assert_eq!((parsed.authenticator_data, parsed.signature, parsed.user_handle), (vec![0], vec![1], Some(vec![2])));
        let c = json!({"id": "AQID", "type": "public-key",
                       "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AQ", "userHandle": null}});
        assert_eq!(parse_assertion(&c).unwrap().user_handle, None);
        let bad = json!({"id": "AQID", "type": "public-key", "response": {"clientDataJSON": "e30", "signature": "AQ"}});
        assert_eq!(reason(parse_assertion(&bad)), ("INVALID_AUTHENTICATOR_ERROR", "authenticatorData must not be null".into()));
        let bad = json!({"id": "AQID", "type": "public-key", "response": {"clientDataJSON": "e30", "authenticatorData": "AA"}});
        assert_eq!(reason(parse_assertion(&bad)), ("INVALID_AUTHENTICATOR_ERROR", "signature must not be null".into()));
        let bad = json!({"id": "AQID", "type": "public-key",
                         "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AQ", "userHandle": "!"}});
        assert_eq!(reason(parse_assertion(&bad)), creds("userHandle is not valid base64url"));
    }
}
