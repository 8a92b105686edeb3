//! Dashboard users and sessions through the real HTTP server, on every backend.

mod common;

use common::{backends, config, TestApp};
use serde_json::json;

#[tokio::test]
async fn create_sign_in_verify_and_revoke() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("BCRYPT_LOG_ROUNDS", "4")])).await;
        let u = app.json("POST", "/recipe/dashboard/user", Some(json!({"email": "Admin@Example.com", "password": "secret123"}))).await;
        assert_eq!(u["status"], "OK", "{u}");
        assert_eq!(u["user"]["email"], "admin@example.com");
        let again = app.json("POST", "/recipe/dashboard/user", Some(json!({"email": "admin@example.com", "password": "secret123"}))).await;
        assert_eq!(again, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
        let weak = app.json("POST", "/recipe/dashboard/user", Some(json!({"email": "b@example.com", "password": "short"}))).await;
        assert_eq!(weak["status"], "PASSWORD_WEAK_ERROR");
        let bad = app.json("POST", "/recipe/dashboard/user", Some(json!({"email": "not-an-email", "password": "secret123"}))).await;
        assert_eq!(bad, json!({"status": "INVALID_EMAIL_ERROR"}));

        let wrong = app.json("POST", "/recipe/dashboard/signin", Some(json!({"email": "admin@example.com", "password": "nope12345"}))).await;
        assert_eq!(wrong, json!({"status": "INVALID_CREDENTIALS_ERROR"}));
        let unknown = app.json("POST", "/recipe/dashboard/signin", Some(json!({"email": "x@example.com", "password": "secret123"}))).await;
        assert_eq!(unknown, json!({"status": "INVALID_CREDENTIALS_ERROR"}));
        let s = app.json("POST", "/recipe/dashboard/signin", Some(json!({"email": "admin@example.com", "password": "secret123"}))).await;
        assert_eq!(s["status"], "OK");
        let session = s["sessionId"].as_str().unwrap().to_owned();

        let v = app.json("POST", "/recipe/dashboard/session/verify", Some(json!({"sessionId": session}))).await;
        assert_eq!(v, json!({"status": "OK", "email": "admin@example.com"}));
        assert_eq!(app.json("DELETE", &format!("/recipe/dashboard/session?sessionId={session}"), None).await, json!({"status": "OK"}));
        let v = app.json("POST", "/recipe/dashboard/session/verify", Some(json!({"sessionId": session}))).await;
        assert_eq!(v, json!({"status": "INVALID_SESSION_ERROR"}));

        let (status, _) = app.call("POST", "/recipe/dashboard/signin", Some(json!({"email": 1}))).await;
        assert_eq!(status, 400);
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let (status, _) = app.call("POST", "/t1/recipe/dashboard/signin", Some(json!({"email": "a@b.co", "password": "x"}))).await;
        assert_eq!(status, 403, "app-wide API");
    }
}
