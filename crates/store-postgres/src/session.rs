//! Sessions (`session_info`), signing keys (`session_access_token_signing_keys`, `jwt_signing_keys`)
//! and last-active times (`user_last_active`).

use async_trait::async_trait;
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::session::signing_keys::DynamicKey;
use portcullis_core::session::storage::{SessionRow, SessionStorage, SessionUser, StaticKey, TenantScope};
use portcullis_core::storage::StorageError;

use crate::db::{Conn, Mode, WorkError};
use crate::PgStorage;
use crate::names::Names;

pub struct Statements {
    insert: String,
    select: String,
    user: String,
    promote: String,
    replace_hash: String,
    set_static: String,
    update_data: String,
    update_payload: String,
    delete: String,
    handles_for_user: String,
    delete_expired: String,
    keys: String,
    key_insert: String,
    keys_delete_before: String,
    es256_keys_delete_before: String,
    static_keys: String,
    static_key_insert: String,
    last_active: String,
}

const COLUMNS: &str = "tenant_id, session_handle, user_id, refresh_token_hash_2, session_data, expires_at, \
                       created_at_time, jwt_user_payload, use_static_key";

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let s = n.table("session_info")?;
        let k = n.table("session_access_token_signing_keys")?;
        let j = n.table("jwt_signing_keys")?;
        let la = n.table("user_last_active")?;
        let key = "app_id = $1 AND tenant_id = $2 AND session_handle = $3";
        Ok(Statements {
            // ON CONFLICT DO NOTHING: the handle is a fresh random id, so a conflict can only be this
            // same insert run again after its answer was lost (`Mode::Statement`).
            insert: format!(
                "INSERT INTO {s} (app_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
            ),
            // The mapping of the given id (the SuperTokens side first, as `pick_any`), and the primary
            // user of its group, external when mapped.
            user: format!(
                "WITH m AS (SELECT supertokens_user_id, external_user_id FROM {map} \
                 WHERE app_id = $1 AND (supertokens_user_id = $2 OR external_user_id = $2) \
                 ORDER BY supertokens_user_id = $2 DESC LIMIT 1) \
                 SELECT (SELECT external_user_id FROM m), \
                 (SELECT COALESCE(pm.external_user_id, a.primary_or_recipe_user_id) \
                 FROM {users} a LEFT JOIN {map} pm ON pm.app_id = a.app_id AND pm.supertokens_user_id = a.primary_or_recipe_user_id \
                 WHERE a.app_id = $1 AND a.user_id = COALESCE((SELECT supertokens_user_id FROM m), $2))",
                users = n.table("app_id_to_user_id")?,
                map = n.table("userid_mapping")?,
            ),
            select: format!("SELECT {COLUMNS}, {primary} FROM {s} s WHERE {key}", primary = primary_of("s", n)?),
            // The compare-and-set and the row in one statement: the UPDATE's row when it moved, else the
            // row as the statement's snapshot saw it (a data-modifying CTE's effects are invisible to
            // the rest of its statement, so the second branch only runs when nothing moved).
            promote: format!(
                "WITH up AS (UPDATE {s} SET refresh_token_hash_2 = $5, expires_at = $6 \
                 WHERE {key} AND refresh_token_hash_2 = $4 AND expires_at >= $7 RETURNING app_id, {COLUMNS}) \
                 SELECT {COLUMNS}, {primary_up}, true FROM up u \
                 UNION ALL \
                 SELECT {COLUMNS}, {primary_s}, false FROM {s} s WHERE {key} AND NOT EXISTS (SELECT 1 FROM up)",
                primary_up = primary_of("u", n)?,
                primary_s = primary_of("s", n)?,
            ),
            replace_hash: format!(
                "UPDATE {s} SET refresh_token_hash_2 = $5, expires_at = $6 WHERE {key} AND refresh_token_hash_2 = $4"
            ),
            set_static: format!("UPDATE {s} SET use_static_key = $4 WHERE {key}"),
            update_data: format!("UPDATE {s} SET session_data = $4 WHERE {key}"),
            update_payload: format!("UPDATE {s} SET jwt_user_payload = $4 WHERE {key}"),
            delete: format!("DELETE FROM {s} WHERE {key}"),
            handles_for_user: format!(
                "SELECT tenant_id, session_handle FROM {s} WHERE app_id = $1 AND user_id = $2 AND expires_at >= $3 \
                 AND ($4::VARCHAR IS NULL OR tenant_id = $4) ORDER BY created_at_time"
            ),
            delete_expired: format!("DELETE FROM {s} WHERE expires_at <= $1"),
            keys: format!("SELECT created_at_time, value FROM {k} WHERE app_id = $1 ORDER BY created_at_time DESC"),
            key_insert: format!(
                "INSERT INTO {k} (app_id, created_at_time, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            ),
            keys_delete_before: format!("DELETE FROM {k} WHERE app_id = $1 AND created_at_time < $2"),
            es256_keys_delete_before: format!(
                "DELETE FROM {j} WHERE app_id = $1 AND algorithm = 'ES256' AND key_id LIKE 'd-%' AND created_at < $2"
            ),
            static_keys: format!(
                "SELECT key_id, key_string, algorithm, created_at FROM {j} WHERE app_id = $1 AND algorithm IN ('RS256', 'ES256') \
                 ORDER BY created_at ASC, key_id ASC"
            ),
            static_key_insert: format!(
                "INSERT INTO {j} (app_id, key_id, key_string, algorithm, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING"
            ),
            last_active: format!(
                "INSERT INTO {la} (app_id, user_id, last_active_time) VALUES ($1, $2, $3) \
                 ON CONFLICT (app_id, user_id) DO UPDATE SET last_active_time = EXCLUDED.last_active_time"
            ),
        })
    }
}

