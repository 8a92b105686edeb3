//! Tenants: their configuration (login methods, factors, coreConfig, third-party providers) and
//! the rules of the v2 create-or-update API.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::ids::TenantIdentifier;

/// The built-in first factors, in the order the core lists them.
pub const ALL_FIRST_FACTORS: [&str; 6] = ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-email", "link-phone"];
const PASSWORDLESS_FACTORS: [&str; 4] = ["otp-email", "otp-phone", "link-email", "link-phone"];

#[derive(Clone, Debug, PartialEq)]
pub struct TenantConfig {
    pub id: TenantIdentifier,
    /// The pre-MFA switches of the three login recipes. Stored; `first_factors` takes precedence.
    pub email_password_enabled: bool,
    pub third_party_enabled: bool,
    pub passwordless_enabled: bool,
    /// As stored: `None` means "derived from the switches" (all of them when every switch is on).
    pub first_factors: Option<Vec<String>>,
    pub required_secondary_factors: Option<Vec<String>>,
    pub core_config: Map<String, Value>,
    pub providers: Vec<Provider>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub third_party_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub clients: Vec<ProviderClient>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint_query_params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_body_params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info_endpoint_query_params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info_endpoint_headers: Option<Map<String, Value>>,
    #[serde(default, rename = "jwksURI", skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_discovery_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_email: Option<bool>,
    #[serde(default)]
    pub user_info_map: UserInfoMap,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoMap {
    #[serde(default)]
    pub from_id_token_payload: UserInfoMapFields,
    #[serde(default, rename = "fromUserInfoAPI")]
    pub from_user_info_api: UserInfoMapFields,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoMapFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderClient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    #[serde(default, rename = "forcePKCE", skip_serializing_if = "Option::is_none")]
    pub force_pkce: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_config: Option<Map<String, Value>>,
}

/// What a v2 create-or-update request asks to change. `Some(None)` = explicitly set to null.
#[derive(Debug, Default)]
pub struct V2Update {
    pub first_factors: Option<Option<Vec<String>>>,
    pub required_secondary_factors: Option<Option<Vec<String>>>,
    pub core_config: Option<Map<String, Value>>,
}

impl TenantConfig {
    /// A tenant as the v2 API creates it: the public tenant allows every login method, any other
    /// tenant starts with none (the SDK docs: "If firstFactors is not specified ... no login methods").
    pub fn new_v2(id: TenantIdentifier) -> Self {
        let first_factors = if id.is_public_tenant() { None } else { Some(vec![]) };
        TenantConfig {
            id,
            email_password_enabled: true,
            third_party_enabled: true,
            passwordless_enabled: true,
            first_factors,
            required_secondary_factors: None,
            core_config: Map::new(),
            providers: vec![],
        }
        .normalised()
    }

    /// The first factors as the API reports them: stored ones, else derived from the switches
    /// (`None` = every login method).
    pub fn effective_first_factors(&self) -> Option<Vec<String>> {
        if let Some(f) = &self.first_factors {
            return Some(f.clone());
        }
        if self.email_password_enabled && self.third_party_enabled && self.passwordless_enabled {
            return None;
        }
        let mut out = Vec::new();
        if self.email_password_enabled {
            out.push("emailpassword".to_owned());
        }
        if self.third_party_enabled {
            out.push("thirdparty".to_owned());
        }
        if self.passwordless_enabled {
            out.extend(PASSWORDLESS_FACTORS.iter().map(|s| s.to_string()));
        }
        Some(out)
    }

    /// Applies a v2 update (the rules of the core's v2 API).
    pub fn apply_v2(&mut self, update: V2Update) {
        if let Some(patch) = update.core_config {
            merge_core_config(&mut self.core_config, patch);
        }
        if update.first_factors.is_some() || update.required_secondary_factors.is_some() {
            // v2 keeps every switch on and expresses restrictions through firstFactors only.
            self.first_factors = self.effective_first_factors();
            self.email_password_enabled = true;
            self.third_party_enabled = true;
            self.passwordless_enabled = true;
        }
        if let Some(f) = update.first_factors {
            self.first_factors = f;
        }
        if let Some(r) = update.required_secondary_factors {
            self.required_secondary_factors = r;
        }
        *self = self.clone().normalised();
    }

