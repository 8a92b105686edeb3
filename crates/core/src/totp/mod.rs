//! The TOTP recipe: devices and codes in the SuperTokens core's formats (`codes`), the input rules
//! of its APIs, and its flows. Devices are app-wide; verification is per tenant, rate limited by the
//! tenant's `totp_max_attempts` and `totp_rate_limit_cooldown_sec` ([`Limits`]).
//!
//! Every flow runs in one transaction that first locks the user's `totp_users` row: changes to one
//! user's devices and codes are serialised, and of concurrent verifications of one code exactly one
//! succeeds. (The plugin locks the used-code rows instead, which locks nothing for a user without
//! any yet: two first verifications of one code could both succeed.)

pub mod codes;
pub mod storage;

pub use codes::*;

use crate::error::Error;
use crate::ids::{AppKey, OwnedTenantKey, TenantKey};
use crate::input::{fits, not_empty, InvalidInput};
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage, StorageError};
use storage::NewDevice;

/// `device_name` and `secret_key` are VARCHAR(256).
pub const MAX_NAME_CHARS: usize = 256;

/// The user row may be removed (with the user's last device) between the insert that found it and
/// the lock; each lost race costs one more insert.
const MAX_USER_ROW_TRIES: usize = 3;

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

/// The fields of a device to create (`POST /recipe/totp/device`) or import (`…/device/import`,
/// with its secret), as parsed.
#[derive(Clone, Debug)]
pub struct DeviceFields {
    pub user_id: String,
    pub name: Option<String>,
    pub skew: i32,
    pub period: i32,
    pub imported_secret: Option<String>,
}

/// Checks the fields in the core's order and makes the device: a fresh secret unless imported; an
/// imported device is verified at once.
pub fn new_device(f: DeviceFields, now: i64) -> Result<NewDevice, Error> {
    not_empty("userId", &f.user_id)?;
    if let Some(n) = &f.name {
        not_empty("deviceName", n)?;
        fits("deviceName", n, MAX_NAME_CHARS)?;
    }
    if let Some(s) = &f.imported_secret {
        not_empty("secretKey", s)?;
        fits("secretKey", s, MAX_NAME_CHARS)?;
    }
    if f.skew < 0 {
        return Err(Error::BadInput("skew must be >= 0".into()));
    }
    if f.period <= 0 {
        return Err(Error::BadInput("period must be > 0".into()));
    }
    let verified = f.imported_secret.is_some();
    let secret_key = match f.imported_secret {
        Some(s) => s,
        None => generate_secret()?,
    };
    Ok(NewDevice { user_id: f.user_id, name: f.name, secret_key, period: f.period, skew: f.skew, verified, created_at: now })
}

/// The checks of a rename: nothing empty, the new name within its column.
pub fn check_rename(user_id: &str, old: &str, new: &str) -> Result<(), InvalidInput> {
    not_empty("userId", user_id)?;
    not_empty("existingDeviceName", old)?;
    not_empty("newDeviceName", new)?;
    fits("newDeviceName", new, MAX_NAME_CHARS)
}

/// The checks of a verification (`device`: the device being verified, if any).
pub fn check_verify(user_id: &str, device: Option<&str>) -> Result<(), InvalidInput> {
    not_empty("userId", user_id)?;
    match device {
        Some(d) => not_empty("deviceName", d),
        None => Ok(()),
    }
}

/// Creates the user's row if needed and the device, replacing an unverified device of the chosen
/// name.
pub async fn create_device(storage: &dyn Storage, app: AppKey<'_>, device: NewDevice) -> Result<CreateDeviceOutcome, StorageError> {
    transaction(storage, (app.app_id.to_owned(), device), create_in).await
}

