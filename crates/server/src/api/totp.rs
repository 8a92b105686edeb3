//! TOTP: devices (create, import, rename, list, remove, bulk status; app-wide, kept in the app's
//! public tenant's database) and verification (of a new device, or of a code against the user's
//! verified devices; per tenant, rate limited by the tenant's `totp_max_attempts` and
//! `totp_rate_limit_cooldown_sec`). The core serves these as paid features (402 without a
//! licence); Portcullis serves them to everyone. Secrets and codes are never logged.

use axum::response::Response;
use portcullis_core::roles::{fits, user_id as check_user_id, MAX_USER_ID_CHARS};
use portcullis_core::totp::storage::{CreateDeviceOutcome, NewDevice, RenameOutcome, VerifyOutcome, VerifyRequest};
use portcullis_core::totp::{generate_secret, Verdict};
use serde_json::{json, Map, Value};

use super::metadata::app_storage;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::ctx::Ctx;
use crate::http::version::Version;

/// The columns' sizes (`device_name`, `secret_key` are VARCHAR(256)).
const MAX_NAME_CHARS: usize = 256;

/// A string headed for a column must fit it (NUL never arrives: bodies and query strings drop it in
/// `http::input`). A string only compared with stored ones may be longer: it matches nothing, as in
/// the core.
fn storable(field: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    Ok(fits(field, value, max_chars)?)
}

/// The user a request names; `stored` when a new device will be written for it.
fn user_id(body: &Body, stored: bool) -> Result<String, ApiError> {
    let id = body.str("userId")?;
    check_user_id(&id)?;
    if stored {
        fits("userId", &id, MAX_USER_ID_CHARS)?;
    }
    Ok(id)
}

/// An optional string: absent is `None`; anything but a string (null included) is refused.
fn opt_str(body: &Body, field: &str) -> Result<Option<String>, ApiError> {
    if body.has(field) { body.str(field).map(Some) } else { Ok(None) }
}

/// The core's `parseIntOrThrowError`: a JSON number (fractions truncated) or a numeric string.
fn int(body: &Body, field: &str) -> Result<i32, ApiError> {
    let value = match body.0.get(field) {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f.trunc() as i64)),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    value.and_then(|v| i32::try_from(v).ok()).ok_or_else(|| ApiError::field_invalid(field))
}

fn not_empty(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::bad(format!("{field} cannot be empty")));
    }
    Ok(())
}

/// The fields shared by create and import (`secretKey` only for import), in the core's order:
/// every field parsed, then the emptiness and range checks.
fn new_device(body: &Body, import: bool, now: i64) -> Result<NewDevice, ApiError> {
    let user_id = user_id(body, true)?;
    let name = opt_str(body, "deviceName")?;
    let skew = int(body, "skew")?;
    let period = int(body, "period")?;
    let imported_secret = if import { Some(body.str("secretKey")?) } else { None };
    not_empty("userId", &user_id)?;
    if let Some(n) = &name {
        not_empty("deviceName", n)?;
        storable("deviceName", n, MAX_NAME_CHARS)?;
    }
    if let Some(s) = &imported_secret {
        not_empty("secretKey", s)?;
        storable("secretKey", s, MAX_NAME_CHARS)?;
    }
    if skew < 0 {
        return Err(ApiError::bad("skew must be >= 0"));
    }
    if period <= 0 {
        return Err(ApiError::bad("period must be > 0"));
    }
    let secret_key = match imported_secret {
        Some(s) => s,
        None => generate_secret().map_err(|e| ApiError::Internal(e.to_string()))?,
    };
    Ok(NewDevice { user_id, name, secret_key, period, skew, verified: import, created_at: now })
}

/// `POST /recipe/totp/device`: a new, unverified device with a fresh secret.
pub async fn create_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let device = new_device(&ctx.body()?, false, ctx.now())?;
    match app_storage(ctx)?.totp_create_device(ctx.id.app_key(), &device).await? {
        CreateDeviceOutcome::Created(name) => json(json!({"status": "OK", "deviceName": name, "secret": device.secret_key})),
        CreateDeviceOutcome::AlreadyExists => json(json!({"status": "DEVICE_ALREADY_EXISTS_ERROR"})),
    }
}

/// `POST /recipe/totp/device/import`: a device with a secret from elsewhere, verified at once.
pub async fn import_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let device = new_device(&ctx.body()?, true, ctx.now())?;
    match app_storage(ctx)?.totp_create_device(ctx.id.app_key(), &device).await? {
        CreateDeviceOutcome::Created(name) => json(json!({"status": "OK", "deviceName": name})),
        CreateDeviceOutcome::AlreadyExists => json(json!({"status": "DEVICE_ALREADY_EXISTS_ERROR"})),
    }
}

