//! The OAuth error objects the core answers with `{"status":"OAUTH_ERROR","error","errorDescription",
//! "statusCode"}`. The SDKs copy `statusCode` into the HTTP status they answer the relying party with,
//! so it is the status RFC 6749 §5.2, RFC 7009 §2.2.1 and RFC 7662 §2.3 prescribe.
//!
//! Descriptions follow Hydra's format: the error's standard description, a space, then a hint
//! specific to the case (double quotes in the text become single quotes, as fosite does).

use serde_json::{json, Value};

/// The error codes the provider uses, with their standard descriptions and statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedResponseMode,
    InvalidScope,
    AccessDenied,
    InvalidState,
    RequestForbidden,
    RequestUnauthorized,
    LoginRequired,
    ScopeNotGranted,
    NotFound,
    TokenInactive,
    InvalidClientMetadata,
    InvalidRedirectUri,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    ServerError,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::InvalidRequest => "invalid_request",
            Kind::InvalidClient => "invalid_client",
            Kind::InvalidGrant => "invalid_grant",
            Kind::UnauthorizedClient => "unauthorized_client",
            Kind::UnsupportedGrantType => "unsupported_grant_type",
            Kind::UnsupportedResponseType => "unsupported_response_type",
            Kind::UnsupportedResponseMode => "unsupported_response_mode",
            Kind::InvalidScope => "invalid_scope",
            Kind::AccessDenied => "access_denied",
            Kind::InvalidState => "invalid_state",
            Kind::RequestForbidden => "request_forbidden",
            Kind::RequestUnauthorized => "request_unauthorized",
            Kind::LoginRequired => "login_required",
            Kind::ScopeNotGranted => "scope_not_granted",
            Kind::NotFound => "not_found",
            Kind::TokenInactive => "token_inactive",
            Kind::InvalidClientMetadata => "invalid_client_metadata",
            Kind::InvalidRedirectUri => "invalid_redirect_uri",
            Kind::RequestNotSupported => "request_not_supported",
            Kind::RequestUriNotSupported => "request_uri_not_supported",
            Kind::RegistrationNotSupported => "registration_not_supported",
            Kind::ServerError => "server_error",
        }
    }

    /// The standard description (fosite's and Hydra's texts, so that messages read as they did).
    pub fn description(self) -> &'static str {
        match self {
            Kind::InvalidRequest => "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed.",
            Kind::InvalidClient => "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).",
            Kind::InvalidGrant => "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
            Kind::UnauthorizedClient => "The client is not authorized to request a token using this method.",
            Kind::UnsupportedGrantType => "The authorization grant type is not supported by the authorization server.",
            Kind::UnsupportedResponseType => "The authorization server does not support obtaining a token using this method.",
            Kind::UnsupportedResponseMode => "The authorization server does not support obtaining a response using this response mode.",
            Kind::InvalidScope => "The requested scope is invalid, unknown, or malformed.",
            Kind::AccessDenied => "The resource owner or authorization server denied the request.",
            Kind::InvalidState => "The state is missing or does not have enough characters and is therefore considered too weak.",
            Kind::RequestForbidden => "The request is not allowed.",
            Kind::RequestUnauthorized => "The request could not be authorized.",
            Kind::LoginRequired => "The Authorization Server requires End-User authentication.",
            Kind::ScopeNotGranted => "The token was not granted the requested scope.",
            Kind::NotFound => "Could not find the requested resource(s).",
            Kind::TokenInactive => "Token is inactive because it is malformed, expired or otherwise invalid. Token validation failed.",
            Kind::InvalidClientMetadata => "The value of one of the Client Metadata fields is invalid and the server has rejected this request. Note that an Authorization Server MAY choose to substitute a valid value for any requested parameter of a Client's Metadata.",
            Kind::InvalidRedirectUri => "The value of one or more redirect_uris is invalid.",
            Kind::RequestNotSupported => "The OP does not support use of the request parameter.",
            Kind::RequestUriNotSupported => "The OP does not support use of the request_uri parameter.",
            Kind::RegistrationNotSupported => "The OP does not support use of the registration parameter.",
            Kind::ServerError => "The authorization server encountered an unexpected condition that prevented it from fulfilling the request.",
        }
    }

    /// The HTTP status the SDK answers with (RFC 6749 §5.2: 401 only for client authentication).
    pub fn status(self) -> u16 {
        match self {
            Kind::InvalidClient | Kind::RequestUnauthorized | Kind::TokenInactive => 401,
            Kind::AccessDenied | Kind::RequestForbidden | Kind::ScopeNotGranted => 403,
            Kind::NotFound => 404,
            Kind::ServerError => 500,
            _ => 400,
        }
    }
}

/// One OAuth error: what `OAUTH_ERROR` carries, and what an error redirect carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub error: String,
    pub description: Option<String>,
    pub status_code: u16,
}

impl OAuthError {
    /// The error with its standard description only.
    pub fn new(kind: Kind) -> OAuthError {
        OAuthError { error: kind.code().to_owned(), description: Some(kind.description().to_owned()), status_code: kind.status() }
    }

    /// The standard description followed by a hint.
    pub fn hint(kind: Kind, hint: &str) -> OAuthError {
        let text = format!("{} {}", kind.description(), hint).replace('"', "'");
        OAuthError { error: kind.code().to_owned(), description: Some(text), status_code: kind.status() }
    }

