//! The transaction handle of core's flows (`portcullis_core::storage::tx`) on SQLite: the
//! connection inside an IMMEDIATE transaction (writers are serialised, so what a flow reads stays
//! true until it commits). Each recipe module implements its `…Tx` statements on [`SqliteTx`].
//!
//! The statements are synchronous: the unit of work runs on the blocking pool, where its future
//! completes in one poll (nothing in it waits on anything but SQLite).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use portcullis_core::storage::tx::Work;
use portcullis_core::storage::StorageError;
use rusqlite::Connection;

use crate::query_err;

/// Whether a statement failed on a unique constraint (or primary key): a conflict.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

pub(crate) struct SqliteTx<'c> {
    conn: &'c mut Connection,
    /// A unique constraint refused a row: the unit ends and is rolled back, as PostgreSQL's
    /// aborted transaction would be.
    conflict: bool,
}

impl SqliteTx<'_> {
    /// The connection, unless a conflict ended the unit (then no statement may run: on
    /// PostgreSQL it would fail).
    pub(crate) fn conn(&self) -> Result<&Connection, StorageError> {
        if self.conflict {
            return Err(StorageError::Query("a statement ran after a conflict ended its unit of work".into()));
        }
        Ok(self.conn)
    }

    /// The outcome of a write whose unique-constraint failure is an answer: false then.
    pub(crate) fn unique(&mut self, result: rusqlite::Result<usize>) -> Result<bool, StorageError> {
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => {
                self.conflict = true;
                Ok(false)
            }
            Err(e) => Err(query_err(e)),
        }
    }
}

/// The value of a future that completes without waiting, `None` if it would wait.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

/// Runs `work` in an IMMEDIATE transaction on `conn`: committed when it succeeds without a conflict,
/// rolled back otherwise.
pub(crate) fn run(conn: &mut Connection, mut work: Box<dyn Work>) -> Result<(), StorageError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(query_err)?;
    let mut tx = SqliteTx { conn, conflict: false };
    let result = poll_once(work.run(&mut tx)).unwrap_or_else(|| Err(StorageError::Query("a SQLite unit of work waited on something".into())));
    let commit = result.is_ok() && !tx.conflict;
    let conn = tx.conn;
    if commit {
        if let Err(e) = conn.execute_batch("COMMIT") {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(query_err(e));
        }
        return Ok(());
    }
    let rolled_back = conn.execute_batch("ROLLBACK").map_err(query_err);
    // The unit's own failure first; a conflict is an answer the flow has already given.
    result?;
    rolled_back
}
