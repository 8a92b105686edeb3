//! The application's state: the tenancy registry and the process-wide services every request
//! shares (key cache, hashing pool, activity throttle, metrics, clock).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::http::access::Access;
use crate::tenancy::Registry;

pub struct AppState {
    pub registry: Arc<Registry>,
    /// The base config's access rules (its API keys guard the metrics).
    pub base_access: Access,
    /// SHA-256 of `supertokens_saas_secret`, when set.
    pub saas_digest: Option<String>,
    pub keys: crate::keys::KeyCache,
    pub last_active: crate::last_active::LastActive,
    pub hashing: crate::hashing::Hashing,
    pub metrics: crate::metrics::Metrics,
    /// Requests in flight and open connections (`max_server_pool_size`, `max_connections`).
    pub limits: crate::limits::Limits,
    /// The time, in milliseconds; tests move it to exercise expiry and key rotation.
    pub clock: Clock,
    pub config_path: Option<std::path::PathBuf>,
    /// Wakes this instance's bulk-import worker.
    pub bulk_import_wake: BulkImportWake,
}

/// Wall-clock time plus an offset that tests can advance.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        portcullis_core::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Wakes this instance's bulk-import worker (`bulkimport_worker.rs`) after a successful
/// `POST /bulk-import/users`, so it need not wait out its interval.
#[derive(Default)]
pub struct BulkImportWake(tokio::sync::Notify);

impl BulkImportWake {
    pub fn now(&self) {
        self.0.notify_one();
    }

    pub async fn notified(&self) {
        self.0.notified().await;
    }
}
