//! The connection pool and the one place where units of work run: in a transaction (or, for reads,
//! as single statements), retried when PostgreSQL reports a serialization failure or deadlock, or
//! when a pooled connection turns out to be dead (after a server restart, say).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    ClientWrapper, HookError, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
    Transaction,
};
use portcullis_core::storage::StorageError;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row, Statement};

use crate::settings::Settings;

/// Tries after a serialization failure or deadlock before giving up (with growing, jittered sleeps).
const MAX_CONFLICT_RETRIES: u32 = 10;

/// What a unit of work returns: a future borrowing the connection and its inputs.
pub type DbFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, WorkError>> + Send + 't>>;

/// Why a unit of work failed: the database said no, or what it holds cannot be read.
#[derive(Debug)]
pub enum WorkError {
    Pg(tokio_postgres::Error),
    /// A stored value that does not parse (the message names where, never the value).
    Invalid(String),
}

impl From<tokio_postgres::Error> for WorkError {
    fn from(e: tokio_postgres::Error) -> Self {
        WorkError::Pg(e)
    }
}

/// How a unit of work runs.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// A READ COMMITTED read-write transaction (the plugin's default since core 12).
    Write,
    /// A REPEATABLE READ read-only transaction: several reads that must see one snapshot.
    Snapshot,
    /// Statements on their own, without BEGIN/COMMIT. Only for reads: a lost connection makes the work
    /// run again.
    Read,
}

/// A connection or an open transaction, with statements prepared once per connection.
#[derive(Clone, Copy)]
pub enum Conn<'t> {
    Client(&'t ClientWrapper),
    Tx(&'t Transaction<'t>),
}

impl Conn<'_> {
    async fn prepare(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        match self {
            Conn::Client(c) => c.prepare_cached(sql).await,
            Conn::Tx(t) => t.prepare_cached(sql).await,
        }
    }

    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, tokio_postgres::Error> {
        let st = self.prepare(sql).await?;
        match self {
            Conn::Client(c) => c.execute(&st, params).await,
            Conn::Tx(t) => t.execute(&st, params).await,
        }
    }

    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, tokio_postgres::Error> {
        let st = self.prepare(sql).await?;
        match self {
            Conn::Client(c) => c.query(&st, params).await,
            Conn::Tx(t) => t.query(&st, params).await,
        }
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let st = self.prepare(sql).await?;
        match self {
            Conn::Client(c) => c.query_opt(&st, params).await,
            Conn::Tx(t) => t.query_opt(&st, params).await,
        }
    }
}

/// A failed attempt, and whether COMMIT had been sent (then a lost connection leaves the outcome unknown).
struct Failed {
    error: WorkError,
    commit_sent: bool,
}

fn before_commit(error: impl Into<WorkError>) -> Failed {
    Failed { error: error.into(), commit_sent: false }
}

/// The pool plus what error messages need to say.
pub struct Db {
    pool: Pool,
    endpoint: String,
    timeout: Duration,
    /// Bounds one whole attempt on the client side, in case the server stops answering altogether.
    attempt_deadline: Duration,
    /// A restart of PostgreSQL can leave every pooled connection dead; each is found out and dropped
    /// by one failed try, so a unit of work may need that many tries plus one.
    max_connection_retries: usize,
}

