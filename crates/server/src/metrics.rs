//! Prometheus metrics: requests by endpoint and status, latency histograms, cron runs and
//! failures, the password-hashing queue and database pools. Rendered in the text exposition format
//! at `metrics_path`. Labels are route names and status codes only: never paths, ids or tokens.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let i = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        self.counts[i] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    cron_runs: BTreeMap<&'static str, u64>,
    cron_failures: BTreeMap<&'static str, u64>,
}

/// The label of a route: its name, interned once per route (a bounded set); "unknown" for paths
/// that matched no route.
pub fn route_label(route: Option<crate::http::routes::Route>) -> &'static str {
    static NAMES: std::sync::OnceLock<Mutex<std::collections::HashMap<String, &'static str>>> = std::sync::OnceLock::new();
    let Some(route) = route else { return "unknown" };
    let name = format!("{route:?}");
    let Ok(mut names) = NAMES.get_or_init(Default::default).lock() else { return "unknown" };
    names.entry(name).or_insert_with_key(|n| Box::leak(n.clone().into_boxed_str()))
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// One database pool's state at scrape time, and its counters.
pub use portcullis_core::storage::PoolStatus as PoolGauge;

/// What is read at scrape time rather than counted.
pub struct Gauges {
    pub hashing_waiting: usize,
    pub hashing_running: usize,
    pub pools: Vec<PoolGauge>,
}

impl Metrics {
    pub fn record_request(&self, route: &'static str, status: u16, elapsed: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests.entry((route, status)).or_default() += 1;
        m.latency.entry(route).or_default().observe(elapsed.as_secs_f64());
    }

    pub fn record_cron(&self, job: &'static str, ok: bool) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.cron_runs.entry(job).or_default() += 1;
        if !ok {
            *m.cron_failures.entry(job).or_default() += 1;
        }
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else { return out };
        header(&mut out, "portcullis_requests_total", "counter", "HTTP requests by endpoint and status code.");
        for ((route, status), n) in &m.requests {
            let _ = writeln!(out, "portcullis_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        header(&mut out, "portcullis_request_duration_seconds", "histogram", "HTTP request latency by endpoint.");
        for (route, h) in &m.latency {
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(out, "portcullis_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "portcullis_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "portcullis_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "portcullis_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        header(&mut out, "portcullis_cron_runs_total", "counter", "Background job runs by job.");
        for (job, n) in &m.cron_runs {
            let _ = writeln!(out, "portcullis_cron_runs_total{{job=\"{job}\"}} {n}");
        }
        header(&mut out, "portcullis_cron_failures_total", "counter", "Background job runs that failed, by job.");
        for (job, n) in &m.cron_failures {
            let _ = writeln!(out, "portcullis_cron_failures_total{{job=\"{job}\"}} {n}");
        }
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
        let m = Metrics::default();
        m.record_request("SignIn", 200, Duration::from_millis(3));
        m.record_request("SignIn", 200, Duration::from_millis(30));
        m.record_request("SignIn", 400, Duration::from_secs(10));
        m.record_cron("job", false);
        let text = m.render(&Gauges { hashing_waiting: 2, hashing_running: 1, pools: vec![PoolGauge { size: 3, available: 1, waiting: 0, max_size: 10, timeouts: 4, wait_micros: 1_500_000, ..Default::default() }] });
        assert!(text.contains("portcullis_requests_total{route=\"SignIn\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("portcullis_requests_total{route=\"SignIn\",status=\"400\"} 1"));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{route=\"SignIn\",le=\"0.005\"} 1"));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{route=\"SignIn\",le=\"0.05\"} 2"));
        assert!(text.contains("portcullis_request_duration_seconds_bucket{route=\"SignIn\",le=\"+Inf\"} 3"));
        assert!(text.contains("portcullis_cron_failures_total{job=\"job\"} 1"));
        assert!(text.contains("portcullis_password_hash_waiting 2"));
        assert!(text.contains("portcullis_db_pool_max{pool=\"0\"} 10"));
        assert!(text.contains("# TYPE portcullis_db_pool_timeouts_total counter\nportcullis_db_pool_timeouts_total{pool=\"0\"} 4"), "{text}");
        assert!(text.contains("portcullis_db_pool_wait_seconds_total{pool=\"0\"} 1.5"), "{text}");
    }
}
