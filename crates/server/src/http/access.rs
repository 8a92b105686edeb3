//! Who may call a tenant's APIs, derived once per tenant from its effective config (not per
//! request): the IP filters, the app's API keys (kept as digests), and the CDI versions it answers.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use portcullis_core::config::{ip_filter, Config};
use portcullis_core::crypto::sha256_hex;
use regex::Regex;
use subtle::ConstantTimeEq;

pub struct Access {
    pub ip_allow: Option<Regex>,
    pub ip_deny: Option<Regex>,
    /// SHA-256 (hex) of each of `api_keys`; empty when no key is needed.
    pub api_key_digests: Vec<String>,
    /// `supertokens_max_cdi_version` as configured: the version assumed when a request names
    /// none, and the newest accepted (unset: the newest served).
    pub max_cdi: Option<String>,
    /// `supertokens_min_cdi_version` as configured (it is quoted as written in the 400).
    pub min_cdi: Option<String>,
}

impl Access {
    pub fn from_config(cfg: &Config) -> Access {
        Access {
            // Validation compiled these already, so a stored value always compiles.
            ip_allow: cfg.ip_allow_regex().and_then(|r| ip_filter(r).ok()),
            ip_deny: cfg.ip_deny_regex().and_then(|r| ip_filter(r).ok()),
            api_key_digests: cfg.api_key_list().iter().map(|k| sha256_hex(k)).collect(),
            max_cdi: cfg.supertokens_max_cdi_version().map(str::to_owned),
            min_cdi: cfg.supertokens_min_cdi_version().map(str::to_owned),
        }
    }

    /// Whether the filters turn this client away. The address is matched in the forms an
    /// operator may have written a pattern for: an IPv4 client on a dual-stack socket appears as
    /// `::ffff:a.b.c.d` and is matched as `a.b.c.d`; an IPv6 address is matched in the Java core's
    /// form (`0:0:0:0:0:0:0:1`, no `::` compression) and in the compressed form (`::1`). Deny wins
    /// when any form matches; allow lets a client in when any form matches.
    pub fn denies(&self, ip: IpAddr) -> bool {
        let forms = address_forms(ip);
        let any = |r: &Regex| forms.iter().flatten().any(|f| r.is_match(f));
        self.ip_deny.as_ref().is_some_and(any) || self.ip_allow.as_ref().is_some_and(|r| !any(r))
    }
}

/// The texts an address is matched as (see [`Access::denies`]).
fn address_forms(ip: IpAddr) -> [Option<String>; 2] {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => [Some(v4.to_string()), None],
        IpAddr::V6(v6) => {
            let java = v6.segments().iter().map(|s| format!("{s:x}")).collect::<Vec<_>>().join(":");
            [Some(java), Some(v6.to_string())]
        }
    }
}

/// The key a request presents: the `api-key` header, else `Authorization` (with or without `Bearer`).
pub fn presented_api_key(headers: &HeaderMap) -> Option<String> {
    if let Some(k) = headers.get("api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim().to_owned());
    }
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())?.trim();
    let key = if auth.len() >= 7 && auth[..7].eq_ignore_ascii_case("bearer ") { &auth[7..] } else { auth };
    Some(key.trim().to_owned())
}

/// Constant-time comparison of a presented key with the configured ones (by their digests):
/// every key is compared (no early exit), and through SHA-256 digests, so neither the content nor
/// the length of a configured key shows in the time taken.
pub fn key_matches<'a>(presented: &str, digests: impl IntoIterator<Item = &'a String>) -> bool {
    let presented = sha256_hex(presented);
    let mut ok = subtle::Choice::from(0);
    for d in digests {
        ok |= presented.as_bytes().ct_eq(d.as_bytes());
    }
    ok.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| sha256_hex(k)).collect()
    }

    #[test]
    fn api_key_sources() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(presented_api_key(&h).as_deref(), Some("abc"));
        h.insert("api-key", " xyz ".parse().unwrap());
        assert_eq!(presented_api_key(&h).as_deref(), Some("xyz"));
        assert!(key_matches("xyz", &digests(&["a", "xyz"])));
        assert!(!key_matches("xy", &digests(&["xyz"])));
        assert!(!key_matches("xyzz", &digests(&["xyz"])));
        assert!(!key_matches("", &digests(&["xyz"])));
        assert!(!key_matches("xyz", &digests(&[])));
    }

    fn access(allow: Option<&str>, deny: Option<&str>) -> Access {
        let mut a = Access::from_config(&Config::defaults());
        a.ip_allow = allow.map(|r| ip_filter(r).unwrap());
        a.ip_deny = deny.map(|r| ip_filter(r).unwrap());
        a
    }

    #[test]
    fn ipv4_clients_on_a_dual_stack_socket_are_matched_as_ipv4() {
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert!(access(None, Some(r"10\.1\.2\.3")).denies(mapped));
        assert!(!access(Some(r"10\.\d+\.\d+\.\d+"), None).denies(mapped));
        assert!(access(Some(r"127\.\d+\.\d+\.\d+"), None).denies(mapped));
    }

    #[test]
    fn ipv6_is_matched_in_the_java_form_and_the_compressed_form() {
        let loopback: IpAddr = "::1".parse().unwrap();
        assert!(access(None, Some("0:0:0:0:0:0:0:1")).denies(loopback));
        assert!(access(None, Some("::1")).denies(loopback));
        assert!(!access(Some(r"127\.\d+\.\d+\.\d+|0:0:0:0:0:0:0:1"), None).denies(loopback));
        let addr: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(access(None, Some("2001:db8:0:0:0:0:0:1")).denies(addr));
        assert!(!access(None, Some(r"10\..*")).denies(addr));
    }
}
