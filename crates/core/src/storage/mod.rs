//! What every storage adapter provides: the umbrella [`Storage`] trait over the recipes' storage
//! traits (each recipe's own is in `<recipe>/storage.rs`), the registry of tenant configurations,
//! the key-value store, and the error type. Each method is one atomic unit of work: adapters run
//! it in one transaction. A flow that loads, decides and writes is written in core over the
//! transaction handle instead ([`transaction`], `tx.rs`).

pub mod error;
pub mod schema_shape;
pub mod tx;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

pub use error::StorageError;
use tx::{FlowFn, FlowWork, Work};

use crate::ids::TenantKey;

/// A connection pool at one moment, and its counters since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
    pub max_size: usize,
    /// Connections opened, and attempts that failed (every host refused, timed out or did not match).
    pub connects: u64,
    pub connect_failures: u64,
    /// Connections thrown away: dead, left busy by a timeout, or on a server that became read-only.
    pub discarded: u64,
    /// Waits for a connection, statements and units of work that ran out of time.
    pub timeouts: u64,
    /// Checkouts from the pool and the time they waited, in microseconds.
    pub waits: u64,
    pub wait_micros: u64,
}

/// Everything one database stores: the recipes' storage traits, plus (here) the key-value store.
#[async_trait]
pub trait Storage:
    crate::session::storage::SessionStorage
    + crate::users::storage::UserStorage
    + crate::metadata::storage::MetadataStorage
    + crate::roles::storage::RoleStorage
    + crate::dashboard::storage::DashboardStorage
    + crate::emailverification::storage::EmailVerificationStorage
    + crate::emailpassword::storage::EmailPasswordStorage
    + crate::useridmapping::storage::UserIdMappingStorage
    + crate::passwordless::storage::PasswordlessStorage
    + crate::thirdparty::storage::ThirdPartyStorage
    + crate::totp::storage::TotpStorage
    + crate::multitenancy::storage::TenantStorage
    + crate::webauthn::storage::WebauthnStorage
    + crate::saml::storage::SamlStorage
    + crate::oauth::storage::OAuthStorage
    + crate::ratelimit::storage::RateLimitStorage
    + crate::bulkimport::storage::BulkImportQueueStorage
    + Send
    + Sync
    + 'static
{
    /// "postgresql" or "sqlite".
    fn kind(&self) -> &'static str;

    /// Runs a unit of work in one read-write transaction (see `tx` for the contract): committed when
    /// it succeeds, rolled back when it fails or met a conflict. Flows call it through
    /// [`transaction`].
    async fn transaction(&self, work: Box<dyn Work>) -> Result<(), StorageError>;

    /// A cheap round trip, for /hello and health checks.
    async fn ping(&self) -> Result<(), StorageError>;

    /// The connection pool's state, for metrics; `None` without a pool (SQLite's one connection).
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// Reads a key-value entry.
    async fn key_value_get(&self, tenant: TenantKey<'_>, name: &str) -> Result<Option<String>, StorageError>;

    /// Takes the lease named `name` (a `key_value` row of the public app) when nobody took it in the
    /// last `interval_ms`: true for exactly one of several instances asking at once. Background jobs
    /// use it to run once per interval across instances.
    async fn lease(&self, name: &str, now_ms: i64, interval_ms: i64) -> Result<bool, StorageError>;

    /// Stores `value` under `name`, replacing what is there.
    async fn key_value_set(&self, tenant: TenantKey<'_>, name: &str, value: &str, now_ms: i64) -> Result<(), StorageError>;

    /// Stores `value` under `name` unless a value is already there; returns the stored value.
    async fn key_value_insert_if_absent(
        &self,
        tenant: TenantKey<'_>,
        name: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<String, StorageError>;
}

/// Runs `flow` with `input` in one transaction of `storage`, and returns what it returned.
pub async fn transaction<I, T>(storage: &dyn Storage, input: I, flow: FlowFn<I, T>) -> Result<T, StorageError>
where
    I: Send + Sync + 'static,
    T: Send + 'static,
{
    let out = Arc::new(Mutex::new(None));
    storage.transaction(Box::new(FlowWork { input, flow, out: Arc::clone(&out) })).await?;
    let value = out.lock().ok().and_then(|mut o| o.take());
    value.ok_or_else(|| StorageError::Query("a unit of work finished without its result".into()))
}
