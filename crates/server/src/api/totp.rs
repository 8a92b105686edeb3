//! TOTP: devices (create, import, rename, list, remove, bulk status; app-wide, kept in the app's
//! public tenant's database) and verification (of a new device, or of a code against the user's
//! verified devices; per tenant, rate limited by the tenant's `totp_max_attempts` and
//! `totp_rate_limit_cooldown_sec`). The core serves these as paid features (402 without a
//! licence); Portcullis serves them to everyone. Secrets and codes are never logged.

use axum::response::Response;
use portcullis_core::input::{self, not_empty};
use portcullis_core::totp::{self, CreateDeviceOutcome, DeviceFields, RenameOutcome, Verdict, VerifyOutcome, VerifyRequest};
use serde_json::{json, Map, Value};

use super::metadata::app_storage;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::version::Version;

/// The user a request names; `stored` when a new device will be written for it.
fn user_id(body: &Body, stored: bool) -> Result<String, ApiError> {
    let id = body.str("userId")?;
    if stored { input::stored_user_id(&id)? } else { input::user_id(&id)? }
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

/// The fields shared by create and import (`secretKey` only for import), parsed in the core's order.
fn device_fields(body: &Body, import: bool) -> Result<DeviceFields, ApiError> {
    let user_id = user_id(body, true)?;
    let name = opt_str(body, "deviceName")?;
    let skew = int(body, "skew")?;
    let period = int(body, "period")?;
    let imported_secret = if import { Some(body.str("secretKey")?) } else { None };
    Ok(DeviceFields { user_id, name, skew, period, imported_secret })
}

/// `POST /recipe/totp/device`: a new, unverified device with a fresh secret.
pub async fn create_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let device = totp::new_device(device_fields(&ctx.body()?, false)?, ctx.now())?;
    let secret = device.secret_key.clone();
    match totp::create_device(app_storage(ctx)?.as_ref(), ctx.id.app_key(), device).await? {
        CreateDeviceOutcome::Created(name) => json(json!({"status": Status::Ok, "deviceName": name, "secret": secret})),
        CreateDeviceOutcome::AlreadyExists => json(json!({"status": Status::DeviceAlreadyExists})),
    }
}

/// `POST /recipe/totp/device/import`: a device with a secret from elsewhere, verified at once.
pub async fn import_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let device = totp::new_device(device_fields(&ctx.body()?, true)?, ctx.now())?;
    match totp::create_device(app_storage(ctx)?.as_ref(), ctx.id.app_key(), device).await? {
        CreateDeviceOutcome::Created(name) => json(json!({"status": Status::Ok, "deviceName": name})),
        CreateDeviceOutcome::AlreadyExists => json(json!({"status": Status::DeviceAlreadyExists})),
    }
}

/// `PUT /recipe/totp/device`: renames a device.
pub async fn rename_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let user_id = user_id(&body, false)?;
    let old = body.str("existingDeviceName")?;
    let new = body.str("newDeviceName")?;
    totp::check_rename(&user_id, &old, &new)?;
    let status = match totp::rename_device(app_storage(ctx)?.as_ref(), ctx.id.app_key(), &user_id, &old, &new).await? {
        RenameOutcome::Renamed => Status::Ok,
        RenameOutcome::UnknownDevice => Status::UnknownDevice,
        RenameOutcome::AlreadyExists => Status::DeviceAlreadyExists,
    };
    json(json!({"status": status}))
}

/// `GET /recipe/totp/device/list?userId=`: the user's devices (no secrets).
pub async fn list_devices(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("userId")?.to_owned();
    not_empty("userId", &user_id)?;
    input::user_id(&user_id)?;
    let devices = app_storage(ctx)?.totp_devices(ctx.id.app_key(), &user_id).await?;
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| json!({"name": d.name, "period": d.period, "skew": d.skew, "verified": d.verified}))
        .collect();
    json(json!({"status": Status::Ok, "devices": devices}))
}

/// `POST /recipe/totp/device/remove`.
pub async fn remove_device(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let user_id = user_id(&body, false)?;
    let name = body.str("deviceName")?;
    not_empty("userId", &user_id)?;
    not_empty("deviceName", &name)?;
    let existed = totp::remove_device(app_storage(ctx)?.as_ref(), ctx.id.app_key(), &user_id, &name).await?;
    json(json!({"status": Status::Ok, "didDeviceExist": existed}))
}

/// `POST /<t>/recipe/totp/device/verify` (`by_device`) and `POST /<t>/recipe/totp/verify`.
pub async fn verify(ctx: &Ctx, by_device: bool) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let user_id = user_id(&body, false)?;
    let device = if by_device { Some(body.str("deviceName")?) } else { None };
    let code = body.str("totp")?;
    totp::check_verify(&user_id, device.as_deref())?;
    let request = VerifyRequest { user_id, device, code, now: ctx.now(), limits: tenant.settings.totp };
    let outcome = totp::verify(tenant.storage.as_ref(), ctx.id.key(), request).await?;
    let with_attempts = ctx.version >= Version::V5_0;
    let mut reply = Map::new();
    let status = match outcome {
        VerifyOutcome::UnknownDevice => Status::UnknownDevice,
        VerifyOutcome::UnknownUser => Status::UnknownUserId,
        VerifyOutcome::AlreadyVerified | VerifyOutcome::Checked(Verdict::Ok) => {
            if by_device {
                reply.insert("wasAlreadyVerified".into(), json!(outcome == VerifyOutcome::AlreadyVerified));
            }
            Status::Ok
        }
        VerifyOutcome::Checked(Verdict::Invalid { failed_attempts, max_attempts }) => {
            if with_attempts {
                reply.insert("currentNumberOfFailedAttempts".into(), json!(failed_attempts));
                reply.insert("maxNumberOfFailedAttempts".into(), json!(max_attempts));
            }
            Status::InvalidTotp
        }
        VerifyOutcome::Checked(Verdict::LimitReached { retry_after_ms, failed_attempts, max_attempts }) => {
            reply.insert("retryAfterMs".into(), json!(retry_after_ms));
            if with_attempts {
                reply.insert("currentNumberOfFailedAttempts".into(), json!(failed_attempts));
                reply.insert("maxNumberOfFailedAttempts".into(), json!(max_attempts));
            }
            Status::LimitReached
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
        return json(json!({"status": Status::Ok, "users": []}));
    }
    let status = app_storage(ctx)?.totp_device_status(ctx.id.app_key(), &user_ids).await?;
    let users: Vec<Value> = user_ids.iter().map(|id| json!({"userId": id, "hasVerifiedDevice": status.get(id)})).collect();
    json(json!({"status": Status::Ok, "users": users}))
}
