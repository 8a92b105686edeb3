//! The scenarios: what each connection sends, how its answer is judged, and the data (seeded
//! through the HTTP API) that the requests name.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use portcullis_core::config::Config;
use serde_json::{json, Value};

use crate::load::Step;
use crate::server::Backend;
use crate::seed::SEED_PASSWORD;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Hello,
    ApiVersion,
    SessionCreate,
    SessionVerify,
    SessionVerifyDb,
    SessionRefresh,
    SignUp,
    SignIn,
    GetUser,
    MetadataGet,
    MetadataUpdate,
    RoleCheck,
    ListUsers,
    ListUsersDeep,
    CountUsers,
    OAuthM2mToken,
    OAuthIntrospect,
}

/// Which floor bounds a scenario besides the HTTP floor and its own database floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoBound {
    None,
    Rs256Sign,
    /// One RS256 signature (the access token) and `refresh_tokens` refresh tokens sealed or opened:
    /// each is a key derivation the token format requires (its salt is the token's own IV).
    SessionTokens { refresh_tokens: u32 },
    Rs256Verify,
    PasswordHash,
    PasswordVerify,
}

impl Scenario {
    /// In run order: reads before writes that grow the tables, sign-up last.
    pub const ALL: [Scenario; 17] = [
        Scenario::Hello,
        Scenario::ApiVersion,
        Scenario::SessionVerify,
        Scenario::SessionVerifyDb,
        Scenario::SessionCreate,
        Scenario::SessionRefresh,
        Scenario::GetUser,
        Scenario::MetadataGet,
        Scenario::MetadataUpdate,
        Scenario::RoleCheck,
        Scenario::CountUsers,
        Scenario::OAuthIntrospect,
        Scenario::OAuthM2mToken,
        Scenario::ListUsers,
        Scenario::ListUsersDeep,
        Scenario::SignIn,
        Scenario::SignUp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Hello => "hello",
            Scenario::ApiVersion => "apiversion",
            Scenario::SessionCreate => "session_create",
            Scenario::SessionVerify => "session_verify",
            Scenario::SessionVerifyDb => "session_verify_db",
            Scenario::SessionRefresh => "session_refresh",
            Scenario::SignUp => "signup",
            Scenario::SignIn => "signin",
            Scenario::GetUser => "get_user",
            Scenario::MetadataGet => "metadata_get",
            Scenario::MetadataUpdate => "metadata_update",
            Scenario::RoleCheck => "role_check",
            Scenario::ListUsers => "list_users_first",
            Scenario::ListUsersDeep => "list_users_deep",
            Scenario::CountUsers => "count_users",
            Scenario::OAuthM2mToken => "oauth_m2m_token",
            Scenario::OAuthIntrospect => "oauth_introspect",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }

    pub fn crypto_bound(self) -> CryptoBound {
        match self {
            // Create seals the new refresh token; refresh opens the presented one and seals the next.
            Scenario::SessionCreate => CryptoBound::SessionTokens { refresh_tokens: 1 },
            Scenario::SessionRefresh => CryptoBound::SessionTokens { refresh_tokens: 2 },
            Scenario::OAuthM2mToken => CryptoBound::Rs256Sign,
            Scenario::SessionVerify | Scenario::SessionVerifyDb | Scenario::OAuthIntrospect => CryptoBound::Rs256Verify,
            Scenario::SignUp => CryptoBound::PasswordHash,
            Scenario::SignIn => CryptoBound::PasswordVerify,
            _ => CryptoBound::None,
        }
    }

    /// Whether the request reaches the database (hello pings it, as the Java core does).
    pub fn uses_database(self) -> bool {
        !matches!(self, Scenario::SessionVerify | Scenario::ApiVersion)
    }

    /// The HTTP floor is /hello itself: it has no HTTP floor ratio of its own.
    pub fn is_floor(self) -> bool {
        self == Scenario::Hello
    }
}

/// What one connection of the fixture owns.
#[derive(Clone, Debug)]
pub struct ConnData {
    pub user_id: String,
    /// Email of `user_id`, whose password (SEED_PASSWORD) is hashed with the configured parameters.
    pub email: String,
    pub verify_access_token: String,
    pub verify_handle: String,
    /// An M2M access token of the fixture's OAuth client, and its grant id (introspection).
    pub oauth_access_token: String,
    pub oauth_gid: String,
}