/// The primary user of the user of the session row `alias` (external when mapped), as a scalar
/// subquery: the stored id may be external, so it is mapped back first.
fn primary_of(alias: &str, n: &Names) -> Result<String, String> {
    Ok(format!(
        "(SELECT COALESCE(pm.external_user_id, a.primary_or_recipe_user_id) \
         FROM {users} a LEFT JOIN {map} pm ON pm.app_id = a.app_id AND pm.supertokens_user_id = a.primary_or_recipe_user_id \
         WHERE a.app_id = {alias}.app_id AND a.user_id = COALESCE(\
         (SELECT m.supertokens_user_id FROM {map} m WHERE m.app_id = {alias}.app_id AND m.external_user_id = {alias}.user_id), {alias}.user_id))",
        users = n.table("app_id_to_user_id")?,
        map = n.table("userid_mapping")?,
    ))
}

fn row_of(r: &tokio_postgres::Row) -> Result<SessionRow, WorkError> {
    Ok(SessionRow {
        tenant_id: r.try_get(0)?,
        handle: r.try_get(1)?,
        user_id: r.try_get(2)?,
        refresh_token_hash_2: r.try_get(3)?,
        session_data: r.try_get::<_, Option<String>>(4)?.unwrap_or_default(),
        expires_at: r.try_get(5)?,
        created_at: r.try_get(6)?,
        jwt_user_payload: r.try_get::<_, Option<String>>(7)?.unwrap_or_default(),
        use_static_key: r.try_get(8)?,
        primary_user_id: None,
    })
}

pub async fn insert(db: Conn<'_>, sql: &Statements, app: &str, r: &SessionRow) -> Result<(), WorkError> {
    db.execute(
        &sql.insert,
        &[
            &app,
            &r.tenant_id,
            &r.handle,
            &r.user_id,
            &r.refresh_token_hash_2,
            &r.session_data,
            &r.expires_at,
            &r.created_at,
            &r.jwt_user_payload,
            &r.use_static_key,
        ],
    )
    .await?;
    Ok(())
}

pub async fn user(db: Conn<'_>, sql: &Statements, app: &str, given: &str) -> Result<SessionUser, WorkError> {
    // A SELECT of two scalar subqueries always answers one row.
    let (mapped, primary): (Option<String>, Option<String>) = match db.query_opt(&sql.user, &[&app, &given]).await? {
        Some(row) => (row.try_get(0)?, row.try_get(1)?),
        None => (None, None),
    };
    Ok(SessionUser { user_id: mapped.unwrap_or_else(|| given.to_owned()), primary_user_id: primary.map(|p| p.trim_end().to_owned()) })
}

/// A session row with its primary user (column 9), as the `select` and `promote` statements give it.
fn row_with_primary(r: &tokio_postgres::Row) -> Result<SessionRow, WorkError> {
    let mut row = row_of(r)?;
    let primary: Option<String> = r.try_get(9)?;
    row.primary_user_id = primary.map(|p| p.trim_end().to_owned()).filter(|p| p != &row.user_id);
    Ok(row)
}

pub async fn get(db: Conn<'_>, sql: &Statements, app: &str, tenant: &str, handle: &str) -> Result<Option<SessionRow>, WorkError> {
    db.query_opt(&sql.select, &[&app, &tenant, &handle]).await?.as_ref().map(row_with_primary).transpose()
}

