//! The schema PgStorage creates is the seed's (SuperTokens' documented DDL) plus the newer plugin
//! tables (SAML, WebAuthn) and the OAuth tables beside them (the newer plugin's four and the
//! provider's own), plus the newer plugin's five indexes on the seed's tables, to every column, type,
//! default, constraint and index, in the default schema, in a custom schema and with a prefix; a
//! schema that already exists is used as it is, and one made by an older core gets only the newer
//! tables and those indexes added.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use portcullis_core::multitenancy::storage::TenantStorage;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::storage::Storage;
use portcullis_store_postgres::PgStorage;
use serde_json::json;

#[tokio::test]
async fn default_schema_matches_the_seed() {
    let Some(uri) = pg_uri("default_schema_matches_the_seed") else { return };
    // `public` needs databases of their own: one gets the seed verbatim, the other our DDL.
    let (seed_db, seed_uri) = create_database(&uri).await;
    let (ours_db, ours_uri) = create_database(&uri).await;

    let seed = admin(&seed_uri).await;
    seed.batch_execute(&plugin_sql()).await.expect("apply the seed and the newer tables (SAML, WebAuthn, OAuth)");
    let expected = catalog(&seed, "public").await;

    PgStorage::connect(&config(&ours_uri, json!({}))).await.expect("connect");
    let actual = catalog(&admin(&ours_uri).await, "public").await;
    assert_same_catalog("public schema", &expected, &actual);

    drop(seed);
    drop_database(&uri, &seed_db).await;
    drop_database(&uri, &ours_db).await;
}

#[tokio::test]
async fn custom_schema_matches_the_seed() {
    let Some(uri) = pg_uri("custom_schema_matches_the_seed") else { return };
    let (seed_schema, ours) = (unique("seed"), unique("ours"));
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {seed_schema}")).await.unwrap();
    client.batch_execute(&seed_for(&seed_schema, "", &[])).await.expect("apply the seed");
    let expected = catalog(&client, &seed_schema).await;

    PgStorage::connect(&config_in_schema(&uri, &ours)).await.expect("connect");
    assert_same_catalog("custom schema", &expected, &catalog(&client, &ours).await);

    drop_schema(&uri, &seed_schema).await;
    drop_schema(&uri, &ours).await;
}

#[tokio::test]
async fn prefix_and_overrides_name_things_like_the_java_plugin() {
    let Some(uri) = pg_uri("prefix_and_overrides_name_things_like_the_java_plugin") else { return };
    let (seed_schema, ours) = (unique("seed"), unique("ours"));
    let overrides = [("key_value", "kv_store"), ("session_info", "sessions")];
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {seed_schema}")).await.unwrap();
    client.batch_execute(&seed_for(&seed_schema, "pfx", &overrides)).await.expect("apply the seed");
    let expected = catalog(&client, &seed_schema).await;
    assert!(expected.contains("table pfx_apps") && expected.contains("table kv_store"));
    assert!(expected.iter().any(|l| l.starts_with(
        "constraint pfx_tenants.pfx_tenants_app_id_fkey (f) FOREIGN KEY (app_id) REFERENCES S.pfx_apps(app_id)"
    )));

    let cfg = config(
        &uri,
        json!({
            "postgresql_table_schema": ours,
            "postgresql_table_names_prefix": "pfx",
            "postgresql_key_value_table_name": "kv_store",
            "postgresql_session_info_table_name": "sessions",
        }),
    );
    let storage = PgStorage::connect(&cfg).await.expect("connect");
    assert_same_catalog("prefix", &expected, &catalog(&client, &ours).await);
    assert_eq!(storage.table_name("key_value"), Some(format!("{ours}.kv_store").as_str()));

    // The tables work under their new names.
    storage.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    storage.key_value_insert_if_absent(TenantKey::new("public", "public"), "k", "v", 1).await.unwrap();
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {ours}.kv_store")).await, 1);
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {ours}.pfx_tenants")).await, 1);

    drop_schema(&uri, &seed_schema).await;
    drop_schema(&uri, &ours).await;
}

