//! The deprecated (non-v2) multitenancy APIs — `PUT /recipe/multitenancy/connectionuridomain`,
//! `/app`, `/tenant`, `GET /<t>/recipe/multitenancy/tenant` and the three lists — which SDKs of CDI
//! 3.0 to 5.0 call (supertokens-node 15–18, supertokens-python up to 0.24): their create defaults,
//! their update rules and their tenant JSON, by CDI version, as the core has them.
//!
//! These APIs speak of each login recipe as `enabled` (a switch) where v2 speaks of first factors;
//! both are kept in [`TenantConfig`] (the three switches and `first_factors`, `None` = not set),
//! which is what the core stores. A recipe counts as enabled:
//! - below 5.0: its switch is on and first factors are not set or name one of its factors;
//! - from 5.0: its switch is on and first factors are not set or are not empty.
//!
//! The same two rules decide, below CDI 5.1, whether a recipe's sign-in/up APIs may run on a tenant
//! ([`login_allowed`]).
//!
//! The functions work on the core's model, where first factors may be an empty list; the result is
//! [`TenantConfig::normalised`] for storage, as the v2 rules are.

use serde_json::{json, Map, Value};

use crate::cdi::CdiVersion;
use crate::ids::TenantIdentifier;
use crate::multitenancy::{merge_core_config, TenantConfig, ALL_FIRST_FACTORS};

/// The three login recipes as the deprecated APIs name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipe {
    EmailPassword,
    ThirdParty,
    Passwordless,
}

const RECIPES: [Recipe; 3] = [Recipe::EmailPassword, Recipe::ThirdParty, Recipe::Passwordless];

impl Recipe {
    fn factors(self) -> &'static [&'static str] {
        match self {
            Recipe::EmailPassword => &["emailpassword"],
            Recipe::ThirdParty => &["thirdparty"],
            Recipe::Passwordless => &["otp-phone", "otp-email", "link-phone", "link-email"],
        }
    }

    fn of_factor(factor: &str) -> Option<Recipe> {
        RECIPES.into_iter().find(|r| r.factors().contains(&factor))
    }

    /// The name in the `... because <name> is disabled for the tenant.` messages.
    fn name(self) -> &'static str {
        match self {
            Recipe::EmailPassword => "emailPassword",
            Recipe::ThirdParty => "thirdParty",
            Recipe::Passwordless => "passwordless",
        }
    }

    /// The JSON member of the tenant object.
    fn member(self) -> &'static str {
        match self {
            Recipe::EmailPassword => "emailPassword",
            Recipe::ThirdParty => "thirdParty",
            Recipe::Passwordless => "passwordless",
        }
    }

    fn switch(self, t: &TenantConfig) -> bool {
        match self {
            Recipe::EmailPassword => t.email_password_enabled,
            Recipe::ThirdParty => t.third_party_enabled,
            Recipe::Passwordless => t.passwordless_enabled,
        }
    }

    fn set_switch(self, t: &mut TenantConfig, on: bool) {
        match self {
            Recipe::EmailPassword => t.email_password_enabled = on,
            Recipe::ThirdParty => t.third_party_enabled = on,
            Recipe::Passwordless => t.passwordless_enabled = on,
        }
    }

    fn input(self, u: &LegacyUpdate) -> Option<bool> {
        match self {
            Recipe::EmailPassword => u.email_password_enabled,
            Recipe::ThirdParty => u.third_party_enabled,
            Recipe::Passwordless => u.passwordless_enabled,
        }
    }

    /// The CDI ≤ 4.0 rule: the switch, and first factors unset or naming one of the recipe's factors.
    fn enabled_up_to_4_0(self, t: &TenantConfig) -> bool {
        self.switch(t) && t.first_factors.as_ref().is_none_or(|ff| ff.iter().any(|f| self.factors().contains(&f.as_str())))
    }

    /// The CDI 5.0 rule: the switch, and first factors unset or not empty.
    fn enabled_5_0(self, t: &TenantConfig) -> bool {
        self.switch(t) && t.first_factors.as_ref().is_none_or(|ff| !ff.is_empty())
    }

    /// The 403 text of a sign-in/up API whose recipe is off for the tenant (see [`login_allowed`]).
    pub fn not_enabled_message(self) -> &'static str {
        match self {
            Recipe::EmailPassword => "Email password login not enabled for tenant",
            Recipe::ThirdParty => "ThirdParty login not enabled for tenant",
            Recipe::Passwordless => "Passwordless login not enabled for tenant",
        }
    }
}

