//! Typed, validated configuration. The base configuration comes from config.yaml overridden by the
//! environment (and the command line); each app and tenant may override keys through its coreConfig.
//! A `Config` is always complete: every key has a value (its default when nobody set it).

pub mod about;
pub mod keys;
mod validate;

pub use keys::{Config, Key};
pub use validate::{ip_filter, MAX_DURATION_MS, SUPPORTED_CDI_VERSIONS};

use serde_json::{Map, Value};

use keys::{find, Kind, Level, KEYS};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot parse the config file: {0}")]
    Yaml(String),
    #[error("invalid value for '{key}'{origin}: {reason}")]
    Value { key: String, origin: Origin, reason: String },
    /// An unknown key so near a known one that it is taken for a typo: running without the
    /// intended value could put data somewhere else (a misspelled database setting means SQLite).
    #[error("unknown config key '{key}' in the config file: did you mean '{suggestion}'?")]
    Misspelled { key: String, suggestion: &'static str },
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    /// Whether the error is about the config file's content (so that messages can name the file).
    pub fn is_in_file(&self) -> bool {
        matches!(self, ConfigError::Yaml(_) | ConfigError::Misspelled { .. } | ConfigError::Value { origin: Origin::File, .. })
    }
}

/// Where a value came from, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    File,
    Env(&'static str),
    CommandLine,
    /// An app's or tenant's coreConfig (whose messages are the core's, without an origin).
    CoreConfig,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File => f.write_str(" in the config file"),
            Origin::Env(var) => write!(f, " from the environment variable {var}"),
            Origin::CommandLine => f.write_str(" from the command line"),
            Origin::CoreConfig => Ok(()),
        }
    }
}

/// Turns a value given for `def` into the JSON type of its key. Numbers may come as strings
/// (the SDKs' test suites send "720"); a whole-number key takes `2.0` but refuses `1.5` and values
/// outside its range (`1e308`), as the core's config mapper does.
pub fn coerce(def: &keys::KeyDef, value: &Value) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let as_text = match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let wrong = || format!("expected {}", kind_name(def.kind));
    match def.kind {
        Kind::Str => match value {
            Value::String(s) => Ok(Value::String(s.clone())),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(as_text.unwrap_or_default())),
            _ => Err(wrong()),
        },
        Kind::Bool => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong()),
        },
        Kind::Int | Kind::Long => {
            let text = as_text.ok_or_else(wrong)?;
            let n = text
                .parse::<i64>()
                .ok()
                .or_else(|| {
                    let f = text.parse::<f64>().ok()?;
                    // Exactly a whole number within i64 (a float cast would saturate silently).
                    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
                })
                .ok_or_else(wrong)?;
            if def.kind == Kind::Int && i32::try_from(n).is_err() {
                return Err("out of range for an integer".into());
            }
            Ok(Value::from(n))
        }
        Kind::Double => {
            let text = as_text.ok_or_else(wrong)?;
            let f = text.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(wrong)?;
            Ok(serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null))
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Int | Kind::Long => "a whole number",
        Kind::Double => "a number",
        Kind::Bool => "true or false",
        Kind::Str => "a string",
    }
}

