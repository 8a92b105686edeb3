//! PostgreSQL as production runs it, against real servers that `scripts/pg-production.sh` starts (each
//! test says what it needs and skips, passing, without it):
//!
//! - `PORTCULLIS_TEST_TLS_PORT`, `PORTCULLIS_TEST_TLS_CERTS`, `PG_SOCKET_DIR`: a TLS-only cluster
//!   (`hostssl` lines only) whose certificate names `localhost`, signed by `ca.pem`; `wrong-ca.pem`
//!   signed nothing of it; `client.pem`/`client.key` are `certuser`'s client certificate. Role `app`
//!   logs in with SCRAM (`app-secret-pw`). The socket is for the tests' own checks.
//! - `PORTCULLIS_TEST_PG_URI`: a server without TLS.
//! - `PORTCULLIS_TEST_PGBOUNCER_URI`: PgBouncer, `pool_mode = transaction`, in front of the TLS
//!   cluster (the unnamed-statement tests are in `src/db.rs`).
//! - `PORTCULLIS_TEST_PRIMARY_PORT`, `PORTCULLIS_TEST_STANDBY_PORT`: a primary and its streaming
//!   standby.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_core::config::{Config, Key};
use portcullis_core::ids::TenantKey;
use portcullis_core::multitenancy::storage::TenantStorage;
use portcullis_core::storage::{Storage, StorageError};
use portcullis_store_postgres::PgStorage;
use serde_json::{json, Value};

/// The public tenant of the public app.
const PUBLIC: TenantKey<'static> = TenantKey { app_id: "public", tenant_id: "public" };

fn var(test: &str, names: &[&str]) -> Option<Vec<String>> {
    let values: Vec<String> = names.iter().filter_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty())).collect();
    if values.len() == names.len() {
        return Some(values);
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipping {test}: needs {} (run through scripts/pg-production.sh)", names.join(", "));
    None
}

/// The TLS cluster: its port, the certificates' directory and an admin connection over its socket.
struct TlsCluster {
    port: String,
    certs: String,
    socket: String,
}

impl TlsCluster {
    fn get(test: &str) -> Option<TlsCluster> {
        let v = var(test, &["PORTCULLIS_TEST_TLS_PORT", "PORTCULLIS_TEST_TLS_CERTS", "PG_SOCKET_DIR"])?;
        Some(TlsCluster { port: v[0].clone(), certs: v[1].clone(), socket: v[2].clone() })
    }

    fn uri(&self, user: &str, host: &str, query: &str) -> String {
        format!("postgresql://{user}@{host}:{}/postgres?{query}", self.port)
    }

    fn cert(&self, name: &str) -> String {
        format!("{}/{name}", self.certs)
    }

    async fn admin(&self) -> tokio_postgres::Client {
        admin(&format!("host={} port={} user=postgres dbname=postgres", self.socket, self.port)).await
    }
}

fn cfg_with(uri: &str, schema: &str, extra: Value) -> Config {
    let mut map = extra.as_object().cloned().unwrap_or_default();
    map.insert("postgresql_connection_uri".into(), Value::String(uri.to_owned()));
    map.insert("postgresql_table_schema".into(), Value::String(schema.to_owned()));
    // A base setting: through the command-line overrides, then the tenant-level keys laid over it.
    let no_env = |_: &str| None;
    let sources = portcullis_core::config::Sources { yaml: None, env: &no_env, overrides: vec![(Key::database_timeout_ms, json!(3000))] };
    Config::load(sources).expect("base config").0.overlay(&map).expect("test config")
}

/// Connects (creating the schema), writes and reads back: the storage works on this connection.
async fn works(cfg: &Config) -> Result<PgStorage, StorageError> {
    let s = PgStorage::connect(cfg).await?;
    s.add_tenant_rows(PUBLIC, 1).await?;
    s.key_value_insert_if_absent(PUBLIC, "k", "v", 1).await?;
    assert_eq!(s.key_value_get(PUBLIC, "k").await?.as_deref(), Some("v"));
    Ok(s)
}

async fn refused(cfg: &Config) -> String {
    let started = Instant::now();
    let err = PgStorage::connect(cfg).await.expect_err("the connection must be refused").to_string();
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}: {err}", started.elapsed());
    assert!(!err.contains("app-secret-pw"), "the password leaked: {err}");
    err
}

