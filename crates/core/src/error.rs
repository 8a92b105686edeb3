//! Why a recipe could not answer. Refusals the CDI names (a wrong password, an unknown user) are not
//! errors: each recipe returns them as variants of its outcome enums.

use crate::crypto::CryptoError;
use crate::storage::error::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input breaks a rule the core answers with a 400 and this message.
    #[error("{0}")]
    BadInput(String),
    /// The caller may not do this (a 403 with this message).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Something that should not fail did (the random source, a hashing worker, a stored value
    /// that does not parse). The message is for the log, never for the caller.
    #[error("{0}")]
    Internal(String),
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Error::Internal(e.to_string())
    }
}
