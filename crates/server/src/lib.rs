//! The Portcullis server: HTTP, tenancy and background jobs wired together. `main.rs` is the CLI.

mod api;
pub mod bulkimport_worker;
pub mod cron;
mod hashing;
pub mod http;
pub mod keys;
mod last_active;
pub mod limits;
pub mod metrics;
pub mod probe;
pub mod startup;
pub mod state;
pub mod storage_open;
pub mod tenancy;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use portcullis_core::config::Config;
use portcullis_core::ids::{TenantKey, PUBLIC};
use portcullis_core::now_ms;

use crate::http::routes::RouteTable;
use crate::state::AppState;
use crate::tenancy::{Registry, TenancyError};

/// The route table: every API the server serves.
pub fn routes() -> &'static RouteTable {
    api::routes::table()
}

/// Opens the databases (waiting up to `database_wait_sec` for PostgreSQL), loads the tenants and
/// prepares the application state.
pub async fn start(config: Config, config_path: Option<std::path::PathBuf>) -> Result<Arc<AppState>, TenancyError> {
    let registry = startup::wait_for_database(&config, || Registry::start(config.clone())).await?;
    registry
        .base_storage()
        .key_value_insert_if_absent(TenantKey::new(PUBLIC, PUBLIC), api::core::TELEMETRY_ID_KEY, &uuid::Uuid::new_v4().to_string(), now_ms())
        .await?;
    let hashing = hashing::Hashing::new(&registry.base);
    let limits = limits::Limits::from_config(&registry.base);
    Ok(Arc::new(AppState {
        base_access: http::access::Access::from_config(&registry.base),
        saas_digest: registry.base.supertokens_saas_secret().map(portcullis_core::crypto::sha256_hex),
        registry,
        keys: keys::KeyCache::default(),
        last_active: last_active::LastActive::default(),
        hashing,
        metrics: metrics::Metrics::new(routes().metric_names()),
        limits,
        clock: state::Clock::default(),
        config_path,
        bulk_import_wake: state::BulkImportWake::default(),
    }))
}

pub fn router(state: Arc<AppState>) -> Router {
    let server = Arc::new(http::Server { state, routes: routes() });
    Router::new()
        .fallback(http::handle)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(server)
}

/// How often the tenant configs' version is checked, so that other instances' changes arrive
/// within this bound (see `tenancy`).
pub const TENANT_VERSION_CHECK: Duration = Duration::from_secs(1);

/// Checks the tenant configs' version every `TENANT_VERSION_CHECK` and re-reads them all every
/// `tenant_sync_interval_sec`, so that changes made through other instances arrive.
fn spawn_tenant_sync(state: &Arc<AppState>) {
    let registry = Arc::clone(&state.registry);
    let every = Duration::from_secs(u64::try_from(registry.base.tenant_sync_interval_sec()).unwrap_or(60).max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TENANT_VERSION_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_full = tokio::time::Instant::now();
        tick.tick().await;
        loop {
            tick.tick().await;
            let outcome = if last_full.elapsed() >= every {
                last_full = tokio::time::Instant::now();
                registry.reload().await
            } else {
                registry.refresh().await.map(drop)
            };
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "periodic tenant reload failed");
            }
        }
    });
}

/// Serves on `listener` until `shutdown` completes, then finishes in-flight requests.
///
/// HTTP/1.1 with keep-alive. A connection must deliver each request's headers within
/// `header_read_timeout_sec` of starting to wait for them, which also closes idle keep-alive
/// connections and slow-header (slowloris) clients; bodies and handling are bounded by the
/// router's request timeout.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    spawn_tenant_sync(&state);
    cron::spawn(Arc::clone(&state));
    bulkimport_worker::spawn(Arc::clone(&state));
    let header_timeout = Duration::from_secs(u64::try_from(state.registry.base.header_read_timeout_sec()).unwrap_or(30).max(1));
    let app_state = Arc::clone(&state);
    let app = router(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if !app_state.limits.admit_connection(connections.len()) {
                    drop(stream);
                    continue;
                }
                let app = app.clone();
                let mut stop = stop_rx.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                        app.clone().oneshot(req.map(axum::body::Body::new))
                    });
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = async { drop(stop.wait_for(|stopping| *stopping).await) } => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
        }
    }
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}
