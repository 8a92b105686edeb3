//! Importing validated users: the one path `POST /bulk-import/import` and the worker share.
//!
//! 1. Plain-text passwords are hashed first, with the app's algorithm and costs, through the
//!    same hasher sign-up uses (worker threads, never inside a transaction). Imported bcrypt,
//!    argon2 and Firebase scrypt hashes are stored as they are.
//! 2. The users are planned and imported as one unit ([`import_chunk`]): one transaction, a few
//!    multi-row statements.
//! 3. When that unit meets a unique constraint after all (a concurrent sign-up won a race since
//!    the facts were read), each user is imported in its own transaction instead, a few attempts
//!    each; a user that keeps racing is given back to the queue (its claim released) for a later
//!    run.
//! 4. A storage failure (database down, timeout) gives every claim back and is returned: claimed
//!    users are never marked `FAILED` for it.
//!
//! When the queue lives in another database than the users (a tenant whose config names another
//! database), the users' unit commits first and their queue rows are settled after it; a crash in
//! between leaves the rows claimable, and the next claim finds the users imported already
//! (`Verdict::AlreadyImported`) and removes the rows.

use std::collections::HashMap;

use super::errors::ImportError;
use super::flow::{import_chunk, ChunkInput, ChunkOutcome, ChunkReport, ChunkUser};
use super::model::BulkUser;
use super::plan::{passwords_to_hash, ImportPlan};
use super::storage::{BulkImportQueueStorage, Claim, Failure};
use crate::emailpassword::Hashing;
use crate::error::Error;
use crate::ids::AppKey;
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage};

/// How often a single user's unit is tried when it keeps meeting a unique constraint.
const USER_ATTEMPTS: usize = 3;

/// Users to import as one unit.
pub struct RunInput {
    pub app_id: String,
    /// Validated users in queue order, each with the worker's claim (`None` for
    /// `POST /bulk-import/import`).
    pub users: Vec<(Option<Claim>, BulkUser)>,
    /// Claimed rows that failed re-validation: marked `FAILED` with the users' unit.
    pub failures: Vec<Failure>,
    /// Whether the queue is in the users' database (then queue rows are settled in the users'
    /// transaction).
    pub queue_here: bool,
    pub now: i64,
}

/// What importing did, by user id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    pub imported: Vec<String>,
    /// Found imported already (a run that died before removing their queue rows).
    pub already_imported: Vec<String>,
    pub failed: Vec<(String, ImportError)>,
    /// Claims that no longer held (removed through the API meanwhile): left alone.
    pub lost: Vec<String>,
    /// Users that kept racing with concurrent writes: given back to the queue.
    pub released: Vec<String>,
}

impl RunReport {
    fn add(&mut self, r: ChunkReport) {
        self.imported.extend(r.imported);
        self.already_imported.extend(r.already_imported);
        self.failed.extend(r.failed);
        self.lost.extend(r.lost);
    }
}

fn import_in<'t>(tx: &'t mut dyn Tx, input: &'t ChunkInput) -> TxFuture<'t, ChunkOutcome> {
    Box::pin(import_chunk(tx, input))
}

/// Imports `input`'s users into `storage` (the database of their tenants); `queue` is the app's
/// queue (the public tenant's database).
pub async fn run(storage: &dyn Storage, queue: &dyn BulkImportQueueStorage, hashing: Hashing<'_>, input: RunInput) -> Result<RunReport, Error> {
    let claims: Vec<Claim> = input.users.iter().filter_map(|(c, _)| c.clone()).chain(input.failures.iter().map(|f| f.claim.clone())).collect();
    let (app_id, now) = (input.app_id.clone(), input.now);
    match run_claimed(storage, queue, hashing, input).await {
        Ok(report) => Ok(report),
        Err(e) => {
            // Give the rows back for a later run (rows settled before the failure no longer carry
            // their claim and are left alone); the error is what the caller reports.
            if !claims.is_empty() {
                let _ = queue.bulk_import_release(AppKey::new(&app_id), &claims, now).await;
            }
            Err(e)
        }
    }
}

async fn run_claimed(storage: &dyn Storage, queue: &dyn BulkImportQueueStorage, hashing: Hashing<'_>, input: RunInput) -> Result<RunReport, Error> {
    let RunInput { app_id, users, failures, queue_here, now } = input;
    let mut report = RunReport::default();
    let mut failures = failures;

    let mut chunk_users = Vec::with_capacity(users.len());
    for (claim, user) in users {
        let mut hashes: HashMap<String, String> = HashMap::new();
        for (method_id, password) in passwords_to_hash(&user) {
            let hash = hashing.hasher.hash(hashing.settings, password.to_owned()).await?;
            hashes.insert(method_id.to_owned(), hash);
        }
        match ImportPlan::new(&user, &hashes, now) {
            Ok(plan) => chunk_users.push(ChunkUser { claim, plan }),
            // Cannot happen after validation; the user fails alone rather than the chunk.
            Err(e) => {
                let error = ImportError::Invalid(vec![e.to_string()]);
                if let Some(claim) = claim {
                    failures.push(Failure { claim, message: error.to_string() });
                }
                report.failed.push((user.id.clone(), error));
            }
        }
    }

    let chunk = ChunkInput { app_id: app_id.clone(), users: chunk_users, failures, queue_here, now };
    let units = match transaction(storage, chunk.clone(), import_in).await? {
        ChunkOutcome::Done(r) => {
            settle_elsewhere(queue, &chunk, &r).await?;
            report.add(r);
            Vec::new()
        }
        ChunkOutcome::Conflict => chunk.one_by_one(),
    };
    for unit in units {
        let mut outcome = ChunkOutcome::Conflict;
        for _ in 0..USER_ATTEMPTS {
            outcome = transaction(storage, unit.clone(), import_in).await?;
            if outcome != ChunkOutcome::Conflict {
                break;
            }
        }
        match outcome {
            ChunkOutcome::Done(r) => {
                settle_elsewhere(queue, &unit, &r).await?;
                report.add(r);
            }
            ChunkOutcome::Conflict => {
                let claims: Vec<Claim> = unit.users.iter().filter_map(|u| u.claim.clone()).collect();
                if !claims.is_empty() {
                    queue.bulk_import_release(AppKey::new(&app_id), &claims, now).await?;
                }
                report.released.extend(unit.users.iter().map(|u| u.plan.user_id.clone()));
            }
        }
    }
    Ok(report)
}

/// Settles the queue rows of a unit whose queue is in another database, after its commit.
async fn settle_elsewhere(queue: &dyn BulkImportQueueStorage, unit: &ChunkInput, r: &ChunkReport) -> Result<(), Error> {
    if unit.queue_here {
        return Ok(());
    }
    let app = AppKey::new(&unit.app_id);
    let claim_of = |id: &String| unit.users.iter().find(|u| u.plan.user_id == *id).and_then(|u| u.claim.clone());
    let done: Vec<Claim> = r.imported.iter().chain(&r.already_imported).filter_map(claim_of).collect();
    if !done.is_empty() {
        queue.bulk_import_finish(app, &done).await?;
    }
    let mut failed: Vec<Failure> = unit.failures.clone();
    failed.extend(r.failed.iter().filter_map(|(id, e)| claim_of(id).map(|claim| Failure { claim, message: e.to_string() })));
    if !failed.is_empty() {
        queue.bulk_import_fail(app, &failed, unit.now).await?;
    }
    Ok(())
}
