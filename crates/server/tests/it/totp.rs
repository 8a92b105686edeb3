//! TOTP through the real HTTP server, on every backend: devices (create, import, rename, list,
//! remove, bulk status), device and code verification, replay refusal, the rate limit and its
//! cooldown, used codes per tenant, concurrent verifications, the cron, user deletion and the
//! core's 400s. Codes are computed here from the returned secrets with the server's clock.

use crate::common::{backends, config, Backend, TestApp};
use portcullis_core::totp::{base32_decode, base32_encode, totp_at};
use serde_json::{json, Value};

fn cfg(b: Backend) -> portcullis_core::config::Config {
    config(b, &[("TOTP_MAX_ATTEMPTS", "3"), ("TOTP_RATE_LIMIT_COOLDOWN_SEC", "60")])
}

/// The 6-digit code of a secret (30 s period) at `at_ms`.
fn code_at(secret: &str, at_ms: i64) -> String {
    totp_at(&base32_decode(secret), 30, at_ms, 6)
}

fn code_now(app: &TestApp, secret: &str) -> String {
    code_at(secret, app.clock.now())
}

/// A code that is not the secret's in any window near now.
fn wrong_code(app: &TestApp, secret: &str) -> String {
    let now = app.clock.now();
    let near: Vec<String> = (-2..=2).map(|i| code_at(secret, now + i * 30_000)).collect();
    (0..).map(|n: u32| format!("{:06}", 123_456 + n)).find(|c| !near.contains(c)).unwrap()
}

async fn create(app: &TestApp, body: Value) -> Value {
    app.json("POST", "/recipe/totp/device", Some(body)).await
}

async fn list(app: &TestApp, user: &str) -> Value {
    let r = app.json("GET", &format!("/recipe/totp/device/list?userId={user}"), None).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["devices"].clone()
}

async fn verify_device(app: &TestApp, tenant: &str, user: &str, device: &str, totp: &str) -> Value {
    let body = json!({"userId": user, "deviceName": device, "totp": totp});
    app.json("POST", &format!("/{tenant}/recipe/totp/device/verify"), Some(body)).await
}

async fn verify(app: &TestApp, tenant: &str, user: &str, totp: &str) -> Value {
    app.json("POST", &format!("/{tenant}/recipe/totp/verify"), Some(json!({"userId": user, "totp": totp}))).await
}

/// A user with one verified device; returns its secret.
async fn verified_user(app: &TestApp, user: &str) -> String {
    let d = create(app, json!({"userId": user, "deviceName": "main", "skew": 1, "period": 30})).await;
    let secret = d["secret"].as_str().unwrap().to_owned();
    let r = verify_device(app, "public", user, "main", &code_now(app, &secret)).await;
    assert_eq!(r, json!({"status": "OK", "wasAlreadyVerified": false}));
    secret
}

