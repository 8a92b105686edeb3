//! `workload`: the one-million-user workload of issue 24, shaped like the Java core's stress suite
//! (`stress-tests/src/oneMillionUsers`). Users are seeded in bulk (every one holding `role1`, as the
//! suite's imported users hold theirs), plus groups of users made through the normal sign-up paths
//! (email-password, passwordless by phone, third party google and facebook) with account linking, user
//! id mappings, a role and a session each. Then each read path is timed at every size, one request at
//! a time, and classified O(1) or O(n): time(last size) / time(first size) must stay within 3x for
//! O(1) steps and 15x for O(n) ones.
//!
//! The N users are queued with `POST /bulk-import/users` (10,000 a call) and imported by the worker,
//! as the suite seeds its million (`--seed api`, the default), or written straight into the tables
//! with multi-row INSERTs (`--seed sql`). Either way user i has the email `seed::email(i)`, joined at
//! `seed::time_joined(i)`, and holds `role1`; through the API it is also shaped like the suite's
//! generated users: an external id, and on every other user a google method, on every third a
//! passwordless method with a phone number, linked to the email-password one.
//!
//! Each step's time is the median (p50) of `iterations` timed requests after 3 warm-ups, with a
//! floor (`--ratio-floor-ms`, default 1 ms) under both times of a ratio: the Java suite times each
//! step once with a 50 ms floor, which would hide every O(1) step of a Rust server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::import::{queue_and_drain, PER_POST};
use crate::scale::{random_below, seed_range};
use crate::scenarios::{call_ok, client, enc};
use crate::seed;
use crate::server::{Backend, Server, ServerSpec};
use crate::stats::{Sampler, Summary};
use crate::{workdir, WorkloadArgs};

/// How the N users get in (`--seed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Seeding {
    /// `POST /bulk-import/users`, imported by the worker.
    Api,
    /// Multi-row INSERTs straight into the tables.
    Sql,
}

/// How a step's cost may grow with the number of users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Constant,
    Linear,
}

impl Class {
    pub fn label(self) -> &'static str {
        match self {
            Class::Constant => "O(1)",
            Class::Linear => "O(n)",
        }
    }
    /// The allowed time(large) / time(small) for sizes 10x apart.
    pub fn bound(self) -> f64 {
        match self {
            Class::Constant => 3.0,
            Class::Linear => 15.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    FirstPageDesc,
    FirstPageAsc,
    DeepPageDesc,
    DeepPageAsc,
    CountAllTenants,
    CountPublic,
    SearchEmail,
    SearchProvider,
    SearchEmailProvider,
    ThirdPartySignIn,
    EmailUpdateLinked,
    PhoneUpdateLinked,
    TenantAssociate,
    TenantDisassociate,
    LinkCheck,
    Unlink,
    DeleteLinked,
    ActiveUsers,
    RoleUsers,
    TotpVerify,
}

impl Step {
    pub const ALL: [Step; 20] = [
        Step::FirstPageDesc,
        Step::FirstPageAsc,
        Step::DeepPageDesc,
        Step::DeepPageAsc,
        Step::CountAllTenants,
        Step::CountPublic,
        Step::SearchEmail,
        Step::SearchProvider,
        Step::SearchEmailProvider,
        Step::ThirdPartySignIn,
        Step::EmailUpdateLinked,
        Step::PhoneUpdateLinked,
        Step::TenantAssociate,
        Step::TenantDisassociate,
        Step::LinkCheck,
        Step::Unlink,
        Step::DeleteLinked,
        Step::ActiveUsers,
        Step::RoleUsers,
        Step::TotpVerify,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Step::FirstPageDesc => "first_page_desc",
            Step::FirstPageAsc => "first_page_asc",
            Step::DeepPageDesc => "deep_page_desc",
            Step::DeepPageAsc => "deep_page_asc",
            Step::CountAllTenants => "count_all_tenants",
            Step::CountPublic => "count_public",
            Step::SearchEmail => "search_email_prefix",
            Step::SearchProvider => "search_provider",
            Step::SearchEmailProvider => "search_email_and_provider",
            Step::ThirdPartySignIn => "thirdparty_signin_existing",
            Step::EmailUpdateLinked => "email_update_linked",
            Step::PhoneUpdateLinked => "phone_update_linked",
            Step::TenantAssociate => "tenant_associate",
            Step::TenantDisassociate => "tenant_disassociate",
            Step::LinkCheck => "link_check",
            Step::Unlink => "unlink",
            Step::DeleteLinked => "delete_linked_user",
            Step::ActiveUsers => "active_users_count",
            Step::RoleUsers => "role_users",
            Step::TotpVerify => "totp_verify_many_used_codes",
        }
    }

    pub fn class(self) -> Class {
        match self {
            Step::CountAllTenants
            | Step::CountPublic
            | Step::SearchEmail
            | Step::SearchProvider
            | Step::SearchEmailProvider
            | Step::ActiveUsers
            | Step::RoleUsers => Class::Linear,
            _ => Class::Constant,
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|x| x.key() == s)
    }
}

