//! `portcullis-bench run`: start-up, fixtures, every scenario with its floors, memory under load,
//! then the table (medians of the runs) and the JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::floors::{self, CryptoFloors, DbWorker};
use crate::load::{closed_loop, LoopResult};
use crate::procfs::{self, RssSampler};
use crate::scenarios::{build_fixture, CryptoBound, Fixture, HttpWorker, Scenario};
use crate::server::{Server, ServerSpec};
use crate::stats::median;
use crate::{secs, workdir, RunArgs};

/// One scenario's measurement in one run.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    pub(crate) http: LoopResult,
    server_peak_rss_kb: Option<u64>,
    /// Where the machine's CPU went over the window (None when the server's pid is unknown).
    budget: Option<CpuBudget>,
    db_floor: Option<LoopResult>,
    /// The machine's busy share of its cores while the database floor ran (is that floor CPU-bound?).
    db_floor_busy_share: Option<f64>,
}

impl Measured {
    /// The server's CPU seconds over the window, when its pid was known.
    pub(crate) fn server_cpu_s(&self) -> Option<f64> {
        self.budget.map(|b| b.server)
    }
}

/// CPU seconds over a measured window: the server, PostgreSQL (when it is the backend), this load
/// generator, and the whole machine. The floors assume a resource has both cores to itself; this
/// shows what else each request needs on the same cores.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBudget {
    server: f64,
    postgres: f64,
    generator: f64,
    machine_busy: f64,
}

impl CpuBudget {
    fn now(pid: u32, postgres: bool) -> Option<CpuBudget> {
        Some(CpuBudget {
            server: procfs::cpu_seconds(pid)?,
            postgres: if postgres { procfs::cpu_seconds_named("postgres") } else { 0.0 },
            generator: procfs::cpu_seconds(std::process::id())?,
            machine_busy: procfs::machine_busy_seconds()?,
        })
    }

    fn since(self, start: CpuBudget) -> CpuBudget {
        CpuBudget {
            server: self.server - start.server,
            postgres: self.postgres - start.postgres,
            generator: self.generator - start.generator,
            machine_busy: self.machine_busy - start.machine_busy,
        }
    }

    /// Busy time not accounted to the three (kernel work on no process's behalf, other processes).
    fn other(&self) -> f64 {
        (self.machine_busy - self.server - self.postgres - self.generator).max(0.0)
    }
}

/// The server under test, as far as sampling goes: its pid and whether PostgreSQL is its backend.
#[derive(Clone, Copy)]
pub(crate) struct Probe {
    pub(crate) pid: Option<u32>,
    pub(crate) postgres: bool,
}

/// Runs HTTP workers for one scenario, sampling the server's CPU and memory over the window.
pub(crate) async fn run_http(base: &str, kind: Scenario, fx: &Arc<Fixture>, conns: usize, warmup: Duration, duration: Duration, probe: Probe) -> Measured {
    let workers: Vec<HttpWorker> = (0..conns).map(|i| HttpWorker::new(base, kind, Arc::clone(fx), i)).collect();
    let mut start = None;
    let mut budget = None;
    let mut sampler: Option<RssSampler> = None;
    let mut peak = None;
    let mut on_window = |open: bool| {
        if let Some(pid) = probe.pid {
            if open {
                start = CpuBudget::now(pid, probe.postgres);
                sampler = Some(RssSampler::start(pid));
            } else {
                budget = CpuBudget::now(pid, probe.postgres).zip(start).map(|(end, start)| end.since(start));
                peak = sampler.take().map(RssSampler::finish);
            }
        }
    };
    let http = closed_loop(workers, warmup, duration, &mut on_window).await;
    Measured { http, server_peak_rss_kb: peak, budget, db_floor: None, db_floor_busy_share: None }
}