#[tokio::test]
async fn devices_are_created_renamed_listed_and_removed() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let first = create(&app, json!({"userId": "u1", "skew": 1, "period": 30})).await;
        assert_eq!(first["status"], "OK");
        assert_eq!(first["deviceName"], "TOTP Device 0");
        let secret = first["secret"].as_str().unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(base32_encode(&base32_decode(secret)), secret, "upper-case Base32 of 20 bytes");
        // An unverified device of the same name is replaced (with a new secret).
        let again = create(&app, json!({"userId": "u1", "skew": 1, "period": 30})).await;
        assert_eq!(again["deviceName"], "TOTP Device 0");
        assert_ne!(again["secret"], first["secret"]);
        assert_eq!(list(&app, "u1").await.as_array().unwrap().len(), 1);
        let r = verify_device(&app, "public", "u1", "TOTP Device 0", &code_now(&app, again["secret"].as_str().unwrap())).await;
        assert_eq!(r["status"], "OK", "{r}");
        // Named after the number of verified devices, and a verified name is taken.
        assert_eq!(create(&app, json!({"userId": "u1", "skew": 1, "period": 30})).await["deviceName"], "TOTP Device 1");
        assert_eq!(
            create(&app, json!({"userId": "u1", "deviceName": "TOTP Device 0", "skew": 0, "period": 60})).await,
            json!({"status": "DEVICE_ALREADY_EXISTS_ERROR"})
        );
        let phone = create(&app, json!({"userId": "u1", "deviceName": "phone", "skew": 2, "period": "60"})).await;
        assert_eq!(phone["deviceName"], "phone");
        assert_eq!(
            list(&app, "u1").await,
            json!([
                {"name": "TOTP Device 0", "period": 30, "skew": 1, "verified": true},
                {"name": "TOTP Device 1", "period": 30, "skew": 1, "verified": false},
                {"name": "phone", "period": 60, "skew": 2, "verified": false},
            ])
        );
        assert_eq!(list(&app, "nobody").await, json!([]));

        let rename = |old: &str, new: &str| {
            let body = json!({"userId": "u1", "existingDeviceName": old, "newDeviceName": new});
            let app = &app;
            async move { app.json("PUT", "/recipe/totp/device", Some(body)).await }
        };
        assert_eq!(rename("nope", "x").await, json!({"status": "UNKNOWN_DEVICE_ERROR"}));
        assert_eq!(rename("phone", "TOTP Device 0").await, json!({"status": "DEVICE_ALREADY_EXISTS_ERROR"}));
        assert_eq!(rename("phone", "tablet").await, json!({"status": "OK"}));
        assert_eq!(rename("tablet", "tablet").await, json!({"status": "OK"}));
        let names: Vec<Value> = list(&app, "u1").await.as_array().unwrap().iter().map(|d| d["name"].clone()).collect();
        assert_eq!(names, vec![json!("TOTP Device 0"), json!("TOTP Device 1"), json!("tablet")]);

        let remove = |name: &str| {
            let body = json!({"userId": "u1", "deviceName": name});
            let app = &app;
            async move { app.json("POST", "/recipe/totp/device/remove", Some(body)).await }
        };
        assert_eq!(remove("tablet").await, json!({"status": "OK", "didDeviceExist": true}));
        assert_eq!(remove("tablet").await, json!({"status": "OK", "didDeviceExist": false}));
        assert_eq!(remove("TOTP Device 1").await["didDeviceExist"], true);
        // A failed attempt is recorded, then the last device goes and the user's row with it.
        let secret0 = again["secret"].as_str().unwrap();
        assert_eq!(verify(&app, "public", "u1", &wrong_code(&app, secret0)).await["currentNumberOfFailedAttempts"], 1);
        assert_eq!(remove("TOTP Device 0").await["didDeviceExist"], true);
        assert_eq!(list(&app, "u1").await, json!([]));
        assert_eq!(verify(&app, "public", "u1", "123456").await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        // The user's used codes went with it: attempts count from one again.
        let d = create(&app, json!({"userId": "u1", "deviceName": "new", "skew": 1, "period": 30})).await;
        let r = verify_device(&app, "public", "u1", "new", &wrong_code(&app, d["secret"].as_str().unwrap())).await;
        assert_eq!(r["currentNumberOfFailedAttempts"], 1, "{r}");
    }
}

#[tokio::test]
async fn verifying_a_device() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        assert_eq!(verify_device(&app, "public", "u", "d", "123456").await, json!({"status": "UNKNOWN_DEVICE_ERROR"}));
        let d = create(&app, json!({"userId": "u", "deviceName": "d", "skew": 0, "period": 30})).await;
        let secret = d["secret"].as_str().unwrap();
        assert_eq!(verify_device(&app, "public", "u", "other", "123456").await, json!({"status": "UNKNOWN_DEVICE_ERROR"}));
        let wrong = verify_device(&app, "public", "u", "d", &wrong_code(&app, secret)).await;
        assert_eq!(wrong, json!({"status": "INVALID_TOTP_ERROR", "currentNumberOfFailedAttempts": 1, "maxNumberOfFailedAttempts": 3}));
        assert_eq!(list(&app, "u").await[0]["verified"], false);
        // skew 0: the next period's code is not accepted yet.
        let next = code_at(secret, app.clock.now() + 30_000);
        if next != code_now(&app, secret) {
            assert_eq!(verify_device(&app, "public", "u", "d", &next).await["status"], "INVALID_TOTP_ERROR");
        }
        // Retried until the code is read and checked in one period (skew 0 has no margin).
        let mut r = Value::Null;
        for _ in 0..3 {
            r = verify_device(&app, "public", "u", "d", &code_now(&app, secret)).await;
            if r["status"] == "OK" {
                break;
            }
        }
        assert_eq!(r, json!({"status": "OK", "wasAlreadyVerified": false}));
        assert_eq!(list(&app, "u").await[0]["verified"], true);
        // Once verified, the code is not even checked.
        assert_eq!(verify_device(&app, "public", "u", "d", "nonsense").await, json!({"status": "OK", "wasAlreadyVerified": true}));
    }
}

