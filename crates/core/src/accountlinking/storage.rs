//! The statements of account linking's flows (`accountlinking/mod.rs`), run inside their
//! transaction: serialising linking decisions, finding the users that share an account info,
//! and writing the link columns. Ids are SuperTokens user ids.

use async_trait::async_trait;

use crate::ids::AppKey;
use crate::storage::error::StorageError;

/// One piece of account info, to find every user that has it anywhere in the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shared<'a> {
    /// An email of any recipe (normalised).
    Email(&'a str),
    PhoneNumber(&'a str),
    /// A third-party provider's id and the user id it gave.
    ThirdParty(&'a str, &'a str),
}

#[async_trait]
pub trait AccountLinkingTx {
    /// Serialises this transaction with every other linking decision of the app, and locks the
    /// users' rows (PostgreSQL: a row lock on the app, `FOR NO KEY UPDATE`, which sign-ups'
    /// foreign-key checks do not wait for, then the users' rows; SQLite: its one writer already).
    async fn al_lock(&mut self, app: AppKey<'_>, user_ids: &[&str]) -> Result<(), StorageError>;

    /// The primary (or recipe) user ids of every user with this account info, app-wide.
    async fn al_primary_ids_with(&mut self, app: AppKey<'_>, info: Shared<'_>) -> Result<Vec<String>, StorageError>;

    /// Sets a recipe user's `primary_or_recipe_user_id` and `is_linked_or_is_a_primary_user`.
    async fn al_set_linked(&mut self, app: AppKey<'_>, user_id: &str, primary_user_id: &str, linked: bool) -> Result<(), StorageError>;

    /// A group's `primary_or_recipe_user_time_joined`: the earliest sign-up among its members.
    async fn al_refresh_group_time(&mut self, app: AppKey<'_>, primary_user_id: &str) -> Result<(), StorageError>;

    /// A user on its own again: its group time is its own sign-up time.
    async fn al_reset_own_time(&mut self, app: AppKey<'_>, user_id: &str) -> Result<(), StorageError>;

    /// Forgets a user's last activity (a linked user's activity counts as its primary user's).
    async fn al_forget_activity(&mut self, app: AppKey<'_>, user_id: &str) -> Result<(), StorageError>;
}
