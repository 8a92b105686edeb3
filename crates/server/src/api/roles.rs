//! The user roles APIs. Roles and their permissions are app-wide (public tenant only, from CDI 5.0)
//! and live in the app's public tenant's database; users' roles belong to a tenant and live in the
//! tenant's database, which may be another one (then the role is checked in the app's database first).

use std::sync::Arc;

use axum::response::Response;
use portcullis_core::input::{self, fits, MAX_USER_ID_CHARS};
use portcullis_core::roles::{self as rules, UserRoleChange};
use portcullis_core::storage::Storage;
use serde_json::{json, Value};

use super::metadata::app_storage;
use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::status::Status;

/// An optional list of strings: absent = `None`; anything but an array of strings (`null` included,
/// as in the core) is invalid.
fn opt_strings(body: &Body, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.0.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| ApiError::field_invalid(field)))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::field_invalid(field)),
    }
}

/// The `role` of a body, normalised.
fn body_role(body: &Body) -> Result<String, ApiError> {
    Ok(rules::name("role", &body.str("role")?)?)
}

/// The `permissions` of a body, normalised; `None` when absent.
fn body_permissions(body: &Body) -> Result<Option<Vec<String>>, ApiError> {
    Ok(opt_strings(body, "permissions")?.map(|list| rules::permissions(&list)).transpose()?)
}

fn unknown_role() -> Result<Response, ApiError> {
    json(json!({"status": Status::UnknownRole}))
}

pub async fn create_or_add_permissions(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let role = body_role(&body)?;
    let permissions = body_permissions(&body)?.unwrap_or_default();
    rules::check_new_role(&role, &permissions)?;
    let created = rules::create_or_add_permissions(app_storage(ctx)?.as_ref(), ctx.id.app_key(), role, permissions).await?;
    json(json!({"status": Status::Ok, "createdNewRole": created}))
}

pub async fn permissions(ctx: &Ctx) -> Result<Response, ApiError> {
    let role = rules::name("role", ctx.query.required("role")?)?;
    match app_storage(ctx)?.role_permissions(ctx.id.app_key(), &role).await? {
        Some(permissions) => json(json!({"permissions": permissions, "status": Status::Ok})),
        None => unknown_role(),
    }
}

pub async fn remove_permissions(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let role = body_role(&body)?;
    let permissions = body_permissions(&body)?;
    if rules::remove_permissions(app_storage(ctx)?.as_ref(), ctx.id.app_key(), role, permissions).await? {
        json(json!({"status": Status::Ok}))
    } else {
        unknown_role()
    }
}

/// Deletes the role in every database of the app (`roles::delete`).
pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    let role = body_role(&ctx.body()?)?;
    let app_db = app_storage(ctx)?;
    let storages = ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id);
    let existed = rules::delete(app_db, &storages, ctx.id.app_key(), &role).await?;
    json(json!({"status": Status::Ok, "didRoleExist": existed}))
}

pub async fn all(ctx: &Ctx) -> Result<Response, ApiError> {
    let roles = app_storage(ctx)?.roles(ctx.id.app_key()).await?;
    json(json!({"roles": roles, "status": Status::Ok}))
}

pub async fn with_permission(ctx: &Ctx) -> Result<Response, ApiError> {
    let permission = rules::name("permission", ctx.query.required("permission")?)?;
    let roles = app_storage(ctx)?.roles_with_permission(ctx.id.app_key(), &permission).await?;
    json(json!({"roles": roles, "status": Status::Ok}))
}

/// The databases of the request's tenant and of its app (which holds the roles).
type TenantAndApp<'a> = (&'a Arc<dyn Storage>, &'a Arc<dyn Storage>);

fn tenant_and_app(ctx: &Ctx) -> Result<TenantAndApp<'_>, ApiError> {
    let tenant = ctx.tenant()?;
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    Ok((&tenant.storage, &app.storage))
}

/// `userId` and `role` of a body, checked.
fn user_and_role(ctx: &Ctx) -> Result<(String, String), ApiError> {
    let body = ctx.body()?;
    let user_id = body.str("userId")?;
    let role = body_role(&body)?;
    input::user_id(&user_id)?;
    Ok((user_id, role))
}

pub async fn add_to_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let (user_id, role) = user_and_role(ctx)?;
    fits("userId", &user_id, MAX_USER_ID_CHARS)?;
    let (tenant_db, app_db) = tenant_and_app(ctx)?;
    let Some(check) = rules::role_check(tenant_db, app_db, ctx.id.app_key(), &role).await? else { return unknown_role() };
    match rules::add_to_user(tenant_db.as_ref(), ctx.id.key(), &user_id, &role, check).await? {
        UserRoleChange::Done { changed } => json(json!({"status": Status::Ok, "didUserAlreadyHaveRole": !changed})),
        UserRoleChange::UnknownRole => unknown_role(),
    }
}

pub async fn remove_from_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let (user_id, role) = user_and_role(ctx)?;
    let (tenant_db, app_db) = tenant_and_app(ctx)?;
    let Some(check) = rules::role_check(tenant_db, app_db, ctx.id.app_key(), &role).await? else { return unknown_role() };
    match rules::remove_from_user(tenant_db.as_ref(), ctx.id.key(), &user_id, &role, check).await? {
        UserRoleChange::Done { changed } => json(json!({"status": Status::Ok, "didUserHaveRole": changed})),
        UserRoleChange::UnknownRole => unknown_role(),
    }
}

pub async fn of_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("userId")?.to_owned();
    input::user_id(&user_id)?;
    let tenant = ctx.tenant()?;
    let roles = tenant.storage.user_roles(ctx.id.key(), &user_id).await?;
    json(json!({"roles": roles, "status": Status::Ok}))
}

pub async fn users_with(ctx: &Ctx) -> Result<Response, ApiError> {
    let role = rules::name("role", ctx.query.required("role")?)?;
    let (tenant_db, app_db) = tenant_and_app(ctx)?;
    match rules::users_with(tenant_db.as_ref(), app_db.as_ref(), ctx.id.key(), &role).await? {
        Some(users) => json(json!({"users": users, "status": Status::Ok})),
        None => unknown_role(),
    }
}
