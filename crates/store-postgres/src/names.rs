//! Table and constraint names, computed the way the SuperTokens PostgreSQL plugin computes them
//! (`PostgreSQLConfig.addSchemaAndPrefixToTableName`, `Utils.getConstraintName`), so that the tables we
//! create are the tables the Java core would have created, and the other way round.
//!
//! Identifiers are written unquoted, as the plugin writes them: PostgreSQL folds them to lower case,
//! so the names we look up in the catalog are lower-cased too.

use std::collections::HashMap;

use portcullis_core::config::Key;

/// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1); we refuse them instead, since a
/// truncated table name would never be found in the catalog.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// The tables whose names the plugin lets a config key replace (the replacement gets no prefix).
pub const TABLE_NAME_OVERRIDES: [(&str, Key); 7] = [
    ("key_value", Key::postgresql_key_value_table_name),
    ("session_info", Key::postgresql_session_info_table_name),
    ("emailpassword_users", Key::postgresql_emailpassword_users_table_name),
    ("emailpassword_pswd_reset_tokens", Key::postgresql_emailpassword_pswd_reset_tokens_table_name),
    ("emailverification_tokens", Key::postgresql_emailverification_tokens_table_name),
    ("emailverification_verified_emails", Key::postgresql_emailverification_verified_emails_table_name),
    ("thirdparty_users", Key::postgresql_thirdparty_users_table_name),
];

/// Checks a schema, prefix or table name from the configuration. Names are pasted into SQL (they
/// cannot be bound as parameters), so only plain identifiers are accepted.
pub fn check_identifier(key: &str, value: &str) -> Result<(), String> {
    let mut bytes = value.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "'{key}' must be a plain identifier (letters, digits and '_', not starting with a digit), got {value:?}"
        ));
    }
    if value.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!("'{key}' is longer than {MAX_IDENTIFIER_BYTES} characters"));
    }
    Ok(())
}

/// One table's names.
#[derive(Clone, Debug)]
struct TableName {
    /// As the catalog lists it (`pg_tables.tablename`): lower case, no schema.
    bare: String,
    /// As SQL statements name it: always schema-qualified, so that the connection's search_path
    /// never decides where a table is.
    qualified: String,
    /// As the plugin spells it before PostgreSQL folds it (schema-qualified only outside `public`);
    /// its constraint names derive from this spelling.
    java: String,
}

/// The names of every table, in one configured schema with one configured prefix.
#[derive(Clone, Debug)]
pub struct Names {
    /// The configured schema as written (trimmed), used in the plugin's naming rules.
    schema_raw: String,
    /// The schema as the catalog lists it.
    schema: String,
    /// The prefix with its '_' separator, or "" (the plugin's normalised form).
    prefix: String,
    overrides: HashMap<&'static str, String>,
    tables: HashMap<String, TableName>,
}

