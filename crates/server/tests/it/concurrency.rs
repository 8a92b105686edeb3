//! Concurrency invariants (issue 9), on SQLite and PostgreSQL: many requests racing on one
//! email, one refresh token, one user's tenants, one tenant and its providers. Each test checks
//! the responses against what a serial execution allows and then reads the tables directly with a
//! checker (`Probe::violations`) that lists every broken schema invariant.
//!
//! Related races tested elsewhere (not repeated here): one passwordless code consumed at once
//! (`passwordless.rs`, `concurrent_consumes_of_one_code_give_one_user`), one TOTP code verified at
//! once (`totp.rs`, `concurrent_verifications_of_one_code_give_one_success`), one third-party
//! account's first sign-ins (`thirdparty.rs`), one external id mapped at once (`useridmapping.rs`),
//! concurrent metadata updates (`metadata.rs`).

use std::collections::{BTreeSet, HashMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use crate::common::{backends, config, Backend, TestApp};
use futures::future::join_all;
use serde_json::{json, Value};

/// Direct read access to the tables of one test application.
enum Probe {
    Sqlite(std::path::PathBuf),
    Postgres(tokio_postgres::Client),
}

/// Starts an application with cheap password hashing and a database the test can read too: a
/// SQLite file, or a PostgreSQL schema of our own naming.
async fn spawn(b: Backend) -> (TestApp, Probe) {
    let name = format!("conc_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    match b {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("portcullis-{name}.db"));
            let cfg = config(b, &[("BCRYPT_LOG_ROUNDS", "4"), ("PORTCULLIS_SQLITE_PATH", path.to_str().unwrap())]);
            (TestApp::spawn_with(cfg).await, Probe::Sqlite(path))
        }
        Backend::Postgres => {
            let cfg = config(b, &[("BCRYPT_LOG_ROUNDS", "4"), ("POSTGRESQL_TABLE_SCHEMA", &name)]);
            let app = TestApp::spawn_with(cfg).await;
            let uri = std::env::var("PORTCULLIS_TEST_PG_URI").unwrap();
            let (client, conn) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await.expect("probe connects");
            tokio::spawn(conn);
            client.batch_execute(&format!("SET search_path TO {name}")).await.unwrap();
            (app, Probe::Postgres(client))
        }
    }
}

