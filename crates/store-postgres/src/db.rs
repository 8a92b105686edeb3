//! The connection pool and the one place where units of work run: in a transaction (or, for reads,
//! as single statements), retried when PostgreSQL reports a serialization failure or deadlock, or
//! when a pooled connection turns out to be dead (after a server restart or a failover, say).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use deadpool::managed::{Object, Pool, PoolError, TimeoutType};
use deadpool_postgres::Transaction;
use portcullis_core::storage::StorageError;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, IsolationLevel, Row, SimpleQueryMessage, Statement};

use crate::connect::{describe, session_timeouts, ConnectError, Manager, PgConn, Stats};
use crate::settings::{Settings, Statements};

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
    /// One write that is atomic on its own (autocommit), without BEGIN/COMMIT: two round trips
    /// fewer than `Write`. A lost connection makes it run again, as a read, so the statement must
    /// give the same outcome when it ran before unseen: a compare-and-set, or an insert by a fresh
    /// random key with `ON CONFLICT DO NOTHING`. Behind a transaction pooler (unnamed statements)
    /// it runs as `Write`, whose transaction carries the timeouts.
    Statement,
}

/// Parameter types of statements run unnamed, learnt once per statement text and pool.
struct ParamTypes {
    known: RwLock<HashMap<Box<str>, Arc<[Type]>>>,
    /// Names of the throwaway statements that learn the types: unique across processes, since
    /// behind a pooler several processes share server connections.
    prefix: String,
    next: AtomicU64,
}

/// A connection or an open transaction, and how statements are sent on it.
#[derive(Clone, Copy)]
pub struct Conn<'t> {
    target: Target<'t>,
    types: Option<&'t ParamTypes>,
}

#[derive(Clone, Copy)]
enum Target<'t> {
    Client(&'t PgConn),
    Tx(&'t Transaction<'t>),
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

impl Conn<'_> {
    fn client(&self) -> &Client {
        match self.target {
            Target::Client(c) => c,
            Target::Tx(t) => t.client(),
        }
    }

    /// Prepared mode: the statement, prepared once per connection.
    async fn prepare(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        match self.target {
            Target::Client(c) => c.prepare_cached(sql).await,
            Target::Tx(t) => t.prepare_cached(sql).await,
        }
    }

    /// Unnamed mode: the parameters with their types, learnt on first use of the statement.
    async fn typed<'p>(
        &self,
        types: &ParamTypes,
        sql: &str,
        params: &Params<'p>,
    ) -> Result<Vec<(&'p (dyn ToSql + Sync), Type)>, tokio_postgres::Error> {
        if params.is_empty() {
            return Ok(Vec::new());
        }
        let types = match types.get(sql) {
            Some(t) => t,
            None => types.learn(self.client(), sql).await?,
        };
        Ok(params.iter().copied().zip(types.iter().cloned()).collect())
    }

    pub async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, tokio_postgres::Error> {
        if let Some(types) = self.types {
            let typed = self.typed(types, sql, params).await?;
            return self.client().execute_typed(sql, &typed).await;
        }
        let st = self.prepare(sql).await?;
        self.client().execute(&st, params).await
    }

    pub async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, tokio_postgres::Error> {
        if let Some(types) = self.types {
            let typed = self.typed(types, sql, params).await?;
            return self.client().query_typed(sql, &typed).await;
        }
        let st = self.prepare(sql).await?;
        self.client().query(&st, params).await
    }

    pub async fn query_opt(&self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, tokio_postgres::Error> {
        if let Some(types) = self.types {
            let typed = self.typed(types, sql, params).await?;
            return self.client().query_typed_opt(sql, &typed).await;
        }
        let st = self.prepare(sql).await?;
        self.client().query_opt(&st, params).await
    }
}

impl ParamTypes {
    fn new() -> ParamTypes {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        ParamTypes {
            known: RwLock::new(HashMap::new()),
            prefix: format!("portcullis_types_{:016x}", h.finish()),
            next: AtomicU64::new(0),
        }
    }