/// The OAuth client the M2M scenarios authenticate as.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub id: String,
    pub secret: String,
}

const OAUTH_ISS: &str = "http://localhost:3001/auth";

fn m2m_token_body(client: &OAuthClient) -> Value {
    json!({"iss": OAUTH_ISS, "inputBody": {"grant_type": "client_credentials", "client_id": client.id,
        "client_secret": client.secret, "scope": "read"}, "access_token": {}, "id_token": {}})
}

/// The `gid` claim of an OAuth access token (the grant introspection looks up).
fn gid_of(token: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    let v: Value = serde_json::from_slice(&payload).ok()?;
    v["gid"].as_str().map(str::to_owned)
}

/// Everything the scenarios name, seeded through the API.
pub struct Fixture {
    pub conns: Vec<ConnData>,
    /// The current refresh token of each connection's refresh chain (each refresh consumes one).
    pub refresh_tokens: Mutex<Vec<String>>,
    /// The token of the deep page, and how many pages in it is.
    pub deep_token: Option<String>,
    pub deep_page: usize,
    pub users_in_list: u64,
    pub oauth_client: OAuthClient,
}

/// A client with one keep-alive HTTP/1.1 connection (closed loop: one request in flight).
pub fn client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cdi-version", reqwest::header::HeaderValue::from_static("5.4"));
    reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// Sends one request; returns (status, body).
pub async fn call(c: &reqwest::Client, method: reqwest::Method, url: String, body: Option<String>) -> Result<(u16, String), String> {
    let mut req = c.request(method, url);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| format!("body: {e}"))?;
    Ok((status, text))
}

/// A call that must answer 200 with `"status":"OK"`; returns the parsed body.
pub async fn call_ok(c: &reqwest::Client, method: reqwest::Method, url: String, body: Option<Value>) -> Result<Value, String> {
    let (status, text) = call(c, method.clone(), url.clone(), body.map(|b| b.to_string())).await?;
    let v: Value = serde_json::from_str(&text).map_err(|_| format!("{method} {url}: {status} {text}"))?;
    if status != 200 || v["status"] != "OK" {
        return Err(format!("{method} {url}: {status} {text}"));
    }
    Ok(v)
}

fn is_ok(status: u16, body: &str) -> bool {
    status == 200 && body.contains("\"status\":\"OK\"")
}

pub struct HttpWorker {
    client: reqwest::Client,
    base: String,
    kind: Scenario,
    fx: Arc<Fixture>,
    idx: usize,
    n: u64,
    /// The connection's prepared request: method, URL and body.
    fixed: (reqwest::Method, String, Option<String>),
    refresh_token: Option<String>,
    /// Unique per worker, so that sign-up emails never repeat across runs.
    tag: String,
}

