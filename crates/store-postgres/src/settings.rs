//! Connection settings from the configuration: the connection URI overridden by the explicit
//! `postgresql_*` keys, the hosts to try, TLS, the pool size and timeouts, and the table names.

use std::path::PathBuf;
use std::time::Duration;

use portcullis_core::config::{Config, Key};

use crate::names::{Names, TABLE_NAME_OVERRIDES};
use crate::tls::{Origin, SslMode, Tls, TlsOptions};
use crate::uri;

const DEFAULT_HOST: &str = "localhost";
const DEFAULT_PORT: u16 = 5432;
const DEFAULT_DATABASE: &str = "supertokens";
const DEFAULT_TIMEOUT_MS: i64 = 5000;

/// libpq's `target_session_attrs` (pgjdbc's `targetServerType` maps onto it): which of several hosts
/// a connection may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetSessionAttrs {
    Any,
    /// `SHOW transaction_read_only` is off: a primary that accepts writes.
    ReadWrite,
    ReadOnly,
    /// Not in recovery (`pg_is_in_recovery()` false).
    Primary,
    Standby,
    /// A standby if one answers, else any host.
    PreferStandby,
    /// pgjdbc's `preferPrimary`: a read-write host if one answers, else any host.
    PreferReadWrite,
}

impl TargetSessionAttrs {
    pub const NAMES: &'static str = "any, read-write, read-only, primary, standby, prefer-standby";

    fn parse_libpq(value: &str) -> Option<TargetSessionAttrs> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            "primary" => TargetSessionAttrs::Primary,
            "standby" => TargetSessionAttrs::Standby,
            "prefer-standby" => TargetSessionAttrs::PreferStandby,
            _ => return None,
        })
    }

    /// pgjdbc's names: its "primary" means writable, its "secondary" read-only.
    fn parse_jdbc(value: &str) -> Option<TargetSessionAttrs> {
        Some(match value.trim() {
            "any" => TargetSessionAttrs::Any,
            "primary" | "master" => TargetSessionAttrs::ReadWrite,
            "secondary" | "standby" | "slave" => TargetSessionAttrs::ReadOnly,
            "preferSecondary" | "preferStandby" | "preferSlave" => TargetSessionAttrs::PreferStandby,
            "preferPrimary" => TargetSessionAttrs::PreferReadWrite,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
            TargetSessionAttrs::PreferReadWrite => "preferPrimary",
        }
    }
}

/// How statements reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statements {
    /// Named prepared statements, cached per connection: parsed and planned once. Session settings
    /// (the statement timeout) are made once per connection.
    Prepared,
    /// For transaction-pooling proxies, where consecutive statements of one client may run on
    /// different server connections: every statement unnamed, parsed, bound and run in one round
    /// trip; nothing set for the session (timeouts are set per transaction).
    Unnamed,
}

/// Where to connect and how. The password is kept out of `Debug`.
#[derive(Clone)]
pub struct Settings {
    /// Tried in this order (or shuffled with `load_balance_hosts=random`); never empty.
    pub hosts: Vec<(String, u16)>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
    pub tls: Tls,
    pub target: TargetSessionAttrs,
    pub target_from: String,
    pub load_balance: bool,
    pub statements: Statements,
    pub pool_size: usize,
    /// Bounds waiting for a pooled connection, each statement on the server, and (unless
    /// `connect_timeout` says otherwise) connecting to one host.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub names: Names,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("tls", &self.tls)
            .field("target", &self.target)
            .field("statements", &self.statements)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("schema", &self.names.schema())
            .finish()
    }
}

/// A string key, `None` when unset; the plugin treats empty strings in the URI as unset and so do we
/// for the keys, so that `POSTGRESQL_PASSWORD=""` means "no password".
fn key(cfg: &Config, name: Key) -> Option<&str> {
    cfg.string(name).filter(|s| !s.is_empty())
}

/// The connection attributes (JDBC/libpq options) and the setting they came from.
struct Attributes {
    text: String,
    from: &'static str,
}

impl Attributes {
    /// A key's value, else the attribute's (percent-decoded), with where it came from.
    fn lookup(&self, cfg: &Config, key_name: Option<Key>, attrs: &[&str]) -> Result<Option<Origin<String>>, String> {
        if let Some((name, v)) = key_name.and_then(|k| key(cfg, k).map(|v| (k, v))) {
            return Ok(Some(Origin { value: v.trim().to_owned(), from: name.name().to_owned() }));
        }
        for a in attrs {
            if let Some(v) = uri::attribute_decoded(&self.text, a)? {
                return Ok(Some(Origin { value: v, from: format!("{a} in {}", self.from) }));
            }
        }
        Ok(None)
    }

