//! Storage of sessions, signing keys and last-active times.

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;
use crate::session::signing_keys::DynamicKey;

/// A `session_info` row (the app id is passed alongside).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    pub tenant_id: String,
    pub handle: String,
    /// The recipe user id (external when mapped).
    pub user_id: String,
    pub refresh_token_hash_2: String,
    /// `userDataInDatabase` as JSON text.
    pub session_data: String,
    /// The refresh token's expiry.
    pub expires_at: i64,
    pub created_at: i64,
    /// The custom access-token claims as JSON text.
    pub jwt_user_payload: String,
    pub use_static_key: bool,
    /// The primary user of `user_id`'s account group (external when mapped), when it is another
    /// user; read with the row (the table does not store it), ignored on insert.
    pub primary_user_id: Option<String>,
}

/// The user a new session names (see [`SessionStorage::session_user`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionUser {
    /// The id the session stores: external when mapped.
    pub user_id: String,
    /// The primary user of its account group (external when mapped); `None` when it is no auth user.
    pub primary_user_id: Option<String>,
}

/// A `jwt_signing_keys` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticKey {
    pub key_id: String,
    pub key_string: String,
    pub algorithm: String,
    pub created_at: i64,
}

/// Which sessions a removal or listing covers.
#[derive(Clone, Copy, Debug)]
pub enum TenantScope<'a> {
    One(&'a str),
    AllTenants,
}

#[async_trait]
pub trait SessionStorage: Send + Sync {
    async fn session_insert(&self, app: AppKey<'_>, row: &SessionRow) -> Result<(), StorageError>;

    async fn session_get(&self, tenant: TenantKey<'_>, handle: &str) -> Result<Option<SessionRow>, StorageError>;

    /// Who a new session for `given` (either side of a user id mapping) names, in one read: the
    /// user id sessions store (the external id when `given` is mapped, else `given`) and the primary
    /// user of its account group, named the same way (`None` when it is no auth user).
    async fn session_user(&self, app: AppKey<'_>, given: &str) -> Result<SessionUser, StorageError>;

    /// Moves a session to a new refresh token if its stored hash is still `expected_hash_2`
    /// (compare-and-set: of two concurrent refreshes exactly one wins). Returns whether it did.
    async fn session_replace_refresh_hash(
        &self,
        tenant: TenantKey<'_>,
        handle: &str,
        expected_hash_2: &str,
        new_hash_2: &str,
        new_expires_at: i64,
    ) -> Result<bool, StorageError>;

    /// [`SessionStorage::session_replace_refresh_hash`] and the row, in one statement: moves the
    /// session to `new_hash_2` / `new_expires_at` if its stored hash is `parent_hash_2` and it
    /// expires at or after `live_at`. Returns the row as it is after the statement (with its
    /// primary user, as [`SessionStorage::session_get`] reads it) and whether this call moved it;
    /// `None` when there is no such session. A write only happens when the hash matches, and a
    /// statement that runs twice (a retry after a lost connection) finds the row already moved.
    async fn session_promote(
        &self,
        tenant: TenantKey<'_>,
        handle: &str,
        parent_hash_2: &str,
        new_hash_2: &str,
        new_expires_at: i64,
        live_at: i64,
    ) -> Result<Option<(SessionRow, bool)>, StorageError>;

    async fn session_set_use_static_key(&self, tenant: TenantKey<'_>, handle: &str, value: bool) -> Result<(), StorageError>;

    /// Replaces `userDataInDatabase`; false when the session does not exist.
    async fn session_update_data(&self, tenant: TenantKey<'_>, handle: &str, data: &str) -> Result<bool, StorageError>;

    /// Replaces the stored custom claims; false when the session does not exist.
    async fn session_update_jwt_payload(&self, tenant: TenantKey<'_>, handle: &str, payload: &str) -> Result<bool, StorageError>;

    /// Deletes the given (tenant, handle) sessions; returns the handles that existed.
    async fn session_delete(&self, app: AppKey<'_>, sessions: &[(String, String)]) -> Result<Vec<String>, StorageError>;

    /// Handles of a user's unexpired sessions.
    async fn session_handles_for_user(
        &self,
        app: AppKey<'_>,
        scope: TenantScope<'_>,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<(String, String)>, StorageError>;

    /// Deletes sessions whose refresh token expired; returns how many.
    async fn session_delete_expired(&self, now: i64) -> Result<u64, StorageError>;

    /// Every dynamic signing key of the app.
    async fn dynamic_keys(&self, app: AppKey<'_>) -> Result<Vec<DynamicKey>, StorageError>;

    /// Inserts a dynamic key unless one with the same creation time exists (another instance won).
    async fn dynamic_key_insert(&self, app: AppKey<'_>, key: &DynamicKey) -> Result<(), StorageError>;

    /// Deletes the dynamic keys created before `before`: the RS256 ones of the dynamic-key table and
    /// the ES256 ones of `jwt_signing_keys` (`algorithm` ES256, `key_id` `d-…`).
    async fn dynamic_keys_delete_before(&self, app: AppKey<'_>, before: i64) -> Result<u64, StorageError>;

    /// The app's rows of `jwt_signing_keys` of RS256 and ES256, oldest first: the static keys of
    /// both algorithms and the ES256 dynamic keys (`key_id` `d-<created_at>`).
    async fn static_keys(&self, app: AppKey<'_>) -> Result<Vec<StaticKey>, StorageError>;

    async fn static_key_insert(&self, app: AppKey<'_>, key: &StaticKey) -> Result<(), StorageError>;

    /// `INSERT … ON CONFLICT DO UPDATE` of a user's last-active time.
    async fn user_last_active_upsert(&self, app: AppKey<'_>, user_id: &str, now: i64) -> Result<(), StorageError>;
}
