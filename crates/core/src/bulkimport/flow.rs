//! Importing a chunk of planned users in one transaction (over [`BulkImportTx`]): lock what must
//! not change underneath, read the facts, decide per user, write every accepted user's rows with
//! multi-row statements, and settle their queue rows, all committed at once.
//!
//! When the insert meets a unique constraint after all (a concurrent sign-up won a race since the
//! facts were read), the unit ends with [`ChunkOutcome::Conflict`] and nothing of it is kept. The
//! caller then imports the chunk's users one by one, each in its own transaction
//! ([`ChunkInput::one_by_one`]): the facts re-read there give the clashing user its error, and the
//! others are imported. A single user that still meets a conflict has raced again; the caller
//! retries it a few times and otherwise releases its claim for a later run.

use std::collections::HashSet;

use super::conflicts::{decide, ChunkProbe, Verdict};
use super::errors::ImportError;
use super::plan::{ChunkRows, ImportPlan};
use super::storage::{BulkImportTx, Claim, Failure};
use crate::storage::StorageError;

/// One planned user of a chunk.
#[derive(Clone, Debug)]
pub struct ChunkUser {
    /// The worker's claim on the queue row; `None` for `POST /bulk-import/import`.
    pub claim: Option<Claim>,
    pub plan: ImportPlan,
}

/// A unit of import work.
#[derive(Clone, Debug)]
pub struct ChunkInput {
    pub app_id: String,
    /// In queue order: the earlier user wins a clash.
    pub users: Vec<ChunkUser>,
    /// Claimed rows that failed before they could be planned (re-validation), to be marked in the
    /// same transaction.
    pub failures: Vec<Failure>,
    /// Whether the queue lives in the database this unit writes to (the default: one database),
    /// so that queue rows are settled in the same transaction as the users they describe.
    pub queue_here: bool,
    pub now: i64,
}

impl ChunkInput {
    /// The same work as one unit per user (the fallback after a conflict); the failures go with
    /// the first unit.
    pub fn one_by_one(&self) -> Vec<ChunkInput> {
        let mut units: Vec<ChunkInput> = self
            .users
            .iter()
            .map(|u| ChunkInput { app_id: self.app_id.clone(), users: vec![u.clone()], failures: Vec::new(), queue_here: self.queue_here, now: self.now })
            .collect();
        match units.first_mut() {
            Some(first) => first.failures.clone_from(&self.failures),
            None if !self.failures.is_empty() => units.push(self.clone()),
            None => {}
        }
        units
    }
}

/// What a unit did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkReport {
    /// User ids written by this unit.
    pub imported: Vec<String>,
    /// User ids found imported already (their queue rows were removed).
    pub already_imported: Vec<String>,
    /// Users that cannot be imported, with why (their queue rows are `FAILED`).
    pub failed: Vec<(String, ImportError)>,
    /// Claimed users whose claim no longer held (removed through the API, or claimed by another
    /// worker after this one went stale): left alone.
    pub lost: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    Done(ChunkReport),
    /// A unique constraint refused a row; nothing was kept.
    Conflict,
}

/// Runs one unit of import work inside the transaction `tx`.
pub async fn import_chunk(tx: &mut dyn BulkImportTx, input: &ChunkInput) -> Result<ChunkOutcome, StorageError> {
    let app = input.app_id.as_str();
    let mut report = ChunkReport::default();

    // The queue rows first: a row removed or re-claimed meanwhile is not imported.
    let claims: Vec<Claim> = input.users.iter().filter_map(|u| u.claim.clone()).chain(input.failures.iter().map(|f| f.claim.clone())).collect();
    let held: HashSet<String> = if input.queue_here && !claims.is_empty() { tx.bi_lock_claims(app, &claims).await?.into_iter().collect() } else { HashSet::new() };
    let holds = |claim: &Option<Claim>| match claim {
        Some(c) if input.queue_here => held.contains(c.id.trim_end()),
        _ => true,
    };
    let mut live: Vec<&ChunkUser> = Vec::with_capacity(input.users.len());
    for u in &input.users {
        if holds(&u.claim) {
            live.push(u);
        } else {
            report.lost.push(u.plan.user_id.clone());
        }
    }

    if live.iter().any(|u| u.plan.primary_user_id.is_some()) {
        tx.bi_lock_app(app).await?;
    }
    let plans: Vec<ImportPlan> = live.iter().map(|u| u.plan.clone()).collect();
    let facts = if plans.is_empty() { Default::default() } else { tx.bi_facts(app, &ChunkProbe::of(&plans)).await? };
    let verdicts = decide(&plans, &facts);

    let mut finished: Vec<Claim> = Vec::new();
    let mut failures: Vec<Failure> = input.failures.iter().filter(|f| !input.queue_here || held.contains(f.claim.id.trim_end())).cloned().collect();
    let mut to_write: Vec<&ImportPlan> = Vec::new();
    for ((user, plan), verdict) in live.iter().zip(&plans).zip(verdicts) {
        match verdict {
            Verdict::Import => {
                to_write.push(plan);
                report.imported.push(plan.user_id.clone());
                finished.extend(user.claim.clone());
            }
            Verdict::AlreadyImported => {
                report.already_imported.push(plan.user_id.clone());
                finished.extend(user.claim.clone());
            }
            Verdict::Fail(error) => {
                if let Some(claim) = &user.claim {
                    failures.push(Failure { claim: claim.clone(), message: error.to_string() });
                }
                report.failed.push((plan.user_id.clone(), error));
            }
        }
    }

    if !to_write.is_empty() {
        let rows = ChunkRows::build(to_write, &facts.existing);
        if !tx.bi_insert(app, &rows).await? {
            return Ok(ChunkOutcome::Conflict);
        }
    }
    if input.queue_here {
        if !finished.is_empty() {
            tx.bi_finish(app, &finished).await?;
        }
        if !failures.is_empty() {
            tx.bi_fail(app, &failures, input.now).await?;
        }
    }
    Ok(ChunkOutcome::Done(report))
}
