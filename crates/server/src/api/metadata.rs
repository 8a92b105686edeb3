//! The user metadata APIs. They are app-wide (callable on the public tenant only, from CDI 5.0) and
//! keep the metadata in the app's public tenant's database.

use std::sync::Arc;

use axum::response::Response;
use portcullis_core::metadata::{self, MAX_BULK_USER_IDS};
use portcullis_core::input::{fits, user_id as check_user_id, MAX_USER_ID_CHARS};
use portcullis_core::storage::Storage;
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::reply::json;
use crate::http::ctx::Ctx;
use crate::http::status::Status;

/// The storage of an app-wide API: the app's public tenant's, after the public-tenant check.
pub(super) fn app_storage(ctx: &Ctx) -> Result<&Arc<dyn Storage>, ApiError> {
    ctx.require_public_tenant()?;
    ctx.snapshot.get(&ctx.id.app_public()).map(|t| &t.storage).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))
}

/// The `userIds` of a bulk API, checked as the core checks them: a list of at most
/// `MAX_BULK_USER_IDS` valid user ids. Empty is allowed (the caller answers it before anything
/// else, the tenant check included, as the core does).
pub(super) fn bulk_user_ids(body: &crate::http::input::Body) -> Result<Vec<String>, ApiError> {
    let Some(Value::Array(items)) = body.0.get("userIds") else { return Err(ApiError::field_invalid("userIds")) };
    if items.len() > MAX_BULK_USER_IDS {
        return Err(ApiError::bad(format!("You can only query up to {MAX_BULK_USER_IDS} users at a time.")));
    }
    let user_ids = items
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| ApiError::bad("userIds array must contain only strings")))
        .collect::<Result<Vec<String>, ApiError>>()?;
    for id in &user_ids {
        check_user_id(id)?;
    }
    Ok(user_ids)
}

pub async fn get(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("userId")?.to_owned();
    check_user_id(&user_id)?;
    let metadata = app_storage(ctx)?.metadata_get(ctx.id.app_key(), &user_id).await?.unwrap_or_default();
    json(json!({"metadata": metadata, "status": Status::Ok}))
}

pub async fn update(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let user_id = body.str("userId")?;
    let update = body.object("metadataUpdate")?;
    check_user_id(&user_id)?;
    fits("userId", &user_id, MAX_USER_ID_CHARS)?;
    let metadata = metadata::update(app_storage(ctx)?.as_ref(), ctx.id.app_key(), &user_id, update).await?;
    json(json!({"metadata": metadata, "status": Status::Ok}))
}

pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.body()?.str("userId")?;
    check_user_id(&user_id)?;
    app_storage(ctx)?.metadata_delete(ctx.id.app_key(), &user_id).await?;
    json(json!({"status": Status::Ok}))
}

/// Metadata of up to 500 users, in the order asked (repeats included); `null` for users without any.
pub async fn bulk(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_ids = bulk_user_ids(&ctx.body()?)?;
    if user_ids.is_empty() {
        return json(json!({"status": Status::Ok, "users": []}));
    }
    let found = app_storage(ctx)?.metadata_get_many(ctx.id.app_key(), &user_ids).await?;
    let users: Vec<Value> = user_ids
        .iter()
        .map(|id| json!({"userId": id, "metadata": found.get(id).map_or(Value::Null, |m| Value::Object(m.clone()))}))
        .collect();
    json(json!({"status": Status::Ok, "users": users}))
}