pub async fn promote(
    db: Conn<'_>,
    sql: &Statements,
    (app, tenant, handle): (&str, &str, &str),
    (parent, new): (&str, &str),
    (expires_at, live_at): (i64, i64),
) -> Result<Option<(SessionRow, bool)>, WorkError> {
    match db.query_opt(&sql.promote, &[&app, &tenant, &handle, &parent, &new, &expires_at, &live_at]).await? {
        Some(r) => Ok(Some((row_with_primary(&r)?, r.try_get(10)?))),
        None => Ok(None),
    }
}

pub async fn replace_hash(
    db: Conn<'_>,
    sql: &Statements,
    (app, tenant, handle): (&str, &str, &str),
    old: &str,
    new: &str,
    expires_at: i64,
) -> Result<bool, WorkError> {
    Ok(db.execute(&sql.replace_hash, &[&app, &tenant, &handle, &old, &new, &expires_at]).await? == 1)
}

pub async fn set_static(db: Conn<'_>, sql: &Statements, (app, tenant, handle): (&str, &str, &str), value: bool) -> Result<(), WorkError> {
    db.execute(&sql.set_static, &[&app, &tenant, &handle, &value]).await?;
    Ok(())
}

/// Replaces the stored data (`claims` = the custom access-token claims); false when there is no such session.
pub async fn update(
    db: Conn<'_>,
    sql: &Statements,
    (app, tenant, handle): (&str, &str, &str),
    text: &str,
    claims: bool,
) -> Result<bool, WorkError> {
    let statement = if claims { &sql.update_payload } else { &sql.update_data };
    Ok(db.execute(statement, &[&app, &tenant, &handle, &text]).await? == 1)
}

pub async fn delete(db: Conn<'_>, sql: &Statements, app: &str, sessions: &[(String, String)]) -> Result<Vec<String>, WorkError> {
    let mut deleted = Vec::new();
    for (tenant, handle) in sessions {
        if db.execute(&sql.delete, &[&app, tenant, handle]).await? > 0 {
            deleted.push(handle.clone());
        }
    }
    Ok(deleted)
}

