//! The core's JSON type checks for bulk-import input (`JsonValidatorUtils`), with its messages:
//! an absent required key is `<key> is required<suffix>`, a present key of the wrong type (`null`
//! included) is `<key> should be of type <type><suffix>`, an absent optional key is simply `None`.
//!
//! "string" means a JSON string that is not blank in Java's sense, "integer" an integral JSON number
//! that fits (a fractional or out-of-range number is a type error here, where Java would truncate),
//! "array of string" an array of such strings and "array of object" an array of objects.

use serde_json::{Map, Value};

/// A JSON object as the validator reads it.
pub type Object = Map<String, Value>;

/// Java's `Character.isWhitespace`: the Unicode space, line and paragraph separators except the
/// non-breaking ones, plus the ASCII controls U+0009–U+000D and U+001C–U+001F.
fn java_is_whitespace(c: char) -> bool {
    matches!(c,
        '\u{9}'..='\u{d}' | '\u{1c}'..='\u{20}' | '\u{1680}' | '\u{2000}'..='\u{2006}' | '\u{2008}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{205f}' | '\u{3000}')
}

/// Java's `String.isBlank()`.
pub fn java_is_blank(s: &str) -> bool {
    s.chars().all(java_is_whitespace)
}

/// Java's `String.length()`: UTF-16 code units, which the core's length limits count.
pub fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Where the value of `key` in `obj` stands.
enum Lookup<T> {
    Absent,
    Wrong,
    Ok(T),
}

fn lookup<'v, T>(obj: &'v Object, key: &str, parse: impl Fn(&'v Value) -> Option<T>) -> Lookup<T> {
    match obj.get(key) {
        None => Lookup::Absent,
        Some(v) => parse(v).map_or(Lookup::Wrong, Lookup::Ok),
    }
}

/// Reads `key` with `parse`, recording the core's message in `errors` when it is missing (and
/// required) or has the wrong type.
fn field<'v, T>(
    obj: &'v Object,
    key: &str,
    type_name: &str,
    required: bool,
    suffix: &str,
    errors: &mut Vec<String>,
    parse: impl Fn(&'v Value) -> Option<T>,
) -> Option<T> {
    match lookup(obj, key, parse) {
        Lookup::Ok(v) => Some(v),
        Lookup::Wrong => {
            errors.push(format!("{key} should be of type {type_name}{suffix}"));
            None
        }
        Lookup::Absent => {
            if required {
                errors.push(format!("{key} is required{suffix}"));
            }
            None
        }
    }
}

fn as_string(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !java_is_blank(s))
}

fn as_i64(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    // 30.0 or 1e3: integral values written as floats are accepted, fractions are not.
    let f = n.as_f64()?;
    // i64's range as floats: -2^63 is exact, 2^63 is the first value past the end.
    let in_range = f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f);
    in_range.then_some(f as i64)
}

pub fn string<'v>(obj: &'v Object, key: &str, required: bool, suffix: &str, errors: &mut Vec<String>) -> Option<&'v str> {
    field(obj, key, "string", required, suffix, errors, as_string)
}

pub fn int(obj: &Object, key: &str, required: bool, suffix: &str, errors: &mut Vec<String>) -> Option<i32> {
    field(obj, key, "integer", required, suffix, errors, |v| as_i64(v).and_then(|i| i32::try_from(i).ok()))
}

pub fn long(obj: &Object, key: &str, required: bool, suffix: &str, errors: &mut Vec<String>) -> Option<i64> {
    field(obj, key, "integer", required, suffix, errors, as_i64)
}

pub fn boolean(obj: &Object, key: &str, required: bool, suffix: &str, errors: &mut Vec<String>) -> Option<bool> {
    field(obj, key, "boolean", required, suffix, errors, Value::as_bool)
}

pub fn object<'v>(obj: &'v Object, key: &str, required: bool, suffix: &str, errors: &mut Vec<String>) -> Option<&'v Object> {
    field(obj, key, "object", required, suffix, errors, Value::as_object)
}

pub fn strings<'v>(obj: &'v Object, key: &str, required: bool, suffix: &str, errors: &mut Vec<String>) -> Option<Vec<&'v str>> {
    field(obj, key, "array of string", required, suffix, errors, |v| v.as_array()?.iter().map(as_string).collect())
}

pub fn objects<'v>(obj: &'v Object, key: &str, required: bool, suffix: &str, errors: &mut Vec<String>) -> Option<Vec<&'v Object>> {
    field(obj, key, "array of object", required, suffix, errors, |v| v.as_array()?.iter().map(Value::as_object).collect())
}