#[tokio::test]
async fn a_schema_made_by_the_java_core_is_used_unchanged() {
    let Some(uri) = pg_uri("a_schema_made_by_the_java_core_is_used_unchanged") else { return };
    let schema = unique("java");
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    client.batch_execute(&seed_for(&schema, "", &[])).await.expect("apply the seed");
    // An index a newer plugin adds: not ours to drop.
    client.batch_execute(&format!("CREATE INDEX extra_index ON {schema}.apps (created_at_time)")).await.unwrap();
    let before = catalog(&client, &schema).await;
    let oids_sql = format!(
        "SELECT string_agg(c.oid::text, ',' ORDER BY c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = '{schema}'"
    );
    let oids_before: String = client.query_one(&oids_sql, &[]).await.unwrap().get(0);

    let storage = PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("connect");
    storage.ping().await.unwrap();
    assert_eq!(before, catalog(&client, &schema).await, "connect must not change an existing schema");
    let oids_after: String = client.query_one(&oids_sql, &[]).await.unwrap().get(0);
    assert_eq!(oids_before, oids_after, "no relation may be recreated");

    drop_schema(&uri, &schema).await;
}

/// A database of a core older than the SAML tables: they are added (with their indexes and foreign
/// keys), and nothing of the seed's tables is touched.
#[tokio::test]
async fn the_saml_tables_are_added_to_a_seed_only_schema() {
    let Some(uri) = pg_uri("the_saml_tables_are_added_to_a_seed_only_schema") else { return };
    let (expected_schema, schema) = (unique("full"), unique("old"));
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {expected_schema}; CREATE SCHEMA {schema}")).await.unwrap();
    client.batch_execute(&seed_for(&expected_schema, "", &[])).await.unwrap();
    client.batch_execute(&seed_only_for(&schema)).await.unwrap();
    let before = catalog(&client, &schema).await;
    assert!(!before.iter().any(|l| l.contains("saml_")));
    let oids_sql = format!(
        "SELECT string_agg(c.relname || '=' || c.oid::text, ',' ORDER BY c.relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{schema}'"
    );
    let oids_before: String = client.query_one(&oids_sql, &[]).await.unwrap().get(0);

    let storage = PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("connect");
    let after = catalog(&client, &schema).await;
    assert_same_catalog("seed-only schema after connect", &catalog(&client, &expected_schema).await, &after);
    for table in ["saml_clients", "saml_relay_state", "saml_claims"] {
        assert!(after.contains(&format!("table {table}")), "{table} created");
    }
    let oids_after: String = client.query_one(&oids_sql, &[]).await.unwrap().get(0);
    for relation in oids_before.split(',') {
        assert!(oids_after.split(',').any(|r| r == relation), "{relation} was recreated");
    }

    // The tables work: a client row of a tenant, gone with its tenant.
    storage.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.saml_clients (client_id, sso_login_url, redirect_uris, default_redirect_uri, \
             idp_entity_id, idp_signing_certificate, created_at, updated_at) VALUES ('c', 'u', '[]', 'd', 'e', 'x', 1, 1);
             INSERT INTO {schema}.saml_relay_state (relay_state, client_id, redirect_uri, created_at, expires_at) VALUES ('r', 'c', 'd', 1, 2);
             INSERT INTO {schema}.saml_claims (client_id, code, claims, created_at, expires_at) VALUES ('c', 'k', '{{}}', 1, 2);"
        ))
        .await
        .unwrap();
    let duplicate = client
        .batch_execute(&format!(
            "INSERT INTO {schema}.saml_clients (client_id, sso_login_url, redirect_uris, default_redirect_uri, \
             idp_entity_id, idp_signing_certificate, created_at, updated_at) VALUES ('c2', 'u', '[]', 'd', 'e', 'x', 1, 1)"
        ))
        .await
        .unwrap_err();
    let db_error = duplicate.as_db_error().expect("a database error");
    assert_eq!(db_error.constraint(), Some("saml_clients_idp_entity_id_key"));
    assert!(storage.delete_app_rows(AppKey::new("public")).await.unwrap());
    for table in ["saml_clients", "saml_relay_state", "saml_claims"] {
        assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.{table}")).await, 0, "{table} cascades");
    }

    drop(storage);
    drop_schema(&uri, &expected_schema).await;
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn a_schema_made_by_an_older_java_core_gets_the_webauthn_tables() {
    let Some(uri) = pg_uri("a_schema_made_by_an_older_java_core_gets_the_webauthn_tables") else { return };
    let (old, full) = (unique("old"), unique("full"));
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {old}; CREATE SCHEMA {full}")).await.unwrap();
    client.batch_execute(&seed_only_for(&old)).await.expect("apply the seed");
    client.batch_execute(&seed_for(&full, "", &[])).await.expect("apply the seed and the WebAuthn tables");
    let before = catalog(&client, &old).await;
    assert!(!before.iter().any(|l| l.contains("webauthn")));
    let oids_sql = format!(
        "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{old}'"
    );
    let oids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get::<_, i64>(0)).collect::<std::collections::BTreeSet<_>>();
    let oids_before = oids(client.query(&oids_sql, &[]).await.unwrap());

    PgStorage::connect(&config_in_schema(&uri, &old)).await.expect("connect");
    let after = catalog(&client, &old).await;
    assert_same_catalog("upgraded schema", &catalog(&client, &full).await, &after);
    assert!(before.is_subset(&after), "the seed's tables must not change");
    let oids_after = oids(client.query(&oids_sql, &[]).await.unwrap());
    assert!(oids_before.is_subset(&oids_after), "no relation may be recreated");
    for table in ["webauthn_users", "webauthn_user_to_tenant", "webauthn_generated_options", "webauthn_credentials", "webauthn_account_recovery_tokens"] {
        assert!(after.contains(&format!("table {table}")), "{table}");
    }

    drop_schema(&uri, &old).await;
    drop_schema(&uri, &full).await;
}

