//! `user_last_active` is written on session create and refresh, at most once per user per five
//! minutes per process (as the core does), so that busy users do not cost a write per request.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use portcullis_core::ids::AppKey;
use portcullis_core::services::ActivityLog;
use portcullis_core::storage::Storage;
use portcullis_core::useridmapping::storage::IdType;

const THROTTLE_MS: i64 = 5 * 60 * 1000;
/// Past this many remembered users, entries older than the throttle window are dropped.
const PRUNE_AT: usize = 100_000;

#[derive(Default)]
pub struct LastActive {
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl LastActive {
    /// Whether (app, user) should be written now; records the write when it should.
    pub fn due(&self, app_id: &str, user_id: &str, now: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return true };
        let key = (app_id.to_owned(), user_id.to_owned());
        if seen.get(&key).is_some_and(|&t| now - t < THROTTLE_MS) {
            return false;
        }
        if seen.len() >= PRUNE_AT {
            seen.retain(|_, t| now - *t < THROTTLE_MS);
        }
        seen.insert(key, now);
        true
    }
}

/// Records activity (throttled) under the SuperTokens user id, whichever id the caller has. A
/// failure here must not fail a sign-in, so it is only logged.
#[async_trait]
impl ActivityLog for LastActive {
    async fn record(&self, storage: &dyn Storage, app: AppKey<'_>, user_id: &str, now: i64) {
        if !self.due(app.app_id, user_id, now) {
            return;
        }
        let written = async {
            let st_id = match storage.get_user_id_mapping(app, user_id, IdType::Any).await? {
                Some(m) => m.supertokens_user_id,
                None => user_id.to_owned(),
            };
            storage.user_last_active_upsert(app, &st_id, now).await
        };
        if let Err(e) = written.await {
            tracing::warn!(error = %e, "cannot record last activity");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_per_user() {
        let l = LastActive::default();
        assert!(l.due("a", "u", 0));
        assert!(!l.due("a", "u", 1000));
        assert!(l.due("a", "v", 1000));
        assert!(l.due("b", "u", 1000));
        assert!(l.due("a", "u", THROTTLE_MS + 1));
    }
}
