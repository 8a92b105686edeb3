//! The five endpoints' input rules and answers, in the core's order and words
//! (`webserver/api/bulkimport/*.java`, `BulkImport.java`): handlers parse with these, call the
//! storage, and render with these.
//!
//! Error bodies that are JSON documents (a bad batch, a failed `/bulk-import/import`) go out as
//! the core sends them: status 400 with the JSON as plain text.

use serde_json::{json, Value};

use super::fields::Object;
use super::model::{BulkUser, Status};
use super::storage::{Cursor, QueueRow};
use super::validate::{AppFacts, Ids, Validator};

/// Most users one `POST /bulk-import/users` may carry.
pub const MAX_USERS_TO_ADD: usize = 10_000;
/// Most users one `GET /bulk-import/users` page may hold, and its default size.
pub const GET_USERS_MAX_LIMIT: i64 = 500;
pub const GET_USERS_DEFAULT_LIMIT: usize = 100;
/// Most ids one `POST /bulk-import/users/remove` may name.
pub const DELETE_USERS_MAX_LIMIT: usize = 500;

pub const INVALID_BATCH_MESSAGE: &str = "Data has missing or invalid fields. Please check the users field for more details.";
pub const INVALID_STATUS_MESSAGE: &str = "Invalid value for status. Pass one of NEW, PROCESSING, or FAILED!";
pub const INVALID_TOKEN_MESSAGE: &str = "invalid pagination token";

/// A 400 whose body is the given text.
pub type BadRequest = String;

// ---------------------------------------------------------------------------------------------
// POST /bulk-import/users

/// What the body of `POST /bulk-import/users` asks for, before the app is resolved.
#[derive(Debug)]
pub enum Batch<'a> {
    /// `users: []`: answer [`queued_body`] of nothing, store nothing.
    Empty,
    /// More than [`MAX_USERS_TO_ADD`]: answer 400 with [`too_many_users_body`].
    TooMany,
    Users(Vec<&'a Object>),
}

/// Reads `users` from the body. A missing or non-array `users`, or an element that is not an
/// object (the core answers 500 there), is `Field name 'users' is invalid in JSON input`.
pub fn parse_batch(body: &Object) -> Result<Batch<'_>, BadRequest> {
    let invalid = || "Field name 'users' is invalid in JSON input".to_owned();
    let items = body.get("users").and_then(Value::as_array).ok_or_else(invalid)?;
    if items.is_empty() {
        return Ok(Batch::Empty);
    }
    if items.len() > MAX_USERS_TO_ADD {
        return Ok(Batch::TooMany);
    }
    items.iter().map(Value::as_object).collect::<Option<Vec<_>>>().map(Batch::Users).ok_or_else(invalid)
}

/// The 400 body (as text) for more than [`MAX_USERS_TO_ADD`] users.
pub fn too_many_users_body() -> Value {
    json!({ "error": format!("You can only add {MAX_USERS_TO_ADD} users at a time.") })
}

/// Validates every user of a batch with one validator (external ids must be unique across the
/// batch) and fresh ids. `Err` is the 400 body (as text): only the invalid users, by index.
pub fn validate_batch(users: &[&Object], facts: &AppFacts, now_ms: i64, new_id: &mut dyn FnMut() -> String) -> Result<Vec<BulkUser>, Value> {
    let mut validator = Validator::new(facts, now_ms);
    let mut valid = Vec::with_capacity(users.len());
    let mut invalid = Vec::new();
    for (index, user) in users.iter().enumerate() {
        match validator.validate(user, Ids::Generate(new_id)) {
            Ok(u) => valid.push(u),
            Err(errors) => invalid.push(json!({ "index": index, "errors": errors })),
        }
    }
    if invalid.is_empty() {
        Ok(valid)
    } else {
        Err(json!({ "error": INVALID_BATCH_MESSAGE, "users": invalid }))
    }
}

