//! The bulk-import queue (`bulk_import_users`) in SQLite. Writes run in immediate transactions:
//! SQLite's one write lock makes each claim exclusive, which is what `FOR UPDATE SKIP LOCKED` gives
//! on PostgreSQL, even for two processes on one file.

use async_trait::async_trait;
use portcullis_core::accountlinking::storage::Shared;
use portcullis_core::bulkimport::conflicts::{ChunkFacts, ChunkProbe};
use portcullis_core::bulkimport::flow::BulkImportTx;
use portcullis_core::bulkimport::plan::ChunkRows;
use portcullis_core::metadata::parse_stored;
use portcullis_core::bulkimport::storage::{AddOutcome, BulkImportQueueStorage, Claim, ClaimedRow, Cursor, Failure, QueueRow};
use portcullis_core::bulkimport::Status;
use portcullis_core::ids::AppKey;
use portcullis_core::storage::StorageError;
use rusqlite::{params, Connection, ErrorCode, Row, ToSql};

use crate::tx::SqliteTx;
use crate::{query_err, SqliteStorage};

const COLUMNS: &str = "id, raw_data, status, primary_user_id, error_msg, created_at, updated_at";

fn queue_row(r: &Row<'_>) -> Result<QueueRow, rusqlite::Error> {
    let id: String = r.get(0)?;
    let status: Option<String> = r.get(2)?;
    let status = status.as_deref().and_then(Status::parse).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, format!("bulk_import_users row {id} has an unknown status").into())
    })?;
    Ok(QueueRow {
        raw_data: r.get(1)?,
        status,
        primary_user_id: r.get(3)?,
        error_msg: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        id,
    })
}

fn claimed_row(r: &Row<'_>) -> Result<ClaimedRow, rusqlite::Error> {
    Ok(ClaimedRow { id: r.get(0)?, raw_data: r.get(1)?, created_at: r.get(2)?, claimed_at: r.get(3)? })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation
        && (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE))
}

/// Claims: the rows picked become PROCESSING. Parameters: ?1 app, ?2 limit, ?3 now, then the
/// pick's own.
const CLAIM_STALE: &str = "UPDATE bulk_import_users SET status = 'PROCESSING', updated_at = MAX(?3, updated_at + 1) \
     WHERE app_id = ?1 AND id IN (SELECT id FROM bulk_import_users WHERE app_id = ?1 AND status = 'PROCESSING' AND updated_at < ?4 \
     ORDER BY updated_at, id LIMIT ?2) RETURNING id, raw_data, created_at, updated_at";
const CLAIM_NEW: &str = "UPDATE bulk_import_users SET status = 'PROCESSING', updated_at = MAX(?3, updated_at + 1) \
     WHERE app_id = ?1 AND id IN (SELECT id FROM bulk_import_users WHERE app_id = ?1 AND status = 'NEW' \
     ORDER BY created_at, id LIMIT ?2) RETURNING id, raw_data, created_at, updated_at";
const CLAIM_NEW_AFTER: &str = "UPDATE bulk_import_users SET status = 'PROCESSING', updated_at = MAX(?3, updated_at + 1) \
     WHERE app_id = ?1 AND id IN (SELECT id FROM bulk_import_users WHERE app_id = ?1 AND status = 'NEW' \
     AND (created_at, id) > (?4, ?5) ORDER BY created_at, id LIMIT ?2) RETURNING id, raw_data, created_at, updated_at";

fn claim_with(c: &Connection, statement: &str, app: &str, limit: i64, now: i64, extra: &[&dyn ToSql]) -> Result<Vec<ClaimedRow>, rusqlite::Error> {
    let mut params: Vec<&dyn ToSql> = vec![&app, &limit, &now];
    params.extend_from_slice(extra);
    let mut st = c.prepare_cached(statement)?;
    let rows = st.query_map(params.as_slice(), claimed_row)?;
    rows.collect()
}

