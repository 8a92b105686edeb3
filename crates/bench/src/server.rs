//! Starting and stopping the `portcullis` binary with the SuperTokens docker-style environment, and
//! the same configuration loaded in-process (for the floors, which must use the same settings).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_core::config::{Config, Sources};

/// The database a run uses.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The embedded SQLite file at this path.
    Sqlite { path: String },
    /// A PostgreSQL server and the schema (POSTGRESQL_TABLE_SCHEMA) to use in it.
    Postgres { uri: String, schema: String },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgresql",
        }
    }
}

/// How to start the server: the binary, the database and any extra environment.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    pub bin: PathBuf,
    pub backend: Backend,
    /// Extra variables for the server (and for the in-process config), e.g. BCRYPT_LOG_ROUNDS.
    pub extra_env: Vec<(String, String)>,
    /// The server's working directory (so that no stray ./config.yaml is read).
    pub workdir: PathBuf,
}

const DB_VARS: [&str; 8] = [
    "POSTGRESQL_CONNECTION_URI",
    "POSTGRESQL_TABLE_SCHEMA",
    "POSTGRESQL_HOST",
    "POSTGRESQL_PORT",
    "POSTGRESQL_USER",
    "POSTGRESQL_PASSWORD",
    "POSTGRESQL_DATABASE_NAME",
    "PORTCULLIS_SQLITE_PATH",
];

impl ServerSpec {
    /// The variables that select the database, then the extra ones.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        match &self.backend {
            Backend::Sqlite { path } => env.push(("PORTCULLIS_SQLITE_PATH".to_owned(), path.clone())),
            Backend::Postgres { uri, schema } => {
                env.push(("POSTGRESQL_CONNECTION_URI".to_owned(), uri.clone()));
                env.push(("POSTGRESQL_TABLE_SCHEMA".to_owned(), schema.clone()));
            }
        }
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// The configuration the server builds from the same environment (ours, minus database
    /// variables we did not set, plus the spec's).
    pub fn config(&self) -> Result<Config, String> {
        let env = self.env();
        let lookup = move |k: &str| {
            if let Some((_, v)) = env.iter().rev().find(|(n, _)| n == k) {
                return Some(v.clone());
            }
            if DB_VARS.contains(&k) {
                return None;
            }
            std::env::var(k).ok()
        };
        Config::load(Sources { yaml: None, env: &lookup, overrides: vec![] }).map(|c| c.0).map_err(|e| e.to_string())
    }
}

/// A running server.
pub struct Server {
    child: Child,
    pub url: String,
    pub pid: u32,
    /// From spawn to the first 200 answer of GET /hello.
    pub startup: Duration,
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// One GET /hello on a new connection; true on a 200.
async fn hello_once(client: &reqwest::Client, url: &str) -> bool {
    match client.get(format!("{url}/hello")).header("cdi-version", "5.4").send().await {
        Ok(r) => r.status().as_u16() == 200,
        Err(_) => false,
    }
}

impl Server {
    /// Spawns the binary, then polls /hello until it answers 200 (within `timeout`).
    pub async fn start(spec: &ServerSpec, timeout: Duration) -> Result<Server, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let log_path = spec.workdir.join(format!("portcullis-{port}.log"));
        let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&spec.bin);
        cmd.args(["start", "--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(&spec.workdir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        for v in DB_VARS {
            cmd.env_remove(v);
        }
        cmd.envs(spec.env());
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .connect_timeout(Duration::from_millis(200))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let url = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", spec.bin.display()))?;
        loop {
            if hello_once(&client, &url).await {
                let startup = t0.elapsed();
                let pid = child.id();
                return Ok(Server { child, url, pid, startup });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("portcullis exited with {status} before answering /hello:\n{log}"));
            }
            if t0.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("portcullis did not answer /hello within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// SIGTERM (graceful), then SIGKILL after 5 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The release binary next to this one, else target/release, else target/debug.
pub fn default_bin() -> PathBuf {
    if let Ok(b) = std::env::var("PORTCULLIS_BIN") {
        return PathBuf::from(b);
    }
    if let Ok(me) = std::env::current_exe() {
        if let Some(dir) = me.parent() {
            let sibling = dir.join("portcullis");
            if sibling.exists() {
                return sibling;
            }
        }
    }
    for p in ["target/release/portcullis", "target/debug/portcullis"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("portcullis")
}
