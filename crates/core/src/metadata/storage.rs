//! Storage of user metadata (`user_metadata`): one JSON object per user of an app, kept in the
//! app's public-tenant database.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::ids::AppKey;
use serde_json::{Map, Value};

use crate::storage::error::StorageError;

#[async_trait]
pub trait MetadataStorage: Send + Sync {
    /// A user's metadata; `None` when nothing is stored.
    async fn metadata_get(&self, app: AppKey<'_>, user_id: &str) -> Result<Option<Map<String, Value>>, StorageError>;

    /// The metadata of several users in one read; users with none stored are absent from the map.
    async fn metadata_get_many(
        &self,
        app: AppKey<'_>,
        user_ids: &[String],
    ) -> Result<HashMap<String, Map<String, Value>>, StorageError>;

    /// Merges `update` into a user's metadata (`crate::metadata::shallow_merge`) and stores the result,
    /// which it returns. Read, merge and write run in one transaction holding the user's row lock, so
    /// concurrent updates of one user never lose each other's keys.
    async fn metadata_update(
        &self,
        app: AppKey<'_>,
        user_id: &str,
        update: &Map<String, Value>,
    ) -> Result<Map<String, Value>, StorageError>;

    /// Deletes a user's metadata; returns whether there was any.
    async fn metadata_delete(&self, app: AppKey<'_>, user_id: &str) -> Result<bool, StorageError>;
}
