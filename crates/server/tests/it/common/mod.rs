//! The test kit: builds the real application from config, serves it on a free port in-process,
//! and gives each test a fresh database (in-memory SQLite, or a fresh PostgreSQL schema when
//! PORTCULLIS_TEST_PG_URI is set).

use portcullis_core::config::{Config, Sources};
use serde_json::Value;

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    /// The server's clock: `advance` it to expire tokens and rotate keys.
    pub clock: portcullis::state::Clock,
    /// The application, for seeding data directly.
    pub state: std::sync::Arc<portcullis::state::AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends available in this run: SQLite always, PostgreSQL when a test cluster is given.
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if std::env::var("PORTCULLIS_TEST_PG_URI").is_ok() {
        b.push(Backend::Postgres);
    } else {
        eprintln!("PORTCULLIS_TEST_PG_URI is not set: PostgreSQL variants skipped");
    }
    b
}

fn random_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

pub fn config(backend: Backend, extra: &[(&str, &str)]) -> Config {
    let mut env: Vec<(String, String)> = vec![("PORTCULLIS_TEST_MODE".into(), "true".into())];
    match backend {
        Backend::Sqlite => env.push(("PORTCULLIS_SQLITE_PATH".into(), ":memory:".into())),
        Backend::Postgres => {
            env.push(("POSTGRESQL_CONNECTION_URI".into(), std::env::var("PORTCULLIS_TEST_PG_URI").unwrap_or_default()));
            env.push(("POSTGRESQL_TABLE_SCHEMA".into(), format!("t_{}", random_suffix())));
        }
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let lookup = move |k: &str| env.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Config::load(Sources { yaml: None, env: &lookup, overrides: vec![] }).expect("test config").0
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(config(backend, &[])).await
    }

    pub async fn spawn_with(cfg: Config) -> TestApp {
        Self::spawn_with_state(portcullis::start(cfg, None).await.expect("start")).await
    }

    /// Serves an application state the test built itself.
    pub async fn spawn_with_state(state: std::sync::Arc<portcullis::state::AppState>) -> TestApp {
        let clock = state.clock.clone();
        let kept = std::sync::Arc::clone(&state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(portcullis::serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestApp { url, client: reqwest::Client::new(), clock, state: kept, shutdown: Some(tx) }
    }

    /// Sends a request with `cdi-version: 5.4`; returns (status, body text).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        self.call_with_rid(method, path, None, body).await
    }

    /// A call that must answer 200 with JSON, sent with a `rid` header (the recipe an endpoint
    /// shared by several recipes should serve).
    pub async fn json_rid(&self, method: &str, path: &str, rid: &str, body: Option<Value>) -> Value {
        let (status, text) = self.call_with_rid(method, path, Some(rid), body).await;
        assert_eq!(status, 200, "{method} {path} (rid {rid}) answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
    }

    pub async fn call_with_rid(&self, method: &str, path: &str, rid: Option<&str>, body: Option<Value>) -> (u16, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(m, format!("{}{}", self.url, path)).header("cdi-version", "5.4");
        if let Some(rid) = rid {
            req = req.header("rid", rid);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    /// A call that must answer 200 with JSON.
    pub async fn json(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self.call(method, path, body).await;
        assert_eq!(status, 200, "{method} {path} answered {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