#[tokio::test]
async fn verifying_codes_and_refusing_replays() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        assert_eq!(verify(&app, "public", "nobody", "123456").await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        // Only unverified devices: the core checks against none (and counts the attempt).
        let pending = create(&app, json!({"userId": "p", "skew": 1, "period": 30})).await;
        let r = verify(&app, "public", "p", &code_now(&app, pending["secret"].as_str().unwrap())).await;
        assert_eq!(r, json!({"status": "INVALID_TOTP_ERROR", "currentNumberOfFailedAttempts": 1, "maxNumberOfFailedAttempts": 3}));

        let secret = verified_user(&app, "u").await;
        // The code that verified the device was used: it is a replay now.
        let used = code_now(&app, &secret);
        let replay = verify(&app, "public", "u", &used).await;
        assert_eq!(replay["status"], "INVALID_TOTP_ERROR", "{replay}");
        // The next period's code is within the skew.
        let next = code_at(&secret, app.clock.now() + 30_000);
        assert_eq!(verify(&app, "public", "u", &next).await, json!({"status": "OK"}));
        assert_eq!(verify(&app, "public", "u", &next).await["status"], "INVALID_TOTP_ERROR", "never twice");
        // Too long: invalid without being recorded (the count does not move on).
        let long = verify(&app, "public", "u", "123456789").await;
        assert_eq!(long["status"], "INVALID_TOTP_ERROR");
        let failed = long["currentNumberOfFailedAttempts"].as_i64().unwrap();
        assert_eq!(verify(&app, "public", "u", "123456789").await["currentNumberOfFailedAttempts"], failed);
        // A second verified device: either device's code works.
        let d2 = create(&app, json!({"userId": "u", "deviceName": "second", "skew": 1, "period": 30})).await;
        let s2 = d2["secret"].as_str().unwrap();
        assert_eq!(verify_device(&app, "public", "u", "second", &code_now(&app, s2)).await["status"], "OK");
        app.clock.advance(90_000);
        assert_eq!(verify(&app, "public", "u", &code_now(&app, &secret)).await, json!({"status": "OK"}));
        assert_eq!(verify(&app, "public", "u", &code_at(s2, app.clock.now() - 30_000)).await, json!({"status": "OK"}));
        // Before CDI 5.0 the attempt counts are left out.
        let resp = app
            .client
            .post(format!("{}/recipe/totp/verify", app.url))
            .header("cdi-version", "4.0")
            .header("content-type", "application/json")
            .body(json!({"userId": "u", "totp": wrong_code(&app, &secret)}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "{\"status\":\"INVALID_TOTP_ERROR\"}\n");
    }
}

#[tokio::test]
async fn the_rate_limit_locks_out_until_the_cooldown_passes() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let secret = verified_user(&app, "u").await;
        app.clock.advance(60_000);
        for n in 1..=3 {
            let r = verify(&app, "public", "u", &wrong_code(&app, &secret)).await;
            assert_eq!(r, json!({"status": "INVALID_TOTP_ERROR", "currentNumberOfFailedAttempts": n, "maxNumberOfFailedAttempts": 3}));
        }
        // Locked out, even with the right code (which is not recorded, so it stays usable).
        let good = code_now(&app, &secret);
        let r = verify(&app, "public", "u", &good).await;
        assert_eq!(r["status"], "LIMIT_REACHED_ERROR", "{r}");
        assert_eq!((r["currentNumberOfFailedAttempts"].clone(), r["maxNumberOfFailedAttempts"].clone()), (json!(3), json!(3)));
        let retry = r["retryAfterMs"].as_i64().unwrap();
        assert!(retry > 50_000 && retry <= 60_000, "{retry}");
        assert_eq!(verify_device(&app, "public", "u", "main", &good).await["status"], "OK", "a verified device is not checked");
        app.clock.advance(30_000);
        assert_eq!(verify(&app, "public", "u", &code_now(&app, &secret)).await["status"], "LIMIT_REACHED_ERROR");
        app.clock.advance(30_001);
        assert_eq!(verify(&app, "public", "u", &code_now(&app, &secret)).await, json!({"status": "OK"}));
        // Attempts count from one again after the cooldown.
        let r = verify(&app, "public", "u", &wrong_code(&app, &secret)).await;
        assert_eq!(r["currentNumberOfFailedAttempts"], 1);

        // Limits come from the tenant's config.
        let core_config = json!({"totp_max_attempts": 1, "totp_rate_limit_cooldown_sec": 5});
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "strict", "coreConfig": core_config}))).await;
        let r = verify(&app, "strict", "u", &wrong_code(&app, &secret)).await;
        assert_eq!(r, json!({"status": "INVALID_TOTP_ERROR", "currentNumberOfFailedAttempts": 1, "maxNumberOfFailedAttempts": 1}));
        let r = verify(&app, "strict", "u", &code_now(&app, &secret)).await;
        assert_eq!(r["status"], "LIMIT_REACHED_ERROR");
        assert!(r["retryAfterMs"].as_i64().unwrap() <= 5_000);
        app.clock.advance(5_000);
        assert_eq!(verify(&app, "strict", "u", &code_now(&app, &secret)).await, json!({"status": "OK"}));
    }
}

