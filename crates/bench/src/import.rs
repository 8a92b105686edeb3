//! `import`: bulk import throughput (issue 24, point 4). The same N email-password users (one
//! bcrypt hash each, so nothing is hashed) are written twice in one run, on the same database:
//!
//! - the **floor**: straight into the four tables an imported email-password user occupies
//!   (`app_id_to_user_id`, `all_auth_recipe_users`, `emailpassword_users`,
//!   `emailpassword_user_to_tenant`) with multi-row INSERTs in batch transactions, over as many
//!   connections as the worker's `bulk_migration_parallelism`, into a schema of its own;
//! - the **import**: `POST /bulk-import/users` (10,000 a call), then the worker drains the queue;
//!   timed from the first upload until `GET /bulk-import/users/count` reads 0.
//!
//! The figure is import users/s ÷ floor users/s; the target is at least 0.5 on PostgreSQL.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::scale::seed_range;
use crate::scenarios::{call, call_ok, client};
use crate::seed;
use crate::server::{Backend, Server, ServerSpec};
use crate::{workdir, ImportArgs};

/// Users per `POST /bulk-import/users` (the API's maximum).
pub const PER_POST: u64 = 10_000;

/// Seeded user i as a bulk import user: one email-password login method with an imported hash.
pub fn import_user(i: u64, hash: &str) -> Value {
    json!({"loginMethods": [{
        "recipeId": "emailpassword", "email": seed::email(i), "passwordHash": hash, "hashingAlgorithm": "BCRYPT",
        "tenantIds": ["public"], "isVerified": false, "isPrimary": false, "timeJoinedInMSSinceEpoch": seed::time_joined(i),
    }]})
}

/// The floor's own database: the same server and settings, another schema or file.
fn floor_spec(spec: &ServerSpec) -> ServerSpec {
    let mut s = spec.clone();
    s.backend = match &spec.backend {
        Backend::Sqlite { .. } => Backend::Sqlite { path: spec.workdir.join("floor.db").display().to_string() },
        Backend::Postgres { uri, schema } => Backend::Postgres { uri: uri.clone(), schema: format!("{schema}_floor") },
    };
    s
}

/// Seconds to write users [0, n) with multi-row INSERTs (the schema is made first, untimed).
async fn floor(spec: &ServerSpec, n: u64, connections: usize) -> Result<f64, String> {
    seed_range(spec, 0, 0, 1).await?;
    let t0 = Instant::now();
    seed_range(spec, 0, n, connections).await?;
    Ok(t0.elapsed().as_secs_f64())
}

async fn queue_count(c: &reqwest::Client, base: &str, status: Option<&str>) -> Result<u64, String> {
    let url = match status {
        Some(s) => format!("{base}/bulk-import/users/count?status={s}"),
        None => format!("{base}/bulk-import/users/count"),
    };
    let v = call_ok(c, Method::GET, url, None).await?;
    v["count"].as_u64().ok_or_else(|| format!("no count in {v}"))
}

/// How often the queue is counted while the worker drains it: each count scans the queue (43 ms at
/// 100,000 rows), and polling every 50 ms took ~60 % of a core from the import it timed. A drain is
/// seen to end at most this late (1.4 % of a 100,000-user import).
const POLL: Duration = Duration::from_millis(250);

/// What the import took.
struct Imported {
    upload_secs: f64,
    total_secs: f64,
}

