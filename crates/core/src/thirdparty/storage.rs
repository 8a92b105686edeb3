//! Third-party users: sign-in-up by (provider, provider's user id) per tenant. The sign-in-up flow
//! (`thirdparty/mod.rs`) runs over [`ThirdPartyTx`].

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;

/// The provider and the user id it gave, plus the email it reported (normalised).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThirdPartyAccount {
    pub third_party_id: String,
    pub third_party_user_id: String,
    pub email: String,
}

#[async_trait]
pub trait ThirdPartyStorage: Send + Sync {
    /// Recipe user ids of the tenant's third-party users with this email.
    async fn tp_user_ids_by_email(&self, tenant: TenantKey<'_>, email: &str) -> Result<Vec<String>, StorageError>;
}

/// The statements of the third-party sign-in-up flow, run inside its transaction.
#[async_trait]
pub trait ThirdPartyTx {
    /// The tenant's user with this provider account, and its email, locked until the transaction
    /// ends (a concurrent sign-in of the account waits for this one's email change).
    async fn tp_lock_account(&mut self, tenant: TenantKey<'_>, third_party_id: &str, third_party_user_id: &str) -> Result<Option<(String, String)>, StorageError>;

    /// Sets a third-party user's email.
    async fn tp_set_email(&mut self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<(), StorageError>;

    /// Writes every row of a third-party sign-up; false when a unique constraint refused one (a
    /// concurrent first sign-in of the account: a conflict).
    async fn tp_create_user(&mut self, tenant: TenantKey<'_>, user_id: &str, account: &ThirdPartyAccount, time_joined: i64) -> Result<bool, StorageError>;
}
