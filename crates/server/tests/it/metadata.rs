//! The user metadata APIs through the real HTTP server, on every backend: the core's replies, its
//! input rules, the public-tenant rule, per-app isolation, and concurrent updates of one user.

use crate::common::{backends, TestApp};
use serde_json::{json, Value};

const FORBIDDEN: &str = "Only public tenantId can call this app specific API\n";

async fn put(app: &TestApp, prefix: &str, user: &str, update: Value) -> Value {
    let body = json!({"userId": user, "metadataUpdate": update});
    app.json("PUT", &format!("{prefix}/recipe/user/metadata"), Some(body)).await
}

#[tokio::test]
async fn get_update_remove_and_bulk() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let (s, text) = app.call("GET", "/recipe/user/metadata?userId=u1", None).await;
        assert_eq!((s, text.as_str()), (200, "{\"metadata\":{},\"status\":\"OK\"}\n"), "{b:?}: the core's exact reply");

        let r = put(&app, "", "u1", json!({"a": 1, "b": {"x": 1}, "c": "keep", "never": null})).await;
        assert_eq!(r, json!({"metadata": {"a": 1, "b": {"x": 1}, "c": "keep"}, "status": "OK"}));
        // Shallow: `b` is replaced whole; `a` is removed by null; the update's keys come last.
        let r = put(&app, "", "u1", json!({"b": {"y": 2}, "a": null, "d": [1, {"e": null}]})).await;
        let expected = json!({"c": "keep", "b": {"y": 2}, "d": [1, {"e": null}]});
        assert_eq!(r["metadata"], expected);
        let (_, text) = app.call("GET", "/recipe/user/metadata?userId=u1", None).await;
        assert_eq!(text, "{\"metadata\":{\"c\":\"keep\",\"b\":{\"y\":2},\"d\":[1,{\"e\":null}]},\"status\":\"OK\"}\n");
        assert_eq!(put(&app, "", "u2", json!({})).await["metadata"], json!({}), "an empty update is fine");
        assert_eq!(put(&app, "/public", "", json!({"k": "empty id"})).await["metadata"], json!({"k": "empty id"}));

        let r = app.json("POST", "/recipe/user/metadata/bulk", Some(json!({"userIds": ["u1", "nobody", "u1", ""]}))).await;
        assert_eq!(
            r,
            json!({"status": "OK", "users": [
                {"userId": "u1", "metadata": expected},
                {"userId": "nobody", "metadata": null},
                {"userId": "u1", "metadata": expected},
                {"userId": "", "metadata": {"k": "empty id"}},
            ]})
        );
        let r = app.json("POST", "/recipe/user/metadata/bulk", Some(json!({"userIds": []}))).await;
        assert_eq!(r, json!({"status": "OK", "users": []}));

        let r = app.json("POST", "/recipe/user/metadata/remove", Some(json!({"userId": "u1"}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        let r = app.json("POST", "/recipe/user/metadata/remove", Some(json!({"userId": "u1"}))).await;
        assert_eq!(r, json!({"status": "OK"}), "removing nothing is OK too");
        assert_eq!(app.json("GET", "/recipe/user/metadata?userId=u1", None).await["metadata"], json!({}));
        let (s, _) = app.call("DELETE", "/recipe/user/metadata", None).await;
        assert_eq!(s, 405);
    }
}

#[tokio::test]
async fn bad_input_is_a_400_in_the_cores_words() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let invalid = |f: &str| format!("Field name '{f}' is invalid in JSON input\n");
        let cases: Vec<(&str, &str, Option<Value>, String)> = vec![
            ("GET", "/recipe/user/metadata", None, "Field name 'userId' is missing in GET request\n".into()),
            ("PUT", "/recipe/user/metadata", Some(json!({"metadataUpdate": {}})), invalid("userId")),
            ("PUT", "/recipe/user/metadata", Some(json!({"userId": 1, "metadataUpdate": {}})), invalid("userId")),
            ("PUT", "/recipe/user/metadata", Some(json!({"userId": "u"})), invalid("metadataUpdate")),
            ("PUT", "/recipe/user/metadata", Some(json!({"userId": "u", "metadataUpdate": null})), invalid("metadataUpdate")),
            ("PUT", "/recipe/user/metadata", Some(json!({"userId": "u", "metadataUpdate": [1]})), invalid("metadataUpdate")),
            ("PUT", "/recipe/user/metadata", Some(json!("text")), "Invalid Json Input\n".into()),
            ("POST", "/recipe/user/metadata/remove", Some(json!({})), invalid("userId")),
            ("POST", "/recipe/user/metadata/bulk", Some(json!({})), invalid("userIds")),
            ("POST", "/recipe/user/metadata/bulk", Some(json!({"userIds": null})), invalid("userIds")),
            ("POST", "/recipe/user/metadata/bulk", Some(json!({"userIds": "u1"})), invalid("userIds")),
            (
                "POST",
                "/recipe/user/metadata/bulk",
                Some(json!({"userIds": ["u1", 2]})),
                "userIds array must contain only strings\n".into(),
            ),
            (
                "POST",
                "/recipe/user/metadata/bulk",
                Some(json!({"userIds": vec!["u"; 501]})),
                "You can only query up to 500 users at a time.\n".into(),
            ),
        ];
        for (method, path, body, message) in cases {
            let (s, text) = app.call(method, path, body.clone()).await;
            assert_eq!((s, text.as_str()), (400, message.as_str()), "{b:?} {method} {path} {body:?}");
        }
        // Values the schema cannot hold are refused up front, not by the database.
        let long = "u".repeat(129);
        let (s, _) = app.call("PUT", "/recipe/user/metadata", Some(json!({"userId": long, "metadataUpdate": {}}))).await;
        assert_eq!(s, 400);
        let (s, _) = app.call("PUT", "/recipe/user/metadata", Some(json!({"userId": "a\u{0}b", "metadataUpdate": {}}))).await;
        assert_eq!(s, 400);
        let (s, _) = app.call("GET", "/recipe/user/metadata?userId=a%00b", None).await;
        assert_eq!(s, 400);
        let at_limit = "é".repeat(128);
        assert_eq!(put(&app, "", &at_limit, json!({"ok": true})).await["metadata"], json!({"ok": true}));
    }
}

