//! The bulk-import queue (`bulk_import_users`) in PostgreSQL.
//!
//! Claims take rows with `FOR UPDATE SKIP LOCKED` and mark them in the same statement, so
//! concurrent workers (of this instance or others) never wait on each other nor get the same
//! row. Ids are bound as `bpchar[]` so that comparisons with the `CHAR(36)` key use its index.
//! Every statement reads its rows through the plugin's indexes: the list through
//! `bulk_import_users_pagination_index1` / `_index2`, claims of new rows through
//! `_pagination_index1` read backwards (oldest first), stale claims through
//! `_status_updated_at_index`.

use std::collections::HashSet;

use async_trait::async_trait;
use portcullis_core::bulkimport::conflicts::{ChunkFacts, ChunkProbe};
use portcullis_core::bulkimport::flow::BulkImportTx;
use portcullis_core::bulkimport::plan::ChunkRows;
use portcullis_core::metadata::parse_stored;
use portcullis_core::totp::Device;
use portcullis_core::bulkimport::storage::{AddOutcome, BulkImportQueueStorage, Claim, ClaimedRow, Cursor, Failure, QueueRow};
use portcullis_core::bulkimport::Status;
use portcullis_core::ids::AppKey;
use portcullis_core::storage::StorageError;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::db::{Conn, Mode, WorkError};
use crate::names::Names;
use crate::tx::PgTx;
use crate::users::unique;
use crate::{PgStorage, Statements as AllStatements};

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
    /// The import flow's statements (`BulkImportTx`).
    import: ImportStatements,
    /// The tables an import writes, and which of them have no planner statistics.
    written: Vec<String>,
    never_analyzed: String,
}

/// The tables an import writes (as `ChunkRows` lists them).
const WRITTEN_TABLES: [&str; 14] = [
    "app_id_to_user_id",
    "all_auth_recipe_users",
    "emailpassword_users",
    "emailpassword_user_to_tenant",
    "thirdparty_users",
    "thirdparty_user_to_tenant",
    "passwordless_users",
    "passwordless_user_to_tenant",
    "userid_mapping",
    "emailverification_verified_emails",
    "totp_users",
    "totp_user_devices",
    "user_metadata",
    "user_roles",
];

/// How many statement timeouts a chunk may wait for the app's lock (see `bi_lock_app`).
const LOCK_WAIT_TIMEOUTS: u128 = 3;

/// The statements of the import flow: set-based reads of a chunk's facts, and one multi-row
/// `INSERT … SELECT … FROM UNNEST(…)` per table (arrays, so no chunk size meets the 65,535
/// parameter limit).
pub struct ImportStatements {
    lock_app: String,
    set_statement_timeout: String,
    lock_claims: String,
    ep_taken: String,
    tp_taken: String,
    pl_email_taken: String,
    pl_phone_taken: String,
    candidate_ids: String,
    mapped: String,
    existing_ids: String,
    roles: String,
    metadata: String,
    totp_devices: String,
    /// In foreign-key order, as `ChunkRows` lists the tables.
    insert_app_users: String,
    insert_auth_users: String,
    insert_ep_users: String,
    insert_ep_tenants: String,
    insert_tp_users: String,
    insert_tp_tenants: String,
    insert_pl_users: String,
    insert_pl_tenants: String,
    insert_id_mappings: String,
    insert_verified: String,
    insert_totp_users: String,
    insert_totp_devices: String,
    upsert_metadata: String,
    insert_user_roles: String,
}

