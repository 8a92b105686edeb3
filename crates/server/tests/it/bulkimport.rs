//! The bulk-import queue's APIs through the real HTTP server, on every backend: queueing a batch
//! with every login method and the optional parts (roles, metadata, TOTP devices, external id),
//! the core's 400 by index for a bad batch with nothing stored, listing with status filters and
//! pagination, counting, removing, and the public-tenant rule.

use crate::common::{backends, TestApp};
use serde_json::{json, Value};

const BCRYPT: &str = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

fn full_user(n: u32) -> Value {
    json!({
        "externalUserId": format!("ext-{n}"),
        "userMetadata": {"plan": "gold", "n": n},
        "userRoles": [{"role": "admin", "tenantIds": ["public"]}],
        "totpDevices": [{"secretKey": "JBSWY3DPEHPK3PXP", "deviceName": "phone"}],
        "loginMethods": [
            {"recipeId": "emailpassword", "email": format!(" User{n}@Example.com "), "passwordHash": BCRYPT, "hashingAlgorithm": "bcrypt",
             "isVerified": true, "isPrimary": true, "timeJoinedInMSSinceEpoch": 1000 + n, "tenantIds": ["public"]},
            {"recipeId": "thirdparty", "email": format!("user{n}@example.com"), "thirdPartyId": "google", "thirdPartyUserId": format!("g-{n}"),
             "isVerified": true, "tenantIds": ["public"]},
            {"recipeId": "passwordless", "phoneNumber": "+1 415 555 0100", "tenantIds": ["public"]},
        ],
    })
}

fn plain_user(email: &str) -> Value {
    json!({"loginMethods": [{"recipeId": "emailpassword", "email": email, "plainTextPassword": "secret-123"}]})
}

async fn count(app: &TestApp, query: &str) -> i64 {
    let r = app.json("GET", &format!("/bulk-import/users/count{query}"), None).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["count"].as_i64().expect("count")
}

#[tokio::test]
async fn a_batch_is_queued_listed_counted_and_removed() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let r = app.json("PUT", "/recipe/role", Some(json!({"role": "admin", "permissions": []}))).await;
        assert_eq!(r["status"], "OK", "{r}");

        let (s, text) = app.call("POST", "/bulk-import/users", Some(json!({"users": []}))).await;
        assert_eq!((s, text.as_str()), (200, "{\"status\":\"OK\"}\n"), "{b:?}: an empty batch");

        let users = vec![full_user(1), plain_user("plain@example.com"), full_user(2)];
        let r = app.json("POST", "/bulk-import/users", Some(json!({"users": users}))).await;
        assert_eq!(r["status"], "OK", "{b:?}: {r}");
        let queued = r["users"].as_array().expect("users");
        assert_eq!(queued.len(), 3);
        assert_eq!(queued[0]["userId"], "ext-1", "the external id names the user");
        let methods = queued[0]["loginMethods"].as_array().unwrap();
        assert_eq!(methods.len(), 3);
        assert_eq!(methods[0]["email"], "user1@example.com", "emails are normalised");
        assert_eq!(methods[1]["thirdpartyId"], "google", "the core's lower-case p");
        assert_eq!(methods[2]["phoneNumber"], "+14155550100", "phone numbers are normalised");
        assert_eq!(methods[2]["email"], Value::Null);
        for m in methods {
            assert_eq!(m["userId"].as_str().unwrap().len(), 36, "every method gets its id");
        }
        let plain_id = queued[1]["userId"].as_str().unwrap().to_owned();

        assert_eq!(count(&app, "").await, 3, "{b:?}");
        assert_eq!(count(&app, "?status=NEW").await, 3);
        assert_eq!(count(&app, "?status=FAILED").await, 0);

        // The list: newest first, every stored field, defaults filled in; pages of one.
        let r = app.json("GET", "/bulk-import/users?limit=1", None).await;
        assert_eq!(r["status"], "OK");
        assert_eq!(r["users"].as_array().unwrap().len(), 1);
        let mut seen = vec![r["users"][0].clone()];
        let mut token = r["nextPaginationToken"].as_str().expect("a next page").to_owned();
        loop {
            let r = app.json("GET", &format!("/bulk-import/users?limit=1&status=NEW&paginationToken={token}"), None).await;
            seen.extend(r["users"].as_array().unwrap().iter().cloned());
            match r["nextPaginationToken"].as_str() {
                Some(t) => token = t.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen.len(), 3, "{b:?}: the pages hold every row once");
        let full = seen.iter().find(|u| u["externalUserId"] == "ext-2").expect("the second full user");
        assert_eq!(full["status"], "NEW");
        assert_eq!(full["userMetadata"], json!({"plan": "gold", "n": 2}));
        assert_eq!(full["totpDevices"][0]["period"], 30, "TOTP defaults are filled in");
        assert_eq!(full["totpDevices"][0]["skew"], 1);
        assert_eq!(full["loginMethods"][0]["hashingAlgorithm"], "BCRYPT");
        assert_eq!(full["loginMethods"][0]["passwordHash"], BCRYPT, "a hash is stored as given");
        assert!(full["createdAt"].is_i64() && full["updatedAt"].is_i64());
        let all = app.json("GET", "/bulk-import/users", None).await;
        assert!(all.get("nextPaginationToken").is_none(), "one page holds three");

        // Remove: request order, unknown ids invalid, a removed one not counted again.
        let r = app.json("POST", "/bulk-import/users/remove", Some(json!({"ids": [plain_id, "nope", plain_id]}))).await;
        assert_eq!(r, json!({"deletedIds": [plain_id, plain_id], "invalidIds": ["nope"]}), "{b:?}");
        assert_eq!(count(&app, "").await, 2);
        let (s, text) = app.call("POST", "/bulk-import/users/remove", Some(json!({"ids": []}))).await;
        assert_eq!((s, text.as_str()), (200, "{\"deletedIds\":[],\"invalidIds\":[]}\n"));
    }
}

