//! Opens the storage a configuration names: PostgreSQL when configured, else the embedded SQLite file.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_core::config::Config;
use portcullis_core::storage::{Storage, StorageError};

use crate::tenancy::TenancyError;

pub async fn open_storage(cfg: &Config) -> Result<Arc<dyn Storage>, StorageError> {
    open(cfg, portcullis_store_sqlite::SqliteStorage::open).await
}

/// As `open_storage`, but an SQLite file is opened without its one-process lock: for tools that
/// work beside a running server (the benchmark's floors). Never for serving.
pub async fn open_storage_beside_server(cfg: &Config) -> Result<Arc<dyn Storage>, StorageError> {
    open(cfg, portcullis_store_sqlite::SqliteStorage::open_beside_server).await
}

async fn open(
    cfg: &Config,
    open_sqlite: fn(&str) -> Result<portcullis_store_sqlite::SqliteStorage, StorageError>,
) -> Result<Arc<dyn Storage>, StorageError> {
    if cfg.uses_postgresql() {
        let pg = portcullis_store_postgres::PgStorage::connect(cfg).await?;
        return Ok(Arc::new(pg));
    }
    let path = sqlite_path(cfg).to_owned();
    let sqlite = tokio::task::spawn_blocking(move || open_sqlite(&path))
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))??;
    Ok(Arc::new(sqlite))
}

fn sqlite_path(cfg: &Config) -> &str {
    cfg.str("sqlite_path").unwrap_or("portcullis.db")
}

/// The database `cfg` names, for the start-up log: `SQLite /abs/file.db` or
/// `PostgreSQL user@host:port/db, schema 's', table prefix 'p'` (never the password).
pub fn describe(cfg: &Config) -> Result<String, StorageError> {
    if cfg.uses_postgresql() {
        return portcullis_store_postgres::describe_target(cfg)
            .map(|target| format!("PostgreSQL {target}"))
            .map_err(|e| StorageError::Unavailable(format!("invalid PostgreSQL configuration: {e}")));
    }
    match sqlite_path(cfg) {
        ":memory:" => Ok("SQLite in memory (nothing is kept)".into()),
        path => Ok(format!("SQLite {}", std::path::absolute(path).unwrap_or_else(|_| path.into()).display())),
    }
}

/// Runs `attempt` (which opens the databases) until it succeeds or `database_wait_sec` has
/// passed, logging each failed try: containers often start before their PostgreSQL accepts
/// connections. Only an unreachable PostgreSQL is waited for; invalid settings, refused schemas
/// and SQLite fail at once.
pub async fn wait_for_database<T, F, Fut>(cfg: &Config, mut attempt: F) -> Result<T, TenancyError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TenancyError>>,
{
    let wait = if cfg.uses_postgresql() {
        // Invalid settings are not worth waiting for.
        let target = describe(cfg)?;
        Some((Duration::from_secs(u64::try_from(cfg.i64("database_wait_sec")).unwrap_or(0)), target))
    } else {
        None
    };
    let started = Instant::now();
    let mut tries = 0u32;
    loop {
        let result = attempt().await;
        let Some((limit, target)) = &wait else { return result };
        match result {
            Err(TenancyError::Storage(StorageError::Unavailable(why))) if started.elapsed() < *limit => {
                tries += 1;
                tracing::info!(
                    "waiting for {target} ({} s of database_wait_sec {} s): {why}",
                    started.elapsed().as_secs(),
                    limit.as_secs()
                );
                let left = limit.saturating_sub(started.elapsed());
                tokio::time::sleep(left.min(Duration::from_secs(1))).await;
            }
            Err(TenancyError::Storage(StorageError::Unavailable(why))) if tries > 0 => {
                return Err(StorageError::Unavailable(format!(
                    "{why} (gave up after waiting {} s: database_wait_sec)",
                    started.elapsed().as_secs()
                ))
                .into())
            }
            Ok(value) if tries > 0 => {
                tracing::info!("{target} answered after {} s", started.elapsed().as_secs());
                return Ok(value);
            }
            other => return other,
        }
    }
}
