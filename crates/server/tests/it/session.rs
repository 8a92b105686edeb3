//! The session and JWT recipes through the real HTTP server, on every backend, with the server's
//! clock moved forward for expiry and key rotation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use crate::common::{backends, config, TestApp};
use serde_json::{json, Value};

async fn create(app: &TestApp, tenant: &str, user: &str, anti_csrf: bool) -> Value {
    let body = json!({"userId": user, "userDataInJWT": {"role": "admin"}, "userDataInDatabase": {"d": 1}, "enableAntiCsrf": anti_csrf});
    app.json("POST", &format!("/{tenant}/recipe/session"), Some(body)).await
}

async fn verify(app: &TestApp, token: &str, anti_csrf: Option<&str>, check_db: bool) -> Value {
    let body = json!({"accessToken": token, "antiCsrfToken": anti_csrf, "doAntiCsrfCheck": anti_csrf.is_some(), "enableAntiCsrf": anti_csrf.is_some(), "checkDatabase": check_db});
    app.json("POST", "/recipe/session/verify", Some(body)).await
}

async fn refresh(app: &TestApp, token: &str, anti_csrf: Option<&str>) -> Value {
    let body = json!({"refreshToken": token, "antiCsrfToken": anti_csrf, "enableAntiCsrf": anti_csrf.is_some(), "useDynamicSigningKey": true});
    app.json("POST", "/recipe/session/refresh", Some(body)).await
}

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn create_verify_refresh_and_theft() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let s = create(&app, "public", "user-1", true).await;
        assert_eq!(s["status"], "OK");
        assert_eq!(s["session"]["userId"], "user-1");
        assert_eq!(s["session"]["recipeUserId"], "user-1");
        assert_eq!(s["session"]["tenantId"], "public");
        assert_eq!(s["session"]["userDataInJWT"], json!({"role": "admin"}));
        let at = s["accessToken"]["token"].as_str().unwrap();
        let rt = s["refreshToken"]["token"].as_str().unwrap();
        let csrf = s["antiCsrfToken"].as_str().unwrap();
        assert!(rt.ends_with(".V2"));
        let h = header(at);
        assert_eq!(h["version"], "5");
        assert!(h["kid"].as_str().unwrap().starts_with("d-"));
        let c = claims(at);
        for k in ["sub", "exp", "iat", "tId", "rsub", "sessionHandle", "refreshTokenHash1", "parentRefreshTokenHash1", "antiCsrfToken"] {
            assert!(c.get(k).is_some(), "claim {k} missing in {c}");
        }
        assert_eq!(c["parentRefreshTokenHash1"], Value::Null);
        assert_eq!(c["role"], "admin");
        assert_eq!(s["accessToken"]["expiry"].as_i64().unwrap() % 1000, 0, "access-token times are whole seconds");

        let v = verify(&app, at, Some(csrf), true).await;
        assert_eq!(v["status"], "OK", "{v}");
        assert!(v.get("accessToken").is_none());
        let v = verify(&app, at, Some("wrong"), false).await;
        assert_eq!(v["status"], "TRY_REFRESH_TOKEN");

        // Refresh mints a child; the access token names its parent until the child is used.
        let r = refresh(&app, rt, Some(csrf)).await;
        assert_eq!(r["status"], "OK", "{r}");
        let at2 = r["accessToken"]["token"].as_str().unwrap();
        let rt2 = r["refreshToken"]["token"].as_str().unwrap();
        assert_ne!(claims(at2)["parentRefreshTokenHash1"], Value::Null);
        // Verifying the child's access token promotes it and returns a token without the parent.
        let v = verify(&app, at2, r["antiCsrfToken"].as_str(), false).await;
        assert_eq!(v["status"], "OK", "{v}");
        let at3 = v["accessToken"]["token"].as_str().expect("a promoted token");
        assert_eq!(claims(at3)["parentRefreshTokenHash1"], Value::Null);
        // The original refresh token is now a replay: theft.
        let t = refresh(&app, rt, Some(csrf)).await;
        assert_eq!(t["status"], "TOKEN_THEFT_DETECTED", "{t}");
        assert_eq!(t["session"]["handle"], s["session"]["handle"]);
        assert_eq!(t["session"]["userId"], "user-1");
        // The current one still works; refreshing without anti-CSRF gives none.
        let r3 = refresh(&app, rt2, r["antiCsrfToken"].as_str()).await;
        assert_eq!(r3["status"], "OK", "{r3}");
        // A wrong anti-CSRF token on refresh is unauthorised.
        let bad = refresh(&app, r3["refreshToken"]["token"].as_str().unwrap(), Some("nope")).await;
        assert_eq!(bad["status"], "UNAUTHORISED");
        // Garbage refresh tokens are unauthorised, not errors.
        for garbage in ["", "x", "a.b.V2", "a.b.c.d"] {
            let g = refresh(&app, garbage, None).await;
            assert_eq!(g["status"], "UNAUTHORISED", "{garbage}: {g}");
        }
    }
}

