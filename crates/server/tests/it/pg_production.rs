//! A tenant whose database needs TLS, through the HTTP API. Needs the servers of
//! `scripts/pg-production.sh` (`PORTCULLIS_TEST_PG_URI` for the base database, and the TLS-only
//! cluster: `PORTCULLIS_TEST_TLS_PORT`, `PORTCULLIS_TEST_TLS_CERTS`, `PG_SOCKET_DIR`); skips, passing,
//! without them.

use crate::common::{Backend, TestApp};
use serde_json::json;

struct Tls {
    port: String,
    certs: String,
    socket: String,
}

fn tls(test: &str) -> Option<Tls> {
    let get = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (get("PORTCULLIS_TEST_PG_URI"), get("PORTCULLIS_TEST_TLS_PORT"), get("PORTCULLIS_TEST_TLS_CERTS"), get("PG_SOCKET_DIR")) {
        (Some(_), Some(port), Some(certs), Some(socket)) => Some(Tls { port, certs, socket }),
        _ => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipping {test}: needs the TLS cluster of scripts/pg-production.sh");
            None
        }
    }
}

async fn admin(t: &Tls) -> tokio_postgres::Client {
    let conninfo = format!("host={} port={} user=postgres dbname=postgres", t.socket, t.port);
    let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await.expect("admin connection");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

#[tokio::test]
async fn a_tenant_keeps_its_data_on_a_tls_only_database() {
    let Some(t) = tls("a_tenant_keeps_its_data_on_a_tls_only_database") else { return };
    let app = TestApp::spawn(Backend::Postgres).await;
    let schema = format!("t_tls_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let uri = |ca: &str, mode: &str| {
        format!("postgresql://app:app-secret-pw@localhost:{}/postgres?sslmode={mode}&sslrootcert={}/{ca}", t.port, t.certs)
    };

    let created = app
        .json(
            "PUT",
            "/recipe/multitenancy/tenant/v2",
            Some(json!({
                "tenantId": "secure",
                "firstFactors": ["emailpassword"],
                "coreConfig": {"postgresql_connection_uri": uri("ca.pem", "verify-full"), "postgresql_table_schema": schema},
            })),
        )
        .await;
    assert_eq!(created["status"], "OK", "{created}");
    let email = "tls-user@example.com";
    let up = app.json("POST", "/secure/recipe/signup", Some(json!({"email": email, "password": "pw-tls-12345"}))).await;
    assert_eq!(up["status"], "OK", "{up}");
    let inn = app.json("POST", "/secure/recipe/signin", Some(json!({"email": email, "password": "pw-tls-12345"}))).await;
    assert_eq!(inn["user"]["id"], up["user"]["id"]);
    // The user is in the TLS database, over an encrypted connection.
    let db = admin(&t).await;
    let n: i64 = db
        .query_one(&format!("SELECT count(*) FROM {schema}.emailpassword_users WHERE email = $1"), &[&email])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
    let plain: i64 = db
        .query_one(
            "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.usename = 'app' AND a.application_name = 'portcullis' AND a.client_addr IS NOT NULL AND NOT s.ssl",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert_eq!(plain, 0);

    // A CA that did not sign the server's certificate: refused, with the problem and the setting,
    // and the tenant is not created.
    let (status, body) = app
        .call(
            "PUT",
            "/recipe/multitenancy/tenant/v2",
            Some(json!({
                "tenantId": "insecure",
                "coreConfig": {"postgresql_connection_uri": uri("wrong-ca.pem", "verify-full"), "postgresql_table_schema": schema},
            })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not signed by a CA") && body.contains("sslrootcert") && !body.contains("app-secret-pw"), "{body}");
    let (status, body) = app
        .call(
            "PUT",
            "/recipe/multitenancy/tenant/v2",
            Some(json!({
                "tenantId": "insecure",
                "coreConfig": {"postgresql_connection_uri": uri("ca.pem", "verify-fully"), "postgresql_table_schema": schema},
            })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("sslmode 'verify-fully'"), "{body}");
    let (status, body) = app.call("GET", "/insecure/recipe/multitenancy/tenant/v2", None).await;
    assert!(body.contains("TENANT_NOT_FOUND_ERROR") || status == 400 || status == 404, "{status} {body}");

    let _ = db.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
}