/// One group of users made through the sign-up paths: an email-password user made primary, with a
/// passwordless (phone) user and a google user linked to it; and an unlinked facebook user.
#[derive(Clone, Debug)]
struct Group {
    primary: String,
    phone_user: String,
    google_user: String,
    /// The facebook user's sign-in data (third-party user id, email).
    facebook_account: (String, String),
    /// The facebook user's id as the API names it: its external user id (every other group is
    /// mapped), else its own id.
    facebook_ref: String,
}

struct Ctx {
    c: reqwest::Client,
    /// `<url>/public` (tenant-scoped calls) and `<url>` (app-scoped).
    base: String,
    groups: Vec<Group>,
    /// Users seeded in bulk (seeded user i for i < n).
    n: u64,
    /// Makes every email, phone number and id the run invents unique.
    uniq: Arc<AtomicU64>,
    /// The database, for the rows the API cannot write fast enough (TOTP used codes), and on
    /// PostgreSQL the qualified name of `totp_used_codes`.
    spec: ServerSpec,
    used_codes_table: String,
}

impl Ctx {
    fn next(&self) -> u64 {
        self.uniq.fetch_add(1, Ordering::Relaxed)
    }
    fn group(&self) -> &Group {
        &self.groups[random_below(self.groups.len() as u64) as usize]
    }
    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        call_ok(&self.c, method, format!("{}{path}", self.base), body).await
    }
    /// Times `PUT /recipe/user`, which serves two recipes told apart by the `rid` header.
    async fn timed_update(&self, rid: &str, body: Value) -> Result<Duration, String> {
        let t0 = Instant::now();
        let resp = self.c.put(format!("{}/recipe/user", self.base)).header("rid", rid).json(&body).send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        let d = t0.elapsed();
        if status != 200 || !text.contains("\"status\":\"OK\"") {
            return Err(format!("PUT /recipe/user ({rid}): {status} {text}"));
        }
        Ok(d)
    }
    /// Times one request that must answer 200 `"status":"OK"`.
    async fn timed(&self, method: Method, path: &str, body: Option<Value>) -> Result<(Duration, Value), String> {
        let t0 = Instant::now();
        let v = self.ok(method, path, body).await?;
        Ok((t0.elapsed(), v))
    }
}

fn str_of(v: &Value, path: &[&str]) -> Result<String, String> {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_str().map(str::to_owned).ok_or_else(|| format!("no {} in {v}", path.join(".")))
}

/// A NANP-shaped phone number unique per `k` (k < 10,000,000).
fn phone(area: u32, k: u64) -> String {
    format!("+1{area}{:07}", k % 10_000_000)
}

