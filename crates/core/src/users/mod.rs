//! Users as the auth recipes see them (`model`): a user is a group of login methods, one per
//! recipe user, several when accounts are linked. This module finds users by the ids the
//! application gives.

pub mod model;
pub mod storage;

use std::sync::Arc;

pub use model::*;

use crate::ids::AppKey;
use crate::storage::{Storage, StorageError};
use crate::useridmapping::storage::IdType;

/// A user found by an id the application gave: the user and the SuperTokens id of the login
/// method the id names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub user: User,
    pub recipe_user_id: String,
}

impl Found {
    /// The login method the id named.
    pub fn login_method(&self) -> Option<&LoginMethod> {
        self.user.login_method(&self.recipe_user_id)
    }
}

/// Finds a user in one database by a SuperTokens id or, failing that, by an external id, as
/// every endpoint that takes a user id does.
pub async fn resolve_in(storage: &dyn Storage, app: AppKey<'_>, user_id: &str) -> Result<Option<Found>, StorageError> {
    if let Some(user) = storage.get_user(app, user_id).await? {
        return Ok(Some(Found { user, recipe_user_id: user_id.to_owned() }));
    }
    let Some(m) = storage.get_user_id_mapping(app, user_id, IdType::External).await? else { return Ok(None) };
    Ok(storage.get_user(app, &m.supertokens_user_id).await?.map(|user| Found { user, recipe_user_id: m.supertokens_user_id }))
}

/// Finds a user in whichever of the app's databases holds it (an app's tenants may live in
/// several), and that database.
pub async fn find_user<'s>(
    storages: &[&'s Arc<dyn Storage>],
    app: AppKey<'_>,
    user_id: &str,
) -> Result<Option<(Found, &'s Arc<dyn Storage>)>, StorageError> {
    for storage in storages {
        if let Some(found) = resolve_in(storage.as_ref(), app, user_id).await? {
            return Ok(Some((found, *storage)));
        }
    }
    Ok(None)
}
