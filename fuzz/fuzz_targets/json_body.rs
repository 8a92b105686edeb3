//! Request input as the server reads it: `http::input::Body` (a JSON object with typed field
//! accessors) and `http::input::Query` (the query string), on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::http::input::{Body, Query};
use portcullis_core::input::field_fits;

/// Field names the APIs read, plus ones the fuzzer may produce.
const FIELDS: &[&str] = &["tenantId", "email", "userId", "coreConfig", "userDataInJWT", "roles", "", "a"];

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = Body::parse(data) {
        for f in FIELDS.iter().copied().chain(body.0.keys().take(4).map(String::as_str).collect::<Vec<_>>()) {
            let has = body.has(f);
            if body.str(f).is_ok() || body.object(f).is_ok() {
                assert!(has);
            }
            if !has {
                assert_eq!(body.opt_bool(f).ok(), Some(None));
                assert_eq!(body.opt_nullable_strings(f).ok(), Some(None));
            }
            let _ = body.opt_object(f);
        }
        // Whatever parsed re-serialises to a body that parses, with the same fields (numbers may
        // move by one unit in the last place: serde_json's float parsing is not exact round-trip).
        let text = serde_json::Value::Object(body.0.clone()).to_string();
        let again = Body::parse(text.as_bytes()).expect("re-serialised body parses");
        assert!(again.0.keys().eq(body.0.keys()));
    } else if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data) {
        // A JSON object is refused only when it holds a NUL somewhere (no stored value may) or a
        // top-level field longer than the column it is stored in (issue 18's size checks).
        let has_nul = serde_json::Value::Object(map.clone()).to_string().contains("\\u0000");
        let too_long = map.iter().any(|(field, value)| match value {
            serde_json::Value::String(s) => field_fits(field, s).is_err(),
            serde_json::Value::Object(inner) if field == "email" => {
                inner.get("id").and_then(|id| id.as_str()).is_some_and(|s| field_fits(field, s).is_err())
            }
            _ => false,
        });
        assert!(has_nul || too_long, "an object without NUL or an over-long field was refused");
    }
    if let Ok(raw) = std::str::from_utf8(data) {
        let q = Query::parse(Some(raw));
        for k in q.0.keys() {
            assert!(q.required(k).is_ok());
        }
    }
});