/// Whether the server sees Portcullis's connections of `user` as encrypted (and all of them).
async fn encrypted(t: &TlsCluster, user: &str) -> bool {
    let row = t
        .admin()
        .await
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.application_name = 'portcullis' AND a.usename = $1 AND a.client_addr IS NOT NULL",
            &[&user],
        )
        .await
        .expect("pg_stat_ssl");
    let (tls, all): (i64, i64) = (row.get(0), row.get(1));
    all > 0 && tls == all
}

#[tokio::test]
async fn verify_full_with_scram_connects_encrypted() {
    let Some(t) = TlsCluster::get("verify_full_with_scram_connects_encrypted") else { return };
    let schema = unique("ptls");
    let uri = t.uri("app:app-secret-pw", "localhost", &format!("sslmode=verify-full&sslrootcert={}", t.cert("ca.pem")));
    let s = works(&cfg_with(&uri, &schema, json!({}))).await.expect("verify-full");
    assert!(encrypted(&t, "app").await, "the connections are not encrypted");
    drop(s);
    drop_schema_at(&t, &schema).await;
}

#[tokio::test]
async fn discrete_keys_and_environment_names_reach_tls() {
    let Some(t) = TlsCluster::get("discrete_keys_and_environment_names_reach_tls") else { return };
    let schema = unique("ptls");
    // config.yaml-style keys only, no URI.
    let cfg = Config::defaults()
        .overlay(
            json!({
                "postgresql_host": "localhost", "postgresql_port": t.port.parse::<i64>().unwrap(),
                "postgresql_user": "app", "postgresql_password": "app-secret-pw", "postgresql_database_name": "postgres",
                "postgresql_table_schema": schema, "postgresql_sslmode": "verify-full",
                "postgresql_sslrootcert": t.cert("ca.pem"),
            })
            .as_object()
            .unwrap(),
        )
        .unwrap();
    works(&cfg).await.expect("verify-full through the discrete keys");
    // The environment variables of those keys.
    let env = |name: &str| match name {
        "POSTGRESQL_HOST" => Some("localhost".to_owned()),
        "POSTGRESQL_PORT" => Some(t.port.clone()),
        "POSTGRESQL_USER" => Some("app".to_owned()),
        "POSTGRESQL_PASSWORD" => Some("app-secret-pw".to_owned()),
        "POSTGRESQL_DATABASE_NAME" => Some("postgres".to_owned()),
        "POSTGRESQL_TABLE_SCHEMA" => Some(schema.clone()),
        "PORTCULLIS_POSTGRESQL_SSLMODE" => Some("verify-ca".to_owned()),
        "PORTCULLIS_POSTGRESQL_SSLROOTCERT" => Some(t.cert("ca.pem")),
        _ => None,
    };
    let sources = portcullis_core::config::Sources { yaml: None, env: &env, overrides: vec![] };
    let (cfg, _) = Config::load(sources).expect("config from the environment");
    works(&cfg).await.expect("verify-ca through the environment");
    drop_schema_at(&t, &schema).await;
}

#[tokio::test]
async fn a_wrong_ca_or_host_name_is_refused_naming_the_problem_and_the_setting() {
    let Some(t) = TlsCluster::get("a_wrong_ca_or_host_name_is_refused_naming_the_problem_and_the_setting") else { return };
    let schema = unique("ptls");
    let wrong = t.uri("app:app-secret-pw", "localhost", &format!("sslmode=verify-full&sslrootcert={}", t.cert("wrong-ca.pem")));
    let err = refused(&cfg_with(&wrong, &schema, json!({}))).await;
    assert!(err.contains("not signed by a CA in") && err.contains("wrong-ca.pem"), "{err}");
    assert!(err.contains("set sslrootcert (postgresql_sslrootcert)"), "{err}");
    // libpq: with a root certificate, require checks the chain too.
    let wrong_require = t.uri("app:app-secret-pw", "localhost", &format!("sslmode=require&sslrootcert={}", t.cert("wrong-ca.pem")));
    assert!(refused(&cfg_with(&wrong_require, &schema, json!({}))).await.contains("not signed by a CA"));
    // The certificate names localhost, not 127.0.0.1: verify-full refuses, verify-ca accepts.
    let by_ip = |mode: &str| t.uri("app:app-secret-pw", "127.0.0.1", &format!("sslmode={mode}&sslrootcert={}", t.cert("ca.pem")));
    let err = refused(&cfg_with(&by_ip("verify-full"), &schema, json!({}))).await;
    assert!(err.contains("not valid for the host name '127.0.0.1'") && err.contains("verify-ca"), "{err}");
    works(&cfg_with(&by_ip("verify-ca"), &schema, json!({}))).await.expect("verify-ca ignores the name");
    drop_schema_at(&t, &schema).await;
}