    fn raw(&self, name: &str) -> Option<&str> {
        uri::attribute(&self.text, name)
    }
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let from_uri = match key(cfg, Key::postgresql_connection_uri) {
            Some(u) => Some(uri::parse(u)?),
            None => None,
        };
        let from_uri_ref = from_uri.as_ref();

        let explicit_port = match cfg.postgresql_port() {
            // -1 (the default) and other non-positive values mean "not set", as in the plugin.
            p if p <= 0 => None,
            p => Some(u16::try_from(p).map_err(|_| format!("'postgresql_port' must be from 1 to 65535, got {p}"))?),
        };
        let hosts = hosts(key(cfg, Key::postgresql_host), explicit_port, from_uri_ref.map_or(&[], |u| &u.hosts))?;
        let user = key(cfg, Key::postgresql_user).map(str::to_owned).or_else(|| from_uri_ref.and_then(|u| u.user.clone()));
        let password = key(cfg, Key::postgresql_password)
            .map(str::to_owned)
            .or_else(|| from_uri_ref.and_then(|u| u.password.clone()));
        let database = key(cfg, Key::postgresql_database_name)
            .map(|s| s.trim().to_owned())
            .or_else(|| from_uri_ref.and_then(|u| u.database.clone()))
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());

        // With a URI, its query string replaces postgresql_connection_attributes (as in the plugin).
        // The attributes are JDBC/libpq driver settings: none is passed on to the server; those
        // read here are TLS, host selection, statements and currentSchema.
        let attributes = match from_uri_ref.and_then(|u| u.attributes.clone()) {
            Some(text) => Attributes { text, from: Key::postgresql_connection_uri.name() },
            None => Attributes {
                text: cfg.postgresql_connection_attributes().unwrap_or("").to_owned(),
                from: Key::postgresql_connection_attributes.name(),
            },
        };
        let mut schema = cfg.postgresql_table_schema().unwrap_or("public").trim().to_owned();
        if from_uri.is_some() {
            // The plugin takes the table schema from JDBC's currentSchema. An explicitly configured
            // schema (anything but the default) wins here, like every explicit key wins over the URI.
            if let Some(s) = attributes.raw("currentSchema").filter(|s| !s.is_empty()) {
                if schema == "public" {
                    schema = s.to_owned();
                }
            }
        }

        let tls = Tls::build(&tls_options(cfg, &attributes)?)?;
        let (target, target_from) = target_session_attrs(cfg, &attributes)?;
        let load_balance = match attributes.raw("load_balance_hosts") {
            None | Some("disable") => attributes.raw("loadBalanceHosts").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            Some("random") => true,
            Some(other) => {
                return Err(format!(
                    "load_balance_hosts '{other}' in {} is not one of disable, random",
                    attributes.from
                ))
            }
        };
        // pgjdbc's switch for transaction poolers is prepareThreshold=0; ours is the key.
        let pooling = cfg.postgresql_transaction_pooling() || attributes.raw("prepareThreshold") == Some("0");
        let statements = if pooling { Statements::Unnamed } else { Statements::Prepared };

        let pool_size = cfg.postgresql_connection_pool_size();
        if pool_size <= 0 {
            return Err("'postgresql_connection_pool_size' must be > 0".into());
        }
        let timeout_ms = match cfg.database_timeout_ms() {
            t if t > 0 => t,
            _ => DEFAULT_TIMEOUT_MS,
        };
        let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(5000));
        let connect_timeout = connect_timeout(&attributes)?.unwrap_or(timeout);

        let overrides: Vec<(&'static str, String)> =
            TABLE_NAME_OVERRIDES.iter().filter_map(|(base, k)| key(cfg, *k).map(|v| (*base, v.to_owned()))).collect();
        let names = Names::new(&schema, cfg.postgresql_table_names_prefix().unwrap_or(""), &overrides)?;

        Ok(Settings {
            hosts,
            user,
            password,
            database,
            tls,
            target,
            target_from,
            load_balance,
            statements,
            pool_size: usize::try_from(pool_size).unwrap_or(usize::MAX),
            timeout,
            connect_timeout,
            names,
        })
    }

    /// `host:port[,host:port...]`, for messages.
    pub fn endpoint(&self) -> String {
        self.hosts.iter().map(|(h, p)| host_port(h, *p)).collect::<Vec<_>>().join(",")
    }
}

