//! The multitenancy recipe: tenants' configurations (`model`) and the rules of the APIs that
//! change them.

pub mod model;
pub mod storage;

pub use model::*;
