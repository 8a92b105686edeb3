//! The core's response shapes for failures: plain-text bodies with the core's status codes.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::ids::TenantIdentifier;

#[derive(Debug)]
pub enum ApiError {
    /// 400 with the message (input validation, unknown app or tenant, CDI version errors).
    BadRequest(String),
    /// 401 `Invalid API key`.
    InvalidApiKey,
    /// 403 with the message.
    Forbidden(String),
    /// 404 `Not found`.
    NotFound,
    /// 405 `Method not supported`.
    MethodNotAllowed,
    /// 408: the body did not arrive within the read timeout.
    RequestTimeout,
    /// 413: the body is larger than `max_request_body_bytes`.
    PayloadTooLarge,
    /// 500; the message is logged, never sent (it may name internals).
    Internal(String),
    /// 503: the database did not answer.
    Unavailable(String),
    /// 503: every request slot (`max_server_pool_size`) stayed busy (counted and logged by `limits`).
    Busy,
    /// 429: a brute-force limit (`ratelimit`) refused the call, where the CDI has no status that fits
    /// (a Portcullis extension; the SDKs raise it as a core error and send nothing).
    TooManyRequests,
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    pub fn field_invalid(field: &str) -> Self {
        ApiError::BadRequest(format!("Field name '{field}' is invalid in JSON input"))
    }

    /// The core's 400 for an app or tenant that does not exist.
    pub fn tenant_not_found(id: &TenantIdentifier) -> Self {
        ApiError::BadRequest(format!(
            "AppId or tenantId not found => Tenant with the following connectionURIDomain, appId and tenantId combination not found: {id}"
        ))
    }
}

/// A text response as the core sends it: `text/html; charset=UTF-8`, the message and a newline.
pub fn text(status: StatusCode, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=UTF-8")], format!("{msg}\n")).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(m) => text(StatusCode::BAD_REQUEST, &m),
            ApiError::InvalidApiKey => text(StatusCode::UNAUTHORIZED, "Invalid API key"),
            ApiError::Forbidden(m) => text(StatusCode::FORBIDDEN, &m),
            ApiError::NotFound => text(StatusCode::NOT_FOUND, "Not found"),
            ApiError::MethodNotAllowed => text(StatusCode::METHOD_NOT_ALLOWED, "Method not supported"),
            ApiError::RequestTimeout => text(StatusCode::REQUEST_TIMEOUT, "Request timeout"),
            ApiError::PayloadTooLarge => text(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error")
            }
            ApiError::Busy => text(StatusCode::SERVICE_UNAVAILABLE, "Server busy"),
            ApiError::TooManyRequests => text(StatusCode::TOO_MANY_REQUESTS, "Too many requests, please try again later"),
            ApiError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                text(StatusCode::SERVICE_UNAVAILABLE, "Database unavailable")
            }
        }
    }
}

impl From<portcullis_core::storage::StorageError> for ApiError {
    fn from(e: portcullis_core::storage::StorageError) -> Self {
        match e {
            portcullis_core::storage::StorageError::Unavailable(m) => ApiError::Unavailable(m),
            portcullis_core::storage::StorageError::Query(m) => ApiError::Internal(m),
        }
    }
}

impl From<crate::tenancy::TenancyError> for ApiError {
    fn from(e: crate::tenancy::TenancyError) -> Self {
        match e {
            crate::tenancy::TenancyError::InvalidConfig(m) => ApiError::BadRequest(format!("Invalid core config: {m}")),
            crate::tenancy::TenancyError::Storage(s) => s.into(),
            crate::tenancy::TenancyError::NotFound(id) => ApiError::tenant_not_found(&id),
        }
    }
}

impl From<portcullis_core::input::InvalidInput> for ApiError {
    fn from(e: portcullis_core::input::InvalidInput) -> Self {
        ApiError::BadRequest(e.0)
    }
}

impl From<portcullis_core::error::Error> for ApiError {
    fn from(e: portcullis_core::error::Error) -> Self {
        match e {
            portcullis_core::error::Error::BadInput(m) => ApiError::BadRequest(m),
            portcullis_core::error::Error::Forbidden(m) => ApiError::Forbidden(m),
            portcullis_core::error::Error::Storage(s) => s.into(),
            portcullis_core::error::Error::Internal(m) => ApiError::Internal(m),
        }
    }
}
