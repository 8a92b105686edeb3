//! Register and sign-in options: the core's defaults and validation (reasons verbatim), the rows
//! they become, the JSON the core answers with, and the rules of their use.
//!
//! Use: options are single-use and expire. Every ceremony checks `expires_at < now` ("Options
//! expired", an INVALID_OPTIONS_ERROR); reading them back (GET) does not. Sign-up and credential
//! registration delete their options in the transaction that writes the credential. Sign-in
//! options are the SDK trap: supertokens-node 24 and python 0.31 call `signin` and *then* read the
//! same options again (GET), so at CDI ≤ 5.4 a used sign-in options row is not deleted but marked
//! consumed — `expires_at = created_at - 1`, which no fresh row can have (timeouts are ≥ 0) — so
//! that GET still finds it while every ceremony treats it as gone (OPTIONS_NOT_FOUND_ERROR), and a
//! Java core sharing the database sees it as expired. From CDI 5.5 (the Java core's single-use
//! version) it is deleted. Failed attempts never consume options.

use serde_json::{json, Value};

use super::storage::GeneratedOptions;
pub use super::storage::SignInConsumption;
use super::{b64url, origin, WebauthnError, MAX_COLUMN_CHARS};
use crate::crypto::{random_bytes, uuid_v4, CryptoError};
use crate::input::{fits, InvalidInput};
use crate::users::normalise_email;

/// The core's defaults when a request leaves a value out (the SDKs send their own).
pub const DEFAULT_TIMEOUT_MS: i64 = 6000;
pub const DEFAULT_ATTESTATION: &str = "none";
pub const DEFAULT_RESIDENT_KEY: &str = "required";
pub const DEFAULT_USER_VERIFICATION: &str = "preferred";
/// EdDSA, ES256, RS256 (COSE algorithm ids).
pub const DEFAULT_ALGORITHMS: [i64; 3] = [-8, -7, -257];

const USER_VERIFICATION_VALUES: [&str; 3] = ["required", "discouraged", "preferred"];
const ATTESTATION_VALUES: [&str; 4] = ["none", "indirect", "direct", "enterprise"];
const RESIDENT_KEY_VALUES: [&str; 3] = ["required", "discouraged", "preferred"];

/// Why options were refused: a 400 (a value that cannot be stored) or an INVALID_OPTIONS_ERROR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsError {
    BadInput(InvalidInput),
    Invalid(WebauthnError),
}

impl From<InvalidInput> for OptionsError {
    fn from(e: InvalidInput) -> Self {
        OptionsError::BadInput(e)
    }
}

fn invalid(reason: impl Into<String>) -> OptionsError {
    OptionsError::Invalid(WebauthnError::InvalidOptions(reason.into()))
}

/// The fields of `POST /<t>/recipe/webauthn/options/register` as the request gave them (`None` =
/// absent). `supported_algorithm_ids` is the `supportedAlgorithmIDs` array's elements (the core's
/// spelling; the SDKs' `supportedAlgorithmIds` is not read, as in the core).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegisterOptionsRequest {
    pub email: String,
    pub display_name: Option<String>,
    pub relying_party_name: String,
    pub relying_party_id: String,
    pub origin: String,
    pub timeout: Option<i64>,
    pub attestation: Option<String>,
    pub resident_key: Option<String>,
    pub user_verification: Option<String>,
    pub user_presence: Option<bool>,
    pub supported_algorithm_ids: Option<Vec<Value>>,
}

/// The fields of `POST /<t>/recipe/webauthn/options/signin`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInOptionsRequest {
    pub relying_party_name: String,
    pub relying_party_id: String,
    pub origin: String,
    pub timeout: Option<i64>,
    pub user_verification: Option<String>,
    pub user_presence: Option<bool>,
}

/// What is common to both kinds of options once defaulted and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Common {
    rp_id: String,
    rp_name: String,
    origin: String,
    timeout: i64,
    user_verification: String,
    user_presence: bool,
}

/// Valid register options, ready to be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterOptions {
    common: Common,
    email: String,
    display_name: String,
    attestation: String,
    resident_key: String,
    algorithms: Vec<i64>,
}

/// Valid sign-in options, ready to be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInOptions {
    common: Common,
}

/// The random parts of new options (injected so that tests are deterministic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fresh {
    /// A UUID: the options id.
    pub id: String,
    pub challenge: [u8; 32],
}

