//! The email-password recipe: sign-up, sign-in, email and password changes, password-reset
//! tokens, and importing users with hashes made elsewhere.
//!
//! The rules, each written once here:
//! - an email is taken per tenant (the database's unique constraint decides; a cheap read first
//!   spares a hash when it is plainly taken);
//! - passwords are hashed with the app's algorithm and costs, off the async runtime, never while
//!   a database connection is held; an unknown email costs a verification too, so that timing
//!   does not tell which accounts exist;
//! - a changed email must not give two primary users one email in a tenant (account linking);
//! - a reset token is 64 random bytes (see `crypto::new_reset_token`), stored hashed, valid for
//!   `password_reset_token_lifetime`; using one ends every reset token of its user;
//! - the opt-in brute-force limits on sign-ins and reset tokens are `ratelimit`'s, applied here.

pub mod storage;

use std::sync::Arc;

use crate::accountlinking::change_conflict;
use crate::accountlinking::rules::Info;
use crate::crypto::password::{check_imported, trim_imported, Algorithm, PasswordSettings, MISSING_SIGNER_KEY_MESSAGE};
use crate::crypto::{new_reset_token, sha256_hex, uuid_v4};
use crate::error::Error;
use crate::ids::{AppKey, TenantKey};
use crate::ratelimit::{self, Counter, Kind, Limit};
use crate::services::{ActivityLog, PasswordHasher};
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage, StorageError};
use crate::users::find_user;
use crate::users::model::User;

/// A user signed in or up, and the login method's id as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub user: User,
    pub recipe_user_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignUpOutcome {
    Ok(SignedIn),
    EmailAlreadyExists,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    Ok(SignedIn),
    WrongCredentials,
    /// Refused by a brute-force limit (`ratelimit`) before any password check; answered as
    /// wrong credentials, so the SDKs need no change.
    Limited(Kind),
}

/// What a recipe call that hashes passwords needs besides its storage.
pub struct Hashing<'a> {
    pub hasher: &'a dyn PasswordHasher,
    pub settings: &'a PasswordSettings,
}

/// The user just written or signed in, read back whole.
async fn read_user(storage: &dyn Storage, app: AppKey<'_>, user_id: &str, what: &str) -> Result<User, Error> {
    storage.get_user(app, user_id).await?.ok_or_else(|| Error::Internal(format!("a user just {what} cannot be read")))
}

/// `POST /<t>/recipe/signup`. `email` is normalised and not empty.
#[allow(clippy::too_many_arguments)]
pub async fn sign_up(
    storage: &dyn Storage,
    hashing: Hashing<'_>,
    activity: &dyn ActivityLog,
    tenant: TenantKey<'_>,
    now: i64,
    email: &str,
    password: String,
) -> Result<SignUpOutcome, Error> {
    hashing.settings.check_new_password(&password)?;
    // Cheap check first, so that a taken email costs no hashing; the database's constraint decides.
    if storage.ep_login_method_by_email(tenant, email).await?.is_some() {
        return Ok(SignUpOutcome::EmailAlreadyExists);
    }
    let hash = hashing.hasher.hash(hashing.settings, password).await?;
    let user_id = uuid_v4()?;
    if !storage.ep_create_user(tenant, &user_id, email, &hash, now).await? {
        return Ok(SignUpOutcome::EmailAlreadyExists);
    }
    activity.record(storage, tenant.app(), &user_id, now).await;
    let user = read_user(storage, tenant.app(), &user_id, "created").await?;
    Ok(SignUpOutcome::Ok(SignedIn { user, recipe_user_id: user_id }))
}

