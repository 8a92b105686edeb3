//! Passwordless storage: devices (one sign-in attempt for an email or phone number) and their
//! codes, consuming a code (with the sign-up or sign-in it leads to, in one transaction), and
//! changes to a passwordless user's email and phone number.

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateCodeOutcome {
    Created,
    /// The device is gone (consumed, revoked or expired).
    UnknownDevice,
    /// The device already has a code with this link code hash (same user input code), or an id
    /// collided: the caller retries with fresh values unless the user input code was given.
    Duplicate,
}

/// What consuming (or checking) a code should do.
#[derive(Clone, Debug)]
pub struct ConsumeRequest {
    pub device_id_hash: String,
    pub link_code_hash: String,
    /// True when the client typed a user input code (wrong or expired codes count as failed
    /// attempts); false for a link code (they restart the flow).
    pub by_user_input_code: bool,
    pub now: i64,
    pub code_lifetime_ms: i64,
    pub max_attempts: i64,
    /// `None` only checks the code. `Some` consumes it: removes the devices of its email or phone
    /// number and signs the user in, or up with these values.
    pub sign_in_up: Option<SignInUp>,
}

#[derive(Clone, Debug)]
pub struct SignInUp {
    /// The id a new user gets.
    pub new_user_id: String,
    /// Mark the device's email verified for the user (CDI ≥ 4.0).
    pub verify_email: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// The code was right. `user` = (SuperTokens recipe user id, created) when consuming.
    Ok { device: Device, user: Option<(String, bool)> },
    IncorrectUserInputCode { failed_attempts: i32 },
    ExpiredUserInputCode { failed_attempts: i32 },
    RestartFlow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateUserOutcome {
    Updated,
    UnknownUser,
    EmailAlreadyExists,
    PhoneNumberAlreadyExists,
    /// The change would leave the user with neither an email nor a phone number.
    NoContactLeft,
    /// The user is (linked to) a primary user, and another primary user of one of its tenants
    /// has that email / phone number.
    EmailChangeNotAllowed,
    PhoneNumberChangeNotAllowed,
}

/// A field change: `None` = leave as is, `Some(None)` = remove, `Some(Some(v))` = set.
pub type FieldUpdate<'a> = Option<Option<&'a str>>;

#[async_trait]
pub trait PasswordlessStorage: Send + Sync {
    /// Writes a new device and its first code in one transaction. False when a value collided
    /// with a stored one (the caller retries with fresh random values).
    async fn pl_create_device_with_code(&self, tenant: TenantKey<'_>, device: &Device, code: &Code) -> Result<bool, StorageError>;

    /// Adds a code to an existing device (locked while the code is written).
    async fn pl_create_code(&self, tenant: TenantKey<'_>, code: &Code) -> Result<CreateCodeOutcome, StorageError>;

    async fn pl_device(&self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<Option<DeviceWithCodes>, StorageError>;

    async fn pl_devices_by_contact(&self, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<Vec<DeviceWithCodes>, StorageError>;

    async fn pl_code_by_link_code_hash(&self, tenant: TenantKey<'_>, link_code_hash: &str) -> Result<Option<Code>, StorageError>;

    /// Checks a code and, when asked, consumes it and signs the user in or up, all in one
    /// transaction with the device locked: of concurrent consumes of one code, one succeeds.
    async fn pl_consume(&self, tenant: TenantKey<'_>, request: &ConsumeRequest) -> Result<ConsumeOutcome, StorageError>;

    /// Removes one code; a device left without codes goes with it.
    async fn pl_delete_code(&self, tenant: TenantKey<'_>, code_id: &str) -> Result<(), StorageError>;

    async fn pl_delete_device(&self, tenant: TenantKey<'_>, device_id_hash: &str) -> Result<(), StorageError>;

    async fn pl_delete_devices_by_contact(&self, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<(), StorageError>;

    /// Changes a passwordless user's email and/or phone number in every tenant it is in, and
    /// removes the devices of the old and new values in those tenants, in one transaction.
    async fn pl_update_user(&self, app: AppKey<'_>, user_id: &str, email: FieldUpdate<'_>, phone_number: FieldUpdate<'_>) -> Result<UpdateUserOutcome, StorageError>;

    /// The cron: removes the tenant's devices whose codes were all created before `cutoff`
    /// (their codes cascade). Devices with a fresh code stay, so an expired code is still told
    /// apart from a wrong one. Returns the devices removed.
    async fn pl_delete_expired_devices(&self, tenant: TenantKey<'_>, cutoff: i64) -> Result<u64, StorageError>;
}
