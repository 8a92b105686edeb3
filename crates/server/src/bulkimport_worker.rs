//! The bulk-import worker: drains each app's queue (`bulk_import_users`) every
//! `bulk_import_interval_sec`, and at once when this instance queued users.
//!
//! Unlike the jobs of `cron.rs` it takes no lease: several instances drain one queue together.
//! Claims make that safe (see `bulkimport::storage`): a claimed row is marked with its claim, and a
//! chunk's users are written in the same transaction that checks and settles the claims, so no
//! user is imported twice and none is lost (a claim left by a worker that died goes stale and is
//! claimed again; its users, if they were written, are found imported and their rows removed).
//!
//! A run, per app: `bulk_migration_parallelism` workers claim chunks of
//! `max(1, bulk_migration_batch_size / bulk_migration_parallelism)` rows, oldest first, re-validate
//! each user against the app's current roles and tenants (failures become `FAILED` with the
//! messages), and import the rest (`bulkimport::runner`); rounds repeat, with
//! `bulk_migration_sleep_between_rounds_in_batch_ms` between them, until a round finds nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_core::bulkimport::errors::ImportError;
use portcullis_core::bulkimport::runner::{self, RunInput};
use portcullis_core::bulkimport::storage::{Claim, ClaimedRow, Cursor, Failure};
use portcullis_core::bulkimport::{AppFacts, BulkUser, Ids, Status, Validator};
use portcullis_core::emailpassword::Hashing;
use portcullis_core::ids::TenantIdentifier;
use portcullis_core::storage::{Storage, StorageError};

use crate::state::AppState;
use crate::tenancy::{Snapshot, Tenant};

/// A claim not settled within this long is taken to belong to a worker that died: other workers
/// may claim the row again (the first worker's unit then finds its claim gone and leaves it).
const STALE_CLAIM_MS: i64 = 10 * 60 * 1000;

/// What one run did, over every app.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunTotals {
    pub imported: u64,
    pub failed: u64,
}

/// Runs the worker for as long as the server runs, unless `bulk_migration_cron_enabled` is false.
pub fn spawn(state: Arc<AppState>) {
    if !state.registry.base.bulk_migration_cron_enabled() {
        return;
    }
    let interval = Duration::from_secs(u64::try_from(state.registry.base.bulk_import_interval_sec()).unwrap_or(300).max(1));
    tokio::spawn(async move {
        loop {
            // The core's initial wait is 0: a run at start drains what earlier instances left.
            let totals = run(&state).await;
            if totals != RunTotals::default() {
                tracing::info!(imported = totals.imported, failed = totals.failed, "bulk import run finished");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = state.bulk_import_wake.notified() => {}
            }
        }
    });
}

/// One run: every app's queue until it is empty (users that keep failing to import for a
/// storage reason stay queued for the next run).
pub async fn run(state: &Arc<AppState>) -> RunTotals {
    let snapshot = state.registry.snapshot();
    let apps: Vec<Arc<Tenant>> = snapshot.tenants.values().filter(|t| t.config.id.is_public_tenant()).cloned().collect();
    let mut totals = RunTotals::default();
    let mut queue_by_status = [0u64; 3];
    for app in apps {
        match drain_app(state, &snapshot, &app).await {
            Ok(t) => {
                totals.imported += t.imported;
                totals.failed += t.failed;
            }
            Err(e) => tracing::warn!(app = %app.config.id.app_id, error = %e, "bulk import: the queue could not be drained"),
        }
        let key = app.config.id.app_key();
        for (slot, status) in queue_by_status.iter_mut().zip([Status::New, Status::Processing, Status::Failed]) {
            *slot += app.storage.bulk_import_count(key, Some(status)).await.unwrap_or(0);
        }
    }
    state.metrics.set_bulk_import_queue(queue_by_status);
    totals
}