impl HttpWorker {
    pub fn new(base: &str, kind: Scenario, fx: Arc<Fixture>, idx: usize) -> HttpWorker {
        let c = &fx.conns[idx % fx.conns.len()];
        let get = reqwest::Method::GET;
        let post = reqwest::Method::POST;
        let fixed = match kind {
            Scenario::Hello => (get, format!("{base}/hello"), None),
            Scenario::ApiVersion => (get, format!("{base}/apiversion"), None),
            Scenario::SessionVerify | Scenario::SessionVerifyDb => {
                let body = json!({"accessToken": c.verify_access_token, "doAntiCsrfCheck": false, "enableAntiCsrf": false,
                    "checkDatabase": kind == Scenario::SessionVerifyDb});
                (post, format!("{base}/recipe/session/verify"), Some(body.to_string()))
            }
            Scenario::SignIn => {
                let body = json!({"email": c.email, "password": SEED_PASSWORD});
                (post, format!("{base}/recipe/signin"), Some(body.to_string()))
            }
            Scenario::GetUser => (get, format!("{base}/user/id?userId={}", enc(&c.user_id)), None),
            Scenario::MetadataGet => (get, format!("{base}/recipe/user/metadata?userId={}", enc(&c.user_id)), None),
            Scenario::RoleCheck => (get, format!("{base}/recipe/user/roles?userId={}", enc(&c.user_id)), None),
            Scenario::ListUsers => (get, format!("{base}/users?limit=100"), None),
            Scenario::ListUsersDeep => {
                let token = fx.deep_token.as_deref().map(enc).unwrap_or_default();
                (get, format!("{base}/users?limit=100&paginationToken={token}"), None)
            }
            Scenario::CountUsers => (get, format!("{base}/users/count"), None),
            Scenario::OAuthM2mToken => (post, format!("{base}/recipe/oauth/token"), Some(m2m_token_body(&fx.oauth_client).to_string())),
            Scenario::OAuthIntrospect => {
                let body = json!({"token": c.oauth_access_token});
                (post, format!("{base}/recipe/oauth/introspect"), Some(body.to_string()))
            }
            // Built per request.
            Scenario::SessionCreate | Scenario::SessionRefresh | Scenario::SignUp | Scenario::MetadataUpdate => (post, String::new(), None),
        };
        let refresh_token = if kind == Scenario::SessionRefresh {
            fx.refresh_tokens.lock().ok().and_then(|mut v| v.get_mut(idx).map(std::mem::take))
        } else {
            None
        };
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        HttpWorker { client: client(), base: base.to_owned(), kind, fx, idx, n: 0, fixed, refresh_token, tag }
    }
}

impl Drop for HttpWorker {
    fn drop(&mut self) {
        // Hand the chain back for the next run.
        if let (Some(t), Ok(mut v)) = (self.refresh_token.take(), self.fx.refresh_tokens.lock()) {
            if let Some(slot) = v.get_mut(self.idx) {
                *slot = t;
            }
        }
    }
}

#[async_trait]
impl Step for HttpWorker {
    async fn step(&mut self) -> Result<(), String> {
        self.n += 1;
        let c = &self.fx.conns[self.idx % self.fx.conns.len()];
        let base = &self.base;
        let (method, url, body) = match self.kind {
            Scenario::SessionCreate => {
                let body = json!({"userId": c.user_id, "userDataInJWT": {"role": "member"}, "userDataInDatabase": {"n": self.n},
                    "enableAntiCsrf": false});
                (reqwest::Method::POST, format!("{base}/recipe/session"), Some(body.to_string()))
            }
            Scenario::SessionRefresh => {
                let rt = self.refresh_token.as_deref().ok_or("no refresh token (the chain broke earlier)")?;
                let body = json!({"refreshToken": rt, "enableAntiCsrf": false, "useDynamicSigningKey": true});
                (reqwest::Method::POST, format!("{base}/recipe/session/refresh"), Some(body.to_string()))
            }
            Scenario::SignUp => {
                let email = format!("up-{}-{}-{}@bench.example", self.tag, self.idx, self.n);
                let body = json!({"email": email, "password": SEED_PASSWORD});
                (reqwest::Method::POST, format!("{base}/{SIGNUP_TENANT}/recipe/signup"), Some(body.to_string()))
            }
            Scenario::MetadataUpdate => {
                let body = json!({"userId": c.user_id, "metadataUpdate": {"counter": self.n, "lastSeen": "bench"}});
                (reqwest::Method::PUT, format!("{base}/recipe/user/metadata"), Some(body.to_string()))
            }
            _ => self.fixed.clone(),
        };
        let (status, text) = call(&self.client, method, url, body).await?;
        let ok = match self.kind {
            Scenario::Hello | Scenario::ApiVersion => status == 200,
            Scenario::SessionRefresh => {
                if is_ok(status, &text) {
                    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    let next = v["refreshToken"]["token"].as_str().ok_or("refresh answered no refresh token")?;
                    self.refresh_token = Some(next.to_owned());
                    true
                } else {
                    false
                }
            }
            // An inactive token answers OK too: the fixture's tokens must stay active.
            Scenario::OAuthIntrospect => is_ok(status, &text) && text.contains("\"active\":true"),
            _ => is_ok(status, &text),
        };
        if ok {
            Ok(())
        } else {
            let mut t = text;
            t.truncate(300);
            Err(format!("{} answered {status}: {t}", self.kind.name()))
        }
    }
}

