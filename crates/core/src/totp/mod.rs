//! The TOTP recipe: devices and codes in the SuperTokens core's formats (`codes`).

pub mod codes;
pub mod storage;

pub use codes::*;
