//! The user object by CDI version, for the APIs that return users (sign-up/in, import, get user,
//! users by email, the users list, passwordless consume, third-party sign-in-up).
//!
//! - CDI 5.3 and later: [`User::to_json`] (with `webauthn`).
//! - 4.0 – 5.2: the same without `webauthn` (Portcullis has no webauthn login methods, so nothing
//!   else of the object depends on the toggle).
//! - below 4.0, before account linking: the legacy object built from the user's *earliest* login
//!   method alone — `{id, timeJoined, tenantIds, email}` (email-password),
//!   `{id, timeJoined, tenantIds, email, thirdParty: {id, userId}}` (third party),
//!   `{id, timeJoined, tenantIds, [email], [phoneNumber]}` (passwordless) — where `id`, `timeJoined`
//!   and `tenantIds` are that login method's; below 3.0 without `tenantIds`.
//!
//! `id` is the login method's id as clients see it (external when mapped). The core's sign-up and
//! third-party/passwordless sign-up responses show the SuperTokens id; their callers pass users
//! whose `external_user_id` is unset there.

use serde_json::{json, Map, Value};

use crate::cdi::CdiVersion;
use crate::users::{LoginMethod, RecipeId, User};

/// The user object the core returns at `cdi`.
pub fn user_json(user: &User, cdi: CdiVersion) -> Value {
    if cdi < CdiVersion::V4_0 {
        return legacy_user_json(user, cdi);
    }
    linked_user_json(user, cdi)
}

/// The account-linking user object at any version (the APIs born with account linking — get user by
/// id, users by account info, primary/link — never had a legacy shape): `webauthn` only from 5.3.
pub fn linked_user_json(user: &User, cdi: CdiVersion) -> Value {
    let mut v = user.to_json();
    if cdi < CdiVersion::V5_3 {
        if let Value::Object(o) = &mut v {
            o.shift_remove("webauthn");
        }
    }
    v
}

/// The login method the legacy object shows: the earliest joined (the first of equal times).
pub fn earliest_login_method(user: &User) -> Option<&LoginMethod> {
    user.login_methods.iter().min_by_key(|m| m.time_joined)
}

/// The pre-4.0 user object (the core's `toJsonWithoutAccountLinking`), without `tenantIds` below 3.0.
pub fn legacy_user_json(user: &User, cdi: CdiVersion) -> Value {
    let Some(m) = earliest_login_method(user) else {
        // A user always has a login method; render the id alone rather than fail.
        return json!({"id": user.public_id(), "timeJoined": user.time_joined()});
    };
    let mut o = Map::new();
    o.insert("id".into(), json!(m.public_id()));
    o.insert("timeJoined".into(), json!(m.time_joined));
    if cdi >= CdiVersion::V3_0 {
        o.insert("tenantIds".into(), json!(m.tenant_ids));
    }
    match m.recipe_id {
        // WebAuthn came with CDI 5.3; a webauthn user read through an older version shows its email.
        RecipeId::EmailPassword | RecipeId::WebAuthn => {
            o.insert("email".into(), json!(m.email));
        }
        RecipeId::ThirdParty => {
            o.insert("email".into(), json!(m.email));
            if let Some(t) = &m.third_party {
                o.insert("thirdParty".into(), json!({"id": t.id, "userId": t.user_id}));
            }
        }
        RecipeId::Passwordless => {
            if let Some(e) = &m.email {
                o.insert("email".into(), json!(e));
            }
            if let Some(p) = &m.phone_number {
                o.insert("phoneNumber".into(), json!(p));
            }
        }
    }
    Value::Object(o)
}

