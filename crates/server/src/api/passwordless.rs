//! Passwordless: creating codes (new device or resend), checking and consuming them (sign-in-up),
//! listing and revoking them, and the recipe's `PUT`/`GET /recipe/user`. Each handler parses its
//! request, calls `portcullis_core::passwordless`, and renders the outcome. Codes, link codes and
//! device ids are secrets: they are never logged.

use axum::response::Response;
use portcullis_core::passwordless::codes::normalise_phone_number;
use portcullis_core::passwordless::storage::{Contact, Device};
use portcullis_core::passwordless::{self as recipe, CodeInput, ConsumeOutcome, CreateCodeOutcome, DeviceLookup, NewCode, SignInUp, UpdateUserOutcome};
use portcullis_core::multitenancy::legacy::Recipe as LoginRecipe;
use portcullis_core::users::normalise_email;
use serde_json::{json, Map, Value};

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::version::Version;

/// An optional string field: absent is `None`; anything but a string (null included) is refused.
fn opt_str(body: &Body, field: &str) -> Result<Option<String>, ApiError> {
    if body.has(field) { body.str(field).map(Some) } else { Ok(None) }
}

/// A field that may be set, removed (JSON null) or left alone (absent).
fn nullable_str(body: &Body, field: &str) -> Result<Option<Option<String>>, ApiError> {
    match body.0.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(ApiError::field_invalid(field)),
    }
}

/// `POST /<t>/recipe/signinup/code`: a new device for an email or phone number, or a new code for
/// an existing device (`deviceId`).
pub async fn create_code(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = opt_str(&body, "email")?.map(|e| normalise_email(&e));
    let phone_number = opt_str(&body, "phoneNumber")?.map(|p| normalise_phone_number(&p));
    let device_id = opt_str(&body, "deviceId")?;
    if [email.is_some(), phone_number.is_some(), device_id.is_some()].iter().filter(|x| **x).count() != 1 {
        return Err(ApiError::bad("Please provide exactly one of email, phoneNumber or deviceId"));
    }
    let user_input_code = opt_str(&body, "userInputCode")?;
    if user_input_code.as_deref() == Some("") {
        return Err(ApiError::bad("userInputCode cannot be an empty string."));
    }
    ctx.require_login_enabled(tenant, LoginRecipe::Passwordless)?;
    let resend = device_id.is_some();
    let new = match device_id {
        Some(device_id) => NewCode::Device { device_id },
        None => NewCode::Contact { email, phone_number },
    };
    let (settings, limit) = (&tenant.settings.passwordless, tenant.settings.limits.passwordless_codes);
    let outcome = recipe::create_code(tenant.storage.as_ref(), ctx.id.key(), settings, ctx.now(), new, user_input_code, limit).await?;
    json(match outcome {
        CreateCodeOutcome::Created(c) => json!({
            "status": Status::Ok,
            "preAuthSessionId": c.pre_auth_session_id,
            "codeId": c.code_id,
            "deviceId": c.device_id,
            "userInputCode": c.user_input_code,
            "linkCode": c.link_code,
            "timeCreated": c.time_created,
            "codeLifetime": c.code_lifetime,
        }),
        CreateCodeOutcome::RestartFlow => json!({"status": Status::RestartFlow}),
        CreateCodeOutcome::UserInputCodeAlreadyUsed => json!({"status": Status::UserInputCodeAlreadyUsed}),
        // A resend answers the recipe's own RESTART_FLOW_ERROR (the SDKs send nothing and restart
        // the flow); a new sign-in attempt has no error status in the CDI, so 429 (docs/compatibility.md).
        CreateCodeOutcome::Limited => {
            ctx.state.metrics.record_rate_limited(portcullis_core::ratelimit::Kind::PasswordlessCodes);
            if !resend {
                return Err(ApiError::TooManyRequests);
            }
            json!({"status": Status::RestartFlow})
        }
    })
}

fn device_json(d: &Device) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("preAuthSessionId".into(), json!(d.id_hash));
    o.insert("failedCodeInputAttemptCount".into(), json!(d.failed_attempts));
    if let Some(e) = &d.email {
        o.insert("email".into(), json!(e));
    }
    if let Some(p) = &d.phone_number {
        o.insert("phoneNumber".into(), json!(p));
    }
    o
}

