//! Creates what is missing of the schema (src/schema.sql: the seed's tables; src/schema_oauth.sql: the
//! OAuth2 provider's; src/schema_bulkimport.sql: the bulk-import queue; the seed has neither;
//! src/schema_newer_indexes.sql: the newer plugin's indexes on the seed's tables) at connect time.
//!
//! Like the plugin (`GeneralQueries.createTablesIfNotExists`) we first ask the catalog what exists and
//! create only the rest: the missing tables with their indexes in one transaction (all or nothing),
//! then any missing index of a table that already existed. A database the Java core set up is used as
//! it is, and a database user without the CREATE privilege starts fine as long as the tables are there.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use portcullis_core::storage::schema_shape::{self, Mismatch};
use portcullis_core::storage::StorageError;
use tokio_postgres::error::SqlState;

use crate::connect::describe;
use crate::db::Db;
use crate::names::Names;

/// The templates, in creation order: the seed's tables, then the newer tables beside them, then the
/// newer plugin's indexes on the seed's tables.
const TEMPLATES: [&str; 4] = [
    include_str!("schema.sql"),
    include_str!("schema_oauth.sql"),
    include_str!("schema_bulkimport.sql"),
    include_str!("schema_newer_indexes.sql"),
];

/// DDL waits behind other sessions' locks and may build indexes on large tables: it gets longer than
/// ordinary statements, but still a bound.
const DDL_TIMEOUT: Duration = Duration::from_secs(300);

/// Two instances starting at once may both find a table missing; the loser of the race sees
/// "already exists" and simply looks again.
const MAX_RACE_RETRIES: u32 = 3;

/// One table of the template: its CREATE TABLE and its indexes, rendered for the configured names.
#[derive(Debug)]
pub struct TableDdl {
    pub base: String,
    pub create: String,
    pub indexes: Vec<IndexDdl>,
}

#[derive(Debug)]
pub struct IndexDdl {
    pub name: String,
    pub create: String,
}

/// The table names the template defines, in creation order.
pub fn table_bases() -> Vec<String> {
    statements().iter().filter_map(|s| table_of_create(s).map(str::to_owned)).collect()
}

/// The templates' statements, without comment lines.
fn statements() -> Vec<String> {
    TEMPLATES
        .iter()
        .flat_map(|t| t.split(";\n"))
        .map(|s| {
            s.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n").trim().to_owned()
        })
        .filter(|s| !s.trim().is_empty())
        .collect()
}

fn table_of_create(stmt: &str) -> Option<&str> {
    let rest = stmt.trim().strip_prefix("CREATE TABLE IF NOT EXISTS {t:")?;
    rest.split_once('}').map(|(name, _)| name)
}

/// `CREATE INDEX IF NOT EXISTS <name> ON {t:<table>} ...` → (name, table).
fn index_of_create(stmt: &str) -> Option<(&str, &str)> {
    let rest = stmt.trim().strip_prefix("CREATE INDEX IF NOT EXISTS ")?;
    let (name, rest) = rest.split_once(' ')?;
    let table = rest.strip_prefix("ON {t:")?.split_once('}')?.0;
    Some((name, table))
}