/// One entry of `GET /<t>/users`' `users`: below 4.0 `{"recipeId", "user": <legacy object>}` (the
/// recipe of the earliest login method), from 4.0 the user object itself.
pub fn users_list_entry(user: &User, cdi: CdiVersion) -> Value {
    if cdi >= CdiVersion::V4_0 {
        return user_json(user, cdi);
    }
    let recipe = earliest_login_method(user).map_or(RecipeId::EmailPassword, |m| m.recipe_id);
    json!({"recipeId": recipe.as_str(), "user": legacy_user_json(user, cdi)})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::ThirdPartyInfo;

    fn v(s: &str) -> CdiVersion {
        CdiVersion::parse_listed(s).unwrap()
    }

    fn method(recipe: RecipeId, id: &str, t: i64) -> LoginMethod {
        LoginMethod {
            recipe_id: recipe,
            recipe_user_id: id.into(),
            external_user_id: None,
            primary_user_id: id.into(),
            is_linked_or_primary: false,
            tenant_ids: vec!["public".into(), "t1".into()],
            time_joined: t,
            email: None,
            phone_number: None,
            third_party: None,
            verified: false,
            password_hash: None,
            webauthn_credential_ids: Vec::new(),
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn legacy_objects_per_recipe() {
        let ep = LoginMethod { email: Some("a@x.com".into()), password_hash: Some("hash".into()), ..method(RecipeId::EmailPassword, "u1", 10) };
        let u = User { id: "u1".into(), is_primary: false, login_methods: vec![ep] };
        assert_eq!(user_json(&u, v("3.0")), json!({"id": "u1", "timeJoined": 10, "tenantIds": ["public", "t1"], "email": "a@x.com"}));
        assert_eq!(keys(&user_json(&u, v("3.0"))), ["id", "timeJoined", "tenantIds", "email"]);
        assert_eq!(user_json(&u, v("2.21")), json!({"id": "u1", "timeJoined": 10, "email": "a@x.com"}), "no tenantIds below 3.0");
        assert!(!user_json(&u, v("2.7")).to_string().contains("hash"));

        let tp = LoginMethod {
            email: Some("b@x.com".into()),
            third_party: Some(ThirdPartyInfo { id: "google".into(), user_id: "g-1".into() }),
            ..method(RecipeId::ThirdParty, "u2", 20)
        };
        let u = User { id: "u2".into(), is_primary: false, login_methods: vec![tp] };
        assert_eq!(keys(&user_json(&u, v("3.1"))), ["id", "timeJoined", "tenantIds", "email", "thirdParty"]);
        assert_eq!(user_json(&u, v("3.1"))["thirdParty"], json!({"id": "google", "userId": "g-1"}));

        let pl = LoginMethod { phone_number: Some("+14155550100".into()), ..method(RecipeId::Passwordless, "u3", 30) };
        let u = User { id: "u3".into(), is_primary: false, login_methods: vec![pl] };
        assert_eq!(user_json(&u, v("2.21")), json!({"id": "u3", "timeJoined": 30, "phoneNumber": "+14155550100"}));
    }

    #[test]
    fn a_linked_user_shows_its_earliest_login_method_and_mapped_ids() {
        let late = LoginMethod { email: Some("late@x.com".into()), ..method(RecipeId::EmailPassword, "b", 50) };
        let early = LoginMethod {
            email: Some("early@x.com".into()),
            external_user_id: Some("ext-a".into()),
            tenant_ids: vec!["public".into()],
            ..method(RecipeId::Passwordless, "a", 5)
        };
        let u = User { id: "a".into(), is_primary: true, login_methods: vec![late, early] };
        assert_eq!(user_json(&u, v("3.0")), json!({"id": "ext-a", "timeJoined": 5, "tenantIds": ["public"], "email": "early@x.com"}));
        assert_eq!(users_list_entry(&u, v("3.0"))["recipeId"], "passwordless");
        assert_eq!(users_list_entry(&u, v("2.21"))["user"], json!({"id": "ext-a", "timeJoined": 5, "email": "early@x.com"}));
    }

    #[test]
    fn webauthn_only_from_5_3() {
        let ep = LoginMethod { email: Some("a@x.com".into()), ..method(RecipeId::EmailPassword, "u1", 10) };
        let u = User { id: "u1".into(), is_primary: false, login_methods: vec![ep] };
        for cdi in ["4.0", "5.0", "5.1", "5.2"] {
            let j = user_json(&u, v(cdi));
            assert!(j.get("webauthn").is_none(), "{cdi}");
            assert_eq!(keys(&j), ["id", "isPrimaryUser", "tenantIds", "timeJoined", "emails", "phoneNumbers", "thirdParty", "loginMethods"]);
        }
        for cdi in ["5.3", "5.4"] {
            assert_eq!(user_json(&u, v(cdi)), u.to_json());
        }
        assert_eq!(users_list_entry(&u, v("4.0")), user_json(&u, v("4.0")));
    }
}
