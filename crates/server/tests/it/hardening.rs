//! The findings of the security probe of the running server (issue 18, docs/reliability.md), one
//! regression test per finding, through the real server on both backends.

use std::time::Duration;

use crate::common::{backends, TestApp};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes on a fresh connection; returns everything the server answered before closing
/// (or within 10 s).
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let addr = app.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (and close) before it read everything we send.
    let _ = s.write_all(request).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn status_of(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

// Finding 2: a blank api_keys must never turn key checking off.
#[tokio::test]
async fn blank_api_keys_in_core_config_are_refused_with_400() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        for blank in ["", " ", ",", "aaaaaaaaaaaaaaaaaaaaaaaa,,"] {
            let (status, text) = app
                .call("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a1", "coreConfig": {"api_keys": blank}})))
                .await;
            assert_eq!(status, 400, "api_keys {blank:?} on an app: {text}");
            assert!(text.contains("API keys"), "{text}");
        }
        // Nothing was stored: the app does not exist, so its APIs are not open.
        let (status, _) = app.call("GET", "/appid-a1/recipe/multitenancy/tenant/v2", None).await;
        assert_ne!(status, 200);
        let (status, text) = app
            .call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "coreConfig": {"api_keys": " "}})))
            .await;
        assert_eq!(status, 400, "api_keys on a tenant: {text}");
    }
}

// Finding 5: validity settings overflowed `now + validity`.
#[tokio::test]
async fn huge_validities_are_refused_not_wrapped() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        for (key, value) in [("refresh_token_validity", json!(1e308)), ("password_reset_token_lifetime", json!(i64::MAX))] {
            let (status, text) = app
                .call("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a1", "coreConfig": { key: value }})))
                .await;
            assert_eq!(status, 400, "{key}: {text}");
            assert!(text.contains(key), "{text}");
        }
        for validity in [json!(1e308), json!(i64::MAX), json!(-1e308)] {
            let body = json!({"payload": {}, "algorithm": "RS256", "jwksDomain": "http://x", "validity": validity});
            let (status, text) = app.call("POST", "/recipe/jwt", Some(body)).await;
            assert_eq!(status, 400, "validity {validity}: {text}");
        }
        // A long but sane validity still works and `exp` is iat + validity.
        let body = json!({"payload": {}, "algorithm": "RS256", "jwksDomain": "http://x", "validity": 86400 * 365 * 50});
        let r = app.json("POST", "/recipe/jwt", Some(body)).await;
        assert_eq!(r["status"], "OK", "{r}");
    }
}
