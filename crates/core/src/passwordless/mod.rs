//! The passwordless recipe: devices (one sign-in attempt for an email or phone number), their
//! codes, and consuming a code to sign a user in or up. The formats of device ids, link codes and
//! user input codes are in `codes`; what is stored, and the statements the flows below run, in
//! `storage`.
//!
//! The rules, each written once here:
//! - a code can be consumed for `passwordless_code_lifetime` after it was made ([`is_fresh`]);
//! - a wrong or expired user input code counts as a failed attempt; the attempt that reaches
//!   `passwordless_max_code_input_attempts` ends the device ([`is_spent`]); a wrong or expired
//!   link code restarts the flow without counting;
//! - consuming a code ends every sign-in in progress for the contact (and for the user's other
//!   contact), signs the user in or up, and (CDI ≥ 4.0) marks the email verified;
//! - of concurrent consumes of one code exactly one succeeds (the device is locked).

pub mod codes;
pub mod storage;

use std::sync::Arc;

use crate::accountlinking::rules::{Info, InfoKind};
use crate::accountlinking::change_conflict;
use crate::config::Config;
use crate::crypto::uuid_v4;
use crate::error::Error;
use crate::ids::{AppKey, OwnedTenantKey, TenantKey};
use crate::ratelimit::{self, Counter, Kind, Limit};
use crate::services::ActivityLog;
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage, StorageError};
use crate::users::model::{RecipeId, User};
use crate::users::storage::AccountInfo;
use codes::{generate_user_input_code, pre_auth_session_id_matches, DeviceId, EncodingError, LinkCode, LinkCodeSalt};
use storage::{Code, Contact, ContactKind, Device, DeviceWithCodes, SetContact};

/// Fresh random values that collide with stored ones are drawn again, this many times at most.
const CREATE_TRIES: usize = 5;

/// The passwordless recipe's settings, derived once from a tenant's effective config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `passwordless_code_lifetime`: how long a code (and its link) can be consumed.
    pub code_lifetime_ms: i64,
    /// `passwordless_max_code_input_attempts`: wrong user input codes per device before it goes.
    pub max_attempts: i64,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        Settings { code_lifetime_ms: cfg.passwordless_code_lifetime(), max_attempts: cfg.passwordless_max_code_input_attempts() }
    }
}

/// Whether a code can still be consumed at `now`.
pub fn is_fresh(code: &Code, now: i64, settings: &Settings) -> bool {
    code.created_at >= now - settings.code_lifetime_ms
}

/// Whether a device with this many failed attempts is spent (the maximum may have been lowered
/// since the attempts were made).
pub fn is_spent(failed_attempts: i32, settings: &Settings) -> bool {
    i64::from(failed_attempts) >= settings.max_attempts
}

fn encoding(e: EncodingError) -> Error {
    Error::BadInput(format!("Input encoding error in {}", e.0))
}

fn stored_salt(device: &Device) -> Result<LinkCodeSalt, Error> {
    LinkCodeSalt::decode(&device.link_code_salt).map_err(|_| Error::Internal("a stored link code salt is not base64".into()))
}

/// What a new code is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewCode {
    /// A new device (a new sign-in attempt) for an email or a phone number (normalised).
    Contact { email: Option<String>, phone_number: Option<String> },
    /// Another code for an existing device, named by its device id as the client keeps it.
    Device { device_id: String },
}

/// A code made, as the client needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedCode {
    /// The device id hash: the client's `preAuthSessionId`.
    pub pre_auth_session_id: String,
    pub code_id: String,
    pub device_id: String,
    pub user_input_code: String,
    pub link_code: String,
    pub time_created: i64,
    pub code_lifetime: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateCodeOutcome {
    Created(CreatedCode),
    /// The device is gone (consumed, revoked or expired).
    RestartFlow,
    /// The device already has a code with the user input code given.
    UserInputCodeAlreadyUsed,
    /// Refused by `passwordless_max_codes_created` for the email or phone number.
    Limited,
}

