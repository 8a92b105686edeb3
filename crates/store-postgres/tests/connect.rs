//! Connecting: clear errors that never show the password, and a pool that heals when the server drops
//! its connections (as it does when PostgreSQL restarts).

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use portcullis_core::multitenancy::storage::TenantStorage;
use portcullis_core::ids::TenantKey;
use portcullis_core::storage::{Storage, StorageError};
use portcullis_store_postgres::PgStorage;
use serde_json::json;

/// A local port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

#[tokio::test]
async fn unreachable_server_names_host_and_port_but_not_the_password() {
    // Needs no server: nothing listens on the port.
    let port = closed_port();
    let cfg = base_config(&format!(
        "postgresql_connection_uri: \"postgresql://alice:hunter2secret@127.0.0.1:{port}/db\"\ndatabase_timeout_ms: 2000\n"
    ));
    let err = PgStorage::connect(&cfg).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StorageError::Unavailable(_)), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains("hunter2secret"), "{msg}");
}

#[tokio::test]
async fn invalid_settings_are_refused_before_connecting() {
    for (cfg, needle) in [
        (json!({"postgresql_table_schema": "a;drop"}), "postgresql_table_schema"),
        (json!({"postgresql_table_names_prefix": "a b"}), "postgresql_table_names_prefix"),
        (json!({"postgresql_connection_uri": "mysql://u:hunter2secret@h/db"}), "postgresql_connection_uri"),
    ] {
        let cfg = portcullis_core::config::Config::defaults().overlay(cfg.as_object().unwrap()).unwrap();
        let msg = PgStorage::connect(&cfg).await.unwrap_err().to_string();
        assert!(msg.contains(needle) && !msg.contains("hunter2secret"), "{msg}");
    }
}

#[tokio::test]
async fn a_missing_database_is_named_in_the_error() {
    let Some(uri) = pg_uri("a_missing_database_is_named_in_the_error") else { return };
    let name = unique("ptest_missing");
    let msg = PgStorage::connect(&config(&with_database(&uri, &name), json!({}))).await.unwrap_err().to_string();
    assert!(msg.contains(&name) && msg.contains("127.0.0.1:"), "{msg}");
}

#[tokio::test]
async fn the_pool_recovers_when_the_server_drops_every_connection() {
    let Some(uri) = pg_uri("the_pool_recovers_when_the_server_drops_every_connection") else { return };
    // A database of its own, so that dropping its connections disturbs no other test.
    let (db, db_uri) = create_database(&uri).await;
    let s = std::sync::Arc::new(
        PgStorage::connect(&config(&db_uri, json!({"postgresql_connection_pool_size": 4}))).await.expect("connect"),
    );
    s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    // Fill the pool with open connections.
    let busy: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.load_tenant_configs().await.map(|_| ()) })
        })
        .collect();
    for b in busy {
        b.await.unwrap().unwrap();
    }
    let admin = admin(&uri).await;
    let killed = count(
        &admin,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ),
    )
    .await;
    assert!(killed >= 1, "no connection to drop");
    // Every call works again at once: dead connections are discarded and replaced.
    for _ in 0..6 {
        s.ping().await.expect("ping after the server dropped the connections");
        s.key_value_insert_if_absent(TenantKey::new("public", "public"), "k", "v", 1).await.expect("write after the drop");
    }
    drop(s);
    drop_database(&uri, &db).await;
}
