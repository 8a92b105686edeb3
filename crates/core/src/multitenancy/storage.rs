//! Storage of tenants: the registry of tenant configurations (kept in the base database) and the
//! rows that make an app or tenant exist in a database (`apps`, `tenants`).

use async_trait::async_trait;

use super::model::TenantConfig;
use crate::ids::{AppKey, TenantIdentifier, TenantKey};
use crate::storage::error::StorageError;

#[async_trait]
pub trait TenantStorage: Send + Sync {
    /// Every tenant configuration with its providers and factors.
    async fn load_tenant_configs(&self) -> Result<Vec<TenantConfig>, StorageError>;

    /// Writes a tenant configuration, replacing its providers and factors. Returns true when it was new.
    async fn upsert_tenant_config(&self, config: &TenantConfig) -> Result<bool, StorageError>;

    /// Removes a tenant configuration (its providers and factors cascade). Returns whether it existed.
    async fn delete_tenant_config(&self, id: &TenantIdentifier) -> Result<bool, StorageError>;

    /// Ensures the `apps` and `tenants` rows of a tenant exist in this database.
    async fn add_tenant_rows(&self, tenant: TenantKey<'_>, now_ms: i64) -> Result<(), StorageError>;

    /// Deletes a tenant's row (its data cascades). Returns whether it existed.
    async fn delete_tenant_rows(&self, tenant: TenantKey<'_>) -> Result<bool, StorageError>;

    /// Deletes an app's row (all its tenants and data cascade). Returns whether it existed.
    async fn delete_app_rows(&self, app: AppKey<'_>) -> Result<bool, StorageError>;
}
