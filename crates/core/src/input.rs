//! Rules every recipe applies to the values a request names: the place for per-field checks (what
//! may be empty, how long a value may be) so that each recipe states its fields' limits here once.
//! Whatever is written must fit the schema's columns, so an oversized value is a 400 rather than a
//! database error; PostgreSQL refuses NUL in text, so a value carrying one can never name a row.

/// `user_roles.user_id`, `user_metadata.user_id`, `totp_users.user_id` are VARCHAR(128).
pub const MAX_USER_ID_CHARS: usize = 128;

/// The columns a request field is stored in, by the field's name as the CDI spells it at the top
/// level of a body (the seed's column sizes; PostgreSQL refuses longer values with an error,
/// SQLite would store them). A value longer than every column it can be compared with can
/// match no stored row either, so the check holds for lookups too.
pub const FIELD_COLUMNS: &[(&str, usize)] = &[
    ("email", 256),              // emailpassword_users.email, passwordless_users.email, thirdparty_users.email, …
    ("phoneNumber", 256),        // passwordless_users.phone_number
    ("thirdPartyId", 28),        // thirdparty_users.third_party_id
    ("thirdPartyUserId", 256),   // thirdparty_users.third_party_user_id
    ("userId", MAX_USER_ID_CHARS),
    ("recipeUserId", MAX_USER_ID_CHARS),
    ("primaryUserId", MAX_USER_ID_CHARS),
    ("superTokensUserId", MAX_USER_ID_CHARS),
    ("externalUserId", MAX_USER_ID_CHARS), // userid_mapping.external_user_id
    ("tenantId", 64),            // tenants.tenant_id
    ("appId", 64),               // apps.app_id
    ("connectionUriDomain", 256),
    ("sessionHandle", 255),      // session_info.session_handle
];

/// A top-level request field within its column (see [`FIELD_COLUMNS`]); other fields pass.
pub fn field_fits(field: &str, value: &str) -> Result<(), InvalidInput> {
    match FIELD_COLUMNS.iter().find(|(name, _)| *name == field) {
        Some(&(_, max)) => fits(field, value, max),
        None => Ok(()),
    }
}

/// Input the core refuses with a 400; the message is the core's where the core has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

impl From<InvalidInput> for crate::error::Error {
    fn from(e: InvalidInput) -> Self {
        crate::error::Error::BadInput(e.0)
    }
}

/// Java's `String.trim()`: strips every character up to U+0020 (controls and space) at both ends,
/// and nothing else (not Unicode spaces), so names normalise exactly as the core stores them.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// A value with a NUL can never name a stored row (PostgreSQL refuses NUL in text).
pub fn no_nul(field: &str, value: &str) -> Result<(), InvalidInput> {
    if value.contains('\0') {
        return Err(InvalidInput(format!("Field name '{field}' cannot contain a NUL character")));
    }
    Ok(())
}

/// A user id named in a request. User ids are opaque (not trimmed; empty is allowed, as in the core).
pub fn user_id(raw: &str) -> Result<(), InvalidInput> {
    no_nul("userId", raw)
}

/// A user id about to be written: also within its column.
pub fn stored_user_id(raw: &str) -> Result<(), InvalidInput> {
    user_id(raw)?;
    fits("userId", raw, MAX_USER_ID_CHARS)
}

/// Checks that a value about to be written fits its column (PostgreSQL counts characters).
pub fn fits(field: &str, value: &str, max_chars: usize) -> Result<(), InvalidInput> {
    if value.chars().count() > max_chars {
        return Err(InvalidInput(format!("Field name '{field}' must be at most {max_chars} characters long")));
    }
    Ok(())
}

/// A field that may not be empty, with the TOTP APIs' message.
pub fn not_empty(field: &str, value: &str) -> Result<(), InvalidInput> {
    if value.is_empty() {
        return Err(InvalidInput(format!("{field} cannot be empty")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters() {
        assert!(fits("role", &"é".repeat(255), 255).is_ok());
        assert!(fits("role", &"a".repeat(256), 255).is_err());
        assert!(fits("userId", &"a".repeat(129), MAX_USER_ID_CHARS).is_err());
        assert!(stored_user_id(&"a".repeat(129)).is_err());
        assert!(user_id("").is_ok());
        assert!(user_id("x\0").is_err());
        assert_eq!(not_empty("deviceName", "").unwrap_err().0, "deviceName cannot be empty");
        // Found by the security probe: these reached PostgreSQL and failed there as 500s.
        assert!(field_fits("email", &format!("{}@x.io", "a".repeat(300))).unwrap_err().0.contains("'email'"));
        assert!(field_fits("thirdPartyId", &"g".repeat(29)).is_err());
        assert!(field_fits("thirdPartyId", &"g".repeat(28)).is_ok());
        assert!(field_fits("tenantId", &"t".repeat(65)).is_err());
        assert!(field_fits("password", &"p".repeat(10_000)).is_ok());
    }
}
