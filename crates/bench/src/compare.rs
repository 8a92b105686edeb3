//! `portcullis-bench run --compare BASE`: another commit of Portcullis against this one, in one run.
//!
//! The base commit is built (release) in a throwaway `git worktree` with its own target directory
//! under `target/compare/` (seeded once from `target/release`, so only what differs is compiled;
//! the binary is kept per commit, the worktree removed). Both binaries then serve the same database
//! and fixture, one at a time: for every scenario and round, each binary is started, left to settle
//! (no background work), measured over the same window and stopped, the order alternating between
//! rounds (A B, B A, A B, …) so that a machine that slowly gets busier or quieter favours neither.
//! The report gives per-scenario medians over the rounds and the ratios this/base, of the medians
//! and of each round's pair, with the server's CPU per request (steadier than rates on a shared
//! machine).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::procfs;
use crate::report::{run_http, Measured, Probe};
use crate::scenarios::{build_fixture, Scenario};
use crate::server::{Backend, Server, ServerSpec};
use crate::stats::median;
use crate::{secs, workdir, RunArgs};

/// The repository this tool is run in (the current directory's).
fn repo_root() -> Result<PathBuf, String> {
    let out = git(Path::new("."), &["rev-parse", "--show-toplevel"])?;
    Ok(PathBuf::from(out.trim()))
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The release binary of `rev`, built once and kept as `target/compare/portcullis-<commit>`.
pub fn base_binary(rev: &str) -> Result<(PathBuf, String), String> {
    let root = repo_root()?;
    let commit = git(&root, &["rev-parse", "--verify", &format!("{rev}^{{commit}}")])?.trim().to_owned();
    let short = commit[..12.min(commit.len())].to_owned();
    let dir = root.join("target").join("compare");
    let bin = dir.join(format!("portcullis-{short}"));
    if bin.exists() {
        eprintln!("compare: base {rev} = {short}, built before: {}", bin.display());
        return Ok((bin, short));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let target_dir = dir.join("target");
    seed_target_dir(&root, &target_dir)?;
    let tree = dir.join(format!("src-{short}"));
    if tree.exists() {
        // Left by an interrupted run.
        let _ = git(&root, &["worktree", "remove", "--force", &tree.display().to_string()]);
        let _ = std::fs::remove_dir_all(&tree);
    }
    git(&root, &["worktree", "add", "--detach", &tree.display().to_string(), &commit])?;
    let built = build_release(&tree, &target_dir).and_then(|()| {
        let from = target_dir.join("release").join("portcullis");
        std::fs::copy(&from, &bin).map_err(|e| format!("{}: {e}", from.display())).map(|_| ())
    });
    // The worktree is only needed for the build; the binary is kept.
    let removed = git(&root, &["worktree", "remove", "--force", &tree.display().to_string()]);
    built?;
    removed?;
    eprintln!("compare: base {rev} = {short} built: {}", bin.display());
    Ok((bin, short))
}

/// A new target directory starts as a copy of this tree's release build: dependencies that did not
/// change between the commits are then fresh, and only the workspace's own crates are compiled.
fn seed_target_dir(root: &Path, target_dir: &Path) -> Result<(), String> {
    let release = root.join("target").join("release");
    if target_dir.exists() || !release.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(target_dir).map_err(|e| format!("{}: {e}", target_dir.display()))?;
    eprintln!("compare: seeding {} from {}", target_dir.display(), release.display());
    let status = Command::new("cp")
        .arg("-a")
        .arg(&release)
        .arg(target_dir)
        .status()
        .map_err(|e| format!("cp: {e}"))?;
    if !status.success() {
        return Err(format!("cp -a {} {} failed", release.display(), target_dir.display()));
    }
    Ok(())
}

fn build_release(tree: &Path, target_dir: &Path) -> Result<(), String> {
    let t0 = Instant::now();
    eprintln!("compare: cargo build --release -p portcullis in {} (target {})", tree.display(), target_dir.display());
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "portcullis"])
        .current_dir(tree)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the base in {} failed", tree.display()));
    }
    eprintln!("compare: base built in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// Waits until the server has used less than 2 % of a core over 200 ms (after a start: loading
/// keys, warming its pool), at most `limit`.
async fn settle(pid: u32, limit: Duration) {
    let t0 = Instant::now();
    let Some(mut last) = procfs::cpu_seconds(pid) else { return };
    while t0.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(now) = procfs::cpu_seconds(pid) else { return };
        if now - last < 0.004 {
            return;
        }
        last = now;
    }
}

