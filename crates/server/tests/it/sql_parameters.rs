//! Lint: values reach the databases only as bound parameters, never inside SQL text.
//!
//! The storage crates build SQL with `format!` in a few sanctioned ways only: table names from the
//! Names helper (PostgreSQL schema and prefix) or fixed table names, fixed column lists and clauses
//! written as literals in the code, and placeholder numbers (`$n` / `?n`) counted from the bound
//! parameter list. This test reads every `format!` in crates/store-*/src (outside the files' unit-test
//! modules) whose string looks like SQL and checks each interpolation against that rule:
//! - never inside quotes (`'{x}'` would make a value an SQL literal) and never `{x:?}`;
//! - a placeholder number (an expression ending in `.len()`, optionally `± k`);
//! - a table name (`n.table(..)`, `names.table(..)`, `names.schema()`);
//! - an identifier bound in its file to SQL text the code itself writes (a literal, a table name,
//!   or a fragment built by these same rules), or one listed in `SQL_FRAGMENTS` with the reason.
//!
//! A new interpolation fails this test until it is shown to follow the rule and listed.

use std::path::Path;

/// Interpolations the binding rules below cannot see through, each reviewed: (file, expression, why
/// it is code-written SQL text). A new entry needs the same review.
const SQL_FRAGMENTS: &[(&str, &str, &str)] = &[
    (
        "store-sqlite/src/bulkimport.rs",
        "head",
        "insert_many()'s parameter; called with literal `INSERT INTO <table> (<columns>)` text",
    ),
    (
        "store-sqlite/src/bulkimport.rs",
        "tail",
        "insert_many()'s parameter; called with the literal `ON CONFLICT DO NOTHING` or nothing",
    ),
    (
        "store-sqlite/src/bulkimport.rs",
        "vec![one.as_str(); chunk.len()].join(\", \")",
        "one `(?, ?, …)` group of literal placeholders per row of the chunk; the values are bound",
    ),
    (
        "store-postgres/src/bulkimport.rs",
        "queue",
        "ImportStatements::new's parameter; called with the bulk_import_users table name from Names",
    ),
    (
        "store-postgres/src/session.rs",
        "primary_of(\"s\", n)?",
        "primary_of(): a subquery of table names from Names and a literal alias",
    ),
    (
        "store-postgres/src/session.rs",
        "primary_of(\"u\", n)?",
        "primary_of(): a subquery of table names from Names and a literal alias",
    ),
    (
        "store-postgres/src/session.rs",
        "alias",
        "primary_of()'s parameter; called with the literal table aliases \"s\" and \"u\"",
    ),
    (
        "store-postgres/src/accountlinking.rs",
        "matching",
        "closure parameter; called with format!s of table names and $n placeholders",
    ),
    (
        "store-postgres/src/users.rs",
        "like_any(\"email\", &r.emails, first, &mut values)",
        "the search's LIKE alternatives: a literal column and $n placeholders, patterns bound",
    ),
    (
        "store-postgres/src/users.rs",
        "conditions",
        "the search's conditions: literal columns and like_any's placeholders, patterns bound",
    ),
    (
        "store-sqlite/src/users.rs",
        "like_any(\"email\", &r.emails, params)",
        "the search's LIKE alternatives: a literal column and ?n placeholders, patterns bound",
    ),
    (
        "store-sqlite/src/users.rs",
        "conditions",
        "the search's conditions: literal columns and like_any's placeholders, patterns bound",
    ),
    (
        "store-sqlite/src/passwordless.rs",
        "table",
        "closure parameter; called with the literals passwordless_user_to_tenant / passwordless_users",
    ),
    (
        "store-sqlite/src/oauth.rs",
        "column",
        "a &'static str parameter; called with the literal column names of oauth_flows' lookups",
    ),
    (
        "store-postgres/src/oauth.rs",
        "column",
        "closure parameter; called with the literal column names of oauth_flows' lookups",
    ),
    (
        "store-postgres/src/connect.rs",
        "timeout_ms",
        "the configured timeout, an integer",
    ),
    (
        "store-postgres/src/connect.rs",
        "(timeout_ms * 4).max(30_000)",
        "an integer computed from it",
    ),
    (
        "store-postgres/src/connect.rs",
        "scope",
        "session_timeouts(): the literal \"LOCAL \" or nothing",
    ),
    (
        "store-postgres/src/db.rs",
        "name",
        "ParamTypes::learn(): a statement name the code makes (a fixed prefix, hex digits, a counter)",
    ),
    (
        "store-postgres/src/db.rs",
        "sql",
        "ParamTypes::learn(): one of our own statements (the text Conn::query etc. were given, rendered \
         at connect time by the rules this lint checks), prepared to read its parameter types",
    ),
    (
        "store-postgres/src/schema.rs",
        "DDL_TIMEOUT.as_millis()",
        "a constant duration, an integer",
    ),
    (
        "store-postgres/src/schema.rs",
        "&names.literal_constraint(name)",
        "render(): a constraint name the schema template spells ({p:NAME}), behind the configured table prefix",
    ),
    (
        "store-postgres/src/schema.rs",
        "&rest[..start]",
        "render(): text of the schema template compiled in (schema.sql)",
    ),
    (
        "store-postgres/src/schema.rs",
        "rest",
        "render(): text of the schema template compiled in (schema.sql)",
    ),
    (
        "store-postgres/src/schema.rs",
        "&names.constraint(table, suffix)?",
        "render(): a constraint name from Names",
    ),
    (
        "store-postgres/src/passwordless.rs",
        "t",
        "iterates over two table names from Names",
    ),
    (
        "store-postgres/src/passwordless.rs",
        "column",
        "closure parameter; called with the literals email / phone_number",
    ),
    (
        "store-postgres/src/passwordless.rs",
        "cmp",
        "closure parameter; called with the literals < and >=",
    ),
    (
        "store-postgres/src/passwordless.rs",
        "code_of_device(\"<\")",
        "a format! of a table name and the literal",
    ),
    (
        "store-postgres/src/passwordless.rs",
        "code_of_device(\">=\")",
        "a format! of a table name and the literal",
    ),
    (
        "store-postgres/src/multitenancy.rs",
        "table",
        "closure parameter; called with table names from Names",
    ),
    (
        "store-postgres/src/users.rs",
        "marks.join(\", \")",
        "placeholders $n, one per bound recipe id",
    ),
    (
        "store-postgres/src/users.rs",
        "matching",
        "the tag search subquery: literals and $n placeholders, values bound",
    ),
    (
        "store-postgres/src/users.rs",
        "t",
        "a placeholder number (params.len())",
    ),
    (
        "store-postgres/src/users.rs",
        "i",
        "a placeholder number (params.len())",
    ),
    (
        "store-postgres/src/users.rs",
        "clause",
        "the filter's WHERE clause: literals and $n placeholders",
    ),
    (
        "store-postgres/src/users.rs",
        "sql.all_auth",
        "a table name from Names",
    ),
    (
        "store-sqlite/src/dashboard.rs",
        "column",
        "chosen by a match between the literals user_id / email",
    ),
    (
        "store-sqlite/src/passwordless.rs",
        "column",
        "a &'static str from contact_column: email / phone_number",
    ),
    (
        "store-sqlite/src/useridmapping.rs",
        "clause",
        "chosen by a match between literal clauses",
    ),
    (
        "store-sqlite/src/useridmapping.rs",
        "table",
        "iterates over literal table names",
    ),
    (
        "store-sqlite/src/useridmapping.rs",
        "sql",
        "closure parameter; called with literal statements",
    ),
    (
        "store-sqlite/src/users.rs",
        "marks.join(\", \")",
        "placeholders ?n, one per bound recipe id",
    ),
    (
        "store-sqlite/src/users.rs",
        "matching",
        "the tag search subquery: literals and ?n placeholders, values bound",
    ),
    (
        "store-sqlite/src/users.rs",
        "t",
        "a placeholder number (params.len())",
    ),
    (
        "store-sqlite/src/users.rs",
        "i",
        "a placeholder number (params.len())",
    ),
    (
        "store-sqlite/src/users.rs",
        "sql",
        "the filter's WHERE clause or a literal statement: literals and ?n placeholders",
    ),
    (
        "store-sqlite/src/users.rs",
        "table",
        "iterates over the literal table names of NON_AUTH_TABLES",
    ),
    (
        "store-sqlite/src/users.rs",
        "clause",
        "count_sql(): the filter's WHERE clause (literals and ?n placeholders, values bound)",
    ),
    (
        "store-postgres/src/users.rs",
        "clause",
        "count_sql(): the filter's WHERE clause (literals and $n placeholders, values bound)",
    ),
    (
        "store-postgres/src/users.rs",
        "all_auth",
        "count_sql(): the all_auth_recipe_users table name from Names",
    ),
    (
        "store-postgres/src/users.rs",
        "extra",
        "methods(): closure parameter; called with the literals \"\" and \", w.user_id\"",
    ),
    (
        "store-postgres/src/users.rs",
        "um",
        "a table name from Names (userid_mapping)",
    ),
    (
        "store-postgres/src/users.rs",
        "tp",
        "a table name from Names (thirdparty_users)",
    ),
    (
        "store-postgres/src/users.rs",
        "pl",
        "a table name from Names (passwordless_users)",
    ),
    (
        "store-postgres/src/users.rs",
        "methods(\", w.user_id\")",
        "the methods() statement: table names and literals",
    ),
    (
        "store-postgres/src/users.rs",
        "methods(\"\")",
        "the methods() statement: table names and literals",
    ),
    (
        "store-postgres/src/users.rs",
        "ids",
        "users(): closure parameter; called with the literals \"= $2\" and \"= ANY($2)\"",
    ),
    (
        "store-postgres/src/accountlinking.rs",
        "t",
        "iterates over two table names from Names (app_id_to_user_id, all_auth_recipe_users)",
    ),
];

