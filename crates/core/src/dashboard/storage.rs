//! Dashboard users (`dashboard_users`) and their sessions (`dashboard_user_sessions`).

use async_trait::async_trait;

use crate::ids::AppKey;
use crate::storage::error::StorageError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardUser {
    pub user_id: String,
    pub email: String,
    pub password_hash: String,
    pub time_joined: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardSession {
    pub session_id: String,
    pub user_id: String,
    pub time_created: i64,
    pub expiry: i64,
}

/// How a dashboard user is named in a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DashboardUserKey {
    Id(String),
    Email(String),
}

#[async_trait]
pub trait DashboardStorage: Send + Sync {
    /// Creates a dashboard user; false when the email is taken (the schema's unique constraint decides).
    async fn dashboard_user_create(&self, app: AppKey<'_>, user: &DashboardUser) -> Result<bool, StorageError>;

    async fn dashboard_user_by_email(&self, app: AppKey<'_>, email: &str) -> Result<Option<DashboardUser>, StorageError>;

    async fn dashboard_session_create(&self, app: AppKey<'_>, session_id: &str, user_id: &str, now: i64, expiry: i64) -> Result<(), StorageError>;

    /// The email of the session's user, when the session exists and has not expired at `now`.
    async fn dashboard_session_email(&self, app: AppKey<'_>, session_id: &str, now: i64) -> Result<Option<String>, StorageError>;

    async fn dashboard_session_delete(&self, app: AppKey<'_>, session_id: &str) -> Result<bool, StorageError>;

    /// Every dashboard user of the app, oldest first.
    async fn dashboard_users(&self, app: AppKey<'_>) -> Result<Vec<DashboardUser>, StorageError>;

    async fn dashboard_user_find(&self, app: AppKey<'_>, key: &DashboardUserKey) -> Result<Option<DashboardUser>, StorageError>;

    /// Changes a user's email and/or password hash in one transaction; false when the new email is
    /// another user's (nothing is changed then).
    async fn dashboard_user_update(&self, app: AppKey<'_>, user_id: &str, email: Option<&str>, password_hash: Option<&str>) -> Result<bool, StorageError>;

    /// Deletes a user and (by the schema's cascade) its sessions; false when there was none.
    async fn dashboard_user_delete(&self, app: AppKey<'_>, user_id: &str) -> Result<bool, StorageError>;

    async fn dashboard_sessions_of(&self, app: AppKey<'_>, user_id: &str) -> Result<Vec<DashboardSession>, StorageError>;

    /// Deletes the sessions that expired before `now`, in every app of this database.
    async fn dashboard_sessions_delete_expired(&self, now: i64) -> Result<u64, StorageError>;

    /// Users whose last activity (`user_last_active`) is at or after `since`.
    async fn active_users_count(&self, app: AppKey<'_>, since: i64) -> Result<u64, StorageError>;
}
