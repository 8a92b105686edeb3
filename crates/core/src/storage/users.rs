//! Storage of auth-recipe users: the rows every sign-up writes (`app_id_to_user_id`,
//! `all_auth_recipe_users`, the recipe's `*_users` and `*_user_to_tenant`), reads of whole users,
//! listing and counting, tenant association, and deletion of a user with the data keyed by their id.

use async_trait::async_trait;

use super::StorageError;
use crate::users::{LoginMethod, RecipeId, User};

/// Why associating a user with a tenant was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssociateOutcome {
    Associated { was_already_associated: bool },
    UnknownUser,
    EmailAlreadyExists,
    PhoneNumberAlreadyExists,
    ThirdPartyUserAlreadyExists,
}

/// A page of users: (primary user id, its time joined), in the requested order.
pub type UserPage = Vec<(String, i64)>;

/// Which users a listing or count covers.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// `None` = every tenant of the app.
    pub tenant_id: Option<String>,
    /// Empty = every recipe.
    pub recipe_ids: Vec<RecipeId>,
}

#[async_trait]
pub trait UserStorage: Send + Sync {
    /// Writes a new email-password user in one transaction. False when the tenant already has an
    /// email-password user with this email (the schema's unique constraint decides).
    async fn ep_create_user(
        &self,
        app_id: &str,
        tenant_id: &str,
        user_id: &str,
        email: &str,
        password_hash: &str,
        time_joined: i64,
    ) -> Result<bool, StorageError>;

    /// The email-password login method with this email in the tenant, with its password hash.
    async fn ep_login_method_by_email(&self, app_id: &str, tenant_id: &str, email: &str) -> Result<Option<LoginMethod>, StorageError>;

    /// The user (the whole linked group) that `user_id` (a primary or recipe user id) belongs to.
    async fn get_user(&self, app_id: &str, user_id: &str) -> Result<Option<User>, StorageError>;

    /// Primary user ids in time-joined order, starting after `after` = (time joined, user id) when given.
    async fn list_users(
        &self,
        app_id: &str,
        filter: &UserFilter,
        ascending: bool,
        limit: usize,
        after: Option<(i64, String)>,
    ) -> Result<UserPage, StorageError>;

    /// The number of users (primary users) matching the filter.
    async fn count_users(&self, app_id: &str, filter: &UserFilter) -> Result<u64, StorageError>;

    /// Primary user ids of users with an email-password login method with this email in the tenant.
    async fn user_ids_by_email(&self, app_id: &str, tenant_id: &str, email: &str) -> Result<Vec<String>, StorageError>;

    /// Adds a recipe user to a tenant (one transaction; the schema's unique constraints decide conflicts).
    async fn associate_user_with_tenant(&self, app_id: &str, tenant_id: &str, recipe_user_id: &str) -> Result<AssociateOutcome, StorageError>;

    /// Removes a recipe user from a tenant; returns whether it was there. The user keeps its data.
    async fn disassociate_user_from_tenant(&self, app_id: &str, tenant_id: &str, recipe_user_id: &str) -> Result<bool, StorageError>;

    /// Deletes recipe users and everything keyed by their ids (sessions, metadata, roles, verified
    /// emails, last-active times, TOTP devices), in one transaction. Returns whether any existed.
    async fn delete_users(&self, app_id: &str, user_ids: &[String]) -> Result<bool, StorageError>;
}
