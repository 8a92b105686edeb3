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

    /// Deletes a user's metadata; returns whether there was any.
    async fn metadata_delete(&self, app: AppKey<'_>, user_id: &str) -> Result<bool, StorageError>;
}

/// The statements of the update flow (`metadata::update`), run inside its transaction.
#[async_trait]
pub trait MetadataTx {
    /// The user's metadata, its row locked until the transaction ends; `None` when there is none.
    async fn metadata_lock(&mut self, app: AppKey<'_>, user_id: &str) -> Result<Option<Map<String, Value>>, StorageError>;

    /// Inserts the user's row unless one exists (`ON CONFLICT DO NOTHING`: the transaction stays
    /// usable). False when a concurrent insert got there first.
    async fn metadata_insert(&mut self, app: AppKey<'_>, user_id: &str, metadata: &Map<String, Value>) -> Result<bool, StorageError>;

    /// Replaces the stored metadata of a row the flow has locked.
    async fn metadata_replace(&mut self, app: AppKey<'_>, user_id: &str, metadata: &Map<String, Value>) -> Result<(), StorageError>;
}
