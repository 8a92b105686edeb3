//! Which users of a chunk can be imported, decided from what the database holds (read set-based,
//! one query per kind, inside the chunk's transaction) and from the chunk's earlier users: the
//! chunk is taken in order (first queued, first served), and a later user that clashes with an
//! earlier one fails with the message it would get had the earlier one been imported already.
//!
//! Checks per user, in the core's order of writing: the user is not there yet (a re-claimed entry
//! whose import committed: count it as imported); per tenant, the email-password email (E003), the
//! third-party identity (E005), the passwordless email (E006) and phone number (E007) are free;
//! when a method is primary, no other primary user in the group's tenants holds the group's account
//! info (E022 for the primary method, E027 for a linked one); the external id is neither mapped
//! (E031) nor a user id (E030); the roles exist (E034).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::errors::ImportError;
use super::plan::{Account, ImportPlan, PlannedLoginMethod};
pub use super::tx::{ChunkFacts, ChunkProbe};
use crate::accountlinking::{check_create_primary, check_link, LinkingError};
use crate::users::{LoginMethod, RecipeId, User};


/// Adds `item` to `v` unless `seen` has it: each value once, in first-seen order, without a
/// quadratic scan (a chunk holds thousands of users).
fn push_once<T: Clone + Eq + std::hash::Hash>(v: &mut Vec<T>, seen: &mut HashSet<T>, item: T) {
    if seen.insert(item.clone()) {
        v.push(item);
    }
}

impl ChunkProbe {
    pub fn of<'p>(plans: impl IntoIterator<Item = &'p ImportPlan>) -> ChunkProbe {
        let mut p = ChunkProbe::default();
        let (mut ep, mut tp, mut pl_e, mut pl_p) = (HashSet::new(), HashSet::new(), HashSet::new(), HashSet::new());
        let (mut tps, mut xs, mut ids, mut roles, mut data) = (HashSet::new(), HashSet::new(), HashSet::new(), HashSet::new(), HashSet::new());
        let (mut emails, mut phones) = (HashSet::new(), HashSet::new());
        for plan in plans {
            for m in &plan.login_methods {
                push_once(&mut p.user_ids, &mut ids, m.recipe_user_id.clone());
                for t in &m.tenant_ids {
                    for key in keys_in(m, t) {
                        match key {
                            Key::EpEmail(t, e) => push_once(&mut p.ep_emails, &mut ep, (t, e)),
                            Key::Tp(t, id, uid) => push_once(&mut p.tp_identities, &mut tp, (t, id, uid)),
                            Key::PlEmail(t, e) => push_once(&mut p.pl_emails, &mut pl_e, (t, e)),
                            Key::PlPhone(t, ph) => push_once(&mut p.pl_phones, &mut pl_p, (t, ph)),
                        }
                    }
                }
            }
            if plan.primary_user_id.is_some() {
                for m in &plan.login_methods {
                    let lm = m.to_login_method();
                    if let Some(e) = lm.email {
                        push_once(&mut p.candidate_infos.emails, &mut emails, e);
                    }
                    if let Some(ph) = lm.phone_number {
                        push_once(&mut p.candidate_infos.phone_numbers, &mut phones, ph);
                    }
                    if let Some(tp) = lm.third_party {
                        push_once(&mut p.candidate_infos.third_parties, &mut tps, (tp.id, tp.user_id));
                    }
                }
            }
            if let Some(x) = &plan.external_user_id {
                push_once(&mut p.external_ids, &mut xs, x.clone());
                push_once(&mut p.user_ids, &mut ids, x.clone());
                push_once(&mut p.data_user_ids, &mut data, x.clone());
            }
            for (_, role) in &plan.roles {
                push_once(&mut p.roles, &mut roles, role.clone());
            }
        }
        p
    }
}


/// What happens to one user of a chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Import,
    /// Its user exists already: an earlier run imported it and died before removing the entry.
    AlreadyImported,
    Fail(ImportError),
}