#[tokio::test]
async fn used_codes_are_per_tenant() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let secret = verified_user(&app, "u").await;
        let next = code_at(&secret, app.clock.now() + 30_000);
        assert_eq!(verify(&app, "public", "u", &next).await, json!({"status": "OK"}));
        assert_eq!(verify(&app, "t1", "u", &next).await, json!({"status": "OK"}), "devices are app-wide, used codes per tenant");
        assert_eq!(verify(&app, "t1", "u", &next).await["status"], "INVALID_TOTP_ERROR");
        for _ in 0..2 {
            verify(&app, "t1", "u", &wrong_code(&app, &secret)).await;
        }
        assert_eq!(verify(&app, "t1", "u", "000000").await["status"], "LIMIT_REACHED_ERROR");
        let r = verify(&app, "public", "u", &wrong_code(&app, &secret)).await;
        assert_eq!(r["currentNumberOfFailedAttempts"], 1, "the lock-out of t1 is not public's");
        // Unknown tenants are the core's 400.
        let (s, t) = app.call("POST", "/nope/recipe/totp/verify", Some(json!({"userId": "u", "totp": "123456"}))).await;
        assert_eq!(s, 400);
        assert!(t.starts_with("AppId or tenantId not found"), "{t}");
    }
}

#[tokio::test]
async fn concurrent_verifications_of_one_code_give_one_success() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("TOTP_MAX_ATTEMPTS", "100")])).await;
        let secret = verified_user(&app, "u").await;
        let next = code_at(&secret, app.clock.now() + 30_000);
        let results = futures::future::join_all((0..12).map(|_| verify(&app, "public", "u", &next))).await;
        let ok = results.iter().filter(|r| r["status"] == "OK").count();
        let invalid = results.iter().filter(|r| r["status"] == "INVALID_TOTP_ERROR").count();
        assert_eq!((ok, invalid), (1, 11), "{results:?}");
        // And for a device being verified: one verification, the rest see it verified or replayed.
        let d = create(&app, json!({"userId": "v", "deviceName": "d", "skew": 1, "period": 30})).await;
        let code = code_now(&app, d["secret"].as_str().unwrap());
        let results = futures::future::join_all((0..8).map(|_| verify_device(&app, "public", "v", "d", &code))).await;
        let fresh = results.iter().filter(|r| r["wasAlreadyVerified"] == false).count();
        assert_eq!(fresh, 1, "{results:?}");
    }
}

#[tokio::test]
async fn cron_removes_used_codes_a_cooldown_after_they_expire() {
    use portcullis::cron::{run, Job};
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let secret = verified_user(&app, "u").await;
        verify(&app, "t1", "u", &wrong_code(&app, &secret)).await;
        verify(&app, "t1", "u", &wrong_code(&app, &secret)).await;
        // Expiry = now + period * (2 * skew + 1) = 90 s; removed once the 60 s cooldown has passed too.
        app.clock.advance(149_000);
        assert_eq!(run(&app.state, Job::DeleteExpiredTotpCodes, app.clock.now()).await.unwrap(), Some(0));
        app.clock.advance(3_600_000);
        assert_eq!(run(&app.state, Job::DeleteExpiredTotpCodes, app.clock.now()).await.unwrap(), Some(3));
        assert_eq!(run(&app.state, Job::DeleteExpiredTotpCodes, app.clock.now()).await.unwrap(), None, "the lease holds for an hour");
        // Nothing left to count: attempts start at one.
        let r = verify(&app, "t1", "u", &wrong_code(&app, &secret)).await;
        assert_eq!(r["currentNumberOfFailedAttempts"], 1);
    }
}

