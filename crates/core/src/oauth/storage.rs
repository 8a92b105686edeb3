//! OAuth provider storage, over the plugin's tables (`oauth_clients`, `oauth_sessions`,
//! `oauth_m2m_tokens`, `oauth_logout_challenges`, exactly as the plugin creates them) and the
//! provider's own (`oauth_client_configs`, `oauth_flows`, `oauth_grants`, `oauth_consents`).
//! The rules are in [`crate::oauth`]; each method here is one atomic unit of work.
//!
//! How the plugin's columns are used:
//! - `oauth_clients.client_secret` holds [`crate::oauth::secret`]'s hash (the Java core stored an
//!   encrypted secret); NULL for public clients.
//! - `oauth_sessions` has one row per grant, keyed by `gid`: `session_handle` (NULL for M2M),
//!   `external_refresh_token` = SHA-256 hex of the current refresh token (NULL without one),
//!   `internal_refresh_token` always NULL, `jti` the live access tokens as `"<jti>,<jti>,"`, `exp`
//!   in seconds (the refresh token's expiry, else the access token's).
//! - `oauth_m2m_tokens`: one row per M2M issuance (`ON CONFLICT DO NOTHING`: at most one per client
//!   and second), statistics only.
//! - `oauth_logout_challenges`: as the Java core, but a challenge is deleted when accepted.
//!
//! A row of `oauth_clients` without a row of `oauth_client_configs` can only come from a Java core
//! (whose client metadata lived in Hydra): reads treat the client as absent, and creating a client
//! with that id adopts the row (replaces its secret and flags, adds the config).
//!
//! Part of [`crate::storage::Storage`]; each method is one atomic unit (a conditional write decides
//! what may be used only once), so the recipe needs no `…Tx` statements.

use async_trait::async_trait;
pub use serde::Deserialize;

use crate::ids::AppKey;
use crate::storage::error::StorageError;
use crate::oauth::authorize::{Completion, ConsentStart, Flow, RememberedConsent};
use crate::oauth::challenges::{ConsentHandled, LoginHandled};
use crate::oauth::claims::{GrantRecord, Issued};
use crate::oauth::client::{Client, ListQuery};
use crate::oauth::logout::LogoutChallenge;
use crate::oauth::token::{M2mIssue, RefreshWrite};

/// Whether a create stored a new client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateClientOutcome {
    Created,
    /// A client with that id exists (with its config).
    AlreadyExists,
}

/// The outcome of redeeming an authorization code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// The code was unused: it is now used, and the grant recorded.
    Redeemed,
    /// A concurrent redemption used it first (answer with [`crate::oauth::token::code_reused`]).
    AlreadyUsed,
}

/// What the cleanup job removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub grants: u64,
    pub m2m_tokens: u64,
    pub logout_challenges: u64,
    pub flows: u64,
    pub consents: u64,
}

#[async_trait]
pub trait OAuthStorage: Send + Sync {
    // --- clients (`oauth_clients` ⋈ `oauth_client_configs`) ---

