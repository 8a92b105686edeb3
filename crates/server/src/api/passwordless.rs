//! Passwordless: creating codes (new device or resend), checking and consuming them (sign-in-up),
//! listing and revoking them, and the recipe's `PUT`/`GET /recipe/user`. Codes, link codes and
//! device ids are secrets: they are never logged.

use axum::response::Response;
use portcullis_core::crypto::{uuid_v4, CryptoError};
use portcullis_core::passwordless::codes::{
    generate_user_input_code, normalise_phone_number, pre_auth_session_id_matches, DeviceId, EncodingError, LinkCode, LinkCodeSalt,
};
use portcullis_core::passwordless::storage::{
    Code, ConsumeOutcome, ConsumeRequest, Contact, CreateCodeOutcome, Device, DeviceWithCodes, SignInUp, UpdateUserOutcome,
};
use portcullis_core::users::storage::AccountInfo;
use portcullis_core::users::{normalise_email, RecipeId, User};
use serde_json::{json, Map, Value};

use portcullis_core::services::ActivityLog;

use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::ctx::Ctx;
use crate::http::version::Version;

/// Fresh random values that collide with stored ones are drawn again, this many times at most.
const CREATE_TRIES: usize = 5;

fn internal(e: CryptoError) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn encoding(e: EncodingError) -> ApiError {
    ApiError::bad(format!("Input encoding error in {}", e.0))
}

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

fn field(f: &Option<Option<String>>) -> Option<Option<&str>> {
    f.as_ref().map(|v| v.as_deref())
}

fn code_lifetime(ctx: &Ctx) -> Result<i64, ApiError> {
    Ok(ctx.tenant()?.settings.passwordless.code_lifetime_ms)
}

