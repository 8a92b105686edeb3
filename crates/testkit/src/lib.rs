//! Test code shared by the storage adapters' tests: the conformance suite, the behaviour every
//! storage adapter must show. Only ever a dev-dependency, so none of it reaches a release build.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod conformance;
