//! CDI versions (`cdi-version` header, `supertokens_max_cdi_version`, `/apiversion`): the rules are
//! the core crate's `cdi` module; handlers compare `ctx.version` with its named constants.

pub use portcullis_core::cdi::CdiVersion as Version;
