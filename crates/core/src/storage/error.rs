//! Why a storage call failed.

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(String),
}