/// Runs `statement` (parameters: app, id, claimed at, then `extra`) for every still-claimed row;
/// returns the ids it touched.
fn for_claims(c: &Connection, statement: &str, app: &str, claims: &[Claim], extra: &dyn Fn(usize) -> Vec<Box<dyn ToSql>>) -> Result<Vec<String>, rusqlite::Error> {
    let mut st = c.prepare_cached(statement)?;
    let mut done = Vec::new();
    for (i, claim) in claims.iter().enumerate() {
        let more = extra(i);
        let mut params: Vec<&dyn ToSql> = vec![&app, &claim.id, &claim.claimed_at];
        params.extend(more.iter().map(|b| b.as_ref()));
        if st.execute(params.as_slice())? > 0 {
            done.push(claim.id.clone());
        }
    }
    Ok(done)
}

/// The rows still claimed: processing, with the claim's stamp.
const CLAIMED: &str = "app_id = ?1 AND id = ?2 AND updated_at = ?3 AND status = 'PROCESSING'";

#[async_trait]
impl BulkImportQueueStorage for SqliteStorage {
    async fn bulk_import_add(&self, app: AppKey<'_>, users: &[(String, String)], now: i64) -> Result<AddOutcome, StorageError> {
        let (app, users) = (app.app_id.to_owned(), users.to_vec());
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(query_err)?;
            {
                let mut st = tx
                    .prepare_cached("INSERT INTO bulk_import_users (id, app_id, raw_data, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)")
                    .map_err(query_err)?;
                for (id, raw) in &users {
                    match st.execute(params![id, app, raw, now]) {
                        Ok(_) => {}
                        // Dropping the transaction rolls the batch back: all or nothing.
                        Err(e) if is_unique_violation(&e) => return Ok(AddOutcome::IdTaken),
                        Err(e) => return Err(query_err(e)),
                    }
                }
            }
            tx.commit().map_err(query_err)?;
            Ok(AddOutcome::Added)
        })
        .await
    }

    async fn bulk_import_list(&self, app: AppKey<'_>, status: Option<Status>, from: Option<&Cursor>, limit: usize) -> Result<Vec<QueueRow>, StorageError> {
        let (app, from) = (app.app_id.to_owned(), from.cloned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |c| {
            let mut sql = format!("SELECT {COLUMNS} FROM bulk_import_users WHERE app_id = ?");
            let mut params: Vec<Box<dyn ToSql>> = vec![Box::new(app)];
            if let Some(s) = status {
                sql.push_str(" AND status = ?");
                params.push(Box::new(s.as_str()));
            }
            if let Some(cursor) = from {
                // The page starts at the row the token names (inclusive), as the core's does.
                sql.push_str(" AND (created_at, id) <= (?, ?)");
                params.push(Box::new(cursor.created_at));
                params.push(Box::new(cursor.id));
            }
            sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
            params.push(Box::new(limit));
            let refs: Vec<&dyn ToSql> = params.iter().map(|b| b.as_ref()).collect();
            let mut st = c.prepare_cached(&sql).map_err(query_err)?;
            let rows = st.query_map(refs.as_slice(), queue_row).map_err(query_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(query_err)
        })
        .await
    }

    async fn bulk_import_count(&self, app: AppKey<'_>, status: Option<Status>) -> Result<u64, StorageError> {
        let app = app.app_id.to_owned();
        self.with_conn(move |c| {
            let n: i64 = match status {
                None => c.prepare_cached("SELECT COUNT(*) FROM bulk_import_users WHERE app_id = ?1").and_then(|mut s| s.query_row(params![app], |r| r.get(0))),
                Some(s) => c
                    .prepare_cached("SELECT COUNT(*) FROM bulk_import_users WHERE app_id = ?1 AND status = ?2")
                    .and_then(|mut st| st.query_row(params![app, s.as_str()], |r| r.get(0))),
            }
            .map_err(query_err)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn bulk_import_remove(&self, app: AppKey<'_>, ids: &[String]) -> Result<Vec<String>, StorageError> {
        let (app, ids) = (app.app_id.to_owned(), ids.to_vec());
        self.in_transaction(move |tx| {
            let mut st = tx.prepare_cached("DELETE FROM bulk_import_users WHERE app_id = ?1 AND id = ?2 RETURNING id")?;
            let mut deleted = Vec::new();
            for id in &ids {
                let rows = st.query_map(params![app, id], |r| r.get::<_, String>(0))?;
                for row in rows {
                    deleted.push(row?);
                }
            }
            Ok(deleted)
        })
        .await
    }

    async fn bulk_import_claim(&self, app: AppKey<'_>, limit: usize, now: i64, stale_before: i64, after: Option<&Cursor>) -> Result<Vec<ClaimedRow>, StorageError> {
        let (app, after) = (app.app_id.to_owned(), after.cloned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.in_transaction(move |tx| {
            let mut rows = claim_with(tx, CLAIM_STALE, &app, limit, now, &[&stale_before])?;
            let left = limit - i64::try_from(rows.len()).unwrap_or(limit);
            if left > 0 {
                let new = match &after {
                    None => claim_with(tx, CLAIM_NEW, &app, left, now, &[])?,
                    Some(c) => claim_with(tx, CLAIM_NEW_AFTER, &app, left, now, &[&c.created_at, &c.id])?,
                };
                rows.extend(new);
            }
            rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(rows)
        })
        .await
    }

    async fn bulk_import_release(&self, app: AppKey<'_>, claims: &[Claim], now: i64) -> Result<u64, StorageError> {
        let (app, claims) = (app.app_id.to_owned(), claims.to_vec());
        self.in_transaction(move |tx| {
            let sql = format!("UPDATE bulk_import_users SET status = 'NEW', updated_at = MAX(?4, updated_at + 1) WHERE {CLAIMED}");
            let done = for_claims(tx, &sql, &app, &claims, &|_| vec![Box::new(now)])?;
            Ok(done.len() as u64)
        })
        .await
    }

    async fn bulk_import_fail(&self, app: AppKey<'_>, failures: &[Failure], now: i64) -> Result<u64, StorageError> {
        let (app, failures) = (app.app_id.to_owned(), failures.to_vec());
        self.in_transaction(move |tx| {
            let sql = format!("UPDATE bulk_import_users SET status = 'FAILED', error_msg = ?4, updated_at = ?5 WHERE {CLAIMED}");
            let claims: Vec<Claim> = failures.iter().map(|f| f.claim.clone()).collect();
            let done = for_claims(tx, &sql, &app, &claims, &|i| vec![Box::new(failures[i].message.clone()), Box::new(now)])?;
            Ok(done.len() as u64)
        })
        .await
    }

    async fn bulk_import_finish(&self, app: AppKey<'_>, claims: &[Claim]) -> Result<Vec<String>, StorageError> {
        let (app, claims) = (app.app_id.to_owned(), claims.to_vec());
        self.in_transaction(move |tx| for_claims(tx, &format!("DELETE FROM bulk_import_users WHERE {CLAIMED}"), &app, &claims, &|_| Vec::new())).await
    }

    /// SQLite's planner needs no statistics for these statements: every lookup the import makes
    /// (and every foreign-key check) has its own unique index, which it prefers without any.
    async fn bulk_import_analyze_new_tables(&self) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
}


/// Rows per multi-row `INSERT … VALUES (…), (…)`: well under SQLite's 32,766 parameters for the
/// widest table (8 columns).
const ROWS_PER_INSERT: usize = 500;

/// Inserts `rows` with multi-row statements of [`ROWS_PER_INSERT`] rows: `head` names the table and
/// columns, `tail` follows the values (`ON CONFLICT …`).
fn insert_many<const N: usize>(c: &Connection, head: &str, tail: &str, rows: &[[&dyn ToSql; N]]) -> rusqlite::Result<usize> {
    let one = format!("({})", vec!["?"; N].join(", "));
    let mut inserted = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!("{head} VALUES {} {tail}", vec![one.as_str(); chunk.len()].join(", "));
        let params: Vec<&dyn ToSql> = chunk.iter().flat_map(|r| r.iter().copied()).collect();
        inserted += c.prepare_cached(&sql)?.execute(params.as_slice())?;
    }
    Ok(inserted)
}

fn insert_rows(c: &Connection, app: &str, rows: &ChunkRows) -> rusqlite::Result<()> {
    let app: &dyn ToSql = &app;
    let recipes: Vec<&str> = rows.app_users.iter().map(|u| u.1.as_str()).collect();
    let r: Vec<[&dyn ToSql; 5]> = rows.app_users.iter().zip(&recipes).map(|(u, recipe)| [app, &u.0, recipe, &u.2, &u.3]).collect();
    insert_many(c, "INSERT INTO app_id_to_user_id (app_id, user_id, recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user)", "", &r)?;
    let recipes: Vec<&str> = rows.auth_users.iter().map(|u| u.recipe_id.as_str()).collect();
    let r: Vec<[&dyn ToSql; 8]> = rows
        .auth_users
        .iter()
        .zip(&recipes)
        .map(|(u, recipe)| [app, &u.tenant_id, &u.user_id, &u.primary_or_recipe_user_id, &u.is_linked_or_primary, recipe, &u.time_joined, &u.primary_or_recipe_user_time_joined])
        .collect();
    insert_many(
        c,
        "INSERT INTO all_auth_recipe_users (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, time_joined, primary_or_recipe_user_time_joined)",
        "",
        &r,
    )?;
    let r: Vec<[&dyn ToSql; 5]> = rows.ep_users.iter().map(|u| [app, &u.0, &u.1, &u.2, &u.3]).collect();
    insert_many(c, "INSERT INTO emailpassword_users (app_id, user_id, email, password_hash, time_joined)", "", &r)?;
    let r: Vec<[&dyn ToSql; 4]> = rows.ep_tenants.iter().map(|u| [app, &u.0, &u.1, &u.2]).collect();
    insert_many(c, "INSERT INTO emailpassword_user_to_tenant (app_id, tenant_id, user_id, email)", "", &r)?;
    let r: Vec<[&dyn ToSql; 6]> = rows.tp_users.iter().map(|u| [app, &u.0, &u.1, &u.2, &u.3, &u.4]).collect();
    insert_many(c, "INSERT INTO thirdparty_users (app_id, third_party_id, third_party_user_id, user_id, email, time_joined)", "", &r)?;
    let r: Vec<[&dyn ToSql; 5]> = rows.tp_tenants.iter().map(|u| [app, &u.0, &u.1, &u.2, &u.3]).collect();
    insert_many(c, "INSERT INTO thirdparty_user_to_tenant (app_id, tenant_id, user_id, third_party_id, third_party_user_id)", "", &r)?;
    let r: Vec<[&dyn ToSql; 5]> = rows.pl_users.iter().map(|u| [app, &u.0, &u.1, &u.2, &u.3]).collect();
    insert_many(c, "INSERT INTO passwordless_users (app_id, user_id, email, phone_number, time_joined)", "", &r)?;
    let r: Vec<[&dyn ToSql; 5]> = rows.pl_tenants.iter().map(|u| [app, &u.0, &u.1, &u.2, &u.3]).collect();
    insert_many(c, "INSERT INTO passwordless_user_to_tenant (app_id, tenant_id, user_id, email, phone_number)", "", &r)?;
    let r: Vec<[&dyn ToSql; 3]> = rows.id_mappings.iter().map(|u| [app, &u.0, &u.1]).collect();
    insert_many(c, "INSERT INTO userid_mapping (app_id, supertokens_user_id, external_user_id)", "", &r)?;
    let r: Vec<[&dyn ToSql; 3]> = rows.verified_emails.iter().map(|u| [app, &u.0, &u.1]).collect();
    insert_many(c, "INSERT INTO emailverification_verified_emails (app_id, user_id, email)", "ON CONFLICT DO NOTHING", &r)?;
    let r: Vec<[&dyn ToSql; 2]> = rows.totp_users.iter().map(|u| [app, u as &dyn ToSql]).collect();
    insert_many(c, "INSERT INTO totp_users (app_id, user_id)", "ON CONFLICT DO NOTHING", &r)?;
    // A device of the same name is replaced, as the plugin's import does.
    let r: Vec<[&dyn ToSql; 8]> =
        rows.totp_devices.iter().map(|d| [app, &d.user_id, &d.device_name, &d.secret_key, &d.period, &d.skew, &true, &d.created_at]).collect();
    insert_many(
        c,
        "INSERT INTO totp_user_devices (app_id, user_id, device_name, secret_key, period, skew, verified, created_at)",
        "ON CONFLICT (app_id, user_id, device_name) DO UPDATE SET secret_key = excluded.secret_key, period = excluded.period, \
         skew = excluded.skew, verified = 1, created_at = excluded.created_at",
        &r,
    )?;
    // The rows carry the merged metadata (merged in core with the stored row).
    let r: Vec<[&dyn ToSql; 3]> = rows.metadata.iter().map(|u| [app, &u.0, &u.1]).collect();
    insert_many(
        c,
        "INSERT INTO user_metadata (app_id, user_id, user_metadata)",
        "ON CONFLICT (app_id, user_id) DO UPDATE SET user_metadata = excluded.user_metadata",
        &r,
    )?;
    let r: Vec<[&dyn ToSql; 4]> = rows.user_roles.iter().map(|u| [app, &u.0, &u.1, &u.2]).collect();
    insert_many(c, "INSERT INTO user_roles (app_id, tenant_id, user_id, role)", "ON CONFLICT DO NOTHING", &r)?;
    Ok(())
}

/// Whether one row answers `sql` with these parameters.
fn exists(c: &Connection, sql: &str, params: &[&dyn ToSql]) -> rusqlite::Result<bool> {
    c.prepare_cached(sql)?.exists(params)
}

fn strings(c: &Connection, sql: &str, params: &[&dyn ToSql]) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare_cached(sql)?;
    let rows = st.query_map(params, |r| r.get(0))?;
    rows.collect()
}

/// The chunk's facts, one indexed lookup per key (SQLite runs in process: no round trips to save).
fn facts(c: &Connection, app: &str, probe: &ChunkProbe) -> rusqlite::Result<ChunkFacts> {
    let mut f = ChunkFacts::default();
    for (t, e) in &probe.ep_emails {
        if exists(c, "SELECT 1 FROM emailpassword_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3", &[&app, t, e])? {
            f.ep_emails_taken.insert((t.clone(), e.clone()));
        }
    }
    for (t, id, uid) in &probe.tp_identities {
        let sql = "SELECT 1 FROM thirdparty_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND third_party_id = ?3 AND third_party_user_id = ?4";
        if exists(c, sql, &[&app, t, id, uid])? {
            f.tp_identities_taken.insert((t.clone(), id.clone(), uid.clone()));
        }
    }
    for (t, e) in &probe.pl_emails {
        if exists(c, "SELECT 1 FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND email = ?3", &[&app, t, e])? {
            f.pl_emails_taken.insert((t.clone(), e.clone()));
        }
    }
    for (t, p) in &probe.pl_phones {
        if exists(c, "SELECT 1 FROM passwordless_user_to_tenant WHERE app_id = ?1 AND tenant_id = ?2 AND phone_number = ?3", &[&app, t, p])? {
            f.pl_phones_taken.insert((t.clone(), p.clone()));
        }
    }
    let mut candidate_ids: Vec<String> = Vec::new();
    let infos = &probe.candidate_infos;
    let mut lookups: Vec<(Shared<'_>, Vec<&dyn ToSql>)> = Vec::new();
    lookups.extend(infos.emails.iter().map(|e| (Shared::Email(e), vec![&app as &dyn ToSql, e])));
    lookups.extend(infos.phone_numbers.iter().map(|p| (Shared::PhoneNumber(p), vec![&app as &dyn ToSql, p])));
    lookups.extend(infos.third_parties.iter().map(|(id, uid)| (Shared::ThirdParty(id, uid), vec![&app as &dyn ToSql, id, uid])));
    for (info, params) in lookups {
        for id in strings(c, crate::accountlinking::primary_ids_sql(info), &params)? {
            if !candidate_ids.contains(&id) {
                candidate_ids.push(id);
            }
        }
    }
    for id in &candidate_ids {
        f.primary_candidates.extend(crate::users::get_user(c, app, id)?);
    }
    for x in &probe.external_ids {
        if exists(c, "SELECT 1 FROM userid_mapping WHERE app_id = ?1 AND external_user_id = ?2", &[&app, x])? {
            f.mapped_external_ids.insert(x.clone());
        }
    }
    for id in &probe.user_ids {
        if exists(c, "SELECT 1 FROM app_id_to_user_id WHERE app_id = ?1 AND user_id = ?2", &[&app, id])? {
            f.existing_user_ids.insert(id.clone());
        }
    }
    for role in &probe.roles {
        if exists(c, "SELECT 1 FROM roles WHERE app_id = ?1 AND role = ?2", &[&app, role])? {
            f.roles.insert(role.clone());
        }
    }
    for uid in &probe.data_user_ids {
        if let Some(text) = strings(c, "SELECT user_metadata FROM user_metadata WHERE app_id = ?1 AND user_id = ?2", &[&app, uid])?.pop() {
            let map = parse_stored(&text).map_err(|m| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, m.into()))?;
            f.existing.metadata.insert(uid.clone(), map);
        }
        let devices = crate::totp::devices(c, app, uid)?;
        if !devices.is_empty() {
            f.existing.totp_devices.insert(uid.clone(), devices);
        }
    }
    Ok(f)
}

#[async_trait]
impl BulkImportTx for SqliteTx<'_> {
    async fn bi_lock_app(&mut self, _app: AppKey<'_>) -> Result<(), StorageError> {
        // The IMMEDIATE transaction already excludes every other writer.
        self.conn().map(drop)
    }

    async fn bi_lock_claims(&mut self, AppKey { app_id }: AppKey<'_>, claims: &[Claim]) -> Result<Vec<String>, StorageError> {
        let c = self.conn()?;
        let sql = format!("SELECT 1 FROM bulk_import_users WHERE {CLAIMED}");
        let mut held = Vec::new();
        for claim in claims {
            if exists(c, &sql, &[&app_id, &claim.id, &claim.claimed_at]).map_err(query_err)? {
                held.push(claim.id.clone());
            }
        }
        Ok(held)
    }

    async fn bi_facts(&mut self, AppKey { app_id }: AppKey<'_>, probe: &ChunkProbe) -> Result<ChunkFacts, StorageError> {
        facts(self.conn()?, app_id, probe).map_err(query_err)
    }

    async fn bi_insert(&mut self, AppKey { app_id }: AppKey<'_>, rows: &ChunkRows) -> Result<bool, StorageError> {
        let r = insert_rows(self.conn()?, app_id, rows).map(|()| 0);
        self.unique(r)
    }

    async fn bi_finish(&mut self, AppKey { app_id }: AppKey<'_>, claims: &[Claim]) -> Result<(), StorageError> {
        for_claims(self.conn()?, &format!("DELETE FROM bulk_import_users WHERE {CLAIMED}"), app_id, claims, &|_| Vec::new()).map(drop).map_err(query_err)
    }

    async fn bi_fail(&mut self, AppKey { app_id }: AppKey<'_>, failures: &[Failure], now: i64) -> Result<(), StorageError> {
        let sql = format!("UPDATE bulk_import_users SET status = 'FAILED', error_msg = ?4, updated_at = ?5 WHERE {CLAIMED}");
        let claims: Vec<Claim> = failures.iter().map(|f| f.claim.clone()).collect();
        for_claims(self.conn()?, &sql, app_id, &claims, &|i| vec![Box::new(failures[i].message.clone()), Box::new(now)]).map(drop).map_err(query_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance_in_memory() {
        let s = SqliteStorage::open(":memory:").unwrap();
        portcullis_testkit::conformance::run_bulk_import_queue(&s, &s).await;
    }

    #[tokio::test]
    async fn import_flow_conformance_in_memory() {
        let s = SqliteStorage::open(":memory:").unwrap();
        portcullis_testkit::conformance::run_bulk_import_flow(&s, &s).await;
    }

    /// The queue exists beside the seed's tables with the PostgreSQL template's columns, key and
    /// indexes; a file from before it gets it added.
    #[tokio::test]
    async fn the_queue_table_is_created_beside_the_seeds() {
        let s = SqliteStorage::open(":memory:").unwrap();
        let (columns, indexes, pk) = s
            .with_conn(|c| {
                let mut st = c.prepare("SELECT name, pk FROM pragma_table_info('bulk_import_users') ORDER BY cid").map_err(query_err)?;
                let cols: Vec<(String, i64)> = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(query_err)?.collect::<Result<_, _>>().map_err(query_err)?;
                let mut st = c
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bulk_import_users' AND sql IS NOT NULL ORDER BY name")
                    .map_err(query_err)?;
                let idx: Vec<String> = st.query_map([], |r| r.get(0)).map_err(query_err)?.collect::<Result<_, _>>().map_err(query_err)?;
                let pk: Vec<String> = cols.iter().filter(|(_, p)| *p > 0).map(|(n, _)| n.clone()).collect();
                Ok((cols.into_iter().map(|(n, _)| n).collect::<Vec<_>>(), idx, pk))
            })
            .await
            .unwrap();
        assert_eq!(columns, ["id", "app_id", "primary_user_id", "raw_data", "status", "error_msg", "created_at", "updated_at"]);
        assert_eq!(pk, ["id", "app_id"]);
        assert_eq!(indexes, ["bulk_import_users_pagination_index1", "bulk_import_users_pagination_index2", "bulk_import_users_status_updated_at_index"]);
        // The status default, and the key (app, id).
        let status = s
            .with_conn(|c| {
                c.execute_batch("INSERT INTO apps (app_id) VALUES ('qa'); INSERT INTO bulk_import_users (id, app_id, raw_data, created_at, updated_at) VALUES ('x', 'qa', '{}', 1, 1)")
                    .map_err(query_err)?;
                let dup = c.execute("INSERT INTO bulk_import_users (id, app_id, raw_data, created_at, updated_at) VALUES ('x', 'qa', '{}', 1, 1)", []);
                let status: String = c.query_row("SELECT status FROM bulk_import_users", [], |r| r.get(0)).map_err(query_err)?;
                Ok((status, dup.is_err()))
            })
            .await
            .unwrap();
        assert_eq!(status, ("NEW".to_owned(), true));

        // A file written before the queue existed: opening it adds the table, nothing else changes.
        let dir = std::env::temp_dir().join(format!("portcullis-bulk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(&format!("BEGIN;\n{}\nCOMMIT;", crate::SCHEMA)).unwrap();
        }
        let s = SqliteStorage::open(path.to_str().unwrap()).unwrap();
        assert_eq!(s.bulk_import_count(AppKey::new("public"), None).await.unwrap(), 0);
        drop(s);
        std::fs::remove_dir_all(&dir).ok();
    }
}
