//! The third-party recipe: sign-in-up with an account of an OAuth provider (the SDK has done the
//! exchange and sends the provider's answer).

pub mod storage;
