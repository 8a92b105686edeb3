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

use std::collections::HashSet;

use super::errors::ImportError;
use super::plan::{Account, ExistingData, ImportPlan, PlannedLoginMethod};
use crate::accountlinking::{check_create_primary, check_link, AccountValues, LinkingError};
use crate::users::{RecipeId, User};

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

fn push_once<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
}

impl ChunkProbe {
    pub fn of<'p>(plans: impl IntoIterator<Item = &'p ImportPlan>) -> ChunkProbe {
        let mut p = ChunkProbe::default();
        for plan in plans {
            for m in &plan.login_methods {
                push_once(&mut p.user_ids, m.recipe_user_id.clone());
                for t in &m.tenant_ids {
                    for key in keys_in(m, t) {
                        match key {
                            Key::EpEmail(t, e) => push_once(&mut p.ep_emails, (t, e)),
                            Key::Tp(t, id, uid) => push_once(&mut p.tp_identities, (t, id, uid)),
                            Key::PlEmail(t, e) => push_once(&mut p.pl_emails, (t, e)),
                            Key::PlPhone(t, ph) => push_once(&mut p.pl_phones, (t, ph)),
                        }
                    }
                }
            }
            if plan.primary_user_id.is_some() {
                for m in &plan.login_methods {
                    let lm = m.to_login_method();
                    p.candidate_infos.add(lm.email.as_deref(), lm.phone_number.as_deref());
                    if let Some(tp) = lm.third_party {
                        push_once(&mut p.candidate_infos.third_parties, (tp.id, tp.user_id));
                    }
                }
            }
            if let Some(x) = &plan.external_user_id {
                push_once(&mut p.external_ids, x.clone());
                push_once(&mut p.user_ids, x.clone());
                push_once(&mut p.data_user_ids, x.clone());
            }
            for (_, role) in &plan.roles {
                push_once(&mut p.roles, role.clone());
            }
        }
        p
    }
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

/// What the chunk's users accepted so far hold.
#[derive(Default)]
struct Accepted {
    keys: HashSet<Key>,
    primaries: Vec<User>,
    external_ids: HashSet<String>,
    user_ids: HashSet<String>,
}

/// Decides on each user of a chunk, in order.
pub fn decide(plans: &[ImportPlan], facts: &ChunkFacts) -> Vec<Verdict> {
    let mut accepted = Accepted::default();
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
                    accepted.primaries.extend(plan.primary_group());
                    accepted.external_ids.extend(plan.external_user_id.clone());
                    accepted.user_ids.extend(plan.recipe_user_ids().map(str::to_owned));
                    Verdict::Import
                }
            }
        })
        .collect()
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
        let candidates: Vec<User> = facts.primary_candidates.iter().chain(&accepted.primaries).cloned().collect();
        linking(plan, primary_id, &candidates)?;
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
