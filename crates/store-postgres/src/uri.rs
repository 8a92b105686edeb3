//! `postgresql_connection_uri`: `postgresql://[user[:[password]]@]host[:port][/dbname][?attr1=val1&...]`.
//!
//! Error messages never repeat the URI or any part of its user info: it may hold a password.

use percent_encoding::percent_decode_str;

pub const FORMAT: &str = "postgresql://[user[:[password]]@]host[:port][/dbname][?attr1=val1&attr2=val2...]";

/// The parts of a connection URI; `None` where the URI does not say (the plugin ignores empty parts).
#[derive(Clone, Default, PartialEq)]
pub struct ConnectionUri {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    /// The raw query string (JDBC-style attributes), without the '?'.
    pub attributes: Option<String>,
}

impl std::fmt::Debug for ConnectionUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionUri")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("attributes", &self.attributes)
            .finish()
    }
}

fn invalid(reason: &str) -> String {
    format!("postgresql_connection_uri is not valid: {reason}; expected the format {FORMAT}")
}

fn decode(part: &str, what: &str) -> Result<String, String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid(&format!("the {what} is not valid percent-encoded UTF-8")))
}

/// Parses a connection URI. Accepts the `postgresql` and `postgres` schemes (and a `jdbc:` prefix,
/// which people copy from JDBC settings).
pub fn parse(uri: &str) -> Result<ConnectionUri, String> {
    let uri = uri.trim();
    let uri = uri.strip_prefix("jdbc:").unwrap_or(uri);
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| invalid("it has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("postgresql") && !scheme.eq_ignore_ascii_case("postgres") {
        // Show the scheme only when it cannot be a piece of user info.
        let shown = if scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) { scheme } else { "?" };
        return Err(invalid(&format!("the scheme '{shown}' is not postgresql")));
    }
    // A fragment has no meaning here; drop it like the query parsers of URI libraries do.
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, attributes) = match rest.split_once('?') {
        Some((r, q)) => (r, (!q.is_empty()).then(|| q.to_owned())),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };

    let mut out = ConnectionUri { attributes, ..Default::default() };

    // The password may itself contain '@' when it was not percent-encoded: the host starts after the last one.
    let host_port = match authority.rsplit_once('@') {
        Some((user_info, host_port)) => {
            let (user, password) = match user_info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (user_info, None),
            };
            let user = decode(user, "user name")?;
            out.user = (!user.is_empty()).then_some(user);
            if let Some(p) = password {
                let p = decode(p, "password")?;
                out.password = (!p.is_empty()).then_some(p);
            }
            host_port
        }
        None => authority,
    };

    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        // An IPv6 literal: [::1]:5432
        let (host, after) = bracketed.split_once(']').ok_or_else(|| invalid("an IPv6 host lacks its ']'"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| invalid("unexpected text after the IPv6 host"))?),
        };
        (host, port)
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.contains(',') {
        return Err(invalid("several hosts are not supported"));
    }
    out.host = (!host.is_empty()).then(|| host.to_owned());
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        let n: u16 = p.parse().map_err(|_| invalid(&format!("the port '{p}' is not a number from 1 to 65535")))?;
        // The plugin only takes a port > 0 from the URI.
        out.port = (n > 0).then_some(n);
    }

    let database = decode(path.trim_end_matches('/'), "database name")?;
    out.database = (!database.is_empty()).then_some(database);
    Ok(out)
}

/// The value of one `name=value` attribute of a query string, if present.
pub fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    attributes.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uri() {
        let u = parse("postgresql://alice:s3cr%40t@db.example.com:6543/auth%20db?sslmode=disable&currentSchema=st")
            .unwrap();
        assert_eq!(u.host.as_deref(), Some("db.example.com"));
        assert_eq!(u.port, Some(6543));
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("s3cr@t"));
        assert_eq!(u.database.as_deref(), Some("auth db"));
        assert_eq!(u.attributes.as_deref(), Some("sslmode=disable&currentSchema=st"));
        assert_eq!(attribute(u.attributes.as_deref().unwrap(), "currentSchema"), Some("st"));
        assert_eq!(attribute(u.attributes.as_deref().unwrap(), "nope"), None);
    }

    #[test]
    fn minimal_and_partial_uris() {
        let u = parse("postgresql://localhost").unwrap();
        assert_eq!(u, ConnectionUri { host: Some("localhost".into()), ..Default::default() });
        let u = parse("postgres://bob@h/").unwrap();
        assert_eq!(u.user.as_deref(), Some("bob"));
        assert_eq!(u.password, None);
        assert_eq!(u.database, None);
        let u = parse("postgresql://bob:@h:5432/db").unwrap();
        assert_eq!(u.password, None, "an empty password means none");
        let u = parse("postgresql://:pw@h/db").unwrap();
        assert_eq!(u.user, None);
        assert_eq!(u.password.as_deref(), Some("pw"));
        let u = parse("jdbc:postgresql://h:5433/db?allowPublicKeyRetrieval=true").unwrap();
        assert_eq!((u.host.as_deref(), u.port), (Some("h"), Some(5433)));
        let u = parse("postgresql:///db").unwrap();
        assert_eq!((u.host, u.database.as_deref()), (None, Some("db")));
    }

    #[test]
    fn unencoded_at_and_colon_in_password() {
        let u = parse("postgresql://u:p@ss:w0rd@host/db").unwrap();
        assert_eq!(u.password.as_deref(), Some("p@ss:w0rd"));
        assert_eq!(u.host.as_deref(), Some("host"));
    }

    #[test]
    fn ipv6_hosts() {
        let u = parse("postgresql://[::1]:5432/db").unwrap();
        assert_eq!((u.host.as_deref(), u.port), (Some("::1"), Some(5432)));
        let u = parse("postgresql://[fe80::1]/db").unwrap();
        assert_eq!((u.host.as_deref(), u.port), (Some("fe80::1"), None));
    }

    #[test]
    fn errors_never_show_the_password() {
        for bad in [
            "mysql://u:hunter2@h/db",
            "u:hunter2@h/db",
            "postgresql://u:hunter2@h:99999/db",
            "postgresql://u:hunter2@h:abc/db",
            "postgresql://u:hunter2%ff@h/db",
            "postgresql://u:hunter2@h1,h2/db",
            "u:hunter2@h://db",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("postgresql_connection_uri"), "{err}");
        }
    }
}
