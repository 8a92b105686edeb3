//! CDI versions: which ones Portcullis answers to, how a request's `cdi-version` header is read and
//! checked (with the core's exact 400 messages), and what `/apiversion` lists.
//!
//! The SuperTokens core (12.1.1) accepts every version from 2.7 up; Portcullis stops at 5.4, so it
//! behaves like a core configured with `supertokens_max_cdi_version: "5.4"`. Each version answers
//! with its own behaviour (token formats, response members, legacy routes); the rules that differ
//! live beside their recipes and take a [`CdiVersion`].
//!
//! The header check, in the core's order, for every API (`/hello`, `/apiversion` and the JWKS too):
//! 1. absent → the app's `supertokens_max_cdi_version`, else the newest;
//! 2. not `^[0-9]+(\.[0-9]+)*$` → `cdi-version header is invalid`;
//! 3. numerically above the max → `cdi-version <raw> not supported`;
//! 4. below the app's `supertokens_min_cdi_version` → `... is lower than the minimum allowed version <min>`.
//!
//! Then, before CDI 3.0 a path naming a non-public tenant is a 404 `Not found`
//! ([`hides_non_public_tenants`]), and an API that needs a version requires one of the listed strings
//! exactly ([`Requested::for_api`]): `5.4.0`, `05.4` and `5` are numerically 5.4 but not listed.

use std::cmp::Ordering;
use std::fmt;

/// Every version served, oldest first.
pub const ACCEPTED: [&str; 23] = [
    "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "2.17", "2.18", "2.19", "2.20", "2.21", "3.0",
    "3.1", "4.0", "5.0", "5.1", "5.2", "5.3", "5.4",
];

/// The same versions in the order the core's `/apiversion` lists them (the iteration order of its
/// `HashSet`, computed from the core's own `SemVer`). SDKs only intersect the list with theirs, so
/// the order is for fidelity, not function.
pub const API_VERSION_ORDER: [&str; 23] = [
    "2.14", "2.13", "2.12", "2.11", "2.10", "2.21", "2.20", "2.19", "2.18", "2.17", "3.0", "2.16", "3.1", "4.0", "2.15", "5.0",
    "5.1", "5.2", "5.3", "2.7", "5.4", "2.8", "2.9",
];

/// A CDI version as `major.minor`, ordered numerically. For an API that needs a version it is one of
/// [`ACCEPTED`]; the three APIs that do not (`/hello`, `/apiversion`, the JWKS) may see any value
/// that passed the header check (the first two parts of the header, later parts ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CdiVersion {
    pub major: u32,
    pub minor: u32,
}

impl CdiVersion {
    pub const fn new(major: u32, minor: u32) -> CdiVersion {
        CdiVersion { major, minor }
    }

    pub const V2_7: CdiVersion = CdiVersion::new(2, 7);
    pub const V2_8: CdiVersion = CdiVersion::new(2, 8);
    pub const V2_9: CdiVersion = CdiVersion::new(2, 9);
    pub const V2_12: CdiVersion = CdiVersion::new(2, 12);
    pub const V2_21: CdiVersion = CdiVersion::new(2, 21);
    pub const V3_0: CdiVersion = CdiVersion::new(3, 0);
    pub const V4_0: CdiVersion = CdiVersion::new(4, 0);
    pub const V5_0: CdiVersion = CdiVersion::new(5, 0);
    pub const V5_1: CdiVersion = CdiVersion::new(5, 1);
    pub const V5_3: CdiVersion = CdiVersion::new(5, 3);
    pub const V5_4: CdiVersion = CdiVersion::new(5, 4);
    /// The newest version served: what a request without the header gets when no max is configured.
    pub const LATEST: CdiVersion = CdiVersion::V5_4;

    /// One of the listed strings, exactly (as the core's set membership is by the raw string).
    pub fn parse_listed(s: &str) -> Option<CdiVersion> {
        if !ACCEPTED.contains(&s) {
            return None;
        }
        let (major, minor) = s.split_once('.')?;
        Some(CdiVersion::new(major.parse().ok()?, minor.parse().ok()?))
    }

