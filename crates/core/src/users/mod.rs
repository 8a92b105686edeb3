//! Users as the auth recipes see them (`model`): a user is a group of login methods, one per
//! recipe user, several when accounts are linked.

pub mod model;
pub mod storage;

pub use model::*;
