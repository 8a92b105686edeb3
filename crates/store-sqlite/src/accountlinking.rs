//! Account linking in SQLite. Writes are serialised (IMMEDIATE transactions), so each decision is
//! made on what the database holds when it is written.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::accountlinking::{check_association, check_create_primary, check_info_change, check_link, AccountValues, Info, InfoKind, LinkingError};
use portcullis_core::accountlinking::storage::{candidate_ids_sql, AccountLinkingStorage, UnlinkOutcome};
use portcullis_core::storage::StorageError;
use portcullis_core::users::User;
use rusqlite::{params, Connection};

use crate::users::{delete_login_rows, delete_user, get_user};
use crate::SqliteStorage;

/// Every user (as its whole group) with one of these account infos, anywhere in the app.
pub(crate) fn candidates(c: &Connection, app: &str, values: &AccountValues) -> rusqlite::Result<Vec<User>> {
    let sql = |kind| candidate_ids_sql(kind, &|t| t.to_owned(), &|i| format!("?{i}"));
    let mut ids: Vec<String> = Vec::new();
    let mut collect = |sql: String, args: &[&str]| -> rusqlite::Result<()> {
        let mut st = c.prepare_cached(&sql)?;
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&app];
        params.extend(args.iter().map(|a| a as &dyn rusqlite::ToSql));
        for id in st.query_map(params.as_slice(), |r| r.get::<_, String>(0))? {
            let id = id?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(())
    };
    for e in &values.emails {
        collect(sql(InfoKind::Email), &[e])?;
    }
    for p in &values.phone_numbers {
        collect(sql(InfoKind::PhoneNumber), &[p])?;
    }
    for (id, user) in &values.third_parties {
        collect(sql(InfoKind::ThirdParty), &[id, user])?;
    }
    let mut users = Vec::new();
    for id in ids {
        users.extend(get_user(c, app, &id)?);
    }
    Ok(users)
}

fn set_linked(c: &Connection, app: &str, user: &str, primary: &str, linked: bool) -> rusqlite::Result<()> {
    for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
        c.execute(
            &format!("UPDATE {table} SET primary_or_recipe_user_id = ?3, is_linked_or_is_a_primary_user = ?4 WHERE app_id = ?1 AND user_id = ?2"),
            params![app, user, primary, linked],
        )?;
    }
    Ok(())
}

/// A group's `primary_or_recipe_user_time_joined`: the earliest sign-up among its members.
fn refresh_group_time(c: &Connection, app: &str, primary: &str) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE all_auth_recipe_users SET primary_or_recipe_user_time_joined =
            (SELECT MIN(time_joined) FROM all_auth_recipe_users WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2)
         WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2",
        params![app, primary],
    )?;
    Ok(())
}

fn load(c: &Connection, app: &str, user: &str) -> rusqlite::Result<Result<User, LinkingError>> {
    Ok(get_user(c, app, user)?.filter(|u| u.login_method(user).is_some() || u.id == user).ok_or(LinkingError::UnknownUser))
}

#[async_trait]
impl AccountLinkingStorage for SqliteStorage {
    async fn create_primary_user(&self, AppKey { app_id }: AppKey<'_>, recipe_user_id: &str, check_only: bool) -> Result<Result<(User, bool), LinkingError>, StorageError> {
        let (app, user) = (app_id.to_owned(), recipe_user_id.to_owned());
        self.in_transaction(move |tx| {
            let target = match load(tx, &app, &user)? {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            };
            let candidates = candidates(tx, &app, &AccountValues::of(&target.login_methods))?;
            match check_create_primary(&target, &user, &candidates) {
                Err(e) => Ok(Err(e)),
                Ok(true) => Ok(Ok((target, true))),
                Ok(false) if check_only => Ok(Ok((target, false))),
                Ok(false) => {
                    set_linked(tx, &app, &user, &user, true)?;
                    Ok(load(tx, &app, &user)?.map(|u| (u, false)))
                }
            }
        })
        .await
    }

