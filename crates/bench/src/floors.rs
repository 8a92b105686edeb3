//! The floors: what the hardware, the crypto and the database allow without Portcullis's HTTP
//! layer. Crypto floors run the workspace's own code (portcullis_core::crypto) on every core; the
//! database floor makes the storage calls a scenario makes, through the server's own storage
//! (same driver, same pool settings), at the scenario's concurrency.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::config::Config;
use portcullis_core::crypto::keys::{generate_key_string, SigningKey};
use portcullis_core::crypto::password::{self, HashSettings, VerifySettings};
use portcullis_core::session::storage::SessionRow;
use portcullis_core::useridmapping::storage::IdType;
use portcullis_core::users::storage::UserFilter;
use portcullis_core::storage::Storage;
use serde_json::{json, Map, Value};

use crate::load::{threads_rate, Step};
use crate::scenarios::{Fixture, Scenario, SIGNUP_TENANT};
use crate::seed::SEED_PASSWORD;

const APP: &str = "public";
const TENANT: &str = "public";

/// Operations per second of each crypto floor.
#[derive(Clone, Copy, Debug, Default)]
pub struct CryptoFloors {
    pub rs256_sign: f64,
    pub rs256_verify: f64,
    pub password_hash: f64,
    pub password_verify: f64,
    /// A refresh token sealed in the core's format: one PBKDF2-HMAC-SHA512 key derivation (100
    /// iterations, salted with the token's own IV) and AES-256-GCM. Opening one costs the same.
    pub refresh_token_seal: f64,
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// A message the size of a typical access token's header and payload.
fn jwt_like_message() -> Vec<u8> {
    let payload = json!({"iat": 1_700_000_000, "exp": 1_700_003_600, "sub": "5eed0000-0000-4000-8000-000000000001",
        "tId": "public", "rsub": "5eed0000-0000-4000-8000-000000000001", "sessionHandle": "1c9b4d52-4a3d-4c39-9f0e-1e3f6c1a2b3c",
        "refreshTokenHash1": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "parentRefreshTokenHash1": null,
        "antiCsrfToken": null, "iss": "http://localhost:3567", "role": "member"});
    format!("eyJraWQiOiJkLTE3MDAwMDAwMDAwMDAiLCJ0eXAiOiJKV1QiLCJ2ZXJzaW9uIjoiNSIsImFsZyI6IlJTMjU2In0.{}", STANDARD.encode(payload.to_string()))
        .into_bytes()
}

/// RS256 signing and verification (RSA-2048, as the server's keys) and password hashing and
/// verification with the configured parameters, each on every core for `each`.
pub fn crypto_floors(cfg: &Config, each: Duration) -> Result<CryptoFloors, String> {
    let threads = cores();
    let key = Arc::new(SigningKey::from_key_string(&generate_key_string().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?);
    let public = Arc::new(key.public_key().map_err(|e| e.to_string())?);
    let msg = Arc::new(jwt_like_message());
    let sig = Arc::new(key.sign(&msg).map_err(|e| e.to_string())?);
    let (k, m) = (Arc::clone(&key), Arc::clone(&msg));
    let rs256_sign = threads_rate(threads, each, move || k.sign(&m).map(|_| ()).map_err(|e| e.to_string()))?;
    let (p, m, s) = (Arc::clone(&public), Arc::clone(&msg), Arc::clone(&sig));
    let rs256_verify = threads_rate(threads, each, move || if p.verify(&m, &s) { Ok(()) } else { Err("RS256 verify failed".into()) })?;

    let settings = HashSettings::from_config(cfg).map_err(|e| e.to_string())?;
    let stored = Arc::new(password::hash(SEED_PASSWORD, &settings).map_err(|e| e.to_string())?);
    let verify_settings = Arc::new(VerifySettings::from_config(cfg));
    let hs = settings.clone();
    let password_hash = threads_rate(threads, each, move || password::hash(SEED_PASSWORD, &hs).map(|_| ()).map_err(|e| e.to_string()))?;
    let password_verify = threads_rate(threads, each, move || match password::verify(SEED_PASSWORD, &stored, &verify_settings) {
        Ok(true) => Ok(()),
        other => Err(format!("password verification failed: {other:?}")),
    })?;
    let master = Arc::new(portcullis_core::crypto::refresh::new_master_key().map_err(|e| e.to_string())?);
    let refresh_token_seal = threads_rate(threads, each, move || {
        portcullis_core::crypto::refresh::encrypt(&master, "a refresh token's payload, as long as a session handle and user id")
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    Ok(CryptoFloors { rs256_sign, rs256_verify, password_hash, password_verify, refresh_token_seal })
}

/// Describes the hashing parameters, for the report.
pub fn hashing_description(cfg: &Config) -> String {
    match HashSettings::from_config(cfg) {
        Ok(s) => match s.algorithm {
            password::HashAlgorithm::Bcrypt => format!("bcrypt, log rounds {}", s.bcrypt_log_rounds),
            password::HashAlgorithm::Argon2 => format!(
                "argon2id, {} iterations, {} KiB, parallelism {}",
                s.argon2_iterations, s.argon2_memory_kb, s.argon2_parallelism
            ),
        },
        Err(e) => e.to_string(),
    }
}

/// Decodes a `/users` pagination token into the storage's `after` = (time joined, user id).
pub fn decode_page_token(token: &str) -> Option<(i64, String)> {
    let text = String::from_utf8(STANDARD.decode(token.trim()).ok()?).ok()?;
    let (id, time) = text.split_once(';')?;
    Some((time.parse().ok()?, id.to_owned()))
}

/// The database work of one scenario's request, as the server's handlers issue it.
pub struct DbWorker {
    st: Arc<dyn Storage>,
    kind: Scenario,
    fx: Arc<Fixture>,
    idx: usize,
    n: u64,
    tag: String,
    /// The refresh floor's own session: (handle, current refresh hash).
    session: Option<(String, String)>,
}

impl DbWorker {
    pub fn new(st: Arc<dyn Storage>, kind: Scenario, fx: Arc<Fixture>, idx: usize) -> DbWorker {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        DbWorker { st, kind, fx, idx, n: 0, tag, session: None }
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn session_row(user_id: &str, handle: String, now: i64) -> SessionRow {
    SessionRow {
        tenant_id: TENANT.to_owned(),
        handle,
        user_id: user_id.to_owned(),
        refresh_token_hash_2: format!("{}{}", random_hex(), random_hex()),
        session_data: "{}".to_owned(),
        expires_at: now + 100 * 24 * 3600 * 1000,
        created_at: now,
        jwt_user_payload: "{\"role\":\"member\"}".to_owned(),
        use_static_key: false,
        primary_user_id: None,
    }
}

#[async_trait]
impl Step for DbWorker {
    async fn step(&mut self) -> Result<(), String> {
        self.n += 1;
        let st = self.st.as_ref();
        let c = &self.fx.conns[self.idx % self.fx.conns.len()];
        let now = portcullis_core::now_ms();
        match self.kind {
            Scenario::Hello => st.ping().await.map_err(err)?,
            Scenario::ApiVersion | Scenario::SessionVerify => {}
            Scenario::SessionVerifyDb => {
                st.session_get(TenantKey::new(APP, TENANT), &c.verify_handle).await.map_err(err)?.ok_or("verify session missing")?;
            }
            Scenario::SessionCreate => {
                // The user the session names (mapping and primary user, one read), then one INSERT.
                st.session_user(AppKey::new(APP), &c.user_id).await.map_err(err)?;
                st.session_insert(AppKey::new(APP), &session_row(&c.user_id, uuid::Uuid::new_v4().to_string(), now)).await.map_err(err)?;
            }
            Scenario::SessionRefresh => {
                if self.session.is_none() {
                    let row = session_row(&c.user_id, uuid::Uuid::new_v4().to_string(), now);
                    st.session_insert(AppKey::new(APP), &row).await.map_err(err)?;
                    self.session = Some((row.handle, row.refresh_token_hash_2));
                }
                let (handle, hash) = self.session.clone().ok_or("no session")?;
                // A child refresh token: one conditional UPDATE of the session row to the child's
                // hash, which returns the row.
                let next = format!("{}{}", random_hex(), random_hex());
                let moved = st.session_promote(TenantKey::new(APP, TENANT), &handle, &hash, &next, now + 86_400_000, now).await.map_err(err)?;
                if !moved.is_some_and(|(_, moved)| moved) {
                    return Err(format!("compare-and-set lost on {handle} (expected {hash})"));
                }
                self.session = Some((handle, next));
            }
            Scenario::SignUp => {
                let email = format!("dbup-{}-{}-{}@bench.example", self.tag, self.idx, self.n);
                let user_id = uuid::Uuid::new_v4().to_string();
                // The sign-up scenario's own tenant, as the HTTP requests use.
                let tenant = TenantKey::new(APP, SIGNUP_TENANT);
                if st.ep_login_method_by_email(tenant, &email).await.map_err(err)?.is_some() {
                    return Err("email exists".into());
                }
                if !st.ep_create_user(tenant, &user_id, &email, "$2a$04$benchbenchbenchbenchbeOq9mW2v8kzFhK3gX5Y1m2n3o4p5q6r7s", now).await.map_err(err)? {
                    return Err("email exists".into());
                }
                st.get_user_id_mapping(AppKey::new(APP), &user_id, IdType::Any).await.map_err(err)?;
                st.user_last_active_upsert(AppKey::new(APP), &user_id, now).await.map_err(err)?;
                st.get_user(AppKey::new(APP), &user_id).await.map_err(err)?.ok_or("new user missing")?;
            }
            Scenario::SignIn => {
                let m = st.ep_login_method_by_email(TenantKey::new(APP, TENANT), &c.email).await.map_err(err)?.ok_or("sign-in user missing")?;
                st.get_user(AppKey::new(APP), &m.recipe_user_id).await.map_err(err)?.ok_or("sign-in user missing")?;
            }
            Scenario::GetUser => {
                st.get_user(AppKey::new(APP), &c.user_id).await.map_err(err)?.ok_or("user missing")?;
            }
            Scenario::MetadataGet => {
                st.metadata_get(AppKey::new(APP), &c.user_id).await.map_err(err)?;
            }
            Scenario::MetadataUpdate => {
                let mut update = Map::new();
                update.insert("counter".into(), Value::from(self.n));
                update.insert("lastSeen".into(), Value::from("bench"));
                portcullis_core::metadata::update(st, AppKey::new(APP), &c.user_id, update).await.map_err(err)?;
            }
            Scenario::RoleCheck => {
                st.user_roles(TenantKey::new(APP, TENANT), &c.user_id).await.map_err(err)?;
            }
            Scenario::ListUsers | Scenario::ListUsersDeep => {
                let after = if self.kind == Scenario::ListUsersDeep { self.fx.deep_token.as_deref().and_then(decode_page_token) } else { None };
                let filter = UserFilter { tenant_id: Some(TENANT.to_owned()), ..Default::default() };
                let page = st.list_users(AppKey::new(APP), &filter, false, 101, after).await.map_err(err)?;
                let ids: Vec<String> = page.into_iter().take(100).map(|(id, _)| id).collect();
                st.get_users(AppKey::new(APP), &ids).await.map_err(err)?;
            }
            Scenario::OAuthM2mToken => {
                // Client lookup, then the grant row and the statistics row (one round trip).
                let id = &self.fx.oauth_client.id;
                st.oauth_client_get(AppKey::new(APP), id).await.map_err(err)?.ok_or("OAuth client missing")?;
                let iat_s = now / 1000;
                let issue = portcullis_core::oauth::token::M2mIssue {
                    gid: uuid::Uuid::new_v4().to_string(),
                    client_id: id.clone(),
                    jti: uuid::Uuid::new_v4().to_string(),
                    iat_s,
                    exp_s: iat_s + 3600,
                };
                st.oauth_record_m2m(AppKey::new(APP), &issue).await.map_err(err)?;
            }
            Scenario::OAuthIntrospect => {
                st.oauth_grant_jtis(AppKey::new(APP), &c.oauth_gid).await.map_err(err)?.ok_or("M2M grant missing")?;
            }
            Scenario::CountUsers => {
                let filter = UserFilter { tenant_id: Some(TENANT.to_owned()), ..Default::default() };
                st.count_users(AppKey::new(APP), &filter).await.map_err(err)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_decode_to_time_and_id() {
        let t = crate::seed::page_token("user-2", 1002);
        assert_eq!(decode_page_token(&t), Some((1002, "user-2".to_owned())));
        assert_eq!(decode_page_token("%%%"), None);
        assert_eq!(decode_page_token(&STANDARD.encode("no-separator")), None);
    }

    #[test]
    fn crypto_floors_run() {
        let cfg = Config::load(portcullis_core::config::Sources {
            yaml: None,
            env: &|k: &str| (k == "BCRYPT_LOG_ROUNDS").then(|| "4".to_owned()),
            overrides: vec![],
        })
        .unwrap()
        .0;
        let f = crypto_floors(&cfg, Duration::from_millis(50)).unwrap();
        assert!(f.rs256_sign > 0.0 && f.rs256_verify > f.rs256_sign, "{f:?}");
        assert!(f.refresh_token_seal > f.rs256_sign, "{f:?}");
        assert!(f.password_hash > 0.0 && f.password_verify > 0.0, "{f:?}");
        assert_eq!(hashing_description(&cfg), "bcrypt, log rounds 4");
    }
}
