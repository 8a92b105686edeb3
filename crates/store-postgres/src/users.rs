//! Auth-recipe users: sign-up rows, whole-user reads, listing, counting, tenant association and
//! deletion, with the plugin's tables.

use std::collections::HashMap;

use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::useridmapping::storage::NON_AUTH_TABLES;
use async_trait::async_trait;
use portcullis_core::storage::StorageError;
use portcullis_core::users::storage::{AccountInfo, TenantJoin, UserFilter, UserPage, UserStorage, UsersTx};
use portcullis_core::users::{LoginMethod, RecipeId, ThirdPartyInfo, User};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::db::{Conn, Mode, WorkError};
use crate::tx::PgTx;
use crate::PgStorage;
use crate::names::Names;

pub struct Statements {
    insert_app_user: String,
    insert_all_auth: String,
    insert_ep_user: String,
    insert_ep_tenant: String,
    /// One recipe user's login method; every login method of the user of an id, of a list of ids.
    method: String,
    user: String,
    users: String,
    pl_user: String,
    insert_tp_tenant: String,
    insert_pl_tenant: String,
    insert_wa_tenant: String,
    delete_pl_devices_by_email: String,
    delete_pl_devices_by_phone: String,
    external_of: String,
    ep_by_email: String,
    ids_by_email: String,
    ids_by_phone: String,
    ids_by_third_party: String,
    ids_by_webauthn_credential: String,
    primary_time: String,
    delete_all_auth: String,
    delete_keyed: Vec<String>,
    delete_app_user: String,
    delete_login_rows: Vec<String>,
    all_auth: String,
    /// The recipe tables the dashboard's search reads: emailpassword_user_to_tenant,
    /// thirdparty_users, passwordless_user_to_tenant.
    search_tables: [String; 3],
}


impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let app_users = n.table("app_id_to_user_id")?;
        let all = n.table("all_auth_recipe_users")?;
        let ep = n.table("emailpassword_users")?;
        let ep_t = n.table("emailpassword_user_to_tenant")?;
        let ev = n.table("emailverification_verified_emails")?;
        let tp_t = n.table("thirdparty_user_to_tenant")?;
        let pl_t = n.table("passwordless_user_to_tenant")?;
        // The primary ids of the tenant's users whose login methods match ($1, $2: app and tenant).
        let scope = "app_id = $1 AND tenant_id = $2";
        let primary_ids = |matching: String| {
            format!("SELECT DISTINCT primary_or_recipe_user_id FROM {all} WHERE {scope} AND user_id IN ({matching})")
        };
        // A login method per row of `m` (app_id_to_user_id): its recipe's row (joined only for its
        // recipe), sorted tenant ids, external id, and whether its email is verified under the id the
        // application uses (the external one when mapped); then `extra` columns.
        let (um, tp, pl) = (n.table("userid_mapping")?, n.table("thirdparty_users")?, n.table("passwordless_users")?);
        let wa = n.table("webauthn_users")?;
        let wa_t = n.table("webauthn_user_to_tenant")?;
        let wa_c = n.table("webauthn_credentials")?;
        let methods = |extra: &str| {
            format!(
                "SELECT m.user_id, m.primary_or_recipe_user_id, m.recipe_id, m.is_linked_or_is_a_primary_user, \
                 ARRAY(SELECT t.tenant_id FROM {all} t WHERE t.app_id = m.app_id AND t.user_id = m.user_id ORDER BY t.tenant_id), \
                 um.external_user_id, ep.email, ep.password_hash, ep.time_joined, tp.third_party_id, tp.third_party_user_id, \
                 tp.email, tp.time_joined, pl.email, pl.phone_number, pl.time_joined, \
                 EXISTS (SELECT 1 FROM {ev} v WHERE v.app_id = m.app_id \
                         AND v.user_id = COALESCE(um.external_user_id, m.user_id::text) \
                         AND v.email = COALESCE(ep.email, tp.email, pl.email, wa.email)), \
                 wa.email, wa.time_joined, \
                 ARRAY(SELECT c.id FROM {wa_c} c WHERE wa.user_id IS NOT NULL AND c.app_id = m.app_id AND c.user_id = m.user_id \
                       ORDER BY c.created_at, c.id){extra} \
                 FROM {app_users} m \
                 LEFT JOIN {um} um ON um.app_id = m.app_id AND um.supertokens_user_id = m.user_id \
                 LEFT JOIN {ep} ep ON m.recipe_id = 'emailpassword' AND ep.app_id = m.app_id AND ep.user_id = m.user_id \
                 LEFT JOIN {tp} tp ON m.recipe_id = 'thirdparty' AND tp.app_id = m.app_id AND tp.user_id = m.user_id \
                 LEFT JOIN {pl} pl ON m.recipe_id = 'passwordless' AND pl.app_id = m.app_id AND pl.user_id = m.user_id \
                 LEFT JOIN {wa} wa ON m.recipe_id = 'webauthn' AND wa.app_id = m.app_id AND wa.user_id = m.user_id"
            )
        };
        let users = |ids: &str| {
            format!(
                "{} JOIN {app_users} w ON w.app_id = m.app_id AND w.primary_or_recipe_user_id = m.primary_or_recipe_user_id \
                 WHERE w.app_id = $1 AND w.user_id {ids} ORDER BY m.user_id",
                methods(", w.user_id")
            )
        };
        let mut delete_keyed = Vec::new();
        for (t, _) in NON_AUTH_TABLES {
            delete_keyed.push(format!("DELETE FROM {} WHERE app_id = $1 AND user_id = $2", n.table(t)?));
        }
        Ok(Statements {
            insert_app_user: format!(
                "INSERT INTO {app_users} (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES ($1, $2, $3, $2)"
            ),
            insert_all_auth: format!(
                "INSERT INTO {all} (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, \
                 recipe_id, time_joined, primary_or_recipe_user_time_joined) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            insert_ep_user: format!(
                "INSERT INTO {ep} (app_id, user_id, email, password_hash, time_joined) VALUES ($1, $2, $3, $4, $5)"
            ),
            insert_ep_tenant: format!("INSERT INTO {ep_t} (app_id, tenant_id, user_id, email) VALUES ($1, $2, $3, $4)"),
            method: format!("{} WHERE m.app_id = $1 AND m.user_id = $2", methods("")),
            // The user of an id ($2), or of each of a list ($2, an array), with all their login methods,
            // by the linked group (primary_or_recipe_user_id), in one statement: one round trip, one
            // snapshot. One id has its own statement: with `= ANY($2)` PostgreSQL's generic plan
            // expects ten ids and it re-plans the six-table join (~2 ms of CPU) for every single read.
            user: users("= $2"),
            users: users("= ANY($2)"),
            pl_user: format!(
                "SELECT email, phone_number, time_joined FROM {} WHERE app_id = $1 AND user_id = $2",
                n.table("passwordless_users")?
            ),
            insert_tp_tenant: format!(
                "INSERT INTO {tp_t} (app_id, tenant_id, user_id, third_party_id, third_party_user_id) VALUES ($1, $2, $3, $4, $5)"
            ),
            insert_wa_tenant: format!("INSERT INTO {wa_t} (app_id, tenant_id, user_id, email) VALUES ($1, $2, $3, $4)"),
            insert_pl_tenant: format!("INSERT INTO {pl_t} (app_id, tenant_id, user_id, email, phone_number) VALUES ($1, $2, $3, $4, $5)"),
            delete_pl_devices_by_email: format!("DELETE FROM {} WHERE app_id = $1 AND email = $2", n.table("passwordless_devices")?),
            delete_pl_devices_by_phone: format!(
                "DELETE FROM {} WHERE app_id = $1 AND phone_number = $2",
                n.table("passwordless_devices")?
            ),
            external_of: format!(
                "SELECT external_user_id FROM {} WHERE app_id = $1 AND supertokens_user_id = $2",
                n.table("userid_mapping")?
            ),
            ep_by_email: format!("SELECT user_id FROM {ep_t} WHERE app_id = $1 AND tenant_id = $2 AND email = $3"),
            ids_by_email: primary_ids(format!(
                "SELECT user_id FROM {ep_t} WHERE {scope} AND email = $3 \
                 UNION SELECT t.user_id FROM {tp_t} t JOIN {tp} u ON u.app_id = t.app_id AND u.user_id = t.user_id \
                 WHERE t.app_id = $1 AND t.tenant_id = $2 AND u.email = $3 \
                 UNION SELECT user_id FROM {pl_t} WHERE {scope} AND email = $3 \
                 UNION SELECT user_id FROM {wa_t} WHERE {scope} AND email = $3"
            )),
            ids_by_phone: primary_ids(format!("SELECT user_id FROM {pl_t} WHERE {scope} AND phone_number = $3")),
            ids_by_third_party: primary_ids(format!(
                "SELECT user_id FROM {tp_t} WHERE {scope} AND third_party_id = $3 AND third_party_user_id = $4"
            )),
            // The credential's user, when it is in the tenant (the outer query's scope).
            ids_by_webauthn_credential: primary_ids(format!("SELECT user_id FROM {wa_c} WHERE app_id = $1 AND id = $3")),
            primary_time: format!(
                "SELECT MIN(primary_or_recipe_user_time_joined) FROM {all} WHERE app_id = $1 AND primary_or_recipe_user_id = $2"
            ),
            delete_all_auth: format!("DELETE FROM {all} WHERE app_id = $1 AND tenant_id = $2 AND user_id = $3"),
            delete_keyed,
            delete_app_user: format!("DELETE FROM {app_users} WHERE app_id = $1 AND user_id = $2"),
            // webauthn_users takes its credentials with it (cascade).
            delete_login_rows: ["all_auth_recipe_users", "emailpassword_pswd_reset_tokens", "emailpassword_users", "thirdparty_users", "passwordless_users",
                "webauthn_account_recovery_tokens", "webauthn_users"]
                .into_iter()
                .map(|t| Ok(format!("DELETE FROM {} WHERE app_id = $1 AND user_id = $2", n.table(t)?)))
                .collect::<Result<_, String>>()?,
            all_auth: all.to_owned(),
            search_tables: [ep_t.to_owned(), tp.to_owned(), pl_t.to_owned()],
        })
    }
}

