//! The user-id mapping recipe: a SuperTokens user id paired with the application's own id.

pub mod storage;