    fn get(&self, sql: &str) -> Option<Arc<[Type]>> {
        self.known.read().ok()?.get(sql).cloned()
    }

    /// Asks the server what it infers for the parameters, in one message that prepares the statement
    /// under a throwaway name, reads the types and deallocates it: one round trip, one server
    /// connection even behind a transaction pooler, and the same inference as a protocol-level
    /// prepare (so the same plans). `sql` is our own statement text, never input. The newest
    /// SQL-level prepared statement is ours: nothing else runs on the connection within one message.
    async fn learn(&self, client: &Client, sql: &str) -> Result<Arc<[Type]>, tokio_postgres::Error> {
        let name = format!("{}_{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed));
        let batch = format!(
            "PREPARE {name} AS {sql}; \
             SELECT parameter_types::oid[]::text FROM pg_catalog.pg_prepared_statements \
             WHERE from_sql ORDER BY prepare_time DESC LIMIT 1; \
             DEALLOCATE {name}"
        );
        let messages = client.simple_query(&batch).await?;
        let listed = messages
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .unwrap_or_default();
        let types: Arc<[Type]> = listed
            .trim_matches(|c| c == '{' || c == '}')
            .split(',')
            .filter(|s| !s.is_empty())
            // Every parameter of our statements has a built-in type; anything else would need a
            // catalog lookup per type and is refused by the encoder below as "unknown".
            .map(|oid| oid.trim().parse().ok().and_then(Type::from_oid).unwrap_or(Type::UNKNOWN))
            .collect();
        if let Ok(mut known) = self.known.write() {
            known.insert(sql.into(), Arc::clone(&types));
        }
        Ok(types)
    }
}

/// A failed attempt, and whether COMMIT had been sent (then a lost connection leaves the outcome unknown).
struct Failed {
    error: Failure,
    commit_sent: bool,
}

enum Failure {
    Work(WorkError),
    /// COMMIT reported success with a WARNING: a wait for a synchronous standby was cancelled, so the
    /// commit is local only.
    CommitNotReplicated,
}

fn before_commit(error: impl Into<WorkError>) -> Failed {
    Failed { error: Failure::Work(error.into()), commit_sent: false }
}

/// The pool plus what error messages need to say.
pub struct Db {
    pool: Pool<Manager>,
    endpoint: String,
    timeout: Duration,
    /// Bounds one whole attempt on the client side, in case the server stops answering altogether.
    attempt_deadline: Duration,
    /// A restart of PostgreSQL can leave every pooled connection dead; each is found out and dropped
    /// by one failed try, so a unit of work may need that many tries plus one.
    max_connection_retries: usize,
    /// `Some` in unnamed mode (behind a transaction pooler).
    param_types: Option<ParamTypes>,
    /// Unnamed mode: the timeouts, set at the start of every transaction.
    local_timeouts: Option<String>,
    stats: Arc<Stats>,
}

impl Db {
    pub fn new(settings: &Settings) -> Result<Db, StorageError> {
        let stats = Arc::new(Stats::default());
        let manager = Manager::new(settings, Arc::clone(&stats));
        // The manager bounds each host by the connect timeout; the pool's bound covers them all.
        let connect_all = settings.connect_timeout * u32::try_from(settings.hosts.len() * 2).unwrap_or(u32::MAX);
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .wait_timeout(Some(settings.timeout))
            .create_timeout(Some(connect_all + settings.timeout))
            .recycle_timeout(Some(settings.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Unavailable(format!("cannot build the PostgreSQL connection pool: {e}")))?;
        let unnamed = settings.statements == Statements::Unnamed;
        Ok(Db {
            pool,
            endpoint: settings.endpoint(),
            timeout: settings.timeout,
            attempt_deadline: settings.timeout * 4,
            max_connection_retries: settings.pool_size + 1,
            param_types: unnamed.then(ParamTypes::new),
            local_timeouts: unnamed.then(|| session_timeouts(true, settings.timeout.as_millis())),
            stats,
        })
    }

    pub fn pool_status(&self) -> portcullis_core::storage::PoolStatus {
        let s = self.pool.status();
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        portcullis_core::storage::PoolStatus {
            size: s.size,
            available: s.available,
            waiting: s.waiting,
            max_size: s.max_size,
            connects: count(&self.stats.connects),
            connect_failures: count(&self.stats.connect_failures),
            discarded: count(&self.stats.discarded),
            timeouts: count(&self.stats.timeouts),
            waits: count(&self.stats.waits),
            wait_micros: count(&self.stats.wait_micros),
        }
    }

    /// `database_timeout_ms`: what every statement is given (`statement_timeout`).
    pub fn statement_timeout(&self) -> Duration {
        self.timeout
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A pooled connection, for work that does not fit `run` (creating the schema).
    pub async fn client(&self) -> Result<Object<Manager>, StorageError> {
        let started = Instant::now();
        let got = self.pool.get().await;
        self.stats.waits.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.wait_micros.fetch_add(micros, Ordering::Relaxed);
        got.map_err(|e| self.pool_error(e))
    }

    /// Drops a connection that must not be used again (dead, busy, or now read-only).
    fn discard(&self, client: Object<Manager>) {
        self.stats.discarded.fetch_add(1, Ordering::Relaxed);
        drop(Object::take(client));
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
            let attempt = tokio::time::timeout(self.attempt_deadline, self.attempt(&mut client, mode, ctx, &work)).await;
            let failed = match attempt {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(failed)) => failed,
                Err(_) => {
                    // The connection may still be busy with our statement: never give it to anyone else.
                    self.discard(client);
                    self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    return Err(StorageError::Unavailable(format!(
                        "PostgreSQL at {} did not answer within {} ms",
                        self.endpoint,
                        self.attempt_deadline.as_millis()
                    )));
                }
            };
            let pg = match failed.error {
                Failure::Work(WorkError::Invalid(message)) => return Err(StorageError::Query(message)),
                Failure::Work(WorkError::Pg(ref e)) => e,
                Failure::CommitNotReplicated => {
                    return Err(StorageError::Unavailable(format!(
                        "PostgreSQL at {}: the commit was not confirmed by the synchronous standby (the wait was \
                         cancelled); it may or may not survive a failover",
                        self.endpoint
                    )))
                }
            };
            if is_conflict(pg) && conflicts < MAX_CONFLICT_RETRIES {
                conflicts += 1;
                drop(client);
                tokio::time::sleep(conflict_backoff(conflicts)).await;
                continue;
            }
            // A connection to a server that became read-only (a demoted primary) is as good as dead
            // for writes: a new one goes to the host that target_session_attrs picks now.
            if is_connection_lost(pg) || is_read_only(pg) {
                self.discard(client);
                if !failed.commit_sent && lost_connections < self.max_connection_retries {
                    lost_connections += 1;
                    continue;
                }
            }
            return Err(self.query_error(pg));
        }
    }

