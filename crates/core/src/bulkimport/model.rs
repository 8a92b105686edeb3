//! A bulk-import user after validation: what `bulk_import_users.raw_data` stores (the plugin
//! interface's `BulkImportUser`, Gson's field names and order, nulls left out), so that a queue
//! written by the Java core is read here and the other way round.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::users::model::RecipeId;

/// A queue row's status. A user imported successfully is deleted from the queue: there is no
/// "done" status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    New,
    Processing,
    Failed,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::New, Status::Processing, Status::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "NEW",
            Status::Processing => "PROCESSING",
            Status::Failed => "FAILED",
        }
    }

    /// Exactly `NEW`, `PROCESSING` or `FAILED` (Java's case-sensitive `valueOf`).
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// One user to import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkUser {
    /// The queue id: the SuperTokens id of the main login method ([`BulkUser::main_login_method`]),
    /// which is also the imported user's id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_roles: Option<Vec<UserRole>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_devices: Option<Vec<TotpDevice>>,
    pub login_methods: Vec<LoginMethod>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRole {
    pub role: String,
    pub tenant_ids: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpDevice {
    pub secret_key: String,
    pub period: i32,
    pub skew: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// One login method (one recipe user) of a bulk-import user.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginMethod {
    pub tenant_ids: Vec<String>,
    pub is_verified: bool,
    pub is_primary: bool,
    #[serde(rename = "timeJoinedInMSSinceEpoch")]
    pub time_joined: i64,
    #[serde(with = "recipe_id_text")]
    pub recipe_id: RecipeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Upper case (`BCRYPT`, `ARGON2`, `FIREBASE_SCRYPT`), as the core stores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashing_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_text_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    pub super_tokens_user_id: String,
}

/// How an email-password login method's password gets into `emailpassword_users.password_hash`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Password<'a> {
    /// An imported hash, stored as it is (never hashed again).
    Hash(&'a str),
    /// A plain-text password, to be hashed with the app's `password_hashing_alg` before the import.
    PlainText(&'a str),
}

impl fmt::Debug for Password<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Password::Hash(_) => "Hash(<redacted>)",
            Password::PlainText(_) => "PlainText(<redacted>)",
        })
    }
}

impl LoginMethod {
    /// The password of an email-password method. An imported hash wins over a plain-text password
    /// when both are given, as in the core.
    pub fn password(&self) -> Option<Password<'_>> {
        if self.recipe_id != RecipeId::EmailPassword {
            return None;
        }
        match (&self.password_hash, &self.plain_text_password) {
            (Some(h), _) => Some(Password::Hash(h)),
            (None, Some(p)) => Some(Password::PlainText(p)),
            (None, None) => None,
        }
    }
}

// Passwords, hashes and TOTP secrets stay out of logs and panics.
impl fmt::Debug for LoginMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("LoginMethod")
            .field("tenant_ids", &self.tenant_ids)
            .field("is_verified", &self.is_verified)
            .field("is_primary", &self.is_primary)
            .field("time_joined", &self.time_joined)
            .field("recipe_id", &self.recipe_id)
            .field("email", &self.email)
            .field("password_hash", &redacted(&self.password_hash))
            .field("hashing_algorithm", &self.hashing_algorithm)
            .field("plain_text_password", &redacted(&self.plain_text_password))
            .field("third_party_id", &self.third_party_id)
            .field("third_party_user_id", &self.third_party_user_id)
            .field("phone_number", &self.phone_number)
            .field("super_tokens_user_id", &self.super_tokens_user_id)
            .finish()
    }
}

impl fmt::Debug for TotpDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpDevice")
            .field("secret_key", &"<redacted>")
            .field("period", &self.period)
            .field("skew", &self.skew)
            .field("device_name", &self.device_name)
            .finish()
    }
}

impl BulkUser {
    /// The login method marked `isPrimary`, if any.
    pub fn primary_login_method(&self) -> Option<&LoginMethod> {
        self.login_methods.iter().find(|m| m.is_primary)
    }

    /// The "main" login method: the primary one, else the oldest (the first of equals). Its id is
    /// the queue id and the imported user's id; metadata, roles and TOTP devices are keyed by it
    /// (or by the external id).
    pub fn main_login_method(&self) -> Option<&LoginMethod> {
        main_of(&self.login_methods, |m| m.is_primary, |m| m.time_joined)
    }

