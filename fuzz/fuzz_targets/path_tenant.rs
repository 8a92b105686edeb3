//! The router's path reading: base-path stripping, then `[/appid-<app>][/<tenant>]<api>`
//! resolution (`http::resolve`), and the CDI version header (`cdi::resolve`, then an API's check).
//! Input: base path, NUL, request path (or only a request path).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::http::resolve::{resolve, strip_base_path};
use portcullis_core::cdi;
use portcullis_core::ids::{is_path_id, is_reserved_tenant_segment, PUBLIC};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (base, raw) = text.split_once('\0').unwrap_or(("", text));
    if let Ok(requested) = cdi::resolve(Some(raw), None, Some("2.7")) {
        // A version that passed the checks for every API is a listed one once an API needs one.
        if let Ok(v) = requested.for_api(true) {
            assert!(v.is_listed(), "{v:?} from {raw:?}");
        }
    }
    let Some(path) = strip_base_path(base, raw) else { return };
    let routes = portcullis::routes();
    let Some(r) = resolve(&path, routes) else { return };
    // What the router resolves is always a well-formed id, never a reserved segment.
    assert!(r.app_id == PUBLIC || is_path_id(&r.app_id), "{r:?}");
    assert!(r.tenant_id == PUBLIC || is_path_id(&r.tenant_id), "{r:?}");
    assert!(!is_reserved_tenant_segment(&r.tenant_id), "{r:?}");
    // The ids come from the path itself.
    let lower = path.to_lowercase();
    if r.tenant_in_path {
        assert!(lower.contains(&format!("/{}", r.tenant_id)), "{r:?} from {path:?}");
    }
    if r.app_id != PUBLIC {
        assert!(lower.contains(&format!("/appid-{}", r.app_id)), "{r:?} from {path:?}");
    }
    // Resolution is a function of the lower-cased path.
    assert_eq!(resolve(&lower, routes), Some(r));
});
