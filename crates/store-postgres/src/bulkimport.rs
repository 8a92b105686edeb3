//! The bulk-import queue (`bulk_import_users`) in PostgreSQL.
//!
//! Claims take rows with `FOR UPDATE SKIP LOCKED` and mark them in the same statement, so
//! concurrent workers (of this instance or others) never wait on each other nor get the same
//! row. Ids are bound as `bpchar[]` so that comparisons with the `CHAR(36)` key use its index.
//! Every statement reads its rows through the plugin's indexes: the list through
//! `bulk_import_users_pagination_index1` / `_index2`, claims of new rows through
//! `_pagination_index1` read backwards (oldest first), stale claims through
//! `_status_updated_at_index`.

use async_trait::async_trait;
use portcullis_core::bulkimport::storage::{AddOutcome, BulkImportQueueStorage, Claim, ClaimedRow, Cursor, Failure, QueueRow};
use portcullis_core::bulkimport::Status;
use portcullis_core::ids::AppKey;
use portcullis_core::storage::StorageError;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::users::unique;
use crate::PgStorage;

pub struct Statements {
    add: String,
    /// By (status filter given, cursor given).
    list: [[String; 2]; 2],
    count: [String; 2],
    remove: String,
    claim_stale: String,
    /// By cursor given.
    claim_new: [String; 2],
    release: String,
    fail: String,
    finish: String,
}

const COLUMNS: &str = "id, raw_data, status, primary_user_id, error_msg, created_at, updated_at";

impl Statements {
    pub fn new(n: &Names) -> Result<Statements, String> {
        let t = n.table("bulk_import_users")?;
        let select = format!("SELECT {COLUMNS} FROM {t} WHERE app_id = $1");
        // A page starts at the row its token names (inclusive), as the core's does.
        let order = "ORDER BY created_at DESC, id DESC";
        // Claimed rows become PROCESSING; parameters $1 app, $2 limit, $3 now. The rows are picked
        // into an array so that the update finds them by key (a join with the pick would make the
        // planner scan the whole queue).
        let pick = format!(
            "UPDATE {t} AS q SET status = 'PROCESSING', updated_at = GREATEST($3, q.updated_at + 1) \
             WHERE q.app_id = $1 AND q.id = ANY(ARRAY(SELECT id FROM {t} WHERE app_id = $1 AND"
        );
        let lock = "LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING q.id, q.raw_data, q.created_at, q.updated_at";
        // The rows still claimed: processing, with the claim's stamp.
        let claimed = "q.app_id = $1 AND q.id = c.id AND q.updated_at = c.at AND q.status = 'PROCESSING'";
        Ok(Statements {
            add: format!(
                "INSERT INTO {t} (id, app_id, raw_data, created_at, updated_at) \
                 SELECT u.id, $1, u.raw, $4, $4 FROM UNNEST($2::VARCHAR[], $3::TEXT[]) AS u(id, raw)"
            ),
            list: [
                [
                    format!("{select} {order} LIMIT $2"),
                    format!("{select} AND (created_at, id) <= ($2, $3::BPCHAR) {order} LIMIT $4"),
                ],
                [
                    format!("{select} AND status = $2 {order} LIMIT $3"),
                    format!("{select} AND status = $2 AND (created_at, id) <= ($3, $4::BPCHAR) {order} LIMIT $5"),
                ],
            ],
            count: [
                format!("SELECT COUNT(*) FROM {t} WHERE app_id = $1"),
                format!("SELECT COUNT(*) FROM {t} WHERE app_id = $1 AND status = $2"),
            ],
            remove: format!("DELETE FROM {t} WHERE app_id = $1 AND id = ANY($2::BPCHAR[]) RETURNING id"),
            claim_stale: format!("{pick} status = 'PROCESSING' AND updated_at < $4 ORDER BY updated_at, id {lock}"),
            claim_new: [
                format!("{pick} status = 'NEW' ORDER BY created_at, id {lock}"),
                format!("{pick} status = 'NEW' AND (created_at, id) > ($4, $5::BPCHAR) ORDER BY created_at, id {lock}"),
            ],
            release: format!(
                "UPDATE {t} AS q SET status = 'NEW', updated_at = GREATEST($4, q.updated_at + 1) \
                 FROM UNNEST($2::BPCHAR[], $3::BIGINT[]) AS c(id, at) WHERE {claimed}"
            ),
            fail: format!(
                "UPDATE {t} AS q SET status = 'FAILED', error_msg = c.msg, updated_at = $5 \
                 FROM UNNEST($2::BPCHAR[], $3::BIGINT[], $4::TEXT[]) AS c(id, at, msg) WHERE {claimed}"
            ),
            finish: format!("DELETE FROM {t} AS q USING UNNEST($2::BPCHAR[], $3::BIGINT[]) AS c(id, at) WHERE {claimed} RETURNING q.id"),
        })
    }
}