#[tokio::test]
async fn missing_tables_and_indexes_are_added_to_a_partial_schema() {
    let Some(uri) = pg_uri("missing_tables_and_indexes_are_added_to_a_partial_schema") else { return };
    let (seed_schema, schema) = (unique("seed"), unique("partial"));
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {seed_schema}; CREATE SCHEMA {schema}")).await.unwrap();
    client.batch_execute(&seed_for(&seed_schema, "", &[])).await.unwrap();
    client.batch_execute(&seed_for(&schema, "", &[])).await.unwrap();
    client
        .batch_execute(&format!(
            "DROP TABLE {schema}.totp_used_codes; DROP INDEX {schema}.session_expiry_index; DROP TABLE {schema}.user_roles; \
             DROP TABLE {schema}.webauthn_credentials; DROP INDEX {schema}.webauthn_user_to_tenant_email_index; \
             DROP TABLE {schema}.oauth_grants; DROP INDEX {schema}.oauth_session_session_handle_index"
        ))
        .await
        .unwrap();
    PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("connect");
    assert_same_catalog("repaired schema", &catalog(&client, &seed_schema).await, &catalog(&client, &schema).await);
    drop_schema(&uri, &seed_schema).await;
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn a_user_without_create_privilege_starts_when_the_tables_exist() {
    let Some(uri) = pg_uri("a_user_without_create_privilege_starts_when_the_tables_exist") else { return };
    let (schema, role) = (unique("nocreate"), unique("ptest_role"));
    let client = admin(&uri).await;
    // The owner creates the tables; the role may only use them.
    PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("owner connect");
    client
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};"
        ))
        .await
        .unwrap();
    let role_uri = with_user(&uri, &role);

    let storage = PgStorage::connect(&config_in_schema(&role_uri, &schema)).await.expect("connect without CREATE");
    storage.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    assert_eq!(storage.key_value_insert_if_absent(TenantKey::new("public", "public"), "k", "v", 1).await.unwrap(), "v");

    // A missing index is not worth refusing to start over (only a warning)...
    client.batch_execute(&format!("DROP INDEX {schema}.session_expiry_index")).await.unwrap();
    PgStorage::connect(&config_in_schema(&role_uri, &schema)).await.expect("connect with an index missing");
    // ...but a missing table is, with a message that says why.
    client.batch_execute(&format!("DROP TABLE {schema}.totp_used_codes")).await.unwrap();
    let err = PgStorage::connect(&config_in_schema(&role_uri, &schema)).await.unwrap_err().to_string();
    assert!(err.contains("totp_used_codes") && err.contains("may not create"), "{err}");

    drop(storage);
    drop_schema(&uri, &schema).await;
    let _ = client.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
}

