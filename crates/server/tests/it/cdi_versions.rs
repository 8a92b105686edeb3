//! What each CDI version answers where versions differ (issue 21), through the real HTTP server on
//! every backend: the session APIs' members and token formats, the handshake, user objects,
//! the legacy password reset, the deprecated non-v2 multitenancy APIs, and the pre-5.1 rules of the
//! recipes (recipe switches, third-party `isVerified`, code removal, `PUT /recipe/user`, user-id
//! mapping, dashboard session verify).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use portcullis_core::crypto::keys::PublicKey;
use serde_json::{json, Value};

use crate::common::{backends, TestApp};

/// A request with the given `cdi-version` (none when `None`): (status, JSON or the text as a string).
async fn at(app: &TestApp, version: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    at_rid(app, version, None, method, path, body).await
}

/// [`at`] with a `rid` header.
async fn at_rid(app: &TestApp, version: Option<&str>, rid: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(m, format!("{}{path}", app.url));
    if let Some(v) = version {
        req = req.header("cdi-version", v);
    }
    if let Some(rid) = rid {
        req = req.header("rid", rid);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A call at `version` that must answer 200.
async fn ok(app: &TestApp, version: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (s, v) = at(app, Some(version), method, path, body).await;
    assert_eq!(s, 200, "{method} {path} at {version}: {v}");
    v
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// The version a token names, and its payload: the fixed V1/V2 header (standard base64), else the
/// header's `version` (base64url).
fn token(t: &str) -> (u8, Value) {
    let parts: Vec<&str> = t.split('.').collect();
    if parts[0] == "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=" {
        return (2, serde_json::from_slice(&STANDARD.decode(parts[1]).unwrap()).unwrap());
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    (header["version"].as_str().unwrap().parse().unwrap(), serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap())
}

fn create_body(user: &str) -> Value {
    json!({"userId": user, "userDataInJWT": {"role": "admin"}, "userDataInDatabase": {"d": 1}, "enableAntiCsrf": false, "useDynamicSigningKey": true})
}

#[tokio::test]
async fn session_apis_answer_per_version() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        // (version, token version, session members, legacy key members)
        let cases: [(&str, u8, &[&str], &[&str]); 6] = [
            ("2.8", 2, &["handle", "userId", "userDataInJWT"], &["jwtSigningPublicKey", "jwtSigningPublicKeyExpiryTime"]),
            ("2.20", 2, &["handle", "userId", "userDataInJWT"], &["jwtSigningPublicKey", "jwtSigningPublicKeyExpiryTime", "jwtSigningPublicKeyList"]),
            ("2.21", 3, &["handle", "userId", "userDataInJWT"], &[]),
            ("3.0", 4, &["handle", "userId", "userDataInJWT", "tenantId"], &[]),
            ("4.0", 5, &["handle", "userId", "recipeUserId", "userDataInJWT", "tenantId"], &[]),
            ("5.0", 5, &["handle", "userId", "recipeUserId", "userDataInJWT", "tenantId"], &[]),
        ];
        for (v, token_version, session_members, legacy) in cases {
            let legacy_era = v == "2.8" || v == "2.20";
            let created = ok(&app, v, "POST", "/recipe/session", Some(create_body("u1"))).await;
            let mut expected = vec!["session", "accessToken", "refreshToken"];
            if legacy_era {
                expected.push("idRefreshToken");
            }
            expected.push("status");
            expected.extend(legacy);
            assert_eq!(keys(&created), expected, "create at {v}: {created}");
            assert_eq!(keys(&created["session"]), session_members, "{v}");
            let access = created["accessToken"]["token"].as_str().unwrap();
            let (tv, payload) = token(access);
            assert_eq!(tv, token_version, "{v}");
            let (at_created, at_expiry) = (created["accessToken"]["createdTime"].as_i64().unwrap(), created["accessToken"]["expiry"].as_i64().unwrap());
            let rt_created = created["refreshToken"]["createdTime"].as_i64().unwrap();
            if tv == 2 {
                // V2: exact milliseconds, the payload's own; the custom claims nested.
                assert_eq!(at_created, payload["timeCreated"].as_i64().unwrap());
                assert_eq!(at_expiry, payload["expiryTime"].as_i64().unwrap());
                assert_eq!(at_created, rt_created, "one clock reading");
                assert_eq!(payload["userData"], json!({"role": "admin"}));
                // idRefreshToken: the refresh token's times.
                assert_eq!(created["idRefreshToken"]["expiry"], created["refreshToken"]["expiry"]);
                assert_eq!(created["idRefreshToken"]["createdTime"], created["refreshToken"]["createdTime"]);
                // The published key verifies the token (RS256 over header.payload, standard base64).
                let der = STANDARD.decode(created["jwtSigningPublicKey"].as_str().unwrap()).unwrap();
                let (signed, sig) = access.rsplit_once('.').unwrap();
                assert!(PublicKey::from_spki_der(&der).unwrap().verify(signed.as_bytes(), &STANDARD.decode(sig).unwrap()), "{v}");
            } else {
                // V3+: whole seconds, as the claims; the refresh token keeps exact milliseconds.
                assert_eq!(at_created, payload["iat"].as_i64().unwrap() * 1000);
                assert_eq!(at_expiry, payload["exp"].as_i64().unwrap() * 1000);
                assert!(rt_created >= at_created && rt_created - at_created < 1000);
                assert_eq!(payload["role"], "admin");
                assert_eq!(payload.get("tId").is_some(), tv >= 4, "{v}");
                assert_eq!(payload.get("rsub").is_some(), tv >= 5, "{v}");
            }
            if v == "2.20" {
                let list = created["jwtSigningPublicKeyList"].as_array().unwrap();
                assert_eq!(keys(&list[0]), ["publicKey", "expiryTime", "createdAt"]);
            }

            // Verify: below 2.21 without checkDatabase (config decides) and with the key members.
            let verify = json!({"accessToken": access, "doAntiCsrfCheck": false, "enableAntiCsrf": false});
            if legacy_era {
                let verified = ok(&app, v, "POST", "/recipe/session/verify", Some(verify.clone())).await;
                let mut expected = vec!["session", "status"];
                expected.extend(legacy);
                assert_eq!(keys(&verified), expected, "verify at {v}");
                let bad = json!({"accessToken": "x.y.z", "doAntiCsrfCheck": false, "enableAntiCsrf": false});
                let refused = ok(&app, v, "POST", "/recipe/session/verify", Some(bad)).await;
                let mut expected = vec!["status"];
                expected.extend(legacy);
                expected.push("message");
                assert_eq!(keys(&refused), expected, "TRY_REFRESH_TOKEN at {v}: {refused}");
            } else {
                let (s, t) = at(&app, Some(v), "POST", "/recipe/session/verify", Some(verify.clone())).await;
                assert_eq!((s, t), (400, json!("Field name 'checkDatabase' is invalid in JSON input\n")), "{v}");
                let mut with_db = verify.clone();
                with_db["checkDatabase"] = json!(true);
                let verified = ok(&app, v, "POST", "/recipe/session/verify", Some(with_db)).await;
                assert_eq!(keys(&verified), ["session", "status"], "{v}");
                assert_eq!(keys(&verified["session"]), session_members, "{v}");
            }

            // Refresh: the request's version, idRefreshToken below 2.21, never the key members.
            let rt = created["refreshToken"]["token"].as_str().unwrap();
            let refresh = json!({"refreshToken": rt, "enableAntiCsrf": false});
            if v == "5.0" {
                let (s, t) = at(&app, Some(v), "POST", "/recipe/session/refresh", Some(refresh.clone())).await;
                assert_eq!((s, t), (400, json!("Field name 'useDynamicSigningKey' is invalid in JSON input\n")));
            }
            let mut refresh = refresh;
            refresh["useDynamicSigningKey"] = json!(true);
            let refreshed = ok(&app, v, "POST", "/recipe/session/refresh", Some(refresh)).await;
            let expected: Vec<&str> = if legacy_era {
                vec!["session", "accessToken", "refreshToken", "idRefreshToken", "status"]
            } else {
                vec!["session", "accessToken", "refreshToken", "status"]
            };
            assert_eq!(keys(&refreshed), expected, "refresh at {v}");
            assert_eq!(token(refreshed["accessToken"]["token"].as_str().unwrap()).0, token_version);

            // Session information: tenantId from 3.0, recipeUserId from 4.0.
            let handle = created["session"]["handle"].as_str().unwrap();
            let info = ok(&app, v, "GET", &format!("/recipe/session?sessionHandle={handle}"), None).await;
            assert_eq!(info.get("tenantId").is_some(), token_version >= 4, "{v}: {info}");
            assert_eq!(info.get("recipeUserId").is_some(), token_version >= 5, "{v}: {info}");
        }

        // Protected claims: the minted version's list from 2.21 (tId is custom in V3), none for V2.
        let tid = json!({"userId": "u2", "userDataInJWT": {"tId": "x"}, "userDataInDatabase": {}, "enableAntiCsrf": false});
        assert_eq!(ok(&app, "2.21", "POST", "/recipe/session", Some(tid.clone())).await["status"], "OK");
        let (s, t) = at(&app, Some("3.0"), "POST", "/recipe/session", Some(tid)).await;
        assert_eq!((s, t), (400, json!("The user payload contains protected field\n")));
        let user_id = json!({"userId": "u2", "userDataInJWT": {"sub": "x"}, "userDataInDatabase": {}, "enableAntiCsrf": false});
        assert_eq!(ok(&app, "2.20", "POST", "/recipe/session", Some(user_id)).await["status"], "OK");
    }
}

#[tokio::test]
async fn handshake_below_2_21_only() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let h = ok(&app, "2.20", "POST", "/recipe/handshake", Some(json!({}))).await;
        assert_eq!(
            keys(&h),
            [
                "status",
                "jwtSigningPublicKey",
                "jwtSigningPublicKeyExpiryTime",
                "jwtSigningPublicKeyList",
                "accessTokenBlacklistingEnabled",
                "accessTokenValidity",
                "refreshTokenValidity"
            ]
        );
        assert_eq!(h["accessTokenBlacklistingEnabled"], false);
        assert_eq!(h["accessTokenValidity"], 3_600_000);
        assert_eq!(h["refreshTokenValidity"], 8_640_000_000i64);
        assert!(ok(&app, "2.8", "POST", "/recipe/handshake", None).await.get("jwtSigningPublicKeyList").is_none());
        for v in [Some("2.21"), Some("5.4"), None] {
            assert_eq!(at(&app, v, "POST", "/recipe/handshake", None).await, (404, json!("Not found\n")), "{v:?}");
        }
        assert_eq!(at(&app, Some("2.20"), "GET", "/recipe/handshake", None).await.0, 405);
    }
}

