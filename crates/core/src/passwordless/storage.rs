//! Passwordless storage: devices (one sign-in attempt for an email or phone number), their codes,
//! and passwordless users' contacts. The flows that change several of them at once are in
//! `passwordless/mod.rs`, over [`PasswordlessTx`].

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// `device_id_hash`, the client's `preAuthSessionId` (trimmed of the CHAR padding).
    pub id_hash: String,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub link_code_salt: String,
    pub failed_attempts: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    pub id: String,
    pub device_id_hash: String,
    pub link_code_hash: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceWithCodes {
    pub device: Device,
    /// Oldest first.
    pub codes: Vec<Code>,
}

/// What devices are looked up or removed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact<'a> {
    Email(&'a str),
    Phone(&'a str),
}

/// Which contact a passwordless user's change is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContactKind {
    Email,
    Phone,
}

/// What setting a user's email or phone number did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetContact {
    Set,
    /// Another passwordless user of one of the user's tenants has it (a conflict).
    EmailTaken,
    PhoneNumberTaken,
}

/// Reads and single-statement changes, each its own unit of work.
#[async_trait]
pub trait PasswordlessStorage: Send + Sync {
    async fn pl_device(&self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<Option<DeviceWithCodes>, StorageError>;

    async fn pl_devices_by_contact(&self, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<Vec<DeviceWithCodes>, StorageError>;

    async fn pl_code_by_link_code_hash(&self, tenant: TenantKey<'_>, link_code_hash: &str) -> Result<Option<Code>, StorageError>;

    async fn pl_delete_device(&self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<(), StorageError>;

    async fn pl_delete_devices_by_contact(&self, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<(), StorageError>;

    /// The cron: removes the tenant's devices whose codes were all created before `cutoff`
    /// (their codes cascade). Devices with a fresh code stay, so an expired code is still told
    /// apart from a wrong one. Returns the devices removed.
    async fn pl_delete_expired_devices(&self, tenant: TenantKey<'_>, cutoff: i64) -> Result<u64, StorageError>;
}

/// The statements of the passwordless flows (`passwordless::create_code`, `consume_code`,
/// `remove_code`), run inside their transaction (see `storage::tx`).
#[async_trait]
pub trait PasswordlessTx {
    /// Inserts a device; false when its id hash is taken (a conflict).
    async fn pl_insert_device(&mut self, tenant: TenantKey<'_>, device: &Device) -> Result<bool, StorageError>;

    /// Inserts a code; false when its id or link code hash is taken (a conflict).
    async fn pl_insert_code(&mut self, tenant: TenantKey<'_>, code: &Code) -> Result<bool, StorageError>;

    /// The device, locked until the transaction ends, so that changes to it and its codes are
    /// serialised: of concurrent consumes of one code, one succeeds.
    async fn pl_lock_device(&mut self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<Option<Device>, StorageError>;

    async fn pl_find_code(&mut self, tenant: TenantKey<'_>, link_code_hash: &str) -> Result<Option<Code>, StorageError>;

    /// The device hash of a code.
    async fn pl_device_of_code(&mut self, tenant: TenantKey<'_>, code_id: &str) -> Result<Option<String>, StorageError>;

    async fn pl_count_codes(&mut self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<i64, StorageError>;

    async fn pl_remove_code(&mut self, tenant: TenantKey<'_>, code_id: &str) -> Result<(), StorageError>;

    /// Removes a device and (by cascade) its codes.
    async fn pl_remove_device(&mut self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<(), StorageError>;

    async fn pl_add_failed_attempt(&mut self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<(), StorageError>;

    async fn pl_remove_devices_of(&mut self, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<(), StorageError>;

    /// The tenant's passwordless user with this email or phone number.
    async fn pl_user_by_contact(&mut self, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<Option<String>, StorageError>;

    /// A passwordless user's email and phone number.
    async fn pl_user_contact(&mut self, app: AppKey<'_>, user_id: &str) -> Result<Option<(Option<String>, Option<String>)>, StorageError>;

    /// Writes every row of a passwordless sign-up (algorithms.md §4.3); false when a unique
    /// constraint refused one (a conflict: another sign-up of this contact won).
    async fn pl_create_user(&mut self, tenant: TenantKey<'_>, user_id: &str, device: &Device, time_joined: i64) -> Result<bool, StorageError>;

    /// A passwordless user's email and phone number, its row locked until the transaction ends.
    async fn pl_lock_user(&mut self, app: AppKey<'_>, user_id: &str) -> Result<Option<(Option<String>, Option<String>)>, StorageError>;

    /// Whether another passwordless user of one of this user's tenants has this email or phone
    /// number.
    async fn pl_contact_taken(&mut self, app: AppKey<'_>, user_id: &str, contact: Contact<'_>) -> Result<bool, StorageError>;

    /// Sets (`Some`) or removes (`None`) the user's email or phone number in its rows.
    async fn pl_set_contact(&mut self, app: AppKey<'_>, user_id: &str, kind: ContactKind, value: Option<&str>) -> Result<SetContact, StorageError>;

    /// Removes the devices with this contact in every tenant of the user.
    async fn pl_remove_user_devices_of(&mut self, app: AppKey<'_>, user_id: &str, contact: Contact<'_>) -> Result<(), StorageError>;
}