#[tokio::test]
async fn concurrent_first_starts_create_the_schema_once() {
    let Some(uri) = pg_uri("concurrent_first_starts_create_the_schema_once") else { return };
    let (seed_schema, schema) = (unique("seed"), unique("race"));
    let cfg = config_in_schema(&uri, &schema);
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let cfg = cfg.clone();
            tokio::spawn(async move { PgStorage::connect(&cfg).await.map(|_| ()) })
        })
        .collect();
    for s in starts {
        s.await.unwrap().expect("every concurrent start succeeds");
    }
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {seed_schema}")).await.unwrap();
    client.batch_execute(&seed_for(&seed_schema, "", &[])).await.unwrap();
    assert_same_catalog("raced schema", &catalog(&client, &seed_schema).await, &catalog(&client, &schema).await);
    drop_schema(&uri, &seed_schema).await;
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn webauthn_tables_hold_the_plugins_keys_and_cascades() {
    let Some(uri) = pg_uri("webauthn_tables_hold_the_plugins_keys_and_cascades") else { return };
    let schema = unique("webauthn");
    let storage = PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("connect");
    storage.add_tenant_rows(TenantKey::new("public", "public"), 1).await.unwrap();
    storage.add_tenant_rows(TenantKey::new("public", "t1"), 1).await.unwrap();
    let client = admin(&uri).await;
    client.batch_execute(&format!("SET search_path = {schema}")).await.unwrap();
    let user = |id: &'static str, email: &'static str| {
        format!(
            "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id) VALUES ('public', '{id}', 'webauthn', '{id}');
             INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, recipe_id, time_joined, primary_or_recipe_user_time_joined)
               VALUES ('public', 'public', '{id}', '{id}', 'webauthn', 1, 1);
             INSERT INTO webauthn_users (app_id, user_id, email, rp_id, time_joined) VALUES ('public', '{id}', '{email}', 'example.com', 1);
             INSERT INTO webauthn_user_to_tenant (app_id, tenant_id, user_id, email) VALUES ('public', 'public', '{id}', '{email}');"
        )
    };
    client.batch_execute(&user("u1", "a@b.com")).await.unwrap();
    let duplicate = client.batch_execute(&format!("BEGIN; {} COMMIT;", user("u2", "a@b.com"))).await.unwrap_err();
    assert!(format!("{duplicate:?}").contains("webauthn_user_to_tenant_email_key"), "{duplicate:?}");
    client.batch_execute("ROLLBACK").await.unwrap();
    client
        .batch_execute(
            "INSERT INTO webauthn_credentials (id, app_id, rp_id, user_id, counter, public_key, transports, created_at, updated_at)
               VALUES ('cred-1', 'public', 'example.com', 'u1', 0, '\\x0102', 'null', 1, 1);
             INSERT INTO webauthn_generated_options (app_id, tenant_id, id, challenge, email, rp_id, rp_name, origin, expires_at, created_at)
               VALUES ('public', 't1', 'options-1', 'c', NULL, 'example.com', 'Example', 'https://example.com', 2, 1);
             INSERT INTO webauthn_account_recovery_tokens (app_id, tenant_id, user_id, email, token, expires_at)
               VALUES ('public', 'public', 'u1', 'a@b.com', 'hash', 2);",
        )
        .await
        .unwrap();
    let no_owner = client
        .batch_execute(
            "INSERT INTO webauthn_credentials (id, app_id, rp_id, user_id, counter, public_key, transports, created_at, updated_at)
               VALUES ('cred-2', 'public', 'example.com', 'nobody', 0, '\\x01', 'null', 1, 1)",
        )
        .await
        .unwrap_err();
    assert!(format!("{no_owner:?}").contains("webauthn_credentials_user_id_fkey"), "{no_owner:?}");
    // Deleting the user removes its webauthn rows and tokens; deleting the tenant its options.
    client.batch_execute("DELETE FROM app_id_to_user_id WHERE user_id = 'u1'").await.unwrap();
    for table in ["webauthn_users", "webauthn_user_to_tenant", "webauthn_credentials", "webauthn_account_recovery_tokens"] {
        assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.{table}")).await, 0, "{table}");
    }
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.webauthn_generated_options")).await, 1);
    client.batch_execute("DELETE FROM tenants WHERE tenant_id = 't1'").await.unwrap();
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.webauthn_generated_options")).await, 0);

    drop(storage);
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn the_oauth_tables_are_added_beside_an_existing_seed_schema() {
    let Some(uri) = pg_uri("the_oauth_tables_are_added_beside_an_existing_seed_schema") else { return };
    let (full, schema) = (unique("full"), unique("preoauth"));
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {full}; CREATE SCHEMA {schema}")).await.unwrap();
    client.batch_execute(&seed_for(&full, "", &[])).await.unwrap();
    // A database written before the OAuth tables existed (e.g. by a Java core 9.x).
    client.batch_execute(&seed_only_for(&schema)).await.unwrap();
    let seed_oids_sql = format!(
        "SELECT string_agg(c.oid::text, ',' ORDER BY c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = '{schema}' AND c.relname NOT LIKE 'oauth%' AND c.relname NOT LIKE 'saml%' AND c.relname NOT LIKE 'webauthn%' \
         AND c.relname NOT LIKE 'portcullis%' AND c.relname NOT LIKE 'bulk_import%' \
         AND c.relname NOT IN ({})",
        newer_index_list()
    );
    let seed_oids: String = client.query_one(&seed_oids_sql, &[]).await.unwrap().get(0);
    let before = catalog(&client, &schema).await;
    assert!(!before.iter().any(|l| l.contains("oauth")));

    let storage = PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("connect");
    let after = catalog(&client, &schema).await;
    assert_same_catalog("seed plus OAuth tables", &catalog(&client, &full).await, &after);
    for table in [
        "oauth_clients",
        "oauth_sessions",
        "oauth_m2m_tokens",
        "oauth_logout_challenges",
        "oauth_client_configs",
        "oauth_flows",
        "oauth_grants",
        "oauth_consents",
    ] {
        assert!(after.contains(&format!("table {table}")), "{table} missing");
    }
    // Only tables were added: the seed's relations are the same ones, unchanged.
    let seed_oids_after: String = client.query_one(&seed_oids_sql, &[]).await.unwrap().get(0);
    assert_eq!(seed_oids, seed_oids_after);
    assert!(before.is_subset(&after));

    // The cascades work: deleting an app removes its OAuth rows, deleting a client its grants.
    storage.add_tenant_rows(TenantKey::new("oa", "public"), 1).await.unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.oauth_clients VALUES ('oa', 'c1', NULL, false, false);
             INSERT INTO {schema}.oauth_client_configs VALUES ('oa', 'c1', 'n', '{{}}', 1, 1);
             INSERT INTO {schema}.oauth_sessions (gid, app_id, client_id, jti, exp) VALUES ('g1', 'oa', 'c1', 'j1,', 9);
             INSERT INTO {schema}.oauth_grants VALUES ('g1', 'oa', 's', 'openid', '[]', '{{}}', '{{}}', 1);
             INSERT INTO {schema}.oauth_m2m_tokens VALUES ('oa', 'c1', 1, 2);
             INSERT INTO {schema}.oauth_logout_challenges VALUES ('oa', 'ch', 'c1', NULL, 'sh', NULL, 1);
             INSERT INTO {schema}.oauth_flows (app_id, login_challenge, client_id, request, requested_at, login_csrf, expires_at)
                 VALUES ('oa', 'lc', 'c1', '{{}}', 1, 'x', 2);
             INSERT INTO {schema}.oauth_consents VALUES ('oa', 'c1', 's', 'openid', '[]', NULL, 1);"
        ))
        .await
        .unwrap();
    client.batch_execute(&format!("DELETE FROM {schema}.oauth_sessions WHERE gid = 'g1'")).await.unwrap();
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.oauth_grants")).await, 0, "grant data goes with its grant");
    storage.delete_app_rows(portcullis_core::ids::AppKey::new("oa")).await.unwrap();
    for table in ["oauth_clients", "oauth_client_configs", "oauth_m2m_tokens", "oauth_logout_challenges", "oauth_flows", "oauth_consents"] {
        assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.{table}")).await, 0, "{table} must cascade");
    }
    drop(storage);
    drop_schema(&uri, &full).await;
    drop_schema(&uri, &schema).await;
}