#[tokio::test]
async fn user_objects_per_version() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        for (i, (v, user_members, with_recipe_user_id)) in [
            ("2.21", vec!["id", "timeJoined", "email"], false),
            ("3.0", vec!["id", "timeJoined", "tenantIds", "email"], false),
            ("4.0", vec!["id", "isPrimaryUser", "tenantIds", "timeJoined", "emails", "phoneNumbers", "thirdParty", "loginMethods"], true),
            ("5.3", vec!["id", "isPrimaryUser", "tenantIds", "timeJoined", "emails", "phoneNumbers", "thirdParty", "webauthn", "loginMethods"], true),
        ]
        .into_iter()
        .enumerate()
        {
            let creds = json!({"email": format!("v{i}@example.com"), "password": "pass-word-1"});
            for path in ["/recipe/signup", "/recipe/signin"] {
                let r = ok(&app, v, "POST", path, Some(creds.clone())).await;
                assert_eq!(r["status"], "OK", "{path} at {v}: {r}");
                let mut user_keys = keys(&r["user"]);
                let mut expected = user_members.clone();
                user_keys.sort_unstable();
                expected.sort_unstable();
                assert_eq!(user_keys, expected, "{path} at {v}: {r}");
                assert_eq!(r.get("recipeUserId").is_some(), with_recipe_user_id, "{path} at {v}");
            }
        }
        // The users list below 4.0: {recipeId, user}.
        let list = ok(&app, "3.0", "GET", "/users", None).await;
        assert_eq!(keys(&list["users"][0]), ["recipeId", "user"]);
        assert_eq!(list["users"][0]["recipeId"], "emailpassword");
    }
}