    /// What `raw_data` stores: the user without the queue's own columns, compact JSON.
    pub fn to_raw_data(&self) -> String {
        // Serialising plain data with string keys cannot fail; fall back to an empty object anyway.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads a stored `raw_data` (written by Portcullis or the Java core). The row's `id` column
    /// is authoritative, as in the core.
    pub fn from_raw_data(id: &str, raw: &str) -> Result<BulkUser, String> {
        let mut user: BulkUser = serde_json::from_str(raw).map_err(|e| format!("unreadable raw_data: {e}"))?;
        id.trim_end().clone_into(&mut user.id);
        Ok(user)
    }

    /// The user as `POST /bulk-import/users` answers it (`BulkImportUser.toResponseJson`): the
    /// user id (external if given), and per login method its recipe, id, tenants and account
    /// info, with the core's lower-case `thirdpartyId`/`thirdpartyUserId` and, for passwordless,
    /// both `email` and `phoneNumber` (one may be `null`).
    pub fn to_response_json(&self) -> Value {
        let methods: Vec<Value> = self
            .login_methods
            .iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("recipeId".into(), json!(m.recipe_id.as_str()));
                o.insert("userId".into(), json!(m.super_tokens_user_id));
                o.insert("tenants".into(), json!(m.tenant_ids));
                o.insert("email".into(), json!(m.email));
                match m.recipe_id {
                    RecipeId::EmailPassword => {}
                    RecipeId::ThirdParty => {
                        o.insert("thirdpartyId".into(), json!(m.third_party_id));
                        o.insert("thirdpartyUserId".into(), json!(m.third_party_user_id));
                    }
                    RecipeId::Passwordless => {
                        o.insert("phoneNumber".into(), json!(m.phone_number));
                    }
                    // Never stored (see `recipe_id_text`).
                    RecipeId::WebAuthn => {}
                }
                Value::Object(o)
            })
            .collect();
        json!({
            "userId": self.external_user_id.as_deref().unwrap_or(&self.id),
            "loginMethods": methods,
        })
    }
}

/// The core's `getPrimaryLoginMethod`: the first marked primary, else the oldest (first of equals).
pub(super) fn main_of<T>(methods: &[T], is_primary: impl Fn(&T) -> bool, time: impl Fn(&T) -> i64) -> Option<&T> {
    let mut oldest = methods.first()?;
    for m in methods {
        if is_primary(m) {
            return Some(m);
        }
        if time(m) < time(oldest) {
            oldest = m;
        }
    }
    Some(oldest)
}

