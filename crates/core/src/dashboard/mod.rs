//! The dashboard recipe: dashboard users (not application users), their sessions, and the
//! rules of their emails and passwords.

pub mod storage;