/// Whether a tenant lets a recipe's sign-in/up APIs run at a CDI version (the core's
/// `MultitenancyHelper.is…Enabled`): from 5.1 always (the SDK decides with first factors); at 5.0
/// by the 5.0 rule; below by the ≤ 4.0 rule (see the module's introduction).
pub fn login_allowed(t: &TenantConfig, recipe: Recipe, cdi: CdiVersion) -> bool {
    if cdi >= CdiVersion::V5_1 {
        true
    } else if cdi >= CdiVersion::V5_0 {
        recipe.enabled_5_0(t)
    } else {
        recipe.enabled_up_to_4_0(t)
    }
}

/// A tenant the deprecated create-or-update APIs create: the public tenant with every recipe on and
/// no first factors; any other with every recipe off (below 5.0 also with an empty first-factor
/// list, which stores the same).
pub fn new_tenant(id: TenantIdentifier, cdi: CdiVersion) -> TenantConfig {
    let public = id.is_public_tenant();
    let first_factors = if public || cdi >= CdiVersion::V5_0 { None } else { Some(vec![]) };
    TenantConfig {
        id,
        email_password_enabled: public,
        third_party_enabled: public,
        passwordless_enabled: public,
        first_factors,
        required_secondary_factors: None,
        core_config: Map::new(),
        providers: vec![],
    }
    .normalised()
}

/// What a deprecated create-or-update request asks to change. `Some(None)` = explicitly null.
/// Below 5.0 the two factor lists are not read at all (leave them `None`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LegacyUpdate {
    pub email_password_enabled: Option<bool>,
    pub third_party_enabled: Option<bool>,
    pub passwordless_enabled: Option<bool>,
    pub first_factors: Option<Option<Vec<String>>>,
    pub required_secondary_factors: Option<Option<Vec<String>>>,
    pub core_config: Option<Map<String, Value>>,
}

/// The 400 texts of a CDI ≥ 5.0 update, in the core's order (the factor lists' types are the
/// handler's to check).
pub fn check_update_5_0(u: &LegacyUpdate) -> Result<(), String> {
    let lists = [("firstFactors", &u.first_factors, "remove all first factors"), (
        "requiredSecondaryFactors",
        &u.required_secondary_factors,
        "remove all required secondary factors",
    )];
    for (name, list, what) in lists {
        if let Some(Some(l)) = list {
            let distinct: std::collections::HashSet<&String> = l.iter().collect();
            if distinct.len() != l.len() {
                return Err(format!("{name} input should not contain duplicate values"));
            }
            if l.is_empty() {
                return Err(format!("{name} cannot be empty. Set null instead to {what}."));
            }
        }
    }
    for recipe in RECIPES.into_iter().filter(|r| r.input(u) == Some(false)) {
        for (name, list, _) in lists {
            let Some(Some(l)) = list else { continue };
            if let Some(f) = recipe.factors().iter().find(|f| l.iter().any(|x| x == *f)) {
                return Err(format!(
                    "Invalid core config: {name} should not contain '{f}' because {} is disabled for the tenant.",
                    recipe.name()
                ));
            }
        }
    }
    Ok(())
}

/// Applies a deprecated create-or-update request (already checked with [`check_update_5_0`] from
/// 5.0): the core config merge, then the version's rules.
pub fn apply_update(t: &mut TenantConfig, u: &LegacyUpdate, cdi: CdiVersion) {
    if let Some(patch) = &u.core_config {
        merge_core_config(&mut t.core_config, patch.clone());
    }
    if cdi >= CdiVersion::V5_0 {
        apply_5_0(t, u);
    } else {
        apply_up_to_4_0(t, u);
    }
    *t = t.clone().normalised();
}

fn push_missing(list: &mut Vec<String>, factors: &[&str]) {
    for f in factors {
        if !list.iter().any(|x| x == f) {
            list.push((*f).to_owned());
        }
    }
}

