//! Storage of user roles: roles and their permissions (`roles`, `role_permissions`) belong to an app
//! and live in its public tenant's database; users' roles (`user_roles`) belong to a tenant and live
//! in that tenant's database, which may be another one. `user_roles` has no foreign key to `roles`,
//! so the flows (`roles/mod.rs`) check a role's existence themselves, in the same transaction
//! when they can.

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;

#[async_trait]
pub trait RoleStorage: Send + Sync {
    async fn role_exists(&self, app: AppKey<'_>, role: &str) -> Result<bool, StorageError>;

    /// The role's permissions, sorted; `None` when the role does not exist (one consistent read).
    async fn role_permissions(&self, app: AppKey<'_>, role: &str) -> Result<Option<Vec<String>>, StorageError>;

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

    /// The user's roles in the tenant, sorted.
    async fn user_roles(&self, tenant: TenantKey<'_>, user_id: &str) -> Result<Vec<String>, StorageError>;

    /// The users that have the role in the tenant, sorted.
    async fn role_users(&self, tenant: TenantKey<'_>, role: &str) -> Result<Vec<String>, StorageError>;
}

/// The statements of the roles flows (`roles/mod.rs`), run inside their transaction.
#[async_trait]
pub trait RolesTx {
    /// Creates the role unless it exists; true when it was created.
    async fn roles_insert_role(&mut self, app: AppKey<'_>, role: &str) -> Result<bool, StorageError>;

    /// Share-locks the role's row, so the role cannot be deleted until the transaction ends
    /// (PostgreSQL: `FOR SHARE`; SQLite's IMMEDIATE transaction excludes every other writer).
    /// False when there is no such role.
    async fn roles_lock_role(&mut self, app: AppKey<'_>, role: &str) -> Result<bool, StorageError>;

    /// Gives the role the permissions it lacks.
    async fn roles_insert_permissions(&mut self, app: AppKey<'_>, role: &str, permissions: &[String]) -> Result<(), StorageError>;

    /// Takes the permissions from the role (all of them when `None`).
    async fn roles_delete_permissions(&mut self, app: AppKey<'_>, role: &str, permissions: Option<&[String]>) -> Result<(), StorageError>;

    /// Gives the user the role in the tenant; true when the user did not have it.
    async fn roles_insert_user_role(&mut self, tenant: TenantKey<'_>, user_id: &str, role: &str) -> Result<bool, StorageError>;

    /// Takes the role from the user in the tenant; true when the user had it.
    async fn roles_delete_user_role(&mut self, tenant: TenantKey<'_>, user_id: &str, role: &str) -> Result<bool, StorageError>;
}
