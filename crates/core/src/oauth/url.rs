//! The little URL handling the provider needs: splitting a URI into its RFC 3986 parts (no
//! normalisation: redirect URIs are compared character for character), form encoding and decoding,
//! and appending parameters to a redirect URI's query or fragment.

/// A URI split by the RFC 3986 appendix B expression
/// `^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    pub scheme: Option<&'a str>,
    pub authority: Option<&'a str>,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub fragment: Option<&'a str>,
}

impl<'a> Parts<'a> {
    pub fn split(uri: &'a str) -> Parts<'a> {
        let (rest, fragment) = match uri.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (uri, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (scheme, rest) = match rest.find([':', '/']) {
            Some(i) if i > 0 && rest.as_bytes()[i] == b':' => (Some(&rest[..i]), &rest[i + 1..]),
            _ => (None, rest),
        };
        let (authority, path) = match rest.strip_prefix("//") {
            Some(r) => match r.find('/') {
                Some(i) => (Some(&r[..i]), &r[i..]),
                None => (Some(r), ""),
            },
            None => (None, rest),
        };
        Parts { scheme, authority, path, query, fragment }
    }

    /// The authority without user info: `host[:port]`.
    fn host_port(&self) -> &'a str {
        let a = self.authority.unwrap_or("");
        a.rsplit_once('@').map_or(a, |(_, hp)| hp)
    }

    /// `host[:port]`, lower-cased as hosts compare.
    pub fn host_and_port(&self) -> String {
        self.host_port().to_ascii_lowercase()
    }

    /// The host, lower-cased as hosts compare (IPv6 literals keep their brackets).
    pub fn host(&self) -> String {
        let hp = self.host_port();
        let host = if hp.starts_with('[') {
            hp.find(']').map_or(hp, |i| &hp[..=i])
        } else {
            hp.rsplit_once(':').map_or(hp, |(h, _)| h)
        };
        host.to_ascii_lowercase()
    }

    /// The port as written (empty when absent).
    pub fn port(&self) -> &'a str {
        let hp = self.host_port();
        let after_host = if hp.starts_with('[') { hp.find(']').map_or("", |i| &hp[i + 1..]) } else { hp };
        after_host.rsplit_once(':').map_or("", |(_, p)| p)
    }

    pub fn has_user_info(&self) -> bool {
        self.authority.is_some_and(|a| a.contains('@'))
    }
}

/// Whether `s` is a scheme by RFC 3986 §3.1: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic()) && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Whether every `%` starts a two-digit hex escape.
fn escapes_are_valid(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// An absolute URI as redirect URIs must be (RFC 6749 §3.1.2): a scheme, no spaces or control
/// characters, valid escapes; for `http(s)` a non-empty host.
pub fn is_absolute_uri(uri: &str) -> bool {
    if uri.is_empty() || uri.bytes().any(|b| b <= b' ' || b == 0x7f) || !escapes_are_valid(uri) {
        return false;
    }
    let p = Parts::split(uri);
    match p.scheme {
        Some(s) if is_scheme(s) => {
            let web = s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https");
            !web || !p.host().is_empty()
        }
        _ => false,
    }
}

/// `application/x-www-form-urlencoded` encoding of one value: unreserved characters stay, space is
/// `+`, everything else `%XX`.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
    out
}

/// Decodes a form-encoded value (`+` is a space). `None` for a bad escape or invalid UTF-8.
pub fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = (*b.get(i + 1)? as char).to_digit(16)?;
                let lo = (*b.get(i + 2)? as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `k=v&k=v`, form-encoded.
pub fn encode_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&form_encode(k.as_ref()));
        out.push('=');
        out.push_str(&form_encode(v.as_ref()));
    }
    out
}

/// Where a redirect carries its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
}

/// `uri` with `pairs` added: to its query (keeping the query it has, before any fragment), or as its
/// fragment.
pub fn with_params<K: AsRef<str>, V: AsRef<str>>(uri: &str, pairs: &[(K, V)], mode: ResponseMode) -> String {
    let encoded = encode_pairs(pairs);
    let (base, fragment) = match uri.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (uri, None),
    };
    match mode {
        ResponseMode::Fragment => format!("{base}#{encoded}"),
        ResponseMode::Query => {
            let sep = match base.split_once('?') {
                None => "?",
                Some((_, "")) => "",
                Some(_) => "&",
            };
            let mut out = format!("{base}{sep}{encoded}");
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_uris_into_their_parts() {
        let p = Parts::split("https://u:p@Example.COM:8443/a/b?x=1&y#frag");
        assert_eq!(p.scheme, Some("https"));
        assert_eq!(p.authority, Some("u:p@Example.COM:8443"));
        assert_eq!((p.host().as_str(), p.port()), ("example.com", "8443"));
        assert_eq!((p.path, p.query, p.fragment), ("/a/b", Some("x=1&y"), Some("frag")));
        assert!(p.has_user_info());
        let p = Parts::split("http://[::1]:3000/cb");
        assert_eq!((p.host().as_str(), p.port()), ("[::1]", "3000"));
        let p = Parts::split("com.example.app:/callback");
        assert_eq!((p.scheme, p.authority, p.path), (Some("com.example.app"), None, "/callback"));
        let p = Parts::split("api");
        assert_eq!((p.scheme, p.path), (None, "api"));
    }

    #[test]
    fn absolute_uris() {
        for ok in ["https://rp.example.com/cb", "http://localhost:3000/cb?x=1", "com.example.app:/cb", "https://a.b/%20"] {
            assert!(is_absolute_uri(ok), "{ok}");
        }
        for bad in ["", "/cb", "cb", "https:///cb", "https://a b/", "http://a/\n", "https://a/%zz", "https://a/%4", "1http://a/"] {
            assert!(!is_absolute_uri(bad), "{bad}");
        }
    }

    #[test]
    fn form_encoding_round_trips() {
        let s = "openid offline_access a&b=c/ü%";
        assert_eq!(form_encode("a b&c"), "a+b%26c");
        assert_eq!(form_decode(&form_encode(s)).as_deref(), Some(s));
        assert_eq!(form_decode("a%2"), None);
        assert_eq!(form_decode("%ff"), None);
    }

    #[test]
    fn params_are_appended_to_the_query_or_as_fragment() {
        let p = [("code", "c1"), ("state", "s p")];
        assert_eq!(with_params("https://a/cb", &p, ResponseMode::Query), "https://a/cb?code=c1&state=s+p");
        assert_eq!(with_params("https://a/cb?x=1", &p, ResponseMode::Query), "https://a/cb?x=1&code=c1&state=s+p");
        assert_eq!(with_params("https://a/cb?", &p, ResponseMode::Query), "https://a/cb?code=c1&state=s+p");
        assert_eq!(with_params("https://a/cb#f", &p, ResponseMode::Query), "https://a/cb?code=c1&state=s+p#f");
        assert_eq!(with_params("https://a/cb?x=1", &p, ResponseMode::Fragment), "https://a/cb?x=1#code=c1&state=s+p");
    }
}
