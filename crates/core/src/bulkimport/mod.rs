//! Bulk import: teams bring their users (from Auth0, Firebase, Cognito, their own tables or a
//! SuperTokens core) through the core's bulk-import API, and a worker imports them.
//!
//! - [`validate`]: one user's checks and normalisation, in the core's order with its messages;
//!   [`fields`] holds the core's JSON type checks.
//! - [`model`]: the validated user, as the queue's `raw_data` stores it, and the queue statuses.
//! - [`api`]: the endpoints' input rules and answers.
//! - [`plan`]: what importing one user writes (pure), and a chunk's rows for multi-row inserts.
//! - [`conflicts`]: which users of a chunk can be imported, from what the database holds.
//! - [`errors`]: the core's error codes for users that cannot be imported.
//! - [`flow`]: a chunk's import as one transaction over [`flow::BulkImportTx`].
//! - [`storage`]: the queue's storage trait and the import's statements (the behaviour both
//!   adapters' queues are tested for is `run_bulk_import_queue` in the test kit).
//!
//! How a user travels: `POST /bulk-import/users` validates the batch ([`api::validate_batch`]) and
//! queues it with fresh ids; the worker claims a chunk, validates each user again against the
//! app's current roles and tenants (`Ids::ReadStored`), hashes plain-text passwords, plans each
//! user ([`plan::ImportPlan::new`]) and runs [`flow::import_chunk`], which removes imported users
//! from the queue and marks the others `FAILED` with their reason, in the same transaction.

pub mod api;
pub mod conflicts;
pub mod errors;
pub mod fields;
pub mod flow;
pub mod model;
pub mod plan;
pub mod runner;
pub mod storage;
pub mod tx;
pub mod validate;

pub use errors::ImportError;
pub use model::{BulkUser, Status};
pub use validate::{AppFacts, Ids, Validator};
