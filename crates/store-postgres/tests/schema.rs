//! The schema PgStorage creates is the seed's (SuperTokens' documented DDL) plus the tables beside it
//! (the newer plugin's bulk-import queue), to every column, type, default, constraint and index, in
//! the default schema, in a custom schema and with a prefix; a schema that already exists is used
//! as it is, and one from before the newer tables gets them added.

mod common;

use common::*;
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
    seed.batch_execute(SEED_SQL).await.expect("apply the seed");
    seed.batch_execute(BULK_IMPORT_SQL).await.expect("apply the bulk-import queue");
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
    storage.add_tenant_rows("public", "public", 1).await.unwrap();
    storage.key_value_insert_if_absent("public", "public", "k", "v", 1).await.unwrap();
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
            "DROP TABLE {schema}.totp_used_codes; DROP INDEX {schema}.session_expiry_index; DROP TABLE {schema}.user_roles"
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
    storage.add_tenant_rows("public", "public", 1).await.unwrap();
    assert_eq!(storage.key_value_insert_if_absent("public", "public", "k", "v", 1).await.unwrap(), "v");

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
async fn the_bulk_import_queue_is_added_beside_an_existing_seed_schema() {
    let Some(uri) = pg_uri("the_bulk_import_queue_is_added_beside_an_existing_seed_schema") else { return };
    let (full, schema) = (unique("full"), unique("prebulk"));
    let client = admin(&uri).await;
    client.batch_execute(&format!("CREATE SCHEMA {full}; CREATE SCHEMA {schema}")).await.unwrap();
    client.batch_execute(&seed_for(&full, "", &[])).await.unwrap();
    // A database written before the queue existed (a Java core 9.x, or Portcullis before it).
    client.batch_execute(&seed_only_for(&schema)).await.unwrap();
    let seed_oids_sql = format!(
        "SELECT string_agg(c.oid::text, ',' ORDER BY c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = '{schema}' AND c.relname NOT LIKE 'bulk_import%'"
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
    // Only the queue was added: the seed's relations are the same ones, unchanged.
    let seed_oids_after: String = client.query_one(&seed_oids_sql, &[]).await.unwrap().get(0);
    assert_eq!(seed_oids, seed_oids_after);
    assert!(before.is_subset(&after));

    // Deleting an app deletes its queue.
    storage.add_tenant_rows("qa", "public", 1).await.unwrap();
    client
        .batch_execute(&format!(
            "INSERT INTO {schema}.bulk_import_users (id, app_id, raw_data, created_at, updated_at) VALUES ('x', 'qa', '{{}}', 1, 1)"
        ))
        .await
        .unwrap();
    let row = client.query_one(&format!("SELECT status, id FROM {schema}.bulk_import_users"), &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "NEW", "the column default");
    assert_eq!(row.get::<_, String>(1).len(), 36, "CHAR(36) pads");
    storage.delete_app_rows("qa").await.unwrap();
    assert_eq!(count(&client, &format!("SELECT count(*) FROM {schema}.bulk_import_users")).await, 0, "the queue cascades with its app");
    drop(storage);
    drop_schema(&uri, &full).await;
    drop_schema(&uri, &schema).await;
}
