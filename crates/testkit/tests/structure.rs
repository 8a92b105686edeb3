//! The workspace's structural rules, checked on its sources (production code only: test modules,
//! which close each file, and test crates are left out):
//! - no import circles between files: the files of each crate, linked by what each one names of
//!   another (`use` and qualified paths), form no cycle;
//! - each CDI status string (`…_ERROR`) is spelled in one file, and replies take their statuses
//!   from the one table (`crates/server/src/http/status.rs`), never as literals.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The production crates' `src` directories.
fn crate_sources() -> Vec<PathBuf> {
    let crates = workspace().join("crates");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|p| p.is_dir() && !p.starts_with(crates.join("testkit")))
        .collect();
    out.sort();
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The production part of a file: up to its test module (the last item of a file, by lint), without
/// comments.
fn production_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let end = text.find("\n#[cfg(test)]\nmod ").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string (URLs) is kept; comments start outside strings.
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file within its crate: `a/b.rs` and `a/b/mod.rs` are `[a, b]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    match last.as_str() {
        "lib.rs" | "main.rs" | "mod.rs" => {}
        other => parts.push(other.trim_end_matches(".rs").to_owned()),
    }
    parts
}

/// Every path a `use` item names, its groups expanded (`a::{b, c::{d}}` → `a::b`, `a::c::d`).
fn use_paths(item: &str) -> Vec<String> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        match tree.find('{') {
            None => {
                let name = tree.split(" as ").next().unwrap_or("").trim();
                if !name.is_empty() {
                    out.push(format!("{prefix}{name}"));
                }
            }
            Some(open) => {
                let head = &tree[..open];
                let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
                let mut depth = 0;
                let mut start = 0;
                let bytes = inner.as_bytes();
                for (i, b) in bytes.iter().enumerate() {
                    match b {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        b',' if depth == 0 => {
                            expand(&format!("{prefix}{head}"), &inner[start..i], out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                expand(&format!("{prefix}{head}"), &inner[start..], out);
            }
        }
    }
    let mut out = Vec::new();
    expand("", item, &mut out);
    out
}

/// The files (module paths) a file's code names.
fn references(code: &str, module: &[String], modules: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut paths: Vec<String> = Vec::new();
    // `use` items (possibly spanning lines).
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        // An item starts a file or follows another item, a block, an attribute or a visibility
        // (`pub`, `pub(crate)`); "use " anywhere else is a word in a string.
        let before = rest[..i].trim_end();
        rest = &rest[i + 4..];
        let after_visibility = before.strip_suffix("pub").is_some_and(|b| !b.ends_with(|c: char| c.is_alphanumeric() || c == '_'));
        let starts_item = before.is_empty() || after_visibility || [';', '{', '}', ']', ')'].iter().any(|&c| before.ends_with(c));
        if !starts_item {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        paths.extend(use_paths(&rest[..end]));
        rest = &rest[end..];
    }
    // Qualified paths in code.
    let words: Vec<&str> = code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).collect();
    paths.extend(words.iter().filter(|w| w.starts_with("crate::") || w.starts_with("super::") || w.starts_with("self::")).map(|w| w.to_string()));

    let mut out = BTreeSet::new();
    for p in paths {
        let segments: Vec<&str> = p.split("::").filter(|s| !s.is_empty()).collect();
        let Some(first) = segments.first() else { continue };
        let mut target: Vec<String> = match *first {
            "crate" => Vec::new(),
            "self" => module.to_vec(),
            "super" => {
                let mut m = module.to_vec();
                m.pop();
                m
            }
            // A child module named without `self::` (2018 paths); anything else is another crate.
            child => {
                let mut m = module.to_vec();
                m.push(child.to_owned());
                if !modules.contains(&m) {
                    continue;
                }
                module.to_vec()
            }
        };
        let start = if matches!(*first, "crate" | "self" | "super") { 1 } else { 0 };
        let mut rest = &segments[start..];
        while let Some(s) = rest.first() {
            match *s {
                "super" => {
                    target.pop();
                }
                "self" => {}
                name => {
                    let mut next = target.clone();
                    next.push(name.to_owned());
                    if !modules.contains(&next) {
                        break;
                    }
                    target = next;
                }
            }
            rest = &rest[1..];
        }
        if target != module {
            out.insert(target);
        }
    }
    out
}

/// The cycles of a graph: its strongly connected components with more than one node.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    // Kosaraju: finish order on the graph, then components on the reversed graph.
    fn visit(n: &Vec<String>, g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>, seen: &mut BTreeSet<Vec<String>>, order: &mut Vec<Vec<String>>) {
        if !seen.insert(n.clone()) {
            return;
        }
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, seen, order);
        }
        order.push(n.clone());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for n in graph.keys() {
        visit(n, graph, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (n, ms) in graph {
        for m in ms {
            reversed.entry(m.clone()).or_default().insert(n.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for n in order.iter().rev() {
        let mut component = Vec::new();
        visit(n, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            out.push(component);
        }
    }
    out
}

#[test]
fn no_import_circles_between_files() {
    let mut found = Vec::new();
    for src in crate_sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
        let mut graph = BTreeMap::new();
        for f in &files {
            let module = module_of(&src, f);
            graph.insert(module.clone(), references(&production_code(f), &module, &modules));
        }
        assert!(graph.values().any(|refs| !refs.is_empty()), "no imports found in {}", src.display());
        for c in cycles(&graph) {
            let names: Vec<String> = c.iter().map(|m| if m.is_empty() { "<root>".into() } else { m.join("/") }).collect();
            found.push(format!("{}: {}", src.display(), names.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "files that import each other:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_circle() {
    let modules: BTreeSet<Vec<String>> = [vec![], vec!["a".to_owned()], vec!["b".to_owned()]].into_iter().collect();
    let a = references("use crate::b::{X, y::{Z}};", &["a".to_owned()], &modules);
    let b = references("fn f() { super::a::g() }", &["b".to_owned()], &modules);
    let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = [(vec!["a".to_owned()], a), (vec!["b".to_owned()], b)].into_iter().collect();
    assert_eq!(cycles(&graph).len(), 1);
}

/// CDI status strings: upper-case words joined by underscores, ending in `_ERROR`.
fn error_statuses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for piece in code.split('"').skip(1).step_by(2) {
        if piece.ends_with("_ERROR") && piece.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            out.insert(piece.to_owned());
        }
    }
    out
}

#[test]
fn each_status_string_is_spelled_in_one_file() {
    let mut spelled: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for src in crate_sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            for status in error_statuses(&production_code(&f)) {
                spelled.entry(status).or_default().push(f.strip_prefix(workspace()).unwrap_or(&f).to_owned());
            }
        }
    }
    assert!(spelled.len() > 30, "status strings not found: {}", spelled.len());
    let mut twice: Vec<String> = spelled
        .iter()
        .filter(|(_, files)| files.len() > 1)
        .map(|(s, files)| format!("{s}: {}", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")))
        .collect();
    twice.sort();
    assert!(twice.is_empty(), "status strings spelled in more than one file:\n{}", twice.join("\n"));
}

#[test]
fn replies_name_statuses_from_the_table() {
    // A reply's status is a `Status` (http/status.rs), never a literal: `"status": "…"` or a
    // literal status inserted into a reply object.
    let mut found = Vec::new();
    for src in crate_sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let code = production_code(&f);
            for pattern in ["\"status\": \"", "json!(\"OK\")"] {
                if code.contains(pattern) {
                    found.push(format!("{}: {pattern}", f.strip_prefix(workspace()).unwrap_or(&f).display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "status literals in replies:\n{}", found.join("\n"));
}
