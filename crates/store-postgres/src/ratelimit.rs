//! The brute-force counters (`portcullis_rate_limits`, Portcullis's own table): SQL only; the
//! rule is `core/src/ratelimit`. A hit is one upsert that restarts or increments the window and
//! returns the count, so instances sharing the database agree without a lock.

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::ratelimit::storage::{CounterKey, RateLimitStorage};
use portcullis_core::storage::StorageError;

use crate::db::{Mode, WorkError};
use crate::names::Names;
use crate::PgStorage;

pub struct Statements {
    hit: String,
    clear: String,
    delete_expired: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let t = n.table("portcullis_rate_limits")?;
        Ok(Statements {
            // SET reads the row as it was, so both CASEs see the same (old) window end.
            hit: format!(
                "INSERT INTO {t} (app_id, tenant_id, kind, key_hash, count, window_ends_at) VALUES ($1, $2, $3, $4, 1, $6) \
                 ON CONFLICT (app_id, tenant_id, kind, key_hash) DO UPDATE SET \
                 count = CASE WHEN {t}.window_ends_at <= $5 THEN 1 ELSE {t}.count + 1 END, \
                 window_ends_at = CASE WHEN {t}.window_ends_at <= $5 THEN EXCLUDED.window_ends_at ELSE {t}.window_ends_at END \
                 RETURNING count"
            ),
            clear: format!("DELETE FROM {t} WHERE app_id = $1 AND tenant_id = $2 AND kind = $3 AND key_hash = $4"),
            delete_expired: format!("DELETE FROM {t} WHERE window_ends_at <= $1"),
        })
    }
}

#[async_trait]
impl RateLimitStorage for PgStorage {
    async fn rate_limit_hit(&self, AppKey { app_id }: AppKey<'_>, key: CounterKey<'_>, now: i64, window_ends_at: i64) -> Result<i64, StorageError> {
        let ctx = (&self.sql.ratelimit, app_id, key, now, window_ends_at);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, key, now, end)| {
                Box::pin(async move {
                    let row = db.query_opt(&sql.hit, &[app, &key.tenant_id, &key.kind, &key.key_hash, now, end]).await?;
                    // An upsert with RETURNING always returns its row.
                    let row = row.ok_or_else(|| WorkError::Invalid("the counter upsert returned no row".into()))?;
                    Ok(row.try_get(0)?)
                })
            })
            .await
    }

    async fn rate_limit_clear(&self, AppKey { app_id }: AppKey<'_>, key: CounterKey<'_>) -> Result<(), StorageError> {
        let ctx = (&self.sql.ratelimit, app_id, key);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, key)| {
                Box::pin(async move {
                    db.execute(&sql.clear, &[app, &key.tenant_id, &key.kind, &key.key_hash]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn rate_limit_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql.ratelimit, now);
        self.db.run(Mode::Write, &ctx, |db, (sql, now)| Box::pin(async move { Ok(db.execute(&sql.delete_expired, &[now]).await?) })).await
    }
}
