//! The base configuration (`Config::load`: config.yaml then environment variables) and a tenant's
//! coreConfig overlay (`Config::overlay`), on arbitrary input.
//! Input: YAML text, NUL, environment lines `NAME=value`, NUL, a coreConfig JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::config::{Config, Sources};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\0');
    let yaml = parts.next().unwrap_or("");
    let env_text = parts.next().unwrap_or("");
    let core_config = parts.next().unwrap_or("");
    let env: Vec<(&str, &str)> = env_text.lines().filter_map(|l| l.split_once('=')).collect();
    let lookup = |name: &str| env.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned());
    let base = match Config::load(Sources { yaml: Some(yaml), env: &lookup, overrides: vec![] }) {
        Ok((cfg, _warnings)) => {
            // A loaded config is valid, and reading any key never fails.
            assert!(cfg.validate(true).is_ok());
            let _ = (cfg.api_key_list(), cfg.database_identity(), cfg.uses_postgresql());
            cfg
        }
        Err(_) => Config::defaults(),
    };
    if let Ok(serde_json::Value::Object(overlay)) = serde_json::from_str(core_config) {
        if let Ok(cfg) = base.overlay(&overlay) {
            let _ = cfg.validate(false);
            let _ = cfg.api_key_list();
        }
    }
});