/// `PUT /recipe/totp/device`: renames a device.
pub async fn rename_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let user_id = user_id(&body, false)?;
    let old = body.str("existingDeviceName")?;
    let new = body.str("newDeviceName")?;
    not_empty("userId", &user_id)?;
    not_empty("existingDeviceName", &old)?;
    not_empty("newDeviceName", &new)?;
    storable("newDeviceName", &new, MAX_NAME_CHARS)?;
    let status = match app_storage(ctx)?.totp_rename_device(ctx.id.app_key(), &user_id, &old, &new).await? {
        RenameOutcome::Renamed => "OK",
        RenameOutcome::UnknownDevice => "UNKNOWN_DEVICE_ERROR",
        RenameOutcome::AlreadyExists => "DEVICE_ALREADY_EXISTS_ERROR",
    };
    json(json!({"status": status}))
}

/// `GET /recipe/totp/device/list?userId=`: the user's devices (no secrets).
pub async fn list_devices(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("userId")?.to_owned();
    not_empty("userId", &user_id)?;
    check_user_id(&user_id)?;
    let devices = app_storage(ctx)?.totp_devices(ctx.id.app_key(), &user_id).await?;
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| json!({"name": d.name, "period": d.period, "skew": d.skew, "verified": d.verified}))
        .collect();
    json(json!({"status": "OK", "devices": devices}))
}

/// `POST /recipe/totp/device/remove`.
pub async fn remove_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let user_id = user_id(&body, false)?;
    let name = body.str("deviceName")?;
    not_empty("userId", &user_id)?;
    not_empty("deviceName", &name)?;
    let existed = app_storage(ctx)?.totp_remove_device(ctx.id.app_key(), &user_id, &name).await?;
    json(json!({"status": "OK", "didDeviceExist": existed}))
}

/// `POST /<t>/recipe/totp/device/verify` (`by_device`) and `POST /<t>/recipe/totp/verify`.
pub async fn verify(ctx: &Ctx, by_device: bool) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let user_id = user_id(&body, false)?;
    let device = if by_device { Some(body.str("deviceName")?) } else { None };
    let code = body.str("totp")?;
    not_empty("userId", &user_id)?;
    if let Some(d) = &device {
        not_empty("deviceName", d)?;
    }
    let limits = tenant.settings.totp;
    let request = VerifyRequest { user_id, device, code, now: ctx.now(), limits };
    let outcome = tenant.storage.totp_verify(ctx.id.key(), &request).await?;
    let with_attempts = ctx.version >= Version(5, 0);
    let mut reply = Map::new();
    let status = match outcome {
        VerifyOutcome::UnknownDevice => "UNKNOWN_DEVICE_ERROR",
        VerifyOutcome::UnknownUser => "UNKNOWN_USER_ID_ERROR",
        VerifyOutcome::AlreadyVerified | VerifyOutcome::Checked(Verdict::Ok) => {
            if by_device {
                reply.insert("wasAlreadyVerified".into(), json!(outcome == VerifyOutcome::AlreadyVerified));
            }
            "OK"
        }
        VerifyOutcome::Checked(Verdict::Invalid { failed_attempts, max_attempts }) => {
            if with_attempts {
                reply.insert("currentNumberOfFailedAttempts".into(), json!(failed_attempts));
                reply.insert("maxNumberOfFailedAttempts".into(), json!(max_attempts));
            }
            "INVALID_TOTP_ERROR"
        }
        VerifyOutcome::Checked(Verdict::LimitReached { retry_after_ms, failed_attempts, max_attempts }) => {
            reply.insert("retryAfterMs".into(), json!(retry_after_ms));
            if with_attempts {
                reply.insert("currentNumberOfFailedAttempts".into(), json!(failed_attempts));
                reply.insert("maxNumberOfFailedAttempts".into(), json!(max_attempts));
            }
            "LIMIT_REACHED_ERROR"
        }
    };
    reply.insert("status".into(), json!(status));
    json(Value::Object(reply))
}

/// `POST /recipe/totp/device/status/bulk`: for each user asked (in order, repeats kept) whether
/// one of its devices is verified; `null` for users without devices.
pub async fn bulk_status(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_ids = super::metadata::bulk_user_ids(&ctx.body()?)?;
    if user_ids.is_empty() {
        return json(json!({"status": "OK", "users": []}));
    }
    let status = app_storage(ctx)?.totp_device_status(ctx.id.app_key(), &user_ids).await?;
    let users: Vec<Value> = user_ids.iter().map(|id| json!({"userId": id, "hasVerifiedDevice": status.get(id)})).collect();
    json(json!({"status": "OK", "users": users}))
}
