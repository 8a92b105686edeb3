//! Email-password sign-up and sign-in through the real HTTP server, on every backend.

use crate::common::{backends, config, TestApp};
use portcullis_core::ids::TenantKey;
use serde_json::{json, Value};

async fn sign_up(app: &TestApp, tenant: &str, email: &str, password: &str) -> Value {
    app.json("POST", &format!("/{tenant}/recipe/signup"), Some(json!({"email": email, "password": password}))).await
}

async fn sign_in(app: &TestApp, tenant: &str, email: &str, password: &str) -> Value {
    app.json("POST", &format!("/{tenant}/recipe/signin"), Some(json!({"email": email, "password": password}))).await
}

fn cheap(b: crate::common::Backend) -> portcullis_core::config::Config {
    config(b, &[("BCRYPT_LOG_ROUNDS", "4")])
}

#[tokio::test]
async fn sign_up_then_sign_in() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let r = sign_up(&app, "public", "  Alice@Example.COM ", "pw-1").await;
        assert_eq!(r["status"], "OK", "{r}");
        let id = r["recipeUserId"].as_str().unwrap().to_owned();
        assert_eq!(id.len(), 36);
        assert_eq!(r["user"]["id"], id.as_str());
        assert_eq!(r["user"]["emails"], json!(["alice@example.com"]), "emails are trimmed and lower-cased");
        assert_eq!(r["user"]["loginMethods"][0]["recipeId"], "emailpassword");
        assert!(!r.to_string().contains("$2a$"), "the hash never leaves the server");

        assert_eq!(sign_up(&app, "public", "alice@example.com", "other").await, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
        let ok = sign_in(&app, "public", "ALICE@example.com", "pw-1").await;
        assert_eq!(ok["status"], "OK");
        assert_eq!(ok["recipeUserId"], id.as_str());
        assert_eq!(ok["user"], r["user"]);
        assert_eq!(sign_in(&app, "public", "alice@example.com", "pw-2").await, json!({"status": "WRONG_CREDENTIALS_ERROR"}));
        assert_eq!(sign_in(&app, "public", "nobody@example.com", "pw-1").await, json!({"status": "WRONG_CREDENTIALS_ERROR"}));

        // The hash is bcrypt in the core's format, at the configured cost.
        let stored = app.state.registry.base_storage().ep_login_method_by_email(TenantKey::new("public", "public"), "alice@example.com").await.unwrap().unwrap();
        assert!(stored.password_hash.unwrap().starts_with("$2a$04$"));

        for bad in [json!({"email": "a@b.c"}), json!({"password": "x"}), json!({"email": 1, "password": "x"}), json!({"email": "", "password": "x"})] {
            let (s, _) = app.call("POST", "/public/recipe/signup", Some(bad.clone())).await;
            assert_eq!(s, 400, "{bad}");
        }
        let (s, _) = app.call("POST", "/nope/recipe/signin", Some(json!({"email": "a@b.c", "password": "x"}))).await;
        assert_eq!(s, 400, "unknown tenant");
    }
}

#[tokio::test]
async fn emails_are_unique_per_tenant_and_sign_in_is_per_tenant() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "firstFactors": ["emailpassword"]}))).await;
        let a = sign_up(&app, "public", "a@example.com", "pw").await;
        let b2 = sign_up(&app, "t1", "a@example.com", "pw2").await;
        assert_eq!(b2["status"], "OK", "the same email in another tenant is another user");
        assert_ne!(a["recipeUserId"], b2["recipeUserId"]);
        assert_eq!(sign_in(&app, "t1", "a@example.com", "pw").await["status"], "WRONG_CREDENTIALS_ERROR");
        assert_eq!(sign_in(&app, "t1", "a@example.com", "pw2").await["recipeUserId"], b2["recipeUserId"]);
        assert_eq!(b2["user"]["tenantIds"], json!(["t1"]));
    }
}

#[tokio::test]
async fn concurrent_sign_ups_of_one_email_make_one_user() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let calls = (0..16).map(|i| sign_up(&app, "public", "race@example.com", if i % 2 == 0 { "a" } else { "b" }));
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r["status"] == "OK").count();
        let exists = results.iter().filter(|r| r["status"] == "EMAIL_ALREADY_EXISTS_ERROR").count();
        assert_eq!((ok, exists), (1, 15), "{results:?}");
        assert_eq!(app.json("GET", "/public/users/count", None).await["count"], 1);
    }
}