/// The 200 body of a queued batch, without its `status` (the handler adds `OK`): empty for an
/// empty batch.
pub fn queued_body(users: &[BulkUser]) -> Value {
    if users.is_empty() {
        return json!({});
    }
    json!({ "users": users.iter().map(BulkUser::to_response_json).collect::<Vec<_>>() })
}

// ---------------------------------------------------------------------------------------------
// POST /bulk-import/import

/// Validates the one user of `POST /bulk-import/import` (the body itself), with fresh ids.
/// `Err` is the 400 body (as text).
pub fn validate_one(user: &Object, facts: &AppFacts, now_ms: i64, new_id: &mut dyn FnMut() -> String) -> Result<BulkUser, Value> {
    Validator::new(facts, now_ms).validate(user, Ids::Generate(new_id)).map_err(|errors| import_errors_body(&errors))
}

/// The 400 body (as text) of a user that cannot be imported: validation messages, or the one
/// import error (`E0xx: …`).
pub fn import_errors_body(errors: &[String]) -> Value {
    json!({ "errors": errors })
}

/// The 200 body of `POST /bulk-import/import` without its `status` (the handler adds `OK`); `user`
/// is the user object as `GET /user/id` renders it.
pub fn imported_body(user: Value) -> Value {
    json!({ "user": user })
}

// ---------------------------------------------------------------------------------------------
// GET /bulk-import/users and GET /bulk-import/users/count

/// The `limit` query parameter: Java's `Integer.parseInt`, then 1..=500, absent = 100.
pub fn parse_limit(raw: Option<&str>) -> Result<usize, BadRequest> {
    let Some(raw) = raw else { return Ok(GET_USERS_DEFAULT_LIMIT) };
    let limit = java_parse_int(raw).ok_or_else(|| "Field name 'limit' must be an int in the GET request".to_owned())?;
    if i64::from(limit) > GET_USERS_MAX_LIMIT {
        return Err(format!("Max limit allowed is {GET_USERS_MAX_LIMIT}"));
    }
    if limit < 1 {
        // sic: the core's wording.
        return Err("limit must a positive integer with min value 1".to_owned());
    }
    Ok(limit as usize)
}

/// `Integer.parseInt`: an optional sign and ASCII digits, within the int range.
fn java_parse_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The `status` query parameter: absent, or exactly one of the statuses.
pub fn parse_status(raw: Option<&str>) -> Result<Option<Status>, BadRequest> {
    raw.map(|s| Status::parse(s).ok_or_else(|| INVALID_STATUS_MESSAGE.to_owned())).transpose()
}

/// The `paginationToken` of `GET /bulk-import/users`: standard Base64 of `"<id>;<createdAt>"`.
/// The page it starts includes the row it names.
pub fn decode_pagination_token(token: &str) -> Result<Cursor, BadRequest> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::{alphabet, Engine as _};
    // Java's basic decoder accepts the padding but does not require it.
    const DECODER: GeneralPurpose =
        GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent));
    let invalid = || INVALID_TOKEN_MESSAGE.to_owned();
    let bytes = DECODER.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8_lossy(&bytes);
    // Java's split drops trailing empty parts: "id;" is one part, so invalid.
    let mut parts: Vec<&str> = text.split(';').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    let [id, created_at] = parts[..] else { return Err(invalid()) };
    let digits = created_at.strip_prefix(['+', '-']).unwrap_or(created_at);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let created_at = created_at.parse::<i64>().map_err(|_| invalid())?;
    Ok(Cursor { created_at, id: id.to_owned() })
}

pub fn encode_pagination_token(cursor: &Cursor) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    STANDARD.encode(format!("{};{}", cursor.id, cursor.created_at))
}