/// A code for `device` (the given user input code, or a random one) and what the client gets.
fn new_code(device: &DeviceId, salt: &LinkCodeSalt, given: &Option<String>, now: i64, settings: &Settings) -> Result<(Code, CreatedCode), Error> {
    let user_input_code = match given {
        Some(c) => c.clone(),
        None => generate_user_input_code()?,
    };
    let link = device.link_code(salt, &user_input_code);
    let code = Code { id: uuid_v4()?, device_id_hash: device.hash(), link_code_hash: link.hash(), created_at: now };
    let created = CreatedCode {
        pre_auth_session_id: code.device_id_hash.clone(),
        code_id: code.id.clone(),
        device_id: device.encode(),
        user_input_code,
        link_code: link.encode(),
        time_created: now,
        code_lifetime: settings.code_lifetime_ms,
    };
    Ok((code, created))
}

/// `POST /<t>/recipe/signinup/code`: a new device with its first code, or a new code for a device.
/// With `limit` on, codes are counted per (tenant, email or phone number), a device's by its own.
pub async fn create_code(
    storage: &dyn Storage,
    tenant: TenantKey<'_>,
    settings: &Settings,
    now: i64,
    new: NewCode,
    user_input_code: Option<String>,
    limit: Limit,
) -> Result<CreateCodeOutcome, Error> {
    let counted = |email: &Option<String>, phone_number: &Option<String>| {
        let subject = email.as_deref().or(phone_number.as_deref()).unwrap_or("");
        Counter::new(Kind::PasswordlessCodes, tenant.tenant_id, subject)
    };
    match new {
        NewCode::Contact { email, phone_number } => {
            if !ratelimit::hit(storage, tenant.app(), &counted(&email, &phone_number), limit, now).await? {
                return Ok(CreateCodeOutcome::Limited);
            }
            for _ in 0..CREATE_TRIES {
                let device_id = DeviceId::generate()?;
                let salt = LinkCodeSalt::generate()?;
                let (code, created) = new_code(&device_id, &salt, &user_input_code, now, settings)?;
                let device =
                    Device { id_hash: device_id.hash(), email: email.clone(), phone_number: phone_number.clone(), link_code_salt: salt.encode(), failed_attempts: 0 };
                let stored = transaction(storage, (tenant.owned(), device, code), |tx, (t, device, code)| {
                    Box::pin(async move { Ok(tx.pl_insert_device(t.key(), device).await? && tx.pl_insert_code(t.key(), code).await?) })
                })
                .await?;
                if stored {
                    return Ok(CreateCodeOutcome::Created(created));
                }
            }
        }
        NewCode::Device { device_id } => {
            let device_id = DeviceId::decode(&device_id).map_err(encoding)?;
            let Some(stored) = storage.pl_device(tenant, &device_id.hash()).await? else { return Ok(CreateCodeOutcome::RestartFlow) };
            if !ratelimit::hit(storage, tenant.app(), &counted(&stored.device.email, &stored.device.phone_number), limit, now).await? {
                return Ok(CreateCodeOutcome::Limited);
            }
            let salt = stored_salt(&stored.device)?;
            for _ in 0..CREATE_TRIES {
                let (code, created) = new_code(&device_id, &salt, &user_input_code, now, settings)?;
                match transaction(storage, (tenant.owned(), code), add_code).await? {
                    AddCode::Added => return Ok(CreateCodeOutcome::Created(created)),
                    AddCode::UnknownDevice => return Ok(CreateCodeOutcome::RestartFlow),
                    // The same user input code on the same device gives the same link code.
                    AddCode::Duplicate if user_input_code.is_some() => return Ok(CreateCodeOutcome::UserInputCodeAlreadyUsed),
                    AddCode::Duplicate => {}
                }
            }
        }
    }
    Err(Error::Internal("random passwordless values collided repeatedly".into()))
}

enum AddCode {
    Added,
    UnknownDevice,
    /// The device has a code with this link code hash already, or the id collided.
    Duplicate,
}

