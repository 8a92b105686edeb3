//! `GET /<t>/recipe/dashboard/tenant/core-config`: a tenant's effective settings as the dashboard's
//! tenant page lists them, and the telemetry id its analytics read; on every backend.

use crate::common::{backends, config, Backend, TestApp};
use serde_json::{json, Value};

const FIELDS: [&str; 10] = [
    "key",
    "valueType",
    "value",
    "description",
    "isDifferentAcrossTenants",
    "possibleValues",
    "isNullable",
    "defaultValue",
    "isPluginProperty",
    "isPluginPropertyEditable",
];

fn row<'a>(reply: &'a Value, key: &str) -> Option<&'a Value> {
    reply["config"].as_array().unwrap().iter().find(|r| r["key"] == key)
}

#[tokio::test]
async fn lists_effective_values_with_descriptions_and_no_secrets() {
    for b in backends() {
        let api_key = "dashboard-test-key-0123456789";
        let app = TestApp::spawn_with(config(b, &[("API_KEYS", api_key), ("ACCESS_TOKEN_VALIDITY", "1800")])).await;
        let get = |path: String| {
            let req = app.client.get(format!("{}{path}", app.url)).header("api-key", api_key).header("cdi-version", "5.4");
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let tenant = json!({"tenantId": "t1", "coreConfig": {"password_reset_token_lifetime": 1000, "totp_max_attempts": 9}});
        let r = app.client.put(format!("{}/recipe/multitenancy/tenant/v2", app.url)).header("api-key", api_key).body(tenant.to_string()).send().await.unwrap();
        assert_eq!(r.status(), 200);

        let (status, text) = get("/recipe/dashboard/tenant/core-config".into()).await;
        assert_eq!(status, 200, "{text}");
        assert!(!text.contains(api_key), "the API key is never listed");
        let public: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(public["status"], "OK");
        for r in public["config"].as_array().unwrap() {
            let fields: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(fields, FIELDS, "{r}");
            assert!(r["description"].as_str().unwrap().len() > 10, "{r}");
        }
        for hidden in ["api_keys", "port", "core_config_version", "access_token_blacklisting", "postgresql_password", "postgresql_connection_uri", "sqlite_path", "oauth_client_secret_encryption_key"] {
            assert!(row(&public, hidden).is_none(), "{hidden} must not be listed");
        }

        let validity = row(&public, "access_token_validity").unwrap();
        assert_eq!(
            (&validity["valueType"], &validity["value"], &validity["defaultValue"], &validity["isDifferentAcrossTenants"], &validity["isNullable"], &validity["isPluginProperty"], &validity["possibleValues"]),
            (&json!("number"), &json!(1800), &json!(3600), &json!(false), &json!(false), &json!(false), &Value::Null)
        );
        let alg = row(&public, "password_hashing_alg").unwrap();
        assert_eq!((&alg["valueType"], &alg["value"], &alg["possibleValues"]), (&json!("enum"), &json!("BCRYPT"), &json!(["ARGON2", "BCRYPT"])));
        let signer = row(&public, "firebase_password_hashing_signer_key").unwrap();
        assert_eq!((&signer["value"], &signer["isNullable"], &signer["defaultValue"]), (&Value::Null, &json!(true), &Value::Null));
        let reset = row(&public, "password_reset_token_lifetime").unwrap();
        assert_eq!((&reset["value"], &reset["isDifferentAcrossTenants"]), (&json!(3_600_000), &json!(true)));

        // The tenant's own values.
        let (status, text) = get("/t1/recipe/dashboard/tenant/core-config".into()).await;
        assert_eq!(status, 200, "{text}");
        let t1: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(row(&t1, "password_reset_token_lifetime").unwrap()["value"], 1000);
        assert_eq!(row(&t1, "totp_max_attempts").unwrap()["value"], 9);
        assert_eq!(row(&t1, "access_token_validity").unwrap()["value"], 1800, "the app's value");

        // Database rows only on PostgreSQL, never a table name.
        let plugin: Vec<&Value> = public["config"].as_array().unwrap().iter().filter(|r| r["isPluginProperty"] == true).collect();
        match b {
            Backend::Sqlite => assert!(plugin.is_empty(), "{plugin:?}"),
            Backend::Postgres => {
                let schema = row(&public, "postgresql_table_schema").unwrap();
                assert!(schema["value"].as_str().unwrap().starts_with("t_"), "{schema}");
                assert_eq!(schema["isPluginPropertyEditable"], false);
                assert_eq!(row(&public, "postgresql_connection_pool_size").unwrap()["isPluginPropertyEditable"], true);
                assert!(plugin.iter().all(|r| !r["key"].as_str().unwrap().ends_with("_table_name")));
            }
        }

        let (status, text) = get("/nope/recipe/dashboard/tenant/core-config".into()).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("not found"), "{text}");
        let r = app.client.post(format!("{}/recipe/dashboard/tenant/core-config", app.url)).header("api-key", api_key).send().await.unwrap();
        assert_eq!(r.status(), 405);
    }
}

#[tokio::test]
async fn saas_callers_without_the_secret_see_no_protected_rows() {
    for b in backends() {
        let api_key = "api-key-aaaaaaaaaaaaaaaaaaaaaaaa";
        let secret = "saas-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let app = TestApp::spawn_with(config(b, &[("API_KEYS", api_key), ("SUPERTOKENS_SAAS_SECRET", secret)])).await;
        let get = |key: &'static str| {
            let req = app.client.get(format!("{}/recipe/dashboard/tenant/core-config", app.url)).header("api-key", key);
            async move { serde_json::from_str::<Value>(&req.send().await.unwrap().text().await.unwrap()).unwrap() }
        };
        let plain = get(api_key).await;
        assert!(row(&plain, "ip_allow_regex").is_none());
        assert!(plain["config"].as_array().unwrap().iter().all(|r| r["isPluginProperty"] == false));
        let with_secret = get(secret).await;
        assert!(row(&with_secret, "ip_allow_regex").is_some());
        assert_eq!(with_secret["config"].as_array().unwrap().iter().any(|r| r["isPluginProperty"] == true), matches!(b, Backend::Postgres));
    }
}

/// The dashboard's analytics call (`POST /auth/dashboard/api/analytics` in the SDKs) reads the
/// app's telemetry id; it is made once at start and stays the same.
#[tokio::test]
async fn telemetry_id_for_the_dashboards_analytics() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[])).await;
        let first = app.json("GET", "/telemetry", None).await;
        assert_eq!((&first["status"], &first["exists"]), (&json!("OK"), &json!(true)), "{first}");
        assert!(!first["telemetryId"].as_str().unwrap().is_empty());
        assert_eq!(app.json("GET", "/telemetry", None).await, first);
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let (status, _) = app.call("GET", "/t1/telemetry", None).await;
        assert_eq!(status, 403, "app-wide API");
    }
}