#[tokio::test]
async fn argon2_when_configured_and_hashes_from_other_implementations_sign_in() {
    for b in backends() {
        let app = TestApp::spawn_with(config(
            b,
            &[("PASSWORD_HASHING_ALG", "ARGON2"), ("ARGON2_MEMORY_KB", "1024"), ("ARGON2_ITERATIONS", "1"), ("ARGON2_PARALLELISM", "1")],
        ))
        .await;
        sign_up(&app, "public", "argon@example.com", "pw").await;
        let stored = app.state.registry.base_storage().ep_login_method_by_email(TenantKey::new("public", "public"), "argon@example.com").await.unwrap().unwrap();
        assert!(stored.password_hash.unwrap().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(sign_in(&app, "public", "argon@example.com", "pw").await["status"], "OK");

        // Users whose hashes another implementation made (as a Java core's database would hold them).
        let fixtures: Value = serde_json::from_str(include_str!("../../../core/tests/fixtures/password_hashes.json")).unwrap();
        let storage = app.state.registry.base_storage();
        for (i, case) in fixtures["cases"].as_array().unwrap().iter().enumerate() {
            if case["algorithm"] == "firebase_scrypt" || case.get("expect_match").is_some_and(|m| m == false) {
                continue;
            }
            let email = format!("imported-{i}@example.com");
            storage.ep_create_user(TenantKey::new("public", "public"), &format!("imported-user-{i:04}"), &email, case["hash"].as_str().unwrap(), 1).await.unwrap();
            let r = sign_in(&app, "public", &email, case["password"].as_str().unwrap()).await;
            assert_eq!(r["status"], "OK", "{case}");
        }
    }
}

#[tokio::test]
async fn password_reset_and_updates() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("BCRYPT_LOG_ROUNDS", "4"), ("PASSWORD_RESET_TOKEN_LIFETIME", "60000")])).await;
        let up = sign_up(&app, "public", "r@example.com", "old").await;
        let user = up["recipeUserId"].as_str().unwrap().to_owned();
        let t = app.json("POST", "/public/recipe/user/password/reset/token", Some(json!({"userId": user, "email": "r@example.com"}))).await;
        assert_eq!(t["status"], "OK");
        let token = t["token"].as_str().unwrap().to_owned();
        assert!(token.len() > 100 && !token.contains(['=', '/', '+']), "{token}");
        let c = app.json("POST", "/public/recipe/user/password/reset/token/consume", Some(json!({"token": token}))).await;
        assert_eq!(c, json!({"status": "OK", "userId": user, "email": "r@example.com"}));
        let c = app.json("POST", "/public/recipe/user/password/reset/token/consume", Some(json!({"token": token}))).await;
        assert_eq!(c, json!({"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"}), "single use");
        let t = app.json("POST", "/public/recipe/user/password/reset/token", Some(json!({"userId": user, "email": "r@example.com"}))).await;
        app.clock.advance(61_000);
        let c = app.json("POST", "/public/recipe/user/password/reset/token/consume", Some(json!({"token": t["token"]}))).await;
        assert_eq!(c["status"], "RESET_PASSWORD_INVALID_TOKEN_ERROR", "expired");
        let t = app.json("POST", "/public/recipe/user/password/reset/token", Some(json!({"userId": "nobody", "email": "r@example.com"}))).await;
        assert_eq!(t, json!({"status": "UNKNOWN_USER_ID_ERROR"}));

        // Updates: password, then email; a taken email is refused.
        let r = app.json("PUT", "/recipe/user", Some(json!({"recipeUserId": user, "password": "new"}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        assert_eq!(sign_in(&app, "public", "r@example.com", "old").await["status"], "WRONG_CREDENTIALS_ERROR");
        assert_eq!(sign_in(&app, "public", "r@example.com", "new").await["status"], "OK");
        sign_up(&app, "public", "taken@example.com", "x").await;
        let r = app.json("PUT", "/recipe/user", Some(json!({"recipeUserId": user, "email": "taken@example.com"}))).await;
        assert_eq!(r, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
        let r = app.json("PUT", "/recipe/user", Some(json!({"recipeUserId": user, "email": "R2@example.com"}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        assert_eq!(sign_in(&app, "public", "r2@example.com", "new").await["status"], "OK");
        assert_eq!(sign_in(&app, "public", "r@example.com", "new").await["status"], "WRONG_CREDENTIALS_ERROR");
        let r = app.json("PUT", "/recipe/user", Some(json!({"recipeUserId": "nobody", "password": "x"}))).await;
        assert_eq!(r, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        let (s, _) = app.call("PUT", "/recipe/user", Some(json!({"recipeUserId": user}))).await;
        assert_eq!(s, 400);
    }
}