    async fn attempt<C, T, F>(&self, client: &mut PgConn, mode: Mode, ctx: &C, work: &F) -> Result<T, Failed>
    where
        C: ?Sized + Sync,
        F: for<'t> Fn(Conn<'t>, &'t C) -> DbFuture<'t, T>,
    {
        let types = self.param_types.as_ref();
        // Write: not `READ WRITE`, which a standby refuses with a feature error; its first write
        // fails with read_only_sql_transaction instead, which `run` knows.
        // Behind a transaction pooler the timeouts are set per transaction: a write gets one there.
        let mode = match mode {
            Mode::Statement if self.local_timeouts.is_some() => Mode::Write,
            other => other,
        };
        let (isolation, read_only) = match mode {
            Mode::Read | Mode::Statement => return work(Conn { target: Target::Client(client), types }, ctx).await.map_err(before_commit),
            Mode::Write => (IsolationLevel::ReadCommitted, false),
            Mode::Snapshot => (IsolationLevel::RepeatableRead, true),
        };
        // The transaction borrows the connection; its notices are read after COMMIT.
        let notices = Arc::clone(&client.notices);
        let builder = client.build_transaction().isolation_level(isolation);
        let tx = if read_only { builder.read_only(true).start().await } else { builder.start().await };
        let tx = tx.map_err(before_commit)?;
        // On failure `tx` is dropped, which rolls the transaction back.
        let conn = Conn { target: Target::Tx(&tx), types };
        let value = match &self.local_timeouts {
            None => work(conn, ctx).await.map_err(before_commit)?,
            Some(set) => {
                // Sent before the work's first statement without waiting for its answer (`biased`
                // polls it first): the timeouts cost no round trip.
                let (set, value) = tokio::join!(biased; tx.batch_execute(set), work(conn, ctx));
                set.map_err(before_commit)?;
                value.map_err(before_commit)?
            }
        };
        notices.clear();
        tx.commit().await.map_err(|e| Failed { error: Failure::Work(e.into()), commit_sent: true })?;
        if notices.warned() {
            return Err(Failed { error: Failure::CommitNotReplicated, commit_sent: true });
        }
        Ok(value)
    }

