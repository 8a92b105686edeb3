//! Which app, tenant and API a request path names: `[/appid-<app>][/<tenant>]<api path>`, matched
//! case-insensitively, after the configured base path, with a trailing slash tolerated.

use portcullis_core::ids::{is_path_id, is_reserved_tenant_segment, PUBLIC};

use super::routes::Route;

#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    pub route: Route,
    pub app_id: String,
    pub tenant_id: String,
    /// Whether the path named a tenant explicitly.
    pub tenant_in_path: bool,
}

/// The request path after the configured base path (compared case-insensitively); `None` = the
/// path is outside it.
pub fn strip_base_path(base_path: &str, raw_path: &str) -> Option<String> {
    let base = base_path.trim_end_matches('/').to_lowercase();
    if base.is_empty() {
        return Some(raw_path.to_owned());
    }
    match raw_path.to_lowercase().strip_prefix(&base) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => Some(rest.to_owned()),
        _ => None,
    }
}

/// Resolves a request path (already stripped of the base path). `None` = not found.
pub fn resolve(path: &str) -> Option<Resolved> {
    let lower = path.to_lowercase();
    let trimmed = lower.trim_end_matches('/');
    let (app_id, rest) = match trimmed.strip_prefix("/appid-") {
        Some(after) => {
            let (app, rest) = after.split_at(after.find('/').unwrap_or(after.len()));
            if !is_path_id(app) {
                return None;
            }
            (app.to_owned(), rest)
        }
        None => (PUBLIC.to_owned(), trimmed),
    };
    let found = |route, tenant: &str, in_path| {
        Some(Resolved { route, app_id: app_id.clone(), tenant_id: tenant.to_owned(), tenant_in_path: in_path })
    };
    if rest.is_empty() {
        return found(Route::Root, PUBLIC, false);
    }
    if let Some(route) = Route::from_path(rest) {
        return found(route, PUBLIC, false);
    }
    // Anything else starts with '/': a path that does not is not ours (and must not lose its first character).
    let after_slash = rest.strip_prefix('/')?;
    let (tenant, api) = after_slash.split_at(after_slash.find('/').unwrap_or(after_slash.len()));
    if !is_path_id(tenant) || is_reserved_tenant_segment(tenant) {
        return None;
    }
    if api.is_empty() {
        return found(Route::Root, tenant, true);
    }
    Route::from_path(api).and_then(|route| found(route, tenant, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: &str) -> Option<(Route, String, String)> {
        resolve(p).map(|r| (r.route, r.app_id, r.tenant_id))
    }

    #[test]
    fn prefixes() {
        let t = |route, a: &str, t: &str| Some((route, a.to_owned(), t.to_owned()));
        assert_eq!(r("/hello"), t(Route::Hello, "public", "public"));
        assert_eq!(r("/hello/"), t(Route::Hello, "public", "public"));
        assert_eq!(r("/HELLO"), t(Route::Hello, "public", "public"));
        assert_eq!(r("/"), t(Route::Root, "public", "public"));
        assert_eq!(r(""), t(Route::Root, "public", "public"));
        assert_eq!(r("/t1/recipe/multitenancy/tenant/v2"), t(Route::TenantV2, "public", "t1"));
        assert_eq!(r("/appid-a1/t1/recipe/multitenancy/tenant/v2"), t(Route::TenantV2, "a1", "t1"));
        assert_eq!(r("/appid-a1/recipe/multitenancy/tenant/v2"), t(Route::TenantV2, "a1", "public"));
        assert_eq!(r("/appid-a1/apiversion"), t(Route::ApiVersion, "a1", "public"));
        assert_eq!(r("/appid-a1"), t(Route::Root, "a1", "public"));
        assert_eq!(r("/t1"), t(Route::Root, "public", "t1"));
        assert_eq!(r("/nope/nope"), None);
        assert_eq!(r("/recipe/nope"), None);
        assert_eq!(r("/bad_id/hello"), None);
        assert_eq!(r("/appid-/hello"), None);
        // Found by fuzzing: without a leading '/', "aa" resolved to tenant "a".
        assert_eq!(r("aa"), None);
        assert_eq!(r("é/hello"), None);
        assert_eq!(r("/appid-a1aa"), t(Route::Root, "a1aa", "public"));
    }
}