/// Runs `f(i)` for i in 0..n with at most `parallel` at once; the first error wins.
pub async fn parallel<T, F, Fut>(n: usize, parallel: usize, f: F) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let sem = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let permit = Arc::clone(&sem).acquire_owned().await.map_err(|e| e.to_string())?;
        let fut = f(i);
        handles.push(tokio::spawn(async move {
            let r = fut.await;
            drop(permit);
            r
        }));
    }
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.map_err(|e| e.to_string())??);
    }
    Ok(out)
}

const ROLE: &str = "bench-member";

/// The tenant the sign-up scenario and its floor write into, so that the public tenant's user
/// count (the user list, its count and pages) stays as the fixture made it, run after run.
pub const SIGNUP_TENANT: &str = "bench-signup";

/// Seeds, through the API: the sign-up tenant, `conns` users (password hashed with the configured parameters) with
/// metadata, a role and two sessions each (one to verify, one to refresh); `list_users` users in
/// total for the user list (imported with a cheap hash); and the deep page's token.
///
/// On PostgreSQL the schema is ANALYZEd once the connections' users exist, and again at the end.
/// The server's connections cache generic plans after a few executions of each statement; a plan
/// made while the tables had no statistics (new, never analyzed: taken for empty) probes the
/// whole-user read by `app_id` alone, so each read walks every user of the app and the import
/// loop below goes quadratic (1.3 s per read at 10,000 users; past the 5 s statement timeout when
/// the machine is busy). ANALYZE invalidates those plans. Autovacuum does the same, but only after
/// its naptime (a minute), when the fixture is half written.
pub async fn build_fixture(base: &str, cfg: &Config, backend: &Backend, conns: usize, list_users: u64, deep_page: usize) -> Result<Fixture, String> {
    use portcullis_core::crypto::password::{hash, HashSettings};
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let settings = HashSettings::from_config(cfg).map_err(|e| e.to_string())?;
    let hash = tokio::task::spawn_blocking(move || hash(SEED_PASSWORD, &settings)).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    let c = client();
    call_ok(&c, reqwest::Method::PUT, format!("{base}/recipe/role"), Some(json!({"role": ROLE, "permissions": ["read", "write"]}))).await?;
    // Made or kept (a PUT of an existing tenant changes nothing here): every login method enabled.
    call_ok(&c, reqwest::Method::PUT, format!("{base}/recipe/multitenancy/tenant/v2"), Some(json!({"tenantId": SIGNUP_TENANT}))).await?;
    let created = call_ok(&c, reqwest::Method::POST, format!("{base}/recipe/oauth/clients"),
        Some(json!({"clientName": format!("bench-{tag}"), "grantTypes": ["client_credentials"], "scope": "read",
            "tokenEndpointAuthMethod": "client_secret_post", "clientCredentialsGrantAccessTokenLifespan": "24h"}))).await?;
    let oauth_client = OAuthClient {
        id: created["clientId"].as_str().ok_or("no OAuth client id")?.to_owned(),
        secret: created["clientSecret"].as_str().ok_or("no OAuth client secret")?.to_owned(),
    };
    let base_owned = base.to_owned();
    let conn_data = parallel(conns, 8, |i| {
        let (base, tag, hash, oauth) = (base_owned.clone(), tag.clone(), hash.clone(), oauth_client.clone());
        async move {
            let c = client();
            let email = format!("fx-{tag}-{i}@bench.example");
            let r = call_ok(&c, reqwest::Method::POST, format!("{base}/recipe/user/passwordhash/import"),
                Some(json!({"email": email, "passwordHash": hash}))).await?;
            let user_id = r["user"]["id"].as_str().ok_or("import answered no user id")?.to_owned();
            call_ok(&c, reqwest::Method::PUT, format!("{base}/recipe/user/metadata"),
                Some(json!({"userId": user_id, "metadataUpdate": {"plan": "pro", "tags": ["a", "b"], "n": i}}))).await?;
            call_ok(&c, reqwest::Method::PUT, format!("{base}/recipe/user/role"), Some(json!({"userId": user_id, "role": ROLE}))).await?;
            let body = json!({"userId": user_id, "userDataInJWT": {"role": "member"}, "userDataInDatabase": {}, "enableAntiCsrf": false});
            let s1 = call_ok(&c, reqwest::Method::POST, format!("{base}/recipe/session"), Some(body.clone())).await?;
            let s2 = call_ok(&c, reqwest::Method::POST, format!("{base}/recipe/session"), Some(body)).await?;
            let m2m = call_ok(&c, reqwest::Method::POST, format!("{base}/recipe/oauth/token"), Some(m2m_token_body(&oauth))).await?;
            let oauth_access_token = m2m["access_token"].as_str().ok_or("no M2M access token")?.to_owned();
            let oauth_gid = gid_of(&oauth_access_token).ok_or("an M2M access token without gid")?;
            let data = ConnData {
                user_id,
                email,
                verify_access_token: s1["accessToken"]["token"].as_str().ok_or("no access token")?.to_owned(),
                verify_handle: s1["session"]["handle"].as_str().ok_or("no handle")?.to_owned(),
                oauth_access_token,
                oauth_gid,
            };
            let rt = s2["refreshToken"]["token"].as_str().ok_or("no refresh token")?.to_owned();
            Ok((data, rt))
        }
    })
    .await?;
    let (conn_data, refresh): (Vec<ConnData>, Vec<String>) = conn_data.into_iter().unzip();
    analyze(backend).await?;

    // The user list: top up to `list_users` users.
    let count = call_ok(&c, reqwest::Method::GET, format!("{base}/users/count"), None).await?["count"].as_u64().unwrap_or(0);
    let missing = list_users.saturating_sub(count) as usize;
    if missing > 0 {
        let cheap = crate::seed::cheap_hash()?;
        parallel(missing, 16, |i| {
            let (base, tag, cheap) = (base_owned.clone(), tag.clone(), cheap.clone());
            async move {
                let c = client();
                call_ok(&c, reqwest::Method::POST, format!("{base}/recipe/user/passwordhash/import"),
                    Some(json!({"email": format!("list-{tag}-{i}@bench.example"), "passwordHash": cheap}))).await?;
                Ok(())
            }
        })
        .await?;
    }
    let deep_token = follow_pages(&c, base, deep_page).await?;
    let users_in_list = call_ok(&c, reqwest::Method::GET, format!("{base}/users/count"), None).await?["count"].as_u64().unwrap_or(0);
    analyze(backend).await?;
    Ok(Fixture { conns: conn_data, refresh_tokens: Mutex::new(refresh), deep_token, deep_page, users_in_list, oauth_client })
}