/// `POST /<t>/recipe/signin`. `email` is normalised. With `limit` on, the attempt is counted per
/// (tenant, email) before anything is read, then per user, and refused past the limit without a
/// password check; a successful sign-in clears both counters (see `ratelimit`).
#[allow(clippy::too_many_arguments)]
pub async fn sign_in(
    storage: &dyn Storage,
    hashing: Hashing<'_>,
    activity: &dyn ActivityLog,
    tenant: TenantKey<'_>,
    now: i64,
    email: &str,
    password: String,
    limit: Limit,
) -> Result<SignInOutcome, Error> {
    // Counted alike whether or not the email has an account, so a refusal here tells nothing.
    let by_email = Counter::new(Kind::SignInByEmail, tenant.tenant_id, email);
    if !ratelimit::hit(storage, tenant.app(), &by_email, limit, now).await? {
        return Ok(SignInOutcome::Limited(Kind::SignInByEmail));
    }
    let method = storage.ep_login_method_by_email(tenant, email).await?;
    let by_user = method.as_ref().map(|m| Counter::new(Kind::SignInByUser, tenant.tenant_id, &m.recipe_user_id));
    if let Some(counter) = &by_user {
        if !ratelimit::hit(storage, tenant.app(), counter, limit, now).await? {
            return Ok(SignInOutcome::Limited(Kind::SignInByUser));
        }
    }
    let stored = method.as_ref().and_then(|m| m.password_hash.clone());
    // An unknown email costs a verification too, so response times do not tell which emails exist.
    let ok = hashing.hasher.verify(hashing.settings, password, stored).await?;
    let Some(method) = method.filter(|_| ok) else { return Ok(SignInOutcome::WrongCredentials) };
    for counter in std::iter::once(&by_email).chain(&by_user) {
        ratelimit::clear(storage, tenant.app(), counter, limit).await?;
    }
    activity.record(storage, tenant.app(), &method.recipe_user_id, now).await;
    let user = read_user(storage, tenant.app(), &method.recipe_user_id, "signed in").await?;
    let recipe_user_id = user.login_method(&method.recipe_user_id).map_or_else(|| method.recipe_user_id.clone(), |m| m.public_id().to_owned());
    Ok(SignInOutcome::Ok(SignedIn { user, recipe_user_id }))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateResetTokenOutcome {
    Created { token: String },
    UnknownUserId,
    /// Refused by `password_reset_max_tokens_created`; answered as an unknown user, on which the
    /// SDKs send no email and tell the user what they tell for an unknown email.
    Limited,
}

/// `POST /<t>/recipe/user/password/reset/token`. Any user may get a token (CDI ≥ 4.0): a primary
/// user without an email-password login method gets one when it resets a password, the SDK
/// creating and linking that method afterwards. With `limit` on, tokens are counted per user.
pub async fn create_reset_token(
    storage: &dyn Storage,
    app: AppKey<'_>,
    lifetime_ms: i64,
    now: i64,
    user_id: &str,
    email: &str,
    limit: Limit,
) -> Result<CreateResetTokenOutcome, Error> {
    let Some(found) = crate::users::resolve_in(storage, app, user_id).await? else { return Ok(CreateResetTokenOutcome::UnknownUserId) };
    let counter = Counter::new(Kind::PasswordResetTokens, "", &found.recipe_user_id);
    if !ratelimit::hit(storage, app, &counter, limit, now).await? {
        return Ok(CreateResetTokenOutcome::Limited);
    }
    let token = new_reset_token()?;
    storage.reset_token_create(app, &found.recipe_user_id, email, &sha256_hex(&token), now.saturating_add(lifetime_ms)).await?;
    Ok(CreateResetTokenOutcome::Created { token })
}

/// Below CDI 4.0 a reset token is asked for by user id alone, for the user's email-password email:
/// `None` for an unknown user or one without an email-password login method; a user with several
/// login methods (account linking) needs the newer API.
pub async fn legacy_reset_email(storage: &dyn Storage, app: AppKey<'_>, user_id: &str) -> Result<Option<String>, Error> {
    let Some(found) = crate::users::resolve_in(storage, app, user_id).await? else { return Ok(None) };
    if found.user.login_methods.len() > 1 {
        return Err(Error::BadInput("Please use CDI version >= 4.0".into()));
    }
    Ok(found.user.login_methods.iter().find(|m| m.password_hash.is_some()).and_then(|m| m.email.clone()))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResetPasswordOutcome {
    /// The user (its id as the application sees it) whose password changed.
    Ok { user_id: String },
    InvalidToken,
}

/// `POST /<t>/recipe/user/password/reset` (the older API, still served): consumes the token and sets
/// the new password in one transaction. The password is hashed first (never inside the
/// transaction); every reset token of the token's user ends, also when the token has expired.
pub async fn reset_password(
    storage: &dyn Storage,
    hashing: Hashing<'_>,
    app: AppKey<'_>,
    token: &str,
    new_password: String,
    now: i64,
) -> Result<ResetPasswordOutcome, Error> {
    let hash = hashing.hasher.hash(hashing.settings, new_password).await?;
    let input = (app.app_id.to_owned(), sha256_hex(token), now, hash);
    let changed = transaction(storage, input, |tx, (app, token_hash, now, hash)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            let Some(token) = tx.ep_lock_reset_token(app, token_hash).await? else { return Ok(None) };
            tx.ep_remove_reset_tokens(app, &token.user_id).await?;
            if token.expiry < *now {
                return Ok(None);
            }
            tx.ep_set_password_hash(app, &token.user_id, hash).await?;
            Ok(Some(token.user_id))
        })
    })
    .await?;
    let Some(user_id) = changed else { return Ok(ResetPasswordOutcome::InvalidToken) };
    let user = storage.get_user(app, &user_id).await?;
    let public = user.as_ref().and_then(|u| u.login_method(&user_id)).map_or(user_id.as_str(), |m| m.public_id()).to_owned();
    Ok(ResetPasswordOutcome::Ok { user_id: public })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumeResetTokenOutcome {
    /// The user (its id as the application sees it) and the email the token was issued for.
    Ok { user_id: String, email: Option<String> },
    InvalidToken,
}

