//! Opt-in ES256 access tokens (`access_token_signing_algorithm`, beyond the Java core): sessions,
//! static and dynamic keys, rotation, the JWKS, `/recipe/jwt`, switching an app between RS256 and
//! ES256 with older tokens still verifying, the expired-key cleanup, and where the keys are stored
//! (so that a Java core reading the same tables is not upset by them).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use portcullis_core::crypto::keys::PublicKey;
use portcullis_core::ids::AppKey;
use portcullis_core::session::storage::SessionStorage;
use serde_json::{json, Value};

use crate::common::{backends, config, TestApp};

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

fn alg_and_kid(token: &str) -> (String, String) {
    let h = part(token, 0);
    (h["alg"].as_str().unwrap().to_owned(), h["kid"].as_str().unwrap().to_owned())
}

async fn create(app: &TestApp, prefix: &str, dynamic: bool) -> Value {
    let body = json!({"userId": "u", "userDataInJWT": {"role": "admin"}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": dynamic});
    let s = app.json("POST", &format!("{prefix}/public/recipe/session"), Some(body)).await;
    assert_eq!(s["status"], "OK", "{s}");
    s
}

fn access(s: &Value) -> String {
    s["accessToken"]["token"].as_str().unwrap().to_owned()
}

async fn verify_by_core(app: &TestApp, prefix: &str, token: &str) -> Value {
    let body = json!({"accessToken": token, "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": true});
    app.json("POST", &format!("{prefix}/recipe/session/verify"), Some(body)).await
}

async fn jwks(app: &TestApp, prefix: &str) -> Vec<Value> {
    let v: Value = app.client.get(format!("{}{prefix}/.well-known/jwks.json", app.url)).send().await.unwrap().json().await.unwrap();
    v["keys"].as_array().unwrap().clone()
}

/// Verifies `token` as an SDK does: the key of its kid from the JWKS, of the algorithm its header
/// names. The EC key is rebuilt from the JWK's `x` and `y` alone.
fn verify_locally(keys: &[Value], token: &str) -> bool {
    let (alg, kid) = alg_and_kid(token);
    let Some(jwk) = keys.iter().find(|k| k["kid"] == kid.as_str()) else { return false };
    assert_eq!(jwk["alg"], alg.as_str(), "the JWK's alg is the token's");
    assert_eq!(jwk["use"], "sig");
    let key = match jwk["kty"].as_str().unwrap() {
        "EC" => {
            assert_eq!(jwk["crv"], "P-256");
            let coord = |c: &str| URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap();
            let (x, y) = (coord("x"), coord("y"));
            assert_eq!((x.len(), y.len()), (32, 32));
            // A P-256 SubjectPublicKeyInfo: the fixed DER prefix, then the uncompressed point.
            let mut spki = hex_decode("3059301306072a8648ce3d020106082a8648ce3d030107034200");
            spki.push(4);
            spki.extend(x);
            spki.extend(y);
            PublicKey::from_spki_der(&spki).unwrap()
        }
        other => {
            assert_eq!(other, "RSA");
            return jwk["n"].is_string() && alg == "RS256";
        }
    };
    let (input, sig) = token.rsplit_once('.').unwrap();
    key.verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test]
async fn es256_sessions_keys_rotation_jwks_and_custom_jwts() {
    for b in backends() {
        let cfg = config(b, &[("ACCESS_TOKEN_SIGNING_ALGORITHM", "ES256"), ("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", "0.001")]);
        let app = TestApp::spawn_with(cfg).await;

        // Dynamic key: ES256, a `d-` kid, verifies through the core and locally through the JWKS.
        let s = create(&app, "", true).await;
        let t = access(&s);
        let (alg, kid) = alg_and_kid(&t);
        assert_eq!(alg, "ES256");
        assert!(kid.starts_with("d-"), "{kid}");
        assert_eq!(URL_SAFE_NO_PAD.decode(t.rsplit('.').next().unwrap()).unwrap().len(), 64, "JWS r || s");
        let v = verify_by_core(&app, "", &t).await;
        assert_eq!((v["status"].as_str(), v["session"]["userDataInJWT"]["role"].as_str()), (Some("OK"), Some("admin")), "{v}");
        let keys = jwks(&app, "").await;
        assert!(verify_locally(&keys, &t));
        for k in &keys {
            assert_eq!((k["kty"].as_str(), k["crv"].as_str(), k["alg"].as_str()), (Some("EC"), Some("P-256"), Some("ES256")), "{k}");
        }

        // A tampered token fails both ways.
        let mut claims = part(&t, 1);
        claims["role"] = json!("root");
        let forged = format!("{}.{}.{}", t.split('.').next().unwrap(), URL_SAFE_NO_PAD.encode(claims.to_string()), t.rsplit('.').next().unwrap());
        assert!(!verify_locally(&keys, &forged));
        assert_eq!(verify_by_core(&app, "", &forged).await["status"], "TRY_REFRESH_TOKEN");

        // Refresh mints an ES256 token.
        let body = json!({"refreshToken": s["refreshToken"]["token"], "enableAntiCsrf": false, "useDynamicSigningKey": true});
        let r = app.json("POST", "/recipe/session/refresh", Some(body)).await;
        assert_eq!(r["status"], "OK", "{r}");
        assert_eq!(alg_and_kid(&access(&r)).0, "ES256");
        assert_eq!(verify_by_core(&app, "", &access(&r)).await["status"], "OK");

        // Static key: ES256 with an `s-` kid.
        let st = access(&create(&app, "", false).await);
        let (alg, static_kid) = alg_and_kid(&st);
        assert_eq!(alg, "ES256");
        assert!(static_kid.starts_with("s-"));
        assert_eq!(verify_by_core(&app, "", &st).await["status"], "OK");
        assert!(verify_locally(&jwks(&app, "").await, &st));

        // Rotation (an interval of 3.6 s here): a new ES256 key signs, the old token still verifies.
        // (`t`'s session was refreshed above, so the database check would refuse it: use another.)
        let before = access(&create(&app, "", true).await);
        assert_eq!(alg_and_kid(&before).1, kid);
        app.clock.advance(4_000);
        let t2 = access(&create(&app, "", true).await);
        let (alg, kid2) = alg_and_kid(&t2);
        assert_eq!(alg, "ES256");
        assert_ne!(kid2, kid, "the signing key rotated");
        let keys = jwks(&app, "").await;
        assert!(verify_locally(&keys, &before) && verify_locally(&keys, &t2));
        assert_eq!(verify_by_core(&app, "", &before).await["status"], "OK");
        assert_eq!(verify_by_core(&app, "", &t2).await["status"], "OK");

        // /recipe/jwt: the request's algorithm decides; ES256 or RS256, static or dynamic.
        for (algorithm, use_static) in [("ES256", true), ("es256", false), ("RS256", true), ("RS256", false)] {
            let body = json!({"payload": {"a": 1}, "validity": 100, "algorithm": algorithm, "jwksDomain": "https://api.example.com", "useStaticSigningKey": use_static});
            let j = app.json("POST", "/recipe/jwt", Some(body)).await;
            assert_eq!(j["status"], "OK", "{j}");
            let jwt = j["jwt"].as_str().unwrap();
            let (alg, kid) = alg_and_kid(jwt);
            assert_eq!(alg, algorithm.to_uppercase());
            assert_eq!(kid.starts_with("s-"), use_static);
            assert_eq!(part(jwt, 1)["a"], 1);
            assert!(verify_locally(&jwks(&app, "").await, jwt), "{algorithm} {use_static}");
        }
        let j = app.json("POST", "/recipe/jwt", Some(json!({"payload": {}, "validity": 1, "algorithm": "ES384", "jwksDomain": "x"}))).await;
        assert_eq!(j, json!({"status": "UNSUPPORTED_ALGORITHM_ERROR"}));
        // The RS256 keys /recipe/jwt made are in the JWKS beside the EC ones.
        let ktys: Vec<&str> = keys.iter().chain(jwks(&app, "").await.iter()).map(|k| if k["kty"] == "EC" { "EC" } else { "RSA" }).collect();
        assert!(ktys.contains(&"EC"));
        assert!(jwks(&app, "").await.iter().any(|k| k["kty"] == "RSA"));
    }
}

#[tokio::test]
async fn switching_between_rs256_and_es256_keeps_older_tokens_verifying() {
    use portcullis::cron::{run, Job};
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", "0.001")])).await;
        let put_app = |cc: Value| app.json("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a1", "coreConfig": cc})));
        assert_eq!(put_app(json!({})).await["status"], "OK");
        let p = "/appid-a1";
        let rs = access(&create(&app, p, true).await);
        let rs_static = access(&create(&app, p, false).await);
        assert_eq!(alg_and_kid(&rs).0, "RS256");

        // RS256 → ES256: new tokens are ES256; the RS256 ones keep verifying, and the JWKS has both.
        assert_eq!(put_app(json!({"access_token_signing_algorithm": "ES256"})).await["status"], "OK");
        let es_session = create(&app, p, true).await;
        let es = access(&es_session);
        assert_eq!(alg_and_kid(&es).0, "ES256");
        for t in [&rs, &rs_static, &es] {
            assert_eq!(verify_by_core(&app, p, t).await["status"], "OK");
        }
        let keys = jwks(&app, p).await;
        assert!(keys.iter().any(|k| k["kty"] == "RSA") && keys.iter().any(|k| k["kty"] == "EC"), "{keys:?}");
        assert!(verify_locally(&keys, &es) && verify_locally(&keys, &rs));

        // ES256 → RS256: new tokens are RS256 again; the ES256 token keeps verifying.
        assert_eq!(put_app(json!({"access_token_signing_algorithm": "RS256"})).await["status"], "OK");
        let rs2 = access(&create(&app, p, true).await);
        assert_eq!(alg_and_kid(&rs2).0, "RS256");
        assert_eq!(verify_by_core(&app, p, &es).await["status"], "OK");
        assert!(verify_locally(&jwks(&app, p).await, &es));
        let body = json!({"refreshToken": es_session["refreshToken"]["token"], "enableAntiCsrf": false, "useDynamicSigningKey": true});
        let r = app.json("POST", &format!("{p}/recipe/session/refresh"), Some(body)).await;
        assert_eq!(alg_and_kid(&access(&r)).0, "RS256", "a refresh signs with the app's algorithm now");

        // Where the keys are: the dynamic-key table holds RSA keys only (a Java core takes every row
        // there for one); ES256 rows of jwt_signing_keys have neither '|' nor ';', which a Java core
        // reads as a symmetric key and leaves out of its JWKS and key choice.
        let tenant = app.state.registry.snapshot().get(&portcullis_core::ids::TenantIdentifier::new("", "a1", "public")).unwrap().clone();
        let storage: &dyn SessionStorage = tenant.storage.as_ref();
        let dynamic = storage.dynamic_keys(AppKey::new("a1")).await.unwrap();
        assert!(!dynamic.is_empty() && dynamic.iter().all(|k| k.value.contains('|')));
        let rows = storage.static_keys(AppKey::new("a1")).await.unwrap();
        let es_rows: Vec<_> = rows.iter().filter(|r| r.algorithm == "ES256").collect();
        assert!(es_rows.iter().any(|r| r.key_id.starts_with("d-")) && es_rows.iter().any(|r| r.key_id.starts_with("s-")), "{es_rows:?}");
        assert!(es_rows.iter().all(|r| !r.key_string.contains('|') && !r.key_string.contains(';')));

        // Once the ES256 dynamic keys are past their lifetime (interval + 2 × access-token
        // validity) they leave the JWKS, and the cleanup job deletes their rows.
        let lifetime = 3_600 + 2 * 3_600_000;
        app.clock.advance(lifetime + 10_000);
        let fresh = access(&create(&app, p, true).await);
        assert_eq!(verify_by_core(&app, p, &fresh).await["status"], "OK");
        let keys = jwks(&app, p).await;
        assert!(!keys.iter().any(|k| k["kty"] == "EC" && k["kid"].as_str().unwrap().starts_with("d-")), "{keys:?}");
        assert!(run(&app.state, Job::DeleteExpiredSigningKeys, app.clock.now()).await.unwrap().unwrap_or(0) >= 1);
        let rows = storage.static_keys(AppKey::new("a1")).await.unwrap();
        assert!(!rows.iter().any(|r| r.algorithm == "ES256" && r.key_id.starts_with("d-")), "{rows:?}");
    }
}

#[tokio::test]
async fn a_bad_algorithm_is_refused() {
    let b = backends()[0];
    let app = TestApp::spawn(b).await;
    for bad in [json!("HS256"), json!("es256"), json!(""), json!(1)] {
        let (s, body) = app.call("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a2", "coreConfig": {"access_token_signing_algorithm": bad}}))).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    let (s, body) = app.call("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a2", "coreConfig": {"access_token_signing_algorithm": "HS256"}}))).await;
    assert_eq!(s, 400);
    assert!(body.contains("'access_token_signing_algorithm' must be one of 'RS256' or 'ES256'"), "{body}");
    // In the base config it stops the start.
    let env = [("ACCESS_TOKEN_SIGNING_ALGORITHM", "RSA")];
    let lookup = move |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
    let err = portcullis_core::config::Config::load(portcullis_core::config::Sources { yaml: None, env: &lookup, overrides: vec![] }).unwrap_err();
    assert!(err.to_string().contains("access_token_signing_algorithm"), "{err}");
}