#[tokio::test]
async fn the_bulk_import_queue_is_added_beside_an_existing_seed_schema() {
    let Some(uri) = pg_uri("the_bulk_import_queue_is_added_beside_an_existing_seed_schema") else { return };
    let (full, schema) = (unique("full"), unique("prebulk"));
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {full}; CREATE SCHEMA {schema}")).await.unwrap();
    client.batch_execute(&seed_for(&full, "", &[])).await.unwrap();
    // A database written before the queue and the other newer tables existed (a Java core 9.x).
    client.batch_execute(&seed_only_for(&schema)).await.unwrap();
    let seed_oids_sql = format!(
        "SELECT string_agg(c.oid::text, ',' ORDER BY c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = '{schema}' AND c.relname NOT LIKE 'bulk_import%' AND c.relname NOT LIKE 'oauth%' \
         AND c.relname NOT LIKE 'saml%' AND c.relname NOT LIKE 'webauthn%' AND c.relname NOT LIKE 'portcullis%' \
         AND c.relname NOT IN ({})",
        newer_index_list()
    );
    let seed_oids: String = client.query_one(&seed_oids_sql, &[]).await.unwrap().get(0);
    let before = catalog(&client, &schema).await;
    assert!(!before.iter().any(|l| l.contains("bulk_import")));

    let storage = PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("connect");
    let after = catalog(&client, &schema).await;
    assert_same_catalog("seed plus the bulk-import queue", &catalog(&client, &full).await, &after);
    assert!(after.contains("table bulk_import_users"));
    for index in ["bulk_import_users_status_updated_at_index", "bulk_import_users_pagination_index1", "bulk_import_users_pagination_index2"] {
        assert!(after.iter().any(|l| l.starts_with(&format!("index bulk_import_users.{index} "))), "{index} missing");
    }
    // Only the newer tables were added: the seed's relations are the same ones, unchanged.
    let seed_oids_after: String = client.query_one(&seed_oids_sql, &[]).await.unwrap().get(0);
    assert_eq!(seed_oids, seed_oids_after);
    assert!(before.is_subset(&after));

    // Deleting an app deletes its queue.
    storage.add_tenant_rows(TenantKey::new("qa", "public"), 1).await.unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.bulk_import_users (id, app_id, raw_data, created_at, updated_at) VALUES ('x', 'qa', '{{}}', 1, 1)"
        ))
        .await
        .unwrap();
    let row = client.query_one(&format!("SELECT status, id FROM {schema}.bulk_import_users"), &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "NEW", "the column default");
    assert_eq!(row.get::<_, String>(1).len(), 36, "CHAR(36) pads");
    storage.delete_app_rows(portcullis_core::ids::AppKey::new("qa")).await.unwrap();
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.bulk_import_users")).await, 0, "the queue cascades with its app");
    drop(storage);
    drop_schema(&uri, &full).await;
    drop_schema(&uri, &schema).await;
}

