//! The HTTP side: the CDI's conventions applied to every request, in the core's order — resolve the
//! app and tenant, IP filter, API key, CDI version — then the API the route table names. Thin: the
//! APIs live in `api/`, and reach this module only through the route table it is given.

pub mod access;
pub mod ctx;
pub mod error;
pub mod input;
pub mod reply;
pub mod status;
pub mod resolve;
pub mod routes;
pub mod version;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_core::cdi::{self, VersionError};
use portcullis_core::ids::TenantIdentifier;
use tracing::Instrument;

use crate::state::AppState;
use crate::tenancy::Snapshot;
use access::{key_matches, presented_api_key};
use ctx::Ctx;
use error::ApiError;
use input::Query;
use routes::RouteTable;
pub use version::Version;

/// What the HTTP side serves: the application and its route table.
pub struct Server {
    pub state: Arc<AppState>,
    pub routes: &'static RouteTable,
}

pub async fn handle(
    State(server): State<Arc<Server>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<AxumBody>,
) -> Response {
    let state = &server.state;
    if let Err(e) = check_host_headers(&req) {
        return e.into_response();
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let metrics_path = state.registry.base.metrics_path().unwrap_or("");
    if !metrics_path.is_empty() && path == metrics_path && method == axum::http::Method::GET {
        return metrics(state, req.headers()).unwrap_or_else(IntoResponse::into_response);
    }
    let started = std::time::Instant::now();
    let request_id = request_id(req.headers());
    let span = tracing::info_span!("request", id = %request_id);
    let mut route = None;
    let mut response = match pipeline(&server, peer, req, &mut route).instrument(span.clone()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    state.metrics.record_request(route, response.status().as_u16(), started.elapsed());
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

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host` header; a server must answer
/// 400 to one with none or several (two Host headers let a proxy and this server disagree about
/// which connection-URI domain a request is for).
fn check_host_headers(req: &Request<AxumBody>) -> Result<(), ApiError> {
    if req.version() == axum::http::Version::HTTP_11 && req.headers().get_all(header::HOST).iter().count() != 1 {
        return Err(ApiError::bad("Exactly one Host header is required"));
    }
    Ok(())
}

fn host_name(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let host = host.trim().to_ascii_lowercase();
    // Strip a port, keeping IPv6 literals intact.
    match host.rfind(':') {
        Some(i) if !host.ends_with(']') && host[..i].find(':').is_none() => host[..i].to_owned(),
        _ => host,
    }
}

/// `metrics_path`: the Prometheus text format. Behind the base config's API keys when there are any.
fn metrics(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let keys = &state.base_access.api_key_digests;
    if !keys.is_empty() && !key_matches(&presented_api_key(headers).unwrap_or_default(), keys) {
        return Err(ApiError::InvalidApiKey);
    }
    let (hashing_waiting, hashing_running) = state.hashing.queue();
    let snapshot = state.registry.snapshot();
    let pools = Snapshot::distinct_storages(snapshot.tenants.values())
        .iter()
        .filter_map(|s| s.pool_status())
        .collect();
    let gauges = crate::metrics::Gauges {
        requests_refused: state.limits.requests_refused.load(std::sync::atomic::Ordering::Relaxed),
        connections_refused: state.limits.connections_refused.load(std::sync::atomic::Ordering::Relaxed),
        hashing_waiting,
        hashing_running,
        pools,
    };
    let body = state.metrics.render(&gauges);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response())
}

/// Runs the checks and the API; `route_out` gets the path's number (its metrics slot) once the
/// path is resolved.
async fn pipeline(server: &Server, peer: SocketAddr, req: Request<AxumBody>, route_out: &mut Option<usize>) -> Result<Response, ApiError> {
    let state = &server.state;
    let (parts, body) = req.into_parts();
    let registry = Arc::clone(&state.registry);
    let base_path = registry.base.base_path().unwrap_or("");
    let path = resolve::strip_base_path(base_path, parts.uri.path()).ok_or(ApiError::NotFound)?;
    let resolved = resolve::resolve(&path, server.routes).ok_or(ApiError::NotFound)?;
    *route_out = Some(resolved.routes.id);
    // The checks are the path's (its rows agree on them); the method picks the handler below.
    let checks = resolved.routes.first().ok_or(ApiError::NotFound)?;

    if checks.is_multitenancy {
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
        if t.access.denies(peer.ip()) {
            return Err(ApiError::Forbidden("Forbidden".into()));
        }
    }

    // An unknown app is answered before its key is checked or its body read, as the core does
    // (no handler runs for an app that does not exist, and a keyless caller cannot make the
    // server buffer a body for it).
    if app.is_none() {
        return Err(ApiError::tenant_not_found(&id));
    }

    // With a SaaS secret configured, callers who did not present it see and change no database
    // settings and no protected keys.
    let saas = state.saas_digest.as_ref();
    let protect_configs = saas.is_some_and(|secret| {
        !key_matches(&presented_api_key(&parts.headers).unwrap_or_default(), [secret])
    });

    // API key: the app's keys; skipped for an unknown app (the API then reports it).
    if checks.needs_api_key {
        if let Some(app) = &app {
            let keys = &app.access.api_key_digests;
            if !keys.is_empty() || saas.is_some() {
                let presented = presented_api_key(&parts.headers).unwrap_or_default();
                if !key_matches(&presented, keys.iter().chain(saas)) {
                    return Err(ApiError::InvalidApiKey);
                }
            }
        }
    }

    // CDI version: the core's checks (format, the app's max and min) for every API, then the
    // exact listed string for the APIs that need a version; absent means the newest this app allows.
    let app_access = app.as_ref().map(|a| &a.access).unwrap_or(&state.base_access);
    let header = match parts.headers.get("cdi-version") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| ApiError::bad(VersionError::Invalid.message()))?.trim()),
    };
    let requested = cdi::resolve(header, app_access.max_cdi.as_deref(), app_access.min_cdi.as_deref())
        .map_err(|e| ApiError::bad(e.message()))?;
    // Before 3.0 there were no tenants: a non-public tenant's path is not found.
    if cdi::hides_non_public_tenants(requested.version, &resolved.tenant_id) {
        return Err(ApiError::NotFound);
    }
    let version = requested.for_api(checks.needs_version).map_err(|e| ApiError::bad(e.message()))?;

    let Some(route) = resolved.routes.for_method(&parts.method) else { return Err(ApiError::MethodNotAllowed) };
    // One of `max_server_pool_size` slots from here to the reply: bodies are buffered and handlers
    // run for at most that many requests at once (the app, tenant and key are already decided).
    let Some(_slot) = state.limits.request_slot().await else { return Err(ApiError::Busy) };
    // Only a route whose handler uses a body has it read: on the others it is left unread (and
    // the connection closed after the reply if the client sent one).
    let body = if route.takes_body { read_body(&registry.base, body, route.large_body).await? } else { Bytes::new() };
    let ctx = Ctx {
        state: Arc::clone(state),
        method: parts.method,
        id,
        version,
        rid: parts.headers.get("rid").and_then(|v| v.to_str().ok()).map(str::to_owned),
        query: Query::parse(parts.uri.query()),
        body,
        snapshot,
        protect_configs,
        authorization: parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    match (route.handler)(&ctx).await {
        // Another instance may have removed the tenant (its rows with it) in the moment before
        // this one saw the change: once the removal is seen, answer as for any unknown tenant.
        Err(ApiError::Internal(msg)) if ctx.snapshot.get(&ctx.id).is_some() => {
            registry.refresh_or_keep().await;
            match registry.snapshot().get(&ctx.id) {
                None => Err(ApiError::tenant_not_found(&ctx.id)),
                Some(_) => Err(ApiError::Internal(msg)),
            }
        }
        other => other,
    }
}

/// The request body, at most `max_request_body_bytes`, and all of it within
/// `header_read_timeout_sec`: a client that sends its headers then trickles the body
/// (slowloris on the body) gets 408 instead of holding a connection and a task open.
async fn read_body(cfg: &portcullis_core::config::Config, body: AxumBody, large: bool) -> Result<Bytes, ApiError> {
    let configured = usize::try_from(cfg.max_request_body_bytes()).unwrap_or(1 << 20);
    let limit = if large { configured.max(routes::LARGE_BODY_BYTES) } else { configured };
    let within = std::time::Duration::from_secs(u64::try_from(cfg.header_read_timeout_sec()).unwrap_or(30).max(1));
    match tokio::time::timeout(within, collect_limited(body, limit)).await {
        Ok(read) => read,
        Err(_) => Err(ApiError::RequestTimeout),
    }
}

/// Collects a body of at most `limit` bytes: 413 when it is (or says it will be) larger, 400 when
/// it is malformed (a bad chunk size, a connection closed before `Content-Length` bytes).
async fn collect_limited(mut body: AxumBody, limit: usize) -> Result<Bytes, ApiError> {
    use hyper::body::Body as _;
    let claimed = body.size_hint().lower();
    if claimed > limit as u64 {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => break,
            Some(Err(_)) => return Err(ApiError::bad("Malformed request body")),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers
            },
        };
        let so_far = first.as_ref().map_or(0, Bytes::len) + rest.len();
        if so_far + data.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        // One frame (the usual case) is kept as it came; more are joined.
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            Some(f) => {
                rest.extend_from_slice(&f);
                rest.extend_from_slice(&data);
            }
            None => rest.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_without_port() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "Example.com:3567".parse().unwrap());
        assert_eq!(host_name(&h), "example.com");
    }
}