#[tokio::test]
async fn malformed_access_tokens_never_pass() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let s = create(&app, "public", "u", false).await;
        let at = s["accessToken"]["token"].as_str().unwrap().to_owned();
        let mut parts: Vec<String> = at.split('.').map(str::to_owned).collect();
        let mut c = claims(&at);
        c["sub"] = json!("someone-else");
        parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
        let tampered = parts.join(".");
        let truncated = at[..at.len() - 10].to_owned();
        let other_alg = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"x"}"#), parts[1], "");
        let v2 = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT","version":"2","kid":"x"}"#), parts[1], parts[2]);
        for bad in [tampered.as_str(), truncated.as_str(), other_alg.as_str(), v2.as_str(), "garbage", "", "a.b.c"] {
            let v = verify(&app, bad, None, false).await;
            assert_eq!(v["status"], "TRY_REFRESH_TOKEN", "{bad}: {v}");
        }
        let (status, _) = app.call("POST", "/recipe/session/verify", Some(json!({"accessToken": 5}))).await;
        assert_eq!(status, 400);
    }
}

#[tokio::test]
async fn expiry_revocation_and_check_database() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("ACCESS_TOKEN_VALIDITY", "2"), ("REFRESH_TOKEN_VALIDITY", "1")])).await;
        let s = create(&app, "public", "u", false).await;
        let at = s["accessToken"]["token"].as_str().unwrap().to_owned();
        let rt = s["refreshToken"]["token"].as_str().unwrap().to_owned();
        app.clock.advance(3_000);
        assert_eq!(verify(&app, &at, None, false).await["status"], "TRY_REFRESH_TOKEN", "expired access token");
        let r = refresh(&app, &rt, None).await;
        assert_eq!(r["status"], "OK");
        // Revoked: the database check refuses the token, refresh is unauthorised.
        let handle = s["session"]["handle"].as_str().unwrap();
        let removed = app.json("POST", "/recipe/session/remove", Some(json!({"sessionHandles": [handle]}))).await;
        assert_eq!(removed["sessionHandlesRevoked"], json!([handle]));
        let at2 = r["accessToken"]["token"].as_str().unwrap();
        assert_eq!(verify(&app, at2, None, true).await["status"], "UNAUTHORISED");
        assert_eq!(refresh(&app, r["refreshToken"]["token"].as_str().unwrap(), None).await["status"], "UNAUTHORISED");
        // A refresh token past its expiry is unauthorised.
        let s = create(&app, "public", "u", false).await;
        app.clock.advance(61_000);
        assert_eq!(refresh(&app, s["refreshToken"]["token"].as_str().unwrap(), None).await["status"], "UNAUTHORISED");
    }
}