/// A database an older Java core wrote (the seed's tables only, with the seed's indexes): the only
/// changes Portcullis makes to the seed's tables are the newer plugin's five indexes, listed in
/// docs/compatibility.md; every column, constraint and index of the seed stays as it was.
#[tokio::test]
async fn the_newer_plugins_indexes_are_the_only_additions_to_the_seeds_tables() {
    let Some(uri) = pg_uri("the_newer_plugins_indexes_are_the_only_additions_to_the_seeds_tables") else { return };
    let schema = unique("seedonly");
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    client.batch_execute(&seed_only_for(&schema)).await.unwrap();
    let before = catalog(&client, &schema).await;
    let seed_tables: Vec<String> = before.iter().filter_map(|l| l.strip_prefix("table ").map(str::to_owned)).collect();
    assert_eq!(seed_tables.len(), 35);
    for name in NEWER_INDEXES {
        assert!(!before.iter().any(|l| l.contains(name)), "the seed has no {name}");
    }

    PgStorage::connect(&config_in_schema(&uri, &schema)).await.expect("connect");
    let after = catalog(&client, &schema).await;
    assert!(before.is_subset(&after), "nothing of the seed changes");
    // What was added to the seed's tables (the newer tables aside).
    let on_seed_table = |line: &&String| {
        let object = line.split(' ').nth(1).unwrap_or_default();
        let table = object.split_once(['.', '#']).map_or(object, |(t, _)| t);
        seed_tables.iter().any(|t| t == table.trim_end_matches('.'))
    };
    let mut added: Vec<&String> = after.difference(&before).filter(on_seed_table).collect();
    added.sort();
    assert_eq!(
        added,
        [
            "index emailpassword_users.emailpassword_users_email_index CREATE INDEX emailpassword_users_email_index ON S.emailpassword_users USING btree (app_id, email)",
            "index passwordless_users.passwordless_users_email_index CREATE INDEX passwordless_users_email_index ON S.passwordless_users USING btree (app_id, email)",
            "index passwordless_users.passwordless_users_phone_number_index CREATE INDEX passwordless_users_phone_number_index ON S.passwordless_users USING btree (app_id, phone_number)",
            "index session_info.session_info_user_id_app_id_index CREATE INDEX session_info_user_id_app_id_index ON S.session_info USING btree (user_id, app_id)",
            "index user_roles.user_roles_app_id_user_id_index CREATE INDEX user_roles_app_id_user_id_index ON S.user_roles USING btree (app_id, user_id)",
        ]
    );
    // And the result is what a newer Java core creates.
    let full = unique("full");
    client.batch_execute(&format!("CREATE SCHEMA {full}")).await.unwrap();
    client.batch_execute(&seed_for(&full, "", &[])).await.unwrap();
    assert_same_catalog("seed upgraded by Portcullis", &catalog(&client, &full).await, &after);

    drop_schema(&uri, &schema).await;
    drop_schema(&uri, &full).await;
}