fn is_sql(literal: &str) -> bool {
    let re = regex::Regex::new(
        r"(?-u:\b)(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|SET|FROM|AND)(?-u:\b)",
    )
    .unwrap();
    re.is_match(literal)
}

/// The string literal starting at `s` (normal or raw), and the rest after it.
fn literal(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    if let Some(raw) = s.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let body = raw[hashes..].strip_prefix('"')?;
        let close = format!("\"{}", "#".repeat(hashes));
        let end = body.find(&close)?;
        return Some((body[..end].to_owned(), &body[end + close.len()..]));
    }
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, e)) = chars.next() {
                    out.push(if e == '\n' { ' ' } else { e });
                }
            }
            '"' => return Some((out, &body[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

/// The macro's arguments after the format string, split at top-level commas.
fn arguments(rest: &str) -> Vec<String> {
    let (mut depth, mut args, mut cur) = (0i32, Vec::new(), String::new());
    for c in rest.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => break,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    args.push(cur.trim().to_owned());
    args.into_iter().filter(|a| !a.is_empty()).collect()
}

/// Each interpolation: (text before it, its name or "", its format spec).
fn holes(lit: &str) -> Vec<(String, String, String)> {
    let (mut out, mut chars) = (Vec::new(), lit.char_indices().peekable());
    while let Some((i, c)) = chars.next() {
        if c == '{' {
            if chars.peek().map(|p| p.1) == Some('{') {
                chars.next();
                continue;
            }
            let inner: String = chars
                .by_ref()
                .map(|(_, c)| c)
                .take_while(|&c| c != '}')
                .collect();
            let (name, spec) = inner.split_once(':').unwrap_or((&inner, ""));
            out.push((lit[..i].to_owned(), name.trim().to_owned(), spec.to_owned()));
        }
    }
    out
}

fn allowed(file: &Path, expr: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    // `params.len()`, `values.len() - 1`, `first + values.len() - 1`: a count of bound parameters.
    let placeholder = expr.split(['+', '-']).map(str::trim).all(|term| {
        term.parse::<u32>().is_ok()
            || term.strip_suffix(".len()").is_some_and(ident)
            || term == "first"
    }) && expr.contains(".len()");
    let table = ["n.table(", "names.table("]
        .iter()
        .any(|p| expr.starts_with(p) && (expr.ends_with(')') || expr.ends_with(")?")))
        || expr == "names.schema()";
    let listed = SQL_FRAGMENTS
        .iter()
        .any(|(f, e, _)| file.ends_with(f) && *e == expr);
    placeholder || table || listed
}

/// Whether the binding of `name` nearest before `at` in `file` gives it code-written SQL text: a
/// string constant, a string literal, a table name, a `format!` (checked by this lint in turn), an
/// `if` choosing between literals, or a `for` over an array of literals.
fn bound_to_sql_text(file: &str, at: usize, name: &str) -> bool {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return false;
    }
    let literal_or_table = |rhs: &str| {
        let rhs = rhs.trim_start();
        rhs.starts_with('"')
            || rhs.starts_with("format!(")
            || ["n.table(", "names.table("]
                .iter()
                .any(|p| rhs.starts_with(p))
    };
    let only_literals = |code: &str| {
        let mut in_string = false;
        code.chars().all(|c| {
            if c == '"' {
                in_string = !in_string;
            }
            in_string || c == '"' || " \n[],{}".contains(c)
        })
    };
    if let Some(i) = file.find(&format!("const {name}: &str =")) {
        return literal_or_table(file[i..].split_once('=').map_or("", |(_, r)| r));
    }
    let before = &file[..at];
    let (let_at, for_at) = (
        before.rfind(&format!("let {name} =")),
        before.rfind(&format!("for {name} in [")),
    );
    match (let_at, for_at) {
        (Some(l), f) if f.is_none_or(|f| l > f) => {
            let rhs = &file[l + format!("let {name} =").len()..];
            let stmt = rhs.split(';').next().unwrap_or("");
            if let Some(branches) = stmt.trim_start().strip_prefix("if ") {
                let after_cond = branches.find('{').map_or("", |i| &branches[i..]);
                return only_literals(&after_cond.replace("else", ""));
            }
            literal_or_table(rhs)
        }
        (_, Some(f)) => {
            let list = &file[f + format!("for {name} in ").len()..];
            only_literals(list.split_once(']').map_or("", |(l, _)| l))
        }
        _ => false,
    }
}

/// `name = expr` (a named macro argument), not `a == b`.
fn named_argument(arg: &str) -> Option<(&str, &str)> {
    let (name, expr) = arg.split_once('=')?;
    let name = name.trim();
    (!expr.starts_with('=')
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then(|| (name, expr.trim()))
}

fn violations(file: &Path, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Text appended to a statement: a literal, a `format!` (checked below), or a listed fragment.
    for (at, _) in text.match_indices("push_str(") {
        let arg = arguments(&text[at + "push_str(".len()..]).join(", ");
        if !(arg.starts_with('"') || arg.starts_with("&format!(") || allowed(file, &arg)) {
            out.push(format!(
                "{}:{}: push_str({arg})",
                file.display(),
                text[..at].lines().count()
            ));
        }
    }
    for (at, _) in text.match_indices("format!(") {
        let Some((lit, rest)) = literal(&text[at + "format!(".len()..]) else {
            continue;
        };
        if !is_sql(&lit) {
            continue;
        }
        let args = arguments(rest);
        let positional: Vec<&String> = args
            .iter()
            .filter(|a| named_argument(a).is_none())
            .collect();
        let mut next = 0;
        let line = text[..at].lines().count();
        for (before, name, spec) in holes(&lit) {
            let expr = if name.is_empty() {
                next += 1;
                positional
                    .get(next - 1)
                    .map(|s| s.as_str())
                    .unwrap_or("")
                    .to_owned()
            } else if let Some((_, e)) = args
                .iter()
                .filter_map(|a| named_argument(a))
                .find(|(n, _)| *n == name)
            {
                e.to_owned()
            } else {
                name.clone()
            };
            let place = format!("{}:{line}: `{{{name}}}` = `{expr}`", file.display());
            if before.ends_with('\'') {
                out.push(format!("{place}: interpolated inside quotes"));
            } else if spec.contains('?') {
                out.push(format!("{place}: Debug-formatted"));
            } else if !allowed(file, &expr) && (expr != name || !bound_to_sql_text(text, at, &name)) {
                out.push(format!(
                    "{place}: not a table name, placeholder number or listed SQL fragment"
                ));
            }
        }
    }
    out
}

#[test]
fn sql_is_built_only_from_code_written_text_and_placeholders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut found = Vec::new();
    let mut scanned = 0;
    for krate in ["store-sqlite", "store-postgres"] {
        let dir = root.join("crates").join(krate).join("src");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                scanned += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                // A file's unit tests (its trailing `#[cfg(test)]` module) build fixtures, not queries
                // the server runs; cutting them off keeps every line number of the code above.
                let code = text.split("\n#[cfg(test)]\n").next().unwrap_or(&text);
                found.extend(violations(&path, code));
            }
        }
    }
    assert!(scanned > 20, "the storage sources were not found");
    assert!(
        found.is_empty(),
        "SQL built from something other than code-written text:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_lint_catches_values_in_sql() {
    let bad = [
        r#"let q = format!("SELECT 1 FROM t WHERE email = '{email}'");"#,
        r#"let q = format!("SELECT 1 FROM t WHERE id = {}", user_id);"#,
        r#"let q = format!("DELETE FROM t WHERE id = {id:?}");"#,
        r#"let q = format!("UPDATE t SET a = {value}");"#,
        r#"sql.push_str(&email);"#,
    ];
    for src in bad {
        assert_eq!(violations(Path::new("x.rs"), src).len(), 1, "{src}");
    }
    let good = [
        r#"let q = format!("SELECT 1 FROM {} WHERE id = $1", n.table("users")?);"#,
        r#"sql.push_str(&format!(" AND tenant_id = ${}", params.len()));"#,
        r#"let e = format!("cannot open '{path}': {e}");"#,
    ];
    for src in good {
        assert!(violations(Path::new("x.rs"), src).is_empty(), "{src}");
    }
}
