//! Dashboard users and sessions through the real HTTP server, on every backend.

use crate::common::{backends, config, TestApp};
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

#[tokio::test]
async fn list_update_delete_users_and_their_sessions() {
    use portcullis::cron::{run, Job};
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("BCRYPT_LOG_ROUNDS", "4")])).await;
        for email in ["a@example.com", "b@example.com"] {
            app.json("POST", "/recipe/dashboard/user", Some(json!({"email": email, "password": "secret123"}))).await;
        }
        let list = app.json("GET", "/recipe/dashboard/users", None).await;
        let emails: Vec<_> = list["users"].as_array().unwrap().iter().map(|u| u["email"].clone()).collect();
        assert_eq!(emails, vec![json!("a@example.com"), json!("b@example.com")]);
        let a_id = list["users"][0]["userId"].as_str().unwrap().to_owned();

        // Updates by id or by email, with the creation rules.
        let put = |body| app.json("PUT", "/recipe/dashboard/user", Some(body));
        let r = put(json!({"email": "a@example.com", "newEmail": "A2@example.com", "newPassword": "newsecret1"})).await;
        assert_eq!((r["status"].clone(), r["user"]["email"].clone(), r["user"]["userId"].clone()), (json!("OK"), json!("a2@example.com"), json!(a_id)));
        let s = app.json("POST", "/recipe/dashboard/signin", Some(json!({"email": "a2@example.com", "password": "newsecret1"}))).await;
        assert_eq!(s["status"], "OK");
        assert_eq!(put(json!({"userId": a_id, "newEmail": "b@example.com"})).await, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
        assert_eq!(put(json!({"userId": a_id, "newEmail": "nope"})).await, json!({"status": "INVALID_EMAIL_ERROR"}));
        assert_eq!(put(json!({"userId": a_id, "newPassword": "short"})).await["status"], "PASSWORD_WEAK_ERROR");
        assert_eq!(put(json!({"userId": "nobody", "newPassword": "newsecret2"})).await, json!({"status": "UNKNOWN_USER_ERROR"}));
        let (status, _) = app.call("PUT", "/recipe/dashboard/user", Some(json!({"newPassword": "newsecret2"}))).await;
        assert_eq!(status, 400, "a user must be named");

        // Sessions of a user; expired ones are removed by the cron; deleting the user removes the rest.
        let sessions = app.json("GET", &format!("/recipe/dashboard/user/sessions?userId={a_id}"), None).await;
        assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
        assert_eq!(sessions["sessions"][0]["userId"], a_id.as_str());
        app.clock.advance(31 * 24 * 3_600_000);
        app.json("POST", "/recipe/dashboard/signin", Some(json!({"email": "a2@example.com", "password": "newsecret1"}))).await;
        assert_eq!(run(&app.state, Job::DeleteExpiredDashboardSessions, app.clock.now()).await.unwrap(), Some(1));
        let sessions = app.json("GET", &format!("/recipe/dashboard/user/sessions?userId={a_id}"), None).await;
        assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1, "the fresh session stays");
        let session_id = sessions["sessions"][0]["sessionId"].clone();
        assert_eq!(app.json("DELETE", "/recipe/dashboard/user?email=a2@example.com", None).await, json!({"status": "OK", "didUserExist": true}));
        assert_eq!(app.json("DELETE", &format!("/recipe/dashboard/user?userId={a_id}"), None).await, json!({"status": "OK", "didUserExist": false}));
        let v = app.json("POST", "/recipe/dashboard/session/verify", Some(json!({"sessionId": session_id}))).await;
        assert_eq!(v["status"], "INVALID_SESSION_ERROR", "sessions go with their user");
        assert_eq!(app.json("GET", "/recipe/dashboard/users", None).await["users"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn active_users_count_since_a_time() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("BCRYPT_LOG_ROUNDS", "4")])).await;
        let t0 = app.clock.now();
        app.json("POST", "/recipe/signup", Some(json!({"email": "a@example.com", "password": "pw"}))).await;
        app.clock.advance(10_000);
        app.json("POST", "/recipe/signup", Some(json!({"email": "b@example.com", "password": "pw"}))).await;
        assert_eq!(app.json("GET", &format!("/users/count/active?since={t0}"), None).await, json!({"status": "OK", "count": 2}));
        assert_eq!(app.json("GET", &format!("/users/count/active?since={}", t0 + 5_000), None).await["count"], 1);
        let (status, _) = app.call("GET", "/users/count/active?since=yesterday", None).await;
        assert_eq!(status, 400);
    }
}
