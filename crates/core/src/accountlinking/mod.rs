//! The account-linking recipe. Its rules (`rules`: who may become primary, who may be linked, which
//! tenant or contact change would give two primary users one account info) are pure; the flows
//! here run them inside one transaction: lock, load the users and every user sharing an account
//! info with them (the candidates), decide, write. Ids are SuperTokens user ids (callers resolve
//! external ones).

pub mod rules;
pub mod storage;

pub use rules::*;

use crate::ids::{AppKey, OwnedTenantKey};
use crate::storage::tx::Tx;
use crate::storage::{transaction, Storage, StorageError};
use crate::users::model::User;
use storage::Shared;

/// What unlinking did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// The user was not linked (nor primary): nothing changed.
    NotLinked,
    Unlinked,
    /// The user was the primary user of a group with other login methods: its login method was
    /// deleted instead (two users may not share an id), the others stay linked under its id.
    Deleted,
}

/// A linking operation's answer: the user (group) concerned and whether nothing had to change.
pub type Linked = Result<(User, bool), LinkingError>;

/// Every user (as its whole group) with one of these account infos, anywhere in the app.
pub async fn candidates(tx: &mut dyn Tx, app: AppKey<'_>, values: &AccountValues) -> Result<Vec<User>, StorageError> {
    let mut lookups: Vec<Shared<'_>> = Vec::new();
    lookups.extend(values.emails.iter().map(|e| Shared::Email(e)));
    lookups.extend(values.phone_numbers.iter().map(|p| Shared::PhoneNumber(p)));
    lookups.extend(values.third_parties.iter().map(|(id, user)| Shared::ThirdParty(id, user)));
    let mut ids: Vec<String> = Vec::new();
    for info in lookups {
        for id in tx.al_primary_ids_with(app, info).await? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut users = Vec::new();
    for id in ids {
        users.extend(tx.users_get(app, &id).await?);
    }
    Ok(users)
}

/// The group of a recipe (or primary) user id.
async fn load(tx: &mut dyn Tx, app: AppKey<'_>, user_id: &str) -> Result<Result<User, LinkingError>, StorageError> {
    let user = tx.users_get(app, user_id).await?;
    Ok(user.filter(|u| u.login_method(user_id).is_some() || u.id == user_id).ok_or(LinkingError::UnknownUser))
}

/// `POST /recipe/accountlinking/user/primary` (and its check, `check_only`): makes the recipe user
/// a primary user. Returns its user and whether it already was one.
pub async fn create_primary_user(storage: &dyn Storage, app: AppKey<'_>, recipe_user_id: &str, check_only: bool) -> Result<Linked, StorageError> {
    let input = (app.app_id.to_owned(), recipe_user_id.to_owned(), check_only);
    transaction(storage, input, |tx, (app, user, check_only)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            tx.al_lock(app, &[user]).await?;
            let target = match load(tx, app, user).await? {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            };
            let candidates = candidates(tx, app, &AccountValues::of(&target.login_methods)).await?;
            match check_create_primary(&target, user, &candidates) {
                Err(e) => Ok(Err(e)),
                Ok(true) => Ok(Ok((target, true))),
                Ok(false) if *check_only => Ok(Ok((target, false))),
                Ok(false) => {
                    tx.al_set_linked(app, user, user, true).await?;
                    Ok(load(tx, app, user).await?.map(|u| (u, false)))
                }
            }
        })
    })
    .await
}

/// `POST /recipe/accountlinking/user/link` (and its check): links the recipe user to the primary
/// user's group. Returns the primary user's group and whether they were already linked.
pub async fn link_accounts(
    storage: &dyn Storage,
    app: AppKey<'_>,
    recipe_user_id: &str,
    primary_user_id: &str,
    check_only: bool,
) -> Result<Linked, StorageError> {
    let input = (app.app_id.to_owned(), recipe_user_id.to_owned(), primary_user_id.to_owned(), check_only);
    transaction(storage, input, |tx, (app, recipe_id, primary_id, check_only)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            tx.al_lock(app, &[recipe_id, primary_id]).await?;
            // The core looks up the primary side first: an unknown primary user is reported as such.
            let primary = match load(tx, app, primary_id).await? {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            };
            if !primary.is_primary {
                return Ok(Err(LinkingError::NotAPrimaryUser));
            }
            let recipe = match load(tx, app, recipe_id).await? {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            };
            let values = AccountValues::of(recipe.login_methods.iter().chain(&primary.login_methods));
            let candidates = candidates(tx, app, &values).await?;
            match check_link(&recipe, &primary, &candidates) {
                Err(e) => Ok(Err(e)),
                Ok(already) if already || *check_only => Ok(Ok((primary, already))),
                Ok(_) => {
                    tx.al_set_linked(app, recipe_id, &primary.id, true).await?;
                    tx.al_refresh_group_time(app, &primary.id).await?;
                    tx.al_forget_activity(app, recipe_id).await?;
                    Ok(load(tx, app, &primary.id).await?.map(|u| (u, false)))
                }
            }
        })
    })
    .await
}

