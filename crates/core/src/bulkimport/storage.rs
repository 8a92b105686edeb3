//! Storage of bulk import: the queue (`bulk_import_users`, in the app's public tenant database) and
//! how a worker claims its rows. The statements that write imported users are the flow's
//! (`flow::BulkImportTx`).
//!
//! Claiming. A worker claims a chunk in one short transaction: the oldest rows that are `NEW`, or
//! `PROCESSING` under a claim older than `stale_before` (a worker that died or gave up), skipping
//! rows another transaction holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer).
//! They become `PROCESSING` and their `updated_at` moves forward (at least by one): that value is
//! the claim, which the worker shows when it finishes. Finishing (deleting imported rows, marking
//! failed ones) only touches rows that still carry the worker's claim, so a row removed through
//! the API, or claimed again by another worker after the first went stale, is left alone.
//!
//! No transaction stays open while a worker validates and hashes passwords (which can take
//! minutes): a connection is held only while statements run. Users and the deletion of their
//! queue rows are written in one transaction when the queue shares the users' database.

use async_trait::async_trait;

use super::model::Status;
use crate::ids::AppKey;
use crate::storage::error::StorageError;

/// A position in the queue's order (`created_at`, then `id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

/// One row of `bulk_import_users`.
#[derive(Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub id: String,
    /// The validated user as JSON ([`super::model::BulkUser::to_raw_data`]). It may hold a plain-text
    /// password: never log it.
    pub raw_data: String,
    pub status: Status,
    pub primary_user_id: Option<String>,
    pub error_msg: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for QueueRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueRow")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("error_msg", &self.error_msg)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// A row claimed by a worker.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimedRow {
    pub id: String,
    pub raw_data: String,
    pub created_at: i64,
    /// The row's `updated_at` after the claim: proof of the claim.
    pub claimed_at: i64,
}

impl std::fmt::Debug for ClaimedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedRow").field("id", &self.id).field("created_at", &self.created_at).field("claimed_at", &self.claimed_at).finish_non_exhaustive()
    }
}

impl ClaimedRow {
    pub fn claim(&self) -> Claim {
        Claim { id: self.id.clone(), claimed_at: self.claimed_at }
    }

    pub fn cursor(&self) -> Cursor {
        Cursor { created_at: self.created_at, id: self.id.clone() }
    }
}

/// A worker's claim on a row.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    pub id: String,
    pub claimed_at: i64,
}

/// A claimed row that could not be imported, and why (stored in `error_msg`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub claim: Claim,
    pub message: String,
}

/// What adding a batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    Added,
    /// An id is in the queue already (a UUID collision): nothing was added. The caller gives the
    /// batch new ids and tries again, as the core does.
    IdTaken,
}

/// The queue. Each method is one transaction.
#[async_trait]
pub trait BulkImportQueueStorage: Send + Sync {
    /// Adds users (id, raw data) with status `NEW` and `created_at = updated_at = now`, all or none.
    async fn bulk_import_add(&self, app: AppKey<'_>, users: &[(String, String)], now: i64) -> Result<AddOutcome, StorageError>;

    /// Rows newest first (`created_at` then `id`, descending), of one status or all, starting at
    /// `from` (that row included), at most `limit`.
    async fn bulk_import_list(&self, app: AppKey<'_>, status: Option<Status>, from: Option<&Cursor>, limit: usize) -> Result<Vec<QueueRow>, StorageError>;

    async fn bulk_import_count(&self, app: AppKey<'_>, status: Option<Status>) -> Result<u64, StorageError>;

    /// Deletes the rows with these ids, whatever their status; returns the ids deleted.
    async fn bulk_import_remove(&self, app: AppKey<'_>, ids: &[String]) -> Result<Vec<String>, StorageError>;

    /// Claims up to `limit` rows, oldest first (see the module's notes): first `PROCESSING` rows
    /// whose `updated_at` is before `stale_before`, then `NEW` rows after `after` when given.
    /// They become `PROCESSING` with `updated_at = max(now, updated_at + 1)`.
    async fn bulk_import_claim(&self, app: AppKey<'_>, limit: usize, now: i64, stale_before: i64, after: Option<&Cursor>) -> Result<Vec<ClaimedRow>, StorageError>;

    /// Gives claimed rows back (`NEW`), for a worker that stops before finishing them (the database
    /// failed under it, or it shuts down). Returns how many were still claimed.
    async fn bulk_import_release(&self, app: AppKey<'_>, claims: &[Claim], now: i64) -> Result<u64, StorageError>;

    /// Marks claimed rows `FAILED` with their message. Returns how many were still claimed.
    async fn bulk_import_fail(&self, app: AppKey<'_>, failures: &[Failure], now: i64) -> Result<u64, StorageError>;

    /// Deletes claimed rows (their users were imported into another database). Returns the ids
    /// that were still claimed.
    async fn bulk_import_finish(&self, app: AppKey<'_>, claims: &[Claim]) -> Result<Vec<String>, StorageError>;

    /// Gathers the query planner's statistics of the tables an import writes that have never had
    /// any (a new database); returns the tables analyzed. Without statistics PostgreSQL plans the
    /// foreign-key checks of each inserted row as if the tables were empty (a seek by tenant that
    /// then reads the whole tenant), which makes a large import quadratic until autovacuum's first
    /// pass; the worker calls this after its first round of chunks. A no-op where the engine needs
    /// none.
    async fn bulk_import_analyze_new_tables(&self) -> Result<Vec<String>, StorageError>;
}