impl Fresh {
    pub fn generate() -> Result<Fresh, CryptoError> {
        let mut challenge = [0u8; 32];
        challenge.copy_from_slice(&random_bytes(32)?);
        Ok(Fresh { id: uuid_v4()?, challenge })
    }
}

fn or_default(value: Option<String>, default: &str) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

fn one_of(value: &str, allowed: &[&str], field: &str) -> Result<(), OptionsError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(invalid(format!("Invalid value '{value}' for {field}. Must be one of: {}", allowed.join(", "))))
}

/// An algorithm id as Gson's `getAsLong` reads it: numbers (fractions truncated) and numeric strings.
fn algorithm_id(v: &Value) -> Result<i64, OptionsError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| invalid(format!("For input string: \"{n}\""))),
        Value::String(s) => s.parse::<i64>().map_err(|_| invalid(format!("For input string: \"{s}\""))),
        Value::Bool(b) => Err(invalid(format!("For input string: \"{b}\""))),
        _ => Err(invalid("supportedAlgorithmIDs has to be an array of integers")),
    }
}

/// The validator's checks in the core's order (origin, timeout, userVerification, then the
/// register-only values), then the column widths (a 400, where the core would fail writing).
fn common(rp_id: String, rp_name: String, origin: String, timeout: Option<i64>, uv: Option<String>, up: Option<bool>) -> Result<Common, OptionsError> {
    origin::check_for_relying_party(&origin, &rp_id).map_err(invalid)?;
    let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT_MS);
    if timeout < 0 {
        return Err(invalid("Timeout must be a positive value"));
    }
    let user_verification = or_default(uv, DEFAULT_USER_VERIFICATION);
    one_of(&user_verification, &USER_VERIFICATION_VALUES, "userVerification")?;
    Ok(Common { rp_id, rp_name, origin, timeout, user_verification, user_presence: up.unwrap_or(false) })
}

fn check_widths(c: &Common) -> Result<(), OptionsError> {
    fits("relyingPartyId", &c.rp_id, MAX_COLUMN_CHARS)?;
    fits("relyingPartyName", &c.rp_name, MAX_COLUMN_CHARS)?;
    fits("origin", &c.origin, MAX_COLUMN_CHARS)?;
    Ok(())
}

impl RegisterOptions {
    pub fn validate(req: RegisterOptionsRequest) -> Result<RegisterOptions, OptionsError> {
        let email = normalise_email(&req.email);
        let display_name = or_default(req.display_name, &email);
        let common = common(req.relying_party_id, req.relying_party_name, req.origin, req.timeout, req.user_verification, req.user_presence)?;
        let attestation = or_default(req.attestation, DEFAULT_ATTESTATION);
        one_of(&attestation, &ATTESTATION_VALUES, "attestation")?;
        let resident_key = or_default(req.resident_key, DEFAULT_RESIDENT_KEY);
        one_of(&resident_key, &RESIDENT_KEY_VALUES, "residentKey")?;
        let algorithms = match req.supported_algorithm_ids {
            None => DEFAULT_ALGORITHMS.to_vec(),
            Some(ids) => ids.iter().map(algorithm_id).collect::<Result<_, _>>()?,
        };
        fits("email", &email, MAX_COLUMN_CHARS)?;
        check_widths(&common)?;
        Ok(RegisterOptions { common, email, display_name, attestation, resident_key, algorithms })
    }

    /// The normalised email (the handler looks up the primary users having it, for `user_handle_id`).
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The row to store and the response, with `status` (the handler names it) where the core puts it. `user_handle_id` is the SuperTokens id of the tenant's
    /// oldest primary user with this email, if any; otherwise the options id is the user handle.
    pub fn generate(&self, tenant_id: &str, fresh: &Fresh, user_handle_id: Option<&str>, now: i64, status: Value) -> (GeneratedOptions, Value) {
        let row = row(&self.common, tenant_id, fresh, Some(self.email.clone()), now);
        let user_handle = user_handle_id.unwrap_or(&fresh.id);
        let params: Vec<Value> = self.algorithms.iter().map(|alg| json!({"alg": alg, "type": "public-key"})).collect();
        let response = json!({
            "webauthnGeneratedOptionsId": row.id,
            "rp": {"id": row.rp_id, "name": row.rp_name},
            "user": {"id": b64url(user_handle.as_bytes()), "name": self.email, "displayName": self.display_name},
            "email": self.email,
            "timeout": self.common.timeout,
            "challenge": row.challenge,
            "attestation": self.attestation,
            "createdAt": row.created_at,
            "expiresAt": row.expires_at,
            "pubKeyCredParams": params,
            "excludeCredentials": [],
            "authenticatorSelection": {
                "requireResidentKey": self.resident_key == "required",
                "residentKey": self.resident_key,
                "userVerification": self.common.user_verification,
            },
            "status": status,
        });
        (row, response)
    }
}

