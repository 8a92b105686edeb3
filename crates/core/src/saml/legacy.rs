//! The legacy endpoints (`/recipe/saml/legacy/{authorize,callback,token,userinfo}`): the OAuth2
//! surface of BoxyHQ SAML Jackson, so that a `boxy-saml` third-party provider can use the core. All
//! of them work on the app's public tenant. Their rules that are not the main APIs':
//!
//! - authorize: the login of `login.rs` with the ACS URL from `saml_legacy_acs_url` (307 to the
//!   SSO URL; an invalid client is a 200 `INVALID_CLIENT_ERROR`);
//! - callback: the form (or query) fields `SAMLResponse`/`samlResponse` and
//!   `RelayState`/`relayState`, then `callback.rs` (302 to the redirect URI; every error status is a
//!   400 text);
//! - token: `client_id`, `client_secret`, `code` form fields; the secret must match; the access
//!   token is `<code>.<clientId>` (the code is not looked at here);
//! - userinfo: `Authorization: Bearer <code>.<clientId>`, then `/recipe/saml/user`'s rules with `id`
//!   for `sub` and no `status`.

use super::client::SamlClient;
use crate::crypto::secrets_equal;

/// The 400 texts of the legacy endpoints (and the authorize's configuration error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LegacyError {
    #[error("Missing form field: SAMLResponse")]
    MissingSamlResponse,
    #[error("Missing form field: client_id")]
    MissingClientId,
    #[error("Missing form field: client_secret")]
    MissingClientSecret,
    #[error("Missing form field: code")]
    MissingCode,
    #[error("Invalid client_id")]
    InvalidClientId,
    #[error("Invalid client_secret")]
    InvalidClientSecret,
    #[error("Authorization header is required")]
    AuthorizationRequired,
    /// A token without `.`, or a code that is unknown, expired or not the client's.
    #[error("invalid token")]
    InvalidToken,
    /// `saml_legacy_acs_url` is not set: a server misconfiguration, answered as the core does
    /// with a 500 (its body names the setting).
    #[error("Legacy ACS URL not configured")]
    AcsUrlNotConfigured,
}

/// The ACS URL for legacy logins: `saml_legacy_acs_url` of the app.
pub fn acs_url(configured: Option<&str>) -> Result<&str, LegacyError> {
    configured.ok_or(LegacyError::AcsUrlNotConfigured)
}

/// The callback's response and relay state from the form or query parameters (`get` looks one
/// up by name). A missing or blank response is the core's 400.
pub fn callback_fields<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<(&'a str, Option<&'a str>), LegacyError> {
    let response = get("SAMLResponse").or_else(|| get("samlResponse"));
    let relay_state = get("RelayState").or_else(|| get("relayState"));
    match response {
        Some(r) if !r.trim().is_empty() => Ok((r, relay_state)),
        _ => Err(LegacyError::MissingSamlResponse),
    }
}

/// The token request's fields, in the core's order: each must be present and not blank.
pub fn token_fields<'a>(client_id: Option<&'a str>, client_secret: Option<&'a str>, code: Option<&'a str>) -> Result<(&'a str, &'a str, &'a str), LegacyError> {
    let present = |v: Option<&'a str>, e| v.filter(|v| !v.trim().is_empty()).ok_or(e);
    Ok((
        present(client_id, LegacyError::MissingClientId)?,
        present(client_secret, LegacyError::MissingClientSecret)?,
        present(code, LegacyError::MissingCode)?,
    ))
}

/// Whether a token request may have an access token: the client (`client_id`'s, in the public
/// tenant) exists and its secret matches, compared in constant time; a client without a secret
/// never matches.
pub fn check_client_secret(client: Option<&SamlClient>, given: &str) -> Result<(), LegacyError> {
    let client = client.ok_or(LegacyError::InvalidClientId)?;
    match &client.client_secret {
        Some(secret) if secrets_equal(secret.as_bytes(), given.as_bytes()) => Ok(()),
        _ => Err(LegacyError::InvalidClientSecret),
    }
}

/// The legacy access token: the code and the client id.
pub fn access_token(code: &str, client_id: &str) -> String {
    format!("{code}.{client_id}")
}

