//! Storage of auth-recipe users: the rows every sign-up writes (`app_id_to_user_id`,
//! `all_auth_recipe_users`, the recipe's `*_users` and `*_user_to_tenant`), reads of whole users,
//! listing and counting, tenant association, and deletion of a user with the data keyed by their id.

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;
use super::model::{LoginMethod, RecipeId, User};

/// Why associating a user with a tenant was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssociateOutcome {
    Associated { was_already_associated: bool },
    UnknownUser,
    EmailAlreadyExists,
    PhoneNumberAlreadyExists,
    ThirdPartyUserAlreadyExists,
    /// The user's group is primary and another primary user in the tenant has one of its
    /// account infos (the core's reason).
    NotAllowed { reason: String },
}

/// A page of users: (primary user id, its time joined), in the requested order.
pub type UserPage = Vec<(String, i64)>;

/// Which users a listing or count covers.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// `None` = every tenant of the app.
    pub tenant_id: Option<String>,
    /// Empty = every recipe.
    pub recipe_ids: Vec<RecipeId>,
    /// The dashboard's search tags, when searching.
    pub search: Option<SearchTags>,
}

/// The dashboard's user search: prefixes of emails, phone numbers and third-party provider ids.
/// A login method matches when, for every kind of tag given, its value starts with one of them;
/// a user matches when one of its login methods does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchTags {
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub providers: Vec<String>,
}

impl SearchTags {
    /// `IN (...)` subquery of the recipe user ids that match, for `all_auth_recipe_users.user_id`.
    /// `table` names a plugin table as the store spells it; `param` binds a value and returns its
    /// placeholder. `app` is the app id's placeholder. Values are bound, never spliced.
    pub fn matching_user_ids(&self, app: &str, table: &dyn Fn(&str) -> String, param: &mut dyn FnMut(String) -> String) -> String {
        let mut any_of = |column: &str, prefixes: &[String], patterns: fn(&str) -> Vec<String>| -> String {
            let alternatives: Vec<String> = prefixes
                .iter()
                .flat_map(|p| patterns(p))
                .map(|pattern| format!("{column} LIKE {} ESCAPE '\\'", param(pattern)))
                .collect();
            format!("({})", alternatives.join(" OR "))
        };
        let (e, p, t) = (!self.emails.is_empty(), !self.phones.is_empty(), !self.providers.is_empty());
        let mut parts = Vec::new();
        // A recipe is searched only when it has every kind of value the tags ask about.
        if e && !p && !t {
            parts.push(format!(
                "SELECT user_id FROM {} WHERE app_id = {app} AND {}",
                table("emailpassword_user_to_tenant"),
                any_of("email", &self.emails, email_patterns)
            ));
        }
        if (e || t) && !p {
            let mut conditions = vec![format!("t.app_id = {app}")];
            if e {
                conditions.push(any_of("u.email", &self.emails, email_patterns));
            }
            if t {
                conditions.push(any_of("t.third_party_id", &self.providers, prefix_pattern));
            }
            parts.push(format!(
                "SELECT t.user_id FROM {} t JOIN {} u ON u.app_id = t.app_id AND u.user_id = t.user_id WHERE {}",
                table("thirdparty_user_to_tenant"),
                table("thirdparty_users"),
                conditions.join(" AND ")
            ));
        }
        if (e || p) && !t {
            let mut conditions = vec![format!("app_id = {app}")];
            if e {
                conditions.push(any_of("email", &self.emails, email_patterns));
            }
            if p {
                conditions.push(any_of("phone_number", &self.phones, prefix_pattern));
            }
            parts.push(format!("SELECT user_id FROM {} WHERE {}", table("passwordless_user_to_tenant"), conditions.join(" AND ")));
        }
        if parts.is_empty() {
            // Email, phone and provider together: no login method has all three.
            return "(SELECT user_id FROM (SELECT NULL AS user_id) AS none WHERE 1 = 0)".into();
        }
        format!("({})", parts.join(" UNION "))
    }
}

/// One piece of account info that identifies login methods in a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountInfo {
    /// An email of any recipe (normalised).
    Email(String),
    PhoneNumber(String),
    ThirdParty { id: String, user_id: String },
}

impl AccountInfo {
    /// The values to bind after the app and tenant ids, in order.
    pub fn values(&self) -> Vec<&str> {
        match self {
            AccountInfo::Email(v) | AccountInfo::PhoneNumber(v) => vec![v],
            AccountInfo::ThirdParty { id, user_id } => vec![id, user_id],
        }
    }

    /// The query for [`UserStorage::user_ids_by_account_info`]: parameters 1 and 2 are the app and
    /// tenant ids, then [`AccountInfo::values`]; `ph` spells the n-th placeholder.
    pub fn primary_ids_sql(&self, table: &dyn Fn(&str) -> String, ph: &dyn Fn(usize) -> String) -> String {
        let (app, tenant, v1, v2) = (ph(1), ph(2), ph(3), ph(4));
        let scope = |alias: &str| format!("{alias}app_id = {app} AND {alias}tenant_id = {tenant}");
        let matching = match self {
            AccountInfo::Email(_) => format!(
                "SELECT user_id FROM {ep} WHERE {s} AND email = {v1} \
                 UNION SELECT t.user_id FROM {tp} t JOIN {tpu} u ON u.app_id = t.app_id AND u.user_id = t.user_id WHERE {st} AND u.email = {v1} \
                 UNION SELECT user_id FROM {pl} WHERE {s} AND email = {v1}",
                ep = table("emailpassword_user_to_tenant"),
                tp = table("thirdparty_user_to_tenant"),
                tpu = table("thirdparty_users"),
                pl = table("passwordless_user_to_tenant"),
                s = scope(""),
                st = scope("t."),
            ),
            AccountInfo::PhoneNumber(_) => {
                format!("SELECT user_id FROM {} WHERE {} AND phone_number = {v1}", table("passwordless_user_to_tenant"), scope(""))
            }
            AccountInfo::ThirdParty { .. } => format!(
                "SELECT user_id FROM {} WHERE {} AND third_party_id = {v1} AND third_party_user_id = {v2}",
                table("thirdparty_user_to_tenant"),
                scope("")
            ),
        };
        format!(
            "SELECT DISTINCT primary_or_recipe_user_id FROM {} WHERE {} AND user_id IN ({matching})",
            table("all_auth_recipe_users"),
            scope("")
        )
    }
}

