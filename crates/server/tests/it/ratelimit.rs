//! Brute-force limits (issue 18, finding 8): failed sign-ins per (tenant, email) and per user,
//! passwordless codes per email/phone, reset and verification tokens per user. Each limit is
//! reached, the window passes, a success resets sign-in failures, limits come from the base config
//! and from a tenant's coreConfig (bad values are 400s), refusals are counted in the metrics, the
//! cron removes ended windows, and two servers on one PostgreSQL schema share a counter.

use serde_json::json;

use crate::common::*;

/// A server whose every limit is `max` per a 60-second window (cheap bcrypt).
fn limited(b: Backend, max: &str, extra: &[(&str, &str)]) -> portcullis_core::config::Config {
    let mut env = vec![
        ("BCRYPT_LOG_ROUNDS", "4"),
        ("PORTCULLIS_EMAILPASSWORD_MAX_FAILED_SIGN_INS", max),
        ("PORTCULLIS_EMAILPASSWORD_FAILED_SIGN_IN_WINDOW_SEC", "60"),
        ("PORTCULLIS_PASSWORDLESS_MAX_CODES_CREATED", max),
        ("PORTCULLIS_PASSWORDLESS_CODES_CREATED_WINDOW_SEC", "60"),
        ("PORTCULLIS_PASSWORD_RESET_MAX_TOKENS_CREATED", max),
        ("PORTCULLIS_PASSWORD_RESET_TOKENS_CREATED_WINDOW_SEC", "60"),
        ("PORTCULLIS_EMAIL_VERIFICATION_MAX_TOKENS_CREATED", max),
        ("PORTCULLIS_EMAIL_VERIFICATION_TOKENS_CREATED_WINDOW_SEC", "60"),
    ];
    env.extend_from_slice(extra);
    config(b, &env)
}

async fn sign_in(app: &TestApp, tenant: &str, email: &str, password: &str) -> String {
    let r = app.json("POST", &format!("/{tenant}/recipe/signin"), Some(json!({"email": email, "password": password}))).await;
    r["status"].as_str().unwrap().to_owned()
}

async fn sign_up(app: &TestApp, email: &str) -> String {
    let r = app.json("POST", "/recipe/signup", Some(json!({"email": email, "password": "right-password1"}))).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["user"]["id"].as_str().unwrap().to_owned()
}

async fn metrics(app: &TestApp) -> String {
    app.client.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap()
}

fn refused(metrics: &str, kind: &str) -> u64 {
    let prefix = format!("portcullis_rate_limited_total{{kind=\"{kind}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no {prefix}in {metrics}"))
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_email_and_per_user_and_a_success_resets_them() {
    for b in backends() {
        let app = TestApp::spawn_with(limited(b, "3", &[])).await;
        sign_up(&app, "a@example.com").await;

        // Three failures are answered as ever; the fourth attempt is refused even with the right password.
        for _ in 0..3 {
            assert_eq!(sign_in(&app, "public", "a@example.com", "wrong").await, "WRONG_CREDENTIALS_ERROR");
        }
        assert_eq!(sign_in(&app, "public", "a@example.com", "right-password1").await, "WRONG_CREDENTIALS_ERROR", "{b:?}");
        assert_eq!(refused(&metrics(&app).await, "sign_in_by_email"), 1);
        // The window (60 s from the first failure) passes.
        app.clock.advance(60_000);
        assert_eq!(sign_in(&app, "public", "a@example.com", "right-password1").await, "OK");

        // A success resets the failures: two, a success, then three more are still answered.
        for _ in 0..2 {
            assert_eq!(sign_in(&app, "public", "a@example.com", "wrong").await, "WRONG_CREDENTIALS_ERROR");
        }
        assert_eq!(sign_in(&app, "public", "a@example.com", "right-password1").await, "OK");
        for _ in 0..3 {
            sign_in(&app, "public", "a@example.com", "wrong").await;
        }
        assert_eq!(sign_in(&app, "public", "a@example.com", "right-password1").await, "WRONG_CREDENTIALS_ERROR");
        assert_eq!(refused(&metrics(&app).await, "sign_in_by_email"), 2);

        // An email without an account is limited exactly alike (a refusal tells nothing about it).
        for _ in 0..3 {
            assert_eq!(sign_in(&app, "public", "nobody@example.com", "wrong").await, "WRONG_CREDENTIALS_ERROR");
        }
        assert_eq!(sign_in(&app, "public", "nobody@example.com", "wrong").await, "WRONG_CREDENTIALS_ERROR");
        assert_eq!(refused(&metrics(&app).await, "sign_in_by_email"), 3);
        // Other emails are not affected.
        sign_up(&app, "b@example.com").await;
        assert_eq!(sign_in(&app, "public", "b@example.com", "right-password1").await, "OK");

        // Per user, across tenants: b's failures in public count in t1 too, where its email's own
        // counter is fresh.
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "firstFactors": ["emailpassword"]}))).await;
        let b_id = app.json("POST", "/recipe/signin", Some(json!({"email": "b@example.com", "password": "right-password1"}))).await["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": b_id}))).await;
        assert_eq!(r["status"], "OK", "{r}");
        for _ in 0..3 {
            sign_in(&app, "public", "b@example.com", "wrong").await;
        }
        assert_eq!(sign_in(&app, "t1", "b@example.com", "right-password1").await, "WRONG_CREDENTIALS_ERROR");
        assert_eq!(refused(&metrics(&app).await, "sign_in_by_user"), 1);
        app.clock.advance(60_000);
        assert_eq!(sign_in(&app, "t1", "b@example.com", "right-password1").await, "OK");
    }
}

