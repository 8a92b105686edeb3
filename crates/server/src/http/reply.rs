//! Successful replies as the core sends them.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;

/// A JSON response as the core sends it: compact, with a trailing newline.
pub fn json(value: Value) -> Result<Response, ApiError> {
    let mut body = value.to_string();
    body.push('\n');
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], body).into_response())
}