/// One unique key of the per-tenant tables.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    EpEmail(String, String),
    Tp(String, String, String),
    PlEmail(String, String),
    PlPhone(String, String),
}

fn keys_in(m: &PlannedLoginMethod, tenant: &str) -> Vec<Key> {
    let t = || tenant.to_owned();
    match &m.account {
        Account::EmailPassword { email, .. } => vec![Key::EpEmail(t(), email.clone())],
        Account::ThirdParty { third_party_id, third_party_user_id, .. } => {
            vec![Key::Tp(t(), third_party_id.clone(), third_party_user_id.clone())]
        }
        Account::Passwordless { email, phone_number } => {
            let mut k = Vec::new();
            k.extend(email.iter().map(|e| Key::PlEmail(t(), e.clone())));
            k.extend(phone_number.iter().map(|p| Key::PlPhone(t(), p.clone())));
            k
        }
    }
}

impl ChunkFacts {
    fn holds(&self, key: &Key) -> bool {
        match key {
            Key::EpEmail(t, e) => self.ep_emails_taken.contains(&(t.clone(), e.clone())),
            Key::Tp(t, id, uid) => self.tp_identities_taken.contains(&(t.clone(), id.clone(), uid.clone())),
            Key::PlEmail(t, e) => self.pl_emails_taken.contains(&(t.clone(), e.clone())),
            Key::PlPhone(t, p) => self.pl_phones_taken.contains(&(t.clone(), p.clone())),
        }
    }
}

fn taken_error(key: Key) -> ImportError {
    match key {
        Key::EpEmail(_, email) => ImportError::EmailPasswordEmailTaken { email },
        Key::Tp(_, third_party_id, third_party_user_id) => ImportError::ThirdPartyTaken { third_party_id, third_party_user_id },
        Key::PlEmail(_, email) => ImportError::PasswordlessEmailTaken { email },
        Key::PlPhone(_, phone_number) => ImportError::PasswordlessPhoneTaken { phone_number },
    }
}

/// What the chunk's users accepted so far hold (`primaries` also holds the stored primary users
/// the chunk's account info reaches).
#[derive(Default)]
struct Accepted {
    keys: HashSet<Key>,
    primaries: Primaries,
    external_ids: HashSet<String>,
    user_ids: HashSet<String>,
}

/// Decides on each user of a chunk, in order.
pub fn decide(plans: &[ImportPlan], facts: &ChunkFacts) -> Vec<Verdict> {
    let mut accepted = Accepted::default();
    for u in &facts.primary_candidates {
        accepted.primaries.add(u.clone());
    }
    plans
        .iter()
        .map(|plan| {
            if facts.existing_user_ids.contains(&plan.user_id) {
                return Verdict::AlreadyImported;
            }
            match check(plan, facts, &accepted) {
                Err(e) => Verdict::Fail(e),
                Ok(keys) => {
                    accepted.keys.extend(keys);
                    if let Some(group) = plan.primary_group() {
                        accepted.primaries.add(group);
                    }
                    accepted.external_ids.extend(plan.external_user_id.clone());
                    accepted.user_ids.extend(plan.recipe_user_ids().map(str::to_owned));
                    Verdict::Import
                }
            }
        })
        .collect()
}

/// Account info a linking rule compares: two primary users conflict only when they share one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Info {
    Email(String),
    Phone(String),
    ThirdParty(String, String),
}

fn infos(m: &LoginMethod) -> impl Iterator<Item = Info> + '_ {
    let email = m.email.clone().map(Info::Email);
    let phone = m.phone_number.clone().map(Info::Phone);
    let tp = m.third_party.as_ref().map(|t| Info::ThirdParty(t.id.clone(), t.user_id.clone()));
    email.into_iter().chain(phone).chain(tp)
}

/// Primary users indexed by their account info. The linking rules only ever match a candidate that
/// shares an email, phone number or third-party identity with the user being checked, so each user
/// is checked against those few instead of every primary user of the chunk and the database
/// (cloned per user, that made a 4,000-user chunk of linked users take minutes of CPU).
#[derive(Default)]
struct Primaries {
    users: Vec<User>,
    by_info: HashMap<Info, Vec<usize>>,
}

