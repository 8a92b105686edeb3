//! The user metadata recipe's rules. A user's metadata is one JSON object, stored as text in
//! `user_metadata`; updates merge into it one top-level key at a time.

pub mod storage;

use serde_json::{Map, Value};

use crate::ids::AppKey;
use crate::storage::tx::{Tx, TxFuture};
use crate::storage::{transaction, Storage, StorageError};

/// The most user ids one bulk read may name (the core's `BulkGetUserMetadataAPI.MAX_USER_IDS`).
pub const MAX_BULK_USER_IDS: usize = 500;

/// Merges `update` into `target` as the core does: each top-level key of the update replaces the
/// stored value, and a key given as `null` is removed. A replaced key moves to the end, because the
/// core removes it and adds it again (its objects keep insertion order, and so does the stored text).
pub fn shallow_merge(target: &mut Map<String, Value>, update: &Map<String, Value>) {
    for (key, value) in update {
        // `shift_remove` keeps the order of the other keys (a plain `remove` may swap them).
        target.shift_remove(key);
        if !value.is_null() {
            target.insert(key.clone(), value.clone());
        }
    }
}

/// Reads stored metadata text. Anything but a JSON object is a corrupt row: the caller reports it as
/// a storage error rather than guessing.
pub fn parse_stored(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("a stored user_metadata value is not a JSON object".to_owned()),
    }
}

/// The text stored for a metadata object (compact JSON, as the core writes it).
pub fn to_stored(metadata: &Map<String, Value>) -> String {
    // Serialising a map of JSON values cannot fail (no non-string keys, no foreign types).
    Value::Object(metadata.clone()).to_string()
}

/// A first write can lose the race to create the row (once) and the row can vanish between two
/// statements (a concurrent delete); beyond that something is badly wrong.
const MAX_UPDATE_TRIES: usize = 4;

/// Merges `update` into a user's metadata ([`shallow_merge`]) and stores the result, which it
/// returns. Read, merge and write run in one transaction holding the user's row lock, so concurrent
/// updates of one user never lose each other's keys: an existing row is locked (a concurrent update
/// waits, then this one reads its result); a missing row is inserted, and when another transaction
/// inserted it first, this one goes round again to lock and merge into the row it wrote.
pub async fn update(storage: &dyn Storage, app: AppKey<'_>, user_id: &str, update: Map<String, Value>) -> Result<Map<String, Value>, StorageError> {
    transaction(storage, (app.app_id.to_owned(), user_id.to_owned(), update), update_in).await
}

fn update_in<'t>(tx: &'t mut dyn Tx, (app, user, patch): &'t (String, String, Map<String, Value>)) -> TxFuture<'t, Map<String, Value>> {
    Box::pin(async move {
        let app = AppKey::new(app);
        for _ in 0..MAX_UPDATE_TRIES {
            if let Some(mut metadata) = tx.metadata_lock(app, user).await? {
                shallow_merge(&mut metadata, patch);
                tx.metadata_replace(app, user, &metadata).await?;
                return Ok(metadata);
            }
            let mut metadata = Map::new();
            shallow_merge(&mut metadata, patch);
            if tx.metadata_insert(app, user, &metadata).await? {
                return Ok(metadata);
            }
        }
        Err(StorageError::Query(format!("user metadata kept changing under {MAX_UPDATE_TRIES} tries to update it")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn merge_replaces_adds_and_removes_top_level_keys() {
        let mut m = obj(json!({"a": 1, "b": {"x": 1, "y": 2}, "c": "keep"}));
        shallow_merge(&mut m, &obj(json!({"b": {"x": 9}, "a": null, "d": [1, 2], "missing": null})));
        // `b` is replaced whole (not merged deeply) and moves after `c`; `a` is gone; `missing` stays absent.
        assert_eq!(Value::Object(m.clone()).to_string(), r#"{"c":"keep","b":{"x":9},"d":[1,2]}"#);
        shallow_merge(&mut m, &obj(json!({})));
        assert_eq!(m.len(), 3, "an empty update changes nothing");
    }

    #[test]
    fn nested_nulls_are_kept() {
        let mut m = Map::new();
        shallow_merge(&mut m, &obj(json!({"k": {"inner": null}})));
        assert_eq!(Value::Object(m), json!({"k": {"inner": null}}));
    }

    #[test]
    fn stored_text_round_trips_and_rejects_non_objects() {
        let m = obj(json!({"z": 1, "a": "é\u{0}"}));
        assert_eq!(parse_stored(&to_stored(&m)).unwrap(), m);
        assert_eq!(to_stored(&m), r#"{"z":1,"a":"é\u0000"}"#, "key order is kept, NUL is escaped");
        assert!(parse_stored("[1]").is_err());
        assert!(parse_stored("not json").is_err());
        assert!(parse_stored("null").is_err());
    }
}