/// `POST /<t>/recipe/user/password/reset/token/consume`.
pub async fn consume_reset_token(storage: &dyn Storage, app: AppKey<'_>, token: &str, now: i64) -> Result<ConsumeResetTokenOutcome, Error> {
    let input = (app.app_id.to_owned(), sha256_hex(token), now);
    let consumed = transaction(storage, input, |tx, (app, hash, now)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            let Some(token) = tx.ep_lock_reset_token(app, hash).await? else { return Ok(None) };
            tx.ep_remove_reset_tokens(app, &token.user_id).await?;
            Ok((token.expiry >= *now).then_some(token))
        })
    })
    .await?;
    let Some(token) = consumed else { return Ok(ConsumeResetTokenOutcome::InvalidToken) };
    let user = storage.get_user(app, &token.user_id).await?;
    let method = user.as_ref().and_then(|u| u.login_method(&token.user_id));
    // Tokens made without an email name the user's own.
    let email = token.email.or_else(|| method.and_then(|m| m.email.clone()));
    let user_id = method.map_or(token.user_id.as_str(), |m| m.public_id()).to_owned();
    Ok(ConsumeResetTokenOutcome::Ok { user_id, email })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    UnknownUser,
    /// Another email-password user of one of the user's tenants has that email.
    EmailAlreadyExists,
    /// The user is (linked to) a primary user, and another primary user of one of its tenants
    /// has that email.
    EmailChangeNotAllowed,
}

/// `PUT /recipe/user`: a new email and/or password for an email-password user (any id the
/// application uses for it). The password is hashed with the app's settings.
pub async fn update(
    storages: &[&Arc<dyn Storage>],
    hashing: Hashing<'_>,
    app: AppKey<'_>,
    user_id: &str,
    email: Option<String>,
    password: Option<String>,
) -> Result<UpdateOutcome, Error> {
    if let Some(p) = &password {
        hashing.settings.check_new_password(p)?;
    }
    let Some((found, storage)) = find_user(storages, app, user_id).await? else { return Ok(UpdateOutcome::UnknownUser) };
    if found.login_method().is_none_or(|m| m.password_hash.is_none()) {
        return Ok(UpdateOutcome::UnknownUser);
    }
    let hash = match password {
        Some(p) => Some(hashing.hasher.hash(hashing.settings, p).await?),
        None => None,
    };
    let input = (app.app_id.to_owned(), found.recipe_user_id, email, hash);
    Ok(transaction(storage.as_ref(), input, update_in).await?)
}