impl Names {
    /// `schema` and `prefix` as configured; `overrides` maps a base table name to its configured
    /// replacement. Refuses anything that is not a plain identifier.
    pub fn new(schema: &str, prefix: &str, overrides: &[(&'static str, String)]) -> Result<Names, String> {
        // The plugin trims the schema and prefix (and adds the '_' after a non-empty prefix).
        let schema_raw = schema.trim().to_owned();
        check_identifier("postgresql_table_schema", &schema_raw)?;
        let prefix = prefix.trim();
        if !prefix.is_empty() {
            check_identifier("postgresql_table_names_prefix", prefix)?;
        }
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}_") };
        let mut map = HashMap::new();
        for (base, name) in overrides {
            let key = TABLE_NAME_OVERRIDES.iter().find(|(b, _)| b == base).map(|(_, k)| k.name()).unwrap_or("table name");
            check_identifier(key, name)?;
            map.insert(*base, name.clone());
        }
        Ok(Names { schema: schema_raw.to_lowercase(), schema_raw, prefix, overrides: map, tables: HashMap::new() })
    }

    /// The schema as the catalog lists it (`pg_namespace.nspname`).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Whether tables live in a schema other than `public` (which then has to be created).
    pub fn is_custom_schema(&self) -> bool {
        self.schema_raw != "public"
    }

    /// Registers a table of the schema under its base name (as the template spells it).
    pub fn add_table(&mut self, base: &str) -> Result<(), String> {
        if self.tables.contains_key(base) {
            return Ok(());
        }
        let raw = match self.overrides.get(base) {
            Some(name) => name.clone(),
            None => format!("{}{base}", self.prefix),
        };
        if raw.len() > MAX_IDENTIFIER_BYTES {
            return Err(format!(
                "the table name '{raw}' (prefix + '{base}') is longer than {MAX_IDENTIFIER_BYTES} characters"
            ));
        }
        let bare = raw.to_lowercase();
        let java = if self.is_custom_schema() { format!("{}.{raw}", self.schema_raw) } else { raw };
        let qualified = format!("{}.{bare}", self.schema);
        self.tables.insert(base.to_owned(), TableName { bare, qualified, java });
        Ok(())
    }

    fn get(&self, base: &str) -> Result<&TableName, String> {
        self.tables.get(base).ok_or_else(|| format!("unknown table '{base}'"))
    }

    /// The schema-qualified name of a table, for SQL statements.
    pub fn table(&self, base: &str) -> Result<&str, String> {
        Ok(&self.get(base)?.qualified)
    }

    /// The table's name as `pg_tables` lists it.
    pub fn bare(&self, base: &str) -> Result<&str, String> {
        Ok(&self.get(base)?.bare)
    }

    /// A constraint name the plugin writes literally, whatever the prefix (the two WebAuthn
    /// recovery-token constraints), with the configured prefix in front when there is one. The
    /// plugin's literal names would let only one prefix per schema create that table (a primary
    /// key's index name is unique in its schema); without a prefix the name is the plugin's own.
    pub fn literal_constraint(&self, name: &str) -> String {
        format!("{}{name}", self.prefix).to_lowercase()
    }

    /// The name the plugin gives a constraint of `base`: its table name without the schema, '_',
    /// then `rest` (for example `pkey` or `app_id_fkey`).
    pub fn constraint(&self, base: &str, rest: &str) -> Result<String, String> {
        Ok(java_constraint_name(&self.schema_raw, &self.get(base)?.java, rest).to_lowercase())
    }
}

/// `Utils.getConstraintName` of the plugin, faithfully: it removes the schema by checking whether the
/// table name *starts with the schema's name*, which is also true (and then cuts the first
/// `schema.len() + 1` characters) for an unqualified table in `public` whose name starts with
/// "public" — e.g. prefix "publicity" gives `ty_apps_pkey`. A database created by the Java core has
/// those names, so we reproduce them.
fn java_constraint_name(schema: &str, java_table: &str, rest: &str) -> String {
    let stripped =
        if java_table.starts_with(schema) { java_table.get(schema.len() + 1..).unwrap_or("") } else { java_table };
    format!("{stripped}_{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(schema: &str, prefix: &str, overrides: &[(&'static str, String)]) -> Names {
        let mut n = Names::new(schema, prefix, overrides).unwrap();
        for t in ["apps", "tenants", "key_value"] {
            n.add_table(t).unwrap();
        }
        n
    }

    #[test]
    fn default_schema_no_prefix() {
        let n = names("public", "", &[]);
        assert_eq!(n.table("apps").unwrap(), "public.apps");
        assert_eq!(n.bare("apps").unwrap(), "apps");
        assert_eq!(n.constraint("tenants", "app_id_fkey").unwrap(), "tenants_app_id_fkey");
        assert!(!n.is_custom_schema());
    }

    #[test]
    fn custom_schema_and_prefix() {
        let n = names(" auth ", " st ", &[]);
        assert_eq!(n.schema(), "auth");
        assert_eq!(n.table("apps").unwrap(), "auth.st_apps");
        assert_eq!(n.bare("key_value").unwrap(), "st_key_value");
        assert_eq!(n.constraint("apps", "pkey").unwrap(), "st_apps_pkey");
        assert_eq!(n.constraint("key_value", "tenant_id_fkey").unwrap(), "st_key_value_tenant_id_fkey");
    }

    #[test]
    fn overrides_replace_the_prefixed_name() {
        let n = names("auth", "st", &[("key_value", "MyKv".to_owned())]);
        assert_eq!(n.table("key_value").unwrap(), "auth.mykv");
        assert_eq!(n.bare("key_value").unwrap(), "mykv");
        assert_eq!(n.constraint("key_value", "pkey").unwrap(), "mykv_pkey");
        assert_eq!(n.table("apps").unwrap(), "auth.st_apps");
    }

    #[test]
    fn upper_case_names_fold_like_unquoted_identifiers() {
        let n = names("Auth", "ST", &[]);
        assert_eq!(n.schema(), "auth");
        assert_eq!(n.table("apps").unwrap(), "auth.st_apps");
        assert_eq!(n.constraint("apps", "pkey").unwrap(), "st_apps_pkey");
        assert!(n.is_custom_schema());
    }

    #[test]
    fn the_plugins_public_prefix_quirk_is_reproduced() {
        // Java: "publicity_apps".startsWith("public") → the first 7 characters are cut.
        let n = names("public", "publicity", &[]);
        assert_eq!(n.table("apps").unwrap(), "public.publicity_apps");
        assert_eq!(n.constraint("apps", "pkey").unwrap(), "ty_apps_pkey");
        let n = names("public", "public", &[]);
        assert_eq!(n.constraint("apps", "pkey").unwrap(), "apps_pkey");
        // Case matters to Java's startsWith: "Public_apps" keeps its name.
        let n = names("public", "Public", &[]);
        assert_eq!(n.constraint("apps", "pkey").unwrap(), "public_apps_pkey");
    }

    #[test]
    fn bad_identifiers_are_refused_with_the_key_named() {
        for bad in ["", "a-b", "1abc", "a b", "x;drop", "a.b", "é"] {
            let err = Names::new(bad, "", &[]).unwrap_err();
            assert!(err.contains("postgresql_table_schema"), "{err}");
        }
        let err = Names::new("public", "p-x", &[]).unwrap_err();
        assert!(err.contains("postgresql_table_names_prefix"), "{err}");
        let err = Names::new("public", "", &[("key_value", "kv;".to_owned())]).unwrap_err();
        assert!(err.contains("postgresql_key_value_table_name"), "{err}");
        assert!(Names::new(&"s".repeat(64), "", &[]).is_err());
        let mut n = Names::new("public", &"p".repeat(60), &[]).unwrap();
        assert!(n.add_table("apps").is_err());
    }
}
