//! SAML storage: a tenant's clients (`saml_clients`), relay states (`saml_relay_state`) and claims
//! kept under single-use codes (`saml_claims`), the newer plugin's tables; and an app's SP key pair
//! and certificate (two `key_value` rows of its public tenant, `saml::sp_key`).
//!
//! Every method is one unit of work. The two single-use rules are the database's, not a read then
//! a write: a relay state is consumed and the claims stored in one transaction that finds the relay
//! state gone if a concurrent callback consumed it first; a code is consumed by a delete that
//! returns the row.

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;
pub use super::callback::{CodeClaims, RelayState};
pub use super::claims::ConsumedCode;
pub use super::client::SamlClient;
pub use super::sp_key::StoredSpKey;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpsertClientOutcome {
    /// The row as stored (an update keeps the original `created_at`).
    Saved(SamlClient),
    /// Another client of the tenant has this IdP entity id (the unique constraint
    /// `saml_clients_idp_entity_id_key`).
    DuplicateIdpEntity,
}

#[async_trait]
pub trait SamlStorage: Send + Sync {
    /// Creates the client, or replaces every column of the tenant's client with that id but
    /// `created_at` (the core's full replace: a secret left out is removed).
    async fn saml_upsert_client(&self, tenant: TenantKey<'_>, client: &SamlClient) -> Result<UpsertClientOutcome, StorageError>;

    async fn saml_client(&self, tenant: TenantKey<'_>, client_id: &str) -> Result<Option<SamlClient>, StorageError>;

    /// The tenant's client of an IdP (IdP-initiated logins).
    async fn saml_client_by_idp_entity_id(&self, tenant: TenantKey<'_>, idp_entity_id: &str) -> Result<Option<SamlClient>, StorageError>;

    /// The tenant's clients, oldest first.
    async fn saml_clients(&self, tenant: TenantKey<'_>) -> Result<Vec<SamlClient>, StorageError>;

    /// Removes the client (its relay states and claims stay, as in the core). Whether it existed.
    async fn saml_remove_client(&self, tenant: TenantKey<'_>, client_id: &str) -> Result<bool, StorageError>;

    async fn saml_save_relay_state(&self, tenant: TenantKey<'_>, row: &RelayState) -> Result<(), StorageError>;

    /// The relay state if it has not expired (`expires_at >= now`).
    async fn saml_relay_state(&self, tenant: TenantKey<'_>, relay_state: &str, now_ms: i64) -> Result<Option<RelayState>, StorageError>;

    /// In one transaction: deletes the relay state if it is still there and not expired, and then
    /// stores the claims. False, with nothing written, when the relay state was gone (consumed by
    /// another callback, or expired).
    async fn saml_consume_relay_state_and_save_claims(
        &self,
        tenant: TenantKey<'_>,
        relay_state: &str,
        now_ms: i64,
        claims: &CodeClaims,
    ) -> Result<bool, StorageError>;

    /// Stores the claims of an IdP-initiated login.
    async fn saml_save_claims(&self, tenant: TenantKey<'_>, claims: &CodeClaims) -> Result<(), StorageError>;

    /// Deletes the code's row if it has not expired and returns it: of concurrent exchanges of one
    /// code, one gets the row.
    async fn saml_consume_code(&self, tenant: TenantKey<'_>, code: &str, now_ms: i64) -> Result<Option<ConsumedCode>, StorageError>;

    /// The cron (`DeleteExpiredSAMLData`): every tenant's relay states and claims with
    /// `expires_at <= now`. Returns how many of each were deleted.
    async fn saml_delete_expired(&self, now_ms: i64) -> Result<(u64, u64), StorageError>;

    /// The app's SP key (`saml_key_pair` and `saml_certificate` of its public tenant), when both
    /// rows exist.
    async fn saml_sp_key(&self, app: AppKey<'_>) -> Result<Option<StoredSpKey>, StorageError>;

    /// Stores a new SP key in one transaction, unless another instance got there first; returns
    /// the key that is stored afterwards. `replacing`: `None` when there was no key (stored only if
    /// still none), or the certificate of the expired key being replaced (stored only if that is
    /// still the stored one).
    async fn saml_store_sp_key(&self, app: AppKey<'_>, key: &StoredSpKey, replacing: Option<&str>, now_ms: i64) -> Result<StoredSpKey, StorageError>;
}
