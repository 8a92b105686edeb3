//! TOTP storage: a user's devices (app-wide, `totp_users` + `totp_user_devices`) and the codes
//! tried per tenant (`totp_used_codes`). Every flow that changes a user's devices or codes
//! (`totp/mod.rs`) first locks the user's `totp_users` row, so verifications of one user are
//! serialised: of concurrent verifications of one code, exactly one succeeds.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;
pub use super::codes::{Device, Limits, UsedCode, Verdict};

/// A device to create: the name is chosen inside the transaction (`totp::pick_device_name`).
#[derive(Clone, Debug)]
pub struct NewDevice {
    pub user_id: String,
    /// `None`: `TOTP Device <n>`.
    pub name: Option<String>,
    pub secret_key: String,
    pub period: i32,
    pub skew: i32,
    /// True for imported devices.
    pub verified: bool,
    pub created_at: i64,
}

#[async_trait]
pub trait TotpStorage: Send + Sync {
    /// The user's devices, oldest first.
    async fn totp_devices(&self, app: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError>;

    /// For each user with devices: whether one of them is verified. Users without devices are absent.
    async fn totp_device_status(&self, app: AppKey<'_>, user_ids: &[String]) -> Result<HashMap<String, bool>, StorageError>;

    /// The cron: removes the tenant's used codes that expired before `before`. Returns how many.
    async fn totp_delete_expired_codes(&self, tenant: TenantKey<'_>, before: i64) -> Result<u64, StorageError>;
}

/// The statements of the TOTP flows (`totp/mod.rs`), run inside their transaction.
#[async_trait]
pub trait TotpTx {
    /// Creates the user's `totp_users` row unless it exists.
    async fn totp_insert_user(&mut self, app: AppKey<'_>, user_id: &str) -> Result<(), StorageError>;

    /// Locks the user's row until the transaction ends (PostgreSQL: `FOR UPDATE`; SQLite's
    /// IMMEDIATE transaction holds the database's write lock already). False when the user has no
    /// row, and so no devices.
    async fn totp_lock_user(&mut self, app: AppKey<'_>, user_id: &str) -> Result<bool, StorageError>;

    /// Removes the user's row; the used codes of every tenant cascade.
    async fn totp_delete_user(&mut self, app: AppKey<'_>, user_id: &str) -> Result<(), StorageError>;

    /// The user's devices, oldest first.
    async fn totp_user_devices(&mut self, app: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError>;

    /// Inserts a device under `name` (the name the flow chose, not `device.name`).
    async fn totp_insert_device(&mut self, app: AppKey<'_>, name: &str, device: &NewDevice) -> Result<(), StorageError>;

    /// Deletes a device; false when there was none of that name.
    async fn totp_delete_device(&mut self, app: AppKey<'_>, user_id: &str, name: &str) -> Result<bool, StorageError>;

    async fn totp_rename_device(&mut self, app: AppKey<'_>, user_id: &str, old_name: &str, new_name: &str) -> Result<(), StorageError>;

    async fn totp_mark_verified(&mut self, app: AppKey<'_>, user_id: &str, name: &str) -> Result<(), StorageError>;

    /// The user's used codes in the tenant, newest first.
    async fn totp_used_codes(&mut self, tenant: TenantKey<'_>, user_id: &str) -> Result<Vec<UsedCode>, StorageError>;

    async fn totp_insert_used_code(&mut self, tenant: TenantKey<'_>, user_id: &str, code: &UsedCode) -> Result<(), StorageError>;
}
