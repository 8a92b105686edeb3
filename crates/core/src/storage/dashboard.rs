//! Dashboard users (`dashboard_users`) and their sessions (`dashboard_user_sessions`).

use async_trait::async_trait;

use super::StorageError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardUser {
    pub user_id: String,
    pub email: String,
    pub password_hash: String,
    pub time_joined: i64,
}

#[async_trait]
pub trait DashboardStorage: Send + Sync {
    /// Creates a dashboard user; false when the email is taken (the schema's unique constraint decides).
    async fn dashboard_user_create(&self, app_id: &str, user: &DashboardUser) -> Result<bool, StorageError>;

    async fn dashboard_user_by_email(&self, app_id: &str, email: &str) -> Result<Option<DashboardUser>, StorageError>;

    async fn dashboard_session_create(&self, app_id: &str, session_id: &str, user_id: &str, now: i64, expiry: i64) -> Result<(), StorageError>;

    /// The email of the session's user, when the session exists and has not expired at `now`.
    async fn dashboard_session_email(&self, app_id: &str, session_id: &str, now: i64) -> Result<Option<String>, StorageError>;

    async fn dashboard_session_delete(&self, app_id: &str, session_id: &str) -> Result<bool, StorageError>;
}
