//! Helpers for the tests against a real PostgreSQL (PORTCULLIS_TEST_PG_URI, set by
//! scripts/with-postgres.sh). Each test works in its own schema, database or role, named at random.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};

use portcullis_core::config::{Config, Sources};
use serde_json::Value;

/// The seed's DDL, verbatim: the schema as the SuperTokens docs give it.
pub const SEED_SQL: &str = include_str!("../fixtures/seed_schema.sql");

/// The tables a newer SuperTokens plugin adds that Portcullis creates too (SAML), as the plugin's
/// `SAMLQueries` creates them, in the seed's notation.
pub const NEWER_SQL: &str = include_str!("../fixtures/newer_plugin_tables.sql");

/// The newer plugin's WebAuthn tables (not in the seed), written as its DDL creates them
/// (`WebAuthNQueries.getQueryToCreate*`), in the seed's style.
pub const WEBAUTHN_SQL: &str = include_str!("../fixtures/webauthn_schema.sql");

/// The OAuth tables beside the seed's, in plain DDL: the newer plugin's four and the provider's own.
pub const OAUTH_SQL: &str = include_str!("../fixtures/oauth_schema.sql");

/// Portcullis's own tables (the brute-force counters), in the seed's style.
pub const PORTCULLIS_SQL: &str = include_str!("../fixtures/portcullis_tables.sql");
/// The newer plugin's bulk-import queue, in plain DDL.
pub const BULK_IMPORT_SQL: &str = include_str!("../fixtures/bulkimport_schema.sql");

/// The indexes the newer plugin adds to the seed's tables, as its queries write them: the only things
/// Portcullis adds to the seed's tables (docs/compatibility.md).
pub const NEWER_INDEXES_SQL: &str = include_str!("../fixtures/newer_plugin_indexes.sql");

/// The names of those indexes.
pub const NEWER_INDEXES: [&str; 5] = [
    "emailpassword_users_email_index",
    "passwordless_users_email_index",
    "passwordless_users_phone_number_index",
    "user_roles_app_id_user_id_index",
    "session_info_user_id_app_id_index",
];

/// `'a', 'b', ...`: the newer indexes' names, for `relname NOT IN (...)`.
pub fn newer_index_list() -> String {
    NEWER_INDEXES.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// What Portcullis creates in `public`: the seed's tables, then the newer plugin's SAML and WebAuthn
/// tables, then the OAuth ones, then the bulk-import queue, then the newer plugin's indexes on the
/// seed's tables.
pub fn plugin_sql() -> String {
    format!("{SEED_SQL}\n{NEWER_SQL}\n{WEBAUTHN_SQL}\n{PORTCULLIS_SQL}\n{OAUTH_SQL}\n{BULK_IMPORT_SQL}\n{NEWER_INDEXES_SQL}")
}

/// The server to test against, or `None` (then the test prints why it skips, and passes).
pub fn pg_uri(test: &str) -> Option<String> {
    match std::env::var("PORTCULLIS_TEST_PG_URI") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            // Straight to stderr: the test harness would swallow eprintln! of a passing test.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipping {test}: PORTCULLIS_TEST_PG_URI is not set (run through scripts/with-postgres.sh)"
            );
            None
        }
    }
}