impl ImportStatements {
    fn new(n: &Names, queue: &str) -> Result<ImportStatements, String> {
        let app_users = n.table("app_id_to_user_id")?;
        let ep = n.table("emailpassword_users")?;
        let ep_t = n.table("emailpassword_user_to_tenant")?;
        let tp = n.table("thirdparty_users")?;
        let tp_t = n.table("thirdparty_user_to_tenant")?;
        let pl = n.table("passwordless_users")?;
        let pl_t = n.table("passwordless_user_to_tenant")?;
        let totp_users = n.table("totp_users")?;
        let totp_devices = n.table("totp_user_devices")?;
        let metadata = n.table("user_metadata")?;
        Ok(ImportStatements {
            lock_app: format!("SELECT 1 FROM {} WHERE app_id = $1 FOR NO KEY UPDATE", n.table("apps")?),
            set_statement_timeout: "SELECT set_config('statement_timeout', $1, true)".to_owned(),
            lock_claims: format!(
                "SELECT q.id FROM {queue} AS q, UNNEST($2::BPCHAR[], $3::BIGINT[]) AS c(id, at) \
                 WHERE q.app_id = $1 AND q.id = c.id AND q.updated_at = c.at AND q.status = 'PROCESSING' FOR UPDATE OF q"
            ),
            ep_taken: format!(
                "SELECT t.tenant_id, t.email FROM {ep_t} t JOIN UNNEST($2::TEXT[], $3::TEXT[]) AS k(tenant, email) \
                 ON t.app_id = $1 AND t.tenant_id = k.tenant AND t.email = k.email"
            ),
            tp_taken: format!(
                "SELECT t.tenant_id, t.third_party_id, t.third_party_user_id FROM {tp_t} t \
                 JOIN UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[]) AS k(tenant, tp, tpu) \
                 ON t.app_id = $1 AND t.tenant_id = k.tenant AND t.third_party_id = k.tp AND t.third_party_user_id = k.tpu"
            ),
            pl_email_taken: format!(
                "SELECT t.tenant_id, t.email FROM {pl_t} t JOIN UNNEST($2::TEXT[], $3::TEXT[]) AS k(tenant, email) \
                 ON t.app_id = $1 AND t.tenant_id = k.tenant AND t.email = k.email"
            ),
            pl_phone_taken: format!(
                "SELECT t.tenant_id, t.phone_number FROM {pl_t} t JOIN UNNEST($2::TEXT[], $3::TEXT[]) AS k(tenant, phone) \
                 ON t.app_id = $1 AND t.tenant_id = k.tenant AND t.phone_number = k.phone"
            ),
            // The primary (or recipe) ids of every user holding one of the emails ($2), phone
            // numbers ($3) or third-party identities ($4, $5), app-wide: the candidates'
            // lookups of account linking, for a whole chunk at once.
            candidate_ids: format!(
                "SELECT DISTINCT primary_or_recipe_user_id FROM {app_users} WHERE app_id = $1 AND user_id IN ( \
                 SELECT user_id FROM {ep} WHERE app_id = $1 AND email = ANY($2::TEXT[]) \
                 UNION SELECT user_id FROM {tp} WHERE app_id = $1 AND email = ANY($2::TEXT[]) \
                 UNION SELECT user_id FROM {pl} WHERE app_id = $1 AND email = ANY($2::TEXT[]) \
                 UNION SELECT user_id FROM {wa} WHERE app_id = $1 AND email = ANY($2::TEXT[]) \
                 UNION SELECT user_id FROM {pl} WHERE app_id = $1 AND phone_number = ANY($3::TEXT[]) \
                 UNION SELECT u.user_id FROM {tp} u JOIN UNNEST($4::TEXT[], $5::TEXT[]) AS k(tp, tpu) \
                 ON u.app_id = $1 AND u.third_party_id = k.tp AND u.third_party_user_id = k.tpu)",
                wa = n.table("webauthn_users")?
            ),
            mapped: format!("SELECT external_user_id FROM {} WHERE app_id = $1 AND external_user_id = ANY($2::TEXT[])", n.table("userid_mapping")?),
            existing_ids: format!("SELECT user_id FROM {app_users} WHERE app_id = $1 AND user_id = ANY($2::BPCHAR[])"),
            roles: format!("SELECT role FROM {} WHERE app_id = $1 AND role = ANY($2::TEXT[])", n.table("roles")?),
            metadata: format!("SELECT user_id, user_metadata FROM {metadata} WHERE app_id = $1 AND user_id = ANY($2::TEXT[]) FOR UPDATE"),
            totp_devices: format!(
                "SELECT user_id, device_name, secret_key, period, skew, verified, created_at FROM {totp_devices} \
                 WHERE app_id = $1 AND user_id = ANY($2::TEXT[]) ORDER BY user_id, created_at, device_name"
            ),
            insert_app_users: format!(
                "INSERT INTO {app_users} (app_id, user_id, recipe_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user) \
                 SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BOOLEAN[]) AS u"
            ),
            insert_auth_users: format!(
                "INSERT INTO {} (app_id, tenant_id, user_id, primary_or_recipe_user_id, is_linked_or_is_a_primary_user, recipe_id, \
                 time_joined, primary_or_recipe_user_time_joined) \
                 SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BOOLEAN[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[]) AS u",
                n.table("all_auth_recipe_users")?
            ),
            insert_ep_users: format!(
                "INSERT INTO {ep} (app_id, user_id, email, password_hash, time_joined) \
                 SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[]) AS u"
            ),
            insert_ep_tenants: format!(
                "INSERT INTO {ep_t} (app_id, tenant_id, user_id, email) SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u"
            ),
            insert_tp_users: format!(
                "INSERT INTO {tp} (app_id, third_party_id, third_party_user_id, user_id, email, time_joined) \
                 SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[]) AS u"
            ),
            insert_tp_tenants: format!(
                "INSERT INTO {tp_t} (app_id, tenant_id, user_id, third_party_id, third_party_user_id) \
                 SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) AS u"
            ),
            insert_pl_users: format!(
                "INSERT INTO {pl} (app_id, user_id, email, phone_number, time_joined) \
                 SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[]) AS u"
            ),
            insert_pl_tenants: format!(
                "INSERT INTO {pl_t} (app_id, tenant_id, user_id, email, phone_number) \
                 SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[]) AS u"
            ),
            insert_id_mappings: format!(
                "INSERT INTO {} (app_id, supertokens_user_id, external_user_id) SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[]) AS u",
                n.table("userid_mapping")?
            ),
            insert_verified: format!(
                "INSERT INTO {} (app_id, user_id, email) SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[]) AS u ON CONFLICT DO NOTHING",
                n.table("emailverification_verified_emails")?
            ),
            insert_totp_users: format!("INSERT INTO {totp_users} (app_id, user_id) SELECT $1, u FROM UNNEST($2::TEXT[]) AS u ON CONFLICT DO NOTHING"),
            // A device of the same name is replaced, as the plugin's import does.
            insert_totp_devices: format!(
                "INSERT INTO {totp_devices} (app_id, user_id, device_name, secret_key, period, skew, verified, created_at) \
                 SELECT $1, u.user_id, u.name, u.secret, u.period, u.skew, TRUE, u.created_at \
                 FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::INTEGER[], $6::INTEGER[], $7::BIGINT[]) \
                 AS u(user_id, name, secret, period, skew, created_at) \
                 ON CONFLICT (app_id, user_id, device_name) DO UPDATE SET secret_key = EXCLUDED.secret_key, period = EXCLUDED.period, \
                 skew = EXCLUDED.skew, verified = TRUE, created_at = EXCLUDED.created_at"
            ),
            // The rows carry the merged metadata (merged in core with the locked stored row).
            upsert_metadata: format!(
                "INSERT INTO {metadata} (app_id, user_id, user_metadata) SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[]) AS u \
                 ON CONFLICT (app_id, user_id) DO UPDATE SET user_metadata = EXCLUDED.user_metadata"
            ),
            insert_user_roles: format!(
                "INSERT INTO {} (app_id, tenant_id, user_id, role) SELECT $1, u.* FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u \
                 ON CONFLICT DO NOTHING",
                n.table("user_roles")?
            ),
        })
    }
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
            import: ImportStatements::new(n, t)?,
            written: WRITTEN_TABLES.iter().map(|base| n.table(base).map(str::to_owned)).collect::<Result<_, _>>()?,
            // Positions (1-based) in $1 of the tables that no ANALYZE has seen, by hand or by
            // autovacuum (`reltuples` is -1 only from PostgreSQL 14 on; these columns say it on every
            // version).
            never_analyzed: "SELECT k.i FROM UNNEST($1::TEXT[]) WITH ORDINALITY AS k(name, i) \
                             JOIN pg_stat_user_tables s ON s.relid = to_regclass(k.name) \
                             WHERE s.last_analyze IS NULL AND s.last_autoanalyze IS NULL"
                .to_owned(),
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