impl Primaries {
    fn add(&mut self, user: User) {
        let at = self.users.len();
        let held: HashSet<Info> = user.login_methods.iter().flat_map(infos).collect();
        for info in held {
            self.by_info.entry(info).or_default().push(at);
        }
        self.users.push(user);
    }

    /// The primary users sharing any account info with `methods`, in the order they were added.
    fn sharing_info_with(&self, methods: &[LoginMethod]) -> Vec<User> {
        let at: BTreeSet<usize> = methods.iter().flat_map(infos).filter_map(|i| self.by_info.get(&i)).flatten().copied().collect();
        at.into_iter().map(|i| self.users[i].clone()).collect()
    }
}

/// The user's unique keys when it can be imported.
fn check(plan: &ImportPlan, facts: &ChunkFacts, accepted: &Accepted) -> Result<Vec<Key>, ImportError> {
    let taken_id = |id: &str| facts.existing_user_ids.contains(id) || accepted.user_ids.contains(id);
    if let Some(id) = plan.recipe_user_ids().find(|id| taken_id(id)) {
        return Err(ImportError::UserIdTaken { user_id: id.to_owned() });
    }

    // The per-tenant unique keys, recipe by recipe as the core writes them.
    let mut keys = Vec::new();
    for recipe in RecipeId::ALL {
        for m in plan.login_methods.iter().filter(|m| m.recipe_id == recipe) {
            for t in &m.tenant_ids {
                for key in keys_in(m, t) {
                    if facts.holds(&key) || accepted.keys.contains(&key) || keys.contains(&key) {
                        return Err(taken_error(key));
                    }
                    keys.push(key);
                }
            }
        }
    }

    if let Some(primary_id) = &plan.primary_user_id {
        let methods: Vec<LoginMethod> = plan.login_methods.iter().map(PlannedLoginMethod::to_login_method).collect();
        linking(plan, primary_id, &accepted.primaries.sharing_info_with(&methods))?;
    }

    if let Some(x) = &plan.external_user_id {
        if facts.mapped_external_ids.contains(x) || accepted.external_ids.contains(x) {
            return Err(ImportError::ExternalIdTaken { external_user_id: x.clone() });
        }
        if taken_id(x) {
            return Err(ImportError::ExternalIdIsUserId);
        }
    }

    if plan.roles.iter().any(|(_, role)| !facts.roles.contains(role)) {
        return Err(ImportError::UnknownRole);
    }
    Ok(keys)
}

