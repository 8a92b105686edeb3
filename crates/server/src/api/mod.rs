//! The APIs, one module per recipe, and the route table that names them. Each handler parses its
//! request, calls the recipe in core, and renders the outcome.

mod accountlinking;
mod bulkimport;
pub(crate) mod core;
mod dashboard;
mod emailpassword;
mod emailverification;
mod metadata;
mod multitenancy;
mod oauth;
mod passwordless;
mod roles;
mod saml;
pub mod routes;
mod session;
mod thirdparty;
mod totp;
mod useridmapping;
mod users;
mod webauthn;
