//! PgStorage against a real PostgreSQL: the shared conformance suite, plus what only PostgreSQL shows
//! (rows as the Java plugin writes them, cascades, races, restarts, prefixes and schemas).

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use portcullis_core::multitenancy::storage::TenantStorage;
use portcullis_core::ids::{AppKey, TenantIdentifier, TenantKey};
use portcullis_core::multitenancy::{Provider, ProviderClient, TenantConfig, UserInfoMap, UserInfoMapFields};
use portcullis_core::storage::Storage;
use portcullis_store_postgres::PgStorage;
use serde_json::json;

async fn fresh(uri: &str) -> (String, PgStorage) {
    let schema = unique("st");
    let storage = PgStorage::connect(&config_in_schema(uri, &schema)).await.expect("connect");
    (schema, storage)
}

fn obj(v: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    v.as_object().cloned()
}

fn provider_with_everything() -> Provider {
    Provider {
        third_party_id: "custom-x".into(),
        name: Some("X".into()),
        clients: vec![
            ProviderClient {
                client_type: Some("web".into()),
                client_id: "web-id".into(),
                client_secret: Some("s3cret".into()),
                scope: Some(vec!["openid".into(), "email".into()]),
                force_pkce: Some(false),
                additional_config: obj(json!({"teamId": "t", "n": null, "deep": {"a": [1, 2]}})),
            },
            ProviderClient { client_id: "default-id".into(), scope: Some(vec![]), ..Default::default() },
        ],
        authorization_endpoint: Some("https://x/auth".into()),
        authorization_endpoint_query_params: obj(json!({"a": "1", "b": null})),
        token_endpoint: Some("https://x/token".into()),
        token_endpoint_body_params: obj(json!({})),
        user_info_endpoint: Some("https://x/me".into()),
        user_info_endpoint_query_params: obj(json!({"q": null})),
        user_info_endpoint_headers: obj(json!({"Authorization": "x"})),
        jwks_uri: Some("https://x/jwks".into()),
        oidc_discovery_endpoint: Some("https://x/.well-known".into()),
        require_email: Some(true),
        user_info_map: UserInfoMap {
            from_id_token_payload: UserInfoMapFields {
                user_id: Some("sub".into()),
                email: Some("mail".into()),
                email_verified: Some("mv".into()),
            },
            from_user_info_api: UserInfoMapFields { user_id: Some("id".into()), email: None, email_verified: None },
        },
    }
}

async fn load(s: &PgStorage, id: &TenantIdentifier) -> Option<TenantConfig> {
    s.load_tenant_configs().await.unwrap().into_iter().find(|t| &t.id == id)
}

