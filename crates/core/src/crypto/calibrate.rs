//! Password-hashing calibration (`portcullis hash-calibrate`): the parameters that make one hash
//! take about a target time on this machine. The search takes a timing function, so that the
//! rules are testable without a clock.

use std::time::Duration;

/// The cheapest and dearest bcrypt cost considered.
pub const BCRYPT_ROUNDS: std::ops::RangeInclusive<u32> = 4..=20;
/// Argon2 iterations are not raised past this; memory is lowered instead when even one is too slow.
pub const MAX_ARGON2_ITERATIONS: u32 = 100;
/// Argon2 memory is not lowered past this (KiB), the OWASP floor for argon2id.
pub const MIN_ARGON2_MEMORY_KB: u32 = 19 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BcryptChoice {
    pub log_rounds: u32,
    pub time: Duration,
}

/// The bcrypt cost whose time is nearest `target`. Each round doubles the work, so the search
/// stops at the first cost past the target.
pub fn bcrypt(target: Duration, mut time_of: impl FnMut(u32) -> Duration) -> BcryptChoice {
    let mut best: Option<BcryptChoice> = None;
    for log_rounds in BCRYPT_ROUNDS {
        let time = time_of(log_rounds);
        let candidate = BcryptChoice { log_rounds, time };
        best = Some(match best {
            Some(b) if distance(b.time, target) <= distance(time, target) => b,
            _ => candidate,
        });
        if time >= target {
            break;
        }
    }
    best.unwrap_or(BcryptChoice { log_rounds: *BCRYPT_ROUNDS.start(), time: Duration::ZERO })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Choice {
    pub iterations: u32,
    pub memory_kb: u32,
    pub parallelism: u32,
    pub time: Duration,
}

/// Argon2 parameters for `target` with at most `max_memory_kb` per hash (never below the OWASP
/// floor, `MIN_ARGON2_MEMORY_KB`): memory as large as allowed (memory hardness is what resists
/// GPUs), then as many iterations as fit in the target. When one iteration at that memory already
/// takes too long, memory is halved until it fits. Iterations are searched by doubling, then
/// bisecting between the last two counts, so a slow target costs a few measurements, not one per count.
pub fn argon2(target: Duration, max_memory_kb: u32, parallelism: u32, mut time_of: impl FnMut(u32, u32) -> Duration) -> Argon2Choice {
    let mut memory_kb = max_memory_kb.max(MIN_ARGON2_MEMORY_KB);
    let mut time = time_of(1, memory_kb);
    while time > target && memory_kb / 2 >= MIN_ARGON2_MEMORY_KB {
        memory_kb /= 2;
        time = time_of(1, memory_kb);
    }
    let choice = |iterations, time| Argon2Choice { iterations, memory_kb, parallelism, time };
    // `fits` is the largest count known to be within the target, `over` the smallest known past it.
    let mut fits = choice(1, time);
    let mut over: Option<Argon2Choice> = None;
    if time < target {
        let mut iterations = 1;
        while iterations < MAX_ARGON2_ITERATIONS {
            iterations = (iterations * 2).min(MAX_ARGON2_ITERATIONS);
            let t = time_of(iterations, memory_kb);
            if t > target {
                over = Some(choice(iterations, t));
                break;
            }
            fits = choice(iterations, t);
        }
    }
    while let Some(o) = over.filter(|o| o.iterations - fits.iterations > 1) {
        let middle = fits.iterations + (o.iterations - fits.iterations) / 2;
        let t = time_of(middle, memory_kb);
        if t > target {
            over = Some(choice(middle, t));
        } else {
            fits = choice(middle, t);
        }
    }
    match over {
        Some(o) if distance(o.time, target) < distance(fits.time, target) => o,
        _ => fits,
    }
}

/// OWASP's minimum bcrypt cost (Password Storage Cheat Sheet).
pub const MIN_SAFE_BCRYPT_ROUNDS: u32 = 10;

/// OWASP's equally strong minimum argon2id settings: (memory KiB, iterations), any one of which
/// (or more of both) is enough.
pub const MIN_SAFE_ARGON2: &[(u32, u32)] = &[(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)];

/// Why a bcrypt cost is below the safe minimum, if it is.
pub fn bcrypt_below_safe(log_rounds: u32) -> Option<String> {
    (log_rounds < MIN_SAFE_BCRYPT_ROUNDS).then(|| {
        format!("bcrypt_log_rounds {log_rounds} is below the OWASP minimum of {MIN_SAFE_BCRYPT_ROUNDS}: raise --target-ms or use a faster machine")
    })
}

/// Why argon2 settings are below the safe minimum, if they are.
pub fn argon2_below_safe(memory_kb: u32, iterations: u32) -> Option<String> {
    let safe = MIN_SAFE_ARGON2.iter().any(|&(m, t)| memory_kb >= m && iterations >= t);
    (!safe).then(|| {
        format!(
            "argon2 with {memory_kb} KiB and {iterations} iteration(s) is below the OWASP minimum \
             (19456 KiB with 2 iterations, or 47104 KiB with 1): raise --target-ms or --max-memory-mb"
        )
    })
}

fn distance(a: Duration, b: Duration) -> Duration {
    a.abs_diff(b)
}

/// The median of `runs` timings of `work` (the first is a warm-up and not counted).
pub fn median_time(runs: usize, mut work: impl FnMut()) -> Duration {
    work();
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bcrypt_picks_the_cost_nearest_the_target() {
        // 2^rounds microseconds: 10 rounds = 1.024 ms, 18 rounds = 262 ms, 19 = 524 ms.
        let cost = |r: u32| Duration::from_micros(1 << r);
        assert_eq!(bcrypt(ms(300), cost).log_rounds, 18);
        assert_eq!(bcrypt(ms(450), cost).log_rounds, 19);
        assert_eq!(bcrypt(ms(0), cost).log_rounds, 4, "never below the cheapest");
        assert_eq!(bcrypt(Duration::from_secs(10_000), cost).log_rounds, 20, "never above the dearest");
    }

    #[test]
    fn argon2_keeps_memory_and_adds_iterations() {
        // 1 ms per iteration per 10 MiB.
        let cost = |i: u32, m: u32| Duration::from_micros(u64::from(i) * u64::from(m) * 1000 / 10240);
        let c = argon2(ms(300), 100 * 1024, 2, cost);
        assert_eq!((c.memory_kb, c.iterations, c.parallelism), (100 * 1024, 30, 2));
    }

    #[test]
    fn argon2_iterations_are_found_by_doubling_in_few_measurements() {
        // 1 ms per iteration at 19 MiB: the target of 77 ms needs 77 iterations.
        let mut measured = Vec::new();
        let c = argon2(ms(77), 0, 1, |i, _| {
            measured.push(i);
            Duration::from_millis(u64::from(i))
        });
        assert_eq!((c.memory_kb, c.iterations), (MIN_ARGON2_MEMORY_KB, 77), "memory raised to the floor");
        assert!(measured.len() <= 15, "{} measurements: {measured:?}", measured.len());
        assert_eq!(&measured[..8], &[1, 2, 4, 8, 16, 32, 64, 100]);
        // Past the cap, the cap is taken.
        assert_eq!(argon2(Duration::from_secs(10), 0, 1, |i, _| Duration::from_millis(u64::from(i))).iterations, MAX_ARGON2_ITERATIONS);
        // Nearer past the target than below it: the count past it.
        let c = argon2(ms(29), 0, 1, |i, _| Duration::from_millis(u64::from(i) * 10));
        assert_eq!(c.iterations, 3);
    }

    #[test]
    fn costs_below_the_owasp_minimums_are_named() {
        assert!(bcrypt_below_safe(9).is_some_and(|w| w.contains("below the OWASP minimum")));
        assert_eq!(bcrypt_below_safe(10), None);
        assert!(argon2_below_safe(19_456, 1).is_some());
        assert_eq!(argon2_below_safe(19_456, 2), None);
        assert_eq!(argon2_below_safe(65_536, 1), None);
        assert!(argon2_below_safe(8_192, 4).is_some());
    }

    #[test]
    fn argon2_halves_memory_when_one_iteration_is_too_slow() {
        let cost = |i: u32, m: u32| Duration::from_micros(u64::from(i) * u64::from(m) * 100);
        let c = argon2(ms(300), 64 * 1024, 1, cost);
        assert!(c.memory_kb < 64 * 1024 && c.memory_kb >= MIN_ARGON2_MEMORY_KB, "{c:?}");
        assert_eq!(c.iterations, 1);
    }
}