/// `POST /bulk-import/users` of each body (`{"users": [...]}`, at most 10,000 users), then waits
/// until the worker has emptied the queue; fails on any FAILED user. Returns the upload's seconds.
pub async fn queue_and_drain(c: &reqwest::Client, base: &str, bodies: Vec<String>, timeout: Duration) -> Result<f64, String> {
    let t0 = Instant::now();
    for body in bodies {
        let (status, text) = call(c, Method::POST, format!("{base}/bulk-import/users"), Some(body)).await?;
        if status != 200 || !text.contains("\"status\":\"OK\"") {
            return Err(format!("POST /bulk-import/users: {status} {}", &text[..text.len().min(300)]));
        }
    }
    let upload_secs = t0.elapsed().as_secs_f64();
    let deadline = t0 + timeout;
    let mut last_left = None;
    loop {
        // A poll that fails (the server busy importing may answer a read late) is reported and
        // tried again until the deadline, rather than ending a long seeding run.
        let left = match queue_count(c, base, None).await {
            Ok(left) => left,
            Err(e) => {
                eprintln!("polling the bulk-import queue failed, trying again: {e}");
                if Instant::now() > deadline {
                    return Err(format!("the queue could not be read for {}s", timeout.as_secs()));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if left == 0 {
            break;
        }
        // FAILED rows stay queued: looked for only when the count stopped moving, so that the
        // tool's own reads (each a scan of the queue) take little from the import it measures.
        if last_left == Some(left) {
            let failed = queue_count(c, base, Some("FAILED")).await?;
            if failed > 0 {
                let first = call_ok(c, Method::GET, format!("{base}/bulk-import/users?status=FAILED&limit=1"), None).await?;
                return Err(format!("{failed} users FAILED to import, e.g. {}", first["users"][0]["errorMessage"]));
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{left} users still queued after {}s", timeout.as_secs()));
        }
        last_left = Some(left);
        tokio::time::sleep(POLL).await;
    }
    Ok(upload_secs)
}

/// Uploads users [0, n), then waits until the queue is empty; fails on any FAILED user.
async fn import(base: &str, n: u64, timeout: Duration) -> Result<Imported, String> {
    let c = client();
    let hash = seed::cheap_hash()?;
    // The bodies are built before the clock starts: the client's JSON is not the server's work.
    let bodies: Vec<String> = seed::batches(0, n, PER_POST)
        .into_iter()
        .map(|(a, b)| json!({"users": (a..b).map(|i| import_user(i, &hash)).collect::<Vec<_>>()}).to_string())
        .collect();
    let t0 = Instant::now();
    let upload_secs = queue_and_drain(&c, base, bodies, timeout).await?;
    let total_secs = t0.elapsed().as_secs_f64();
    let v = call_ok(&c, Method::GET, format!("{base}/users/count"), None).await?;
    if v["count"].as_u64() != Some(n) {
        return Err(format!("after the import the app counts {} users, not {n}", v["count"]));
    }
    Ok(Imported { upload_secs, total_secs })
}

pub async fn run(a: ImportArgs) -> Result<bool, String> {
    let dir = workdir()?;
    let spec = a.target.spec(&dir)?;
    let floor_spec = floor_spec(&spec);
    let n = a.users;
    let mut ok = true;
    let mut rows = Vec::new();
    for run in 1..=a.runs {
        // Each run on fresh tables: both writers start from empty ones.
        let (spec, floor_spec) = fresh(&spec, &floor_spec, run);
        let floor_secs = floor(&floor_spec, n, a.connections).await;
        let server = Server::start(&spec, Duration::from_secs(60)).await?;
        let imported = import(&server.url, n, Duration::from_secs(a.timeout_secs)).await;
        server.stop();
        drop_made(&spec).await?;
        drop_made(&floor_spec).await?;
        let floor_secs = floor_secs?;
        let imported = match imported {
            Ok(i) => i,
            Err(e) => {
                eprintln!("run {run}: import FAILED: {e}");
                ok = false;
                continue;
            }
        };
        let (floor_rate, import_rate) = (n as f64 / floor_secs.max(1e-9), n as f64 / imported.total_secs.max(1e-9));
        let r = import_rate / floor_rate;
        eprintln!(
            "run {run}: floor {floor_secs:.2}s ({floor_rate:.0} users/s); import {:.2}s ({import_rate:.0} users/s, upload {:.2}s); ratio {r:.2}",
            imported.total_secs, imported.upload_secs
        );
        rows.push((floor_rate, import_rate, imported.upload_secs, r));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if rows.is_empty() {
        return Ok(false);
    }
    let median = |f: fn(&(f64, f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = rows.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (floor_rate, import_rate, upload, r) = (median(|x| x.0), median(|x| x.1), median(|x| x.2), median(|x| x.3));
    println!();
    println!("bulk import of {n} email-password users on {} (medians of {} runs)", spec.backend.name(), rows.len());
    println!("| floor (multi-row INSERT, {} conns) users/s | import users/s (upload + drain) | upload s | import / floor | target |", a.connections);
    println!("|---|---|---|---|---|");
    println!("| {floor_rate:.0} | {import_rate:.0} | {upload:.2} | {r:.2} | >= 0.5 |");
    if let Some(path) = &a.json {
        let out = json!({"backend": spec.backend.name(), "users": n, "runs": rows.len(), "floor_users_per_s": floor_rate,
            "import_users_per_s": import_rate, "upload_s": upload, "ratio": r, "target": 0.5});
        std::fs::write(path, serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if a.enforce && r < 0.5 {
        ok = false;
    }
    Ok(ok)
}

/// The specs of run `run`: new schemas (PostgreSQL) or files (SQLite) for both writers.
fn fresh(spec: &ServerSpec, floor: &ServerSpec, run: usize) -> (ServerSpec, ServerSpec) {
    let rename = |s: &ServerSpec| {
        let mut s = s.clone();
        s.backend = match &s.backend {
            Backend::Sqlite { path } => Backend::Sqlite { path: format!("{path}.{run}") },
            Backend::Postgres { uri, schema } => Backend::Postgres { uri: uri.clone(), schema: format!("{schema}_{run}") },
        };
        s
    };
    (rename(spec), rename(floor))
}

/// Drops a run's schema (each run makes its own, see `fresh`).
async fn drop_made(spec: &ServerSpec) -> Result<(), String> {
    match &spec.backend {
        Backend::Postgres { uri, schema } => seed::drop_schema(uri, schema).await,
        Backend::Sqlite { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_user_is_the_seeded_user_with_its_hash() {
        let u = import_user(3, "$2a$04$x");
        let lm = &u["loginMethods"][0];
        assert_eq!(lm["email"], seed::email(3));
        assert_eq!(lm["timeJoinedInMSSinceEpoch"], seed::time_joined(3));
        assert_eq!(lm["hashingAlgorithm"], "BCRYPT");
        assert_eq!(lm["isPrimary"], false);
    }
}