    async fn link_accounts(
        &self,
        AppKey { app_id }: AppKey<'_>,
        recipe_user_id: &str,
        primary_user_id: &str,
        check_only: bool,
    ) -> Result<Result<(User, bool), LinkingError>, StorageError> {
        let (app, recipe_id, primary_id) = (app_id.to_owned(), recipe_user_id.to_owned(), primary_user_id.to_owned());
        self.in_transaction(move |tx| {
            // The core looks up the primary side first: an unknown primary user is reported as such.
            let primary = match load(tx, &app, &primary_id)? {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            };
            if !primary.is_primary {
                return Ok(Err(LinkingError::NotAPrimaryUser));
            }
            let recipe = match load(tx, &app, &recipe_id)? {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            };
            let values = AccountValues::of(recipe.login_methods.iter().chain(&primary.login_methods));
            let candidates = candidates(tx, &app, &values)?;
            match check_link(&recipe, &primary, &candidates) {
                Err(e) => Ok(Err(e)),
                Ok(already) if already || check_only => Ok(Ok((primary, already))),
                Ok(_) => {
                    set_linked(tx, &app, &recipe_id, &primary.id, true)?;
                    refresh_group_time(tx, &app, &primary.id)?;
                    tx.execute("DELETE FROM user_last_active WHERE app_id = ?1 AND user_id = ?2", params![app, recipe_id])?;
                    Ok(load(tx, &app, &primary.id)?.map(|u| (u, false)))
                }
            }
        })
        .await
    }

    async fn unlink_account(&self, AppKey { app_id }: AppKey<'_>, recipe_user_id: &str) -> Result<Option<UnlinkOutcome>, StorageError> {
        let (app, user) = (app_id.to_owned(), recipe_user_id.to_owned());
        self.in_transaction(move |tx| {
            let Ok(group) = load(tx, &app, &user)? else { return Ok(None) };
            if !group.is_primary {
                return Ok(Some(UnlinkOutcome::NotLinked));
            }
            if group.id == user && group.login_methods.len() > 1 {
                delete_login_rows(tx, &app, &user)?;
                refresh_group_time(tx, &app, &group.id)?;
                return Ok(Some(UnlinkOutcome::Deleted));
            }
            set_linked(tx, &app, &user, &user, false)?;
            tx.execute(
                "UPDATE all_auth_recipe_users SET primary_or_recipe_user_time_joined = time_joined WHERE app_id = ?1 AND user_id = ?2",
                params![app, user],
            )?;
            if group.id != user {
                refresh_group_time(tx, &app, &group.id)?;
            }
            Ok(Some(UnlinkOutcome::Unlinked))
        })
        .await
    }

    async fn remove_login_method(&self, AppKey { app_id }: AppKey<'_>, recipe_user_id: &str) -> Result<bool, StorageError> {
        let (app, user) = (app_id.to_owned(), recipe_user_id.to_owned());
        self.in_transaction(move |tx| {
            let Ok(group) = load(tx, &app, &user)? else { return Ok(false) };
            if group.id == user && group.login_methods.len() > 1 {
                delete_login_rows(tx, &app, &user)?;
                refresh_group_time(tx, &app, &group.id)?;
                return Ok(true);
            }
            let deleted = delete_user(tx, &app, &user)?;
            if group.id != user {
                refresh_group_time(tx, &app, &group.id)?;
            }
            Ok(deleted)
        })
        .await
    }
}

/// Before a recipe user joins a tenant (in the same transaction): the reason the core gives when
/// its group is primary and another primary user there has one of the group's account infos.
pub(crate) fn association_conflict(c: &Connection, app: &str, tenant: &str, user: &str) -> rusqlite::Result<Option<String>> {
    let Some(group) = get_user(c, app, user)?.filter(|g| g.is_primary) else { return Ok(None) };
    let candidates = candidates(c, app, &AccountValues::of(&group.login_methods))?;
    Ok(check_association(&group, tenant, &candidates).err().map(|(id, kind)| kind.association_reason(&id)))
}

/// Before a login method of `user` takes a new email or phone number (in the same transaction):
/// the primary user that already has it in one of the group's tenants, if the group is primary.
pub(crate) fn change_conflict(c: &Connection, app: &str, user: &str, new: Info<'_>) -> rusqlite::Result<Option<(String, InfoKind)>> {
    let Some(group) = get_user(c, app, user)?.filter(|g| g.is_primary) else { return Ok(None) };
    let mut values = AccountValues::default();
    values.add(new.email, new.phone_number);
    let candidates = candidates(c, app, &values)?;
    Ok(check_info_change(&group, new, &candidates).err())
}