#[tokio::test]
async fn require_prefer_and_allow_follow_libpq() {
    let Some(t) = TlsCluster::get("require_prefer_and_allow_follow_libpq") else { return };
    let schema = unique("ptls");
    for mode in ["require", "prefer", "allow"] {
        // No root certificate: encrypted, nothing checked (the server accepts TLS only).
        let uri = t.uri("app:app-secret-pw", "127.0.0.1", &format!("sslmode={mode}"));
        works(&cfg_with(&uri, &schema, json!({}))).await.unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
    }
    // prefer with a CA that does not match: the handshake fails, the plain-text retry is refused by
    // the server (TLS only): never a silent downgrade, and the error says why.
    let uri = t.uri("app:app-secret-pw", "localhost", &format!("sslmode=prefer&sslrootcert={}", t.cert("wrong-ca.pem")));
    let err = refused(&cfg_with(&uri, &schema, json!({}))).await;
    assert!(err.contains("no encryption") || err.contains("pg_hba"), "{err}");
    let uri = t.uri("app:app-secret-pw", "localhost", "sslmode=disable");
    let err = refused(&cfg_with(&uri, &schema, json!({}))).await;
    assert!(err.contains("no encryption"), "{err}");
    drop_schema_at(&t, &schema).await;
}

#[tokio::test]
async fn client_certificates_log_in() {
    let Some(t) = TlsCluster::get("client_certificates_log_in") else { return };
    let schema = unique("ptls");
    let (cert, key) = (t.cert("client.pem"), t.cert("client.key"));
    let uri = t.uri("certuser", "localhost", &format!("sslmode=verify-full&sslrootcert={}&sslcert={cert}&sslkey={key}", t.cert("ca.pem")));
    let s = works(&cfg_with(&uri, &schema, json!({}))).await.expect("client certificate");
    assert!(encrypted(&t, "certuser").await);
    drop(s);
    // The same through the keys.
    let uri = t.uri("certuser", "localhost", "sslmode=verify-full");
    let keys = json!({"postgresql_sslrootcert": t.cert("ca.pem"), "postgresql_sslcert": cert, "postgresql_sslkey": key});
    works(&cfg_with(&uri, &schema, keys)).await.expect("client certificate through the keys");
    // Without it the server refuses (pg_hba `cert`).
    let err = refused(&cfg_with(&uri, &schema, json!({"postgresql_sslrootcert": t.cert("ca.pem")}))).await;
    assert!(err.contains("certificate"), "{err}");
    drop_schema_at(&t, &schema).await;
}

#[tokio::test]
async fn tls_required_against_a_server_without_tls_fails_at_once() {
    let Some(v) = var("tls_required_against_a_server_without_tls_fails_at_once", &["PORTCULLIS_TEST_PG_URI", "PORTCULLIS_TEST_TLS_CERTS"]) else {
        return;
    };
    for q in ["sslmode=require".to_owned(), format!("sslmode=verify-full&sslrootcert={}/ca.pem", v[1])] {
        let sep = if v[0].contains('?') { '&' } else { '?' };
        let err = refused(&cfg_with(&format!("{}{sep}{q}", v[0]), "public", json!({}))).await;
        assert!(err.contains("does not accept TLS") && err.contains("postgresql_sslmode"), "{err}");
    }
}