#[tokio::test]
async fn legacy_password_reset() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let up = ok(&app, "2.21", "POST", "/recipe/signup", Some(json!({"email": "r@example.com", "password": "old-pass-1"}))).await;
        let user_id = up["user"]["id"].as_str().unwrap().to_owned();
        let token_for = |v: &'static str| {
            let body = json!({"userId": user_id});
            let app = &app;
            async move { ok(app, v, "POST", "/recipe/user/password/reset/token", Some(body)).await["token"].as_str().unwrap().to_owned() }
        };
        // Below 4.0 a reset token is asked for by user id alone.
        let t1 = token_for("2.21").await;
        let reset = |v: &'static str, token: String, password: &'static str| {
            let app = &app;
            async move {
                at(app, Some(v), "POST", "/recipe/user/password/reset", Some(json!({"method": "token", "token": token, "newPassword": password}))).await
            }
        };
        assert_eq!(reset("2.11", t1.clone(), "new-pass-1").await, (200, json!({"status": "OK"})));
        assert_eq!(reset("2.11", t1, "new-pass-2").await, (200, json!({"status": "RESET_PASSWORD_INVALID_TOKEN_ERROR"})));
        let t2 = token_for("3.0").await;
        assert_eq!(reset("2.12", t2, "new-pass-2").await, (200, json!({"status": "OK", "userId": user_id})));
        let signed_in = ok(&app, "2.21", "POST", "/recipe/signin", Some(json!({"email": "r@example.com", "password": "new-pass-2"}))).await;
        assert_eq!(signed_in["status"], "OK");
        let t3 = token_for("2.21").await;
        assert_eq!(
            at(&app, Some("2.21"), "POST", "/recipe/user/password/reset", Some(json!({"method": "link", "token": t3, "newPassword": "x"}))).await,
            (400, json!("Unsupported method for password reset\n"))
        );
        assert_eq!(reset("2.21", t3, "").await, (400, json!("Password cannot be an empty string\n")));
        let unknown = ok(&app, "2.21", "POST", "/recipe/user/password/reset/token", Some(json!({"userId": "nobody"}))).await;
        assert_eq!(unknown, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
    }
}

