//! Third-party users: sign-in-up by (provider, provider's user id) per tenant.

use async_trait::async_trait;

use crate::ids::TenantKey;
use crate::storage::error::StorageError;

/// The provider and the user id it gave, plus the email it reported (normalised).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThirdPartyAccount {
    pub third_party_id: String,
    pub third_party_user_id: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInUpOutcome {
    /// A new user with the id that was offered.
    Created,
    /// The tenant already had this account: its recipe user id (its email now the given one).
    Existing { user_id: String },
    /// The account's user is (linked to) a primary user, and another primary user of one of its
    /// tenants has the new email: nothing changed.
    EmailChangeNotAllowed,
}

#[async_trait]
pub trait ThirdPartyStorage: Send + Sync {
    /// In one transaction: finds the tenant's user for the account and updates its email, or
    /// creates the user (every row a sign-up writes) with `new_user_id`. Two concurrent first
    /// sign-ins of one account in one tenant make one user.
    async fn tp_sign_in_up(
        &self,
        tenant: TenantKey<'_>,
        new_user_id: &str,
        account: &ThirdPartyAccount,
        time_joined: i64,
    ) -> Result<SignInUpOutcome, StorageError>;

    /// Recipe user ids of the tenant's third-party users with this email.
    async fn tp_user_ids_by_email(&self, tenant: TenantKey<'_>, email: &str) -> Result<Vec<String>, StorageError>;
}
