//! Connection-URI domains, app ids and tenant ids: how the core names a tenant.

use std::fmt;

pub const DEFAULT_CUD: &str = "";
pub const PUBLIC: &str = "public";

/// Tenant ids that would be mistaken for the start of an API path.
const RESERVED_TENANT_IDS: [&str; 4] = ["recipe", "config", "users", "hello"];

/// (connection-URI domain, app id, tenant id): the key of every tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantIdentifier {
    pub cud: String,
    pub app_id: String,
    pub tenant_id: String,
}

impl TenantIdentifier {
    pub fn new(cud: &str, app_id: &str, tenant_id: &str) -> Self {
        Self { cud: cud.to_owned(), app_id: app_id.to_owned(), tenant_id: tenant_id.to_owned() }
    }

    pub fn base() -> Self {
        Self::new(DEFAULT_CUD, PUBLIC, PUBLIC)
    }

    /// The public tenant of this tenant's app: where app-wide settings live.
    pub fn app_public(&self) -> Self {
        Self::new(&self.cud, &self.app_id, PUBLIC)
    }

    /// The public tenant of the public app of this tenant's connection-URI domain.
    pub fn cud_public(&self) -> Self {
        Self::new(&self.cud, PUBLIC, PUBLIC)
    }

    pub fn is_public_tenant(&self) -> bool {
        self.tenant_id == PUBLIC
    }

    pub fn is_base(&self) -> bool {
        self.cud == DEFAULT_CUD && self.app_id == PUBLIC && self.tenant_id == PUBLIC
    }
}

/// An app, as the storage traits name it: app-wide data (users, roles, metadata, keys) is keyed
/// by the app id alone. A type rather than a loose string, so it cannot be passed as a user id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AppKey<'a> {
    pub app_id: &'a str,
}

/// A tenant of an app, as the storage traits name it (the connection-URI domain only picks the
/// database, so it is not part of the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TenantKey<'a> {
    pub app_id: &'a str,
    pub tenant_id: &'a str,
}

impl<'a> AppKey<'a> {
    pub fn new(app_id: &'a str) -> Self {
        AppKey { app_id }
    }

    /// One of the app's tenants.
    pub fn tenant(self, tenant_id: &'a str) -> TenantKey<'a> {
        TenantKey { app_id: self.app_id, tenant_id }
    }
}

impl<'a> TenantKey<'a> {
    pub fn new(app_id: &'a str, tenant_id: &'a str) -> Self {
        TenantKey { app_id, tenant_id }
    }

    pub fn app(self) -> AppKey<'a> {
        AppKey { app_id: self.app_id }
    }

    /// An owned copy, for work that outlives the borrow (a transaction's input).
    pub fn owned(self) -> OwnedTenantKey {
        OwnedTenantKey { app_id: self.app_id.to_owned(), tenant_id: self.tenant_id.to_owned() }
    }
}

/// A [`TenantKey`] that owns its ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OwnedTenantKey {
    pub app_id: String,
    pub tenant_id: String,
}

impl OwnedTenantKey {
    pub fn key(&self) -> TenantKey<'_> {
        TenantKey { app_id: &self.app_id, tenant_id: &self.tenant_id }
    }
}

impl TenantIdentifier {
    /// The tenant's storage key.
    pub fn key(&self) -> TenantKey<'_> {
        TenantKey { app_id: &self.app_id, tenant_id: &self.tenant_id }
    }

    /// The storage key of the tenant's app.
    pub fn app_key(&self) -> AppKey<'_> {
        AppKey { app_id: &self.app_id }
    }
}

impl fmt::Display for TenantIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}, {})", self.cud, self.app_id, self.tenant_id)
    }
}

fn is_id_charset(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Normalises and validates an app id given in a request body (the core trims and lower-cases).
pub fn normalise_app_id(raw: &str) -> Result<String, String> {
    let id = raw.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err("appId cannot be empty".into());
    }
    if !is_id_charset(&id) {
        return Err("appId can only contain letters, numbers and hyphens".into());
    }
    if id.starts_with("appid-") {
        return Err("appId must not start with 'appid-'".into());
    }
    Ok(id)
}

/// Normalises and validates a tenant id given in a request body.
pub fn normalise_tenant_id(raw: &str) -> Result<String, String> {
    let id = raw.trim().to_ascii_lowercase();
    if id.is_empty() {
        return Err("tenantId cannot be empty".into());
    }
    if !is_id_charset(&id) {
        return Err("tenantId can only contain letters, numbers and hyphens".into());
    }
    if id.starts_with("appid-") {
        return Err("tenantId must not start with 'appid-'".into());
    }
    if RESERVED_TENANT_IDS.contains(&id.as_str()) {
        return Err(format!("Cannot use '{id}' as a tenantId"));
    }
    Ok(id)
}

/// Normalises a connection-URI domain: a host name, lower-cased, without scheme or port.
pub fn normalise_cud(raw: &str) -> Result<String, String> {
    let mut s = raw.trim().to_ascii_lowercase();
    for scheme in ["https://", "http://"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest.to_owned();
        }
    }
    if let Some(i) = s.find(['/', ':']) {
        s.truncate(i);
    }
    let ok = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_');
    if !ok {
        return Err("connectionUriDomain is not a valid host name".into());
    }
    Ok(s)
}

pub fn is_path_id(s: &str) -> bool {
    is_id_charset(s)
}

pub fn is_reserved_tenant_segment(s: &str) -> bool {
    RESERVED_TENANT_IDS.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lower_cased_as_ascii_only() {
        assert_eq!(normalise_app_id("App-1").unwrap(), "app-1");
        // U+212A (Kelvin sign) lower-cases to `k` under Unicode rules: it must not alias app `k1`.
        assert!(normalise_app_id("\u{212A}1").is_err());
        assert!(normalise_tenant_id("\u{212A}1").is_err());
        assert!(normalise_cud("\u{212A}.example.com").is_err());
    }

    #[test]
    fn tenant_ids_are_normalised_and_checked() {
        assert_eq!(normalise_tenant_id(" Customer1 ").unwrap(), "customer1");
        assert!(normalise_tenant_id("bad_id").is_err());
        assert!(normalise_tenant_id("recipe").is_err());
        assert!(normalise_tenant_id("appid-x").is_err());
        assert!(normalise_tenant_id("").is_err());
        assert_eq!(normalise_app_id("A-1").unwrap(), "a-1");
    }

    #[test]
    fn cud_is_a_bare_host() {
        assert_eq!(normalise_cud("https://Example.com:3567/x").unwrap(), "example.com");
        assert!(normalise_cud("a b").is_err());
    }
}