fn session_body(user_id: &str) -> Value {
    json!({"userId": user_id, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": true})
}

async fn sign_up(ctx: &Ctx, email: &str) -> Result<String, String> {
    let v = ctx.ok(Method::POST, "/public/recipe/signup", Some(json!({"email": email, "password": seed::SEED_PASSWORD}))).await?;
    str_of(&v, &["user", "id"])
}

async fn third_party(ctx: &Ctx, provider: &str, tp_user: &str, email: &str) -> Result<Value, String> {
    let body = json!({"thirdPartyId": provider, "thirdPartyUserId": tp_user, "email": {"id": email, "isVerified": true}});
    ctx.ok(Method::POST, "/public/recipe/signinup", Some(body)).await
}

async fn passwordless_phone(ctx: &Ctx, phone_number: &str) -> Result<String, String> {
    let code = ctx.ok(Method::POST, "/public/recipe/signinup/code", Some(json!({"phoneNumber": phone_number}))).await?;
    let body = json!({
        "preAuthSessionId": str_of(&code, &["preAuthSessionId"])?,
        "deviceId": str_of(&code, &["deviceId"])?,
        "userInputCode": str_of(&code, &["userInputCode"])?,
    });
    let v = ctx.ok(Method::POST, "/public/recipe/signinup/code/consume", Some(body)).await?;
    str_of(&v, &["user", "id"])
}

async fn link(ctx: &Ctx, recipe_user: &str, primary: &str) -> Result<(), String> {
    ctx.ok(Method::POST, "/recipe/accountlinking/user/link", Some(json!({"recipeUserId": recipe_user, "primaryUserId": primary}))).await.map(drop)
}

/// An email-password user made primary with a google user linked to it: the data of one delete.
async fn linked_pair(ctx: &Ctx) -> Result<String, String> {
    let k = ctx.next();
    let primary = sign_up(ctx, &format!("wl-del-{k}@bench.example")).await?;
    ctx.ok(Method::POST, "/recipe/accountlinking/user/primary", Some(json!({"recipeUserId": primary}))).await?;
    let g = third_party(ctx, "google", &format!("del-{k}"), &format!("wl-del-g-{k}@bench.example")).await?;
    link(ctx, &str_of(&g, &["user", "id"])?, &primary).await?;
    Ok(primary)
}

/// Makes group `g` through the sign-up paths (see `Group`), with a role and a session.
async fn make_group(ctx: &Ctx, g: usize) -> Result<Group, String> {
    let primary = sign_up(ctx, &format!("wl-{g}@bench.example")).await?;
    let phone_user = passwordless_phone(ctx, &phone(415, g as u64)).await?;
    let google = third_party(ctx, "google", &format!("g-{g}"), &format!("wl-g-{g}@bench.example")).await?;
    let google_user = str_of(&google, &["user", "id"])?;
    let facebook_account = (format!("f-{g}"), format!("wl-f-{g}@bench.example"));
    let facebook = third_party(ctx, "facebook", &facebook_account.0, &facebook_account.1).await?;
    let facebook_user = str_of(&facebook, &["user", "id"])?;
    ctx.ok(Method::POST, "/recipe/accountlinking/user/primary", Some(json!({"recipeUserId": primary}))).await?;
    link(ctx, &phone_user, &primary).await?;
    link(ctx, &google_user, &primary).await?;
    let facebook_ref = if g.is_multiple_of(2) {
        // 64 characters, as the suite's external ids.
        let external = format!("wl-external-{g:0>52}");
        ctx.ok(Method::POST, "/recipe/userid/map", Some(json!({"superTokensUserId": facebook_user, "externalUserId": external}))).await?;
        external
    } else {
        facebook_user
    };
    ctx.ok(Method::PUT, "/public/recipe/user/role", Some(json!({"userId": primary, "role": "admin"}))).await?;
    ctx.ok(Method::POST, "/public/recipe/session", Some(session_body(&primary))).await?;
    Ok(Group { primary, phone_user, google_user, facebook_account, facebook_ref })
}

/// Makes `count` groups over `concurrency` connections, in group order.
async fn make_groups(ctx: &Arc<Ctx>, count: usize, concurrency: usize) -> Result<Vec<Group>, String> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (ctx, next) = (Arc::clone(ctx), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let g = next.fetch_add(1, Ordering::Relaxed) as usize;
                if g >= count {
                    return Ok::<_, String>(out);
                }
                out.push((g, make_group(&ctx, g).await?));
            }
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    all.sort_by_key(|(g, _)| *g);
    Ok(all.into_iter().map(|(_, grp)| grp).collect())
}

/// Runs one iteration of `step`: untimed set-up, the timed request(s), untimed clean-up that puts
/// the data back as it was. Returns the time of the timed part.
async fn iteration(ctx: &Ctx, step: Step) -> Result<Duration, String> {
    let n = ctx.n.max(1);
    let get = |path: String| async move { ctx.timed(Method::GET, &path, None).await.map(|(d, _)| d) };
    match step {
        Step::FirstPageDesc => get("/public/users?limit=100&timeJoinedOrder=DESC".into()).await,
        Step::FirstPageAsc => get("/public/users?limit=100&timeJoinedOrder=ASC".into()).await,
        Step::DeepPageDesc => {
            let token = seed::page_token(AT_ANY_ID, seed::time_joined(n - 1 - n / 2));
            get(format!("/public/users?limit=100&timeJoinedOrder=DESC&paginationToken={}", enc(&token))).await
        }
        Step::DeepPageAsc => {
            let token = seed::page_token(AT_ANY_ID, seed::time_joined(n / 2));
            get(format!("/public/users?limit=100&timeJoinedOrder=ASC&paginationToken={}", enc(&token))).await
        }
        Step::CountAllTenants => get("/users/count?includeAllTenants=true".into()).await,
        Step::CountPublic => get("/public/users/count".into()).await,
        Step::SearchEmail => {
            // "seed-0001234" matches ten seeded users.
            let prefix = &seed::email(random_below(n) / 10 * 10)[..12];
            let (d, v) = ctx.timed(Method::GET, &format!("/public/users?limit=100&email={}", enc(prefix)), None).await?;
            if v["users"].as_array().is_none_or(|u| u.is_empty()) {
                return Err(format!("the search for {prefix} found nothing"));
            }
            Ok(d)
        }
        Step::SearchProvider => get("/public/users?limit=100&provider=google".into()).await,
        Step::SearchEmailProvider => get("/public/users?limit=100&email=wl-g&provider=google".into()).await,
        Step::ThirdPartySignIn => {
            let g = ctx.group();
            let (d, v) = ctx.timed(Method::POST, "/public/recipe/signinup", Some(json!({"thirdPartyId": "facebook",
                "thirdPartyUserId": g.facebook_account.0, "email": {"id": g.facebook_account.1, "isVerified": true}}))).await?;
            if v["createdNewUser"] != false {
                return Err(format!("signinup of an existing user: {v}"));
            }
            Ok(d)
        }
        Step::EmailUpdateLinked => {
            let (g, k) = (ctx.group(), ctx.next());
            ctx.timed_update("emailpassword", json!({"recipeUserId": g.primary, "email": format!("wl-upd-{k}@bench.example")})).await
        }
        Step::PhoneUpdateLinked => {
            let (g, k) = (ctx.group(), ctx.next());
            ctx.timed_update("passwordless", json!({"recipeUserId": g.phone_user, "phoneNumber": phone(650, k)})).await
        }
        Step::TenantAssociate | Step::TenantDisassociate => {
            let g = ctx.group();
            let body = json!({"recipeUserId": g.primary});
            let (add, remove) = ("/stressextra/recipe/multitenancy/tenant/user", "/stressextra/recipe/multitenancy/tenant/user/remove");
            if step == Step::TenantAssociate {
                let (d, _) = ctx.timed(Method::POST, add, Some(body.clone())).await?;
                ctx.ok(Method::POST, remove, Some(body)).await?;
                Ok(d)
            } else {
                ctx.ok(Method::POST, add, Some(body.clone())).await?;
                ctx.timed(Method::POST, remove, Some(body)).await.map(|(d, _)| d)
            }
        }
        Step::LinkCheck => {
            let g = ctx.group();
            let path = format!("/recipe/accountlinking/user/link/check?recipeUserId={}&primaryUserId={}", enc(&g.facebook_ref), enc(&g.primary));
            get(path).await
        }
        Step::Unlink => {
            let g = ctx.group();
            let (d, _) = ctx.timed(Method::POST, "/recipe/accountlinking/user/unlink", Some(json!({"recipeUserId": g.google_user}))).await?;
            link(ctx, &g.google_user, &g.primary).await?;
            Ok(d)
        }
        Step::DeleteLinked => {
            let primary = linked_pair(ctx).await?;
            let body = json!({"userId": primary, "removeAllLinkedAccounts": true});
            ctx.timed(Method::POST, "/user/remove", Some(body)).await.map(|(d, _)| d)
        }
        Step::ActiveUsers => get("/users/count/active?since=0".into()).await,
        Step::TotpVerify => {
            // A user of its own each time: a device, then USED_CODES used codes (the suite makes
            // 3,000 through the API over 3,000 one-second periods; Portcullis looks back at most
            // 1,000 periods, so they are written in SQL); timed: one verify with the current code.
            let user = format!("wl-totp-{}", ctx.next());
            let secret = portcullis_core::totp::codes::base32_encode(user.as_bytes());
            let body = json!({"userId": user, "deviceName": "stress", "skew": 0, "period": 30, "secretKey": secret});
            ctx.ok(Method::POST, "/recipe/totp/device/import", Some(body)).await?;
            write_used_codes(ctx, &user, USED_CODES).await?;
            let code = portcullis_core::totp::codes::totp_at(user.as_bytes(), 30, portcullis_core::now_ms(), 6);
            ctx.timed(Method::POST, "/public/recipe/totp/verify", Some(json!({"userId": user, "totp": code}))).await.map(|(d, _)| d)
        }
        Step::RoleUsers => {
            let (d, v) = ctx.timed(Method::GET, "/public/recipe/role/users?role=role1", None).await?;
            if v["users"].as_array().map(Vec::len).unwrap_or(0) as u64 != n {
                return Err(format!("role1 should have {n} users, got {}", v["users"].as_array().map(Vec::len).unwrap_or(0)));
            }
            Ok(d)
        }
    }
}

/// The user id of a page token that starts at seeded user i whatever i's id (ids are made by the
/// import): seeded users' join times are distinct, and a page from (t, id) takes the user joined at
/// t when its id sorts at or below the token's, which every id does below this one.
const AT_ANY_ID: &str = "ffffffff-ffff-ffff-ffff-ffffffffffff";

/// Used TOTP codes of the user a TOTP verify step checks, as in the stress suite.
const USED_CODES: i64 = 3_000;

/// Writes `count` used codes for `user` (one a second before now, none of them a 6-digit code, all
/// unexpired so that the verify reads every one).
async fn write_used_codes(ctx: &Ctx, user: &str, count: i64) -> Result<(), String> {
    let now = portcullis_core::now_ms();
    match &ctx.spec.backend {
        Backend::Postgres { uri, .. } => {
            let table = &ctx.used_codes_table;
            let (client, conn) = tokio_postgres::connect(uri, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let sql = format!(
                "INSERT INTO {table} (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms) \
                 SELECT 'public', 'public', $1, 'u' || j, true, $2::int8 + 3600000, $2::int8 - j * 1000 FROM generate_series(1, $3::int8) AS j"
            );
            client.execute(&sql, &[&user, &now, &count]).await.map_err(|e| e.to_string()).map(drop)
        }
        Backend::Sqlite { path } => {
            let (path, user) = (path.clone(), user.to_owned());
            tokio::task::spawn_blocking(move || {
                let c = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
                c.busy_timeout(Duration::from_secs(30)).map_err(|e| e.to_string())?;
                c.execute(
                    "WITH RECURSIVE s(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM s WHERE j < ?3) \
                     INSERT INTO totp_used_codes (app_id, tenant_id, user_id, code, is_valid, expiry_time_ms, created_time_ms) \
                     SELECT 'public', 'public', ?1, 'u' || j, 1, ?2 + 3600000, ?2 - j * 1000 FROM s",
                    rusqlite::params![user, now, count],
                )
                .map_err(|e| e.to_string())
                .map(drop)
            })
            .await
            .map_err(|e| e.to_string())?
        }
    }
}

async fn time_step(ctx: &Ctx, step: Step, iterations: usize) -> Result<Summary, String> {
    let mut sampler = Sampler::new(iterations);
    while sampler.wants_more() {
        let d = iteration(ctx, step).await?;
        sampler.record(d.as_micros() as u64);
    }
    Ok(sampler.summary())
}

/// The ratio of two medians, each raised to the floor first.
pub fn ratio(small_ms: f64, large_ms: f64, floor_ms: f64) -> f64 {
    large_ms.max(floor_ms) / small_ms.max(floor_ms)
}

/// The bound for a ratio between sizes `small` and `large`: the class's bound for sizes 10x apart,
/// scaled for O(n) steps when the sizes are further apart or closer (CI runs at small sizes).
pub fn bound_for(class: Class, small: u64, large: u64) -> f64 {
    let growth = large as f64 / small.max(1) as f64;
    match class {
        Class::Constant => class.bound(),
        Class::Linear => class.bound() * (growth / 10.0).max(1.0),
    }
}

/// A table's name as the server's PostgreSQL storage qualifies it.
async fn table_name(spec: &ServerSpec, base: &str) -> Result<String, String> {
    let cfg = spec.config()?;
    let pg = portcullis_store_postgres::PgStorage::connect(&cfg).await.map_err(|e| e.to_string())?;
    pg.table_name(base).map(str::to_owned).ok_or_else(|| format!("no table {base}"))
}

/// Seeded user `i` as a bulk-import user, shaped like the stress suite's generated users.
fn bulk_user(i: u64, hash: &str) -> Value {
    let (email, joined) = (seed::email(i), seed::time_joined(i));
    let mut methods = vec![json!({"recipeId": "emailpassword", "email": email, "passwordHash": hash, "hashingAlgorithm": "bcrypt",
        "isVerified": true, "isPrimary": true, "timeJoinedInMSSinceEpoch": joined})];
    if i.is_multiple_of(2) {
        methods.push(json!({"recipeId": "thirdparty", "thirdPartyId": "google", "thirdPartyUserId": format!("seed-tp-{i}"),
            "email": email, "isVerified": true, "timeJoinedInMSSinceEpoch": joined}));
    }
    if i.is_multiple_of(3) {
        // London numbers, unique for i < 10^8.
        methods.push(json!({"recipeId": "passwordless", "email": email, "phoneNumber": format!("+4420{:08}", i % 100_000_000),
            "isVerified": true, "timeJoinedInMSSinceEpoch": joined}));
    }
    json!({"externalUserId": format!("e-{i}"), "userRoles": [{"role": "role1", "tenantIds": ["public"]}], "loginMethods": methods})
}

/// Queues users [from, to) through the API and waits for the worker to import them.
async fn seed_through_api(base: &str, from: u64, to: u64) -> Result<(), String> {
    let hash = seed::cheap_hash()?;
    let bodies: Vec<String> = seed::batches(from, to, PER_POST)
        .into_iter()
        .map(|(a, b)| json!({"users": (a..b).map(|i| bulk_user(i, &hash)).collect::<Vec<_>>()}).to_string())
        .collect();
    // Generous: a loaded machine's debug build imports a few hundred users a second.
    let timeout = Duration::from_secs(300 + (to - from) / 100);
    queue_and_drain(&client(), base, bodies, timeout).await.map(drop)
}

/// Seeds users [from, to), each holding `role1`.
async fn seed_users(spec: &ServerSpec, base: &str, seeding: Seeding, from: u64, to: u64) -> Result<f64, String> {
    let t0 = Instant::now();
    if seeding == Seeding::Api {
        seed_through_api(base, from, to).await?;
        if let Backend::Postgres { uri, schema } = &spec.backend {
            seed::analyze_schema(uri, schema).await?;
        }
        return Ok(t0.elapsed().as_secs_f64());
    }
    seed_range(spec, from, to, 2).await?;
    match &spec.backend {
        Backend::Sqlite { path } => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || seed::seed_roles_sqlite(&path, "role1", from, to)).await.map_err(|e| e.to_string())??
        }
        Backend::Postgres { uri, schema } => {
            seed::seed_roles_postgres(uri, &table_name(spec, "user_roles").await?, "role1", from, to).await?;
            seed::analyze_schema(uri, schema).await?;
        }
    }
    Ok(t0.elapsed().as_secs_f64())
}

