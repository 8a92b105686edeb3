//! TOTP storage: a user's devices (app-wide, `totp_users` + `totp_user_devices`) and the codes
//! tried per tenant (`totp_used_codes`). Every unit of work that changes a user's devices or
//! codes first locks the user's `totp_users` row, so verifications of one user are serialised:
//! of concurrent verifications of one code, exactly one succeeds.

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateDeviceOutcome {
    /// The name the device got.
    Created(String),
    /// A verified device has that name.
    AlreadyExists,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameOutcome {
    Renamed,
    UnknownDevice,
    AlreadyExists,
}

/// A code to verify, against one unverified device (`device`) or the user's verified devices.
#[derive(Clone, Debug)]
pub struct VerifyRequest {
    pub user_id: String,
    pub device: Option<String>,
    pub code: String,
    pub now: i64,
    pub limits: Limits,
}

impl VerifyRequest {
    /// The devices a code is checked against, from all of the user's: the named unverified device,
    /// or the verified ones; or the outcome that ends the verification before any code is checked.
    pub fn candidates(&self, all: Vec<Device>) -> Result<Vec<Device>, VerifyOutcome> {
        match &self.device {
            Some(name) => match all.into_iter().find(|d| &d.name == name) {
                None => Err(VerifyOutcome::UnknownDevice),
                Some(d) if d.verified => Err(VerifyOutcome::AlreadyVerified),
                Some(d) => Ok(vec![d]),
            },
            None if all.is_empty() => Err(VerifyOutcome::UnknownUser),
            None => Ok(all.into_iter().filter(|d| d.verified).collect()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// Device verification: no such device.
    UnknownDevice,
    /// Code verification: the user has no device at all.
    UnknownUser,
    /// Device verification: the device was verified already (the code is not checked).
    AlreadyVerified,
    /// The verdict; on `Ok` a device being verified is now marked verified.
    Checked(Verdict),
}

#[async_trait]
pub trait TotpStorage: Send + Sync {
    /// Creates the user's row if needed and the device, replacing an unverified device of the
    /// chosen name, in one transaction.
    async fn totp_create_device(&self, app: AppKey<'_>, device: &NewDevice) -> Result<CreateDeviceOutcome, StorageError>;

    async fn totp_rename_device(&self, app: AppKey<'_>, user_id: &str, old_name: &str, new_name: &str) -> Result<RenameOutcome, StorageError>;

    /// The user's devices, oldest first.
    async fn totp_devices(&self, app: AppKey<'_>, user_id: &str) -> Result<Vec<Device>, StorageError>;

    /// Removes a device; the user's row (and with it the used codes of every tenant) goes with
    /// the last device, as in the core. False when there was no such device.
    async fn totp_remove_device(&self, app: AppKey<'_>, user_id: &str, name: &str) -> Result<bool, StorageError>;

    /// Checks a code with `totp::decide` and records the attempt in the tenant's used codes, all
    /// in one transaction holding the user's lock.
    async fn totp_verify(&self, tenant: TenantKey<'_>, request: &VerifyRequest) -> Result<VerifyOutcome, StorageError>;

    /// For each user with devices: whether one of them is verified. Users without devices are absent.
    async fn totp_device_status(&self, app: AppKey<'_>, user_ids: &[String]) -> Result<HashMap<String, bool>, StorageError>;

    /// The cron: removes the tenant's used codes that expired before `before`. Returns how many.
    async fn totp_delete_expired_codes(&self, tenant: TenantKey<'_>, before: i64) -> Result<u64, StorageError>;
}
