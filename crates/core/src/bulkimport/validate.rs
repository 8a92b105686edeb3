//! Validation and normalisation of one bulk-import user, exactly as the core does it
//! (`BulkImportUserUtils.createBulkImportUserFromJSON`): the same checks in the same order with the
//! same messages, so that a bad batch answers with the core's error list.
//!
//! Deliberate differences, each on input where the core answers 500 or stores something unusable:
//! - a role object without `role` reports `role is required for a user role.` (the core throws);
//! - a Firebase scrypt hash while `firebase_password_hashing_signer_key` is unset is a per-user
//!   error with the core's exception text (the core fails the whole request);
//! - a `passwordHash` given without `hashingAlgorithm` (next to a `plainTextPassword`) is checked
//!   with the format auto-detected (the core stores it unchecked), and trimmed;
//! - duplicate tenant ids of a login method or role are kept once (the core's import would fail
//!   on a primary key);
//! - the `has no tenantId` message prints the login method without its `plainTextPassword`.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::fields::{self, java_len, Object};
use super::model::{main_of, BulkUser, LoginMethod, TotpDevice, UserRole};
use crate::crypto::password::{check_imported, trim_imported, Algorithm, MISSING_SIGNER_KEY_MESSAGE};
use crate::ids::PUBLIC;
use crate::passwordless::codes::normalise_phone_number;
use crate::input::java_trim;
use crate::users::{normalise_email, RecipeId};

/// What validation needs to know about the app, read once per request (or worker chunk).
#[derive(Clone, Debug, Default)]
pub struct AppFacts {
    /// Every role of the app.
    pub roles: HashSet<String>,
    /// Every tenant of the app (public included), with an opaque key naming the database ("user
    /// pool") its users live in: tenants with equal keys share one.
    pub tenant_pools: HashMap<String, String>,
    /// Whether the app's `firebase_password_hashing_signer_key` is set.
    pub firebase_signer_key_set: bool,
}

impl AppFacts {
    fn pool(&self, tenant: &str) -> &str {
        self.tenant_pools.get(tenant).map_or("", String::as_str)
    }
}

/// Where login methods' SuperTokens user ids come from.
pub enum Ids<'g> {
    /// Fresh ids (POST and `/bulk-import/import`).
    Generate(&'g mut dyn FnMut() -> String),
    /// The stored `superTokensUserId` of each method (the worker, re-validating a queued user).
    ReadStored,
}

/// Validates the users of one request (or one worker chunk) in order. It remembers the external
/// ids seen, so that a later user repeating one is invalid.
pub struct Validator<'a> {
    facts: &'a AppFacts,
    now_ms: i64,
    external_ids: HashSet<String>,
}

/// A login method as parsed, before it is known to be valid.
struct Draft {
    tenant_ids: Vec<String>,
    is_verified: bool,
    is_primary: bool,
    time_joined: i64,
    recipe_id: RecipeId,
    email: Option<String>,
    password_hash: Option<String>,
    hashing_algorithm: Option<String>,
    plain_text_password: Option<String>,
    third_party_id: Option<String>,
    third_party_user_id: Option<String>,
    phone_number: Option<String>,
    super_tokens_user_id: Option<String>,
}

impl Draft {
    fn into_login_method(self) -> Option<LoginMethod> {
        Some(LoginMethod {
            tenant_ids: self.tenant_ids,
            is_verified: self.is_verified,
            is_primary: self.is_primary,
            time_joined: self.time_joined,
            recipe_id: self.recipe_id,
            email: self.email,
            password_hash: self.password_hash,
            hashing_algorithm: self.hashing_algorithm,
            plain_text_password: self.plain_text_password,
            third_party_id: self.third_party_id,
            third_party_user_id: self.third_party_user_id,
            phone_number: self.phone_number,
            super_tokens_user_id: self.super_tokens_user_id?,
        })
    }

    /// The method as the `has no tenantId` message prints it (the stored field order, nulls left
    /// out, the plain-text password never).
    fn describe(&self) -> String {
        let mut o = Map::new();
        o.insert("tenantIds".into(), Value::from(self.tenant_ids.clone()));
        o.insert("isVerified".into(), Value::Bool(self.is_verified));
        o.insert("isPrimary".into(), Value::Bool(self.is_primary));
        o.insert("timeJoinedInMSSinceEpoch".into(), Value::from(self.time_joined));
        o.insert("recipeId".into(), Value::from(self.recipe_id.as_str()));
        let optional = [
            ("email", &self.email),
            ("passwordHash", &self.password_hash),
            ("hashingAlgorithm", &self.hashing_algorithm),
            ("thirdPartyId", &self.third_party_id),
            ("thirdPartyUserId", &self.third_party_user_id),
            ("phoneNumber", &self.phone_number),
            ("superTokensUserId", &self.super_tokens_user_id),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                o.insert(key.into(), Value::from(v.as_str()));
            }
        }
        Value::Object(o).to_string()
    }
}

/// The name `hashingAlgorithm` is stored under (the core's enum constant).
fn stored_algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Bcrypt => "BCRYPT",
        Algorithm::Argon2 => "ARGON2",
        Algorithm::FirebaseScrypt => "FIREBASE_SCRYPT",
    }
}

const LOGIN_METHOD: &str = " for a loginMethod.";
/// The core writes no period after these two keys' messages.
const LOGIN_METHOD_NO_PERIOD: &str = " for a loginMethod";
const USER_ROLE: &str = " for a user role.";
const TOTP_DEVICE: &str = " for a totp device.";

