//! The OK answers of the endpoints that do not answer with options (those are in [`super::options`]),
//! with the core's keys in its order. User ids are as the caller gave them (an external id stays
//! external); `user` is the rendered user object.

use serde_json::{json, Value};

use super::storage::{RecoveryTokenRow, StoredCredential};
use super::verify::VerifiedRegistration;

/// `POST /<t>/recipe/webauthn/signup`.
pub fn signed_up(user: Value, registration: &VerifiedRegistration, recipe_user_id: &str) -> Value {
    json!({
        "status": "OK",
        "user": user,
        "webauthnCredentialId": registration.credential_id,
        "relyingPartyId": registration.rp_id,
        "relyingPartyName": registration.rp_name,
        "recipeUserId": recipe_user_id,
    })
}

/// `POST /<t>/recipe/webauthn/signin`: `recipe_user_id` is the public id of the login method holding the credential.
pub fn signed_in(user: Value, recipe_user_id: &str) -> Value {
    json!({"status": "OK", "user": user, "recipeUserId": recipe_user_id})
}

/// `POST /recipe/webauthn/user/credential/register`.
pub fn credential_registered(registration: &VerifiedRegistration, recipe_user_id: &str) -> Value {
    json!({
        "status": "OK",
        "webauthnCredentialId": registration.credential_id,
        "recipeUserId": recipe_user_id,
        "email": registration.email,
        "relyingPartyId": registration.rp_id,
        "relyingPartyName": registration.rp_name,
    })
}

/// `GET /recipe/webauthn/user/credential`.
pub fn credential(c: &StoredCredential, recipe_user_id: &str) -> Value {
    json!({
        "webauthnCredentialId": c.id,
        "recipeUserId": recipe_user_id,
        "relyingPartyId": c.rp_id,
        "createdAt": c.created_at,
        "updatedAt": c.updated_at,
        "status": "OK",
    })
}

/// `GET /recipe/webauthn/user/credential/list` (an unknown user has no credentials).
pub fn credential_list(credentials: &[StoredCredential], recipe_user_id: &str) -> Value {
    let items: Vec<Value> = credentials
        .iter()
        .map(|c| json!({"webauthnCredentialId": c.id, "recipeUserId": recipe_user_id, "relyingPartyId": c.rp_id, "createdAt": c.created_at}))
        .collect();
    json!({"credentials": items, "status": "OK"})
}

/// `POST /<t>/recipe/webauthn/user/recover/token`.
pub fn recovery_token(token: &str) -> Value {
    json!({"status": "OK", "token": token})
}

/// `POST /<t>/recipe/webauthn/user/recover/token/consume`: `user_id` is the token's user, external
/// when mapped.
pub fn recovery_token_consumed(token: &RecoveryTokenRow, user_id: &str) -> Value {
    json!({"status": "OK", "userId": user_id, "email": token.email})
}

/// `GET /<t>/recipe/webauthn/user/recover`: `recipe_user_id` is `None` (JSON null) when the user
/// has no webauthn login method in the tenant yet (the SDKs then recover by signing up).
pub fn recovery_user(recipe_user_id: Option<&str>, user: Value) -> Value {
    json!({"status": "OK", "recipeUserId": recipe_user_id, "user": user})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webauthn::verify::attestation::AttestationKind;

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    fn stored() -> StoredCredential {
        StoredCredential {
            id: "cred".into(),
            rp_id: "example.com".into(),
            user_id: "internal".into(),
            counter: 3,
            public_key: vec![1],
            transports: "null".into(),
            created_at: 10,
            updated_at: 20,
        }
    }

    fn verified() -> VerifiedRegistration {
        VerifiedRegistration {
            credential_id: "cred".into(),
            public_key: vec![1],
            counter: 0,
            transports: "null".into(),
            algorithm: -7,
            format: "none".into(),
            attestation: AttestationKind::Unverified,
            email: "a@b.com".into(),
            rp_id: "example.com".into(),
            rp_name: "Example".into(),
        }
    }

    #[test]
    fn answers_have_the_core_keys_in_its_order() {
        let user = json!({"id": "u"});
        let v = signed_up(user.clone(), &verified(), "u");
        assert_eq!(keys(&v), ["status", "user", "webauthnCredentialId", "relyingPartyId", "relyingPartyName", "recipeUserId"]);
        assert_eq!(v["relyingPartyName"], "Example");
        assert_eq!(keys(&signed_in(user.clone(), "u")), ["status", "user", "recipeUserId"]);
        let v = credential_registered(&verified(), "external-id");
        assert_eq!(keys(&v), ["status", "webauthnCredentialId", "recipeUserId", "email", "relyingPartyId", "relyingPartyName"]);
        assert_eq!((v["recipeUserId"].as_str(), v["email"].as_str()), (Some("external-id"), Some("a@b.com")));
        let v = credential(&stored(), "external-id");
        assert_eq!(keys(&v), ["webauthnCredentialId", "recipeUserId", "relyingPartyId", "createdAt", "updatedAt", "status"]);
        assert_eq!((v["recipeUserId"].as_str(), v["updatedAt"].as_i64()), (Some("external-id"), Some(20)));
        let v = credential_list(&[stored(), stored()], "e");
        assert_eq!(keys(&v), ["credentials", "status"]);
        assert_eq!(keys(&v["credentials"][1]), ["webauthnCredentialId", "recipeUserId", "relyingPartyId", "createdAt"]);
        assert_eq!(credential_list(&[], "e"), json!({"credentials": [], "status": "OK"}));
        assert_eq!(recovery_token("t").to_string(), r#"{"status":"OK","token":"t"}"#);
        let row = RecoveryTokenRow { tenant_id: "public".into(), user_id: "u".into(), email: "a@b.com".into(), token_hash: "h".into(), expires_at: 1 };
        assert_eq!(recovery_token_consumed(&row, "ext").to_string(), r#"{"status":"OK","userId":"ext","email":"a@b.com"}"#);
        assert_eq!(recovery_user(None, user.clone()).to_string(), r#"{"status":"OK","recipeUserId":null,"user":{"id":"u"}}"#);
        assert_eq!(recovery_user(Some("r"), user)["recipeUserId"], "r");
    }
}