fn remove_factors(list: &mut Vec<String>, factors: &[&str]) {
    list.retain(|f| !factors.contains(&f.as_str()));
}

/// Below 5.0 (the core's `applyTenantUpdates_3_0`): `true` turns a recipe on (adding its factors
/// to a set first-factor list); `false`, or a switch already off, takes its factors out of the
/// first factors (making the list explicit first). Switches are never turned off here.
fn apply_up_to_4_0(t: &mut TenantConfig, u: &LegacyUpdate) {
    let mut ff = t.first_factors.clone();
    for r in RECIPES {
        if r.input(u) == Some(true) && !r.enabled_up_to_4_0(t) {
            r.set_switch(t, true);
            if let Some(list) = ff.as_mut() {
                push_missing(list, r.factors());
            }
        }
    }
    let disabled: Vec<Recipe> = RECIPES.into_iter().filter(|r| !r.switch(t) || r.input(u) == Some(false)).collect();
    if !disabled.is_empty() {
        let list = ff.get_or_insert_with(|| ALL_FIRST_FACTORS.iter().map(|s| s.to_string()).collect());
        for r in disabled {
            remove_factors(list, r.factors());
        }
    }
    t.first_factors = ff;
}

/// From 5.0 (the core's `applyTenantUpdates_5_0`): the switches follow the inputs, the factor lists
/// are set as given, a recipe named by a factor is turned on, and turning a recipe off takes its
/// factors out of lists the request did not set.
fn apply_5_0(t: &mut TenantConfig, u: &LegacyUpdate) {
    let turning_on = RECIPES.into_iter().any(|r| r.input(u) == Some(true) && !r.enabled_5_0(t));
    if turning_on && t.first_factors.as_ref().is_some_and(|ff| ff.is_empty()) {
        // "No login method" expressed as an empty list: start from every switch off instead.
        for r in RECIPES {
            r.set_switch(t, false);
        }
        t.first_factors = None;
    }
    // Decided against the config as it is now, applied afterwards (as the core collects its updates).
    let before = t.clone();
    let mut switches: Vec<(Recipe, bool)> = RECIPES.into_iter().filter_map(|r| r.input(u).map(|on| (r, on))).collect();
    let mut first_factors = u.first_factors.clone();
    let mut required = u.required_secondary_factors.clone();
    if RECIPES.into_iter().any(|r| r.input(u) == Some(false)) {
        let off: Vec<Recipe> = RECIPES.into_iter().filter(|r| r.input(u) == Some(false)).collect();
        let without_off = |list: &Vec<String>| {
            let mut l = list.clone();
            for r in &off {
                remove_factors(&mut l, r.factors());
            }
            l
        };
        if let (None, Some(ff)) = (&u.first_factors, &before.first_factors) {
            let l = without_off(ff);
            if l.len() != ff.len() {
                first_factors = Some(Some(l));
            }
        }
        if let (None, Some(rsf)) = (&u.required_secondary_factors, &before.required_secondary_factors) {
            let l = without_off(rsf);
            if l.len() != rsf.len() {
                required = Some(Some(l));
            }
        }
    }
    if let Some(Some(ff)) = &u.first_factors {
        for r in ff.iter().filter_map(|f| Recipe::of_factor(f)) {
            if !r.enabled_5_0(&before) {
                switches.push((r, true));
            }
        }
    }
    if let Some(Some(rsf)) = &u.required_secondary_factors {
        let mut enabling_some_recipe = false;
        for r in rsf.iter().filter_map(|f| Recipe::of_factor(f)) {
            if !r.enabled_5_0(&before) {
                switches.push((r, true));
                enabling_some_recipe |= r.input(u) != Some(true);
            }
        }
        if u.first_factors.is_none() && enabling_some_recipe && before.first_factors.is_none() {
            // Requiring a recipe the tenant had off would also allow it as a first factor: keep the
            // first factors to the recipes that were on (or are being turned on).
            let mut ff = Vec::new();
            for r in RECIPES {
                if (r.switch(&before) || r.input(u) == Some(true)) && r.input(u) != Some(false) {
                    push_missing(&mut ff, r.factors());
                }
            }
            if ff.len() < ALL_FIRST_FACTORS.len() {
                first_factors = Some(Some(ff));
            }
        }
    }
    for (r, on) in switches {
        r.set_switch(t, on);
    }
    if let Some(ff) = first_factors {
        t.first_factors = ff;
    }
    if let Some(rsf) = required {
        t.required_secondary_factors = rsf;
    }
    // Any factor listed turns its recipe on.
    let listed: Vec<Recipe> =
        t.first_factors.iter().chain(t.required_secondary_factors.iter()).flatten().filter_map(|f| Recipe::of_factor(f)).collect();
    for r in listed {
        r.set_switch(t, true);
    }
}

