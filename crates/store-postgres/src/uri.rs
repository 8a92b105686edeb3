//! `postgresql_connection_uri`: `postgresql://[user[:[password]]@]host[:port][,host[:port]...][/dbname][?attr1=val1&...]`.
//!
//! Error messages never repeat the URI or any part of its user info: it may hold a password.

use percent_encoding::percent_decode_str;

pub const FORMAT: &str =
    "postgresql://[user[:[password]]@]host[:port][,host2[:port2]...][/dbname][?attr1=val1&attr2=val2...]";

/// One entry of the host list; `port` is `None` where the URI gives none (the default applies).
#[derive(Clone, Debug, PartialEq)]
pub struct HostPort {
    pub host: String,
    pub port: Option<u16>,
}

/// The parts of a connection URI; `None` where the URI does not say (the plugin ignores empty parts).
#[derive(Clone, Default, PartialEq)]
pub struct ConnectionUri {
    /// The hosts in the order given (libpq's multi-host syntax); empty when the URI names none.
    pub hosts: Vec<HostPort>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    /// The raw query string (JDBC-style attributes), without the '?'.
    pub attributes: Option<String>,
}

impl std::fmt::Debug for ConnectionUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionUri")
            .field("hosts", &self.hosts)
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

    if !host_port.is_empty() {
        let entries: Vec<&str> = host_port.split(',').collect();
        for entry in &entries {
            if entry.is_empty() && entries.len() > 1 {
                return Err(invalid("the host list has an empty entry"));
            }
            let (host, port) = split_host_port(entry)?;
            if host.is_empty() && entries.len() > 1 {
                return Err(invalid("a host in the host list has no name"));
            }
            if let Some(p) = port.filter(|p| !p.is_empty()) {
                let what = if entries.len() > 1 { format!("of host '{host}' ") } else { String::new() };
                let n: u16 = p
                    .parse()
                    .map_err(|_| invalid(&format!("the port '{p}' {what}is not a number from 1 to 65535")))?;
                // The plugin only takes a port > 0 from the URI.
                out.hosts.push(HostPort { host: host.to_owned(), port: (n > 0).then_some(n) });
            } else {
                out.hosts.push(HostPort { host: host.to_owned(), port: None });
            }
        }
        // `postgresql://:5433/db`: a port without a host (the default host applies).
        if out.hosts.len() == 1 && out.hosts[0].host.is_empty() && out.hosts[0].port.is_none() {
            out.hosts.clear();
        }
    }

    let database = decode(path.trim_end_matches('/'), "database name")?;
    out.database = (!database.is_empty()).then_some(database);
    Ok(out)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`. A port that is not a number is returned as is, for
/// the caller's message (it cannot contain the password: user info ends at the last '@').
fn split_host_port(entry: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(bracketed) = entry.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or_else(|| invalid("an IPv6 host lacks its ']'"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| invalid("unexpected text after the IPv6 host"))?),
        };
        return Ok((host, port));
    }
    Ok(match entry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (entry, None),
    })
}

/// The value of one `name=value` attribute of a query string, if present.
pub fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    attributes.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.trim()))
}

/// The value of an attribute, percent-decoded as libpq decodes URI parameters (a file path may be
/// written `%2Fetc%2F...`); an undecodable value is an error naming the attribute.
pub fn attribute_decoded(attributes: &str, name: &str) -> Result<Option<String>, String> {
    let Some(raw) = attribute(attributes, name) else { return Ok(None) };
    percent_decode_str(raw)
        .decode_utf8()
        .map(|v| Some(v.into_owned()))
        .map_err(|_| format!("the connection attribute '{name}' is not valid percent-encoded UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uri() {
        let u = parse("postgresql://alice:s3cr%40t@db.example.com:6543/auth%20db?sslmode=disable&currentSchema=st")
            .unwrap();
        assert_eq!(u.hosts, vec![HostPort { host: "db.example.com".into(), port: Some(6543) }]);
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
        assert_eq!(u, ConnectionUri { hosts: vec![HostPort { host: "localhost".into(), port: None }], ..Default::default() });
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
        assert_eq!(u.hosts, vec![HostPort { host: "h".into(), port: Some(5433) }]);
        let u = parse("postgresql:///db").unwrap();
        assert_eq!((u.hosts.len(), u.database.as_deref()), (0, Some("db")));
        let u = parse("postgresql://:5433/db").unwrap();
        assert_eq!(u.hosts, vec![HostPort { host: "".into(), port: Some(5433) }]);
    }

    #[test]
    fn unencoded_at_and_colon_in_password() {
        let u = parse("postgresql://u:p@ss:w0rd@host/db").unwrap();
        assert_eq!(u.password.as_deref(), Some("p@ss:w0rd"));
        assert_eq!(u.hosts[0].host, "host");
    }

    #[test]
    fn ipv6_hosts() {
        let u = parse("postgresql://[::1]:5432/db").unwrap();
        assert_eq!(u.hosts, vec![HostPort { host: "::1".into(), port: Some(5432) }]);
        let u = parse("postgresql://[fe80::1]/db").unwrap();
        assert_eq!(u.hosts, vec![HostPort { host: "fe80::1".into(), port: None }]);
    }

    #[test]
    fn several_hosts_as_libpq_writes_them() {
        let u = parse("postgresql://u:pw@h1:5432,h2,[::1]:5434/db?target_session_attrs=read-write").unwrap();
        assert_eq!(
            u.hosts,
            vec![
                HostPort { host: "h1".into(), port: Some(5432) },
                HostPort { host: "h2".into(), port: None },
                HostPort { host: "::1".into(), port: Some(5434) },
            ]
        );
        assert_eq!(u.database.as_deref(), Some("db"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        let err = parse("postgresql://u:hunter2@h1:5432,h2:54x2/db").unwrap_err();
        assert!(err.contains("'54x2' of host 'h2'") && !err.contains("hunter2"), "{err}");
        let err = parse("postgresql://h1:5432,,h2/db").unwrap_err();
        assert!(err.contains("empty entry"), "{err}");
        let err = parse("postgresql://h1,:5433/db").unwrap_err();
        assert!(err.contains("no name"), "{err}");
    }

    #[test]
    fn attributes_are_percent_decoded() {
        let attrs = "sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20x.pem&bad=%ff";
        assert_eq!(attribute_decoded(attrs, "sslrootcert").unwrap().as_deref(), Some("/etc/ca x.pem"));
        assert_eq!(attribute_decoded(attrs, "nope").unwrap(), None);
        assert!(attribute_decoded(attrs, "bad").unwrap_err().contains("'bad'"));
    }

    #[test]
    fn errors_never_show_the_password() {
        for bad in [
            "mysql://u:hunter2@h/db",
            "u:hunter2@h/db",
            "postgresql://u:hunter2@h:99999/db",
            "postgresql://u:hunter2@h:abc/db",
            "postgresql://u:hunter2%ff@h/db",
            "postgresql://u:hunter2@h1,h2:x/db",
            "u:hunter2@h://db",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(err.contains("postgresql_connection_uri"), "{err}");
        }
    }
}