impl SignInOptions {
    pub fn validate(req: SignInOptionsRequest) -> Result<SignInOptions, OptionsError> {
        let common = common(req.relying_party_id, req.relying_party_name, req.origin, req.timeout, req.user_verification, req.user_presence)?;
        check_widths(&common)?;
        Ok(SignInOptions { common })
    }

    pub fn generate(&self, tenant_id: &str, fresh: &Fresh, now: i64, status: Value) -> (GeneratedOptions, Value) {
        let row = row(&self.common, tenant_id, fresh, None, now);
        let response = json!({
            "webauthnGeneratedOptionsId": row.id,
            "relyingPartyId": row.rp_id,
            "challenge": row.challenge,
            "timeout": self.common.timeout,
            "userVerification": row.user_verification,
            "userPresence": row.user_presence_required,
            "createdAt": row.created_at,
            "expiresAt": row.expires_at,
            "status": status,
        });
        (row, response)
    }
}

fn row(c: &Common, tenant_id: &str, fresh: &Fresh, email: Option<String>, now: i64) -> GeneratedOptions {
    GeneratedOptions {
        tenant_id: tenant_id.to_owned(),
        id: fresh.id.clone(),
        challenge: b64url(&fresh.challenge),
        email,
        rp_id: c.rp_id.clone(),
        rp_name: c.rp_name.clone(),
        origin: c.origin.clone(),
        expires_at: now.saturating_add(c.timeout),
        created_at: now,
        user_presence_required: c.user_presence,
        user_verification: c.user_verification.clone(),
    }
}

/// `GET /<t>/recipe/webauthn/options`: the stored options (expired or consumed ones too). `email`
/// is `null` for sign-in options; `timeout` is derived, so consumed options show `-1`.
pub fn options_json(o: &GeneratedOptions, status: Value) -> Value {
    json!({
        "status": status,
        "webauthnGeneratedOptionsId": o.id,
        "relyingPartyId": o.rp_id,
        "relyingPartyName": o.rp_name,
        "challenge": o.challenge,
        "timeout": o.expires_at.saturating_sub(o.created_at),
        "origin": o.origin,
        "email": o.email,
        "createdAt": o.created_at,
        "expiresAt": o.expires_at,
        "userVerification": o.user_verification,
        "userPresence": o.user_presence_required,
    })
}

/// What a ceremony about to use options may still do with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionsState {
    Usable,
    Expired,
    /// Used by a sign-in already (kept for the SDKs' read-back).
    Consumed,
}

impl GeneratedOptions {
    pub fn is_consumed(&self) -> bool {
        self.expires_at < self.created_at
    }

    pub fn state(&self, now: i64) -> OptionsState {
        if self.is_consumed() {
            OptionsState::Consumed
        } else if self.expires_at < now {
            OptionsState::Expired
        } else {
            OptionsState::Usable
        }
    }

    /// Whether the options ask for user verification (`required`, in any case, as the core reads it).
    pub fn user_verification_required(&self) -> bool {
        self.user_verification.eq_ignore_ascii_case("required")
    }
}

/// Options as a ceremony finds them: absent or consumed ones are not found (the first check of
/// every ceremony, before the credential is even looked at).
pub fn found(options: Option<&GeneratedOptions>) -> Result<&GeneratedOptions, WebauthnError> {
    options.filter(|o| !o.is_consumed()).ok_or(WebauthnError::OptionsNotFound)
}

/// The expiry check every ceremony makes after the credential's shape was checked.
pub fn not_expired(options: &GeneratedOptions, now: i64) -> Result<(), WebauthnError> {
    match options.state(now) {
        OptionsState::Usable => Ok(()),
        OptionsState::Expired => Err(WebauthnError::InvalidOptions("Options expired".into())),
        OptionsState::Consumed => Err(WebauthnError::OptionsNotFound),
    }
}