impl Db {
    pub fn new(settings: &Settings) -> Result<Db, StorageError> {
        let manager = Manager::from_config(
            settings.pg_config(),
            NoTls,
            // `Fast` costs no round trip per checkout; connections that died unnoticed are caught by
            // the retry in `run` instead.
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let timeout_ms = settings.timeout.as_millis();
        // A statement can never hang: the server cancels it after the timeout. A transaction left
        // open by a vanished client is ended too, so it cannot hold row locks.
        let session_setup: Arc<str> = format!(
            "SET statement_timeout = {timeout_ms}; SET idle_in_transaction_session_timeout = {}",
            (timeout_ms * 4).max(30_000)
        )
        .into();
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .wait_timeout(Some(settings.timeout))
            .create_timeout(Some(settings.timeout))
            .recycle_timeout(Some(settings.timeout))
            .runtime(Runtime::Tokio1)
            .post_create(deadpool_postgres::Hook::async_fn(move |client: &mut ClientWrapper, _| {
                let sql = Arc::clone(&session_setup);
                Box::pin(async move { client.batch_execute(&sql).await.map_err(HookError::Backend) })
            }))
            .build()
            .map_err(|e| StorageError::Unavailable(format!("cannot build the PostgreSQL connection pool: {e}")))?;
        Ok(Db {
            pool,
            endpoint: settings.endpoint(),
            timeout: settings.timeout,
            attempt_deadline: settings.timeout * 4,
            max_connection_retries: settings.pool_size + 1,
        })
    }

    pub fn pool_status(&self) -> portcullis_core::storage::PoolStatus {
        let s = self.pool.status();
        portcullis_core::storage::PoolStatus { size: s.size, available: s.available, waiting: s.waiting, max_size: s.max_size }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A pooled connection, for work that does not fit `run` (creating the schema).
    pub async fn client(&self) -> Result<Object, StorageError> {
        self.pool.get().await.map_err(|e| self.pool_error(e))
    }

    /// Runs `work` as one unit: in a transaction per `mode`, retried on conflicts and dead connections.
    /// `work` gets its inputs through `ctx` (not by capture) so the future may borrow them.
    pub async fn run<C, T, F>(&self, mode: Mode, ctx: &C, work: F) -> Result<T, StorageError>
    where
        C: ?Sized + Sync,
        T: Send,
        F: for<'t> Fn(Conn<'t>, &'t C) -> DbFuture<'t, T> + Send + Sync,
    {
        let mut conflicts = 0;
        let mut lost_connections = 0;
        loop {
            let mut client = self.client().await?;
            let attempt = tokio::time::timeout(self.attempt_deadline, attempt(&mut client, mode, ctx, &work)).await;
            let failed = match attempt {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(failed)) => failed,
                Err(_) => {
                    // The connection may still be busy with our statement: never give it to anyone else.
                    drop(Object::take(client));
                    return Err(StorageError::Unavailable(format!(
                        "PostgreSQL at {} did not answer within {} ms",
                        self.endpoint,
                        self.attempt_deadline.as_millis()
                    )));
                }
            };
            let pg = match failed.error {
                WorkError::Invalid(message) => return Err(StorageError::Query(message)),
                WorkError::Pg(ref e) => e,
            };
            if is_conflict(pg) && conflicts < MAX_CONFLICT_RETRIES {
                conflicts += 1;
                drop(client);
                tokio::time::sleep(conflict_backoff(conflicts)).await;
                continue;
            }
            if is_connection_lost(pg) {
                drop(Object::take(client));
                if !failed.commit_sent && lost_connections < self.max_connection_retries {
                    lost_connections += 1;
                    continue;
                }
            }
            return Err(self.query_error(pg));
        }
    }

    fn pool_error(&self, e: PoolError) -> StorageError {
        let why = match e {
            PoolError::Timeout(kind) => {
                let what = match kind {
                    TimeoutType::Wait => "every pooled connection stayed busy",
                    TimeoutType::Create => "opening a connection did not finish",
                    TimeoutType::Recycle => "checking a pooled connection did not finish",
                };
                format!("{what} within {} ms", self.timeout.as_millis())
            }
            PoolError::Backend(e) | PoolError::PostCreateHook(HookError::Backend(e)) => describe(&e),
            other => other.to_string(),
        };
        StorageError::Unavailable(format!("cannot connect to PostgreSQL at {}: {why}", self.endpoint))
    }

    /// Maps a statement's error: connection trouble and timeouts mean "unavailable", the rest is a
    /// query error. Messages carry the SQLSTATE and the server's message, never parameters.
    pub fn query_error(&self, e: &tokio_postgres::Error) -> StorageError {
        let code = e.code().map(SqlState::code).unwrap_or("");
        if is_connection_lost(e) || code.starts_with("53") {
            StorageError::Unavailable(format!("PostgreSQL at {}: {}", self.endpoint, describe(e)))
        } else if code == SqlState::QUERY_CANCELED.code() || code == SqlState::LOCK_NOT_AVAILABLE.code() {
            StorageError::Unavailable(format!(
                "PostgreSQL at {} did not answer within {} ms ({})",
                self.endpoint,
                self.timeout.as_millis(),
                describe(e)
            ))
        } else {
            StorageError::Query(describe(e))
        }
    }
}

async fn attempt<C, T, F>(client: &mut ClientWrapper, mode: Mode, ctx: &C, work: &F) -> Result<T, Failed>
where
    C: ?Sized + Sync,
    F: for<'t> Fn(Conn<'t>, &'t C) -> DbFuture<'t, T>,
{
    let (isolation, read_only) = match mode {
        Mode::Read => return work(Conn::Client(client), ctx).await.map_err(before_commit),
        Mode::Write => (IsolationLevel::ReadCommitted, false),
        Mode::Snapshot => (IsolationLevel::RepeatableRead, true),
    };
    let tx = client.build_transaction().isolation_level(isolation).read_only(read_only).start().await;
    let tx = tx.map_err(before_commit)?;
    // On failure `tx` is dropped, which rolls the transaction back.
    let value = work(Conn::Tx(&tx), ctx).await.map_err(before_commit)?;
    tx.commit().await.map_err(|e| Failed { error: e.into(), commit_sent: true })?;
    Ok(value)
}

/// Serialization failure or deadlock: the transaction was rolled back and may simply run again.
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

/// The connection is gone: closed, broken underneath, or the server is shutting it down.
pub fn is_connection_lost(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(c) => {
            c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        }
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

/// A short description of a driver error: SQLSTATE and message for server errors (without DETAIL,
/// which can quote row values), the driver's own text otherwise (it never includes the password).
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// 10 ms plus a random part that grows with each try, up to one second.
fn conflict_backoff(tries: u32) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    // Jitter only needs to differ between concurrent callers; the std hasher's random keys do that.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(tries);
    let cap = (10u64 << tries.min(7)).min(1000);
    Duration::from_millis(10 + h.finish() % cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement that runs too long is cancelled by the server and reported as "unavailable".
    #[tokio::test]
    async fn slow_statements_time_out() {
        let Ok(uri) = std::env::var("PORTCULLIS_TEST_PG_URI") else {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipping slow_statements_time_out: PORTCULLIS_TEST_PG_URI is not set");
            return;
        };
        let no_env = |_: &str| None;
        let yaml = format!("postgresql_connection_uri: \"{uri}\"\ndatabase_timeout_ms: 300\n");
        let sources = portcullis_core::config::Sources { yaml: Some(&yaml), env: &no_env, overrides: vec![] };
        let (cfg, _) = portcullis_core::config::Config::load(sources).unwrap();
        let db = Db::new(&Settings::from_config(&cfg).unwrap()).unwrap();
        let started = std::time::Instant::now();
        let err = db
            .run(Mode::Read, &(), |c, _| {
                Box::pin(async move {
                    c.query("SELECT pg_sleep(5)", &[]).await?;
                    Ok(())
                })
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Unavailable(_)), "{err}");
        assert!(err.to_string().contains("did not answer within 300 ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        // The connection is still good for the next unit of work.
        db.run(Mode::Read, &(), |c, _| Box::pin(async move { Ok(c.query("SELECT 1", &[]).await?.len()) }))
            .await
            .unwrap();
    }

    #[test]
    fn backoff_is_bounded() {
        for t in 1..=MAX_CONFLICT_RETRIES {
            let d = conflict_backoff(t);
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(1010), "{d:?}");
        }
    }
}