/// `host:port`, with IPv6 literals in brackets.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The hosts to try. `postgresql_host` (which may list several, comma-separated) wins over the URI's
/// hosts; `postgresql_port` wins over every port; a host without a port gets the URI's port when the
/// URI names one host, else 5432.
fn hosts(explicit: Option<&str>, explicit_port: Option<u16>, from_uri: &[uri::HostPort]) -> Result<Vec<(String, u16)>, String> {
    let uri_port = match from_uri {
        [one] => one.port,
        _ => None,
    };
    let out: Vec<(String, u16)> = match explicit {
        Some(list) => list
            .split(',')
            .map(|h| {
                let h = h.trim();
                if h.is_empty() {
                    return Err("'postgresql_host' has an empty entry in its list of hosts".to_owned());
                }
                Ok((h.to_owned(), explicit_port.or(uri_port).unwrap_or(DEFAULT_PORT)))
            })
            .collect::<Result<_, _>>()?,
        None if from_uri.is_empty() => vec![(DEFAULT_HOST.to_owned(), explicit_port.unwrap_or(DEFAULT_PORT))],
        None => from_uri
            .iter()
            .map(|h| {
                let host = if h.host.is_empty() { DEFAULT_HOST.to_owned() } else { h.host.clone() };
                (host, explicit_port.or(h.port).unwrap_or(DEFAULT_PORT))
            })
            .collect(),
    };
    Ok(out)
}

/// The TLS settings: Portcullis's keys win over the attributes (libpq's and pgjdbc's names).
fn tls_options(cfg: &Config, attrs: &Attributes) -> Result<TlsOptions, String> {
    let mode = match attrs.lookup(cfg, Some(Key::postgresql_sslmode), &["sslmode"])? {
        Some(m) => Some(Origin {
            value: SslMode::parse(&m.value).ok_or_else(|| {
                format!("sslmode '{}' ({}) is not one of {}", m.value, m.from, SslMode::NAMES)
            })?,
            from: m.from,
        }),
        // pgjdbc: `ssl=true` (or a bare `ssl`) without sslmode means verify-full.
        None => match attrs.raw("ssl") {
            Some(v) if v.is_empty() || v.eq_ignore_ascii_case("true") => {
                Some(Origin { value: SslMode::VerifyFull, from: format!("ssl=true in {}", attrs.from) })
            }
            _ => None,
        },
    };
    if attrs.raw("sslpassword").is_some() {
        return Err(format!(
            "sslpassword in {} is not supported: store the client key decrypted (openssl pkey -in KEY -out KEY.plain)",
            attrs.from
        ));
    }
    Ok(TlsOptions {
        mode,
        root_cert: attrs.lookup(cfg, Some(Key::postgresql_sslrootcert), &["sslrootcert"])?,
        cert: attrs.lookup(cfg, Some(Key::postgresql_sslcert), &["sslcert"])?,
        key: attrs.lookup(cfg, Some(Key::postgresql_sslkey), &["sslkey"])?,
        non_validating: attrs.raw("sslfactory").is_some_and(|f| f.ends_with("NonValidatingFactory")),
        default_dir: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".postgresql")),
    })
}

fn target_session_attrs(cfg: &Config, attrs: &Attributes) -> Result<(TargetSessionAttrs, String), String> {
    if let Some(v) = attrs.lookup(cfg, Some(Key::postgresql_target_session_attrs), &["target_session_attrs"])? {
        let t = TargetSessionAttrs::parse_libpq(&v.value).ok_or_else(|| {
            format!("target_session_attrs '{}' ({}) is not one of {}", v.value, v.from, TargetSessionAttrs::NAMES)
        })?;
        return Ok((t, v.from));
    }
    if let Some(v) = attrs.lookup(cfg, None, &["targetServerType"])? {
        let t = TargetSessionAttrs::parse_jdbc(&v.value).ok_or_else(|| {
            format!(
                "targetServerType '{}' ({}) is not one of any, primary, secondary, preferSecondary, preferPrimary",
                v.value, v.from
            )
        })?;
        return Ok((t, v.from));
    }
    Ok((TargetSessionAttrs::Any, "the default".to_owned()))
}