impl<'a> Validator<'a> {
    pub fn new(facts: &'a AppFacts, now_ms: i64) -> Validator<'a> {
        Validator { facts, now_ms, external_ids: HashSet::new() }
    }

    /// Validates and normalises one user. `Err` carries every message, in the core's order.
    pub fn validate(&mut self, user: &Object, mut ids: Ids<'_>) -> Result<BulkUser, Vec<String>> {
        let mut errors = Vec::new();
        let external = fields::string(user, "externalUserId", false, ".", &mut errors);
        let metadata = fields::object(user, "userMetadata", false, ".", &mut errors);
        let roles = self.roles(user, &mut errors);
        let totp_devices = self.totp_devices(user, &mut errors);
        let drafts = self.login_methods(user, &mut ids, &mut errors);
        let external = self.external_user_id(external, &mut errors);
        self.cross_checks(roles.as_deref(), &drafts, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let login_methods: Option<Vec<LoginMethod>> = drafts.into_iter().map(Draft::into_login_method).collect();
        let login_methods = login_methods.ok_or_else(|| vec!["superTokensUserId is required for a loginMethod".to_owned()])?;
        let main = main_of(&login_methods, |m| m.is_primary, |m| m.time_joined);
        let id = main.map(|m| m.super_tokens_user_id.clone()).ok_or_else(|| vec!["At least one loginMethod is required.".to_owned()])?;
        Ok(BulkUser { id, external_user_id: external, user_metadata: metadata.cloned(), user_roles: roles, totp_devices, login_methods })
    }

    fn roles(&self, user: &Object, errors: &mut Vec<String>) -> Option<Vec<UserRole>> {
        let items = fields::objects(user, "userRoles", false, ".", errors)?;
        let mut roles = Vec::with_capacity(items.len());
        for item in items {
            let role = fields::string(item, "role", true, USER_ROLE, errors);
            let tenants = fields::strings(item, "tenantIds", true, USER_ROLE, errors);
            let role = role.map(|raw| {
                if java_len(raw) > 255 {
                    errors.push(format!("role {raw} is too long. Max length is 255."));
                }
                let trimmed = java_trim(raw);
                if !self.facts.roles.contains(trimmed) {
                    errors.push(format!("Role {trimmed} does not exist."));
                }
                trimmed.to_owned()
            });
            let tenant_ids = self.tenant_ids(tenants, USER_ROLE, errors);
            if let Some(role) = role {
                roles.push(UserRole { role, tenant_ids });
            }
        }
        Some(roles)
    }

    fn totp_devices(&self, user: &Object, errors: &mut Vec<String>) -> Option<Vec<TotpDevice>> {
        let items = fields::objects(user, "totpDevices", false, ".", errors)?;
        let mut devices = Vec::with_capacity(items.len());
        for item in items {
            let secret = fields::string(item, "secretKey", true, TOTP_DEVICE, errors);
            let period = fields::int(item, "period", false, TOTP_DEVICE, errors);
            let skew = fields::int(item, "skew", false, TOTP_DEVICE, errors);
            let name = fields::string(item, "deviceName", false, TOTP_DEVICE, errors);
            if let Some(s) = secret.filter(|s| java_len(s) > 256) {
                errors.push(format!("TOTP secretKey {s} is too long. Max length is 256."));
            }
            // A missing (or mistyped) period or skew takes its default, as in the core.
            let period = match period {
                None => Some(30),
                Some(p) if p < 1 => {
                    errors.push("period should be > 0 for a totp device.".into());
                    None
                }
                p => p,
            };
            let skew = match skew {
                None => Some(1),
                Some(s) if s < 0 => {
                    errors.push("skew should be >= 0 for a totp device.".into());
                    None
                }
                s => s,
            };
            let name = name.map(|n| {
                if java_len(n) > 256 {
                    errors.push(format!("TOTP deviceName {n} is too long. Max length is 256."));
                }
                java_trim(n).to_owned()
            });
            if let (Some(secret), Some(period), Some(skew)) = (secret, period, skew) {
                devices.push(TotpDevice { secret_key: secret.to_owned(), period, skew, device_name: name });
            }
        }
        Some(devices)
    }

    fn login_methods(&self, user: &Object, ids: &mut Ids<'_>, errors: &mut Vec<String>) -> Vec<Draft> {
        let Some(items) = fields::objects(user, "loginMethods", true, ".", errors) else { return Vec::new() };
        if items.is_empty() {
            errors.push("At least one loginMethod is required.".into());
            return Vec::new();
        }
        let mut seen_primary = false;
        for item in &items {
            if fields::is_true(item, "isPrimary") {
                if seen_primary {
                    errors.push("No two loginMethods can have isPrimary as true.".into());
                }
                seen_primary = true;
            }
        }
        let mut drafts = Vec::with_capacity(items.len());
        for item in items {
            if let Some(d) = self.login_method(item, ids, errors) {
                drafts.push(d);
            }
        }
        drafts
    }

    /// One login method; `None` when its recipe id is missing or unknown (the core then keeps no
    /// method for it).
    fn login_method(&self, item: &Object, ids: &mut Ids<'_>, errors: &mut Vec<String>) -> Option<Draft> {
        let recipe = fields::string(item, "recipeId", true, LOGIN_METHOD, errors);
        let tenants = fields::strings(item, "tenantIds", false, LOGIN_METHOD, errors);
        let is_verified = fields::boolean(item, "isVerified", false, LOGIN_METHOD, errors);
        let is_primary = fields::boolean(item, "isPrimary", false, LOGIN_METHOD, errors);
        let time_joined = fields::long(item, "timeJoinedInMSSinceEpoch", false, LOGIN_METHOD_NO_PERIOD, errors);
        // The core imports these three recipes only (a WebAuthn method is an invalid recipeId).
        let recipe_id = recipe.and_then(RecipeId::parse).filter(|r| *r != RecipeId::WebAuthn);
        if recipe.is_some() && recipe_id.is_none() {
            errors.push("Invalid recipeId for loginMethod. Pass one of emailpassword, thirdparty or, passwordless!".into());
        }
        let tenant_ids = self.tenant_ids(tenants, &format!(" for {} recipe.", recipe.unwrap_or("null")), errors);
        let time_joined = match time_joined {
            None => self.now_ms,
            Some(t) => {
                if t > self.now_ms {
                    errors.push("timeJoined cannot be in future for a loginMethod.".into());
                }
                if t < 0 {
                    errors.push("timeJoined cannot be < 0 for a loginMethod.".into());
                }
                t
            }
        };
        let super_tokens_user_id = match ids {
            Ids::Generate(next) => Some(next()),
            Ids::ReadStored => fields::string(item, "superTokensUserId", true, LOGIN_METHOD_NO_PERIOD, errors).map(str::to_owned),
        };
        let mut draft = Draft {
            tenant_ids,
            is_verified: is_verified.unwrap_or(false),
            is_primary: is_primary.unwrap_or(false),
            time_joined,
            recipe_id: recipe_id?,
            email: None,
            password_hash: None,
            hashing_algorithm: None,
            plain_text_password: None,
            third_party_id: None,
            third_party_user_id: None,
            phone_number: None,
            super_tokens_user_id,
        };
        match draft.recipe_id {
            RecipeId::EmailPassword => self.email_password(item, &mut draft, errors),
            RecipeId::ThirdParty => self.third_party(item, &mut draft, errors),
            RecipeId::Passwordless => self.passwordless(item, &mut draft, errors),
            RecipeId::WebAuthn => {}
        }
        Some(draft)
    }

    fn email_password(&self, item: &Object, d: &mut Draft, errors: &mut Vec<String>) {
        const S: &str = " for an emailpassword recipe.";
        let email = fields::string(item, "email", true, S, errors);
        let hash = fields::string(item, "passwordHash", false, S, errors);
        let algorithm = fields::string(item, "hashingAlgorithm", false, S, errors);
        let plain = fields::string(item, "plainTextPassword", false, S, errors);
        if (hash.is_none() || algorithm.is_none()) && plain.is_none() {
            errors.push("Either (passwordHash, hashingAlgorithm) or plainTextPassword is required for an emailpassword recipe.".into());
        }
        d.email = email_checked(email, errors);
        let parsed = algorithm.map(Algorithm::from_name);
        if parsed == Some(None) {
            errors.push("Invalid hashingAlgorithm for emailpassword recipe. Pass one of bcrypt, argon2 or, firebase_scrypt!".into());
        }
        d.hashing_algorithm = match parsed {
            Some(Some(a)) => Some(stored_algorithm_name(a).to_owned()),
            _ => algorithm.map(str::to_owned),
        };
        d.password_hash = match (hash, parsed) {
            (Some(h), Some(Some(a))) => Some(self.imported_hash(h, Some(a), errors)),
            (Some(h), None) if plain.is_some() => Some(self.imported_hash(h, None, errors)),
            (h, _) => h.map(str::to_owned),
        };
        d.plain_text_password = plain.map(str::to_owned);
    }

    /// The length and format checks of an imported hash; returns it trimmed, as stored.
    fn imported_hash(&self, hash: &str, algorithm: Option<Algorithm>, errors: &mut Vec<String>) -> String {
        if java_len(hash) > 256 {
            errors.push("passwordHash is too long. Max length is 256.".into());
        }
        let trimmed = trim_imported(hash);
        let invalid = match algorithm {
            None => "Password hash is in invalid format",
            Some(Algorithm::Bcrypt) => "Password hash is in invalid BCrypt format",
            Some(Algorithm::Argon2) => "Password hash is in invalid Argon2 format",
            Some(Algorithm::FirebaseScrypt) => "Password hash is in invalid Firebase SCrypt format",
        };
        // The core asks for the signer key before it parses a Firebase hash.
        if algorithm == Some(Algorithm::FirebaseScrypt) && !self.facts.firebase_signer_key_set {
            errors.push(MISSING_SIGNER_KEY_MESSAGE.into());
            return trimmed.to_owned();
        }
        match check_imported(trimmed, algorithm.map(Algorithm::name)) {
            // A hash of only characters Java's trim removes is, to the core, in the wrong format.
            _ if trimmed.is_empty() => errors.push(invalid.into()),
            Ok(Algorithm::FirebaseScrypt) if !self.facts.firebase_signer_key_set => errors.push(MISSING_SIGNER_KEY_MESSAGE.into()),
            Ok(_) => {}
            Err(message) => errors.push(message),
        }
        trimmed.to_owned()
    }

    fn third_party(&self, item: &Object, d: &mut Draft, errors: &mut Vec<String>) {
        const S: &str = " for a thirdparty recipe.";
        let email = fields::string(item, "email", true, S, errors);
        let id = fields::string(item, "thirdPartyId", true, S, errors);
        let user_id = fields::string(item, "thirdPartyUserId", true, S, errors);
        d.email = email_checked(email, errors);
        if let Some(id) = id.filter(|v| java_len(v) > 28) {
            errors.push(format!("thirdPartyId {id} is too long. Max length is 28."));
        }
        if let Some(u) = user_id.filter(|v| java_len(v) > 256) {
            errors.push(format!("thirdPartyUserId {u} is too long. Max length is 256."));
        }
        d.third_party_id = id.map(str::to_owned);
        d.third_party_user_id = user_id.map(str::to_owned);
    }

    fn passwordless(&self, item: &Object, d: &mut Draft, errors: &mut Vec<String>) {
        const S: &str = " for a passwordless recipe.";
        let email = fields::string(item, "email", false, S, errors);
        let phone = fields::string(item, "phoneNumber", false, S, errors);
        d.email = email_checked(email, errors);
        d.phone_number = phone.map(|p| {
            if java_len(p) > 256 {
                errors.push(format!("phoneNumber {p} is too long. Max length is 256."));
            }
            normalise_phone_number(p)
        });
        if d.email.is_none() && d.phone_number.is_none() {
            errors.push("Either email or phoneNumber is required for a passwordless recipe.".into());
        }
    }

    /// Missing means `["public"]`. `public` passes as it is; any other id is trimmed, lower-cased
    /// and must be one of the app's tenants (else it is reported with its raw spelling and dropped).
    fn tenant_ids(&self, raw: Option<Vec<&str>>, suffix: &str, errors: &mut Vec<String>) -> Vec<String> {
        let Some(raw) = raw else { return vec![PUBLIC.to_owned()] };
        let mut out: Vec<String> = Vec::with_capacity(raw.len());
        for id in raw {
            let normalised = if id == PUBLIC { id.to_owned() } else { java_trim(id).to_lowercase() };
            if normalised != PUBLIC && !self.facts.tenant_pools.contains_key(&normalised) {
                errors.push(format!("Invalid tenantId: {id}{suffix}"));
                continue;
            }
            if !out.contains(&normalised) {
                out.push(normalised);
            }
        }
        out
    }

    /// Checked on the raw value (length, uniqueness in this request), stored trimmed.
    fn external_user_id(&mut self, raw: Option<&str>, errors: &mut Vec<String>) -> Option<String> {
        let raw = raw?;
        if java_len(raw) > 128 {
            errors.push(format!("externalUserId {raw} is too long. Max length is 128."));
        }
        if !self.external_ids.insert(raw.to_owned()) {
            errors.push(format!("externalUserId {raw} is not unique. It is already used by another user."));
        }
        Some(java_trim(raw).to_owned())
    }

    fn cross_checks(&self, roles: Option<&[UserRole]>, drafts: &[Draft], errors: &mut Vec<String>) {
        for role in roles.unwrap_or_default() {
            for t in role.tenant_ids.iter().filter(|t| *t != PUBLIC) {
                if !drafts.iter().any(|d| d.tenant_ids.contains(t)) {
                    errors.push(format!("TenantId {t} for a user role does not exist in loginMethods."));
                }
            }
        }
        // All tenants of a user must live in one database: the first tenant seen sets it.
        let mut pool: Option<&str> = None;
        for d in drafts {
            if d.tenant_ids.is_empty() {
                errors.push(format!("LoginMethod '{}' has no tenantId", d.describe()));
            }
            for t in &d.tenant_ids {
                let this = self.facts.pool(t);
                match pool {
                    None => pool = Some(this),
                    Some(p) if p != this => {
                        errors.push(format!("All tenants for a user must share the same database for {} recipe.", d.recipe_id.as_str()));
                        break;
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// The email length check (on the raw value; the core's limit is 255 while its message says 256),
/// then the core's normalisation.
fn email_checked(raw: Option<&str>, errors: &mut Vec<String>) -> Option<String> {
    let raw = raw?;
    if java_len(raw) > 255 {
        errors.push(format!("email {raw} is too long. Max length is 256."));
    }
    Some(normalise_email(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000_000;
    const BCRYPT: &str = "$2b$10$X2oX3mWh8JfgPTKtkKmc9OQwUVQAulwkGgIjcsK8h3rojHVQTebV6";
    const ARGON2: &str = "$argon2d$v=19$m=12,t=3,p=1$aGI4enNvMmd0Zm0wMDAwMA$r6p7qbr6HD+8CD7sBi4HVw";
    const FIREBASE: &str = "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$m=14$r=8$s=Bw==";

    /// Roles role1 and admin; tenants public and t1 in one database, t2 in another.
    fn facts() -> AppFacts {
        AppFacts {
            roles: ["role1", "admin"].map(String::from).into(),
            tenant_pools: [("public", "db1"), ("t1", "db1"), ("t2", "db2")].map(|(t, p)| (t.to_owned(), p.to_owned())).into(),
            firebase_signer_key_set: true,
        }
    }

    fn run_with(facts: &AppFacts, users: &[Value]) -> Vec<Result<BulkUser, Vec<String>>> {
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("00000000-0000-4000-8000-{n:012}")
        };
        let mut v = Validator::new(facts, NOW);
        users.iter().map(|u| v.validate(u.as_object().expect("test users are objects"), Ids::Generate(&mut next))).collect()
    }

    fn check(user: Value) -> Result<BulkUser, Vec<String>> {
        run_with(&facts(), &[user]).remove(0)
    }

    fn errors(user: Value) -> Vec<String> {
        check(user).expect_err("the user must be invalid")
    }

    fn ep(extra: Value) -> Value {
        let mut m = json!({"recipeId": "emailpassword", "email": "a@b.c", "passwordHash": BCRYPT, "hashingAlgorithm": "bcrypt"});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    }

    fn with_methods(methods: Value) -> Value {
        json!({ "loginMethods": methods })
    }

    // The core's own cases (AddBulkImportUsersTest, ImportUserTest), with its expected messages.

    #[test]
    fn required_fields() {
        assert_eq!(errors(json!({})), ["loginMethods is required."]);
        assert_eq!(errors(json!({"loginMethods": "string"})), ["loginMethods should be of type array of object."]);
        assert_eq!(errors(json!({"loginMethods": []})), ["At least one loginMethod is required."]);
        assert_eq!(errors(json!({"loginMethods": [{}, 1]})), ["loginMethods should be of type array of object."]);
    }

    #[test]
    fn optional_top_level_fields_of_the_wrong_type() {
        // `userMetaData` (capital D) is an unknown key and so ignored.
        let user = json!({"externalUserId": [], "userMetaData": [], "userRoles": {}, "totpDevices": {}});
        assert_eq!(
            errors(user),
            [
                "externalUserId should be of type string.",
                "userRoles should be of type array of object.",
                "totpDevices should be of type array of object.",
                "loginMethods is required."
            ]
        );
        assert_eq!(errors(json!({"userMetadata": [1], "externalUserId": null, "loginMethods": [ep(json!({}))]})), [
            "externalUserId should be of type string.",
            "userMetadata should be of type object."
        ]);
        assert_eq!(errors(json!({"externalUserId": "   ", "loginMethods": [ep(json!({}))]})), ["externalUserId should be of type string."]);
    }

    #[test]
    fn external_ids_are_unique_within_a_request() {
        let out = run_with(&facts(), &[json!({"externalUserId": "id1"}), json!({"externalUserId": "id1"})]);
        assert_eq!(out[0].clone().unwrap_err(), ["loginMethods is required."]);
        assert_eq!(out[1].clone().unwrap_err(), ["loginMethods is required.", "externalUserId id1 is not unique. It is already used by another user."]);
        // Checked untrimmed, stored trimmed.
        let out = run_with(&facts(), &[
            json!({"externalUserId": " x ", "loginMethods": [ep(json!({}))]}),
            json!({"externalUserId": "x", "loginMethods": [ep(json!({"email": "b@b.c"}))]}),
        ]);
        assert_eq!(out[0].as_ref().unwrap().external_user_id.as_deref(), Some("x"));
        assert!(out[1].is_ok());
        let long = "x".repeat(129);
        assert_eq!(errors(json!({"externalUserId": long, "loginMethods": [ep(json!({}))]})), [format!("externalUserId {long} is too long. Max length is 128.")]);
        assert!(check(json!({"externalUserId": "x".repeat(128), "loginMethods": [ep(json!({}))]})).is_ok());
    }

    #[test]
    fn totp_devices() {
        assert_eq!(errors(json!({"totpDevices": [{"secret": "secret"}]})), ["secretKey is required for a totp device.", "loginMethods is required."]);
        let bad = json!({"totpDevices": [{"secretKey": 1, "period": "30", "skew": 1.5, "deviceName": false}], "loginMethods": [ep(json!({}))]});
        assert_eq!(
            errors(bad),
            [
                "secretKey should be of type string for a totp device.",
                "period should be of type integer for a totp device.",
                "skew should be of type integer for a totp device.",
                "deviceName should be of type string for a totp device."
            ]
        );
        let (s, d) = ("s".repeat(257), "d".repeat(257));
        let bad = json!({"totpDevices": [{"secretKey": s, "period": 0, "skew": -1, "deviceName": d}], "loginMethods": [ep(json!({}))]});
        assert_eq!(
            errors(bad),
            [
                format!("TOTP secretKey {s} is too long. Max length is 256."),
                "period should be > 0 for a totp device.".into(),
                "skew should be >= 0 for a totp device.".into(),
                format!("TOTP deviceName {d} is too long. Max length is 256."),
            ]
        );
        // Defaults, trimming, and a secret kept as it is (not checked as base32).
        let ok = check(json!({"totpDevices": [{"secretKey": "secretKey"}, {"secretKey": "K", "period": 60, "skew": 0, "deviceName": " phone "}], "loginMethods": [ep(json!({}))]})).unwrap();
        let devices = ok.totp_devices.unwrap();
        assert_eq!((devices[0].secret_key.as_str(), devices[0].period, devices[0].skew, devices[0].device_name.as_deref()), ("secretKey", 30, 1, None));
        assert_eq!((devices[1].period, devices[1].skew, devices[1].device_name.as_deref()), (60, 0, Some("phone")));
    }

    #[test]
    fn user_roles() {
        assert_eq!(errors(json!({"userRoles": [{"role": "role1"}]})), ["tenantIds is required for a user role.", "loginMethods is required."]);
        assert_eq!(errors(json!({"userRoles": [{"role": "role5", "tenantIds": ["public"]}]})), ["Role role5 does not exist.", "loginMethods is required."]);
        // The core throws (a 500) on a role object without `role`.
        assert_eq!(errors(json!({"userRoles": [{"tenantIds": ["public"]}], "loginMethods": [ep(json!({}))]})), ["role is required for a user role."]);
        assert_eq!(
            errors(json!({"userRoles": [{"role": 7, "tenantIds": "public"}], "loginMethods": [ep(json!({}))]})),
            ["role should be of type string for a user role.", "tenantIds should be of type array of string for a user role."]
        );
        let long = "r".repeat(256);
        assert_eq!(
            errors(json!({"userRoles": [{"role": long, "tenantIds": ["public"]}], "loginMethods": [ep(json!({}))]})),
            [format!("role {long} is too long. Max length is 255."), format!("Role {long} does not exist.")]
        );
        // Trimmed before it is looked up; tenants normalised; public passes as it is.
        let ok = check(json!({"userRoles": [{"role": " admin ", "tenantIds": ["public", " T1 ", "t1"]}], "loginMethods": [ep(json!({"tenantIds": ["t1"]}))]})).unwrap();
        assert_eq!(ok.user_roles.unwrap(), [UserRole { role: "admin".into(), tenant_ids: vec!["public".into(), "t1".into()] }]);
        assert_eq!(
            errors(json!({"userRoles": [{"role": "admin", "tenantIds": ["t1"]}], "loginMethods": [ep(json!({}))]})),
            ["TenantId t1 for a user role does not exist in loginMethods."]
        );
    }

    #[test]
    fn the_cores_unknown_roles_and_tenants_example() {
        // ImportUserTest: roles and tenant t1 that the app does not have.
        let facts = AppFacts { roles: HashSet::new(), tenant_pools: [("public".to_owned(), "db".to_owned())].into(), firebase_signer_key_set: false };
        let tenants = json!(["public", "t1"]);
        let user = json!({
            "externalUserId": "e1",
            "userMetadata": {"key1": "v"},
            "userRoles": [{"role": "role1", "tenantIds": tenants}, {"role": "role2", "tenantIds": tenants}],
            "totpDevices": [{"secretKey": "secretKey", "period": 30, "skew": 1, "deviceName": "deviceName"}],
            "loginMethods": [
                {"tenantIds": tenants, "recipeId": "emailpassword", "isPrimary": true, "email": "user0@example.com", "passwordHash": "$2a", "hashingAlgorithm": "BCRYPT"},
                {"tenantIds": tenants, "recipeId": "thirdparty", "email": "user0@example.com", "thirdPartyId": "thirdPartyId0", "thirdPartyUserId": "thirdPartyUserId0"},
                {"tenantIds": tenants, "recipeId": "passwordless", "email": "user0@example.com"}
            ]
        });
        let out = run_with(&facts, &[user]).remove(0).unwrap_err();
        assert_eq!(
            out,
            [
                "Role role1 does not exist.",
                "Invalid tenantId: t1 for a user role.",
                "Role role2 does not exist.",
                "Invalid tenantId: t1 for a user role.",
                "Invalid tenantId: t1 for emailpassword recipe.",
                "Invalid tenantId: t1 for thirdparty recipe.",
                "Invalid tenantId: t1 for passwordless recipe."
            ]
        );
    }

    #[test]
    fn login_method_fields_of_the_wrong_type() {
        let m = json!([{"recipeId": [], "tenantIds": {}, "isPrimary": [], "isVerified": [], "timeJoinedInMSSinceEpoch": []}]);
        assert_eq!(
            errors(with_methods(m)),
            [
                "recipeId should be of type string for a loginMethod.",
                "tenantIds should be of type array of string for a loginMethod.",
                "isVerified should be of type boolean for a loginMethod.",
                "isPrimary should be of type boolean for a loginMethod.",
                "timeJoinedInMSSinceEpoch should be of type integer for a loginMethod"
            ]
        );
        assert_eq!(errors(with_methods(json!([{}]))), ["recipeId is required for a loginMethod."]);
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "invalid_recipe_id"}]))),
            ["Invalid recipeId for loginMethod. Pass one of emailpassword, thirdparty or, passwordless!"]
        );
        // Case-sensitive; and its unknown tenant is reported with the recipe id as given.
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "EmailPassword", "tenantIds": ["nope"]}]))),
            ["Invalid recipeId for loginMethod. Pass one of emailpassword, thirdparty or, passwordless!", "Invalid tenantId: nope for EmailPassword recipe."]
        );
        assert_eq!(errors(with_methods(json!([{"tenantIds": ["nope"]}]))), ["recipeId is required for a loginMethod.", "Invalid tenantId: nope for null recipe."]);
    }

    #[test]
    fn primary_flags() {
        let two = json!([ep(json!({"isPrimary": true})), {"recipeId": "passwordless", "email": "johndoe@gmail.com", "isPrimary": true}]);
        assert_eq!(errors(with_methods(two)), ["No two loginMethods can have isPrimary as true."]);
        let three = json!([ep(json!({"isPrimary": true})), ep(json!({"isPrimary": true, "email": "x@y.z"})), ep(json!({"isPrimary": true, "email": "y@y.z"}))]);
        assert_eq!(errors(with_methods(three)), ["No two loginMethods can have isPrimary as true.", "No two loginMethods can have isPrimary as true."]);
        // A string "true" is a type error, not a second primary.
        let odd = json!([ep(json!({"isPrimary": true})), ep(json!({"isPrimary": "true", "email": "x@y.z"}))]);
        assert_eq!(errors(with_methods(odd)), ["isPrimary should be of type boolean for a loginMethod."]);
    }

    #[test]
    fn time_joined() {
        assert_eq!(errors(with_methods(json!([ep(json!({"timeJoinedInMSSinceEpoch": NOW + 1}))]))), ["timeJoined cannot be in future for a loginMethod."]);
        assert_eq!(errors(with_methods(json!([ep(json!({"timeJoinedInMSSinceEpoch": -1}))]))), ["timeJoined cannot be < 0 for a loginMethod."]);
        assert_eq!(errors(with_methods(json!([ep(json!({"timeJoinedInMSSinceEpoch": 1.5}))]))), ["timeJoinedInMSSinceEpoch should be of type integer for a loginMethod"]);
        let ok = check(with_methods(json!([ep(json!({"timeJoinedInMSSinceEpoch": NOW})), ep(json!({"email": "x@y.z"}))]))).unwrap();
        assert_eq!(ok.login_methods[0].time_joined, NOW);
        assert_eq!(ok.login_methods[1].time_joined, NOW, "missing means now");
        assert!(check(with_methods(json!([ep(json!({"timeJoinedInMSSinceEpoch": 0}))]))).is_ok());
    }

    #[test]
    fn email_password() {
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "emailpassword"}]))),
            ["email is required for an emailpassword recipe.", "Either (passwordHash, hashingAlgorithm) or plainTextPassword is required for an emailpassword recipe."]
        );
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "emailpassword", "email": [], "passwordHash": [], "hashingAlgorithm": [], "plainTextPassword": 5}]))),
            [
                "email should be of type string for an emailpassword recipe.",
                "passwordHash should be of type string for an emailpassword recipe.",
                "hashingAlgorithm should be of type string for an emailpassword recipe.",
                "plainTextPassword should be of type string for an emailpassword recipe.",
                "Either (passwordHash, hashingAlgorithm) or plainTextPassword is required for an emailpassword recipe."
            ]
        );
        assert_eq!(
            errors(with_methods(json!([ep(json!({"email": "johndoe@gmail.com", "passwordHash": "$2a", "hashingAlgorithm": "invalid_algorithm"}))]))),
            ["Invalid hashingAlgorithm for emailpassword recipe. Pass one of bcrypt, argon2 or, firebase_scrypt!"]
        );
        // A hash alone, or an algorithm alone, is not enough.
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "emailpassword", "email": "a@b.c", "passwordHash": BCRYPT}]))),
            ["Either (passwordHash, hashingAlgorithm) or plainTextPassword is required for an emailpassword recipe."]
        );
        let long = format!("{}@b.c", "a".repeat(252));
        assert_eq!(errors(with_methods(json!([ep(json!({"email": long}))]))), [format!("email {long} is too long. Max length is 256.")]);
        assert!(check(with_methods(json!([ep(json!({"email": format!("{}@b.c", "a".repeat(251))}))]))).is_ok(), "255 characters pass");
    }

    #[test]
    fn email_password_hashes() {
        let ok = |extra: Value| check(with_methods(json!([ep(extra)]))).unwrap().login_methods.remove(0);
        let m = ok(json!({"email": " JohnDoe+0@Gmail.com ", "passwordHash": format!("  {ARGON2}\n"), "hashingAlgorithm": " argon2 "}));
        assert_eq!(m.email.as_deref(), Some("johndoe+0@gmail.com"));
        assert_eq!(m.password_hash.as_deref(), Some(ARGON2), "trimmed");
        assert_eq!(m.hashing_algorithm.as_deref(), Some("ARGON2"));
        assert_eq!(m.password(), Some(super::super::model::Password::Hash(ARGON2)));
        for prefix in ["$2a", "$2b", "$2x", "$2y"] {
            assert_eq!(ok(json!({"passwordHash": format!("{prefix}{}", &BCRYPT[3..])})).hashing_algorithm.as_deref(), Some("BCRYPT"));
        }
        let fb = ok(json!({"passwordHash": FIREBASE, "hashingAlgorithm": "firebase_scrypt"}));
        assert_eq!(fb.hashing_algorithm.as_deref(), Some("FIREBASE_SCRYPT"));

        let bad = |extra: Value| errors(with_methods(json!([ep(extra)])));
        assert_eq!(bad(json!({"passwordHash": ARGON2})), ["Password hash is in invalid BCrypt format"]);
        assert_eq!(bad(json!({"passwordHash": BCRYPT, "hashingAlgorithm": "argon2"})), ["Password hash is in invalid Argon2 format"]);
        assert_eq!(bad(json!({"passwordHash": BCRYPT, "hashingAlgorithm": "firebase_scrypt"})), ["Password hash is in invalid Firebase SCrypt format"]);
        // Not blank to Java, but empty once trimmed: the format is wrong.
        assert_eq!(bad(json!({"passwordHash": "\u{1}"})), ["Password hash is in invalid BCrypt format"]);
        let long = format!("$2a{}", "x".repeat(254));
        assert_eq!(bad(json!({"passwordHash": long})), ["passwordHash is too long. Max length is 256."]);
        // Without the signer key a Firebase hash is refused per user (the core answers 500), and
        // the key is asked for before the hash is parsed.
        let no_key = AppFacts { firebase_signer_key_set: false, ..facts() };
        let user = with_methods(json!([ep(json!({"passwordHash": "junk", "hashingAlgorithm": "firebase_scrypt"}))]));
        assert_eq!(run_with(&no_key, &[user]).remove(0).unwrap_err(), ["'firebase_password_hashing_signer_key' cannot be null"]);
    }

    #[test]
    fn plain_text_passwords() {
        let m = check(with_methods(json!([{"recipeId": "emailpassword", "email": "a@b.c", "plainTextPassword": "s3cret"}]))).unwrap().login_methods.remove(0);
        assert_eq!(m.password(), Some(super::super::model::Password::PlainText("s3cret")));
        assert_eq!(m.password_hash, None);
        // A valid hash wins over a plain-text password (which stays in the stored data).
        let both = check(with_methods(json!([ep(json!({"plainTextPassword": "s3cret"}))]))).unwrap().login_methods.remove(0);
        assert_eq!(both.password(), Some(super::super::model::Password::Hash(BCRYPT)));
        assert_eq!(both.plain_text_password.as_deref(), Some("s3cret"));
        // An algorithm without a hash: the plain text is used.
        let alg_only = check(with_methods(json!([{"recipeId": "emailpassword", "email": "a@b.c", "hashingAlgorithm": "bcrypt", "plainTextPassword": "p"}]))).unwrap();
        assert_eq!(alg_only.login_methods[0].password(), Some(super::super::model::Password::PlainText("p")));
        // A hash without an algorithm next to a plain text: checked with the format detected.
        let hash_only = |hash: &str| check(with_methods(json!([{"recipeId": "emailpassword", "email": "a@b.c", "passwordHash": hash, "plainTextPassword": "p"}])));
        assert_eq!(hash_only(&format!(" {ARGON2} ")).unwrap().login_methods[0].password_hash.as_deref(), Some(ARGON2));
        assert_eq!(hash_only("md5:abc").unwrap_err(), ["Password hash is in invalid format"]);
        let no_key = AppFacts { firebase_signer_key_set: false, ..facts() };
        let user = with_methods(json!([{"recipeId": "emailpassword", "email": "a@b.c", "passwordHash": FIREBASE, "plainTextPassword": "p"}]));
        assert_eq!(run_with(&no_key, &[user]).remove(0).unwrap_err(), ["'firebase_password_hashing_signer_key' cannot be null"]);
    }

    #[test]
    fn third_party() {
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "thirdparty"}]))),
            ["email is required for a thirdparty recipe.", "thirdPartyId is required for a thirdparty recipe.", "thirdPartyUserId is required for a thirdparty recipe."]
        );
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "thirdparty", "email": [], "thirdPartyId": [], "thirdPartyUserId": []}]))),
            [
                "email should be of type string for a thirdparty recipe.",
                "thirdPartyId should be of type string for a thirdparty recipe.",
                "thirdPartyUserId should be of type string for a thirdparty recipe."
            ]
        );
        let (id, uid) = ("g".repeat(29), "u".repeat(257));
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "thirdparty", "email": "a@b.c", "thirdPartyId": id, "thirdPartyUserId": uid}]))),
            [format!("thirdPartyId {id} is too long. Max length is 28."), format!("thirdPartyUserId {uid} is too long. Max length is 256.")]
        );
        // Ids are not normalised; the email is.
        let m = check(with_methods(json!([{"recipeId": "thirdparty", "email": "A@B.C", "thirdPartyId": " Google", "thirdPartyUserId": "X1 "}]))).unwrap().login_methods.remove(0);
        assert_eq!((m.email.as_deref(), m.third_party_id.as_deref(), m.third_party_user_id.as_deref()), (Some("a@b.c"), Some(" Google"), Some("X1 ")));
    }

    #[test]
    fn passwordless() {
        assert_eq!(errors(with_methods(json!([{"recipeId": "passwordless"}]))), ["Either email or phoneNumber is required for a passwordless recipe."]);
        assert_eq!(
            errors(with_methods(json!([{"recipeId": "passwordless", "email": [], "phoneNumber": []}]))),
            [
                "email should be of type string for a passwordless recipe.",
                "phoneNumber should be of type string for a passwordless recipe.",
                "Either email or phoneNumber is required for a passwordless recipe."
            ]
        );
        let long = format!("+{}", "1".repeat(256));
        assert_eq!(errors(with_methods(json!([{"recipeId": "passwordless", "phoneNumber": long}]))), [format!("phoneNumber {long} is too long. Max length is 256.")]);
        let m = check(with_methods(json!([{"recipeId": "passwordless", "phoneNumber": "+91-9999999999"}]))).unwrap().login_methods.remove(0);
        assert_eq!((m.email, m.phone_number.as_deref()), (None, Some("+919999999999")));
    }

    #[test]
    fn tenants_must_exist_and_share_a_database() {
        assert_eq!(
            errors(with_methods(json!([{"tenantIds": ["invalid"], "recipeId": "passwordless", "email": "johndoe@gmail.com"}]))).first().map(String::as_str),
            Some("Invalid tenantId: invalid for passwordless recipe.")
        );
        let split = json!([
            {"tenantIds": ["public"], "recipeId": "passwordless", "email": "johndoe@gmail.com"},
            {"tenantIds": ["t2"], "recipeId": "thirdparty", "email": "johndoe@gmail.com", "thirdPartyId": "id", "thirdPartyUserId": "id"}
        ]);
        assert_eq!(errors(with_methods(split)), ["All tenants for a user must share the same database for thirdparty recipe."]);
        // Once per method.
        assert_eq!(
            errors(with_methods(json!([ep(json!({"tenantIds": ["public", "t2", "t1", "t2"]}))]))),
            ["All tenants for a user must share the same database for emailpassword recipe."]
        );
        let ok = check(with_methods(json!([ep(json!({"tenantIds": [" T1", "public"]}))]))).unwrap();
        assert_eq!(ok.login_methods[0].tenant_ids, ["t1", "public"]);
    }

    #[test]
    fn a_method_left_without_tenants() {
        let out = errors(with_methods(json!([ep(json!({"tenantIds": [], "plainTextPassword": "SECRET-PW"}))])));
        assert_eq!(out.len(), 1);
        assert!(out[0].starts_with("LoginMethod '{\"tenantIds\":[],\"isVerified\":false,\"isPrimary\":false,\"timeJoinedInMSSinceEpoch\":"), "{}", out[0]);
        assert!(out[0].ends_with("' has no tenantId"), "{}", out[0]);
        assert!(!out[0].contains("SECRET-PW"), "the plain-text password is never echoed");
        // Every tenant invalid also leaves none.
        let out = errors(with_methods(json!([ep(json!({"tenantIds": ["nope"]}))])));
        assert_eq!(out[0], "Invalid tenantId: nope for emailpassword recipe.");
        assert!(out[1].ends_with("' has no tenantId"));
    }

    #[test]
    fn a_full_user_is_normalised_with_its_defaults() {
        let user = json!({
            "externalUserId": " ext-1 ",
            "userMetadata": {"k": {"n": 1}},
            "userRoles": [{"role": "role1", "tenantIds": ["public"]}],
            "totpDevices": [{"secretKey": "JBSWY3DPEHPK3PXP"}],
            "loginMethods": [
                {"recipeId": "thirdparty", "email": "A@B.C", "thirdPartyId": "google", "thirdPartyUserId": "g1", "timeJoinedInMSSinceEpoch": 5},
                ep(json!({"isPrimary": true, "isVerified": true, "timeJoinedInMSSinceEpoch": 9})),
                {"recipeId": "passwordless", "phoneNumber": "+1 415 555 0100"}
            ]
        });
        let u = check(user).unwrap();
        assert_eq!(u.id, u.login_methods[1].super_tokens_user_id, "the primary method names the user");
        assert_eq!(u.external_user_id.as_deref(), Some("ext-1"));
        assert_eq!(u.login_methods[0].tenant_ids, ["public"]);
        assert!(!u.login_methods[0].is_primary && !u.login_methods[0].is_verified);
        assert_eq!(u.login_methods[2].time_joined, NOW);
        assert_eq!(u.login_methods[2].phone_number.as_deref(), Some("+14155550100"));
        let ids: HashSet<&str> = u.login_methods.iter().map(|m| m.super_tokens_user_id.as_str()).collect();
        assert_eq!(ids.len(), 3, "each method has its own id");
        // Without a primary the oldest method names the user.
        let u = check(with_methods(json!([ep(json!({"timeJoinedInMSSinceEpoch": 9})), ep(json!({"email": "x@y.z", "timeJoinedInMSSinceEpoch": 3}))]))).unwrap();
        assert_eq!(u.id, u.login_methods[1].super_tokens_user_id);
    }

    #[test]
    fn stored_users_validate_again_with_their_ids() {
        let u = check(json!({"externalUserId": "e", "loginMethods": [ep(json!({"isPrimary": true})), {"recipeId": "passwordless", "email": "p@q.r"}]})).unwrap();
        let stored: Value = serde_json::from_str(&u.to_raw_data()).unwrap();
        let f = facts();
        let mut v = Validator::new(&f, NOW);
        let again = v.validate(stored.as_object().unwrap(), Ids::ReadStored).unwrap();
        assert_eq!(again, u, "a stored user validates to itself");
        // Without its ids a stored user is invalid.
        let mut broken = stored.clone();
        broken["loginMethods"][1].as_object_mut().unwrap().remove("superTokensUserId");
        let mut v = Validator::new(&f, NOW);
        assert_eq!(v.validate(broken.as_object().unwrap(), Ids::ReadStored).unwrap_err(), ["superTokensUserId is required for a loginMethod"]);
        // A role deleted since the upload fails the user in the worker.
        let with_role = check(json!({"userRoles": [{"role": "admin", "tenantIds": ["public"]}], "loginMethods": [ep(json!({}))]})).unwrap();
        let stored: Value = serde_json::from_str(&with_role.to_raw_data()).unwrap();
        let fewer = AppFacts { roles: HashSet::new(), ..facts() };
        let mut v = Validator::new(&fewer, NOW);
        assert_eq!(v.validate(stored.as_object().unwrap(), Ids::ReadStored).unwrap_err(), ["Role admin does not exist."]);
    }

    /// Arbitrary JSON never panics the validator.
    #[test]
    fn odd_input_never_panics() {
        let values = [json!(null), json!(1), json!("s"), json!([]), json!({}), json!([{}]), json!({"a": 1}), json!(-1e308), json!(u64::MAX)];
        let keys = ["externalUserId", "userMetadata", "userRoles", "totpDevices", "loginMethods", "recipeId", "tenantIds", "email", "passwordHash", "hashingAlgorithm", "plainTextPassword", "phoneNumber", "thirdPartyId", "thirdPartyUserId", "isPrimary", "isVerified", "timeJoinedInMSSinceEpoch", "role", "secretKey", "period", "skew", "deviceName", "superTokensUserId"];
        let f = facts();
        for key in keys {
            for value in &values {
                for recipe in ["emailpassword", "thirdparty", "passwordless"] {
                    let method = json!({ "recipeId": recipe, key: value });
                    let user = json!({ key: value, "userRoles": [{ key: value }], "totpDevices": [{ key: value }], "loginMethods": [method] });
                    let mut v = Validator::new(&f, NOW);
                    let _ = v.validate(user.as_object().unwrap(), Ids::ReadStored);
                    let mut n = 0;
                    let mut next = || {
                        n += 1;
                        n.to_string()
                    };
                    let _ = v.validate(user.as_object().unwrap(), Ids::Generate(&mut next));
                }
            }
        }
    }
}
