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

fn run(c: &mut Command) -> (bool, String) {
    let out = c.output().expect("run portcullis");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
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
