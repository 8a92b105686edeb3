//! The import plan: what importing one validated user writes, as plain data. Pure: ids come from
//! the validated user, time from the caller, password hashes from the caller (who hashed the
//! plain-text ones on the blocking pool beforehand).
//!
//! The rules (12.1.1's flag semantics on the seed's tables):
//! - a login method marked `isPrimary` becomes the primary user and every other method is linked
//!   to it; without one, every method is its own stand-alone recipe user;
//! - a linked group's `primary_or_recipe_user_time_joined` is the group's smallest time joined;
//! - metadata, roles and TOTP devices belong to the external id when given, else to the main
//!   method's id; the external id maps the main method's id;
//! - a verified method's email is marked verified for the id `GET /recipe/user/email/verify`
//!   looks up: the external id for the main method, else the method's own id.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::model::{BulkUser, LoginMethod, Password};
pub use super::tx::{AuthUserRow, ChunkRows, ExistingData, TotpDeviceRow};
use crate::metadata::{shallow_merge, to_stored};
use crate::totp::{pick_device_name, Device};
use crate::users::{self, RecipeId, ThirdPartyInfo, User};

/// The account info a login method brings, per recipe.
#[derive(Clone, PartialEq, Eq)]
pub enum Account {
    EmailPassword { email: String, password_hash: String },
    ThirdParty { email: String, third_party_id: String, third_party_user_id: String },
    Passwordless { email: Option<String>, phone_number: Option<String> },
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Account::EmailPassword { email, .. } => {
                f.debug_struct("EmailPassword").field("email", email).field("password_hash", &"<redacted>").finish()
            }
            Account::ThirdParty { email, third_party_id, third_party_user_id } => f
                .debug_struct("ThirdParty")
                .field("email", email)
                .field("third_party_id", third_party_id)
                .field("third_party_user_id", third_party_user_id)
                .finish(),
            Account::Passwordless { email, phone_number } => {
                f.debug_struct("Passwordless").field("email", email).field("phone_number", phone_number).finish()
            }
        }
    }
}

impl Account {
    pub fn email(&self) -> Option<&str> {
        match self {
            Account::EmailPassword { email, .. } | Account::ThirdParty { email, .. } => Some(email),
            Account::Passwordless { email, .. } => email.as_deref(),
        }
    }
}

/// One recipe user to write: `app_id_to_user_id`, `all_auth_recipe_users` per tenant, the
/// recipe's user row and its per-tenant rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedLoginMethod {
    pub recipe_user_id: String,
    pub recipe_id: RecipeId,
    pub primary_or_recipe_user_id: String,
    pub is_linked_or_primary: bool,
    pub tenant_ids: Vec<String>,
    pub time_joined: i64,
    pub primary_or_recipe_user_time_joined: i64,
    pub account: Account,
    pub is_verified: bool,
}

impl PlannedLoginMethod {
    /// The method as the account-linking rules see a stored one.
    pub fn to_login_method(&self) -> users::LoginMethod {
        let (phone_number, third_party) = match &self.account {
            Account::Passwordless { phone_number, .. } => (phone_number.clone(), None),
            Account::ThirdParty { third_party_id, third_party_user_id, .. } => {
                (None, Some(ThirdPartyInfo { id: third_party_id.clone(), user_id: third_party_user_id.clone() }))
            }
            Account::EmailPassword { .. } => (None, None),
        };
        users::LoginMethod {
            recipe_id: self.recipe_id,
            recipe_user_id: self.recipe_user_id.clone(),
            external_user_id: None,
            primary_user_id: self.primary_or_recipe_user_id.clone(),
            is_linked_or_primary: self.is_linked_or_primary,
            tenant_ids: self.tenant_ids.clone(),
            time_joined: self.time_joined,
            email: self.account.email().map(str::to_owned),
            phone_number,
            third_party,
            verified: self.is_verified,
            password_hash: None,
            webauthn_credential_ids: Vec::new(),
        }
    }
}

