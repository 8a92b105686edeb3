//! Opens the storage a configuration names: PostgreSQL when configured, else the embedded SQLite file.

use std::sync::Arc;

use portcullis_core::config::Config;
use portcullis_core::storage::{Storage, StorageError};

pub async fn open_storage(cfg: &Config) -> Result<Arc<dyn Storage>, StorageError> {
    if cfg.uses_postgresql() {
        let pg = portcullis_store_postgres::PgStorage::connect(cfg).await?;
        return Ok(Arc::new(pg));
    }
    let path = cfg.sqlite_path().unwrap_or("portcullis.db").to_owned();
    let sqlite = tokio::task::spawn_blocking(move || portcullis_store_sqlite::SqliteStorage::open(&path))
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))??;
    Ok(Arc::new(sqlite))
}