#[tokio::test]
async fn deprecated_multitenancy_apis() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        // Below 5.0: a new tenant has every recipe off; a flag turns one on.
        let put = json!({"tenantId": "t1", "emailPasswordEnabled": true});
        assert_eq!(ok(&app, "3.0", "PUT", "/recipe/multitenancy/tenant", Some(put)).await, json!({"status": "OK", "createdNew": true}));
        let t1 = ok(&app, "3.0", "GET", "/t1/recipe/multitenancy/tenant", None).await;
        assert_eq!(keys(&t1), ["tenantId", "emailPassword", "thirdParty", "passwordless", "coreConfig", "status"]);
        assert_eq!(t1["emailPassword"]["enabled"], true);
        assert_eq!(t1["thirdParty"], json!({"enabled": false, "providers": []}));
        assert_eq!(t1["passwordless"]["enabled"], false);
        let list = ok(&app, "3.0", "GET", "/recipe/multitenancy/tenant/list", None).await;
        assert_eq!(list["tenants"].as_array().unwrap().len(), 2);
        assert_eq!(ok(&app, "3.0", "GET", "/recipe/multitenancy/app/list", None).await["apps"][0]["appId"], "public");
        assert!(ok(&app, "3.0", "GET", "/recipe/multitenancy/connectionuridomain/list", None).await["connectionUriDomains"].is_array());
        // From 5.0: the factor lists are read and checked.
        let (s, t) = at(&app, Some("5.0"), "PUT", "/recipe/multitenancy/tenant", Some(json!({"tenantId": "t2", "firstFactors": []}))).await;
        assert_eq!((s, t), (400, json!("firstFactors cannot be empty. Set null instead to remove all first factors.\n")));
        let put = json!({"tenantId": "t2", "firstFactors": ["emailpassword"]});
        assert_eq!(ok(&app, "5.0", "PUT", "/recipe/multitenancy/tenant", Some(put)).await["createdNew"], true);
        let t2 = ok(&app, "5.0", "GET", "/t2/recipe/multitenancy/tenant", None).await;
        assert_eq!(t2["firstFactors"], json!(["emailpassword"]));
        assert_eq!(t2["emailPassword"]["enabled"], true);
        assert_eq!(t2["thirdParty"]["enabled"], false);
        assert_eq!(ok(&app, "5.0", "GET", "/t9/recipe/multitenancy/tenant", None).await, json!({"status": "TENANT_NOT_FOUND_ERROR"}));
        // Adding a user to a tenant names it `userId` below 4.0, `recipeUserId` from 4.0.
        let up = ok(&app, "3.0", "POST", "/recipe/signup", Some(json!({"email": "mt@example.com", "password": "pass-word-1"}))).await;
        let id = up["user"]["id"].clone();
        let added = ok(&app, "3.0", "POST", "/t2/recipe/multitenancy/tenant/user", Some(json!({"userId": id}))).await;
        assert_eq!(added, json!({"status": "OK", "wasAlreadyAssociated": false}));
        let (s, _) = at(&app, Some("4.0"), "POST", "/t2/recipe/multitenancy/tenant/user/remove", Some(json!({"userId": id}))).await;
        assert_eq!(s, 400);
        let removed = ok(&app, "4.0", "POST", "/t2/recipe/multitenancy/tenant/user/remove", Some(json!({"recipeUserId": id}))).await;
        assert_eq!(removed, json!({"status": "OK", "wasAssociated": true}));
    }
}

