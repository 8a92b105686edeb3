//! The two ceremonies, as pure decisions on the loaded options, the loaded credential and the
//! credential JSON (WebAuthn L3 §7.1 and §7.2, in the order and with the messages of webauthn4j,
//! which the Java core uses, plus the checks the core skips: attestation statements, algorithms,
//! the credential id).
//!
//! A ceremony's first check is that its options exist (absent or consumed → OPTIONS_NOT_FOUND),
//! then the credential JSON's shape (INVALID_CREDENTIALS), then — sign-in only — the stored
//! credential (CREDENTIAL_NOT_FOUND), then expiry (INVALID_OPTIONS "Options expired"), then
//! decoding (INVALID_CREDENTIALS) and verification (INVALID_AUTHENTICATOR with webauthn4j's reason).

pub mod attestation;
pub mod authenticator_data;
pub mod client_data;
pub mod cose;

use ring::digest::{digest, SHA256};
use serde_json::Value;

use self::attestation::{AttestationKind, AttestationObject};
use self::authenticator_data::{AuthenticatorData, FLAG_BE, FLAG_BS, FLAG_UP, FLAG_UV};
use self::client_data::{Ceremony, ClientData};
use self::cose::PublicKey;
use super::credential::{check_shape, parse_assertion, parse_registration, AssertionCredential, RegistrationCredential};
use super::options::{found, not_expired};
use super::storage::{CredentialWithTenants, GeneratedOptions, StoredCredential};
use super::WebauthnError;

/// A registration that verified: what the credential row gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedRegistration {
    /// The credential JSON's `id`, as received (it decodes to the attested credential id).
    pub credential_id: String,
    /// The attested credential data (`webauthn_credentials.public_key`).
    pub public_key: Vec<u8>,
    pub counter: i64,
    pub transports: String,
    /// The credential key's COSE algorithm.
    pub algorithm: i64,
    pub format: String,
    pub attestation: AttestationKind,
    /// The options' email and relying party: the new user's email, the credential's rp id.
    pub email: String,
    pub rp_id: String,
    pub rp_name: String,
}

