//! Which app, tenant and API a request path names: `[/appid-<app>][/<tenant>]<api path>`, matched
//! case-insensitively, after the configured base path, with a trailing slash tolerated.

use portcullis_core::ids::{is_path_id, is_reserved_tenant_segment, PUBLIC};

use super::routes::{PathRoutes, RouteTable};

pub struct Resolved<'t> {
    /// The API path, as the route table spells it.
    pub path: &'static str,
    /// The path's routes.
    pub routes: &'t PathRoutes,
    pub app_id: String,
    pub tenant_id: String,
    /// Whether the path named a tenant explicitly.
    pub tenant_in_path: bool,
}

impl std::fmt::Debug for Resolved<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("path", &self.path)
            .field("app_id", &self.app_id)
            .field("tenant_id", &self.tenant_id)
            .field("tenant_in_path", &self.tenant_in_path)
            .finish()
    }
}

/// Two resolutions are equal when they name the same API of the same tenant.
impl PartialEq for Resolved<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.path, &self.app_id, &self.tenant_id, self.tenant_in_path) == (other.path, &other.app_id, &other.tenant_id, other.tenant_in_path)
    }
}

/// The request path after the configured base path (compared case-insensitively); `None` = the
/// path is outside it.
pub fn strip_base_path(base_path: &str, raw_path: &str) -> Option<String> {
    let base = base_path.trim_end_matches('/').to_ascii_lowercase();
    if base.is_empty() {
        return Some(raw_path.to_owned());
    }
    match raw_path.to_ascii_lowercase().strip_prefix(&base) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => Some(rest.to_owned()),
        _ => None,
    }
}

/// Resolves a request path (already stripped of the base path) against the route table.
/// `None` = not found. Lower-casing is ASCII only: Unicode lower-casing maps the Kelvin sign
/// (U+212A) to `k`, so `/appid-\u{212A}1` would reach app `k1`; a path with any non-ASCII byte
/// names nothing.
pub fn resolve<'t>(path: &str, table: &'t RouteTable) -> Option<Resolved<'t>> {
    if !path.is_ascii() {
        return None;
    }
    let lower = path.to_ascii_lowercase();
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
    let found = |routes: &'t PathRoutes, tenant: &str, in_path| {
        let path = routes.first()?.path;
        Some(Resolved { path, routes, app_id: app_id.clone(), tenant_id: tenant.to_owned(), tenant_in_path: in_path })
    };
    if rest.is_empty() {
        return found(table.root()?, PUBLIC, false);
    }
    if let Some(routes) = table.find(rest) {
        return found(routes, PUBLIC, false);
    }
    // Anything else starts with '/': a path that does not is not ours (and must not lose its first character).
    let after_slash = rest.strip_prefix('/')?;
    let (tenant, api) = after_slash.split_at(after_slash.find('/').unwrap_or(after_slash.len()));
    if !is_path_id(tenant) || is_reserved_tenant_segment(tenant) {
        return None;
    }
    if api.is_empty() {
        return found(table.root()?, tenant, true);
    }
    table.find(api).and_then(|routes| found(routes, tenant, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ctx::Ctx;
    use crate::http::error::ApiError;
    use crate::http::routes::{Reply, Route};

    fn none(_: &Ctx) -> Reply<'_> {
        Box::pin(async { Err(ApiError::NotFound) })
    }

    static ROWS: &[Route] = &[
        Route::get("/", "Root", none),
        Route::get("/hello", "Hello", none),
        Route::get("/apiversion", "ApiVersion", none),
        Route::put("/recipe/multitenancy/tenant/v2", "TenantV2", none),
    ];

    fn r(p: &str) -> Option<(&'static str, String, String)> {
        let table = Box::leak(Box::new(RouteTable::new(ROWS)));
        resolve(p, table).map(|r| (r.path, r.app_id, r.tenant_id))
    }

    #[test]
    fn prefixes() {
        let t = |path, a: &str, t: &str| Some((path, a.to_owned(), t.to_owned()));
        assert_eq!(r("/hello"), t("/hello", "public", "public"));
        assert_eq!(r("/hello/"), t("/hello", "public", "public"));
        assert_eq!(r("/HELLO"), t("/hello", "public", "public"));
        assert_eq!(r("/"), t("/", "public", "public"));
        assert_eq!(r(""), t("/", "public", "public"));
        assert_eq!(r("/t1/recipe/multitenancy/tenant/v2"), t("/recipe/multitenancy/tenant/v2", "public", "t1"));
        assert_eq!(r("/appid-a1/t1/recipe/multitenancy/tenant/v2"), t("/recipe/multitenancy/tenant/v2", "a1", "t1"));
        assert_eq!(r("/appid-a1/recipe/multitenancy/tenant/v2"), t("/recipe/multitenancy/tenant/v2", "a1", "public"));
        assert_eq!(r("/appid-a1/apiversion"), t("/apiversion", "a1", "public"));
        assert_eq!(r("/appid-a1"), t("/", "a1", "public"));
        assert_eq!(r("/t1"), t("/", "public", "t1"));
        assert_eq!(r("/nope/nope"), None);
        assert_eq!(r("/recipe/nope"), None);
        assert_eq!(r("/bad_id/hello"), None);
        assert_eq!(r("/appid-/hello"), None);
        // Found by fuzzing: without a leading '/', "aa" resolved to tenant "a".
        assert_eq!(r("aa"), None);
        assert_eq!(r("é/hello"), None);
        assert_eq!(r("/appid-a1aa"), t("/", "a1aa", "public"));
        // Found by the security probe: Unicode lower-casing turned the Kelvin sign into `k`.
        assert_eq!(r("/appid-\u{212A}1/hello"), None);
        assert_eq!(r("/\u{212A}1/hello"), None);
        assert_eq!(r("/appid-K1/hello"), t("/hello", "k1", "public"));
    }
}
