//! Storage of auth-recipe users: the rows every sign-up writes (`app_id_to_user_id`,
//! `all_auth_recipe_users`, the recipe's `*_users` and `*_user_to_tenant`), reads of whole users,
//! listing and counting, tenant association, and deletion of a user with the data keyed by their id.

use async_trait::async_trait;

use crate::ids::{AppKey, TenantKey};
use crate::storage::error::StorageError;
use super::model::{LoginMethod, RecipeId, User};

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


/// What a search looks for in one recipe's login methods: for each column, the LIKE patterns
/// (`\\` escapes) one of which its value must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecipeSearch {
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub providers: Vec<String>,
}

/// A search, recipe by recipe (`None`: the recipe is not searched). Adapters render it as SQL with
/// the patterns bound as parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPlan {
    pub emailpassword: Option<RecipeSearch>,
    pub thirdparty: Option<RecipeSearch>,
    pub passwordless: Option<RecipeSearch>,
}

impl SearchTags {
    /// The search the tags ask for. A recipe is searched only when it has every kind of value the
    /// tags ask about (email, phone and provider together match nothing). An email tag matches
    /// emails that start with it or whose domain does (`t` finds `johndoe@testing.weird`), as the
    /// core's search does; phone and provider tags are prefixes.
    pub fn plan(&self) -> SearchPlan {
        let emails: Vec<String> = self.emails.iter().flat_map(|t| email_patterns(t)).collect();
        let phones: Vec<String> = self.phones.iter().flat_map(|t| prefix_pattern(t)).collect();
        let providers: Vec<String> = self.providers.iter().flat_map(|t| prefix_pattern(t)).collect();
        let (e, p, t) = (!emails.is_empty(), !phones.is_empty(), !providers.is_empty());
        SearchPlan {
            emailpassword: (e && !p && !t).then(|| RecipeSearch { emails: emails.clone(), ..Default::default() }),
            thirdparty: ((e || t) && !p).then(|| RecipeSearch { emails: emails.clone(), providers: providers.clone(), ..Default::default() }),
            passwordless: ((e || p) && !t).then(|| RecipeSearch { emails: emails.clone(), phones: phones.clone(), ..Default::default() }),
        }
    }
}

/// One piece of account info that identifies login methods in a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountInfo {
    /// An email of any recipe (normalised).
    Email(String),
    PhoneNumber(String),
    ThirdParty { id: String, user_id: String },
    /// A WebAuthn credential id (as the credential JSON's `id` gives it).
    WebauthnCredentialId(String),
}

impl AccountInfo {
    /// The values to bind after the app and tenant ids, in order.
    pub fn values(&self) -> Vec<&str> {
        match self {
            AccountInfo::Email(v) | AccountInfo::PhoneNumber(v) | AccountInfo::WebauthnCredentialId(v) => vec![v],
            AccountInfo::ThirdParty { id, user_id } => vec![id, user_id],
        }
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

    /// Removes a recipe user from a tenant; returns whether it was there. The user keeps its data.
    async fn disassociate_user_from_tenant(&self, tenant: TenantKey<'_>, recipe_user_id: &str) -> Result<bool, StorageError>;

    /// Deletes recipe users and everything keyed by their ids (sessions, metadata, roles, verified
    /// emails, last-active times, TOTP devices), in one transaction. Returns whether any existed.
    async fn delete_users(&self, app: AppKey<'_>, user_ids: &[String]) -> Result<bool, StorageError>;
}

/// What adding a login method to a tenant did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantJoin {
    Joined,
    /// It was in the tenant already.
    AlreadyThere,
    /// Another login method of its recipe in the tenant has its email, phone number or
    /// third-party account (the tenant's uniqueness rules, kept by unique constraints: a conflict).
    EmailTaken,
    PhoneNumberTaken,
    ThirdPartyTaken,
}

/// User statements flows run inside their transaction (account linking, tenant association).
#[async_trait]
pub trait UsersTx {
    /// The user (whole group) of a primary or recipe user id.
    async fn users_get(&mut self, app: AppKey<'_>, user_id: &str) -> Result<Option<User>, StorageError>;

    /// One recipe user's login method.
    async fn users_login_method(&mut self, app: AppKey<'_>, user_id: &str) -> Result<Option<LoginMethod>, StorageError>;

    /// The group's `primary_or_recipe_user_time_joined` (its earliest sign-up).
    async fn users_group_time(&mut self, app: AppKey<'_>, primary_user_id: &str) -> Result<Option<i64>, StorageError>;

    /// Adds a login method to a tenant: its `all_auth_recipe_users` row and its recipe's
    /// per-tenant row. Anything but `Joined` leaves the tenant as it was.
    async fn users_join_tenant(&mut self, tenant: TenantKey<'_>, method: &LoginMethod, group_time: i64) -> Result<TenantJoin, StorageError>;

    /// Deletes a recipe user and everything keyed by its id (under its external id too when
    /// mapped). False when it did not exist.
    async fn users_delete(&mut self, app: AppKey<'_>, user_id: &str) -> Result<bool, StorageError>;

    /// Deletes a recipe user's login method (its recipe rows, tenants and passwordless sign-in
    /// attempts) but not its `app_id_to_user_id` row, which linked users may reference.
    async fn users_delete_login_rows(&mut self, app: AppKey<'_>, user_id: &str) -> Result<(), StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_search_every_recipe_with_emails_by_escaped_prefix_or_domain() {
        let plan = SearchTags { emails: vec!["a_b%".into()], ..Default::default() }.plan();
        let emails = vec!["a\\_b\\%%".to_owned(), "%@a\\_b\\%%".to_owned()];
        assert_eq!(plan.emailpassword.map(|r| r.emails), Some(emails.clone()));
        assert_eq!(plan.thirdparty.map(|r| r.emails), Some(emails.clone()));
        assert_eq!(plan.passwordless.map(|r| r.emails), Some(emails));
    }

    #[test]
    fn each_kind_of_tag_narrows_the_recipes() {
        let plan = SearchTags { phones: vec!["+1".into()], ..Default::default() }.plan();
        assert!(plan.emailpassword.is_none() && plan.thirdparty.is_none());
        assert_eq!(plan.passwordless.map(|r| r.phones), Some(vec!["+1%".to_owned()]));
        let plan = SearchTags { providers: vec!["goo".into()], emails: vec!["a".into()], ..Default::default() }.plan();
        assert!(plan.emailpassword.is_none() && plan.passwordless.is_none());
        assert_eq!(plan.thirdparty.map(|r| r.providers), Some(vec!["goo%".to_owned()]));
        let all = SearchTags { emails: vec!["a".into()], phones: vec!["1".into()], providers: vec!["g".into()] };
        assert_eq!(all.plan(), SearchPlan::default());
    }
}
