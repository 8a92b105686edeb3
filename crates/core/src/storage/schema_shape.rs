//! Checking a database's existing tables before writing to it: every table of the schema that
//! already exists must have every column the schema gives it. A table lacking columns was written
//! by an older SuperTokens core (for example `session_info` without `app_id`, from before
//! multitenancy) or belongs to another program; either way creating the missing tables next to it
//! and then failing would leave a half-migrated database, so the adapters refuse before writing.
//!
//! The columns come from the adapters' schema.sql files, one column per line inside
//! `CREATE TABLE IF NOT EXISTS <table> (` … `);`, as both files are written.

use std::collections::{HashMap, HashSet};

/// The oldest SuperTokens core whose PostgreSQL schema is the seed's (PostgreSQL plugin 7.0: the
/// first with `totp_user_devices.created_at`). Databases of newer cores add tables and columns,
/// which Portcullis leaves alone.
pub const OLDEST_SUPPORTED_CORE: &str = "9.0";

/// Each table of `ddl` (by its name as written: `{t:NAME}` placeholders give `NAME`) with its columns.
pub fn expected_columns(ddl: &str) -> Vec<(String, Vec<String>)> {
    let mut tables = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in ddl.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("CREATE TABLE IF NOT EXISTS ") {
            let name = rest.trim_end_matches('(').trim();
            let name = name.strip_prefix("{t:").and_then(|n| n.strip_suffix('}')).unwrap_or(name);
            current = Some((name.to_owned(), Vec::new()));
        } else if line.starts_with(")") {
            tables.extend(current.take());
        } else if let Some((_, columns)) = current.as_mut() {
            let first = line.split_whitespace().next().unwrap_or("");
            let is_column = !first.is_empty()
                && !first.starts_with("--")
                && !["CONSTRAINT", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK"].contains(&first.to_ascii_uppercase().as_str());
            if is_column {
                columns.push(first.to_owned());
            }
        }
    }
    tables
}

/// A table that exists but lacks columns the schema gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub table: String,
    pub missing: Vec<String>,
}

/// The existing tables (`found`: table name → its columns, names as the database reports them)
/// that lack columns of `expected`. `name_of` maps a schema table to its name in the database
/// (prefixes, custom names). Tables that do not exist yet are not mismatches: they get created.
pub fn mismatches(
    expected: &[(String, Vec<String>)],
    found: &HashMap<String, HashSet<String>>,
    name_of: impl Fn(&str) -> String,
) -> Vec<Mismatch> {
    expected
        .iter()
        .filter_map(|(table, columns)| {
            let name = name_of(table);
            let have = found.get(&name)?;
            let missing: Vec<String> = columns.iter().filter(|c| !have.contains(c.as_str())).cloned().collect();
            (!missing.is_empty()).then_some(Mismatch { table: name, missing })
        })
        .collect()
}

/// `session_info (app_id, tenant_id), key_value (app_id)`, for messages.
pub fn describe(mismatches: &[Mismatch]) -> String {
    mismatches.iter().map(|m| format!("{} ({})", m.table, m.missing.join(", "))).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DDL: &str = "-- a comment\nCREATE TABLE IF NOT EXISTS {t:session_info} (\napp_id VARCHAR(64) DEFAULT 'public' NOT NULL,\n\
        session_handle VARCHAR(255) NOT NULL,\nCONSTRAINT {c:session_info:pkey} PRIMARY KEY (app_id, session_handle)\n);\n\n\
        CREATE INDEX IF NOT EXISTS x ON {t:session_info} (app_id);\n\nCREATE TABLE IF NOT EXISTS apps (\napp_id VARCHAR(64),\n\
        created_at_time BIGINT,\nCONSTRAINT apps_pkey PRIMARY KEY (app_id)\n);\n";

    fn found(tables: &[(&str, &[&str])]) -> HashMap<String, HashSet<String>> {
        tables.iter().map(|(t, cs)| (t.to_string(), cs.iter().map(|c| c.to_string()).collect())).collect()
    }

    #[test]
    fn columns_are_read_from_both_template_and_plain_ddl() {
        let cols = expected_columns(DDL);
        assert_eq!(
            cols,
            vec![
                ("session_info".to_owned(), vec!["app_id".to_owned(), "session_handle".to_owned()]),
                ("apps".to_owned(), vec!["app_id".to_owned(), "created_at_time".to_owned()]),
            ]
        );
    }

    #[test]
    fn only_existing_tables_lacking_columns_are_mismatches() {
        let expected = expected_columns(DDL);
        let prefixed = |t: &str| format!("st_{t}");
        assert!(mismatches(&expected, &found(&[]), prefixed).is_empty(), "an empty database is fine");
        let ok = found(&[("st_apps", &["app_id", "created_at_time", "extra_from_a_newer_core"])]);
        assert!(mismatches(&expected, &ok, prefixed).is_empty(), "extra columns are fine");
        let old = found(&[("st_session_info", &["session_handle", "user_id"]), ("st_apps", &["app_id", "created_at_time"])]);
        let m = mismatches(&expected, &old, prefixed);
        assert_eq!(m, vec![Mismatch { table: "st_session_info".into(), missing: vec!["app_id".into()] }]);
        assert_eq!(describe(&m), "st_session_info (app_id)");
    }
}