/// `POST /recipe/accountlinking/user/unlink`. `None` when the user does not exist.
pub async fn unlink_account(storage: &dyn Storage, app: AppKey<'_>, recipe_user_id: &str) -> Result<Option<UnlinkOutcome>, StorageError> {
    transaction(storage, (app.app_id.to_owned(), recipe_user_id.to_owned()), |tx, (app, user)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            tx.al_lock(app, &[user]).await?;
            let Ok(group) = load(tx, app, user).await? else { return Ok(None) };
            if !group.is_primary {
                return Ok(Some(UnlinkOutcome::NotLinked));
            }
            if group.id == *user && group.login_methods.len() > 1 {
                tx.users_delete_login_rows(app, user).await?;
                tx.al_refresh_group_time(app, &group.id).await?;
                return Ok(Some(UnlinkOutcome::Deleted));
            }
            tx.al_set_linked(app, user, user, false).await?;
            tx.al_reset_own_time(app, user).await?;
            if group.id != *user {
                tx.al_refresh_group_time(app, &group.id).await?;
            }
            Ok(Some(UnlinkOutcome::Unlinked))
        })
    })
    .await
}

/// Deletes one login method (`removeAllLinkedAccounts: false`): a group's primary user that has
/// other login methods keeps its id row (the others stay linked under it) and its application
/// data; any other user is deleted entirely. False when the user does not exist.
pub async fn remove_login_method(storage: &dyn Storage, app: AppKey<'_>, recipe_user_id: &str) -> Result<bool, StorageError> {
    transaction(storage, (app.app_id.to_owned(), recipe_user_id.to_owned()), |tx, (app, user)| {
        Box::pin(async move {
            let app = AppKey::new(app);
            tx.al_lock(app, &[user]).await?;
            let Ok(group) = load(tx, app, user).await? else { return Ok(false) };
            if group.id == *user && group.login_methods.len() > 1 {
                tx.users_delete_login_rows(app, user).await?;
                tx.al_refresh_group_time(app, &group.id).await?;
                return Ok(true);
            }
            let deleted = tx.users_delete(app, user).await?;
            if group.id != *user {
                tx.al_refresh_group_time(app, &group.id).await?;
            }
            Ok(deleted)
        })
    })
    .await
}

/// Before a recipe user joins a tenant (in the same transaction): the reason the core gives when
/// its group is primary and another primary user there has one of the group's account infos.
pub async fn association_conflict(tx: &mut dyn Tx, tenant: &OwnedTenantKey, user_id: &str) -> Result<Option<String>, StorageError> {
    let app = tenant.key().app();
    tx.al_lock(app, &[user_id]).await?;
    let Some(group) = tx.users_get(app, user_id).await?.filter(|g| g.is_primary) else { return Ok(None) };
    let candidates = candidates(tx, app, &AccountValues::of(&group.login_methods)).await?;
    Ok(check_association(&group, &tenant.tenant_id, &candidates).err().map(|(id, kind)| kind.association_reason(&id)))
}

/// Before a login method of `user_id` takes a new email or phone number (in the same
/// transaction): the primary user that already has it in one of the group's tenants, if the
/// group is primary.
pub async fn change_conflict(tx: &mut dyn Tx, app: AppKey<'_>, user_id: &str, new: Info<'_>) -> Result<Option<(String, InfoKind)>, StorageError> {
    tx.al_lock(app, &[user_id]).await?;
    let Some(group) = tx.users_get(app, user_id).await?.filter(|g| g.is_primary) else { return Ok(None) };
    let mut values = AccountValues::default();
    values.add(new.email, new.phone_number);
    let candidates = candidates(tx, app, &values).await?;
    Ok(check_info_change(&group, new, &candidates).err())
}
