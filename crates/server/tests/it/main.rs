//! The server's integration tests, as one test binary (one link instead of one per file): each
//! module drives the real HTTP server (`common::TestApp`) on SQLite, and on PostgreSQL when
//! `PORTCULLIS_TEST_PG_URI` is set.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod accountlinking;
mod api_fuzz_findings;
mod bulkimport;
mod cdi_conventions;
mod cdi_versions;
mod cli;
mod concurrency;
mod dashboard;
mod dashboard_core_config;
mod emailpassword;
mod emailverification;
mod hardening;
mod hostile_input;
mod metadata;
mod multitenancy;
mod oauth;
mod passwordless;
mod pg_production;
mod ratelimit;
mod roles;
mod saml;
mod session;
mod session_es256;
mod session_legacy_tokens;
mod sql_parameters;
mod thirdparty;
mod totp;
mod useridmapping;
mod users;
mod webauthn;