/// Runs a scenario's database floor; also returns the machine's busy share of its cores meanwhile.
async fn run_db(st: &Arc<dyn portcullis_core::storage::Storage>, kind: Scenario, fx: &Arc<Fixture>, conns: usize, warmup: Duration, duration: Duration) -> (LoopResult, Option<f64>) {
    let workers: Vec<DbWorker> = (0..conns).map(|i| DbWorker::new(Arc::clone(st), kind, Arc::clone(fx), i)).collect();
    let (mut start, mut busy) = (None, None);
    let mut on_window = |open: bool| {
        let now = procfs::machine_busy_seconds();
        if open {
            start = now;
        } else {
            busy = now.zip(start).map(|(b, a)| b - a);
        }
    };
    let r = closed_loop(workers, warmup, duration, &mut on_window).await;
    let share = busy.map(|b| b / (r.seconds * floors::cores() as f64));
    (r, share)
}

/// Warm-up and window for a scenario whose rate is (about) `known`: one round of `conns`
/// requests takes conns / rate seconds; warm up for one round and measure at least four
/// (capped at 30 s and 60 s).
pub fn window_for(warmup: Duration, duration: Duration, conns: usize, known: Option<f64>) -> (Duration, Duration) {
    match known {
        Some(rate) if rate > 0.0 => {
            let round = conns as f64 / rate;
            (warmup.max(secs(round.min(30.0))), duration.max(secs((4.0 * round).min(60.0))))
        }
        _ => (warmup, duration),
    }
}

/// A wider window when the loop completed fewer than four requests per connection (and had no
/// errors); None when the measurement stands.
pub fn widen(r: &LoopResult, warmup: Duration, duration: Duration, conns: usize) -> Option<(Duration, Duration)> {
    if r.errors > 0 || r.ops >= 4 * conns as u64 {
        return None;
    }
    // With nothing completed, a round took longer than the whole loop.
    let rate = if r.ops > 0 { r.rate() } else { conns as f64 / (warmup + duration).as_secs_f64() / 2.0 };
    let (w, d) = window_for(warmup, duration, conns, Some(rate));
    (d > duration).then_some((w, d))
}

/// Start-up: a first start on an empty database, then `restarts` starts on the existing one.
struct Startup {
    first_ms: f64,
    again_ms: Vec<f64>,
    idle_rss_kb: Vec<u64>,
}

async fn measure_startup(spec: &ServerSpec, restarts: usize) -> Result<Startup, String> {
    let timeout = Duration::from_secs(60);
    let s = Server::start(spec, timeout).await?;
    let first_ms = s.startup.as_secs_f64() * 1000.0;
    s.stop();
    let mut again_ms = Vec::new();
    let mut idle_rss_kb = Vec::new();
    for _ in 0..restarts {
        let s = Server::start(spec, timeout).await?;
        again_ms.push(s.startup.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        idle_rss_kb.push(procfs::rss_kb(s.pid).unwrap_or(0));
        s.stop();
    }
    Ok(Startup { first_ms, again_ms, idle_rss_kb })
}

fn mb(kb: f64) -> f64 {
    kb / 1024.0
}

/// A scenario's CPU per request in ms (medians over the runs) — server, PostgreSQL, load generator,
/// other, all busy time — and the machine's busy share of its cores over the window.
#[derive(Clone, Copy)]
struct CpuPerRequest {
    server: f64,
    postgres: f64,
    generator: f64,
    other: f64,
    total: f64,
    busy_share: f64,
}

fn cpu_per_request(ms: &[Measured], cores: usize) -> Option<CpuPerRequest> {
    let sampled: Vec<(&CpuBudget, &LoopResult)> = ms.iter().filter_map(|m| Some((m.budget.as_ref()?, &m.http))).collect();
    if sampled.is_empty() {
        return None;
    }
    let med = |f: &dyn Fn(&CpuBudget) -> f64| median(&sampled.iter().map(|(b, h)| f(b) * 1000.0 / h.ops.max(1) as f64).collect::<Vec<_>>());
    Some(CpuPerRequest {
        server: med(&|b| b.server),
        postgres: med(&|b| b.postgres),
        generator: med(&|b| b.generator),
        other: med(&|b| b.other()),
        total: med(&|b| b.machine_busy),
        busy_share: median(&sampled.iter().map(|(b, h)| b.machine_busy / (h.seconds * cores as f64)).collect::<Vec<_>>()),
    })
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.prec$}"),
        _ => "-".to_owned(),
    }
}

