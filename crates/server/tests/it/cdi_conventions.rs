//! The CDI's cross-cutting rules, through the real HTTP server, on every backend.

use crate::common::{backends, config, TestApp};
use serde_json::json;

#[tokio::test]
async fn hello_and_apiversion() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let resp = app.client.get(format!("{}/hello", app.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/html; charset=UTF-8");
        assert_eq!(resp.text().await.unwrap(), "Hello\n");
        for method in ["POST", "PUT", "DELETE"] {
            assert_eq!(app.call(method, "/hello", None).await, (200, "Hello\n".into()));
        }
        assert_eq!(app.call("GET", "/", None).await.0, 200);
        // The SDKs ask /apiversion without a cdi-version header and need 5.4 listed.
        let resp = app.client.get(format!("{}/apiversion", app.url)).send().await.unwrap();
        let v: serde_json::Value = resp.json().await.unwrap();
        assert!(v["versions"].as_array().unwrap().contains(&json!("5.4")), "{v}");
        assert!(v.get("status").is_none());
    }
}

#[tokio::test]
async fn unknown_paths_methods_and_tenants() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        assert_eq!(app.call("GET", "/nope", None).await, (404, "Not found\n".into()));
        assert_eq!(app.call("GET", "/recipe/nope/x", None).await.0, 404);
        assert_eq!(app.call("PATCH", "/recipe/multitenancy/tenant/v2", None).await, (405, "Method not supported\n".into()));
        assert_eq!(app.call("DELETE", "/apiversion", None).await.0, 405);
        let (s, t) = app.call("GET", "/appid-nope/hello", None).await;
        assert_eq!(s, 400);
        assert!(t.starts_with("AppId or tenantId not found"), "{t}");
        // An unknown tenant: "/" is Not found, the tenant API is a business outcome.
        assert_eq!(app.call("GET", "/t-unknown", None).await.0, 404);
        let v = app.json("GET", "/t-unknown/recipe/multitenancy/tenant/v2", None).await;
        assert_eq!(v, json!({"status": "TENANT_NOT_FOUND_ERROR"}));
        // Paths are case-insensitive and tolerate a trailing slash.
        assert_eq!(app.call("GET", "/HELLO/", None).await.0, 200);
    }
}

#[tokio::test]
async fn cdi_version_rules() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let get = |v: &'static str| {
            let req = app.client.get(format!("{}/recipe/multitenancy/tenant/list/v2", app.url)).header("cdi-version", v);
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(get("5.4").await.0, 200);
        assert_eq!(get("abc").await, (400, "cdi-version header is invalid\n".into()));
        assert_eq!(get("9.9").await, (400, "cdi-version 9.9 not supported\n".into()));
        assert_eq!(get("2.1").await, (400, "cdi-version 2.1 not supported\n".into()));
        // In range but not one of the listed strings (the core's set is of raw strings).
        for v in ["5", "5.4.0", "05.4", "2.6", "4.1", "2.22"] {
            assert_eq!(get(v).await, (400, format!("cdi-version {v} not supported\n")), "{v}");
        }
        // Every listed version is accepted; a part too large for an int is above the max, not a 500.
        for v in portcullis_core::cdi::ACCEPTED {
            assert_eq!(get(v).await.0, 200, "{v}");
        }
        assert_eq!(get("99999999999.0").await, (400, "cdi-version 99999999999.0 not supported\n".into()));
        for v in ["", "5.", "v5.4", "5,4", "5.4-beta"] {
            assert_eq!(get(v).await, (400, "cdi-version header is invalid\n".into()), "{v:?}");
        }
        // /hello needs no listed version, but the format and the max apply to every API, as in the core.
        let hello = |v: &'static str| {
            let req = app.client.get(format!("{}/hello", app.url)).header("cdi-version", v);
            async move { req.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(hello("2.1").await, 200);
        assert_eq!(hello("5.4.0").await, 200);
        assert_eq!(hello("9.9").await, 400);
        assert_eq!(hello("abc").await, 400);
        // Before 3.0 there were no tenants: a non-public tenant's path is not found, even below 2.7.
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        for v in ["2.21", "2.6"] {
            let r = app.client.get(format!("{}/t1/recipe/multitenancy/tenant/v2", app.url)).header("cdi-version", v).send().await.unwrap();
            assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (404, "Not found\n".into()), "{v}");
        }
        let r = app.client.get(format!("{}/t1/recipe/multitenancy/tenant/v2", app.url)).header("cdi-version", "3.0").send().await.unwrap();
        assert_eq!(r.status(), 200);
        // /apiversion: every version, in the core's order.
        let v = app.json("GET", "/apiversion", None).await;
        assert_eq!(v["versions"], json!(portcullis_core::cdi::API_VERSION_ORDER));
    }
}

