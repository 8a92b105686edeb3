//! The `portcullis` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis::startup;
use portcullis_core::config::{env_overrides, Config, Key, Sources};
use serde_json::Value;

#[derive(Parser)]
#[command(name = "portcullis", version, about = "A SuperTokens-compatible authentication core")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server in the foreground.
    Start {
        /// config.yaml to read (default: the first of ./config.yaml, /etc/portcullis/config.yaml,
        /// /usr/lib/supertokens/config.yaml that exists).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides `host`).
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on (overrides `port`).
        #[arg(long)]
        port: Option<u16>,
        /// Enable the SuperTokens core's test-mode relaxations (never in production).
        #[arg(long)]
        test_mode: bool,
    },
    /// Ask a running server's /health: exits 0 when it answers 200, else 1 (for container health checks).
    Health {
        /// The URL to ask (default: /health on the host, port and base_path of the configuration,
        /// read as `start` reads it).
        #[arg(long)]
        url: Option<String>,
        /// config.yaml to take the port and base_path from (default: as for `start`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// How long to wait for the connection and for the answer, in milliseconds.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Measure this machine and print the password-hashing parameters that make one hash take
    /// about the target time (put them in config.yaml).
    HashCalibrate {
        /// bcrypt or argon2.
        #[arg(long, default_value = "argon2")]
        alg: String,
        /// Wanted time per hash, in milliseconds.
        #[arg(long, default_value_t = 300)]
        target_ms: u64,
        /// argon2: the most memory one hash may use, in MiB (times argon2_hashing_pool_size at once).
        #[arg(long, default_value_t = 64)]
        max_memory_mb: u32,
        /// argon2: lanes per hash.
        #[arg(long, default_value_t = 2)]
        parallelism: u32,
    },
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("portcullis: {msg}");
    ExitCode::FAILURE
}

/// The base configuration as `start` reads it, with where it came from.
struct Loaded {
    cfg: Config,
    /// Unknown keys in the file.
    warnings: Vec<String>,
    path: Option<PathBuf>,
    /// The environment variables that set a key.
    env_applied: Vec<&'static str>,
}

fn load_config(given: Option<PathBuf>, overrides: Vec<(Key, Value)>) -> Result<Loaded, String> {
    // Absolute, so that every message names the file unambiguously.
    let path = startup::find_config(given).map(|p| std::path::absolute(&p).unwrap_or(p));
    let yaml = match &path {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("cannot read config file {}: {e}", p.display()))?),
        None => None,
    };
    if let Some(typos) = startup::misspelled_env_vars(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok())) {
        return Err(typos);
    }
    let env = |k: &str| std::env::var(k).ok();
    let mut env_applied: Vec<&'static str> = env_overrides(&env).iter().filter_map(|(def, _)| def.env).collect();
    env_applied.sort_unstable();
    match Config::load(Sources { yaml: yaml.as_deref(), env: &env, overrides }) {
        Ok((cfg, warnings)) => Ok(Loaded { cfg, warnings, path, env_applied }),
        Err(e) => match (&path, e.is_in_file()) {
            (Some(p), true) => Err(format!("invalid configuration in {}: {e}", p.display())),
            _ => Err(format!("invalid configuration: {e}")),
        },
    }
}