/// libpq's `connect_timeout` or pgjdbc's `connectTimeout`, in seconds (0 = none: the database timeout).
fn connect_timeout(attrs: &Attributes) -> Result<Option<Duration>, String> {
    for name in ["connect_timeout", "connectTimeout"] {
        if let Some(v) = attrs.raw(name) {
            let secs: u64 =
                v.parse().map_err(|_| format!("{name} '{v}' in {} is not a whole number of seconds", attrs.from))?;
            // libpq: values below 2 s are raised to 2 s.
            return Ok((secs > 0).then(|| Duration::from_secs(secs.max(2))));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> Config {
        Config::defaults().overlay(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_config(&cfg(json!({"postgresql_user": "u"}))).unwrap();
        assert_eq!((s.hosts.clone(), s.database.as_str()), (vec![("localhost".to_owned(), 5432)], "supertokens"));
        assert_eq!((s.tls.mode, s.target, s.statements), (SslMode::Prefer, TargetSessionAttrs::Any, Statements::Prepared));
        assert_eq!(s.connect_timeout, s.timeout);
        assert_eq!(s.user.as_deref(), Some("u"));
        assert_eq!(s.password, None);
        assert_eq!(s.pool_size, 10);
        assert_eq!(s.timeout, Duration::from_millis(5000));
        assert_eq!(s.names.schema(), "public");
    }

    #[test]
    fn uri_parts_and_explicit_keys_win() {
        let uri = "postgresql://a:pw@h1:6000/db1?allowPublicKeyRetrieval=true";
        let s = Settings::from_config(&cfg(json!({"postgresql_connection_uri": uri}))).unwrap();
        assert_eq!((s.hosts.clone(), s.database.as_str()), (vec![("h1".to_owned(), 6000)], "db1"));
        assert_eq!((s.user.as_deref(), s.password.as_deref()), (Some("a"), Some("pw")));
        let s = Settings::from_config(&cfg(json!({
            "postgresql_connection_uri": uri, "postgresql_host": "h2", "postgresql_port": 7000,
            "postgresql_user": "b", "postgresql_password": "pw2", "postgresql_database_name": "db2"
        })))
        .unwrap();
        assert_eq!((s.hosts.clone(), s.database.as_str()), (vec![("h2".to_owned(), 7000)], "db2"));
        assert_eq!((s.user.as_deref(), s.password.as_deref()), (Some("b"), Some("pw2")));
        assert_eq!(s.endpoint(), "h2:7000");
    }

    #[test]
    fn current_schema_attribute_sets_the_default_schema_only() {
        let uri = "postgresql://h/db?currentSchema=auth&x=1";
        let s = Settings::from_config(&cfg(json!({"postgresql_connection_uri": uri}))).unwrap();
        assert_eq!(s.names.schema(), "auth");
        let s =
            Settings::from_config(&cfg(json!({"postgresql_connection_uri": uri, "postgresql_table_schema": "other"})))
                .unwrap();
        assert_eq!(s.names.schema(), "other");
    }

    #[test]
    fn debug_hides_the_password() {
        let s =
            Settings::from_config(&cfg(json!({"postgresql_connection_uri": "postgresql://u:hunter2@h/db"}))).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn tls_from_the_uri_the_attributes_and_the_keys() {
        let uri = |q: &str| json!({"postgresql_connection_uri": format!("postgresql://u:hunter2@h/db?{q}")});
        let s = Settings::from_config(&cfg(uri("sslmode=require"))).unwrap();
        assert_eq!((s.tls.mode, s.tls.mode_from.as_str()), (SslMode::Require, "sslmode in postgresql_connection_uri"));
        let s = Settings::from_config(&cfg(json!({
            "postgresql_host": "h", "postgresql_connection_attributes": "sslmode=disable"
        })))
        .unwrap();
        assert_eq!((s.tls.mode, s.tls.mode_from.as_str()), (SslMode::Disable, "sslmode in postgresql_connection_attributes"));
        // The key wins over the URI.
        let mut c = uri("sslmode=require");
        c["postgresql_sslmode"] = json!("disable");
        let s = Settings::from_config(&cfg(c)).unwrap();
        assert_eq!((s.tls.mode, s.tls.mode_from.as_str()), (SslMode::Disable, "postgresql_sslmode"));
        // pgjdbc's ssl=true is verify-full, which needs a CA; with NonValidatingFactory it checks nothing.
        let err = Settings::from_config(&cfg(uri("ssl=true"))).unwrap_err();
        assert!(err.contains("sslrootcert") && err.contains("ssl=true in postgresql_connection_uri"), "{err}");
        let s = Settings::from_config(&cfg(uri("ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory"))).unwrap();
        assert_eq!((s.tls.mode, s.tls.verification), (SslMode::VerifyFull, crate::tls::Verification::None));
        for (q, needle) in [
            ("sslmode=verify_full", "sslmode 'verify_full' (sslmode in postgresql_connection_uri) is not one of"),
            ("sslmode=require&sslrootcert=%2Fnonexistent%2Fca.pem", "cannot read /nonexistent/ca.pem (sslrootcert in postgresql_connection_uri)"),
            ("sslmode=require&sslpassword=x", "sslpassword"),
        ] {
            let err = Settings::from_config(&cfg(uri(q))).unwrap_err();
            assert!(err.contains(needle) && !err.contains("hunter2"), "{err}");
        }
        let err = Settings::from_config(&cfg(json!({"postgresql_host": "h", "postgresql_sslmode": "on"}))).unwrap_err();
        assert!(err.contains("(postgresql_sslmode)"), "{err}");
    }

    #[test]
    fn several_hosts_and_which_to_use() {
        let s = Settings::from_config(&cfg(json!({
            "postgresql_connection_uri": "postgresql://u@h1:6001,h2,[::1]:6003/db?target_session_attrs=read-write"
        })))
        .unwrap();
        assert_eq!(s.hosts, vec![("h1".into(), 6001), ("h2".into(), 5432), ("::1".into(), 6003)]);
        assert_eq!(s.endpoint(), "h1:6001,h2:5432,[::1]:6003");
        assert_eq!(s.target, TargetSessionAttrs::ReadWrite);
        let s = Settings::from_config(&cfg(json!({
            "postgresql_host": "a, b", "postgresql_port": 6000, "postgresql_target_session_attrs": "prefer-standby"
        })))
        .unwrap();
        assert_eq!(s.hosts, vec![("a".into(), 6000), ("b".into(), 6000)]);
        assert_eq!(s.target, TargetSessionAttrs::PreferStandby);
        let s = Settings::from_config(&cfg(json!({
            "postgresql_connection_uri": "jdbc:postgresql://h1,h2/db?targetServerType=primary&loadBalanceHosts=true&connectTimeout=1"
        })))
        .unwrap();
        assert_eq!((s.target, s.load_balance, s.connect_timeout), (TargetSessionAttrs::ReadWrite, true, Duration::from_secs(2)));
        for (c, needle) in [
            (json!({"postgresql_connection_uri": "postgresql://h1:5432,h2:99999/db"}), "'99999' of host 'h2'"),
            (json!({"postgresql_host": "h", "postgresql_target_session_attrs": "writable"}), "(postgresql_target_session_attrs) is not one of"),
            (json!({"postgresql_connection_uri": "postgresql://h/db?load_balance_hosts=yes"}), "load_balance_hosts"),
            (json!({"postgresql_connection_uri": "postgresql://h/db?connect_timeout=soon"}), "connect_timeout"),
            (json!({"postgresql_host": "a,,b"}), "empty entry"),
        ] {
            let err = Settings::from_config(&cfg(c)).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn transaction_pooling_from_the_key_or_pgjdbc() {
        let s = Settings::from_config(&cfg(json!({"postgresql_host": "h", "postgresql_transaction_pooling": true}))).unwrap();
        assert_eq!(s.statements, Statements::Unnamed);
        let s = Settings::from_config(&cfg(json!({"postgresql_connection_uri": "postgresql://h/db?prepareThreshold=0"}))).unwrap();
        assert_eq!(s.statements, Statements::Unnamed);
        let s = Settings::from_config(&cfg(json!({"postgresql_connection_uri": "postgresql://h/db?prepareThreshold=5"}))).unwrap();
        assert_eq!(s.statements, Statements::Prepared);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Settings::from_config(&cfg(json!({"postgresql_port": 70000}))).is_err());
        assert!(Settings::from_config(&cfg(json!({"postgresql_connection_pool_size": 0}))).is_err());
        assert!(Settings::from_config(&cfg(json!({"postgresql_table_schema": "a;b"}))).is_err());
        assert!(Settings::from_config(&cfg(json!({"postgresql_table_names_prefix": "x y"}))).is_err());
        assert!(Settings::from_config(&cfg(json!({"postgresql_session_info_table_name": "s-i"}))).is_err());
    }
}
