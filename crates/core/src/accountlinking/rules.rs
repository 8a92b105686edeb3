//! Account linking's rules: when a recipe user may become a primary user, when it may be linked to
//! one, and when a linked user's new tenant, email or phone number would give two primary users the
//! same account info in a tenant.
//!
//! The rules are pure: a store loads the users involved and the "candidates" (every user, as a
//! whole linked group, that has one of the account infos concerned, anywhere in the app) inside
//! the transaction that holds its locks, asks these functions, then writes.

use crate::users::model::{LoginMethod, User};

/// Which piece of account info two users share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoKind {
    Email,
    PhoneNumber,
    ThirdParty,
}

impl InfoKind {
    /// The core's description in ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR.
    pub fn description(self) -> &'static str {
        match self {
            InfoKind::Email => "This user's email is already associated with another user ID",
            InfoKind::PhoneNumber => "This user's phone number is already associated with another user ID",
            InfoKind::ThirdParty => "This user's third party login is already associated with another user ID",
        }
    }

    /// The core's reason in ASSOCIATION_NOT_ALLOWED_ERROR.
    pub fn association_reason(self, primary_user_id: &str) -> String {
        let what = match self {
            InfoKind::Email => "email",
            InfoKind::PhoneNumber => "phone number",
            InfoKind::ThirdParty => "third party info",
        };
        format!("Another primary user with {what} already exists: {primary_user_id}")
    }
}

/// Why a linking operation was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkingError {
    UnknownUser,
    /// Link: the user given as primary is neither primary nor linked.
    NotAPrimaryUser,
    /// Make primary: the recipe user is already linked to this primary user.
    LinkedWithPrimary { primary_user_id: String },
    /// Link: the recipe user already belongs to another primary user (the whole group).
    LinkedWithAnotherPrimary { user: User },
    /// Another primary user has this account info in one of the tenants concerned.
    InfoTaken { primary_user_id: String, kind: InfoKind },
}

/// The account infos to look up candidates by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountValues {
    pub emails: Vec<String>,
    pub phone_numbers: Vec<String>,
    /// (third-party id, third-party user id)
    pub third_parties: Vec<(String, String)>,
}

impl AccountValues {
    pub fn of<'a>(methods: impl IntoIterator<Item = &'a LoginMethod>) -> AccountValues {
        let mut v = AccountValues::default();
        for m in methods {
            v.add(m.email.as_deref(), m.phone_number.as_deref());
            if let Some(tp) = &m.third_party {
                let pair = (tp.id.clone(), tp.user_id.clone());
                if !v.third_parties.contains(&pair) {
                    v.third_parties.push(pair);
                }
            }
        }
        v
    }

    pub fn add(&mut self, email: Option<&str>, phone_number: Option<&str>) {
        if let Some(e) = email.filter(|e| !self.emails.iter().any(|x| x == e)) {
            self.emails.push(e.to_owned());
        }
        if let Some(p) = phone_number.filter(|p| !self.phone_numbers.iter().any(|x| x == p)) {
            self.phone_numbers.push(p.to_owned());
        }
    }
}

/// Account info that a login method would carry: its own, or a changed email/phone number.
#[derive(Clone, Copy, Debug, Default)]
pub struct Info<'a> {
    pub email: Option<&'a str>,
    pub phone_number: Option<&'a str>,
    pub third_party: Option<(&'a str, &'a str)>,
}