fn main() -> ExitCode {
    let (config, host, port, test_mode) = match Cli::parse().command {
        Command::Start { config, host, port, test_mode } => (config, host, port, test_mode),
        Command::Health { url, config, timeout_ms } => return health(url, config, timeout_ms),
        Command::HashCalibrate { alg, target_ms, max_memory_mb, parallelism } => {
            return hash_calibrate(&alg, target_ms, max_memory_mb, parallelism)
        }
    };

    let mut overrides: Vec<(Key, Value)> = Vec::new();
    if let Some(h) = host {
        overrides.push((Key::host, Value::String(h)));
    }
    if let Some(p) = port {
        overrides.push((Key::port, Value::from(p)));
    }
    if test_mode {
        overrides.push((Key::test_mode, Value::Bool(true)));
    }
    let loaded = match load_config(config, overrides) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if let Err(e) = init_logging(&loaded.cfg) {
        return fail(format!("cannot set up logging: {e}"));
    }
    startup::log_sources(loaded.path.as_deref(), &loaded.env_applied);
    for w in loaded.warnings {
        tracing::warn!("{w}");
    }
    if loaded.cfg.api_key_list().is_empty() {
        tracing::warn!("no api_keys are set: every API is open to anyone who can reach this port");
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(run(loaded.cfg, loaded.path))
}

fn health(url: Option<String>, config: Option<PathBuf>, timeout_ms: u64) -> ExitCode {
    let url = match url {
        Some(u) => u,
        None => match load_config(config, Vec::new()) {
            Ok(l) => startup::health_url(&l.cfg),
            Err(e) => return fail(e),
        },
    };
    match portcullis::probe::check(&url, std::time::Duration::from_millis(timeout_ms.max(1))) {
        Ok(body) => {
            println!("healthy: {url} {body}");
            ExitCode::SUCCESS
        }
        Err(why) => fail(format!("unhealthy: {why}")),
    }
}

fn hash_calibrate(alg: &str, target_ms: u64, max_memory_mb: u32, parallelism: u32) -> ExitCode {
    use portcullis_core::crypto::calibrate;
    use portcullis_core::crypto::password::{hash, HashAlgorithm, HashSettings};
    let target = std::time::Duration::from_millis(target_ms);
    let mut settings = HashSettings {
        algorithm: HashAlgorithm::Bcrypt,
        bcrypt_log_rounds: 10,
        argon2_iterations: 1,
        argon2_memory_kb: 1024,
        argon2_parallelism: parallelism.max(1),
    };
    // A failing hash would time as instant and mislead the search: stop at the first failure.
    let mut failure = None;
    // Each measurement is shown as it is made (on stderr: stdout is the config to paste).
    let mut time_hash = |s: &HashSettings| {
        let time = calibrate::median_time(3, || {
            if let Err(e) = hash("calibration-password", s) {
                failure.get_or_insert(e.to_string());
            }
        });
        match s.algorithm {
            HashAlgorithm::Bcrypt => eprintln!("  bcrypt_log_rounds {:>2}: {:>6} ms", s.bcrypt_log_rounds, time.as_millis()),
            _ => eprintln!(
                "  argon2 {} KiB, {:>3} iteration(s): {:>6} ms",
                s.argon2_memory_kb,
                s.argon2_iterations,
                time.as_millis()
            ),
        }
        time
    };
    let bcrypt = match alg.to_ascii_lowercase().as_str() {
        "bcrypt" => true,
        "argon2" => false,
        other => return fail(format!("--alg must be bcrypt or argon2, not '{other}'")),
    };
    eprintln!("measuring {alg} on this machine for about {target_ms} ms per hash (median of 3 runs each):");
    let warning = if bcrypt {
        let c = calibrate::bcrypt(target, |rounds| {
            settings.bcrypt_log_rounds = rounds;
            time_hash(&settings)
        });
        if let Some(e) = failure {
            return fail(e);
        }
        println!("# measured on this machine for about {target_ms} ms per hash (median of 3)");
        println!("password_hashing_alg: BCRYPT\nbcrypt_log_rounds: {}   # {} ms", c.log_rounds, c.time.as_millis());
        calibrate::bcrypt_below_safe(c.log_rounds)
    } else {
        settings.algorithm = HashAlgorithm::Argon2;
        let max_memory_kb = max_memory_mb.saturating_mul(1024);
        if max_memory_kb < calibrate::MIN_ARGON2_MEMORY_KB {
            eprintln!(
                "note: --max-memory-mb {max_memory_mb} is below the OWASP floor for argon2id; using {} MiB",
                calibrate::MIN_ARGON2_MEMORY_KB / 1024
            );
        }
        let c = calibrate::argon2(target, max_memory_kb, settings.argon2_parallelism, |iterations, memory_kb| {
            settings.argon2_iterations = iterations;
            settings.argon2_memory_kb = memory_kb;
            time_hash(&settings)
        });
        if let Some(e) = failure {
            return fail(e);
        }
        println!("# measured on this machine for about {target_ms} ms per hash (median of 3)");
        println!(
            "password_hashing_alg: ARGON2\nargon2_iterations: {}\nargon2_memory_kb: {}\nargon2_parallelism: {}   # {} ms",
            c.iterations,
            c.memory_kb,
            c.parallelism,
            c.time.as_millis()
        );
        calibrate::argon2_below_safe(c.memory_kb, c.iterations)
    };
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    ExitCode::SUCCESS
}

/// Logs as the core's keys say: `log_level`; `info_log_path` gets every line at that level and
/// `error_log_path` warnings and errors (stdout and stderr when they are null); `log_format`
/// text or JSON lines. Each request's lines carry its request id (see http::handle).
fn init_logging(cfg: &Config) -> Result<(), String> {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::prelude::*;

    let level = match cfg.log_level().unwrap_or("INFO").to_uppercase().as_str() {
        "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        "ERROR" => LevelFilter::ERROR,
        "NONE" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    };
    let open = |key: Key| -> Result<Option<BoxMakeWriter>, String> {
        let Some(path) = cfg.string(key) else { return Ok(None) };
        let key = key.name();
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create the directory of {key} '{path}': {e}"))?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| format!("cannot open {key} '{path}': {e}"))?;
        Ok(Some(BoxMakeWriter::new(std::sync::Arc::new(file))))
    };
    let info_out = open(Key::info_log_path)?.unwrap_or_else(|| BoxMakeWriter::new(std::io::stdout));
    let error_out = open(Key::error_log_path)?.unwrap_or_else(|| BoxMakeWriter::new(std::io::stderr));
    let json = cfg.log_format() == Some("json");
    type Boxed = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;
    let layer = |out: BoxMakeWriter, filter: LevelFilter| -> Boxed {
        let fmt = tracing_subscriber::fmt::layer().with_writer(out).with_target(false);
        if json {
            fmt.json().flatten_event(true).with_current_span(true).with_span_list(false).with_filter(filter).boxed()
        } else {
            fmt.with_ansi(false).with_filter(filter).boxed()
        }
    };
    // Info lines below warnings go to the info log only; warnings and errors to the error log.
    let info_only = tracing_subscriber::filter::filter_fn(|m| *m.level() > tracing::Level::WARN);
    // DEBUG is for Portcullis's own lines: libraries' debug output can carry request values
    // (tokio-postgres logs every statement's bound parameters: passwords' hashes, codes, tokens).
    let own_debug = tracing_subscriber::filter::filter_fn(|m| *m.level() <= tracing::Level::INFO || m.target().starts_with("portcullis"));
    let info: Boxed = layer(info_out, level).with_filter(info_only).with_filter(own_debug).boxed();
    let errors = layer(error_out, level.min(LevelFilter::WARN));
    tracing_subscriber::registry().with(vec![info, errors]).try_init().map_err(|e| e.to_string())
}

/// Listens first, so that a port already taken stops start-up before any database file is made;
/// then opens the databases and serves.
async fn run(cfg: Config, path: Option<PathBuf>) -> ExitCode {
    let host = cfg.host().unwrap_or("localhost").to_owned();
    let port = cfg.port();
    let listener = match tokio::net::TcpListener::bind(format!("{host}:{port}")).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {host}:{port}: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(format!("cannot listen on {host}:{port}: {e}")),
    };
    let storage = match portcullis::storage_open::describe(&cfg) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot start: {e}")),
    };
    let state = match portcullis::start(cfg.clone(), path).await {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot start: {e}")),
    };
    startup::log_serving(&cfg, &storage, addr);
    match portcullis::serve(listener, state, shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("server error: {e}")),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
