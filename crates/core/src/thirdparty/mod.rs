//! The third-party recipe: sign-in-up with an account of an OAuth provider (the SDK has done the
//! exchange and sends the provider's answer), and the recipe's deprecated lookups.
//!
//! The rules: an account (provider id, provider's user id) is one user per tenant; signing in
//! again updates its email, unless account linking forbids the new email; the provider's word
//! that the email is verified is recorded (under the id the application uses for the user); two
//! concurrent first sign-ins of one account make one user.

pub mod storage;

use std::sync::Arc;

use crate::accountlinking::change_conflict;
use crate::accountlinking::rules::Info;
use crate::crypto::uuid_v4;
use crate::error::Error;
use crate::ids::{AppKey, OwnedTenantKey, TenantKey};
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage, StorageError};
use crate::users::find_user;
use crate::users::model::{RecipeId, User};
use crate::users::storage::AccountInfo;
use storage::ThirdPartyAccount;

/// A concurrent first sign-in of the same account can make the creation conflict: the unit then
/// runs again (and finds that user), this many times at most.
const SIGN_IN_UP_TRIES: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInUpOutcome {
    Ok {
        created: bool,
        user: User,
        /// The login method's id as the application sees it.
        recipe_user_id: String,
    },
    /// The account's user is (linked to) a primary user, and another primary user of one of its
    /// tenants has the new email: nothing changed.
    EmailChangeNotAllowed,
}

enum SignedIn {
    Created,
    Existing(String),
    EmailChangeNotAllowed,
}

/// `POST /<t>/recipe/signinup`. The account's email is normalised.
pub async fn sign_in_up(storage: &dyn Storage, tenant: TenantKey<'_>, now: i64, account: ThirdPartyAccount, email_verified: bool) -> Result<SignInUpOutcome, Error> {
    let new_user_id = uuid_v4()?;
    let input = (tenant.owned(), new_user_id.clone(), account, now);
    let mut signed_in = None;
    for _ in 0..SIGN_IN_UP_TRIES {
        signed_in = transaction(storage, input.clone(), sign_in_up_in).await?;
        if signed_in.is_some() {
            break;
        }
    }
    let (user_id, created) = match signed_in {
        Some(SignedIn::Created) => (new_user_id, true),
        Some(SignedIn::Existing(id)) => (id, false),
        Some(SignedIn::EmailChangeNotAllowed) => return Ok(SignInUpOutcome::EmailChangeNotAllowed),
        None => return Err(Error::Storage(StorageError::Query("third-party sign-in-up kept conflicting with concurrent sign-ins".into()))),
    };
    let app = tenant.app();
    let read = || async { storage.get_user(app, &user_id).await?.ok_or_else(|| Error::Internal("a user just signed in cannot be read".into())) };
    let mut user = read().await?;
    // The core records the provider's word that the email is verified, under the id the
    // application uses for this login method.
    if let Some(m) = user.login_method(&user_id).filter(|m| email_verified && !m.verified) {
        let email = m.email.clone().unwrap_or_default();
        storage.ev_mark_verified(app, m.public_id(), &email).await?;
        user = read().await?;
    }
    let recipe_user_id = user.login_method(&user_id).map_or(user_id.as_str(), |m| m.public_id()).to_owned();
    Ok(SignInUpOutcome::Ok { created, user, recipe_user_id })
}

/// Finds the tenant's user of the account and updates its email, or creates the user; `None`
/// when the creation conflicted with a concurrent one.
fn sign_in_up_in<'t>(tx: &'t mut dyn Tx, (tenant, new_user_id, account, now): &'t (OwnedTenantKey, String, ThirdPartyAccount, i64)) -> TxFuture<'t, Option<SignedIn>> {
    Box::pin(async move {
        let key = tenant.key();
        if let Some((user_id, email)) = tx.tp_lock_account(key, &account.third_party_id, &account.third_party_user_id).await? {
            if email != account.email {
                let new = Info { email: Some(&account.email), ..Default::default() };
                if change_conflict(tx, key.app(), &user_id, new).await?.is_some() {
                    return Ok(Some(SignedIn::EmailChangeNotAllowed));
                }
                tx.tp_set_email(key.app(), &user_id, &account.email).await?;
            }
            return Ok(Some(SignedIn::Existing(user_id)));
        }
        Ok(tx.tp_create_user(key, new_user_id, account, *now).await?.then_some(SignedIn::Created))
    })
}

fn has_third_party_method(user: &User, recipe_user_id: &str) -> bool {
    user.login_method(recipe_user_id).is_some_and(|m| m.recipe_id == RecipeId::ThirdParty)
}

/// `GET /recipe/user` (rid thirdparty, deprecated) by user id.
pub async fn user_by_id(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError> {
    let found = find_user(storages, app, user_id).await?;
    Ok(found.filter(|(f, _)| has_third_party_method(&f.user, &f.recipe_user_id)).map(|(f, _)| f.user))
}

/// `GET /recipe/user` (rid thirdparty, deprecated) by provider account, in the tenant.
pub async fn user_by_account(storage: &dyn Storage, tenant: TenantKey<'_>, third_party_id: &str, third_party_user_id: &str) -> Result<Option<User>, StorageError> {
    let info = AccountInfo::ThirdParty { id: third_party_id.to_owned(), user_id: third_party_user_id.to_owned() };
    match storage.user_ids_by_account_info(tenant, &info).await?.first() {
        Some(id) => storage.get_user(tenant.app(), id).await,
        None => Ok(None),
    }
}

/// `GET /<t>/recipe/users/by-email` (deprecated): the tenant's third-party users with an email.
pub async fn users_by_email(storage: &dyn Storage, tenant: TenantKey<'_>, email: &str) -> Result<Vec<User>, StorageError> {
    let mut users = Vec::new();
    for id in storage.tp_user_ids_by_email(tenant, email).await? {
        users.extend(storage.get_user(tenant.app(), &id).await?);
    }
    Ok(users)
}