/// Below 2.21 the app's config decides what later versions ask per request: the static key
/// (`access_token_signing_key_dynamic: false`) and database checks (`access_token_blacklisting`).
#[tokio::test]
async fn config_decides_below_2_21() {
    for b in backends() {
        let cfg = crate::common::config(b, &[("ACCESS_TOKEN_SIGNING_KEY_DYNAMIC", "false"), ("ACCESS_TOKEN_BLACKLISTING", "true")]);
        let app = TestApp::spawn_with(cfg).await;
        let created = ok(&app, "2.20", "POST", "/recipe/session", Some(create_body("u3"))).await;
        // The static key, reported with the core's fixed ten-year "expiry".
        assert_eq!(created["jwtSigningPublicKeyExpiryTime"], 315_360_000_000i64);
        assert_eq!(created["jwtSigningPublicKeyList"].as_array().unwrap().len(), 1);
        let access = created["accessToken"]["token"].as_str().unwrap();
        let der = STANDARD.decode(created["jwtSigningPublicKey"].as_str().unwrap()).unwrap();
        let (signed, sig) = access.rsplit_once('.').unwrap();
        assert!(PublicKey::from_spki_der(&der).unwrap().verify(signed.as_bytes(), &STANDARD.decode(sig).unwrap()));
        let h = ok(&app, "2.20", "POST", "/recipe/handshake", None).await;
        assert_eq!(h["accessTokenBlacklistingEnabled"], true);
        assert_eq!(h["jwtSigningPublicKey"], created["jwtSigningPublicKey"]);
        // Verify consults the database: a revoked session is refused at once.
        let handle = created["session"]["handle"].clone();
        ok(&app, "2.20", "POST", "/recipe/session/remove", Some(json!({"sessionHandles": [handle]}))).await;
        let verify = json!({"accessToken": access, "doAntiCsrfCheck": false, "enableAntiCsrf": false});
        assert_eq!(ok(&app, "2.20", "POST", "/recipe/session/verify", Some(verify)).await["status"], "UNAUTHORISED");
    }
}

/// A test app whose new passwords hash cheaply.
fn cheap(b: crate::common::Backend) -> portcullis_core::config::Config {
    crate::common::config(b, &[("BCRYPT_LOG_ROUNDS", "4")])
}

fn text(t: &str) -> Value {
    Value::String(format!("{t}\n"))
}

fn tp_body(user: &str, verified: Option<bool>) -> Value {
    let mut email = json!({"id": format!("{user}@tp.example.com")});
    if let Some(v) = verified {
        email["isVerified"] = json!(v);
    }
    json!({"thirdPartyId": "google", "thirdPartyUserId": user, "email": email})
}

