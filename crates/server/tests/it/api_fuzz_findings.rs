//! Regressions for what API fuzzing (scripts/api-fuzz.sh, schemathesis) found, on every backend.

use crate::common::{backends, TestApp};
use serde_json::json;

/// Removing another connection-URI domain on the same database left the default domain's public
/// app without its `apps`/`tenants` rows (they are keyed by app id only): every later sign-up
/// failed a foreign key (500) and the app's users were gone.
#[tokio::test]
async fn removing_a_domain_keeps_rows_another_domain_still_uses() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let user = json!({"email": "kept@example.com", "password": "pw-123456"});
        assert_eq!(
            app.json("POST", "/recipe/signup", Some(user.clone())).await["status"],
            "OK"
        );
        let cud = json!({"connectionUriDomain": "core-1234.example.com:3567"});
        assert_eq!(
            app.json(
                "PUT",
                "/recipe/multitenancy/connectionuridomain/v2",
                Some(cud.clone())
            )
            .await["createdNew"],
            true
        );
        let removed = app
            .json(
                "POST",
                "/recipe/multitenancy/connectionuridomain/remove",
                Some(cud),
            )
            .await;
        assert_eq!(removed, json!({"status": "OK", "didExist": true}));

        assert_eq!(
            app.json("POST", "/recipe/signin", Some(user)).await["status"],
            "OK",
            "the user survived"
        );
        let other = json!({"email": "new@example.com", "password": "pw-123456"});
        assert_eq!(
            app.json("POST", "/recipe/signup", Some(other)).await["status"],
            "OK"
        );
    }
}

/// A NUL character in a request string reached PostgreSQL, which refuses it in text and jsonb:
/// a 500 there (and a success on SQLite). It is invalid input on every backend.
#[tokio::test]
async fn a_nul_character_in_the_body_is_the_cores_400() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let body = json!({"sessionHandles": ["h\u{0}"]});
        assert_eq!(app.call("POST", "/recipe/session/remove", Some(body)).await, (400, "Invalid Json Input\n".into()));
        let body = json!({"userId": "u", "email": "a\u{0}@example.com"});
        assert_eq!(app.call("POST", "/recipe/user/email/verify/token/remove", Some(body)).await.0, 400);
    }
}

/// A device created with the largest skew made each verification compute four billion codes
/// while holding the user's lock: concurrent TOTP calls for the user waited into the database's
/// statement timeout (503) and the verification itself past the fuzzer's 30 s. Windows are now
/// checked up to `MAX_CHECKED_SKEW` either side.
#[tokio::test]
async fn a_device_with_the_largest_skew_verifies_promptly() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let device = json!({"userId": "u", "deviceName": "d", "skew": i32::MAX, "period": 30});
        let created = app.json("POST", "/recipe/totp/device", Some(device)).await;
        assert_eq!(created["status"], "OK", "{created}");
        let started = std::time::Instant::now();
        let (verify_device, remove) = tokio::join!(
            app.json("POST", "/recipe/totp/device/verify", Some(json!({"userId": "u", "deviceName": "d", "totp": "000000"}))),
            app.json("POST", "/recipe/totp/device/remove", Some(json!({"userId": "u", "deviceName": "d"}))),
        );
        assert!(["OK", "INVALID_TOTP_ERROR", "UNKNOWN_DEVICE_ERROR"].contains(&verify_device["status"].as_str().unwrap()), "{verify_device}");
        assert_eq!(remove, json!({"status": "OK", "didDeviceExist": true}));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