#[tokio::test]
async fn a_bad_batch_is_a_400_by_index_and_nothing_is_stored() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let users = json!([
            plain_user("ok@example.com"),
            {},
            {"loginMethods": [{"recipeId": "webauthn", "email": "w@example.com"}]},
            {"externalUserId": "same", "loginMethods": [{"recipeId": "thirdparty", "email": "a@b.com", "thirdPartyId": "google", "thirdPartyUserId": "1"}]},
            {"externalUserId": "same", "userRoles": [{"role": "missing", "tenantIds": ["public"]}],
             "loginMethods": [{"recipeId": "passwordless", "email": "c@d.com", "tenantIds": ["nowhere"]}]},
        ]);
        let (s, text) = app.call("POST", "/bulk-import/users", Some(json!({"users": users}))).await;
        assert_eq!(s, 400, "{b:?}: {text}");
        let body: Value = serde_json::from_str(&text).expect("the errors, as JSON text");
        assert_eq!(body["error"], "Data has missing or invalid fields. Please check the users field for more details.");
        let by_index: Vec<i64> = body["users"].as_array().unwrap().iter().map(|u| u["index"].as_i64().unwrap()).collect();
        assert_eq!(by_index, [1, 2, 4], "{b:?}: only the invalid users, in order: {body}");
        let errors = |i: usize| body["users"][i]["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(errors(0), ["loginMethods is required."]);
        assert!(errors(1).iter().any(|e| e.starts_with("Invalid recipeId for loginMethod.")), "{:?}", errors(1));
        let later = errors(2);
        assert!(later.iter().any(|e| e.contains("externalUserId same is not unique")), "{later:?}");
        assert!(later.iter().any(|e| e.contains("Role missing does not exist")), "{later:?}");
        assert!(later.iter().any(|e| e.contains("nowhere")), "{later:?}");
        assert_eq!(count(&app, "").await, 0, "{b:?}: nothing of a bad batch is stored");

        // The endpoints' other input rules, in the core's words.
        let cases: Vec<(&str, &str, Option<Value>, &str)> = vec![
            ("POST", "/bulk-import/users", Some(json!({})), "Field name 'users' is invalid in JSON input"),
            ("POST", "/bulk-import/users", Some(json!({"users": [1]})), "Field name 'users' is invalid in JSON input"),
            ("GET", "/bulk-import/users?limit=x", None, "Field name 'limit' must be an int in the GET request"),
            ("GET", "/bulk-import/users?limit=501", None, "Max limit allowed is 500"),
            ("GET", "/bulk-import/users?limit=0", None, "limit must a positive integer with min value 1"),
            ("GET", "/bulk-import/users?status=DONE", None, "Invalid value for status. Pass one of NEW, PROCESSING, or FAILED!"),
            ("GET", "/bulk-import/users?paginationToken=%25%25", None, "invalid pagination token"),
            ("GET", "/bulk-import/users/count?status=new", None, "Invalid value for status. Pass one of NEW, PROCESSING, or FAILED!"),
            ("POST", "/bulk-import/users/remove", Some(json!({"ids": "x"})), "Field name 'ids' is invalid in JSON input"),
            ("POST", "/bulk-import/users/remove", Some(json!({"ids": [""]})), "Field name 'ids' cannot contain an empty string"),
        ];
        for (method, path, body, message) in cases {
            let (s, text) = app.call(method, path, body).await;
            assert_eq!((s, text.as_str()), (400, format!("{message}\n").as_str()), "{b:?}: {method} {path}");
        }
        let many: Vec<Value> = (0..10_001).map(|_| json!({})).collect();
        let (s, text) = app.call("POST", "/bulk-import/users", Some(json!({"users": many}))).await;
        assert_eq!((s, text.as_str()), (400, "{\"error\":\"You can only add 10000 users at a time.\"}\n"));
        let ids: Vec<String> = (0..501).map(|i| i.to_string()).collect();
        let (s, text) = app.call("POST", "/bulk-import/users/remove", Some(json!({"ids": ids}))).await;
        assert_eq!((s, text.as_str()), (400, "Field name 'ids' cannot contain more than 500 elements\n"));
    }
}

