//! Auth-recipe users in SQLite.

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::useridmapping::storage::NON_AUTH_TABLES;
use portcullis_core::users::storage::{AccountInfo, SearchPlan, TenantJoin, UserFilter, UserPage, UserStorage, UsersTx};
use portcullis_core::storage::StorageError;
use portcullis_core::users::{LoginMethod, RecipeId, ThirdPartyInfo, User};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

/// One recipe user's login method, read from the recipe's tables.
pub(crate) fn login_method(c: &Connection, app: &str, user_id: &str) -> Result<Option<LoginMethod>, rusqlite::Error> {
    // Statements are prepared once per connection (a page reads a hundred users).
    let head: Option<(String, String, bool)> = c
        .prepare_cached(
            "SELECT recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user FROM app_id_to_user_id
             WHERE app_id = ?1 AND user_id = ?2",
        )?
        .query_row(
            params![app, user_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((recipe, primary, linked)) = head else { return Ok(None) };
    let Some(recipe_id) = RecipeId::parse(&recipe) else { return Ok(None) };
    // The index is named: without statistics SQLite prefers the primary key, which covers the
    // query but is keyed by tenant first, i.e. it walks every row of the app (106 ms at 100k users,
    // 0.2 ms with the user index). Sorted here, not in SQL, for the same reason.
    let mut st = c.prepare_cached(
        "SELECT tenant_id FROM all_auth_recipe_users INDEXED BY all_auth_recipe_user_id_index WHERE app_id = ?1 AND user_id = ?2",
    )?;
    let mut tenant_ids = st.query_map(params![app, user_id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    tenant_ids.sort();
    let mut m = LoginMethod {
        recipe_id,
        recipe_user_id: user_id.to_owned(),
        external_user_id: crate::useridmapping::external_of(c, app, user_id)?,
        primary_user_id: primary,
        is_linked_or_primary: linked,
        tenant_ids,
        time_joined: 0,
        email: None,
        phone_number: None,
        third_party: None,
        verified: false,
        password_hash: None,
        webauthn_credential_ids: Vec::new(),
    };
    match recipe_id {
        RecipeId::EmailPassword => {
            let row: Option<(String, String, i64)> = c
                .prepare_cached("SELECT email, password_hash, time_joined FROM emailpassword_users WHERE app_id = ?1 AND user_id = ?2")?
                .query_row(
                    params![app, user_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((email, hash, time_joined)) = row else { return Ok(None) };
            m.email = Some(email);
            m.password_hash = Some(hash);
            m.time_joined = time_joined;
        }
        RecipeId::ThirdParty => {
            let row: Option<(String, String, String, i64)> = c
                .prepare_cached(
                    "SELECT third_party_id, third_party_user_id, email, time_joined FROM thirdparty_users
                     WHERE app_id = ?1 AND user_id = ?2",
                )?
                .query_row(
                    params![app, user_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((id, tp_user_id, email, time_joined)) = row else { return Ok(None) };
            m.third_party = Some(ThirdPartyInfo { id, user_id: tp_user_id });
            m.email = Some(email);
            m.time_joined = time_joined;
        }
        RecipeId::Passwordless => {
            let row: Option<(Option<String>, Option<String>, i64)> = c
                .prepare_cached("SELECT email, phone_number, time_joined FROM passwordless_users WHERE app_id = ?1 AND user_id = ?2")?
                .query_row(
                    params![app, user_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((email, phone, time_joined)) = row else { return Ok(None) };
            m.email = email;
            m.phone_number = phone;
            m.time_joined = time_joined;
        }
        RecipeId::WebAuthn => {
            let row: Option<(String, i64)> = c
                .prepare_cached("SELECT email, time_joined FROM webauthn_users WHERE app_id = ?1 AND user_id = ?2")?
                .query_row(params![app, user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((email, time_joined)) = row else { return Ok(None) };
            m.email = Some(email);
            m.time_joined = time_joined;
            m.webauthn_credential_ids = c
                .prepare_cached("SELECT id FROM webauthn_credentials WHERE app_id = ?1 AND user_id = ?2 ORDER BY created_at, id")?
                .query_map(params![app, user_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
        }
    }
    if let Some(email) = &m.email {
        // Verification is keyed by the id the application uses: the external one when mapped.
        m.verified = c
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM emailverification_verified_emails WHERE app_id = ?1 AND user_id = ?2 AND email = ?3)",
            )?
            .query_row(params![app, m.public_id(), email], |r| r.get(0))?;
    } else {
        // A phone number is proven by the code that signed the user in, as the core reports.
        m.verified = true;
    }
    Ok(Some(m))
}

pub(crate) fn get_user(c: &Connection, app: &str, user_id: &str) -> Result<Option<User>, rusqlite::Error> {
    let primary: Option<String> = c
        .prepare_cached("SELECT primary_or_recipe_user_id FROM app_id_to_user_id WHERE app_id = ?1 AND user_id = ?2")?
        .query_row(params![app, user_id], |r| r.get(0))
        .optional()?;
    let Some(primary) = primary else { return Ok(None) };
    let mut st = c.prepare_cached(
        "SELECT user_id FROM app_id_to_user_id WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2",
    )?;
    // Sorted here for the same reason as a login method's tenants.
    let mut members = st.query_map(params![app, primary], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    members.sort();
    let mut login_methods = Vec::new();
    for member in members {
        if let Some(m) = login_method(c, app, &member)? {
            login_methods.push(m);
        }
    }
    // A group whose primary login method was deleted (its id row stays for the linked ones) is
    // still primary; a group with no login method left is no user.
    if login_methods.is_empty() {
        return Ok(None);
    }
    let is_primary = login_methods.iter().any(|m| m.is_linked_or_primary);
    Ok(Some(User { id: primary, is_primary, login_methods }))
}

/// `WHERE` clauses and parameters for a filter, numbered from `first`.
fn filter_sql(app: &str, f: &UserFilter) -> (String, Vec<Box<dyn ToSql>>) {
    let mut sql = String::from("app_id = ?1");
    let mut params: Vec<Box<dyn ToSql>> = vec![Box::new(app.to_owned())];
    if let Some(t) = &f.tenant_id {
        params.push(Box::new(t.clone()));
        sql.push_str(&format!(" AND tenant_id = ?{}", params.len()));
    }
    if !f.recipe_ids.is_empty() {
        let mut marks = Vec::new();
        for r in &f.recipe_ids {
            params.push(Box::new(r.as_str()));
            marks.push(format!("?{}", params.len()));
        }
        sql.push_str(&format!(" AND recipe_id IN ({})", marks.join(", ")));
    }
    if let Some(tags) = &f.search {
        let matching = search_sql(&tags.plan(), &mut params);
        sql.push_str(&format!(" AND user_id IN {matching}"));
    }
    (sql, params)
}

/// The `IN (...)` subquery of the recipe user ids a search plan matches (`?1` is the app id), its
/// patterns bound as parameters.
fn search_sql(plan: &SearchPlan, params: &mut Vec<Box<dyn ToSql>>) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &plan.emailpassword {
        parts.push(format!("SELECT user_id FROM emailpassword_user_to_tenant WHERE app_id = ?1 AND {}", like_any("email", &r.emails, params)));
    }
    if let Some(r) = &plan.thirdparty {
        // `thirdparty_users` alone holds the provider and the email (as on PostgreSQL, where the
        // join with the per-tenant table kept the planner from probing by user).
        let conditions = conditions("app_id = ?1", [("email", &r.emails), ("third_party_id", &r.providers)], params);
        parts.push(format!("SELECT user_id FROM thirdparty_users WHERE {conditions}"));
    }
    if let Some(r) = &plan.passwordless {
        let conditions = conditions("app_id = ?1", [("email", &r.emails), ("phone_number", &r.phones)], params);
        parts.push(format!("SELECT user_id FROM passwordless_user_to_tenant WHERE {conditions}"));
    }
    if parts.is_empty() {
        // Email, phone and provider together: no login method has all three.
        return "(SELECT user_id FROM (SELECT NULL AS user_id) AS none WHERE 1 = 0)".into();
    }
    format!("({})", parts.join(" UNION "))
}

/// `(column LIKE ?n ESCAPE '\\' OR …)` over the patterns, bound as parameters.
fn like_any(column: &str, patterns: &[String], params: &mut Vec<Box<dyn ToSql>>) -> String {
    let alternatives: Vec<String> = patterns
        .iter()
        .map(|pattern| {
            params.push(Box::new(pattern.clone()));
            format!("{column} LIKE ?{} ESCAPE '\\'", params.len())
        })
        .collect();
    format!("({})", alternatives.join(" OR "))
}

/// `scope AND` a [`like_any`] for each column that has patterns.
fn conditions(scope: &str, columns: [(&str, &Vec<String>); 2], params: &mut Vec<Box<dyn ToSql>>) -> String {
    let mut out = vec![scope.to_owned()];
    for (column, patterns) in columns {
        if !patterns.is_empty() {
            out.push(like_any(column, patterns, params));
        }
    }
    out.join(" AND ")
}

/// The primary ids of the tenant's users whose login methods have one piece of account info
/// (`?1`, `?2`: app and tenant; then the values of [`AccountInfo::values`]).
fn primary_ids_sql(info: &AccountInfo) -> &'static str {
    match info {
        AccountInfo::Email(_) => {
            "SELECT DISTINCT primary_or_recipe_user_id FROM all_auth_recipe_users WHERE app_id = ?1 AND tenant_id = ?2 AND user_id IN (
                 SELECT user_id FROM emailpassword_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3
                 UNION SELECT t.user_id FROM thirdparty_user_to_tenant t JOIN thirdparty_users u ON u.app_id = t.app_id AND u.user_id = t.user_id
                       WHERE t.app_id = ?1 AND t.tenant_id = ?2 AND u.email = ?3
                 UNION SELECT user_id FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3
                 UNION SELECT user_id FROM webauthn_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3)"
        }
        AccountInfo::PhoneNumber(_) => {
            "SELECT DISTINCT primary_or_recipe_user_id FROM all_auth_recipe_users WHERE app_id = ?1 AND tenant_id = ?2 AND user_id IN (
                 SELECT user_id FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND phone_number = ?3)"
        }
        AccountInfo::ThirdParty { .. } => {
            "SELECT DISTINCT primary_or_recipe_user_id FROM all_auth_recipe_users WHERE app_id = ?1 AND tenant_id = ?2 AND user_id IN (
                 SELECT user_id FROM thirdparty_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2
                 AND third_party_id = ?3 AND third_party_user_id = ?4)"
        }
        AccountInfo::WebauthnCredentialId(_) => {
            "SELECT DISTINCT primary_or_recipe_user_id FROM all_auth_recipe_users WHERE app_id = ?1 AND tenant_id = ?2 AND user_id IN (
                 SELECT user_id FROM webauthn_credentials WHERE app_id = ?1 AND id = ?3)"
        }
    }
}

/// The number of distinct primary user ids of the rows matching `clause`, exactly, without putting
/// every row's id through a distinct set (the reasoning of the PostgreSQL store's `count_sql`):
/// within one tenant a user id has one row, so the groups whose primary's own row matches are
/// counted by a sum, and only linked rows of the other groups go through `COUNT(DISTINCT …)`.
fn count_sql(clause: &str, one_tenant: bool) -> String {
    if !one_tenant {
        return format!("SELECT COUNT(DISTINCT primary_or_recipe_user_id) FROM all_auth_recipe_users WHERE {clause}");
    }
    format!(
        "SELECT COALESCE(SUM(a.user_id = a.primary_or_recipe_user_id), 0) + COUNT(DISTINCT CASE
             WHEN a.user_id <> a.primary_or_recipe_user_id AND NOT EXISTS (SELECT 1 FROM all_auth_recipe_users
                 WHERE {clause} AND user_id = a.primary_or_recipe_user_id AND primary_or_recipe_user_id = user_id)
             THEN a.primary_or_recipe_user_id END)
         FROM all_auth_recipe_users a WHERE {clause}"
    )
}

#[async_trait]
impl UserStorage for SqliteStorage {
    async fn get_user(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.with_conn(move |c| get_user(c, &app, &user).map_err(query_err)).await
    }

    async fn get_users(&self, AppKey { app_id }: AppKey<'_>, user_ids: &[String]) -> Result<Vec<User>, StorageError> {
        let (app, ids) = (app_id.to_owned(), user_ids.to_vec());
        // One trip to the connection for the whole list, in one read transaction (one snapshot).
        self.with_conn(move |c| {
            let tx = c.transaction().map_err(query_err)?;
            let mut users = Vec::with_capacity(ids.len());
            for id in &ids {
                users.extend(get_user(&tx, &app, id).map_err(query_err)?);
            }
            Ok(users)
        })
        .await
    }

    async fn list_users(
        &self,
        AppKey { app_id }: AppKey<'_>,
        filter: &UserFilter,
        ascending: bool,
        limit: usize,
        after: Option<(i64, String)>,
    ) -> Result<UserPage, StorageError> {
        let (app, filter) = (app_id.to_owned(), filter.clone());
        self.with_conn(move |c| {
            let (mut sql, mut params) = filter_sql(&app, &filter);
            if let Some((time, id)) = after {
                params.push(Box::new(time));
                let t = params.len();
                params.push(Box::new(id));
                let i = params.len();
                // Newest first orders both columns descending: one row comparison, which the index serves.
                // Oldest first mixes directions (time up, id down) and needs the OR form; the `>=`
                // before it gives the index a place to start, else a deep page scans from the oldest
                // user (the issue 24 workload: O(position), see docs/benchmarks.md).
                if ascending {
                    sql.push_str(&format!(
                        " AND primary_or_recipe_user_time_joined >= ?{t} \
                         AND (primary_or_recipe_user_time_joined > ?{t} OR (primary_or_recipe_user_time_joined = ?{t} AND primary_or_recipe_user_id <= ?{i}))"
                    ));
                } else {
                    sql.push_str(&format!(" AND (primary_or_recipe_user_time_joined, primary_or_recipe_user_id) <= (?{t}, ?{i})"));
                }
            }
            let order = if ascending { "ASC" } else { "DESC" };
            params.push(Box::new(limit as i64));
            let query = format!(
                "SELECT DISTINCT primary_or_recipe_user_id, primary_or_recipe_user_time_joined FROM all_auth_recipe_users
                 WHERE {sql} ORDER BY primary_or_recipe_user_time_joined {order}, primary_or_recipe_user_id DESC LIMIT ?{}",
                params.len()
            );
            let mut st = c.prepare_cached(&query).map_err(query_err)?;
            let rows = st
                .query_map(params_from_iter(params.iter().map(|p| p.as_ref())), |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn count_users(&self, AppKey { app_id }: AppKey<'_>, filter: &UserFilter) -> Result<u64, StorageError> {
        let (app, filter) = (app_id.to_owned(), filter.clone());
        self.with_conn(move |c| {
            let (sql, params) = filter_sql(&app, &filter);
            let query = count_sql(&sql, filter.tenant_id.is_some());
            c.query_row(&query, params_from_iter(params.iter().map(|p| p.as_ref())), |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(query_err)
        })
        .await
    }

    async fn user_ids_by_account_info(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, info: &AccountInfo) -> Result<Vec<String>, StorageError> {
        let (app, tenant, info) = (app_id.to_owned(), tenant_id.to_owned(), info.clone());
        self.with_conn(move |c| {
            let mut st = c.prepare_cached(primary_ids_sql(&info)).map_err(query_err)?;
            let mut values: Vec<&dyn ToSql> = vec![&app, &tenant];
            let extra = info.values();
            values.extend(extra.iter().map(|v| v as &dyn ToSql));
            let rows = st.query_map(params_from_iter(values), |r| r.get(0)).map_err(query_err)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(query_err)
        })
        .await
    }

    async fn disassociate_user_from_tenant(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, recipe_user_id: &str) -> Result<bool, StorageError> {
        let (app, tenant, user) = (app_id.to_owned(), tenant_id.to_owned(), recipe_user_id.to_owned());
        self.in_transaction(move |tx| {
            Ok(tx.execute(
                "DELETE FROM all_auth_recipe_users WHERE app_id = ?1 AND tenant_id = ?2 AND user_id = ?3",
                params![app, tenant, user],
            )? > 0)
        })
        .await
    }

    async fn delete_users(&self, AppKey { app_id }: AppKey<'_>, user_ids: &[String]) -> Result<bool, StorageError> {
        let (app, users) = (app_id.to_owned(), user_ids.to_vec());
        self.in_transaction(move |tx| {
            let mut existed = false;
            for user in &users {
                existed |= delete_user(tx, &app, user)?;
            }
            Ok(existed)
        })
        .await
    }
}

/// Deletes a recipe user and everything keyed by its id. False when it did not exist.
pub(crate) fn delete_user(tx: &Connection, app: &str, user: &str) -> Result<bool, rusqlite::Error> {
    // Rows keyed by the user id without a foreign key to the user tables: under both ids when
    // mapped (the application's data is under the external one).
    let external = crate::useridmapping::external_of(tx, app, user)?;
    for id in std::iter::once(user).chain(external.as_deref()) {
        for (table, _) in NON_AUTH_TABLES {
            tx.execute(&format!("DELETE FROM {table} WHERE app_id = ?1 AND user_id = ?2"), params![app, id])?;
        }
    }
    delete_login_rows(tx, app, user)?;
    // The rest cascades from app_id_to_user_id.
    Ok(tx.execute("DELETE FROM app_id_to_user_id WHERE app_id = ?1 AND user_id = ?2", params![app, user])? > 0)
}

/// Deletes a recipe user's login method (its recipe rows, tenants and passwordless sign-in
/// attempts) but not its `app_id_to_user_id` row, which linked users may reference.
pub(crate) fn delete_login_rows(tx: &Connection, app: &str, user: &str) -> Result<(), rusqlite::Error> {
    let contact: Option<(Option<String>, Option<String>)> = tx
        .query_row(
            "SELECT email, phone_number FROM passwordless_users WHERE app_id = ?1 AND user_id = ?2",
            params![app, user],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((email, phone)) = contact {
        tx.execute("DELETE FROM passwordless_devices WHERE app_id = ?1 AND email = ?2", params![app, email])?;
        tx.execute("DELETE FROM passwordless_devices WHERE app_id = ?1 AND phone_number = ?2", params![app, phone])?;
    }
    // The per-tenant recipe rows cascade from all_auth_recipe_users.
    // webauthn_users takes its credentials with it (cascade).
    for table in [
        "all_auth_recipe_users",
        "emailpassword_pswd_reset_tokens",
        "emailpassword_users",
        "thirdparty_users",
        "passwordless_users",
        "webauthn_account_recovery_tokens",
        "webauthn_users",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE app_id = ?1 AND user_id = ?2"), params![app, user])?;
    }
    Ok(())
}

/// Adds a login method to a tenant. Writes are serialised (IMMEDIATE), so checking the recipe's
/// per-tenant uniqueness first is exact, and names the conflict.
fn join_tenant(c: &Connection, app: &str, tenant: &str, m: &LoginMethod, group_time: i64) -> Result<TenantJoin, rusqlite::Error> {
    let user = &m.recipe_user_id;
    let exists = |sql: &str, values: &[&dyn ToSql]| -> Result<bool, rusqlite::Error> {
        let mut all: Vec<&dyn ToSql> = vec![&app, &tenant];
        all.extend_from_slice(values);
        c.query_row(&format!("SELECT EXISTS ({sql})"), params_from_iter(all), |r| r.get(0))
    };
    if exists("SELECT 1 FROM all_auth_recipe_users WHERE app_id = ?1 AND tenant_id = ?2 AND user_id = ?3", &[user])? {
        return Ok(TenantJoin::AlreadyThere);
    }
    let taken = match m.recipe_id {
        RecipeId::EmailPassword => {
            let sql = "SELECT 1 FROM emailpassword_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3";
            exists(sql, &[&m.email])?.then_some(TenantJoin::EmailTaken)
        }
        RecipeId::ThirdParty => {
            let Some(tp) = &m.third_party else { return Err(rusqlite::Error::InvalidQuery) };
            let sql = "SELECT 1 FROM thirdparty_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2
                       AND third_party_id = ?3 AND third_party_user_id = ?4";
            exists(sql, &[&tp.id, &tp.user_id])?.then_some(TenantJoin::ThirdPartyTaken)
        }
        RecipeId::Passwordless => {
            let email = "SELECT 1 FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3";
            let phone = "SELECT 1 FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND phone_number = ?3";
            if m.email.is_some() && exists(email, &[&m.email])? {
                Some(TenantJoin::EmailTaken)
            } else if m.phone_number.is_some() && exists(phone, &[&m.phone_number])? {
                Some(TenantJoin::PhoneNumberTaken)
            } else {
                None
            }
        }
        RecipeId::WebAuthn => {
            let sql = "SELECT 1 FROM webauthn_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3";
            exists(sql, &[&m.email])?.then_some(TenantJoin::EmailTaken)
        }
    };
    if let Some(taken) = taken {
        return Ok(taken);
    }
    c.execute(
        "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id,
             is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![app, tenant, user, m.primary_user_id, m.is_linked_or_primary, m.recipe_id.as_str(), m.time_joined, group_time],
    )?;
    match m.recipe_id {
        RecipeId::EmailPassword => c.execute(
            "INSERT INTO emailpassword_user_to_tenant (app_id, tenant_id, user_id, email) VALUES (?1, ?2, ?3, ?4)",
            params![app, tenant, user, m.email],
        ),
        RecipeId::ThirdParty => {
            let tp = m.third_party.as_ref().map(|t| (t.id.clone(), t.user_id.clone())).unwrap_or_default();
            c.execute(
                "INSERT INTO thirdparty_user_to_tenant (app_id, tenant_id, user_id, third_party_id, third_party_user_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![app, tenant, user, tp.0, tp.1],
            )
        }
        RecipeId::Passwordless => c.execute(
            "INSERT INTO passwordless_user_to_tenant (app_id, tenant_id, user_id, email, phone_number) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![app, tenant, user, m.email, m.phone_number],
        ),
        RecipeId::WebAuthn => c.execute(
            "INSERT INTO webauthn_user_to_tenant (app_id, tenant_id, user_id, email) VALUES (?1, ?2, ?3, ?4)",
            params![app, tenant, user, m.email],
        ),
    }?;
    Ok(TenantJoin::Joined)
}

#[async_trait]
impl UsersTx for SqliteTx<'_> {
    async fn users_get(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError> {
        get_user(self.conn()?, app_id, user_id).map_err(query_err)
    }

    async fn users_login_method(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<LoginMethod>, StorageError> {
        login_method(self.conn()?, app_id, user_id).map_err(query_err)
    }

    async fn users_group_time(&mut self, AppKey { app_id }: AppKey<'_>, primary_user_id: &str) -> Result<Option<i64>, StorageError> {
        self.conn()?
            .query_row(
                "SELECT MIN(primary_or_recipe_user_time_joined) FROM all_auth_recipe_users WHERE app_id = ?1 AND primary_or_recipe_user_id = ?2",
                params![app_id, primary_user_id],
                |r| r.get(0),
            )
            .map_err(query_err)
    }

    async fn users_join_tenant(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, method: &LoginMethod, group_time: i64) -> Result<TenantJoin, StorageError> {
        join_tenant(self.conn()?, app_id, tenant_id, method, group_time).map_err(query_err)
    }

    async fn users_delete(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        delete_user(self.conn()?, app_id, user_id).map_err(query_err)
    }

    async fn users_delete_login_rows(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        delete_login_rows(self.conn()?, app_id, user_id).map_err(query_err)
    }
}
