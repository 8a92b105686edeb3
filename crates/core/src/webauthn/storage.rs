//! WebAuthn storage: the SuperTokens PostgreSQL plugin's five tables, mirrored on SQLite.
//!
//! - `webauthn_generated_options`: register and sign-in options (one row each, by tenant);
//! - `webauthn_users`: a webauthn recipe user's email, rp id and time joined (app-wide);
//! - `webauthn_user_to_tenant`: the tenants of a webauthn user, with its email (unique per tenant);
//! - `webauthn_credentials`: credentials by `(app_id, rp_id, id)`, owned by a `webauthn_users` row;
//! - `webauthn_account_recovery_tokens`: recovery tokens, stored as SHA-256 hex.
//!
//! Each method is one atomic unit of work: an adapter runs every multi-row change in one
//! transaction. Uniqueness is left to the constraints (emails per tenant, primary keys) and
//! reported as an outcome, never as an error. The rules deciding *whether* to write live in
//! `webauthn::{options, verify, recovery}`; these methods only write what was decided.

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;

/// A `webauthn_generated_options` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedOptions {
    pub tenant_id: String,
    /// A UUID (36 chars).
    pub id: String,
    /// base64url without padding of 32 random bytes.
    pub challenge: String,
    /// Normalised; `None` for sign-in options.
    pub email: Option<String>,
    pub rp_id: String,
    pub rp_name: String,
    pub origin: String,
    /// `created_at + timeout`; `created_at - 1` once sign-in options were used (see
    /// [`super::options::consumed_expires_at`]).
    pub expires_at: i64,
    pub created_at: i64,
    pub user_presence_required: bool,
    /// `required`, `preferred` or `discouraged`.
    pub user_verification: String,
}

/// A `webauthn_credentials` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCredential {
    /// The credential JSON's `id`, as received (base64url).
    pub id: String,
    pub rp_id: String,
    /// The SuperTokens recipe user id.
    pub user_id: String,
    /// The last signature counter accepted.
    pub counter: i64,
    /// The attested credential data: `aaguid(16) ‖ credential id length(2) ‖ credential id ‖ COSE key`,
    /// the layout the Java core writes.
    pub public_key: Vec<u8>,
    /// JSON text of the response's `transports` (`null` when absent, as the Java core writes it).
    pub transports: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A credential with the tenants its user is associated with (`webauthn_user_to_tenant`), for the
/// sign-in rule "the credential belongs to a user of this tenant".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialWithTenants {
    pub credential: StoredCredential,
    pub user_tenant_ids: Vec<String>,
}

/// A new webauthn recipe user (`app_id_to_user_id`, `all_auth_recipe_users` with recipe
/// `webauthn`, `webauthn_users`, `webauthn_user_to_tenant`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebauthnUser {
    pub user_id: String,
    pub email: String,
    pub rp_id: String,
    pub time_joined: i64,
}

/// A `webauthn_account_recovery_tokens` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryTokenRow {
    pub tenant_id: String,
    /// The SuperTokens user id the token was issued for (any recipe's user).
    pub user_id: String,
    pub email: String,
    /// `sha256hex(token)`.
    pub token_hash: String,
    pub expires_at: i64,
}

/// What the options whose use completes a ceremony are (they are consumed in the same transaction).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionsRef<'a> {
    pub tenant_id: &'a str,
    pub id: &'a str,
}

/// How a successful sign-in consumes its options: at CDI ≤ 5.4 the SDKs read them back after
/// signing in, so they are marked used (`expires_at = created_at - 1`, see
/// [`super::options::consumed_expires_at`]) rather than deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInConsumption {
    /// CDI ≤ 5.4: mark them used, guarded by `expires_at >= created_at`.
    MarkConsumed,
    /// CDI ≥ 5.5: delete the row, guarded the same way.
    Delete,
}