#[tokio::test]
async fn limits_are_off_by_default_and_set_per_tenant_with_checked_values() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("BCRYPT_LOG_ROUNDS", "4")])).await;
        sign_up(&app, "a@example.com").await;
        for _ in 0..8 {
            sign_in(&app, "public", "a@example.com", "wrong").await;
        }
        assert_eq!(sign_in(&app, "public", "a@example.com", "right-password1").await, "OK", "no limit by default");

        // A tenant's coreConfig sets its own limit; public stays unlimited.
        let strict = json!({"emailpassword_max_failed_sign_ins": 1, "emailpassword_failed_sign_in_window_sec": 5});
        let r = app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "strict", "firstFactors": ["emailpassword"], "coreConfig": strict}))).await;
        assert_eq!(r["status"], "OK", "{r}");
        let id = app.json("POST", "/recipe/signin", Some(json!({"email": "a@example.com", "password": "right-password1"}))).await["user"]["id"].clone();
        app.json("POST", "/strict/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": id}))).await;
        assert_eq!(sign_in(&app, "strict", "a@example.com", "wrong").await, "WRONG_CREDENTIALS_ERROR");
        assert_eq!(sign_in(&app, "strict", "a@example.com", "right-password1").await, "WRONG_CREDENTIALS_ERROR");
        app.clock.advance(5_000);
        assert_eq!(sign_in(&app, "strict", "a@example.com", "right-password1").await, "OK");
        for _ in 0..3 {
            sign_in(&app, "public", "nobody@example.com", "wrong").await;
        }
        assert_eq!(sign_in(&app, "public", "a@example.com", "right-password1").await, "OK");

        // Bad values are the core's 400, and nothing is stored.
        for (key, bad) in [
            ("emailpassword_max_failed_sign_ins", json!(-1)),
            ("passwordless_max_codes_created", json!(1.5)),
            ("password_reset_max_tokens_created", json!("many")),
            ("email_verification_tokens_created_window_sec", json!(0)),
            ("passwordless_codes_created_window_sec", json!(1e12)),
        ] {
            let body = json!({"tenantId": "bad", "coreConfig": { key: bad }});
            let (status, text) = app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(body)).await;
            assert_eq!(status, 400, "{key}={bad}: {text}");
            assert!(text.contains(key), "{key}: {text}");
        }
        let list = app.json("GET", "/recipe/multitenancy/tenant/list/v2", None).await;
        let ids: Vec<&str> = list["tenants"].as_array().unwrap().iter().map(|t| t["tenantId"].as_str().unwrap()).collect();
        assert!(!ids.contains(&"bad") && ids.contains(&"strict"), "{ids:?}");
    }
}

