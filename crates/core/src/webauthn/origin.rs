//! Origins: the check made when options are generated (the origin must belong to the relying
//! party), and the comparison of a client's origin with the stored one during a ceremony.

const ANDROID_PREFIX: &str = "android:apk-key-hash:";

/// Schemes Java's `new URL(...)` parses as hierarchical URLs (anything else is "not a valid url"
/// to the core).
const URL_SCHEMES: [&str; 4] = ["http", "https", "ftp", "file"];

/// The options validator's origin rule, with the core's reasons:
/// - `android:apk-key-hash:<hash>`: the hash must be base64url (no padding) of 32 bytes;
/// - otherwise a URL whose host is the relying-party id or a subdomain of it. (The core tests a
///   bare suffix, so `evilexample.com` would pass for `example.com`; browsers never allow that
///   pairing anyway, so requiring a label boundary refuses nothing an SDK sends.)
pub fn check_for_relying_party(origin: &str, rp_id: &str) -> Result<(), String> {
    if let Some(hash) = origin.strip_prefix(ANDROID_PREFIX) {
        return check_android_hash(hash);
    }
    let host = url_host(origin).ok_or_else(|| "Origin has to be a valid url!".to_owned())?;
    let matches = host == rp_id || host.strip_suffix(rp_id).is_some_and(|rest| rest.ends_with('.'));
    if !matches {
        return Err("Origin does not match RelyingParty Id".into());
    }
    Ok(())
}

fn check_android_hash(hash: &str) -> Result<(), String> {
    if hash.is_empty() {
        return Err("Android origin must contain a valid base64 hash".into());
    }
    let decoded = super::b64url_decode(hash)
        .ok_or_else(|| "Android origin hash must be valid URL-safe base64 (no padding)".to_owned())?;
    if hash.len() != 43 {
        return Err("Android origin hash must be 43 characters (base64url SHA-256)".into());
    }
    if decoded.len() != 32 {
        return Err("Android origin hash must decode to 32 bytes (SHA-256)".into());
    }
    Ok(())
}

/// The host of a URL as Java's `URL.getHost()` gives it (as written, without user info or port),
/// or `None` when Java would not parse it.
fn url_host(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once(':')?;
    if !URL_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    let Some(after_slashes) = rest.strip_prefix("//") else { return Some("") };
    let authority = after_slashes.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if host_port.starts_with('[') {
        let end = host_port.find(']')?;
        (&host_port[..=end], host_port[end + 1..].strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(host)
}

/// An origin as WebAuthn compares them: for http(s), scheme and host in lower case and the port
/// (explicit, or the scheme's default); the path is ignored. Any other scheme (`android:...`)
/// compares by its exact text after the scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Web { scheme: String, host: String, port: u16 },
    Other { scheme: String, rest: String },
}

impl Origin {
    pub fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.split_once(':')?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme.is_empty() {
            return None;
        }
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Some(Origin::Other { scheme, rest: rest.to_owned() }),
        };
        let authority = rest.strip_prefix("//")?.split(['/', '?', '#']).next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && (!h.starts_with('[') || h.ends_with(']')) => (h, Some(p)),
            _ => (host_port, None),
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok()?,
            None => default_port,
        };
        Some(Origin::Web { scheme, host: host.to_ascii_lowercase(), port })
    }
}

/// Whether the client's origin is the expected one; an origin that does not parse matches nothing.
pub fn same_origin(expected: &str, actual: &str) -> bool {
    matches!((Origin::parse(expected), Origin::parse(actual)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_origins_must_belong_to_the_relying_party() {
        assert_eq!(check_for_relying_party("https://example.com", "example.com"), Ok(()));
        assert_eq!(check_for_relying_party("https://login.example.com:8443/path", "example.com"), Ok(()));
        assert_eq!(check_for_relying_party("http://localhost:3000", "localhost"), Ok(()));
        assert_eq!(check_for_relying_party("https://user@example.com", "example.com"), Ok(()));
        let mismatch = Err("Origin does not match RelyingParty Id".to_owned());
        assert_eq!(check_for_relying_party("https://evilexample.com", "example.com"), mismatch);
        assert_eq!(check_for_relying_party("https://example.org", "example.com"), mismatch);
        assert_eq!(check_for_relying_party("https://Example.com", "example.com"), mismatch);
        let invalid = Err("Origin has to be a valid url!".to_owned());
        assert_eq!(check_for_relying_party("example.com", "example.com"), invalid);
        assert_eq!(check_for_relying_party("chrome-extension://abc", "abc"), invalid);
        assert_eq!(check_for_relying_party("https://example.com:port", "example.com"), invalid);
        assert_eq!(check_for_relying_party("", "example.com"), invalid);
    }

    #[test]
    fn android_origins() {
        let hash = super::super::b64url(&[7u8; 32]);
        assert_eq!(check_for_relying_party(&format!("android:apk-key-hash:{hash}"), "example.com"), Ok(()));
        let err = |o: &str| check_for_relying_party(o, "example.com").unwrap_err();
        assert_eq!(err("android:apk-key-hash:"), "Android origin must contain a valid base64 hash");
        assert_eq!(err("android:apk-key-hash:a+b"), "Android origin hash must be valid URL-safe base64 (no padding)");
        assert_eq!(err("android:apk-key-hash:AAAA"), "Android origin hash must be 43 characters (base64url SHA-256)");
        assert_eq!(err(&format!("android:apk-key-hash:{hash}=")), "Android origin hash must be 43 characters (base64url SHA-256)");
    }

    #[test]
    fn ceremony_origins_compare_scheme_host_and_port() {
        assert!(same_origin("https://example.com", "https://example.com"));
        assert!(same_origin("https://example.com", "HTTPS://EXAMPLE.com:443"));
        assert!(same_origin("https://example.com/login", "https://example.com"));
        assert!(same_origin("http://localhost:3000", "http://localhost:3000"));
        assert!(!same_origin("http://localhost:3000", "http://localhost:3001"));
        assert!(!same_origin("https://example.com", "http://example.com"));
        assert!(!same_origin("https://example.com", "https://evil.example.com"));
        assert!(!same_origin("https://example.com", "https://example.com:99999"));
        assert!(!same_origin("https://example.com", "not an origin"));
        assert!(same_origin("android:apk-key-hash:abc", "android:apk-key-hash:abc"));
        assert!(!same_origin("android:apk-key-hash:abc", "android:apk-key-hash:abd"));
        assert!(same_origin("http://[::1]:8080", "http://[::1]:8080"));
    }
}