/// The core's check of factor names after an update (every create-or-update API, v2 included):
/// `^[0-9a-zA-Z_(\.)-]+$` (parentheses included, as the core's pattern has them).
pub fn check_factor_names(t: &TenantConfig) -> Result<(), String> {
    let valid = |f: &String| !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphanumeric() || b"_().-".contains(&b));
    for (name, list) in [("firstFactors", &t.first_factors), ("requiredSecondaryFactors", &t.required_secondary_factors)] {
        if list.iter().flatten().any(|f| !valid(f)) {
            return Err(format!("{name} should contain only 0-9,a-z,A-Z,_,.,- characters"));
        }
    }
    Ok(())
}

/// The tenant object of the deprecated GET and list APIs (without `status`; the protected core-config
/// keys are removed by the caller as for v2).
pub fn tenant_json(t: &TenantConfig, cdi: CdiVersion) -> Value {
    let modern = cdi >= CdiVersion::V5_0;
    let enabled = |r: Recipe| if modern { r.enabled_5_0(t) } else { r.enabled_up_to_4_0(t) };
    let mut o = Map::new();
    o.insert("tenantId".into(), json!(t.id.tenant_id));
    for r in RECIPES {
        let mut member = json!({"enabled": enabled(r)});
        if r == Recipe::ThirdParty {
            member["providers"] = json!(t.providers);
        }
        o.insert(r.member().into(), member);
    }
    if modern {
        if let Some(ff) = t.first_factors.as_ref().filter(|ff| !ff.is_empty()) {
            o.insert("firstFactors".into(), json!(ff));
        }
        if let Some(rsf) = &t.required_secondary_factors {
            o.insert("requiredSecondaryFactors".into(), json!(rsf));
        }
    }
    o.insert("coreConfig".into(), Value::Object(t.core_config.clone()));
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> CdiVersion {
        CdiVersion::parse_listed(s).unwrap()
    }

    fn id(t: &str) -> TenantIdentifier {
        TenantIdentifier::new("", "public", t)
    }

    fn list(l: &[&str]) -> Option<Vec<String>> {
        Some(l.iter().map(|s| s.to_string()).collect())
    }

    fn enabled(t: &TenantConfig, cdi: &str) -> [bool; 3] {
        let j = tenant_json(t, v(cdi));
        ["emailPassword", "thirdParty", "passwordless"].map(|m| j[m]["enabled"].as_bool().unwrap())
    }

    fn sorted(o: Option<Vec<String>>) -> Option<Vec<String>> {
        o.map(|mut l| {
            l.sort();
            l
        })
    }

    #[test]
    fn login_allowed_by_version() {
        let mut t = new_tenant(id("t1"), v("5.0"));
        t.email_password_enabled = true;
        t.passwordless_enabled = true;
        t.first_factors = list(&["emailpassword"]);
        let allowed = |t: &TenantConfig, cdi: &str| RECIPES.map(|r| login_allowed(t, r, v(cdi)));
        for cdi in ["2.8", "3.0", "4.0"] {
            assert_eq!(allowed(&t, cdi), [true, false, false], "{cdi}: the switch and a listed factor");
        }
        assert_eq!(allowed(&t, "5.0"), [true, false, true], "5.0: the switch and a non-empty list");
        for cdi in ["5.1", "5.4"] {
            assert_eq!(allowed(&t, cdi), [true; 3], "{cdi}: always");
        }
        let public = new_tenant(id("public"), v("2.7"));
        assert_eq!(allowed(&public, "2.7"), [true; 3]);
        let off = new_tenant(id("t2"), v("5.0"));
        assert_eq!(allowed(&off, "3.0"), [false; 3]);
        assert_eq!(allowed(&off, "5.0"), [false; 3]);
        assert_eq!(Recipe::ThirdParty.not_enabled_message(), "ThirdParty login not enabled for tenant");
    }

    #[test]
    fn create_defaults() {
        for cdi in ["3.0", "4.0", "5.0"] {
            let public = new_tenant(id("public"), v(cdi));
            assert_eq!(enabled(&public, cdi), [true; 3]);
            assert_eq!(public.first_factors, None);
            let t1 = new_tenant(id("t1"), v(cdi));
            assert_eq!(enabled(&t1, cdi), [false; 3], "{cdi}");
            assert_eq!(t1.effective_first_factors(), Some(vec![]), "no login method, as v2 reads it");
        }
    }

    #[test]
    fn tenant_json_shapes() {
        let mut t = new_tenant(id("t1"), v("4.0"));
        t.core_config.insert("password_reset_token_lifetime".into(), json!(1000));
        let old = tenant_json(&t, v("4.0"));
        assert_eq!(
            old,
            json!({"tenantId": "t1", "emailPassword": {"enabled": false}, "thirdParty": {"enabled": false, "providers": []}, "passwordless": {"enabled": false}, "coreConfig": {"password_reset_token_lifetime": 1000}})
        );
        let mut t = TenantConfig { first_factors: list(&["emailpassword", "otp-email"]), required_secondary_factors: list(&["totp"]), ..t };
        t.email_password_enabled = true;
        t.third_party_enabled = true;
        t.passwordless_enabled = true;
        assert_eq!(enabled(&t, "4.0"), [true, false, true], "below 5.0: the recipe's factors must be listed");
        assert_eq!(enabled(&t, "5.0"), [true, true, true], "from 5.0: any non-empty list enables a switched-on recipe");
        let new = tenant_json(&t, v("5.0"));
        let keys: Vec<&str> = new.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["tenantId", "emailPassword", "thirdParty", "passwordless", "firstFactors", "requiredSecondaryFactors", "coreConfig"]);
        assert!(tenant_json(&t, v("4.0")).get("firstFactors").is_none());
    }

    #[test]
    fn updates_below_5_0_enable_and_disable_through_first_factors() {
        let mut t = new_tenant(id("t1"), v("3.0"));
        let u = LegacyUpdate { email_password_enabled: Some(true), ..Default::default() };
        apply_update(&mut t, &u, v("3.0"));
        assert_eq!(enabled(&t, "3.0"), [true, false, false]);
        assert_eq!(t.effective_first_factors(), list(&["emailpassword"]));
        let u = LegacyUpdate { third_party_enabled: Some(true), passwordless_enabled: Some(true), ..Default::default() };
        apply_update(&mut t, &u, v("3.0"));
        assert_eq!(enabled(&t, "3.0"), [true, true, true]);
        assert_eq!(sorted(t.effective_first_factors()), sorted(list(&ALL_FIRST_FACTORS)));
        // Turning one off lists the others explicitly; the switch itself stays on.
        let mut public = new_tenant(id("public"), v("3.0"));
        let u = LegacyUpdate { passwordless_enabled: Some(false), ..Default::default() };
        apply_update(&mut public, &u, v("3.0"));
        assert_eq!(enabled(&public, "3.0"), [true, true, false]);
        assert!(public.passwordless_enabled);
        assert_eq!(public.first_factors, list(&["emailpassword", "thirdparty"]));
        // And back on.
        let u = LegacyUpdate { passwordless_enabled: Some(true), ..Default::default() };
        apply_update(&mut public, &u, v("3.0"));
        assert_eq!(enabled(&public, "3.0"), [true; 3]);
        // The factor lists are not read below 5.0.
        let before = public.clone();
        apply_update(&mut public, &LegacyUpdate::default(), v("4.0"));
        assert_eq!(public, before, "an empty update changes nothing");
    }

    #[test]
    fn updates_from_5_0() {
        // Turning a recipe on for a tenant without login methods starts from every switch off.
        let mut t = new_tenant(id("t1"), v("5.0"));
        apply_update(&mut t, &LegacyUpdate { email_password_enabled: Some(true), ..Default::default() }, v("5.0"));
        assert_eq!(enabled(&t, "5.0"), [true, false, false]);
        assert_eq!(t.first_factors, None);
        assert_eq!(t.effective_first_factors(), list(&["emailpassword"]));
        // Listing a factor turns its recipe on.
        let u = LegacyUpdate { first_factors: Some(list(&["otp-email", "emailpassword"])), ..Default::default() };
        apply_update(&mut t, &u, v("5.0"));
        assert!(t.passwordless_enabled);
        assert_eq!(t.first_factors, list(&["otp-email", "emailpassword"]));
        // Turning a recipe off takes its factors out of a list the request did not set.
        apply_update(&mut t, &LegacyUpdate { passwordless_enabled: Some(false), ..Default::default() }, v("5.0"));
        assert!(!t.passwordless_enabled);
        assert_eq!(t.first_factors, list(&["emailpassword"]));
        // Null clears the list.
        apply_update(&mut t, &LegacyUpdate { first_factors: Some(None), ..Default::default() }, v("5.0"));
        assert_eq!(t.first_factors, None);
        // Requiring a factor of a recipe that was off turns it on, and limits the first factors to
        // what was on before.
        let u = LegacyUpdate { required_secondary_factors: Some(list(&["otp-phone"])), ..Default::default() };
        apply_update(&mut t, &u, v("5.0"));
        assert!(t.passwordless_enabled);
        assert_eq!(t.first_factors, list(&["emailpassword"]));
        assert_eq!(t.required_secondary_factors, list(&["otp-phone"]));
        // Custom factors are kept, and need no recipe.
        let u = LegacyUpdate { required_secondary_factors: Some(list(&["totp"])), ..Default::default() };
        apply_update(&mut t, &u, v("5.0"));
        assert_eq!(t.required_secondary_factors, list(&["totp"]));
    }

    #[test]
    fn checks_from_5_0_in_the_cores_order() {
        let u = |ff: Option<Option<Vec<String>>>, rsf: Option<Option<Vec<String>>>, ep: Option<bool>, pl: Option<bool>| LegacyUpdate {
            email_password_enabled: ep,
            passwordless_enabled: pl,
            first_factors: ff,
            required_secondary_factors: rsf,
            ..Default::default()
        };
        assert_eq!(check_update_5_0(&u(Some(list(&["a", "a"])), None, None, None)), Err("firstFactors input should not contain duplicate values".into()));
        assert_eq!(
            check_update_5_0(&u(Some(list(&[])), None, None, None)),
            Err("firstFactors cannot be empty. Set null instead to remove all first factors.".into())
        );
        assert_eq!(
            check_update_5_0(&u(None, Some(list(&[])), None, None)),
            Err("requiredSecondaryFactors cannot be empty. Set null instead to remove all required secondary factors.".into())
        );
        assert_eq!(
            check_update_5_0(&u(Some(list(&["emailpassword"])), None, Some(false), None)),
            Err("Invalid core config: firstFactors should not contain 'emailpassword' because emailPassword is disabled for the tenant.".into())
        );
        assert_eq!(
            check_update_5_0(&u(None, Some(list(&["link-email", "otp-email"])), None, Some(false))),
            Err("Invalid core config: requiredSecondaryFactors should not contain 'otp-email' because passwordless is disabled for the tenant.".into())
        );
        assert_eq!(check_update_5_0(&u(Some(None), Some(list(&["totp"])), Some(false), Some(true))), Ok(()));
    }

    #[test]
    fn factor_names() {
        let mut t = new_tenant(id("public"), v("5.0"));
        t.first_factors = list(&["custom_(x).y-1"]);
        assert_eq!(check_factor_names(&t), Ok(()));
        t.required_secondary_factors = list(&["no spaces"]);
        assert_eq!(check_factor_names(&t), Err("requiredSecondaryFactors should contain only 0-9,a-z,A-Z,_,.,- characters".into()));
    }
}