#[tokio::test]
async fn imported_devices_are_verified() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let secret = base32_encode(b"12345678901234567890");
        let body = json!({"userId": "i", "skew": 1, "period": 30, "secretKey": secret.to_lowercase()});
        assert_eq!(app.json("POST", "/recipe/totp/device/import", Some(body.clone())).await, json!({"status": "OK", "deviceName": "TOTP Device 0"}));
        assert_eq!(list(&app, "i").await, json!([{"name": "TOTP Device 0", "period": 30, "skew": 1, "verified": true}]));
        assert_eq!(verify(&app, "public", "i", &code_now(&app, &secret)).await, json!({"status": "OK"}));
        assert_eq!(app.json("POST", "/recipe/totp/device/import", Some(json!({"userId": "i", "deviceName": "TOTP Device 0", "skew": 1, "period": 30, "secretKey": secret}))).await, json!({"status": "DEVICE_ALREADY_EXISTS_ERROR"}));
        assert_eq!(app.json("POST", "/recipe/totp/device/import", Some(body)).await["deviceName"], "TOTP Device 1");
    }
}

#[tokio::test]
async fn bulk_device_status() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        verified_user(&app, "yes").await;
        create(&app, json!({"userId": "pending", "skew": 1, "period": 30})).await;
        let r = app.json("POST", "/recipe/totp/device/status/bulk", Some(json!({"userIds": ["pending", "none", "yes", "pending"]}))).await;
        assert_eq!(
            r,
            json!({"status": "OK", "users": [
                {"userId": "pending", "hasVerifiedDevice": false},
                {"userId": "none", "hasVerifiedDevice": null},
                {"userId": "yes", "hasVerifiedDevice": true},
                {"userId": "pending", "hasVerifiedDevice": false},
            ]})
        );
        assert_eq!(app.json("POST", "/recipe/totp/device/status/bulk", Some(json!({"userIds": []}))).await, json!({"status": "OK", "users": []}));
    }
}

#[tokio::test]
async fn deleting_a_user_removes_its_devices() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let up = app.json("POST", "/public/recipe/signup", Some(json!({"email": "t@x.com", "password": "pw-12345"}))).await;
        let id = up["user"]["id"].as_str().unwrap().to_owned();
        verified_user(&app, &id).await;
        app.json("POST", "/user/remove", Some(json!({"userId": id}))).await;
        assert_eq!(list(&app, &id).await, json!([]));
        assert_eq!(verify(&app, "public", &id, "123456").await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    }
}

