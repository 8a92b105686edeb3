//! The user roles recipe. Roles and their permissions are app-wide and live in the app's public
//! tenant's database; users' roles belong to a tenant and live in the tenant's database, which may
//! be another one (then the role is checked in the app's database first).
//!
//! Input rules: role and permission names are trimmed as the core trims them and must not be empty;
//! whatever is written must fit the schema's columns (`crate::input`).

pub mod storage;

use std::sync::Arc;

use crate::ids::{AppKey, OwnedTenantKey, TenantKey};
use crate::input::{fits, java_trim, no_nul, InvalidInput};
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage, StorageError};

/// `roles.role`, `role_permissions.permission` and `user_roles.role` are VARCHAR(255).
pub const MAX_NAME_CHARS: usize = 255;

/// A role (or, with `field = "permission"`, a permission) named in a request: trimmed, not empty.
pub fn name(field: &str, raw: &str) -> Result<String, InvalidInput> {
    let trimmed = java_trim(raw);
    if trimmed.is_empty() {
        return Err(InvalidInput(format!("Field name '{field}' cannot be an empty String")));
    }
    no_nul(field, trimmed)?;
    Ok(trimmed.to_owned())
}

/// The `permissions` list of a request: each entry trimmed and not empty; duplicates dropped (they
/// would name the same row), first occurrence first.
pub fn permissions(raw: &[String]) -> Result<Vec<String>, InvalidInput> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for p in raw {
        let trimmed = java_trim(p);
        if trimmed.is_empty() {
            return Err(InvalidInput("Field name 'permissions' cannot contain an empty string".into()));
        }
        no_nul("permissions", trimmed)?;
        if !out.iter().any(|seen| seen == trimmed) {
            out.push(trimmed.to_owned());
        }
    }
    Ok(out)
}

/// A role and permissions about to be written fit their columns.
pub fn check_new_role(role: &str, permissions: &[String]) -> Result<(), InvalidInput> {
    fits("role", role, MAX_NAME_CHARS)?;
    permissions.iter().try_for_each(|p| fits("permissions", p, MAX_NAME_CHARS))
}

/// What a change to a user's roles did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserRoleChange {
    /// `changed`: the row was added (it was missing) or removed (it was there).
    Done { changed: bool },
    UnknownRole,
}

/// Creating a role can race with its deletion; each lost race costs one more try.
const MAX_CREATE_TRIES: usize = 4;

/// Creates the role unless it exists and gives it the permissions it lacks, in one transaction of
/// the app's database. Returns whether the role was created.
pub async fn create_or_add_permissions(app_db: &dyn Storage, app: AppKey<'_>, role: String, permissions: Vec<String>) -> Result<bool, StorageError> {
    transaction(app_db, (app.app_id.to_owned(), role, permissions), create_in).await
}

fn create_in<'t>(tx: &'t mut dyn Tx, (app, role, permissions): &'t (String, String, Vec<String>)) -> TxFuture<'t, bool> {
    Box::pin(async move {
        let app = AppKey::new(app);
        // Create the role or lock the existing one, so that it stays until the permissions are in.
        let mut created = None;
        for _ in 0..MAX_CREATE_TRIES {
            if tx.roles_insert_role(app, role).await? {
                created = Some(true);
                break;
            }
            if tx.roles_lock_role(app, role).await? {
                created = Some(false);
                break;
            }
            // Deleted between the two statements: create it again.
        }
        let Some(created) = created else {
            return Err(StorageError::Query(format!("a role kept being deleted during {MAX_CREATE_TRIES} tries to create it")));
        };
        if !permissions.is_empty() {
            tx.roles_insert_permissions(app, role, permissions).await?;
        }
        Ok(created)
    })
}

/// Takes permissions from a role (all of them when `None`); false when the role does not exist.
pub async fn remove_permissions(app_db: &dyn Storage, app: AppKey<'_>, role: String, permissions: Option<Vec<String>>) -> Result<bool, StorageError> {
    transaction(app_db, (app.app_id.to_owned(), role, permissions), remove_permissions_in).await
}

fn remove_permissions_in<'t>(tx: &'t mut dyn Tx, (app, role, permissions): &'t (String, String, Option<Vec<String>>)) -> TxFuture<'t, bool> {
    Box::pin(async move {
        let app = AppKey::new(app);
        if !tx.roles_lock_role(app, role).await? {
            return Ok(false);
        }
        tx.roles_delete_permissions(app, role, permissions.as_deref()).await?;
        Ok(true)
    })
}