    /// The storable form: the schema keeps first factors as rows, which cannot say "an empty list",
    /// so an empty list is stored as every switch off (which the core reads back as `[]`).
    pub fn normalised(mut self) -> Self {
        if self.first_factors.as_ref().is_some_and(|f| f.is_empty()) {
            self.first_factors = None;
            self.email_password_enabled = false;
            self.third_party_enabled = false;
            self.passwordless_enabled = false;
        }
        if self.required_secondary_factors.as_ref().is_some_and(|f| f.is_empty()) {
            self.required_secondary_factors = None;
        }
        self
    }

    /// The v2 JSON shape (`GET /recipe/multitenancy/tenant/v2`, without `status`).
    pub fn to_json_v2(&self) -> Value {
        let mut o = Map::new();
        o.insert("tenantId".into(), json!(self.id.tenant_id));
        o.insert("thirdParty".into(), json!({ "providers": self.providers }));
        if let Some(f) = self.effective_first_factors() {
            o.insert("firstFactors".into(), json!(f));
        }
        if let Some(r) = &self.required_secondary_factors {
            o.insert("requiredSecondaryFactors".into(), json!(r));
        }
        o.insert("coreConfig".into(), Value::Object(self.core_config.clone()));
        Value::Object(o)
    }

    /// Adds or replaces a provider; returns true when it is new.
    pub fn upsert_provider(&mut self, provider: Provider) -> bool {
        match self.providers.iter_mut().find(|p| p.third_party_id == provider.third_party_id) {
            Some(existing) => {
                *existing = provider;
                false
            }
            None => {
                self.providers.push(provider);
                true
            }
        }
    }

    /// Removes a provider; returns whether it existed.
    pub fn remove_provider(&mut self, third_party_id: &str) -> bool {
        let before = self.providers.len();
        self.providers.retain(|p| p.third_party_id != third_party_id);
        before != self.providers.len()
    }
}

/// Shallow merge: a key given as null is removed.
pub fn merge_core_config(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            target.remove(&k);
        } else {
            target.insert(k, v);
        }
    }
}

/// Checks a factor list: strings, no duplicates.
pub fn check_factor_list(name: &str, list: &[String]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for f in list {
        if f.is_empty() || f.len() > 128 {
            return Err(format!("Field name '{name}' is invalid in JSON input"));
        }
        if !seen.insert(f) {
            return Err(format!("{name} input should not contain duplicate values"));
        }
    }
    Ok(())
}

fn too_long(field: &str, value: Option<&str>, max: usize) -> Result<(), String> {
    match value {
        Some(v) if v.chars().count() > max => Err(format!("{field} must be at most {max} characters long")),
        _ => Ok(()),
    }
}

impl Provider {
    /// Checks what the schema would refuse and what makes no sense, so a bad config is a 400.
    /// `built_in_rules` adds the core's checks of the built-in providers' required settings
    /// (the API's `skipValidation` turns them off).
    pub fn validate(&self, built_in_rules: bool) -> Result<(), String> {
        if self.third_party_id.trim().is_empty() {
            return Err("thirdPartyId cannot be empty".into());
        }
        too_long("thirdPartyId", Some(&self.third_party_id), 28)?;
        too_long("name", self.name.as_deref(), 64)?;
        for fields in [&self.user_info_map.from_id_token_payload, &self.user_info_map.from_user_info_api] {
            too_long("userInfoMap.userId", fields.user_id.as_deref(), 64)?;
            too_long("userInfoMap.email", fields.email.as_deref(), 64)?;
            too_long("userInfoMap.emailVerified", fields.email_verified.as_deref(), 64)?;
        }
        let mut client_types = std::collections::HashSet::new();
        for c in &self.clients {
            if c.client_id.is_empty() {
                return Err("clientId cannot be empty".into());
            }
            too_long("clientId", Some(&c.client_id), 256)?;
            too_long("clientType", c.client_type.as_deref(), 64)?;
            for s in c.scope.iter().flatten() {
                too_long("scope", Some(s), 128)?;
            }
            if !client_types.insert(c.client_type.clone().unwrap_or_default()) {
                return Err("clientType should be unique in the clients list".into());
            }
            if built_in_rules {
                self.check_built_in_client(c)?;
            }
        }
        Ok(())
    }

