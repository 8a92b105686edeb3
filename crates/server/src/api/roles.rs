//! The user roles APIs. Roles and their permissions are app-wide (public tenant only, from CDI 5.0)
//! and live in the app's public tenant's database; users' roles belong to a tenant and live in the
//! tenant's database, which may be another one (then the role is checked in the app's database first).

use std::sync::Arc;

use axum::response::Response;
use portcullis_core::roles::{self as rules, fits, MAX_NAME_CHARS, MAX_USER_ID_CHARS};
use portcullis_core::roles::storage::{RoleCheck, UserRoleChange};
use portcullis_core::storage::Storage;
use serde_json::{json, Value};

use super::metadata::app_storage;
use crate::http::error::ApiError;
use crate::http::input::Body;
use crate::http::reply::json;
use crate::http::ctx::Ctx;

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
    json(json!({"status": "UNKNOWN_ROLE_ERROR"}))
}

pub async fn create_or_add_permissions(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let role = body_role(&body)?;
    let permissions = body_permissions(&body)?.unwrap_or_default();
    fits("role", &role, MAX_NAME_CHARS)?;
    for p in &permissions {
        fits("permissions", p, MAX_NAME_CHARS)?;
    }
    let created = app_storage(ctx)?.role_create_or_add_permissions(ctx.id.app_key(), &role, &permissions).await?;
    json(json!({"status": "OK", "createdNewRole": created}))
}

pub async fn permissions(ctx: &Ctx) -> Result<Response, ApiError> {
    let role = rules::name("role", ctx.query.required("role")?)?;
    match app_storage(ctx)?.role_permissions(ctx.id.app_key(), &role).await? {
        Some(permissions) => json(json!({"permissions": permissions, "status": "OK"})),
        None => unknown_role(),
    }
}

pub async fn remove_permissions(ctx: &Ctx) -> Result<Response, ApiError> {
    let body = ctx.body()?;
    let role = body_role(&body)?;
    let permissions = body_permissions(&body)?;
    let storage = app_storage(ctx)?;
    if storage.role_remove_permissions(ctx.id.app_key(), &role, permissions.as_deref()).await? {
        json(json!({"status": "OK"}))
    } else {
        unknown_role()
    }
}

/// Deletes the role everywhere: first the associations held in the app's other databases, then (in
/// one transaction) the role, its permissions and the associations in the app's own database, so a
/// user is never left holding a role that no longer exists once the call succeeds.
pub async fn remove(ctx: &Ctx) -> Result<Response, ApiError> {
    let role = body_role(&ctx.body()?)?;
    let app_db = app_storage(ctx)?;
    let mut existed = false;
    for storage in other_storages_of_app(ctx, app_db) {
        existed |= storage.role_delete_user_associations(ctx.id.app_key(), &role).await?;
    }
    existed |= app_db.role_delete(ctx.id.app_key(), &role).await?;
    json(json!({"status": "OK", "didRoleExist": existed}))
}

/// The distinct databases of the app's tenants other than `app_db`.
fn other_storages_of_app<'a>(ctx: &'a Ctx, app_db: &Arc<dyn Storage>) -> Vec<&'a Arc<dyn Storage>> {
    let mut out = ctx.snapshot.storages_of_app(&ctx.id.cud, &ctx.id.app_id);
    out.retain(|s| !Arc::ptr_eq(s, app_db));
    out
}

pub async fn all(ctx: &Ctx) -> Result<Response, ApiError> {
    let roles = app_storage(ctx)?.roles(ctx.id.app_key()).await?;
    json(json!({"roles": roles, "status": "OK"}))
}

pub async fn with_permission(ctx: &Ctx) -> Result<Response, ApiError> {
    let permission = rules::name("permission", ctx.query.required("permission")?)?;
    let roles = app_storage(ctx)?.roles_with_permission(ctx.id.app_key(), &permission).await?;
    json(json!({"roles": roles, "status": "OK"}))
}

/// The tenant's storage and how a change to its users' roles checks the role: in the same
/// transaction when the tenant shares the app's database, else in the app's database just before
/// (`None` = the role does not exist there).
async fn tenant_and_check<'a>(ctx: &'a Ctx, role: &str) -> Result<(&'a Arc<dyn Storage>, Option<RoleCheck>), ApiError> {
    let tenant = ctx.tenant()?;
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    if Arc::ptr_eq(&tenant.storage, &app.storage) {
        return Ok((&tenant.storage, Some(RoleCheck::InThisDatabase)));
    }
    let exists = app.storage.role_exists(ctx.id.app_key(), role).await?;
    Ok((&tenant.storage, exists.then_some(RoleCheck::DoneElsewhere)))
}

/// `userId` and `role` of a body, checked.
fn user_and_role(ctx: &Ctx) -> Result<(String, String), ApiError> {
    let body = ctx.body()?;
    let user_id = body.str("userId")?;
    let role = body_role(&body)?;
    rules::user_id(&user_id)?;
    Ok((user_id, role))
}

pub async fn add_to_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let (user_id, role) = user_and_role(ctx)?;
    fits("userId", &user_id, MAX_USER_ID_CHARS)?;
    let (storage, Some(check)) = tenant_and_check(ctx, &role).await? else { return unknown_role() };
    match storage.user_role_add(ctx.id.key(), &user_id, &role, check).await? {
        UserRoleChange::Done { changed } => json(json!({"status": "OK", "didUserAlreadyHaveRole": !changed})),
        UserRoleChange::UnknownRole => unknown_role(),
    }
}

pub async fn remove_from_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let (user_id, role) = user_and_role(ctx)?;
    let (storage, Some(check)) = tenant_and_check(ctx, &role).await? else { return unknown_role() };
    match storage.user_role_remove(ctx.id.key(), &user_id, &role, check).await? {
        UserRoleChange::Done { changed } => json(json!({"status": "OK", "didUserHaveRole": changed})),
        UserRoleChange::UnknownRole => unknown_role(),
    }
}

pub async fn of_user(ctx: &Ctx) -> Result<Response, ApiError> {
    let user_id = ctx.query.required("userId")?.to_owned();
    rules::user_id(&user_id)?;
    let tenant = ctx.tenant()?;
    let roles = tenant.storage.user_roles(ctx.id.key(), &user_id).await?;
    json(json!({"roles": roles, "status": "OK"}))
}

pub async fn users_with(ctx: &Ctx) -> Result<Response, ApiError> {
    let role = rules::name("role", ctx.query.required("role")?)?;
    let tenant = ctx.tenant()?;
    let app = ctx.snapshot.get(&ctx.id.app_public()).ok_or_else(|| ApiError::tenant_not_found(&ctx.id))?;
    if !app.storage.role_exists(ctx.id.app_key(), &role).await? {
        return unknown_role();
    }
    let users = tenant.storage.role_users(ctx.id.key(), &role).await?;
    json(json!({"users": users, "status": "OK"}))
}
