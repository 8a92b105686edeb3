//! User-id mapping: pair a SuperTokens user id with the application's own id. App-wide; a mapping
//! lives in the database that holds its user.

use std::sync::Arc;

use axum::response::Response;
use portcullis_core::useridmapping::storage::{CreateMappingOutcome, DeleteMappingOutcome, IdType, UserIdMapping};
use portcullis_core::ids::AppKey;
use portcullis_core::storage::Storage;
use serde_json::{json, Map, Value};

use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::ctx::Ctx;

fn app_storages(ctx: &Ctx) -> Result<Vec<&Arc<dyn Storage>>, ApiError> {
    ctx.require_public_tenant()?;
    if !ctx.snapshot.app_exists(&ctx.id.cud, &ctx.id.app_id) {
        return Err(ApiError::tenant_not_found(&ctx.id));
    }
    Ok(ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id))
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
    let app = ctx.id.app_key();
    // The external id must be free in every database of the app, not only the user's.
    for s in &storages {
        if let Some(m) = s.get_user_id_mapping(app, &mapping.external_user_id, IdType::External).await? {
            return json(already_exists(m.supertokens_user_id == mapping.supertokens_user_id, true));
        }
    }
    let mut home = None;
    for s in &storages {
        if s.get_user(app, &mapping.supertokens_user_id).await?.is_some() {
            home = Some(s);
            break;
        }
    }
    let Some(storage) = home else { return json(json!({"status": "UNKNOWN_SUPERTOKENS_USER_ID_ERROR"})) };
    match storage.create_user_id_mapping(app, &mapping, force).await? {
        CreateMappingOutcome::Created => json(json!({"status": "OK"})),
        CreateMappingOutcome::UnknownSuperTokensUser => json(json!({"status": "UNKNOWN_SUPERTOKENS_USER_ID_ERROR"})),
        CreateMappingOutcome::AlreadyExists { supertokens_exists, external_exists } => {
            json(already_exists(supertokens_exists, external_exists))
        }
        CreateMappingOutcome::ExternalIsSuperTokensId => {
            Err(ApiError::bad("Cannot create a userId mapping where the externalId is also a SuperTokens userID"))
        }
        CreateMappingOutcome::InUse(recipe) => Err(in_use(recipe)),
    }
}

fn already_exists(supertokens_exists: bool, external_exists: bool) -> Value {
    json!({
        "status": "USER_ID_MAPPING_ALREADY_EXISTS_ERROR",
        "doesSuperTokensUserIdExist": supertokens_exists,
        "doesExternalUserIdExist": external_exists,
        // supertokens-python (0.31.x) reads this spelling instead and fails without it; the
        // extra member is harmless to every other client.
        "does_external_user_id_exist": external_exists,
    })
}

/// The mapping an id names, from whichever of the app's databases has it.
async fn find(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, id: &str, kind: IdType) -> Result<Option<(UserIdMapping, usize)>, ApiError> {
    for (i, s) in storages.iter().enumerate() {
        if let Some(m) = s.get_user_id_mapping(app, id, kind).await? {
            return Ok(Some((m, i)));
        }
    }
    Ok(None)
}

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let storages = app_storages(ctx)?;
    let id = id_field(ctx.query.get("userId").map(|s| Value::String(s.to_owned())).as_ref(), "userId")?;
    let kind = id_type(ctx.query.get("userIdType"))?;
    let Some((m, _)) = find(&storages, ctx.id.app_key(), &id, kind).await? else {
        return json(json!({"status": "UNKNOWN_MAPPING_ERROR"}));
    };
    let mut out = Map::new();
    out.insert("status".into(), json!("OK"));
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
    let Some((m, i)) = find(&storages, ctx.id.app_key(), &id, kind).await? else {
        return json(json!({"status": "OK", "didMappingExist": false}));
    };
    match storages[i].delete_user_id_mapping(ctx.id.app_key(), &m.supertokens_user_id, IdType::SuperTokens, force).await? {
        DeleteMappingOutcome::Deleted { existed } => json(json!({"status": "OK", "didMappingExist": existed})),
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
    let Some((m, i)) = find(&storages, ctx.id.app_key(), &id, kind).await? else {
        return json(json!({"status": "UNKNOWN_MAPPING_ERROR"}));
    };
    let app = ctx.id.app_key();
    let updated = storages[i].update_external_user_id_info(app, &m.supertokens_user_id, IdType::SuperTokens, info.as_deref()).await?;
    json(json!({"status": if updated { "OK" } else { "UNKNOWN_MAPPING_ERROR" }}))
}