/// The primary method becomes a primary user, then every other method is linked to it, with the
/// account-linking rules the linking APIs use.
fn linking(plan: &ImportPlan, primary_id: &str, candidates: &[User]) -> Result<(), ImportError> {
    let single = |m: &PlannedLoginMethod, is_primary: bool| User { id: m.recipe_user_id.clone(), is_primary, login_methods: vec![m.to_login_method()] };
    let Some(primary) = plan.login_methods.iter().find(|m| m.recipe_user_id == primary_id) else { return Ok(()) };
    if let Err(LinkingError::InfoTaken { .. }) = check_create_primary(&single(primary, false), primary_id, candidates) {
        return Err(ImportError::PrimaryInfoTaken { user_id: primary_id.to_owned() });
    }
    let mut group = single(primary, true);
    for m in plan.login_methods.iter().filter(|m| m.recipe_user_id != primary_id) {
        if let Err(LinkingError::InfoTaken { .. }) = check_link(&single(m, false), &group, candidates) {
            return Err(ImportError::LinkInfoTaken { recipe_user_id: m.recipe_user_id.clone(), primary_user_id: primary_id.to_owned() });
        }
        group.login_methods.push(m.to_login_method());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::bulkimport::validate::{AppFacts, Ids, Validator};
    use crate::users::{LoginMethod, ThirdPartyInfo};
    use serde_json::{json, Value};

    const BCRYPT: &str = "$2a$10$X2oX3mWh8JfgPTKtkKmc9OQwUVQAulwkGgIjcsK8h3rojHVQTebV6";

    /// Plans users validated from JSON; the n-th user's methods get ids u<n>-1, u<n>-2, …
    fn plans(users: &[Value]) -> Vec<ImportPlan> {
        let facts = AppFacts {
            roles: ["admin"].map(String::from).into(),
            tenant_pools: [("public", "db"), ("t1", "db")].map(|(t, p)| (t.to_owned(), p.to_owned())).into(),
            firebase_signer_key_set: true,
        };
        let mut v = Validator::new(&facts, 1000);
        users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let mut n = 0;
                let mut next = || {
                    n += 1;
                    format!("u{i}-{n}")
                };
                let user = v.validate(u.as_object().unwrap(), Ids::Generate(&mut next)).expect("valid test user");
                ImportPlan::new(&user, &HashMap::new(), 1000).unwrap()
            })
            .collect()
    }

    fn ep(email: &str) -> Value {
        json!({"recipeId": "emailpassword", "email": email, "passwordHash": BCRYPT, "hashingAlgorithm": "bcrypt"})
    }

    fn primary(mut m: Value) -> Value {
        m["isPrimary"] = json!(true);
        m
    }

    fn in_tenants(mut m: Value, tenants: &[&str]) -> Value {
        m["tenantIds"] = json!(tenants);
        m
    }

    fn one(methods: Value) -> Value {
        json!({ "loginMethods": methods })
    }

    /// An existing user (one login method) as the stores load candidates.
    fn stored(id: &str, is_primary: bool, email: Option<&str>, phone: Option<&str>, tenants: &[&str]) -> User {
        User {
            id: id.into(),
            is_primary,
            login_methods: vec![LoginMethod {
                recipe_id: RecipeId::Passwordless,
                recipe_user_id: id.into(),
                external_user_id: None,
                primary_user_id: id.into(),
                is_linked_or_primary: is_primary,
                tenant_ids: tenants.iter().map(|t| t.to_string()).collect(),
                time_joined: 1,
                email: email.map(str::to_owned),
                phone_number: phone.map(str::to_owned),
                third_party: None,
                verified: false,
                password_hash: None,
                webauthn_credential_ids: Vec::new(),
            }],
        }
    }

    fn facts() -> ChunkFacts {
        ChunkFacts { roles: ["admin"].map(String::from).into(), ..ChunkFacts::default() }
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    #[test]
    fn the_probe_asks_for_every_key_once() {
        let p = plans(&[
            json!({"externalUserId": "x1", "userRoles": [{"role": "admin", "tenantIds": ["public"]}], "loginMethods": [
                primary(in_tenants(ep("a@b.c"), &["public", "t1"])),
                {"recipeId": "passwordless", "email": "a@b.c", "phoneNumber": "+15550100"},
                {"recipeId": "thirdparty", "email": "a@b.c", "thirdPartyId": "google", "thirdPartyUserId": "g1"}
            ]}),
            one(json!([ep("a@b.c")])),
        ]);
        let probe = ChunkProbe::of(&p);
        assert_eq!(probe.ep_emails, [pair("public", "a@b.c"), pair("t1", "a@b.c")]);
        assert_eq!(probe.pl_emails, [pair("public", "a@b.c")]);
        assert_eq!(probe.pl_phones, [pair("public", "+15550100")]);
        assert_eq!(probe.tp_identities, [("public".to_owned(), "google".to_owned(), "g1".to_owned())]);
        // Only users that become primary need candidates.
        assert_eq!(probe.candidate_infos.emails, ["a@b.c"]);
        assert_eq!(probe.candidate_infos.phone_numbers, ["+15550100"]);
        assert_eq!(probe.candidate_infos.third_parties, [pair("google", "g1")]);
        assert_eq!(probe.external_ids, ["x1"]);
        assert_eq!(probe.data_user_ids, ["x1"]);
        assert_eq!(probe.user_ids, ["u0-1", "u0-2", "u0-3", "x1", "u1-1"]);
        assert_eq!(probe.roles, ["admin"]);
    }

    #[test]
    fn a_clean_chunk_imports_everyone() {
        let p = plans(&[one(json!([ep("a@b.c")])), one(json!([ep("b@b.c")])), one(json!([in_tenants(ep("a@b.c"), &["t1"])]))]);
        assert_eq!(decide(&p, &facts()), [Verdict::Import, Verdict::Import, Verdict::Import]);
    }

    #[test]
    fn users_already_there_are_counted_as_imported() {
        let p = plans(&[one(json!([ep("a@b.c")])), one(json!([ep("b@b.c")]))]);
        let mut f = facts();
        f.existing_user_ids.insert(p[0].user_id.clone());
        // Its keys in the database do not fail it: they are its own.
        f.ep_emails_taken.insert(pair("public", "a@b.c"));
        assert_eq!(decide(&p, &f), [Verdict::AlreadyImported, Verdict::Import]);
        // Another method's id taken (never with generated ids) fails the user.
        let p = plans(&[one(json!([ep("c@b.c"), ep("d@b.c")]))]);
        let mut f = facts();
        f.existing_user_ids.insert("u0-2".into());
        assert_eq!(decide(&p, &f), [Verdict::Fail(ImportError::UserIdTaken { user_id: "u0-2".into() })]);
    }

    #[test]
    fn per_tenant_keys_taken_in_the_database() {
        let p = plans(&[
            one(json!([ep("a@b.c")])),
            one(json!([{"recipeId": "thirdparty", "email": "a@b.c", "thirdPartyId": "google", "thirdPartyUserId": "g1"}])),
            one(json!([{"recipeId": "passwordless", "email": "p@b.c"}])),
            one(json!([{"recipeId": "passwordless", "phoneNumber": "+15550100"}])),
            one(json!([in_tenants(ep("t@b.c"), &["public", "t1"])])),
        ]);
        let mut f = facts();
        f.ep_emails_taken.insert(pair("public", "a@b.c"));
        f.tp_identities_taken.insert(("public".into(), "google".into(), "g1".into()));
        f.pl_emails_taken.insert(pair("public", "p@b.c"));
        f.pl_phones_taken.insert(pair("public", "+15550100"));
        f.ep_emails_taken.insert(pair("t1", "t@b.c"));
        assert_eq!(
            decide(&p, &f),
            [
                Verdict::Fail(ImportError::EmailPasswordEmailTaken { email: "a@b.c".into() }),
                Verdict::Fail(ImportError::ThirdPartyTaken { third_party_id: "google".into(), third_party_user_id: "g1".into() }),
                Verdict::Fail(ImportError::PasswordlessEmailTaken { email: "p@b.c".into() }),
                Verdict::Fail(ImportError::PasswordlessPhoneTaken { phone_number: "+15550100".into() }),
                Verdict::Fail(ImportError::EmailPasswordEmailTaken { email: "t@b.c".into() }),
            ]
        );
    }

    #[test]
    fn the_earlier_of_two_clashing_users_wins() {
        let p = plans(&[
            one(json!([ep("a@b.c")])),
            one(json!([ep("a@b.c")])),
            one(json!([in_tenants(ep("a@b.c"), &["t1"])])),
            one(json!([{"recipeId": "passwordless", "email": "a@b.c"}])),
        ]);
        assert_eq!(
            decide(&p, &facts()),
            [Verdict::Import, Verdict::Fail(ImportError::EmailPasswordEmailTaken { email: "a@b.c".into() }), Verdict::Import, Verdict::Import]
        );
        // A failed user takes nothing: the next user with its keys goes in.
        let p = plans(&[json!({"externalUserId": "x", "loginMethods": [ep("q@b.c")]}), one(json!([ep("q@b.c")]))]);
        let mut f = facts();
        f.mapped_external_ids.insert("x".into());
        assert_eq!(decide(&p, &f), [Verdict::Fail(ImportError::ExternalIdTaken { external_user_id: "x".into() }), Verdict::Import]);
        // Two queued users with one external id (uploaded in different requests): the later fails.
        let first = plans(&[json!({"externalUserId": "y", "loginMethods": [ep("r@b.c")]})]);
        let second = plans(&[json!({"externalUserId": "y", "loginMethods": [ep("s@b.c")]})]);
        let both: Vec<ImportPlan> = first.into_iter().chain(second.into_iter().map(|mut p| {
            p.user_id = "other".into();
            p.login_methods[0].recipe_user_id = "other".into();
            p
        })).collect();
        assert_eq!(decide(&both, &facts()), [Verdict::Import, Verdict::Fail(ImportError::ExternalIdTaken { external_user_id: "y".into() })]);
    }

    #[test]
    fn a_method_clashing_with_its_own_user_fails_it() {
        let p = plans(&[one(json!([ep("a@b.c"), ep("A@b.c")]))]);
        assert_eq!(decide(&p, &facts()), [Verdict::Fail(ImportError::EmailPasswordEmailTaken { email: "a@b.c".into() })]);
    }

    #[test]
    fn primary_users_may_not_share_account_info_in_a_tenant() {
        let p = plans(&[
            one(json!([primary(ep("a@b.c"))])),
            one(json!([primary(in_tenants(ep("b@b.c"), &["t1"]))])),
            one(json!([ep("c@b.c")])),
        ]);
        let mut f = facts();
        // An existing primary user with a@b.c in public; one with b@b.c only in public; a
        // non-primary one with c@b.c.
        f.primary_candidates = vec![
            stored("old1", true, Some("a@b.c"), None, &["public"]),
            stored("old2", true, Some("b@b.c"), None, &["public"]),
            stored("old3", false, Some("c@b.c"), None, &["public"]),
        ];
        assert_eq!(decide(&p, &f), [Verdict::Fail(ImportError::PrimaryInfoTaken { user_id: p[0].user_id.clone() }), Verdict::Import, Verdict::Import]);
    }

    #[test]
    fn existing_non_primary_users_with_the_same_email_do_not_block() {
        let p = plans(&[one(json!([primary(ep("a@b.c")), {"recipeId": "thirdparty", "email": "a@b.c", "thirdPartyId": "google", "thirdPartyUserId": "1"}]))]);
        let mut f = facts();
        f.primary_candidates = vec![stored("old", false, Some("a@b.c"), None, &["public"])];
        assert_eq!(decide(&p, &f), [Verdict::Import]);
    }

    #[test]
    fn a_linked_method_clashing_in_the_groups_tenants_fails_with_e027() {
        // The core's shouldFailLinkingBulkMigratedAccountsOnTwoTenants: the linked method lives in
        // t1 only, but the group spans public, where a primary user with its email exists.
        let p = plans(&[one(json!([
            primary(ep("a@b.c")),
            in_tenants(json!({"recipeId": "passwordless", "email": "b@b.c"}), &["t1"])
        ]))]);
        let mut f = facts();
        f.primary_candidates = vec![stored("old", true, Some("b@b.c"), None, &["public"])];
        assert_eq!(
            decide(&p, &f),
            [Verdict::Fail(ImportError::LinkInfoTaken { recipe_user_id: "u0-2".into(), primary_user_id: "u0-1".into() })]
        );
        // A phone number and a third-party identity count as well.
        let p = plans(&[one(json!([
            primary(ep("z@b.c")),
            {"recipeId": "thirdparty", "email": "y@b.c", "thirdPartyId": "google", "thirdPartyUserId": "g9"}
        ]))]);
        let mut other = stored("old", true, None, Some("+1555"), &["public"]);
        other.login_methods[0].third_party = Some(ThirdPartyInfo { id: "google".into(), user_id: "g9".into() });
        let mut f = facts();
        f.primary_candidates = vec![other];
        assert_eq!(
            decide(&p, &f),
            [Verdict::Fail(ImportError::LinkInfoTaken { recipe_user_id: "u0-2".into(), primary_user_id: "u0-1".into() })]
        );
    }

    #[test]
    fn primaries_earlier_in_the_chunk_are_candidates_too() {
        let p = plans(&[
            one(json!([primary(ep("a@b.c")), {"recipeId": "passwordless", "phoneNumber": "+1555"}])),
            // Another primary with the first one's phone number in public.
            one(json!([primary(ep("b@b.c")), {"recipeId": "passwordless", "phoneNumber": "+1555", "tenantIds": ["t1"]}])),
            // Not primary: may share it.
            one(json!([{"recipeId": "thirdparty", "email": "a@b.c", "thirdPartyId": "github", "thirdPartyUserId": "7"}])),
        ]);
        assert_eq!(
            decide(&p, &facts()),
            [
                Verdict::Import,
                Verdict::Fail(ImportError::LinkInfoTaken { recipe_user_id: "u1-2".into(), primary_user_id: "u1-1".into() }),
                Verdict::Import
            ]
        );
    }

    #[test]
    fn a_chunk_of_thousands_of_linked_users_checks_each_against_the_primaries_sharing_its_info() {
        // The stress suite's shape: each user a primary email-password method with a linked
        // passwordless phone. The last shares the first's phone; one stored primary holds
        // user 1's email. Checked against every primary, each user cloned the whole list (minutes
        // of CPU at 4,000 users); now only the primaries sharing its info are looked at.
        let n = 4000;
        let mut users: Vec<Value> =
            (0..n).map(|i| one(json!([primary(ep(&format!("u{i}@b.c"))), {"recipeId": "passwordless", "phoneNumber": format!("+1555{i:07}")}]))).collect();
        // In t1 (free there), linked to a primary in public, where user 0 holds the phone: E027.
        users.push(one(json!([primary(ep("last@b.c")), in_tenants(json!({"recipeId": "passwordless", "phoneNumber": "+15550000000"}), &["t1"])])));
        let p = plans(&users);
        let mut f = facts();
        f.primary_candidates = vec![stored("old", true, Some("u1@b.c"), None, &["public"])];
        let verdicts = decide(&p, &f);
        assert_eq!(verdicts[0], Verdict::Import);
        assert_eq!(verdicts[1], Verdict::Fail(ImportError::PrimaryInfoTaken { user_id: p[1].user_id.clone() }));
        assert!(verdicts[2..n].iter().all(|v| *v == Verdict::Import));
        assert_eq!(verdicts[n], Verdict::Fail(ImportError::LinkInfoTaken { recipe_user_id: format!("u{n}-2"), primary_user_id: format!("u{n}-1") }));
    }

    #[test]
    fn external_ids_and_roles() {
        let p = plans(&[
            json!({"externalUserId": "mapped", "loginMethods": [ep("a@b.c")]}),
            json!({"externalUserId": "is-a-user", "loginMethods": [ep("b@b.c")]}),
            json!({"externalUserId": "fresh", "loginMethods": [ep("c@b.c")]}),
            json!({"userRoles": [{"role": "admin", "tenantIds": ["public"]}], "loginMethods": [ep("d@b.c")]}),
        ]);
        let mut f = facts();
        f.mapped_external_ids.insert("mapped".into());
        f.existing_user_ids.insert("is-a-user".into());
        f.roles.clear();
        assert_eq!(
            decide(&p, &f),
            [
                Verdict::Fail(ImportError::ExternalIdTaken { external_user_id: "mapped".into() }),
                Verdict::Fail(ImportError::ExternalIdIsUserId),
                Verdict::Import,
                Verdict::Fail(ImportError::UnknownRole),
            ]
        );
        // A taken email is reported before a taken external id, as the core writes in that order.
        let p = plans(&[json!({"externalUserId": "mapped", "loginMethods": [ep("a@b.c")]})]);
        let mut f = facts();
        f.mapped_external_ids.insert("mapped".into());
        f.ep_emails_taken.insert(pair("public", "a@b.c"));
        assert_eq!(decide(&p, &f), [Verdict::Fail(ImportError::EmailPasswordEmailTaken { email: "a@b.c".into() })]);
    }
}
