//! The storage traits. Each method is one atomic unit of work: adapters run it in one transaction.

use async_trait::async_trait;

use crate::ids::TenantIdentifier;
use crate::multitenancy::TenantConfig;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(String),
}

/// Everything one database stores: the recipe areas' traits, plus (here) the registry of tenant
/// configurations (kept in the base database), the rows that make an app or tenant exist in a
/// database (`apps`, `tenants`), and the key-value store.
/// A connection pool at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
    pub max_size: usize,
}

#[async_trait]
pub trait Storage:
    session::SessionStorage
    + users::UserStorage
    + accountlinking::AccountLinkingStorage
    + metadata::MetadataStorage
    + roles::RoleStorage
    + dashboard::DashboardStorage
    + emailverification::EmailVerificationStorage
    + emailpassword::EmailPasswordStorage
    + useridmapping::UserIdMappingStorage
    + passwordless::PasswordlessStorage
    + thirdparty::ThirdPartyStorage
    + totp::TotpStorage
    + Send
    + Sync
    + 'static
{
    /// "postgresql" or "sqlite".
    fn kind(&self) -> &'static str;

    /// A cheap round trip, for /hello and health checks.
    async fn ping(&self) -> Result<(), StorageError>;

    /// The connection pool's state, for metrics; `None` without a pool (SQLite's one connection).
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// Every tenant configuration with its providers and factors.
    async fn load_tenant_configs(&self) -> Result<Vec<TenantConfig>, StorageError>;

    /// Writes a tenant configuration, replacing its providers and factors. Returns true when it was new.
    async fn upsert_tenant_config(&self, config: &TenantConfig) -> Result<bool, StorageError>;

    /// Removes a tenant configuration (its providers and factors cascade). Returns whether it existed.
    async fn delete_tenant_config(&self, id: &TenantIdentifier) -> Result<bool, StorageError>;

    /// Ensures the `apps` and `tenants` rows of a tenant exist in this database.
    async fn add_tenant_rows(&self, app_id: &str, tenant_id: &str, now_ms: i64) -> Result<(), StorageError>;

    /// Deletes a tenant's row (its data cascades). Returns whether it existed.
    async fn delete_tenant_rows(&self, app_id: &str, tenant_id: &str) -> Result<bool, StorageError>;

    /// Deletes an app's row (all its tenants and data cascade). Returns whether it existed.
    async fn delete_app_rows(&self, app_id: &str) -> Result<bool, StorageError>;

    /// Reads a key-value entry.
    async fn key_value_get(&self, app_id: &str, tenant_id: &str, name: &str) -> Result<Option<String>, StorageError>;

    /// Takes the lease named `name` (a `key_value` row of the public app) when nobody took it in the
    /// last `interval_ms`: true for exactly one of several instances asking at once. Background jobs
    /// use it to run once per interval across instances.
    async fn lease(&self, name: &str, now_ms: i64, interval_ms: i64) -> Result<bool, StorageError>;

    /// Stores `value` under `name`, replacing what is there.
    async fn key_value_set(&self, app_id: &str, tenant_id: &str, name: &str, value: &str, now_ms: i64) -> Result<(), StorageError>;

    /// Stores `value` under `name` unless a value is already there; returns the stored value.
    async fn key_value_insert_if_absent(
        &self,
        app_id: &str,
        tenant_id: &str,
        name: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<String, StorageError>;
}

pub mod accountlinking;
pub mod conformance;
pub mod dashboard;
pub mod emailpassword;
pub mod emailverification;
pub mod metadata;
pub mod oauth;
pub mod passwordless;
pub mod roles;
pub mod session;
pub mod thirdparty;
pub mod totp;
pub mod useridmapping;
pub mod users;