/// Drains one app's queue in rounds of `parallelism` workers.
async fn drain_app(state: &Arc<AppState>, snapshot: &Arc<Snapshot>, app: &Arc<Tenant>) -> Result<RunTotals, StorageError> {
    let key = app.config.id.app_key();
    let waiting = app.storage.bulk_import_count(key, Some(Status::New)).await? + app.storage.bulk_import_count(key, Some(Status::Processing)).await?;
    if waiting == 0 {
        return Ok(RunTotals::default());
    }
    let cfg = &app.effective;
    let parallelism = usize::try_from(cfg.bulk_migration_parallelism()).unwrap_or(1).max(1);
    let chunk = (usize::try_from(cfg.bulk_migration_batch_size()).unwrap_or(1) / parallelism).max(1);
    let pause = Duration::from_millis(u64::try_from(cfg.bulk_migration_sleep_between_rounds_in_batch_ms()).unwrap_or(0));
    // Where the last claim of new rows ended: the next one starts after it, so that claims do not
    // scan the index entries of rows imported (deleted) since.
    let cursor = Arc::new(tokio::sync::Mutex::new(None::<Cursor>));
    let mut totals = RunTotals::default();
    let mut statistics_checked = false;
    loop {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..parallelism {
            let (state, snapshot, app, cursor) = (Arc::clone(state), Arc::clone(snapshot), Arc::clone(app), Arc::clone(&cursor));
            workers.spawn(async move { drain_chunk(&state, &snapshot, &app, chunk, &cursor).await });
        }
        let mut claimed = 0;
        let mut failed: Option<StorageError> = None;
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok(Ok((n, t))) => {
                    claimed += n;
                    totals.imported += t.imported;
                    totals.failed += t.failed;
                }
                Ok(Err(e)) => failed = Some(e),
                Err(e) => failed = Some(StorageError::Query(format!("a bulk-import worker stopped: {e}"))),
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if claimed == 0 {
            return Ok(totals);
        }
        if !statistics_checked && totals.imported > 0 {
            statistics_checked = true;
            analyze_new_tables(snapshot, app).await;
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// After the first round that imported users: statistics for the tables it wrote, in every
/// database of the app's tenants that has none yet (`bulk_import_analyze_new_tables`). A failure
/// only costs speed, so it is logged.
async fn analyze_new_tables(snapshot: &Snapshot, app: &Tenant) {
    for storage in snapshot.storages_of_app(&app.config.id.cud, &app.config.id.app_id) {
        match storage.bulk_import_analyze_new_tables().await {
            Ok(tables) if !tables.is_empty() => {
                tracing::info!(app = %app.config.id.app_id, tables = tables.len(), "bulk import: gathered statistics of new tables")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(app = %app.config.id.app_id, error = %e, "bulk import: could not gather statistics of new tables"),
        }
    }
}

/// Claims one chunk and imports it; returns how many rows it claimed.
async fn drain_chunk(state: &AppState, snapshot: &Snapshot, app: &Arc<Tenant>, chunk: usize, cursor: &tokio::sync::Mutex<Option<Cursor>>) -> Result<(usize, RunTotals), StorageError> {
    let key = app.config.id.app_key();
    let rows = {
        let mut cursor = cursor.lock().await;
        let now = state.clock.now();
        let mut rows = app.storage.bulk_import_claim(key, chunk, now, now - STALE_CLAIM_MS, cursor.as_ref()).await?;
        if rows.is_empty() && cursor.is_some() {
            // Rows given back behind the cursor: start again from the oldest.
            *cursor = None;
            rows = app.storage.bulk_import_claim(key, chunk, now, now - STALE_CLAIM_MS, None).await?;
        }
        if let Some(last) = rows.iter().map(ClaimedRow::cursor).max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id))) {
            *cursor = Some(last);
        }
        rows
    };
    if rows.is_empty() {
        return Ok((0, RunTotals::default()));
    }
    let started = Instant::now();
    let totals = import_rows(state, snapshot, app, &rows).await;
    let elapsed = started.elapsed();
    state.metrics.record_bulk_import_chunk(totals.imported, totals.failed, elapsed);
    let rate = totals.imported as f64 / elapsed.as_secs_f64().max(1e-6);
    tracing::info!(
        app = %app.config.id.app_id,
        claimed = rows.len(),
        imported = totals.imported,
        failed = totals.failed,
        ms = elapsed.as_millis() as u64,
        users_per_sec = rate as u64,
        "bulk import chunk"
    );
    Ok((rows.len(), totals))
}

/// What validation needs of the app now (roles, tenants and their databases, the signer key).
async fn app_facts(snapshot: &Snapshot, app: &Tenant) -> Result<AppFacts, StorageError> {
    let roles = app.storage.roles(app.config.id.app_key()).await?.into_iter().collect();
    let tenant_pools = snapshot
        .tenants_of_app(&app.config.id.cud, &app.config.id.app_id)
        .map(|t| (t.config.id.tenant_id.clone(), format!("{:p}", Arc::as_ptr(&t.storage))))
        .collect();
    let firebase_signer_key_set = app.settings.passwords.verifying.firebase_signer_key.is_some();
    Ok(AppFacts { roles, tenant_pools, firebase_signer_key_set })
}

/// A claimed user, validated again.
type Queued = (Option<Claim>, BulkUser);

/// Re-validates a chunk's rows, groups the valid users by the database of their tenants, and
/// imports each group. Never fails: a storage failure gives the claims back (the runner does) and
/// is logged.
async fn import_rows(state: &AppState, snapshot: &Snapshot, app: &Arc<Tenant>, rows: &[ClaimedRow]) -> RunTotals {
    let app_id = &app.config.id.app_id;
    let now = state.clock.now();
    let facts = match app_facts(snapshot, app).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(app = %app_id, error = %e, "bulk import: the app's roles could not be read; the chunk is given back");
            let claims: Vec<Claim> = rows.iter().map(ClaimedRow::claim).collect();
            let _ = app.storage.bulk_import_release(app.config.id.app_key(), &claims, now).await;
            return RunTotals::default();
        }
    };
    let mut validator = Validator::new(&facts, now);
    let mut failures: Vec<Failure> = Vec::new();
    // By database (the tenants' storage object), in queue order.
    let mut groups: Vec<(Arc<dyn Storage>, Vec<Queued>)> = Vec::new();
    for row in rows {
        let user = match serde_json::from_str::<serde_json::Value>(&row.raw_data) {
            Ok(serde_json::Value::Object(o)) => validator.validate(&o, Ids::ReadStored),
            _ => Err(vec!["The stored user is not a JSON object.".to_owned()]),
        };
        let user = match user {
            Ok(u) => u,
            Err(messages) => {
                tracing::info!(app = %app_id, id = %row.id, "bulk import: a queued user is no longer valid");
                failures.push(Failure { claim: row.claim(), message: ImportError::Invalid(messages).to_string() });
                continue;
            }
        };
        let tenant = user.login_methods.first().and_then(|m| m.tenant_ids.first()).cloned().unwrap_or_else(|| "public".into());
        let storage = snapshot
            .get(&TenantIdentifier::new(&app.config.id.cud, app_id, &tenant))
            .map_or_else(|| Arc::clone(&app.storage), |t| Arc::clone(&t.storage));
        match groups.iter_mut().find(|(s, _)| Arc::ptr_eq(s, &storage)) {
            Some((_, users)) => users.push((Some(row.claim()), user)),
            None => groups.push((storage, vec![(Some(row.claim()), user)])),
        }
    }
    let mut totals = RunTotals::default();
    let hashing = Hashing { hasher: &state.hashing, settings: &app.settings.passwords };
    let queue = app.storage.as_ref();
    // The failures are settled with the users of the queue's database (or on their own).
    if !groups.iter().any(|(s, _)| Arc::ptr_eq(s, &app.storage)) {
        groups.push((Arc::clone(&app.storage), Vec::new()));
    }
    for (storage, users) in groups {
        let queue_here = Arc::ptr_eq(&storage, &app.storage);
        let failures = if queue_here { std::mem::take(&mut failures) } else { Vec::new() };
        if users.is_empty() && failures.is_empty() {
            continue;
        }
        let invalid = failures.len() as u64;
        let input = RunInput { app_id: app_id.clone(), users, failures, queue_here, now };
        let hashing = Hashing { hasher: hashing.hasher, settings: hashing.settings };
        match runner::run(storage.as_ref(), queue, hashing, input).await {
            Ok(report) => {
                totals.imported += (report.imported.len() + report.already_imported.len()) as u64;
                totals.failed += invalid + report.failed.len() as u64;
                for (id, error) in &report.failed {
                    tracing::info!(app = %app_id, id = %id, error = %error_code(error), "bulk import: a user cannot be imported");
                }
            }
            Err(e) => {
                tracing::warn!(app = %app_id, error = %e, "bulk import: a chunk failed; its users are given back to the queue");
            }
        }
    }
    totals
}

/// The code of an import error for the log (`E003`), never the values (emails) it names.
fn error_code(e: &ImportError) -> String {
    let text = e.to_string();
    match text.split_once(':') {
        Some((code, _)) if code.starts_with('E') && code.len() == 4 => code.to_owned(),
        _ => "invalid".to_owned(),
    }
}
