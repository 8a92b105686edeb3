//! Account linking in PostgreSQL, at READ COMMITTED: every linking decision of an app first takes
//! a row lock on the app's `apps` row (FOR NO KEY UPDATE, which sign-ups' foreign-key checks do not
//! wait for), so two decisions that could together break uniqueness never interleave; the users
//! involved are locked too, so a concurrent delete either waits or is seen.

use portcullis_core::ids::AppKey;
use portcullis_core::accountlinking::{check_association, check_create_primary, check_info_change, check_link, AccountValues, Info, InfoKind, LinkingError};
use portcullis_core::accountlinking::storage::{candidate_ids_sql, UnlinkOutcome};
use portcullis_core::users::User;
use tokio_postgres::types::ToSql;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::users::{self, delete_login_rows, delete_user, get_user};

pub struct Statements {
    lock_app: String,
    lock_users: String,
    by_email: String,
    by_phone: String,
    by_third_party: String,
    set_linked: Vec<String>,
    group_time: String,
    own_time: String,
    forget_active: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let app_users = n.table("app_id_to_user_id")?;
        let all = n.table("all_auth_recipe_users")?;
        let table = |t: &str| n.table(t).map_or_else(|_| t.to_owned(), str::to_owned);
        let ph = |i: usize| format!("${i}");
        Ok(Statements {
            lock_app: format!("SELECT 1 FROM {} WHERE app_id = $1 FOR NO KEY UPDATE", n.table("apps")?),
            lock_users: format!("SELECT user_id FROM {app_users} WHERE app_id = $1 AND user_id = ANY($2) ORDER BY user_id FOR UPDATE"),
            by_email: candidate_ids_sql(InfoKind::Email, &table, &ph),
            by_phone: candidate_ids_sql(InfoKind::PhoneNumber, &table, &ph),
            by_third_party: candidate_ids_sql(InfoKind::ThirdParty, &table, &ph),
            set_linked: [app_users, all]
                .iter()
                .map(|t| {
                    format!(
                        "UPDATE {t} SET primary_or_recipe_user_id = $3, is_linked_or_is_a_primary_user = $4 \
                         WHERE app_id = $1 AND user_id = $2"
                    )
                })
                .collect(),
            group_time: format!(
                "UPDATE {all} SET primary_or_recipe_user_time_joined = \
                 (SELECT MIN(time_joined) FROM {all} WHERE app_id = $1 AND primary_or_recipe_user_id = $2) \
                 WHERE app_id = $1 AND primary_or_recipe_user_id = $2"
            ),
            own_time: format!("UPDATE {all} SET primary_or_recipe_user_time_joined = time_joined WHERE app_id = $1 AND user_id = $2"),
            forget_active: format!("DELETE FROM {} WHERE app_id = $1 AND user_id = $2", n.table("user_last_active")?),
        })
    }
}

/// Serialises this transaction with every other linking decision of the app, and locks `users`.
async fn lock(db: Conn<'_>, sql: &Statements, app: &str, users: &[&str]) -> Result<(), WorkError> {
    db.query(&sql.lock_app, &[&app]).await?;
    db.query(&sql.lock_users, &[&app, &users]).await?;
    Ok(())
}

