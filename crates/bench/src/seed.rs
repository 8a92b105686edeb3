//! Writing many users fast, straight into the tables a sign-up writes (`app_id_to_user_id`,
//! `all_auth_recipe_users`, `emailpassword_users`, `emailpassword_user_to_tenant`), in batches of
//! multi-row INSERTs, one transaction per batch. Users are numbered: user i has a fixed id, email
//! and join time, so a run can name any of them (and any page of the user list) without asking.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Join time of seeded user 0 (2020-09-13); user i joined i ms later.
pub const SEED_T0: i64 = 1_600_000_000_000;
/// The password of every seeded user.
pub const SEED_PASSWORD: &str = "bench-Password-1";
const APP: &str = "public";
const TENANT: &str = "public";
const RECIPE: &str = "emailpassword";

/// A UUIDv4-shaped, 36-character id for seeded user `i`.
pub fn user_id(i: u64) -> String {
    format!("5eed0000-0000-4000-8000-{:012x}", i)
}

/// Seeded user `i`'s email; the zero padding makes prefixes like `seed-00012` select ranges.
pub fn email(i: u64) -> String {
    format!("seed-{i:08}@bench.example")
}

pub fn time_joined(i: u64) -> i64 {
    SEED_T0 + i as i64
}

/// The `/users` pagination token that starts a page at (user id, time joined).
pub fn page_token(user_id: &str, time_joined: i64) -> String {
    STANDARD.encode(format!("{user_id};{time_joined}"))
}

/// The token of the newest-first page that starts `position` users in (0 = the newest), when the
/// only users are seeded users 0..total.
pub fn token_at_position(total: u64, position: u64) -> Option<String> {
    if position >= total {
        return None;
    }
    let i = total - 1 - position;
    Some(page_token(&user_id(i), time_joined(i)))
}

/// [start, end) cut into consecutive ranges of at most `size`.
pub fn batches(start: u64, end: u64, size: u64) -> Vec<(u64, u64)> {
    let size = size.max(1);
    let mut out = Vec::new();
    let mut a = start;
    while a < end {
        let b = (a + size).min(end);
        out.push((a, b));
        a = b;
    }
    out
}

/// `INSERT INTO table (c1, c2) VALUES (?, ?), (?, ?)…` for `rows` rows (SQLite placeholders).
pub fn multi_row_insert(table: &str, columns: &[&str], rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(", "));
    let values = vec![one.as_str(); rows].join(", ");
    format!("INSERT INTO {table} ({}) VALUES {values}", columns.join(", "))
}

/// The user rows of one batch.
struct Batch {
    ids: Vec<String>,
    emails: Vec<String>,
    times: Vec<i64>,
}

fn batch(a: u64, b: u64) -> Batch {
    Batch { ids: (a..b).map(user_id).collect(), emails: (a..b).map(email).collect(), times: (a..b).map(time_joined).collect() }
}

/// One bcrypt hash (cost 4) of SEED_PASSWORD, reused for every seeded user.
pub fn cheap_hash() -> Result<String, String> {
    use portcullis_core::crypto::password::{hash, HashAlgorithm, HashSettings};
    let settings = HashSettings {
        algorithm: HashAlgorithm::Bcrypt,
        bcrypt_log_rounds: 4,
        argon2_iterations: 1,
        argon2_memory_kb: 8,
        argon2_parallelism: 1,
    };
    hash(SEED_PASSWORD, &settings).map_err(|e| e.to_string())
}

