//! The import flow's transaction statements ([`BulkImportTx`]) and the data they read and write:
//! what a chunk asks of the database ([`ChunkProbe`]), what it finds ([`ChunkFacts`]) and the rows
//! it writes ([`ChunkRows`]). Plain types only, so that the `Tx` umbrella (`storage::tx`) can name
//! the trait without importing the flow; the behaviour lives in `conflicts`, `plan` and `flow`.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::storage::{Claim, Failure};
use crate::accountlinking::rules::AccountValues;
use crate::ids::AppKey;
use crate::storage::error::StorageError;
use crate::totp::codes::Device;
use crate::users::model::{RecipeId, User};

/// What to read before deciding on a chunk. Every list holds each value once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkProbe {
    /// (tenant, email) pairs of email-password methods.
    pub ep_emails: Vec<(String, String)>,
    /// (tenant, third-party id, third-party user id) of third-party methods.
    pub tp_identities: Vec<(String, String, String)>,
    /// (tenant, email) pairs of passwordless methods.
    pub pl_emails: Vec<(String, String)>,
    /// (tenant, phone number) pairs of passwordless methods.
    pub pl_phones: Vec<(String, String)>,
    /// The account infos of users that become primary: every existing user holding one of them,
    /// anywhere in the app, as a whole group (`primary_candidates`).
    pub candidate_infos: AccountValues,
    /// External ids to look up in `userid_mapping`.
    pub external_ids: Vec<String>,
    /// Ids to look up in `app_id_to_user_id`: every planned recipe user id and external id.
    pub user_ids: Vec<String>,
    /// Roles the chunk gives.
    pub roles: Vec<String>,
    /// Data user ids that may have metadata or TOTP devices already (the external ids).
    pub data_user_ids: Vec<String>,
}

/// What the database holds, as found for a [`ChunkProbe`].
#[derive(Clone, Debug, Default)]
pub struct ChunkFacts {
    /// The probe's pairs (and triples) that the per-tenant tables already hold.
    pub ep_emails_taken: HashSet<(String, String)>,
    pub tp_identities_taken: HashSet<(String, String, String)>,
    pub pl_emails_taken: HashSet<(String, String)>,
    pub pl_phones_taken: HashSet<(String, String)>,
    /// Existing users (whole groups) holding an account info of `candidate_infos`.
    pub primary_candidates: Vec<User>,
    /// The probe's external ids that are mapped already.
    pub mapped_external_ids: HashSet<String>,
    /// The probe's user ids that exist in `app_id_to_user_id`.
    pub existing_user_ids: HashSet<String>,
    /// The probe's roles that exist.
    pub roles: HashSet<String>,
    /// Stored metadata and TOTP devices of the probe's data user ids.
    pub existing: ExistingData,
}

/// What a chunk's conflict check found in the database that the rows depend on.
#[derive(Clone, Debug, Default)]
pub struct ExistingData {
    /// Stored metadata of data user ids (external ids may have metadata before the import).
    pub metadata: HashMap<String, Map<String, Value>>,
    /// Stored TOTP devices of data user ids.
    pub totp_devices: HashMap<String, Vec<Device>>,
}

/// The rows of a set of plans, table by table, for multi-row inserts: a chunk's users in a few
/// statements instead of a dozen per user. Rows of linked methods come after their primary's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChunkRows {
    /// `app_id_to_user_id`: (user id, recipe id, primary or recipe user id, linked or primary).
    pub app_users: Vec<(String, RecipeId, String, bool)>,
    /// `all_auth_recipe_users`, per tenant.
    pub auth_users: Vec<AuthUserRow>,
    /// `emailpassword_users`: (user id, email, password hash, time joined).
    pub ep_users: Vec<(String, String, String, i64)>,
    /// `emailpassword_user_to_tenant`: (tenant, user id, email).
    pub ep_tenants: Vec<(String, String, String)>,
    /// `thirdparty_users`: (third-party id, third-party user id, user id, email, time joined).
    pub tp_users: Vec<(String, String, String, String, i64)>,
    /// `thirdparty_user_to_tenant`: (tenant, user id, third-party id, third-party user id).
    pub tp_tenants: Vec<(String, String, String, String)>,
    /// `passwordless_users`: (user id, email, phone number, time joined).
    pub pl_users: Vec<(String, Option<String>, Option<String>, i64)>,
    /// `passwordless_user_to_tenant`: (tenant, user id, email, phone number).
    pub pl_tenants: Vec<(String, String, Option<String>, Option<String>)>,
    /// `userid_mapping`: (SuperTokens id, external id).
    pub id_mappings: Vec<(String, String)>,
    /// `emailverification_verified_emails`: (user id, email); existing rows are kept.
    pub verified_emails: Vec<(String, String)>,
    /// `totp_users`: user ids; existing rows are kept.
    pub totp_users: Vec<String>,
    /// `totp_user_devices` (verified); a device of the same user and name is replaced.
    pub totp_devices: Vec<TotpDeviceRow>,
    /// `user_metadata`: (user id, JSON text), replacing the stored text (already merged with it).
    pub metadata: Vec<(String, String)>,
    /// `user_roles`: (tenant, user id, role); existing rows are kept.
    pub user_roles: Vec<(String, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthUserRow {
    pub tenant_id: String,
    pub user_id: String,
    pub primary_or_recipe_user_id: String,
    pub is_linked_or_primary: bool,
    pub recipe_id: RecipeId,
    pub time_joined: i64,
    pub primary_or_recipe_user_time_joined: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub struct TotpDeviceRow {
    pub user_id: String,
    pub device_name: String,
    pub secret_key: String,
    pub period: i32,
    pub skew: i32,
    pub created_at: i64,
}

impl std::fmt::Debug for TotpDeviceRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpDeviceRow").field("user_id", &self.user_id).field("device_name", &self.device_name).finish_non_exhaustive()
    }
}

/// The statements of the import flow ([`super::flow`]), run inside one transaction on the
/// database of the users' tenants (see `storage::tx` for the contract: a
/// statement that reports a conflict ends the unit and nothing of it is kept).
#[async_trait]
pub trait BulkImportTx: Send {
    /// Locks the app's `apps` row (`FOR NO KEY UPDATE`), as every account-linking decision does.
    async fn bi_lock_app(&mut self, app: AppKey<'_>) -> Result<(), StorageError>;

    /// Locks the claimed queue rows that still carry their claim (`FOR UPDATE`) and returns
    /// their ids. Only when the queue is in this database.
    async fn bi_lock_claims(&mut self, app: AppKey<'_>, claims: &[Claim]) -> Result<Vec<String>, StorageError>;

    /// Reads what the probe asks for (see [`ChunkFacts`]); stored metadata rows are locked.
    async fn bi_facts(&mut self, app: AppKey<'_>, probe: &ChunkProbe) -> Result<ChunkFacts, StorageError>;

    /// Inserts every row, table by table in foreign-key order, with multi-row statements.
    /// `Ok(false)`: a unique constraint refused a row (a concurrent write won a race since the
    /// facts were read), which ends the unit.
    async fn bi_insert(&mut self, app: AppKey<'_>, rows: &ChunkRows) -> Result<bool, StorageError>;

    /// Deletes claimed queue rows (still carrying their claim). Only when the queue is in this
    /// database.
    async fn bi_finish(&mut self, app: AppKey<'_>, claims: &[Claim]) -> Result<(), StorageError>;

    /// Marks claimed queue rows `FAILED`. Only when the queue is in this database.
    async fn bi_fail(&mut self, app: AppKey<'_>, failures: &[Failure], now: i64) -> Result<(), StorageError>;
}
