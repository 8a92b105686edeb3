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

/// These tests look at the queue itself: no worker drains it under them.
const NO_WORKER: (&str, &str) = ("BULK_MIGRATION_CRON_ENABLED", "false");

async fn queue_only(b: crate::common::Backend) -> TestApp {
    TestApp::spawn_with(crate::common::config(b, &[NO_WORKER])).await
}

async fn count(app: &TestApp, query: &str) -> i64 {
    let r = app.json("GET", &format!("/bulk-import/users/count{query}"), None).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["count"].as_i64().expect("count")
}

#[tokio::test]
async fn a_batch_is_queued_listed_counted_and_removed() {
    for b in backends() {
        let app = queue_only(b).await;
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
        let app = queue_only(b).await;
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

/// 10,000 users per call, as the core takes them, are several MiB: the queue route reads bodies
/// past `max_request_body_bytes` (1 MiB by default), and only that route.
#[tokio::test]
async fn ten_thousand_users_fit_in_one_upload() {
    for b in backends() {
        let app = queue_only(b).await;
        let users: Vec<Value> = (0..10_000).map(|i| plain_user(&format!("a-rather-long-address-to-fill-the-body-{i}@example.com"))).collect();
        let body = json!({"users": users});
        assert!(body.to_string().len() > 1 << 20, "the batch is larger than the default bound");
        let r = app.json("POST", "/bulk-import/users", Some(body.clone())).await;
        assert_eq!(r["status"], "OK", "{b:?}");
        assert_eq!(r["users"].as_array().map(Vec::len), Some(10_000));
        assert_eq!(count(&app, "").await, 10_000);
        // Any other route keeps the configured bound.
        let (s, _) = app.call("POST", "/bulk-import/users/remove", Some(body)).await;
        assert_eq!(s, 413, "{b:?}");
    }
}

#[tokio::test]
async fn the_queue_belongs_to_the_app_and_its_public_tenant() {
    for b in backends() {
        let app = queue_only(b).await;
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
        let without_key = queue_only(b).await;
        let (s, text) = without_key.call("POST", "/bulk-import/users", Some(batch("firebase/project-a/expected.json"))).await;
        assert_eq!(s, 400, "{b:?}: a Firebase hash without the signer key: {text}");
        assert_eq!(count(&without_key, "").await, 0);

        let app = TestApp::spawn_with(config(b, &[("FIREBASE_PASSWORD_HASHING_SIGNER_KEY", key), NO_WORKER])).await;
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

// ---------------------------------------------------------------------------------------------
// POST /bulk-import/import: one user, synchronously.

mod import_one {
    use super::*;
    use crate::common::config;
    use portcullis_core::crypto::password::{hash, HashAlgorithm, HashSettings};
    use portcullis_core::totp::{base32_decode, totp_at};

    /// The public vector of Firebase's scrypt README (docs/migrating.md uses it too).
    const FIREBASE_KEY: &str = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    const FIREBASE_HASH: &str = "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$m=14$r=8$s=Bw==";
    const SECRET: &str = "JBSWY3DPEHPK3PXP";

    fn hashed(password: &str, algorithm: HashAlgorithm) -> String {
        let s = HashSettings { algorithm, bcrypt_log_rounds: 4, argon2_iterations: 1, argon2_memory_kb: 1024, argon2_parallelism: 1 };
        hash(password, &s).expect("hash")
    }

    async fn app_with_tenant(b: crate::common::Backend) -> TestApp {
        let app = TestApp::spawn_with(config(b, &[("FIREBASE_PASSWORD_HASHING_SIGNER_KEY", FIREBASE_KEY)])).await;
        for role in ["admin", "viewer"] {
            let r = app.json("PUT", "/recipe/role", Some(json!({"role": role, "permissions": []}))).await;
            assert_eq!(r["status"], "OK", "{r}");
        }
        let r = app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "firstFactors": ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-email", "link-phone"]}))).await;
        assert_eq!(r["status"], "OK", "{r}");
        app
    }

    async fn import(app: &TestApp, user: Value) -> (u16, Value, String) {
        let (s, text) = app.call("POST", "/bulk-import/import", Some(user)).await;
        (s, serde_json::from_str(text.trim()).unwrap_or(Value::Null), text)
    }

    async fn sign_in(app: &TestApp, tenant: &str, email: &str, password: &str) -> Value {
        app.json("POST", &format!("/{tenant}/recipe/signin"), Some(json!({"email": email, "password": password}))).await
    }

    #[tokio::test]
    async fn every_login_method_imports_and_signs_in() {
        for b in backends() {
            let app = app_with_tenant(b).await;
            let argon2 = hashed("argon-pass", HashAlgorithm::Argon2);
            let bcrypt_2b = hashed("bcrypt-pass", HashAlgorithm::Bcrypt).replacen("$2a$", "$2b$", 1);
            // One rich user: a primary email-password method (argon2) in two tenants, linked
            // third-party and passwordless methods, external id, metadata, roles per tenant and
            // TOTP devices.
            let rich = json!({
                "externalUserId": "auth0|rich",
                "userMetadata": {"plan": "gold"},
                "userRoles": [{"role": "admin", "tenantIds": ["public", "t1"]}, {"role": "viewer", "tenantIds": ["t1"]}],
                "totpDevices": [{"secretKey": SECRET, "deviceName": "phone"}, {"secretKey": "KRSXG5CTMVRXEZLU", "period": 60, "skew": 0}],
                "loginMethods": [
                    {"recipeId": "emailpassword", "email": " Rich@Example.com ", "passwordHash": argon2, "hashingAlgorithm": "argon2",
                     "isVerified": true, "isPrimary": true, "timeJoinedInMSSinceEpoch": 3000, "tenantIds": ["public", "t1"]},
                    {"recipeId": "thirdparty", "email": "rich@example.com", "thirdPartyId": "google", "thirdPartyUserId": "g-rich",
                     "isVerified": true, "timeJoinedInMSSinceEpoch": 1000},
                    {"recipeId": "passwordless", "email": "rich@example.com", "timeJoinedInMSSinceEpoch": 2000},
                    {"recipeId": "passwordless", "phoneNumber": "+1 415 555 0100", "timeJoinedInMSSinceEpoch": 2500}
                ]
            });
            let (s, r, text) = import(&app, rich).await;
            assert_eq!(s, 200, "{b:?}: {text}");
            assert_eq!(r["status"], "OK");
            let user = &r["user"];
            assert_eq!(user["id"], "auth0|rich", "the external id names the user");
            assert_eq!(user["isPrimaryUser"], true);
            assert_eq!(user["timeJoined"], 1000, "the group's earliest");
            assert_eq!(user["tenantIds"], json!(["public", "t1"]));
            assert_eq!(user["emails"], json!(["rich@example.com"]));
            assert_eq!(user["phoneNumbers"], json!(["+14155550100"]));
            assert_eq!(user["thirdParty"], json!([{"id": "google", "userId": "g-rich"}]));
            let methods = user["loginMethods"].as_array().expect("methods");
            assert_eq!(methods.len(), 4);
            let ep = methods.iter().find(|m| m["recipeId"] == "emailpassword").expect("ep");
            assert_eq!((ep["verified"].clone(), ep["timeJoined"].clone()), (json!(true), json!(3000)));
            let tp = methods.iter().find(|m| m["recipeId"] == "thirdparty").expect("tp");
            assert_eq!(tp["verified"], true);
            // GET /user/id shows the same user.
            let got = app.json("GET", "/user/id?userId=auth0%7Crich", None).await;
            assert_eq!(got["user"], *user, "{b:?}: /import answers what GET /user/id shows");

            // The imported user signs in with its original password, in both tenants.
            for tenant in ["public", "t1"] {
                let r = sign_in(&app, tenant, "rich@example.com", "argon-pass").await;
                assert_eq!(r["status"], "OK", "{b:?} {tenant}: {r}");
                assert_eq!(r["user"]["id"], "auth0|rich");
            }
            assert_eq!(sign_in(&app, "public", "rich@example.com", "wrong").await["status"], "WRONG_CREDENTIALS_ERROR");
            // Third-party sign-in finds the imported user.
            let body = json!({"thirdPartyId": "google", "thirdPartyUserId": "g-rich", "email": {"id": "rich@example.com", "isVerified": true}});
            let r = app.json("POST", "/recipe/signinup", Some(body)).await;
            assert_eq!((r["status"].clone(), r["createdNewUser"].clone()), (json!("OK"), json!(false)), "{b:?}: {r}");
            assert_eq!(r["user"]["id"], "auth0|rich");
            // TOTP: the imported device verifies.
            let code = totp_at(&base32_decode(SECRET), 30, app.clock.now(), 6);
            let r = app.json("POST", "/recipe/totp/verify", Some(json!({"userId": "auth0|rich", "totp": code}))).await;
            assert_eq!(r["status"], "OK", "{b:?}: {r}");
            let devices = app.json("GET", "/recipe/totp/device/list?userId=auth0%7Crich", None).await;
            let names: Vec<&str> = devices["devices"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
            assert_eq!(names.len(), 2, "{devices}");
            assert!(names.contains(&"phone"));
            // Metadata, roles per tenant, the mapping, the verified email.
            let r = app.json("GET", "/recipe/user/metadata?userId=auth0%7Crich", None).await;
            assert_eq!(r["metadata"], json!({"plan": "gold"}));
            let r = app.json("GET", "/public/recipe/user/roles?userId=auth0%7Crich", None).await;
            assert_eq!(r["roles"], json!(["admin"]));
            let r = app.json("GET", "/t1/recipe/user/roles?userId=auth0%7Crich", None).await;
            let mut roles: Vec<String> = serde_json::from_value(r["roles"].clone()).unwrap();
            roles.sort();
            assert_eq!(roles, ["admin", "viewer"]);
            let r = app.json("GET", "/recipe/userid/map?userId=auth0%7Crich&userIdType=EXTERNAL", None).await;
            assert_eq!(r["superTokensUserId"].as_str().map(str::len), Some(36), "{r}");
            let r = app.json("GET", "/recipe/user/email/verify?userId=auth0%7Crich&email=rich%40example.com", None).await;
            assert_eq!(r["isVerified"], true, "{r}");

            // The other hash types and a plain-text password, each its own user.
            let users = [
                ("bcrypt@example.com", json!({"passwordHash": bcrypt_2b, "hashingAlgorithm": "bcrypt"}), "bcrypt-pass"),
                ("firebase@example.com", json!({"passwordHash": FIREBASE_HASH, "hashingAlgorithm": "firebase_scrypt"}), "user1password"),
                ("plain@example.com", json!({"plainTextPassword": "plain-pass-1"}), "plain-pass-1"),
            ];
            for (email, password, original) in users {
                let mut m = json!({"recipeId": "emailpassword", "email": email});
                m.as_object_mut().unwrap().extend(password.as_object().unwrap().clone());
                let (s, r, text) = import(&app, json!({"loginMethods": [m]})).await;
                assert_eq!(s, 200, "{b:?} {email}: {text}");
                assert_eq!(r["user"]["isPrimaryUser"], false, "no isPrimary: a stand-alone user");
                let signed = sign_in(&app, "public", email, original).await;
                assert_eq!(signed["status"], "OK", "{b:?} {email}: {signed}");
                assert_eq!(signed["user"]["id"], r["user"]["id"]);
            }
            // The plain text was hashed with the app's algorithm (argon2 by default), once.
            let stored = app.json("GET", "/recipe/user?email=plain%40example.com", None).await;
            assert_eq!(stored["status"], "OK", "{stored}");
            // Imported hashes are stored as given: the bcrypt user still signs in after a restart of
            // nothing; its hash is not rewritten (the sign-in above did not rehash it).
            assert_eq!(sign_in(&app, "public", "bcrypt@example.com", "bcrypt-pass").await["status"], "OK");

            // Passwordless by phone and by email, stand-alone, verified flags.
            let (s, r, text) = import(&app, json!({"loginMethods": [{"recipeId": "passwordless", "phoneNumber": "+44 7700 900123", "isVerified": true}]})).await;
            assert_eq!(s, 200, "{b:?}: {text}");
            assert_eq!(r["user"]["phoneNumbers"], json!(["+447700900123"]));
            let (s, r, _) = import(&app, json!({"loginMethods": [{"recipeId": "passwordless", "email": "pl@example.com", "isVerified": true, "tenantIds": ["t1"]}]})).await;
            assert_eq!(s, 200);
            assert_eq!((r["user"]["tenantIds"].clone(), r["user"]["loginMethods"][0]["verified"].clone()), (json!(["t1"]), json!(true)));
        }
    }

    #[tokio::test]
    async fn conflicts_and_invalid_users_answer_the_cores_errors_with_nothing_written() {
        for b in backends() {
            let app = app_with_tenant(b).await;
            let ep = |email: &str| json!({"recipeId": "emailpassword", "email": email, "plainTextPassword": "pw-123456"});
            let (s, _, text) = import(&app, json!({"externalUserId": "x-1", "loginMethods": [ep("a@example.com")]})).await;
            assert_eq!(s, 200, "{text}");

            let primary = |m: Value| {
                let mut m = m;
                m["isPrimary"] = json!(true);
                m
            };
            let tp = |email: &str, id: &str| json!({"recipeId": "thirdparty", "email": email, "thirdPartyId": "github", "thirdPartyUserId": id});
            let (s, r, text) = import(&app, json!({"loginMethods": [primary(ep("p@example.com"))]})).await;
            assert_eq!(s, 200, "{text}");
            let st_id = r["user"]["id"].as_str().unwrap().to_owned();
            let users_before = app.json("GET", "/users/count", None).await["count"].clone();

            // Import conflicts: the core's E-codes, 400, as text; nothing of the user is written.
            let cases = [
                (json!({"loginMethods": [ep("a@example.com")]}), "E003: A user with email a@example.com already exists in emailpassword loginMethod.".to_owned()),
                (json!({"externalUserId": "x-1", "loginMethods": [ep("new1@example.com")]}), "E031: A user with externalId x-1 already exists".to_owned()),
                (
                    json!({"externalUserId": st_id, "loginMethods": [ep("new2@example.com")]}),
                    "E030: Cannot create a userId mapping where the externalId is also a SuperTokens userID".to_owned(),
                ),
                (json!({"loginMethods": [{"recipeId": "passwordless", "email": "a@example.com", "tenantIds": ["public"]}, {"recipeId": "passwordless", "email": "a@example.com"}]}), "E006: A user with email a@example.com already exists in passwordless loginMethod.".to_owned()),
            ];
            for (user, message) in cases {
                let (s, text) = app.call("POST", "/bulk-import/import", Some(user)).await;
                assert_eq!((s, text.as_str()), (400, format!("{}\n", json!({"errors": [message]})).as_str()), "{b:?}");
            }
            // Account linking: another primary user holds the account info.
            let (s, text) = app.call("POST", "/bulk-import/import", Some(json!({"loginMethods": [primary(tp("p@example.com", "gh-1"))]}))).await;
            assert_eq!(s, 400, "{text}");
            assert!(text.starts_with("{\"errors\":[\"E022: We tried to create the primary user for the userId "), "{b:?}: {text}");
            let (s, text) = app.call("POST", "/bulk-import/import", Some(json!({"loginMethods": [primary(ep("q@example.com")), tp("p@example.com", "gh-2")]}))).await;
            assert_eq!(s, 400, "{text}");
            assert!(text.starts_with("{\"errors\":[\"E027: We tried to link the userId "), "{b:?}: {text}");
            assert_eq!(app.json("GET", "/users/count", None).await["count"], users_before, "{b:?}: nothing of the refused users was written");
            assert_eq!(sign_in(&app, "public", "q@example.com", "pw-123456").await["status"], "WRONG_CREDENTIALS_ERROR");
            // A non-primary user with the same email does not block (the core's test).
            let (s, _, text) = import(&app, json!({"loginMethods": [tp("a@example.com", "gh-3")]})).await;
            assert_eq!(s, 200, "{text}");

            // Validation: the core's messages in the core's order.
            let (s, text) = app
                .call(
                    "POST",
                    "/bulk-import/import",
                    Some(json!({
                        "userRoles": [{"role": "role1", "tenantIds": ["t9"]}, {"role": "role2", "tenantIds": ["t9"]}],
                        "loginMethods": [
                            {"recipeId": "emailpassword", "email": "v@example.com", "passwordHash": "$2a$10$x", "hashingAlgorithm": "bcrypt", "tenantIds": ["public", "t9"]},
                            {"recipeId": "thirdparty", "email": "v@example.com", "thirdPartyId": "google", "thirdPartyUserId": "1", "tenantIds": ["t9", "public"]},
                            {"recipeId": "passwordless", "email": "v@example.com", "tenantIds": ["public", "t9"]}
                        ]
                    })),
                )
                .await;
            let expected = json!({"errors": [
                "Role role1 does not exist.", "Invalid tenantId: t9 for a user role.", "Role role2 does not exist.", "Invalid tenantId: t9 for a user role.",
                "Invalid tenantId: t9 for emailpassword recipe.", "Invalid tenantId: t9 for thirdparty recipe.", "Invalid tenantId: t9 for passwordless recipe."
            ]});
            assert_eq!((s, text), (400, format!("{expected}\n")), "{b:?}");
            let (s, text) = app.call("POST", "/bulk-import/import", Some(json!({"loginMethods": [{"recipeId": "webauthn", "email": "w@example.com"}]}))).await;
            assert_eq!(
                (s, text.as_str()),
                (400, "{\"errors\":[\"Invalid recipeId for loginMethod. Pass one of emailpassword, thirdparty or, passwordless!\"]}\n"),
                "{b:?}"
            );
            let invalid = [
                (json!({}), "loginMethods is required."),
                (json!({"loginMethods": []}), "At least one loginMethod is required."),
                (json!({"externalUserId": 5, "loginMethods": [ep("e@example.com")]}), "externalUserId should be of type string."),
                (json!({"userMetadata": [], "loginMethods": [ep("e@example.com")]}), "userMetadata should be of type object."),
                (json!({"totpDevices": [{"secretKey": "S", "period": 0}], "loginMethods": [ep("e@example.com")]}), "period should be > 0 for a totp device."),
                (json!({"loginMethods": [{"recipeId": "emailpassword", "email": "e@example.com"}]}), "Either (passwordHash, hashingAlgorithm) or plainTextPassword is required for an emailpassword recipe."),
                (json!({"loginMethods": [{"recipeId": "emailpassword", "email": "e@example.com", "passwordHash": "nope", "hashingAlgorithm": "argon2"}]}), "Password hash is in invalid Argon2 format"),
                (json!({"loginMethods": [{"recipeId": "thirdparty", "email": "e@example.com", "thirdPartyId": "google"}]}), "thirdPartyUserId is required for a thirdparty recipe."),
                (json!({"loginMethods": [{"recipeId": "passwordless"}]}), "Either email or phoneNumber is required for a passwordless recipe."),
                (json!({"loginMethods": [{"recipeId": "passwordless", "email": "e@example.com", "timeJoinedInMSSinceEpoch": -1}]}), "timeJoined cannot be < 0 for a loginMethod."),
            ];
            for (user, message) in invalid {
                let (s, text) = app.call("POST", "/bulk-import/import", Some(user.clone())).await;
                assert_eq!(s, 400, "{b:?} {user}: {text}");
                assert!(text.contains(message), "{b:?} {user}: {text}");
            }
            assert_eq!(app.json("GET", "/users/count", None).await["count"], json!(users_before.as_i64().unwrap() + 1), "{b:?}");
            // Not a JSON object: the core's message.
            let (s, text) = app.call("POST", "/t1/bulk-import/import", Some(json!({"loginMethods": [ep("t@example.com")]}))).await;
            assert_eq!((s, text.as_str()), (403, "Only public tenantId can call this app specific API\n"), "{b:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The worker: draining the queue.

mod worker {
    use super::*;
    use crate::common::{config, Backend};

    /// Runs the worker by hand (`drain`) rather than on its schedule.
    fn manual(b: Backend, extra: &[(&str, &str)]) -> portcullis_core::config::Config {
        let mut all = vec![NO_WORKER, ("BULK_MIGRATION_SLEEP_BETWEEN_ROUNDS_IN_BATCH_MS", "0"), ("BULK_MIGRATION_BATCH_SIZE", "4"), ("BULK_MIGRATION_PARALLELISM", "2")];
        all.extend_from_slice(extra);
        config(b, &all)
    }

    async fn drain(app: &TestApp) -> portcullis::bulkimport_worker::RunTotals {
        portcullis::bulkimport_worker::run(&app.state).await
    }

    async fn queue(app: &TestApp, users: Vec<Value>) -> Vec<String> {
        let r = app.json("POST", "/bulk-import/users", Some(json!({ "users": users }))).await;
        assert_eq!(r["status"], "OK", "{r}");
        r["users"].as_array().unwrap().iter().map(|u| u["userId"].as_str().unwrap().to_owned()).collect()
    }

    #[tokio::test]
    async fn queued_users_of_every_kind_are_imported_and_failures_kept_with_their_reason() {
        for b in backends() {
            let app = TestApp::spawn_with(manual(b, &[])).await;
            for role in ["admin", "temp"] {
                assert_eq!(app.json("PUT", "/recipe/role", Some(json!({"role": role, "permissions": []}))).await["status"], "OK");
            }
            let r = app.json("POST", "/recipe/signup", Some(json!({"email": "taken@example.com", "password": "pw-123456"}))).await;
            assert_eq!(r["status"], "OK");
            let mut second = full_user(2);
            second["loginMethods"][2]["phoneNumber"] = json!("+1 415 555 0102");
            let mut users = vec![full_user(1), second, plain_user("plain@example.com")];
            users.push(json!({"loginMethods": [{"recipeId": "passwordless", "email": "pl@example.com", "isVerified": true}]}));
            users.push(json!({"loginMethods": [{"recipeId": "passwordless", "phoneNumber": "+44 7700 900123"}]}));
            // Fails at import: the email is taken (E003).
            users.push(plain_user("taken@example.com"));
            // Fails re-validation: its role is deleted before the worker runs.
            users.push(json!({"userRoles": [{"role": "temp", "tenantIds": ["public"]}], "loginMethods": [{"recipeId": "passwordless", "email": "temp@example.com"}]}));
            // Two queued users with one email: the earlier wins.
            users.push(plain_user("twice@example.com"));
            users.push(plain_user("twice@example.com"));
            let ids = queue(&app, users).await;
            assert_eq!(app.json("POST", "/recipe/role/remove", Some(json!({"role": "temp"}))).await["status"], "OK");

            let totals = drain(&app).await;
            assert_eq!((totals.imported, totals.failed), (6, 3), "{b:?}");
            assert_eq!(count(&app, "").await, 3, "{b:?}: imported users leave the queue");
            assert_eq!(count(&app, "?status=FAILED").await, 3);
            let failed = app.json("GET", "/bulk-import/users?status=FAILED", None).await;
            let mut reasons: Vec<String> = failed["users"].as_array().unwrap().iter().map(|u| u["errorMessage"].as_str().unwrap().to_owned()).collect();
            reasons.sort();
            assert_eq!(
                reasons,
                [
                    "E003: A user with email taken@example.com already exists in emailpassword loginMethod.",
                    "E003: A user with email twice@example.com already exists in emailpassword loginMethod.",
                    "[Role temp does not exist.]",
                ],
                "{b:?}"
            );
            // The imported users sign in and look as queued.
            let r = app.json("POST", "/recipe/signin", Some(json!({"email": "plain@example.com", "password": "secret-123"}))).await;
            assert_eq!(r["status"], "OK", "{b:?}: {r}");
            assert_eq!(r["user"]["id"], ids[2], "the queue id is the user's id");
            let r = app.json("GET", "/user/id?userId=ext-1", None).await;
            assert_eq!(r["user"]["isPrimaryUser"], true);
            assert_eq!(r["user"]["loginMethods"].as_array().unwrap().len(), 3);
            assert_eq!(app.json("GET", "/recipe/user/metadata?userId=ext-2", None).await["metadata"], json!({"plan": "gold", "n": 2}));
            assert_eq!(app.json("GET", "/public/recipe/user/roles?userId=ext-1", None).await["roles"], json!(["admin"]));
            // Progress shows in the metrics.
            let (_, metrics) = app.call("GET", "/metrics", None).await;
            assert!(metrics.contains("portcullis_bulk_import_users_total{outcome=\"imported\"} 6"), "{metrics}");
            assert!(metrics.contains("portcullis_bulk_import_users_total{outcome=\"failed\"} 3"));
            assert!(metrics.contains("portcullis_bulk_import_queue_users{status=\"FAILED\"} 3"));

            // Retrying a failed user: remove it, fix the cause, queue it again.
            let failed_ids: Vec<String> = failed["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect();
            let r = app.json("POST", "/bulk-import/users/remove", Some(json!({ "ids": failed_ids }))).await;
            assert_eq!(r["deletedIds"].as_array().unwrap().len(), 3);
            assert_eq!(app.json("PUT", "/recipe/role", Some(json!({"role": "temp", "permissions": []}))).await["status"], "OK");
            queue(&app, vec![json!({"userRoles": [{"role": "temp", "tenantIds": ["public"]}], "loginMethods": [{"recipeId": "passwordless", "email": "temp@example.com"}]})]).await;
            assert_eq!(drain(&app).await, portcullis::bulkimport_worker::RunTotals { imported: 1, failed: 0 });
            assert_eq!(count(&app, "").await, 0, "{b:?}");
            // An empty queue: nothing to do.
            assert_eq!(drain(&app).await, Default::default());
        }
    }

    #[tokio::test]
    async fn a_post_wakes_the_worker() {
        for b in backends() {
            // An hour's interval: only the wake-up can drain the queue within the test.
            let app = TestApp::spawn_with(config(b, &[("PORTCULLIS_BULK_IMPORT_INTERVAL_SEC", "3600"), ("BULK_MIGRATION_SLEEP_BETWEEN_ROUNDS_IN_BATCH_MS", "0")])).await;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            queue(&app, (0..20).map(|i| plain_user(&format!("w{i}@example.com"))).collect()).await;
            let mut left = -1;
            for _ in 0..300 {
                left = count(&app, "").await;
                if left == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(left, 0, "{b:?}: the queue was drained after the POST");
            assert_eq!(app.json("GET", "/users/count", None).await["count"], 20);
        }
    }

    /// Two instances on one PostgreSQL schema drain one queue at once: every user imported
    /// exactly once, none lost, none failed as a duplicate.
    #[tokio::test]
    async fn two_instances_drain_one_queue_without_duplicates() {
        let Ok(uri) = std::env::var("PORTCULLIS_TEST_PG_URI") else {
            eprintln!("PORTCULLIS_TEST_PG_URI is not set: skipped");
            return;
        };
        let schema = format!("bi_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let cfg = || {
            config(
                Backend::Postgres,
                &[
                    ("POSTGRESQL_TABLE_SCHEMA", &schema),
                    ("PORTCULLIS_BULK_IMPORT_INTERVAL_SEC", "3600"),
                    ("BULK_MIGRATION_SLEEP_BETWEEN_ROUNDS_IN_BATCH_MS", "0"),
                    ("BULK_MIGRATION_BATCH_SIZE", "200"),
                    ("BULK_MIGRATION_PARALLELISM", "2"),
                ],
            )
        };
        let one = TestApp::spawn_with(cfg()).await;
        let two = TestApp::spawn_with(cfg()).await;
        const USERS: usize = 3000;
        let user = |i: usize| {
            json!({"externalUserId": format!("x-{i}"), "loginMethods": [
                {"recipeId": "emailpassword", "email": format!("u{i}@example.com"), "passwordHash": BCRYPT, "hashingAlgorithm": "bcrypt", "isPrimary": i.is_multiple_of(2)},
                {"recipeId": "thirdparty", "email": format!("u{i}@example.com"), "thirdPartyId": "google", "thirdPartyUserId": format!("g{i}")}
            ]})
        };
        // Batches to both instances, which wakes both workers.
        let mut expected: Vec<String> = Vec::new();
        for (n, start) in (0..USERS).step_by(500).enumerate() {
            let app = if n % 2 == 0 { &one } else { &two };
            expected.extend(queue(app, (start..start + 500).map(user).collect()).await);
        }
        let mut left = -1;
        for _ in 0..1200 {
            left = count(&one, "").await;
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(left, 0, "the queue was drained");
        // Every user exactly once: 2 recipe users each, one mapping each, no FAILED entry.
        let (client, conn) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let n = |sql: String| {
            let client = &client;
            async move { client.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) }
        };
        assert_eq!(n(format!("SELECT count(*) FROM {schema}.app_id_to_user_id")).await, 2 * USERS as i64);
        assert_eq!(n(format!("SELECT count(DISTINCT external_user_id) FROM {schema}.userid_mapping")).await, USERS as i64);
        assert_eq!(n(format!("SELECT count(*) FROM {schema}.userid_mapping")).await, USERS as i64);
        let imported: Vec<String> =
            client.query(&format!("SELECT external_user_id FROM {schema}.userid_mapping"), &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
        let mut imported_sorted = imported.clone();
        imported_sorted.sort();
        expected.sort();
        assert_eq!(imported_sorted, expected, "the queued users, each once");
        // Both instances took part (each was woken by its own POSTs).
        let took_part = |m: &str| m.lines().any(|l| l.starts_with("portcullis_bulk_import_users_total{outcome=\"imported\"}") && !l.ends_with(" 0"));
        let (_, m1) = one.call("GET", "/metrics", None).await;
        let (_, m2) = two.call("GET", "/metrics", None).await;
        assert!(took_part(&m1) && took_part(&m2), "both workers imported users");
        assert!(m1.contains("portcullis_bulk_import_users_total{outcome=\"failed\"} 0") && m2.contains("portcullis_bulk_import_users_total{outcome=\"failed\"} 0"));
        // Pagination over the imported users sees each once.
        drop((one, two));
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
    }
}