impl<'a> Info<'a> {
    pub fn of(m: &'a LoginMethod) -> Info<'a> {
        Info {
            email: m.email.as_deref(),
            phone_number: m.phone_number.as_deref(),
            third_party: m.third_party.as_ref().map(|t| (t.id.as_str(), t.user_id.as_str())),
        }
    }
}

/// The first primary user among `candidates`, other than `except`, that is in one of `tenants`
/// and shares an email, a phone number or a third-party account with `info` (checked in that order
/// for each tenant, as the core does).
pub fn conflict(info: Info<'_>, tenants: &[String], candidates: &[User], except: Option<&str>) -> Option<(String, InfoKind)> {
    let others = || candidates.iter().filter(move |u| u.is_primary && Some(u.id.as_str()) != except);
    for tenant in tenants {
        let in_tenant = |u: &&User| u.tenant_ids().iter().any(|t| t == tenant);
        let has = |pred: &dyn Fn(&LoginMethod) -> bool| others().filter(in_tenant).find(|u| u.login_methods.iter().any(pred)).map(|u| u.id.clone());
        if let Some(email) = info.email {
            if let Some(id) = has(&|m| m.email.as_deref() == Some(email)) {
                return Some((id, InfoKind::Email));
            }
        }
        if let Some(phone) = info.phone_number {
            if let Some(id) = has(&|m| m.phone_number.as_deref() == Some(phone)) {
                return Some((id, InfoKind::PhoneNumber));
            }
        }
        if let Some((tp_id, tp_user)) = info.third_party {
            if let Some(id) = has(&|m| m.third_party.as_ref().is_some_and(|t| t.id == tp_id && t.user_id == tp_user)) {
                return Some((id, InfoKind::ThirdParty));
            }
        }
    }
    None
}

fn taken((primary_user_id, kind): (String, InfoKind)) -> LinkingError {
    LinkingError::InfoTaken { primary_user_id, kind }
}

/// May the recipe user `recipe_user_id` (whose group is `target`) become a primary user?
/// `Ok(true)` when it already is one.
pub fn check_create_primary(target: &User, recipe_user_id: &str, candidates: &[User]) -> Result<bool, LinkingError> {
    if target.is_primary {
        return if target.id == recipe_user_id {
            Ok(true)
        } else {
            Err(LinkingError::LinkedWithPrimary { primary_user_id: target.id.clone() })
        };
    }
    let method = target.login_method(recipe_user_id).ok_or(LinkingError::UnknownUser)?;
    match conflict(Info::of(method), &method.tenant_ids, candidates, None) {
        Some(c) => Err(taken(c)),
        None => Ok(false),
    }
}

/// May the recipe user's group `recipe` be linked to the primary user's group `primary`?
/// `Ok(true)` when they are already linked. Every tenant of either side is checked for each login
/// method of both, so that no tenant ends up with two primary users sharing account info.
pub fn check_link(recipe: &User, primary: &User, candidates: &[User]) -> Result<bool, LinkingError> {
    if !primary.is_primary {
        return Err(LinkingError::NotAPrimaryUser);
    }
    if recipe.is_primary {
        return if recipe.id == primary.id {
            Ok(true)
        } else {
            Err(LinkingError::LinkedWithAnotherPrimary { user: recipe.clone() })
        };
    }
    let mut tenants = recipe.tenant_ids();
    for t in primary.tenant_ids() {
        if !tenants.contains(&t) {
            tenants.push(t);
        }
    }
    for method in recipe.login_methods.iter().chain(&primary.login_methods) {
        if let Some(c) = conflict(Info::of(method), &tenants, candidates, Some(&primary.id)) {
            return Err(taken(c));
        }
    }
    Ok(false)
}

/// May `user` (a whole group) gain `tenant` without sharing account info there with another
/// primary user? Only primary groups are constrained.
pub fn check_association(user: &User, tenant: &str, candidates: &[User]) -> Result<(), (String, InfoKind)> {
    if !user.is_primary {
        return Ok(());
    }
    let tenants = [tenant.to_owned()];
    for method in &user.login_methods {
        if let Some(c) = conflict(Info::of(method), &tenants, candidates, Some(&user.id)) {
            return Err(c);
        }
    }
    Ok(())
}

/// May a login method of `user` take this new email or phone number? Only primary groups are
/// constrained: no other primary user in the group's tenants may have it.
pub fn check_info_change(user: &User, new: Info<'_>, candidates: &[User]) -> Result<(), (String, InfoKind)> {
    if !user.is_primary {
        return Ok(());
    }
    match conflict(new, &user.tenant_ids(), candidates, Some(&user.id)) {
        Some(c) => Err(c),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::model::{RecipeId, ThirdPartyInfo};

    fn method(id: &str, primary: &str, linked: bool, email: Option<&str>, tenants: &[&str]) -> LoginMethod {
        LoginMethod {
            recipe_id: RecipeId::EmailPassword,
            recipe_user_id: id.into(),
            external_user_id: None,
            primary_user_id: primary.into(),
            is_linked_or_primary: linked,
            tenant_ids: tenants.iter().map(|t| t.to_string()).collect(),
            time_joined: 1,
            email: email.map(str::to_owned),
            phone_number: None,
            third_party: None,
            verified: false,
            password_hash: None,
            webauthn_credential_ids: Vec::new(),
        }
    }

    fn single(id: &str, email: &str, tenants: &[&str], primary: bool) -> User {
        User { id: id.into(), is_primary: primary, login_methods: vec![method(id, id, primary, Some(email), tenants)] }
    }

    #[test]
    fn a_recipe_user_becomes_primary_unless_another_primary_has_its_email_in_its_tenants() {
        let u = single("u", "a@x.com", &["t1"], false);
        assert_eq!(check_create_primary(&u, "u", std::slice::from_ref(&u)), Ok(false));
        let other_tenant = single("p", "a@x.com", &["t2"], true);
        assert_eq!(check_create_primary(&u, "u", &[other_tenant]), Ok(false));
        let same_tenant = single("p", "a@x.com", &["t1", "t2"], true);
        assert_eq!(
            check_create_primary(&u, "u", &[same_tenant]),
            Err(LinkingError::InfoTaken { primary_user_id: "p".into(), kind: InfoKind::Email })
        );
        let not_primary = single("q", "a@x.com", &["t1"], false);
        assert_eq!(check_create_primary(&u, "u", &[not_primary]), Ok(false));
    }

    #[test]
    fn making_a_primary_or_linked_user_primary_says_so() {
        let p = single("p", "a@x.com", &["t1"], true);
        assert_eq!(check_create_primary(&p, "p", &[]), Ok(true));
        let group = User {
            id: "p".into(),
            is_primary: true,
            login_methods: vec![method("p", "p", true, Some("a@x.com"), &["t1"]), method("r", "p", true, Some("b@x.com"), &["t1"])],
        };
        assert_eq!(check_create_primary(&group, "r", &[]), Err(LinkingError::LinkedWithPrimary { primary_user_id: "p".into() }));
    }

    #[test]
    fn linking_checks_the_union_of_both_sides_tenants() {
        // The recipe user is in t2 only; a primary user in t2 has the primary's email.
        let p = single("p", "a@x.com", &["t1"], true);
        let r = single("r", "b@x.com", &["t2"], false);
        let rival = single("z", "a@x.com", &["t2"], true);
        assert_eq!(
            check_link(&r, &p, &[p.clone(), rival]),
            Err(LinkingError::InfoTaken { primary_user_id: "z".into(), kind: InfoKind::Email })
        );
        assert_eq!(check_link(&r, &p, std::slice::from_ref(&p)), Ok(false));
    }

    #[test]
    fn linking_refuses_non_primary_targets_and_already_linked_users() {
        let p = single("p", "a@x.com", &["t1"], true);
        let q = single("q", "c@x.com", &["t1"], false);
        let r = single("r", "b@x.com", &["t1"], false);
        assert_eq!(check_link(&r, &q, &[]), Err(LinkingError::NotAPrimaryUser));
        let other = single("o", "d@x.com", &["t1"], true);
        assert_eq!(check_link(&other, &p, &[]), Err(LinkingError::LinkedWithAnotherPrimary { user: other.clone() }));
        assert_eq!(check_link(&p, &p, &[]), Ok(true));
    }

    #[test]
    fn third_party_and_phone_conflicts_are_found() {
        let mut tp = method("t", "t", true, None, &["public"]);
        tp.third_party = Some(ThirdPartyInfo { id: "google".into(), user_id: "g1".into() });
        let rival = User { id: "t".into(), is_primary: true, login_methods: vec![tp] };
        let info = Info { third_party: Some(("google", "g1")), ..Default::default() };
        assert_eq!(conflict(info, &["public".into()], std::slice::from_ref(&rival), None), Some(("t".into(), InfoKind::ThirdParty)));
        assert_eq!(conflict(info, &["public".into()], &[rival], Some("t")), None);
    }

    #[test]
    fn association_and_changes_constrain_only_primary_users() {
        let p = single("p", "a@x.com", &["t1"], true);
        let rival = single("z", "a@x.com", &["t2"], true);
        assert_eq!(check_association(&p, "t2", std::slice::from_ref(&rival)), Err(("z".into(), InfoKind::Email)));
        assert_eq!(check_association(&single("r", "a@x.com", &["t1"], false), "t2", std::slice::from_ref(&rival)), Ok(()));
        let in_t2 = single("q", "q@x.com", &["t2"], true);
        assert_eq!(check_info_change(&in_t2, Info { email: Some("a@x.com"), ..Default::default() }, &[rival]), Err(("z".into(), InfoKind::Email)));
        assert_eq!(
            InfoKind::Email.association_reason("z"),
            "Another primary user with email already exists: z"
        );
    }
}