/// One queue row as the list renders it (`BulkImportUser.toJsonObject()`): the stored user, then
/// `status`, `primaryUserId` and `errorMessage` when set, `createdAt` and `updatedAt`. A row whose
/// `raw_data` cannot be read as a user (written by something else) shows what it holds.
pub fn entry_json(row: &QueueRow) -> Value {
    let mut o = match BulkUser::from_raw_data(&row.id, &row.raw_data) {
        Ok(user) => match serde_json::to_value(&user) {
            Ok(Value::Object(o)) => o,
            _ => Object::new(),
        },
        Err(_) => {
            let mut o = match serde_json::from_str::<Value>(&row.raw_data) {
                Ok(Value::Object(o)) => o,
                _ => Object::new(),
            };
            o.shift_remove("id");
            let mut with_id = Object::new();
            with_id.insert("id".into(), json!(row.id.trim_end()));
            with_id.extend(o);
            with_id
        }
    };
    o.insert("status".into(), json!(row.status.as_str()));
    if let Some(p) = &row.primary_user_id {
        o.insert("primaryUserId".into(), json!(p.trim_end()));
    }
    if let Some(e) = &row.error_msg {
        o.insert("errorMessage".into(), json!(e));
    }
    o.insert("createdAt".into(), json!(row.created_at));
    o.insert("updatedAt".into(), json!(row.updated_at));
    Value::Object(o)
}

/// The 200 body of a list page, without its `status` (the handler adds `OK`). `rows` is what the storage returned for `limit + 1`: when the
/// extra row is there it is left out and names the next page.
pub fn page_body(rows: &[QueueRow], limit: usize) -> Value {
    let shown = rows.len().min(limit);
    let mut body = json!({ "users": rows[..shown].iter().map(entry_json).collect::<Vec<_>>() });
    if let Some(next) = rows.get(limit) {
        body["nextPaginationToken"] = json!(encode_pagination_token(&Cursor { created_at: next.created_at, id: next.id.trim_end().to_owned() }));
    }
    body
}

/// The 200 body of a count, without its `status` (the handler adds `OK`).
pub fn count_body(count: u64) -> Value {
    json!({ "count": count })
}

// ---------------------------------------------------------------------------------------------
// POST /bulk-import/users/remove

