//! `portcullis-bench`: a closed-loop load generator for Portcullis, with the floors each scenario
//! is judged against (HTTP, crypto, database), start-up time and memory, and a scale run at
//! 100,000 and 1,000,000 users. See docs/benchmarks.md.

mod compare;
mod floors;
mod import;
mod load;
mod procfs;
mod report;
mod scale;
mod scenarios;
mod seed;
mod server;
mod stats;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::server::{Backend, ServerSpec};

#[derive(Parser)]
#[command(name = "portcullis-bench", about = "Load generator and floors for Portcullis")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the scenarios (and floors, start-up, memory) against a server this tool starts, or a URL.
    Run(RunArgs),
    /// Write users straight into the database's tables (the schema must exist or is created).
    Seed(SeedArgs),
    /// Time the user-list, count, search, get-user and sign-in calls at several user counts.
    Scale(ScaleArgs),
    /// The one-million-user workload (issue 24): bulk-seeded users plus sign-up groups with linking,
    /// mappings, roles and sessions; every read path timed at each size and classified O(1)/O(n).
    Workload(WorkloadArgs),
    /// Bulk import throughput (issue 24): N users through POST /bulk-import/users and the worker,
    /// against the same rows written with multi-row INSERTs in the same run.
    Import(ImportArgs),
}

