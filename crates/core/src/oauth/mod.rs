//! The OAuth2 / OpenID Connect provider, natively (no Ory Hydra): the pure rules behind the CDI's
//! `/recipe/oauth/*` endpoints, as the SuperTokens SDKs' `oauth2provider` recipes call them.
//!
//! Everything here is a decision over loaded rows, with the clock (`now`, milliseconds) and the
//! randomness ([`random::Random`]) passed in; nothing here does I/O. The HTTP handlers parse a
//! request, load what a decision needs through [`crate::oauth::storage::OAuthStorage`], call the
//! decision, write what it says (one atomic storage call wherever a value may be used only once) and
//! render the typed outcome.
//!
//! | module | rules |
//! |---|---|
//! | [`client`] | the client model: create / update / get / list JSON, defaults, validation |
//! | [`secret`] | client secrets: generation, hashed storage, constant-time verification |
//! | [`authorize`] | `/recipe/oauth/auth`: request validation and the login → consent → code state machine |
//! | [`challenges`] | the login and consent requests: views, accept and reject |
//! | [`token`] | `/recipe/oauth/token`: input, client authentication, the three grants |
//! | [`claims`] | access and ID token claims, signing (the app's static RS256 key) |
//! | [`introspect`], [`revoke`], [`logout`] | RFC 7662, RFC 7009, RP-initiated logout |
//! | [`errors`] | the OAuth error objects (`error`, `errorDescription`, `statusCode`) |
//! | [`matching`], [`pkce`], [`duration`], [`cookies`], [`url`], [`time`] | the small formats and matchers the above share |
//!
//! The specification this follows (facts from the Java core, Hydra, fosite and the SDKs, and the
//! deliberate differences D1–D19) is the project note `oauth2.md`.

pub mod authorize;
pub mod challenges;
pub mod claims;
pub mod client;
pub mod cookies;
pub mod duration;
pub mod errors;
pub mod flows;
pub mod introspect;
pub mod logout;
pub mod matching;
pub mod pkce;
pub mod random;
pub mod revoke;
pub mod secret;
pub mod storage;
pub mod time;
pub mod token;
pub mod url;

/// The placeholder the SDKs replace with `apiDomain + apiBasePath` in every `redirectTo`.
pub const API_DOMAIN: &str = "{apiDomain}";

/// Hydra's server defaults, which Portcullis keeps as constants (per-client lifespans override the
/// token lifespans).
pub mod defaults {
    /// Access tokens: 1 h.
    pub const ACCESS_TOKEN_LIFESPAN_S: i64 = 3600;
    /// ID tokens: 1 h.
    pub const ID_TOKEN_LIFESPAN_S: i64 = 3600;
    /// Refresh tokens: 720 h.
    pub const REFRESH_TOKEN_LIFESPAN_S: i64 = 720 * 3600;
    /// Authorization codes: 10 min (RFC 6749 §4.1.2 recommends at most that).
    pub const AUTH_CODE_LIFESPAN_MS: i64 = 10 * 60_000;
    /// Login and consent requests, and their CSRF cookies: 30 min.
    pub const LOGIN_CONSENT_LIFESPAN_MS: i64 = 30 * 60_000;
    /// How long a redeemed code's flow is kept after the code expired, so that a replay is still
    /// recognised as reuse (and revokes what the code issued) rather than merely unknown.
    pub const CODE_REUSE_RETENTION_MS: i64 = 24 * 3_600_000;
    /// Logout challenges: 48 h (the Java core's cleanup window).
    pub const LOGOUT_CHALLENGE_LIFESPAN_MS: i64 = 48 * 3_600_000;
    /// Grants and M2M statistics rows are deleted this long after they expired (the Java cron).
    pub const EXPIRED_GRANT_RETENTION_MS: i64 = 31 * 24 * 3_600_000;
    /// The scope of a client created without one.
    pub const CLIENT_SCOPE: &str = "offline_access offline openid";
    /// `state` and `nonce` need at least this many characters (fosite's minimum parameter entropy).
    pub const MIN_PARAMETER_ENTROPY: usize = 8;
    /// Scopes that let a grant carry a refresh token.
    pub const REFRESH_SCOPES: [&str; 2] = ["offline", "offline_access"];
    /// Client list pages.
    pub const LIST_PAGE_SIZE: usize = 250;
    pub const MAX_LIST_PAGE_SIZE: usize = 1000;
}

/// Whether a granted scope list lets the grant carry a refresh token.
pub fn allows_refresh(scopes: &[String]) -> bool {
    scopes.iter().any(|s| defaults::REFRESH_SCOPES.contains(&s.as_str()))
}

/// Splits a space-separated parameter into its non-empty items.
pub fn split_spaces(s: &str) -> Vec<String> {
    s.split(' ').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
