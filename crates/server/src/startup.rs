//! What `portcullis start` finds and says before serving: which config file it reads, which
//! environment variables applied, which database, where it listens, and what is risky about that;
//! and how long it waits for its database (`database_wait_sec`). An operator should be able to tell
//! from the first lines of the log where the data goes.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portcullis_core::config::{keys, Config, SUPPORTED_CDI_VERSIONS};
use portcullis_core::storage::StorageError;

use crate::http::Version;
use crate::storage_open;
use crate::tenancy::TenancyError;

/// Where the config file is looked for when `--config` is not given, first found wins: the
/// working directory, Portcullis's own place (the container image's documented path), and the
/// SuperTokens core's place (its docker image and its Linux install read
/// `/usr/lib/supertokens/config.yaml`), so a config mounted for the core works unchanged.
pub const CONFIG_SEARCH: &[&str] = &["config.yaml", "/etc/portcullis/config.yaml", "/usr/lib/supertokens/config.yaml"];

/// The config file to read: the one given, else the first of `CONFIG_SEARCH` that exists.
pub fn find_config(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| CONFIG_SEARCH.iter().map(PathBuf::from).find(|p| p.exists()))
}

/// Environment variables so close to one of Portcullis's own (those starting with `POSTGRESQL_`,
/// `PORTCULLIS_` or `SUPERTOKENS_`) that they are taken for typos: a misspelled
/// `POSTGRESQL_CONNECTION_URI` would otherwise run on SQLite. Returns the message, if any.
pub fn misspelled_env_vars(names: impl Iterator<Item = String>) -> Option<String> {
    let known: Vec<&str> = keys::KEYS.iter().filter_map(|d| d.env).collect();
    let typos: Vec<String> = names
        .filter(|n| ["POSTGRESQL_", "PORTCULLIS_", "SUPERTOKENS_"].iter().any(|p| n.starts_with(p)))
        .filter(|n| !known.contains(&n.as_str()))
        .filter_map(|n| keys::suggest_env(&n).map(|s| format!("'{n}': did you mean '{s}'?")))
        .collect();
    (!typos.is_empty()).then(|| format!("unknown environment variable {}", typos.join(", ")))
}

/// Logs, once, where the configuration came from (variable names only: values can be secrets).
pub fn log_sources(path: Option<&Path>, env_applied: &[&str]) {
    match path {
        Some(p) => tracing::info!("config file: {}", p.display()),
        None => tracing::info!("no config file (none of {} exists): defaults and environment only", CONFIG_SEARCH.join(", ")),
    }
    if env_applied.is_empty() {
        tracing::info!("environment variables applied: none");
    } else {
        tracing::info!("environment variables applied: {}", env_applied.join(", "));
    }
}

/// Logs, once, the database, the listening address and the CDI versions, and warns about test
/// mode and about serving a reachable address without an API key.
pub fn log_serving(cfg: &Config, storage: &str, addr: SocketAddr) {
    tracing::info!("storage: {storage}");
    tracing::info!(
        "portcullis {} listening on {addr} (CDI versions {})",
        env!("CARGO_PKG_VERSION"),
        version_range(&cdi_versions(cfg))
    );
    if cfg.test_mode() {
        tracing::warn!(
            "test mode is on (test_mode): signing keys rotate within minutes and refresh tokens expire quickly; never serve real users with it"
        );
    }
    if cfg.api_key_list().is_empty() && !addr.ip().is_loopback() {
        tracing::warn!(
            "no API key is set (api_keys, API_KEYS) and Portcullis listens on {addr}, which is not a loopback address: \
             anyone who can reach it can call every API, including user deletion; set api_keys"
        );
    }
}

/// `2.7 to 5.4`: the served versions are every listed one between the two.
fn version_range(versions: &[&str]) -> String {
    match versions {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [first, .., last] => format!("{first} to {last}"),
    }
}

/// The CDI versions served, within `supertokens_min_cdi_version` and `supertokens_max_cdi_version`.
pub fn cdi_versions(cfg: &Config) -> Vec<&'static str> {
    let min = cfg.supertokens_min_cdi_version().and_then(Version::parse_listed);
    let max = cfg.supertokens_max_cdi_version().and_then(Version::parse_listed);
    SUPPORTED_CDI_VERSIONS
        .iter()
        .copied()
        .filter(|v| Version::parse_listed(v).is_some_and(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)))
        .collect()
}