    /// A client with its config (one primary-key read: it is on every token request's path).
    async fn oauth_client_get(&self, app: AppKey<'_>, client_id: &str) -> Result<Option<Client>, StorageError>;

    /// Inserts a client: both rows; `is_client_credentials_only` from
    /// [`Client::is_client_credentials_only`]. Adopts a config-less row (see the module doc).
    async fn oauth_client_create(&self, app: AppKey<'_>, client: &Client) -> Result<CreateClientOutcome, StorageError>;

    /// Replaces a client's rows (secret hash, flags, config, `updated_at`). False if it is gone.
    async fn oauth_client_update(&self, app: AppKey<'_>, client: &Client) -> Result<bool, StorageError>;

    /// Up to `page_size + 1` clients with an id greater than `after`, named `client_name` if given,
    /// ordered by id.
    async fn oauth_client_list(&self, app: AppKey<'_>, query: &ListQuery) -> Result<Vec<Client>, StorageError>;

    /// Deletes a client (its grants, flows, consents, M2M rows and logout challenges cascade).
    /// Returns whether it existed.
    async fn oauth_client_remove(&self, app: AppKey<'_>, client_id: &str) -> Result<bool, StorageError>;

    // --- authorization flows (`oauth_flows`) ---

    async fn oauth_flow_insert(&self, app: AppKey<'_>, flow: &Flow) -> Result<(), StorageError>;

    async fn oauth_flow_by_login_challenge(&self, app: AppKey<'_>, challenge: &str) -> Result<Option<Flow>, StorageError>;

    async fn oauth_flow_by_consent_challenge(&self, app: AppKey<'_>, challenge: &str) -> Result<Option<Flow>, StorageError>;

    /// By `login_verifier_hash`.
    async fn oauth_flow_by_login_verifier(&self, app: AppKey<'_>, verifier_hash: &str) -> Result<Option<Flow>, StorageError>;

    /// By `consent_verifier_hash`.
    async fn oauth_flow_by_consent_verifier(&self, app: AppKey<'_>, verifier_hash: &str) -> Result<Option<Flow>, StorageError>;

    /// By `code_hash`.
    async fn oauth_flow_by_code(&self, app: AppKey<'_>, code_hash: &str) -> Result<Option<Flow>, StorageError>;

    /// Login accept or reject: sets `login_verifier_hash` and `login_outcome`
    /// `WHERE login_challenge = ? AND login_verifier_used = FALSE`. False if that matched no row.
    async fn oauth_flow_handle_login(&self, app: AppKey<'_>, login_challenge: &str, handled: &LoginHandled) -> Result<bool, StorageError>;

    /// The login verifier step: `login_verifier_used = TRUE` and the consent challenge, CSRF and
    /// skip flag, `WHERE login_challenge = ? AND login_verifier_used = FALSE`. False: used already.
    async fn oauth_flow_use_login_verifier(&self, app: AppKey<'_>, login_challenge: &str, start: &ConsentStart) -> Result<bool, StorageError>;

    /// Consent accept or reject: sets `consent_verifier_hash`, `consent_outcome` and `gid`
    /// `WHERE consent_challenge = ? AND consent_verifier_used = FALSE`. False if that matched no row.
    async fn oauth_flow_handle_consent(&self, app: AppKey<'_>, consent_challenge: &str, handled: &ConsentHandled) -> Result<bool, StorageError>;

    /// The consent verifier step, one transaction: `consent_verifier_used = TRUE`, the code's hash
    /// and expiry, `expires_at`, `WHERE login_challenge = ? AND consent_verifier_used = FALSE`; then,
    /// only if that matched, upsert the remembered consent and insert the implicit grant
    /// (`oauth_sessions` with the token's jti + `oauth_grants`). False: used already (nothing written).
    async fn oauth_flow_use_consent_verifier(&self, app: AppKey<'_>, login_challenge: &str, completion: &Completion) -> Result<bool, StorageError>;

    /// Redeems a code, one transaction: `UPDATE oauth_flows SET code_used = TRUE WHERE code_hash = ?
    /// AND code_used = FALSE`; if that matched, upsert the grant (`oauth_sessions` by gid: refresh
    /// hash, session handle, `jti = jti || '<jti>,'`, exp; `oauth_grants`). A hybrid flow may have
    /// created the grant row already, hence the upsert.
    async fn oauth_redeem_code(&self, app: AppKey<'_>, code_hash: &str, grant: &GrantRecord, issued: &Issued) -> Result<RedeemOutcome, StorageError>;

    // --- grants (`oauth_sessions` ⋈ `oauth_grants`) ---

    /// The user grant whose current refresh token has this hash (whatever its expiry).
    async fn oauth_grant_by_refresh_hash(&self, app: AppKey<'_>, refresh_hash: &str) -> Result<Option<GrantRecord>, StorageError>;

    /// A refresh, one conditional statement: `UPDATE oauth_sessions SET external_refresh_token =
    /// COALESCE(new_hash, external_refresh_token), jti = jti || '<jti>,', exp = ? WHERE app_id = ?
    /// AND external_refresh_token = old_hash AND exp >= now_s` (also moves `oauth_grants.created_at`
    /// to now). False: rotated away, expired or revoked meanwhile.
    async fn oauth_refresh(&self, app: AppKey<'_>, write: &RefreshWrite, now_ms: i64) -> Result<bool, StorageError>;

    /// An M2M issuance: the `oauth_sessions` row and the `oauth_m2m_tokens` row in one round trip
    /// (PostgreSQL: one statement with a data-modifying CTE; SQLite: one transaction).
    async fn oauth_record_m2m(&self, app: AppKey<'_>, issue: &M2mIssue) -> Result<(), StorageError>;

    /// The live jti list of a grant (introspection of an access token: one primary-key read).
    async fn oauth_grant_jtis(&self, app: AppKey<'_>, gid: &str) -> Result<Option<String>, StorageError>;

    /// Deletes a grant (its `oauth_grants` row cascades): revoking a refresh token, or a reused code.
    async fn oauth_revoke_grant(&self, app: AppKey<'_>, gid: &str) -> Result<bool, StorageError>;

    /// Removes one access token: `jti = REPLACE(jti, '<jti>,', '')` on the grant.
    async fn oauth_revoke_access_token(&self, app: AppKey<'_>, gid: &str, jti: &str) -> Result<bool, StorageError>;

    /// Deletes every grant of a client. Returns how many.
    async fn oauth_revoke_by_client(&self, app: AppKey<'_>, client_id: &str) -> Result<u64, StorageError>;

    /// Deletes every grant of a SuperTokens session, all clients. Returns how many.
    async fn oauth_revoke_by_session_handle(&self, app: AppKey<'_>, session_handle: &str) -> Result<u64, StorageError>;

    // --- remembered consents (`oauth_consents`) ---

    async fn oauth_consent_get(&self, app: AppKey<'_>, client_id: &str, subject: &str) -> Result<Option<RememberedConsent>, StorageError>;

    // --- logout (`oauth_logout_challenges`) ---

    async fn oauth_logout_challenge_insert(&self, app: AppKey<'_>, challenge: &LogoutChallenge) -> Result<(), StorageError>;

    /// Logout accept, one transaction: deletes the challenge if it was created at or after
    /// `created_after` and, if it had a session handle, every grant of that session. Returns the
    /// deleted challenge.
    async fn oauth_logout_accept(&self, app: AppKey<'_>, challenge: &str, created_after: i64) -> Result<Option<LogoutChallenge>, StorageError>;

    /// Logout reject: deletes the challenge. Returns whether it existed.
    async fn oauth_logout_reject(&self, app: AppKey<'_>, challenge: &str) -> Result<bool, StorageError>;

    // --- cleanup (the daily cron) ---

    /// Deletes grants and M2M rows that expired over 31 days before `now_ms`, logout challenges older
    /// than 48 hours, flows past their `expires_at`, consents past their `remember_until`.
    async fn oauth_cleanup(&self, app: AppKey<'_>, now_ms: i64) -> Result<Cleaned, StorageError>;
}

/// The text a JSON column of the provider's tables stores (audiences, token claims).
pub fn to_stored_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Reads a JSON column back; the message names the column's meaning, never its content.
pub fn from_stored_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("unreadable OAuth {what}: {e}"))
}
