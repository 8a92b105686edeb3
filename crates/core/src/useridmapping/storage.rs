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
    async fn get_user_id_mapping(&self, app: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError>;
}

/// The statements of the mapping flows (`useridmapping/mod.rs`), and the lookup other recipes'
/// flows make, run inside their transaction.
#[async_trait]
pub trait UserIdMappingTx {
    /// The external id of a SuperTokens user id, when mapped: data the application keys by user
    /// id (verified emails, metadata, roles) is kept under it.
    async fn uim_external_id(&mut self, app: AppKey<'_>, supertokens_user_id: &str) -> Result<Option<String>, StorageError>;

    /// The mapping an id names (see [`IdType`]).
    async fn uim_find(&mut self, app: AppKey<'_>, user_id: &str, kind: IdType) -> Result<Option<UserIdMapping>, StorageError>;

    /// Whether a user id is a SuperTokens user (`app_id_to_user_id`); with `lock`, the user cannot
    /// be deleted until the transaction ends.
    async fn uim_is_user(&mut self, app: AppKey<'_>, user_id: &str, lock: bool) -> Result<bool, StorageError>;

    /// The recipes (of [`blocking_tables`]) with data keyed by this id, in the tables' order.
    async fn uim_used_by(&mut self, app: AppKey<'_>, user_id: &str) -> Result<Vec<&'static str>, StorageError>;

    /// Moves email-verification data from one user id to another.
    async fn uim_move_email_verification(&mut self, app: AppKey<'_>, from: &str, to: &str) -> Result<(), StorageError>;

    /// Inserts a mapping; `Err(side)` when a unique constraint refused it (a conflict), with the
    /// side whose id was taken.
    async fn uim_insert(&mut self, app: AppKey<'_>, mapping: &UserIdMapping) -> Result<Result<(), IdType>, StorageError>;

    async fn uim_set_info(&mut self, app: AppKey<'_>, supertokens_user_id: &str, info: Option<&str>) -> Result<(), StorageError>;

    async fn uim_delete(&mut self, app: AppKey<'_>, supertokens_user_id: &str) -> Result<(), StorageError>;
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
