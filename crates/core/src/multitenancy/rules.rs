//! Who may manage connection-URI domains, apps and tenants, what a create-or-update may change,
//! and what may not be removed; each check gives the core's message.

use serde_json::{Map, Value};

use super::model::V2Update;
use crate::config::keys::is_protected;
use crate::error::Error;
use crate::ids::{TenantIdentifier, DEFAULT_CUD, PUBLIC};

/// What a multitenancy API manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    ConnectionUriDomain,
    App,
    Tenant,
}

/// What it does to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    CreateOrUpdate,
    List,
    Remove,
}

impl Scope {
    /// Whether the calling tenant may manage things of this scope: domains from the base tenant,
    /// apps from a domain's public app and tenant, tenants from an app's public tenant.
    fn allows(self, caller: &TenantIdentifier) -> bool {
        match self {
            Scope::ConnectionUriDomain => caller.is_base(),
            Scope::App => caller.app_id == PUBLIC && caller.is_public_tenant(),
            Scope::Tenant => caller.is_public_tenant(),
        }
    }

    fn callers(self) -> &'static str {
        match self {
            Scope::ConnectionUriDomain => "the public tenantId, public appId and default connectionUriDomain",
            Scope::App => "the public tenantId and public appId",
            Scope::Tenant => "the public tenantId",
        }
    }
}

fn action(scope: Scope, act: Act) -> &'static str {
    match (scope, act) {
        (Scope::ConnectionUriDomain, Act::CreateOrUpdate) => "create or update a connectionUriDomain",
        (Scope::App, Act::CreateOrUpdate) => "create or update an app",
        (Scope::Tenant, Act::CreateOrUpdate) => "create or update a tenant",
        (Scope::ConnectionUriDomain, Act::List) => "list all connectionUriDomains and appIds associated with this core",
        (Scope::App, Act::List) => "list all apps associated with this connection uri domain",
        (Scope::Tenant, Act::List) => "list all tenants associated with this app",
        (Scope::ConnectionUriDomain, Act::Remove) => "delete a connectionUriDomain",
        (Scope::App, Act::Remove) => "delete an app",
        (Scope::Tenant, Act::Remove) => "delete a tenant",
    }
}

/// The calling tenant may `act` on things of `scope` (403 otherwise).
pub fn may(caller: &TenantIdentifier, scope: Scope, act: Act) -> Result<(), Error> {
    if scope.allows(caller) {
        return Ok(());
    }
    Err(Error::Forbidden(format!("Only {} is allowed to {}", scope.callers(), action(scope, act))))
}

/// The public tenant, the public app and the default domain are removed only with what holds them.
pub fn removable(scope: Scope, id: &str) -> Result<(), Error> {
    let refusal = match scope {
        Scope::Tenant if id == PUBLIC => "Cannot delete public tenant, use remove app API instead",
        Scope::App if id == PUBLIC => "Cannot delete the public app, use remove connection uri domain API instead",
        Scope::ConnectionUriDomain if id == DEFAULT_CUD => "Cannot delete the default connection uri domain",
        _ => return Ok(()),
    };
    Err(Error::Forbidden(refusal.into()))
}

/// The fields the v2 create-or-update APIs no longer take (`…Enabled`), with the name the core's
/// message gives each.
pub const LEGACY_FIELDS: [(&str, &str); 3] = [
    ("emailPasswordEnabled", "emailPasswordEnabled"),
    ("thirdPartyEnabled", "thirdParty"),
    ("passwordlessEnabled", "passwordless"),
];

/// A legacy field present in the request.
pub fn legacy_field(name: &str) -> Error {
    Error::BadInput(format!("{name} is not a valid input for this API"))
}

/// An empty first-factor list means "no login method"; an empty required list means nothing, and
/// is refused.
pub fn check_required_secondary(list: &Option<Option<Vec<String>>>) -> Result<(), Error> {
    if matches!(list, Some(Some(l)) if l.is_empty()) {
        return Err(Error::BadInput(
            "requiredSecondaryFactors cannot be empty. Set null instead to remove all required secondary factors.".into(),
        ));
    }
    Ok(())
}

/// A tenant's `coreConfig` as given: known keys with valid values.
pub fn check_core_config(core_config: &Map<String, Value>) -> Result<(), Error> {
    crate::config::check_core_config(core_config).map_err(|m| Error::BadInput(format!("Invalid core config: {m}")))
}

/// What a create-or-update may change: no protected key when `protect_configs` is on (a SaaS secret
/// is set and the caller did not use it), and no config of the base tenant, which comes from the
/// config file.
pub fn check_update(protect_configs: bool, target: &TenantIdentifier, update: &V2Update) -> Result<(), Error> {
    if protect_configs && update.core_config.as_ref().is_some_and(|c| c.keys().any(|k| is_protected(k))) {
        return Err(Error::Forbidden("Not allowed to modify DB related configs.".into()));
    }
    if target.is_base() && update.core_config.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(Error::BadInput("Cannot modify base config".into()));
    }
    Ok(())
}
