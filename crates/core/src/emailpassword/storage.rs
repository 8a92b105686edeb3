//! Email-password storage: sign-up rows and lookups by email, and password-reset tokens (stored
//! hashed). The flows that change several rows at once (`emailpassword/mod.rs`) run over
//! [`EmailPasswordTx`].

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;
use crate::users::model::LoginMethod;

/// A password-reset token's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetToken {
    pub user_id: String,
    pub expiry: i64,
    /// The email it was issued for (tokens made before CDI 4.0 name none).
    pub email: Option<String>,
}

#[async_trait]
pub trait EmailPasswordStorage: Send + Sync {
    /// Writes a new email-password user (every row a sign-up writes) in one transaction. False
    /// when the tenant already has an email-password user with this email (the schema's unique
    /// constraint decides).
    async fn ep_create_user(&self, tenant: TenantKey<'_>, user_id: &str, email: &str, password_hash: &str, time_joined: i64) -> Result<bool, StorageError>;

    /// The email-password login method with this email in the tenant, with its password hash.
    async fn ep_login_method_by_email(&self, tenant: TenantKey<'_>, email: &str) -> Result<Option<LoginMethod>, StorageError>;

    async fn reset_token_create(&self, app: AppKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError>;
}

/// The statements of email-password's flows, run inside their transaction.
#[async_trait]
pub trait EmailPasswordTx {
    /// Locks an email-password user's row; false when there is none.
    async fn ep_lock_user(&mut self, app: AppKey<'_>, user_id: &str) -> Result<bool, StorageError>;

    /// Sets the user's email in its rows; false when another email-password user of one of its
    /// tenants has it (a conflict).
    async fn ep_set_email(&mut self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError>;

    async fn ep_set_password_hash(&mut self, app: AppKey<'_>, user_id: &str, password_hash: &str) -> Result<(), StorageError>;

    /// The reset token with this hash, locked until the transaction ends.
    async fn ep_lock_reset_token(&mut self, app: AppKey<'_>, token_hash: &str) -> Result<Option<ResetToken>, StorageError>;

    /// Removes every reset token of a user.
    async fn ep_remove_reset_tokens(&mut self, app: AppKey<'_>, user_id: &str) -> Result<(), StorageError>;
}
