//! Opening connections, as libpq does: the hosts in order (or shuffled with
//! `load_balance_hosts=random`), each bounded by the connect timeout, TLS per `sslmode` (with
//! `allow`'s and `prefer`'s second attempt), and the first host whose session matches
//! `target_session_attrs`. This is the pool's manager; each connection is driven by a task of ours
//! that watches the server's notices (see `Notices`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, SimpleQueryMessage};

use crate::settings::{host_port, Settings, Statements, TargetSessionAttrs};
use crate::tls::{MakeRustls, SslMode, TlsError};

/// A pooled connection: the client (with its statement cache) and what its driver saw.
pub struct PgConn {
    client: ClientWrapper,
    pub notices: Arc<Notices>,
}

impl std::ops::Deref for PgConn {
    type Target = ClientWrapper;
    fn deref(&self) -> &ClientWrapper {
        &self.client
    }
}

impl std::ops::DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut ClientWrapper {
        &mut self.client
    }
}

/// Warnings the server sent on a connection. A COMMIT whose wait for a synchronous standby is
/// cancelled (an operator's `pg_cancel_backend`, a cancel request) commits locally and reports
/// success with a WARNING only: such a commit is not yet on the standby, so it must not be
/// acknowledged as durable.
#[derive(Default)]
pub struct Notices {
    warned: AtomicBool,
}

impl Notices {
    /// Forgets earlier warnings (called before COMMIT).
    pub fn clear(&self) {
        self.warned.store(false, Ordering::SeqCst);
    }

    /// Whether a WARNING arrived since `clear`. The driver handles a notice before the answer that
    /// follows it, so after COMMIT's answer this sees the COMMIT's warnings.
    pub fn warned(&self) -> bool {
        self.warned.load(Ordering::SeqCst)
    }
}

/// Counters of one pool, for the metrics.
#[derive(Default)]
pub struct Stats {
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub discarded: AtomicU64,
    pub timeouts: AtomicU64,
    pub waits: AtomicU64,
    pub wait_micros: AtomicU64,
}

/// Why no connection could be opened: each host's reason, in the order tried.
#[derive(Debug)]
pub struct ConnectError(pub String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Opens and checks connections for the pool.
pub struct Manager {
    settings: Settings,
    tls: MakeRustls,
    /// Run once on every new connection (prepared mode): the session's timeouts.
    session_setup: Option<String>,
    stats: Arc<Stats>,
}

impl Manager {
    pub fn new(settings: &Settings, stats: Arc<Stats>) -> Manager {
        let timeout_ms = settings.timeout.as_millis();
        let session_setup = (settings.statements == Statements::Prepared).then(|| session_timeouts(false, timeout_ms));
        Manager { settings: settings.clone(), tls: settings.tls.connector(), session_setup, stats }
    }

    fn base_config(&self) -> tokio_postgres::Config {
        let s = &self.settings;
        let mut c = tokio_postgres::Config::new();
        c.dbname(&s.database).application_name("portcullis");
        if let Some(u) = &s.user {
            c.user(u);
        }
        if let Some(p) = &s.password {
            c.password(p);
        }
        // A dead server or network must surface as an error, not as a request that waits forever:
        // bound connecting, unacknowledged writes, and probe idle connections.
        c.connect_timeout(s.connect_timeout);
        c.tcp_user_timeout(s.timeout);
        c.keepalives(true).keepalives_idle(Duration::from_secs(15)).keepalives_interval(Duration::from_secs(5));
        c.keepalives_retries(3);
        c
    }

    async fn open(&self) -> Result<PgConn, ConnectError> {
        let s = &self.settings;
        let passes: &[TargetSessionAttrs] = match s.target {
            TargetSessionAttrs::PreferStandby => &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any],
            TargetSessionAttrs::PreferReadWrite => &[TargetSessionAttrs::ReadWrite, TargetSessionAttrs::Any],
            ref one => std::slice::from_ref(one),
        };
        let mut order: Vec<usize> = (0..s.hosts.len()).collect();
        if s.load_balance {
            shuffle(&mut order);
        }
        // With one host and one pass the reason alone is clearer; with several each is named.
        let name_hosts = s.hosts.len() > 1 || passes.len() > 1;
        let mut failures = Vec::new();
        for pass in passes {
            for &i in &order {
                let (host, port) = &s.hosts[i];
                let attempt = self.open_host(host, *port, *pass);
                let failure = match tokio::time::timeout(s.connect_timeout, attempt).await {
                    Ok(Ok(conn)) => return Ok(conn),
                    Ok(Err(why)) => why,
                    Err(_) => format!("no answer within {} ms (the connect timeout)", s.connect_timeout.as_millis()),
                };
                failures.push(if name_hosts { format!("{}: {failure}", host_port(host, *port)) } else { failure });
            }
        }
        Err(ConnectError(failures.join("; ")))
    }

    /// One host: TLS as `sslmode` says, then the session check. The error is the reason, for messages.
    async fn open_host(&self, host: &str, port: u16, pass: TargetSessionAttrs) -> Result<PgConn, String> {
        let mut config = self.base_config();
        config.host(host).port(port);
        let tls = &self.settings.tls;
        use tokio_postgres::config::SslMode as Wire;
        let conn = match tls.mode {
            SslMode::Disable => self.connect(&config, Wire::Disable).await,
            // libpq: plain text first; if the server refuses it, once more with TLS.
            SslMode::Allow => match self.connect(&config, Wire::Disable).await {
                Err((e, _)) if e.as_db_error().is_some() => self.connect(&config, Wire::Require).await,
                other => other,
            },
            // libpq: TLS if the server offers it; if the handshake fails or the server refuses the
            // encrypted session, once more in plain text.
            SslMode::Prefer => match self.connect(&config, Wire::Prefer).await {
                Err((e, true)) if is_tls_failure(&e) || e.as_db_error().is_some() => {
                    self.connect(&config, Wire::Disable).await
                }
                other => other,
            },
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => self.connect(&config, Wire::Require).await,
        };
        let conn = conn.map_err(|(e, _)| self.describe_connect_error(&e))?;
        self.check_session(&conn, pass).await?;
        if let Some(sql) = &self.session_setup {
            conn.batch_execute(sql).await.map_err(|e| describe(&e))?;
        }
        Ok(conn)
    }

    /// One connection attempt; the error says whether TLS was attempted (the server accepted it).
    async fn connect(
        &self,
        config: &tokio_postgres::Config,
        mode: tokio_postgres::config::SslMode,
    ) -> Result<PgConn, (tokio_postgres::Error, bool)> {
        let mut config = config.clone();
        config.ssl_mode(mode);
        let (tls, attempted) = self.tls.for_attempt();
        let (client, mut connection) =
            config.connect(tls).await.map_err(|e| (e, attempted.load(Ordering::SeqCst)))?;
        let notices = Arc::new(Notices::default());
        let seen = Arc::clone(&notices);
        let driver = tokio::spawn(async move {
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notice(n)) if n.code() == &SqlState::WARNING => {
                        seen.warned.store(true, Ordering::SeqCst);
                        tracing::warn!(code = n.code().code(), "PostgreSQL: {}", n.message());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("PostgreSQL connection ended: {e}");
                        break;
                    }
                }
            }
        });
        Ok(PgConn { client: ClientWrapper::new(client, driver), notices })
    }

    /// libpq's checks, one round trip: recovery decides primary/standby, `transaction_read_only`
    /// read-write/read-only.
    async fn check_session(&self, client: &Client, pass: TargetSessionAttrs) -> Result<(), String> {
        if pass == TargetSessionAttrs::Any {
            return Ok(());
        }
        let rows = client
            .simple_query("SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('transaction_read_only')")
            .await
            .map_err(|e| describe(&e))?;
        let (in_recovery, read_only) = rows
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some((r.get(0) == Some("t"), r.get(1) == Some("on"))),
                _ => None,
            })
            .ok_or_else(|| "the server did not say whether it is a standby".to_owned())?;
        let (ok, is) = match pass {
            TargetSessionAttrs::ReadWrite => (!read_only, "read-only"),
            TargetSessionAttrs::ReadOnly => (read_only, "read-write"),
            TargetSessionAttrs::Primary => (!in_recovery, "a standby"),
            TargetSessionAttrs::Standby => (in_recovery, "not a standby"),
            _ => (true, ""),
        };
        if ok {
            return Ok(());
        }
        Err(format!(
            "the server is {is}, and target_session_attrs={} ({}) asks for another",
            pass.name(),
            self.settings.target_from
        ))
    }

    fn describe_connect_error(&self, e: &tokio_postgres::Error) -> String {
        let tls = &self.settings.tls;
        if let Some(t) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<TlsError>()) {
            return t.0.clone();
        }
        // tokio-postgres's words when the server answers the TLS request with "no".
        if e.to_string().contains("server does not support TLS") || describe(e).contains("server does not support TLS") {
            return format!(
                "the server does not accept TLS, and sslmode={} ({}) requires it; enable ssl on the server, or \
                 lower sslmode (postgresql_sslmode) to prefer or disable",
                tls.mode.name(),
                tls.mode_from
            );
        }
        describe(e)
    }
}