impl Probe {
    /// Rows of a query whose columns are all text.
    async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            Probe::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut st = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let n = st.column_count();
                let rows = st.query_map([], |r| (0..n).map(|i| r.get::<_, String>(i)).collect::<Result<Vec<_>, _>>());
                rows.unwrap().map(Result::unwrap).collect()
            }
            Probe::Postgres(c) => {
                let rows = c.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.iter().map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect()).collect()
            }
        }
    }

    /// Every broken schema invariant, one line each (none when the data is consistent).
    async fn violations(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (rule, sql) in INVARIANTS {
            for row in self.rows(sql).await {
                found.push(format!("{rule}: {}", row.join(" ")));
            }
        }
        found
    }

    async fn assert_consistent(&self, what: &str) {
        let v = self.violations().await;
        assert!(v.is_empty(), "{what}: schema invariants violated:\n{}", v.join("\n"));
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Probe::Sqlite(path) = self {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

/// The checker: each query returns the rows that break its rule (as text, portable SQL).
const INVARIANTS: &[(&str, &str)] = &[
    (
        "two primary users with one email in a tenant",
        "WITH grp AS (SELECT app_id, primary_or_recipe_user_id AS p, user_id FROM app_id_to_user_id
                      WHERE is_linked_or_is_a_primary_user),
              mail AS (SELECT g.app_id, g.p, e.email FROM grp g JOIN emailpassword_users e ON e.app_id = g.app_id AND e.user_id = g.user_id
                       UNION SELECT g.app_id, g.p, t.email FROM grp g JOIN thirdparty_users t ON t.app_id = g.app_id AND t.user_id = g.user_id
                       UNION SELECT g.app_id, g.p, l.email FROM grp g JOIN passwordless_users l ON l.app_id = g.app_id AND l.user_id = g.user_id
                             WHERE l.email IS NOT NULL),
              ten AS (SELECT DISTINCT g.app_id, g.p, a.tenant_id FROM grp g
                      JOIN all_auth_recipe_users a ON a.app_id = g.app_id AND a.user_id = g.user_id)
         SELECT ten.tenant_id, mail.email FROM mail JOIN ten ON ten.app_id = mail.app_id AND ten.p = mail.p
         GROUP BY mail.app_id, ten.tenant_id, mail.email HAVING COUNT(DISTINCT mail.p) > 1",
    ),
    (
        "a user linked to another that is not flagged linked, or whose primary is not flagged",
        "SELECT u.user_id, u.primary_or_recipe_user_id FROM app_id_to_user_id u
         JOIN app_id_to_user_id p ON p.app_id = u.app_id AND p.user_id = u.primary_or_recipe_user_id
         WHERE u.user_id <> u.primary_or_recipe_user_id
           AND (NOT u.is_linked_or_is_a_primary_user OR NOT p.is_linked_or_is_a_primary_user
                OR p.primary_or_recipe_user_id <> p.user_id)",
    ),
    (
        "a recipe's user-to-tenant row without its all_auth_recipe_users row",
        "SELECT t.tenant_id, t.user_id, t.recipe_id FROM (
            SELECT app_id, tenant_id, user_id, 'emailpassword' AS recipe_id FROM emailpassword_user_to_tenant
            UNION ALL SELECT app_id, tenant_id, user_id, 'thirdparty' FROM thirdparty_user_to_tenant
            UNION ALL SELECT app_id, tenant_id, user_id, 'passwordless' FROM passwordless_user_to_tenant) t
         WHERE NOT EXISTS (SELECT 1 FROM all_auth_recipe_users a WHERE a.app_id = t.app_id
            AND a.tenant_id = t.tenant_id AND a.user_id = t.user_id AND a.recipe_id = t.recipe_id)",
    ),
    (
        "an all_auth_recipe_users row without its recipe's user-to-tenant row",
        "SELECT a.tenant_id, a.user_id, a.recipe_id FROM all_auth_recipe_users a
         WHERE (a.recipe_id = 'emailpassword' AND NOT EXISTS (SELECT 1 FROM emailpassword_user_to_tenant t
                WHERE t.app_id = a.app_id AND t.tenant_id = a.tenant_id AND t.user_id = a.user_id))
            OR (a.recipe_id = 'thirdparty' AND NOT EXISTS (SELECT 1 FROM thirdparty_user_to_tenant t
                WHERE t.app_id = a.app_id AND t.tenant_id = a.tenant_id AND t.user_id = a.user_id))
            OR (a.recipe_id = 'passwordless' AND NOT EXISTS (SELECT 1 FROM passwordless_user_to_tenant t
                WHERE t.app_id = a.app_id AND t.tenant_id = a.tenant_id AND t.user_id = a.user_id))",
    ),
    (
        "an all_auth_recipe_users row that disagrees with app_id_to_user_id",
        "SELECT a.tenant_id, a.user_id FROM all_auth_recipe_users a WHERE NOT EXISTS (
            SELECT 1 FROM app_id_to_user_id u WHERE u.app_id = a.app_id AND u.user_id = a.user_id
            AND u.recipe_id = a.recipe_id AND u.primary_or_recipe_user_id = a.primary_or_recipe_user_id)",
    ),
    (
        "a user without the recipe's user row",
        "SELECT u.user_id, u.recipe_id FROM app_id_to_user_id u
         WHERE (u.recipe_id = 'emailpassword' AND NOT EXISTS (SELECT 1 FROM emailpassword_users e
                WHERE e.app_id = u.app_id AND e.user_id = u.user_id))
            OR (u.recipe_id = 'thirdparty' AND NOT EXISTS (SELECT 1 FROM thirdparty_users e
                WHERE e.app_id = u.app_id AND e.user_id = u.user_id))
            OR (u.recipe_id = 'passwordless' AND NOT EXISTS (SELECT 1 FROM passwordless_users e
                WHERE e.app_id = u.app_id AND e.user_id = u.user_id))",
    ),
    (
        "a tenant's copy of an account's email or phone differs from the user's",
        "SELECT t.tenant_id, t.user_id FROM emailpassword_user_to_tenant t JOIN emailpassword_users e
            ON e.app_id = t.app_id AND e.user_id = t.user_id WHERE e.email <> t.email
         UNION ALL SELECT t.tenant_id, t.user_id FROM passwordless_user_to_tenant t JOIN passwordless_users e
            ON e.app_id = t.app_id AND e.user_id = t.user_id
            WHERE COALESCE(e.email, '') <> COALESCE(t.email, '') OR COALESCE(e.phone_number, '') <> COALESCE(t.phone_number, '')
         UNION ALL SELECT t.tenant_id, t.user_id FROM thirdparty_user_to_tenant t JOIN thirdparty_users e
            ON e.app_id = t.app_id AND e.user_id = t.user_id
            WHERE e.third_party_id <> t.third_party_id OR e.third_party_user_id <> t.third_party_user_id",
    ),
    (
        "one email, phone or third-party account twice in a tenant of one recipe",
        "SELECT tenant_id, email FROM emailpassword_user_to_tenant GROUP BY app_id, tenant_id, email HAVING COUNT(*) > 1
         UNION ALL SELECT tenant_id, email FROM passwordless_user_to_tenant WHERE email IS NOT NULL
            GROUP BY app_id, tenant_id, email HAVING COUNT(*) > 1
         UNION ALL SELECT tenant_id, phone_number FROM passwordless_user_to_tenant WHERE phone_number IS NOT NULL
            GROUP BY app_id, tenant_id, phone_number HAVING COUNT(*) > 1
         UNION ALL SELECT tenant_id, third_party_user_id FROM thirdparty_user_to_tenant
            GROUP BY app_id, tenant_id, third_party_id, third_party_user_id HAVING COUNT(*) > 1",
    ),
    (
        "a user in a tenant that does not exist",
        "SELECT a.tenant_id, a.user_id FROM all_auth_recipe_users a WHERE NOT EXISTS (
            SELECT 1 FROM tenants t WHERE t.app_id = a.app_id AND t.tenant_id = a.tenant_id)",
    ),
    (
        "a tenant without its config, or a config without its tenant",
        "SELECT t.tenant_id, 'no config' FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM tenant_configs c
            WHERE c.app_id = t.app_id AND c.tenant_id = t.tenant_id)
         UNION ALL SELECT c.tenant_id, 'no tenant' FROM tenant_configs c WHERE NOT EXISTS (SELECT 1 FROM tenants t
            WHERE c.app_id = t.app_id AND c.tenant_id = t.tenant_id)",
    ),
    (
        "a provider or provider client left without its tenant config or provider",
        "SELECT p.tenant_id, p.third_party_id FROM tenant_thirdparty_providers p WHERE NOT EXISTS (
            SELECT 1 FROM tenant_configs c WHERE c.connection_uri_domain = p.connection_uri_domain
            AND c.app_id = p.app_id AND c.tenant_id = p.tenant_id)
         UNION ALL SELECT c.tenant_id, c.client_type FROM tenant_thirdparty_provider_clients c WHERE NOT EXISTS (
            SELECT 1 FROM tenant_thirdparty_providers p WHERE c.connection_uri_domain = p.connection_uri_domain
            AND c.app_id = p.app_id AND c.tenant_id = p.tenant_id AND c.third_party_id = p.third_party_id)",
    ),
    (
        "a session in a tenant that does not exist",
        "SELECT s.tenant_id, s.session_handle FROM session_info s WHERE NOT EXISTS (
            SELECT 1 FROM tenants t WHERE t.app_id = s.app_id AND t.tenant_id = s.tenant_id)",
    ),
];