#[tokio::test]
async fn the_queue_belongs_to_the_app_and_its_public_tenant() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let r = app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        assert_eq!(r["status"], "OK", "{r}");
        let r = app.json("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a2"}))).await;
        assert_eq!(r["status"], "OK", "{r}");
        let (s, text) = app.call("GET", "/t1/bulk-import/users/count", None).await;
        assert_eq!((s, text.as_str()), (403, "Only public tenantId can call this app specific API\n"), "{b:?}");
        let (s, _) = app.call("POST", "/t1/bulk-import/users", Some(json!({"users": [plain_user("x@y.com")]}))).await;
        assert_eq!(s, 403);

        // A user may name the app's other tenants; another app's queue is its own.
        let user = json!({"loginMethods": [{"recipeId": "emailpassword", "email": "t@example.com", "plainTextPassword": "pw-123456", "tenantIds": ["public", "t1"]}]});
        let r = app.json("POST", "/bulk-import/users", Some(json!({"users": [user]}))).await;
        assert_eq!(r["status"], "OK", "{b:?}: {r}");
        assert_eq!(count(&app, "").await, 1);
        assert_eq!(app.json("GET", "/appid-a2/bulk-import/users/count", None).await["count"], 0);
        let r = app.json("POST", "/appid-a2/bulk-import/users", Some(json!({"users": [plain_user("x@y.com")]}))).await;
        assert_eq!(r["status"], "OK");
        assert_eq!(app.json("GET", "/appid-a2/bulk-import/users/count", None).await["count"], 1);
        assert_eq!(count(&app, "").await, 1);
    }
}

/// The converters' worked examples (tests/bulk-import/*/expected.json, docs/migrating.md) are
/// batches the API queues as they are; Firebase scrypt hashes need the app's signer key first.
#[tokio::test]
async fn the_converters_batches_are_queued_as_they_are() {
    use crate::common::config;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/bulk-import");
    let batch = |path: &str| -> Value { serde_json::from_str(&std::fs::read_to_string(root.join(path)).expect(path)).expect(path) };
    for b in backends() {
        let key = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
        let without_key = TestApp::spawn(b).await;
        let (s, text) = without_key.call("POST", "/bulk-import/users", Some(batch("firebase/project-a/expected.json"))).await;
        assert_eq!(s, 400, "{b:?}: a Firebase hash without the signer key: {text}");
        assert_eq!(count(&without_key, "").await, 0);

        let app = TestApp::spawn_with(config(b, &[("FIREBASE_PASSWORD_HASHING_SIGNER_KEY", key)])).await;
        let mut queued = 0;
        for path in ["auth0/expected.json", "cognito/expected.json", "firebase/project-a/expected.json"] {
            let users = batch(path);
            let r = app.json("POST", "/bulk-import/users", Some(users.clone())).await;
            assert_eq!(r["status"], "OK", "{b:?} {path}: {r}");
            assert_eq!(r["users"].as_array().unwrap().len(), users["users"].as_array().unwrap().len());
            queued += users["users"].as_array().unwrap().len() as i64;
        }
        assert_eq!(count(&app, "?status=NEW").await, queued, "{b:?}");
    }
}