fn trimmed(r: &Row, i: usize) -> Result<String, WorkError> {
    Ok(r.try_get::<_, String>(i)?.trim_end().to_owned())
}

fn queue_row(r: &Row) -> Result<QueueRow, WorkError> {
    let id = trimmed(r, 0)?;
    let status: Option<String> = r.try_get(2)?;
    let status = status
        .as_deref()
        .and_then(Status::parse)
        .ok_or_else(|| WorkError::Invalid(format!("bulk_import_users row {id} has an unknown status")))?;
    Ok(QueueRow {
        raw_data: r.try_get(1)?,
        status,
        primary_user_id: r.try_get::<_, Option<String>>(3)?.map(|p| p.trim_end().to_owned()),
        error_msg: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
        id,
    })
}

fn claimed_row(r: &Row) -> Result<ClaimedRow, WorkError> {
    Ok(ClaimedRow { id: trimmed(r, 0)?, raw_data: r.try_get(1)?, created_at: r.try_get(2)?, claimed_at: r.try_get(3)? })
}

fn claim_columns(claims: &[Claim]) -> (Vec<&str>, Vec<i64>) {
    claims.iter().map(|c| (c.id.as_str(), c.claimed_at)).unzip()
}

async fn add(db: Conn<'_>, sql: &Statements, app: &str, users: &[(String, String)], now: i64) -> Result<AddOutcome, WorkError> {
    let (ids, raws): (Vec<&str>, Vec<&str>) = users.iter().map(|(id, raw)| (id.as_str(), raw.as_str())).unzip();
    // A taken id aborts the statement: nothing of the batch is kept.
    Ok(if unique(db.execute(&sql.add, &[&app, &ids, &raws, &now])).await? { AddOutcome::Added } else { AddOutcome::IdTaken })
}

async fn list(db: Conn<'_>, sql: &Statements, app: &str, status: Option<Status>, from: Option<&Cursor>, limit: usize) -> Result<Vec<QueueRow>, WorkError> {
    let statement = &sql.list[usize::from(status.is_some())][usize::from(from.is_some())];
    let status = status.map(Status::as_str);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&app];
    if let Some(s) = &status {
        params.push(s);
    }
    if let Some(c) = from {
        params.push(&c.created_at);
        params.push(&c.id);
    }
    params.push(&limit);
    db.query(statement, &params).await?.iter().map(queue_row).collect()
}

