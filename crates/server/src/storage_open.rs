//! Opens the storage a configuration names: PostgreSQL when configured, else the embedded SQLite file.

use std::sync::Arc;

use portcullis_core::config::Config;
use portcullis_core::storage::{Storage, StorageError};

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
    cfg.sqlite_path().unwrap_or("portcullis.db")
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
