//! Email verification through the real HTTP server, on every backend.

use crate::common::{backends, config, TestApp};
use serde_json::json;

#[tokio::test]
async fn token_verify_check_unverify_and_revoke() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("EMAIL_VERIFICATION_TOKEN_LIFETIME", "60000"), ("BCRYPT_LOG_ROUNDS", "4")])).await;
        let up = app.json("POST", "/public/recipe/signup", Some(json!({"email": "v@example.com", "password": "pw"}))).await;
        let user = up["recipeUserId"].as_str().unwrap().to_owned();
        let check = |email: &'static str| format!("/recipe/user/email/verify?userId={user}&email={email}");
        assert_eq!(app.json("GET", &check("v@example.com"), None).await, json!({"status": "OK", "isVerified": false}));

        let t = app.json("POST", "/public/recipe/user/email/verify/token", Some(json!({"userId": user, "email": "V@example.com"}))).await;
        assert_eq!(t["status"], "OK");
        let token = t["token"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 128);
        let v = app.json("POST", "/public/recipe/user/email/verify", Some(json!({"method": "token", "token": token}))).await;
        assert_eq!(v, json!({"status": "OK", "userId": user, "email": "v@example.com"}));
        let again = app.json("POST", "/public/recipe/user/email/verify", Some(json!({"method": "token", "token": token}))).await;
        assert_eq!(again, json!({"status": "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR"}), "single use");
        assert_eq!(app.json("GET", &check("v@example.com"), None).await["isVerified"], true);
        let u = app.json("GET", &format!("/user/id?userId={user}"), None).await;
        assert_eq!(u["user"]["loginMethods"][0]["verified"], true);
        let t = app.json("POST", "/public/recipe/user/email/verify/token", Some(json!({"userId": user, "email": "v@example.com"}))).await;
        assert_eq!(t, json!({"status": "EMAIL_ALREADY_VERIFIED_ERROR"}));

        assert_eq!(app.json("POST", "/recipe/user/email/verify/remove", Some(json!({"userId": user, "email": "v@example.com"}))).await, json!({"status": "OK"}));
        assert_eq!(app.json("GET", &check("v@example.com"), None).await["isVerified"], false);

        // Revoked and expired tokens are invalid.
        let t = app.json("POST", "/public/recipe/user/email/verify/token", Some(json!({"userId": user, "email": "v@example.com"}))).await;
        let token = t["token"].as_str().unwrap().to_owned();
        app.json("POST", "/public/recipe/user/email/verify/token/remove", Some(json!({"userId": user, "email": "v@example.com"}))).await;
        let r = app.json("POST", "/public/recipe/user/email/verify", Some(json!({"method": "token", "token": token}))).await;
        assert_eq!(r["status"], "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR");
        let t = app.json("POST", "/public/recipe/user/email/verify/token", Some(json!({"userId": user, "email": "v@example.com"}))).await;
        app.clock.advance(61_000);
        let r = app.json("POST", "/public/recipe/user/email/verify", Some(json!({"method": "token", "token": t["token"]}))).await;
        assert_eq!(r["status"], "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR", "expired");

        let (s, _) = app.call("POST", "/public/recipe/user/email/verify", Some(json!({"method": "other", "token": "x"}))).await;
        assert_eq!(s, 400);
        let (s, _) = app.call("GET", "/recipe/user/email/verify?userId=x", None).await;
        assert_eq!(s, 400);
    }
}