    /// The settings that the built-in providers cannot work without.
    fn check_built_in_client(&self, c: &ProviderClient) -> Result<(), String> {
        let extra = |key: &str| c.additional_config.as_ref().and_then(|m| m.get(key));
        let non_empty_str = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.is_empty());
        let id = self.third_party_id.as_str();
        if id.starts_with("apple") && !["keyId", "teamId", "privateKey"].iter().all(|k| non_empty_str(extra(k))) {
            return Err(
                "a non empty string value must be specified for keyId, teamId and privateKey in the additionalConfig for Apple provider".into(),
            );
        }
        if id.starts_with("google-workspaces") && extra("hd").is_some() && !non_empty_str(extra("hd")) {
            return Err("a non empty string value must be specified for hd in the additionalConfig for Google Workspaces provider".into());
        }
        if id.starts_with("boxy-saml") && extra("boxyURL").is_some() && !non_empty_str(extra("boxyURL")) {
            return Err("a non empty string value must be specified for boxyURL in the additionalConfig for Boxy SAML provider".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(t: &str) -> TenantConfig {
        TenantConfig::new_v2(TenantIdentifier::new("", "public", t))
    }

    fn v(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn new_tenants_public_allows_all_others_none() {
        assert_eq!(tenant("public").effective_first_factors(), None);
        assert_eq!(tenant("t1").effective_first_factors(), Some(vec![]));
    }

    #[test]
    fn first_factors_null_empty_and_list() {
        let mut t = tenant("t1");
        t.apply_v2(V2Update { first_factors: Some(v(&["emailpassword"])), ..Default::default() });
        assert_eq!(t.effective_first_factors(), v(&["emailpassword"]));
        t.apply_v2(V2Update { first_factors: Some(None), ..Default::default() });
        assert_eq!(t.effective_first_factors(), None);
        t.apply_v2(V2Update { first_factors: Some(Some(vec![])), ..Default::default() });
        assert_eq!(t.effective_first_factors(), Some(vec![]));
        // Changing only the required factors keeps the empty first-factor list.
        t.apply_v2(V2Update { required_secondary_factors: Some(v(&["totp"])), ..Default::default() });
        assert_eq!(t.effective_first_factors(), Some(vec![]));
        assert_eq!(t.required_secondary_factors, v(&["totp"]));
        t.apply_v2(V2Update { required_secondary_factors: Some(None), ..Default::default() });
        assert_eq!(t.required_secondary_factors, None);
    }

    #[test]
    fn core_config_merges_and_null_removes() {
        let mut t = tenant("t1");
        let patch = json!({"a": 1, "b": 2}).as_object().unwrap().clone();
        t.apply_v2(V2Update { core_config: Some(patch), ..Default::default() });
        let patch = json!({"a": null, "c": 3}).as_object().unwrap().clone();
        t.apply_v2(V2Update { core_config: Some(patch), ..Default::default() });
        assert_eq!(Value::Object(t.core_config), json!({"b": 2, "c": 3}));
    }

    #[test]
    fn provider_json_round_trips_with_null_params() {
        let input = json!({
            "thirdPartyId": "custom", "name": "Custom",
            "clients": [{"clientId": "id", "clientSecret": "s", "scope": ["email"], "forcePKCE": true}],
            "authorizationEndpoint": "https://e/a",
            "authorizationEndpointQueryParams": {"k1": "v1", "k2": null},
            "userInfoMap": {"fromUserInfoAPI": {"userId": "id", "email": "email"}}
        });
        let p: Provider = serde_json::from_value(input.clone()).unwrap();
        p.validate(true).unwrap();
        let out = serde_json::to_value(&p).unwrap();
        assert_eq!(out["authorizationEndpointQueryParams"], json!({"k1": "v1", "k2": null}));
        assert_eq!(out["clients"][0]["forcePKCE"], json!(true));
        assert_eq!(out["userInfoMap"]["fromIdTokenPayload"], json!({}));
        assert!(out.get("tokenEndpoint").is_none());
    }

    #[test]
    fn provider_validation() {
        let p = Provider { third_party_id: "x".repeat(29), ..Default::default() };
        assert!(p.validate(true).is_err());
        let c = ProviderClient { client_id: "a".into(), ..Default::default() };
        let p = Provider { third_party_id: "x".into(), clients: vec![c.clone(), c.clone()], ..Default::default() };
        assert!(p.validate(true).is_err());
        let apple = Provider { third_party_id: "apple".into(), clients: vec![c], ..Default::default() };
        assert!(apple.validate(true).is_err());
        assert!(apple.validate(false).is_ok());
    }
}