/// The `/health` URL of a server running with `cfg`, for `portcullis health`: its port and
/// `base_path`, on the loopback address when it listens on every interface.
pub fn health_url(cfg: &Config) -> String {
    let host = match cfg.host().unwrap_or("localhost") {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "[::1]".to_owned(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_owned(),
    };
    let base = cfg.base_path().unwrap_or("").trim_end_matches('/');
    let base = if base.is_empty() || base.starts_with('/') { base.to_owned() } else { format!("/{base}") };
    format!("http://{host}:{}{base}/health", cfg.port())
}

/// Runs `attempt` (which opens the databases) until it succeeds or `database_wait_sec` has
/// passed, logging each failed try: containers often start before their PostgreSQL accepts
/// connections. Only an unreachable PostgreSQL is waited for; invalid settings, refused schemas
/// and SQLite fail at once.
pub async fn wait_for_database<T, F, Fut>(cfg: &Config, mut attempt: F) -> Result<T, TenancyError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TenancyError>>,
{
    let wait = if cfg.uses_postgresql() {
        // Invalid settings are not worth waiting for.
        let target = storage_open::describe(cfg)?;
        Some((Duration::from_secs(u64::try_from(cfg.database_wait_sec()).unwrap_or(0)), target))
    } else {
        None
    };
    let started = Instant::now();
    let mut tries = 0u32;
    loop {
        let result = attempt().await;
        let Some((limit, target)) = &wait else { return result };
        match result {
            Err(TenancyError::Storage(StorageError::Unavailable(why))) if started.elapsed() < *limit => {
                tries += 1;
                tracing::info!(
                    "waiting for {target} ({} s of database_wait_sec {} s): {why}",
                    started.elapsed().as_secs(),
                    limit.as_secs()
                );
                let left = limit.saturating_sub(started.elapsed());
                tokio::time::sleep(left.min(Duration::from_secs(1))).await;
            }
            Err(TenancyError::Storage(StorageError::Unavailable(why))) if tries > 0 => {
                return Err(StorageError::Unavailable(format!(
                    "{why} (gave up after waiting {} s: database_wait_sec)",
                    started.elapsed().as_secs()
                ))
                .into())
            }
            Ok(value) if tries > 0 => {
                tracing::info!("{target} answered after {} s", started.elapsed().as_secs());
                return Ok(value);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> Config {
        let none = |_: &str| None;
        Config::load(portcullis_core::config::Sources { yaml: Some(yaml), env: &none, overrides: Vec::new() })
            .unwrap()
            .0
    }

    #[test]
    fn environment_typos_are_caught_among_our_prefixes_only() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>().into_iter();
        let msg = misspelled_env_vars(names(&["POSTGRESQL_CONECTION_URI", "PATH"])).unwrap();
        assert_eq!(msg, "unknown environment variable 'POSTGRESQL_CONECTION_URI': did you mean 'POSTGRESQL_CONNECTION_URI'?");
        // The variables the project's own scripts and test harnesses set beside the server's.
        let ours = [
            "POSTGRESQL_CONNECTION_URI", "API_KEY", "PORTCULLIS_TEST_PG_URI", "PORTCULLIS_BACKEND", "PORTCULLIS_BIN",
            "PORTCULLIS_CLUSTER_DIR", "PORTCULLIS_CLUSTER_KEEP", "PORTCULLIS_CLUSTER_STARTED_MS", "PORTCULLIS_HOST",
            "PORTCULLIS_PORT", "PORTCULLIS_URL", "PORTCULLIS_NODE_PIDS", "PORTCULLIS_NODE_URLS", "PORTCULLIS_TEST_STARTED",
            "POSTGRESQL_PASSWORD_FILE", "SUPERTOKENS_CORE_HOST", "SUPERTOKENS_CORE_PORT", "SUPERTOKENS_ENV",
        ];
        assert_eq!(misspelled_env_vars(names(&ours)), None);
    }

    #[test]
    fn cdi_versions_follow_the_configured_bounds() {
        assert_eq!(cdi_versions(&cfg("port: 3567")), SUPPORTED_CDI_VERSIONS.to_vec());
        assert_eq!(cdi_versions(&cfg("supertokens_max_cdi_version: '5.1'\nsupertokens_min_cdi_version: '5.0'")), vec!["5.0", "5.1"]);
    }

    #[test]
    fn the_health_url_follows_host_port_and_base_path() {
        assert_eq!(health_url(&cfg("port: 3567")), "http://localhost:3567/health");
        assert_eq!(health_url(&cfg("host: 0.0.0.0\nport: 8080\nbase_path: /auth/")), "http://127.0.0.1:8080/auth/health");
        assert_eq!(health_url(&cfg("host: '::'\nport: 1")), "http://[::1]:1/health");
        assert_eq!(health_url(&cfg("host: '::1'\nport: 1\nbase_path: x")), "http://[::1]:1/x/health");
    }
}
