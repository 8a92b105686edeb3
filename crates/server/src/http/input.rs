//! Reading request input with the core's rules: a body must be a JSON object; a string field must
//! be a JSON string; an optional field may be absent but not null (unless the API says so).

use std::collections::HashMap;

use portcullis_core::input::field_fits;
use serde_json::{Map, Value};

use super::error::ApiError;

pub struct Body(pub Map<String, Value>);

impl Body {
    /// A NUL character is refused with the rest of invalid input: PostgreSQL stores no NUL in text
    /// or jsonb, so it would otherwise fail as a 500 there, and succeed on SQLite.
    ///
    /// Fields that are stored (emails, ids) are checked against their columns here, once for
    /// every API (`input::field_fits`): a longer value is a 400 naming the field, on both backends.
    pub fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
        let map = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) if !map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)) => map,
            _ => return Err(ApiError::bad("Invalid Json Input")),
        };
        for (field, value) in &map {
            match value {
                Value::String(s) => field_fits(field, s).map_err(|e| ApiError::bad(e.0))?,
                // Third-party sign-in-up sends its email as {"id": …, "isVerified": …}.
                Value::Object(inner) if field == "email" => {
                    if let Some(Value::String(s)) = inner.get("id") {
                        field_fits(field, s).map_err(|e| ApiError::bad(e.0))?;
                    }
                }
                _ => {}
            }
        }
        Ok(Body(map))
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn str(&self, field: &str) -> Result<String, ApiError> {
        match self.0.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(ApiError::field_invalid(field)),
        }
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::field_invalid(field)),
        }
    }

    pub fn opt_object(&self, field: &str) -> Result<Option<Map<String, Value>>, ApiError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(ApiError::field_invalid(field)),
        }
    }

    pub fn object(&self, field: &str) -> Result<Map<String, Value>, ApiError> {
        self.opt_object(field)?.ok_or_else(|| ApiError::field_invalid(field))
    }

    /// An optional list of strings that may also be `null`: absent = `None`, null = `Some(None)`.
    pub fn opt_nullable_strings(&self, field: &str) -> Result<Option<Option<Vec<String>>>, ApiError> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::Array(items)) => {
                let strings = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| ApiError::field_invalid(field)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Some(strings)))
            }
            Some(_) => Err(ApiError::field_invalid(field)),
        }
    }
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

pub struct Query(pub HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                percent_decode(&s)
            };
            let (k, v) = (decode(k), decode(v));
            // No stored value contains NUL (PostgreSQL text cannot): such a parameter is left out,
            // so it reads as missing rather than reaching the database.
            if !k.contains('\0') && !v.contains('\0') {
                map.entry(k).or_insert(v);
            }
        }
        Query(map)
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn required(&self, field: &str) -> Result<&str, ApiError> {
        self.get(field).ok_or_else(|| ApiError::bad(format!("Field name '{field}' is missing in GET request")))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_rules() {
        assert!(Body::parse(b"[1]").is_err());
        assert!(Body::parse(b"not json").is_err());
        let b = Body::parse(br#"{"a":"x","n":1,"f":null,"l":["a"],"o":{}}"#).unwrap();
        assert_eq!(b.str("a").unwrap(), "x");
        assert!(b.str("n").is_err());
        assert!(b.str("missing").is_err());
        assert_eq!(b.opt_nullable_strings("f").unwrap(), Some(None));
        assert_eq!(b.opt_nullable_strings("l").unwrap(), Some(Some(vec!["a".to_string()])));
        assert_eq!(b.opt_nullable_strings("x").unwrap(), None);
        assert!(b.opt_nullable_strings("n").is_err());
        assert!(b.opt_object("o").unwrap().is_some());
        // Found by API fuzzing on PostgreSQL (a 500 there): NUL anywhere is invalid input.
        assert!(Body::parse(br#"{"a":"x\u0000"}"#).is_err());
        assert!(Body::parse(br#"{"a":{"b":["\u0000"]}}"#).is_err());
        assert!(Body::parse(br#"{"\u0000":1}"#).is_err());
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("a=b%20c&d=e+f&g=%zz&h"));
        assert_eq!(q.get("a"), Some("b c"));
        assert_eq!(q.get("d"), Some("e f"));
        assert_eq!(q.get("g"), Some("%zz"));
        assert_eq!(q.get("h"), Some(""));
        assert!(q.required("nope").is_err());
        // Found by API fuzzing on PostgreSQL: a NUL must not reach the database.
        let q = Query::parse(Some("userId=a%00b&k%00=1&x=1"));
        assert_eq!((q.get("userId"), q.get("k\0"), q.get("x")), (None, None, Some("1")));
    }
}