/// Adds a code to a device, locked while the code is written.
fn add_code<'t>(tx: &'t mut dyn Tx, (tenant, code): &'t (OwnedTenantKey, Code)) -> TxFuture<'t, AddCode> {
    Box::pin(async move {
        let key = tenant.key();
        if tx.pl_lock_device(key, &code.device_id_hash).await?.is_none() {
            return Ok(AddCode::UnknownDevice);
        }
        Ok(if tx.pl_insert_code(key, code).await? { AddCode::Added } else { AddCode::Duplicate })
    })
}

/// How the client presents a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeInput {
    /// From the magic link.
    LinkCode(String),
    /// Typed in, with the device id the client kept.
    UserInputCode { device_id: String, user_input_code: String },
}

/// What consuming a code (rather than only checking it) should also do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInUp {
    /// Mark the device's email verified for the user (CDI ≥ 4.0).
    pub verify_email: bool,
}

/// The user a consumed code signed in or up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub user: User,
    /// The login method's id as the application sees it (external when mapped).
    pub recipe_user_id: String,
    pub created: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// The code was right; `signed_in` when it was consumed.
    Ok { device: Device, signed_in: Option<SignedIn> },
    IncorrectUserInputCode { failed_attempts: i32, max_attempts: i64 },
    ExpiredUserInputCode { failed_attempts: i32, max_attempts: i64 },
    RestartFlow,
}

/// `POST /<t>/recipe/signinup/code/consume` (`sign_in_up`) and `…/code/check` (without).
#[allow(clippy::too_many_arguments)]
pub async fn consume_code(
    storage: &dyn Storage,
    activity: &dyn ActivityLog,
    tenant: TenantKey<'_>,
    settings: &Settings,
    now: i64,
    pre_auth_session_id: &str,
    input: CodeInput,
    sign_in_up: Option<SignInUp>,
) -> Result<ConsumeOutcome, Error> {
    let by_user_input_code = matches!(input, CodeInput::UserInputCode { .. });
    let (device_id_hash, link_code_hash) = match input {
        CodeInput::LinkCode(text) => {
            let hash = LinkCode::decode(&text).map_err(encoding)?.hash();
            match storage.pl_code_by_link_code_hash(tenant, &hash).await? {
                Some(code) if is_fresh(&code, now, settings) => (code.device_id_hash, hash),
                _ => return Ok(ConsumeOutcome::RestartFlow),
            }
        }
        CodeInput::UserInputCode { device_id, user_input_code } => {
            let device_id = DeviceId::decode(&device_id).map_err(encoding)?;
            let Some(stored) = storage.pl_device(tenant, &device_id.hash()).await? else { return Ok(ConsumeOutcome::RestartFlow) };
            let salt = stored_salt(&stored.device)?;
            (device_id.hash(), device_id.link_code(&salt, &user_input_code).hash())
        }
    };
    if !pre_auth_session_id_matches(&device_id_hash, pre_auth_session_id) {
        return Err(Error::BadInput("preAuthSessionId and deviceId doesn't match".into()));
    }
    let sign_up = match sign_in_up {
        Some(s) => Some((uuid_v4()?, s.verify_email)),
        None => None,
    };
    let request = Consume { tenant: tenant.owned(), device_id_hash, link_code_hash, by_user_input_code, now, settings: *settings, sign_up };
    let max_attempts = settings.max_attempts;
    Ok(match transaction(storage, request, consume).await? {
        Consumed::RestartFlow => ConsumeOutcome::RestartFlow,
        Consumed::Incorrect(failed_attempts) => ConsumeOutcome::IncorrectUserInputCode { failed_attempts, max_attempts },
        Consumed::Expired(failed_attempts) => ConsumeOutcome::ExpiredUserInputCode { failed_attempts, max_attempts },
        Consumed::Checked(device) => ConsumeOutcome::Ok { device, signed_in: None },
        Consumed::SignedIn { device, user_id, created } => {
            activity.record(storage, tenant.app(), &user_id, now).await;
            let user = storage.get_user(tenant.app(), &user_id).await?.ok_or_else(|| Error::Internal("a user just signed in cannot be read".into()))?;
            let recipe_user_id = user.login_method(&user_id).map_or(user_id.as_str(), |m| m.public_id()).to_owned();
            ConsumeOutcome::Ok { device, signed_in: Some(SignedIn { user, recipe_user_id, created }) }
        }
    })
}