fn status(v: &Value) -> &str {
    v["status"].as_str().unwrap_or_else(|| panic!("no status in {v}"))
}

/// A call that must answer 200 with JSON (never a 500 under contention).
async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    app.json("POST", path, Some(body)).await
}

async fn put(app: &TestApp, path: &str, body: Value) -> Value {
    app.json("PUT", path, Some(body)).await
}

async fn sign_up(app: &TestApp, tenant: &str, email: &str, password: &str) -> Value {
    post(app, &format!("/{tenant}/recipe/signup"), json!({"email": email, "password": password})).await
}

async fn create_tenant(app: &TestApp, tenant: &str) {
    let all = ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-phone", "link-email"];
    put(app, "/recipe/multitenancy/tenant/v2", json!({"tenantId": tenant, "firstFactors": all})).await;
}

// ---------------------------------------------------------------------------------------------
// Sign-ups

#[tokio::test]
async fn sixty_four_sign_ups_of_one_email_make_one_user() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        let passwords: Vec<String> = (0..64).map(|i| format!("pw-{i}")).collect();
        let results = join_all(passwords.iter().map(|p| sign_up(&app, "public", "race@example.com", p))).await;
        let ok: Vec<&Value> = results.iter().filter(|r| status(r) == "OK").collect();
        let exists = results.iter().filter(|r| **r == json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"})).count();
        assert_eq!((ok.len(), exists), (1, 63), "{b:?}: {results:?}");
        let rows = probe.rows("SELECT user_id FROM emailpassword_user_to_tenant WHERE email = 'race@example.com'").await;
        assert_eq!(rows, vec![vec![ok[0]["recipeUserId"].as_str().unwrap().to_owned()]], "{b:?}");
        assert_eq!(probe.rows("SELECT user_id FROM app_id_to_user_id").await.len(), 1, "{b:?}: no orphan user rows");
        // The winner's password is the one stored.
        let i = results.iter().position(|r| status(r) == "OK").unwrap();
        let signin = post(&app, "/public/recipe/signin", json!({"email": "race@example.com", "password": format!("pw-{i}")})).await;
        assert_eq!(status(&signin), "OK", "{b:?}: {signin}");
        probe.assert_consistent(&format!("{b:?}: after racing sign-ups")).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh (CDI 5.4, the core's legacy algorithm: algorithms.md §1.7). Refreshing with the current
// refresh token mints a child without changing the database; using a child promotes it; a token
// that is neither current nor a child of the current one is theft (the session is kept).

async fn refresh(app: &TestApp, token: &str) -> Value {
    post(app, "/recipe/session/refresh", json!({"refreshToken": token, "enableAntiCsrf": false, "useDynamicSigningKey": true})).await
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The refresh tokens of a batch of successful refreshes, checking each names `parent` as its parent
/// (the same `parentRefreshTokenHash1` in every access token) and that no two are equal.
fn children_of_one_parent(results: &[Value]) -> Vec<String> {
    let parents: HashSet<String> =
        results.iter().map(|r| claims(r["accessToken"]["token"].as_str().unwrap())["parentRefreshTokenHash1"].to_string()).collect();
    assert_eq!(parents.len(), 1, "every child names one parent: {parents:?}");
    assert!(!parents.contains("null"));
    let tokens: Vec<String> = results.iter().map(|r| r["refreshToken"]["token"].as_str().unwrap().to_owned()).collect();
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), tokens.len(), "each refresh mints its own child");
    tokens
}

#[tokio::test]
async fn thirty_two_refreshes_of_one_token_give_one_child_family() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        let s = post(&app, "/public/recipe/session", json!({"userId": "u", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false})).await;
        let handle = s["session"]["handle"].as_str().unwrap().to_owned();
        let stored_hash = || async { probe.rows("SELECT refresh_token_hash_2 FROM session_info").await };
        let rt0 = s["refreshToken"]["token"].as_str().unwrap().to_owned();
        let before = stored_hash().await;
        assert_eq!(before.len(), 1);

        // 32 refreshes with the current token: each is OK with its own child, and nothing is written.
        let results = join_all((0..32).map(|_| refresh(&app, &rt0))).await;
        assert!(results.iter().all(|r| status(r) == "OK"), "{b:?}: {results:?}");
        let children = children_of_one_parent(&results);
        assert_eq!(stored_hash().await, before, "{b:?}: refreshing with the current token changes nothing stored");

        // Two unpromoted children raced: exactly one is promoted; every use of the other is theft.
        let (a, c) = (&children[0], &children[1]);
        let raced = join_all((0..32).map(|i| refresh(&app, if i % 2 == 0 { a } else { c }))).await;
        let mut outcome: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (i, r) in raced.iter().enumerate() {
            outcome.entry(if i % 2 == 0 { "a" } else { "c" }).or_default().insert(status(r));
        }
        let ok = BTreeSet::from(["OK"]);
        let theft = BTreeSet::from(["TOKEN_THEFT_DETECTED"]);
        let (winner, loser) = if outcome["a"] == ok { (a, c) } else { (c, a) };
        let loser_key = if winner == a { "c" } else { "a" };
        assert_eq!(outcome[if winner == a { "a" } else { "c" }], ok, "{b:?}: {outcome:?}");
        assert_eq!(outcome[loser_key], theft, "{b:?}: the other child is a replay: {outcome:?}");
        let winners: Vec<Value> = raced.iter().enumerate().filter(|(i, _)| (i % 2 == 0) == (winner == a)).map(|(_, r)| r.clone()).collect();
        children_of_one_parent(&winners);
        for r in raced.iter().filter(|r| status(r) == "TOKEN_THEFT_DETECTED") {
            assert_eq!(r["session"]["handle"], handle.as_str(), "{b:?}: {r}");
        }
        let promoted = stored_hash().await;
        assert_ne!(promoted, before, "{b:?}: the winner was promoted");

        // The family lives on from the winner: the parent and every other child are replays; the
        // core does not revoke on theft (the SDK does), so the winner still refreshes.
        for t in std::iter::once(&rt0).chain(children.iter().filter(|t| *t != winner)) {
            assert_eq!(status(&refresh(&app, t).await), "TOKEN_THEFT_DETECTED", "{b:?}");
        }
        assert_eq!(status(&refresh(&app, winner).await), "OK", "{b:?}: {loser} lost");
        assert_eq!(stored_hash().await, promoted, "{b:?}: replays change nothing stored");
        assert_eq!(probe.rows("SELECT session_handle FROM session_info").await, vec![vec![handle.clone()]]);
        probe.assert_consistent(&format!("{b:?}: after racing refreshes")).await;
    }
}