fn is_unique_violation(e: &WorkError) -> bool {
    matches!(e, WorkError::Pg(pg) if pg.code() == Some(&SqlState::UNIQUE_VIOLATION))
}

/// Runs a write whose unique-constraint failure is an answer, not an error. PostgreSQL aborts the
/// transaction on the failure, so the work that follows must not touch the database again: the
/// runner's COMMIT then rolls everything back.
pub(crate) async fn unique<F: std::future::Future<Output = Result<u64, tokio_postgres::Error>>>(f: F) -> Result<bool, WorkError> {
    match f.await.map_err(WorkError::from) {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub async fn ep_create(
    db: Conn<'_>,
    sql: &Statements,
    (app, tenant, user): (&str, &str, &str),
    email: &str,
    hash: &str,
    time_joined: i64,
) -> Result<bool, WorkError> {
    let recipe = RecipeId::EmailPassword.as_str();
    db.execute(&sql.insert_app_user, &[&app, &user, &recipe]).await?;
    db.execute(&sql.insert_all_auth, &[&app, &tenant, &user, &user, &false, &recipe, &time_joined, &time_joined]).await?;
    db.execute(&sql.insert_ep_user, &[&app, &user, &email, &hash, &time_joined]).await?;
    unique(db.execute(&sql.insert_ep_tenant, &[&app, &tenant, &user, &email])).await
}

/// A login method from a row of the `method`/`users` statements; None when its recipe is unknown or
/// its recipe's row is missing (as if the user did not exist).
fn method_from_row(r: &tokio_postgres::Row) -> Result<Option<LoginMethod>, WorkError> {
    // CHAR(36) columns come back space-padded only for shorter values; ids are 36 characters.
    let id = |i: usize| -> Result<String, WorkError> { Ok(r.try_get::<_, String>(i)?.trim_end().to_owned()) };
    let Some(recipe_id) = RecipeId::parse(r.try_get(2)?) else { return Ok(None) };
    let mut m = LoginMethod {
        recipe_id,
        recipe_user_id: id(0)?,
        external_user_id: r.try_get(5)?,
        primary_user_id: id(1)?,
        is_linked_or_primary: r.try_get(3)?,
        tenant_ids: r.try_get(4)?,
        time_joined: 0,
        email: None,
        phone_number: None,
        third_party: None,
        verified: r.try_get(16)?,
        password_hash: None,
        webauthn_credential_ids: Vec::new(),
    };
    let time_joined: Option<i64> = match recipe_id {
        RecipeId::EmailPassword => {
            m.email = r.try_get(6)?;
            m.password_hash = r.try_get(7)?;
            r.try_get(8)?
        }
        RecipeId::ThirdParty => {
            let (id, user_id): (Option<String>, Option<String>) = (r.try_get(9)?, r.try_get(10)?);
            m.third_party = id.zip(user_id).map(|(id, user_id)| ThirdPartyInfo { id, user_id });
            m.email = r.try_get(11)?;
            r.try_get(12)?
        }
        RecipeId::Passwordless => {
            m.email = r.try_get(13)?;
            m.phone_number = r.try_get(14)?;
            r.try_get(15)?
        }
        RecipeId::WebAuthn => {
            m.email = r.try_get(17)?;
            m.webauthn_credential_ids = r.try_get(19)?;
            r.try_get(18)?
        }
    };
    // A phone number is proven by the code that signed the user in, as the core reports.
    if m.email.is_none() {
        m.verified = true;
    }
    // time_joined is NOT NULL in each recipe table: NULL means the LEFT JOIN found no row.
    Ok(time_joined.map(|t| LoginMethod { time_joined: t, ..m }))
}

pub async fn login_method(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<Option<LoginMethod>, WorkError> {
    match db.query_opt(&sql.method, &[&app, &user]).await? {
        Some(r) => method_from_row(&r),
        None => Ok(None),
    }
}

async fn external_of(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<Option<String>, WorkError> {
    Ok(db.query_opt(&sql.external_of, &[&app, &user]).await?.map(|r| r.try_get(0)).transpose()?)
}

/// The users of `ids` (primary or recipe user ids), in the order of the ids, unknown ids left out:
/// one statement reads every login method of their linked groups.
pub async fn get_users(db: Conn<'_>, sql: &Statements, app: &str, ids: &[String]) -> Result<Vec<User>, WorkError> {
    let rows = match ids {
        [id] => db.query(&sql.user, &[&app, id]).await?,
        _ => db.query(&sql.users, &[&app, &ids]).await?,
    };
    // Rows come in member order; group them by the id asked for (the last column).
    let mut groups: HashMap<String, (String, Vec<LoginMethod>)> = HashMap::new();
    for r in &rows {
        let asked = r.try_get::<_, String>(20)?.trim_end().to_owned();
        let primary = r.try_get::<_, String>(1)?.trim_end().to_owned();
        let group = groups.entry(asked).or_insert_with(|| (primary, Vec::new()));
        group.1.extend(method_from_row(r)?);
    }
    Ok(ids
        .iter()
        .filter_map(|id| {
            let (primary, login_methods) = groups.get(id.trim_end())?.clone();
            // A group whose primary login method was deleted (its id row stays for the linked
            // ones) is still primary; a group with no login method left is no user.
            if login_methods.is_empty() {
                return None;
            }
            let is_primary = login_methods.iter().any(|m| m.is_linked_or_primary);
            Some(User { id: primary, is_primary, login_methods })
        })
        .collect())
}

pub async fn get_user(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<Option<User>, WorkError> {
    Ok(get_users(db, sql, app, &[user.to_owned()]).await?.pop())
}

pub async fn ep_by_email(db: Conn<'_>, sql: &Statements, (app, tenant, email): (&str, &str, &str)) -> Result<Option<LoginMethod>, WorkError> {
    match db.query_opt(&sql.ep_by_email, &[&app, &tenant, &email]).await? {
        Some(r) => {
            let user: String = r.try_get::<_, String>(0)?.trim_end().to_owned();
            login_method(db, sql, app, &user).await
        }
        None => Ok(None),
    }
}

pub async fn ids_by_account_info(db: Conn<'_>, sql: &Statements, (app, tenant): (&str, &str), info: &AccountInfo) -> Result<Vec<String>, WorkError> {
    let statement = match info {
        AccountInfo::Email(_) => &sql.ids_by_email,
        AccountInfo::PhoneNumber(_) => &sql.ids_by_phone,
        AccountInfo::ThirdParty { .. } => &sql.ids_by_third_party,
        AccountInfo::WebauthnCredentialId(_) => &sql.ids_by_webauthn_credential,
    };
    let values = info.values();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&app, &tenant];
    params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
    let rows = db.query(statement, &params).await?;
    rows.iter().map(|r| Ok(r.try_get::<_, String>(0)?.trim_end().to_owned())).collect()
}

/// The search part of a filter: its `IN (...)` subquery with placeholders numbered from `first`,
/// and the values to bind to them.
fn search_sql(f: &UserFilter, sql: &Statements, first: usize) -> Option<(String, Vec<String>)> {
    let plan = f.search.as_ref()?.plan();
    let mut values = Vec::new();
    let [ep_t, tp, pl_t] = &sql.search_tables;
    let mut parts = Vec::new();
    if let Some(r) = &plan.emailpassword {
        parts.push(format!("SELECT user_id FROM {ep_t} WHERE app_id = $1 AND {}", like_any("email", &r.emails, first, &mut values)));
    }
    if let Some(r) = &plan.thirdparty {
        // `thirdparty_users` alone holds the provider and the email, keyed by (app, user): the planner
        // can then walk the page order and probe each row's user by key, stopping at the page's end
        // (at 1M users, half of them with the provider: 19 ms; joined with the per-tenant table,
        // which has no key by user alone, it hashed every match: 2.4 s). The outer query's tenant
        // rows exist only for users that are in that tenant's table too.
        let conditions = conditions("app_id = $1", [("email", &r.emails), ("third_party_id", &r.providers)], first, &mut values);
        parts.push(format!("SELECT user_id FROM {tp} WHERE {conditions}"));
    }
    if let Some(r) = &plan.passwordless {
        let conditions = conditions("app_id = $1", [("email", &r.emails), ("phone_number", &r.phones)], first, &mut values);
        parts.push(format!("SELECT user_id FROM {pl_t} WHERE {conditions}"));
    }
    if parts.is_empty() {
        // Email, phone and provider together: no login method has all three.
        return Some(("(SELECT user_id FROM (SELECT NULL AS user_id) AS none WHERE 1 = 0)".into(), values));
    }
    Some((format!("({})", parts.join(" UNION ")), values))
}

/// `(column LIKE $n ESCAPE '\' OR …)` over the patterns, bound from placeholder `first` on.
fn like_any(column: &str, patterns: &[String], first: usize, values: &mut Vec<String>) -> String {
    let alternatives: Vec<String> = patterns
        .iter()
        .map(|pattern| {
            values.push(pattern.clone());
            format!("{column} LIKE ${} ESCAPE '\\'", first + values.len() - 1)
        })
        .collect();
    format!("({})", alternatives.join(" OR "))
}

/// `scope AND` a [`like_any`] for each column that has patterns.
fn conditions(scope: &str, columns: [(&str, &Vec<String>); 2], first: usize, values: &mut Vec<String>) -> String {
    let mut out = vec![scope.to_owned()];
    for (column, patterns) in columns {
        if !patterns.is_empty() {
            out.push(like_any(column, patterns, first, values));
        }
    }
    out.join(" AND ")
}

/// The WHERE clause of a filter and its parameters ($1 is the app id).
fn filter_sql<'a>(
    app: &'a &'a str,
    f: &'a UserFilter,
    recipes: &'a [&'a str],
    search: &'a Option<(String, Vec<String>)>,
) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
    let mut sql = String::from("app_id = $1");
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![app];
    if let Some(t) = &f.tenant_id {
        params.push(t);
        sql.push_str(&format!(" AND tenant_id = ${}", params.len()));
    }
    if !recipes.is_empty() {
        let marks: Vec<String> = recipes
            .iter()
            .map(|r| {
                params.push(r);
                format!("${}", params.len())
            })
            .collect();
        sql.push_str(&format!(" AND recipe_id IN ({})", marks.join(", ")));
    }
    if let Some((matching, values)) = search {
        params.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
        sql.push_str(&format!(" AND user_id IN {matching}"));
    }
    (sql, params)
}

/// Where a filter's search placeholders start: after the app, the tenant and the recipes.
fn search_start(f: &UserFilter) -> usize {
    2 + usize::from(f.tenant_id.is_some()) + f.recipe_ids.len()
}

pub async fn list(
    db: Conn<'_>,
    sql: &Statements,
    (app, filter): (&str, &UserFilter),
    ascending: bool,
    limit: i64,
    after: &Option<(i64, String)>,
) -> Result<UserPage, WorkError> {
    let recipes: Vec<&str> = filter.recipe_ids.iter().map(|r| r.as_str()).collect();
    let search = search_sql(filter, sql, search_start(filter));
    let (mut clause, mut params) = filter_sql(&app, filter, &recipes, &search);
    if let Some((time, id)) = after {
        params.push(time);
        let t = params.len();
        params.push(id);
        let i = params.len();
        // Newest first orders both columns descending: one row comparison, which the index serves
        // (measured at 1M users: 265 ms with the OR form, 0.2 ms). Oldest first mixes directions and
        // needs the OR form; the `>=` before it is the index's start (at 1M users, half-way down:
        // 540 ms without it, 0.08 ms; see docs/benchmarks.md, issue 24).
        if ascending {
            clause.push_str(&format!(
                " AND primary_or_recipe_user_time_joined >= ${t} \
                 AND (primary_or_recipe_user_time_joined > ${t} OR (primary_or_recipe_user_time_joined = ${t} \
                 AND primary_or_recipe_user_id <= ${i}))"
            ));
        } else {
            clause.push_str(&format!(" AND (primary_or_recipe_user_time_joined, primary_or_recipe_user_id) <= (${t}, ${i})"));
        }
    }
    params.push(&limit);
    let order = if ascending { "ASC" } else { "DESC" };
    let query = format!(
        "SELECT DISTINCT primary_or_recipe_user_id, primary_or_recipe_user_time_joined FROM {} WHERE {clause} \
         ORDER BY primary_or_recipe_user_time_joined {order}, primary_or_recipe_user_id DESC LIMIT ${}",
        sql.all_auth,
        params.len()
    );
    let rows = db.query(&query, &params).await?;
    rows.iter().map(|r| Ok((r.try_get::<_, String>(0)?.trim_end().to_owned(), r.try_get(1)?))).collect()
}

/// The number of distinct primary user ids of the rows matching `clause` (unqualified columns of
/// `all_auth_recipe_users`), exactly, without sorting every row's id (at 1M users in one tenant:
/// 1.2–1.8 s for `COUNT(DISTINCT primary_or_recipe_user_id)`, which sorts them all; 0.35–0.42 s for this).
///
/// Within one tenant a user id has at most one row (primary key), so the groups whose primary's own
/// row matches are counted by `COUNT(*)` of the rows with `user_id = primary_or_recipe_user_id`; the
/// other groups have only linked rows matching (`user_id <> primary_or_recipe_user_id`, few), whose
/// primary ids are collected in one array and counted when their primary's own row does not match.
/// Across tenants a user has a row per tenant, so that case groups by primary id (an index-ordered
/// scan when the planner finds one, no sort).
fn count_sql(all_auth: &str, clause: &str, one_tenant: bool) -> String {
    if !one_tenant {
        return format!("SELECT COUNT(*) FROM (SELECT primary_or_recipe_user_id FROM {all_auth} WHERE {clause} GROUP BY 1) g");
    }
    format!(
        "WITH s AS (SELECT COUNT(*) FILTER (WHERE user_id = primary_or_recipe_user_id) AS own, \
         array_agg(DISTINCT primary_or_recipe_user_id) FILTER (WHERE user_id <> primary_or_recipe_user_id) AS linked \
         FROM {all_auth} WHERE {clause}) \
         SELECT own + (SELECT COUNT(*) FROM unnest(linked) l(id) WHERE NOT EXISTS (SELECT 1 FROM {all_auth} \
         WHERE {clause} AND user_id = l.id AND primary_or_recipe_user_id = user_id)) FROM s"
    )
}

pub async fn count(db: Conn<'_>, sql: &Statements, app: &str, filter: &UserFilter) -> Result<u64, WorkError> {
    let recipes: Vec<&str> = filter.recipe_ids.iter().map(|r| r.as_str()).collect();
    let search = search_sql(filter, sql, search_start(filter));
    let (clause, params) = filter_sql(&app, filter, &recipes, &search);
    let query = count_sql(&sql.all_auth, &clause, filter.tenant_id.is_some());
    let row = db.query_opt(&query, &params).await?;
    Ok(row.map(|r| r.try_get::<_, i64>(0)).transpose()?.unwrap_or(0) as u64)
}

/// Adds a login method to a tenant. PostgreSQL's unique constraints decide conflicts (the
/// transaction is then aborted: nothing is kept), and the violated constraint's name says which.
async fn join_tenant(db: Conn<'_>, sql: &Statements, (app, tenant): (&str, &str), m: &LoginMethod, group_time: i64) -> Result<TenantJoin, WorkError> {
    let (user, recipe) = (&m.recipe_user_id, m.recipe_id.as_str());
    let params: [&(dyn ToSql + Sync); 8] = [&app, &tenant, user, &m.primary_user_id, &m.is_linked_or_primary, &recipe, &m.time_joined, &group_time];
    match db.execute(&sql.insert_all_auth, &params).await {
        // Its only unique key is (app, tenant, user): a concurrent association of this user won.
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => return Ok(TenantJoin::AlreadyThere),
        other => other?,
    };
    // The recipe's per-tenant row: its unique constraints are the tenant's uniqueness rules.
    let inserted = match m.recipe_id {
        RecipeId::EmailPassword => db.execute(&sql.insert_ep_tenant, &[&app, &tenant, user, &m.email]).await,
        RecipeId::ThirdParty => {
            let tp = m.third_party.as_ref().ok_or_else(|| WorkError::Invalid("third-party user without provider".into()))?;
            db.execute(&sql.insert_tp_tenant, &[&app, &tenant, user, &tp.id, &tp.user_id]).await
        }
        RecipeId::Passwordless => db.execute(&sql.insert_pl_tenant, &[&app, &tenant, user, &m.email, &m.phone_number]).await,
        RecipeId::WebAuthn => db.execute(&sql.insert_wa_tenant, &[&app, &tenant, user, &m.email]).await,
    };
    match inserted {
        Ok(_) => Ok(TenantJoin::Joined),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            let constraint = e.as_db_error().and_then(|d| d.constraint()).unwrap_or_default().to_owned();
            Ok(if constraint.contains("phone_number") {
                TenantJoin::PhoneNumberTaken
            } else if constraint.contains("third_party_user_id") {
                TenantJoin::ThirdPartyTaken
            } else {
                TenantJoin::EmailTaken
            })
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn disassociate(db: Conn<'_>, sql: &Statements, (app, tenant, user): (&str, &str, &str)) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.delete_all_auth, &[&app, &tenant, &user]).await? > 0)
}

pub async fn delete(db: Conn<'_>, sql: &Statements, app: &str, users: &[String]) -> Result<bool, WorkError> {
    let mut existed = false;
    for user in users {
        existed |= delete_user(db, sql, app, user).await?;
    }
    Ok(existed)
}

/// Deletes a recipe user and everything keyed by its id. False when it did not exist.
pub async fn delete_user(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<bool, WorkError> {
    // Under both ids when mapped: the application's data is under the external one.
    let external = external_of(db, sql, app, user).await?;
    for id in std::iter::once(user).chain(external.as_deref()) {
        for statement in &sql.delete_keyed {
            db.execute(statement, &[&app, &id]).await?;
        }
    }
    delete_login_rows(db, sql, app, user).await?;
    // The rest cascades from app_id_to_user_id.
    Ok(db.execute(&sql.delete_app_user, &[&app, &user]).await? > 0)
}

/// Deletes a recipe user's login method (its recipe rows, tenants and passwordless sign-in
/// attempts) but not its `app_id_to_user_id` row, which linked users may reference.
pub async fn delete_login_rows(db: Conn<'_>, sql: &Statements, app: &str, user: &str) -> Result<(), WorkError> {
    if let Some(r) = db.query_opt(&sql.pl_user, &[&app, &user]).await? {
        let (email, phone): (Option<String>, Option<String>) = (r.try_get(0)?, r.try_get(1)?);
        db.execute(&sql.delete_pl_devices_by_email, &[&app, &email]).await?;
        db.execute(&sql.delete_pl_devices_by_phone, &[&app, &phone]).await?;
    }
    // The per-tenant recipe rows cascade from all_auth_recipe_users.
    for statement in &sql.delete_login_rows {
        db.execute(statement, &[&app, &user]).await?;
    }
    Ok(())
}

#[async_trait]
impl UserStorage for PgStorage {
    async fn get_user(&self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError> {
        // One statement: its own snapshot, no transaction needed.
        let ctx = (&self.sql, app_id, user_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, user)| Box::pin(get_user(db, &sql.users, app, user))).await
    }

    async fn get_users(&self, AppKey { app_id }: AppKey<'_>, user_ids: &[String]) -> Result<Vec<User>, StorageError> {
        let ctx = (&self.sql, app_id, user_ids);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, ids)| Box::pin(get_users(db, &sql.users, app, ids))).await
    }

    async fn list_users(
        &self,
        AppKey { app_id }: AppKey<'_>,
        filter: &UserFilter,
        ascending: bool,
        limit: usize,
        after: Option<(i64, String)>,
    ) -> Result<UserPage, StorageError> {
        let ctx = (&self.sql, (app_id, filter), ascending, i64::try_from(limit).unwrap_or(i64::MAX), after);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, key, asc, limit, after)| {
                Box::pin(list(db, &sql.users, *key, *asc, *limit, after))
            })
            .await
    }

    async fn count_users(&self, AppKey { app_id }: AppKey<'_>, filter: &UserFilter) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app_id, filter);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, filter)| Box::pin(count(db, &sql.users, app, filter))).await
    }

    async fn user_ids_by_account_info(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, info: &AccountInfo) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id), info);
        self.db.run(Mode::Read, &ctx, |db, (sql, key, info)| Box::pin(ids_by_account_info(db, &sql.users, *key, info))).await
    }

    async fn disassociate_user_from_tenant(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, recipe_user_id: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, recipe_user_id));
        self.db.run(Mode::Write, &ctx, |db, (sql, key)| Box::pin(disassociate(db, &sql.users, *key))).await
    }

    async fn delete_users(&self, AppKey { app_id }: AppKey<'_>, user_ids: &[String]) -> Result<bool, StorageError> {
        let ctx = (&self.sql, app_id, user_ids);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, users)| Box::pin(delete(db, &sql.users, app, users))).await
    }
}