/// `POST /<t>/recipe/signinup/code/consume` (`consume`) and `…/code/check` (not `consume`).
pub async fn consume_code(ctx: &Ctx, consume: bool) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let pre_auth_session_id = body.str("preAuthSessionId")?;
    let exactly_one = || ApiError::bad("Please provide exactly one of linkCode or deviceId+userInputCode");
    let input = if body.has("linkCode") {
        if body.has("userInputCode") || body.has("deviceId") {
            return Err(exactly_one());
        }
        CodeInput::LinkCode(body.str("linkCode")?)
    } else if body.has("userInputCode") && body.has("deviceId") {
        CodeInput::UserInputCode { device_id: body.str("deviceId")?, user_input_code: body.str("userInputCode")? }
    } else {
        return Err(exactly_one());
    };
    ctx.require_login_enabled(tenant, LoginRecipe::Passwordless)?;
    let sign_in_up = consume.then_some(SignInUp { verify_email: ctx.version >= Version::V4_0 });
    let (storage, settings) = (tenant.storage.as_ref(), &tenant.settings.passwordless);
    let outcome =
        recipe::consume_code(storage, &ctx.state.last_active, ctx.id.key(), settings, ctx.now(), &pre_auth_session_id, input, sign_in_up).await?;
    let attempts = |status: Status, failed: i32, max: i64| {
        json!({"status": status, "failedCodeInputAttemptCount": failed, "maximumCodeInputAttempts": max})
    };
    json(match outcome {
        ConsumeOutcome::RestartFlow => json!({"status": Status::RestartFlow}),
        ConsumeOutcome::IncorrectUserInputCode { failed_attempts, max_attempts } => {
            attempts(Status::IncorrectUserInputCode, failed_attempts, max_attempts)
        }
        ConsumeOutcome::ExpiredUserInputCode { failed_attempts, max_attempts } => {
            attempts(Status::ExpiredUserInputCode, failed_attempts, max_attempts)
        }
        ConsumeOutcome::Ok { device, signed_in: None } => json!({"status": Status::Ok, "consumedDevice": device_json(&device)}),
        ConsumeOutcome::Ok { device, signed_in: Some(s) } => ctx.sign_in_json(json!({
            "status": Status::Ok,
            "createdNewUser": s.created,
            "user": ctx.user_json(&s.user),
            "recipeUserId": s.recipe_user_id,
            "consumedDevice": device_json(&device),
        })),
    })
}

/// `POST /<t>/recipe/signinup/code/remove`: one code (`codeId`) or, from CDI 5.0, one device
/// (`preAuthSessionId`).
pub async fn remove_code(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    // Below CDI 5.0 only a code can be removed: `codeId` is required and `preAuthSessionId` unread.
    let (code_id, device_id_hash) = if ctx.version >= Version::V5_0 {
        (opt_str(&body, "codeId")?, opt_str(&body, "preAuthSessionId")?)
    } else {
        (Some(body.str("codeId")?), None)
    };
    match (code_id, device_id_hash) {
        (Some(code_id), None) => recipe::remove_code(tenant.storage.as_ref(), ctx.id.key(), code_id).await?,
        (None, Some(hash)) => tenant.storage.pl_delete_device(ctx.id.key(), &hash).await?,
        (None, None) => return Err(ApiError::bad("Please provide either 'codeId' or 'preAuthSessionId'")),
        (Some(_), Some(_)) => return Err(ApiError::bad("Please provide only one of 'codeId' or 'preAuthSessionId'")),
    }
    json(json!({"status": Status::Ok}))
}

/// `POST /<t>/recipe/signinup/codes/remove`: every device of an email or phone number.
pub async fn remove_codes(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = opt_str(&body, "email")?.map(|e| normalise_email(&e));
    let phone = opt_str(&body, "phoneNumber")?.map(|p| normalise_phone_number(&p));
    let contact = match (&email, &phone) {
        (Some(e), None) => Contact::Email(e),
        (None, Some(p)) => Contact::Phone(p),
        _ => return Err(ApiError::bad("Please provide exactly one of email or phoneNumber")),
    };
    tenant.storage.pl_delete_devices_by_contact(ctx.id.key(), contact).await?;
    json(json!({"status": Status::Ok}))
}

