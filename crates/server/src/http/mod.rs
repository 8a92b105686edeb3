//! The HTTP side: the CDI's conventions applied to every request, in the core's order — resolve the
//! app and tenant, IP filter, API key, CDI version — then the API itself. Thin: APIs live in `api/`.

pub mod error;
pub mod input;
pub mod resolve;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body as AxumBody, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::config::SUPPORTED_CDI_VERSIONS;
use portcullis_core::ids::TenantIdentifier;
use serde_json::Value;
use subtle::ConstantTimeEq;

use tracing::Instrument;

use crate::tenancy::{Registry, Snapshot, Tenant};
use error::ApiError;
use input::{Body, Query};

pub struct AppState {
    pub registry: Arc<Registry>,
    pub keys: crate::keys::KeyCache,
    pub last_active: crate::last_active::LastActive,
    pub hashing: crate::hashing::Hashing,
    pub metrics: crate::metrics::Metrics,
    /// The time, in milliseconds; tests move it to exercise expiry and key rotation.
    pub clock: Clock,
    pub config_path: Option<std::path::PathBuf>,
}

/// Wall-clock time plus an offset that tests can advance.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        portcullis_core::now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A CDI version, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let (a, b) = s.trim().split_once('.')?;
        Some(Version(a.parse().ok()?, b.parse().ok()?))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Everything an API needs to know about the request it serves.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub method: Method,
    /// The tenant the host and path name (it may not exist).
    pub id: TenantIdentifier,
    pub version: Version,
    /// The `rid` header: which recipe an endpoint shared by several recipes serves.
    pub rid: Option<String>,
    pub query: Query,
    pub body: Bytes,
    pub snapshot: Arc<Snapshot>,
    /// Hide and protect database settings and protected keys (a SaaS secret is set and was not used).
    pub protect_configs: bool,
}

impl Ctx {
    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }

    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }

    /// The tenant of the request, or the core's 400 when it does not exist.
    pub fn tenant(&self) -> Result<&Arc<Tenant>, ApiError> {
        self.snapshot.get(&self.id).ok_or_else(|| not_found_error(&self.id))
    }

    pub fn body(&self) -> Result<Body, ApiError> {
        Body::parse(&self.body)
    }

    /// App-wide APIs are callable only on the public tenant (from CDI 5.0).
    pub fn require_public_tenant(&self) -> Result<(), ApiError> {
        if !self.id.is_public_tenant() && self.version >= Version(5, 0) {
            return Err(ApiError::Forbidden("Only public tenantId can call this app specific API".into()));
        }
        Ok(())
    }
}

pub fn not_found_error(id: &TenantIdentifier) -> ApiError {
    ApiError::bad(format!(
        "AppId or tenantId not found => Tenant with the following connectionURIDomain, appId and tenantId combination not found: {id}"
    ))
}

/// A JSON response as the core sends it: compact, with a trailing newline.
pub fn json(value: Value) -> Result<Response, ApiError> {
    let mut body = value.to_string();
    body.push('\n');
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], body).into_response())
}

pub async fn handle(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<AxumBody>,
) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let metrics_path = state.registry.base.str("metrics_path").unwrap_or("");
    if !metrics_path.is_empty() && path == metrics_path && method == axum::http::Method::GET {
        return metrics(&state, req.headers()).unwrap_or_else(IntoResponse::into_response);
    }
    let started = std::time::Instant::now();
    let request_id = request_id(req.headers());
    let span = tracing::info_span!("request", id = %request_id);
    let mut route = None;
    let mut response = match pipeline(Arc::clone(&state), peer, req, &mut route).instrument(span.clone()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    state.metrics.record_request(crate::metrics::route_label(route), response.status().as_u16(), started.elapsed());
    // Paths carry no secrets (tokens travel in bodies and headers); bodies are never logged.
    span.in_scope(|| tracing::debug!(%method, %path, status = response.status().as_u16(), "request"));
    if let Ok(v) = axum::http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// The caller's `x-request-id` when it is a short token (a proxy's id), else a new one: a
/// per-process random prefix and a counter, so ids are unique without a random draw per request.
fn request_id(headers: &HeaderMap) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let given = headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(id) = given.filter(|id| (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))) {
        return id.to_owned();
    }
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    format!("{prefix}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn host_name(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let host = host.trim().to_lowercase();
    // Strip a port, keeping IPv6 literals intact.
    match host.rfind(':') {
        Some(i) if !host.ends_with(']') && host[..i].find(':').is_none() => host[..i].to_owned(),
        _ => host,
    }
}

