//! Connection settings from the configuration: the connection URI overridden by the explicit
//! `postgresql_*` keys, the pool size and timeouts, and the table names.

use std::time::Duration;

use portcullis_core::config::{Config, Key};

use crate::names::{Names, TABLE_NAME_OVERRIDES};
use crate::uri;

const DEFAULT_HOST: &str = "localhost";
const DEFAULT_PORT: u16 = 5432;
const DEFAULT_DATABASE: &str = "supertokens";
const DEFAULT_TIMEOUT_MS: i64 = 5000;

/// Where to connect and how. The password is kept out of `Debug`.
#[derive(Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
    pub pool_size: usize,
    /// Bounds waiting for a pooled connection, opening one, and each statement on the server.
    pub timeout: Duration,
    pub names: Names,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint())
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
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

impl Settings {
    pub fn from_config(cfg: &Config) -> Result<Settings, String> {
        let from_uri = match key(cfg, Key::postgresql_connection_uri) {
            Some(u) => Some(uri::parse(u)?),
            None => None,
        };
        let from_uri_ref = from_uri.as_ref();

        let host = key(cfg, Key::postgresql_host)
            .map(str::to_owned)
            .or_else(|| from_uri_ref.and_then(|u| u.host.clone()))
            .unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let port = match cfg.postgresql_port() {
            // -1 (the default) and other non-positive values mean "not set", as in the plugin.
            p if p <= 0 => from_uri_ref.and_then(|u| u.port).unwrap_or(DEFAULT_PORT),
            p => u16::try_from(p).map_err(|_| format!("'postgresql_port' must be from 1 to 65535, got {p}"))?,
        };
        let user = key(cfg, Key::postgresql_user).map(str::to_owned).or_else(|| from_uri_ref.and_then(|u| u.user.clone()));
        let password = key(cfg, Key::postgresql_password)
            .map(str::to_owned)
            .or_else(|| from_uri_ref.and_then(|u| u.password.clone()));
        let database = key(cfg, Key::postgresql_database_name)
            .map(|s| s.trim().to_owned())
            .or_else(|| from_uri_ref.and_then(|u| u.database.clone()))
            .unwrap_or_else(|| DEFAULT_DATABASE.to_owned());

        // With a URI, its query string replaces postgresql_connection_attributes (as in the plugin).
        // The attributes are JDBC driver settings: none is passed on to the server, but two matter.
        let attributes = from_uri.as_ref().map(|u| {
            u.attributes.clone().unwrap_or_else(|| cfg.postgresql_connection_attributes().unwrap_or("").to_owned())
        });
        let mut schema = cfg.postgresql_table_schema().unwrap_or("public").trim().to_owned();
        if let Some(attrs) = attributes.as_deref() {
            check_tls_attributes(attrs)?;
            // The plugin takes the table schema from JDBC's currentSchema. An explicitly configured
            // schema (anything but the default) wins here, like every explicit key wins over the URI.
            if let Some(s) = uri::attribute(attrs, "currentSchema").filter(|s| !s.is_empty()) {
                if schema == "public" {
                    schema = s.to_owned();
                }
            }
        }

        let pool_size = cfg.postgresql_connection_pool_size();
        if pool_size <= 0 {
            return Err("'postgresql_connection_pool_size' must be > 0".into());
        }
        let timeout_ms = match cfg.database_timeout_ms() {
            t if t > 0 => t,
            _ => DEFAULT_TIMEOUT_MS,
        };

        let overrides: Vec<(&'static str, String)> =
            TABLE_NAME_OVERRIDES.iter().filter_map(|(base, k)| key(cfg, *k).map(|v| (*base, v.to_owned()))).collect();
        let names = Names::new(&schema, cfg.postgresql_table_names_prefix().unwrap_or(""), &overrides)?;

        Ok(Settings {
            host,
            port,
            user,
            password,
            database,
            pool_size: usize::try_from(pool_size).unwrap_or(usize::MAX),
            timeout: Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(5000)),
            names,
        })
    }

    /// `host:port`, for messages.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The driver's configuration. TLS is not negotiated (see `check_tls_attributes`).
    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host).port(self.port).dbname(&self.database).application_name("portcullis");
        if let Some(u) = &self.user {
            c.user(u);
        }
        if let Some(p) = &self.password {
            c.password(p);
        }
        // A dead server or network must surface as an error, not as a request that waits forever:
        // bound connecting, unacknowledged writes, and probe idle connections.
        c.connect_timeout(self.timeout);
        c.tcp_user_timeout(self.timeout);
        c.keepalives(true).keepalives_idle(Duration::from_secs(15)).keepalives_interval(Duration::from_secs(5));
        c.keepalives_retries(3);
        c
    }
}

/// We connect without TLS. A configuration that demands it must fail loudly rather than silently
/// send credentials in clear text.
fn check_tls_attributes(attrs: &str) -> Result<(), String> {
    let mode = uri::attribute(attrs, "sslmode").map(str::to_ascii_lowercase);
    let demands_tls = matches!(mode.as_deref(), Some("require" | "verify-ca" | "verify-full"))
        || uri::attribute(attrs, "ssl").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if demands_tls {
        return Err("the connection URI asks for TLS (sslmode/ssl), which Portcullis does not support yet; \
                    use sslmode=disable or prefer, or a TLS-terminating proxy"
            .into());
    }
    Ok(())
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
        assert_eq!((s.host.as_str(), s.port, s.database.as_str()), ("localhost", 5432, "supertokens"));
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
        assert_eq!((s.host.as_str(), s.port, s.database.as_str()), ("h1", 6000, "db1"));
        assert_eq!((s.user.as_deref(), s.password.as_deref()), (Some("a"), Some("pw")));
        let s = Settings::from_config(&cfg(json!({
            "postgresql_connection_uri": uri, "postgresql_host": "h2", "postgresql_port": 7000,
            "postgresql_user": "b", "postgresql_password": "pw2", "postgresql_database_name": "db2"
        })))
        .unwrap();
        assert_eq!((s.host.as_str(), s.port, s.database.as_str()), ("h2", 7000, "db2"));
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
    fn debug_hides_the_password_and_tls_demands_fail() {
        let s =
            Settings::from_config(&cfg(json!({"postgresql_connection_uri": "postgresql://u:hunter2@h/db"}))).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let err = Settings::from_config(&cfg(
            json!({"postgresql_connection_uri": "postgresql://u:hunter2@h/db?sslmode=require"}),
        ))
        .unwrap_err();
        assert!(err.contains("TLS") && !err.contains("hunter2"), "{err}");
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
