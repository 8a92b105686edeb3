//! Users as the auth recipes see them: a user is a group of login methods (one per recipe user;
//! several when accounts are linked) and is named by its primary user id.

use serde_json::{json, Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecipeId {
    EmailPassword,
    ThirdParty,
    Passwordless,
    WebAuthn,
}

impl RecipeId {
    pub const ALL: [RecipeId; 4] = [RecipeId::EmailPassword, RecipeId::ThirdParty, RecipeId::Passwordless, RecipeId::WebAuthn];

    pub fn as_str(self) -> &'static str {
        match self {
            RecipeId::EmailPassword => "emailpassword",
            RecipeId::ThirdParty => "thirdparty",
            RecipeId::Passwordless => "passwordless",
            RecipeId::WebAuthn => "webauthn",
        }
    }

    pub fn parse(s: &str) -> Option<RecipeId> {
        RecipeId::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThirdPartyInfo {
    pub id: String,
    pub user_id: String,
}

/// One recipe user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginMethod {
    pub recipe_id: RecipeId,
    pub recipe_user_id: String,
    /// The external id of `recipe_user_id` when a `userid_mapping` row exists.
    pub external_user_id: Option<String>,
    /// `primary_or_recipe_user_id`.
    pub primary_user_id: String,
    /// `is_linked_or_is_a_primary_user`.
    pub is_linked_or_primary: bool,
    pub tenant_ids: Vec<String>,
    pub time_joined: i64,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub third_party: Option<ThirdPartyInfo>,
    /// Whether this login method's email is verified.
    pub verified: bool,
    /// Email-password only; never rendered.
    pub password_hash: Option<String>,
    /// WebAuthn only: the login method's credential ids, ordered by `(created_at, id)`.
    pub webauthn_credential_ids: Vec<String>,
}

impl LoginMethod {
    /// The id clients see: the external id when mapped, else the SuperTokens id.
    pub fn public_id(&self) -> &str {
        self.external_user_id.as_deref().unwrap_or(&self.recipe_user_id)
    }

    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("tenantIds".into(), json!(self.tenant_ids));
        o.insert("recipeUserId".into(), json!(self.public_id()));
        o.insert("verified".into(), json!(self.verified));
        o.insert("timeJoined".into(), json!(self.time_joined));
        o.insert("recipeId".into(), json!(self.recipe_id.as_str()));
        if let Some(e) = &self.email {
            o.insert("email".into(), json!(e));
        }
        if let Some(p) = &self.phone_number {
            o.insert("phoneNumber".into(), json!(p));
        }
        if let Some(t) = &self.third_party {
            o.insert("thirdParty".into(), json!({"id": t.id, "userId": t.user_id}));
        }
        if self.recipe_id == RecipeId::WebAuthn {
            o.insert("webauthn".into(), json!({"credentialIds": self.webauthn_credential_ids}));
        }
        Value::Object(o)
    }
}

/// A user: the primary user id and its login methods (one unless accounts are linked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub is_primary: bool,
    pub login_methods: Vec<LoginMethod>,
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
}

impl User {
    pub fn time_joined(&self) -> i64 {
        self.login_methods.iter().map(|m| m.time_joined).min().unwrap_or(0)
    }

    pub fn tenant_ids(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.login_methods {
            for t in &m.tenant_ids {
                push_unique(&mut out, t.clone());
            }
        }
        out
    }

