//! Access tokens of older versions presented to today's API (CDI 5.4), on every backend: what
//! happens mid-upgrade, when an SDK of the new major meets tokens minted for an old one. The core
//! verifies V1/V2 (no `kid`: every key is tried) and V3/V4 tokens under any CDI, re-mints in the
//! presented version, and a refresh converts the session to the request's version.
//!
//! The old tokens are minted here with the app's own stored keys, as an older core would have.



use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use crate::common::{backends, TestApp};
use portcullis_core::crypto::keys::{generate_key_string, SigningKey};
use portcullis_core::session::access_token::{self, AccessTokenInfo};
use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::session::storage::SessionStorage;
use serde_json::{json, Value};

const V2_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn v2_payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&STANDARD.decode(part).unwrap()).unwrap()
}

/// The app's newest dynamic key (with its kid) and its static key, from the database.
async fn stored_keys(app: &TestApp) -> ((String, SigningKey), (String, SigningKey)) {
    let storage = app.state.registry.base_storage();
    let s: &dyn SessionStorage = storage.as_ref();
    let mut dynamic = s.dynamic_keys(AppKey::new("public")).await.unwrap();
    dynamic.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    let d = &dynamic[0];
    let st = &s.static_keys(AppKey::new("public")).await.unwrap()[0];
    (
        (d.kid(), SigningKey::from_key_string(&d.value).unwrap()),
        (st.key_id.clone(), SigningKey::from_key_string(&st.key_string).unwrap()),
    )
}

/// A session made today (V5), and the facts an older token of it would carry.
struct Session {
    handle: String,
    user: String,
    refresh_token: String,
    refresh_token_hash_1: String,
}

async fn create(app: &TestApp) -> Session {
    let body = json!({"userId": "user-1", "userDataInJWT": {"role": "admin"}, "userDataInDatabase": {}, "enableAntiCsrf": false});
    let s = app.json("POST", "/recipe/session", Some(body)).await;
    assert_eq!(s["status"], "OK", "{s}");
    let c = claims(s["accessToken"]["token"].as_str().unwrap());
    Session {
        handle: c["sessionHandle"].as_str().unwrap().into(),
        user: c["sub"].as_str().unwrap().into(),
        refresh_token: s["refreshToken"]["token"].as_str().unwrap().into(),
        refresh_token_hash_1: c["refreshTokenHash1"].as_str().unwrap().into(),
    }
}

fn old_token(app: &TestApp, s: &Session, version: u8, kid: &str, key: &SigningKey, payload: Value) -> (String, i64) {
    let now = app.clock.now();
    let info = AccessTokenInfo {
        version,
        kid: kid.to_owned(),
        session_handle: s.handle.clone(),
        user_id: s.user.clone(),
        recipe_user_id: s.user.clone(),
        tenant_id: "public".into(),
        refresh_token_hash_1: s.refresh_token_hash_1.clone(),
        parent_refresh_token_hash_1: None,
        anti_csrf_token: None,
        // Not a whole second, as V2 tokens are not.
        expiry_ms: now + 3_600_123,
        created_ms: now,
        user_data: payload.as_object().cloned().unwrap_or_default(),
    };
    (access_token::mint(&info, key).unwrap(), info.expiry_ms)
}

async fn verify(app: &TestApp, token: &str, check_db: bool) -> Value {
    let body = json!({"accessToken": token, "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": check_db});
    app.json("POST", "/recipe/session/verify", Some(body)).await
}