    pub fn is_listed(self) -> bool {
        ACCEPTED.iter().any(|s| CdiVersion::parse_listed(s) == Some(self))
    }

    /// `min <= self <= max`.
    pub fn between(self, min: CdiVersion, max: CdiVersion) -> bool {
        min <= self && self <= max
    }
}

impl fmt::Display for CdiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A syntactically valid version string: its dot-separated parts. A part too large for `u64`
/// saturates, which keeps it above any real version (the core answers 500 there; we answer 400).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Numeric(Vec<u64>);

impl Numeric {
    /// The core's `SemVer` grammar: `^[0-9]+(\.[0-9]+)*$`, ASCII digits only.
    fn parse(s: &str) -> Option<Numeric> {
        let mut parts = Vec::new();
        for part in s.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            parts.push(part.bytes().fold(0u64, |n, d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))));
        }
        Some(Numeric(parts))
    }

    /// Part by part, missing parts counting as 0 (so `5.4.0` equals `5.4`).
    fn cmp_version(&self, v: CdiVersion) -> Ordering {
        let other = [u64::from(v.major), u64::from(v.minor)];
        let len = self.0.len().max(2);
        (0..len)
            .map(|i| self.0.get(i).copied().unwrap_or(0).cmp(&other.get(i).copied().unwrap_or(0)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    fn as_version(&self) -> CdiVersion {
        let part = |i: usize| u32::try_from(self.0.get(i).copied().unwrap_or(0)).unwrap_or(u32::MAX);
        CdiVersion::new(part(0), part(1))
    }
}

/// Why a `cdi-version` header was refused (each a 400 with [`VersionError::message`] as the body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionError {
    Invalid,
    NotSupported { raw: String },
    BelowMinimum { raw: String, min: String },
}

impl VersionError {
    pub fn message(&self) -> String {
        match self {
            VersionError::Invalid => "cdi-version header is invalid".to_owned(),
            VersionError::NotSupported { raw } => format!("cdi-version {raw} not supported"),
            VersionError::BelowMinimum { raw, min } => {
                format!("cdi-version {raw} is lower than the minimum allowed version {min}")
            }
        }
    }
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for VersionError {}

/// The version a request asked for, after the checks that apply to every API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    pub version: CdiVersion,
    /// The header as sent (`None`: absent, the app's max applies).
    raw: Option<String>,
}

impl Requested {
    /// The version for an API: one that needs a version must have been asked for by a listed string.
    pub fn for_api(&self, needs_version: bool) -> Result<CdiVersion, VersionError> {
        match &self.raw {
            Some(raw) if needs_version && !ACCEPTED.contains(&raw.as_str()) => Err(VersionError::NotSupported { raw: raw.clone() }),
            _ => Ok(self.version),
        }
    }
}

/// The app's max as the core reads it: the configured `supertokens_max_cdi_version` (validated to
/// be a listed version), else the newest.
pub fn max_version(configured_max: Option<&str>) -> CdiVersion {
    configured_max.and_then(CdiVersion::parse_listed).unwrap_or(CdiVersion::LATEST)
}

/// Reads the `cdi-version` header (already stripped of surrounding whitespace) against the app's
/// `supertokens_max_cdi_version` and `supertokens_min_cdi_version` (as configured, or `None`).
pub fn resolve(header: Option<&str>, configured_max: Option<&str>, configured_min: Option<&str>) -> Result<Requested, VersionError> {
    let max = max_version(configured_max);
    let Some(raw) = header else { return Ok(Requested { version: max, raw: None }) };
    let numeric = Numeric::parse(raw).ok_or(VersionError::Invalid)?;
    if numeric.cmp_version(max).is_gt() {
        return Err(VersionError::NotSupported { raw: raw.to_owned() });
    }
    if let Some(min_text) = configured_min {
        if let Some(min) = CdiVersion::parse_listed(min_text) {
            if numeric.cmp_version(min).is_lt() {
                return Err(VersionError::BelowMinimum { raw: raw.to_owned(), min: min_text.to_owned() });
            }
        }
    }
    Ok(Requested { version: numeric.as_version(), raw: Some(raw.to_owned()) })
}

/// Before CDI 3.0 there were no tenants: a path naming a non-public tenant answers 404 `Not found`
/// (checked after the header, before whether the API needs a version).
pub fn hides_non_public_tenants(version: CdiVersion, tenant_id: &str) -> bool {
    version < CdiVersion::V3_0 && tenant_id != crate::ids::PUBLIC
}

/// `GET /apiversion`'s `versions`: every served version up to the app's max, in the core's order.
pub fn api_versions(max: CdiVersion) -> Vec<&'static str> {
    API_VERSION_ORDER.iter().copied().filter(|s| CdiVersion::parse_listed(s).is_some_and(|v| v <= max)).collect()
}

