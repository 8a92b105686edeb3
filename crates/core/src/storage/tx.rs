//! Units of work that span several statements, written once in core. A recipe's flow loads what it
//! needs through a transaction handle ([`Tx`]), decides with the recipe's pure rules, and writes
//! through the same handle; each adapter implements the handle's statements (SQL and row mapping
//! only) and runs the unit in one transaction (`Storage::transaction`).
//!
//! The contract every flow keeps:
//! - it may run more than once (PostgreSQL runs a transaction again after a serialization failure
//!   or a deadlock), so it keeps nothing from an attempt but its result;
//! - a statement that reports a conflict (a unique constraint refused its row: `Ok(false)`) ends
//!   the unit: nothing the unit wrote is kept (PostgreSQL has aborted the transaction, SQLite rolls
//!   it back), and the flow runs no further statement;
//! - it does no slow work (hashing, network): a connection is held for its whole length.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::error::StorageError;
use crate::accountlinking::storage::AccountLinkingTx;
use crate::bulkimport::tx::BulkImportTx;
use crate::emailpassword::storage::EmailPasswordTx;
use crate::emailverification::storage::EmailVerificationTx;
use crate::metadata::storage::MetadataTx;
use crate::passwordless::storage::PasswordlessTx;
use crate::roles::storage::RolesTx;
use crate::thirdparty::storage::ThirdPartyTx;
use crate::totp::storage::TotpTx;
use crate::useridmapping::storage::UserIdMappingTx;
use crate::users::storage::UsersTx;
use crate::webauthn::storage::WebauthnTx;

/// The statements flows run inside one transaction: every recipe's transaction statements. A new
/// recipe with a flow adds its `…Tx` trait here (and implements it in each adapter).
pub trait Tx:
    UsersTx
    + AccountLinkingTx
    + EmailPasswordTx
    + ThirdPartyTx
    + PasswordlessTx
    + EmailVerificationTx
    + UserIdMappingTx
    + TotpTx
    + MetadataTx
    + RolesTx
    + WebauthnTx
    + BulkImportTx
    + Send
{
}

impl<T> Tx for T where
    T: UsersTx
        + AccountLinkingTx
        + EmailPasswordTx
        + ThirdPartyTx
        + PasswordlessTx
        + EmailVerificationTx
        + UserIdMappingTx
        + TotpTx
        + MetadataTx
        + RolesTx
        + WebauthnTx
        + BulkImportTx
        + Send
        + ?Sized
{
}

/// What a flow returns: a future borrowing the transaction and the flow's input.
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, StorageError>> + Send + 't>>;

/// A flow and its input: `for<'t> fn(&'t mut dyn Tx, &'t I) -> TxFuture<'t, T>`.
pub type FlowFn<I, T> = for<'t> fn(&'t mut dyn Tx, &'t I) -> TxFuture<'t, T>;

/// A unit of work as adapters see it.
#[async_trait]
pub trait Work: Send {
    /// Runs the unit's statements through `tx`.
    async fn run(&mut self, tx: &mut dyn Tx) -> Result<(), StorageError>;
}

/// A flow with its input, keeping the result of its last (successful) run for the caller.
pub(super) struct FlowWork<I, T> {
    pub input: I,
    pub flow: FlowFn<I, T>,
    pub out: Arc<Mutex<Option<T>>>,
}

#[async_trait]
impl<I: Send + Sync + 'static, T: Send + 'static> Work for FlowWork<I, T> {
    async fn run(&mut self, tx: &mut dyn Tx) -> Result<(), StorageError> {
        let value = (self.flow)(tx, &self.input).await?;
        if let Ok(mut out) = self.out.lock() {
            *out = Some(value);
        }
        Ok(())
    }
}