/// The session's timeouts: `SET` once per connection, or `SET LOCAL` per transaction behind a
/// transaction pooler. A statement can never hang: the server cancels it after the timeout. A
/// transaction left open by a vanished client is ended too, so it cannot hold row locks.
pub fn session_timeouts(per_transaction: bool, timeout_ms: u128) -> String {
    let scope = if per_transaction { "LOCAL " } else { "" };
    format!(
        "SET {scope}statement_timeout = {timeout_ms}; SET {scope}idle_in_transaction_session_timeout = {}",
        (timeout_ms * 4).max(30_000)
    )
}

fn is_tls_failure(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<TlsError>())
}

/// A Fisher-Yates shuffle on the std hasher's random keys (no rand dependency for one list).
fn shuffle(items: &mut [usize]) {
    use std::hash::{BuildHasher, Hasher};
    for i in (1..items.len()).rev() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        let j = (h.finish() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = PgConn;
    type Error = ConnectError;

    async fn create(&self) -> Result<PgConn, ConnectError> {
        // Boxed: the whole connect (sockets, TLS, start-up) is a deep future, and callers' futures
        // embed `Pool::get`'s. Only new connections pay for the allocation.
        let result = Box::pin(self.open()).await;
        let counter = if result.is_ok() { &self.stats.connects } else { &self.stats.connect_failures };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    // No round trip per checkout: connections that died unnoticed are caught by the retry in
    // `Db::run` instead.
    async fn recycle(&self, conn: &mut PgConn, _: &Metrics) -> RecycleResult<ConnectError> {
        if conn.is_closed() {
            self.stats.discarded.fetch_add(1, Ordering::Relaxed);
            return Err(RecycleError::message("the connection is closed"));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_keeps_every_host() {
        let mut v: Vec<usize> = (0..7).collect();
        shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn timeouts_per_session_or_per_transaction() {
        assert_eq!(
            session_timeouts(true, 1000),
            "SET LOCAL statement_timeout = 1000; SET LOCAL idle_in_transaction_session_timeout = 30000"
        );
        assert_eq!(session_timeouts(false, 10_000), "SET statement_timeout = 10000; SET idle_in_transaction_session_timeout = 40000");
    }
}