/// Config validation of `supertokens_max_cdi_version` / `supertokens_min_cdi_version`, with the core's
/// messages and in its order.
pub fn validate_bounds(max: Option<&str>, min: Option<&str>) -> Result<(), String> {
    if let Some(m) = max {
        Numeric::parse(m).ok_or("supertokens_max_cdi_version is not a valid semantic version")?;
        CdiVersion::parse_listed(m).ok_or("supertokens_max_cdi_version is not a supported version")?;
    }
    if let Some(m) = min {
        let numeric = Numeric::parse(m).ok_or("supertokens_min_cdi_version is not a valid semantic version")?;
        CdiVersion::parse_listed(m).ok_or("supertokens_min_cdi_version is not a supported version")?;
        if let Some(max) = max.and_then(CdiVersion::parse_listed) {
            if numeric.cmp_version(max).is_gt() {
                return Err("supertokens_min_cdi_version cannot be greater than supertokens_max_cdi_version".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: Option<&str>, needs_version: bool) -> Result<CdiVersion, String> {
        resolve(header, None, None).and_then(|r| r.for_api(needs_version)).map_err(|e| e.message())
    }

    #[test]
    fn twenty_three_versions_in_order_and_in_the_cores_list_order() {
        assert_eq!(ACCEPTED.len(), 23);
        let parsed: Vec<CdiVersion> = ACCEPTED.iter().map(|s| CdiVersion::parse_listed(s).unwrap()).collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]), "ascending");
        assert_eq!(parsed[0], CdiVersion::V2_7);
        assert_eq!(*parsed.last().unwrap(), CdiVersion::LATEST);
        let mut a = API_VERSION_ORDER.to_vec();
        a.sort_by_key(|s| CdiVersion::parse_listed(s));
        assert_eq!(a, ACCEPTED.to_vec(), "the same set");
        assert!(parsed.iter().all(|v| v.is_listed()));
        assert!(!CdiVersion::new(2, 22).is_listed());
    }

    #[test]
    fn apiversion_lists_up_to_the_max_in_the_cores_order() {
        let all = api_versions(CdiVersion::LATEST);
        assert_eq!(all, API_VERSION_ORDER.to_vec());
        assert_eq!(
            serde_json::json!({"versions": all}).to_string(),
            r#"{"versions":["2.14","2.13","2.12","2.11","2.10","2.21","2.20","2.19","2.18","2.17","3.0","2.16","3.1","4.0","2.15","5.0","5.1","5.2","5.3","2.7","5.4","2.8","2.9"]}"#
        );
        assert_eq!(api_versions(CdiVersion::V3_0), vec!["2.14", "2.13", "2.12", "2.11", "2.10", "2.21", "2.20", "2.19", "2.18", "2.17", "3.0", "2.16", "2.15", "2.7", "2.8", "2.9"]);
        assert_eq!(api_versions(max_version(Some("2.7"))), vec!["2.7"]);
    }

    /// The worked table of the spec (§1.2), for an app without max/min config.
    #[test]
    fn header_rules() {
        assert_eq!(check(None, true), Ok(CdiVersion::LATEST));
        for listed in ["2.7", "2.21", "3.0", "3.1", "4.0", "5.4"] {
            assert_eq!(check(Some(listed), true), Ok(CdiVersion::parse_listed(listed).unwrap()));
        }
        for unlisted in ["2.6", "1.0", "2.22", "4.1", "5", "5.4.0", "05.4", "0.99999999999"] {
            assert_eq!(check(Some(unlisted), true), Err(format!("cdi-version {unlisted} not supported")), "{unlisted}");
        }
        // APIs that need no version take any valid value at or below the max.
        assert_eq!(check(Some("2.6"), false), Ok(CdiVersion::new(2, 6)));
        assert_eq!(check(Some("5.4.0"), false), Ok(CdiVersion::V5_4));
        assert_eq!(check(Some("5"), false), Ok(CdiVersion::V5_0));
        for above in ["5.5", "5.6", "6", "10.0", "5.4.1", "99999999999.0", "5.99999999999999999999999"] {
            for needs in [true, false] {
                assert_eq!(check(Some(above), needs), Err(format!("cdi-version {above} not supported")), "{above}");
            }
        }
        for invalid in ["abc", "", "5.", ".5", "v5.4", "5.4-beta", "5,4", " 5.4", "5..4", "٥.4"] {
            for needs in [true, false] {
                assert_eq!(check(Some(invalid), needs), Err("cdi-version header is invalid".into()), "{invalid:?}");
            }
        }
    }

    #[test]
    fn configured_bounds() {
        let r = |h: &str| resolve(Some(h), Some("4.0"), Some("3.0")).and_then(|r| r.for_api(true)).map_err(|e| e.message());
        assert_eq!(r("2.21"), Err("cdi-version 2.21 is lower than the minimum allowed version 3.0".into()));
        assert_eq!(r("5.0"), Err("cdi-version 5.0 not supported".into()), "above the configured max");
        assert_eq!(r("3.1"), Ok(CdiVersion::new(3, 1)));
        assert_eq!(resolve(None, Some("4.0"), None).unwrap().for_api(true), Ok(CdiVersion::V4_0));
        // The minimum check runs for version-free APIs too.
        let below = resolve(Some("2.7"), None, Some("3.0")).map(|r| r.version).map_err(|e| e.message());
        assert_eq!(below, Err("cdi-version 2.7 is lower than the minimum allowed version 3.0".into()));
    }

    #[test]
    fn tenants_are_hidden_before_3_0() {
        assert!(hides_non_public_tenants(CdiVersion::new(2, 21), "t1"));
        assert!(hides_non_public_tenants(CdiVersion::new(2, 6), "t1"));
        assert!(!hides_non_public_tenants(CdiVersion::new(2, 21), "public"));
        assert!(!hides_non_public_tenants(CdiVersion::V3_0, "t1"));
    }

    #[test]
    fn config_bounds_validation() {
        assert_eq!(validate_bounds(Some("5.4"), Some("2.7")), Ok(()));
        assert_eq!(validate_bounds(Some("x"), None), Err("supertokens_max_cdi_version is not a valid semantic version".into()));
        assert_eq!(validate_bounds(Some("5.5"), None), Err("supertokens_max_cdi_version is not a supported version".into()));
        assert_eq!(validate_bounds(None, Some("2.6")), Err("supertokens_min_cdi_version is not a supported version".into()));
        assert_eq!(validate_bounds(None, Some("")), Err("supertokens_min_cdi_version is not a valid semantic version".into()));
        assert_eq!(
            validate_bounds(Some("3.0"), Some("4.0")),
            Err("supertokens_min_cdi_version cannot be greater than supertokens_max_cdi_version".into())
        );
    }

    #[test]
    fn ordering_and_display() {
        assert!(CdiVersion::new(2, 9) < CdiVersion::new(2, 10), "numeric, not textual");
        assert!(CdiVersion::new(2, 21) < CdiVersion::V3_0);
        assert_eq!(CdiVersion::new(2, 10).to_string(), "2.10");
        assert!(CdiVersion::new(2, 15).between(CdiVersion::V2_9, CdiVersion::new(2, 20)));
    }
}
