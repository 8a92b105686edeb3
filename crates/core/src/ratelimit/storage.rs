//! Where the brute-force counters live: `portcullis_rate_limits`, Portcullis's own table (neither the
//! seed's nor the plugin's). One row per (app, tenant, kind, key hash); the rule that reads them is
//! in `ratelimit/mod.rs`.

use async_trait::async_trait;

use crate::ids::AppKey;
use crate::storage::error::StorageError;

/// One counter's row key. `tenant_id` is empty for counters that span the app (per user);
/// `key_hash` is the SHA-256 (hex) of what is counted, so no email is stored in clear and the row
/// stays bounded however long the email is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CounterKey<'a> {
    pub tenant_id: &'a str,
    pub kind: &'static str,
    pub key_hash: &'a str,
}

#[async_trait]
pub trait RateLimitStorage: Send + Sync {
    /// Counts one call, in one atomic statement (an upsert), and returns the count in the window:
    /// a missing row, or one whose `window_ends_at <= now`, restarts at 1 with `window_ends_at`;
    /// any other row is incremented and keeps its window end. Two instances counting at once both
    /// see their own increment.
    async fn rate_limit_hit(&self, app: AppKey<'_>, key: CounterKey<'_>, now: i64, window_ends_at: i64) -> Result<i64, StorageError>;

    /// Forgets a counter (a successful sign-in resets the failures).
    async fn rate_limit_clear(&self, app: AppKey<'_>, key: CounterKey<'_>) -> Result<(), StorageError>;

    /// Deletes every counter whose window ended at or before `now`, in every app; returns how many.
    async fn rate_limit_delete_expired(&self, now: i64) -> Result<u64, StorageError>;
}
