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
pub use super::tx::BulkImportTx;
use super::errors::ImportError;
use super::plan::{ChunkRows, ImportPlan};
use super::storage::{Claim, Failure};
use crate::ids::AppKey;
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
    let app = AppKey::new(&input.app_id);
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use async_trait::async_trait;
    use serde_json::{json, Value};

    use super::*;
    use crate::bulkimport::conflicts::ChunkFacts;
    use crate::bulkimport::validate::{AppFacts, Ids, Validator};

    /// Records the statements a unit runs; answers from what the test set.
    #[derive(Default)]
    struct FakeTx {
        held: Vec<String>,
        facts: ChunkFacts,
        insert_ok: bool,
        calls: Vec<String>,
        inserted: Option<ChunkRows>,
        finished: Vec<Claim>,
        failed: Vec<Failure>,
    }

    #[async_trait]
    impl BulkImportTx for FakeTx {
        async fn bi_lock_app(&mut self, _app: AppKey<'_>) -> Result<(), StorageError> {
            self.calls.push("lock_app".into());
            Ok(())
        }
        async fn bi_lock_claims(&mut self, _app: AppKey<'_>, claims: &[Claim]) -> Result<Vec<String>, StorageError> {
            self.calls.push("lock_claims".into());
            Ok(claims.iter().filter(|c| self.held.contains(&c.id)).map(|c| c.id.clone()).collect())
        }
        async fn bi_facts(&mut self, _app: AppKey<'_>, _probe: &ChunkProbe) -> Result<ChunkFacts, StorageError> {
            self.calls.push("facts".into());
            Ok(self.facts.clone())
        }
        async fn bi_insert(&mut self, _app: AppKey<'_>, rows: &ChunkRows) -> Result<bool, StorageError> {
            self.calls.push("insert".into());
            self.inserted = Some(rows.clone());
            Ok(self.insert_ok)
        }
        async fn bi_finish(&mut self, _app: AppKey<'_>, claims: &[Claim]) -> Result<(), StorageError> {
            self.calls.push("finish".into());
            self.finished.extend_from_slice(claims);
            Ok(())
        }
        async fn bi_fail(&mut self, _app: AppKey<'_>, failures: &[Failure], _now: i64) -> Result<(), StorageError> {
            self.calls.push("fail".into());
            self.failed.extend_from_slice(failures);
            Ok(())
        }
    }

    fn tx(held: &[&str]) -> FakeTx {
        FakeTx {
            held: held.iter().map(|s| s.to_string()).collect(),
            facts: ChunkFacts { roles: ["admin"].map(String::from).into(), ..ChunkFacts::default() },
            insert_ok: true,
            ..FakeTx::default()
        }
    }

    /// A chunk of users from JSON; the n-th user's methods get ids u<n>-1, …; claims at time 7.
    fn chunk(users: &[Value], claimed: bool, queue_here: bool) -> ChunkInput {
        let facts = AppFacts { tenant_pools: [("public".to_owned(), "db".to_owned())].into(), ..AppFacts::default() };
        let mut v = Validator::new(&facts, 1000);
        let users = users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut n = 0;
                let mut next = || {
                    n += 1;
                    format!("u{i}-{n}")
                };
                let user = v.validate(u.as_object().unwrap(), Ids::Generate(&mut next)).expect("valid test user");
                let plan = ImportPlan::new(&user, &HashMap::new(), 1000).unwrap();
                ChunkUser { claim: claimed.then(|| Claim { id: plan.user_id.clone(), claimed_at: 7 }), plan }
            })
            .collect();
        ChunkInput { app_id: "app".into(), users, failures: vec![], queue_here, now: 1000 }
    }

    fn ep(email: &str) -> Value {
        json!({"loginMethods": [{"recipeId": "passwordless", "email": email}]})
    }

    fn done(outcome: ChunkOutcome) -> ChunkReport {
        match outcome {
            ChunkOutcome::Done(r) => r,
            ChunkOutcome::Conflict => panic!("unexpected conflict"),
        }
    }

    fn run(tx: &mut FakeTx, input: &ChunkInput) -> ChunkOutcome {
        block_on(import_chunk(tx, input)).expect("the fake never fails")
    }

    /// The flow awaits only the fake's ready futures: poll it to completion without a runtime.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn a_clean_chunk_is_written_and_leaves_the_queue_in_one_unit() {
        let input = chunk(&[ep("a@b.c"), ep("b@b.c")], true, true);
        let mut t = tx(&["u0-1", "u1-1"]);
        let r = done(run(&mut t, &input));
        assert_eq!(r.imported, ["u0-1", "u1-1"]);
        assert_eq!(t.calls, ["lock_claims", "facts", "insert", "finish"], "no app lock without a primary user");
        assert_eq!(t.inserted.unwrap().pl_users.len(), 2);
        assert_eq!(t.finished.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["u0-1", "u1-1"]);
    }

    #[test]
    fn lost_claims_are_left_alone() {
        let input = chunk(&[ep("a@b.c"), ep("b@b.c")], true, true);
        let mut t = tx(&["u1-1"]);
        let r = done(run(&mut t, &input));
        assert_eq!((r.imported, r.lost), (vec!["u1-1".to_owned()], vec!["u0-1".to_owned()]));
        assert_eq!(t.inserted.unwrap().pl_users.len(), 1);
        // Nothing held at all: nothing is read or written.
        let mut t = tx(&[]);
        let r = done(run(&mut t, &input));
        assert_eq!(r.lost.len(), 2);
        assert_eq!(t.calls, ["lock_claims"]);
    }

    #[test]
    fn failing_users_are_marked_and_the_rest_imported() {
        let input = chunk(&[ep("a@b.c"), ep("b@b.c"), ep("a@b.c")], true, true);
        let mut t = tx(&["u0-1", "u1-1", "u2-1"]);
        t.facts.existing_user_ids.insert("u1-1".into());
        let r = done(run(&mut t, &input));
        assert_eq!(r.imported, ["u0-1"]);
        assert_eq!(r.already_imported, ["u1-1"]);
        assert_eq!(r.failed, [("u2-1".to_owned(), ImportError::PasswordlessEmailTaken { email: "a@b.c".into() })]);
        assert_eq!(t.calls, ["lock_claims", "facts", "insert", "finish", "fail"]);
        assert_eq!(t.finished.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["u0-1", "u1-1"]);
        assert_eq!(t.failed, [Failure { claim: Claim { id: "u2-1".into(), claimed_at: 7 }, message: "E006: A user with email a@b.c already exists in passwordless loginMethod.".into() }]);
    }

    #[test]
    fn a_refused_insert_ends_the_unit_and_one_by_one_follows() {
        let mut input = chunk(&[ep("a@b.c"), ep("b@b.c")], true, true);
        input.failures.push(Failure { claim: Claim { id: "bad".into(), claimed_at: 7 }, message: "[Role x does not exist.]".into() });
        let mut t = tx(&["u0-1", "u1-1", "bad"]);
        t.insert_ok = false;
        assert_eq!(run(&mut t, &input), ChunkOutcome::Conflict);
        assert_eq!(t.calls, ["lock_claims", "facts", "insert"], "nothing settled after the refusal");
        let units = input.one_by_one();
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].users[0].plan.user_id, "u0-1");
        assert_eq!(units[0].failures.len(), 1, "the failures go with the first unit");
        assert!(units[1].failures.is_empty());
        let mut t = tx(&["u0-1", "bad"]);
        let r = done(run(&mut t, &units[0]));
        assert_eq!(r.imported, ["u0-1"]);
        assert_eq!(t.failed[0].claim.id, "bad");
        // Only failures remain: one unit for them.
        let only_failures = ChunkInput { users: vec![], ..input.clone() };
        assert_eq!(only_failures.one_by_one().len(), 1);
    }

    #[test]
    fn primary_users_take_the_app_lock() {
        let input = chunk(&[json!({"loginMethods": [{"recipeId": "passwordless", "email": "a@b.c", "isPrimary": true}]})], true, true);
        let mut t = tx(&["u0-1"]);
        done(run(&mut t, &input));
        assert_eq!(t.calls, ["lock_claims", "lock_app", "facts", "insert", "finish"]);
    }

    #[test]
    fn without_the_queue_here_only_users_are_written() {
        // Users in another database than the queue: their rows are settled by the worker after
        // this unit commits.
        let input = chunk(&[ep("a@b.c")], true, false);
        let mut t = tx(&[]);
        let r = done(run(&mut t, &input));
        assert_eq!(r.imported, ["u0-1"]);
        assert_eq!(t.calls, ["facts", "insert"]);
        // POST /bulk-import/import: no claim at all.
        let input = chunk(&[ep("a@b.c")], false, true);
        let mut t = tx(&[]);
        t.facts.pl_emails_taken.insert(("public".into(), "a@b.c".into()));
        let r = done(run(&mut t, &input));
        assert_eq!(r.failed.len(), 1);
        assert_eq!(t.calls, ["facts"]);
    }
}