pub async fn handles_for_user(
    db: Conn<'_>,
    sql: &Statements,
    app: &str,
    tenant: Option<&str>,
    user: &str,
    now: i64,
) -> Result<Vec<(String, String)>, WorkError> {
    let rows = db.query(&sql.handles_for_user, &[&app, &user, &now, &tenant]).await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

pub async fn delete_expired(db: Conn<'_>, sql: &Statements, now: i64) -> Result<u64, WorkError> {
    Ok(db.execute(&sql.delete_expired, &[&now]).await?)
}

pub async fn keys(db: Conn<'_>, sql: &Statements, app: &str) -> Result<Vec<DynamicKey>, WorkError> {
    let rows = db.query(&sql.keys, &[&app]).await?;
    rows.iter()
        .map(|r| Ok(DynamicKey { created_at: r.try_get(0)?, value: r.try_get::<_, Option<String>>(1)?.unwrap_or_default() }))
        .collect()
}

pub async fn key_insert(db: Conn<'_>, sql: &Statements, app: &str, k: &DynamicKey) -> Result<(), WorkError> {
    db.execute(&sql.key_insert, &[&app, &k.created_at, &k.value]).await?;
    Ok(())
}

pub async fn keys_delete_before(db: Conn<'_>, sql: &Statements, app: &str, before: i64) -> Result<u64, WorkError> {
    let rsa = db.execute(&sql.keys_delete_before, &[&app, &before]).await?;
    Ok(rsa + db.execute(&sql.es256_keys_delete_before, &[&app, &before]).await?)
}

pub async fn static_keys(db: Conn<'_>, sql: &Statements, app: &str) -> Result<Vec<StaticKey>, WorkError> {
    let rows = db.query(&sql.static_keys, &[&app]).await?;
    rows.iter()
        .map(|r| {
            Ok(StaticKey {
                key_id: r.try_get(0)?,
                key_string: r.try_get(1)?,
                algorithm: r.try_get(2)?,
                created_at: r.try_get::<_, Option<i64>>(3)?.unwrap_or(0),
            })
        })
        .collect()
}

pub async fn static_key_insert(db: Conn<'_>, sql: &Statements, app: &str, k: &StaticKey) -> Result<(), WorkError> {
    db.execute(&sql.static_key_insert, &[&app, &k.key_id, &k.key_string, &k.algorithm, &k.created_at]).await?;
    Ok(())
}

pub async fn last_active(db: Conn<'_>, sql: &Statements, app: &str, user: &str, now: i64) -> Result<(), WorkError> {
    db.execute(&sql.last_active, &[&app, &user, &now]).await?;
    Ok(())
}

#[async_trait]
impl SessionStorage for PgStorage {
    async fn session_insert(&self, AppKey { app_id }: AppKey<'_>, row: &SessionRow) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, row);
        self.db.run(Mode::Statement, &ctx, |db, (sql, app, row)| Box::pin(insert(db, &sql.session, app, row))).await
    }

    async fn session_user(&self, AppKey { app_id }: AppKey<'_>, given: &str) -> Result<SessionUser, StorageError> {
        let ctx = (&self.sql, app_id, given);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, given)| Box::pin(user(db, &sql.session, app, given))).await
    }

    async fn session_promote(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        handle: &str,
        parent_hash_2: &str,
        new_hash_2: &str,
        new_expires_at: i64,
        live_at: i64,
    ) -> Result<Option<(SessionRow, bool)>, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), (parent_hash_2, new_hash_2), (new_expires_at, live_at));
        self.db
            .run(Mode::Statement, &ctx, |db, (sql, key, hashes, times)| Box::pin(promote(db, &sql.session, *key, *hashes, *times)))
            .await
    }

    async fn session_get(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str) -> Result<Option<SessionRow>, StorageError> {
        let ctx = (&self.sql, app_id, tenant_id, handle);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, handle)| Box::pin(get(db, &sql.session, app, tenant, handle)))
            .await
    }

    async fn session_replace_refresh_hash(
        &self,
        TenantKey { app_id, tenant_id }: TenantKey<'_>,
        handle: &str,
        expected_hash_2: &str,
        new_hash_2: &str,
        new_expires_at: i64,
    ) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), (expected_hash_2, new_hash_2), new_expires_at);
        self.db
            .run(Mode::Statement, &ctx, |db, (sql, key, (old, new), expires)| {
                Box::pin(replace_hash(db, &sql.session, *key, old, new, *expires))
            })
            .await
    }

    async fn session_set_use_static_key(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str, value: bool) -> Result<(), StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), value);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, value)| Box::pin(set_static(db, &sql.session, *key, *value)))
            .await
    }

    async fn session_update_data(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str, data: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), data);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, text)| Box::pin(update(db, &sql.session, *key, text, false)))
            .await
    }

    async fn session_update_jwt_payload(&self, TenantKey { app_id, tenant_id }: TenantKey<'_>, handle: &str, payload: &str) -> Result<bool, StorageError> {
        let ctx = (&self.sql, (app_id, tenant_id, handle), payload);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, key, text)| Box::pin(update(db, &sql.session, *key, text, true)))
            .await
    }

    async fn session_delete(&self, AppKey { app_id }: AppKey<'_>, list: &[(String, String)]) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app_id, list);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, list)| Box::pin(delete(db, &sql.session, app, list))).await
    }

    async fn session_handles_for_user(
        &self,
        AppKey { app_id }: AppKey<'_>,
        scope: TenantScope<'_>,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let tenant = match scope {
            TenantScope::One(t) => Some(t),
            TenantScope::AllTenants => None,
        };
        let ctx = (&self.sql, app_id, tenant, user_id, now);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, tenant, user, now)| {
                Box::pin(handles_for_user(db, &sql.session, app, *tenant, user, *now))
            })
            .await
    }

    async fn session_delete_expired(&self, now: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, now);
        self.db.run(Mode::Write, &ctx, |db, (sql, now)| Box::pin(delete_expired(db, &sql.session, *now))).await
    }

    async fn dynamic_keys(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<DynamicKey>, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app)| Box::pin(keys(db, &sql.session, app))).await
    }

    async fn dynamic_key_insert(&self, AppKey { app_id }: AppKey<'_>, key: &DynamicKey) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, key);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, key)| Box::pin(key_insert(db, &sql.session, app, key))).await
    }

    async fn dynamic_keys_delete_before(&self, AppKey { app_id }: AppKey<'_>, before: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app_id, before);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, before)| Box::pin(keys_delete_before(db, &sql.session, app, *before)))
            .await
    }

    async fn static_keys(&self, AppKey { app_id }: AppKey<'_>) -> Result<Vec<StaticKey>, StorageError> {
        let ctx = (&self.sql, app_id);
        self.db.run(Mode::Read, &ctx, |db, (sql, app)| Box::pin(static_keys(db, &sql.session, app))).await
    }

    async fn static_key_insert(&self, AppKey { app_id }: AppKey<'_>, key: &StaticKey) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, key);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, key)| Box::pin(static_key_insert(db, &sql.session, app, key)))
            .await
    }

    async fn user_last_active_upsert(&self, AppKey { app_id }: AppKey<'_>, user_id: &str, now: i64) -> Result<(), StorageError> {
        let ctx = (&self.sql, app_id, user_id, now);
        self.db
            .run(Mode::Write, &ctx, |db, (sql, app, user, now)| Box::pin(last_active(db, &sql.session, app, user, *now)))
            .await
    }
}
