//! The Portcullis server: HTTP, tenancy and background jobs wired together. `main.rs` is the CLI.

mod api;
pub mod cron;
mod hashing;
pub mod http;
pub mod keys;
mod last_active;
pub mod storage_open;
pub mod tenancy;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use portcullis_core::config::Config;
use portcullis_core::now_ms;

use crate::http::AppState;
use crate::tenancy::{Registry, TenancyError};

/// The key_value entry the core writes once per app: a random id (we send no telemetry).
pub const TELEMETRY_ID_KEY: &str = "TELEMETRY_ID";

/// Opens the databases, loads the tenants and prepares the application state.
pub async fn start(config: Config, config_path: Option<std::path::PathBuf>) -> Result<Arc<AppState>, TenancyError> {
    let registry = Registry::start(config).await?;
    registry
        .base_storage()
        .key_value_insert_if_absent("public", "public", TELEMETRY_ID_KEY, &uuid::Uuid::new_v4().to_string(), now_ms())
        .await?;
    let hashing = hashing::Hashing::new(&registry.base);
    Ok(Arc::new(AppState {
        registry,
        keys: keys::KeyCache::default(),
        last_active: last_active::LastActive::default(),
        hashing,
        clock: http::Clock::default(),
        config_path,
    }))
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .fallback(http::handle)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .with_state(state)
}

/// Re-reads tenant configs periodically so that changes made through other instances arrive.
fn spawn_tenant_sync(state: &Arc<AppState>) {
    let registry = Arc::clone(&state.registry);
    let every = Duration::from_secs(u64::try_from(registry.base.i64("tenant_sync_interval_sec")).unwrap_or(60).max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = registry.reload().await {
                tracing::warn!(error = %e, "periodic tenant reload failed");
            }
        }
    });
}

/// Serves on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_tenant_sync(&state);
    cron::spawn(Arc::clone(&state));
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