    /// The same error with another status (e.g. `invalid_client` before any client authentication,
    /// which the authorization endpoint reports with 400).
    pub fn with_status(mut self, status: u16) -> OAuthError {
        self.status_code = status;
        self
    }

    /// A login, consent or logout request that was already used: 410 Gone (the Java core answered
    /// `unknown_error` with no description; a meaningful error with the same status, D14).
    pub fn already_handled() -> OAuthError {
        OAuthError::hint(Kind::InvalidRequest, "The request has already been handled.").with_status(410)
    }

    /// An unknown login, consent or logout challenge.
    pub fn unknown_challenge() -> OAuthError {
        OAuthError::hint(Kind::NotFound, "The requested challenge does not exist.")
    }

    /// The core's answer: `{"status":"OAUTH_ERROR","error","errorDescription","statusCode"}` (exactly
    /// these four keys; `errorDescription` may be null).
    pub fn to_json(&self) -> Value {
        json!({
            "error": self.error,
            "errorDescription": self.description,
            "statusCode": self.status_code,
        })
    }

    /// The query or fragment pairs of an error redirect (RFC 6749 §4.1.2.1): `error`,
    /// `error_description`, then `state` when the request had one.
    pub fn redirect_pairs<'a>(&'a self, state: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        let mut pairs = vec![("error", self.error.as_str())];
        if let Some(d) = &self.description {
            pairs.push(("error_description", d.as_str()));
        }
        if let Some(s) = state.filter(|s| !s.is_empty()) {
            pairs.push(("state", s));
        }
        pairs
    }
}

/// Why a request is malformed at the CDI level: a 400 with this plain text (the core's input parser
/// messages, e.g. `Field name 'clientId' is invalid in JSON input`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadInput(pub String);

impl BadInput {
    pub fn field_invalid(field: &str) -> BadInput {
        BadInput(format!("Field name '{field}' is invalid in JSON input"))
    }

    pub fn query_missing(field: &str) -> BadInput {
        BadInput(format!("Field name '{field}' is missing in GET request"))
    }
}

/// Why an endpoint does not answer `OK`, in the three shapes the core has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 400 with a plain-text message.
    BadInput(BadInput),
    /// 200 `{"status":"OAUTH_ERROR", …}`.
    OAuth(OAuthError),
    /// 200 `{"status":"CLIENT_NOT_FOUND_ERROR"}`: the status the SDKs handle for an unknown client.
    ClientNotFound,
    /// The random source or key material failed: the handler answers as for any internal error.
    Internal(&'static str),
}

impl Failure {
    /// The 200 body of an `OAUTH_ERROR` or `CLIENT_NOT_FOUND_ERROR`; `None` for a 400 text or an
    /// internal failure, which the handler answers as it answers those everywhere.
    pub fn body(&self) -> Option<Value> {
        match self {
            Failure::OAuth(e) => Some(e.to_json()),
            Failure::ClientNotFound => Some(json!({})),
            Failure::BadInput(_) | Failure::Internal(_) => None,
        }
    }
}

impl From<BadInput> for Failure {
    fn from(e: BadInput) -> Failure {
        Failure::BadInput(e)
    }
}

impl From<OAuthError> for Failure {
    fn from(e: OAuthError) -> Failure {
        Failure::OAuth(e)
    }
}

impl From<crate::crypto::CryptoError> for Failure {
    fn from(e: crate::crypto::CryptoError) -> Failure {
        Failure::Internal(match e {
            crate::crypto::CryptoError::Random => "the random source failed",
            _ => "the signing key is unusable",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_objects_have_exactly_four_keys() {
        let e = OAuthError::hint(Kind::InvalidGrant, "The \"redirect_uri\" differs.");
        let v = e.to_json();
        assert_eq!(v.as_object().unwrap().len(), 3);
        assert_eq!(v["error"], "invalid_grant");
        assert_eq!(v["statusCode"], 400);
        let d = v["errorDescription"].as_str().unwrap();
        assert!(d.starts_with(Kind::InvalidGrant.description()));
        assert!(d.ends_with(" The 'redirect_uri' differs."), "{d}");
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(OAuthError::new(Kind::InvalidClient).status_code, 401);
        assert_eq!(OAuthError::new(Kind::InvalidGrant).status_code, 400);
        assert_eq!(OAuthError::new(Kind::UnsupportedGrantType).status_code, 400);
        assert_eq!(OAuthError::new(Kind::InvalidScope).status_code, 400);
        assert_eq!(OAuthError::new(Kind::TokenInactive).status_code, 401);
        assert_eq!(OAuthError::already_handled().status_code, 410);
        assert_eq!(OAuthError::new(Kind::InvalidClient).with_status(400).status_code, 400);
    }

    #[test]
    fn failure_bodies() {
        assert_eq!(Failure::ClientNotFound.body(), Some(json!({})));
        assert_eq!(Failure::OAuth(OAuthError::new(Kind::NotFound)).body().unwrap()["statusCode"], 404);
        assert_eq!(Failure::BadInput(BadInput::field_invalid("x")).body(), None);
        assert_eq!(Failure::Internal("x").body(), None);
    }

    #[test]
    fn redirect_pairs_carry_the_state() {
        let e = OAuthError::new(Kind::AccessDenied);
        let pairs = e.redirect_pairs(Some("abcdefgh"));
        assert_eq!(pairs[0], ("error", "access_denied"));
        assert_eq!(pairs[2], ("state", "abcdefgh"));
        assert_eq!(e.redirect_pairs(None).len(), 2);
    }
}
