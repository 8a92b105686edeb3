//! Email verification: tokens (`emailverification_tokens`, stored hashed) and verified addresses
//! (`emailverification_verified_emails`).

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumeOutcome {
    Verified { user_id: String, email: String },
    /// No such token, or it expired (expired tokens are removed all the same).
    Invalid,
}

#[async_trait]
pub trait EmailVerificationStorage: Send + Sync {
    async fn ev_token_create(&self, tenant: TenantKey<'_>, user_id: &str, email: &str, token_hash: &str, expiry: i64) -> Result<(), StorageError>;

    /// In one transaction: finds the token in the tenant, removes every token of its (user, email),
    /// and unless it expired marks the email verified.
    async fn ev_consume(&self, tenant: TenantKey<'_>, token_hash: &str, now: i64) -> Result<ConsumeOutcome, StorageError>;

    async fn ev_is_verified(&self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError>;

    /// Marks an email verified (idempotent).
    async fn ev_mark_verified(&self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;

    async fn ev_unverify(&self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;

    async fn ev_revoke_tokens(&self, tenant: TenantKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;
}

/// Email-verification statements other recipes' flows run inside their transaction.
#[async_trait]
pub trait EmailVerificationTx {
    /// Marks an email verified for a user (idempotent).
    async fn ev_set_verified(&mut self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;
}