/// An app's `supertokens_max_cdi_version` and `supertokens_min_cdi_version` bound every API.
#[tokio::test]
async fn cdi_version_bounds() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("SUPERTOKENS_MAX_CDI_VERSION", "3.0"), ("SUPERTOKENS_MIN_CDI_VERSION", "2.21")])).await;
        let get = |path: &'static str, v: Option<&'static str>| {
            let mut req = app.client.get(format!("{}{path}", app.url));
            if let Some(v) = v {
                req = req.header("cdi-version", v);
            }
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(get("/recipe/multitenancy/tenant/list/v2", Some("3.1")).await, (400, "cdi-version 3.1 not supported\n".into()));
        assert_eq!(
            get("/hello", Some("2.20")).await,
            (400, "cdi-version 2.20 is lower than the minimum allowed version 2.21\n".into())
        );
        assert_eq!(get("/recipe/multitenancy/tenant/list/v2", Some("3.0")).await.0, 200);
        let (s, body) = get("/apiversion", None).await;
        assert_eq!(s, 200);
        let versions: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(versions["versions"].as_array().unwrap().len(), 16, "{versions}");
        assert!(!versions["versions"].as_array().unwrap().contains(&json!("3.1")));
    }
}

#[tokio::test]
async fn api_keys_are_enforced_except_on_exempt_endpoints() {
    for b in backends() {
        let key1 = "key-one-aaaaaaaaaaaaaaaaaaaa";
        let key2 = "key-two-bbbbbbbbbbbbbbbbbbbb";
        let keys = format!("{key1}, {key2}");
        let app = TestApp::spawn_with(config(b, &[("API_KEYS", keys.as_str())])).await;
        let url = format!("{}/recipe/multitenancy/tenant/list/v2", app.url);
        let status = |req: reqwest::RequestBuilder| async move { req.send().await.unwrap().status().as_u16() };
        assert_eq!(status(app.client.get(&url)).await, 401);
        assert_eq!(app.call("GET", "/recipe/multitenancy/tenant/list/v2", None).await, (401, "Invalid API key\n".into()));
        assert_eq!(status(app.client.get(&url).header("api-key", "wrong-key-cccccccccccccccccc")).await, 401);
        assert_eq!(status(app.client.get(&url).header("api-key", key1)).await, 200);
        assert_eq!(status(app.client.get(&url).header("api-key", key2)).await, 200);
        assert_eq!(status(app.client.get(&url).header("authorization", format!("Bearer {key2}"))).await, 200);
        assert_eq!(status(app.client.get(format!("{}/hello", app.url))).await, 200);
        assert_eq!(status(app.client.get(format!("{}/apiversion", app.url))).await, 401);
    }
}

#[tokio::test]
async fn bad_bodies_get_the_cores_400s() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let put = |body: &'static str| {
            let req = app
                .client
                .put(format!("{}/recipe/multitenancy/tenant/v2", app.url))
                .header("cdi-version", "5.4")
                .body(body);
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(put("not json").await, (400, "Invalid Json Input\n".into()));
        assert_eq!(put("[]").await, (400, "Invalid Json Input\n".into()));
        assert_eq!(put("{}").await, (400, "Field name 'tenantId' is invalid in JSON input\n".into()));
        assert_eq!(put(r#"{"tenantId": 5}"#).await.0, 400);
        assert_eq!(put(r#"{"tenantId": "t1", "firstFactors": "x"}"#).await.0, 400);
        assert_eq!(put(r#"{"tenantId": "t1", "coreConfig": []}"#).await.0, 400);
        let huge = format!("{{\"tenantId\": \"{}\"}}", "a".repeat(2 << 20));
        let r = app.client.put(format!("{}/recipe/multitenancy/tenant/v2", app.url)).body(huge).send().await.unwrap();
        assert_eq!(r.status(), 413);
    }
}

#[tokio::test]
async fn base_path_prefixes_every_api() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("BASE_PATH", "/auth")])).await;
        assert_eq!(app.call("GET", "/auth/hello", None).await.0, 200);
        assert_eq!(app.call("GET", "/hello", None).await.0, 404);
        assert_eq!(app.call("GET", "/authx/hello", None).await.0, 404);
        assert_eq!(app.call("GET", "/auth/recipe/multitenancy/tenant/list/v2", None).await.0, 200);
    }
}