/// `POST /<t>/recipe/signinup/code`: a new device for an email or phone number, or a new code for
/// an existing device (`deviceId`).
pub async fn create_code(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let email = opt_str(&body, "email")?.map(|e| normalise_email(&e));
    let phone = opt_str(&body, "phoneNumber")?.map(|p| normalise_phone_number(&p));
    let device_id = opt_str(&body, "deviceId")?;
    if [email.is_some(), phone.is_some(), device_id.is_some()].iter().filter(|x| **x).count() != 1 {
        return Err(ApiError::bad("Please provide exactly one of email, phoneNumber or deviceId"));
    }
    let given_code = opt_str(&body, "userInputCode")?;
    if given_code.as_deref() == Some("") {
        return Err(ApiError::bad("userInputCode cannot be an empty string."));
    }
    let (key, storage) = (ctx.id.key(), &tenant.storage);
    let lifetime = code_lifetime(ctx)?;
    let new_code = |device: &DeviceId, salt: &LinkCodeSalt| -> Result<(Code, String, LinkCode), ApiError> {
        let user_input_code = match &given_code {
            Some(c) => c.clone(),
            None => generate_user_input_code().map_err(internal)?,
        };
        let link = device.link_code(salt, &user_input_code);
        let code = Code { id: uuid_v4().map_err(internal)?, device_id_hash: device.hash(), link_code_hash: link.hash(), created_at: ctx.now() };
        Ok((code, user_input_code, link))
    };
    let created = |device: &DeviceId, code: &Code, user_input_code: &str, link: &LinkCode| {
        json(json!({
            "status": "OK",
            "preAuthSessionId": code.device_id_hash,
            "codeId": code.id,
            "deviceId": device.encode(),
            "userInputCode": user_input_code,
            "linkCode": link.encode(),
            "timeCreated": code.created_at,
            "codeLifetime": lifetime,
        }))
    };
    match device_id {
        None => {
            for _ in 0..CREATE_TRIES {
                let device = DeviceId::generate().map_err(internal)?;
                let salt = LinkCodeSalt::generate().map_err(internal)?;
                let (code, user_input_code, link) = new_code(&device, &salt)?;
                let row = Device {
                    id_hash: device.hash(),
                    email: email.clone(),
                    phone_number: phone.clone(),
                    link_code_salt: salt.encode(),
                    failed_attempts: 0,
                };
                if storage.pl_create_device_with_code(key, &row, &code).await? {
                    return created(&device, &code, &user_input_code, &link);
                }
            }
        }
        Some(device_id) => {
            let device = DeviceId::decode(&device_id).map_err(encoding)?;
            let Some(stored) = storage.pl_device(key, &device.hash()).await? else {
                return json(json!({"status": "RESTART_FLOW_ERROR"}));
            };
            let salt = LinkCodeSalt::decode(&stored.device.link_code_salt).map_err(|_| ApiError::Internal("a stored link code salt is not base64".into()))?;
            for _ in 0..CREATE_TRIES {
                let (code, user_input_code, link) = new_code(&device, &salt)?;
                match storage.pl_create_code(key, &code).await? {
                    CreateCodeOutcome::Created => return created(&device, &code, &user_input_code, &link),
                    CreateCodeOutcome::UnknownDevice => return json(json!({"status": "RESTART_FLOW_ERROR"})),
                    // The same user input code on the same device gives the same link code.
                    CreateCodeOutcome::Duplicate if given_code.is_some() => {
                        return json(json!({"status": "USER_INPUT_CODE_ALREADY_USED_ERROR"}))
                    }
                    CreateCodeOutcome::Duplicate => {}
                }
            }
        }
    }
    Err(ApiError::Internal("random passwordless values collided repeatedly".into()))
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
    let (key, storage) = (ctx.id.key(), &tenant.storage);
    let lifetime = code_lifetime(ctx)?;
    let max_attempts = tenant.settings.passwordless.max_attempts;
    let restart = || json(json!({"status": "RESTART_FLOW_ERROR"}));
    let by_user_input_code = !body.has("linkCode");
    let (device_id_hash, link_code_hash) = if body.has("linkCode") {
        if body.has("userInputCode") || body.has("deviceId") {
            return Err(exactly_one());
        }
        let link = LinkCode::decode(&body.str("linkCode")?).map_err(encoding)?;
        let hash = link.hash();
        match storage.pl_code_by_link_code_hash(key, &hash).await? {
            Some(code) if code.created_at >= ctx.now() - lifetime => (code.device_id_hash, hash),
            _ => return restart(),
        }
    } else if body.has("userInputCode") && body.has("deviceId") {
        let device = DeviceId::decode(&body.str("deviceId")?).map_err(encoding)?;
        let user_input_code = body.str("userInputCode")?;
        let Some(stored) = storage.pl_device(key, &device.hash()).await? else { return restart() };
        let salt = LinkCodeSalt::decode(&stored.device.link_code_salt).map_err(|_| ApiError::Internal("a stored link code salt is not base64".into()))?;
        (device.hash(), device.link_code(&salt, &user_input_code).hash())
    } else {
        return Err(exactly_one());
    };
    if !pre_auth_session_id_matches(&device_id_hash, &pre_auth_session_id) {
        return Err(ApiError::bad("preAuthSessionId and deviceId doesn't match"));
    }
    let sign_in_up = if consume {
        Some(SignInUp { new_user_id: uuid_v4().map_err(internal)?, verify_email: ctx.version >= Version(4, 0) })
    } else {
        None
    };
    let request = ConsumeRequest {
        device_id_hash,
        link_code_hash,
        by_user_input_code,
        now: ctx.now(),
        code_lifetime_ms: lifetime,
        max_attempts,
        sign_in_up,
    };
    let attempts = |status: &str, failed: i32| {
        json(json!({"status": status, "failedCodeInputAttemptCount": failed, "maximumCodeInputAttempts": max_attempts}))
    };
    let (device, user) = match storage.pl_consume(key, &request).await? {
        ConsumeOutcome::RestartFlow => return restart(),
        ConsumeOutcome::IncorrectUserInputCode { failed_attempts } => return attempts("INCORRECT_USER_INPUT_CODE_ERROR", failed_attempts),
        ConsumeOutcome::ExpiredUserInputCode { failed_attempts } => return attempts("EXPIRED_USER_INPUT_CODE_ERROR", failed_attempts),
        ConsumeOutcome::Ok { device, user } => (device, user),
    };
    let Some((user_id, created)) = user else {
        return json(json!({"status": "OK", "consumedDevice": device_json(&device)}));
    };
    ctx.state.last_active.record(storage.as_ref(), ctx.id.app_key(), &user_id, request.now).await;
    let user = storage
        .get_user(key.app(), &user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("a user just signed in cannot be read".into()))?;
    let recipe_user_id = user.login_method(&user_id).map_or(user_id.as_str(), |m| m.public_id());
    json(json!({
        "status": "OK",
        "createdNewUser": created,
        "user": user.to_json(),
        "recipeUserId": recipe_user_id,
        "consumedDevice": device_json(&device),
    }))
}