/// The input of [`consume`].
struct Consume {
    tenant: OwnedTenantKey,
    device_id_hash: String,
    link_code_hash: String,
    by_user_input_code: bool,
    now: i64,
    settings: Settings,
    /// When consuming: the id a new user gets, and whether to verify the email.
    sign_up: Option<(String, bool)>,
}

enum Consumed {
    RestartFlow,
    Incorrect(i32),
    Expired(i32),
    Checked(Device),
    SignedIn { device: Device, user_id: String, created: bool },
}

/// Checks a code against its locked device and, when asked, consumes it: load, decide, write.
fn consume<'t>(tx: &'t mut dyn Tx, r: &'t Consume) -> TxFuture<'t, Consumed> {
    Box::pin(async move {
        let key = r.tenant.key();
        let Some(device) = tx.pl_lock_device(key, &r.device_id_hash).await? else { return Ok(Consumed::RestartFlow) };
        if is_spent(device.failed_attempts, &r.settings) {
            tx.pl_remove_device(key, &device.id_hash).await?;
            return Ok(Consumed::RestartFlow);
        }
        let code = tx.pl_find_code(key, &r.link_code_hash).await?.filter(|c| c.device_id_hash == device.id_hash);
        if !code.as_ref().is_some_and(|c| is_fresh(c, r.now, &r.settings)) {
            if !r.by_user_input_code {
                return Ok(Consumed::RestartFlow);
            }
            let failed = device.failed_attempts + 1;
            if is_spent(failed, &r.settings) {
                tx.pl_remove_device(key, &device.id_hash).await?;
                return Ok(Consumed::RestartFlow);
            }
            tx.pl_add_failed_attempt(key, &device.id_hash).await?;
            return Ok(if code.is_some() { Consumed::Expired(failed) } else { Consumed::Incorrect(failed) });
        }
        let Some((new_user_id, verify_email)) = &r.sign_up else { return Ok(Consumed::Checked(device)) };
        let contact = match (&device.email, &device.phone_number) {
            (Some(e), _) => Contact::Email(e),
            (None, Some(p)) => Contact::Phone(p),
            (None, None) => return Ok(Consumed::RestartFlow),
        };
        tx.pl_remove_devices_of(key, contact).await?;
        let (user_id, created) = match tx.pl_user_by_contact(key, contact).await? {
            Some(user_id) => {
                // The user's other contact's pending sign-ins end too, as in the core.
                if let Some((email, phone)) = tx.pl_user_contact(key.app(), &user_id).await? {
                    if let Some(e) = email.filter(|e| Some(e) != device.email.as_ref()) {
                        tx.pl_remove_devices_of(key, Contact::Email(&e)).await?;
                    }
                    if let Some(p) = phone.filter(|p| Some(p) != device.phone_number.as_ref()) {
                        tx.pl_remove_devices_of(key, Contact::Phone(&p)).await?;
                    }
                }
                (user_id, false)
            }
            None => {
                // Another consume created the user meanwhile: nothing is kept, and the flow
                // restarts, as the core answers.
                if !tx.pl_create_user(key, new_user_id, &device, r.now).await? {
                    return Ok(Consumed::RestartFlow);
                }
                (new_user_id.clone(), true)
            }
        };
        if let (true, Some(email)) = (*verify_email, &device.email) {
            // Verification is keyed by the id the application uses: the external one when mapped.
            let id = tx.uim_external_id(key.app(), &user_id).await?.unwrap_or_else(|| user_id.clone());
            tx.ev_set_verified(key.app(), &id, email).await?;
        }
        Ok(Consumed::SignedIn { device, user_id, created })
    })
}

