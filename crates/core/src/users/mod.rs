//! Users as the auth recipes see them (`model`): a user is a group of login methods, one per
//! recipe user, several when accounts are linked. This module finds users by the ids the
//! application gives.

pub mod legacy;
pub mod model;
pub mod storage;

use std::sync::Arc;

pub use model::*;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::Error;
use crate::ids::{AppKey, TenantKey};
use crate::storage::{Storage, StorageError};
use crate::useridmapping::storage::IdType;
use storage::{AccountInfo, SearchTags, UserFilter};

/// The most search tags one request may give (all kinds together). Each tag is a LIKE term in
/// the query; SQLite refused 248 or more ("Expression tree is too large") with a 500.
pub const MAX_SEARCH_TAGS: usize = 100;

pub fn check_search_tags(tags: &SearchTags) -> Result<(), crate::input::InvalidInput> {
    let n = tags.emails.len() + tags.phones.len() + tags.providers.len();
    if n > MAX_SEARCH_TAGS {
        return Err(crate::input::InvalidInput(format!("At most {MAX_SEARCH_TAGS} search tags may be given, not {n}")));
    }
    Ok(())
}

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

/// `POST /user/remove`: deletes the user an id names, with every login method of its group
/// (`all_linked`), or only that login method (see `accountlinking::remove_login_method`).
/// Unknown users are not an error.
pub async fn remove_user(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, user_id: &str, all_linked: bool) -> Result<(), StorageError> {
    let Some((found, storage)) = find_user(storages, app, user_id).await? else { return Ok(()) };
    if all_linked {
        // The primary id's row goes last: linked users' rows reference it.
        let mut ids: Vec<String> =
            found.user.login_methods.iter().map(|m| m.recipe_user_id.clone()).filter(|id| *id != found.user.id).collect();
        ids.push(found.user.id.clone());
        storage.delete_users(app, &ids).await?;
    } else {
        crate::accountlinking::remove_login_method(storage.as_ref(), app, &found.recipe_user_id).await?;
    }
    Ok(())
}

/// Users listed per page when the request names no limit.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page of a listing.
pub const MAX_PAGE_SIZE: usize = 500;
/// The largest page of a search. The core does not cap it; Portcullis bounds it to keep a search
/// cheap.
pub const MAX_SEARCH_PAGE_SIZE: usize = 1000;

/// The page size a listing asks for (`limit`), checked as the core checks it.
pub fn page_size(limit: Option<&str>, searching: bool) -> Result<usize, Error> {
    let max = if searching { MAX_SEARCH_PAGE_SIZE } else { MAX_PAGE_SIZE };
    let Some(l) = limit else { return Ok(DEFAULT_PAGE_SIZE) };
    let n: i64 = l.trim().parse().map_err(|_| Error::BadInput("Field name 'limit' must be an int in the GET request".into()))?;
    if n < 1 {
        return Err(Error::BadInput("limit must a positive integer with min value 1".into()));
    }
    if n as u64 > max as u64 {
        return Err(Error::BadInput(format!("max limit allowed is {max}")));
    }
    Ok(n as usize)
}

/// The recipes a listing is restricted to (`includeRecipeIds`, comma-separated; empty = all).
pub fn recipe_filter(raw: Option<&str>) -> Result<Vec<RecipeId>, Error> {
    let Some(raw) = raw else { return Ok(vec![]) };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| RecipeId::parse(s).ok_or_else(|| Error::BadInput(format!("Unknown recipe ID: {s}"))))
        .collect()
}

/// A listing's continuation: base64 of `<primary user id>;<time joined>`, the last user of a page.
pub fn pagination_token(user_id: &str, time_joined: i64) -> String {
    STANDARD.encode(format!("{user_id};{time_joined}"))
}

/// The (time joined, user id) a pagination token continues after.
pub fn parse_pagination_token(token: &str) -> Result<(i64, String), Error> {
    let invalid = || Error::BadInput("invalid pagination token".into());
    // As the core reads it: Java's base64 decoder, untrimmed, bytes read leniently as UTF-8.
    let bytes = crate::crypto::java_base64::decode_basic(token).map_err(|_| invalid())?;
    let text = String::from_utf8_lossy(&bytes);
    match text.split(';').collect::<Vec<&str>>().as_slice() {
        [id, time] => Ok((time.parse().map_err(|_| invalid())?, (*id).to_owned())),
        _ => Err(invalid()),
    }
}

/// A page of users and the token of the next page, when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub users: Vec<User>,
    pub next: Option<String>,
}

/// `GET /<t>/users`: a page of the tenant's users (whole groups), newest or oldest first.
pub async fn list(storage: &dyn Storage, app: AppKey<'_>, filter: &UserFilter, ascending: bool, limit: usize, after: Option<(i64, String)>) -> Result<Page, StorageError> {
    // One more than asked tells whether there is a next page.
    let mut page = storage.list_users(app, filter, ascending, limit + 1, after).await?;
    let next = if page.len() > limit { page.pop().map(|(id, time)| pagination_token(&id, time)) } else { None };
    let ids: Vec<String> = page.into_iter().map(|(id, _)| id).collect();
    Ok(Page { users: storage.get_users(app, &ids).await?, next })
}

/// `GET /<t>/users/by-accountinfo`: the tenant's users with every given piece of account info
/// (with `union`, any of them), oldest first.
pub async fn by_account_info(storage: &dyn Storage, tenant: TenantKey<'_>, infos: &[AccountInfo], union: bool) -> Result<Vec<User>, StorageError> {
    let mut matched: Option<Vec<String>> = None;
    for info in infos {
        let ids = storage.user_ids_by_account_info(tenant, info).await?;
        matched = Some(match matched {
            None => ids,
            Some(mut so_far) if union => {
                so_far.extend(ids.into_iter().filter(|id| !so_far.contains(id)).collect::<Vec<_>>());
                so_far
            }
            Some(so_far) => so_far.into_iter().filter(|id| ids.contains(id)).collect(),
        });
    }
    let mut users = storage.get_users(tenant.app(), &matched.unwrap_or_default()).await?;
    users.sort_by_key(|u| u.time_joined());
    Ok(users)
}

/// `GET /<t>/users/count` across the given databases (one tenant's, or every one of the app's).
pub async fn count(storages: &[&Arc<dyn Storage>], app: AppKey<'_>, filter: &UserFilter) -> Result<u64, StorageError> {
    let mut n = 0;
    for storage in storages {
        n += storage.count_users(app, filter).await?;
    }
    Ok(n)
}
