//! The account-linking recipe: its rules (`rules`: who may become primary, who may be linked).

pub mod rules;
pub mod storage;

pub use rules::*;