/// Statistics for every table of a PostgreSQL schema, as autovacuum would make them.
async fn analyze(backend: &Backend) -> Result<(), String> {
    match backend {
        Backend::Postgres { uri, schema } => crate::seed::analyze_schema(uri, schema).await.map_err(|e| format!("ANALYZE of the fixture: {e}")),
        Backend::Sqlite { .. } => Ok(()),
    }
}

/// Follows `nextPaginationToken` from the first page of 100 for `pages` pages; returns the token of
/// the page reached (None for the first page, or when the list ends sooner).
pub async fn follow_pages(c: &reqwest::Client, base: &str, pages: usize) -> Result<Option<String>, String> {
    let mut token: Option<String> = None;
    for _ in 0..pages {
        let url = match &token {
            None => format!("{base}/users?limit=100"),
            Some(t) => format!("{base}/users?limit=100&paginationToken={}", enc(t)),
        };
        let page = call_ok(c, reqwest::Method::GET, url, None).await?;
        match page["nextPaginationToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        assert_eq!(Scenario::parse("nope"), None);
    }

    #[test]
    fn tokens_are_url_encoded() {
        assert_eq!(enc("ab+/="), "ab%2B%2F%3D");
    }

    #[test]
    fn ok_means_200_and_status_ok() {
        assert!(is_ok(200, "{\"status\":\"OK\",\"x\":1}"));
        assert!(!is_ok(200, "{\"status\":\"UNAUTHORISED\"}"));
        assert!(!is_ok(500, "{\"status\":\"OK\"}"));
    }
}