#[tokio::test]
async fn thirty_two_refreshes_of_one_unpromoted_child_all_succeed() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        let s = post(&app, "/public/recipe/session", json!({"userId": "u", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false})).await;
        let child = refresh(&app, s["refreshToken"]["token"].as_str().unwrap()).await["refreshToken"]["token"].as_str().unwrap().to_owned();
        // The first promotes the child (the core under FOR UPDATE); the rest then find it current.
        let results = join_all((0..32).map(|_| refresh(&app, &child))).await;
        assert!(results.iter().all(|r| status(r) == "OK"), "{b:?}: {results:?}");
        children_of_one_parent(&results);
        let again = refresh(&app, &child).await;
        assert_eq!(status(&again), "OK", "{b:?}: the promoted child stays current until one of its children is used");
        probe.assert_consistent(&format!("{b:?}: after refreshes of one child")).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tenant association of one user

async fn associate(app: &TestApp, tenant: &str, user: &str) -> Value {
    post(app, &format!("/{tenant}/recipe/multitenancy/tenant/user"), json!({"recipeUserId": user})).await
}

async fn disassociate(app: &TestApp, tenant: &str, user: &str) -> Value {
    post(app, &format!("/{tenant}/recipe/multitenancy/tenant/user/remove"), json!({"recipeUserId": user})).await
}