/// An email-password user's new email and/or hash: account linking's check, then the writes.
fn update_in<'t>(tx: &'t mut dyn Tx, (app, user, email, hash): &'t (String, String, Option<String>, Option<String>)) -> TxFuture<'t, UpdateOutcome> {
    Box::pin(async move {
        let app = AppKey::new(app);
        if let Some(e) = email {
            let new = Info { email: Some(e), ..Default::default() };
            if change_conflict(tx, app, user, new).await?.is_some() {
                return Ok(UpdateOutcome::EmailChangeNotAllowed);
            }
        }
        if !tx.ep_lock_user(app, user).await? {
            return Ok(UpdateOutcome::UnknownUser);
        }
        if let Some(e) = email {
            if !tx.ep_set_email(app, user, e).await? {
                return Ok(UpdateOutcome::EmailAlreadyExists);
            }
        }
        if let Some(h) = hash {
            tx.ep_set_password_hash(app, user, h).await?;
        }
        Ok(UpdateOutcome::Updated)
    })
}

/// `GET /recipe/user` (deprecated) by id: the user (any tenant) when the id names an
/// email-password login method.
pub async fn user_by_id(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError> {
    let found = find_user(storages, app, user_id).await?;
    Ok(found.filter(|(f, _)| f.login_method().is_some_and(|m| m.password_hash.is_some())).map(|(f, _)| f.user))
}

/// `GET /recipe/user` (deprecated) by email: the tenant's user with that email-password login.
pub async fn user_by_email(storage: &dyn Storage, tenant: TenantKey<'_>, email: &str) -> Result<Option<User>, StorageError> {
    match storage.ep_login_method_by_email(tenant, email).await? {
        Some(m) => storage.get_user(tenant.app(), &m.recipe_user_id).await,
        None => Ok(None),
    }
}

/// A user imported with a hash made elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub user: User,
    pub did_user_already_exist: bool,
}

/// `POST /recipe/user/passwordhash/import`: creates an email-password user with a hash made
/// elsewhere, or replaces the hash of the tenant's user with that email. `email` is normalised
/// and not empty. A hash in a format Portcullis does not check is refused with the core's
/// message; a Firebase scrypt hash needs the app's signer key.
pub async fn import_with_hash(
    storage: &dyn Storage,
    settings: &PasswordSettings,
    tenant: TenantKey<'_>,
    now: i64,
    email: &str,
    hash: &str,
    algorithm_hint: Option<&str>,
) -> Result<Imported, Error> {
    let no_signer_key = settings.verifying.firebase_signer_key.is_none();
    let missing_key = || Error::Internal(MISSING_SIGNER_KEY_MESSAGE.into());
    if no_signer_key && algorithm_hint.is_some_and(|h| Algorithm::from_name(h) == Some(Algorithm::FirebaseScrypt)) {
        return Err(missing_key());
    }
    let algorithm = check_imported(hash, algorithm_hint).map_err(Error::BadInput)?;
    if no_signer_key && algorithm == Algorithm::FirebaseScrypt {
        return Err(missing_key());
    }
    let hash = trim_imported(hash);
    let app = tenant.app();
    let imported = |user_id: String, existed: bool| async move {
        let user = read_user(storage, app, &user_id, "imported").await?;
        Ok(Imported { user, did_user_already_exist: existed })
    };
    // Update the existing user, else create one; a concurrent sign-up of the email between the
    // two makes the creation fail, and the next round updates that user instead.
    for _ in 0..2 {
        if let Some(m) = storage.ep_login_method_by_email(tenant, email).await? {
            let input = (app.app_id.to_owned(), m.recipe_user_id.clone(), None, Some(hash.to_owned()));
            if transaction(storage, input, update_in).await? == UpdateOutcome::Updated {
                return imported(m.recipe_user_id, true).await;
            }
            continue;
        }
        let user_id = uuid_v4()?;
        if storage.ep_create_user(tenant, &user_id, email, hash, now).await? {
            return imported(user_id, false).await;
        }
    }
    Err(Error::Internal("the user changed twice while being imported".into()))
}