async fn count(db: Conn<'_>, sql: &Statements, app: &str, status: Option<Status>) -> Result<u64, WorkError> {
    let row = match status {
        None => db.query(&sql.count[0], &[&app]).await?,
        Some(s) => db.query(&sql.count[1], &[&app, &s.as_str()]).await?,
    };
    let n: i64 = row.first().map(|r| r.try_get(0)).transpose()?.unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn remove(db: Conn<'_>, sql: &Statements, app: &str, ids: &[String]) -> Result<Vec<String>, WorkError> {
    db.query(&sql.remove, &[&app, &ids]).await?.iter().map(|r| trimmed(r, 0)).collect()
}

async fn claim(db: Conn<'_>, sql: &Statements, app: &str, (limit, now, stale_before): (usize, i64, i64), after: Option<&Cursor>) -> Result<Vec<ClaimedRow>, WorkError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows: Vec<ClaimedRow> =
        db.query(&sql.claim_stale, &[&app, &limit, &now, &stale_before]).await?.iter().map(claimed_row).collect::<Result<_, _>>()?;
    let left = limit - i64::try_from(rows.len()).unwrap_or(limit);
    if left > 0 {
        let new = match after {
            None => db.query(&sql.claim_new[0], &[&app, &left, &now]).await?,
            Some(c) => db.query(&sql.claim_new[1], &[&app, &left, &now, &c.created_at, &c.id]).await?,
        };
        for r in &new {
            rows.push(claimed_row(r)?);
        }
    }
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

async fn release(db: Conn<'_>, sql: &Statements, app: &str, claims: &[Claim], now: i64) -> Result<u64, WorkError> {
    let (ids, ats) = claim_columns(claims);
    Ok(db.execute(&sql.release, &[&app, &ids, &ats, &now]).await?)
}

async fn fail(db: Conn<'_>, sql: &Statements, app: &str, failures: &[Failure], now: i64) -> Result<u64, WorkError> {
    let ids: Vec<&str> = failures.iter().map(|f| f.claim.id.as_str()).collect();
    let ats: Vec<i64> = failures.iter().map(|f| f.claim.claimed_at).collect();
    let messages: Vec<&str> = failures.iter().map(|f| f.message.as_str()).collect();
    Ok(db.execute(&sql.fail, &[&app, &ids, &ats, &messages, &now]).await?)
}

async fn finish(db: Conn<'_>, sql: &Statements, app: &str, claims: &[Claim]) -> Result<Vec<String>, WorkError> {
    let (ids, ats) = claim_columns(claims);
    db.query(&sql.finish, &[&app, &ids, &ats]).await?.iter().map(|r| trimmed(r, 0)).collect()
}

#[async_trait]
impl BulkImportQueueStorage for PgStorage {
    async fn bulk_import_add(&self, app: AppKey<'_>, users: &[(String, String)], now: i64) -> Result<AddOutcome, StorageError> {
        let ctx = (&self.sql, app.app_id, users, now);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, users, now)| Box::pin(add(db, &sql.bulkimport, app, users, *now))).await
    }

    async fn bulk_import_list(&self, app: AppKey<'_>, status: Option<Status>, from: Option<&Cursor>, limit: usize) -> Result<Vec<QueueRow>, StorageError> {
        let ctx = (&self.sql, app.app_id, status, from, limit);
        self.db
            .run(Mode::Read, &ctx, |db, (sql, app, status, from, limit)| Box::pin(list(db, &sql.bulkimport, app, *status, *from, *limit)))
            .await
    }

    async fn bulk_import_count(&self, app: AppKey<'_>, status: Option<Status>) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app.app_id, status);
        self.db.run(Mode::Read, &ctx, |db, (sql, app, status)| Box::pin(count(db, &sql.bulkimport, app, *status))).await
    }

    async fn bulk_import_remove(&self, app: AppKey<'_>, ids: &[String]) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app.app_id, ids);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, ids)| Box::pin(remove(db, &sql.bulkimport, app, ids))).await
    }

    async fn bulk_import_claim(&self, app: AppKey<'_>, limit: usize, now: i64, stale_before: i64, after: Option<&Cursor>) -> Result<Vec<ClaimedRow>, StorageError> {
        let ctx = (&self.sql, app.app_id, (limit, now, stale_before), after);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, numbers, after)| Box::pin(claim(db, &sql.bulkimport, app, *numbers, *after))).await
    }

    async fn bulk_import_release(&self, app: AppKey<'_>, claims: &[Claim], now: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app.app_id, claims, now);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, claims, now)| Box::pin(release(db, &sql.bulkimport, app, claims, *now))).await
    }

    async fn bulk_import_fail(&self, app: AppKey<'_>, failures: &[Failure], now: i64) -> Result<u64, StorageError> {
        let ctx = (&self.sql, app.app_id, failures, now);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, failures, now)| Box::pin(fail(db, &sql.bulkimport, app, failures, *now))).await
    }

    async fn bulk_import_finish(&self, app: AppKey<'_>, claims: &[Claim]) -> Result<Vec<String>, StorageError> {
        let ctx = (&self.sql, app.app_id, claims);
        self.db.run(Mode::Write, &ctx, |db, (sql, app, claims)| Box::pin(finish(db, &sql.bulkimport, app, claims))).await
    }
}