    fn pool_error(&self, e: PoolError<ConnectError>) -> StorageError {
        let why = match e {
            PoolError::Timeout(kind) => {
                self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                match kind {
                    TimeoutType::Wait => format!("every pooled connection stayed busy for {} ms", self.timeout.as_millis()),
                    TimeoutType::Create => "opening a connection did not finish in time".to_owned(),
                    TimeoutType::Recycle => {
                        format!("checking a pooled connection did not finish within {} ms", self.timeout.as_millis())
                    }
                }
            }
            PoolError::Backend(e) => e.0,
            other => other.to_string(),
        };
        StorageError::Unavailable(format!("cannot connect to PostgreSQL at {}: {why}", self.endpoint))
    }

    /// Maps a statement's error: connection trouble and timeouts mean "unavailable", the rest is a
    /// query error. Messages carry the SQLSTATE and the server's message, never parameters.
    pub fn query_error(&self, e: &tokio_postgres::Error) -> StorageError {
        let code = e.code().map(SqlState::code).unwrap_or("");
        if is_connection_lost(e) || is_read_only(e) || code.starts_with("53") {
            StorageError::Unavailable(format!("PostgreSQL at {}: {}", self.endpoint, describe(e)))
        } else if code == SqlState::QUERY_CANCELED.code() || code == SqlState::LOCK_NOT_AVAILABLE.code() {
            self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
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

/// Serialization failure or deadlock: the transaction was rolled back and may simply run again.
fn is_conflict(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

/// The server is (now) read-only: a standby, or a primary demoted under us.
fn is_read_only(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::READ_ONLY_SQL_TRANSACTION)
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
        let Some((_, cfg)) = crate::testing::pg_config("slow_statements_time_out", "database_timeout_ms: 300\n") else { return };
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

    /// A pool on PgBouncer (`PORTCULLIS_TEST_PGBOUNCER_URI`, pool_mode = transaction, started by
    /// scripts/pg-production.sh), in unnamed or prepared mode. The prepared mode logs in as `app`:
    /// PgBouncer keeps a server pool per user, and its session settings must not reach the others.
    fn bouncer(test: &str, pooling: bool) -> Option<Db> {
        let Ok(uri) = std::env::var("PORTCULLIS_TEST_PGBOUNCER_URI") else {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipping {test}: PORTCULLIS_TEST_PGBOUNCER_URI is not set (scripts/pg-production.sh)");
            return None;
        };
        let uri = if pooling { uri } else { uri.replace("://postgres@", "://app@") };
        let no_env = |_: &str| None;
        let yaml = format!(
            "postgresql_connection_uri: \"{uri}\"\ndatabase_timeout_ms: 500\npostgresql_connection_pool_size: 12\n\
             postgresql_transaction_pooling: {pooling}\n"
        );
        let sources = portcullis_core::config::Sources { yaml: Some(&yaml), env: &no_env, overrides: vec![] };
        let (cfg, _) = portcullis_core::config::Config::load(sources).unwrap();
        Some(Db::new(&Settings::from_config(&cfg).unwrap()).unwrap())
    }

    /// Statements of every shape, each unit of work on whatever server connection PgBouncer picks:
    /// parameters of several types (learnt once), reads with and without a transaction, concurrently.
    #[tokio::test]
    async fn unnamed_statements_work_through_pgbouncer_in_transaction_mode() {
        let Some(db) = bouncer("unnamed_statements_work_through_pgbouncer_in_transaction_mode", true) else { return };
        let db = Arc::new(db);
        let tasks: Vec<_> = (0..40i64)
            .map(|i| {
                let db = Arc::clone(&db);
                tokio::spawn(async move {
                    for j in 0..25i64 {
                        let mode = [Mode::Read, Mode::Write, Mode::Snapshot][(j % 3) as usize];
                        let got = db
                            .run(mode, &(i, j), |c, (i, j)| {
                                Box::pin(async move {
                                    let text = format!("t{i}");
                                    let row = c
                                        .query_opt(
                                            "SELECT $1::int8 + $2, $3 || 'x', $4::bool, octet_length($5::text)",
                                            &[i, j, &text, &true, &"héllo"],
                                        )
                                        .await?
                                        .ok_or_else(|| WorkError::Invalid("no row".into()))?;
                                    let n: i64 = row.get(0);
                                    let s: String = row.get(1);
                                    let ok: bool = row.get(2);
                                    let len: i32 = row.get(3);
                                    let many = c.query("SELECT generate_series(1, $1)", &[&3i32]).await?.len();
                                    let none = c.execute("SELECT 1 WHERE $1::text IS NULL", &[&text]).await?;
                                    Ok((n, s, ok, len, many, none))
                                })
                            })
                            .await?;
                        assert_eq!(got, (i + j, format!("t{i}x"), true, 6, 3, 0));
                    }
                    Ok::<_, StorageError>(())
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().expect("no error through PgBouncer");
        }
        let learnt = db.param_types.as_ref().unwrap().known.read().unwrap().len();
        assert_eq!(learnt, 3, "each statement's types are learnt once");
    }

    /// The statement timeout holds behind the pooler too (set per transaction), and the connection
    /// serves the next unit of work.
    #[tokio::test]
    async fn the_statement_timeout_holds_through_pgbouncer() {
        let Some(db) = bouncer("the_statement_timeout_holds_through_pgbouncer", true) else { return };
        let started = Instant::now();
        let err = db
            .run(Mode::Write, &(), |c, _| {
                Box::pin(async move {
                    c.execute("SELECT pg_sleep($1)", &[&3.0f64]).await?;
                    Ok(())
                })
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("did not answer within 500 ms"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
        // Nothing was left on the server connections: session settings are not touched.
        let timeout: String = db
            .run(Mode::Read, &(), |c, _| {
                Box::pin(async move { Ok(c.query_opt("SHOW statement_timeout", &[]).await?.map(|r| r.get(0)).unwrap_or_default()) })
            })
            .await
            .unwrap();
        assert_eq!(timeout, "0", "a session setting leaked onto PgBouncer's server connections");
        assert_eq!(db.pool_status().timeouts, 1);
    }

    /// Named prepared statements do break behind this pooler (what the unnamed mode is for): proof
    /// that the tests above run through a real transaction pooler.
    #[tokio::test]
    async fn prepared_statements_break_through_pgbouncer_in_transaction_mode() {
        let Some(db) = bouncer("prepared_statements_break_through_pgbouncer_in_transaction_mode", false) else { return };
        let db = Arc::new(db);
        let tasks: Vec<_> = (0..24i64)
            .map(|i| {
                let db = Arc::clone(&db);
                tokio::spawn(async move {
                    let mut errors = Vec::new();
                    for j in 0..40i64 {
                        let r = db
                            .run(Mode::Read, &(i, j), |c, (i, j)| {
                                Box::pin(async move { Ok(c.query("SELECT $1::int8 + $2", &[i, j]).await?.len()) })
                            })
                            .await;
                        if let Err(e) = r {
                            errors.push(e.to_string());
                        }
                    }
                    errors
                })
            })
            .collect();
        let mut errors = Vec::new();
        for t in tasks {
            errors.extend(t.await.unwrap());
        }
        assert!(
            errors.iter().any(|e| e.contains("prepared statement") && (e.contains("26000") || e.contains("42P05"))),
            "expected prepared-statement errors behind a transaction pooler, got {} errors: {:?}",
            errors.len(),
            errors.first()
        );
    }

    /// Commits that the synchronous standby does not confirm are never acknowledged
    /// (`PORTCULLIS_TEST_NO_STANDBY_URI`: a server whose `synchronous_standby_names` names a standby
    /// that never comes, so every commit that wrote WAL waits).
    #[tokio::test]
    async fn a_commit_the_synchronous_standby_did_not_confirm_is_not_acknowledged() {
        let Ok(uri) = std::env::var("PORTCULLIS_TEST_NO_STANDBY_URI") else {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipping: PORTCULLIS_TEST_NO_STANDBY_URI is not set (scripts/pg-production.sh)");
            return;
        };
        let no_env = |_: &str| None;
        let yaml = format!("postgresql_connection_uri: \"{uri}\"\ndatabase_timeout_ms: 500\n");
        let sources = portcullis_core::config::Sources { yaml: Some(&yaml), env: &no_env, overrides: vec![] };
        let (cfg, _) = portcullis_core::config::Config::load(sources).unwrap();
        let db = Arc::new(Db::new(&Settings::from_config(&cfg).unwrap()).unwrap());
        // The catalog rows of a temporary table are WAL: COMMIT waits for the standby.
        let write = |db: Arc<Db>| async move {
            db.run(Mode::Write, &(), |c, _| {
                Box::pin(async move {
                    c.execute("CREATE TEMP TABLE sync_probe (n int) ON COMMIT DROP", &[]).await?;
                    Ok(())
                })
            })
            .await
        };

        // statement_timeout does not end that wait (PostgreSQL disables it before committing): the
        // client-side deadline does, and the write is not acknowledged.
        let started = Instant::now();
        let err = write(Arc::clone(&db)).await.unwrap_err();
        assert!(err.to_string().contains("did not answer within 2000 ms"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());

        // An operator cancels the wait: PostgreSQL keeps the commit locally and reports success with
        // a WARNING. Portcullis must not take that for a durable commit.
        let (admin, conn) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        // The first write's server process still waits (its client left); end it first.
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'";
        admin.batch_execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'").await.unwrap();
        for _ in 0..50 {
            if admin.query_one(waiting, &[]).await.unwrap().get::<_, i64>(0) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pending = tokio::spawn(write(Arc::clone(&db)));
        let mut cancelled = 0;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let row = admin
                .query_one("SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'SyncRep'", &[])
                .await
                .unwrap();
            cancelled = row.get::<_, i64>(0);
            if cancelled > 0 {
                break;
            }
        }
        assert!(cancelled > 0, "no commit was waiting for the standby");
        let err = pending.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("not confirmed by the synchronous standby"), "{err}");
        // A read-only unit of work writes no commit record and is answered.
        db.run(Mode::Snapshot, &(), |c, _| Box::pin(async move { Ok(c.query("SELECT 1", &[]).await?.len()) }))
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