/// `POST /<t>/recipe/signinup/code/remove` with a `codeId`: the code goes, and its device with
/// it when it was the device's last.
pub async fn remove_code(storage: &dyn Storage, tenant: TenantKey<'_>, code_id: String) -> Result<(), Error> {
    transaction(storage, (tenant.owned(), code_id), |tx, (tenant, code_id)| {
        Box::pin(async move {
            let key = tenant.key();
            let Some(hash) = tx.pl_device_of_code(key, code_id).await? else { return Ok(()) };
            // Lock the device first, as consume does, then count what is left of it.
            tx.pl_lock_device(key, &hash).await?;
            if tx.pl_count_codes(key, &hash).await? <= 1 {
                tx.pl_remove_device(key, &hash).await
            } else {
                tx.pl_remove_code(key, code_id).await
            }
        })
    })
    .await?;
    Ok(())
}

/// What devices are listed by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceLookup {
    Email(String),
    PhoneNumber(String),
    /// A device id as the client keeps it.
    DeviceId(String),
    PreAuthSessionId(String),
}

/// `GET /<t>/recipe/signinup/codes`: devices and their codes (expired codes included).
pub async fn devices(storage: &dyn Storage, tenant: TenantKey<'_>, lookup: DeviceLookup) -> Result<Vec<DeviceWithCodes>, Error> {
    let hash = match lookup {
        DeviceLookup::Email(e) => return Ok(storage.pl_devices_by_contact(tenant, Contact::Email(&e)).await?),
        DeviceLookup::PhoneNumber(p) => return Ok(storage.pl_devices_by_contact(tenant, Contact::Phone(&p)).await?),
        DeviceLookup::DeviceId(d) => DeviceId::decode(&d).map_err(encoding)?.hash(),
        DeviceLookup::PreAuthSessionId(h) => h,
    };
    Ok(storage.pl_device(tenant, &hash).await?.into_iter().collect())
}

/// A field change: `None` = leave as is, `Some(None)` = remove, `Some(Some(v))` = set.
pub type FieldUpdate = Option<Option<String>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// `PUT /recipe/user` (rid passwordless): a new email and/or phone number, in every tenant the
/// user is in; sign-ins in progress for the old and new values end.
pub async fn update_user(
    storages: &[&Arc<dyn Storage>],
    app: AppKey<'_>,
    user_id: &str,
    email: FieldUpdate,
    phone_number: FieldUpdate,
) -> Result<UpdateUserOutcome, Error> {
    let Some((found, storage)) = crate::users::find_user(storages, app, user_id).await? else { return Ok(UpdateUserOutcome::UnknownUser) };
    if found.login_method().is_none_or(|m| m.recipe_id != RecipeId::Passwordless) {
        return Ok(UpdateUserOutcome::UnknownUser);
    }
    update_user_in(storage.as_ref(), app, &found.recipe_user_id, email, phone_number).await
}

/// [`update_user`] for a SuperTokens user id, in the database that holds it.
pub async fn update_user_in(storage: &dyn Storage, app: AppKey<'_>, user_id: &str, email: FieldUpdate, phone_number: FieldUpdate) -> Result<UpdateUserOutcome, Error> {
    let input = (app.app_id.to_owned(), user_id.to_owned(), email, phone_number);
    Ok(transaction(storage, input, update_in).await?)
}