/// A TOTP device to write (always verified, as imported devices are).
#[derive(Clone, PartialEq, Eq)]
pub struct PlannedTotpDevice {
    pub name: String,
    /// False when the input had no name and the plan chose `TOTP Device <n>`: such a name is
    /// chosen again if a device that predates the import holds it ([`ChunkRows::build`]).
    pub named_by_input: bool,
    pub secret_key: String,
    pub period: i32,
    pub skew: i32,
    pub created_at: i64,
}

impl std::fmt::Debug for PlannedTotpDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlannedTotpDevice")
            .field("name", &self.name)
            .field("named_by_input", &self.named_by_input)
            .field("secret_key", &"<redacted>")
            .field("period", &self.period)
            .field("skew", &self.skew)
            .finish()
    }
}

/// Everything importing one user writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportPlan {
    /// The main method's id: the queue id and the imported user's id.
    pub user_id: String,
    /// Whom metadata, roles and TOTP devices belong to: the external id, else `user_id`.
    pub data_user_id: String,
    /// Mapped to `user_id` in `userid_mapping`.
    pub external_user_id: Option<String>,
    /// The primary user's id when a method is marked primary.
    pub primary_user_id: Option<String>,
    /// The primary method first (its row must exist before the rows linked to it), then the
    /// others in the user's order.
    pub login_methods: Vec<PlannedLoginMethod>,
    /// (user id, email) rows of `emailverification_verified_emails`.
    pub verified_emails: Vec<(String, String)>,
    pub totp_devices: Vec<PlannedTotpDevice>,
    /// Merged into an existing row (top-level keys; `null` removes a key).
    pub metadata: Option<Map<String, Value>>,
    /// (tenant id, role) rows of `user_roles`, once each.
    pub roles: Vec<(String, String)>,
}

/// Why a plan could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The caller did not hash this method's plain-text password.
    #[error("no password hash was given for the plain-text password of login method {0}")]
    MissingHash(String),
    #[error("the user has no login method")]
    NoLoginMethod,
    #[error("a login method of a recipe bulk import does not support")]
    UnknownRecipe,
}

/// The plain-text passwords to hash before planning: (login method id, password).
pub fn passwords_to_hash(user: &BulkUser) -> Vec<(&str, &str)> {
    user.login_methods
        .iter()
        .filter_map(|m| match m.password() {
            Some(Password::PlainText(p)) => Some((m.super_tokens_user_id.as_str(), p)),
            _ => None,
        })
        .collect()
}

impl ImportPlan {
    /// Plans the import of a validated user. `hashes` maps a login method id to the hash of its
    /// plain-text password ([`passwords_to_hash`]); imported hashes are used as they are.
    pub fn new(user: &BulkUser, hashes: &HashMap<String, String>, now_ms: i64) -> Result<ImportPlan, PlanError> {
        let main = user.main_login_method().ok_or(PlanError::NoLoginMethod)?;
        let primary = user.primary_login_method();
        let user_id = main.super_tokens_user_id.clone();
        let data_user_id = user.external_user_id.clone().unwrap_or_else(|| user_id.clone());
        let group_time = user.login_methods.iter().map(|m| m.time_joined).min().unwrap_or(main.time_joined);

        let mut ordered: Vec<&LoginMethod> = Vec::with_capacity(user.login_methods.len());
        ordered.extend(primary);
        ordered.extend(user.login_methods.iter().filter(|m| !m.is_primary));
        let mut login_methods = Vec::with_capacity(ordered.len());
        for m in ordered {
            let (owner, linked, owner_time) = match primary {
                Some(p) => (p.super_tokens_user_id.clone(), true, group_time),
                None => (m.super_tokens_user_id.clone(), false, m.time_joined),
            };
            login_methods.push(PlannedLoginMethod {
                recipe_user_id: m.super_tokens_user_id.clone(),
                recipe_id: m.recipe_id,
                primary_or_recipe_user_id: owner,
                is_linked_or_primary: linked,
                tenant_ids: m.tenant_ids.clone(),
                time_joined: m.time_joined,
                primary_or_recipe_user_time_joined: owner_time,
                account: account(m, hashes)?,
                is_verified: m.is_verified,
            });
        }

        let mut verified_emails: Vec<(String, String)> = Vec::new();
        for m in &user.login_methods {
            let Some(email) = m.email.as_ref().filter(|_| m.is_verified) else { continue };
            let id = match &user.external_user_id {
                Some(x) if m.super_tokens_user_id == user_id => x.clone(),
                _ => m.super_tokens_user_id.clone(),
            };
            let row = (id, email.clone());
            if !verified_emails.contains(&row) {
                verified_emails.push(row);
            }
        }

        let mut roles: Vec<(String, String)> = Vec::new();
        for r in user.user_roles.iter().flatten() {
            for t in &r.tenant_ids {
                let row = (t.clone(), r.role.clone());
                if !roles.contains(&row) {
                    roles.push(row);
                }
            }
        }

        Ok(ImportPlan {
            user_id,
            data_user_id,
            external_user_id: user.external_user_id.clone(),
            primary_user_id: primary.map(|p| p.super_tokens_user_id.clone()),
            login_methods,
            verified_emails,
            totp_devices: name_devices(user, now_ms),
            metadata: user.user_metadata.clone(),
            roles,
        })
    }

