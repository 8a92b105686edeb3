//! The passwordless recipe: devices (one sign-in attempt for an email or phone number), their
//! codes, and consuming a code to sign a user in or up.

pub mod codes;
pub mod storage;