/// Seeds users [start, end) into SQLite at `path` (the schema must exist: start the server once).
pub fn seed_sqlite(path: &str, start: u64, end: u64) -> Result<f64, String> {
    let t0 = Instant::now();
    let hash = cheap_hash()?;
    let mut c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    c.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(|e| e.to_string())?;
    c.pragma_update(None, "synchronous", "NORMAL").map_err(|e| e.to_string())?;
    // 200 rows x 8 columns stays well under SQLite's 32766 parameters.
    const ROWS: usize = 200;
    for (a, b) in batches(start, end, 20_000) {
        let tx = c.transaction().map_err(|e| e.to_string())?;
        for (x, y) in batches(a, b, ROWS as u64) {
            let bt = batch(x, y);
            let n = bt.ids.len();
            let mut p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(n * 8);
            for id in &bt.ids {
                p.extend([&APP as &dyn rusqlite::ToSql, id, &RECIPE, id]);
            }
            tx.prepare_cached(&multi_row_insert("app_id_to_user_id", &["app_id", "user_id", "recipe_id", "primary_or_recipe_user_id"], n))
                .and_then(|mut s| s.execute(p.as_slice()))
                .map_err(|e| e.to_string())?;
            p.clear();
            for (id, t) in bt.ids.iter().zip(&bt.times) {
                p.extend([&APP as &dyn rusqlite::ToSql, &TENANT, id, id, &false, &RECIPE, t, t]);
            }
            let cols = [
                "app_id",
                "tenant_id",
                "user_id",
                "primary_or_recipe_user_id",
                "is_linked_or_is_a_primary_user",
                "recipe_id",
                "time_joined",
                "primary_or_recipe_user_time_joined",
            ];
            tx.prepare_cached(&multi_row_insert("all_auth_recipe_users", &cols, n))
                .and_then(|mut s| s.execute(p.as_slice()))
                .map_err(|e| e.to_string())?;
            p.clear();
            for ((id, e), t) in bt.ids.iter().zip(&bt.emails).zip(&bt.times) {
                p.extend([&APP as &dyn rusqlite::ToSql, id, e, &hash, t]);
            }
            tx.prepare_cached(&multi_row_insert("emailpassword_users", &["app_id", "user_id", "email", "password_hash", "time_joined"], n))
                .and_then(|mut s| s.execute(p.as_slice()))
                .map_err(|e| e.to_string())?;
            p.clear();
            for (id, e) in bt.ids.iter().zip(&bt.emails) {
                p.extend([&APP as &dyn rusqlite::ToSql, &TENANT, id, e]);
            }
            tx.prepare_cached(&multi_row_insert("emailpassword_user_to_tenant", &["app_id", "tenant_id", "user_id", "email"], n))
                .and_then(|mut s| s.execute(p.as_slice()))
                .map_err(|e| e.to_string())?;
        }
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// Table names of the PostgreSQL schema, qualified as the server's storage names them.
pub struct PgTables {
    pub app_users: String,
    pub all_auth: String,
    pub ep_users: String,
    pub ep_tenant: String,
}

/// Seeds users [start, end) into PostgreSQL over `connections` parallel connections; ANALYZEs after.
pub async fn seed_postgres(uri: &str, tables: &PgTables, start: u64, end: u64, connections: usize) -> Result<f64, String> {
    let t0 = Instant::now();
    let hash = cheap_hash()?;
    let sql = std::sync::Arc::new([
        format!(
            "INSERT INTO {} (app_id, user_id, recipe_id, primary_or_recipe_user_id) \
             SELECT 'public', u, 'emailpassword', u FROM unnest($1::text[]) AS x(u)",
            tables.app_users
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, \
             time_joined, primary_or_recipe_user_time_joined) \
             SELECT 'public', 'public', u, u, false, 'emailpassword', t, t FROM unnest($1::text[], $2::int8[]) AS x(u, t)",
            tables.all_auth
        ),
        format!(
            "INSERT INTO {} (app_id, user_id, email, password_hash, time_joined) \
             SELECT 'public', u, e, $3, t FROM unnest($1::text[], $4::text[], $2::int8[]) AS x(u, e, t)",
            tables.ep_users
        ),
        format!(
            "INSERT INTO {} (app_id, tenant_id, user_id, email) \
             SELECT 'public', 'public', u, e FROM unnest($1::text[], $2::text[]) AS x(u, e)",
            tables.ep_tenant
        ),
    ]);
    let mut all = batches(start, end, 5_000).into_iter();
    // Tables that have never been analyzed get generic plans for their foreign-key checks that
    // seek `all_auth_recipe_users` by (app_id, tenant_id) alone, reading the whole tenant per row:
    // the writes turn quadratic (1,500 users/s at 100,000). So the first batch goes in alone and
    // the tables are analyzed before the rest, as a careful operator (or autovacuum, within a
    // minute) would; never while empty, which makes every check a sequential scan instead.
    let tables_list = [&tables.app_users, &tables.all_auth, &tables.ep_users, &tables.ep_tenant];
    if let Some((a, b)) = all.next() {
        let mut client = connect(uri).await?;
        write_batch(&mut client, &sql, &hash, a, b).await?;
        analyze(&client, tables_list).await?;
    }
    let queue = std::sync::Arc::new(std::sync::Mutex::new(all));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let client = connect(uri).await?;
        let (queue, sql, hash) = (std::sync::Arc::clone(&queue), std::sync::Arc::clone(&sql), hash.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = client;
            loop {
                let next = queue.lock().map_err(|_| "poisoned".to_owned())?.next();
                let Some((a, b)) = next else { return Ok::<(), String>(()) };
                write_batch(&mut client, &sql, &hash, a, b).await?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    if end > start {
        analyze(&connect(uri).await?, tables_list).await?;
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// Users [a, b) into the four tables, in one transaction.
async fn write_batch(client: &mut tokio_postgres::Client, sql: &[String; 4], hash: &str, a: u64, b: u64) -> Result<(), String> {
    let bt = batch(a, b);
    let tx = client.transaction().await.map_err(|e| e.to_string())?;
    tx.execute(&sql[0], &[&bt.ids]).await.map_err(|e| e.to_string())?;
    tx.execute(&sql[1], &[&bt.ids, &bt.times]).await.map_err(|e| e.to_string())?;
    tx.execute(&sql[2], &[&bt.ids, &bt.times, &hash, &bt.emails]).await.map_err(|e| e.to_string())?;
    tx.execute(&sql[3], &[&bt.ids, &bt.emails]).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// Gives seeded users [start, end) the role `role` in the public tenant (the role must exist),
/// as the stress suite's imported users hold theirs: one multi-row INSERT per 5,000 users.
pub async fn seed_roles_postgres(uri: &str, user_roles: &str, role: &str, start: u64, end: u64) -> Result<(), String> {
    let client = connect(uri).await?;
    let sql = format!(
        "INSERT INTO {user_roles} (app_id, tenant_id, user_id, role) \
         SELECT 'public', 'public', u, $2 FROM unnest($1::text[]) AS x(u) ON CONFLICT DO NOTHING"
    );
    for (a, b) in batches(start, end, 5_000) {
        let ids: Vec<String> = (a..b).map(user_id).collect();
        client.execute(&sql, &[&ids, &role]).await.map_err(|e| e.to_string())?;
    }
    analyze(&client, [user_roles]).await
}

/// `seed_roles_postgres` for SQLite at `path`.
pub fn seed_roles_sqlite(path: &str, role: &str, start: u64, end: u64) -> Result<(), String> {
    let mut c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    c.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    const ROWS: usize = 500;
    for (a, b) in batches(start, end, 20_000) {
        let tx = c.transaction().map_err(|e| e.to_string())?;
        for (x, y) in batches(a, b, ROWS as u64) {
            let ids: Vec<String> = (x..y).map(user_id).collect();
            let mut p: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(ids.len() * 4);
            for id in &ids {
                p.extend([&APP as &dyn rusqlite::ToSql, &TENANT, id, &role]);
            }
            let sql = multi_row_insert("user_roles", &["app_id", "tenant_id", "user_id", "role"], ids.len()).replacen("INSERT", "INSERT OR IGNORE", 1);
            tx.prepare_cached(&sql).and_then(|mut s| s.execute(p.as_slice())).map_err(|e| e.to_string())?;
        }
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn connect(uri: &str) -> Result<tokio_postgres::Client, String> {
    let (client, conn) = tokio_postgres::connect(uri, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(client)
}

/// ANALYZEs each of `tables` (qualified names).
async fn analyze<T: std::fmt::Display>(client: &tokio_postgres::Client, tables: impl IntoIterator<Item = T>) -> Result<(), String> {
    for t in tables {
        client.batch_execute(&format!("ANALYZE {t}")).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// ANALYZEs every table of `schema`, as autovacuum would within a minute or so. Until a table has
/// statistics, PostgreSQL takes it for empty, and the generic plans that connections cache then
/// (e.g. a user's read probing by app_id alone) stay until the statistics arrive.
pub async fn analyze_schema(uri: &str, schema: &str) -> Result<(), String> {
    let client = connect(uri).await?;
    let rows = client
        .query("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = $1", &[&schema])
        .await
        .map_err(|e| e.to_string())?;
    analyze(&client, rows.iter().map(|r| r.get::<_, String>(0))).await
}

/// Drops a schema the tool made (its seeded users take disk space on a shared server).
pub async fn drop_schema(uri: &str, schema: &str) -> Result<(), String> {
    let client = connect(uri).await?;
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", schema.replace('"', "\"\""))).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_emails_and_times() {
        assert_eq!(user_id(0).len(), 36);
        assert_eq!(user_id(999_999).len(), 36);
        assert_eq!(user_id(255), "5eed0000-0000-4000-8000-0000000000ff");
        assert_eq!(email(42), "seed-00000042@bench.example");
        assert!(time_joined(2) > time_joined(1));
    }

    #[test]
    fn batches_cover_the_range_once() {
        assert_eq!(batches(0, 10, 4), vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(batches(5, 5, 4), vec![]);
        assert_eq!(batches(0, 3, 0), vec![(0, 1), (1, 2), (2, 3)]);
        let b = batches(100_000, 1_000_000, 5_000);
        assert_eq!(b.first(), Some(&(100_000, 105_000)));
        assert_eq!(b.last(), Some(&(995_000, 1_000_000)));
        assert_eq!(b.iter().map(|(a, z)| z - a).sum::<u64>(), 900_000);
    }

    #[test]
    fn multi_row_statements() {
        assert_eq!(multi_row_insert("t", &["a", "b"], 2), "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)");
    }

    #[test]
    fn page_tokens_name_the_first_user_of_the_page() {
        assert_eq!(page_token("user-2", 1002), "dXNlci0yOzEwMDI=");
        // Newest first: position 0 is the last seeded user.
        assert_eq!(token_at_position(10, 0), Some(page_token(&user_id(9), time_joined(9))));
        assert_eq!(token_at_position(10, 9), Some(page_token(&user_id(0), time_joined(0))));
        assert_eq!(token_at_position(10, 10), None);
    }

    #[test]
    fn the_seed_hash_is_cheap_bcrypt() {
        let h = cheap_hash().unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        let ok = portcullis_core::crypto::password::verify(SEED_PASSWORD, &h, &Default::default()).unwrap();
        assert!(ok);
    }
}