#[tokio::test]
async fn bad_tls_and_host_settings_are_refused_before_connecting() {
    // No server needed: each is a configuration error naming the setting.
    for (uri, extra, needle) in [
        ("postgresql://u:hunter2@h/db?sslmode=always", json!({}), "sslmode 'always' (sslmode in postgresql_connection_uri)"),
        ("postgresql://u:hunter2@h/db", json!({"postgresql_sslmode": "strict"}), "(postgresql_sslmode) is not one of"),
        ("postgresql://u:hunter2@h/db?sslmode=verify-ca&sslrootcert=/nonexistent/root.pem", json!({}), "cannot read /nonexistent/root.pem (sslrootcert in postgresql_connection_uri)"),
        ("postgresql://u:hunter2@h/db?sslmode=verify-full", json!({}), "set sslrootcert (postgresql_sslrootcert)"),
        ("postgresql://u:hunter2@h1:5432,h2:5o32/db", json!({}), "the port '5o32' of host 'h2'"),
        ("postgresql://u:hunter2@h1,h2/db?target_session_attrs=primary-ish", json!({}), "target_session_attrs 'primary-ish'"),
        ("postgresql://u:hunter2@h/db?sslmode=require&sslrootcert=system", json!({}), "sslrootcert=system"),
    ] {
        let err = refused(&cfg_with(uri, "public", extra)).await;
        assert!(err.contains(needle) && !err.contains("hunter2"), "{uri}: {err}");
    }
}

#[tokio::test]
async fn through_pgbouncer_in_transaction_mode_under_concurrent_load() {
    let Some(v) = var("through_pgbouncer_in_transaction_mode_under_concurrent_load", &["PORTCULLIS_TEST_PGBOUNCER_URI"]) else {
        return;
    };
    let schema = unique("pbouncer");
    let cfg = cfg_with(&v[0], &schema, json!({"postgresql_transaction_pooling": true, "postgresql_connection_pool_size": 16}));
    let s = std::sync::Arc::new(works(&cfg).await.expect("through PgBouncer"));
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                for j in 0..20 {
                    let k = format!("k{i}-{j}");
                    s.key_value_set(PUBLIC, &k, "v", j).await?;
                    assert_eq!(s.key_value_get(PUBLIC, &k).await?.as_deref(), Some("v"));
                    s.load_tenant_configs().await?;
                }
                Ok::<_, StorageError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("no error through PgBouncer");
    }
    drop(s);
    drop_schema(&v[0], &schema).await;
}

/// The primary and the standby: (primary, standby) ports.
fn replicas(test: &str) -> Option<(String, String)> {
    let v = var(test, &["PORTCULLIS_TEST_PRIMARY_PORT", "PORTCULLIS_TEST_STANDBY_PORT"])?;
    Some((v[0].clone(), v[1].clone()))
}

#[tokio::test]
async fn several_hosts_go_to_the_one_target_session_attrs_asks_for() {
    let Some((p, st)) = replicas("several_hosts_go_to_the_one_target_session_attrs_asks_for") else { return };
    let schema = unique("pmulti");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let multi = |query: &str| format!("postgresql://postgres@127.0.0.1:{closed},127.0.0.1:{st},127.0.0.1:{p}/postgres?{query}");
    // read-write skips the dead host and the standby.
    let s = works(&cfg_with(&multi("target_session_attrs=read-write"), &schema, json!({}))).await.expect("read-write");
    drop(s);
    for (query, writable) in [
        ("target_session_attrs=primary", true),
        ("targetServerType=primary", true),
        ("target_session_attrs=standby", false),
        ("target_session_attrs=read-only", false),
        ("target_session_attrs=prefer-standby", false),
        // libpq's default, any: the first host that answers, here the standby.
        ("", false),
    ] {
        // The schema exists (replicated), so connecting to the standby writes nothing.
        let s = PgStorage::connect(&cfg_with(&multi(query), &schema, json!({}))).await.unwrap_or_else(|e| panic!("{query}: {e}"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        s.ping().await.expect("ping");
        let write = s.key_value_set(PUBLIC, "w", query, 2).await;
        assert_eq!(write.is_ok(), writable, "{query}: {write:?}");
        if let Err(e) = write {
            assert!(matches!(e, StorageError::Unavailable(_)) && e.to_string().contains("read-only"), "{query}: {e}");
        }
    }
    // No host of the kind asked for: every host is named with its reason.
    let only_standby = format!("postgresql://postgres@127.0.0.1:{closed},127.0.0.1:{st}/postgres?target_session_attrs=read-write");
    let err = refused(&cfg_with(&only_standby, &schema, json!({}))).await;
    assert!(err.contains(&format!("127.0.0.1:{closed}: ")) && err.contains(&format!("127.0.0.1:{st}: the server is read-only")), "{err}");
    drop_schema(&format!("postgresql://postgres@127.0.0.1:{p}/postgres"), &schema).await;
}

async fn drop_schema_at(t: &TlsCluster, schema: &str) {
    let _ = t.admin().await.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
}