fn presented_api_key(headers: &HeaderMap) -> Option<String> {
    if let Some(k) = headers.get("api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim().to_owned());
    }
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())?.trim();
    let key = if auth.len() >= 7 && auth[..7].eq_ignore_ascii_case("bearer ") { &auth[7..] } else { auth };
    Some(key.trim().to_owned())
}

/// Constant-time comparison of a presented key with the configured ones: every key is compared
/// (no early exit), and through SHA-256 digests, so neither the content nor the length of a
/// configured key shows in the time taken.
fn key_matches(presented: &str, keys: &[String]) -> bool {
    use portcullis_core::crypto::sha256_hex;
    let presented = sha256_hex(presented);
    let mut ok = subtle::Choice::from(0);
    for k in keys {
        ok |= presented.as_bytes().ct_eq(sha256_hex(k).as_bytes());
    }
    ok.into()
}

/// `metrics_path`: the Prometheus text format. Behind the base config's API keys when there are any.
fn metrics(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let keys = state.registry.base.api_keys();
    if !keys.is_empty() && !key_matches(&presented_api_key(headers).unwrap_or_default(), &keys) {
        return Err(ApiError::InvalidApiKey);
    }
    let (hashing_waiting, hashing_running) = state.hashing.queue();
    let snapshot = state.registry.snapshot();
    let pools = Snapshot::distinct_storages(snapshot.tenants.values())
        .iter()
        .filter_map(|s| s.pool_status())
        .collect();
    let body = state.metrics.render(&crate::metrics::Gauges { hashing_waiting, hashing_running, pools });
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response())
}

