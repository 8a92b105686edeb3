//! Regressions for what API fuzzing (scripts/api-fuzz.sh, schemathesis) found, on every backend.

mod common;

use common::{backends, TestApp};
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
