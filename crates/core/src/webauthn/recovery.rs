//! Account-recovery tokens, in the core's format: 32 random bytes, base64url without padding
//! (43 chars), handed out once; the store keeps only `sha256hex(token)`. A token is valid until
//! `expires_at` (inclusive) and is used once: consuming it deletes it (and every other token of
//! its tenant and email) in one guarded statement, so of two concurrent uses one succeeds.

use super::storage::RecoveryTokenRow;
use super::{b64url, WebauthnError, MAX_COLUMN_CHARS};
use crate::crypto::{random_bytes, sha256_hex, CryptoError};
use crate::input::{fits, InvalidInput};
use crate::users::{normalise_email, LoginMethod};

/// A token as handed out, and the hash stored for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryToken {
    pub token: String,
    pub hash: String,
}

impl RecoveryToken {
    pub fn generate() -> Result<RecoveryToken, CryptoError> {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&random_bytes(32)?);
        Ok(RecoveryToken::from_bytes(&bytes))
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> RecoveryToken {
        let token = b64url(bytes);
        let hash = hash_token(&token);
        RecoveryToken { token, hash }
    }
}

/// What a token given by a client is looked up by.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token)
}

/// The row for a new token (`POST /<t>/recipe/webauthn/user/recover/token`): the email is
/// normalised and must fit its column; it is not compared with the user's (as in the core).
/// `lifetime_ms` is `webauthn_recover_account_token_lifetime`.
pub fn token_row(
    tenant_id: &str,
    user_id: &str,
    email: &str,
    token: &RecoveryToken,
    now: i64,
    lifetime_ms: i64,
) -> Result<RecoveryTokenRow, InvalidInput> {
    let email = normalise_email(email);
    fits("email", &email, MAX_COLUMN_CHARS)?;
    Ok(RecoveryTokenRow {
        tenant_id: tenant_id.to_owned(),
        user_id: user_id.to_owned(),
        email,
        token_hash: token.hash.clone(),
        expires_at: now.saturating_add(lifetime_ms),
    })
}

/// A token as read (`GET /<t>/recipe/webauthn/user/recover`): absent or expired is invalid.
pub fn valid(row: Option<RecoveryTokenRow>, now: i64) -> Result<RecoveryTokenRow, WebauthnError> {
    row.filter(|r| r.expires_at >= now).ok_or(WebauthnError::RecoverAccountTokenInvalid)
}

/// The `recipeUserId` of `GET /user/recover`: among the user's webauthn login methods (the
/// caller passes only those), the last joined one that is in the tenant.
pub fn recipe_user_for_recovery<'a>(webauthn_methods: &[&'a LoginMethod], tenant_id: &str) -> Option<&'a LoginMethod> {
    webauthn_methods
        .iter()
        .copied()
        .filter(|m| m.tenant_ids.iter().any(|t| t == tenant_id))
        .max_by_key(|m| m.time_joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::RecipeId;

    #[test]
    fn tokens_in_the_core_format() {
        let t = RecoveryToken::from_bytes(&[0u8; 32]);
        assert_eq!(t.token, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        // sha256("AAA…A" × 43), lower-case hex (computed with Python's hashlib).
        assert_eq!(t.hash, "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a");
        assert_eq!(t.hash, hash_token(&t.token));
        assert_eq!(t.hash.len(), 64);
        let fresh = RecoveryToken::generate().unwrap();
        assert_eq!(fresh.token.len(), 43);
        assert_ne!(fresh, RecoveryToken::generate().unwrap());
    }

    #[test]
    fn rows_expire_and_are_invalid_when_absent() {
        let t = RecoveryToken::from_bytes(&[1u8; 32]);
        let row = token_row("public", "user-1", " Alice@Example.com ", &t, 1_000, 3_600_000).unwrap();
        assert_eq!((row.email.as_str(), row.expires_at, row.token_hash.as_str()), ("alice@example.com", 3_601_000, t.hash.as_str()));
        assert_eq!(valid(Some(row.clone()), 3_601_000), Ok(row.clone()));
        assert_eq!(valid(Some(row), 3_601_001), Err(WebauthnError::RecoverAccountTokenInvalid));
        assert_eq!(valid(None, 0), Err(WebauthnError::RecoverAccountTokenInvalid));
        let long = format!("{}@b.com", "a".repeat(256));
        assert!(token_row("public", "u", &long, &t, 0, 1).is_err());
        assert_eq!(token_row("public", "u", "a@b.com", &t, i64::MAX - 1, 10).unwrap().expires_at, i64::MAX);
    }

    fn method(id: &str, joined: i64, tenants: &[&str]) -> LoginMethod {
        LoginMethod {
            recipe_id: RecipeId::EmailPassword, // the recipe is the caller's filter, not looked at here
            recipe_user_id: id.into(),
            external_user_id: None,
            primary_user_id: id.into(),
            is_linked_or_primary: false,
            tenant_ids: tenants.iter().map(|t| t.to_string()).collect(),
            time_joined: joined,
            email: Some("a@b.com".into()),
            phone_number: None,
            third_party: None,
            verified: false,
            password_hash: None,
            webauthn_credential_ids: Vec::new(),
        }
    }

    #[test]
    fn the_recovered_recipe_user_is_the_last_joined_in_the_tenant() {
        let (a, b, c) = (method("a", 1, &["public"]), method("b", 3, &["t1"]), method("c", 2, &["public", "t1"]));
        let methods = [&a, &b, &c];
        assert_eq!(recipe_user_for_recovery(&methods, "public").map(|m| m.recipe_user_id.as_str()), Some("c"));
        assert_eq!(recipe_user_for_recovery(&methods, "t1").map(|m| m.recipe_user_id.as_str()), Some("b"));
        assert_eq!(recipe_user_for_recovery(&methods, "t2"), None);
        assert_eq!(recipe_user_for_recovery(&[], "public"), None);
    }
}
