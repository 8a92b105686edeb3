//! The user roles recipe's input rules (shared with user metadata for user ids): role and permission
//! names are trimmed as the core trims them and must not be empty; whatever is written must fit the
//! schema's columns, so that an oversized value is a 400 rather than a database error.

pub mod storage;

/// `roles.role`, `role_permissions.permission` and `user_roles.role` are VARCHAR(255).
pub const MAX_NAME_CHARS: usize = 255;
/// `user_roles.user_id` and `user_metadata.user_id` are VARCHAR(128).
pub const MAX_USER_ID_CHARS: usize = 128;

/// Input the core refuses with a 400; the message is the core's where the core has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// Java's `String.trim()`: strips every character up to U+0020 (controls and space) at both ends,
/// and nothing else (not Unicode spaces), so names normalise exactly as the core stores them.
pub fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// PostgreSQL refuses NUL in text, so a value carrying one can never name a stored row.
fn no_nul(field: &str, value: &str) -> Result<(), InvalidInput> {
    if value.contains('\0') {
        return Err(InvalidInput(format!("Field name '{field}' cannot contain a NUL character")));
    }
    Ok(())
}

/// A role (or, with `field = "permission"`, a permission) named in a request: trimmed, not empty.
pub fn name(field: &str, raw: &str) -> Result<String, InvalidInput> {
    let trimmed = java_trim(raw);
    if trimmed.is_empty() {
        return Err(InvalidInput(format!("Field name '{field}' cannot be an empty String")));
    }
    no_nul(field, trimmed)?;
    Ok(trimmed.to_owned())
}

/// The `permissions` list of a request: each entry trimmed and not empty; duplicates dropped (they
/// would name the same row), first occurrence first.
pub fn permissions(raw: &[String]) -> Result<Vec<String>, InvalidInput> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for p in raw {
        let trimmed = java_trim(p);
        if trimmed.is_empty() {
            return Err(InvalidInput("Field name 'permissions' cannot contain an empty string".into()));
        }
        no_nul("permissions", trimmed)?;
        if !out.iter().any(|seen| seen == trimmed) {
            out.push(trimmed.to_owned());
        }
    }
    Ok(out)
}

/// A user id named in a request. User ids are opaque (not trimmed; empty is allowed, as in the core).
pub fn user_id(raw: &str) -> Result<(), InvalidInput> {
    no_nul("userId", raw)
}

/// Checks that a value about to be written fits its column (PostgreSQL counts characters).
pub fn fits(field: &str, value: &str, max_chars: usize) -> Result<(), InvalidInput> {
    if value.chars().count() > max_chars {
        return Err(InvalidInput(format!("Field name '{field}' must be at most {max_chars} characters long")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_like_java() {
        assert_eq!(name("role", "  admin\t\n").unwrap(), "admin");
        assert_eq!(name("role", "\u{a0}admin").unwrap(), "\u{a0}admin", "Java's trim keeps non-ASCII spaces");
        assert_eq!(name("role", " \t ").unwrap_err().0, "Field name 'role' cannot be an empty String");
        assert_eq!(name("permission", "").unwrap_err().0, "Field name 'permission' cannot be an empty String");
        assert!(name("role", "a\0b").is_err());
    }

    #[test]
    fn permission_lists() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(permissions(&list(&[" read", "write ", "read"])).unwrap(), list(&["read", "write"]));
        assert_eq!(permissions(&[]).unwrap(), Vec::<String>::new());
        assert_eq!(
            permissions(&list(&["read", "  "])).unwrap_err().0,
            "Field name 'permissions' cannot contain an empty string"
        );
    }

    #[test]
    fn lengths_count_characters() {
        assert!(fits("role", &"é".repeat(255), MAX_NAME_CHARS).is_ok());
        assert!(fits("role", &"a".repeat(256), MAX_NAME_CHARS).is_err());
        assert!(fits("userId", &"a".repeat(129), MAX_USER_ID_CHARS).is_err());
        assert!(user_id("").is_ok());
        assert!(user_id("x\0").is_err());
    }
}
