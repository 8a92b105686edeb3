//! What a client may ask for: scopes (Hydra's default wildcard strategy), audiences (URL prefix
//! matching) and redirect URIs (exact, character for character, as the issue demands: no loopback
//! port relaxation).

use super::errors::{Kind, OAuthError};
use super::url::Parts;

/// Whether `needle` is allowed by one of the client's scopes: equal dot-separated segments, where a
/// `*` segment matches any non-empty segment and, as the last segment of a shorter matcher, any
/// remainder (`api.*` allows `api.read` and `api.read.all`, not `api`).
pub fn scope_allowed<S: AsRef<str>>(allowed: &[S], needle: &str) -> bool {
    let needle_parts: Vec<&str> = needle.split('.').collect();
    allowed.iter().any(|matcher| {
        let matcher_parts: Vec<&str> = matcher.as_ref().split('.').collect();
        if matcher_parts.len() > needle_parts.len() {
            return false;
        }
        matcher_parts.iter().enumerate().all(|(k, &m)| {
            let last = k == matcher_parts.len() - 1;
            if last && matcher_parts.len() != needle_parts.len() && m != "*" {
                return false;
            }
            (m == "*" && !needle_parts[k].is_empty()) || m == needle_parts[k]
        })
    })
}

/// The first requested scope the client may not ask for, as the error fosite gives.
pub fn check_scopes<S: AsRef<str>, T: AsRef<str>>(allowed: &[S], requested: &[T]) -> Result<(), OAuthError> {
    match requested.iter().find(|s| !scope_allowed(allowed, s.as_ref())) {
        Some(s) => Err(OAuthError::hint(
            Kind::InvalidScope,
            &format!("The OAuth 2.0 Client is not allowed to request scope '{}'.", s.as_ref()),
        )),
        None => Ok(()),
    }
}

fn percent_decoded_path(path: &str) -> Option<String> {
    // A path's '+' is a plus, not a space.
    super::url::form_decode(&path.replace('+', "%2B"))
}

/// Whether `requested` is one of the client's audiences or below one: same scheme and host, and a
/// path equal to the allowed one or under it (`https://api.x/v1` allows `https://api.x/v1/users`).
fn audience_allowed(allowed: &[String], requested: &str) -> Result<bool, OAuthError> {
    let parse = |s: &str, what: &str| -> Result<(Option<String>, String, String), OAuthError> {
        let bad = || OAuthError::hint(Kind::InvalidRequest, &format!("Unable to parse {what} audience '{s}'."));
        if s.bytes().any(|b| b < b' ' || b == 0x7f) {
            return Err(bad());
        }
        let p = Parts::split(s);
        let path = percent_decoded_path(p.path).ok_or_else(bad)?;
        Ok((p.scheme.map(str::to_owned), p.authority.map(|_| p.host_and_port()).unwrap_or_default(), path))
    };
    let (scheme, host, path) = parse(requested, "requested")?;
    for a in allowed {
        let (a_scheme, a_host, a_path) = parse(a, "whitelisted")?;
        let trimmed = a_path.trim_end_matches('/');
        let path_ok = path == a_path
            || path == trimmed
            || (path.len() > trimmed.len() && path.as_bytes()[trimmed.len()] == b'/' && path.starts_with(trimmed));
        if scheme == a_scheme && host == a_host && path_ok {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Every requested audience must be allowed (the error fosite gives for the first that is not).
pub fn check_audiences(allowed: &[String], requested: &[String]) -> Result<(), OAuthError> {
    for r in requested {
        if !audience_allowed(allowed, r)? {
            return Err(OAuthError::hint(
                Kind::InvalidRequest,
                &format!("Requested audience '{r}' has not been whitelisted by the OAuth 2.0 Client."),
            ));
        }
    }
    Ok(())
}

/// The redirect URI a request resolves to: the one sent, if registered exactly as sent; or, when
/// none was sent, the client's only registered URI.
pub fn resolve_redirect_uri<'a>(registered: &'a [String], sent: Option<&str>) -> Result<&'a str, OAuthError> {
    let found = match sent {
        None | Some("") if registered.len() == 1 => Some(registered[0].as_str()),
        Some(s) if !s.is_empty() => registered.iter().find(|r| r.as_str() == s).map(String::as_str),
        _ => None,
    };
    found.filter(|u| super::url::is_absolute_uri(u) && !u.contains('#')).ok_or_else(|| {
        OAuthError::hint(
            Kind::InvalidRequest,
            "The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_scopes() {
        let allowed = ["openid", "offline_access", "api.*", "a.*.c"];
        for ok in ["openid", "api.read", "api.read.all", "a.b.c"] {
            assert!(scope_allowed(&allowed, ok), "{ok}");
        }
        for no in ["api", "api.", "email", "openid.x", "a.b.d", "a..c", "offline"] {
            assert!(!scope_allowed(&allowed, no), "{no}");
        }
        assert!(!scope_allowed::<&str>(&[], "openid"));
        let e = check_scopes(&allowed, &["openid", "email"]).unwrap_err();
        assert_eq!(e.error, "invalid_scope");
        assert!(e.description.unwrap().ends_with("The OAuth 2.0 Client is not allowed to request scope 'email'."));
        assert!(check_scopes(&allowed, &["openid", "api.write"]).is_ok());
    }

    #[test]
    fn audiences_match_by_url_prefix() {
        let allowed = vec!["https://api.example.com/v1/".to_owned(), "urn-like".to_owned()];
        for ok in ["https://api.example.com/v1", "https://api.example.com/v1/", "https://API.example.com/v1/users", "urn-like"] {
            assert!(check_audiences(&allowed, &[ok.to_owned()]).is_ok(), "{ok}");
        }
        for no in ["https://api.example.com:8443/v1", "https://api.example.com/v10", "http://api.example.com/v1", "https://api.example.com/", "https://evil.com/v1", "other"] {
            let e = check_audiences(&allowed, &[no.to_owned()]).unwrap_err();
            assert_eq!(e.error, "invalid_request", "{no}");
            assert!(e.description.unwrap().contains("has not been whitelisted"), "{no}");
        }
        assert!(check_audiences(&[], &[]).is_ok());
        assert!(check_audiences(&allowed, &["https://a/%zz".to_owned()]).unwrap_err().description.unwrap().contains("Unable to parse"));
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let one = vec!["https://rp.example.com/cb".to_owned()];
        assert_eq!(resolve_redirect_uri(&one, None).unwrap(), "https://rp.example.com/cb");
        assert_eq!(resolve_redirect_uri(&one, Some("https://rp.example.com/cb")).unwrap(), "https://rp.example.com/cb");
        for wrong in ["https://rp.example.com/cb/", "https://RP.example.com/cb", "https://rp.example.com/cb?x=1", "https://evil.com/cb"] {
            let e = resolve_redirect_uri(&one, Some(wrong)).unwrap_err();
            assert_eq!(e.error, "invalid_request", "{wrong}");
            assert!(e.description.unwrap().contains("pre-registered redirect urls"));
        }
        let two = vec!["http://127.0.0.1:3000/cb".to_owned(), "https://b/cb".to_owned()];
        assert!(resolve_redirect_uri(&two, None).is_err(), "no default among several");
        assert!(resolve_redirect_uri(&two, Some("http://127.0.0.1:4000/cb")).is_err(), "no loopback port relaxation");
        assert!(resolve_redirect_uri(&[], None).is_err());
    }
}