async fn pipeline(
    state: Arc<AppState>,
    peer: SocketAddr,
    req: Request<AxumBody>,
    route_out: &mut Option<routes::Route>,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let registry = Arc::clone(&state.registry);
    let base_path = registry.base.str("base_path").unwrap_or("");
    let path = resolve::strip_base_path(base_path, parts.uri.path()).ok_or(ApiError::NotFound)?;
    let resolved = resolve::resolve(&path).ok_or(ApiError::NotFound)?;
    *route_out = Some(resolved.route);

    if resolved.route.is_multitenancy() {
        // Answer from the configs as stored, also when another instance just changed them.
        registry.refresh_or_keep().await;
    }
    let mut snapshot = registry.snapshot();
    let host = host_name(&parts.headers);
    let cud_of = |s: &Snapshot| if !host.is_empty() && s.cud_exists(&host) { host.clone() } else { String::new() };
    let mut id = TenantIdentifier::new(&cud_of(&snapshot), &resolved.app_id, &resolved.tenant_id);
    if snapshot.get(&id).is_none() {
        registry.reload_on_miss().await;
        snapshot = registry.snapshot();
        id = TenantIdentifier::new(&cud_of(&snapshot), &resolved.app_id, &resolved.tenant_id);
    }
    let app = snapshot.get(&id.app_public()).cloned();

    // IP filter: the tenant's settings, else its app's, else the base config's.
    let policy = snapshot.get(&id).or(app.as_ref()).or_else(|| snapshot.get(&TenantIdentifier::base()));
    if let Some(t) = policy {
        let ip = peer.ip().to_string();
        let denied = t.ip_deny.as_ref().is_some_and(|r| r.is_match(&ip))
            || t.ip_allow.as_ref().is_some_and(|r| !r.is_match(&ip));
        if denied {
            return Err(ApiError::Forbidden("Forbidden".into()));
        }
    }

    // With a SaaS secret configured, callers who did not present it see and change no database
    // settings and no protected keys.
    let saas = registry.base.str("supertokens_saas_secret");
    let protect_configs = saas.is_some_and(|secret| {
        !key_matches(&presented_api_key(&parts.headers).unwrap_or_default(), &[secret.to_owned()])
    });

    // API key: the app's keys; skipped for an unknown app (the API then reports it).
    if resolved.route.needs_api_key() {
        if let Some(app) = &app {
            let keys = app.effective.api_keys();
            if !keys.is_empty() || saas.is_some() {
                let presented = presented_api_key(&parts.headers).unwrap_or_default();
                let mut allowed = keys;
                allowed.extend(saas.map(str::to_owned));
                if !key_matches(&presented, &allowed) {
                    return Err(ApiError::InvalidApiKey);
                }
            }
        }
    }

    // CDI version: absent means the newest this app allows.
    let app_cfg = app.as_ref().map(|a| &a.effective).unwrap_or(&registry.base);
    let latest = Version::parse(SUPPORTED_CDI_VERSIONS.last().copied().unwrap_or("5.4")).unwrap_or(Version(5, 4));
    let max = app_cfg.str("supertokens_max_cdi_version").and_then(Version::parse).unwrap_or(latest);
    let version = match parts.headers.get("cdi-version") {
        None => max,
        Some(v) => {
            let text = v.to_str().unwrap_or("").trim().to_owned();
            let v = Version::parse(&text).ok_or_else(|| ApiError::bad("cdi-version header is invalid"))?;
            if resolved.route.needs_version() {
                if v > max {
                    return Err(ApiError::bad(format!("cdi-version {text} not supported")));
                }
                if let Some(min) = app_cfg.str("supertokens_min_cdi_version").and_then(Version::parse) {
                    if v < min {
                        return Err(ApiError::bad(format!(
                            "cdi-version {text} is lower than the minimum allowed version {min}"
                        )));
                    }
                }
                if !SUPPORTED_CDI_VERSIONS.contains(&v.to_string().as_str()) {
                    return Err(ApiError::bad(format!("cdi-version {text} not supported")));
                }
            }
            v
        }
    };

    let body = read_body(&registry.base, body).await?;
    let ctx = Ctx {
        state,
        method: parts.method,
        id,
        version,
        rid: parts.headers.get("rid").and_then(|v| v.to_str().ok()).map(str::to_owned),
        query: Query::parse(parts.uri.query()),
        body,
        snapshot,
        protect_configs,
    };
    match crate::api::dispatch(resolved.route, &ctx).await {
        // Another instance may have removed the tenant (its rows with it) in the moment before
        // this one saw the change: once the removal is seen, answer as for any unknown tenant.
        Err(ApiError::Internal(msg)) if ctx.snapshot.get(&ctx.id).is_some() => {
            registry.refresh_or_keep().await;
            match registry.snapshot().get(&ctx.id) {
                None => Err(not_found_error(&ctx.id)),
                Some(_) => Err(ApiError::Internal(msg)),
            }
        }
        other => other,
    }
}

/// The request body, at most `max_request_body_bytes`, and all of it within
/// `header_read_timeout_sec`: a client that sends its headers then trickles the body
/// (slowloris on the body) gets 408 instead of holding a connection and a task open.
async fn read_body(cfg: &portcullis_core::config::Config, body: AxumBody) -> Result<Bytes, ApiError> {
    let limit = usize::try_from(cfg.i64("max_request_body_bytes")).unwrap_or(1 << 20);
    let within = std::time::Duration::from_secs(u64::try_from(cfg.i64("header_read_timeout_sec")).unwrap_or(30).max(1));
    match tokio::time::timeout(within, to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::PayloadTooLarge),
        Err(_) => Err(ApiError::RequestTimeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order() {
        assert!(Version::parse("5.4").unwrap() > Version::parse("5.3").unwrap());
        assert!(Version::parse("5.10").unwrap() > Version::parse("5.4").unwrap());
        assert!(Version::parse("abc").is_none());
    }

    #[test]
    fn api_key_sources() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(presented_api_key(&h).as_deref(), Some("abc"));
        h.insert("api-key", " xyz ".parse().unwrap());
        assert_eq!(presented_api_key(&h).as_deref(), Some("xyz"));
        assert!(key_matches("xyz", &["a".into(), "xyz".into()]));
        assert!(!key_matches("xy", &["xyz".into()]));
        assert!(!key_matches("xyzz", &["xyz".into()]));
        assert!(!key_matches("", &["xyz".into()]));
        assert!(!key_matches("xyz", &[]));
    }

    #[test]
    fn host_without_port() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "Example.com:3567".parse().unwrap());
        assert_eq!(host_name(&h), "example.com");
    }
}