/// Below CDI 5.1 a recipe's sign-in/up APIs answer 403 on a tenant that has the recipe off: up to
/// 4.0 the switch must be on and first factors unset or naming the recipe's factor; at 5.0 the switch
/// on and first factors unset or not empty; from 5.1 always allowed. Third-party sign-in-up at 2.7
/// is never refused.
#[tokio::test]
async fn recipe_switches_below_5_1() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let ep_disabled = text("Email password login not enabled for tenant");
        let tp_disabled = text("ThirdParty login not enabled for tenant");
        let pl_disabled = text("Passwordless login not enabled for tenant");
        let signup = |i: usize| json!({"email": format!("s{i}@example.com"), "password": "pass-word-1"});
        let code = json!({"email": "pl@example.com"});

        // t1 (deprecated API at 3.0): email-password only, first factors ["emailpassword"].
        ok(&app, "3.0", "PUT", "/recipe/multitenancy/tenant", Some(json!({"tenantId": "t1", "emailPasswordEnabled": true}))).await;
        assert_eq!(ok(&app, "3.0", "POST", "/t1/recipe/signup", Some(signup(1))).await["status"], "OK");
        assert_eq!(ok(&app, "4.0", "POST", "/t1/recipe/signin", Some(signup(1))).await["status"], "OK");
        for v in ["3.0", "4.0", "5.0"] {
            assert_eq!(at(&app, Some(v), "POST", "/t1/recipe/signinup", Some(tp_body("a", Some(true)))).await, (403, tp_disabled.clone()), "{v}");
            assert_eq!(at(&app, Some(v), "POST", "/t1/recipe/signinup/code", Some(code.clone())).await, (403, pl_disabled.clone()), "{v}");
        }
        assert_eq!(ok(&app, "5.1", "POST", "/t1/recipe/signinup", Some(tp_body("a", Some(true)))).await["status"], "OK");
        assert_eq!(ok(&app, "5.1", "POST", "/t1/recipe/signinup/code", Some(code.clone())).await["status"], "OK");

        // t2 (v2 API): every switch on, first factors [emailpassword, thirdparty]: passwordless is off
        // up to 4.0 (its factors are not listed) and on at 5.0 (the list is not empty).
        let v2 = json!({"tenantId": "t2", "firstFactors": ["emailpassword", "thirdparty"]});
        ok(&app, "5.4", "PUT", "/recipe/multitenancy/tenant/v2", Some(v2)).await;
        assert_eq!(at(&app, Some("4.0"), "POST", "/t2/recipe/signinup/code", Some(code.clone())).await, (403, pl_disabled.clone()));
        let created = ok(&app, "5.0", "POST", "/t2/recipe/signinup/code", Some(code.clone())).await;
        assert_eq!(created["status"], "OK");
        assert_eq!(ok(&app, "4.0", "POST", "/t2/recipe/signinup", Some(tp_body("b", Some(false)))).await["status"], "OK");
        // Consume and check are refused like create (after their input is read).
        let consume = json!({"preAuthSessionId": created["preAuthSessionId"], "linkCode": created["linkCode"]});
        assert_eq!(at(&app, Some("4.0"), "POST", "/t2/recipe/signinup/code/check", Some(consume.clone())).await, (403, pl_disabled.clone()));
        assert_eq!(at(&app, Some("4.0"), "POST", "/t2/recipe/signinup/code/consume", Some(consume.clone())).await, (403, pl_disabled.clone()));
        assert_eq!(ok(&app, "5.0", "POST", "/t2/recipe/signinup/code/consume", Some(consume)).await["status"], "OK");

        // t3 (v2 API, no first factors: no login method): every email-password API is refused
        // below 5.1 and allowed from 5.1.
        ok(&app, "5.4", "PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t3"}))).await;
        let import = json!({"email": "i@example.com", "passwordHash": "$2b$04$f40/QiCcucA2b3t8QArXweRarZILDwXVj6k48SUsh4bS8D8tsnmFK"});
        for v in ["3.0", "4.0", "5.0"] {
            assert_eq!(at(&app, Some(v), "POST", "/t3/recipe/signup", Some(signup(3))).await, (403, ep_disabled.clone()), "{v}");
            assert_eq!(at(&app, Some(v), "POST", "/t3/recipe/signin", Some(signup(3))).await, (403, ep_disabled.clone()), "{v}");
            let reset = json!({"userId": "u", "email": "u@example.com"});
            assert_eq!(at(&app, Some(v), "POST", "/t3/recipe/user/password/reset/token", Some(reset)).await, (403, ep_disabled.clone()), "{v}");
            assert_eq!(at(&app, Some(v), "POST", "/t3/recipe/user/passwordhash/import", Some(import.clone())).await, (403, ep_disabled.clone()), "{v}");
            assert_eq!(at(&app, Some(v), "POST", "/t3/recipe/signinup", Some(tp_body("c", Some(true)))).await.0, 403, "{v}");
        }
        // Bad input is still a 400 first.
        let (s, _) = at(&app, Some("4.0"), "POST", "/t3/recipe/signup", Some(json!({"email": "x@example.com"}))).await;
        assert_eq!(s, 400);
        assert_eq!(ok(&app, "5.1", "POST", "/t3/recipe/signup", Some(signup(3))).await["status"], "OK");
        assert_eq!(ok(&app, "5.4", "POST", "/t3/recipe/user/passwordhash/import", Some(import)).await["status"], "OK");

        // The public tenant with third party turned off (deprecated API at 3.0): refused from 2.8,
        // but never at 2.7, whose sign-in-up predates the switches.
        ok(&app, "3.0", "PUT", "/recipe/multitenancy/tenant", Some(json!({"tenantId": "public", "thirdPartyEnabled": false}))).await;
        assert_eq!(at(&app, Some("2.8"), "POST", "/recipe/signinup", Some(tp_body("d", None))).await, (403, tp_disabled.clone()));
        assert_eq!(ok(&app, "2.7", "POST", "/recipe/signinup", Some(tp_body("d", Some(false)))).await["status"], "OK");
        assert_eq!(ok(&app, "2.8", "POST", "/recipe/signup", Some(signup(4))).await["status"], "OK");
        assert_eq!(ok(&app, "5.1", "POST", "/recipe/signinup", Some(tp_body("d", Some(false)))).await["status"], "OK");
    }
}