/// An email tag matches emails that start with it, or whose domain does (`t` finds
/// `johndoe@testing.weird`), as the core's search does.
fn email_patterns(tag: &str) -> Vec<String> {
    let escaped = like_escape(tag);
    vec![format!("{escaped}%"), format!("%@{escaped}%")]
}

fn prefix_pattern(tag: &str) -> Vec<String> {
    vec![format!("{}%", like_escape(tag))]
}

/// `text` with LIKE's wildcards and escape character escaped, so that it matches literally.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
pub trait UserStorage: Send + Sync {
    /// Writes a new email-password user in one transaction. False when the tenant already has an
    /// email-password user with this email (the schema's unique constraint decides).
    async fn ep_create_user(
        &self,
        tenant: TenantKey<'_>,
        user_id: &str,
        email: &str,
        password_hash: &str,
        time_joined: i64,
    ) -> Result<bool, StorageError>;

    /// The email-password login method with this email in the tenant, with its password hash.
    async fn ep_login_method_by_email(&self, tenant: TenantKey<'_>, email: &str) -> Result<Option<LoginMethod>, StorageError>;

    /// The user (the whole linked group) that `user_id` (a primary or recipe user id) belongs to.
    async fn get_user(&self, app: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError>;

    /// The users that these ids (primary or recipe user ids) belong to, in the order of the ids;
    /// unknown ids are left out. Stores read them in a few statements (a page of users at once).
    async fn get_users(&self, app: AppKey<'_>, user_ids: &[String]) -> Result<Vec<User>, StorageError> {
        let mut users = Vec::with_capacity(user_ids.len());
        for id in user_ids {
            users.extend(self.get_user(app, id).await?);
        }
        Ok(users)
    }

    /// Primary user ids in time-joined order, starting after `after` = (time joined, user id) when given.
    async fn list_users(
        &self,
        app: AppKey<'_>,
        filter: &UserFilter,
        ascending: bool,
        limit: usize,
        after: Option<(i64, String)>,
    ) -> Result<UserPage, StorageError>;

    /// The number of users (primary users) matching the filter.
    async fn count_users(&self, app: AppKey<'_>, filter: &UserFilter) -> Result<u64, StorageError>;

    /// Primary user ids of the tenant's users with a login method that has this account info.
    async fn user_ids_by_account_info(&self, tenant: TenantKey<'_>, info: &AccountInfo) -> Result<Vec<String>, StorageError>;

    /// Adds a recipe user to a tenant (one transaction; the schema's unique constraints decide conflicts).
    async fn associate_user_with_tenant(&self, tenant: TenantKey<'_>, recipe_user_id: &str) -> Result<AssociateOutcome, StorageError>;

    /// Removes a recipe user from a tenant; returns whether it was there. The user keeps its data.
    async fn disassociate_user_from_tenant(&self, tenant: TenantKey<'_>, recipe_user_id: &str) -> Result<bool, StorageError>;

    /// Deletes recipe users and everything keyed by their ids (sessions, metadata, roles, verified
    /// emails, last-active times, TOTP devices), in one transaction. Returns whether any existed.
    async fn delete_users(&self, app: AppKey<'_>, user_ids: &[String]) -> Result<bool, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(tags: &SearchTags) -> (String, Vec<String>) {
        let mut values = Vec::new();
        let sql = tags.matching_user_ids("$1", &|t| t.to_string(), &mut |v| {
            values.push(v);
            format!("${}", values.len() + 1)
        });
        (sql, values)
    }

    #[test]
    fn emails_search_every_recipe_with_emails_and_bind_escaped_prefixes() {
        let (sql, values) = render(&SearchTags { emails: vec!["a_b%".into()], ..Default::default() });
        assert!(sql.contains("emailpassword_user_to_tenant") && sql.contains("thirdparty_users") && sql.contains("passwordless_user_to_tenant"));
        assert!(!sql.contains("a_b"), "values are bound: {sql}");
        assert_eq!(values, ["a\\_b\\%%", "%@a\\_b\\%%"].repeat(3));
    }

    #[test]
    fn each_kind_of_tag_narrows_the_recipes() {
        let (sql, _) = render(&SearchTags { phones: vec!["+1".into()], ..Default::default() });
        assert!(sql.contains("passwordless") && !sql.contains("emailpassword") && !sql.contains("thirdparty"));
        let (sql, _) = render(&SearchTags { providers: vec!["goo".into()], emails: vec!["a".into()], ..Default::default() });
        assert!(sql.contains("thirdparty") && !sql.contains("emailpassword") && !sql.contains("passwordless"));
        let all = SearchTags { emails: vec!["a".into()], phones: vec!["1".into()], providers: vec!["g".into()] };
        assert!(render(&all).0.contains("1 = 0"));
    }
}