#[tokio::test]
async fn bad_input_gets_the_core_400s() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let cases: Vec<(&str, &str, Value, &str)> = vec![
            ("POST", "/recipe/totp/device", json!({"skew": 1, "period": 30}), "Field name 'userId' is invalid in JSON input"),
            ("POST", "/recipe/totp/device", json!({"userId": "", "skew": 1, "period": 30}), "userId cannot be empty"),
            ("POST", "/recipe/totp/device", json!({"userId": "u", "deviceName": null, "skew": 1, "period": 30}), "Field name 'deviceName' is invalid in JSON input"),
            ("POST", "/recipe/totp/device", json!({"userId": "u", "deviceName": "", "skew": 1, "period": 30}), "deviceName cannot be empty"),
            ("POST", "/recipe/totp/device", json!({"userId": "u", "period": 30}), "Field name 'skew' is invalid in JSON input"),
            ("POST", "/recipe/totp/device", json!({"userId": "u", "skew": "one", "period": 30}), "Field name 'skew' is invalid in JSON input"),
            ("POST", "/recipe/totp/device", json!({"userId": "u", "skew": -1, "period": 30}), "skew must be >= 0"),
            ("POST", "/recipe/totp/device", json!({"userId": "u", "skew": 1, "period": 0}), "period must be > 0"),
            ("POST", "/recipe/totp/device", json!({"userId": "u", "skew": 1, "period": 1e12}), "Field name 'period' is invalid in JSON input"),
            ("PUT", "/recipe/totp/device", json!({"userId": "u", "existingDeviceName": "a"}), "Field name 'newDeviceName' is invalid in JSON input"),
            ("PUT", "/recipe/totp/device", json!({"userId": "u", "existingDeviceName": "", "newDeviceName": "b"}), "existingDeviceName cannot be empty"),
            ("PUT", "/recipe/totp/device", json!({"userId": "u", "existingDeviceName": "a", "newDeviceName": ""}), "newDeviceName cannot be empty"),
            ("POST", "/recipe/totp/device/remove", json!({"userId": "u"}), "Field name 'deviceName' is invalid in JSON input"),
            ("POST", "/recipe/totp/device/remove", json!({"userId": "u", "deviceName": ""}), "deviceName cannot be empty"),
            ("POST", "/recipe/totp/device/verify", json!({"userId": "u", "deviceName": "d"}), "Field name 'totp' is invalid in JSON input"),
            ("POST", "/recipe/totp/device/verify", json!({"userId": "u", "deviceName": "", "totp": "1"}), "deviceName cannot be empty"),
            ("POST", "/recipe/totp/verify", json!({"userId": "", "totp": "1"}), "userId cannot be empty"),
            ("POST", "/recipe/totp/verify", json!({"userId": "u", "totp": 123456}), "Field name 'totp' is invalid in JSON input"),
            ("POST", "/recipe/totp/device/import", json!({"userId": "u", "skew": 1, "period": 30}), "Field name 'secretKey' is invalid in JSON input"),
            ("POST", "/recipe/totp/device/import", json!({"userId": "u", "skew": 1, "period": 30, "secretKey": ""}), "secretKey cannot be empty"),
            ("POST", "/recipe/totp/device/status/bulk", json!({}), "Field name 'userIds' is invalid in JSON input"),
            ("POST", "/recipe/totp/device/status/bulk", json!({"userIds": [1]}), "userIds array must contain only strings"),
            ("POST", "/recipe/totp/device/status/bulk", json!({"userIds": vec!["u"; 501]}), "You can only query up to 500 users at a time."),
        ];
        for (method, path, body, message) in cases {
            let (s, t) = app.call(method, path, Some(body.clone())).await;
            assert_eq!((s, t.as_str()), (400, format!("{message}\n").as_str()), "{method} {path} {body}");
        }
        // Values headed for a column must fit it; a device name only looked up just matches nothing.
        // A top-level `userId` longer than every user-id column is a 400 for every API (issue 18:
        // `http::input::Body::parse`), lookups included.
        let long = "d".repeat(257);
        let (s, t) = app.call("POST", "/recipe/totp/device", Some(json!({"userId": "u", "deviceName": long, "skew": 1, "period": 30}))).await;
        assert_eq!((s, t.as_str()), (400, "Field name 'deviceName' must be at most 256 characters long\n"));
        let r = app.json("POST", "/recipe/totp/device/remove", Some(json!({"userId": "u", "deviceName": long}))).await;
        assert_eq!(r, json!({"status": "OK", "didDeviceExist": false}));
        let (s, t) = app.call("POST", "/recipe/totp/device/remove", Some(json!({"userId": "u".repeat(200), "deviceName": "d"}))).await;
        assert_eq!((s, t.as_str()), (400, "Field name 'userId' must be at most 128 characters long\n"));
        let (s, t) = app.call("POST", "/recipe/totp/verify", Some(json!({"userId": "u", "totp": "12\u{0}4"}))).await;
        // A NUL anywhere in a body is refused before any handler (http::input::Body::parse).
        assert_eq!((s, t.as_str()), (400, "Invalid Json Input\n"));
        let (s, t) = app.call("GET", "/recipe/totp/device/list", None).await;
        assert_eq!((s, t.as_str()), (400, "Field name 'userId' is missing in GET request\n"));
        let (s, t) = app.call("GET", "/recipe/totp/device/list?userId=", None).await;
        assert_eq!((s, t.as_str()), (400, "userId cannot be empty\n"));
        let (s, _) = app.call("POST", "/recipe/totp/verify", None).await;
        assert_eq!(s, 400);
        // App-wide APIs belong to the public tenant; verification is per tenant.
        let (s, t) = app.call("POST", "/t1/recipe/totp/device", Some(json!({"userId": "u", "skew": 1, "period": 30}))).await;
        assert_eq!((s, t.as_str()), (403, "Only public tenantId can call this app specific API\n"));
        let (s, _) = app.call("GET", "/t1/recipe/totp/device/list?userId=u", None).await;
        assert_eq!(s, 403);
        assert_eq!(verify(&app, "t1", "u", "123456").await["status"], "UNKNOWN_USER_ID_ERROR");
        let (s, _) = app.call("DELETE", "/recipe/totp/device", None).await;
        assert_eq!(s, 405);
        // Numeric strings and fractions are ints, as Gson reads them.
        let r = create(&app, json!({"userId": "u", "skew": "2", "period": 30.9})).await;
        assert_eq!(list(&app, "u").await[0], json!({"name": r["deviceName"], "period": 30, "skew": 2, "verified": false}));
    }
}