/// The update: account linking's check, then load, decide, write.
fn update_in<'t>(tx: &'t mut dyn Tx, (app, user, email, phone): &'t (String, String, FieldUpdate, FieldUpdate)) -> TxFuture<'t, UpdateUserOutcome> {
    Box::pin(async move {
        let app = AppKey::new(app);
        let new = Info { email: email.as_ref().and_then(|v| v.as_deref()), phone_number: phone.as_ref().and_then(|v| v.as_deref()), third_party: None };
        if new.email.is_some() || new.phone_number.is_some() {
            match change_conflict(tx, app, user, new).await? {
                Some((_, InfoKind::PhoneNumber)) => return Ok(UpdateUserOutcome::PhoneNumberChangeNotAllowed),
                Some(_) => return Ok(UpdateUserOutcome::EmailChangeNotAllowed),
                None => {}
            }
        }
        let Some((old_email, old_phone)) = tx.pl_lock_user(app, user).await? else { return Ok(UpdateUserOutcome::UnknownUser) };
        let new_email = email.as_ref().map_or(old_email.as_deref(), |e| e.as_deref());
        let new_phone = phone.as_ref().map_or(old_phone.as_deref(), |p| p.as_deref());
        if new_email.is_none() && new_phone.is_none() {
            return Ok(UpdateUserOutcome::NoContactLeft);
        }
        // A cheap check names the conflict; the unique constraints still decide under concurrency.
        if let Some(Some(e)) = email {
            if tx.pl_contact_taken(app, user, Contact::Email(e)).await? {
                return Ok(UpdateUserOutcome::EmailAlreadyExists);
            }
        }
        if let Some(Some(p)) = phone {
            if tx.pl_contact_taken(app, user, Contact::Phone(p)).await? {
                return Ok(UpdateUserOutcome::PhoneNumberAlreadyExists);
            }
        }
        for (kind, update, old) in [(ContactKind::Email, email, &old_email), (ContactKind::Phone, phone, &old_phone)] {
            let Some(value) = update else { continue };
            match tx.pl_set_contact(app, user, kind, value.as_deref()).await? {
                SetContact::Set => {}
                SetContact::EmailTaken => return Ok(UpdateUserOutcome::EmailAlreadyExists),
                SetContact::PhoneNumberTaken => return Ok(UpdateUserOutcome::PhoneNumberAlreadyExists),
            }
            if value == old {
                continue;
            }
            // Sign-ins in progress for the old or the new value would now lead elsewhere.
            for v in [old.as_deref(), value.as_deref()].into_iter().flatten() {
                let contact = match kind {
                    ContactKind::Email => Contact::Email(v),
                    ContactKind::Phone => Contact::Phone(v),
                };
                tx.pl_remove_user_devices_of(app, user, contact).await?;
            }
        }
        Ok(UpdateUserOutcome::Updated)
    })
}

/// `GET /recipe/user` (rid passwordless, deprecated) by user id: the user object holds only the
/// passwordless login method the id names, as in the core.
pub async fn user_by_id(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError> {
    let Some((found, _)) = crate::users::find_user(storages, app, user_id).await? else { return Ok(None) };
    let Some(method) = found.login_method().filter(|m| m.recipe_id == RecipeId::Passwordless) else { return Ok(None) };
    Ok(Some(User { id: method.recipe_user_id.clone(), is_primary: found.user.is_primary, login_methods: vec![method.clone()] }))
}

/// `GET /recipe/user` (rid passwordless, deprecated) by email or phone number: the tenant's user
/// (all of it) whose passwordless login method has it.
pub async fn user_by_contact(storage: &dyn Storage, tenant: TenantKey<'_>, contact: Contact<'_>) -> Result<Option<User>, StorageError> {
    let info = match contact {
        Contact::Email(e) => AccountInfo::Email(e.to_owned()),
        Contact::Phone(p) => AccountInfo::PhoneNumber(p.to_owned()),
    };
    for id in storage.user_ids_by_account_info(tenant, &info).await? {
        let Some(user) = storage.get_user(tenant.app(), &id).await? else { continue };
        let matches = user.login_methods.iter().any(|m| {
            m.recipe_id == RecipeId::Passwordless
                && match contact {
                    Contact::Email(e) => m.email.as_deref() == Some(e),
                    Contact::Phone(p) => m.phone_number.as_deref() == Some(p),
                }
        });
        if matches {
            return Ok(Some(user));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: Settings = Settings { code_lifetime_ms: 1000, max_attempts: 3 };

    fn code(created_at: i64) -> Code {
        Code { id: "c".into(), device_id_hash: "d".into(), link_code_hash: "h".into(), created_at }
    }

    #[test]
    fn a_code_is_fresh_for_its_lifetime() {
        assert!(is_fresh(&code(0), 1000, &SETTINGS));
        assert!(!is_fresh(&code(0), 1001, &SETTINGS));
    }

    #[test]
    fn a_device_is_spent_at_the_maximum() {
        assert!(!is_spent(2, &SETTINGS));
        assert!(is_spent(3, &SETTINGS));
        assert!(is_spent(5, &SETTINGS));
    }
}
