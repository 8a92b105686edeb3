//! The CSRF cookies of the authorization flow. `/recipe/oauth/auth` answers them as full
//! `Set-Cookie` values, which the SDKs copy onto their response; both SDKs parse `Expires` and fail
//! on a cookie without one (node's `new Date(undefined)`, python's `dateutil.parser.parse("")`),
//! so every cookie carries it. Names follow the Java core's (`st_oauth_…`), with a suffix per
//! client so that parallel flows of different clients do not overwrite each other.

use super::defaults::LOGIN_CONSENT_LIFESPAN_MS;
use super::time::imf_fixdate;
use crate::crypto::sha256_hex;

/// The biggest `cookies` string read; anything longer is cut (the browser's own limit is ~8 KiB).
pub const MAX_COOKIE_HEADER_BYTES: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsrfKind {
    Login,
    Consent,
}

/// `st_oauth_login_csrf_<8 hex chars of SHA-256(client id)>` (or `consent`).
pub fn csrf_cookie_name(kind: CsrfKind, client_id: &str) -> String {
    let which = match kind {
        CsrfKind::Login => "login",
        CsrfKind::Consent => "consent",
    };
    format!("st_oauth_{which}_csrf_{}", &sha256_hex(client_id)[..8])
}

/// The `Set-Cookie` value of a CSRF cookie: `Path=/`, `Expires` and `Max-Age` 30 minutes from now,
/// `HttpOnly`, `SameSite=Lax`, and `Secure` when the issuer is served over https.
pub fn csrf_set_cookie(name: &str, value: &str, now: i64, secure: bool) -> String {
    let max_age = LOGIN_CONSENT_LIFESPAN_MS / 1000;
    let mut c = format!(
        "{name}={value}; Path=/; Expires={}; Max-Age={max_age}; HttpOnly; SameSite=Lax",
        imf_fixdate(now + LOGIN_CONSENT_LIFESPAN_MS)
    );
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The value of cookie `name` in a `Cookie` header, read leniently: the SDKs merge cookies from
/// several hops, and node's merge can produce a pair with no name (`=undefined`), so pairs without
/// `=` or with an empty name are skipped. The last occurrence wins, as in the SDKs' merge.
pub fn find<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let header = match header.char_indices().nth(MAX_COOKIE_HEADER_BYTES) {
        Some((i, _)) => &header[..i],
        None => header,
    };
    header
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty() && *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testing::NOW;

    #[test]
    fn set_cookie_has_expires_and_the_flags() {
        let name = csrf_cookie_name(CsrfKind::Login, "stcl_a");
        assert!(name.starts_with("st_oauth_login_csrf_") && name.len() == "st_oauth_login_csrf_".len() + 8);
        assert_ne!(name, csrf_cookie_name(CsrfKind::Login, "stcl_b"));
        assert!(csrf_cookie_name(CsrfKind::Consent, "stcl_a").starts_with("st_oauth_consent_csrf_"));
        let c = csrf_set_cookie(&name, "v1", NOW, false);
        assert_eq!(
            c,
            format!("{name}=v1; Path=/; Expires=Tue, 14 Nov 2023 22:43:20 GMT; Max-Age=1800; HttpOnly; SameSite=Lax")
        );
        assert!(csrf_set_cookie(&name, "v1", NOW, true).ends_with("; Secure"));
    }

    #[test]
    fn cookie_headers_are_read_leniently() {
        let h = "=undefined; a=1; st_oauth_login_csrf_x=abc; junk; b = 2 ; st_oauth_login_csrf_x=def";
        assert_eq!(find(h, "st_oauth_login_csrf_x"), Some("def"));
        assert_eq!(find(h, "b"), Some("2"));
        assert_eq!(find(h, "junk"), None);
        assert_eq!(find(h, ""), None);
        assert_eq!(find("", "a"), None);
        assert_eq!(find("a=\"q\"", "a"), Some("q"));
        let long = format!("{}; a=1", "x".repeat(MAX_COOKIE_HEADER_BYTES));
        assert_eq!(find(&long, "a"), None);
    }
}