fn cpu_info() -> (usize, String) {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned());
    (floors::cores(), model)
}

pub async fn run(mut a: RunArgs) -> Result<bool, String> {
    if a.smoke {
        a.duration = a.duration.min(1.0);
        a.warmup = a.warmup.min(0.2);
        a.concurrency = a.concurrency.min(4);
        a.runs = 1;
        a.users = a.users.min(300);
        a.deep_page = a.deep_page.min(2);
        a.crypto_seconds = a.crypto_seconds.min(0.2);
        a.db_floor_seconds = Some(0.3);
        a.no_startup = true;
        a.rss_connections = 0;
    }
    let scenarios: Vec<Scenario> = match &a.scenarios {
        None => Scenario::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|s| Scenario::parse(s.trim()).ok_or_else(|| format!("unknown scenario {s}")))
            .collect::<Result<_, _>>()?,
    };
    let dir = workdir()?;
    let spec = a.target.spec(&dir)?;
    let cfg = spec.config()?;
    let (cores, model) = cpu_info();
    let warmup = secs(a.warmup);
    let duration = secs(a.duration);
    eprintln!(
        "portcullis-bench: {} on {}, {} cores ({model}); {} connections, {}s (+{}s warm-up) x {} runs; hashing: {}",
        spec.bin.display(),
        spec.backend.name(),
        cores,
        a.concurrency,
        a.duration,
        a.warmup,
        a.runs,
        floors::hashing_description(&cfg)
    );

    let startup = if a.url.is_some() || a.no_startup {
        None
    } else {
        let s = measure_startup(&spec, 3).await?;
        eprintln!(
            "start-up to first /hello: first start {:.1} ms, restarts {:?} ms; idle RSS {:?} kB",
            s.first_ms, s.again_ms, s.idle_rss_kb
        );
        Some(s)
    };

    let (server, base, pid) = match &a.url {
        Some(u) => (None, u.trim_end_matches('/').to_owned(), a.pid),
        None => {
            let s = Server::start(&spec, Duration::from_secs(60)).await?;
            let (b, p) = (s.url.clone(), s.pid);
            (Some(s), b, Some(p))
        }
    };
    let probe = Probe { pid, postgres: matches!(spec.backend, crate::server::Backend::Postgres { .. }) };
    let t_fx = Instant::now();
    let fx = Arc::new(build_fixture(&base, &cfg, &spec.backend, a.concurrency, a.users, a.deep_page).await?);
    eprintln!(
        "fixture: {} connections' users and sessions, {} users listed, deep page {} ({:.1}s)",
        fx.conns.len(),
        fx.users_in_list,
        fx.deep_page,
        t_fx.elapsed().as_secs_f64()
    );
    let storage = if a.no_floors || a.url.is_some() {
        None
    } else {
        // Beside the running server: on SQLite, without the file's one-process lock.
        Some(
            portcullis::storage_open::open_storage_beside_server(&cfg)
                .await
                .map_err(|e| format!("opening the storage for the floors: {e}"))?,
        )
    };

    let mut crypto_runs: Vec<CryptoFloors> = Vec::new();
    let mut results: Vec<(Scenario, Vec<Measured>)> = scenarios.iter().map(|s| (*s, Vec::new())).collect();
    for run in 0..a.runs {
        if !a.no_floors {
            let cfg2 = cfg.clone();
            let each = secs(a.crypto_seconds);
            let c = tokio::task::spawn_blocking(move || floors::crypto_floors(&cfg2, each)).await.map_err(|e| e.to_string())??;
            eprintln!(
                "run {}: crypto floors: RS256 sign {:.0}/s, verify {:.0}/s; refresh token sealed {:.0}/s; password hash {:.1}/s, verify {:.1}/s",
                run + 1,
                c.rs256_sign,
                c.rs256_verify,
                c.refresh_token_seal,
                c.password_hash,
                c.password_verify
            );
            crypto_runs.push(c);
        }
        for (kind, ms) in results.iter_mut() {
            // Slow scenarios (password hashing by design, long pages) need a window that holds
            // several rounds of all connections: start from what is known (the crypto floor, or
            // the rate of an earlier run) and widen after a first try when it is too short.
            let known = match (kind.crypto_bound(), crypto_runs.last()) {
                (CryptoBound::PasswordHash, Some(c)) => Some(c.password_hash),
                (CryptoBound::PasswordVerify, Some(c)) => Some(c.password_verify),
                _ => ms.last().map(|m: &Measured| m.http.rate()),
            };
            let (w, d) = window_for(warmup, duration, a.concurrency, known);
            let mut m = run_http(&base, *kind, &fx, a.concurrency, w, d, probe).await;
            if let Some((w2, d2)) = widen(&m.http, w, d, a.concurrency) {
                eprintln!("run {}: {} is slow ({} requests in {:.1}s): measuring again over {:.1}s", run + 1, kind.name(), m.http.ops, d.as_secs_f64(), d2.as_secs_f64());
                m = run_http(&base, *kind, &fx, a.concurrency, w2, d2, probe).await;
            }
            if m.http.ops == 0 && m.http.errors == 0 {
                m.http.errors = 1;
                m.http.first_error = Some("no request completed inside the measured window".into());
            }
            if let (Some(st), true) = (&storage, kind.uses_database()) {
                let base_d = a.db_floor_seconds.map(secs).unwrap_or(duration);
                let known = ms.last().and_then(|m: &Measured| m.db_floor.as_ref()).map(|f| f.rate());
                let (w, d) = window_for(warmup.min(base_d), base_d, a.concurrency, known);
                let mut f = run_db(st, *kind, &fx, a.concurrency, w, d).await;
                if let Some((w2, d2)) = widen(&f.0, w, d, a.concurrency) {
                    f = run_db(st, *kind, &fx, a.concurrency, w2, d2).await;
                }
                (m.db_floor, m.db_floor_busy_share) = (Some(f.0), f.1);
            }
            eprintln!(
                "run {}: {:<18} {:>9.1} req/s  p50 {:>7.2} ms  p99 {:>8.2} ms  errors {}{}{}",
                run + 1,
                kind.name(),
                m.http.rate(),
                m.http.latency.p50_us as f64 / 1000.0,
                m.http.latency.p99_us as f64 / 1000.0,
                m.http.errors,
                m.db_floor.as_ref().map(|d| format!("  db floor {:.1}/s (errors {})", d.rate(), d.errors)).unwrap_or_default(),
                m.http.first_error.as_ref().map(|e| format!("\n    first error: {e}")).unwrap_or_default(),
            );
            if let Some(e) = m.db_floor.as_ref().and_then(|d| d.first_error.as_ref()) {
                eprintln!("    db floor error: {e}");
            }
            ms.push(m);
        }
    }

    // Memory (and latency) under many connections.
    let mut under_load = Vec::new();
    if a.rss_connections > 0 {
        for kind in [Scenario::Hello, Scenario::SessionVerify] {
            let m = run_http(&base, kind, &fx, a.rss_connections, warmup, duration, probe).await;
            eprintln!(
                "{} connections: {:<16} {:>9.1} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}  peak RSS {} kB",
                a.rss_connections,
                kind.name(),
                m.http.rate(),
                m.http.latency.p50_us as f64 / 1000.0,
                m.http.latency.p99_us as f64 / 1000.0,
                m.http.errors,
                m.server_peak_rss_kb.unwrap_or(0)
            );
            under_load.push((kind, m));
        }
    }
    let hwm = pid.and_then(procfs::hwm_kb);
    if let Some(s) = server {
        s.stop();
    }

    // Medians and ratios.
    let crypto = CryptoFloors {
        rs256_sign: median(&crypto_runs.iter().map(|c| c.rs256_sign).collect::<Vec<_>>()),
        rs256_verify: median(&crypto_runs.iter().map(|c| c.rs256_verify).collect::<Vec<_>>()),
        password_hash: median(&crypto_runs.iter().map(|c| c.password_hash).collect::<Vec<_>>()),
        password_verify: median(&crypto_runs.iter().map(|c| c.password_verify).collect::<Vec<_>>()),
        refresh_token_seal: median(&crypto_runs.iter().map(|c| c.refresh_token_seal).collect::<Vec<_>>()),
    };
    let med = |ms: &[Measured], f: &dyn Fn(&Measured) -> f64| median(&ms.iter().map(f).collect::<Vec<_>>());
    let http_floor = results.iter().find(|(k, _)| *k == Scenario::Hello).map(|(_, ms)| med(ms, &|m| m.http.rate()));
    // /apiversion touches no database: the pure HTTP floor, for the summed bound below.
    let pure_http_floor = results.iter().find(|(k, _)| *k == Scenario::ApiVersion).map(|(_, ms)| med(ms, &|m| m.http.rate()));
    let mut cost_rows = Vec::new();
    let mut rows = Vec::new();
    let mut total_errors = 0;
    println!();
    println!(
        "{} | {} | {} cores ({}) | {} connections | {} s x {} runs (medians) | hashing: {}",
        spec.backend.name(),
        spec.bin.display(),
        cores,
        model,
        a.concurrency,
        a.duration,
        a.runs,
        floors::hashing_description(&cfg)
    );
    println!(
        "| {:<18} | {:>9} | {:>8} | {:>8} | {:>8} | {:>8} | {:>6} | {:>8} | {:>7} | {:>9} | {:<15} | {:>9} | {:>6} |",
        "scenario", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "CPU ms/r", "RSS MB", "DB floor", "lowest floor", "floor/s", "ratio"
    );
    println!("|{}|", ["-"; 13].iter().enumerate().map(|(i, _)| "-".repeat([20, 11, 10, 10, 10, 10, 8, 10, 9, 11, 17, 11, 8][i])).collect::<Vec<_>>().join("|"));
    for (kind, ms) in &results {
        if ms.is_empty() {
            continue;
        }
        let rps = med(ms, &|m| m.http.rate());
        let p50 = med(ms, &|m| m.http.latency.p50_us as f64 / 1000.0);
        let p90 = med(ms, &|m| m.http.latency.p90_us as f64 / 1000.0);
        let p99 = med(ms, &|m| m.http.latency.p99_us as f64 / 1000.0);
        let max = med(ms, &|m| m.http.latency.max_us as f64 / 1000.0);
        let errors: u64 = ms.iter().map(|m| m.http.errors).sum();
        total_errors += errors;
        let cpu_ms_per_req = med(ms, &|m| m.budget.map(|b| b.server * 1000.0 / m.http.ops.max(1) as f64).unwrap_or(f64::NAN));
        let rss = med(ms, &|m| m.server_peak_rss_kb.map(|k| mb(k as f64)).unwrap_or(f64::NAN));
        let db_floor = if ms.iter().any(|m| m.db_floor.is_some()) {
            Some(med(ms, &|m| m.db_floor.as_ref().map(|d| d.rate()).unwrap_or(f64::NAN)))
        } else {
            None
        };
        let db_busy = ms.iter().any(|m| m.db_floor_busy_share.is_some()).then(|| med(ms, &|m| m.db_floor_busy_share.unwrap_or(f64::NAN)));
        let db_errors: u64 = ms.iter().filter_map(|m| m.db_floor.as_ref()).map(|d| d.errors).sum();
        total_errors += db_errors;
        let mut bounds: Vec<(&str, f64)> = Vec::new();
        if let (Some(h), false) = (http_floor, kind.is_floor()) {
            bounds.push(("HTTP (/hello)", h));
        }
        if !crypto_runs.is_empty() {
            match kind.crypto_bound() {
                CryptoBound::None => {}
                CryptoBound::Rs256Sign => bounds.push(("RS256 sign", crypto.rs256_sign)),
                CryptoBound::SessionTokens { refresh_tokens } => bounds.push((
                    if refresh_tokens == 1 { "RS256+1 refresh" } else { "RS256+2 refresh" },
                    1.0 / (1.0 / crypto.rs256_sign + f64::from(refresh_tokens) / crypto.refresh_token_seal),
                )),
                CryptoBound::Rs256Verify => bounds.push(("RS256 verify", crypto.rs256_verify)),
                CryptoBound::PasswordHash => bounds.push(("password hash", crypto.password_hash)),
                CryptoBound::PasswordVerify => bounds.push(("password verify", crypto.password_verify)),
            }
        }
        if let Some(d) = db_floor {
            bounds.push(("DB", d));
        }
        let lowest = bounds.iter().copied().filter(|(_, v)| v.is_finite()).min_by(|x, y| x.1.total_cmp(&y.1));
        let ratio = lowest.map(|(_, v)| rps / v);
        // What the scenario could reach if each request cost exactly its floors' work, done one
        // after the other on the same cores: pure HTTP, then its crypto, then its database floor.
        let mut parts: Vec<f64> = bounds.iter().filter(|(n, _)| *n != "HTTP (/hello)").map(|(_, v)| *v).collect();
        if *kind != Scenario::ApiVersion {
            parts.extend(pure_http_floor);
        }
        let summed = summed_floors(&parts);
        let best_ratio = summed.zip(lowest).map(|(s, (_, l))| s / l);
        println!(
            "| {:<18} | {:>9.1} | {:>8.2} | {:>8.2} | {:>8.2} | {:>8.2} | {:>6} | {:>8} | {:>7} | {:>9} | {:<15} | {:>9} | {:>6} |",
            kind.name(),
            rps,
            p50,
            p90,
            p99,
            max,
            errors + db_errors,
            fmt_opt(Some(cpu_ms_per_req), 3),
            fmt_opt(Some(rss), 1),
            fmt_opt(db_floor, 1),
            lowest.map(|l| l.0).unwrap_or("-"),
            fmt_opt(lowest.map(|l| l.1), 1),
            fmt_opt(ratio, 2),
        );
        let cpu = cpu_per_request(ms, cores);
        cost_rows.push(CostRow { kind: *kind, rps, cpu, summed, best_ratio, db_busy });
        rows.push(json!({
            "scenario": kind.name(),
            "requests_per_s": rps, "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max,
            "p99_over_p50": p99 / p50,
            "errors": errors, "db_floor_errors": db_errors,
            "server_cpu_ms_per_request": cpu_ms_per_req, "server_peak_rss_mb": rss,
            "cpu_ms_per_request": cpu.map(|c| json!({
                "server": c.server, "postgres": c.postgres, "generator": c.generator, "other": c.other,
                "machine_busy": c.total, "machine_busy_share": c.busy_share,
            })),
            "db_floor_per_s": db_floor,
            "bounds": bounds.iter().map(|(n, v)| json!({"floor": n, "per_s": v})).collect::<Vec<_>>(),
            "lowest_floor": lowest.map(|l| l.0), "lowest_floor_per_s": lowest.map(|l| l.1), "ratio": ratio,
            "summed_floors_per_s": summed, "ratio_to_summed_floors": summed.map(|v| rps / v), "best_ratio_by_summed_floors": best_ratio,
            "db_floor_cores_busy": db_busy,
            "runs": ms.iter().map(|m| json!({
                "requests_per_s": m.http.rate(), "requests": m.http.ops, "errors": m.http.errors, "first_error": m.http.first_error,
                "p50_ms": m.http.latency.p50_us as f64 / 1000.0, "p90_ms": m.http.latency.p90_us as f64 / 1000.0,
                "p99_ms": m.http.latency.p99_us as f64 / 1000.0, "max_ms": m.http.latency.max_us as f64 / 1000.0,
                "server_cpu_s": m.budget.map(|b| b.server), "server_peak_rss_kb": m.server_peak_rss_kb,
                "cpu_s": m.budget.map(|b| json!({
                    "server": b.server, "postgres": b.postgres, "generator": b.generator, "machine_busy": b.machine_busy,
                })),
                "db_floor_per_s": m.db_floor.as_ref().map(|d| d.rate()),
                "db_floor_p50_ms": m.db_floor.as_ref().map(|d| d.latency.p50_us as f64 / 1000.0),
            })).collect::<Vec<_>>(),
        }));
    }
    print_cost_table(&cost_rows);
    if !crypto_runs.is_empty() {
        println!(
            "floors ({} cores): HTTP /hello {} req/s; RS256 sign {:.0}/s, verify {:.0}/s; refresh token sealed {:.0}/s; password hash {:.1}/s, verify {:.1}/s",
            cores,
            fmt_opt(http_floor, 1),
            crypto.rs256_sign,
            crypto.rs256_verify,
            crypto.refresh_token_seal,
            crypto.password_hash,
            crypto.password_verify
        );
    }
    if let Some(s) = &startup {
        println!(
            "start-up to first /hello: first start (empty database) {:.1} ms; restart (existing schema) median {:.1} ms of {:?}; idle RSS median {:.1} MB",
            s.first_ms,
            median(&s.again_ms),
            s.again_ms.iter().map(|v| (v * 10.0).round() / 10.0).collect::<Vec<_>>(),
            mb(median(&s.idle_rss_kb.iter().map(|&k| k as f64).collect::<Vec<_>>()))
        );
    }
    for (kind, m) in &under_load {
        total_errors += m.http.errors;
        println!(
            "{} connections, {}: {:.1} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {}, peak RSS {} MB",
            a.rss_connections,
            kind.name(),
            m.http.rate(),
            m.http.latency.p50_us as f64 / 1000.0,
            m.http.latency.p99_us as f64 / 1000.0,
            m.http.errors,
            fmt_opt(m.server_peak_rss_kb.map(|k| mb(k as f64)), 1)
        );
    }
    if let Some(h) = hwm {
        println!("server VmHWM (peak RSS over the whole run, fixtures included): {:.1} MB", mb(h as f64));
    }

    if let Some(path) = &a.json {
        let out: Value = json!({
            "backend": spec.backend.name(),
            "binary": spec.bin.display().to_string(),
            "cores": cores, "cpu_model": model,
            "hashing": floors::hashing_description(&cfg),
            "connections": a.concurrency, "duration_s": a.duration, "warmup_s": a.warmup, "runs": a.runs,
            "users_in_list": fx.users_in_list, "deep_page": fx.deep_page,
            "floors": {
                "http_hello_per_s": http_floor,
                "rs256_sign_per_s": crypto.rs256_sign, "rs256_verify_per_s": crypto.rs256_verify,
                "refresh_token_seal_per_s": crypto.refresh_token_seal,
                "password_hash_per_s": crypto.password_hash, "password_verify_per_s": crypto.password_verify,
            },
            "scenarios": rows,
            "startup": startup.as_ref().map(|s| json!({
                "first_start_ms": s.first_ms, "restart_ms": s.again_ms, "restart_median_ms": median(&s.again_ms),
                "idle_rss_kb": s.idle_rss_kb,
            })),
            "under_load": under_load.iter().map(|(k, m)| json!({
                "scenario": k.name(), "connections": a.rss_connections, "requests_per_s": m.http.rate(),
                "p50_ms": m.http.latency.p50_us as f64 / 1000.0, "p99_ms": m.http.latency.p99_us as f64 / 1000.0,
                "errors": m.http.errors, "peak_rss_kb": m.server_peak_rss_kb,
            })).collect::<Vec<_>>(),
            "server_vmhwm_kb": hwm,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    if total_errors > 0 {
        eprintln!("{total_errors} errors");
    }
    Ok(total_errors == 0)
}

/// A harmonic sum: the rate of doing one of each of `parts` in turn on the same cores.
fn summed_floors(parts: &[f64]) -> Option<f64> {
    if parts.is_empty() || parts.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return None;
    }
    Some(1.0 / parts.iter().map(|v| 1.0 / v).sum::<f64>())
}

/// One scenario's line in the cost table.
struct CostRow {
    kind: Scenario,
    rps: f64,
    cpu: Option<CpuPerRequest>,
    summed: Option<f64>,
    best_ratio: Option<f64>,
    db_busy: Option<f64>,
}

/// Where each request's CPU went, and the floors added up. A floor is measured with both cores to
/// itself, while a request needs each of its floors' work in turn on the same cores: their
/// harmonic sum bounds what the scenario can reach, and so the best ratio to its lowest floor.
fn print_cost_table(rows: &[CostRow]) {
    let pct = |v: Option<f64>| fmt_opt(v.map(|x| x * 100.0), 0);
    let ms = |c: Option<CpuPerRequest>, f: fn(&CpuPerRequest) -> f64| fmt_opt(c.as_ref().map(f), 3);
    println!();
    println!("CPU ms per request over the window (medians): the server, PostgreSQL, this load generator, the rest of the machine, in all;");
    println!("summed floors: 1 / (1/pure HTTP (/apiversion) + 1/crypto + 1/DB floor); best ratio: summed floors / lowest floor");
    println!(
        "| {:<18} | {:>7} | {:>10} | {:>9} | {:>6} | {:>6} | {:>10} | {:>14} | {:>11} | {:>10} | {:>13} |",
        "scenario", "server", "PostgreSQL", "generator", "other", "all", "cores busy", "summed floors/s", "of summed", "best ratio", "DB floor busy"
    );
    println!("|{}|", [20, 9, 12, 11, 8, 8, 12, 16, 13, 12, 15].iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("|"));
    for r in rows {
        println!(
            "| {:<18} | {:>7} | {:>10} | {:>9} | {:>6} | {:>6} | {:>9}% | {:>14} | {:>11} | {:>10} | {:>12}% |",
            r.kind.name(),
            ms(r.cpu, |c| c.server),
            ms(r.cpu, |c| c.postgres),
            ms(r.cpu, |c| c.generator),
            ms(r.cpu, |c| c.other),
            ms(r.cpu, |c| c.total),
            pct(r.cpu.map(|c| c.busy_share)),
            fmt_opt(r.summed, 1),
            fmt_opt(r.summed.map(|v| r.rps / v), 2),
            fmt_opt(r.best_ratio, 2),
            pct(r.db_busy),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_add_up_as_costs() {
        // 1 ms and 1/3 ms per request: 4/3 ms in all.
        assert!((summed_floors(&[1000.0, 3000.0]).unwrap() - 750.0).abs() < 1e-9);
        assert_eq!(summed_floors(&[500.0]), Some(500.0));
        assert_eq!(summed_floors(&[]), None);
        assert_eq!(summed_floors(&[1000.0, f64::NAN]), None);
    }

    #[test]
    fn windows_hold_four_rounds() {
        let (w, d) = (Duration::from_secs(1), Duration::from_secs(5));
        assert_eq!(window_for(w, d, 64, None), (w, d));
        assert_eq!(window_for(w, d, 64, Some(10_000.0)), (w, d), "fast scenarios keep the default");
        assert_eq!(window_for(w, d, 64, Some(12.8)), (Duration::from_secs(5), Duration::from_secs(20)));
        assert_eq!(window_for(w, d, 64, Some(1.0)), (Duration::from_secs(30), Duration::from_secs(60)));
        let ok = LoopResult { ops: 1000, seconds: 5.0, ..Default::default() };
        assert_eq!(widen(&ok, w, d, 64), None);
        let slow = LoopResult { ops: 64, seconds: 5.0, ..Default::default() };
        assert_eq!(widen(&slow, w, d, 64), Some((Duration::from_secs(5), Duration::from_secs(20))));
        let failing = LoopResult { ops: 0, errors: 3, seconds: 5.0, ..Default::default() };
        assert_eq!(widen(&failing, w, d, 64), None);
    }
}