fn create_in<'t>(tx: &'t mut dyn Tx, (app, d): &'t (String, NewDevice)) -> TxFuture<'t, CreateDeviceOutcome> {
    Box::pin(async move {
        let (app, user) = (AppKey::new(app), d.user_id.as_str());
        for _ in 0..MAX_USER_ROW_TRIES {
            tx.totp_insert_user(app, user).await?;
            if tx.totp_lock_user(app, user).await? {
                break;
            }
        }
        let existing = tx.totp_user_devices(app, user).await?;
        let Some((name, replace)) = pick_device_name(d.name.as_deref(), &existing) else { return Ok(CreateDeviceOutcome::AlreadyExists) };
        if replace {
            tx.totp_delete_device(app, user, &name).await?;
        }
        tx.totp_insert_device(app, &name, d).await?;
        Ok(CreateDeviceOutcome::Created(name))
    })
}

/// Renames a device; a verified or unverified device may take any free name.
pub async fn rename_device(storage: &dyn Storage, app: AppKey<'_>, user_id: &str, old: &str, new: &str) -> Result<RenameOutcome, StorageError> {
    let input = (app.app_id.to_owned(), user_id.to_owned(), old.to_owned(), new.to_owned());
    transaction(storage, input, rename_in).await
}

fn rename_in<'t>(tx: &'t mut dyn Tx, (app, user, old, new): &'t (String, String, String, String)) -> TxFuture<'t, RenameOutcome> {
    Box::pin(async move {
        let app = AppKey::new(app);
        if !tx.totp_lock_user(app, user).await? {
            return Ok(RenameOutcome::UnknownDevice);
        }
        let existing = tx.totp_user_devices(app, user).await?;
        if !existing.iter().any(|d| &d.name == old) {
            return Ok(RenameOutcome::UnknownDevice);
        }
        if old != new && existing.iter().any(|d| &d.name == new) {
            return Ok(RenameOutcome::AlreadyExists);
        }
        tx.totp_rename_device(app, user, old, new).await?;
        Ok(RenameOutcome::Renamed)
    })
}

/// Removes a device; the user's row (and with it the used codes of every tenant) goes with the last
/// device, as in the core. False when there was no such device.
pub async fn remove_device(storage: &dyn Storage, app: AppKey<'_>, user_id: &str, name: &str) -> Result<bool, StorageError> {
    transaction(storage, (app.app_id.to_owned(), user_id.to_owned(), name.to_owned()), remove_in).await
}

fn remove_in<'t>(tx: &'t mut dyn Tx, (app, user, name): &'t (String, String, String)) -> TxFuture<'t, bool> {
    Box::pin(async move {
        let app = AppKey::new(app);
        if !tx.totp_lock_user(app, user).await? || !tx.totp_delete_device(app, user, name).await? {
            return Ok(false);
        }
        if tx.totp_user_devices(app, user).await?.is_empty() {
            tx.totp_delete_user(app, user).await?;
        }
        Ok(true)
    })
}

/// Checks a code with [`decide`] and records the attempt in the tenant's used codes; a device being
/// verified is marked verified when the code is right.
pub async fn verify(storage: &dyn Storage, tenant: TenantKey<'_>, request: VerifyRequest) -> Result<VerifyOutcome, StorageError> {
    transaction(storage, (tenant.owned(), request), verify_in).await
}

fn verify_in<'t>(tx: &'t mut dyn Tx, (tenant, req): &'t (OwnedTenantKey, VerifyRequest)) -> TxFuture<'t, VerifyOutcome> {
    Box::pin(async move {
        let (tenant, user) = (tenant.key(), req.user_id.as_str());
        let app = tenant.app();
        let all = if tx.totp_lock_user(app, user).await? { tx.totp_user_devices(app, user).await? } else { Vec::new() };
        let candidates = match req.candidates(all) {
            Ok(c) => c,
            Err(outcome) => return Ok(outcome),
        };
        let used = tx.totp_used_codes(tenant, user).await?;
        let decision = decide(&candidates, &used, &req.code, req.now, req.limits);
        if let Some(u) = &decision.record {
            tx.totp_insert_used_code(tenant, user, u).await?;
        }
        if let (Verdict::Ok, Some(name)) = (decision.verdict, &req.device) {
            tx.totp_mark_verified(app, user, name).await?;
        }
        Ok(VerifyOutcome::Checked(decision.verdict))
    })
}