/// Third-party sign-in-up's `email.isVerified`: required and applied at 2.7 and from 4.0; not read
/// (so never applied) from 2.8 to 3.1.
#[tokio::test]
async fn third_party_is_verified_by_version() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let verified = |id: Value, email: String| {
            let app = &app;
            async move {
                let path = format!("/recipe/user/email/verify?userId={}&email={email}", id.as_str().unwrap());
                ok(app, "5.4", "GET", &path, None).await["isVerified"].as_bool().unwrap()
            }
        };
        let invalid = text("Field name 'isVerified' is invalid in JSON input");
        for (v, read) in [("2.7", true), ("2.8", false), ("2.21", false), ("3.0", false), ("3.1", false), ("4.0", true), ("5.4", true)] {
            let user = format!("u{}", v.replace('.', "-"));
            let (s, missing) = at(&app, Some(v), "POST", "/recipe/signinup", Some(tp_body(&user, None))).await;
            if read {
                assert_eq!((s, missing), (400, invalid.clone()), "{v}");
                let (s, _) = at(&app, Some(v), "POST", "/recipe/signinup", Some(json!({"thirdPartyId": "google", "thirdPartyUserId": user, "email": {"id": "x@y.z", "isVerified": "yes"}}))).await;
                assert_eq!(s, 400, "{v}: a non-boolean");
            } else {
                assert_eq!((s, missing["status"].clone()), (200, json!("OK")), "{v}: {missing}");
            }
            let r = ok(&app, v, "POST", "/recipe/signinup", Some(tp_body(&user, Some(true)))).await;
            assert_eq!(r["status"], "OK", "{v}: {r}");
            let email = format!("{user}@tp.example.com");
            assert_eq!(verified(r["user"]["id"].clone(), email).await, read, "{v}: isVerified applied");
            if v == "2.7" {
                assert_eq!(keys(&r), ["status", "createdNewUser", "user"]);
                assert_eq!(keys(&r["user"]), ["id", "timeJoined", "email", "thirdParty"], "the pre-3.0 user object");
            }
        }
    }
}

/// `POST /<t>/recipe/signinup/code/remove` below 5.0 removes a code by `codeId` (required) and does
/// not read `preAuthSessionId`; from 5.0 exactly one of the two.
#[tokio::test]
async fn passwordless_code_remove_by_version() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let new_code = |email: &'static str| {
            let app = &app;
            async move { ok(app, "5.4", "POST", "/recipe/signinup/code", Some(json!({"email": email}))).await }
        };
        let codes_of = |c: Value| {
            let app = &app;
            async move {
                let path = format!("/recipe/signinup/codes?preAuthSessionId={}", c["preAuthSessionId"].as_str().unwrap());
                ok(app, "5.4", "GET", &path, None).await["devices"].as_array().unwrap().len()
            }
        };
        let c = new_code("r@example.com").await;
        let by_device = json!({"preAuthSessionId": c["preAuthSessionId"]});
        for v in ["2.21", "3.0", "4.0"] {
            let r = at(&app, Some(v), "POST", "/recipe/signinup/code/remove", Some(by_device.clone())).await;
            assert_eq!(r, (400, text("Field name 'codeId' is invalid in JSON input")), "{v}");
        }
        assert_eq!(codes_of(c.clone()).await, 1, "nothing removed");
        // Both given below 5.0: the code is removed, the device id ignored.
        let both = json!({"codeId": c["codeId"], "preAuthSessionId": "not-read"});
        assert_eq!(ok(&app, "4.0", "POST", "/recipe/signinup/code/remove", Some(both)).await, json!({"status": "OK"}));
        assert_eq!(codes_of(c).await, 0);
        // From 5.0: exactly one.
        let c = new_code("s@example.com").await;
        let both = json!({"codeId": c["codeId"], "preAuthSessionId": c["preAuthSessionId"]});
        let r = at(&app, Some("5.0"), "POST", "/recipe/signinup/code/remove", Some(both)).await;
        assert_eq!(r, (400, text("Please provide only one of 'codeId' or 'preAuthSessionId'")));
        let by_device = json!({"preAuthSessionId": c["preAuthSessionId"]});
        assert_eq!(ok(&app, "5.0", "POST", "/recipe/signinup/code/remove", Some(by_device)).await, json!({"status": "OK"}));
        assert_eq!(codes_of(c).await, 0);
    }
}

