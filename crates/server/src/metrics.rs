//! Prometheus metrics: requests by endpoint and status, latency histograms, cron runs and
//! failures, the password-hashing queue and database pools. Rendered in the text exposition format
//! at `metrics_path`. Labels are route names and status codes only: never paths, ids or tokens.
//!
//! Requests are counted without a lock: each route (by its number in the route table) has its
//! own atomic counters. Cron runs, a few a minute, share a mutex.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use portcullis_core::ratelimit::Kind;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// The status codes the server answers with, each counted in its own slot; any other code is
/// counted under a lock (it does not happen in practice).
const STATUSES: [u16; 11] = [200, 400, 401, 403, 404, 405, 408, 413, 429, 500, 503];

/// The label of requests whose path matched no route.
const UNKNOWN: &str = "unknown";

/// One route's counters.
struct RouteCounters {
    label: &'static str,
    by_status: [AtomicU64; STATUSES.len()],
    other_statuses: Mutex<BTreeMap<u16, u64>>,
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl RouteCounters {
    fn new(label: &'static str) -> RouteCounters {
        RouteCounters {
            label,
            by_status: Default::default(),
            other_statuses: Mutex::new(BTreeMap::new()),
            buckets: Default::default(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, elapsed: Duration) {
        match STATUSES.iter().position(|s| *s == status) {
            Some(i) => {
                self.by_status[i].fetch_add(1, Ordering::Relaxed);
            }
            None => {
                if let Ok(mut other) = self.other_statuses.lock() {
                    *other.entry(status).or_default() += 1;
                }
            }
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// (status, count) of every status seen.
    fn statuses(&self) -> Vec<(u16, u64)> {
        let mut out: Vec<(u16, u64)> =
            STATUSES.iter().zip(&self.by_status).map(|(s, n)| (*s, n.load(Ordering::Relaxed))).filter(|(_, n)| *n > 0).collect();
        if let Ok(other) = self.other_statuses.lock() {
            out.extend(other.iter().map(|(s, n)| (*s, *n)));
        }
        out.sort_unstable();
        out
    }
}

#[derive(Default)]
struct Cron {
    runs: BTreeMap<&'static str, u64>,
    failures: BTreeMap<&'static str, u64>,
}

pub struct Metrics {
    /// One per route (by its number), then the one of unknown paths.
    routes: Vec<RouteCounters>,
    cron: Mutex<Cron>,
    /// Calls refused by a brute-force limit, by `ratelimit::Kind` (in the order of `Kind::ALL`).
    rate_limited: [AtomicU64; Kind::ALL.len()],
    bulk_import: BulkImportCounters,
}

/// Upper bounds of the bulk-import chunk duration buckets, in seconds.
const CHUNK_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The bulk-import worker's progress.
#[derive(Default)]
struct BulkImportCounters {
    imported: AtomicU64,
    failed: AtomicU64,
    chunk_buckets: [AtomicU64; CHUNK_BUCKETS.len() + 1],
    chunk_count: AtomicU64,
    chunk_sum_nanos: AtomicU64,
    /// The queue by status (NEW, PROCESSING, FAILED) as the worker last counted it, all apps.
    queue: [AtomicU64; 3],
}

/// One database pool's state at scrape time, and its counters.
pub use portcullis_core::storage::PoolStatus as PoolGauge;

/// What is read at scrape time rather than counted.
pub struct Gauges {
    /// Requests refused because every `max_server_pool_size` slot stayed busy; connections
    /// closed because `max_connections` were open (counted in `limits`).
    pub requests_refused: u64,
    pub connections_refused: u64,
    pub hashing_waiting: usize,
    pub hashing_running: usize,
    pub pools: Vec<PoolGauge>,
}

impl Metrics {
    /// Counters for routes labelled `route_names` (by route number), and for unknown paths.
    pub fn new(route_names: &[&'static str]) -> Metrics {
        let routes = route_names.iter().chain([&UNKNOWN]).map(|l| RouteCounters::new(l)).collect();
        Metrics { routes, cron: Mutex::new(Cron::default()), rate_limited: Default::default(), bulk_import: BulkImportCounters::default() }
    }

    /// Counts a request to route `route` (its number in the route table; `None` when the path
    /// matched none).
    pub fn record_request(&self, route: Option<usize>, status: u16, elapsed: Duration) {
        let unknown = self.routes.len() - 1;
        let slot = route.filter(|r| *r < unknown).unwrap_or(unknown);
        if let Some(counters) = self.routes.get(slot) {
            counters.record(status, elapsed);
        }
    }

    /// Counts a call refused by the brute-force limit of `kind`.
    pub fn record_rate_limited(&self, kind: Kind) {
        if let Some(n) = Kind::ALL.iter().position(|k| *k == kind).and_then(|i| self.rate_limited.get(i)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn record_cron(&self, job: &'static str, ok: bool) {
        let Ok(mut m) = self.cron.lock() else { return };
        *m.runs.entry(job).or_default() += 1;
        if !ok {
            *m.failures.entry(job).or_default() += 1;
        }
    }

    /// Counts a bulk-import chunk: users imported (found imported included) and marked failed.
    pub fn record_bulk_import_chunk(&self, imported: u64, failed: u64, elapsed: Duration) {
        let b = &self.bulk_import;
        b.imported.fetch_add(imported, Ordering::Relaxed);
        b.failed.fetch_add(failed, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = CHUNK_BUCKETS.iter().position(|x| seconds <= *x).unwrap_or(CHUNK_BUCKETS.len());
        b.chunk_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        b.chunk_count.fetch_add(1, Ordering::Relaxed);
        b.chunk_sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The bulk-import queue by status (NEW, PROCESSING, FAILED), as a worker run counted it.
    pub fn set_bulk_import_queue(&self, by_status: [u64; 3]) {
        for (slot, n) in self.bulk_import.queue.iter().zip(by_status) {
            slot.store(n, Ordering::Relaxed);
        }
    }

    fn render_bulk_import(&self, out: &mut String) {
        let b = &self.bulk_import;
        header(out, "portcullis_bulk_import_users_total", "counter", "Users the bulk-import worker imported or marked FAILED, by outcome.");
        let _ = writeln!(out, "portcullis_bulk_import_users_total{{outcome=\"imported\"}} {}", b.imported.load(Ordering::Relaxed));
        let _ = writeln!(out, "portcullis_bulk_import_users_total{{outcome=\"failed\"}} {}", b.failed.load(Ordering::Relaxed));
        header(out, "portcullis_bulk_import_chunk_duration_seconds", "histogram", "Time to import one chunk of the bulk-import queue.");
        let mut cumulative = 0;
        for (i, bound) in CHUNK_BUCKETS.iter().enumerate() {
            cumulative += b.chunk_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "portcullis_bulk_import_chunk_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = b.chunk_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "portcullis_bulk_import_chunk_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "portcullis_bulk_import_chunk_duration_seconds_sum {}", b.chunk_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9);
        let _ = writeln!(out, "portcullis_bulk_import_chunk_duration_seconds_count {count}");
        header(out, "portcullis_bulk_import_queue_users", "gauge", "Users in the bulk-import queue by status, as the worker last counted them.");
        for (status, n) in ["NEW", "PROCESSING", "FAILED"].iter().zip(&b.queue) {
            let _ = writeln!(out, "portcullis_bulk_import_queue_users{{status=\"{status}\"}} {}", n.load(Ordering::Relaxed));
        }
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        // By label, as the exposition's readers expect stable output.
        let mut routes: Vec<&RouteCounters> = self.routes.iter().filter(|r| r.count.load(Ordering::Relaxed) > 0).collect();
        routes.sort_by_key(|r| r.label);
        header(&mut out, "portcullis_requests_total", "counter", "HTTP requests by endpoint and status code.");
        for r in &routes {
            for (status, n) in r.statuses() {
                let _ = writeln!(out, "portcullis_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", r.label);
            }
        }
        header(&mut out, "portcullis_request_duration_seconds", "histogram", "HTTP request latency by endpoint.");
        for r in &routes {
            let route = r.label;
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += r.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(out, "portcullis_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}");
            }
            let count = r.count.load(Ordering::Relaxed);
            let sum = r.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "portcullis_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "portcullis_request_duration_seconds_sum{{route=\"{route}\"}} {sum}");
            let _ = writeln!(out, "portcullis_request_duration_seconds_count{{route=\"{route}\"}} {count}");
        }
        let cron = self.cron.lock();
        let (runs, failures) = match &cron {
            Ok(c) => (c.runs.clone(), c.failures.clone()),
            Err(_) => (BTreeMap::new(), BTreeMap::new()),
        };
        drop(cron);
        header(&mut out, "portcullis_cron_runs_total", "counter", "Background job runs by job.");
        for (job, n) in &runs {
            let _ = writeln!(out, "portcullis_cron_runs_total{{job=\"{job}\"}} {n}");
        }
        header(&mut out, "portcullis_cron_failures_total", "counter", "Background job runs that failed, by job.");
        for (job, n) in &failures {
            let _ = writeln!(out, "portcullis_cron_failures_total{{job=\"{job}\"}} {n}");
        }
        self.render_bulk_import(&mut out);
        header(&mut out, "portcullis_rate_limited_total", "counter", "Calls refused by a brute-force limit, by kind (see docs/reliability.md).");
        for (kind, n) in Kind::ALL.iter().zip(&self.rate_limited) {
            let _ = writeln!(out, "portcullis_rate_limited_total{{kind=\"{}\"}} {}", kind.name(), n.load(Ordering::Relaxed));
        }
        header(&mut out, "portcullis_requests_refused_total", "counter", "Requests refused with 503: every max_server_pool_size slot stayed busy.");
        let _ = writeln!(out, "portcullis_requests_refused_total {}", gauges.requests_refused);
        header(&mut out, "portcullis_connections_refused_total", "counter", "Connections closed on accept: max_connections were open.");
        let _ = writeln!(out, "portcullis_connections_refused_total {}", gauges.connections_refused);
        header(&mut out, "portcullis_password_hash_waiting", "gauge", "Password hashes waiting for a hashing slot.");
        let _ = writeln!(out, "portcullis_password_hash_waiting {}", gauges.hashing_waiting);
        header(&mut out, "portcullis_password_hash_running", "gauge", "Password hashes being computed.");
        let _ = writeln!(out, "portcullis_password_hash_running {}", gauges.hashing_running);
        for (name, help, value) in [
            ("portcullis_db_pool_connections", "Open connections per database pool.", (|p: &PoolGauge| p.size) as fn(&PoolGauge) -> usize),
            ("portcullis_db_pool_idle", "Idle connections per database pool.", |p| p.available),
            ("portcullis_db_pool_waiting", "Requests waiting for a connection per database pool.", |p| p.waiting),
            ("portcullis_db_pool_max", "Largest size per database pool.", |p| p.max_size),
        ] {
            header(&mut out, name, "gauge", help);
            for (i, p) in gauges.pools.iter().enumerate() {
                let _ = writeln!(out, "{name}{{pool=\"{i}\"}} {}", value(p));
            }
        }
        for (name, help, value) in [
            ("portcullis_db_pool_connects_total", "Connections opened per database pool.", (|p: &PoolGauge| p.connects) as fn(&PoolGauge) -> u64),
            ("portcullis_db_pool_connect_failures_total", "Attempts to open a connection that failed (every host refused, timed out or was not the kind asked for), per database pool.", |p| p.connect_failures),
            ("portcullis_db_pool_discarded_total", "Connections thrown away (dead, left busy by a timeout, or on a server that became read-only), per database pool.", |p| p.discarded),
            ("portcullis_db_pool_timeouts_total", "Waits for a connection, statements and units of work that ran out of time (database_timeout_ms), per database pool.", |p| p.timeouts),
            ("portcullis_db_pool_waits_total", "Connections taken from the pool, per database pool.", |p| p.waits),
        ] {
            header(&mut out, name, "counter", help);
            for (i, p) in gauges.pools.iter().enumerate() {
                let _ = writeln!(out, "{name}{{pool=\"{i}\"}} {}", value(p));
            }
        }
        let name = "portcullis_db_pool_wait_seconds_total";
        header(&mut out, name, "counter", "Time spent waiting for a pooled connection (or a new one), per database pool.");
        for (i, p) in gauges.pools.iter().enumerate() {
            let _ = writeln!(out, "{name}{{pool=\"{i}\"}} {}", p.wait_micros as f64 / 1e6);
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new(&["SignUp", "SignIn"]);
        m.record_request(Some(1), 200, Duration::from_millis(3));
        m.record_request(Some(1), 200, Duration::from_millis(30));
        m.record_request(Some(1), 400, Duration::from_secs(10));
        m.record_request(None, 404, Duration::from_millis(1));
        m.record_request(Some(1), 418, Duration::from_millis(20));
        m.record_cron("job", false);
        m.record_rate_limited(Kind::SignInByUser);
        m.record_rate_limited(Kind::SignInByUser);
        m.record_bulk_import_chunk(7, 1, Duration::from_millis(300));
        m.set_bulk_import_queue([5, 0, 1]);
        let text = m.render(&Gauges { requests_refused: 4, connections_refused: 5, hashing_waiting: 2, hashing_running: 1, pools: vec![PoolGauge { size: 3, available: 1, waiting: 0, max_size: 10, timeouts: 4, wait_micros: 1_500_000, ..Default::default() }] });
        assert!(text.contains("portcullis_requests_total{route=\"SignIn\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("portcullis_bulk_import_users_total{outcome=\"imported\"} 7"), "{text}");
        assert!(text.contains("portcullis_bulk_import_users_total{outcome=\"failed\"} 1"));
        assert!(text.contains("portcullis_bulk_import_chunk_duration_seconds_bucket{le=\"0.25\"} 0"));
        assert!(text.contains("portcullis_bulk_import_chunk_duration_seconds_bucket{le=\"0.5\"} 1"));
        assert!(text.contains("portcullis_bulk_import_queue_users{status=\"NEW\"} 5"));
        assert!(text.contains("portcullis_requests_total{route=\"SignIn\",status=\"400\"} 1"));
        assert!(text.contains("portcullis_requests_total{route=\"SignIn\",status=\"418\"} 1"));
        assert!(text.contains("portcullis_requests_total{route=\"unknown\",status=\"404\"} 1"));
        assert!(!text.contains("SignUp"), "routes without requests are not listed");
        assert!(text.contains("portcullis_request_duration_seconds_bucket{route=\"SignIn\",le=\"0.005\"} 1"));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{route=\"SignIn\",le=\"0.05\"} 3"));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{route=\"SignIn\",le=\"+Inf\"} 4"));
        assert!(text.contains("portcullis_cron_failures_total{job=\"job\"} 1"));
        assert!(text.contains("portcullis_rate_limited_total{kind=\"sign_in_by_user\"} 2"), "{text}");
        assert!(text.contains("portcullis_rate_limited_total{kind=\"passwordless_codes\"} 0"));
        assert!(text.contains("portcullis_password_hash_waiting 2"));
        assert!(text.contains("portcullis_requests_refused_total 4") && text.contains("portcullis_connections_refused_total 5"));
        assert!(text.contains("portcullis_db_pool_max{pool=\"0\"} 10"));
        assert!(text.contains("# TYPE portcullis_db_pool_timeouts_total counter\nportcullis_db_pool_timeouts_total{pool=\"0\"} 4"), "{text}");
        assert!(text.contains("portcullis_db_pool_wait_seconds_total{pool=\"0\"} 1.5"), "{text}");
    }
}
