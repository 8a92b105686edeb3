//! Storage of account linking: making primary users, linking and unlinking recipe users, and
//! removing one login method of a group. Each method is one transaction that serialises with every
//! other linking decision of the app (PostgreSQL: a row lock on the app; SQLite: one writer), loads
//! the users and candidates, asks [`crate::accountlinking::rules`], then writes.
//! Ids are SuperTokens user ids (the caller resolves external ids).

use async_trait::async_trait;

use crate::ids::AppKey;
use crate::storage::error::StorageError;
use super::rules::{InfoKind, LinkingError};
use crate::users::model::User;

/// What unlinking did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// The user was not linked (nor primary): nothing changed.
    NotLinked,
    Unlinked,
    /// The user was the primary user of a group with other login methods: its login method was
    /// deleted instead (two users may not share an id), the others stay linked under its id.
    Deleted,
}

#[async_trait]
pub trait AccountLinkingStorage: Send + Sync {
    /// Makes the recipe user a primary user (only checks when `check_only`). Returns its user and
    /// whether it already was one.
    async fn create_primary_user(&self, app: AppKey<'_>, recipe_user_id: &str, check_only: bool) -> Result<Result<(User, bool), LinkingError>, StorageError>;

    /// Links the recipe user to the primary user's group (only checks when `check_only`). Returns
    /// the primary user's group and whether they were already linked.
    async fn link_accounts(
        &self,
        app: AppKey<'_>,
        recipe_user_id: &str,
        primary_user_id: &str,
        check_only: bool,
    ) -> Result<Result<(User, bool), LinkingError>, StorageError>;

    /// `None` when the user does not exist.
    async fn unlink_account(&self, app: AppKey<'_>, recipe_user_id: &str) -> Result<Option<UnlinkOutcome>, StorageError>;

    /// Deletes one login method (`removeAllLinkedAccounts: false`): a group's primary user that
    /// has other login methods keeps its id row (the others stay linked under it) and its
    /// application data; any other user is deleted entirely. False when the user does not exist.
    async fn remove_login_method(&self, app: AppKey<'_>, recipe_user_id: &str) -> Result<bool, StorageError>;
}

/// The query for the primary ids of every user with one piece of account info, app-wide: parameter
/// 1 is the app id, then the value (email, phone number), or the third-party id and user id.
/// `table` names a plugin table as the store spells it; `ph` spells the n-th placeholder.
pub fn candidate_ids_sql(kind: InfoKind, table: &dyn Fn(&str) -> String, ph: &dyn Fn(usize) -> String) -> String {
    let (app, v1, v2) = (ph(1), ph(2), ph(3));
    let matching = match kind {
        InfoKind::Email => format!(
            "SELECT user_id FROM {ep} WHERE app_id = {app} AND email = {v1} \
             UNION SELECT user_id FROM {tp} WHERE app_id = {app} AND email = {v1} \
             UNION SELECT user_id FROM {pl} WHERE app_id = {app} AND email = {v1}",
            ep = table("emailpassword_users"),
            tp = table("thirdparty_users"),
            pl = table("passwordless_users"),
        ),
        InfoKind::PhoneNumber => {
            format!("SELECT user_id FROM {} WHERE app_id = {app} AND phone_number = {v1}", table("passwordless_users"))
        }
        InfoKind::ThirdParty => format!(
            "SELECT user_id FROM {} WHERE app_id = {app} AND third_party_id = {v1} AND third_party_user_id = {v2}",
            table("thirdparty_users")
        ),
    };
    format!(
        "SELECT DISTINCT primary_or_recipe_user_id FROM {} WHERE app_id = {app} AND user_id IN ({matching})",
        table("app_id_to_user_id")
    )
}
