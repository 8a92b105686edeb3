//! The dashboard recipe: dashboard users (not application users: the people who sign in to the
//! user-management dashboard), their sessions, and the active-users count its analytics read.
//!
//! The rules: an email must look like one; a password has 8 to 100 characters with a letter and a
//! digit; passwords are hashed with the app's settings; a dashboard session lasts 30 days; emails
//! are unique per app (the database's constraint decides).

pub mod storage;

use std::sync::Arc;

use crate::crypto::uuid_v4;
use crate::error::Error;
use crate::ids::AppKey;
use crate::services::PasswordHasher;
use crate::crypto::password::PasswordSettings;
use crate::storage::{Storage, StorageError};
use storage::{DashboardUser, DashboardUserKey};

/// Dashboard sessions last 30 days, as the core's do.
pub const SESSION_LIFETIME_MS: i64 = 30 * 24 * 3_600_000;

/// What the core says of a password that breaks [`strong_enough`].
pub const WEAK_PASSWORD: &str = "Password must contain at least 8 characters, including a number";

/// Whether a (normalised) email looks like one: something, `@`, a domain with a dot inside it,
/// no white space.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !email.contains(char::is_whitespace)
}

/// The core's rule for dashboard passwords: 8 to 100 characters with a letter and a digit.
pub fn strong_enough(password: &str) -> bool {
    let n = password.chars().count();
    (8..=100).contains(&n) && password.chars().any(|c| c.is_ascii_alphabetic()) && password.chars().any(|c| c.is_ascii_digit())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserOutcome {
    /// The user as written.
    Ok(DashboardUser),
    InvalidEmail,
    PasswordWeak,
    EmailAlreadyExists,
    /// Update: no such user.
    UnknownUser,
}

/// `POST /recipe/dashboard/user`. `email` is normalised.
pub async fn create_user(
    storage: &dyn Storage,
    hasher: &dyn PasswordHasher,
    settings: &PasswordSettings,
    app: AppKey<'_>,
    now: i64,
    email: String,
    password: String,
) -> Result<UserOutcome, Error> {
    if !valid_email(&email) {
        return Ok(UserOutcome::InvalidEmail);
    }
    if !strong_enough(&password) {
        return Ok(UserOutcome::PasswordWeak);
    }
    let password_hash = hasher.hash(settings, password).await?;
    let user = DashboardUser { user_id: uuid_v4()?, email, password_hash, time_joined: now };
    if !storage.dashboard_user_create(app, &user).await? {
        return Ok(UserOutcome::EmailAlreadyExists);
    }
    Ok(UserOutcome::Ok(user))
}

/// `PUT /recipe/dashboard/user`: a new email and/or password for the user named by id or email.
/// `new_email` is normalised.
pub async fn update_user(
    storage: &dyn Storage,
    hasher: &dyn PasswordHasher,
    settings: &PasswordSettings,
    app: AppKey<'_>,
    key: &DashboardUserKey,
    new_email: Option<String>,
    new_password: Option<String>,
) -> Result<UserOutcome, Error> {
    if new_email.as_deref().is_some_and(|e| !valid_email(e)) {
        return Ok(UserOutcome::InvalidEmail);
    }
    if new_password.as_deref().is_some_and(|p| !strong_enough(p)) {
        return Ok(UserOutcome::PasswordWeak);
    }
    let Some(user) = storage.dashboard_user_find(app, key).await? else { return Ok(UserOutcome::UnknownUser) };
    let hash = match new_password {
        Some(p) => Some(hasher.hash(settings, p).await?),
        None => None,
    };
    if !storage.dashboard_user_update(app, &user.user_id, new_email.as_deref(), hash.as_deref()).await? {
        return Ok(UserOutcome::EmailAlreadyExists);
    }
    // Deleted between the update and this read: unknown.
    Ok(match storage.dashboard_user_find(app, &DashboardUserKey::Id(user.user_id)).await? {
        Some(u) => UserOutcome::Ok(u),
        None => UserOutcome::UnknownUser,
    })
}

/// `DELETE /recipe/dashboard/user`: whether the user existed. Its sessions go with it.
pub async fn delete_user(storage: &dyn Storage, app: AppKey<'_>, key: &DashboardUserKey) -> Result<bool, StorageError> {
    match storage.dashboard_user_find(app, key).await? {
        Some(u) => storage.dashboard_user_delete(app, &u.user_id).await,
        None => Ok(false),
    }
}

/// `POST /recipe/dashboard/signin`: a new session id, `None` for wrong credentials. An unknown
/// email costs a verification too. `email` is normalised.
pub async fn sign_in(
    storage: &dyn Storage,
    hasher: &dyn PasswordHasher,
    settings: &PasswordSettings,
    app: AppKey<'_>,
    now: i64,
    email: &str,
    password: String,
) -> Result<Option<String>, Error> {
    let user = storage.dashboard_user_by_email(app, email).await?;
    let ok = hasher.verify(settings, password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else { return Ok(None) };
    let session_id = uuid_v4()?;
    storage.dashboard_session_create(app, &session_id, &user.user_id, now, now + SESSION_LIFETIME_MS).await?;
    Ok(Some(session_id))
}

/// `GET /users/count/active?since=<ms>`: users active (session created or refreshed, signed in or
/// up) at or after `since`, across the app's databases.
pub async fn active_users_count(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, since: i64) -> Result<u64, StorageError> {
    let mut count = 0;
    for storage in storages {
        count += storage.active_users_count(app, since).await?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_and_password_rules() {
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("a@b") && !valid_email("@b.co") && !valid_email("a b@c.co"));
        assert!(strong_enough("abcdefg1"));
        assert!(!strong_enough("abcdefgh") && !strong_enough("12345678") && !strong_enough("abc1"));
    }
}