pub async fn run(a: WorkloadArgs) -> Result<bool, String> {
    let steps: Vec<Step> = match &a.steps {
        Some(list) => list.split(',').map(|s| Step::parse(s.trim()).ok_or_else(|| format!("unknown step {s}"))).collect::<Result<_, _>>()?,
        None => Step::ALL.to_vec(),
    };
    let dir = workdir()?;
    let spec = a.target.spec(&dir)?;
    let mut sizes = a.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let server = Server::start(&spec, Duration::from_secs(60)).await?;
    let result = measure(&a, &spec, &server, &sizes, &steps).await;
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
    if let (Backend::Postgres { uri, schema }, None) = (&spec.backend, &a.target.schema) {
        seed::drop_schema(uri, schema).await?;
    }
    let table = result?;
    report(&a, &spec, &sizes, &steps, &table)
}

type Table = Vec<Vec<Result<Summary, String>>>;

async fn measure(a: &WorkloadArgs, spec: &ServerSpec, server: &Server, sizes: &[u64], steps: &[Step]) -> Result<Table, String> {
    let mut ctx = Ctx { c: client(), base: server.url.clone(), groups: Vec::new(), n: 0, uniq: Arc::new(AtomicU64::new(0)), spec: spec.clone(), used_codes_table: String::new() };
    if matches!(spec.backend, Backend::Postgres { .. }) {
        ctx.used_codes_table = table_name(spec, "totp_used_codes").await?;
    }
    // The suite's roles and extra tenant.
    for (role, perms) in [("role1", ["p1", "p2"]), ("role2", ["p3", "p2"]), ("admin", ["p1", "p2"])] {
        ctx.ok(Method::PUT, "/recipe/role", Some(json!({"role": role, "permissions": perms}))).await?;
    }
    ctx.ok(Method::PUT, "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "stressextra"}))).await?;
    let mut table = Vec::new();
    for (idx, &n) in sizes.iter().enumerate() {
        let secs = seed_users(spec, &server.url, a.seed, ctx.n, n).await?;
        let how = if a.seed == Seeding::Api { "through POST /bulk-import/users and the worker" } else { "with multi-row INSERTs" };
        eprintln!("seeded users {}..{n} with role1 {how} in {secs:.1}s ({:.0} users/s)", ctx.n, (n - ctx.n) as f64 / secs.max(1e-9));
        ctx.n = n;
        if idx == 0 {
            let t0 = Instant::now();
            let shared = Arc::new(ctx);
            let groups = make_groups(&shared, a.groups, a.concurrency).await?;
            ctx = Arc::try_unwrap(shared).map_err(|_| "the sign-up tasks still hold the context".to_owned())?;
            ctx.groups = groups;
            eprintln!("made {} groups through the sign-up paths (4 users, 2 links, a role, a session each; every other one mapped) in {:.1}s", a.groups, t0.elapsed().as_secs_f64());
        }
        if let Backend::Postgres { uri, schema } = &spec.backend {
            seed::analyze_schema(uri, schema).await?;
        }
        let mut row = Vec::new();
        for &step in steps {
            let t = time_step(&ctx, step, a.iterations).await;
            match &t {
                Ok(s) => eprintln!("{n} users: {:<28} p50 {:>9.2} ms  p90 {:>9.2} ms ({} timed)", step.key(), ms(s.p50_us), ms(s.p90_us), s.count),
                Err(m) => eprintln!("{n} users: {:<28} FAILED: {m}", step.key()),
            }
            row.push(t);
        }
        table.push(row);
    }
    Ok(table)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn report(a: &WorkloadArgs, spec: &ServerSpec, sizes: &[u64], steps: &[Step], table: &Table) -> Result<bool, String> {
    let mut ok = table.iter().all(|row| row.iter().all(Result::is_ok));
    println!();
    println!(
        "workload on {} (users seeded {}; {} groups made through the sign-up paths; p50 of {} timed requests per step and size, one at a time; ms; ratio floor {} ms)",
        spec.backend.name(),
        if a.seed == Seeding::Api { "through the bulk-import API" } else { "with SQL" },
        a.groups,
        a.iterations,
        a.ratio_floor_ms
    );
    let header: Vec<String> = sizes.iter().map(|n| format!("{n:>12}")).collect();
    println!("| {:<28} | class | {} | ratio | bound | met |", "step", header.join(" | "));
    println!("|{}|-------|{}|-------|-------|-----|", "-".repeat(30), vec!["-".repeat(14); sizes.len()].join("|"));
    let mut rows = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let cells: Vec<Option<f64>> = table.iter().map(|row| row[i].as_ref().ok().map(|s| ms(s.p50_us))).collect();
        let (first, last) = (cells.first().copied().flatten(), cells.last().copied().flatten());
        let r = match (first, last) {
            (Some(x), Some(y)) if sizes.len() > 1 => Some(ratio(x, y, a.ratio_floor_ms)),
            _ => None,
        };
        let bound = (sizes.len() > 1).then(|| bound_for(step.class(), sizes[0], sizes[sizes.len() - 1]));
        let met = match (r, bound) {
            (Some(r), Some(b)) => r <= b,
            _ => true,
        };
        if a.enforce && !met {
            ok = false;
        }
        println!(
            "| {:<28} | {:<5} | {} | {:>5} | {:>5} | {:>3} |",
            step.key(),
            step.class().label(),
            cells.iter().map(|c| c.map(|v| format!("{v:>12.2}")).unwrap_or_else(|| format!("{:>12}", "failed"))).collect::<Vec<_>>().join(" | "),
            r.map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".into()),
            bound.map(|b| format!("{b:.0}x")).unwrap_or_else(|| "-".into()),
            if r.is_none() { "-" } else if met { "yes" } else { "NO" }
        );
        rows.push(json!({
            "step": step.key(), "class": step.class().label(),
            "by_size": sizes.iter().zip(table).map(|(n, row)| match &row[i] {
                Ok(s) => json!({"users": n, "p50_ms": ms(s.p50_us), "p90_ms": ms(s.p90_us), "max_ms": ms(s.max_us), "timed": s.count}),
                Err(m) => json!({"users": n, "failed": m}),
            }).collect::<Vec<_>>(),
            "ratio": r, "bound": bound, "met": met,
        }));
    }
    if let Some(path) = &a.json {
        let out = json!({"backend": spec.backend.name(), "seed": format!("{:?}", a.seed).to_lowercase(), "iterations": a.iterations, "groups": a.groups,
            "ratio_floor_ms": a.ratio_floor_ms, "sizes": sizes, "steps": rows});
        std::fs::write(path, serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_have_unique_keys_and_parse_back() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.key()), Some(s));
        }
        let mut keys: Vec<_> = Step::ALL.iter().map(|s| s.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Step::ALL.len());
        assert_eq!(Step::parse("nope"), None);
    }

    #[test]
    fn counts_searches_and_listings_are_linear_the_rest_constant() {
        assert_eq!(Step::CountPublic.class(), Class::Linear);
        assert_eq!(Step::RoleUsers.class(), Class::Linear);
        assert_eq!(Step::DeepPageDesc.class(), Class::Constant);
        assert_eq!(Step::EmailUpdateLinked.class(), Class::Constant);
        assert_eq!(Step::DeleteLinked.class(), Class::Constant);
    }

    #[test]
    fn ratios_use_the_floor_and_linear_bounds_scale_with_the_sizes() {
        assert_eq!(ratio(0.2, 0.5, 1.0), 1.0);
        assert_eq!(ratio(2.0, 6.0, 1.0), 3.0);
        assert_eq!(bound_for(Class::Constant, 100_000, 1_000_000), 3.0);
        assert_eq!(bound_for(Class::Linear, 100_000, 1_000_000), 15.0);
        assert_eq!(bound_for(Class::Linear, 2_000, 20_000), 15.0);
        assert_eq!(bound_for(Class::Linear, 1_000, 100_000), 150.0);
        assert_eq!(bound_for(Class::Linear, 1_000, 2_000), 15.0);
    }

    #[test]
    fn bulk_users_are_shaped_like_the_suites() {
        let u = bulk_user(6, "$2b$04$x");
        assert_eq!(u["externalUserId"], "e-6");
        assert_eq!(u["userRoles"][0]["role"], "role1");
        let methods: Vec<&str> = u["loginMethods"].as_array().unwrap().iter().map(|m| m["recipeId"].as_str().unwrap()).collect();
        assert_eq!(methods, ["emailpassword", "thirdparty", "passwordless"]);
        assert_eq!(u["loginMethods"][0]["email"], seed::email(6));
        assert_eq!(u["loginMethods"][0]["isPrimary"], true);
        assert_eq!(u["loginMethods"][2]["phoneNumber"], "+442000000006");
        assert_eq!(bulk_user(1, "h")["loginMethods"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn phone_numbers_are_unique_and_well_formed() {
        assert_eq!(phone(415, 7), "+14150000007");
        assert_ne!(phone(650, 1), phone(650, 2));
    }
}