/// Whether `key` holds a boolean `true` (the core's `isPrimary` count reads it this way, before
/// the per-method checks).
pub fn is_true(obj: &Object, key: &str) -> bool {
    obj.get(key).and_then(Value::as_bool) == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn blank_is_javas() {
        assert!(java_is_blank(""));
        assert!(java_is_blank(" \t\n\u{b}\u{c}\r\u{1c}\u{1f}\u{2003}\u{3000}"));
        // Non-breaking spaces and NEL are not white space to Java.
        assert!(!java_is_blank("\u{a0}"));
        assert!(!java_is_blank("\u{2007}"));
        assert!(!java_is_blank("\u{202f}"));
        assert!(!java_is_blank("\u{85}"));
        assert!(!java_is_blank(" a "));
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(java_len("abc"), 3);
        assert_eq!(java_len("é"), 1);
        assert_eq!(java_len("😀"), 2);
    }

    #[test]
    fn strings_must_be_non_blank_json_strings() {
        let o = obj(json!({"a": "x", "b": "  ", "c": 1, "d": null}));
        let mut e = Vec::new();
        assert_eq!(string(&o, "a", true, ".", &mut e), Some("x"));
        assert_eq!(string(&o, "b", true, ".", &mut e), None);
        assert_eq!(string(&o, "c", false, " for a totp device.", &mut e), None);
        assert_eq!(string(&o, "d", false, ".", &mut e), None);
        assert_eq!(string(&o, "missing", false, ".", &mut e), None);
        assert_eq!(string(&o, "missing", true, " for a loginMethod", &mut e), None);
        assert_eq!(
            e,
            [
                "b should be of type string.",
                "c should be of type string for a totp device.",
                "d should be of type string.",
                "missing is required for a loginMethod"
            ]
        );
    }

    #[test]
    fn integers_are_integral_numbers_that_fit() {
        let o = obj(json!({"a": 30, "b": 30.0, "c": 30.7, "d": "30", "e": 3_000_000_000i64, "f": 1e300, "g": -5}));
        let mut e = Vec::new();
        assert_eq!(int(&o, "a", false, ".", &mut e), Some(30));
        assert_eq!(int(&o, "b", false, ".", &mut e), Some(30));
        assert_eq!(int(&o, "c", false, ".", &mut e), None);
        assert_eq!(int(&o, "d", false, ".", &mut e), None);
        assert_eq!(int(&o, "e", false, ".", &mut e), None);
        assert_eq!(long(&o, "e", false, ".", &mut e), Some(3_000_000_000));
        assert_eq!(long(&o, "f", false, ".", &mut e), None);
        assert_eq!(int(&o, "g", false, ".", &mut e), Some(-5));
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e.iter().all(|m| m.ends_with("should be of type integer.")));
    }

    #[test]
    fn arrays_check_every_element() {
        let o = obj(json!({"s": ["a", "b"], "bad": ["a", " "], "mixed": ["a", 1], "o": [{}, {"x": 1}], "no": [{}, 2], "empty": []}));
        let mut e = Vec::new();
        assert_eq!(strings(&o, "s", true, ".", &mut e), Some(vec!["a", "b"]));
        assert_eq!(strings(&o, "bad", true, ".", &mut e), None);
        assert_eq!(strings(&o, "mixed", true, ".", &mut e), None);
        assert_eq!(objects(&o, "o", true, ".", &mut e).map(|v| v.len()), Some(2));
        assert_eq!(objects(&o, "no", true, ".", &mut e), None);
        assert_eq!(objects(&o, "empty", true, ".", &mut e).map(|v| v.len()), Some(0));
        assert_eq!(
            e,
            [
                "bad should be of type array of string.",
                "mixed should be of type array of string.",
                "no should be of type array of object."
            ]
        );
    }

    #[test]
    fn booleans_and_objects() {
        let o = obj(json!({"t": true, "s": "true", "m": {"k": 1}, "a": []}));
        let mut e = Vec::new();
        assert_eq!(boolean(&o, "t", false, ".", &mut e), Some(true));
        assert_eq!(boolean(&o, "s", false, ".", &mut e), None);
        assert!(object(&o, "m", false, ".", &mut e).is_some());
        assert!(object(&o, "a", false, ".", &mut e).is_none());
        assert_eq!(e, ["s should be of type boolean.", "a should be of type object."]);
        assert!(is_true(&o, "t"));
        assert!(!is_true(&o, "s"));
    }
}
