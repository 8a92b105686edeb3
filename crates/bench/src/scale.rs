//! `seed` and `scale`: users written straight into the tables, then the calls whose cost may grow
//! with the number of users, timed one at a time at each size.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::scenarios::{call, client, enc};
use crate::seed::{self, PgTables};
use crate::server::{Backend, Server, ServerSpec};
use crate::stats::{Sampler, Summary};
use portcullis_core::ids::TenantKey;
use crate::{workdir, ScaleArgs, SeedArgs};

pub(crate) async fn pg_tables(spec: &ServerSpec) -> Result<PgTables, String> {
    let cfg = spec.config()?;
    let pg = portcullis_store_postgres::PgStorage::connect(&cfg).await.map_err(|e| e.to_string())?;
    let t = |b: &str| pg.table_name(b).map(str::to_owned).ok_or_else(|| format!("no table {b}"));
    Ok(PgTables {
        app_users: t("app_id_to_user_id")?,
        all_auth: t("all_auth_recipe_users")?,
        ep_users: t("emailpassword_users")?,
        ep_tenant: t("emailpassword_user_to_tenant")?,
    })
}

/// Seeds users [start, end); the schema and the public tenant's rows are created if missing.
pub(crate) async fn seed_range(spec: &ServerSpec, start: u64, end: u64, connections: usize) -> Result<f64, String> {
    let cfg = spec.config()?;
    // Possibly beside the running server: on SQLite, without the file's one-process lock.
    let st = portcullis::storage_open::open_storage_beside_server(&cfg).await.map_err(|e| e.to_string())?;
    st.add_tenant_rows(TenantKey::new("public", "public"), portcullis_core::now_ms()).await.map_err(|e| e.to_string())?;
    drop(st);
    match &spec.backend {
        Backend::Sqlite { path } => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || seed::seed_sqlite(&path, start, end)).await.map_err(|e| e.to_string())?
        }
        Backend::Postgres { uri, .. } => seed::seed_postgres(uri, &pg_tables(spec).await?, start, end, connections).await,
    }
}