#[tokio::test]
async fn conformance_suite() {
    let Some(uri) = pg_uri("conformance_suite") else { return };
    let (schema, s) = fresh(&uri).await;
    portcullis_testkit::conformance::run_all(&s).await;
    portcullis_testkit::conformance::run_sessions(&s, &s).await;
    portcullis_testkit::conformance::run_users(&s).await;
    portcullis_testkit::conformance::run_dashboard(&s, &s).await;
    portcullis_testkit::conformance::run_email_verification(&s).await;
    portcullis_testkit::conformance::run_passwordless(&s).await;
    portcullis_testkit::conformance::run_totp(&s).await;
    portcullis_testkit::conformance::run_metadata(&s).await;
    portcullis_testkit::conformance::run_oauth(&s).await;
    portcullis_testkit::conformance::run_roles(&s).await;
    portcullis_testkit::conformance::run_saml(&s).await;
    portcullis_testkit::conformance::run_webauthn(&s).await;
    portcullis_testkit::conformance::run_rate_limits(&s).await;
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn linked_user_groups() {
    let Some(uri) = pg_uri("linked_user_groups") else { return };
    let (schema, s) = fresh(&uri).await;
    let db = admin(&uri).await;
    let (db, schema_name) = (&db, schema.as_str());
    // The account-linking columns as the core writes them (algorithms.md §4.4).
    let link = |app: &'static str, user: &'static str, primary: &'static str| async move {
        for table in ["app_id_to_user_id", "all_auth_recipe_users"] {
            let sql = format!(
                "UPDATE {schema_name}.{table} SET is_linked_or_is_a_primary_user = true, primary_or_recipe_user_id = \
                 CASE WHEN user_id = $2 THEN $3 ELSE primary_or_recipe_user_id END WHERE app_id = $1 AND user_id IN ($2, $3)"
            );
            db.execute(&sql, &[&app, &user, &primary]).await.expect("link");
        }
        let sql = format!(
            "UPDATE {schema_name}.all_auth_recipe_users SET primary_or_recipe_user_time_joined = (SELECT MIN(time_joined) \
             FROM {schema_name}.all_auth_recipe_users WHERE app_id = $1 AND primary_or_recipe_user_id = $2) \
             WHERE app_id = $1 AND primary_or_recipe_user_id = $2"
        );
        db.execute(&sql, &[&app, &primary]).await.expect("group time");
    };
    portcullis_testkit::conformance::run_user_groups(&s, link).await;
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn tenant_config_round_trips_every_field() {
    let Some(uri) = pg_uri("tenant_config_round_trips_every_field") else { return };
    let (schema, s) = fresh(&uri).await;
    let id = TenantIdentifier::new("example.com", "app1", "t1");
    let mut t = TenantConfig::new_v2(id.clone());
    t.email_password_enabled = true;
    t.passwordless_enabled = false;
    t.third_party_enabled = true;
    t.first_factors = Some(vec!["emailpassword".into(), "thirdparty".into()]);
    t.required_secondary_factors = Some(vec!["otp-email".into(), "totp".into()]);
    t.core_config = obj(json!({"password_reset_token_lifetime": 3600000, "email_verification_token_lifetime": null}))
        .unwrap_or_default();
    t.providers = vec![provider_with_everything(), Provider { third_party_id: "bare".into(), ..Default::default() }];
    assert!(s.upsert_tenant_config(&t).await.unwrap());

    let back = load(&s, &id).await.expect("stored");
    // Reads come sorted: providers by id, clients by type ('' first), factors by name.
    t.providers.sort_by(|a, b| a.third_party_id.cmp(&b.third_party_id));
    t.providers[1].clients.reverse();
    assert_eq!(back, t);
    let client = &back.providers[1].clients[0];
    assert_eq!(client.client_type, None, "'' reads back as no client type");
    assert_eq!(back.providers[1].authorization_endpoint_query_params, obj(json!({"a": "1", "b": null})));

    // Unset first factors stay unset (no rows), and the public tenant's default is None.
    let pub_id = TenantIdentifier::new("", "app1", "public");
    let p = TenantConfig::new_v2(pub_id.clone());
    assert_eq!(p.first_factors, None);
    assert!(s.upsert_tenant_config(&p).await.unwrap());
    let back = load(&s, &pub_id).await.unwrap();
    assert_eq!((back.first_factors, back.required_secondary_factors), (None, None));
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn upsert_twice_reports_created_once_and_replaces_children() {
    let Some(uri) = pg_uri("upsert_twice_reports_created_once_and_replaces_children") else { return };
    let (schema, s) = fresh(&uri).await;
    let id = TenantIdentifier::new("", "public", "t2");
    let mut t = TenantConfig::new_v2(id.clone());
    t.first_factors = Some(vec!["emailpassword".into()]);
    t.providers = vec![provider_with_everything()];
    assert!(s.upsert_tenant_config(&t).await.unwrap());
    t.providers[0].clients.truncate(1);
    t.first_factors = Some(vec!["otp-phone".into()]);
    assert!(!s.upsert_tenant_config(&t).await.unwrap());
    let back = load(&s, &id).await.unwrap();
    assert_eq!(back.providers[0].clients.len(), 1);
    assert_eq!(back.first_factors, Some(vec!["otp-phone".into()]));

    // Concurrent creators: exactly one is told it created the tenant.
    let id = TenantIdentifier::new("", "public", "race");
    let t = TenantConfig::new_v2(id);
    let s = std::sync::Arc::new(s);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (s, t) = (s.clone(), t.clone());
            tokio::spawn(async move { s.upsert_tenant_config(&t).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += usize::from(task.await.unwrap());
    }
    assert_eq!(created, 1);
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn deleting_a_tenant_config_cascades() {
    let Some(uri) = pg_uri("deleting_a_tenant_config_cascades") else { return };
    let (schema, s) = fresh(&uri).await;
    let id = TenantIdentifier::new("", "public", "t3");
    let mut t = TenantConfig::new_v2(id.clone());
    t.first_factors = Some(vec!["emailpassword".into()]);
    t.required_secondary_factors = Some(vec!["totp".into()]);
    t.providers = vec![provider_with_everything()];
    s.upsert_tenant_config(&t).await.unwrap();
    assert!(s.delete_tenant_config(&id).await.unwrap());
    assert!(!s.delete_tenant_config(&id).await.unwrap());
    let client = admin(&uri).await;
    for table in [
        "tenant_thirdparty_providers",
        "tenant_thirdparty_provider_clients",
        "tenant_first_factors",
        "tenant_required_secondary_factors",
    ] {
        assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.{table}")).await, 0, "{table}");
    }
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn reads_rows_written_the_way_the_java_plugin_writes_them() {
    let Some(uri) = pg_uri("reads_rows_written_the_way_the_java_plugin_writes_them") else { return };
    let (schema, s) = fresh(&uri).await;
    let client = admin(&uri).await;
    // What `TenantConfigSQLHelper.create` and friends insert (Gson's compact JSON, '' client type).
    client
        .batch_execute(&format!(
            r#"INSERT INTO {schema}.tenant_configs VALUES ('', 'public', 'public', '{{"access_token_validity":3600}}', true, true, true);
               INSERT INTO {schema}.tenant_thirdparty_providers (connection_uri_domain, app_id, tenant_id, third_party_id, name,
                   authorization_endpoint_query_params, require_email, user_info_map_from_user_info_endpoint_email)
                 VALUES ('', 'public', 'public', 'google', 'Google', '{{"prompt":"consent","x":null}}', NULL, 'email');
               INSERT INTO {schema}.tenant_thirdparty_provider_clients VALUES
                 ('', 'public', 'public', 'google', '', 'cid', NULL, ARRAY['email','profile']::VARCHAR(128)[], NULL, NULL);
               INSERT INTO {schema}.tenant_first_factors VALUES ('', 'public', 'public', 'thirdparty');"#
        ))
        .await
        .unwrap();
    let t = load(&s, &TenantIdentifier::base()).await.unwrap();
    assert_eq!(t.core_config.get("access_token_validity"), Some(&json!(3600)));
    assert_eq!(t.first_factors, Some(vec!["thirdparty".into()]));
    let p = &t.providers[0];
    assert_eq!((p.third_party_id.as_str(), p.name.as_deref(), p.require_email), ("google", Some("Google"), None));
    assert_eq!(p.authorization_endpoint_query_params, obj(json!({"prompt": "consent", "x": null})));
    assert_eq!(p.user_info_map.from_user_info_api.email.as_deref(), Some("email"));
    let c = &p.clients[0];
    assert_eq!((c.client_type.as_deref(), c.client_id.as_str()), (None, "cid"));
    assert_eq!(c.scope, Some(vec!["email".into(), "profile".into()]));

    // A stored map that is not JSON is an error that names the place, not a silent default.
    client
        .batch_execute(&format!("UPDATE {schema}.tenant_thirdparty_providers SET token_endpoint_body_params = 'nope'"))
        .await
        .unwrap();
    let err = s.load_tenant_configs().await.unwrap_err().to_string();
    assert!(err.contains("token_endpoint_body_params"), "{err}");
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn tenant_rows_are_idempotent_and_cascade() {
    let Some(uri) = pg_uri("tenant_rows_are_idempotent_and_cascade") else { return };
    let (schema, s) = fresh(&uri).await;
    s.add_tenant_rows(TenantKey::new("public", "public"), 100).await.unwrap();
    s.add_tenant_rows(TenantKey::new("public", "public"), 200).await.unwrap();
    s.add_tenant_rows(TenantKey::new("public", "t1"), 300).await.unwrap();
    let client = admin(&uri).await;
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.apps")).await, 1);
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.tenants")).await, 2);
    let first: i64 = client
        .query_one(&format!("SELECT created_at_time FROM {schema}.tenants WHERE tenant_id = 'public'"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(first, 100, "a second add keeps the first row");
    s.key_value_insert_if_absent(TenantKey::new("public", "t1"), "k", "v", 1).await.unwrap();
    assert!(s.delete_tenant_rows(TenantKey::new("public", "t1")).await.unwrap());
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.key_value")).await, 0);
    assert!(s.delete_app_rows(AppKey::new("public")).await.unwrap());
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.tenants")).await, 0);
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn key_value_insert_if_absent_keeps_the_first_value_under_races() {
    let Some(uri) = pg_uri("key_value_insert_if_absent_keeps_the_first_value_under_races") else { return };
    let (schema, s) = fresh(&uri).await;
    s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    let s = std::sync::Arc::new(s);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.key_value_insert_if_absent(TenantKey::new("public", "public"), "refresh_token_key", &format!("v{i}"), i)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "every caller must get the one stored value: {seen:?}");
    let stored = s.key_value_get(TenantKey::new("public", "public"), "refresh_token_key").await.unwrap();
    assert_eq!(stored.as_ref(), seen.iter().next());
    // The seed's connection test: `SELECT * FROM key_value` shows a row.
    let client = admin(&uri).await;
    assert_eq!(count(&client, &format!("SELECT count(*) FROM (SELECT * FROM {schema}.key_value) kv")).await, 1);
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn reconnecting_to_the_same_schema_keeps_everything() {
    let Some(uri) = pg_uri("reconnecting_to_the_same_schema_keeps_everything") else { return };
    let (schema, s) = fresh(&uri).await;
    s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    s.key_value_insert_if_absent(TenantKey::new("public", "public"), "k", "v1", 1).await.unwrap();
    let client = admin(&uri).await;
    let before = catalog(&client, &schema).await;
    drop(s);
    let s = PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("second connect");
    assert_eq!(s.key_value_get(TenantKey::new("public", "public"), "k").await.unwrap().as_deref(), Some("v1"));
    assert_eq!(before, catalog(&client, &schema).await);
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn prefix_in_a_custom_schema_keeps_tenants_apart() {
    let Some(uri) = pg_uri("prefix_in_a_custom_schema_keeps_tenants_apart") else { return };
    let schema = unique("pfx");
    let a = PgStorage::connect(&config(
        &uri,
        json!({"postgresql_table_schema": schema, "postgresql_table_names_prefix": "a"}),
    ))
    .await
    .expect("connect a");
    let b = PgStorage::connect(&config(
        &uri,
        json!({"postgresql_table_schema": schema, "postgresql_table_names_prefix": "b"}),
    ))
    .await
    .expect("connect b");
    for s in [&a, &b] {
        s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    }
    a.key_value_insert_if_absent(TenantKey::new("public", "public"), "k", "from-a", 1).await.unwrap();
    b.key_value_insert_if_absent(TenantKey::new("public", "public"), "k", "from-b", 1).await.unwrap();
    assert_eq!(a.key_value_get(TenantKey::new("public", "public"), "k").await.unwrap().as_deref(), Some("from-a"));
    assert_eq!(b.key_value_get(TenantKey::new("public", "public"), "k").await.unwrap().as_deref(), Some("from-b"));
    let client = admin(&uri).await;
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.a_key_value")).await, 1);
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.b_key_value")).await, 1);
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn bulk_import_queue() {
    let Some(uri) = pg_uri("bulk_import_queue") else { return };
    let (schema, s) = fresh(&uri).await;
    portcullis_testkit::conformance::run_bulk_import_queue(&s, &s).await;
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn bulk_import_flow() {
    let Some(uri) = pg_uri("bulk_import_flow") else { return };
    let (schema, s) = fresh(&uri).await;
    portcullis_testkit::conformance::run_bulk_import_flow(&s, &s).await;
    drop_schema(&uri, &schema).await;
}

/// Workers of two instances claiming at once never get the same row, and together get every row.
#[tokio::test]
async fn concurrent_claims_of_two_instances_never_share_a_row() {
    use portcullis_core::bulkimport::storage::BulkImportQueueStorage;
    use std::sync::Arc;
    let Some(uri) = pg_uri("concurrent_claims_of_two_instances_never_share_a_row") else { return };
    let (schema, first) = fresh(&uri).await;
    let second = PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("second instance");
    first.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    let total = 600;
    for batch in 0..6 {
        let users: Vec<(String, String)> =
            (0..100).map(|i| (format!("00000000-0000-4000-8000-{:012}", batch * 100 + i), "{}".to_owned())).collect();
        first.bulk_import_add(AppKey::new("public"), &users, 10 + batch as i64).await.unwrap();
    }
    let instances = [Arc::new(first), Arc::new(second)];
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let s = Arc::clone(&instances[w % 2]);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let rows = s.bulk_import_claim(AppKey::new("public"), 7, 1000, 0, None).await.expect("claim");
                    if rows.is_empty() {
                        return mine;
                    }
                    mine.extend(rows.into_iter().map(|r| r.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), total, "every row claimed");
    assert_eq!(distinct.len(), total, "no row claimed twice");
    drop(instances);
    drop_schema(&uri, &schema).await;
}

/// The tables an import writes get statistics once, in a new database: after the first call none
/// is left without, so the second gathers nothing.
#[tokio::test]
async fn bulk_import_analyzes_the_new_tables_once() {
    use portcullis_core::bulkimport::storage::BulkImportQueueStorage;
    let Some(uri) = pg_uri("bulk_import_analyzes_the_new_tables_once") else { return };
    let (schema, s) = fresh(&uri).await;
    let first = s.bulk_import_analyze_new_tables().await.unwrap();
    assert_eq!(first.len(), 14, "{first:?}");
    assert!(first.iter().all(|t| t.starts_with(&format!("{schema}."))), "{first:?}");
    assert!(first.iter().any(|t| t.ends_with(".all_auth_recipe_users")), "{first:?}");
    let analyzed: i64 = admin(&uri)
        .await
        .query_one("SELECT COUNT(*) FROM pg_stat_user_tables WHERE schemaname = $1 AND last_analyze IS NOT NULL", &[&schema])
        .await
        .unwrap()
        .get(0);
    assert_eq!(analyzed, 14);
    assert_eq!(s.bulk_import_analyze_new_tables().await.unwrap(), Vec::<String>::new());
    drop(s);
    drop_schema(&uri, &schema).await;
}