impl SignInConsumption {
    pub fn for_cdi(major: u32, minor: u32) -> SignInConsumption {
        if (major, minor) >= (5, 5) {
            SignInConsumption::Delete
        } else {
            SignInConsumption::MarkConsumed
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveOptionsOutcome {
    Saved,
    /// The id is taken: retry with fresh values.
    DuplicateId,
    /// No such tenant (the `tenants` foreign key).
    UnknownTenant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignUpOutcome {
    Created,
    /// `webauthn_user_to_tenant_email_key`: another webauthn user of the tenant has the email.
    EmailAlreadyExists,
    /// A credential with this id is already registered in the app (any rp id).
    CredentialAlreadyExists,
    /// The new user id is taken: retry with a fresh one.
    DuplicateUserId,
    /// The options were consumed by a concurrent request (nothing written).
    OptionsGone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterCredentialOutcome {
    Registered,
    /// A credential with this id is already registered in the app (any rp id).
    CredentialAlreadyExists,
    /// The user is not a webauthn recipe user (no `webauthn_users` row).
    UnknownUser,
    OptionsGone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishSignInOutcome {
    Done,
    /// The options were consumed by a concurrent sign-in.
    OptionsGone,
    /// The stored counter moved since it was read (a concurrent sign-in with the same credential).
    CounterMoved,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddRecoveryTokenOutcome {
    Added,
    /// The hash collided with a stored token of the user: retry with a fresh token.
    Duplicate,
    /// No such user in the app (the `app_id_to_user_id` foreign key).
    UnknownUser,
}

/// The counter a verified assertion moves a credential to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterUpdate<'a> {
    pub rp_id: &'a str,
    pub credential_id: &'a str,
    /// The counter the verification compared against; the update applies only if it is still stored.
    pub old_counter: i64,
    pub new_counter: i64,
    pub now: i64,
}

#[async_trait]
pub trait WebauthnStorage: Send + Sync {
    /// Inserts generated options.
    async fn wa_save_options(&self, app: AppKey<'_>, options: &GeneratedOptions) -> Result<SaveOptionsOutcome, StorageError>;

    /// Options by `(app, tenant, id)`, whatever their expiry (GET options, sign-up, sign-in).
    async fn wa_options(&self, tenant: TenantKey<'_>, id: &str) -> Result<Option<GeneratedOptions>, StorageError>;

    /// Options by `(app, id)` in any tenant: credential registration is called on the public
    /// path with options made on `/<tenant>/` (the SDKs do that).
    async fn wa_options_in_app(&self, app: AppKey<'_>, id: &str) -> Result<Option<GeneratedOptions>, StorageError>;

    /// Deletes options; false when there were none.
    async fn wa_remove_options(&self, tenant: TenantKey<'_>, id: &str) -> Result<bool, StorageError>;

    /// In one transaction: consumes the options (deleted, guarded so that of two concurrent
    /// sign-ups one wins), creates the user's rows in `tenant_id` and its first credential.
    /// Nothing is written unless the outcome is `Created`.
    async fn wa_sign_up(
        &self,
        tenant: TenantKey<'_>,
        options: OptionsRef<'_>,
        user: &NewWebauthnUser,
        credential: &StoredCredential,
    ) -> Result<SignUpOutcome, StorageError>;

    /// In one transaction: consumes the options (deleted) and adds a credential to a webauthn user.
    async fn wa_register_credential(
        &self,
        app: AppKey<'_>,
        options: OptionsRef<'_>,
        credential: &StoredCredential,
    ) -> Result<RegisterCredentialOutcome, StorageError>;

    /// The credential a sign-in presents, by `(app, rp id of the options, id)`, with its user's tenants.
    async fn wa_credential_for_sign_in(
        &self,
        app: AppKey<'_>,
        rp_id: &str,
        credential_id: &str,
    ) -> Result<Option<CredentialWithTenants>, StorageError>;

    /// In one short transaction after a verified assertion: consumes the options as `consumption`
    /// says (guarded: a concurrent use wins once) and moves the counter (guarded by `old_counter`).
    async fn wa_finish_sign_in(
        &self,
        app: AppKey<'_>,
        options: OptionsRef<'_>,
        consumption: SignInConsumption,
        counter: &CounterUpdate<'_>,
    ) -> Result<FinishSignInOutcome, StorageError>;

    /// A credential of a user, by `(app, id, user)`.
    async fn wa_credential_of_user(&self, app: AppKey<'_>, user_id: &str, credential_id: &str) -> Result<Option<StoredCredential>, StorageError>;

    /// The credentials of a user, ordered by `(created_at, id)`.
    async fn wa_credentials_of_user(&self, app: AppKey<'_>, user_id: &str) -> Result<Vec<StoredCredential>, StorageError>;

    /// Removes a credential of a user; false when there was none.
    async fn wa_remove_credential(&self, app: AppKey<'_>, user_id: &str, credential_id: &str) -> Result<bool, StorageError>;

    async fn wa_add_recovery_token(&self, app: AppKey<'_>, token: &RecoveryTokenRow) -> Result<AddRecoveryTokenOutcome, StorageError>;

    /// A recovery token by `(app, tenant, hash)`, whatever its expiry.
    async fn wa_recovery_token(&self, tenant: TenantKey<'_>, token_hash: &str) -> Result<Option<RecoveryTokenRow>, StorageError>;

    /// In one transaction: claims the token if it has not expired at `now` (a single guarded
    /// DELETE, so a token is used once however many consume it at once), then deletes every other
    /// token of its `(tenant, email)`. `None` when there was no such valid token.
    async fn wa_consume_recovery_token(
        &self,
        tenant: TenantKey<'_>,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<RecoveryTokenRow>, StorageError>;

    /// The daily cleanup: deletes options and recovery tokens that expired before `now`, in every
    /// app. Returns how many rows went.
    async fn wa_delete_expired(&self, now: i64) -> Result<u64, StorageError>;
}

/// The statements of the email change, run inside its transaction (with account linking's checks).
#[async_trait]
pub trait WebauthnTx {
    /// Locks a webauthn user's row; false when there is none.
    async fn wa_lock_user(&mut self, app: AppKey<'_>, user_id: &str) -> Result<bool, StorageError>;

    /// Sets the user's email in `webauthn_users` and in every tenant row; false when another
    /// webauthn user of one of its tenants has it (a conflict).
    async fn wa_set_email(&mut self, app: AppKey<'_>, user_id: &str, email: &str) -> Result<bool, StorageError>;
}