    async fn bulk_import_analyze_new_tables(&self) -> Result<Vec<String>, StorageError> {
        self.db.run(Mode::Statement, &self.sql, |db, sql| Box::pin(analyze_new_tables(db, &sql.bulkimport))).await
    }
}

async fn analyze_new_tables(db: Conn<'_>, s: &Statements) -> Result<Vec<String>, WorkError> {
    let rows = db.query(&s.never_analyzed, &[&s.written]).await?;
    let mut tables = Vec::with_capacity(rows.len());
    for r in rows {
        let i = usize::try_from(r.try_get::<_, i64>(0)? - 1).map_err(|_| WorkError::Invalid("a table position below 1".into()))?;
        tables.extend(s.written.get(i).cloned());
    }
    if !tables.is_empty() {
        // Our own rendered (quoted) names; ANALYZE takes no parameters.
        db.execute(&format!("ANALYZE {}", tables.join(", ")), &[]).await?;
    }
    Ok(tables)
}

/// The first column of each row, trimmed (`CHAR(36)` ids read back padded).
fn first_column(rows: &[Row]) -> Result<Vec<String>, WorkError> {
    rows.iter().map(|r| trimmed(r, 0)).collect()
}

fn pairs(rows: &[Row]) -> Result<HashSet<(String, String)>, WorkError> {
    rows.iter().map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?))).collect()
}

