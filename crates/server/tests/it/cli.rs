//! The `portcullis` binary: flags, config errors, start-up and graceful shutdown.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    // Keep the test independent of the caller's environment.
    for (k, _) in std::env::vars() {
        if k.starts_with("POSTGRESQL_") || k.starts_with("PORTCULLIS_") || k == "API_KEYS" {
            c.env_remove(k);
        }
    }
    c
}

/// Runs a command to its end; returns whether it succeeded and everything it printed. Bounded at
/// 60 s: a `start` that should have been refused would otherwise serve for ever (the test then
/// fails instead of hanging).
fn run(c: &mut Command) -> (bool, String) {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("portcullis-cli-run-{}-{n}.log", std::process::id()));
    let file = std::fs::File::create(&out).expect("output file");
    let mut child = c.stdout(file.try_clone().unwrap()).stderr(file).spawn().expect("run portcullis");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut text = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::remove_file(&out).ok();
    if status.is_none() {
        text.push_str("\n[still running after 60 s: killed]");
    }
    (status.is_some_and(|s| s.success()), text)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portcullis-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn version_and_help() {
    let (ok, out) = run(bin().arg("--version"));
    assert!(ok && out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let (ok, out) = run(bin().arg("--help"));
    assert!(ok && out.contains("start"), "{out}");
}

#[test]
fn bad_flag_fails_clearly() {
    let (ok, out) = run(bin().args(["start", "--bogus"]));
    assert!(!ok);
    assert!(out.contains("--bogus"), "{out}");
}

#[test]
fn bad_config_file_names_the_key() {
    let dir = temp_dir("badcfg");
    let f = dir.join("config.yaml");
    std::fs::write(&f, "access_token_validity: soon\n").unwrap();
    let (ok, out) = run(bin().arg("start").arg("--config").arg(&f));
    assert!(!ok);
    assert!(out.contains("access_token_validity"), "{out}");
    let (ok, out) = run(bin().args(["start", "--config", "/nonexistent/config.yaml"]));
    assert!(!ok);
    assert!(out.contains("/nonexistent/config.yaml"), "{out}");
    std::fs::write(&f, "password_hashing_alg: MD5\n").unwrap();
    let (ok, out) = run(bin().arg("start").arg("--config").arg(&f));
    assert!(!ok && out.contains("password_hashing_alg"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unreachable_database_names_host_and_port_not_password() {
    let dir = temp_dir("nodb");
    let (ok, out) = run(bin()
        .current_dir(&dir)
        .env("POSTGRESQL_CONNECTION_URI", "postgresql://someone:s3cret-pw@127.0.0.1:1/db")
        .env("PORTCULLIS_DATABASE_TIMEOUT_MS", "2000")
        .args(["start", "--port", "3999"]));
    assert!(!ok, "{out}");
    assert!(out.contains("127.0.0.1:1"), "{out}");
    assert!(!out.contains("s3cret-pw"), "the password leaked: {out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Bad PostgreSQL connection settings stop the start with a message naming the setting: never a
/// panic, never a hang (each case is bounded), never the password.
#[test]
fn bad_postgresql_tls_and_host_settings_fail_at_start_up() {
    let dir = temp_dir("badpg");
    let mut cases = vec![
        ("postgresql://someone:s3cret-pw@127.0.0.1:1/db?sslmode=sometimes".to_owned(), "sslmode 'sometimes' (sslmode in postgresql_connection_uri) is not one of"),
        ("postgresql://someone:s3cret-pw@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem".to_owned(), "cannot read /nonexistent/ca.pem (sslrootcert in postgresql_connection_uri)"),
        ("postgresql://someone:s3cret-pw@127.0.0.1:1,127.0.0.1:65536/db".to_owned(), "the port '65536' of host '127.0.0.1' is not a number"),
        ("postgresql://someone:s3cret-pw@127.0.0.1:1,127.0.0.1:2/db?target_session_attrs=read-write".to_owned(), "127.0.0.1:2: error connecting"),
    ];
    // TLS demanded from a server that has none: the shared test server runs without TLS.
    if let Ok(uri) = std::env::var("PORTCULLIS_TEST_PG_URI") {
        let sep = if uri.contains('?') { '&' } else { '?' };
        cases.push((format!("{uri}{sep}sslmode=require"), "the server does not accept TLS, and sslmode=require"));
    }
    for (uri, needle) in cases {
        let started = Instant::now();
        let (ok, out) = run(bin()
            .current_dir(&dir)
            .env("POSTGRESQL_CONNECTION_URI", &uri)
            .env("PORTCULLIS_DATABASE_TIMEOUT_MS", "2000")
            .args(["start", "--port", "3998"]));
        assert!(!ok, "{uri}: {out}");
        assert!(out.contains(needle), "{uri}: {out}");
        assert!(!out.contains("panicked") && !out.contains("s3cret-pw"), "{uri}: {out}");
        assert!(started.elapsed() < Duration::from_secs(15), "{uri}: {:?}", started.elapsed());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn starts_on_sqlite_and_stops_on_sigterm() {
    let dir = temp_dir("run");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = bin()
        .current_dir(&dir)
        .args(["start", "--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Write;
            s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
            let mut resp = String::new();
            s.read_to_string(&mut resp).unwrap();
            up = resp.contains("Hello");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(up, "server did not answer /hello");
    assert!(dir.join("portcullis.db").exists(), "the default SQLite file is in the working directory");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    let mut logs = String::new();
    child.stdout.take().unwrap().read_to_string(&mut logs).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("WARN") && logs.contains("no api_keys are set"), "no warning about the open API: {logs}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn blank_api_keys_refuse_to_start() {
    let dir = temp_dir("blankkeys");
    for blank in ["", " ", ",", "\"\""] {
        let (ok, out) = run(bin().current_dir(&dir).env("API_KEYS", blank).args(["start", "--port", "1"]));
        assert!(!ok, "API_KEYS={blank:?} started: {out}");
        assert!(out.contains("API keys is too short"), "{out}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn hash_calibrate_prints_parameters_for_the_target_time() {
    let (ok, out) = run(bin().args(["hash-calibrate", "--alg", "bcrypt", "--target-ms", "5"]));
    assert!(ok, "{out}");
    assert!(out.contains("password_hashing_alg: BCRYPT") && out.contains("bcrypt_log_rounds: "), "{out}");
    let (ok, out) = run(bin().args(["hash-calibrate", "--alg", "argon2", "--target-ms", "20", "--max-memory-mb", "19"]));
    assert!(ok, "{out}");
    for key in ["password_hashing_alg: ARGON2", "argon2_iterations: ", "argon2_memory_kb: 19456", "argon2_parallelism: 2"] {
        assert!(out.contains(key), "{key} missing in {out}");
    }
    let (ok, out) = run(bin().args(["hash-calibrate", "--alg", "md5"]));
    assert!(!ok && out.contains("--alg must be bcrypt or argon2"), "{out}");
}

#[test]
fn hash_calibrate_shows_progress_and_says_when_it_overrides_or_the_cost_is_low() {
    // A cheap target: below OWASP's minimums, which it must say; memory asked below the floor.
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["hash-calibrate", "--alg", "argon2", "--target-ms", "1", "--max-memory-mb", "8"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("argon2_memory_kb: 19456"), "{stdout}");
    assert!(!stdout.contains("ms   \n") && !stdout.contains("warning"), "stdout is only the config to paste: {stdout}");
    assert!(stderr.contains("--max-memory-mb 8 is below the OWASP floor for argon2id; using 19 MiB"), "{stderr}");
    assert!(stderr.contains("warning: argon2 with 19456 KiB"), "{stderr}");
    assert!(stderr.contains("argon2 19456 KiB,   1 iteration(s):"), "each measurement shown: {stderr}");

    // Iterations are searched by doubling: a target of several iterations costs a few measurements.
    let (ok, out) = run(bin().args(["hash-calibrate", "--alg", "argon2", "--target-ms", "150", "--max-memory-mb", "19", "--parallelism", "1"]));
    assert!(ok, "{out}");
    let measured: Vec<u32> = out
        .lines()
        .filter_map(|l| l.split("KiB,").nth(1))
        .filter_map(|rest| rest.split("iteration").next()?.trim().parse().ok())
        .collect();
    assert!(measured.len() >= 2 && measured.len() <= 16, "{measured:?}\n{out}");
    assert_eq!(&measured[..2], &[1, 2], "{out}");
    if measured.len() > 2 {
        assert_eq!(measured[2], 4, "doubling: {out}");
    }

    let (ok, out) = run(bin().args(["hash-calibrate", "--alg", "bcrypt", "--target-ms", "1"]));
    assert!(ok && out.contains("bcrypt_log_rounds  4:") && out.contains("below the OWASP minimum of 10"), "{out}");
}

/// The systemd unit in deploy/ parses and keeps its hardening (where systemd-analyze exists).
#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze not installed: skipped");
        return;
    };
    assert!(out.status.success());
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/portcullis.service")).expect("unit");
    let dir = temp_dir("systemd");
    let path = dir.join("portcullis.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/portcullis", env!("CARGO_BIN_EXE_portcullis"))).expect("write unit");
    let (ok, text) = run(Command::new("systemd-analyze").arg("verify").arg(&path));
    assert!(ok && text.trim().is_empty(), "{text}");
    let (_, text) = run(Command::new("systemd-analyze").args(["security", "--offline=true"]).arg(&path));
    let level: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for portcullis.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in {text}"));
    assert!(level <= 2.0, "exposure {level}: {text}");
}

/// Sends one raw HTTP/1.1 request; returns the whole response text.
fn http(port: u16, request: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.write_all(request.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp
}

#[test]
fn json_logs_go_to_the_configured_files_with_request_ids_and_no_secrets() {
    let dir = temp_dir("logs");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = bin()
        .current_dir(&dir)
        .env("LOG_LEVEL", "DEBUG")
        .env("PORTCULLIS_LOG_FORMAT", "json")
        .env("INFO_LOG_PATH", dir.join("logs/info.log"))
        .env("ERROR_LOG_PATH", dir.join("logs/error.log"))
        .env("BCRYPT_LOG_ROUNDS", "4")
        .args(["start", "--host", "127.0.0.1", "--port", &port.to_string()])
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let body = r#"{"email":"who@example.com","password":"hunter2-secret"}"#;
    let resp = http(
        port,
        &format!(
            "POST /recipe/signup HTTP/1.1\r\nHost: x\r\nx-request-id: req-42\r\ncontent-type: application/json\r\ncontent-length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(resp.contains("x-request-id: req-42"), "{resp}");
    let resp = http(port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(resp.to_lowercase().contains("x-request-id: "), "a request id is made when none is given: {resp}");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    child.wait().unwrap();

    let info = std::fs::read_to_string(dir.join("logs/info.log")).expect("info log");
    let lines: Vec<serde_json::Value> = info.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().any(|l| l["span"]["id"] == "req-42"), "{info}");
    assert!(lines.iter().all(|l| l["level"] != "WARN" && l["level"] != "ERROR"), "warnings go to the error log");
    for secret in ["hunter2-secret", "who@example.com"] {
        assert!(!info.contains(secret), "{secret} logged: {info}");
    }
    assert!(dir.join("logs/error.log").exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// A free TCP port on the loopback address.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process whose output goes to files (read after it stops, or while it runs).
struct Server {
    child: std::process::Child,
    port: u16,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Server {
    /// Spawns `cmd` (a `start` without --port) on a free port, logging into `dir`.
    fn spawn(mut cmd: Command, dir: &std::path::Path) -> Server {
        let port = free_port();
        let (out, err) = (dir.join("stdout.log"), dir.join("stderr.log"));
        let child = cmd
            .args(["--port", &port.to_string()])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn");
        Server { child, port, out, err }
    }

    /// Waits for `/hello`, or for the process to exit (then returns false).
    fn wait_up(&mut self, within: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < within {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && http(self.port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").contains("Hello")
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn output(&self) -> String {
        format!("{}{}", std::fs::read_to_string(&self.out).unwrap_or_default(), std::fs::read_to_string(&self.err).unwrap_or_default())
    }

    /// Stops it with SIGTERM; returns everything it printed.
    fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.output()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn a_misspelled_key_stops_start_up_before_any_database_is_made() {
    let dir = temp_dir("typo");
    let f = dir.join("config.yaml");
    std::fs::write(&f, "postgresql_conection_uri: postgresql://u@h/db\n").unwrap();
    let (ok, out) = run(bin().current_dir(&dir).args(["start", "--config", "config.yaml", "--port", &free_port().to_string()]));
    assert!(!ok, "{out}");
    assert!(out.contains("did you mean 'postgresql_connection_uri'?"), "{out}");
    assert!(out.contains(&f.display().to_string()), "names the file by its absolute path: {out}");
    assert!(!dir.join("portcullis.db").exists(), "it did not fall back to SQLite");

    // A misspelled variable too: it would otherwise mean SQLite.
    let (ok, out) = run(bin()
        .current_dir(&dir)
        .env("POSTGRESQL_CONECTION_URI", "postgresql://u@h/db")
        .args(["start", "--port", &free_port().to_string()]));
    assert!(!ok && out.contains("did you mean 'POSTGRESQL_CONNECTION_URI'?"), "{out}");
    assert!(!dir.join("portcullis.db").exists());

    // A bad variable names the variable; a YAML error names the file.
    let (ok, out) = run(bin().current_dir(&dir).env("ACCESS_TOKEN_VALIDITY", "soon").args(["start", "--config", "/dev/null"]));
    assert!(!ok && out.contains("environment variable ACCESS_TOKEN_VALIDITY"), "{out}");
    std::fs::write(&f, "port: [3567\n").unwrap();
    let (ok, out) = run(bin().current_dir(&dir).args(["start", "--config", "config.yaml"]));
    assert!(!ok && out.contains(&f.display().to_string()) && out.contains("cannot parse"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn start_up_says_once_where_the_data_goes_and_warns_about_risky_settings() {
    let dir = temp_dir("startlog");
    std::fs::write(dir.join("config.yaml"), "sqlite_path: data.db\nsome_setting_of_mine: 1\n").unwrap();
    let mut cmd = bin();
    cmd.current_dir(&dir).env("PORTCULLIS_TEST_MODE", "true").env("LOG_LEVEL", "INFO").args(["start", "--host", "0.0.0.0"]);
    let mut server = Server::spawn(cmd, &dir);
    assert!(server.wait_up(Duration::from_secs(10)), "{}", server.output());
    let port = server.port;
    let out = server.stop();
    let expect_once = [
        format!("config file: {}", dir.join("config.yaml").display()),
        "environment variables applied: LOG_LEVEL, PORTCULLIS_TEST_MODE".to_owned(),
        format!("storage: SQLite {}", dir.join("data.db").display()),
        format!("listening on 0.0.0.0:{port} (CDI versions 2.7 to 5.4)"),
        "WARN test mode is on".to_owned(),
        format!("WARN no API key is set (api_keys, API_KEYS) and Portcullis listens on 0.0.0.0:{port}"),
        "WARN ignoring unknown config key 'some_setting_of_mine'".to_owned(),
    ];
    for line in &expect_once {
        assert_eq!(count(&out, line), 1, "'{line}' once in:\n{out}");
    }

    // On loopback with an API key and without test mode: no warnings.
    let mut cmd = bin();
    cmd.current_dir(&dir).env("API_KEYS", "a-key-of-twenty-chars-or-more").args(["start", "--config", "/dev/null"]);
    let mut server = Server::spawn(cmd, &dir);
    assert!(server.wait_up(Duration::from_secs(10)), "{}", server.output());
    let out = server.stop();
    assert!(!out.contains("WARN"), "{out}");
    assert!(out.contains("config file: /dev/null") && out.contains("environment variables applied: API_KEYS"), "{out}");
    assert!(out.contains(&format!("storage: SQLite {}", dir.join("portcullis.db").display())), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The PostgreSQL server of the test run, as `user:password@host:port/db` parts.
fn pg_uri() -> Option<String> {
    let uri = std::env::var("PORTCULLIS_TEST_PG_URI").ok();
    if uri.is_none() {
        eprintln!("PORTCULLIS_TEST_PG_URI is not set: PostgreSQL variant skipped");
    }
    uri
}

fn pg_run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

async fn pg_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg_uri().unwrap(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(conn);
    client
}

/// A new schema name, whose schema is dropped when the guard goes, even when the test fails.
struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        let (name, Some(uri)) = (self.0.clone(), std::env::var("PORTCULLIS_TEST_PG_URI").ok()) else { return };
        // No panic here: this may run while a failed test unwinds.
        pg_run(async move {
            if let Ok((client, conn)) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await {
                tokio::spawn(conn);
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
            }
        });
    }
}

fn fresh_schema() -> Schema {
    Schema(format!("cli_{}", &uuid_like()))
}

fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()));
    format!("{:016x}", h.finish())
}

/// `postgresql://user@host:port/db` with a password added (trust authentication ignores it), to
/// check that it is never logged.
fn with_password(uri: &str, password: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}

#[test]
fn start_up_names_the_postgresql_database_but_not_its_password() {
    let Some(uri) = pg_uri() else { return };
    let dir = temp_dir("pglog");
    let guard = fresh_schema();
    let schema = &guard.0;
    let mut cmd = bin();
    cmd.current_dir(&dir)
        .env("POSTGRESQL_CONNECTION_URI", with_password(&uri, "s3cret-pw"))
        .env("POSTGRESQL_TABLE_SCHEMA", schema)
        .env("POSTGRESQL_TABLE_NAMES_PREFIX", "pfx")
        .args(["start", "--config", "/dev/null"]);
    let mut server = Server::spawn(cmd, &dir);
    assert!(server.wait_up(Duration::from_secs(20)), "{}", server.output());
    let out = server.stop();
    let rest = uri.split_once("://").unwrap().1;
    let (user, host_db) = rest.split_once('@').unwrap();
    let user = user.split(':').next().unwrap();
    let expected = format!("storage: PostgreSQL {user}@{host_db}, schema '{schema}', table prefix 'pfx'");
    assert_eq!(count(&out, &expected), 1, "{expected} in:\n{out}");
    assert!(out.contains("environment variables applied: POSTGRESQL_CONNECTION_URI, POSTGRESQL_TABLE_NAMES_PREFIX, POSTGRESQL_TABLE_SCHEMA"), "{out}");
    assert!(!out.contains("s3cret-pw"), "the password leaked: {out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Tables as a SuperTokens core before multitenancy (core 5.x) made them: no app_id anywhere.
const OLD_CORE_TABLES: &str = "CREATE TABLE key_value (name VARCHAR(128) PRIMARY KEY, value TEXT, created_at_time BIGINT);
CREATE TABLE session_info (session_handle VARCHAR(255) PRIMARY KEY, user_id VARCHAR(128) NOT NULL,
  refresh_token_hash_2 VARCHAR(128) NOT NULL, session_data TEXT, expires_at BIGINT NOT NULL,
  created_at_time BIGINT NOT NULL, jwt_user_payload TEXT, use_static_key BOOLEAN NOT NULL);";

#[test]
fn a_database_of_an_older_supertokens_core_is_refused_untouched() {
    let Some(uri) = pg_uri() else { return };
    let guard = fresh_schema();
    let schema = &guard.0;
    pg_run(async {
        pg_client().await.batch_execute(&format!("CREATE SCHEMA {schema}; SET search_path TO {schema}; {OLD_CORE_TABLES}")).await.unwrap()
    });
    let (ok, out) = run(bin()
        .env("POSTGRESQL_CONNECTION_URI", &uri)
        .env("POSTGRESQL_TABLE_SCHEMA", schema)
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("schema '{schema}' was written by a SuperTokens core older than 9.0")), "{out}");
    assert!(out.contains("key_value (app_id, tenant_id)") && out.contains("session_info (app_id, tenant_id)"), "{out}");
    assert!(out.contains("upgrade it first; nothing was changed"), "{out}");
    let tables: Vec<String> = pg_run(async {
        let c = pg_client().await;
        let rows = c.query("SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY 1", &[schema]).await.unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    });
    assert_eq!(tables, vec!["key_value", "session_info"], "nothing was created");
}

#[test]
fn a_sqlite_file_of_another_shape_is_refused_untouched() {
    let dir = temp_dir("oldsqlite");
    let db = dir.join("old.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(OLD_CORE_TABLES).unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();
    let (ok, out) = run(bin()
        .current_dir(&dir)
        .env("PORTCULLIS_SQLITE_PATH", "old.db")
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("'{}'", db.display())) && out.contains("session_info (app_id, tenant_id)"), "{out}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is unchanged");
    assert!(!dir.join("old.db-wal").exists());

    // Not a database at all: the absolute path and SQLite's reason.
    std::fs::write(dir.join("notes.txt"), "x".repeat(4096)).unwrap();
    let (ok, out) = run(bin()
        .current_dir(&dir)
        .env("PORTCULLIS_SQLITE_PATH", "notes.txt")
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok && out.contains(&dir.join("notes.txt").display().to_string()) && out.contains("not a database"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unopenable_sqlite_file_is_named_by_its_absolute_path_with_the_reason() {
    let dir = temp_dir("unopenable");
    let (ok, out) = run(bin()
        .current_dir(&dir)
        .env("PORTCULLIS_SQLITE_PATH", "missing/portcullis.db")
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok, "{out}");
    assert!(out.contains(&dir.join("missing/portcullis.db").display().to_string()), "{out}");
    assert!(out.contains("No such file or directory"), "{out}");
    // A directory where the file should be.
    std::fs::create_dir_all(dir.join("adir")).unwrap();
    let (ok, out) = run(bin()
        .current_dir(&dir)
        .env("PORTCULLIS_SQLITE_PATH", "adir")
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok && out.contains(&dir.join("adir").display().to_string()) && out.contains("Is a directory"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_second_process_on_one_sqlite_file_is_refused() {
    let dir = temp_dir("twice");
    let mut cmd = bin();
    cmd.current_dir(&dir).args(["start", "--config", "/dev/null"]);
    let mut first = Server::spawn(cmd, &dir);
    assert!(first.wait_up(Duration::from_secs(10)), "{}", first.output());
    let (ok, out) = run(bin()
        .current_dir(&dir)
        .env("PORTCULLIS_SQLITE_PATH", dir.join("portcullis.db"))
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("the SQLite database '{}' is in use by another process", dir.join("portcullis.db").display())), "{out}");
    assert!(http(first.port, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").contains("Hello"), "the first one serves on");
    first.stop();
    // Once the first has stopped, the file is free again.
    let mut cmd = bin();
    cmd.current_dir(&dir).args(["start", "--config", "/dev/null"]);
    let mut again = Server::spawn(cmd, &dir);
    assert!(again.wait_up(Duration::from_secs(10)), "{}", again.output());
    again.stop();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_taken_port_stops_start_up_before_the_database_file_is_made() {
    let dir = temp_dir("taken");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (ok, out) = run(bin().current_dir(&dir).args(["start", "--config", "/dev/null", "--host", "127.0.0.1", "--port", &port]));
    assert!(!ok && out.contains("cannot listen on 127.0.0.1:"), "{out}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing was created: {left:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn health_exits_0_when_the_server_answers_and_1_when_it_does_not() {
    let dir = temp_dir("health");
    let mut cmd = bin();
    cmd.current_dir(&dir).args(["start", "--config", "/dev/null"]);
    let mut server = Server::spawn(cmd, &dir);
    assert!(server.wait_up(Duration::from_secs(10)), "{}", server.output());
    let port = server.port.to_string();
    let (ok, out) = run(bin().args(["health", "--url", &format!("http://127.0.0.1:{port}/health")]));
    assert!(ok && out.contains(r#""status":"OK""#), "{out}");
    // Without --url: the port of the configuration, as `start` reads it.
    let (ok, out) = run(bin().current_dir(&dir).env("SUPERTOKENS_PORT", &port).args(["health"]));
    assert!(ok, "{out}");
    let (ok, out) = run(bin().args(["health", "--url", &format!("http://127.0.0.1:{port}/nope")]));
    assert!(!ok && out.contains("unhealthy") && out.contains("404"), "{out}");
    server.stop();
    let (ok, out) = run(bin().args(["health", "--url", &format!("http://127.0.0.1:{port}/health"), "--timeout-ms", "500"]));
    assert!(!ok && out.contains("unhealthy"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Forwards connections from a port of its own to `to`, from `after` on (a database that comes up late).
fn late_proxy(to: std::net::SocketAddr, after: Duration) -> u16 {
    let port = free_port();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("proxy bind");
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(to) else { continue };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c, mut s) = (client, server);
            std::thread::spawn(move || std::io::copy(&mut c, &mut s2).map(|_| s2.shutdown(std::net::Shutdown::Write)));
            std::thread::spawn(move || std::io::copy(&mut s, &mut c2).map(|_| c2.shutdown(std::net::Shutdown::Write)));
        }
    });
    port
}

#[test]
fn start_waits_for_a_late_database_when_asked() {
    use std::net::ToSocketAddrs;
    let Some(uri) = pg_uri() else { return };
    let dir = temp_dir("wait");
    let rest = uri.split_once("://").unwrap().1;
    let (user, host_db) = rest.split_once('@').unwrap();
    let (host_port, db) = host_db.split_once('/').unwrap();
    let real = host_port.to_socket_addrs().unwrap().next().unwrap();
    let guard = fresh_schema();
    let schema = &guard.0;
    let late = |after| format!("postgresql://{user}@127.0.0.1:{}/{db}", late_proxy(real, after));

    // Without database_wait_sec: the first failure stops start-up.
    let (ok, out) = run(bin()
        .env("POSTGRESQL_CONNECTION_URI", late(Duration::from_secs(60)))
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok && out.contains("cannot connect"), "{out}");

    let mut cmd = bin();
    cmd.current_dir(&dir)
        .env("POSTGRESQL_CONNECTION_URI", late(Duration::from_secs(3)))
        .env("POSTGRESQL_TABLE_SCHEMA", schema)
        .env("PORTCULLIS_DATABASE_WAIT_SEC", "30")
        .args(["start", "--config", "/dev/null"]);
    let mut server = Server::spawn(cmd, &dir);
    assert!(server.wait_up(Duration::from_secs(30)), "{}", server.output());
    let out = server.stop();
    assert!(count(&out, "(0 s of database_wait_sec 30 s)") >= 1 && out.contains("waiting for PostgreSQL"), "progress logged: {out}");
    assert!(out.contains("answered after"), "{out}");

    // Given up after the wait, saying so.
    let (ok, out) = run(bin()
        .env("POSTGRESQL_CONNECTION_URI", late(Duration::from_secs(60)))
        .env("PORTCULLIS_DATABASE_WAIT_SEC", "2")
        .args(["start", "--config", "/dev/null", "--port", &free_port().to_string()]));
    assert!(!ok && out.contains("gave up after waiting 2 s"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

/// deploy/config.yaml, the sample the systemd recipe installs, is a valid configuration, and so is
/// every commented-out key in it once uncommented (no typo, no bad value waiting for a user).
#[test]
fn the_sample_config_is_valid_with_and_without_its_commented_keys() {
    use portcullis_core::config::{Config, Sources};
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/config.yaml")).unwrap();
    let none = |_: &str| None;
    let load = |yaml: &str| Config::load(Sources { yaml: Some(yaml), env: &none, overrides: vec![] });
    let (cfg, warnings) = load(&text).unwrap_or_else(|e| panic!("deploy/config.yaml: {e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!((cfg.host(), cfg.sqlite_path()), (Some("localhost"), Some("/var/lib/portcullis/portcullis.db")));
    assert!(!cfg.uses_postgresql() && !cfg.test_mode());
    let commented = uncomment_keys(&text);
    assert!(commented.1 >= 10, "only {} commented keys", commented.1);
    let (cfg, warnings) = load(&commented.0).unwrap_or_else(|e| panic!("uncommented deploy/config.yaml: {e}\n{}", commented.0));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(cfg.uses_postgresql() && cfg.api_key_list().len() == 1);
}

/// Uncomments `# key: value` lines; returns the text and how many there were.
fn uncomment_keys(text: &str) -> (String, usize) {
    let mut n = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.split_once(':').is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())) => {
                n += 1;
                rest.to_owned()
            }
            _ => l.to_owned(),
        })
        .collect();
    (lines.join("\n"), n)
}
