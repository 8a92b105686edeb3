//! The brute-force counters in SQLite (`portcullis_rate_limits`, Portcullis's own table): SQL only;
//! the rule is `core/src/ratelimit`. A hit is one upsert that restarts or increments the window and
//! returns the count.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::ratelimit::storage::{CounterKey, RateLimitStorage};
use portcullis_core::storage::StorageError;
use rusqlite::params;

use crate::{query_err, SqliteStorage};

/// SET reads the row as it was, so both CASEs see the same (old) window end.
const HIT: &str = "INSERT INTO portcullis_rate_limits (app_id, tenant_id, kind, key_hash, count, window_ends_at) \
     VALUES (?1, ?2, ?3, ?4, 1, ?6) \
     ON CONFLICT (app_id, tenant_id, kind, key_hash) DO UPDATE SET \
     count = CASE WHEN window_ends_at <= ?5 THEN 1 ELSE count + 1 END, \
     window_ends_at = CASE WHEN window_ends_at <= ?5 THEN excluded.window_ends_at ELSE window_ends_at END \
     RETURNING count";

#[async_trait]
impl RateLimitStorage for SqliteStorage {
    async fn rate_limit_hit(&self, AppKey { app_id }: AppKey<'_>, key: CounterKey<'_>, now: i64, window_ends_at: i64) -> Result<i64, StorageError> {
        let (app, tenant, kind, hash) = (app_id.to_owned(), key.tenant_id.to_owned(), key.kind, key.key_hash.to_owned());
        self.with_conn(move |c| c.query_row(HIT, params![app, tenant, kind, hash, now, window_ends_at], |r| r.get(0)).map_err(query_err)).await
    }

    async fn rate_limit_clear(&self, AppKey { app_id }: AppKey<'_>, key: CounterKey<'_>) -> Result<(), StorageError> {
        let (app, tenant, kind, hash) = (app_id.to_owned(), key.tenant_id.to_owned(), key.kind, key.key_hash.to_owned());
        self.with_conn(move |c| {
            c.execute(
                "DELETE FROM portcullis_rate_limits WHERE app_id = ?1 AND tenant_id = ?2 AND kind = ?3 AND key_hash = ?4",
                params![app, tenant, kind, hash],
            )
            .map(drop)
            .map_err(query_err)
        })
        .await
    }

    async fn rate_limit_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        self.with_conn(move |c| {
            c.execute("DELETE FROM portcullis_rate_limits WHERE window_ends_at <= ?1", params![now]).map(|n| n as u64).map_err(query_err)
        })
        .await
    }
}