pub async fn seed_cmd(a: SeedArgs) -> Result<(), String> {
    let dir = workdir()?;
    let spec = a.target.spec(&dir)?;
    let secs = seed_range(&spec, a.start, a.start + a.users, a.connections).await?;
    eprintln!(
        "seeded users {}..{} into {} ({:?}) in {secs:.1}s ({:.0} users/s)",
        a.start,
        a.start + a.users,
        spec.backend.name(),
        match &spec.backend {
            Backend::Sqlite { path } => path.clone(),
            Backend::Postgres { schema, .. } => format!("schema {schema}"),
        },
        a.users as f64 / secs.max(1e-9)
    );
    // Keep the directory only when the seeded SQLite file is in it.
    if matches!(&spec.backend, Backend::Sqlite { path } if std::path::Path::new(path).starts_with(&dir)) {
        eprintln!("(the SQLite file stays in {}: pass --sqlite-path to choose where)", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// A pseudo-random index in [0, n) (from the OS's random source, via a UUID).
pub(crate) fn random_below(n: u64) -> u64 {
    let b = uuid::Uuid::new_v4().as_u128();
    (b % u128::from(n.max(1))) as u64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    FirstPage,
    DeepPage,
    Count,
    SearchEmail,
    GetUser,
    SignIn,
}

impl Call {
    const ALL: [Call; 6] = [Call::FirstPage, Call::DeepPage, Call::Count, Call::SearchEmail, Call::GetUser, Call::SignIn];
    fn name(self) -> &'static str {
        match self {
            Call::FirstPage => "list users, first page (100)",
            Call::DeepPage => "list users, page at N/2 (100)",
            Call::Count => "count users",
            Call::SearchEmail => "search by email prefix",
            Call::GetUser => "get user by id",
            Call::SignIn => "sign-in",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Call::FirstPage => "first_page",
            Call::DeepPage => "deep_page",
            Call::Count => "count",
            Call::SearchEmail => "search_email_prefix",
            Call::GetUser => "get_user",
            Call::SignIn => "signin",
        }
    }
    /// The allowed time(1M) / time(100k).
    fn limit(self) -> Option<f64> {
        match self {
            Call::DeepPage => Some(15.0),
            Call::SearchEmail => None,
            _ => Some(3.0),
        }
    }
}

/// Result of timing one call at one size.
#[derive(Clone, Debug)]
enum Timed {
    Ok(Summary),
    Unsupported(String),
    Failed(String),
}

async fn time_call(c: &reqwest::Client, base: &str, call_kind: Call, n: u64, iterations: usize) -> Timed {
    let mut sampler = Sampler::new(iterations);
    while sampler.wants_more() {
        let i = random_below(n);
        let (method, url, body) = match call_kind {
            Call::FirstPage => (reqwest::Method::GET, format!("{base}/users?limit=100"), None),
            Call::DeepPage => {
                let token = seed::token_at_position(n, n / 2).unwrap_or_default();
                (reqwest::Method::GET, format!("{base}/users?limit=100&paginationToken={}", enc(&token)), None)
            }
            Call::Count => (reqwest::Method::GET, format!("{base}/users/count"), None),
            Call::SearchEmail => {
                // "seed-0001234" matches ten users: 12340..12349.
                let prefix = &seed::email(i / 10 * 10)[..12];
                (reqwest::Method::GET, format!("{base}/users?limit=100&email={}", enc(prefix)), None)
            }
            Call::GetUser => (reqwest::Method::GET, format!("{base}/user/id?userId={}", seed::user_id(i)), None),
            Call::SignIn => (
                reqwest::Method::POST,
                format!("{base}/recipe/signin"),
                Some(json!({"email": seed::email(i), "password": seed::SEED_PASSWORD}).to_string()),
            ),
        };
        let t0 = Instant::now();
        let r = call(c, method, url, body).await;
        let us = t0.elapsed().as_micros() as u64;
        match r {
            Ok((200, text)) if text.contains("\"status\":\"OK\"") => {
                if call_kind == Call::SearchEmail && !text.contains("@bench.example") {
                    return Timed::Failed(format!("the search found nothing: {}", &text[..text.len().min(200)]));
                }
                sampler.record(us);
            }
            Ok((400, text)) if call_kind == Call::SearchEmail => return Timed::Unsupported(text.trim().to_owned()),
            Ok((s, text)) => return Timed::Failed(format!("{s}: {}", &text[..text.len().min(300)])),
            Err(e) => return Timed::Failed(e),
        }
    }
    Timed::Ok(sampler.summary())
}

pub async fn run(a: ScaleArgs) -> Result<bool, String> {
    let dir = workdir()?;
    let spec = a.target.spec(&dir)?;
    let mut sizes = a.sizes.clone();
    sizes.sort_unstable();
    let server = Server::start(&spec, Duration::from_secs(60)).await?;
    let base = server.url.clone();
    let c = client();
    let mut seeded = 0u64;
    let mut table: Vec<(u64, Vec<(Call, Timed)>)> = Vec::new();
    let mut ok = true;
    for &n in &sizes {
        let secs = seed_range(&spec, seeded, n, 2).await?;
        eprintln!("seeded users {seeded}..{n} in {secs:.1}s ({:.0} users/s)", (n - seeded) as f64 / secs.max(1e-9));
        seeded = n;
        let mut row = Vec::new();
        for call_kind in Call::ALL {
            let t = time_call(&c, &base, call_kind, n, a.iterations).await;
            match &t {
                Timed::Ok(s) => eprintln!("{n} users: {:<32} p50 {:>9.2} ms  p90 {:>9.2} ms", call_kind.name(), s.p50_us as f64 / 1000.0, s.p90_us as f64 / 1000.0),
                Timed::Unsupported(m) => eprintln!("{n} users: {:<32} unsupported ({m})", call_kind.name()),
                Timed::Failed(m) => {
                    ok = false;
                    eprintln!("{n} users: {:<32} FAILED: {m}", call_kind.name())
                }
            }
            row.push((call_kind, t));
        }
        table.push((n, row));
    }
    server.stop();

    println!();
    println!("scale on {} ({} timed requests per call, one at a time; medians in ms)", spec.backend.name(), a.iterations);
    let header: Vec<String> = sizes.iter().map(|n| format!("{n} users")).collect();
    println!("| {:<32} | {} | ratio last/first | limit | met |", "call", header.iter().map(|h| format!("{h:>14}")).collect::<Vec<_>>().join(" | "));
    println!("|{}|{}|---|---|---|", "-".repeat(34), vec!["-".repeat(16); sizes.len()].join("|"));
    let mut json_rows = Vec::new();
    for (idx, call_kind) in Call::ALL.iter().enumerate() {
        let cells: Vec<Option<f64>> = table
            .iter()
            .map(|(_, row)| match &row[idx].1 {
                Timed::Ok(s) => Some(s.p50_us as f64 / 1000.0),
                _ => None,
            })
            .collect();
        let unsupported = table.iter().any(|(_, row)| matches!(row[idx].1, Timed::Unsupported(_)));
        let ratio = match (cells.first().copied().flatten(), cells.last().copied().flatten()) {
            (Some(a0), Some(z)) if cells.len() > 1 => Some(z / a0),
            _ => None,
        };
        let met = match (ratio, call_kind.limit()) {
            (Some(r), Some(l)) => if r <= l { "yes" } else { "NO" },
            _ => "-",
        };
        println!(
            "| {:<32} | {} | {:>16} | {:>5} | {:>3} |",
            call_kind.name(),
            cells
                .iter()
                .map(|c| match c {
                    Some(v) => format!("{v:>14.2}"),
                    None if unsupported => format!("{:>14}", "unsupported"),
                    None => format!("{:>14}", "failed"),
                })
                .collect::<Vec<_>>()
                .join(" | "),
            ratio.map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".into()),
            call_kind.limit().map(|l| format!("{l}x")).unwrap_or_else(|| "-".into()),
            met
        );
        json_rows.push(json!({
            "call": call_kind.key(),
            "by_size": table.iter().map(|(n, row)| {
                let v: Value = match &row[idx].1 {
                    Timed::Ok(s) => json!({"users": n, "p50_ms": s.p50_us as f64 / 1000.0, "p90_ms": s.p90_us as f64 / 1000.0, "max_ms": s.max_us as f64 / 1000.0}),
                    Timed::Unsupported(m) => json!({"users": n, "unsupported": m}),
                    Timed::Failed(m) => json!({"users": n, "failed": m}),
                };
                v
            }).collect::<Vec<_>>(),
            "ratio_last_over_first": ratio, "limit": call_kind.limit(),
        }));
    }
    if let Some(path) = &a.json {
        let out = json!({"backend": spec.backend.name(), "iterations": a.iterations, "sizes": sizes, "calls": json_rows});
        std::fs::write(path, serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ok)
}