#[tokio::test]
async fn concurrent_association_and_disassociation_of_one_user_keep_the_schema_consistent() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        for t in ["t1", "t2", "t3"] {
            create_tenant(&app, t).await;
        }
        let u = sign_up(&app, "public", "same@example.com", "pw").await["recipeUserId"].as_str().unwrap().to_owned();
        // Another user with the same email, in another tenant: only one of the two may join t3.
        let w = sign_up(&app, "t2", "same@example.com", "pw").await["recipeUserId"].as_str().unwrap().to_owned();

        // 48 operations on u's membership of t1 and t2 interleaved with w and u both joining t3.
        let ops = (0..48).map(|i| {
            let (app, u, w) = (&app, u.clone(), w.clone());
            async move {
                let tenant = if i % 2 == 0 { "t1" } else { "t2" };
                let r = match i % 6 {
                    0 | 1 => associate(app, tenant, &u).await,
                    2 | 3 => disassociate(app, tenant, &u).await,
                    4 => associate(app, "t3", &u).await,
                    _ => associate(app, "t3", &w).await,
                };
                (i, r)
            }
        });
        let results = join_all(ops).await;

        // Per tenant, a serial order alternates "joined" and "left", starting from "not a member"
        // (t2's starting member is w, so u only ever joins t2 if w's email did not block it).
        let member = |tenant: &str, user: &str| {
            let sql = format!("SELECT user_id FROM all_auth_recipe_users WHERE tenant_id = '{tenant}' AND user_id = '{user}'");
            let probe = &probe;
            async move { !probe.rows(&sql).await.is_empty() }
        };
        for tenant in ["t1"] {
            let joined = results.iter().filter(|(i, r)| i % 2 == 0 && i % 6 < 2 && r["wasAlreadyAssociated"] == false).count();
            let left = results.iter().filter(|(i, r)| i % 2 == 0 && (2..4).contains(&(i % 6)) && r["wasAssociated"] == true).count();
            let now = member(tenant, &u).await;
            assert_eq!(joined as i64 - left as i64, i64::from(now), "{b:?} {tenant}: joined {joined}, left {left}, member now {now}");
        }
        // u and w share an email: u can never join t2 (w is there), and at most one of them is in t3.
        for (i, r) in results.iter().filter(|(i, _)| i % 2 == 1 && i % 6 < 2) {
            assert_eq!(r, &json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}), "{b:?} op {i}");
        }
        let t3_ok: BTreeSet<&str> = results
            .iter()
            .filter(|(i, r)| i % 6 >= 4 && status(r) == "OK")
            .map(|(i, _)| if i % 6 == 4 { "u" } else { "w" })
            .collect();
        assert_eq!(t3_ok.len(), 1, "{b:?}: exactly one of two users with one email joins t3: {results:?}");
        for (_, r) in results.iter().filter(|(i, r)| i % 6 >= 4 && status(r) != "OK") {
            assert_eq!(r, &json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}), "{b:?}");
        }
        // What the API reports is what the tables hold.
        let user = app.json("GET", &format!("/user/id?userId={u}"), None).await;
        let mut api: Vec<String> = user["user"]["tenantIds"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        api.sort();
        let mut db: Vec<String> = probe
            .rows(&format!("SELECT tenant_id FROM all_auth_recipe_users WHERE user_id = '{u}'"))
            .await
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        db.sort();
        assert_eq!(api, db, "{b:?}");
        probe.assert_consistent(&format!("{b:?}: after racing tenant association")).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Account linking: links, unlinks and primary-user creations racing over users that share emails
// (more in accountlinking.rs, through the API only).

async fn linking(app: &TestApp, path: &str, body: Value) -> Value {
    app.json("POST", &format!("/recipe/accountlinking/user/{path}"), Some(body)).await
}

#[tokio::test]
async fn concurrent_links_unlinks_and_primary_users_keep_one_primary_user_per_email() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        // Pairs of third-party users with one email each, and two primary users to link them to.
        let mut users = Vec::new();
        for i in 0..6 {
            for side in ["a", "b"] {
                let body = json!({"thirdPartyId": "google", "thirdPartyUserId": format!("{side}-{i}"), "email": {"id": format!("u{i}@x.com"), "isVerified": false}});
                let r = app.json("POST", "/recipe/signinup", Some(body)).await;
                users.push(r["recipeUserId"].as_str().unwrap().to_owned());
            }
        }
        let mut primaries = Vec::new();
        for p in ["p1@x.com", "p2@x.com"] {
            let id = sign_up(&app, "public", p, "pw").await["recipeUserId"].as_str().unwrap().to_owned();
            assert_eq!(linking(&app, "primary", json!({"recipeUserId": id})).await["status"], "OK");
            primaries.push(id);
        }
        let ops = users.iter().enumerate().flat_map(|(i, u)| {
            let app = &app;
            let to = primaries[i % 2].clone();
            [
                linking(app, "link", json!({"recipeUserId": u, "primaryUserId": to})),
                linking(app, "primary", json!({"recipeUserId": u})),
                linking(app, "unlink", json!({"recipeUserId": u})),
            ]
        });
        for r in join_all(ops).await {
            let status = r["status"].as_str().unwrap_or_default();
            assert!(
                [
                    "OK",
                    "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR",
                    "RECIPE_USER_ID_ALREADY_LINKED_WITH_PRIMARY_USER_ID_ERROR",
                    "RECIPE_USER_ID_ALREADY_LINKED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR",
                ]
                .contains(&status),
                "{r}"
            );
        }
        probe.assert_consistent("after racing links, unlinks and primary users").await;
    }
}