/// Every user (as its whole group) with one of these account infos, anywhere in the app.
pub async fn candidates(db: Conn<'_>, sql: &Statements, users_sql: &users::Statements, app: &str, values: &AccountValues) -> Result<Vec<User>, WorkError> {
    let mut lookups: Vec<(&str, Vec<&str>)> = Vec::new();
    lookups.extend(values.emails.iter().map(|e| (sql.by_email.as_str(), vec![e.as_str()])));
    lookups.extend(values.phone_numbers.iter().map(|p| (sql.by_phone.as_str(), vec![p.as_str()])));
    lookups.extend(values.third_parties.iter().map(|(id, user)| (sql.by_third_party.as_str(), vec![id.as_str(), user.as_str()])));
    let mut ids: Vec<String> = Vec::new();
    for (statement, args) in lookups {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&app];
        params.extend(args.iter().map(|a| a as &(dyn ToSql + Sync)));
        for r in db.query(statement, &params).await? {
            let id = r.try_get::<_, String>(0)?.trim_end().to_owned();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut users = Vec::new();
    for id in ids {
        users.extend(get_user(db, users_sql, app, &id).await?);
    }
    Ok(users)
}

async fn load(db: Conn<'_>, sql: &users::Statements, app: &str, user: &str) -> Result<Result<User, LinkingError>, WorkError> {
    Ok(get_user(db, sql, app, user).await?.filter(|u| u.login_method(user).is_some() || u.id == user).ok_or(LinkingError::UnknownUser))
}

async fn set_linked(db: Conn<'_>, sql: &Statements, app: &str, user: &str, primary: &str, linked: bool) -> Result<(), WorkError> {
    for statement in &sql.set_linked {
        db.execute(statement, &[&app, &user, &primary, &linked]).await?;
    }
    Ok(())
}

pub type Linked = Result<(User, bool), LinkingError>;

pub async fn create_primary(db: Conn<'_>, sql: &Statements, users_sql: &users::Statements, (app, user, check_only): (&str, &str, bool)) -> Result<Linked, WorkError> {
    lock(db, sql, app, &[user]).await?;
    let target = match load(db, users_sql, app, user).await? {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let candidates = candidates(db, sql, users_sql, app, &AccountValues::of(&target.login_methods)).await?;
    match check_create_primary(&target, user, &candidates) {
        Err(e) => Ok(Err(e)),
        Ok(true) => Ok(Ok((target, true))),
        Ok(false) if check_only => Ok(Ok((target, false))),
        Ok(false) => {
            set_linked(db, sql, app, user, user, true).await?;
            Ok(load(db, users_sql, app, user).await?.map(|u| (u, false)))
        }
    }
}

pub async fn link(
    db: Conn<'_>,
    sql: &Statements,
    users_sql: &users::Statements,
    (app, recipe_id, primary_id, check_only): (&str, &str, &str, bool),
) -> Result<Linked, WorkError> {
    lock(db, sql, app, &[recipe_id, primary_id]).await?;
    // The core looks up the primary side first: an unknown primary user is reported as such.
    let primary = match load(db, users_sql, app, primary_id).await? {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    if !primary.is_primary {
        return Ok(Err(LinkingError::NotAPrimaryUser));
    }
    let recipe = match load(db, users_sql, app, recipe_id).await? {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let values = AccountValues::of(recipe.login_methods.iter().chain(&primary.login_methods));
    let candidates = candidates(db, sql, users_sql, app, &values).await?;
    match check_link(&recipe, &primary, &candidates) {
        Err(e) => Ok(Err(e)),
        Ok(already) if already || check_only => Ok(Ok((primary, already))),
        Ok(_) => {
            set_linked(db, sql, app, recipe_id, &primary.id, true).await?;
            db.execute(&sql.group_time, &[&app, &primary.id]).await?;
            db.execute(&sql.forget_active, &[&app, &recipe_id]).await?;
            Ok(load(db, users_sql, app, &primary.id).await?.map(|u| (u, false)))
        }
    }
}

pub async fn unlink(db: Conn<'_>, sql: &Statements, users_sql: &users::Statements, (app, user): (&str, &str)) -> Result<Option<UnlinkOutcome>, WorkError> {
    lock(db, sql, app, &[user]).await?;
    let Ok(group) = load(db, users_sql, app, user).await? else { return Ok(None) };
    if !group.is_primary {
        return Ok(Some(UnlinkOutcome::NotLinked));
    }
    if group.id == user && group.login_methods.len() > 1 {
        delete_login_rows(db, users_sql, app, user).await?;
        db.execute(&sql.group_time, &[&app, &group.id]).await?;
        return Ok(Some(UnlinkOutcome::Deleted));
    }
    set_linked(db, sql, app, user, user, false).await?;
    db.execute(&sql.own_time, &[&app, &user]).await?;
    if group.id != user {
        db.execute(&sql.group_time, &[&app, &group.id]).await?;
    }
    Ok(Some(UnlinkOutcome::Unlinked))
}

pub async fn remove_login_method(db: Conn<'_>, sql: &Statements, users_sql: &users::Statements, (app, user): (&str, &str)) -> Result<bool, WorkError> {
    lock(db, sql, app, &[user]).await?;
    let Ok(group) = load(db, users_sql, app, user).await? else { return Ok(false) };
    if group.id == user && group.login_methods.len() > 1 {
        delete_login_rows(db, users_sql, app, user).await?;
        db.execute(&sql.group_time, &[&app, &group.id]).await?;
        return Ok(true);
    }
    let deleted = delete_user(db, users_sql, app, user).await?;
    if group.id != user {
        db.execute(&sql.group_time, &[&app, &group.id]).await?;
    }
    Ok(deleted)
}

#[async_trait::async_trait]
impl portcullis_core::accountlinking::storage::AccountLinkingStorage for crate::PgStorage {
    async fn create_primary_user(&self, AppKey { app_id }: AppKey<'_>, recipe_user_id: &str, check_only: bool) -> Result<Linked, portcullis_core::storage::StorageError> {
        let ctx = (&self.sql, (app_id, recipe_user_id, check_only));
        self.db.run(Mode::Write, &ctx, |db, (sql, key)| Box::pin(create_primary(db, &sql.accountlinking, &sql.users, *key))).await
    }

    async fn link_accounts(
        &self,
        AppKey { app_id }: AppKey<'_>,
        recipe_user_id: &str,
        primary_user_id: &str,
        check_only: bool,
    ) -> Result<Linked, portcullis_core::storage::StorageError> {
        let ctx = (&self.sql, (app_id, recipe_user_id, primary_user_id, check_only));
        self.db.run(Mode::Write, &ctx, |db, (sql, key)| Box::pin(link(db, &sql.accountlinking, &sql.users, *key))).await
    }

    async fn unlink_account(&self, AppKey { app_id }: AppKey<'_>, recipe_user_id: &str) -> Result<Option<UnlinkOutcome>, portcullis_core::storage::StorageError> {
        let ctx = (&self.sql, (app_id, recipe_user_id));
        self.db.run(Mode::Write, &ctx, |db, (sql, key)| Box::pin(unlink(db, &sql.accountlinking, &sql.users, *key))).await
    }

    async fn remove_login_method(&self, AppKey { app_id }: AppKey<'_>, recipe_user_id: &str) -> Result<bool, portcullis_core::storage::StorageError> {
        let ctx = (&self.sql, (app_id, recipe_user_id));
        self.db.run(Mode::Write, &ctx, |db, (sql, key)| Box::pin(remove_login_method(db, &sql.accountlinking, &sql.users, *key))).await
    }
}

/// Before a recipe user joins a tenant (in the same transaction): the reason the core gives when
/// its group is primary and another primary user there has one of the group's account infos.
pub async fn association_conflict(db: Conn<'_>, sql: &Statements, users_sql: &users::Statements, (app, tenant, user): (&str, &str, &str)) -> Result<Option<String>, WorkError> {
    lock(db, sql, app, &[user]).await?;
    let Some(group) = get_user(db, users_sql, app, user).await?.filter(|g| g.is_primary) else { return Ok(None) };
    let candidates = candidates(db, sql, users_sql, app, &AccountValues::of(&group.login_methods)).await?;
    Ok(check_association(&group, tenant, &candidates).err().map(|(id, kind)| kind.association_reason(&id)))
}

/// Before a login method of `user` takes a new email or phone number (in the same transaction):
/// the primary user that already has it in one of the group's tenants, if the group is primary.
pub async fn change_conflict(
    db: Conn<'_>,
    sql: &Statements,
    users_sql: &users::Statements,
    (app, user): (&str, &str),
    new: Info<'_>,
) -> Result<Option<(String, InfoKind)>, WorkError> {
    lock(db, sql, app, &[user]).await?;
    let Some(group) = get_user(db, users_sql, app, user).await?.filter(|g| g.is_primary) else { return Ok(None) };
    let mut values = AccountValues::default();
    values.add(new.email, new.phone_number);
    let candidates = candidates(db, sql, users_sql, app, &values).await?;
    Ok(check_info_change(&group, new, &candidates).err())
}