/// `POST /<t>/recipe/signinup/code/remove`: one code (`codeId`) or one device (`preAuthSessionId`).
pub async fn remove_code(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let body = ctx.body()?;
    let code_id = opt_str(&body, "codeId")?;
    let device_id_hash = opt_str(&body, "preAuthSessionId")?;
    let key = ctx.id.key();
    match (code_id, device_id_hash) {
        (Some(code_id), None) => tenant.storage.pl_delete_code(key, &code_id).await?,
        (None, Some(hash)) => tenant.storage.pl_delete_device(key, &hash).await?,
        (None, None) => return Err(ApiError::bad("Please provide either 'codeId' or 'preAuthSessionId'")),
        (Some(_), Some(_)) => return Err(ApiError::bad("Please provide only one of 'codeId' or 'preAuthSessionId'")),
    }
    json(json!({"status": "OK"}))
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
    json(json!({"status": "OK"}))
}

/// `GET /<t>/recipe/signinup/codes`: devices and their codes by email, phone number, device id or
/// pre-auth session id (expired codes included).
pub async fn list_codes(ctx: &Ctx) -> Result<Response, ApiError> {
    let tenant = ctx.tenant()?;
    let q = &ctx.query;
    let (email, phone, device_id, hash) = (q.get("email"), q.get("phoneNumber"), q.get("deviceId"), q.get("preAuthSessionId"));
    if [email, phone, device_id, hash].iter().filter(|v| v.is_some()).count() != 1 {
        return Err(ApiError::bad("Please provide exactly one of email, phoneNumber, deviceId or preAuthSessionId"));
    }
    let (key, storage) = (ctx.id.key(), &tenant.storage);
    let devices: Vec<DeviceWithCodes> = if let Some(email) = email {
        storage.pl_devices_by_contact(key, Contact::Email(&normalise_email(email))).await?
    } else if let Some(phone) = phone {
        storage.pl_devices_by_contact(key, Contact::Phone(&normalise_phone_number(phone))).await?
    } else {
        let hash = match device_id {
            Some(d) => DeviceId::decode(d).map_err(encoding)?.hash(),
            None => hash.unwrap_or_default().to_owned(),
        };
        storage.pl_device(key, &hash).await?.into_iter().collect()
    };
    let lifetime = code_lifetime(ctx)?;
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
    json(json!({"status": "OK", "devices": devices}))
}