/// Decodes an environment value the way the core does: surrounding double quotes are removed
/// and the usual backslash escapes decoded.
fn decode_env(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The keys whose environment variable is set (to something non-empty: an empty variable is
/// ignored, as by the core's docker image), with the raw values.
pub fn env_overrides(env: &dyn Fn(&str) -> Option<String>) -> Vec<(&'static keys::KeyDef, String)> {
    KEYS.iter()
        // An empty variable means "not set", except for API_KEYS: whoever sets it means to
        // require a key, so an empty one is refused by validation rather than leaving the API open.
        .filter_map(|def| def.env.and_then(env).filter(|v| !v.is_empty() || def.key == Key::api_keys).map(|raw| (def, raw)))
        .collect()
}

/// Where the base configuration comes from.
pub struct Sources<'a> {
    pub yaml: Option<&'a str>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Command-line overrides, applied last.
    pub overrides: Vec<(Key, Value)>,
}

impl Config {
    /// Every key at its default.
    pub fn defaults() -> Self {
        let values = KEYS.iter().map(|d| serde_json::from_str(d.default).unwrap_or(Value::Null)).collect();
        Config { values }
    }

    /// The base configuration: defaults, then config.yaml, then the environment, then the command line.
    /// Returns the config and warnings (unknown keys in the file). An unknown key that looks like a
    /// misspelled known one is an error, not a warning.
    pub fn load(sources: Sources<'_>) -> Result<(Self, Vec<String>), ConfigError> {
        let mut cfg = Self::defaults();
        let mut warnings = Vec::new();
        if let Some(text) = sources.yaml {
            let parsed: serde_norway::Value =
                serde_norway::from_str(text).map_err(|e| ConfigError::Yaml(e.to_string()))?;
            let json = serde_json::to_value(parsed).map_err(|e| ConfigError::Yaml(e.to_string()))?;
            match json {
                Value::Null => {}
                Value::Object(map) => {
                    for (key, value) in map {
                        match find(&key) {
                            Some(def) => cfg.set(def, &value, Origin::File)?,
                            None => match keys::suggest_key(&key) {
                                Some(suggestion) => return Err(ConfigError::Misspelled { key, suggestion }),
                                None => warnings.push(format!("ignoring unknown config key '{key}'")),
                            },
                        }
                    }
                }
                _ => return Err(ConfigError::Yaml("the file must be a mapping of keys to values".into())),
            }
        }
        let applied = env_overrides(sources.env);
        for (def, raw) in &applied {
            if let Some(var) = def.env {
                cfg.set(def, &Value::String(decode_env(raw)), Origin::Env(var))?;
            }
        }
        for (key, value) in sources.overrides {
            cfg.set(key.def(), &value, Origin::CommandLine)?;
        }
        cfg.validate(true).map_err(|msg| {
            // The rules' messages name keys; say which variable set a key, or the reader looks in the file.
            let vars: Vec<&str> = applied
                .iter()
                .filter(|(def, _)| msg.contains(&format!("'{}'", def.name)))
                .filter_map(|(def, _)| def.env)
                .collect();
            if vars.is_empty() {
                ConfigError::Invalid(msg)
            } else {
                ConfigError::Invalid(format!("{msg} (set by the environment variable {})", vars.join(", ")))
            }
        })?;
        Ok((cfg, warnings))
    }

    fn set(&mut self, def: &keys::KeyDef, value: &Value, origin: Origin) -> Result<(), ConfigError> {
        let v = coerce(def, value).map_err(|reason| ConfigError::Value { key: def.name.into(), origin, reason })?;
        let v = if v.is_null() { serde_json::from_str(def.default).unwrap_or(Value::Null) } else { v };
        if let Some(slot) = self.values.get_mut(def.key as usize) {
            *slot = v;
        }
        Ok(())
    }

    /// This config with a coreConfig object laid over it. Unknown keys, base-only keys and values
    /// of the wrong type are refused with the reason.
    pub fn overlay(&self, core_config: &Map<String, Value>) -> Result<Config, String> {
        check_core_config(core_config)?;
        let mut out = self.clone();
        for (key, value) in core_config {
            if let Some(def) = find(key) {
                out.set(def, value, Origin::CoreConfig).map_err(|e| e.to_string())?;
            }
        }
        Ok(out)
    }

    /// The configured API keys (the core strips all white space and splits on commas).
    pub fn api_key_list(&self) -> Vec<String> {
        self.api_keys()
            .map(|s| {
                let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                compact.split(',').filter(|k| !k.is_empty()).map(str::to_owned).collect()
            })
            .unwrap_or_default()
    }

    /// Whether this configuration points at PostgreSQL (otherwise the embedded database is used).
    pub fn uses_postgresql(&self) -> bool {
        [Key::postgresql_connection_uri, Key::postgresql_host, Key::postgresql_user, Key::postgresql_database_name]
            .into_iter()
            .any(|k| self.string(k).is_some())
            || self.postgresql_port() > 0
    }

    /// A stable string naming the database this config points at, and the pool settings;
    /// tenants with equal identities share one storage.
    pub fn database_identity(&self) -> String {
        if !self.uses_postgresql() {
            return format!("sqlite:{}", self.sqlite_path().unwrap_or_default());
        }
        let parts: Vec<String> =
            keys::DATABASE_IDENTITY_KEYS.iter().map(|k| format!("{}={}", k.name(), self.get(*k))).collect();
        format!("postgresql:{}", parts.join(";"))
    }

    pub fn validate(&self, is_base: bool) -> Result<(), String> {
        validate::validate(self, is_base)
    }

    /// The values of the keys that must agree across the tenants of one app.
    pub fn app_level_values(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        KEYS.iter().filter(|d| d.level == Level::App).map(|d| (d.name, self.get(d.key)))
    }
}

/// Checks a coreConfig object's keys and value types without applying it.
pub fn check_core_config(core_config: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in core_config {
        let Some(def) = find(key) else {
            return Err(format!("{key} is not a valid core config"));
        };
        if def.level == Level::Base {
            return Err(format!("{key} can only be set via the core's base config setting"));
        }
        coerce(def, value).map_err(|reason| format!("invalid value for '{key}': {reason}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(yaml: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Config::load(Sources { yaml, env: &lookup, overrides: vec![] }).map(|(c, _)| c)
    }

    #[test]
    fn defaults_then_file_then_env() {
        let c = load(Some("access_token_validity: 100\nport: 4000\n"), &[("SUPERTOKENS_PORT", "5000")]).unwrap();
        assert_eq!(c.access_token_validity(), 100);
        assert_eq!(c.port(), 5000);
        assert_eq!(c.password_hashing_alg(), Some("BCRYPT"));
        assert!(!c.uses_postgresql());
    }

    #[test]
    fn env_values_are_unquoted() {
        let c = load(None, &[("API_KEYS", "\"aaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbbbb\"")]).unwrap();
        assert_eq!(c.api_key_list(), vec!["aaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbb"]);
    }

    #[test]
    fn blank_api_keys_are_refused_at_start() {
        for blank in ["", " ", ",", " , "] {
            assert!(load(None, &[("API_KEYS", blank)]).is_err(), "API_KEYS={blank:?} was accepted");
            assert!(load(Some(&format!("api_keys: \"{blank}\"")), &[]).is_err(), "api_keys: {blank:?} was accepted");
        }
        // Quoted, as the core's environment decoding allows.
        assert!(load(None, &[("API_KEYS", "\"\"")]).is_err());
        assert!(load(None, &[]).is_ok());
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load(Some("access_token_validity: abc"), &[]).unwrap_err().to_string();
        assert!(err.contains("access_token_validity"), "{err}");
        let err = load(Some("access_token_validity: 0"), &[]).unwrap_err().to_string();
        assert!(err.contains("access_token_validity"), "{err}");
        assert!(load(Some("- a\n- b"), &[]).is_err());
    }

    #[test]
    fn a_misspelled_key_stops_loading_and_an_unrelated_one_is_a_warning() {
        let err = load(Some("postgresql_conection_uri: postgresql://h/db\n"), &[]).unwrap_err();
        assert!(err.is_in_file());
        assert_eq!(
            err.to_string(),
            "unknown config key 'postgresql_conection_uri' in the config file: did you mean 'postgresql_connection_uri'?"
        );
        let lookup = |_: &str| None;
        let (_, warnings) =
            Config::load(Sources { yaml: Some("my_own_setting: 1\n"), env: &lookup, overrides: vec![] }).unwrap();
        assert_eq!(warnings, vec!["ignoring unknown config key 'my_own_setting'".to_owned()]);
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let err = load(None, &[("ACCESS_TOKEN_VALIDITY", "soon")]).unwrap_err();
        assert!(!err.is_in_file());
        assert_eq!(
            err.to_string(),
            "invalid value for 'access_token_validity' from the environment variable ACCESS_TOKEN_VALIDITY: expected a whole number"
        );
        let err = load(None, &[("ACCESS_TOKEN_VALIDITY", "0")]).unwrap_err().to_string();
        assert!(err.ends_with("(set by the environment variable ACCESS_TOKEN_VALIDITY)"), "{err}");
        let err = load(Some("access_token_validity: soon"), &[]).unwrap_err();
        assert!(err.is_in_file() && err.to_string().contains("in the config file"), "{err}");
    }

    #[test]
    fn only_non_empty_variables_apply() {
        let env = |k: &str| match k {
            "ACCESS_TOKEN_VALIDITY" => Some(String::new()),
            "SUPERTOKENS_PORT" => Some("4000".into()),
            _ => None,
        };
        let applied: Vec<&str> = env_overrides(&env).iter().filter_map(|(d, _)| d.env).collect();
        assert_eq!(applied, vec!["SUPERTOKENS_PORT"]);
        // Except API_KEYS: an empty one applies, so that validation refuses it (issue 18).
        let env = |k: &str| (k == "API_KEYS").then(String::new);
        let applied: Vec<&str> = env_overrides(&env).iter().filter_map(|(d, _)| d.env).collect();
        assert_eq!(applied, vec!["API_KEYS"]);
    }

    #[test]
    fn overlay_accepts_numeric_strings_and_refuses_unknown_or_base_keys() {
        let base = Config::defaults();
        let c = base.overlay(json!({"refresh_token_validity": "720", "access_token_validity": 2}).as_object().unwrap()).unwrap();
        assert_eq!(c.refresh_token_validity(), 720.0);
        assert_eq!(c.access_token_validity(), 2);
        assert!(base.overlay(json!({"nope": 1}).as_object().unwrap()).is_err());
        assert!(base.overlay(json!({"port": 1}).as_object().unwrap()).is_err());
        assert!(base.overlay(json!({"access_token_validity": "x"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn whole_number_keys_refuse_fractions_and_out_of_range_values() {
        let base = Config::defaults();
        let c = base.overlay(json!({"password_reset_token_lifetime": 2.0, "totp_max_attempts": "3"}).as_object().unwrap()).unwrap();
        assert_eq!((c.password_reset_token_lifetime(), c.totp_max_attempts()), (2, 3));
        for (key, bad) in [
            ("password_reset_token_lifetime", json!(1.5)),
            ("password_reset_token_lifetime", json!(1e308)),
            ("password_reset_token_lifetime", json!("1e19")),
            ("totp_max_attempts", json!(3e9)),
        ] {
            let err = base.overlay(json!({ key: bad }).as_object().unwrap()).unwrap_err();
            assert!(err.contains(key), "{key}={bad}: {err}");
        }
    }

    #[test]
    fn database_identity_follows_postgres_keys() {
        let base = Config::defaults();
        let a = base.overlay(json!({"postgresql_connection_uri": "postgresql://h/db1"}).as_object().unwrap()).unwrap();
        let b = base.overlay(json!({"postgresql_connection_uri": "postgresql://h/db2"}).as_object().unwrap()).unwrap();
        assert!(a.uses_postgresql());
        assert_ne!(a.database_identity(), b.database_identity());
        assert_ne!(a.database_identity(), base.database_identity());
    }
}