/// `PUT /recipe/user` (email-password and passwordless) names the user `userId` below 4.0 and
/// `recipeUserId` from 4.0; the other member is not read.
#[tokio::test]
async fn put_user_id_field_by_version() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let ep = ok(&app, "5.4", "POST", "/recipe/signup", Some(json!({"email": "p@example.com", "password": "pass-word-1"}))).await;
        let ep_id = ep["user"]["id"].clone();
        let code = ok(&app, "5.4", "POST", "/recipe/signinup/code", Some(json!({"email": "q@example.com"}))).await;
        let consume = json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": code["linkCode"]});
        let pl_id = ok(&app, "5.4", "POST", "/recipe/signinup/code/consume", Some(consume)).await["user"]["id"].clone();
        for (rid, id, change) in [("emailpassword", &ep_id, json!({"password": "pass-word-2"})), ("passwordless", &pl_id, json!({"phoneNumber": "+15550001111"}))] {
            for (v, field, other) in [("2.21", "userId", "recipeUserId"), ("3.1", "userId", "recipeUserId"), ("4.0", "recipeUserId", "userId"), ("5.4", "recipeUserId", "userId")] {
                let mut wrong = change.clone();
                wrong[other] = id.clone();
                let r = at_rid(&app, Some(v), Some(rid), "PUT", "/recipe/user", Some(wrong)).await;
                assert_eq!(r, (400, text(&format!("Field name '{field}' is invalid in JSON input"))), "{rid} at {v}");
                let mut right = change.clone();
                right[field] = id.clone();
                right[other] = json!("nobody");
                let r = at_rid(&app, Some(v), Some(rid), "PUT", "/recipe/user", Some(right)).await;
                assert_eq!(r, (200, json!({"status": "OK"})), "{rid} at {v}");
            }
        }
        let r = at_rid(&app, Some("3.0"), Some("emailpassword"), "PUT", "/recipe/user", Some(json!({"userId": ep_id}))).await;
        assert_eq!(r, (400, text("You have to provide either email or password.")));
        let r = ok(&app, "5.4", "POST", "/recipe/signin", Some(json!({"email": "p@example.com", "password": "pass-word-2"}))).await;
        assert_eq!(r["status"], "OK");
    }
}

/// Creating a user-id mapping for a user with email verification data: from 4.0 the data moves to
/// the external id; below 4.0 it blocks the mapping like any other recipe's data (unless `force`).
#[tokio::test]
async fn user_id_mapping_email_verification_by_version() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            let email = format!("m{i}@example.com");
            let up = ok(&app, "5.4", "POST", "/recipe/signup", Some(json!({"email": email, "password": "pass-word-1"}))).await;
            let id = up["user"]["id"].as_str().unwrap().to_owned();
            let t = ok(&app, "5.4", "POST", "/recipe/user/email/verify/token", Some(json!({"userId": id, "email": email}))).await;
            ok(&app, "5.4", "POST", "/recipe/user/email/verify", Some(json!({"method": "token", "token": t["token"]}))).await;
            ids.push((id, email));
        }
        let map = |id: &str, ext: &str, force: bool| json!({"superTokensUserId": id, "externalUserId": ext, "force": force});
        for v in ["2.21", "3.1"] {
            let r = at(&app, Some(v), "POST", "/recipe/userid/map", Some(map(&ids[0].0, "ext-0", false))).await;
            assert_eq!(r, (400, text("UserId is already in use in EmailVerification recipe")), "{v}");
        }
        assert_eq!(ok(&app, "3.0", "POST", "/recipe/userid/map", Some(map(&ids[1].0, "ext-1", true))).await, json!({"status": "OK"}));
        assert_eq!(ok(&app, "4.0", "POST", "/recipe/userid/map", Some(map(&ids[0].0, "ext-0", false))).await, json!({"status": "OK"}));
        let check = |id: &str, email: &str| format!("/recipe/user/email/verify?userId={id}&email={email}");
        assert_eq!(ok(&app, "5.4", "GET", &check("ext-0", &ids[0].1), None).await["isVerified"], true, "moved to the external id");
        assert_eq!(ok(&app, "5.4", "GET", &check(&ids[0].0, &ids[0].1), None).await["isVerified"], false);
        assert_eq!(ok(&app, "5.4", "POST", "/recipe/userid/map", Some(map(&ids[2].0, "ext-2", false))).await, json!({"status": "OK"}));
    }
}

/// `POST /recipe/dashboard/session/verify` names the dashboard user's email from CDI 3.0.
#[tokio::test]
async fn dashboard_session_verify_email_from_3_0() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let creds = json!({"email": "admin@example.com", "password": "secret123"});
        ok(&app, "5.4", "POST", "/recipe/dashboard/user", Some(creds.clone())).await;
        let session = ok(&app, "5.4", "POST", "/recipe/dashboard/signin", Some(creds)).await["sessionId"].clone();
        for (v, body) in [
            ("2.7", json!({"status": "OK"})),
            ("2.21", json!({"status": "OK"})),
            ("3.0", json!({"status": "OK", "email": "admin@example.com"})),
            ("5.4", json!({"status": "OK", "email": "admin@example.com"})),
        ] {
            assert_eq!(ok(&app, v, "POST", "/recipe/dashboard/session/verify", Some(json!({"sessionId": session}))).await, body, "{v}");
        }
        let unknown = json!({"sessionId": "nope"});
        assert_eq!(ok(&app, "2.21", "POST", "/recipe/dashboard/session/verify", Some(unknown)).await, json!({"status": "INVALID_SESSION_ERROR"}));
    }
}
