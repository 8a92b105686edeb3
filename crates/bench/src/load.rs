//! The closed loop: N workers, each doing one operation after another for a fixed time, with a
//! warm-up whose results are discarded. Throughput counts operations that complete inside the
//! measured window; every latency in the window is kept.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::stats::{summarize, Summary};

/// One worker's operation (an HTTP request on its own keep-alive connection, or a storage call).
#[async_trait]
pub trait Step: Send {
    async fn step(&mut self) -> Result<(), String>;
}

#[derive(Clone, Debug, Default)]
pub struct LoopResult {
    pub ops: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
    pub latency: Summary,
}

impl LoopResult {
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ops as f64 / self.seconds
        } else {
            0.0
        }
    }
}

struct WorkerOut {
    ops: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u64>,
}

/// Runs every worker until the window [start + warmup, start + warmup + duration] has passed.
/// `on_window` is told when the measured window opens and closes (for CPU and memory sampling).
pub async fn closed_loop<W: Step + 'static>(
    workers: Vec<W>,
    warmup: Duration,
    duration: Duration,
    on_window: &mut dyn FnMut(bool),
) -> LoopResult {
    let start = Instant::now();
    let t0 = start + warmup;
    let t1 = t0 + duration;
    let mut handles = Vec::with_capacity(workers.len());
    for mut w in workers {
        handles.push(tokio::spawn(async move {
            let mut out = WorkerOut { ops: 0, errors: 0, first_error: None, latencies_us: Vec::with_capacity(4096) };
            loop {
                let s = Instant::now();
                if s >= t1 {
                    break;
                }
                let r = w.step().await;
                let e = Instant::now();
                if e >= t0 && e <= t1 {
                    match r {
                        Ok(()) => {
                            out.ops += 1;
                            out.latencies_us.push(e.duration_since(s).as_micros() as u64);
                        }
                        Err(msg) => {
                            out.errors += 1;
                            out.first_error.get_or_insert(msg);
                        }
                    }
                } else if let Err(msg) = r {
                    // Errors during warm-up count too: a benchmark with errors is not valid.
                    out.errors += 1;
                    out.first_error.get_or_insert(msg);
                }
            }
            out
        }));
    }
    tokio::time::sleep_until(t0.into()).await;
    on_window(true);
    tokio::time::sleep_until(t1.into()).await;
    on_window(false);
    let mut result = LoopResult { seconds: duration.as_secs_f64(), ..Default::default() };
    let mut all = Vec::new();
    for h in handles {
        match h.await {
            Ok(out) => {
                result.ops += out.ops;
                result.errors += out.errors;
                if result.first_error.is_none() {
                    result.first_error = out.first_error;
                }
                all.extend(out.latencies_us);
            }
            Err(e) => {
                result.errors += 1;
                result.first_error.get_or_insert(format!("worker panicked: {e}"));
            }
        }
    }
    result.latency = summarize(all);
    result
}

/// Runs `work` on `threads` OS threads for `duration`; returns operations per second (all threads).
pub fn threads_rate<F>(threads: usize, duration: Duration, work: F) -> Result<f64, String>
where
    F: Fn() -> Result<(), String> + Send + Sync + 'static,
{
    let work = std::sync::Arc::new(work);
    let start = Instant::now();
    let t1 = start + duration;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let w = std::sync::Arc::clone(&work);
            std::thread::spawn(move || -> Result<u64, String> {
                let mut n = 0u64;
                while Instant::now() < t1 {
                    w()?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "floor thread panicked".to_owned())??;
    }
    // The last operation of each thread may end after t1: divide by the real elapsed time.
    let elapsed = start.elapsed().max(duration).as_secs_f64();
    Ok(total as f64 / elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sleepy(u64);

    #[async_trait]
    impl Step for Sleepy {
        async fn step(&mut self) -> Result<(), String> {
            self.0 += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
            if self.0 == 3 {
                return Err("third call fails".into());
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn counts_ops_and_errors_in_the_window() {
        let mut events = Vec::new();
        let r = closed_loop(vec![Sleepy(0), Sleepy(0)], Duration::from_millis(0), Duration::from_millis(200), &mut |open| {
            events.push(open)
        })
        .await;
        assert_eq!(events, vec![true, false]);
        assert_eq!(r.errors, 2, "{r:?}");
        assert!(r.ops > 20 && r.ops < 90, "{r:?}");
        assert!(r.latency.p50_us >= 5000, "{r:?}");
        assert_eq!(r.first_error.as_deref(), Some("third call fails"));
    }
}
