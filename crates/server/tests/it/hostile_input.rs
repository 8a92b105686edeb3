//! Hostile clients at the HTTP layer: oversized headers and bodies, slow bodies, and the IP filter
//! (`ip_allow_regex` / `ip_deny_regex`), through the real server. Bodies over the limit: see
//! cdi_conventions.rs (`bad_bodies_get_the_cores_400s`); slow headers: `slow_headers_and_idle_connections_are_closed`.

use std::time::{Duration, Instant};

use crate::common::{backends, config, Backend, TestApp};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `request` on a fresh connection and returns the response head (status line) and how long it took.
async fn raw(app: &TestApp, request: &[u8]) -> (String, Duration) {
    let addr = app.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    // The server may answer (and close) before it read everything we send.
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "no answer within 10 s");
    (
        String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ok = raw(
        &app,
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .0;
    assert_eq!(ok, "HTTP/1.1 200 OK");
    // One header of 1 MB: more than the server buffers for a request head.
    let big = format!(
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(1 << 20)
    );
    assert_eq!(
        raw(&app, big.as_bytes()).await.0,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // More header lines than the server parses.
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let req = format!("GET /hello HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n");
    assert_eq!(
        raw(&app, req.as_bytes()).await.0,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[tokio::test]
async fn a_body_larger_than_the_configured_limit_gets_413_whatever_it_claims() {
    let app = TestApp::spawn_with(config(
        Backend::Sqlite,
        &[("PORTCULLIS_MAX_REQUEST_BODY_BYTES", "100")],
    ))
    .await;
    let body = format!("{{\"tenantId\": \"{}\"}}", "a".repeat(200));
    // Declared length over the limit.
    let req = format!(
        "PUT /recipe/multitenancy/tenant/v2 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(
        raw(&app, req.as_bytes()).await.0,
        "HTTP/1.1 413 Payload Too Large"
    );
    // Chunked, so the length is only known while reading.
    let req = format!(
        "PUT /recipe/multitenancy/tenant/v2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    assert_eq!(
        raw(&app, req.as_bytes()).await.0,
        "HTTP/1.1 413 Payload Too Large"
    );
    // Under the limit it is read and answered.
    let (s, _) = app
        .call(
            "PUT",
            "/recipe/multitenancy/tenant/v2",
            Some(json!({"tenantId": "t1"})),
        )
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_client_trickling_its_body_is_cut_off_with_408() {
    let app = TestApp::spawn_with(config(
        Backend::Sqlite,
        &[("PORTCULLIS_HEADER_READ_TIMEOUT_SEC", "1")],
    ))
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(
        b"PUT /recipe/multitenancy/tenant/v2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = Instant::now();
    // One byte every 200 ms: the connection is never idle long enough for a per-read timeout.
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if s.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(4), trickle).await;
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn ip_deny_and_allow_regexes_are_enforced() {
    for b in backends() {
        // The test client connects from 127.0.0.1.
        let denied = TestApp::spawn_with(config(b, &[("IP_DENY_REGEX", r"127\.0\.0\.1")])).await;
        assert_eq!(denied.call("GET", "/hello", None).await.0, 403);
        assert_eq!(
            denied
                .call("GET", "/recipe/multitenancy/tenant/list/v2", None)
                .await
                .0,
            403
        );

        // The regex must match the whole address, as Tomcat's RemoteAddrFilter does.
        let partial = TestApp::spawn_with(config(b, &[("IP_DENY_REGEX", r"127\.0")])).await;
        assert_eq!(partial.call("GET", "/hello", None).await.0, 200);

        let not_allowed =
            TestApp::spawn_with(config(b, &[("IP_ALLOW_REGEX", r"10\.\d+\.\d+\.\d+")])).await;
        assert_eq!(not_allowed.call("GET", "/hello", None).await.0, 403);

        let allowed =
            TestApp::spawn_with(config(b, &[("IP_ALLOW_REGEX", r"127\.\d+\.\d+\.\d+|::1")])).await;
        assert_eq!(allowed.call("GET", "/hello", None).await.0, 200);

        // Deny wins over allow.
        let both = TestApp::spawn_with(config(
            b,
            &[("IP_ALLOW_REGEX", ".*"), ("IP_DENY_REGEX", r"127\..*")],
        ))
        .await;
        assert_eq!(both.call("GET", "/hello", None).await.0, 403);

        // Per tenant: a tenant's coreConfig filters requests to that tenant only.
        let app = TestApp::spawn(b).await;
        let t = json!({"tenantId": "locked", "coreConfig": {"ip_deny_regex": r"127\.0\.0\.1"}});
        assert_eq!(
            app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(t))
                .await
                .0,
            200
        );
        assert_eq!(
            app.call("GET", "/locked/recipe/multitenancy/tenant/v2", None)
                .await
                .0,
            403
        );
        assert_eq!(
            app.call("GET", "/recipe/multitenancy/tenant/v2", None)
                .await
                .0,
            200
        );
    }
}

#[tokio::test]
async fn an_invalid_ip_regex_is_refused_not_ignored() {
    // A filter that fails to compile must stop the configuration, never run with no filter.
    let env = |k: &str| (k == "IP_ALLOW_REGEX").then(|| "(".to_owned());
    let loaded = portcullis_core::config::Config::load(portcullis_core::config::Sources {
        yaml: None,
        env: &env,
        overrides: vec![],
    });
    assert!(loaded.is_err());
    let app = TestApp::spawn(Backend::Sqlite).await;
    let t = json!({"tenantId": "t1", "coreConfig": {"ip_allow_regex": "("}});
    let (s, text) = app
        .call("PUT", "/recipe/multitenancy/tenant/v2", Some(t))
        .await;
    assert_eq!(s, 400, "{text}");
}
