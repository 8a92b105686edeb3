//! User-id mapping: a SuperTokens user id paired with an external id (`userid_mapping`), and the
//! tables that hold data keyed by a user id without a foreign key to the user tables.

use async_trait::async_trait;

use crate::ids::AppKey;
use crate::storage::error::StorageError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserIdMapping {
    pub supertokens_user_id: String,
    pub external_user_id: String,
    pub external_user_id_info: Option<String>,
}

/// Which side of a mapping an id names (`userIdType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdType {
    SuperTokens,
    External,
    /// Either; a mapping whose SuperTokens id matches wins over one whose external id does.
    Any,
}

impl IdType {
    pub fn parse(s: &str) -> Option<IdType> {
        match s {
            "SUPERTOKENS" => Some(IdType::SuperTokens),
            "EXTERNAL" => Some(IdType::External),
            "ANY" => Some(IdType::Any),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateMappingOutcome {
    Created,
    UnknownSuperTokensUser,
    AlreadyExists { supertokens_exists: bool, external_exists: bool },
    /// Without `force`: the external id is itself a SuperTokens user id.
    ExternalIsSuperTokensId,
    /// Without `force`: data of this recipe is keyed by the SuperTokens id already.
    InUse(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteMappingOutcome {
    Deleted { existed: bool },
    /// Without `force`: data of this recipe is keyed by the external id.
    InUse(&'static str),
}

/// Tables whose rows are keyed by the id the application used (the external id when mapped) and
/// have no foreign key to the user tables, with the recipe the core names when one blocks a
/// mapping change. Deleting a user removes its rows from each.
pub const NON_AUTH_TABLES: [(&str, &str); 7] = [
    ("session_info", "Session"),
    ("user_metadata", "UserMetadata"),
    ("user_roles", "UserRoles"),
    ("emailverification_verified_emails", "EmailVerification"),
    ("emailverification_tokens", "EmailVerification"),
    ("totp_users", "Totp"),
    ("user_last_active", ""),
];

/// The recipes whose data a mapping change would orphan (`user_last_active` does not count).
pub fn blocking_tables() -> impl Iterator<Item = (&'static str, &'static str)> {
    NON_AUTH_TABLES.into_iter().filter(|(_, recipe)| !recipe.is_empty())
}

#[async_trait]
pub trait UserIdMappingStorage: Send + Sync {
    /// In one transaction: checks the SuperTokens user exists, the ids are free, and (without
    /// `force`) that no non-auth data would be orphaned; then inserts the mapping. Email
    /// verification data keyed by the SuperTokens id is moved to the external id (it is the only
    /// data the core writes itself on sign-up), as the core does.
    async fn create_user_id_mapping(&self, app: AppKey<'_>, mapping: &UserIdMapping, force: bool) -> Result<CreateMappingOutcome, StorageError>;

    async fn get_user_id_mapping(&self, app: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError>;

    /// Sets (or with `None` clears) the external info; false when there is no such mapping.
    async fn update_external_user_id_info(&self, app: AppKey<'_>, user_id: &str, kind: IdType, info: Option<&str>) -> Result<bool, StorageError>;

    async fn delete_user_id_mapping(&self, app: AppKey<'_>, user_id: &str, kind: IdType, force: bool) -> Result<DeleteMappingOutcome, StorageError>;
}

/// User-id mapping statements other recipes' flows run inside their transaction.
#[async_trait]
pub trait UserIdMappingTx {
    /// The external id of a SuperTokens user id, when mapped: data the application keys by user
    /// id (verified emails, metadata, roles) is kept under it.
    async fn uim_external_id(&mut self, app: AppKey<'_>, supertokens_user_id: &str) -> Result<Option<String>, StorageError>;
}

/// Picks the mapping an `ANY` lookup means from the (at most two) rows naming `user_id`.
pub fn pick_any(user_id: &str, rows: Vec<UserIdMapping>) -> Option<UserIdMapping> {
    let mut rows = rows;
    match rows.iter().position(|m| m.supertokens_user_id == user_id) {
        Some(i) => Some(rows.swap_remove(i)),
        None => rows.pop(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(st: &str, ext: &str) -> UserIdMapping {
        UserIdMapping { supertokens_user_id: st.into(), external_user_id: ext.into(), external_user_id_info: None }
    }

    #[test]
    fn any_prefers_the_supertokens_side() {
        assert_eq!(pick_any("x", vec![m("a", "x"), m("x", "b")]), Some(m("x", "b")));
        assert_eq!(pick_any("x", vec![m("a", "x")]), Some(m("a", "x")));
        assert_eq!(pick_any("x", vec![]), None);
    }

    #[test]
    fn id_types_parse_as_the_cdi_spells_them() {
        assert_eq!(IdType::parse("ANY"), Some(IdType::Any));
        assert_eq!(IdType::parse("any"), None);
    }
}