/// `PUT /recipe/user` with `rid: passwordless`: a new email and/or phone number (JSON null removes).
pub async fn update_user(ctx: &Ctx) -> Result<Response, ApiError> {
    ctx.require_public_tenant()?;
    let body = ctx.body()?;
    let user_id = if body.has("recipeUserId") { body.str("recipeUserId")? } else { body.str("userId")? };
    let email = nullable_str(&body, "email")?.map(|e| e.map(|e| normalise_email(&e)));
    let phone = nullable_str(&body, "phoneNumber")?.map(|p| p.map(|p| normalise_phone_number(&p)));
    let unknown = || json(json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    let Some((found, storage)) = super::users::find_user(ctx, &user_id).await? else { return unknown() };
    let user_id = found.recipe_user_id;
    if found.user.login_method(&user_id).is_none_or(|m| m.recipe_id != RecipeId::Passwordless) {
        return unknown();
    }
    match storage.pl_update_user(ctx.id.app_key(), &user_id, field(&email), field(&phone)).await? {
        UpdateUserOutcome::Updated => json(json!({"status": "OK"})),
        UpdateUserOutcome::UnknownUser => unknown(),
        UpdateUserOutcome::EmailAlreadyExists => json(json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"})),
        UpdateUserOutcome::PhoneNumberAlreadyExists => json(json!({"status": "PHONE_NUMBER_ALREADY_EXISTS_ERROR"})),
        UpdateUserOutcome::NoContactLeft => Err(ApiError::bad("You cannot clear both email and phone number of a user")),
        UpdateUserOutcome::EmailChangeNotAllowed => {
            json(json!({"status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "reason": "New email is associated with another primary user ID"}))
        }
        UpdateUserOutcome::PhoneNumberChangeNotAllowed => json(json!({
            "status": "PHONE_NUMBER_CHANGE_NOT_ALLOWED_ERROR",
            "reason": "New phone number is associated with another primary user ID"
        })),
    }
}

/// `GET /recipe/user` with `rid: passwordless` (deprecated since CDI 4.0): by id (app-wide; the
/// user object then holds only that login method, as in the core), or by email or phone number
/// in the tenant (the whole user).
pub async fn get_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let q = &ctx.query;
    let (user_id, email, phone) = (q.get("userId"), q.get("email"), q.get("phoneNumber"));
    if [user_id, email, phone].iter().filter(|v| v.is_some()).count() != 1 {
        return Err(ApiError::bad("Please provide exactly one of userId, email or phoneNumber"));
    }
    if let Some(id) = user_id {
        ctx.require_public_tenant()?;
        let found = super::users::find_user(ctx, id.trim()).await?;
        let method = found.as_ref().and_then(|(f, _)| f.user.login_method(&f.recipe_user_id)).filter(|m| m.recipe_id == RecipeId::Passwordless);
        return match (method, &found) {
            (Some(m), Some((f, _))) => {
                let user = User { id: m.recipe_user_id.clone(), is_primary: f.user.is_primary, login_methods: vec![m.clone()] };
                json(json!({"status": "OK", "user": user.to_json()}))
            }
            _ => json(json!({"status": "UNKNOWN_USER_ID_ERROR"})),
        };
    }
    let tenant = ctx.tenant()?;
    let (info, missing) = match (email, phone) {
        (Some(e), _) => (AccountInfo::Email(normalise_email(e)), "UNKNOWN_EMAIL_ERROR"),
        (_, p) => (AccountInfo::PhoneNumber(normalise_phone_number(p.unwrap_or_default())), "UNKNOWN_PHONE_NUMBER_ERROR"),
    };
    for id in tenant.storage.user_ids_by_account_info(ctx.id.key(), &info).await? {
        let Some(user) = tenant.storage.get_user(ctx.id.app_key(), &id).await? else { continue };
        let matches = user.login_methods.iter().any(|m| {
            m.recipe_id == RecipeId::Passwordless
                && match &info {
                    AccountInfo::Email(e) => m.email.as_ref() == Some(e),
                    AccountInfo::PhoneNumber(p) => m.phone_number.as_ref() == Some(p),
                    AccountInfo::ThirdParty { .. } => false,
                }
        });
        if matches {
            return json(json!({"status": "OK", "user": user.to_json()}));
        }
    }
    json(json!({"status": missing}))
}