/// The `ids` of the body, in order (duplicates kept). Empty means: answer [`removed_body`] of
/// nothing without touching the storage.
pub fn parse_remove_ids(body: &Object) -> Result<Vec<String>, BadRequest> {
    let invalid = || "Field name 'ids' is invalid in JSON input".to_owned();
    let items = body.get("ids").and_then(Value::as_array).ok_or_else(invalid)?;
    if items.len() > DELETE_USERS_MAX_LIMIT {
        return Err(format!("Field name 'ids' cannot contain more than {DELETE_USERS_MAX_LIMIT} elements"));
    }
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = item.as_str().ok_or_else(invalid)?;
        if id.is_empty() {
            return Err("Field name 'ids' cannot contain an empty string".to_owned());
        }
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// The 200 body (no `status` key): each requested id, in request order, under `deletedIds` when
/// it was deleted, else under `invalidIds`.
pub fn removed_body(requested: &[String], deleted: &[String]) -> Value {
    let (done, invalid): (Vec<&String>, Vec<&String>) = requested.iter().partition(|id| deleted.iter().any(|d| d.trim_end() == id.as_str()));
    json!({ "deletedIds": done, "invalidIds": invalid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    fn row(id: &str, created_at: i64) -> QueueRow {
        QueueRow {
            id: id.into(),
            raw_data: format!(
                r#"{{"id":"{id}","loginMethods":[{{"tenantIds":["public"],"isVerified":false,"isPrimary":false,"timeJoinedInMSSinceEpoch":1,"recipeId":"passwordless","phoneNumber":"+1555","superTokensUserId":"{id}"}}]}}"#
            ),
            status: Status::New,
            primary_user_id: None,
            error_msg: None,
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn batch_shapes() {
        assert!(matches!(parse_batch(&obj(json!({"users": []}))), Ok(Batch::Empty)));
        for bad in [json!({}), json!({"users": {}}), json!({"users": null}), json!({"users": [{}, 1]}), json!({"users": [[]]})] {
            assert_eq!(parse_batch(&obj(bad)).unwrap_err(), "Field name 'users' is invalid in JSON input");
        }
        let many = obj(json!({ "users": vec![json!({}); MAX_USERS_TO_ADD + 1] }));
        assert!(matches!(parse_batch(&many), Ok(Batch::TooMany)));
        let max = obj(json!({ "users": vec![json!({}); MAX_USERS_TO_ADD] }));
        assert!(matches!(parse_batch(&max), Ok(Batch::Users(u)) if u.len() == MAX_USERS_TO_ADD));
        assert_eq!(too_many_users_body().to_string(), r#"{"error":"You can only add 10000 users at a time."}"#);
        assert_eq!(queued_body(&[]).to_string(), r#"{}"#);
    }

    #[test]
    fn a_bad_batch_lists_only_invalid_users_by_index() {
        let facts = AppFacts { tenant_pools: [("public".to_owned(), String::new())].into(), ..AppFacts::default() };
        let good = json!({"loginMethods": [{"recipeId": "passwordless", "phoneNumber": "+14155550100"}]});
        let users: Vec<Object> = vec![obj(json!({})), obj(good.clone()), obj(json!({"loginMethods": []}))];
        let refs: Vec<&Object> = users.iter().collect();
        let mut n = 0;
        let mut ids = || {
            n += 1;
            format!("id{n}")
        };
        let err = validate_batch(&refs, &facts, 1000, &mut ids).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"{"error":"Data has missing or invalid fields. Please check the users field for more details.","users":[{"index":0,"errors":["loginMethods is required."]},{"index":2,"errors":["At least one loginMethod is required."]}]}"#
        );
        let users = [obj(good.clone()), obj(good)];
        let refs: Vec<&Object> = users.iter().collect();
        let ok = validate_batch(&refs, &facts, 1000, &mut ids).unwrap();
        assert_eq!(ok.len(), 2);
        assert_ne!(ok[0].id, ok[1].id);
        let body = queued_body(&ok);
        assert_eq!(body["users"][1]["userId"], json!(ok[1].id));
        assert_eq!(validate_one(&obj(json!({"loginMethods": 1})), &facts, 1000, &mut ids).unwrap_err().to_string(), r#"{"errors":["loginMethods should be of type array of object."]}"#);
        assert_eq!(imported_body(json!({"id": "x"})), json!({"user": {"id": "x"}}));
    }

    #[test]
    fn limits_and_statuses() {
        assert_eq!(parse_limit(None), Ok(100));
        assert_eq!(parse_limit(Some("1")), Ok(1));
        assert_eq!(parse_limit(Some("+500")), Ok(500));
        assert_eq!(parse_limit(Some("501")).unwrap_err(), "Max limit allowed is 500");
        assert_eq!(parse_limit(Some("0")).unwrap_err(), "limit must a positive integer with min value 1");
        assert_eq!(parse_limit(Some("-3")).unwrap_err(), "limit must a positive integer with min value 1");
        for bad in ["", "1.5", "abc", " 5", "99999999999", "+", "0x10"] {
            assert_eq!(parse_limit(Some(bad)).unwrap_err(), "Field name 'limit' must be an int in the GET request", "{bad}");
        }
        assert_eq!(parse_status(None), Ok(None));
        assert_eq!(parse_status(Some("FAILED")), Ok(Some(Status::Failed)));
        for bad in ["failed", "", "DONE"] {
            assert_eq!(parse_status(Some(bad)).unwrap_err(), INVALID_STATUS_MESSAGE);
        }
    }

    #[test]
    fn pagination_tokens_are_the_cores() {
        let c = Cursor { created_at: 1_700_000_000_123, id: "7b1e5c7e-0000-4000-8000-000000000001".into() };
        let t = encode_pagination_token(&c);
        // Base64 of "<id>;<createdAt>", with padding.
        assert_eq!(t, "N2IxZTVjN2UtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAxOzE3MDAwMDAwMDAxMjM=");
        assert_eq!(decode_pagination_token(&t), Ok(c.clone()));
        assert_eq!(decode_pagination_token(t.trim_end_matches('=')), Ok(c));
        use base64::Engine as _;
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(decode_pagination_token(&enc(";5")), Ok(Cursor { created_at: 5, id: String::new() }));
        assert_eq!(decode_pagination_token(&enc("a;-5;;")), Ok(Cursor { created_at: -5, id: "a".into() }));
        for bad in ["!!!", "", &enc("a"), &enc("a;"), &enc("a;b;1"), &enc("a;x"), &enc("a;1.0"), &enc("a;99999999999999999999"), &enc("a; 1")] {
            assert_eq!(decode_pagination_token(bad).unwrap_err(), INVALID_TOKEN_MESSAGE, "{bad}");
        }
    }

    #[test]
    fn pages_leave_out_the_extra_row_and_name_it() {
        let rows = vec![row("c", 3), row("b", 2), row("a", 1)];
        let body = page_body(&rows, 2);
        assert_eq!(body["users"].as_array().unwrap().len(), 2);
        assert_eq!(decode_pagination_token(body["nextPaginationToken"].as_str().unwrap()), Ok(Cursor { created_at: 1, id: "a".into() }));
        let last = page_body(&rows, 3);
        assert!(last.get("nextPaginationToken").is_none());
        assert_eq!(count_body(7), json!({"count": 7}));
    }

    #[test]
    fn entries_are_the_stored_user_and_its_row() {
        let mut r = row("u1", 10);
        r.status = Status::Failed;
        r.error_msg = Some("E003: boom".into());
        r.updated_at = 11;
        assert_eq!(
            entry_json(&r).to_string(),
            r#"{"id":"u1","loginMethods":[{"tenantIds":["public"],"isVerified":false,"isPrimary":false,"timeJoinedInMSSinceEpoch":1,"recipeId":"passwordless","phoneNumber":"+1555","superTokensUserId":"u1"}],"status":"FAILED","errorMessage":"E003: boom","createdAt":10,"updatedAt":11}"#
        );
        // A row something else wrote is shown as it is, never a panic.
        r.raw_data = r#"{"loginMethods":"odd","id":"zz"}"#.into();
        r.error_msg = None;
        assert_eq!(entry_json(&r).to_string(), r#"{"id":"u1","loginMethods":"odd","status":"FAILED","createdAt":10,"updatedAt":11}"#);
        r.raw_data = "garbage".into();
        assert_eq!(entry_json(&r)["id"], "u1");
    }

    #[test]
    fn remove_ids_rules() {
        assert_eq!(parse_remove_ids(&obj(json!({"ids": []}))), Ok(vec![]));
        assert_eq!(parse_remove_ids(&obj(json!({"ids": ["a", "a", " b"]}))), Ok(vec!["a".into(), "a".into(), " b".into()]));
        for bad in [json!({}), json!({"ids": "a"}), json!({"ids": ["a", 1]}), json!({"ids": [null]})] {
            assert_eq!(parse_remove_ids(&obj(bad)).unwrap_err(), "Field name 'ids' is invalid in JSON input");
        }
        assert_eq!(parse_remove_ids(&obj(json!({"ids": ["a", ""]}))).unwrap_err(), "Field name 'ids' cannot contain an empty string");
        let many = obj(json!({ "ids": vec!["x"; 501] }));
        assert_eq!(parse_remove_ids(&many).unwrap_err(), "Field name 'ids' cannot contain more than 500 elements");
        let requested: Vec<String> = ["a", "x", "a", "b"].map(String::from).to_vec();
        assert_eq!(removed_body(&requested, &["a".into(), "b".into()]), json!({"deletedIds": ["a", "a", "b"], "invalidIds": ["x"]}));
        assert_eq!(removed_body(&[], &[]).to_string(), r#"{"deletedIds":[],"invalidIds":[]}"#);
    }
}
