//! A user's sessions across an app's tenants, and ending sessions. Sessions name users by the id
//! the application uses (the external one when mapped); a session lives in the database of the
//! tenant its handle names.

use std::sync::Arc;

use async_trait::async_trait;

use super::storage::TenantScope;
use crate::ids::AppKey;
use crate::storage::{Storage, StorageError};
use crate::users::resolve_in;

/// Where an app's sessions live.
#[async_trait]
pub trait AppTenants: Send + Sync {
    /// The distinct databases of the app's tenants.
    fn storages(&self) -> Vec<Arc<dyn Storage>>;

    /// The database of one of the app's tenants; `None` when the tenant does not exist.
    async fn storage_of(&self, tenant_id: &str) -> Option<Arc<dyn Storage>>;
}

/// The ids whose sessions are the user's: with `linked`, those of every login method of its group
/// (and the id given).
pub async fn session_user_ids(tenants: &dyn AppTenants, app: AppKey<'_>, user_id: &str, linked: bool) -> Result<Vec<String>, StorageError> {
    if linked {
        for storage in tenants.storages() {
            if let Some(found) = resolve_in(storage.as_ref(), app, user_id).await? {
                let mut ids: Vec<String> = found.user.login_methods.iter().map(|m| m.public_id().to_owned()).collect();
                if !ids.iter().any(|id| id == user_id) {
                    ids.push(user_id.to_owned());
                }
                return Ok(ids);
            }
        }
    }
    Ok(vec![user_id.to_owned()])
}

/// Where to look for a user's sessions.
pub enum Within<'a> {
    /// Every tenant of the app.
    AllTenants,
    /// One tenant, in its database.
    Tenant(&'a str, &'a dyn Storage),
}

/// The (tenant, handle) of the user's unexpired sessions.
pub async fn user_sessions(
    tenants: &dyn AppTenants,
    app: AppKey<'_>,
    user_id: &str,
    within: Within<'_>,
    linked: bool,
    now: i64,
) -> Result<Vec<(String, String)>, StorageError> {
    let mut all = Vec::new();
    for id in session_user_ids(tenants, app, user_id, linked).await? {
        match &within {
            Within::AllTenants => {
                for storage in tenants.storages() {
                    all.extend(storage.session_handles_for_user(app, TenantScope::AllTenants, &id, now).await?);
                }
            }
            Within::Tenant(tenant_id, storage) => {
                all.extend(storage.session_handles_for_user(app, TenantScope::One(tenant_id), &id, now).await?);
            }
        }
    }
    Ok(all)
}

/// Deletes the given (tenant, handle) sessions, each in its tenant's database; returns the handles
/// that existed. Sessions of tenants that no longer exist are gone with them.
pub async fn revoke(tenants: &dyn AppTenants, app: AppKey<'_>, sessions: Vec<(String, String)>) -> Result<Vec<String>, StorageError> {
    /// Sessions by the database that holds them.
    type ByStorage = Vec<(Arc<dyn Storage>, Vec<(String, String)>)>;
    let mut by_storage: ByStorage = Vec::new();
    for (tenant, handle) in sessions {
        let Some(storage) = tenants.storage_of(&tenant).await else { continue };
        match by_storage.iter_mut().find(|(s, _)| Arc::ptr_eq(s, &storage)) {
            Some((_, list)) => list.push((tenant, handle)),
            None => by_storage.push((storage, vec![(tenant, handle)])),
        }
    }
    let mut revoked = Vec::new();
    for (storage, list) in by_storage {
        revoked.extend(storage.session_delete(app, &list).await?);
    }
    Ok(revoked)
}

/// Revokes every session of one recipe user (its id as sessions store it), in every tenant: after
/// linking or unlinking, its sessions name a user that no longer exists on its own.
pub async fn revoke_recipe_user(tenants: &dyn AppTenants, app: AppKey<'_>, user_id: &str, now: i64) -> Result<Vec<String>, StorageError> {
    let sessions = user_sessions(tenants, app, user_id, Within::AllTenants, false, now).await?;
    revoke(tenants, app, sessions).await
}
