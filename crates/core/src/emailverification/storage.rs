//! Email verification: tokens (`emailverification_tokens`, stored hashed) and verified addresses
//! (`emailverification_verified_emails`).

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;

/// A verification token's row (the token itself is stored hashed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub user_id: String,
    pub email: String,
    pub expiry: i64,
}

#[async_trait]
pub trait EmailVerificationStorage: Send + Sync {
    async fn ev_token_create(&self, tenant: TenantKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError>;

    async fn ev_is_verified(&self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError>;

    /// Marks an email verified (idempotent).
    async fn ev_mark_verified(&self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;

    async fn ev_unverify(&self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;

    async fn ev_revoke_tokens(&self, tenant: TenantKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;
}

/// Email-verification statements, run inside a flow's transaction (`emailverification::verify`,
/// and other recipes' flows that verify an email).
#[async_trait]
pub trait EmailVerificationTx {
    /// The token with this hash in the tenant, locked until the transaction ends.
    async fn ev_lock_token(&mut self, tenant: TenantKey<'_>, token_hash: &str) -> Result<Option<Token>, StorageError>;

    /// Removes every token of a (user, email) in the tenant.
    async fn ev_remove_tokens(&mut self, tenant: TenantKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;

    /// Marks an email verified for a user (idempotent).
    async fn ev_set_verified(&mut self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;
}