// ---------------------------------------------------------------------------------------------
// One tenant, and one provider of it, created, updated and removed at once.
//
// How "the final state equals one serial order" is checked: every write sets the whole state (a
// full config numbered i), so a serial order ends either with the tenant (or provider) absent or
// exactly equal to one written config, never a mix of two. And in a serial order starting from
// "absent", creations (`createdNew: true`) and removals that found it (`didExist: true`) alternate,
// so their counts differ by 1 if it exists at the end and by 0 if not.

const FACTORS: [&str; 4] = ["emailpassword", "thirdparty", "otp-email", "link-email"];

/// Config number i: a distinct set of first factors and core config values.
fn tenant_config(i: usize) -> Value {
    let factors: Vec<&str> = FACTORS.iter().enumerate().filter(|(k, _)| (i >> k) & 1 == 1 || *k == 0).map(|(_, f)| *f).collect();
    json!({
        "tenantId": "race",
        "firstFactors": factors,
        "coreConfig": {"email_verification_token_lifetime": 1000 + i, "password_reset_token_lifetime": 2000 + i}
    })
}

#[tokio::test]
async fn concurrent_create_update_remove_of_one_tenant_end_in_a_serial_state() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        let ops = (0..40).map(|i| {
            let app = &app;
            async move {
                if i % 4 == 3 {
                    (i, post(app, "/recipe/multitenancy/tenant/remove", json!({"tenantId": "race"})).await)
                } else {
                    (i, put(app, "/recipe/multitenancy/tenant/v2", tenant_config(i)).await)
                }
            }
        });
        let results = join_all(ops).await;
        let created = results.iter().filter(|(_, r)| r["createdNew"] == true).count();
        let removed = results.iter().filter(|(_, r)| r["didExist"] == true).count();
        let got = app.json("GET", "/race/recipe/multitenancy/tenant/v2", None).await;
        let exists = status(&got) == "OK";
        assert_eq!(created as i64 - removed as i64, i64::from(exists), "{b:?}: created {created}, removed {removed}, {got}");
        if exists {
            let written: Vec<usize> = (0..40).filter(|i| i % 4 != 3).collect();
            let matches: Vec<usize> = written
                .iter()
                .copied()
                .filter(|&i| {
                    let c = tenant_config(i);
                    let mut want: Vec<&str> = c["firstFactors"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
                    let mut have: Vec<&str> = got["firstFactors"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
                    want.sort();
                    have.sort();
                    want == have && got["coreConfig"] == c["coreConfig"]
                })
                .collect();
            assert!(!matches.is_empty(), "{b:?}: the tenant is a mix of several writes: {got}");
            // The tables agree with the API.
            let factors = probe.rows("SELECT factor_id FROM tenant_first_factors WHERE tenant_id = 'race'").await;
            assert_eq!(factors.len(), got["firstFactors"].as_array().unwrap().len(), "{b:?}");
        } else {
            assert_eq!(got, json!({"status": "TENANT_NOT_FOUND_ERROR"}));
            assert!(probe.rows("SELECT tenant_id FROM tenant_configs WHERE tenant_id = 'race'").await.is_empty());
        }
        probe.assert_consistent(&format!("{b:?}: after racing tenant writes")).await;
    }
}

