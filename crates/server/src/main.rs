//! The `portcullis` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis_core::config::{Config, Sources};
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
        /// config.yaml to read (default: ./config.yaml when it exists).
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
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("portcullis: {msg}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Start { config, host, port, test_mode } = cli.command;

    let default_path = PathBuf::from("config.yaml");
    let path = config.or_else(|| default_path.exists().then_some(default_path));
    let yaml = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) => return fail(format!("cannot read config file {}: {e}", p.display())),
        },
        None => None,
    };
    let mut overrides: Vec<(&'static str, Value)> = Vec::new();
    if let Some(h) = host {
        overrides.push(("host", Value::String(h)));
    }
    if let Some(p) = port {
        overrides.push(("port", Value::from(p)));
    }
    if test_mode {
        overrides.push(("test_mode", Value::Bool(true)));
    }
    let env = |k: &str| std::env::var(k).ok();
    let (cfg, warnings) = match Config::load(Sources { yaml: yaml.as_deref(), env: &env, overrides }) {
        Ok(c) => c,
        Err(e) => return fail(format!("invalid configuration: {e}")),
    };
    init_logging(&cfg);
    for w in warnings {
        tracing::warn!("{w}");
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(run(cfg, path))
}

fn init_logging(cfg: &Config) {
    let level = match cfg.str("log_level").unwrap_or("INFO").to_uppercase().as_str() {
        "DEBUG" => "debug",
        "WARN" => "warn",
        "ERROR" => "error",
        "NONE" => "off",
        _ => "info",
    };
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(level)).with_target(false).init();
}

async fn run(cfg: Config, path: Option<PathBuf>) -> ExitCode {
    let host = cfg.str("host").unwrap_or("localhost").to_owned();
    let port = cfg.i64("port");
    let state = match portcullis::start(cfg, path).await {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot start: {e}")),
    };
    let listener = match tokio::net::TcpListener::bind(format!("{host}:{port}")).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {host}:{port}: {e}")),
    };
    tracing::info!("portcullis {} listening on {host}:{port}", env!("CARGO_PKG_VERSION"));
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