/// A recipe id as the stored JSON spells it.
mod recipe_id_text {
    // Named in full: `super` would read as an import of the recipe's `mod.rs` (structure tests).
    use crate::users::model::RecipeId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &RecipeId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(r.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RecipeId, D::Error> {
        let s = String::deserialize(d)?;
        // Bulk import knows the three recipes the core imports; WebAuthn users are not imported.
        RecipeId::parse(&s).filter(|r| *r != RecipeId::WebAuthn).ok_or_else(|| serde::de::Error::custom(format!("unknown recipeId {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(recipe: RecipeId, id: &str, time: i64, primary: bool) -> LoginMethod {
        LoginMethod {
            tenant_ids: vec!["public".into()],
            is_verified: false,
            is_primary: primary,
            time_joined: time,
            recipe_id: recipe,
            email: Some("a@b.c".into()),
            password_hash: None,
            hashing_algorithm: None,
            plain_text_password: None,
            third_party_id: None,
            third_party_user_id: None,
            phone_number: None,
            super_tokens_user_id: id.into(),
        }
    }

    #[test]
    fn statuses_are_exact() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("new"), None);
        assert_eq!(Status::parse("DONE"), None);
    }

    #[test]
    fn raw_data_is_gsons_shape_and_round_trips() {
        let mut ep = method(RecipeId::EmailPassword, "u1", 5, true);
        ep.password_hash = Some("$2b$10$x".into());
        ep.hashing_algorithm = Some("BCRYPT".into());
        let user = BulkUser {
            id: "u1".into(),
            external_user_id: Some("ext".into()),
            user_metadata: json!({"z": 1, "a": null}).as_object().cloned(),
            user_roles: Some(vec![UserRole { role: "admin".into(), tenant_ids: vec!["public".into()] }]),
            totp_devices: Some(vec![TotpDevice { secret_key: "S".into(), period: 30, skew: 1, device_name: None }]),
            login_methods: vec![ep],
        };
        let raw = user.to_raw_data();
        assert_eq!(
            raw,
            r#"{"id":"u1","externalUserId":"ext","userMetadata":{"z":1,"a":null},"userRoles":[{"role":"admin","tenantIds":["public"]}],"totpDevices":[{"secretKey":"S","period":30,"skew":1}],"loginMethods":[{"tenantIds":["public"],"isVerified":false,"isPrimary":true,"timeJoinedInMSSinceEpoch":5,"recipeId":"emailpassword","email":"a@b.c","passwordHash":"$2b$10$x","hashingAlgorithm":"BCRYPT","superTokensUserId":"u1"}]}"#
        );
        assert_eq!(BulkUser::from_raw_data("u1", &raw).unwrap(), user);
        // The id column wins; a CHAR(36) column's padding is dropped.
        assert_eq!(BulkUser::from_raw_data("other  ", &raw).unwrap().id, "other");
        // Unknown keys (a newer core's) are ignored; a broken row is an error, not a panic.
        let extra = raw.replacen("{\"id\"", "{\"future\":1,\"id\"", 1);
        assert!(BulkUser::from_raw_data("u1", &extra).is_ok());
        assert!(BulkUser::from_raw_data("u1", "not json").is_err());
        assert!(BulkUser::from_raw_data("u1", &raw.replace("emailpassword", "webauthn")).is_err());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut ep = method(RecipeId::EmailPassword, "u1", 5, true);
        ep.password_hash = Some("HASH-SECRET".into());
        ep.plain_text_password = Some("PLAIN-SECRET".into());
        let user = BulkUser {
            id: "u1".into(),
            external_user_id: None,
            user_metadata: None,
            user_roles: None,
            totp_devices: Some(vec![TotpDevice { secret_key: "TOTP-SECRET".into(), period: 30, skew: 1, device_name: None }]),
            login_methods: vec![ep],
        };
        let debug = format!("{user:?} {:?}", user.login_methods[0].password());
        for secret in ["HASH-SECRET", "PLAIN-SECRET", "TOTP-SECRET"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn main_login_method_is_the_primary_else_the_oldest() {
        let u = |methods| BulkUser {
            id: String::new(),
            external_user_id: None,
            user_metadata: None,
            user_roles: None,
            totp_devices: None,
            login_methods: methods,
        };
        let a = method(RecipeId::EmailPassword, "a", 30, false);
        let b = method(RecipeId::ThirdParty, "b", 10, false);
        let c = method(RecipeId::Passwordless, "c", 10, false);
        let p = method(RecipeId::Passwordless, "p", 99, true);
        assert_eq!(u(vec![a.clone(), b.clone(), c.clone()]).main_login_method().unwrap().super_tokens_user_id, "b");
        assert_eq!(u(vec![a.clone(), p.clone(), b.clone()]).main_login_method().unwrap().super_tokens_user_id, "p");
        assert!(u(vec![a.clone(), b]).primary_login_method().is_none());
        assert!(u(vec![]).main_login_method().is_none());
    }

    #[test]
    fn response_json_is_the_cores() {
        let mut tp = method(RecipeId::ThirdParty, "t", 1, false);
        tp.third_party_id = Some("google".into());
        tp.third_party_user_id = Some("123".into());
        let mut pl = method(RecipeId::Passwordless, "p", 1, false);
        pl.email = None;
        pl.phone_number = Some("+14155550100".into());
        let user = BulkUser {
            id: "e".into(),
            external_user_id: None,
            user_metadata: None,
            user_roles: None,
            totp_devices: None,
            login_methods: vec![method(RecipeId::EmailPassword, "e", 1, true), tp, pl],
        };
        assert_eq!(
            user.to_response_json().to_string(),
            r#"{"userId":"e","loginMethods":[{"recipeId":"emailpassword","userId":"e","tenants":["public"],"email":"a@b.c"},{"recipeId":"thirdparty","userId":"t","tenants":["public"],"email":"a@b.c","thirdpartyId":"google","thirdpartyUserId":"123"},{"recipeId":"passwordless","userId":"p","tenants":["public"],"email":null,"phoneNumber":"+14155550100"}]}"#
        );
        let external = BulkUser { external_user_id: Some("x".into()), ..user };
        assert_eq!(external.to_response_json()["userId"], "x");
    }
}