#[tokio::test]
async fn app_wide_apis_refuse_other_tenants_and_apps_are_isolated() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        app.json("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a1", "coreConfig": {}}))).await;
        let calls: Vec<(&str, &str, Option<Value>)> = vec![
            ("GET", "/t1/recipe/user/metadata?userId=u1", None),
            ("PUT", "/t1/recipe/user/metadata", Some(json!({"userId": "u1", "metadataUpdate": {"a": 1}}))),
            ("POST", "/t1/recipe/user/metadata/remove", Some(json!({"userId": "u1"}))),
            ("POST", "/t1/recipe/user/metadata/bulk", Some(json!({"userIds": ["u1"]}))),
            ("GET", "/appid-a1/t1/recipe/user/metadata?userId=u1", None),
        ];
        for (method, path, body) in calls {
            let (s, text) = app.call(method, path, body).await;
            assert_eq!((s, text.as_str()), (403, FORBIDDEN), "{b:?} {method} {path}");
        }
        // An unknown app is the core's 400.
        let (s, text) = app.call("GET", "/appid-nope/recipe/user/metadata?userId=u1", None).await;
        assert_eq!(s, 400, "{text}");
        assert!(text.starts_with("AppId or tenantId not found"), "{text}");

        put(&app, "", "u1", json!({"app": "public"})).await;
        put(&app, "/appid-a1", "u1", json!({"app": "a1"})).await;
        put(&app, "/appid-a1/public", "u1", json!({"more": 1})).await;
        assert_eq!(app.json("GET", "/recipe/user/metadata?userId=u1", None).await["metadata"], json!({"app": "public"}));
        let a1 = app.json("GET", "/appid-a1/recipe/user/metadata?userId=u1", None).await;
        assert_eq!(a1["metadata"], json!({"app": "a1", "more": 1}));
    }
}

#[tokio::test]
async fn concurrent_updates_of_one_user_lose_no_key() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        // Twice: the first round races to create the row, the second to update it.
        for round in 0..2 {
            let calls = (0..20).map(|i| put(&app, "", "racer", json!({ format!("r{round}k{i}"): i })));
            for r in futures::future::join_all(calls).await {
                assert_eq!(r["status"], "OK");
            }
        }
        let m = app.json("GET", "/recipe/user/metadata?userId=racer", None).await;
        let keys = m["metadata"].as_object().map(|o| o.len()).unwrap_or(0);
        assert_eq!(keys, 40, "{b:?}: concurrent updates lost keys: {m}");
    }
}