    /// Every recipe user id the plan creates.
    pub fn recipe_user_ids(&self) -> impl Iterator<Item = &str> {
        self.login_methods.iter().map(|m| m.recipe_user_id.as_str())
    }

    /// The linked group the plan creates, as the account-linking rules see a stored user; `None`
    /// without a primary method (the methods are then unlinked, and such users never conflict).
    pub fn primary_group(&self) -> Option<User> {
        let id = self.primary_user_id.clone()?;
        Some(User { id, is_primary: true, login_methods: self.login_methods.iter().map(PlannedLoginMethod::to_login_method).collect() })
    }
}

fn account(m: &LoginMethod, hashes: &HashMap<String, String>) -> Result<Account, PlanError> {
    let email = || m.email.clone().unwrap_or_default();
    Ok(match m.recipe_id {
        RecipeId::EmailPassword => {
            let password_hash = match m.password() {
                Some(Password::Hash(h)) => h.to_owned(),
                _ => hashes.get(&m.super_tokens_user_id).cloned().ok_or_else(|| PlanError::MissingHash(m.super_tokens_user_id.clone()))?,
            };
            Account::EmailPassword { email: email(), password_hash }
        }
        RecipeId::ThirdParty => Account::ThirdParty {
            email: email(),
            third_party_id: m.third_party_id.clone().unwrap_or_default(),
            third_party_user_id: m.third_party_user_id.clone().unwrap_or_default(),
        },
        RecipeId::Passwordless => Account::Passwordless { email: m.email.clone(), phone_number: m.phone_number.clone() },
        // Never validated nor stored (see `Validator::login_method`, `model::recipe_id_text`).
        RecipeId::WebAuthn => return Err(PlanError::UnknownRecipe),
    })
}

/// The user's devices with names: the given one, else `TOTP Device <n>` as `POST /recipe/totp/device`
/// picks it. Devices stored before the import (an external id may have some) are taken into
/// account when the rows are built ([`ChunkRows::build`]).
fn name_devices(user: &BulkUser, now_ms: i64) -> Vec<PlannedTotpDevice> {
    let devices = user.totp_devices.as_deref().unwrap_or_default();
    let names = device_names(devices.iter().map(|d| d.device_name.as_deref()), &[]);
    devices
        .iter()
        .zip(names)
        .map(|(d, (name, named_by_input))| PlannedTotpDevice {
            name,
            named_by_input,
            secret_key: d.secret_key.clone(),
            period: d.period,
            skew: d.skew,
            created_at: now_ms,
        })
        .collect()
}