/// Deletes the role everywhere: first the associations held in the app's other databases, then (in
/// one transaction) the role, its permissions and the associations in the app's own database, so a
/// user is never left holding a role that no longer exists once the call succeeds. Returns whether
/// any of them existed.
pub async fn delete(app_db: &Arc<dyn Storage>, app_storages: &[&Arc<dyn Storage>], app: AppKey<'_>, role: &str) -> Result<bool, StorageError> {
    let mut existed = false;
    for storage in app_storages.iter().filter(|s| !Arc::ptr_eq(s, app_db)) {
        existed |= storage.role_delete_user_associations(app, role).await?;
    }
    existed |= app_db.role_delete(app, role).await?;
    Ok(existed)
}

/// How a change to a user's roles makes sure the role exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleCheck {
    /// The roles live in this database: check (and lock) the role's row in the same transaction, so
    /// that the role cannot be deleted half-way.
    InThisDatabase,
    /// The roles live in another database (the tenant has its own), where [`role_check`] checked
    /// just before; this database only holds the tenant's `user_roles` rows.
    DoneElsewhere,
}

/// How a change to a user's roles in the tenant's database checks the role: in its own transaction
/// when the tenant shares the app's database, else in the app's database now; `None` when that
/// check found no such role.
pub async fn role_check(tenant_db: &Arc<dyn Storage>, app_db: &Arc<dyn Storage>, app: AppKey<'_>, role: &str) -> Result<Option<RoleCheck>, StorageError> {
    if Arc::ptr_eq(tenant_db, app_db) {
        return Ok(Some(RoleCheck::InThisDatabase));
    }
    Ok(app_db.role_exists(app, role).await?.then_some(RoleCheck::DoneElsewhere))
}

/// Gives the user the role in the tenant (`tenant_db`: the tenant's database).
pub async fn add_to_user(tenant_db: &dyn Storage, tenant: TenantKey<'_>, user_id: &str, role: &str, check: RoleCheck) -> Result<UserRoleChange, StorageError> {
    transaction(tenant_db, (tenant.owned(), user_id.to_owned(), role.to_owned(), check, true), change_in).await
}

/// Takes the role from the user in the tenant.
pub async fn remove_from_user(tenant_db: &dyn Storage, tenant: TenantKey<'_>, user_id: &str, role: &str, check: RoleCheck) -> Result<UserRoleChange, StorageError> {
    transaction(tenant_db, (tenant.owned(), user_id.to_owned(), role.to_owned(), check, false), change_in).await
}

/// Adds (`add`) or removes the user's role, first locking the role when it lives in this database.
fn change_in<'t>(tx: &'t mut dyn Tx, (tenant, user, role, check, add): &'t (OwnedTenantKey, String, String, RoleCheck, bool)) -> TxFuture<'t, UserRoleChange> {
    Box::pin(async move {
        let tenant = tenant.key();
        if *check == RoleCheck::InThisDatabase && !tx.roles_lock_role(tenant.app(), role).await? {
            return Ok(UserRoleChange::UnknownRole);
        }
        let changed = if *add {
            tx.roles_insert_user_role(tenant, user, role).await?
        } else {
            tx.roles_delete_user_role(tenant, user, role).await?
        };
        Ok(UserRoleChange::Done { changed })
    })
}

/// The users that have the role in the tenant; `None` when the app has no such role.
pub async fn users_with(tenant_db: &dyn Storage, app_db: &dyn Storage, tenant: TenantKey<'_>, role: &str) -> Result<Option<Vec<String>>, StorageError> {
    if !app_db.role_exists(tenant.app(), role).await? {
        return Ok(None);
    }
    Ok(Some(tenant_db.role_users(tenant, role).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_like_java() {
        assert_eq!(name("role", "  admin\t\n").unwrap(), "admin");
        assert_eq!(name("role", "\u{a0}admin").unwrap(), "\u{a0}admin", "Java's trim keeps non-ASCII spaces");
        assert_eq!(name("role", " \t ").unwrap_err().0, "Field name 'role' cannot be an empty String");
        assert_eq!(name("permission", "").unwrap_err().0, "Field name 'permission' cannot be an empty String");
        assert!(name("role", "a\0b").is_err());
    }

    #[test]
    fn permission_lists() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(permissions(&list(&[" read", "write ", "read"])).unwrap(), list(&["read", "write"]));
        assert_eq!(permissions(&[]).unwrap(), Vec::<String>::new());
        assert_eq!(
            permissions(&list(&["read", "  "])).unwrap_err().0,
            "Field name 'permissions' cannot contain an empty string"
        );
    }

}
