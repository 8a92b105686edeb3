//! The email-verification recipe: verification tokens and verified (user, email) pairs.

pub mod storage;
