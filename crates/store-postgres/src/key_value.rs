//! The `apps` and `tenants` rows that make an app or tenant exist in a database, and the key-value
//! store (`key_value`) that hangs off them.

use crate::db::{Conn, WorkError};
use crate::names::Names;

pub struct Statements {
    insert_app: String,
    insert_tenant: String,
    delete_app: String,
    delete_tenant: String,
    kv_insert: String,
    kv_select: String,
    lease: String,
    kv_upsert: String,
}

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let apps = n.table("apps")?;
        let tenants = n.table("tenants")?;
        let kv = n.table("key_value")?;
        Ok(Statements {
            insert_app: format!("INSERT INTO {apps} (app_id, created_at_time) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
            insert_tenant: format!(
                "INSERT INTO {tenants} (app_id, tenant_id, created_at_time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            ),
            delete_app: format!("DELETE FROM {apps} WHERE app_id = $1"),
            delete_tenant: format!("DELETE FROM {tenants} WHERE app_id = $1 AND tenant_id = $2"),
            kv_insert: format!(
                "INSERT INTO {kv} (app_id, tenant_id, name, value, created_at_time) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (app_id, tenant_id, name) DO NOTHING"
            ),
            kv_upsert: format!(
                "INSERT INTO {kv} (app_id, tenant_id, name, value, created_at_time) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (app_id, tenant_id, name) DO UPDATE SET value = EXCLUDED.value, created_at_time = EXCLUDED.created_at_time"
            ),
            kv_select: format!("SELECT value FROM {kv} WHERE app_id = $1 AND tenant_id = $2 AND name = $3"),
            lease: format!(
                "INSERT INTO {kv} (app_id, tenant_id, name, value, created_at_time) VALUES ('public', 'public', $1, 'lease', $2) \
                 ON CONFLICT (app_id, tenant_id, name) DO UPDATE SET created_at_time = EXCLUDED.created_at_time \
                 WHERE {kv}.created_at_time IS NULL OR {kv}.created_at_time <= $2 - $3 RETURNING name"
            ),
        })
    }
}

pub async fn add_tenant_rows(
    db: Conn<'_>,
    sql: &Statements,
    app_id: &str,
    tenant_id: &str,
    now_ms: i64,
) -> Result<(), WorkError> {
    db.execute(&sql.insert_app, &[&app_id, &now_ms]).await?;
    db.execute(&sql.insert_tenant, &[&app_id, &tenant_id, &now_ms]).await?;
    Ok(())
}

pub async fn delete_tenant_rows(
    db: Conn<'_>,
    sql: &Statements,
    app_id: &str,
    tenant_id: &str,
) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.delete_tenant, &[&app_id, &tenant_id]).await? > 0)
}

pub async fn delete_app_rows(db: Conn<'_>, sql: &Statements, app_id: &str) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.delete_app, &[&app_id]).await? > 0)
}

/// Takes a lease row when it is free (see `Storage::lease`); one statement, so concurrent takers
/// serialise on the row and only one sees it free.
pub async fn lease(db: Conn<'_>, sql: &Statements, name: &str, now: i64, interval: i64) -> Result<bool, WorkError> {
    Ok(db.query_opt(&sql.lease, &[&name, &now, &interval]).await?.is_some())
}

/// The stored value; a row whose value is NULL reads as absent.
pub async fn get(
    db: Conn<'_>,
    sql: &Statements,
    app_id: &str,
    tenant_id: &str,
    name: &str,
) -> Result<Option<String>, WorkError> {
    let row = db.query_opt(&sql.kv_select, &[&app_id, &tenant_id, &name]).await?;
    Ok(match row {
        Some(r) => r.try_get::<_, Option<String>>(0)?,
        None => None,
    })
}

pub async fn set(db: Conn<'_>, sql: &Statements, key: (&str, &str, &str), value: &str, now_ms: i64) -> Result<(), WorkError> {
    let (app_id, tenant_id, name) = key;
    db.execute(&sql.kv_upsert, &[&app_id, &tenant_id, &name, &value, &now_ms]).await?;
    Ok(())
}

/// Inserts unless a value is there, then reads what is stored. Under READ COMMITTED the insert waits
/// for a concurrent inserter of the same key and the read sees its committed value, so every caller
/// gets the same answer.
pub async fn insert_if_absent(
    db: Conn<'_>,
    sql: &Statements,
    key: (&str, &str, &str),
    value: &str,
    now_ms: i64,
) -> Result<String, WorkError> {
    let (app_id, tenant_id, name) = key;
    db.execute(&sql.kv_insert, &[&app_id, &tenant_id, &name, &value, &now_ms]).await?;
    Ok(get(db, sql, app_id, tenant_id, name).await?.unwrap_or_default())
}
