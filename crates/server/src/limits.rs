//! How much work the server takes on at once (issue 18, finding 1): at most
//! `max_server_pool_size` requests in flight (reading their body or running their handler), and
//! at most `max_connections` open connections. A request past the first limit waits its turn for
//! a slot up to `request_queue_timeout_ms` (30 s by default: a burst of password hashes queues, as
//! the core's Tomcat queues requests, rather than failing), then is answered 503; a connection past
//! the second is closed as
//! soon as it is accepted. Both refusals are counted (metrics) and logged (at most once a second).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

pub struct Limits {
    in_flight: Semaphore,
    wait: Duration,
    pub max_connections: usize,
    pub requests_refused: AtomicU64,
    pub connections_refused: AtomicU64,
    last_warned_ms: AtomicI64,
}

impl Limits {
    pub fn from_config(cfg: &portcullis_core::config::Config) -> Limits {
        Limits {
            in_flight: Semaphore::new(usize::try_from(cfg.max_server_pool_size()).unwrap_or(10).max(1)),
            wait: Duration::from_millis(u64::try_from(cfg.request_queue_timeout_ms()).unwrap_or(30_000).max(1)),
            max_connections: usize::try_from(cfg.max_connections()).unwrap_or(1024).max(1),
            requests_refused: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            last_warned_ms: AtomicI64::new(0),
        }
    }

    /// A slot for one request in flight, held until the permit is dropped; `None` (counted and
    /// logged) when none became free in time.
    pub async fn request_slot(&self) -> Option<SemaphorePermit<'_>> {
        match tokio::time::timeout(self.wait, self.in_flight.acquire()).await {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                self.requests_refused.fetch_add(1, Ordering::Relaxed);
                self.warn("a request waited too long for one of max_server_pool_size slots and was refused with 503");
                None
            }
        }
    }

    /// Whether one more connection may be served, given how many are open; counts and logs a refusal.
    pub fn admit_connection(&self, open: usize) -> bool {
        if open < self.max_connections {
            return true;
        }
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
        self.warn("max_connections connections are open: a new connection was closed");
        false
    }

    /// A WARN at most once a second, so that a flood does not also flood the log.
    fn warn(&self, what: &str) {
        let now = portcullis_core::now_ms();
        let last = self.last_warned_ms.load(Ordering::Relaxed);
        if now - last >= 1000 && self.last_warned_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(
                requests_refused = self.requests_refused.load(Ordering::Relaxed),
                connections_refused = self.connections_refused.load(Ordering::Relaxed),
                "{what}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits(pool: i64, conns: i64, wait_sec: i64) -> Limits {
        let cfg = portcullis_core::config::Config::defaults()
            .overlay(json!({}).as_object().unwrap())
            .unwrap();
        let mut l = Limits::from_config(&cfg);
        l.in_flight = Semaphore::new(pool as usize);
        l.max_connections = conns as usize;
        l.wait = Duration::from_millis(wait_sec as u64);
        l
    }

    #[tokio::test]
    async fn requests_past_the_pool_wait_then_are_refused_and_counted() {
        let l = limits(2, 10, 50);
        let a = l.request_slot().await.unwrap();
        let _b = l.request_slot().await.unwrap();
        assert!(l.request_slot().await.is_none());
        assert_eq!(l.requests_refused.load(Ordering::Relaxed), 1);
        drop(a);
        assert!(l.request_slot().await.is_some(), "a freed slot is reused");
    }

    #[test]
    fn by_default_a_request_waits_its_turn_for_thirty_seconds() {
        let cfg = portcullis_core::config::Config::defaults().overlay(json!({}).as_object().unwrap()).unwrap();
        assert_eq!(Limits::from_config(&cfg).wait, Duration::from_secs(30));
    }

    #[test]
    fn connections_past_the_cap_are_refused_and_counted() {
        let l = limits(1, 3, 1);
        assert!(l.admit_connection(2));
        assert!(!l.admit_connection(3));
        assert_eq!(l.connections_refused.load(Ordering::Relaxed), 1);
    }
}
