//! Email-password changes: email and password updates, and password-reset tokens (stored hashed).

use async_trait::async_trait;

use crate::ids::AppKey;
use crate::storage::error::StorageError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    UnknownUser,
    /// Another email-password user of one of the user's tenants has that email.
    EmailAlreadyExists,
    /// The user is (linked to) a primary user, and another primary user of one of its tenants
    /// has that email.
    EmailChangeNotAllowed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The token was valid: the user and the email it was issued for.
    Valid { user_id: String, email: Option<String> },
    Invalid,
}

#[async_trait]
pub trait EmailPasswordStorage: Send + Sync {
    /// Changes an email-password user's email and/or password hash, in one transaction.
    async fn ep_update(&self, app: AppKey<'_>, user_id: &str, email: Option<&str>, password_hash: Option<&str>) -> Result<UpdateOutcome, StorageError>;

    async fn reset_token_create(&self, app: AppKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError>;

    /// In one transaction: finds the token, removes every reset token of its user, and reports it
    /// valid unless it expired.
    async fn reset_token_consume(&self, app: AppKey<'_>, token_hash: &str, now: i64) -> Result<ResetOutcome, StorageError>;
}