/// Replaces `{t:NAME}`, `{c:NAME:REST}` and `{p:NAME}` placeholders.
fn render(stmt: &str, names: &Names) -> Result<String, String> {
    let mut out = String::with_capacity(stmt.len() + 64);
    let mut rest = stmt;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('}').ok_or_else(|| format!("unclosed placeholder in: {stmt}"))?;
        let placeholder = &after[..end];
        match placeholder.split(':').collect::<Vec<_>>().as_slice() {
            ["t", table] => out.push_str(names.table(table)?),
            ["c", table, suffix] => out.push_str(&names.constraint(table, suffix)?),
            ["p", name] => out.push_str(&names.literal_constraint(name)),
            _ => return Err(format!("unknown placeholder {{{placeholder}}}")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The whole schema rendered for `names` (which must know every table of the template).
pub fn render_all(names: &Names) -> Result<Vec<TableDdl>, String> {
    let mut tables: Vec<TableDdl> = Vec::new();
    for stmt in statements() {
        let stmt = stmt.as_str();
        if let Some(base) = table_of_create(stmt) {
            tables.push(TableDdl { base: base.to_owned(), create: render(stmt, names)?, indexes: vec![] });
        } else if let Some((name, base)) = index_of_create(stmt) {
            let table = tables
                .iter_mut()
                .find(|t| t.base == base)
                .ok_or_else(|| format!("index {name} comes before its table {base}"))?;
            table.indexes.push(IndexDdl { name: name.to_owned(), create: render(stmt, names)? });
        } else {
            return Err(format!("unexpected statement in schema.sql: {stmt}"));
        }
    }
    Ok(tables)
}

/// What the catalog lacks.
#[derive(Default)]
struct Plan {
    /// Existing tables without columns of the schema: the database is refused, nothing is created.
    mismatches: Vec<Mismatch>,
    create_schema: bool,
    /// The missing tables (catalog names), for messages.
    tables: Vec<String>,
    /// CREATE TABLE for each missing table, each followed by its indexes.
    table_statements: Vec<String>,
    /// Missing indexes of tables that exist.
    index_statements: Vec<String>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        !self.create_schema && self.table_statements.is_empty() && self.index_statements.is_empty()
    }
}

async fn plan(client: &tokio_postgres::Client, names: &Names, ddl: &[TableDdl]) -> Result<Plan, tokio_postgres::Error> {
    let schema = names.schema();
    // Unnamed statements with the type given: no prepared statement, so this works behind a
    // transaction pooler too.
    let name = [(&schema as &(dyn tokio_postgres::types::ToSql + Sync), tokio_postgres::types::Type::NAME)];
    let schema_exists = client.query_typed_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &name).await?.is_some();
    let tables: HashSet<String> = client
        .query_typed("SELECT tablename::text FROM pg_tables WHERE schemaname = $1", &name)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Index names are unique per schema, whatever table holds them (the plugin does not prefix them).
    let indexes: HashSet<String> = client
        .query_typed("SELECT indexname::text FROM pg_indexes WHERE schemaname = $1", &name)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut columns: HashMap<String, HashSet<String>> = HashMap::new();
    if !tables.is_empty() {
        let rows = client
            .query(
                "SELECT c.relname::text, a.attname::text FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped",
                &[&schema],
            )
            .await?;
        for r in rows {
            columns.entry(r.get(0)).or_default().insert(r.get(1));
        }
    }
    let expected = schema_shape::expected_columns(&TEMPLATES.concat());
    let mismatches = schema_shape::mismatches(&expected, &columns, |base| names.bare(base).unwrap_or(base).to_owned());
    let mut plan = Plan { create_schema: !schema_exists, mismatches, ..Plan::default() };
    for t in ddl {
        // `bare` is known for every rendered table, so this lookup cannot fail.
        let bare = names.bare(&t.base).unwrap_or_default();
        let table_missing = !tables.contains(bare);
        if table_missing {
            plan.tables.push(bare.to_owned());
            plan.table_statements.push(t.create.clone());
        }
        for i in t.indexes.iter().filter(|i| !indexes.contains(&i.name)) {
            let target = if table_missing { &mut plan.table_statements } else { &mut plan.index_statements };
            target.push(i.create.clone());
        }
    }
    Ok(plan)
}

/// Creates the schema, tables and indexes that do not exist yet: the missing tables (with their
/// indexes) all or nothing in one transaction, then missing indexes of existing tables, which only
/// the tables' owner may add — a user that cannot is warned about, not stopped.
pub async fn ensure(db: &Db, names: &Names) -> Result<(), StorageError> {
    let ddl = render_all(names).map_err(StorageError::Query)?;
    let mut client = db.client().await?;
    let mut races = 0;
    loop {
        let plan = plan(&client, names, &ddl).await.map_err(|e| db.query_error(&e))?;
        if !plan.mismatches.is_empty() {
            return Err(StorageError::Query(format!(
                "schema '{}' was written by a SuperTokens core older than {} (tables lacking columns: {}): \
                 upgrade it first; nothing was changed. If these tables belong to another program, \
                 choose another postgresql_table_schema or postgresql_table_names_prefix.",
                names.schema(),
                schema_shape::OLDEST_SUPPORTED_CORE,
                schema_shape::describe(&plan.mismatches)
            )));
        }
        if plan.is_empty() {
            return Ok(());
        }
        let result = match apply_tables(&mut client, names, &plan).await {
            Ok(()) => apply_statements(&mut client, &plan.index_statements).await.map_err(|e| (e, false)),
            Err(e) => Err((e, true)),
        };
        match result {
            Ok(()) => {
                if !plan.tables.is_empty() {
                    tracing::info!(schema = names.schema(), tables = ?plan.tables, "created the missing tables");
                }
                return Ok(());
            }
            Err((e, _)) if is_creation_race(&e) && races < MAX_RACE_RETRIES => races += 1,
            Err((e, false)) if is_permission_denied(&e) => {
                tracing::warn!(
                    schema = names.schema(),
                    "some indexes of existing tables are missing and this database user may not create them: {}",
                    describe(&e)
                );
                return Ok(());
            }
            Err((e, true)) if is_permission_denied(&e) => {
                return Err(StorageError::Query(format!(
                    "the database user may not create what is missing in schema '{}' (tables: {}): {}; \
                     create the tables with a privileged user or grant CREATE",
                    names.schema(),
                    plan.tables.join(", "),
                    describe(&e)
                )))
            }
            Err((e, _)) => {
                return Err(match db.query_error(&e) {
                    StorageError::Query(m) => StorageError::Query(format!("cannot create the schema: {m}")),
                    other => other,
                })
            }
        }
    }
}

async fn apply_tables(
    client: &mut deadpool::managed::Object<crate::connect::Manager>,
    names: &Names,
    plan: &Plan,
) -> Result<(), tokio_postgres::Error> {
    let mut statements = Vec::with_capacity(plan.table_statements.len() + 1);
    if plan.create_schema {
        statements.push(format!("CREATE SCHEMA IF NOT EXISTS {}", names.schema()));
    }
    statements.extend(plan.table_statements.iter().cloned());
    apply_statements(client, &statements).await
}

/// Runs DDL statements in one transaction (PostgreSQL's DDL is transactional: all or nothing).
async fn apply_statements(
    client: &mut deadpool::managed::Object<crate::connect::Manager>,
    statements: &[String],
) -> Result<(), tokio_postgres::Error> {
    if statements.is_empty() {
        return Ok(());
    }
    let tx = client.transaction().await?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = {}", DDL_TIMEOUT.as_millis())).await?;
    for stmt in statements {
        tx.batch_execute(stmt).await?;
    }
    tx.commit().await
}

fn is_creation_race(e: &tokio_postgres::Error) -> bool {
    // duplicate_table / duplicate_object, or the unique index of pg_type / pg_namespace when two
    // sessions create the same relation or schema at the same moment.
    e.code().is_some_and(|c| {
        *c == SqlState::DUPLICATE_TABLE
            || *c == SqlState::DUPLICATE_OBJECT
            || *c == SqlState::DUPLICATE_SCHEMA
            || *c == SqlState::UNIQUE_VIOLATION
    })
}

fn is_permission_denied(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::INSUFFICIENT_PRIVILEGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(schema: &str, prefix: &str) -> Names {
        let mut n = Names::new(schema, prefix, &[]).unwrap();
        for t in table_bases() {
            n.add_table(&t).unwrap();
        }
        n
    }

    /// The indexes beyond the seed's DDL on the seed's tables (docs/compatibility.md lists them).
    const NEWER_INDEXES: [(&str, &str); 5] = [
        ("emailpassword_users_email_index", "emailpassword_users"),
        ("passwordless_users_email_index", "passwordless_users"),
        ("passwordless_users_phone_number_index", "passwordless_users"),
        ("user_roles_app_id_user_id_index", "user_roles"),
        ("session_info_user_id_app_id_index", "session_info"),
    ];

    #[test]
    fn the_template_has_every_table_and_index_of_the_seed_and_webauthn() {
        let ddl = render_all(&names("public", "")).unwrap();
        // The seed's 35 tables and 49 indexes, then the 3 SAML tables, the plugin's 5 WebAuthn
        // tables and Portcullis's own counter table (schema.sql), then the OAuth provider's
        // (schema_oauth.sql), then the bulk-import queue.
        assert_eq!(ddl.len(), 35 + 3 + 5 + 1 + 8 + 1);
        let (seed, rest) = ddl.split_at(35);
        let (saml, rest) = rest.split_at(3);
        let (webauthn, rest) = rest.split_at(5);
        let (own, rest) = rest.split_at(1);
        assert_eq!((own[0].base.as_str(), own[0].indexes.len()), ("portcullis_rate_limits", 1));
        let (oauth, queue) = rest.split_at(8);
        // The seed's 49 indexes, and the 5 the newer plugin adds to the seed's tables
        // (schema_newer_indexes.sql), which come after the seed's own.
        assert_eq!(seed.iter().map(|t| t.indexes.len()).sum::<usize>(), 49 + NEWER_INDEXES.len());
        for (name, table) in NEWER_INDEXES {
            let t = seed.iter().find(|t| t.base == table).unwrap();
            assert!(t.indexes.iter().any(|i| i.name == name), "{name} on {table}");
        }
        assert_eq!(seed[0].base, "apps");
        assert!(seed.iter().all(|t| !t.base.starts_with("oauth_") && !t.base.starts_with("saml_") && !t.base.starts_with("webauthn_") && !t.base.starts_with("portcullis_")));
        assert_eq!(saml.iter().map(|t| t.base.as_str()).collect::<Vec<_>>(), ["saml_clients", "saml_relay_state", "saml_claims"]);
        assert_eq!(saml.iter().map(|t| t.indexes.len()).sum::<usize>(), 5);
        assert_eq!(
            webauthn.iter().map(|t| t.base.as_str()).collect::<Vec<_>>(),
            ["webauthn_users", "webauthn_user_to_tenant", "webauthn_generated_options", "webauthn_credentials", "webauthn_account_recovery_tokens"]
        );
        assert_eq!(webauthn.iter().map(|t| t.indexes.len()).sum::<usize>(), 6);
        // The OAuth provider's: the plugin's four, and the provider's own four.
        let bases: Vec<&str> = oauth.iter().map(|t| t.base.as_str()).collect();
        assert_eq!(
            bases,
            [
                "oauth_clients",
                "oauth_sessions",
                "oauth_m2m_tokens",
                "oauth_logout_challenges",
                "oauth_client_configs",
                "oauth_flows",
                "oauth_grants",
                "oauth_consents"
            ]
        );
        assert_eq!(oauth.iter().map(|t| t.indexes.len()).sum::<usize>(), 10);
        // Then the bulk-import queue (schema_bulkimport.sql) with its three indexes.
        assert_eq!(queue.iter().map(|t| t.base.as_str()).collect::<Vec<_>>(), ["bulk_import_users"]);
        assert_eq!(queue[0].indexes.len(), 3);
        for t in &ddl {
            assert!(!t.create.contains('{'), "unrendered placeholder in {}", t.create);
        }
    }

    #[test]
    fn every_table_of_the_template_has_its_columns_listed() {
        let expected = schema_shape::expected_columns(&TEMPLATES.concat());
        assert_eq!(expected.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>(), table_bases());
        let session = &expected.iter().find(|(t, _)| t == "session_info").unwrap().1;
        assert_eq!(session.len(), 10);
        assert!(session.contains(&"app_id".to_owned()) && session.contains(&"use_static_key".to_owned()));
        assert!(expected.iter().all(|(_, cs)| !cs.is_empty() && cs.iter().all(|c| !c.contains('{'))));
    }

    #[test]
    fn rendering_uses_schema_prefix_and_java_constraint_names() {
        let ddl = render_all(&names("auth", "st")).unwrap();
        let tenants = ddl.iter().find(|t| t.base == "tenants").unwrap();
        assert!(tenants.create.starts_with("CREATE TABLE IF NOT EXISTS auth.st_tenants ("), "{}", tenants.create);
        assert!(tenants.create.contains("CONSTRAINT st_tenants_pkey PRIMARY KEY (app_id, tenant_id)"));
        assert!(tenants.create.contains(
            "CONSTRAINT st_tenants_app_id_fkey FOREIGN KEY (app_id) REFERENCES auth.st_apps (app_id) ON DELETE CASCADE"
        ));
        assert_eq!(tenants.indexes[0].name, "tenants_app_id_index");
        assert_eq!(
            tenants.indexes[0].create,
            "CREATE INDEX IF NOT EXISTS tenants_app_id_index ON auth.st_tenants (app_id)"
        );
        // The two recovery-token constraints the plugin names literally get the prefix here, so
        // that several prefixes can share a schema; without a prefix they are the plugin's names.
        let tokens = ddl.iter().find(|t| t.base == "webauthn_account_recovery_tokens").unwrap();
        assert!(tokens.create.starts_with("CREATE TABLE IF NOT EXISTS auth.st_webauthn_account_recovery_tokens ("));
        assert!(tokens.create.contains("CONSTRAINT st_webauthn_account_recovery_token_pkey PRIMARY KEY"));
        assert!(tokens.create.contains("REFERENCES auth.st_app_id_to_user_id (app_id, user_id) ON DELETE CASCADE ON UPDATE CASCADE"));
        let plain = render_all(&names("public", "")).unwrap();
        let tokens = plain.iter().find(|t| t.base == "webauthn_account_recovery_tokens").unwrap();
        assert!(tokens.create.contains("CONSTRAINT webauthn_account_recovery_token_pkey PRIMARY KEY"));
        assert!(tokens.create.contains("CONSTRAINT webauthn_account_recovery_token_user_id_fkey FOREIGN KEY"));
        let credentials = ddl.iter().find(|t| t.base == "webauthn_credentials").unwrap();
        assert!(credentials.create.contains("CONSTRAINT st_webauthn_credentials_user_id_fkey FOREIGN KEY (app_id, user_id) REFERENCES auth.st_webauthn_users"));
        let sessions = ddl.iter().find(|t| t.base == "oauth_sessions").unwrap();
        assert!(sessions.create.starts_with("CREATE TABLE IF NOT EXISTS auth.st_oauth_sessions ("));
        assert!(sessions.create.contains(
            "CONSTRAINT st_oauth_sessions_client_id_fkey FOREIGN KEY (app_id, client_id) REFERENCES auth.st_oauth_clients (app_id, client_id) ON DELETE CASCADE"
        ));
        assert_eq!(sessions.indexes[0].name, "oauth_session_exp_index");
        let flows = ddl.iter().find(|t| t.base == "oauth_flows").unwrap();
        assert!(flows.create.contains("CONSTRAINT st_oauth_flows_code_hash_key UNIQUE (app_id, code_hash)"));
        // The queue: prefixed table and constraints, index names as the plugin writes them.
        let queue = ddl.iter().find(|t| t.base == "bulk_import_users").unwrap();
        assert!(queue.create.starts_with("CREATE TABLE IF NOT EXISTS auth.st_bulk_import_users ("), "{}", queue.create);
        assert!(queue.create.contains("CONSTRAINT st_bulk_import_users_pkey PRIMARY KEY (app_id, id)"));
        assert!(queue.create.contains(
            "CONSTRAINT st_bulk_import_users_app_id_fkey FOREIGN KEY (app_id) REFERENCES auth.st_apps (app_id) ON DELETE CASCADE"
        ));
        let roles = ddl.iter().find(|t| t.base == "user_roles").unwrap();
        assert_eq!(
            roles.indexes.last().unwrap().create,
            "CREATE INDEX IF NOT EXISTS user_roles_app_id_user_id_index ON auth.st_user_roles (app_id, user_id)"
        );
        assert_eq!(
            queue.indexes[1].create,
            "CREATE INDEX IF NOT EXISTS bulk_import_users_pagination_index1 ON auth.st_bulk_import_users (app_id, status, created_at DESC, id DESC)"
        );
    }
}