#[async_trait]
impl UsersTx for PgTx<'_> {
    async fn users_get(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError> {
        let r = get_user(self.db, &self.sql.users, app_id, user_id).await;
        self.keep(r)
    }

    async fn users_login_method(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<Option<LoginMethod>, StorageError> {
        let r = login_method(self.db, &self.sql.users, app_id, user_id).await;
        self.keep(r)
    }

    async fn users_group_time(&mut self, AppKey { app_id }: AppKey<'_>, primary_user_id: &str) -> Result<Option<i64>, StorageError> {
        let (db, sql) = (self.db, &self.sql.users);
        let r = async { Ok(db.query_opt(&sql.primary_time, &[&app_id, &primary_user_id]).await?.and_then(|r| r.try_get::<_, Option<i64>>(0).ok().flatten())) }.await;
        self.keep(r)
    }

    async fn users_join_tenant(&mut self, TenantKey { app_id, tenant_id }: TenantKey<'_>, method: &LoginMethod, group_time: i64) -> Result<TenantJoin, StorageError> {
        let r = join_tenant(self.db, &self.sql.users, (app_id, tenant_id), method, group_time).await;
        self.keep(r)
    }

    async fn users_delete(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<bool, StorageError> {
        let r = delete_user(self.db, &self.sql.users, app_id, user_id).await;
        self.keep(r)
    }

    async fn users_delete_login_rows(&mut self, AppKey { app_id }: AppKey<'_>, user_id: &str) -> Result<(), StorageError> {
        let r = delete_login_rows(self.db, &self.sql.users, app_id, user_id).await;
        self.keep(r)
    }
}
