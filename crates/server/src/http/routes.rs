//! The shape of the route table and its lookup. The table itself (every API the server serves) is
//! `api::routes::ROUTES`: one row per (method, path) with its handler, what the pipeline must check
//! before calling it, and the name its requests are counted under in the metrics.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use axum::http::Method;
use axum::response::Response;

use super::ctx::Ctx;
use super::error::ApiError;

/// What a handler returns: a future borrowing the request context.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send + 'a>>;

/// The body bound of a [`Route::large_body`] route: 10,000 bulk-import users with every field
/// filled stay well under it.
pub const LARGE_BODY_BYTES: usize = 32 << 20;

/// An API: parses the request, calls the recipe in core, renders its outcome.
pub type Handler = for<'a> fn(&'a Ctx) -> Reply<'a>;

/// One row of the route table.
pub struct Route {
    pub method: Method,
    /// The API path, lower case, after any `/appid-<app>/<tenant>` prefix.
    pub path: &'static str,
    pub handler: Handler,
    /// Requests are counted under this name in the metrics (one per path).
    pub metric: &'static str,
    /// The caller must present one of the app's API keys (the core exempts a few endpoints).
    pub needs_api_key: bool,
    /// The `cdi-version` header is checked against the supported range.
    pub needs_version: bool,
    /// The handler reads a JSON body.
    pub takes_body: bool,
    /// The body may be larger than `max_request_body_bytes`, up to [`LARGE_BODY_BYTES`]: the bulk
    /// import's uploads (10,000 users per call, as the core accepts).
    pub large_body: bool,
    /// A multitenancy API: it reads and changes the tenant configs themselves, so the pipeline
    /// makes sure it sees other instances' latest changes first.
    pub is_multitenancy: bool,
}

impl Route {
    /// A row with the usual flags: an API key and a supported CDI version are needed; POST and PUT
    /// requests carry a body, GET and DELETE requests none.
    const fn new(method: Method, takes_body: bool, path: &'static str, metric: &'static str, handler: Handler) -> Route {
        Route { method, path, handler, metric, needs_api_key: true, needs_version: true, takes_body, large_body: false, is_multitenancy: false }
    }

    pub const fn get(path: &'static str, metric: &'static str, handler: Handler) -> Route {
        Route::new(Method::GET, false, path, metric, handler)
    }

    pub const fn post(path: &'static str, metric: &'static str, handler: Handler) -> Route {
        Route::new(Method::POST, true, path, metric, handler)
    }

    pub const fn put(path: &'static str, metric: &'static str, handler: Handler) -> Route {
        Route::new(Method::PUT, true, path, metric, handler)
    }

    pub const fn delete(path: &'static str, metric: &'static str, handler: Handler) -> Route {
        Route::new(Method::DELETE, false, path, metric, handler)
    }

    /// Served without an API key.
    pub const fn public(self) -> Route {
        let mut route = self;
        route.needs_api_key = false;
        route
    }

    /// Served whatever the `cdi-version` header says.
    pub const fn any_version(self) -> Route {
        let mut route = self;
        route.needs_version = false;
        route
    }

    /// A POST or PUT whose input is in the query string, or none.
    pub const fn no_body(self) -> Route {
        let mut route = self;
        route.takes_body = false;
        route
    }

    /// Reads a body of up to [`LARGE_BODY_BYTES`] whatever `max_request_body_bytes` says (only after
    /// the app, tenant and API key are decided, like every body).
    pub const fn large_body(self) -> Route {
        let mut route = self;
        route.large_body = true;
        route
    }

    pub const fn multitenancy(self) -> Route {
        let mut route = self;
        route.is_multitenancy = true;
        route
    }
}

/// The routes of one path; the pipeline's checks come from its first row (the rows of a path
/// agree on them: tested).
pub struct PathRoutes {
    /// The path's number: its metrics slot.
    pub id: usize,
    pub rows: Vec<&'static Route>,
}

impl PathRoutes {
    pub fn first(&self) -> Option<&'static Route> {
        self.rows.first().copied()
    }

    /// The row for this method; `None` answers 405.
    pub fn for_method(&self, method: &Method) -> Option<&'static Route> {
        self.rows.iter().copied().find(|r| r.method == *method)
    }
}

/// The route table indexed by path.
pub struct RouteTable {
    by_path: HashMap<&'static str, PathRoutes>,
    /// Each path's metric name, by its number.
    metrics: Vec<&'static str>,
}

/// The path of the root route (`/`, `/<tenant>`, `/appid-<app>`).
pub const ROOT: &str = "/";

impl RouteTable {
    pub fn new(rows: &'static [Route]) -> RouteTable {
        let mut by_path: HashMap<&'static str, PathRoutes> = HashMap::new();
        let mut metrics = Vec::new();
        for row in rows {
            let next = metrics.len();
            let entry = by_path.entry(row.path).or_insert_with(|| PathRoutes { id: next, rows: Vec::new() });
            if entry.id == next {
                metrics.push(row.metric);
            }
            entry.rows.push(row);
        }
        RouteTable { by_path, metrics }
    }

    /// The routes of an API path (already lower-cased and stripped of its prefixes).
    pub fn find(&self, path: &str) -> Option<&PathRoutes> {
        self.by_path.get(path)
    }

    pub fn root(&self) -> Option<&PathRoutes> {
        self.by_path.get(ROOT)
    }

    /// Every path's metric name, by the path's number.
    pub fn metric_names(&self) -> &[&'static str] {
        &self.metrics
    }

    /// Every path the table serves.
    pub fn paths(&self) -> impl Iterator<Item = &PathRoutes> {
        self.by_path.values()
    }
}