#[tokio::test]
async fn session_information_data_and_payload() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let s = create(&app, "public", "u", false).await;
        let handle = s["session"]["handle"].as_str().unwrap().to_owned();
        let info = app.json("GET", &format!("/recipe/session?sessionHandle={handle}"), None).await;
        assert_eq!(info["status"], "OK");
        assert_eq!(info["userDataInDatabase"], json!({"d": 1}));
        assert_eq!(info["userDataInJWT"], json!({"role": "admin"}));
        assert_eq!(info["tenantId"], "public");
        assert_eq!(info["expiry"], s["refreshToken"]["expiry"]);

        let r = app.json("PUT", "/recipe/session/data", Some(json!({"sessionHandle": handle, "userDataInDatabase": {"x": 2}}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        let r = app.json("GET", &format!("/recipe/session/data?sessionHandle={handle}"), None).await;
        assert_eq!(r["userDataInDatabase"], json!({"x": 2}));
        let r = app.json("PUT", "/recipe/jwt/data", Some(json!({"sessionHandle": handle, "userDataInJWT": {"role": "user"}}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        // The next database-checked verify hands out a token with the new claims.
        let v = verify(&app, s["accessToken"]["token"].as_str().unwrap(), None, true).await;
        assert_eq!(v["session"]["userDataInJWT"], json!({"role": "user"}));
        assert_eq!(claims(v["accessToken"]["token"].as_str().unwrap())["role"], "user");
        let (status, _) = app.call("PUT", "/recipe/jwt/data", Some(json!({"sessionHandle": handle, "userDataInJWT": {"sub": "x"}}))).await;
        assert_eq!(status, 400, "protected claims are refused");

        // Regenerate replaces the claims and keeps the expiry.
        let at = s["accessToken"]["token"].as_str().unwrap();
        let g = app.json("POST", "/recipe/session/regenerate", Some(json!({"accessToken": at, "userDataInJWT": {"k": "v"}}))).await;
        assert_eq!(g["status"], "OK", "{g}");
        assert_eq!(g["session"]["userDataInJWT"], json!({"k": "v"}));
        let nt = g["accessToken"]["token"].as_str().unwrap();
        assert_eq!(claims(nt)["exp"], claims(at)["exp"]);
        assert_eq!(claims(nt)["k"], "v");

        assert!(claims(nt)["iat"].as_i64().unwrap() >= claims(at)["iat"].as_i64().unwrap());
        // An expired token gets no new token; its new claims are stored for the next refresh.
        app.clock.advance(3_700_000);
        let g = app.json("POST", "/recipe/session/regenerate", Some(json!({"accessToken": nt, "userDataInJWT": {"k": "w"}}))).await;
        assert_eq!(g["status"], "OK", "{g}");
        assert!(g.get("accessToken").is_none(), "{g}");
        let info = app.json("GET", &format!("/recipe/session?sessionHandle={handle}"), None).await;
        assert_eq!(info["userDataInJWT"], json!({"k": "w"}));

        let missing = app.json("GET", "/recipe/session?sessionHandle=nope", None).await;
        assert_eq!(missing["status"], "UNAUTHORISED");
        let missing = app.json("PUT", "/recipe/session/data", Some(json!({"sessionHandle": "nope", "userDataInDatabase": {}}))).await;
        assert_eq!(missing["status"], "UNAUTHORISED");
    }
}

#[tokio::test]
async fn sessions_per_tenant_listing_and_removal() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let a = create(&app, "public", "u", false).await;
        let b1 = create(&app, "t1", "u", false).await;
        create(&app, "public", "other", false).await;
        let hb = b1["session"]["handle"].as_str().unwrap();
        assert!(hb.ends_with("_t1"), "{hb}");
        assert_eq!(b1["session"]["tenantId"], "t1");
        assert_eq!(claims(b1["accessToken"]["token"].as_str().unwrap())["tId"], "t1");
        let v = verify(&app, b1["accessToken"]["token"].as_str().unwrap(), None, true).await;
        assert_eq!(v["session"]["tenantId"], "t1");

        let all = app.json("GET", "/recipe/session/user?userId=u", None).await;
        assert_eq!(all["sessionHandles"].as_array().unwrap().len(), 2);
        let one = app.json("GET", "/t1/recipe/session/user?userId=u&fetchAcrossAllTenants=false", None).await;
        assert_eq!(one["sessionHandles"], json!([hb]));
        let (status, _) = app.call("GET", "/t1/recipe/session/user?userId=u", None).await;
        assert_eq!(status, 403, "across all tenants needs the public tenant");

        let r = app.json("POST", "/t1/recipe/session/remove", Some(json!({"userId": "u", "revokeAcrossAllTenants": false}))).await;
        assert_eq!(r["sessionHandlesRevoked"], json!([hb]));
        let r = app.json("POST", "/recipe/session/remove", Some(json!({"userId": "u"}))).await;
        assert_eq!(r["sessionHandlesRevoked"], json!([a["session"]["handle"]]));
        let left = app.json("GET", "/recipe/session/user?userId=other", None).await;
        assert_eq!(left["sessionHandles"].as_array().unwrap().len(), 1);
        let (status, _) = app.call("POST", "/recipe/session/remove", Some(json!({}))).await;
        assert_eq!(status, 400);
    }
}

#[tokio::test]
async fn jwks_static_keys_rotation_and_custom_jwts() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", "0.001")])).await;
        let resp = app.client.get(format!("{}/.well-known/jwks.json", app.url)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let cc = resp.headers()["cache-control"].to_str().unwrap().to_owned();
        assert!(cc.starts_with("max-age=") && cc.ends_with(", must-revalidate"), "{cc}");
        let jwks: Value = resp.json().await.unwrap();
        let kids: Vec<String> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
        assert!(kids.iter().any(|k| k.starts_with("d-")) && kids.iter().any(|k| k.starts_with("s-")), "{kids:?}");

        // A static-key session is signed with the s- key and verifies.
        let body = json!({"userId": "u", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": false});
        let s = app.json("POST", "/public/recipe/session", Some(body)).await;
        let at = s["accessToken"]["token"].as_str().unwrap();
        assert!(header(at)["kid"].as_str().unwrap().starts_with("s-"));
        assert_eq!(verify(&app, at, None, false).await["status"], "OK");

        // Dynamic keys rotate (interval 3.6 s here): a token signed before stays valid, a new key appears.
        let d = create(&app, "public", "u", false).await;
        let old_kid = header(d["accessToken"]["token"].as_str().unwrap())["kid"].as_str().unwrap().to_owned();
        app.clock.advance(4_000);
        let d2 = create(&app, "public", "u", false).await;
        let new_kid = header(d2["accessToken"]["token"].as_str().unwrap())["kid"].as_str().unwrap().to_owned();
        assert_ne!(old_kid, new_kid, "the signing key rotated");
        assert_eq!(verify(&app, d["accessToken"]["token"].as_str().unwrap(), None, false).await["status"], "OK");
        let jwks = app.json("GET", "/recipe/jwt/jwks", None).await;
        assert_eq!(jwks["status"], "OK");
        let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "{kids:?}");

        let j = app.json("POST", "/recipe/jwt", Some(json!({"payload": {"a": 1}, "validity": 100, "algorithm": "RS256", "jwksDomain": "https://api.example.com"}))).await;
        let jwt = j["jwt"].as_str().unwrap();
        let c = claims(jwt);
        assert_eq!((c["a"].clone(), c["iss"].clone()), (json!(1), json!("https://api.example.com")));
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 100);
        let j = app.json("POST", "/recipe/jwt", Some(json!({"payload": {"iss": "https://issuer"}, "validity": 1, "algorithm": "RS256", "jwksDomain": "x"}))).await;
        assert_eq!(claims(j["jwt"].as_str().unwrap())["iss"], "https://issuer", "the payload's iss wins over jwksDomain");
        let j = app.json("POST", "/recipe/jwt", Some(json!({"payload": {}, "validity": 1, "algorithm": "HS256", "jwksDomain": "x"}))).await;
        assert_eq!(j, json!({"status": "UNSUPPORTED_ALGORITHM_ERROR"}));
        for bad in [json!(0), json!(-1), json!("x")] {
            let (s, _) = app.call("POST", "/recipe/jwt", Some(json!({"payload": {}, "validity": bad, "algorithm": "RS256", "jwksDomain": "x"}))).await;
            assert_eq!(s, 400, "validity {bad}");
        }
        let j = app.json("POST", "/recipe/jwt", Some(json!({"payload": {}, "validity": 1, "algorithm": "HS256", "jwksDomain": "x"}))).await;
        assert_eq!(j, json!({"status": "UNSUPPORTED_ALGORITHM_ERROR"}));
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let s = create(&app, "public", "u", false).await;
        let r = refresh(&app, s["refreshToken"]["token"].as_str().unwrap(), None).await;
        let child = r["refreshToken"]["token"].as_str().unwrap().to_owned();
        // 16 refreshes with the unpromoted child at once: all succeed or report theft, none fail.
        let calls = (0..16).map(|_| refresh(&app, &child, None));
        let results = futures::future::join_all(calls).await;
        for r in &results {
            let status = r["status"].as_str().unwrap();
            assert!(status == "OK" || status == "TOKEN_THEFT_DETECTED", "{r}");
        }
        assert!(results.iter().any(|r| r["status"] == "OK"));
    }
}

#[tokio::test]
async fn cron_deletes_expired_sessions_once_per_interval_across_instances() {
    use portcullis::cron::{run, Job};
    for b in backends() {
        // Two instances on one database (a shared SQLite file, or one PostgreSQL schema).
        let dir = std::env::temp_dir().join(format!("portcullis-cron-{}", uuid::Uuid::new_v4()));
        let cfg = match b {
            crate::common::Backend::Sqlite => {
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join("p.db");
                config(b, &[("PORTCULLIS_SQLITE_PATH", path.to_str().unwrap()), ("REFRESH_TOKEN_VALIDITY", "1")])
            }
            crate::common::Backend::Postgres => config(b, &[("REFRESH_TOKEN_VALIDITY", "1")]),
        };
        let one = portcullis::start(cfg.clone(), None).await.unwrap();
        let two = portcullis::start(cfg, None).await.unwrap();
        let app = TestApp::spawn_with_state(std::sync::Arc::clone(&one)).await;
        create(&app, "public", "u", false).await;
        let now = one.clock.now() + 120_000;
        let (a, b2) = tokio::join!(run(&one, Job::DeleteExpiredSessions, now), run(&two, Job::DeleteExpiredSessions, now));
        let ran: Vec<u64> = [a.unwrap(), b2.unwrap()].into_iter().flatten().collect();
        assert_eq!(ran, vec![1], "exactly one instance ran the job and removed the one expired session");
        assert_eq!(run(&two, Job::DeleteExpiredSessions, now + 1000).await.unwrap(), None, "not again within the interval");
        assert!(run(&one, Job::DeleteExpiredSigningKeys, now).await.unwrap().is_some());
        drop(app);
        std::fs::remove_dir_all(&dir).ok();
    }
}
