//! Latency statistics: nearest-rank percentiles over every recorded sample (no histogram
//! bucketing, so the numbers are exact), and medians across runs.

/// A summary of latencies in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

/// The nearest-rank percentile of an ascending slice: the smallest value such that at least
/// `p` percent of the samples are <= it. 0 for an empty slice.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// Sorts the samples and summarises them.
pub fn summarize(mut samples: Vec<u64>) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    samples.sort_unstable();
    let sum: u128 = samples.iter().map(|&v| u128::from(v)).sum();
    Summary {
        count: samples.len(),
        p50_us: percentile(&samples, 50.0),
        p90_us: percentile(&samples, 90.0),
        p99_us: percentile(&samples, 99.0),
        max_us: *samples.last().unwrap_or(&0),
        mean_us: sum as f64 / samples.len() as f64,
    }
}

/// The median of some values (the mean of the two middle ones for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The timing policy of the scale and workload runs: `iterations` samples after three warm-ups (one
/// when a call takes over a second), and no new sample once 30 s have passed with one in hand.
pub struct Sampler {
    iterations: usize,
    deadline: std::time::Instant,
    warmups: usize,
    calls: usize,
    latencies_us: Vec<u64>,
}

impl Sampler {
    pub fn new(iterations: usize) -> Sampler {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        Sampler { iterations, deadline, warmups: 3, calls: 0, latencies_us: Vec::with_capacity(iterations) }
    }

    /// Whether to make another call.
    pub fn wants_more(&self) -> bool {
        self.latencies_us.len() < self.iterations && (self.latencies_us.is_empty() || std::time::Instant::now() <= self.deadline)
    }

    /// One call's time: a sample once the warm-ups are done.
    pub fn record(&mut self, us: u64) {
        self.calls += 1;
        if self.calls > self.warmups {
            self.latencies_us.push(us);
        } else if us > 1_000_000 {
            // Slow: one warm-up is enough.
            self.warmups = self.calls;
        }
    }

    pub fn summary(self) -> Summary {
        summarize(self.latencies_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 90.0), 90);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&v, 0.0), 1);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        // 10 samples: p99 is the largest, p50 the 5th.
        let w: Vec<u64> = (1..=10).map(|x| x * 10).collect();
        assert_eq!(percentile(&w, 50.0), 50);
        assert_eq!(percentile(&w, 99.0), 100);
        assert_eq!(percentile(&w, 90.0), 90);
    }

    #[test]
    fn summaries_sort_their_input() {
        let s = summarize(vec![5, 1, 4, 2, 3]);
        assert_eq!(s.count, 5);
        assert_eq!(s.p50_us, 3);
        assert_eq!(s.max_us, 5);
        assert_eq!(s.p99_us, 5);
        assert!((s.mean_us - 3.0).abs() < 1e-9);
        assert_eq!(summarize(vec![]), Summary::default());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
    }
}