/// `GET /<t>/recipe/signinup/codes`: devices and their codes by email, phone number, device id or
/// pre-auth session id (expired codes included).
pub async fn list_codes(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let q = &ctx.query;
    let (email, phone, device_id, hash) = (q.get("email"), q.get("phoneNumber"), q.get("deviceId"), q.get("preAuthSessionId"));
    let lookup = match (email, phone, device_id, hash) {
        (Some(e), None, None, None) => DeviceLookup::Email(normalise_email(e)),
        (None, Some(p), None, None) => DeviceLookup::PhoneNumber(normalise_phone_number(p)),
        (None, None, Some(d), None) => DeviceLookup::DeviceId(d.to_owned()),
        (None, None, None, Some(h)) => DeviceLookup::PreAuthSessionId(h.to_owned()),
        _ => return Err(ApiError::bad("Please provide exactly one of email, phoneNumber, deviceId or preAuthSessionId")),
    };
    let devices = recipe::devices(tenant.storage.as_ref(), ctx.id.key(), lookup).await?;
    let lifetime = tenant.settings.passwordless.code_lifetime_ms;
    let devices: Vec<Value> = devices
        .iter()
        .map(|d| {
            let mut o = device_json(&d.device);
            let codes: Vec<Value> =
                d.codes.iter().map(|c| json!({"codeId": c.id, "timeCreated": c.created_at, "codeLifetime": lifetime})).collect();
            o.insert("codes".into(), json!(codes));
            Value::Object(o)
        })
        .collect();
    json(json!({"status": Status::Ok, "devices": devices}))
}

/// `PUT /recipe/user` with `rid: passwordless`: a new email and/or phone number (JSON null removes).
pub async fn update_user(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let body = ctx.body()?;
    let user_id = body.str(ctx.recipe_user_id_field())?;
    let email = nullable_str(&body, "email")?.map(|e| e.map(|e| normalise_email(&e)));
    let phone = nullable_str(&body, "phoneNumber")?.map(|p| p.map(|p| normalise_phone_number(&p)));
    let storages = ctx.app_storages()?;
    let outcome = recipe::update_user(&storages, ctx.id.app_key(), &user_id, email, phone).await?;
    json(match outcome {
        UpdateUserOutcome::Updated => json!({"status": Status::Ok}),
        UpdateUserOutcome::UnknownUser => json!({"status": Status::UnknownUserId}),
        UpdateUserOutcome::EmailAlreadyExists => json!({"status": Status::EmailAlreadyExists}),
        UpdateUserOutcome::PhoneNumberAlreadyExists => json!({"status": Status::PhoneNumberAlreadyExists}),
        UpdateUserOutcome::NoContactLeft => return Err(ApiError::bad("You cannot clear both email and phone number of a user")),
        UpdateUserOutcome::EmailChangeNotAllowed => {
            json!({"status": Status::EmailChangeNotAllowed, "reason": "New email is associated with another primary user ID"})
        }
        UpdateUserOutcome::PhoneNumberChangeNotAllowed => json!({
            "status": Status::PhoneNumberChangeNotAllowed,
            "reason": "New phone number is associated with another primary user ID"
        }),
    })
}

/// `GET /recipe/user` with `rid: passwordless` (deprecated since CDI 4.0): by id (app-wide; the
/// user object then holds only that login method, as in the core), or by email or phone number
/// in the tenant (the whole user).
pub async fn get_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let (user_id, email, phone) = (q.get("userId"), q.get("email"), q.get("phoneNumber"));
    let found = match (user_id, email, phone) {
        (Some(id), None, None) => {
            ctx.require_public_tenant()?;
            let storages = ctx.app_storages()?;
            (recipe::user_by_id(&storages, ctx.id.app_key(), id.trim()).await?, Status::UnknownUserId)
        }
        (None, Some(e), None) => {
            let tenant = ctx.tenant()?;
            let email = normalise_email(e);
            (recipe::user_by_contact(tenant.storage.as_ref(), ctx.id.key(), Contact::Email(&email)).await?, Status::UnknownEmail)
        }
        (None, None, Some(p)) => {
            let tenant = ctx.tenant()?;
            let phone = normalise_phone_number(p);
            (recipe::user_by_contact(tenant.storage.as_ref(), ctx.id.key(), Contact::Phone(&phone)).await?, Status::UnknownPhoneNumber)
        }
        _ => return Err(ApiError::bad("Please provide exactly one of userId, email or phoneNumber")),
    };
    json(match found {
        (Some(user), _) => json!({"status": Status::Ok, "user": ctx.user_json(&user)}),
        (None, missing) => json!({"status": missing}),
    })
}
