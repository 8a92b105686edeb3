//! The transaction handle of core's flows (`portcullis_core::storage::tx`): a connection in a READ
//! COMMITTED transaction and the rendered statements. Each recipe module implements its `…Tx`
//! statements on [`PgTx`]; [`run`] runs a unit of work with the runner's retries.

use portcullis_core::storage::tx::Work;
use portcullis_core::storage::StorageError;

use crate::connect::describe;
use crate::db::{Conn, Db, Mode, WorkError};
use crate::Statements;

pub(crate) struct PgTx<'t> {
    pub(crate) db: Conn<'t>,
    pub(crate) sql: &'t Statements,
    /// The connection's `statement_timeout`, for a statement that sets another one for a while.
    pub(crate) statement_timeout: std::time::Duration,
    /// The first driver error a statement met: the runner judges the attempt by it (a
    /// serialization failure runs the unit again; a lost connection is "unavailable").
    failed: Option<WorkError>,
}

impl<'t> PgTx<'t> {
    pub(crate) fn new(db: Conn<'t>, sql: &'t Statements, statement_timeout: std::time::Duration) -> PgTx<'t> {
        PgTx { db, sql, statement_timeout, failed: None }
    }

    /// A statement's result as the flows see it; a failure is kept for the runner.
    pub(crate) fn keep<T>(&mut self, result: Result<T, WorkError>) -> Result<T, StorageError> {
        result.map_err(|e| {
            let message = match &e {
                WorkError::Pg(pg) => describe(pg),
                WorkError::Invalid(m) => m.clone(),
            };
            self.failed.get_or_insert(e);
            StorageError::Query(message)
        })
    }
}

/// Runs `work` in one transaction (`Mode::Write`), retried by the runner on conflicts and lost
/// connections.
pub(crate) async fn run(db: &Db, sql: &Statements, work: Box<dyn Work>) -> Result<(), StorageError> {
    let work = tokio::sync::Mutex::new(work);
    let ctx = (sql, &work, db.statement_timeout());
    db.run(Mode::Write, &ctx, |conn, (sql, work, statement_timeout)| {
        Box::pin(async move {
            let mut work = work.lock().await;
            let mut tx = PgTx::new(conn, sql, *statement_timeout);
            match work.run(&mut tx).await {
                Ok(()) => Ok(()),
                Err(e) => Err(tx.failed.take().unwrap_or_else(|| match e {
                    StorageError::Query(m) | StorageError::Unavailable(m) => WorkError::Invalid(m),
                })),
            }
        })
    })
    .await
}