#[derive(Args, Clone, Debug)]
pub struct Target {
    /// sqlite or postgres.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// PostgreSQL URI (default: $PORTCULLIS_TEST_PG_URI, then $POSTGRESQL_CONNECTION_URI).
    #[arg(long)]
    pg_uri: Option<String>,
    /// PostgreSQL schema (POSTGRESQL_TABLE_SCHEMA); default: a new one, bench_<random>.
    #[arg(long)]
    schema: Option<String>,
    /// SQLite file (PORTCULLIS_SQLITE_PATH); default: a new file in a temporary directory.
    #[arg(long)]
    sqlite_path: Option<String>,
    /// The portcullis binary (default: $PORTCULLIS_BIN, the one next to this tool, target/release, target/debug).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Extra server environment, KEY=VALUE (repeatable), e.g. --env BCRYPT_LOG_ROUNDS=10.
    #[arg(long = "env")]
    env: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    target: Target,
    /// Target a running server instead of starting one (no start-up, memory or CPU figures unless --pid).
    #[arg(long)]
    url: Option<String>,
    /// The pid of the server at --url, for memory and CPU figures.
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds measured per scenario.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Connections (closed loop, one request in flight each).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Repetitions; the report shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Comma-separated scenario names (default: all).
    #[arg(long)]
    scenarios: Option<String>,
    /// Users in the user list (topped up through the API).
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// How many pages of 100 the deep page is from the first.
    #[arg(long, default_value_t = 90)]
    deep_page: usize,
    /// Skip the floors.
    #[arg(long)]
    no_floors: bool,
    /// Seconds measured per database floor (default: --duration).
    #[arg(long)]
    db_floor_seconds: Option<f64>,
    /// Seconds per crypto floor.
    #[arg(long, default_value_t = 2.0)]
    crypto_seconds: f64,
    /// Skip the start-up measurements.
    #[arg(long)]
    no_startup: bool,
    /// Connections for the memory-under-load runs (hello and verify); 0 skips them.
    #[arg(long, default_value_t = 256)]
    rss_connections: usize,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// CI smoke: every scenario ~1 s at 4 connections, short floors, no start-up or memory runs.
    #[arg(long)]
    smoke: bool,
    /// Compare against another commit (a git revision of this repository, built in release under
    /// target/compare/): both binaries serve the same fixture in turns, A B, B A, … (--runs rounds);
    /// per-scenario medians and the ratio this/base. No floors, start-up or memory runs.
    #[arg(long, value_name = "BASE")]
    compare: Option<String>,
    /// With --compare: the base binary, already built (BASE then only labels it).
    #[arg(long, requires = "compare")]
    base_bin: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SeedArgs {
    #[command(flatten)]
    target: Target,
    /// Seed users [start, start + users).
    #[arg(long, default_value_t = 1_000_000)]
    users: u64,
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Parallel PostgreSQL connections.
    #[arg(long, default_value_t = 2)]
    connections: usize,
}

#[derive(Args, Debug)]
pub struct ScaleArgs {
    #[command(flatten)]
    target: Target,
    /// User counts, ascending; seeded users are added between the measurements.
    #[arg(long, default_value = "100000,1000000", value_delimiter = ',')]
    sizes: Vec<u64>,
    /// Timed requests per call and size (after 3 warm-up requests); the report shows the median.
    #[arg(long, default_value_t = 25)]
    iterations: usize,
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct WorkloadArgs {
    #[command(flatten)]
    target: Target,
    /// User counts, ascending; seeded users (each holding role1) are added between the measurements.
    #[arg(long, default_value = "100000,1000000", value_delimiter = ',')]
    sizes: Vec<u64>,
    /// How the N users get in: `api` queues them with `POST /bulk-import/users` (10,000 a call) and
    /// waits for the worker to import them, as the Java suite does; `sql` writes them straight into
    /// the tables with multi-row INSERTs (faster, for comparison).
    #[arg(long, value_enum, default_value_t = workload::Seeding::Api)]
    seed: workload::Seeding,
    /// Groups made through the sign-up paths before the first measurement (4 users each).
    #[arg(long, default_value_t = 500)]
    groups: usize,
    /// Connections making the groups.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Timed requests per step and size (after 3 warm-ups); the report shows the median.
    #[arg(long, default_value_t = 25)]
    iterations: usize,
    /// Both medians of a ratio are raised to this first (ms).
    #[arg(long, default_value_t = 1.0)]
    ratio_floor_ms: f64,
    /// Comma-separated step names (default: all).
    #[arg(long)]
    steps: Option<String>,
    /// Fail (exit 1) when a ratio exceeds its bound, not only when a request fails.
    #[arg(long)]
    enforce: bool,
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    target: Target,
    /// Users imported (and written by the floor).
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// Connections of the floor's writers (the worker's bulk_migration_parallelism, default 2).
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Repetitions, each on fresh tables; the report shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Give up on a run whose queue is not empty after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
    /// Fail (exit 1) when the import is slower than 0.5 x the floor.
    #[arg(long)]
    enforce: bool,
    #[arg(long)]
    json: Option<PathBuf>,
}

/// A new temporary directory for server logs and SQLite files.
pub fn workdir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

impl Target {
    pub fn spec(&self, workdir: &std::path::Path) -> Result<ServerSpec, String> {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let backend = match self.backend.as_str() {
            "sqlite" => Backend::Sqlite {
                path: self.sqlite_path.clone().unwrap_or_else(|| workdir.join("bench.db").display().to_string()),
            },
            "postgres" | "postgresql" | "pg" => {
                let uri = self
                    .pg_uri
                    .clone()
                    .or_else(|| std::env::var("PORTCULLIS_TEST_PG_URI").ok())
                    .or_else(|| std::env::var("POSTGRESQL_CONNECTION_URI").ok())
                    .ok_or("postgres: give --pg-uri or set PORTCULLIS_TEST_PG_URI")?;
                Backend::Postgres { uri, schema: self.schema.clone().unwrap_or_else(|| format!("bench_{tag}")) }
            }
            other => return Err(format!("unknown backend {other} (sqlite or postgres)")),
        };
        let mut extra_env = Vec::new();
        for kv in &self.env {
            let (k, v) = kv.split_once('=').ok_or_else(|| format!("--env {kv}: expected KEY=VALUE"))?;
            extra_env.push((k.to_owned(), v.to_owned()));
        }
        let bin = self.bin.clone().unwrap_or_else(server::default_bin);
        // The server runs in the work directory: make the path absolute.
        let bin = std::fs::canonicalize(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
        Ok(ServerSpec { bin, backend, extra_env, workdir: workdir.to_path_buf() })
    }
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portcullis-bench: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Cmd::Run(a) => match a.compare.clone() {
                Some(base) => compare::run(a, &base).await,
                None => report::run(a).await,
            },
            Cmd::Seed(a) => scale::seed_cmd(a).await.map(|_| true),
            Cmd::Scale(a) => scale::run(a).await,
            Cmd::Workload(a) => workload::run(a).await,
            Cmd::Import(a) => import::run(a).await,
        }
    });
    match result {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("portcullis-bench: FAILED (errors above)");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("portcullis-bench: {e}");
            std::process::exit(2);
        }
    }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}