    /// The CDI ≥ 5.3 user object, with the `webauthn` member: the credential ids of every webauthn
    /// login method.
    pub fn to_json(&self) -> Value {
        let mut methods = self.login_methods.clone();
        methods.sort_by_key(|m| m.time_joined);
        let (mut emails, mut phones, mut third_party, mut credential_ids) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for m in &methods {
            if let Some(e) = &m.email {
                push_unique(&mut emails, e.clone());
            }
            if let Some(p) = &m.phone_number {
                push_unique(&mut phones, p.clone());
            }
            if let Some(t) = &m.third_party {
                push_unique(&mut third_party, json!({"id": t.id, "userId": t.user_id}));
            }
            for c in &m.webauthn_credential_ids {
                push_unique(&mut credential_ids, c.clone());
            }
        }
        json!({
            "id": self.public_id(),
            "isPrimaryUser": self.is_primary,
            "tenantIds": self.tenant_ids(),
            "timeJoined": self.time_joined(),
            "emails": emails,
            "phoneNumbers": phones,
            "thirdParty": third_party,
            "webauthn": {"credentialIds": credential_ids},
            "loginMethods": methods.iter().map(LoginMethod::to_json).collect::<Vec<_>>(),
        })
    }

    /// The primary user id as clients see it (external when the primary recipe user is mapped).
    pub fn public_id(&self) -> &str {
        self.login_method(&self.id).map_or(&self.id, LoginMethod::public_id)
    }

    /// The login method with this SuperTokens recipe user id.
    pub fn login_method(&self, recipe_user_id: &str) -> Option<&LoginMethod> {
        self.login_methods.iter().find(|m| m.recipe_user_id == recipe_user_id)
    }
}

/// The core's email normalisation: trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(id: &str, t: i64, email: &str, tenants: &[&str]) -> LoginMethod {
        LoginMethod {
            recipe_id: RecipeId::EmailPassword,
            recipe_user_id: id.into(),
            external_user_id: None,
            primary_user_id: "p".into(),
            is_linked_or_primary: true,
            tenant_ids: tenants.iter().map(|s| s.to_string()).collect(),
            time_joined: t,
            email: Some(email.into()),
            phone_number: None,
            third_party: None,
            verified: false,
            password_hash: Some("secret-hash".into()),
            webauthn_credential_ids: Vec::new(),
        }
    }

    #[test]
    fn user_json_unions_and_orders_login_methods() {
        let u = User { id: "p".into(), is_primary: true, login_methods: vec![method("b", 20, "a@x.com", &["t1"]), method("a", 10, "a@x.com", &["public"])] };
        let j = u.to_json();
        assert_eq!(j["timeJoined"], 10);
        assert_eq!(j["emails"], json!(["a@x.com"]));
        assert_eq!(j["tenantIds"], json!(["t1", "public"]));
        assert_eq!(j["loginMethods"][0]["recipeUserId"], "a");
        assert!(!j.to_string().contains("secret-hash"), "password hashes are never rendered");
        assert_eq!(j["webauthn"], json!({"credentialIds": []}));
    }

    #[test]
    fn webauthn_login_methods_carry_their_credential_ids() {
        let mut w = method("w", 30, "a@x.com", &["public"]);
        w.recipe_id = RecipeId::WebAuthn;
        w.webauthn_credential_ids = vec!["c1".into(), "c2".into()];
        let u = User { id: "p".into(), is_primary: true, login_methods: vec![method("a", 10, "a@x.com", &["public"]), w] };
        let j = u.to_json();
        assert_eq!(j["webauthn"], json!({"credentialIds": ["c1", "c2"]}));
        assert_eq!(j["loginMethods"][1]["webauthn"], json!({"credentialIds": ["c1", "c2"]}));
        assert_eq!(j["loginMethods"][1]["recipeId"], "webauthn");
        assert!(j["loginMethods"][0].get("webauthn").is_none());
    }

    #[test]
    fn mapped_ids_are_rendered_as_external_ids() {
        let mut m = method("p", 10, "a@x.com", &["public"]);
        m.external_user_id = Some("ext-1".into());
        let u = User { id: "p".into(), is_primary: false, login_methods: vec![m] };
        let j = u.to_json();
        assert_eq!(j["id"], "ext-1");
        assert_eq!(j["loginMethods"][0]["recipeUserId"], "ext-1");
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(normalise_email("  A@Example.COM "), "a@example.com");
    }
}
