//! The email-password recipe: sign-up, sign-in, password changes and password-reset tokens.

pub mod storage;