/// Names for devices given with (`Some`) or without a name: a device without one gets the
/// first `TOTP Device <n>` (n from the number of devices) that neither a stored device nor a
/// device named by the input holds. Returns (name, named by the input).
fn device_names<'a>(requested: impl Iterator<Item = Option<&'a str>> + Clone, stored: &[Device]) -> Vec<(String, bool)> {
    let device = |name: &str| Device { name: name.to_owned(), secret_key: String::new(), period: 30, skew: 1, verified: true, created_at: 0 };
    let mut known: Vec<Device> = stored.to_vec();
    known.extend(requested.clone().flatten().map(device));
    requested
        .map(|r| match r {
            Some(name) => (name.to_owned(), true),
            None => {
                let name = pick_device_name(None, &known).map_or_else(|| format!("TOTP Device {}", known.len()), |(n, _)| n);
                known.push(device(&name));
                (name, false)
            }
        })
        .collect()
}






impl ChunkRows {
    /// The rows of `plans`, with metadata merged into what is stored and unnamed TOTP devices
    /// renamed past names that stored devices hold.
    pub fn build<'p>(plans: impl IntoIterator<Item = &'p ImportPlan>, existing: &ExistingData) -> ChunkRows {
        let mut rows = ChunkRows::default();
        let mut linked: Vec<&PlannedLoginMethod> = Vec::new();
        let mut merged_metadata: Vec<(String, Map<String, Value>)> = Vec::new();
        for plan in plans {
            // Primaries (and stand-alone users) before the methods linked to them.
            for m in &plan.login_methods {
                if m.is_linked_or_primary && m.primary_or_recipe_user_id != m.recipe_user_id {
                    linked.push(m);
                } else {
                    rows.push_login_method(m);
                }
            }
            if let Some(x) = &plan.external_user_id {
                rows.id_mappings.push((plan.user_id.clone(), x.clone()));
            }
            rows.verified_emails.extend(plan.verified_emails.iter().cloned());
            if !plan.totp_devices.is_empty() {
                rows.push_totp(plan, existing.totp_devices.get(&plan.data_user_id).map_or(&[], Vec::as_slice));
            }
            if let Some(update) = &plan.metadata {
                // Two plans of one chunk may share a data user id only when one of them will fail
                // (E031); merge in order anyway so the rows stay well-formed.
                match merged_metadata.iter_mut().find(|(id, _)| *id == plan.data_user_id) {
                    Some((_, m)) => shallow_merge(m, update),
                    None => {
                        let mut m = existing.metadata.get(&plan.data_user_id).cloned().unwrap_or_default();
                        shallow_merge(&mut m, update);
                        merged_metadata.push((plan.data_user_id.clone(), m));
                    }
                }
            }
            for (tenant, role) in &plan.roles {
                rows.user_roles.push((tenant.clone(), plan.data_user_id.clone(), role.clone()));
            }
        }
        for m in linked {
            rows.push_login_method(m);
        }
        rows.metadata = merged_metadata.into_iter().map(|(id, m)| (id, to_stored(&m))).collect();
        rows
    }

    fn push_login_method(&mut self, m: &PlannedLoginMethod) {
        let id = &m.recipe_user_id;
        self.app_users.push((id.clone(), m.recipe_id, m.primary_or_recipe_user_id.clone(), m.is_linked_or_primary));
        for t in &m.tenant_ids {
            self.auth_users.push(AuthUserRow {
                tenant_id: t.clone(),
                user_id: id.clone(),
                primary_or_recipe_user_id: m.primary_or_recipe_user_id.clone(),
                is_linked_or_primary: m.is_linked_or_primary,
                recipe_id: m.recipe_id,
                time_joined: m.time_joined,
                primary_or_recipe_user_time_joined: m.primary_or_recipe_user_time_joined,
            });
        }
        match &m.account {
            Account::EmailPassword { email, password_hash } => {
                self.ep_users.push((id.clone(), email.clone(), password_hash.clone(), m.time_joined));
                for t in &m.tenant_ids {
                    self.ep_tenants.push((t.clone(), id.clone(), email.clone()));
                }
            }
            Account::ThirdParty { email, third_party_id, third_party_user_id } => {
                self.tp_users.push((third_party_id.clone(), third_party_user_id.clone(), id.clone(), email.clone(), m.time_joined));
                for t in &m.tenant_ids {
                    self.tp_tenants.push((t.clone(), id.clone(), third_party_id.clone(), third_party_user_id.clone()));
                }
            }
            Account::Passwordless { email, phone_number } => {
                self.pl_users.push((id.clone(), email.clone(), phone_number.clone(), m.time_joined));
                for t in &m.tenant_ids {
                    self.pl_tenants.push((t.clone(), id.clone(), email.clone(), phone_number.clone()));
                }
            }
        }
    }

    fn push_totp(&mut self, plan: &ImportPlan, stored: &[Device]) {
        let uid = &plan.data_user_id;
        if !self.totp_users.contains(uid) {
            self.totp_users.push(uid.clone());
        }
        // Names the input gave replace stored devices of that name (the plugin's upsert); names
        // the plan chose are chosen again past the stored ones.
        let requested = plan.totp_devices.iter().map(|d| d.named_by_input.then_some(d.name.as_str()));
        for (d, (name, _)) in plan.totp_devices.iter().zip(device_names(requested, stored)) {
            self.totp_devices.retain(|r| !(r.user_id == *uid && r.device_name == name));
            self.totp_devices.push(TotpDeviceRow {
                user_id: uid.clone(),
                device_name: name,
                secret_key: d.secret_key.clone(),
                period: d.period,
                skew: d.skew,
                created_at: d.created_at,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulkimport::validate::{AppFacts, Ids, Validator};
    use serde_json::json;

    const NOW: i64 = 1_700_000_000_000;
    const BCRYPT_2A: &str = "$2a$10$X2oX3mWh8JfgPTKtkKmc9OQwUVQAulwkGgIjcsK8h3rojHVQTebV6";
    const BCRYPT_2B: &str = "$2b$10$X2oX3mWh8JfgPTKtkKmc9OQwUVQAulwkGgIjcsK8h3rojHVQTebV6";
    const ARGON2: &str = "$argon2id$v=19$m=16,t=2,p=1$V2hkNUdjQnAxTXZScGRjOQ$UxJn6d+dRB0hOe7FX/Qv+Q";
    const FIREBASE: &str = "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$m=14$r=8$s=Bw==";

    /// A validated user from JSON; login methods get ids m1, m2, … in order.
    fn user(v: Value) -> BulkUser {
        let facts = AppFacts {
            roles: ["admin", "viewer"].map(String::from).into(),
            tenant_pools: [("public", "db"), ("t1", "db")].map(|(t, p)| (t.to_owned(), p.to_owned())).into(),
            firebase_signer_key_set: true,
        };
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("m{n}")
        };
        Validator::new(&facts, NOW).validate(v.as_object().unwrap(), Ids::Generate(&mut next)).expect("valid test user")
    }

    fn plan(v: Value) -> ImportPlan {
        ImportPlan::new(&user(v), &HashMap::new(), NOW).unwrap()
    }

    fn ep(email: &str, hash: &str, alg: &str) -> Value {
        json!({"recipeId": "emailpassword", "email": email, "passwordHash": hash, "hashingAlgorithm": alg, "timeJoinedInMSSinceEpoch": 100})
    }

    #[test]
    fn imported_hashes_are_stored_as_given() {
        for (hash, alg) in [(BCRYPT_2A, "bcrypt"), (BCRYPT_2B, "BCRYPT"), (ARGON2, "argon2"), (FIREBASE, "firebase_scrypt")] {
            let p = plan(json!({"loginMethods": [ep("a@b.c", hash, alg)]}));
            assert_eq!(p.login_methods[0].account, Account::EmailPassword { email: "a@b.c".into(), password_hash: hash.into() });
            assert!(passwords_to_hash(&user(json!({"loginMethods": [ep("a@b.c", hash, alg)]}))).is_empty(), "imported hashes are never hashed again");
        }
    }

    #[test]
    fn plain_text_passwords_take_the_callers_hash() {
        let u = user(json!({"loginMethods": [{"recipeId": "emailpassword", "email": "a@b.c", "plainTextPassword": "pw1"}, {"recipeId": "emailpassword", "email": "x@b.c", "plainTextPassword": "pw2", "passwordHash": BCRYPT_2A, "hashingAlgorithm": "bcrypt"}]}));
        // Only the method without an imported hash needs hashing.
        assert_eq!(passwords_to_hash(&u), [("m1", "pw1")]);
        assert_eq!(ImportPlan::new(&u, &HashMap::new(), NOW), Err(PlanError::MissingHash("m1".into())));
        let hashes: HashMap<String, String> = [("m1".to_owned(), "$argon2id$new".to_owned())].into();
        let p = ImportPlan::new(&u, &hashes, NOW).unwrap();
        assert_eq!(p.login_methods[0].account, Account::EmailPassword { email: "a@b.c".into(), password_hash: "$argon2id$new".into() });
        assert_eq!(p.login_methods[1].account, Account::EmailPassword { email: "x@b.c".into(), password_hash: BCRYPT_2A.into() });
        assert!(!format!("{p:?}").contains("argon2id$new"), "hashes stay out of debug output");
    }

    #[test]
    fn single_methods_of_each_recipe() {
        let tp = plan(json!({"loginMethods": [{"recipeId": "thirdparty", "email": "A@b.c", "thirdPartyId": "google", "thirdPartyUserId": "g1", "tenantIds": ["public", "t1"], "timeJoinedInMSSinceEpoch": 7}]}));
        assert_eq!(tp.user_id, "m1");
        assert_eq!(tp.data_user_id, "m1");
        assert_eq!(tp.primary_user_id, None);
        let m = &tp.login_methods[0];
        assert_eq!((m.primary_or_recipe_user_id.as_str(), m.is_linked_or_primary, m.time_joined, m.primary_or_recipe_user_time_joined), ("m1", false, 7, 7));
        assert_eq!(m.account, Account::ThirdParty { email: "a@b.c".into(), third_party_id: "google".into(), third_party_user_id: "g1".into() });
        assert_eq!(m.tenant_ids, ["public", "t1"]);

        let pl_email = plan(json!({"loginMethods": [{"recipeId": "passwordless", "email": "p@q.r"}]}));
        assert_eq!(pl_email.login_methods[0].account, Account::Passwordless { email: Some("p@q.r".into()), phone_number: None });
        assert_eq!(pl_email.login_methods[0].time_joined, NOW);
        let pl_phone = plan(json!({"loginMethods": [{"recipeId": "passwordless", "phoneNumber": "+1 415 555 0100", "isVerified": true}]}));
        assert_eq!(pl_phone.login_methods[0].account, Account::Passwordless { email: None, phone_number: Some("+14155550100".into()) });
        assert!(pl_phone.verified_emails.is_empty(), "a verified method without an email marks nothing");
        let pl_both = plan(json!({"loginMethods": [{"recipeId": "passwordless", "phoneNumber": "+14155550100", "email": "p@q.r", "isVerified": true}]}));
        assert_eq!(pl_both.verified_emails, [("m1".to_owned(), "p@q.r".to_owned())]);
    }

    #[test]
    fn a_primary_method_links_the_others() {
        let p = plan(json!({"loginMethods": [
            {"recipeId": "passwordless", "phoneNumber": "+14155550100", "timeJoinedInMSSinceEpoch": 50},
            {"recipeId": "thirdparty", "email": "a@b.c", "thirdPartyId": "google", "thirdPartyUserId": "g", "timeJoinedInMSSinceEpoch": 20, "tenantIds": ["t1"]},
            {"recipeId": "emailpassword", "email": "a@b.c", "passwordHash": BCRYPT_2B, "hashingAlgorithm": "bcrypt", "isPrimary": true, "timeJoinedInMSSinceEpoch": 90}
        ]}));
        assert_eq!(p.user_id, "m3");
        assert_eq!(p.primary_user_id.as_deref(), Some("m3"));
        let ids: Vec<&str> = p.recipe_user_ids().collect();
        assert_eq!(ids, ["m3", "m1", "m2"], "the primary first");
        for m in &p.login_methods {
            assert_eq!(m.primary_or_recipe_user_id, "m3");
            assert!(m.is_linked_or_primary);
            assert_eq!(m.primary_or_recipe_user_time_joined, 20, "the group's earliest time");
        }
        assert_eq!(p.login_methods[0].time_joined, 90, "each keeps its own time joined");
        let group = p.primary_group().unwrap();
        assert!(group.is_primary);
        assert_eq!(group.id, "m3");
        assert_eq!(group.tenant_ids(), ["public", "t1"]);
        assert_eq!(group.login_methods[1].phone_number.as_deref(), Some("+14155550100"));
    }

    #[test]
    fn without_a_primary_every_method_stands_alone() {
        let p = plan(json!({"loginMethods": [
            ep("a@b.c", BCRYPT_2A, "bcrypt"),
            {"recipeId": "passwordless", "email": "a@b.c", "timeJoinedInMSSinceEpoch": 40, "isVerified": true}
        ]}));
        assert_eq!(p.user_id, "m2", "the oldest method names the user");
        assert_eq!(p.primary_user_id, None);
        assert!(p.primary_group().is_none());
        for m in &p.login_methods {
            assert_eq!(m.primary_or_recipe_user_id, m.recipe_user_id);
            assert!(!m.is_linked_or_primary);
            assert_eq!(m.primary_or_recipe_user_time_joined, m.time_joined);
        }
        let ids: Vec<&str> = p.recipe_user_ids().collect();
        assert_eq!(ids, ["m1", "m2"], "in the user's order");
    }

    #[test]
    fn external_ids_own_the_data_and_the_main_methods_verification() {
        let p = plan_with_hash(json!({
            "externalUserId": "auth0|123",
            "userMetadata": {"plan": "pro", "gone": null},
            "userRoles": [{"role": "admin", "tenantIds": ["public", "t1"]}, {"role": "viewer", "tenantIds": ["t1"]}, {"role": "admin", "tenantIds": ["public"]}],
            "totpDevices": [{"secretKey": "S1", "deviceName": "phone"}, {"secretKey": "S2"}, {"secretKey": "S3", "period": 60, "skew": 2}],
            "loginMethods": [
                {"recipeId": "emailpassword", "email": "a@b.c", "plainTextPassword": "x", "isVerified": true, "isPrimary": true, "tenantIds": ["public", "t1"]},
                {"recipeId": "thirdparty", "email": "b@b.c", "thirdPartyId": "github", "thirdPartyUserId": "9", "isVerified": true}
            ]
        }));
        assert_eq!(p.user_id, "m1");
        assert_eq!(p.data_user_id, "auth0|123");
        assert_eq!(p.external_user_id.as_deref(), Some("auth0|123"));
        assert_eq!(p.verified_emails, [("auth0|123".to_owned(), "a@b.c".to_owned()), ("m2".to_owned(), "b@b.c".to_owned())]);
        assert_eq!(
            p.roles,
            [("public".to_owned(), "admin".to_owned()), ("t1".to_owned(), "admin".to_owned()), ("t1".to_owned(), "viewer".to_owned())],
            "each (tenant, role) once"
        );
        let names: Vec<(&str, bool)> = p.totp_devices.iter().map(|d| (d.name.as_str(), d.named_by_input)).collect();
        assert_eq!(names, [("phone", true), ("TOTP Device 1", false), ("TOTP Device 2", false)], "numbered as POST /recipe/totp/device numbers them");
        assert_eq!((p.totp_devices[2].period, p.totp_devices[2].skew, p.totp_devices[2].created_at), (60, 2, NOW));
        assert_eq!(p.metadata, json!({"plan": "pro", "gone": null}).as_object().cloned());
        // An unnamed device never takes a name the input gives another device.
        let p = plan(json!({"totpDevices": [{"secretKey": "A"}, {"secretKey": "B", "deviceName": "TOTP Device 1"}], "loginMethods": [ep("a@b.c", BCRYPT_2A, "bcrypt")]}));
        let names: Vec<&str> = p.totp_devices.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["TOTP Device 2", "TOTP Device 1"]);
    }

    fn plan_with_hash(v: Value) -> ImportPlan {
        let u = user(v);
        let hashes: HashMap<String, String> = passwords_to_hash(&u).into_iter().map(|(id, _)| (id.to_owned(), "$2a$04$hashed".to_owned())).collect();
        ImportPlan::new(&u, &hashes, NOW).unwrap()
    }

    #[test]
    fn chunk_rows_put_primaries_first_and_merge_stored_data() {
        let linked = plan_with_hash(json!({
            "externalUserId": "ext",
            "userMetadata": {"a": 2, "old": null},
            "userRoles": [{"role": "admin", "tenantIds": ["public"]}],
            "totpDevices": [{"secretKey": "S1"}, {"secretKey": "S2", "deviceName": "TOTP Device 0"}],
            "loginMethods": [
                {"recipeId": "passwordless", "phoneNumber": "+14155550100", "tenantIds": ["public", "t1"], "timeJoinedInMSSinceEpoch": 10},
                {"recipeId": "emailpassword", "email": "a@b.c", "plainTextPassword": "x", "isPrimary": true, "isVerified": true, "timeJoinedInMSSinceEpoch": 30}
            ]
        }));
        let alone = plan(json!({"loginMethods": [{"recipeId": "thirdparty", "email": "t@b.c", "thirdPartyId": "google", "thirdPartyUserId": "g", "timeJoinedInMSSinceEpoch": 5}]}));
        let existing = ExistingData {
            metadata: [("ext".to_owned(), json!({"old": 1, "keep": true}).as_object().cloned().unwrap())].into(),
            totp_devices: [(
                "ext".to_owned(),
                vec![Device { name: "TOTP Device 1".into(), secret_key: "OLD".into(), period: 30, skew: 1, verified: true, created_at: 1 }],
            )]
            .into(),
        };
        let rows = ChunkRows::build([&linked, &alone], &existing);
        let app_users: Vec<(&str, &str, bool)> = rows.app_users.iter().map(|(u, _, p, l)| (u.as_str(), p.as_str(), *l)).collect();
        // Both chunk users' ids are m1, m2 (each validated alone); the linked method's row comes
        // after every primary and stand-alone row.
        assert_eq!(app_users, [("m2", "m2", true), ("m1", "m1", false), ("m1", "m2", true)]);
        assert_eq!(rows.auth_users.len(), 1 + 1 + 2, "one row per tenant of each method");
        assert!(rows.auth_users.iter().filter(|r| r.primary_or_recipe_user_id == "m2").all(|r| r.primary_or_recipe_user_time_joined == 10));
        assert_eq!(rows.ep_users, [("m2".to_owned(), "a@b.c".to_owned(), "$2a$04$hashed".to_owned(), 30)]);
        assert_eq!(rows.ep_tenants, [("public".to_owned(), "m2".to_owned(), "a@b.c".to_owned())]);
        assert_eq!(rows.pl_tenants.len(), 2);
        assert_eq!(rows.tp_users.len(), 1);
        assert_eq!(rows.id_mappings, [("m2".to_owned(), "ext".to_owned())]);
        assert_eq!(rows.verified_emails, [("ext".to_owned(), "a@b.c".to_owned())]);
        assert_eq!(rows.user_roles, [("public".to_owned(), "ext".to_owned(), "admin".to_owned())]);
        assert_eq!(rows.metadata, [("ext".to_owned(), r#"{"keep":true,"a":2}"#.to_owned())], "merged into the stored row, null removes");
        assert_eq!(rows.totp_users, ["ext"]);
        let devices: Vec<&str> = rows.totp_devices.iter().map(|d| d.device_name.as_str()).collect();
        // The unnamed device's name moves past the stored "TOTP Device 1" and the input's own
        // "TOTP Device 0".
        assert_eq!(devices, ["TOTP Device 2", "TOTP Device 0"]);
        assert_eq!(rows.totp_devices[0].secret_key, "S1");
        assert!(!format!("{rows:?}").contains("S1"), "secrets stay out of debug output");
    }
}
