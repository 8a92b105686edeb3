//! Storage of user roles: roles and their permissions (`roles`, `role_permissions`) belong to an app
//! and live in its public tenant's database; users' roles (`user_roles`) belong to a tenant and live
//! in that tenant's database, which may be another one. `user_roles` has no foreign key to `roles`,
//! so the adapters check a role's existence themselves, in the same transaction when they can.

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;

/// How a change to a user's roles makes sure the role exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleCheck {
    /// The roles live in this database: check (and lock) the role's row in the same transaction, so
    /// that the role cannot be deleted half-way.
    InThisDatabase,
    /// The roles live in another database (the tenant has its own), where the caller checked just
    /// before; this database only holds the tenant's `user_roles` rows.
    DoneElsewhere,
}

/// What a change to a user's roles did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserRoleChange {
    /// `changed`: the row was added (it was missing) or removed (it was there).
    Done { changed: bool },
    UnknownRole,
}

#[async_trait]
pub trait RoleStorage: Send + Sync {
    /// Creates the role unless it exists and gives it the permissions it lacks, in one transaction.
    /// Returns whether the role was created.
    async fn role_create_or_add_permissions(&self, app: AppKey<'_>, role: &str, permissions: &[String]) -> Result<bool, StorageError>;

    async fn role_exists(&self, app: AppKey<'_>, role: &str) -> Result<bool, StorageError>;

    /// The role's permissions, sorted; `None` when the role does not exist (one consistent read).
    async fn role_permissions(&self, app: AppKey<'_>, role: &str) -> Result<Option<Vec<String>>, StorageError>;

    /// Removes the given permissions from the role (all of them when `None`). False when the role
    /// does not exist.
    async fn role_remove_permissions(&self, app: AppKey<'_>, role: &str, permissions: Option<&[String]>) -> Result<bool, StorageError>;

    /// Deletes the role, its permissions and the users' associations with it held in this database,
    /// in one transaction. Returns whether any of them existed.
    async fn role_delete(&self, app: AppKey<'_>, role: &str) -> Result<bool, StorageError>;

    /// Deletes the users' associations with the role held in this database (a database of some of the
    /// app's tenants, not the one holding the role). Returns whether there were any.
    async fn role_delete_user_associations(&self, app: AppKey<'_>, role: &str) -> Result<bool, StorageError>;

    /// Every role of the app, sorted.
    async fn roles(&self, app: AppKey<'_>) -> Result<Vec<String>, StorageError>;

    /// The roles that have the permission, sorted.
    async fn roles_with_permission(&self, app: AppKey<'_>, permission: &str) -> Result<Vec<String>, StorageError>;

    /// Gives the user the role in the tenant (`changed` = it was new).
    async fn user_role_add(&self, tenant: TenantKey<'_>, user_id: &str, role: &str, check: RoleCheck) -> Result<UserRoleChange, StorageError>;

    /// Takes the role from the user in the tenant (`changed` = the user had it).
    async fn user_role_remove(&self, tenant: TenantKey<'_>, user_id: &str, role: &str, check: RoleCheck) -> Result<UserRoleChange, StorageError>;

    /// The user's roles in the tenant, sorted.
    async fn user_roles(&self, tenant: TenantKey<'_>, user_id: &str) -> Result<Vec<String>, StorageError>;

    /// The users that have the role in the tenant, sorted.
    async fn role_users(&self, tenant: TenantKey<'_>, role: &str) -> Result<Vec<String>, StorageError>;
}