/// Provider config number i: a distinct name and a distinct set of clients.
fn provider_config(i: usize) -> Value {
    let mut clients = vec![json!({"clientType": "web", "clientId": format!("web-{i}"), "clientSecret": format!("s-{i}")})];
    if i.is_multiple_of(2) {
        clients.push(json!({"clientType": "mobile", "clientId": format!("mobile-{i}")}));
    }
    json!({
        "thirdPartyId": "custom",
        "name": format!("Provider {i}"),
        "clients": clients,
        "authorizationEndpoint": format!("https://example.com/{i}/authorize"),
        "tokenEndpoint": format!("https://example.com/{i}/token"),
        "userInfoEndpoint": format!("https://example.com/{i}/userinfo"),
        "userInfoMap": {"fromUserInfoAPI": {"userId": "id", "email": "email"}}
    })
}

/// The parts of a provider that differ between configs, in a comparable form.
fn provider_shape(p: &Value) -> (String, String, BTreeSet<String>) {
    let clients = p["clients"].as_array().unwrap().iter().map(|c| format!("{}={}", c["clientType"], c["clientId"])).collect();
    (p["name"].to_string(), p["authorizationEndpoint"].to_string(), clients)
}

#[tokio::test]
async fn concurrent_writes_and_removals_of_one_provider_end_in_a_serial_state() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        create_tenant(&app, "race").await;
        let path = "/race/recipe/multitenancy/config/thirdparty";
        let ops = (0..40).map(|i| {
            let app = &app;
            async move {
                if i % 4 == 3 {
                    (i, post(app, &format!("{path}/remove"), json!({"thirdPartyId": "custom"})).await)
                } else {
                    (i, put(app, path, json!({"config": provider_config(i), "skipValidation": true})).await)
                }
            }
        });
        let results = join_all(ops).await;
        let created = results.iter().filter(|(_, r)| r["createdNew"] == true).count();
        let removed = results.iter().filter(|(_, r)| r["didConfigExist"] == true).count();
        let got = app.json("GET", "/race/recipe/multitenancy/tenant/v2", None).await;
        let providers = got["thirdParty"]["providers"].as_array().unwrap();
        assert!(providers.len() <= 1, "{b:?}: {got}");
        assert_eq!(created as i64 - removed as i64, providers.len() as i64, "{b:?}: created {created}, removed {removed}, {got}");
        let clients = probe.rows("SELECT client_id FROM tenant_thirdparty_provider_clients WHERE tenant_id = 'race'").await;
        if let Some(p) = providers.first() {
            let shape = provider_shape(p);
            let matching = (0..40).filter(|i| i % 4 != 3).any(|i| provider_shape(&provider_config(i)) == shape);
            assert!(matching, "{b:?}: the provider is a mix of several writes: {p}");
            assert_eq!(clients.len(), shape.2.len(), "{b:?}: no client rows of other writes remain");
        } else {
            assert!(clients.is_empty(), "{b:?}: {clients:?}");
        }
        probe.assert_consistent(&format!("{b:?}: after racing provider writes")).await;
    }
}