#[tokio::test]
async fn v2_tokens_verify_regenerate_and_refresh_under_5_4() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let s = create(&app).await;
        let ((_, dynamic), (_, static_key)) = stored_keys(&app).await;
        let (token, expiry) = old_token(&app, &s, 2, "", &dynamic, json!({"role": "admin"}));
        assert!(token.starts_with(V2_HEADER));

        // Locally valid and matching the database: no new token.
        for check_db in [false, true] {
            let v = verify(&app, &token, check_db).await;
            assert_eq!(v["status"], "OK", "{v}");
            assert_eq!(v["session"]["userId"], "user-1");
            assert_eq!(v["session"]["userDataInJWT"], json!({"role": "admin"}));
            assert!(v.get("accessToken").is_none(), "{v}");
        }
        // A static key verifies too: V2 tokens name no key, every key is tried.
        let (by_static, _) = old_token(&app, &s, 2, "", &static_key, json!({"role": "admin"}));
        assert_eq!(verify(&app, &by_static, true).await["status"], "OK");
        // A key the app does not have does not.
        let stranger = SigningKey::from_key_string(&generate_key_string().unwrap()).unwrap();
        let (forged, _) = old_token(&app, &s, 2, "", &stranger, json!({"role": "admin"}));
        assert_eq!(verify(&app, &forged, false).await["status"], "TRY_REFRESH_TOKEN");

        // The stored claims changed: a database-checked verify re-mints, in V2, at exact milliseconds.
        let r = app.json("PUT", "/recipe/jwt/data", Some(json!({"sessionHandle": s.handle, "userDataInJWT": {"role": "user"}}))).await;
        assert_eq!(r["status"], "OK");
        let v = verify(&app, &token, true).await;
        assert_eq!(v["status"], "OK", "{v}");
        let new = v["accessToken"]["token"].as_str().unwrap();
        assert!(new.starts_with(V2_HEADER), "the presented version is kept: {new}");
        let p = v2_payload(new);
        assert_eq!(p["userData"], json!({"role": "user"}));
        assert_eq!(v["accessToken"]["expiry"], p["expiryTime"], "exact milliseconds, as the token says");
        assert_eq!(v["accessToken"]["createdTime"], p["timeCreated"]);
        assert_eq!(verify(&app, new, false).await["status"], "OK", "the re-minted token verifies");

        // Regenerate keeps the version and the old token's exact expiry; the V2 list is protected.
        let g = app.json("POST", "/recipe/session/regenerate", Some(json!({"accessToken": token, "userDataInJWT": {"k": "v"}}))).await;
        assert_eq!(g["status"], "OK", "{g}");
        let regenerated = g["accessToken"]["token"].as_str().unwrap();
        assert!(regenerated.starts_with(V2_HEADER));
        assert_eq!(v2_payload(regenerated)["expiryTime"], json!(expiry));
        assert_eq!(g["accessToken"]["expiry"], json!(expiry));
        assert_eq!(v2_payload(regenerated)["userData"], json!({"k": "v"}));
        let (status, text) =
            app.call("POST", "/recipe/session/regenerate", Some(json!({"accessToken": token, "userDataInJWT": {"userId": "x"}}))).await;
        assert_eq!((status, text.as_str()), (400, "The user payload contains protected field\n"));
        // `sub` is no V2 claim: allowed for a V2 token (it is nested in userData).
        let g = app.json("POST", "/recipe/session/regenerate", Some(json!({"accessToken": token, "userDataInJWT": {"sub": "x"}}))).await;
        assert_eq!(g["status"], "OK", "{g}");
        app.json("PUT", "/recipe/jwt/data", Some(json!({"sessionHandle": s.handle, "userDataInJWT": {"k": "v"}}))).await;

        // Refresh converts the session: the new token is the request's version (V5 at 5.4).
        let body = json!({"refreshToken": s.refresh_token, "enableAntiCsrf": false, "useDynamicSigningKey": true});
        let r = app.json("POST", "/recipe/session/refresh", Some(body)).await;
        assert_eq!(r["status"], "OK", "{r}");
        let converted = r["accessToken"]["token"].as_str().unwrap();
        let h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(converted.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(h["version"], "5");
        assert_eq!(claims(converted)["k"], "v", "the stored claims");
    }
}

#[tokio::test]
async fn v3_and_v4_tokens_verify_under_5_4() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let s = create(&app).await;
        let ((kid, dynamic), _) = stored_keys(&app).await;
        let storage = app.state.registry.base_storage();
        let store: &dyn SessionStorage = storage.as_ref();
        for version in [3u8, 4] {
            // A V3 token's `tId` and `rsub` are custom claims (V3 had no tenants); a session made by a
            // CDI 2.21 SDK stores them as it would (today's API refuses them, as the core does at 5.4).
            let payload = if version == 3 { json!({"role": "admin", "tId": "t9", "rsub": "r"}) } else { json!({"role": "admin"}) };
            assert!(store.session_update_jwt_payload(TenantKey::new("public", "public"), &s.handle, &payload.to_string()).await.unwrap());
            let (token, _) = old_token(&app, &s, version, &kid, &dynamic, payload.clone());
            let v = verify(&app, &token, true).await;
            assert_eq!(v["status"], "OK", "V{version}: {v}");
            assert_eq!(v["session"]["tenantId"], "public");
            assert_eq!(v["session"]["recipeUserId"], "user-1");
            assert_eq!(v["session"]["userDataInJWT"], payload);
            assert!(v.get("accessToken").is_none());
            // Regenerate re-mints in the presented version, with its protected list.
            let g = app.json("POST", "/recipe/session/regenerate", Some(json!({"accessToken": token, "userDataInJWT": {"rsub": "ok-before-v5"}}))).await;
            assert_eq!(g["status"], "OK", "{g}");
            let new = g["accessToken"]["token"].as_str().unwrap();
            let h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(new.split('.').next().unwrap()).unwrap()).unwrap();
            assert_eq!(h["version"], version.to_string());
            assert_eq!(claims(new)["rsub"], "ok-before-v5");
            let (status, _) =
                app.call("POST", "/recipe/session/regenerate", Some(json!({"accessToken": token, "userDataInJWT": {"sub": "x"}}))).await;
            assert_eq!(status, 400);
        }
        // A payload a V3 token could carry (`tId`) is refused when minting today's V5 at refresh:
        // the core answers UNAUTHORISED with its message there.
        assert!(store.session_update_jwt_payload(TenantKey::new("public", "public"), &s.handle, r#"{"tId":"t9"}"#).await.unwrap());
        let body = json!({"refreshToken": s.refresh_token, "enableAntiCsrf": false, "useDynamicSigningKey": true});
        let r = app.json("POST", "/recipe/session/refresh", Some(body)).await;
        assert_eq!(r, json!({"status": "UNAUTHORISED", "message": "The user payload contains protected field"}));
    }
}
