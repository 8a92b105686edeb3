//! Rules every recipe applies to the values a request names: the place for per-field checks (what
//! may be empty, how long a value may be) so that each recipe states its fields' limits here once.
//! Whatever is written must fit the schema's columns, so an oversized value is a 400 rather than a
//! database error; PostgreSQL refuses NUL in text, so a value carrying one can never name a row.

/// `user_roles.user_id`, `user_metadata.user_id`, `totp_users.user_id` are VARCHAR(128).
pub const MAX_USER_ID_CHARS: usize = 128;

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
    }
}