/// The userinfo's `Authorization` header → (code, client id). The core splits the token at every
/// `.` and takes the first two parts, so a client id with a dot never matched; we split at the
/// first `.` only (the code is a UUID and has none).
pub fn userinfo_token(authorization: Option<&str>) -> Result<(&str, &str), LegacyError> {
    let token = authorization.and_then(|h| h.strip_prefix("Bearer ")).ok_or(LegacyError::AuthorizationRequired)?;
    token.split_once('.').ok_or(LegacyError::InvalidToken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn callback_fields_fall_back_to_camel_case() {
        let form: HashMap<&str, &str> = [("samlResponse", "PHI+"), ("relayState", "rs")].into();
        assert_eq!(callback_fields(|k| form.get(k).copied()), Ok(("PHI+", Some("rs"))));
        let form: HashMap<&str, &str> = [("SAMLResponse", "a"), ("samlResponse", "b"), ("RelayState", "x")].into();
        assert_eq!(callback_fields(|k| form.get(k).copied()), Ok(("a", Some("x"))));
        let form: HashMap<&str, &str> = [("SAMLResponse", "  ")].into();
        assert_eq!(callback_fields(|k| form.get(k).copied()), Err(LegacyError::MissingSamlResponse));
        assert_eq!(callback_fields(|_| None), Err(LegacyError::MissingSamlResponse));
        assert_eq!(LegacyError::MissingSamlResponse.to_string(), "Missing form field: SAMLResponse");
    }

    #[test]
    fn token_requests() {
        assert_eq!(token_fields(None, None, None), Err(LegacyError::MissingClientId));
        assert_eq!(token_fields(Some("c"), Some(" "), None), Err(LegacyError::MissingClientSecret));
        assert_eq!(token_fields(Some("c"), Some("s"), Some("")), Err(LegacyError::MissingCode));
        assert_eq!(token_fields(Some("c"), Some("s"), Some("k")), Ok(("c", "s", "k")));
        let client = |secret: Option<&str>| SamlClient {
            client_id: "c".into(),
            client_secret: secret.map(str::to_owned),
            sso_login_url: String::new(),
            redirect_uris: vec![],
            default_redirect_uri: String::new(),
            idp_entity_id: String::new(),
            idp_signing_certificate: String::new(),
            allow_idp_initiated_login: false,
            enable_request_signing: false,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(check_client_secret(None, "s"), Err(LegacyError::InvalidClientId));
        assert_eq!(check_client_secret(Some(&client(None)), "s"), Err(LegacyError::InvalidClientSecret));
        assert_eq!(check_client_secret(Some(&client(Some("t"))), "s"), Err(LegacyError::InvalidClientSecret));
        assert_eq!(check_client_secret(Some(&client(Some("s"))), "s"), Ok(()));
        assert_eq!(access_token("c0de", "st_saml_1"), "c0de.st_saml_1");
        let texts: Vec<String> = [LegacyError::MissingClientId, LegacyError::MissingClientSecret, LegacyError::MissingCode, LegacyError::InvalidClientId, LegacyError::InvalidClientSecret]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(texts, ["Missing form field: client_id", "Missing form field: client_secret", "Missing form field: code", "Invalid client_id", "Invalid client_secret"]);
    }

    #[test]
    fn userinfo_tokens() {
        assert_eq!(userinfo_token(None), Err(LegacyError::AuthorizationRequired));
        assert_eq!(userinfo_token(Some("bearer a.b")), Err(LegacyError::AuthorizationRequired));
        assert_eq!(userinfo_token(Some("Bearer ab")), Err(LegacyError::InvalidToken));
        assert_eq!(userinfo_token(Some("Bearer c0de.my.client")), Ok(("c0de", "my.client")));
        assert_eq!(LegacyError::AuthorizationRequired.to_string(), "Authorization header is required");
        assert_eq!(LegacyError::InvalidToken.to_string(), "invalid token");
        assert_eq!(acs_url(None), Err(LegacyError::AcsUrlNotConfigured));
        assert_eq!(acs_url(Some("http://acs")), Ok("http://acs"));
    }
}