impl VerifiedRegistration {
    /// The `webauthn_credentials` row for `user_id`.
    pub fn credential_row(&self, user_id: &str, now: i64) -> StoredCredential {
        StoredCredential {
            id: self.credential_id.clone(),
            rp_id: self.rp_id.clone(),
            user_id: user_id.to_owned(),
            counter: self.counter,
            public_key: self.public_key.clone(),
            transports: self.transports.clone(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// A sign-in that verified: the counter to store (guarded by the one compared against).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub credential_id: String,
    pub rp_id: String,
    /// The SuperTokens recipe user owning the credential.
    pub user_id: String,
    pub old_counter: i64,
    pub new_counter: i64,
}

/// Sign-up (`/signup`) and credential registration (`/user/credential/register`): decides on
/// the options found (`None` when there were none) and the `credential` JSON at `now`.
pub fn registration(options: Option<&GeneratedOptions>, credential: &Value, now: i64) -> Result<VerifiedRegistration, WebauthnError> {
    let options = found(options)?;
    check_shape(credential)?;
    not_expired(options, now)?;
    let email = options
        .email
        .clone()
        .ok_or_else(|| WebauthnError::InvalidOptions("Options were not generated for registration".into()))?;
    let parsed = parse_registration(credential)?;
    verify_registration(options, &parsed, email)
}

fn verify_registration(options: &GeneratedOptions, c: &RegistrationCredential, email: String) -> Result<VerifiedRegistration, WebauthnError> {
    let client_data = ClientData::parse(&c.client_data_json)?;
    let object = AttestationObject::decode(&c.attestation_object)?;
    let auth_data = AuthenticatorData::parse(&object.auth_data).map_err(WebauthnError::InvalidCredentials)?;
    let (Some(attested), Some(public_key)) = (&auth_data.attested, &auth_data.attested_bytes) else {
        return Err(WebauthnError::invalid_authenticator("attestedCredentialData must not be null on registration"));
    };
    check_ids(&c.id_bytes, c.raw_id.as_deref(), &attested.credential_id)?;
    client_data.check(Ceremony::Create, options)?;
    check_rp_and_flags(options, &auth_data)?;
    let key = PublicKey::from_cose(&attested.key).map_err(|e| WebauthnError::InvalidAuthenticator(e.reason()))?;
    let client_data_hash = digest(&SHA256, &c.client_data_json);
    let attestation = object.verify(&auth_data, &key, client_data_hash.as_ref())?;
    Ok(VerifiedRegistration {
        credential_id: c.id.clone(),
        public_key: public_key.clone(),
        counter: i64::from(auth_data.sign_count),
        transports: c.transports.clone(),
        algorithm: key.algorithm(),
        format: object.fmt,
        attestation,
        email,
        rp_id: options.rp_id.clone(),
        rp_name: options.rp_name.clone(),
    })
}

/// The first steps of a sign-in (`/signin`), before the credential is loaded: the options must
/// exist and the credential JSON be well formed. Returns the credential id to load.
pub fn sign_in_credential_id(options: Option<&GeneratedOptions>, credential: &Value) -> Result<String, WebauthnError> {
    found(options)?;
    check_shape(credential)
}

/// The rest of a sign-in, on the credential loaded by `(app, options' rp id, id)` with its user's
/// tenants. A credential whose user is not in the options' tenant is not found there.
pub fn sign_in(
    options: &GeneratedOptions,
    credential: &Value,
    stored: Option<&CredentialWithTenants>,
    now: i64,
) -> Result<VerifiedAssertion, WebauthnError> {
    let stored = stored
        .filter(|s| s.user_tenant_ids.contains(&options.tenant_id))
        .ok_or(WebauthnError::CredentialNotFound)?;
    not_expired(options, now)?;
    let parsed = parse_assertion(credential)?;
    verify_assertion(options, &stored.credential, &parsed)
}

fn verify_assertion(options: &GeneratedOptions, stored: &StoredCredential, c: &AssertionCredential) -> Result<VerifiedAssertion, WebauthnError> {
    let client_data = ClientData::parse(&c.client_data_json)?;
    let auth_data = AuthenticatorData::parse(&c.authenticator_data).map_err(WebauthnError::InvalidCredentials)?;
    if let Some(raw_id) = &c.raw_id {
        if *raw_id != c.id_bytes {
            return Err(WebauthnError::invalid_credentials("credential rawId does not match its id"));
        }
    }
    if auth_data.attested.is_some() {
        return Err(WebauthnError::invalid_authenticator("attestedCredentialData must be null on authentication"));
    }
    client_data.check(Ceremony::Get, options)?;
    check_rp_and_flags(options, &auth_data)?;
    let key = cose::stored_public_key(&stored.public_key)
        .map_err(|why| WebauthnError::invalid_authenticator(format!("The stored credential public key cannot be used: {why}")))?;
    let client_data_hash = digest(&SHA256, &c.client_data_json);
    let signed = [c.authenticator_data.as_slice(), client_data_hash.as_ref()].concat();
    if !key.verify(&signed, &c.signature) {
        return Err(WebauthnError::invalid_authenticator("Assertion signature is not valid."));
    }
    let presented = i64::from(auth_data.sign_count);
    if (presented > 0 || stored.counter > 0) && presented <= stored.counter {
        return Err(counter_went_backwards());
    }
    Ok(VerifiedAssertion {
        credential_id: stored.id.clone(),
        rp_id: stored.rp_id.clone(),
        user_id: stored.user_id.clone(),
        old_counter: stored.counter,
        new_counter: presented,
    })
}

/// A counter that did not grow: the authenticator was cloned, or the assertion replayed. Also
/// the answer when a concurrent sign-in moved the stored counter first.
pub fn counter_went_backwards() -> WebauthnError {
    WebauthnError::invalid_authenticator("Malicious counter value is detected. Cloned authenticators exist in parallel.")
}

/// The JSON `id` (and `rawId`, when sent) must name the credential the authenticator attested.
fn check_ids(id: &[u8], raw_id: Option<&[u8]>, attested: &[u8]) -> Result<(), WebauthnError> {
    if id != attested || raw_id.is_some_and(|r| r != attested) {
        return Err(WebauthnError::invalid_credentials("credential id does not match the attested credential id"));
    }
    Ok(())
}

/// The relying party's hash and the flags the options ask for.
fn check_rp_and_flags(options: &GeneratedOptions, auth_data: &AuthenticatorData) -> Result<(), WebauthnError> {
    if digest(&SHA256, options.rp_id.as_bytes()).as_ref() != auth_data.rp_id_hash {
        return Err(WebauthnError::invalid_authenticator("rpIdHash doesn't match the hash of preconfigured rpId."));
    }
    if options.user_presence_required && !auth_data.has(FLAG_UP) {
        return Err(WebauthnError::invalid_authenticator(
            "Verifier is configured to check user present, but UP flag in authenticatorData is not set.",
        ));
    }
    if options.user_verification_required() && !auth_data.has(FLAG_UV) {
        return Err(WebauthnError::invalid_authenticator(
            "Verifier is configured to check user verified, but UV flag in authenticatorData is not set.",
        ));
    }
    if auth_data.has(FLAG_BS) && !auth_data.has(FLAG_BE) {
        return Err(WebauthnError::invalid_authenticator("Backup state bit must not be set if backup eligibility bit is not set"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
