//! User-id mapping: pair a SuperTokens user id with the application's own id. App-wide; a mapping
//! lives in the database that holds its user.

use std::sync::Arc;

use axum::response::Response;
use portcullis_core::storage::Storage;
use portcullis_core::useridmapping::storage::{IdType, UserIdMapping};
use portcullis_core::useridmapping::{self as recipe, CreateMappingOutcome, CreateRules, DeleteMappingOutcome};
use serde_json::{json, Map, Value};

use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;
use crate::http::ctx::Ctx;
use crate::http::version::Version;

fn app_storages(ctx: &Ctx) -> Result<Vec<&Arc<dyn Storage>>, ApiError> {
    ctx.require_public_tenant()?;
    ctx.app_storages()
}

/// A required id: trimmed, never empty.
fn id_field(value: Option<&Value>, field: &str) -> Result<String, ApiError> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Some(Value::String(_)) => Err(ApiError::bad(format!("Field name '{field}' cannot be an empty String"))),
        _ => Err(ApiError::field_invalid(field)),
    }
}

/// `externalUserIdInfo`: a string or JSON null (absent = null).
fn info_field(body: &Body) -> Result<Option<String>, ApiError> {
    match body.0.get("externalUserIdInfo") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(Value::String(_)) => Err(ApiError::bad("Field name 'externalUserIdInfo' cannot be an empty String")),
        Some(_) => Err(ApiError::field_invalid("externalUserIdInfo")),
    }
}

fn id_type(raw: Option<&str>) -> Result<IdType, ApiError> {
    match raw {
        None => Ok(IdType::Any),
        Some(s) => IdType::parse(s.trim())
            .ok_or_else(|| ApiError::bad("Field name 'userIdType' should be one of 'SUPERTOKENS', 'EXTERNAL' or 'ANY'")),
    }
}

fn in_use(recipe: &str) -> ApiError {
    ApiError::bad(format!("UserId is already in use in {recipe} recipe"))
}

pub async fn create(ctx: &Ctx) -> Result<Response, ApiError> {
    let storages = app_storages(ctx)?;
    let body = ctx.body()?;
    let mapping = UserIdMapping {
        supertokens_user_id: id_field(body.0.get("superTokensUserId"), "superTokensUserId")?,
        external_user_id: id_field(body.0.get("externalUserId"), "externalUserId")?,
        external_user_id_info: info_field(&body)?,
    };
    let force = body.opt_bool("force")?.unwrap_or(false);
    let rules = CreateRules { force, move_email_verification: ctx.version >= Version::V4_0 };
    match recipe::create(&storages, ctx.id.app_key(), mapping, rules).await? {
        CreateMappingOutcome::Created => json(json!({"status": Status::Ok})),
        CreateMappingOutcome::UnknownSuperTokensUser => json(json!({"status": Status::UnknownSuperTokensUserId})),
        CreateMappingOutcome::AlreadyExists { supertokens_exists, external_exists } => {
            json(json!({
                "status": Status::UserIdMappingAlreadyExists,
                "doesSuperTokensUserIdExist": supertokens_exists,
                "doesExternalUserIdExist": external_exists,
                // supertokens-python (0.31.x) reads this spelling instead and fails without it; the
                // extra member is harmless to every other client.
                "does_external_user_id_exist": external_exists,
            }))
        }
        CreateMappingOutcome::ExternalIsSuperTokensId => {
            Err(ApiError::bad("Cannot create a userId mapping where the externalId is also a SuperTokens userID"))
        }
        CreateMappingOutcome::InUse(recipe) => Err(in_use(recipe)),
    }
}

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let storages = app_storages(ctx)?;
    let id = id_field(ctx.query.get("userId").map(|s| Value::String(s.to_owned())).as_ref(), "userId")?;
    let kind = id_type(ctx.query.get("userIdType"))?;
    let Some((m, _)) = recipe::find(&storages, ctx.id.app_key(), &id, kind).await? else {
        return json(json!({"status": Status::UnknownMapping}));
    };
    let mut out = Map::new();
    out.insert("status".into(), json!(Status::Ok));
    out.insert("superTokensUserId".into(), json!(m.supertokens_user_id));
    out.insert("externalUserId".into(), json!(m.external_user_id));
    if let Some(info) = m.external_user_id_info {
        out.insert("externalUserIdInfo".into(), json!(info));
    }
    json(Value::Object(out))
}

pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    let storages = app_storages(ctx)?;
    let body = ctx.body()?;
    let id = id_field(body.0.get("userId"), "userId")?;
    let kind = id_type(body.0.get("userIdType").map(|v| v.as_str().ok_or_else(|| ApiError::field_invalid("userIdType"))).transpose()?)?;
    let force = body.opt_bool("force")?.unwrap_or(false);
    match recipe::delete(&storages, ctx.id.app_key(), &id, kind, force).await? {
        DeleteMappingOutcome::Deleted { existed } => json(json!({"status": Status::Ok, "didMappingExist": existed})),
        DeleteMappingOutcome::InUse(recipe) => Err(in_use(recipe)),
    }
}

pub async fn update_info(ctx: &Ctx) -> Result<Response, ApiError> {
    let storages = app_storages(ctx)?;
    let body = ctx.body()?;
    let id = id_field(body.0.get("userId"), "userId")?;
    let kind = id_type(body.0.get("userIdType").map(|v| v.as_str().ok_or_else(|| ApiError::field_invalid("userIdType"))).transpose()?)?;
    if !body.has("externalUserIdInfo") {
        return Err(ApiError::field_invalid("externalUserIdInfo"));
    }
    let info = info_field(&body)?;
    let updated = recipe::update_info(&storages, ctx.id.app_key(), &id, kind, info).await?;
    json(json!({"status": if updated { Status::Ok } else { Status::UnknownMapping }}))
}