#[tokio::test]
async fn concurrent_writes_of_different_providers_lose_none() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        create_tenant(&app, "race").await;
        let path = "/race/recipe/multitenancy/config/thirdparty";
        // In every serial order each provider is written once and none removed: all 16 remain.
        let ops = (0..16).map(|i| {
            let mut config = provider_config(i);
            config["thirdPartyId"] = json!(format!("custom-{i}"));
            put(&app, path, json!({"config": config, "skipValidation": true}))
        });
        for r in join_all(ops).await {
            assert_eq!(r, json!({"status": "OK", "createdNew": true}), "{b:?}");
        }
        let got = app.json("GET", "/race/recipe/multitenancy/tenant/v2", None).await;
        assert_eq!(got["thirdParty"]["providers"].as_array().unwrap().len(), 16, "{b:?}: {got}");
        assert_eq!(probe.rows("SELECT third_party_id FROM tenant_thirdparty_providers WHERE tenant_id = 'race'").await.len(), 16);
        probe.assert_consistent(&format!("{b:?}: after racing writes of different providers")).await;
    }
}

#[tokio::test]
async fn provider_writes_racing_the_tenants_removal_leave_nothing_behind() {
    for b in backends() {
        let (app, probe) = spawn(b).await;
        create_tenant(&app, "race").await;
        let path = "/race/recipe/multitenancy/config/thirdparty";
        let ops = (0..24).map(|i| {
            let app = &app;
            async move {
                if i == 12 {
                    let r = post(app, "/recipe/multitenancy/tenant/remove", json!({"tenantId": "race"})).await;
                    assert_eq!(r, json!({"status": "OK", "didExist": true}));
                } else {
                    // Before the removal: OK; after it: the tenant is unknown (400), never a 500.
                    let (s, text) = app.call("PUT", path, Some(json!({"config": provider_config(i), "skipValidation": true}))).await;
                    assert!(s == 200 || s == 400, "{s}: {text}");
                }
            }
        });
        join_all(ops).await;
        for table in ["tenant_configs", "tenant_thirdparty_providers", "tenant_thirdparty_provider_clients", "tenant_first_factors"] {
            let rows = probe.rows(&format!("SELECT tenant_id FROM {table} WHERE tenant_id = 'race'")).await;
            assert!(rows.is_empty(), "{b:?}: {table} keeps rows of the removed tenant: {rows:?}");
        }
        probe.assert_consistent(&format!("{b:?}: after a removal racing provider writes")).await;
    }
}