#[tokio::test]
async fn passwordless_codes_reset_and_verification_tokens_are_limited() {
    for b in backends() {
        let app = TestApp::spawn_with(limited(b, "2", &[])).await;

        // Passwordless: two codes per email; the third new attempt is 429, a resend RESTART_FLOW_ERROR.
        let first = app.json("POST", "/recipe/signinup/code", Some(json!({"email": "p@example.com"}))).await;
        assert_eq!(first["status"], "OK");
        let device = first["deviceId"].clone();
        assert_eq!(app.json("POST", "/recipe/signinup/code", Some(json!({"deviceId": device}))).await["status"], "OK");
        let (status, text) = app.call("POST", "/recipe/signinup/code", Some(json!({"email": "p@example.com"}))).await;
        assert_eq!((status, text.as_str()), (429, "Too many requests, please try again later\n"));
        assert_eq!(app.json("POST", "/recipe/signinup/code", Some(json!({"deviceId": device}))).await, json!({"status": "RESTART_FLOW_ERROR"}));
        // Phone numbers are counted alike, apart from emails.
        for _ in 0..2 {
            assert_eq!(app.json("POST", "/recipe/signinup/code", Some(json!({"phoneNumber": "+14155550100"}))).await["status"], "OK");
        }
        assert_eq!(app.call("POST", "/recipe/signinup/code", Some(json!({"phoneNumber": "+14155550100"}))).await.0, 429);

        // Reset tokens: two per user, then UNKNOWN_USER_ID_ERROR (the SDKs send no email on it).
        let user = sign_up(&app, "r@example.com").await;
        let ask = json!({"userId": user, "email": "r@example.com"});
        for _ in 0..2 {
            assert_eq!(app.json("POST", "/recipe/user/password/reset/token", Some(ask.clone())).await["status"], "OK");
        }
        assert_eq!(app.json("POST", "/recipe/user/password/reset/token", Some(ask.clone())).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));

        // Verification tokens: two per user, then 429; a verified email still says so.
        for _ in 0..2 {
            assert_eq!(app.json("POST", "/recipe/user/email/verify/token", Some(ask.clone())).await["status"], "OK");
        }
        assert_eq!(app.call("POST", "/recipe/user/email/verify/token", Some(ask.clone())).await.0, 429);

        let m = metrics(&app).await;
        assert_eq!(
            (refused(&m, "passwordless_codes"), refused(&m, "password_reset_tokens"), refused(&m, "email_verification_tokens")),
            (3, 1, 1)
        );
        assert!(m.contains("portcullis_requests_total{route=\"PasswordlessCode\",status=\"429\"} 2"), "{m}");
        assert!(!m.contains("p@example.com") && !m.contains(&user), "no emails or ids in metrics");

        // The windows pass: everything is served again, and the cron removes the ended windows.
        app.clock.advance(60_000);
        assert_eq!(app.json("POST", "/recipe/signinup/code", Some(json!({"email": "p@example.com"}))).await["status"], "OK");
        assert_eq!(app.json("POST", "/recipe/user/password/reset/token", Some(ask.clone())).await["status"], "OK");
        let verify = app.json("POST", "/recipe/user/email/verify/token", Some(ask.clone())).await;
        assert_eq!(verify["status"], "OK");
        app.json("POST", "/recipe/user/email/verify", Some(json!({"method": "token", "token": verify["token"]}))).await;
        assert_eq!(app.json("POST", "/recipe/user/email/verify/token", Some(ask.clone())).await["status"], "EMAIL_ALREADY_VERIFIED_ERROR");
        app.clock.advance(60_000);
        let job = portcullis::cron::Job::DeleteExpiredRateLimits;
        let removed = portcullis::cron::run(&app.state, job, app.clock.now()).await.unwrap();
        // The email's, the phone's, the reset and the verification counters.
        assert_eq!(removed, Some(4), "{b:?}");
    }
}

/// Two servers on one PostgreSQL schema count into the same rows.
#[tokio::test]
async fn two_servers_on_one_postgresql_schema_share_the_counters() {
    let Ok(uri) = std::env::var("PORTCULLIS_TEST_PG_URI") else {
        eprintln!("PORTCULLIS_TEST_PG_URI is not set: skipped");
        return;
    };
    let schema = format!("rl_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let one = TestApp::spawn_with(limited(Backend::Postgres, "4", &[("POSTGRESQL_TABLE_SCHEMA", &schema)])).await;
    let two = TestApp::spawn_with(limited(Backend::Postgres, "4", &[("POSTGRESQL_TABLE_SCHEMA", &schema)])).await;
    sign_up(&one, "shared@example.com").await;
    // Four failures, alternately and then concurrently on both servers...
    assert_eq!(sign_in(&one, "public", "shared@example.com", "wrong").await, "WRONG_CREDENTIALS_ERROR");
    assert_eq!(sign_in(&two, "public", "shared@example.com", "wrong").await, "WRONG_CREDENTIALS_ERROR");
    let (a, b) = tokio::join!(
        sign_in(&one, "public", "shared@example.com", "wrong"),
        sign_in(&two, "public", "shared@example.com", "wrong")
    );
    assert_eq!((a.as_str(), b.as_str()), ("WRONG_CREDENTIALS_ERROR", "WRONG_CREDENTIALS_ERROR"));
    // ...and both refuse the fifth attempt, whichever gets it.
    assert_eq!(sign_in(&one, "public", "shared@example.com", "right-password1").await, "WRONG_CREDENTIALS_ERROR");
    assert_eq!(sign_in(&two, "public", "shared@example.com", "right-password1").await, "WRONG_CREDENTIALS_ERROR");
    let (m1, m2) = (metrics(&one).await, metrics(&two).await);
    assert_eq!((refused(&m1, "sign_in_by_email"), refused(&m2, "sign_in_by_email")), (1, 1));

    // Concurrent code requests on both servers: exactly the limit is served.
    let ask = || json!({"email": "burst@example.com"});
    let calls = (0..5).map(|i| {
        let app = if i % 2 == 0 { &one } else { &two };
        app.call("POST", "/recipe/signinup/code", Some(ask()))
    });
    let answers: Vec<(u16, String)> = futures::future::join_all(calls).await;
    let served = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!((served, answers.len() - served), (4, 1), "{answers:?}");

    drop((one, two));
    let (client, conn) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
}