#[tokio::test]
async fn health_pings_every_database_without_an_api_key_or_version() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("API_KEYS", "a-long-enough-api-key-123")])).await;
        let resp = app.client.get(format!("{}/health", app.url)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "OK", "databases": 1, "unavailable": 0}));
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_behind_the_api_key() {
    for b in backends() {
        let key = "a-long-enough-api-key-123";
        let app = TestApp::spawn_with(config(b, &[("API_KEYS", key), ("BCRYPT_LOG_ROUNDS", "4")])).await;
        let signup = app
            .client
            .post(format!("{}/recipe/signup", app.url))
            .header("api-key", key)
            .json(&json!({"email": "a@example.com", "password": "pw"}))
            .send()
            .await
            .unwrap();
        assert_eq!(signup.status().as_u16(), 200);
        app.client.get(format!("{}/no/such/path", app.url)).send().await.unwrap();

        let denied = app.client.get(format!("{}/metrics", app.url)).send().await.unwrap();
        assert_eq!(denied.status().as_u16(), 401);
        let resp = app.client.get(format!("{}/metrics", app.url)).header("authorization", format!("Bearer {key}")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = resp.text().await.unwrap();
        assert!(text.contains("portcullis_requests_total{route=\"SignUp\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("portcullis_requests_total{route=\"unknown\",status=\"404\"} 1"), "{text}");
        assert!(text.contains("portcullis_request_duration_seconds_count{route=\"SignUp\"} 1"));
        assert!(text.contains("# TYPE portcullis_password_hash_waiting gauge"));
        assert!(!text.contains("a@example.com") && !text.contains(key), "no ids or secrets in metrics");
        if matches!(b, crate::common::Backend::Postgres) {
            assert!(text.contains("portcullis_db_pool_max{pool=\"0\"}"), "{text}");
        }
    }
}

/// Reads until the server closes the connection; returns what arrived and how long it took.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> (String, std::time::Duration) {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    (String::from_utf8_lossy(&buf).into_owned(), started.elapsed())
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(config(crate::common::Backend::Sqlite, &[("PORTCULLIS_HEADER_READ_TIMEOUT_SEC", "1")])).await;
    let addr = app.url.trim_start_matches("http://").to_owned();

    // A client that never finishes its headers is cut off.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (_, waited) = read_until_closed(&mut slow).await;
    assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");

    // A kept-alive connection is served, then closed once idle.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (text, waited) = read_until_closed(&mut idle).await;
    assert!(text.starts_with("HTTP/1.1 200") && text.contains("Hello"), "{text}");
    assert!(waited >= std::time::Duration::from_millis(900) && waited < std::time::Duration::from_secs(5), "{waited:?}");
}

/// Every route the server knows (read from its route table, so a new route is covered as soon as
/// it exists) refuses a request without the API key, except the core's exempt list.
#[tokio::test]
async fn every_route_but_the_exempt_ones_needs_the_api_key() {
    let paths: Vec<&str> = portcullis::routes().paths().filter_map(|p| p.first()).map(|r| r.path).collect();
    assert!(paths.len() > 80, "route table not found: {}", paths.len());
    // The SAML SP metadata and the legacy token/userinfo endpoints are open in the Java core too
    // (their APIs override checkAPIKey): an IdP and a BoxyHQ-style client call them without the key.
    let exempt = [
        "/",
        "/hello",
        "/health",
        "/config",
        "/.well-known/jwks.json",
        "/.well-known/sp-metadata",
        "/recipe/saml/legacy/token",
        "/recipe/saml/legacy/userinfo",
    ];
    let key = "a-long-enough-api-key-123";
    let app = TestApp::spawn_with(config(crate::common::Backend::Sqlite, &[("API_KEYS", key)])).await;
    for path in paths {
        for method in ["GET", "POST", "PUT", "DELETE"] {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = app.client.request(m, format!("{}{path}", app.url)).header("cdi-version", "5.4").send().await.unwrap();
            let status = resp.status().as_u16();
            if exempt.contains(&path) {
                assert_ne!(status, 401, "{method} {path} is exempt");
            } else {
                assert_eq!(status, 401, "{method} {path} answered {status} without the API key");
            }
        }
    }
}