/// Which binary runs first in round `round`: they take turns.
pub fn order(round: usize) -> [usize; 2] {
    if round.is_multiple_of(2) {
        [0, 1]
    } else {
        [1, 0]
    }
}

/// One scenario's figures over the rounds, per binary (0 = base, 1 = this).
struct Series {
    kind: Scenario,
    rounds: [Vec<Measured>; 2],
}

fn cpu_ms(m: &Measured) -> f64 {
    m.server_cpu_s().map(|s| s * 1000.0 / m.http.ops.max(1) as f64).unwrap_or(f64::NAN)
}

pub async fn run(a: RunArgs, rev: &str) -> Result<bool, String> {
    let scenarios: Vec<Scenario> = match &a.scenarios {
        None => Scenario::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|s| Scenario::parse(s.trim()).ok_or_else(|| format!("unknown scenario {s}")))
            .collect::<Result<_, _>>()?,
    };
    if a.url.is_some() {
        return Err("--compare starts both servers itself: no --url".into());
    }
    let (base_bin, base_commit) = match &a.base_bin {
        Some(b) => (b.clone(), format!("{rev} ({})", b.display())),
        None => base_binary(rev)?,
    };
    let dir = workdir()?;
    let this_spec = a.target.spec(&dir)?;
    let base_bin = std::fs::canonicalize(&base_bin).map_err(|e| format!("{}: {e}", base_bin.display()))?;
    let base_spec = ServerSpec { bin: base_bin, ..this_spec.clone() };
    let specs = [&base_spec, &this_spec];
    let cfg = this_spec.config()?;
    let (warmup, duration) = (secs(a.warmup), secs(a.duration));
    eprintln!(
        "portcullis-bench compare on {}: base {} ({}) against this {}; {} connections, {}s (+{}s warm-up) x {} rounds",
        this_spec.backend.name(),
        base_commit,
        base_spec.bin.display(),
        this_spec.bin.display(),
        a.concurrency,
        a.duration,
        a.warmup,
        a.runs
    );

    // The fixture, made once through this build's server; both binaries then use it.
    let timeout = Duration::from_secs(60);
    let fx = {
        let s = Server::start(&this_spec, timeout).await?;
        let fx = build_fixture(&s.url, &cfg, &this_spec.backend, a.concurrency, a.users, a.deep_page).await;
        s.stop();
        Arc::new(fx?)
    };
    let postgres = matches!(this_spec.backend, Backend::Postgres { .. });

    let mut series: Vec<Series> = scenarios.iter().map(|&kind| Series { kind, rounds: [Vec::new(), Vec::new()] }).collect();
    let mut errors = 0;
    for round in 0..a.runs {
        for s in series.iter_mut() {
            for which in order(round) {
                let server = Server::start(specs[which], timeout).await?;
                settle(server.pid, Duration::from_secs(10)).await;
                let probe = Probe { pid: Some(server.pid), postgres };
                let m = run_http(&server.url, s.kind, &fx, a.concurrency, warmup, duration, probe).await;
                server.stop();
                eprintln!(
                    "round {}: {:<18} {:<4} {:>9.1} req/s  p50 {:>7.2} ms  p99 {:>8.2} ms  CPU {:.3} ms/req  errors {}{}",
                    round + 1,
                    s.kind.name(),
                    ["base", "this"][which],
                    m.http.rate(),
                    m.http.latency.p50_us as f64 / 1000.0,
                    m.http.latency.p99_us as f64 / 1000.0,
                    cpu_ms(&m),
                    m.http.errors,
                    m.http.first_error.as_ref().map(|e| format!("\n    first error: {e}")).unwrap_or_default(),
                );
                errors += m.http.errors;
                s.rounds[which].push(m);
            }
        }
    }

    println!();
    println!(
        "{} | base {} against this {} | {} connections | {} s x {} rounds, alternating (medians)",
        this_spec.backend.name(),
        base_commit,
        this_spec.bin.display(),
        a.concurrency,
        a.duration,
        a.runs
    );
    println!(
        "| {:<18} | {:>10} | {:>10} | {:>9} | {:>17} | {:>11} | {:>11} | {:>9} | {:>9} | {:>9} | {:>6} |",
        "scenario", "base req/s", "this req/s", "this/base", "rounds this/base", "base CPU ms", "this CPU ms", "CPU t/b", "base p99", "this p99", "errors"
    );
    println!("|{}|", [20, 12, 12, 11, 19, 13, 13, 11, 11, 11, 8].iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("|"));
    let mut rows = Vec::new();
    for s in &series {
        let rate = |w: usize| median(&s.rounds[w].iter().map(|m| m.http.rate()).collect::<Vec<_>>());
        let cpu = |w: usize| median(&s.rounds[w].iter().map(cpu_ms).collect::<Vec<_>>());
        let p99 = |w: usize| median(&s.rounds[w].iter().map(|m| m.http.latency.p99_us as f64 / 1000.0).collect::<Vec<_>>());
        let paired: Vec<f64> = s.rounds[1].iter().zip(&s.rounds[0]).map(|(t, b)| t.http.rate() / b.http.rate()).collect();
        let mut sorted = paired.clone();
        sorted.sort_by(f64::total_cmp);
        let spread = match (sorted.first(), sorted.last()) {
            (Some(lo), Some(hi)) => format!("{lo:.2}..{hi:.2}"),
            _ => "-".to_owned(),
        };
        let errs: u64 = s.rounds.iter().flatten().map(|m| m.http.errors).sum();
        let (rb, rt, cb, ct) = (rate(0), rate(1), cpu(0), cpu(1));
        println!(
            "| {:<18} | {:>10.1} | {:>10.1} | {:>9.3} | {:>17} | {:>11.3} | {:>11.3} | {:>9.3} | {:>9.2} | {:>9.2} | {:>6} |",
            s.kind.name(),
            rb,
            rt,
            rt / rb,
            spread,
            cb,
            ct,
            ct / cb,
            p99(0),
            p99(1),
            errs
        );
        rows.push(json!({
            "scenario": s.kind.name(),
            "base_requests_per_s": rb, "this_requests_per_s": rt, "ratio": rt / rb,
            "paired_ratios": paired, "median_paired_ratio": median(&paired),
            "base_server_cpu_ms_per_request": cb, "this_server_cpu_ms_per_request": ct,
            "base_p99_ms": p99(0), "this_p99_ms": p99(1), "errors": errs,
            "base_runs": s.rounds[0].iter().map(|m| m.http.rate()).collect::<Vec<_>>(),
            "this_runs": s.rounds[1].iter().map(|m| m.http.rate()).collect::<Vec<_>>(),
        }));
    }
    if let Some(path) = &a.json {
        let out = json!({
            "backend": this_spec.backend.name(), "base": base_commit, "base_binary": base_spec.bin.display().to_string(),
            "this_binary": this_spec.bin.display().to_string(), "connections": a.concurrency,
            "duration_s": a.duration, "warmup_s": a.warmup, "rounds": a.runs, "scenarios": rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Backend::Postgres { uri, schema } = &this_spec.backend {
        if a.target.schema.is_none() {
            let _ = crate::seed::drop_schema(uri, schema).await;
        }
    }
    if errors > 0 {
        eprintln!("{errors} errors");
    }
    Ok(errors == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_take_turns() {
        assert_eq!(order(0), [0, 1]);
        assert_eq!(order(1), [1, 0]);
        assert_eq!(order(2), [0, 1]);
    }
}