/// The `expires_at` that marks sign-in options consumed.
pub fn consumed_expires_at(created_at: i64) -> i64 {
    created_at.saturating_sub(1)
}


#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_765_000_000_000;

    fn fresh() -> Fresh {
        Fresh { id: "6c4c5a7e-0000-4000-8000-000000000001".into(), challenge: [9u8; 32] }
    }

    fn register() -> RegisterOptionsRequest {
        RegisterOptionsRequest {
            email: " A@B.com ".into(),
            relying_party_name: "Example".into(),
            relying_party_id: "example.com".into(),
            origin: "https://example.com".into(),
            ..RegisterOptionsRequest::default()
        }
    }

    fn sign_in() -> SignInOptionsRequest {
        SignInOptionsRequest {
            relying_party_name: "Example".into(),
            relying_party_id: "example.com".into(),
            origin: "https://example.com".into(),
            ..SignInOptionsRequest::default()
        }
    }

    fn reason(e: OptionsError) -> String {
        match e {
            OptionsError::Invalid(WebauthnError::InvalidOptions(r)) => r,
            other => panic!("not an INVALID_OPTIONS_ERROR: {other:?}"),
        }
    }

    #[test]
    fn register_options_with_the_core_defaults() {
        let options = RegisterOptions::validate(register()).unwrap();
        assert_eq!(options.email(), "a@b.com");
        let (row, response) = options.generate("public", &fresh(), None, NOW, json!("OK"));
        assert_eq!(
            row,
            GeneratedOptions {
                tenant_id: "public".into(),
                id: fresh().id,
                challenge: b64url(&[9u8; 32]),
                email: Some("a@b.com".into()),
                rp_id: "example.com".into(),
                rp_name: "Example".into(),
                origin: "https://example.com".into(),
                expires_at: NOW + 6000,
                created_at: NOW,
                user_presence_required: false,
                user_verification: "preferred".into(),
            }
        );
        assert_eq!(row.challenge.len(), 43);
        let expected = json!({
            "webauthnGeneratedOptionsId": fresh().id,
            "rp": {"id": "example.com", "name": "Example"},
            "user": {"id": b64url(fresh().id.as_bytes()), "name": "a@b.com", "displayName": "a@b.com"},
            "email": "a@b.com",
            "timeout": 6000,
            "challenge": row.challenge,
            "attestation": "none",
            "createdAt": NOW,
            "expiresAt": NOW + 6000,
            "pubKeyCredParams": [
                {"alg": -8, "type": "public-key"}, {"alg": -7, "type": "public-key"}, {"alg": -257, "type": "public-key"}
            ],
            "excludeCredentials": [],
            "authenticatorSelection": {"requireResidentKey": true, "residentKey": "required", "userVerification": "preferred"},
            "status": "OK",
        });
        assert_eq!(response, expected);
        // The core's key order (13 keys).
        let keys: Vec<&String> = response.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 13);
        assert_eq!(keys[0], "webauthnGeneratedOptionsId");
        assert_eq!(keys[12], "status");
        assert_eq!(b64url(fresh().id.as_bytes()).len(), 48);
    }

    #[test]
    fn register_options_as_the_sdks_send_them() {
        let req = RegisterOptionsRequest {
            display_name: Some("Alice".into()),
            timeout: Some(60_000),
            attestation: Some("direct".into()),
            resident_key: Some("preferred".into()),
            user_verification: Some("required".into()),
            user_presence: Some(true),
            supported_algorithm_ids: Some(vec![json!(-7), json!("-257"), json!(1.9)]),
            ..register()
        };
        let (row, response) = RegisterOptions::validate(req).unwrap().generate("t1", &fresh(), Some("primary-user-id"), NOW, json!("OK"));
        assert_eq!((row.tenant_id.as_str(), row.expires_at, row.user_presence_required), ("t1", NOW + 60_000, true));
        assert_eq!(row.user_verification, "required");
        assert_eq!(response["user"], json!({"id": b64url(b"primary-user-id"), "name": "a@b.com", "displayName": "Alice"}));
        assert_eq!(response["attestation"], "direct");
        assert_eq!(response["pubKeyCredParams"][1], json!({"alg": -257, "type": "public-key"}));
        assert_eq!(response["pubKeyCredParams"][2]["alg"], 1);
        assert_eq!(
            response["authenticatorSelection"],
            json!({"requireResidentKey": false, "residentKey": "preferred", "userVerification": "required"})
        );
        // Empty strings mean the defaults, as in the core.
        let req = RegisterOptionsRequest {
            display_name: Some(String::new()),
            attestation: Some(String::new()),
            resident_key: Some(String::new()),
            user_verification: Some(String::new()),
            ..register()
        };
        let (_, response) = RegisterOptions::validate(req).unwrap().generate("public", &fresh(), None, NOW, json!("OK"));
        assert_eq!(response["user"]["displayName"], "a@b.com");
        assert_eq!(response["attestation"], "none");
        assert_eq!(response["authenticatorSelection"]["residentKey"], "required");
    }

    #[test]
    fn invalid_register_options_have_the_core_reasons_in_its_order() {
        let check = |req: RegisterOptionsRequest| reason(RegisterOptions::validate(req).unwrap_err());
        assert_eq!(check(RegisterOptionsRequest { origin: "nope".into(), timeout: Some(-1), ..register() }), "Origin has to be a valid url!");
        assert_eq!(check(RegisterOptionsRequest { origin: "https://other.com".into(), ..register() }), "Origin does not match RelyingParty Id");
        assert_eq!(
            check(RegisterOptionsRequest { timeout: Some(-1), user_verification: Some("x".into()), ..register() }),
            "Timeout must be a positive value"
        );
        assert_eq!(
            check(RegisterOptionsRequest { user_verification: Some("Required".into()), attestation: Some("x".into()), ..register() }),
            "Invalid value 'Required' for userVerification. Must be one of: required, discouraged, preferred"
        );
        assert_eq!(
            check(RegisterOptionsRequest { attestation: Some("x".into()), resident_key: Some("x".into()), ..register() }),
            "Invalid value 'x' for attestation. Must be one of: none, indirect, direct, enterprise"
        );
        assert_eq!(
            check(RegisterOptionsRequest { resident_key: Some("always".into()), ..register() }),
            "Invalid value 'always' for residentKey. Must be one of: required, discouraged, preferred"
        );
        assert_eq!(check(RegisterOptionsRequest { supported_algorithm_ids: Some(vec![json!("abc")]), ..register() }), "For input string: \"abc\"");
        assert_eq!(check(RegisterOptionsRequest { supported_algorithm_ids: Some(vec![json!(true)]), ..register() }), "For input string: \"true\"");
        assert_eq!(
            check(RegisterOptionsRequest { supported_algorithm_ids: Some(vec![json!(-7), json!({})]), ..register() }),
            "supportedAlgorithmIDs has to be an array of integers"
        );
        // Zero is a valid timeout: options that expire at once.
        assert!(RegisterOptions::validate(RegisterOptionsRequest { timeout: Some(0), ..register() }).is_ok());
        // A huge timeout does not overflow.
        let (row, _) = RegisterOptions::validate(RegisterOptionsRequest { timeout: Some(i64::MAX), ..register() })
            .unwrap()
            .generate("public", &fresh(), None, NOW, json!("OK"));
        assert_eq!(row.expires_at, i64::MAX);
    }

    #[test]
    fn values_too_long_for_the_columns_are_a_400() {
        let long = "x".repeat(257);
        let err = RegisterOptions::validate(RegisterOptionsRequest { email: format!("{long}@b.com"), ..register() }).unwrap_err();
        assert_eq!(err, OptionsError::BadInput(InvalidInput("Field name 'email' must be at most 256 characters long".into())));
        let err = SignInOptions::validate(SignInOptionsRequest { relying_party_name: long.clone(), ..sign_in() }).unwrap_err();
        assert_eq!(err, OptionsError::BadInput(InvalidInput("Field name 'relyingPartyName' must be at most 256 characters long".into())));
        let rp = format!("{}.com", "a".repeat(253));
        let err = SignInOptions::validate(SignInOptionsRequest { relying_party_id: rp.clone(), origin: format!("https://{rp}"), ..sign_in() });
        assert!(matches!(err, Err(OptionsError::BadInput(InvalidInput(m))) if m.contains("relyingPartyId")));
    }

    #[test]
    fn sign_in_options() {
        let (row, response) = SignInOptions::validate(sign_in()).unwrap().generate("public", &fresh(), NOW, json!("OK"));
        assert_eq!(row.email, None);
        assert_eq!(row.expires_at, NOW + 6000);
        assert_eq!(
            response,
            json!({"webauthnGeneratedOptionsId": fresh().id, "relyingPartyId": "example.com", "challenge": b64url(&[9u8; 32]),
                   "timeout": 6000, "userVerification": "preferred", "userPresence": false, "createdAt": NOW,
                   "expiresAt": NOW + 6000, "status": "OK"})
        );
        let req = SignInOptionsRequest { timeout: Some(60_000), user_presence: Some(true), user_verification: Some("discouraged".into()), ..sign_in() };
        let (row, response) = SignInOptions::validate(req).unwrap().generate("public", &fresh(), NOW, json!("OK"));
        assert_eq!((row.user_presence_required, row.user_verification.as_str()), (true, "discouraged"));
        assert_eq!((response["timeout"].as_i64(), response["userPresence"].as_bool()), (Some(60_000), Some(true)));
        let err = SignInOptions::validate(SignInOptionsRequest { user_verification: Some("always".into()), ..sign_in() }).unwrap_err();
        assert_eq!(reason(err), "Invalid value 'always' for userVerification. Must be one of: required, discouraged, preferred");
    }

    #[test]
    fn generated_options_read_back() {
        let (row, _) = SignInOptions::validate(SignInOptionsRequest { timeout: Some(60_000), ..sign_in() })
            .unwrap()
            .generate("public", &fresh(), NOW, json!("OK"));
        let body = options_json(&row, serde_json::json!("OK"));
        assert_eq!(body["email"], Value::Null);
        assert_eq!(body["timeout"], 60_000);
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["status", "webauthnGeneratedOptionsId", "relyingPartyId", "relyingPartyName", "challenge", "timeout", "origin", "email",
             "createdAt", "expiresAt", "userVerification", "userPresence"]
        );
        // Consumed sign-in options stay readable (the SDKs read them after `signin`).
        let consumed = GeneratedOptions { expires_at: consumed_expires_at(row.created_at), ..row };
        assert_eq!(options_json(&consumed, serde_json::json!("OK"))["timeout"], -1);
        assert_eq!(options_json(&consumed, serde_json::json!("OK"))["status"], "OK");
    }

    #[test]
    fn options_are_single_use_and_expire() {
        let (row, _) = SignInOptions::validate(sign_in()).unwrap().generate("public", &fresh(), NOW, json!("OK"));
        assert_eq!(row.state(NOW), OptionsState::Usable);
        assert_eq!(row.state(NOW + 6000), OptionsState::Usable);
        assert_eq!(row.state(NOW + 6001), OptionsState::Expired);
        assert_eq!(found(Some(&row)), Ok(&row));
        assert_eq!(not_expired(&row, NOW + 6000), Ok(()));
        assert_eq!(not_expired(&row, NOW + 6001), Err(WebauthnError::InvalidOptions("Options expired".into())));
        assert_eq!(found(None), Err(WebauthnError::OptionsNotFound));

        let consumed = GeneratedOptions { expires_at: consumed_expires_at(row.created_at), ..row.clone() };
        assert!(consumed.is_consumed());
        assert_eq!(consumed.state(NOW - 10), OptionsState::Consumed);
        assert_eq!(found(Some(&consumed)), Err(WebauthnError::OptionsNotFound));
        assert_eq!(not_expired(&consumed, NOW), Err(WebauthnError::OptionsNotFound));

        // Options that expire at once are usable in their own millisecond, not consumed.
        let instant = GeneratedOptions { expires_at: row.created_at, ..row };
        assert_eq!(instant.state(NOW), OptionsState::Usable);
        assert!(!instant.is_consumed());

        assert_eq!(SignInConsumption::for_cdi(5, 4), SignInConsumption::MarkConsumed);
        assert_eq!(SignInConsumption::for_cdi(4, 0), SignInConsumption::MarkConsumed);
        assert_eq!(SignInConsumption::for_cdi(5, 5), SignInConsumption::Delete);
    }

    #[test]
    fn user_verification_required_is_case_insensitive_as_in_the_core() {
        let (row, _) = SignInOptions::validate(sign_in()).unwrap().generate("public", &fresh(), NOW, json!("OK"));
        assert!(!row.user_verification_required());
        assert!(GeneratedOptions { user_verification: "REQUIRED".into(), ..row }.user_verification_required());
    }

    #[test]
    fn fresh_values_are_random() {
        let (a, b) = (Fresh::generate().unwrap(), Fresh::generate().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.id.len(), 36);
    }
}