/// Columns of a list of pairs, for `UNNEST`.
fn columns2(v: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).unzip()
}

async fn facts(db: Conn<'_>, sql: &AllStatements, app: &str, probe: &ChunkProbe) -> Result<ChunkFacts, WorkError> {
    let s = &sql.bulkimport.import;
    let mut f = ChunkFacts::default();
    if !probe.ep_emails.is_empty() {
        let (tenants, emails) = columns2(&probe.ep_emails);
        f.ep_emails_taken = pairs(&db.query(&s.ep_taken, &[&app, &tenants, &emails]).await?)?;
    }
    if !probe.tp_identities.is_empty() {
        let tenants: Vec<&str> = probe.tp_identities.iter().map(|k| k.0.as_str()).collect();
        let ids: Vec<&str> = probe.tp_identities.iter().map(|k| k.1.as_str()).collect();
        let user_ids: Vec<&str> = probe.tp_identities.iter().map(|k| k.2.as_str()).collect();
        for r in db.query(&s.tp_taken, &[&app, &tenants, &ids, &user_ids]).await? {
            f.tp_identities_taken.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
    }
    if !probe.pl_emails.is_empty() {
        let (tenants, emails) = columns2(&probe.pl_emails);
        f.pl_emails_taken = pairs(&db.query(&s.pl_email_taken, &[&app, &tenants, &emails]).await?)?;
    }
    if !probe.pl_phones.is_empty() {
        let (tenants, phones) = columns2(&probe.pl_phones);
        f.pl_phones_taken = pairs(&db.query(&s.pl_phone_taken, &[&app, &tenants, &phones]).await?)?;
    }
    let c = &probe.candidate_infos;
    if !(c.emails.is_empty() && c.phone_numbers.is_empty() && c.third_parties.is_empty()) {
        let (tp_ids, tp_user_ids) = columns2(&c.third_parties);
        let ids = first_column(&db.query(&s.candidate_ids, &[&app, &c.emails, &c.phone_numbers, &tp_ids, &tp_user_ids]).await?)?;
        if !ids.is_empty() {
            f.primary_candidates = crate::users::get_users(db, &sql.users, app, &ids).await?;
        }
    }
    if !probe.external_ids.is_empty() {
        f.mapped_external_ids = first_column(&db.query(&s.mapped, &[&app, &probe.external_ids]).await?)?.into_iter().collect();
    }
    if !probe.user_ids.is_empty() {
        f.existing_user_ids = first_column(&db.query(&s.existing_ids, &[&app, &probe.user_ids]).await?)?.into_iter().collect();
    }
    if !probe.roles.is_empty() {
        f.roles = first_column(&db.query(&s.roles, &[&app, &probe.roles]).await?)?.into_iter().collect();
    }
    if !probe.data_user_ids.is_empty() {
        for r in db.query(&s.metadata, &[&app, &probe.data_user_ids]).await? {
            let text: String = r.try_get(1)?;
            f.existing.metadata.insert(r.try_get(0)?, parse_stored(&text).map_err(WorkError::Invalid)?);
        }
        for r in db.query(&s.totp_devices, &[&app, &probe.data_user_ids]).await? {
            let device = Device {
                name: r.try_get(1)?,
                secret_key: r.try_get(2)?,
                period: r.try_get(3)?,
                skew: r.try_get(4)?,
                verified: r.try_get(5)?,
                created_at: r.try_get::<_, Option<i64>>(6)?.unwrap_or(0),
            };
            f.existing.totp_devices.entry(r.try_get(0)?).or_default().push(device);
        }
    }
    Ok(f)
}

/// Runs one multi-row insert unless it has no rows; false when a unique constraint refused a row.
async fn insert(db: Conn<'_>, statement: &str, rows: usize, params: &[&(dyn ToSql + Sync)]) -> Result<bool, WorkError> {
    if rows == 0 {
        return Ok(true);
    }
    unique(db.execute(statement, params)).await
}

async fn insert_rows(db: Conn<'_>, s: &ImportStatements, app: &str, rows: &ChunkRows) -> Result<bool, WorkError> {
    macro_rules! col {
        ($v:expr, $f:tt) => {
            $v.iter().map(|r| r.$f.as_str()).collect::<Vec<&str>>()
        };
    }
    macro_rules! opt {
        ($v:expr, $f:tt) => {
            $v.iter().map(|r| r.$f.as_deref()).collect::<Vec<Option<&str>>>()
        };
    }
    macro_rules! num {
        ($v:expr, $f:tt) => {
            $v.iter().map(|r| r.$f).collect::<Vec<_>>()
        };
    }
    let r = &rows.app_users;
    let recipes: Vec<&str> = r.iter().map(|u| u.1.as_str()).collect();
    if !insert(db, &s.insert_app_users, r.len(), &[&app, &col!(r, 0), &recipes, &col!(r, 2), &num!(r, 3)]).await? {
        return Ok(false);
    }
    let a = &rows.auth_users;
    let tenants: Vec<&str> = a.iter().map(|u| u.tenant_id.as_str()).collect();
    let users: Vec<&str> = a.iter().map(|u| u.user_id.as_str()).collect();
    let primaries: Vec<&str> = a.iter().map(|u| u.primary_or_recipe_user_id.as_str()).collect();
    let linked: Vec<bool> = a.iter().map(|u| u.is_linked_or_primary).collect();
    let recipes: Vec<&str> = a.iter().map(|u| u.recipe_id.as_str()).collect();
    let joined: Vec<i64> = a.iter().map(|u| u.time_joined).collect();
    let group_joined: Vec<i64> = a.iter().map(|u| u.primary_or_recipe_user_time_joined).collect();
    if !insert(db, &s.insert_auth_users, a.len(), &[&app, &tenants, &users, &primaries, &linked, &recipes, &joined, &group_joined]).await? {
        return Ok(false);
    }
    let r = &rows.ep_users;
    if !insert(db, &s.insert_ep_users, r.len(), &[&app, &col!(r, 0), &col!(r, 1), &col!(r, 2), &num!(r, 3)]).await? {
        return Ok(false);
    }
    let r = &rows.ep_tenants;
    if !insert(db, &s.insert_ep_tenants, r.len(), &[&app, &col!(r, 0), &col!(r, 1), &col!(r, 2)]).await? {
        return Ok(false);
    }
    let r = &rows.tp_users;
    if !insert(db, &s.insert_tp_users, r.len(), &[&app, &col!(r, 0), &col!(r, 1), &col!(r, 2), &col!(r, 3), &num!(r, 4)]).await? {
        return Ok(false);
    }
    let r = &rows.tp_tenants;
    if !insert(db, &s.insert_tp_tenants, r.len(), &[&app, &col!(r, 0), &col!(r, 1), &col!(r, 2), &col!(r, 3)]).await? {
        return Ok(false);
    }
    let r = &rows.pl_users;
    if !insert(db, &s.insert_pl_users, r.len(), &[&app, &col!(r, 0), &opt!(r, 1), &opt!(r, 2), &num!(r, 3)]).await? {
        return Ok(false);
    }
    let r = &rows.pl_tenants;
    if !insert(db, &s.insert_pl_tenants, r.len(), &[&app, &col!(r, 0), &col!(r, 1), &opt!(r, 2), &opt!(r, 3)]).await? {
        return Ok(false);
    }
    let r = &rows.id_mappings;
    if !insert(db, &s.insert_id_mappings, r.len(), &[&app, &col!(r, 0), &col!(r, 1)]).await? {
        return Ok(false);
    }
    let r = &rows.verified_emails;
    if !insert(db, &s.insert_verified, r.len(), &[&app, &col!(r, 0), &col!(r, 1)]).await? {
        return Ok(false);
    }
    let r = &rows.totp_users;
    if !insert(db, &s.insert_totp_users, r.len(), &[&app, r]).await? {
        return Ok(false);
    }
    let d = &rows.totp_devices;
    let (users, names, secrets): (Vec<&str>, Vec<&str>, Vec<&str>) =
        (d.iter().map(|x| x.user_id.as_str()).collect(), d.iter().map(|x| x.device_name.as_str()).collect(), d.iter().map(|x| x.secret_key.as_str()).collect());
    let (periods, skews, created): (Vec<i32>, Vec<i32>, Vec<i64>) =
        (d.iter().map(|x| x.period).collect(), d.iter().map(|x| x.skew).collect(), d.iter().map(|x| x.created_at).collect());
    if !insert(db, &s.insert_totp_devices, d.len(), &[&app, &users, &names, &secrets, &periods, &skews, &created]).await? {
        return Ok(false);
    }
    let r = &rows.metadata;
    if !insert(db, &s.upsert_metadata, r.len(), &[&app, &col!(r, 0), &col!(r, 1)]).await? {
        return Ok(false);
    }
    let r = &rows.user_roles;
    insert(db, &s.insert_user_roles, r.len(), &[&app, &col!(r, 0), &col!(r, 1), &col!(r, 2)]).await
}

#[async_trait]
impl BulkImportTx for PgTx<'_> {
    /// Chunks that link users take the app's lock for their whole transaction (several statements),
    /// so a second worker's chunk may wait for one of them longer than one statement may run: the
    /// wait is given [`LOCK_WAIT_TIMEOUTS`] statement timeouts (inside the client's bound on the
    /// whole attempt, four), then the connection's own timeout is set back.
    async fn bi_lock_app(&mut self, AppKey { app_id }: AppKey<'_>) -> Result<(), StorageError> {
        let (s, timeout) = (&self.sql.bulkimport.import, self.statement_timeout.as_millis());
        let r = async {
            self.db.query(&s.set_statement_timeout, &[&(timeout * LOCK_WAIT_TIMEOUTS).to_string()]).await?;
            self.db.query(&s.lock_app, &[&app_id]).await?;
            self.db.query(&s.set_statement_timeout, &[&timeout.to_string()]).await
        }
        .await
        .map(drop)
        .map_err(WorkError::from);
        self.keep(r)
    }

    async fn bi_lock_claims(&mut self, AppKey { app_id }: AppKey<'_>, claims: &[Claim]) -> Result<Vec<String>, StorageError> {
        let (ids, ats) = claim_columns(claims);
        let r = async { first_column(&self.db.query(&self.sql.bulkimport.import.lock_claims, &[&app_id, &ids, &ats]).await?) }.await;
        self.keep(r)
    }

    async fn bi_facts(&mut self, AppKey { app_id }: AppKey<'_>, probe: &ChunkProbe) -> Result<ChunkFacts, StorageError> {
        let r = facts(self.db, self.sql, app_id, probe).await;
        self.keep(r)
    }

    async fn bi_insert(&mut self, AppKey { app_id }: AppKey<'_>, rows: &ChunkRows) -> Result<bool, StorageError> {
        let r = insert_rows(self.db, &self.sql.bulkimport.import, app_id, rows).await;
        self.keep(r)
    }

    async fn bi_finish(&mut self, AppKey { app_id }: AppKey<'_>, claims: &[Claim]) -> Result<(), StorageError> {
        let r = finish(self.db, &self.sql.bulkimport, app_id, claims).await.map(drop);
        self.keep(r)
    }

    async fn bi_fail(&mut self, AppKey { app_id }: AppKey<'_>, failures: &[Failure], now: i64) -> Result<(), StorageError> {
        let r = fail(self.db, &self.sql.bulkimport, app_id, failures, now).await.map(drop);
        self.keep(r)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// A chunk that links users waits for the app's lock while another transaction holds it for
    /// longer than one statement may run (300 ms here, held 600 ms), instead of failing; then the
    /// connection's own statement timeout holds again for the chunk's other statements.
    #[tokio::test]
    async fn the_app_lock_wait_outlasts_the_statement_timeout() {
        let schema = format!("bilock_{}", std::process::id());
        let extra = format!("postgresql_table_schema: {schema}\ndatabase_timeout_ms: 300\n");
        let Some((uri, cfg)) = crate::testing::pg_config("the_app_lock_wait_outlasts_the_statement_timeout", &extra) else { return };
        let s = PgStorage::connect(&cfg).await.unwrap();
        let (admin, conn) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        admin.batch_execute(&format!("INSERT INTO {schema}.apps (app_id) VALUES ('public') ON CONFLICT DO NOTHING")).await.unwrap();
        admin.batch_execute(&format!("BEGIN; SELECT 1 FROM {schema}.apps WHERE app_id = 'public' FOR NO KEY UPDATE")).await.unwrap();
        let started = Instant::now();
        let ((), (waited, timeout)) = tokio::join!(
            async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                admin.batch_execute("COMMIT").await.unwrap();
            },
            async {
                let shown = s
                    .db
                    .run(Mode::Write, &s.sql, |db, sql| {
                        Box::pin(async move {
                            let mut tx = PgTx::new(db, sql, Duration::from_millis(300));
                            tx.bi_lock_app(AppKey::new("public")).await.map_err(|e| WorkError::Invalid(e.to_string()))?;
                            let shown: String = tx.db.query_opt("SHOW statement_timeout", &[]).await?.map(|r| r.get(0)).unwrap_or_default();
                            Ok(shown)
                        })
                    })
                    .await
                    .unwrap();
                (started.elapsed(), shown)
            }
        );
        assert!(waited >= Duration::from_millis(550), "the lock was not waited for: {waited:?}");
        assert_eq!(timeout, "300ms");
        drop(s);
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    }
}