/// A fresh lower-case identifier starting with `prefix`.
pub fn unique(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u32(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{prefix}_{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// A config pointing at `uri`, with more keys laid over it (as a tenant's coreConfig would).
pub fn config(uri: &str, extra: Value) -> Config {
    let mut map = extra.as_object().cloned().unwrap_or_default();
    map.insert("postgresql_connection_uri".into(), Value::String(uri.to_owned()));
    Config::defaults().overlay(&map).expect("test config")
}

/// A base config (config.yaml-style), for keys that only the base config may set.
pub fn base_config(yaml: &str) -> Config {
    let no_env = |_: &str| None;
    Config::load(Sources { yaml: Some(yaml), env: &no_env, overrides: vec![] }).expect("test config").0
}

pub fn config_in_schema(uri: &str, schema: &str) -> Config {
    config(uri, serde_json::json!({ "postgresql_table_schema": schema }))
}

/// A plain connection for setting up and inspecting.
pub async fn admin(uri: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(uri, tokio_postgres::NoTls).await.expect("admin connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// `uri` with its database replaced.
pub fn with_database(uri: &str, db: &str) -> String {
    let (base, query) = match uri.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (uri, String::new()),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{base}/{db}{query}")
}

/// A user name in `uri` replaced (or added).
pub fn with_user(uri: &str, user: &str) -> String {
    let (scheme, rest) = uri.split_once("://").expect("uri scheme");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    format!("{scheme}://{user}@{rest}")
}

/// A new, empty database; returns its name and URI.
pub async fn create_database(uri: &str) -> (String, String) {
    let name = unique("ptest_db");
    admin(uri).await.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
    let db_uri = with_database(uri, &name);
    (name, db_uri)
}

pub async fn drop_database(uri: &str, name: &str) {
    let _ = admin(uri).await.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}

pub async fn drop_schema(uri: &str, schema: &str) {
    let _ = admin(uri).await.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
}

pub async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

/// DDL rewritten for a schema, a prefix and table-name overrides, the way the Java plugin names
/// things: tables `<prefix>_<table>` (or the override), constraints named after their table's new
/// name, index names unchanged, foreign keys pointing at `<schema>.<new name>`. The two
/// recovery-token constraints the plugin names literally get `<prefix>_` in front (Portcullis's
/// one deviation in names, so that several prefixes can share a schema).
pub fn ddl_for(sql: &str, schema: &str, prefix: &str, overrides: &[(&str, &str)]) -> String {
    let rename = |table: &str| -> String {
        if let Some((_, o)) = overrides.iter().find(|(t, _)| *t == table) {
            return (*o).to_owned();
        }
        if prefix.is_empty() {
            table.to_owned()
        } else {
            format!("{prefix}_{table}")
        }
    };
    let ident_end = |s: &str| s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    let mut out = format!("SET search_path = {schema};\n");
    let mut table = String::new();
    for line in sql.lines() {
        let mut line = line.to_owned();
        if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            table = rest[..ident_end(rest)].to_owned();
            line = format!("CREATE TABLE {}{}", rename(&table), &rest[table.len()..]);
        }
        if let Some(rest) = line.strip_prefix("CONSTRAINT ") {
            let name = &rest[..ident_end(rest)];
            if name.starts_with("webauthn_account_recovery_token_") {
                let prefixed = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}_{name}") };
                line = format!("CONSTRAINT {prefixed}{}", &rest[name.len()..]);
            } else {
                let suffix = name.strip_prefix(table.as_str()).expect("constraint names start with their table's name");
                line = format!("CONSTRAINT {}{suffix}{}", rename(&table), &rest[name.len()..]);
            }
        }
        if let Some(i) = line.find("REFERENCES ") {
            let rest = &line[i + "REFERENCES ".len()..];
            let rest = rest.strip_prefix("public.").unwrap_or(rest);
            let parent = &rest[..ident_end(rest)];
            line = format!("{}REFERENCES {schema}.{}{}", &line[..i], rename(parent), &rest[parent.len()..]);
        }
        if line.starts_with("CREATE INDEX ") {
            let on = line.find(" ON ").expect("index ON") + 4;
            let rest = &line[on..];
            let t = &rest[..ident_end(rest)];
            line = format!("{}{}{}", &line[..on], rename(t), &rest[t.len()..]);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Everything Portcullis creates, for a schema, prefix and overrides: the seed's tables and the OAuth
/// tables beside them (a database a Java core with the newer plugin set up looks the same).
pub fn seed_for(schema: &str, prefix: &str, overrides: &[(&str, &str)]) -> String {
    ddl_for(&plugin_sql(), schema, prefix, overrides)
}

/// The seed's tables alone: a database of a core older than the newer tables (SAML, OAuth).
pub fn seed_only_for(schema: &str) -> String {
    ddl_for(SEED_SQL, schema, "", &[])
}

/// Everything about a schema that must match the seed, as comparable lines, with the schema's name
/// replaced by `S`.
pub async fn catalog(client: &tokio_postgres::Client, schema: &str) -> BTreeSet<String> {
    // With only pg_catalog on the path, every reference is printed schema-qualified, then normalised.
    client.batch_execute("SET search_path = pg_catalog").await.expect("search_path");
    let norm = |s: String| s.replace(&format!("{schema}."), "S.");
    let mut out = BTreeSet::new();
    let tables =
        client.query("SELECT tablename::text FROM pg_tables WHERE schemaname = $1", &[&schema]).await.expect("tables");
    for r in tables {
        out.insert(format!("table {}", r.get::<_, String>(0)));
    }
    let columns = client
        .query(
            "SELECT c.relname::text, a.attnum::int, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    pg_get_expr(d.adbin, d.adrelid)
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped",
            &[&schema],
        )
        .await
        .expect("columns");
    for r in columns {
        out.insert(norm(format!(
            "column {}.#{} {} {}{} default {:?}",
            r.get::<_, String>(0),
            r.get::<_, i32>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3),
            if r.get::<_, bool>(4) { " NOT NULL" } else { "" },
            r.get::<_, Option<String>>(5)
        )));
    }
    let constraints = client
        .query(
            "SELECT c.relname::text, co.conname::text, co.contype::text, pg_get_constraintdef(co.oid)
             FROM pg_constraint co
             JOIN pg_class c ON c.oid = co.conrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1",
            &[&schema],
        )
        .await
        .expect("constraints");
    for r in constraints {
        out.insert(norm(format!(
            "constraint {}.{} ({}) {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3)
        )));
    }
    let indexes = client
        .query("SELECT tablename::text, indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1", &[&schema])
        .await
        .expect("indexes");
    for r in indexes {
        out.insert(norm(format!(
            "index {}.{} {}",
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2)
        )));
    }
    client.batch_execute("RESET search_path").await.expect("search_path");
    out
}

/// Asserts two catalogs are equal, listing the differences.
pub fn assert_same_catalog(what: &str, expected: &BTreeSet<String>, actual: &BTreeSet<String>) {
    let missing: Vec<_> = expected.difference(actual).collect();
    let extra: Vec<_> = actual.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: the schema differs from the seed\n  missing: {missing:#?}\n  unexpected: {extra:#?}"
    );
    assert!(expected.len() > 300, "{what}: suspiciously small catalog ({} lines)", expected.len());
}
