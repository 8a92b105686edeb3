//! Passwordless through the real HTTP server, on every backend: codes and their formats, consume
//! by user input code and by link code, attempts and expiry, listing and revoking, user updates
//! and lookups, tenants, concurrency and the cron.

use crate::common::{backends, config, Backend, TestApp};
use serde_json::{json, Value};

fn cfg(b: Backend) -> portcullis_core::config::Config {
    config(b, &[("PASSWORDLESS_MAX_CODE_INPUT_ATTEMPTS", "3")])
}

async fn create(app: &TestApp, tenant: &str, body: Value) -> Value {
    app.json("POST", &format!("/{tenant}/recipe/signinup/code"), Some(body)).await
}

async fn consume(app: &TestApp, tenant: &str, body: Value) -> Value {
    app.json("POST", &format!("/{tenant}/recipe/signinup/code/consume"), Some(body)).await
}

/// Consume by the code's device id and user input code.
fn typed(code: &Value, user_input_code: &str) -> Value {
    json!({"preAuthSessionId": code["preAuthSessionId"], "deviceId": code["deviceId"], "userInputCode": user_input_code})
}

fn linked(code: &Value) -> Value {
    json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": code["linkCode"]})
}

async fn list(app: &TestApp, tenant: &str, query: &str) -> Value {
    let r = app.json("GET", &format!("/{tenant}/recipe/signinup/codes?{query}"), None).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["devices"].clone()
}

/// A request with `rid: passwordless` (PUT and GET /recipe/user are shared by the recipes).
async fn pl_user(app: &TestApp, method: &str, path_and_query: &str, body: Option<Value>) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.client.request(m, format!("{}{}", app.url, path_and_query)).header("cdi-version", "5.4").header("rid", "passwordless");
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn pl_user_json(app: &TestApp, method: &str, path_and_query: &str, body: Option<Value>) -> Value {
    let (s, t) = pl_user(app, method, path_and_query, body).await;
    assert_eq!(s, 200, "{t}");
    serde_json::from_str(&t).unwrap()
}

fn is_b64(s: &str, url_safe: bool) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || if url_safe { c == '-' || c == '_' } else { c == '+' || c == '/' || c == '=' })
}

async fn sign_in(app: &TestApp, tenant: &str, contact: Value) -> Value {
    let code = create(app, tenant, contact).await;
    let r = consume(app, tenant, typed(&code, code["userInputCode"].as_str().unwrap())).await;
    assert_eq!(r["status"], "OK", "{r}");
    r
}

#[tokio::test]
async fn codes_have_the_core_formats_and_sign_up_then_sign_in() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let before = app.clock.now();
        let code = create(&app, "public", json!({"email": "  Alice@Example.COM "})).await;
        assert_eq!(code["status"], "OK", "{code}");
        let device_id = code["deviceId"].as_str().unwrap();
        assert_eq!(device_id.len(), 44);
        assert!(device_id.ends_with('=') && is_b64(device_id, false), "{device_id}");
        let pre_auth = code["preAuthSessionId"].as_str().unwrap();
        assert_eq!(pre_auth.len(), 43);
        assert!(is_b64(pre_auth, true), "{pre_auth}");
        let link = code["linkCode"].as_str().unwrap();
        assert_eq!(link.len(), 43);
        assert!(is_b64(link, true), "{link}");
        let uic = code["userInputCode"].as_str().unwrap();
        assert!(uic.len() == 6 && uic.chars().all(|c| c.is_ascii_digit()), "{uic}");
        assert_eq!(code["codeId"].as_str().unwrap().len(), 36);
        assert_eq!(code["codeLifetime"], 900000);
        let created = code["timeCreated"].as_i64().unwrap();
        assert!(created >= before && created <= app.clock.now());

        let r = consume(&app, "public", typed(&code, uic)).await;
        assert_eq!(r["status"], "OK", "{r}");
        assert_eq!(r["createdNewUser"], true);
        let id = r["recipeUserId"].as_str().unwrap().to_owned();
        assert_eq!(r["user"]["id"], id.as_str());
        assert_eq!(r["user"]["emails"], json!(["alice@example.com"]));
        assert_eq!(r["user"]["phoneNumbers"], json!([]));
        let method = &r["user"]["loginMethods"][0];
        assert_eq!(method["recipeId"], "passwordless");
        assert_eq!(method["email"], "alice@example.com");
        assert_eq!(method["verified"], true, "consuming a code verifies the email (CDI ≥ 4.0)");
        assert_eq!(method["tenantIds"], json!(["public"]));
        assert_eq!(r["consumedDevice"], json!({"preAuthSessionId": pre_auth, "failedCodeInputAttemptCount": 0, "email": "alice@example.com"}));

        // The code and its device are gone; signing in again finds the same user.
        assert_eq!(consume(&app, "public", typed(&code, uic)).await, json!({"status": "RESTART_FLOW_ERROR"}));
        assert_eq!(list(&app, "public", "email=alice@example.com").await, json!([]));
        let again = sign_in(&app, "public", json!({"email": "alice@example.com"})).await;
        assert_eq!(again["createdNewUser"], false);
        assert_eq!(again["recipeUserId"], id.as_str());
        assert_eq!(app.json("GET", "/public/users/count", None).await["count"], 1);
        let users = app.json("GET", "/public/users?includeRecipeIds=passwordless", None).await;
        assert_eq!(users["users"][0]["id"], id.as_str());
    }
}

#[tokio::test]
async fn link_codes_and_phone_numbers() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let code = create(&app, "public", json!({"phoneNumber": " +1 (415) 555-0100 "})).await;
        let r = consume(&app, "public", linked(&code)).await;
        assert_eq!(r["status"], "OK", "{r}");
        assert_eq!(r["user"]["phoneNumbers"], json!(["+14155550100"]));
        assert_eq!(r["user"]["loginMethods"][0]["phoneNumber"], "+14155550100");
        // A phone-only login method is reported verified, as supertokens-python's own suite expects
        // of the core (tests/test_passwordless.py::test_passwordless_otp).
        assert_eq!(r["user"]["loginMethods"][0]["verified"], true);
        assert_eq!(r["consumedDevice"]["phoneNumber"], "+14155550100");
        assert!(r["consumedDevice"].get("email").is_none());
        // A padded preAuthSessionId is accepted, a link code is single use.
        let code = create(&app, "public", json!({"phoneNumber": "+14155550100"})).await;
        let padded = json!({"preAuthSessionId": format!("{}=", code["preAuthSessionId"].as_str().unwrap()), "linkCode": code["linkCode"]});
        let r = consume(&app, "public", padded.clone()).await;
        assert_eq!((r["status"].as_str(), r["createdNewUser"].as_bool()), (Some("OK"), Some(false)), "{r}");
        assert_eq!(consume(&app, "public", padded).await, json!({"status": "RESTART_FLOW_ERROR"}));
        // Checking does not consume.
        let code = create(&app, "public", json!({"phoneNumber": "+14155550100"})).await;
        let c = app.json("POST", "/public/recipe/signinup/code/check", Some(linked(&code))).await;
        assert_eq!(c["status"], "OK", "{c}");
        assert_eq!(c["consumedDevice"]["phoneNumber"], "+14155550100");
        assert_eq!(consume(&app, "public", linked(&code)).await["status"], "OK");
    }
}

#[tokio::test]
async fn wrong_codes_count_until_the_flow_restarts() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let code = create(&app, "public", json!({"email": "a@x.com"})).await;
        let wrong = if code["userInputCode"] == "000000" { "111111" } else { "000000" };
        for n in 1..=2 {
            let r = consume(&app, "public", typed(&code, wrong)).await;
            assert_eq!(r, json!({"status": "INCORRECT_USER_INPUT_CODE_ERROR", "failedCodeInputAttemptCount": n, "maximumCodeInputAttempts": 3}));
        }
        let devices = list(&app, "public", &format!("preAuthSessionId={}", code["preAuthSessionId"].as_str().unwrap())).await;
        assert_eq!(devices[0]["failedCodeInputAttemptCount"], 2);
        // The third failure reaches the maximum: the device is removed.
        assert_eq!(consume(&app, "public", typed(&code, wrong)).await, json!({"status": "RESTART_FLOW_ERROR"}));
        assert_eq!(consume(&app, "public", typed(&code, code["userInputCode"].as_str().unwrap())).await, json!({"status": "RESTART_FLOW_ERROR"}));
        assert_eq!(list(&app, "public", "email=a@x.com").await, json!([]));
        // A wrong link code restarts the flow without counting.
        let code = create(&app, "public", json!({"email": "a@x.com"})).await;
        let bad_link = json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
        assert_eq!(consume(&app, "public", bad_link).await, json!({"status": "RESTART_FLOW_ERROR"}));
        assert_eq!(list(&app, "public", "email=a@x.com").await[0]["failedCodeInputAttemptCount"], 0);
        // Failed attempts are remembered across consumes: the count shows in the consumed device.
        let r = consume(&app, "public", typed(&code, wrong)).await;
        assert_eq!(r["failedCodeInputAttemptCount"], 1);
        let ok = consume(&app, "public", typed(&code, code["userInputCode"].as_str().unwrap())).await;
        assert_eq!(ok["consumedDevice"]["failedCodeInputAttemptCount"], 1);
        assert_eq!(app.json("GET", "/public/users/count", None).await["count"], 1, "only the successful consume made a user");
    }
}

#[tokio::test]
async fn codes_expire_and_resent_codes_work() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let code = create(&app, "public", json!({"email": "e@x.com"})).await;
        let uic = code["userInputCode"].as_str().unwrap().to_owned();
        app.clock.advance(900_001);
        let r = consume(&app, "public", typed(&code, &uic)).await;
        assert_eq!(r, json!({"status": "EXPIRED_USER_INPUT_CODE_ERROR", "failedCodeInputAttemptCount": 1, "maximumCodeInputAttempts": 3}));
        assert_eq!(consume(&app, "public", linked(&code)).await, json!({"status": "RESTART_FLOW_ERROR"}));
        // A new code for the same device: same device and pre-auth session, another code.
        let resent = create(&app, "public", json!({"deviceId": code["deviceId"]})).await;
        assert_eq!(resent["status"], "OK", "{resent}");
        assert_eq!(resent["deviceId"], code["deviceId"]);
        assert_eq!(resent["preAuthSessionId"], code["preAuthSessionId"]);
        assert_ne!(resent["codeId"], code["codeId"]);
        let devices = list(&app, "public", &format!("deviceId={}", urlencode(code["deviceId"].as_str().unwrap()))).await;
        assert_eq!(devices[0]["codes"].as_array().unwrap().len(), 2, "expired codes are listed too");
        let r = consume(&app, "public", typed(&resent, resent["userInputCode"].as_str().unwrap())).await;
        assert_eq!(r["status"], "OK", "{r}");
        assert_eq!(r["consumedDevice"]["failedCodeInputAttemptCount"], 1);
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

#[tokio::test]
async fn chosen_user_input_codes_and_resend_statuses() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let code = create(&app, "public", json!({"email": "c@x.com", "userInputCode": "abc"})).await;
        assert_eq!(code["userInputCode"], "abc");
        let same = create(&app, "public", json!({"deviceId": code["deviceId"], "userInputCode": "abc"})).await;
        assert_eq!(same, json!({"status": "USER_INPUT_CODE_ALREADY_USED_ERROR"}));
        let other = create(&app, "public", json!({"deviceId": code["deviceId"], "userInputCode": "xyz"})).await;
        assert_eq!(other["status"], "OK");
        assert_eq!(consume(&app, "public", typed(&code, "xyz")).await["status"], "OK");
        // The device is gone once consumed; an unknown device restarts the flow.
        assert_eq!(create(&app, "public", json!({"deviceId": code["deviceId"]})).await, json!({"status": "RESTART_FLOW_ERROR"}));
        let (s, t) = app.call("POST", "/public/recipe/signinup/code", Some(json!({"deviceId": "%%%"}))).await;
        assert_eq!((s, t.as_str()), (400, "Input encoding error in deviceId\n"));
    }
}

/// Java's base64 decoders ignore non-zero trailing bits, so ids like these decode (to ids nothing
/// has) and the core answers RESTART_FLOW_ERROR; only illegal characters or padding are a 400.
#[tokio::test]
async fn ids_that_java_decodes_restart_the_flow() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let restart = json!({"status": "RESTART_FLOW_ERROR"});
        assert_eq!(create(&app, "public", json!({"deviceId": "random"})).await, restart);
        let code = create(&app, "public", json!({"email": "lenient@x.com"})).await;
        let by_link = json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": "invalidLinkCode"});
        assert_eq!(consume(&app, "public", by_link).await, restart);
        // A device id that decodes but names no device, with its own matching preAuthSessionId.
        let pre_auth = portcullis_core::passwordless::codes::DeviceId::decode("random").unwrap().hash();
        let by_device = json!({"preAuthSessionId": pre_auth, "deviceId": "random", "userInputCode": "123456"});
        assert_eq!(consume(&app, "public", by_device).await, restart);
        assert_eq!(list(&app, "public", "deviceId=random").await, json!([]));
        // Illegal input stays a 400, as in Java: a short padded group, characters of the other alphabet.
        for (path, body, text) in [
            ("code", json!({"deviceId": "YQ="}), "Input encoding error in deviceId\n"),
            ("code", json!({"deviceId": "a-b_"}), "Input encoding error in deviceId\n"),
            ("code/consume", json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": "a+b/"}), "Input encoding error in linkCode\n"),
            ("code/consume", json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": "YQ="}), "Input encoding error in linkCode\n"),
        ] {
            let (s, t) = app.call("POST", &format!("/public/recipe/signinup/{path}"), Some(body.clone())).await;
            assert_eq!((s, t.as_str()), (400, text), "{body}");
        }
        // The real code still works after all that.
        assert_eq!(consume(&app, "public", linked(&code)).await["status"], "OK");
    }
}

#[tokio::test]
async fn bad_input_gets_the_core_400s() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let one_of = "Please provide exactly one of email, phoneNumber or deviceId\n";
        for (body, text) in [
            (json!({}), one_of),
            (json!({"email": "a@x.com", "phoneNumber": "+14155550100"}), one_of),
            (json!({"email": null}), "Field name 'email' is invalid in JSON input\n"),
            (json!({"email": 1}), "Field name 'email' is invalid in JSON input\n"),
            (json!({"email": "a@x.com", "userInputCode": ""}), "userInputCode cannot be an empty string.\n"),
            (json!({"email": "a@x.com", "userInputCode": null}), "Field name 'userInputCode' is invalid in JSON input\n"),
        ] {
            let (s, t) = app.call("POST", "/public/recipe/signinup/code", Some(body.clone())).await;
            assert_eq!((s, t.as_str()), (400, text), "{body}");
        }
        let code = create(&app, "public", json!({"email": "a@x.com"})).await;
        let consume_one_of = "Please provide exactly one of linkCode or deviceId+userInputCode\n";
        for (body, text) in [
            (json!({"linkCode": code["linkCode"]}), "Field name 'preAuthSessionId' is invalid in JSON input\n"),
            (json!({"preAuthSessionId": code["preAuthSessionId"]}), consume_one_of),
            (json!({"preAuthSessionId": code["preAuthSessionId"], "deviceId": code["deviceId"]}), consume_one_of),
            (json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": code["linkCode"], "deviceId": code["deviceId"]}), consume_one_of),
            (json!({"preAuthSessionId": code["preAuthSessionId"], "linkCode": "!!"}), "Input encoding error in linkCode\n"),
            (json!({"preAuthSessionId": "other", "linkCode": code["linkCode"]}), "preAuthSessionId and deviceId doesn't match\n"),
            (json!({"preAuthSessionId": "other", "deviceId": code["deviceId"], "userInputCode": "1"}), "preAuthSessionId and deviceId doesn't match\n"),
        ] {
            let (s, t) = app.call("POST", "/public/recipe/signinup/code/consume", Some(body.clone())).await;
            assert_eq!((s, t.as_str()), (400, text), "{body}");
        }
        let (s, _) = app.call("POST", "/public/recipe/signinup/code/consume", None).await;
        assert_eq!(s, 400);
        for q in ["", "email=a@x.com&phoneNumber=1", "deviceId=%25%25"] {
            let (s, _) = app.call("GET", &format!("/public/recipe/signinup/codes?{q}"), None).await;
            assert_eq!(s, 400, "{q}");
        }
        for body in [json!({}), json!({"email": "a@x.com", "phoneNumber": "+1"})] {
            let (s, t) = app.call("POST", "/public/recipe/signinup/codes/remove", Some(body)).await;
            assert_eq!((s, t.as_str()), (400, "Please provide exactly one of email or phoneNumber\n"));
        }
        let (s, t) = app.call("POST", "/public/recipe/signinup/code/remove", Some(json!({}))).await;
        assert_eq!((s, t.as_str()), (400, "Please provide either 'codeId' or 'preAuthSessionId'\n"));
        let (s, t) = app.call("POST", "/public/recipe/signinup/code/remove", Some(json!({"codeId": "a", "preAuthSessionId": "b"}))).await;
        assert_eq!((s, t.as_str()), (400, "Please provide only one of 'codeId' or 'preAuthSessionId'\n"));
        let (s, _) = app.call("POST", "/nope/recipe/signinup/code", Some(json!({"email": "a@x.com"}))).await;
        assert_eq!(s, 400, "unknown tenant");
        let (s, _) = app.call("GET", "/public/recipe/signinup/code", None).await;
        assert_eq!(s, 405);
        assert_eq!(app.json("GET", "/public/users/count", None).await["count"], 0, "no failure wrote a user");
    }
}

#[tokio::test]
async fn listing_and_revoking() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let a1 = create(&app, "public", json!({"email": "l@x.com"})).await;
        let a2 = create(&app, "public", json!({"deviceId": a1["deviceId"]})).await;
        let b1 = create(&app, "public", json!({"email": "L@x.com"})).await;
        let p1 = create(&app, "public", json!({"phoneNumber": "+442071838750"})).await;
        let by_email = list(&app, "public", "email=l@X.com").await;
        assert_eq!(by_email.as_array().unwrap().len(), 2);
        let dev = by_email.as_array().unwrap().iter().find(|d| d["preAuthSessionId"] == a1["preAuthSessionId"]).unwrap();
        assert_eq!(dev["email"], "l@x.com");
        assert!(dev.get("phoneNumber").is_none());
        let codes: Vec<&str> = dev["codes"].as_array().unwrap().iter().map(|c| c["codeId"].as_str().unwrap()).collect();
        assert!(codes.contains(&a1["codeId"].as_str().unwrap()) && codes.contains(&a2["codeId"].as_str().unwrap()));
        assert_eq!(dev["codes"][0]["codeLifetime"], 900000);
        assert!(dev["codes"][0]["timeCreated"].is_i64());
        let by_phone = list(&app, "public", "phoneNumber=%2B442071838750").await;
        assert_eq!(by_phone[0]["phoneNumber"], "+442071838750");
        assert_eq!(by_phone[0]["preAuthSessionId"], p1["preAuthSessionId"]);
        assert_eq!(list(&app, "public", &format!("deviceId={}", urlencode(b1["deviceId"].as_str().unwrap()))).await[0]["preAuthSessionId"], b1["preAuthSessionId"]);
        assert_eq!(list(&app, "public", "preAuthSessionId=unknown").await, json!([]));
        assert_eq!(list(&app, "public", "email=nobody@x.com").await, json!([]));

        // Revoking one of two codes keeps the device; revoking its last code removes it.
        let revoke = |body: Value| app.json("POST", "/public/recipe/signinup/code/remove", Some(body));
        assert_eq!(revoke(json!({"codeId": a1["codeId"]})).await, json!({"status": "OK"}));
        let pre = format!("preAuthSessionId={}", a1["preAuthSessionId"].as_str().unwrap());
        assert_eq!(list(&app, "public", &pre).await[0]["codes"].as_array().unwrap().len(), 1);
        assert_eq!(consume(&app, "public", linked(&a1)).await["status"], "RESTART_FLOW_ERROR", "a revoked code cannot be used");
        assert_eq!(revoke(json!({"codeId": a2["codeId"]})).await["status"], "OK");
        assert_eq!(list(&app, "public", &pre).await, json!([]));
        assert_eq!(revoke(json!({"codeId": "00000000-0000-4000-8000-000000000000"})).await["status"], "OK");
        // A whole device by pre-auth session id; all devices of an email or phone number.
        let b2 = create(&app, "public", json!({"email": "l@x.com"})).await;
        assert_eq!(revoke(json!({"preAuthSessionId": b2["preAuthSessionId"]})).await["status"], "OK");
        assert_eq!(list(&app, "public", "email=l@x.com").await.as_array().unwrap().len(), 1);
        let all = app.json("POST", "/public/recipe/signinup/codes/remove", Some(json!({"email": " L@X.com"}))).await;
        assert_eq!(all, json!({"status": "OK"}));
        assert_eq!(list(&app, "public", "email=l@x.com").await, json!([]));
        assert_eq!(list(&app, "public", "phoneNumber=%2B442071838750").await.as_array().unwrap().len(), 1);
        app.json("POST", "/public/recipe/signinup/codes/remove", Some(json!({"phoneNumber": "+442071838750"}))).await;
        assert_eq!(list(&app, "public", "phoneNumber=%2B442071838750").await, json!([]));
        assert_eq!(consume(&app, "public", linked(&b1)).await["status"], "RESTART_FLOW_ERROR");
    }
}

#[tokio::test]
async fn tenants_are_isolated() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let code = create(&app, "t1", json!({"email": "t@x.com"})).await;
        assert_eq!(list(&app, "public", "email=t@x.com").await, json!([]));
        assert_eq!(list(&app, "t1", "email=t@x.com").await.as_array().unwrap().len(), 1);
        assert_eq!(consume(&app, "public", linked(&code)).await["status"], "RESTART_FLOW_ERROR");
        assert_eq!(consume(&app, "public", typed(&code, code["userInputCode"].as_str().unwrap())).await["status"], "RESTART_FLOW_ERROR");
        let in_t1 = consume(&app, "t1", linked(&code)).await;
        assert_eq!(in_t1["user"]["tenantIds"], json!(["t1"]));
        let in_public = sign_in(&app, "public", json!({"email": "t@x.com"})).await;
        assert_eq!(in_public["createdNewUser"], true, "the same email in another tenant is another user");
        assert_ne!(in_public["recipeUserId"], in_t1["recipeUserId"]);
        // Associating the t1 user with public now conflicts on the email.
        let r = app.json("POST", "/public/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": in_t1["recipeUserId"]}))).await;
        assert_eq!(r["status"], "EMAIL_ALREADY_EXISTS_ERROR");
        // And on the phone number for phone users.
        let phone_t1 = sign_in(&app, "t1", json!({"phoneNumber": "+15550009999"})).await;
        sign_in(&app, "public", json!({"phoneNumber": "+15550009999"})).await;
        let r = app.json("POST", "/public/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": phone_t1["recipeUserId"]}))).await;
        assert_eq!(r, json!({"status": "PHONE_NUMBER_ALREADY_EXISTS_ERROR"}));
    }
}

#[tokio::test]
async fn concurrent_consumes_of_one_code_give_one_user() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let code = create(&app, "public", json!({"email": "race@x.com"})).await;
        let uic = code["userInputCode"].as_str().unwrap().to_owned();
        let calls = (0..12).map(|i| {
            let body = if i % 2 == 0 { typed(&code, &uic) } else { linked(&code) };
            consume(&app, "public", body)
        });
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r["status"] == "OK").count();
        let restart = results.iter().filter(|r| r["status"] == "RESTART_FLOW_ERROR").count();
        assert_eq!((ok, restart), (1, 11), "{results:?}");
        assert_eq!(app.json("GET", "/public/users/count", None).await["count"], 1);
        // Two devices for one new email consumed at once: one user.
        let c1 = create(&app, "public", json!({"email": "twin@x.com"})).await;
        let c2 = create(&app, "public", json!({"email": "twin@x.com"})).await;
        let (r1, r2) = tokio::join!(consume(&app, "public", linked(&c1)), consume(&app, "public", linked(&c2)));
        let statuses = [r1["status"].as_str().unwrap(), r2["status"].as_str().unwrap()];
        assert!(statuses.contains(&"OK"), "{r1} {r2}");
        assert_eq!(app.json("GET", "/public/users/count", None).await["count"], 2);
    }
}

#[tokio::test]
async fn cron_removes_devices_whose_codes_all_expired() {
    use portcullis::cron::{run, Job};
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let old = create(&app, "public", json!({"email": "old@x.com"})).await;
        let kept = create(&app, "public", json!({"email": "kept@x.com"})).await;
        app.clock.advance(800_000);
        create(&app, "public", json!({"deviceId": kept["deviceId"]})).await;
        app.clock.advance(100_001);
        let removed = run(&app.state, Job::DeleteExpiredPasswordlessDevices, app.clock.now()).await.unwrap();
        assert_eq!(removed, Some(1));
        assert_eq!(list(&app, "public", "email=old@x.com").await, json!([]));
        assert_eq!(consume(&app, "public", typed(&old, old["userInputCode"].as_str().unwrap())).await["status"], "RESTART_FLOW_ERROR");
        let kept_devices = list(&app, "public", "email=kept@x.com").await;
        assert_eq!(kept_devices[0]["codes"].as_array().unwrap().len(), 2, "a device with a fresh code keeps its expired ones");
        let r = consume(&app, "public", typed(&kept, kept["userInputCode"].as_str().unwrap())).await;
        assert_eq!(r["status"], "EXPIRED_USER_INPUT_CODE_ERROR", "so an expired code is told apart from a wrong one");
    }
}

#[tokio::test]
async fn updating_email_and_phone() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let u = sign_in(&app, "public", json!({"email": "u@x.com"})).await;
        let id = u["recipeUserId"].as_str().unwrap().to_owned();
        sign_in(&app, "public", json!({"email": "other@x.com"})).await;
        sign_in(&app, "public", json!({"phoneNumber": "+15550000001"})).await;
        let put = |body: Value| pl_user_json(&app, "PUT", "/recipe/user", Some(body));

        assert_eq!(put(json!({"recipeUserId": id, "phoneNumber": "+15550000002"})).await, json!({"status": "OK"}));
        let user = app.json("GET", &format!("/user/id?userId={id}"), None).await["user"].clone();
        assert_eq!((user["emails"].clone(), user["phoneNumbers"].clone()), (json!(["u@x.com"]), json!(["+15550000002"])));
        assert_eq!(put(json!({"recipeUserId": id, "email": "OTHER@x.com"})).await, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
        assert_eq!(put(json!({"recipeUserId": id, "phoneNumber": "+15550000001"})).await, json!({"status": "PHONE_NUMBER_ALREADY_EXISTS_ERROR"}));
        assert_eq!(put(json!({"recipeUserId": id, "email": "x@x.com", "phoneNumber": "+15550000001"})).await["status"], "PHONE_NUMBER_ALREADY_EXISTS_ERROR");
        let user = app.json("GET", &format!("/user/id?userId={id}"), None).await["user"].clone();
        assert_eq!(user["emails"], json!(["u@x.com"]), "a refused update changes nothing");
        // JSON null removes; a user keeps at least one of the two.
        assert_eq!(put(json!({"recipeUserId": id, "email": null})).await["status"], "OK");
        let (s, t) = pl_user(&app, "PUT", "/recipe/user", Some(json!({"recipeUserId": id, "phoneNumber": null}))).await;
        assert_eq!((s, t.as_str()), (400, "You cannot clear both email and phone number of a user\n"));
        assert_eq!(put(json!({"recipeUserId": id, "email": "New@X.com", "phoneNumber": null})).await["status"], "OK");
        let m = app.json("GET", &format!("/user/id?userId={id}"), None).await["user"]["loginMethods"][0].clone();
        assert_eq!((m["email"].clone(), m.get("phoneNumber").cloned()), (json!("new@x.com"), None));
        // Pending sign-ins for the old and the new email end.
        let pending_new = create(&app, "public", json!({"email": "newer@x.com"})).await;
        let pending_old = create(&app, "public", json!({"email": "new@x.com"})).await;
        assert_eq!(put(json!({"recipeUserId": id, "email": "newer@x.com"})).await["status"], "OK");
        assert_eq!(consume(&app, "public", linked(&pending_new)).await["status"], "RESTART_FLOW_ERROR");
        assert_eq!(consume(&app, "public", linked(&pending_old)).await["status"], "RESTART_FLOW_ERROR");
        // Unknown users, and users of other recipes.
        assert_eq!(put(json!({"recipeUserId": "nope", "email": "a@b.c"})).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        let ep = app.json("POST", "/public/recipe/signup", Some(json!({"email": "ep@x.com", "password": "pw-12345"}))).await;
        assert_eq!(put(json!({"recipeUserId": ep["recipeUserId"], "email": "a@b.c"})).await["status"], "UNKNOWN_USER_ID_ERROR");
        let (s, _) = pl_user(&app, "PUT", "/recipe/user", Some(json!({"recipeUserId": id, "email": 1}))).await;
        assert_eq!(s, 400);
        // External ids are accepted.
        app.json("POST", "/recipe/userid/map", Some(json!({"superTokensUserId": id, "externalUserId": "ext-1"}))).await;
        assert_eq!(put(json!({"recipeUserId": "ext-1", "phoneNumber": "+15550000003"})).await["status"], "OK");
        let r = sign_in(&app, "public", json!({"phoneNumber": "+15550000003"})).await;
        assert_eq!(r["recipeUserId"], "ext-1");
        assert_eq!(r["user"]["id"], "ext-1");
    }
}

#[tokio::test]
async fn deprecated_get_user() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let u = sign_in(&app, "public", json!({"email": "g@x.com"})).await;
        let id = u["recipeUserId"].as_str().unwrap();
        let p = sign_in(&app, "public", json!({"phoneNumber": "+15550000009"})).await;
        let get = |q: String| {
            let path = format!("/recipe/user?{q}");
            let app = &app;
            async move { pl_user_json(app, "GET", &path, None).await }
        };
        let by_id = get(format!("userId={id}")).await;
        assert_eq!(by_id["status"], "OK");
        assert_eq!(by_id["user"]["id"], id);
        assert_eq!(by_id["user"]["loginMethods"][0]["recipeId"], "passwordless");
        assert_eq!(get("email=G@x.com".into()).await["user"]["id"], id);
        assert_eq!(get("phoneNumber=%2B15550000009".into()).await["user"], p["user"]);
        assert_eq!(get("userId=nope".into()).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        assert_eq!(get("email=nobody@x.com".into()).await, json!({"status": "UNKNOWN_EMAIL_ERROR"}));
        assert_eq!(get("phoneNumber=%2B1999".into()).await, json!({"status": "UNKNOWN_PHONE_NUMBER_ERROR"}));
        // Other recipes' users are not passwordless users.
        let ep = app.json("POST", "/public/recipe/signup", Some(json!({"email": "ep@x.com", "password": "pw-12345"}))).await;
        assert_eq!(get(format!("userId={}", ep["recipeUserId"].as_str().unwrap())).await["status"], "UNKNOWN_USER_ID_ERROR");
        assert_eq!(get("email=ep@x.com".into()).await["status"], "UNKNOWN_EMAIL_ERROR");
        for q in ["", "userId=a&email=b"] {
            let (s, t) = pl_user(&app, "GET", &format!("/recipe/user?{q}"), None).await;
            assert_eq!((s, t.as_str()), (400, "Please provide exactly one of userId, email or phoneNumber\n"));
        }
        // Without the rid header, /recipe/user stays email-password's.
        let (_, t) = app.call("GET", &format!("/recipe/user?userId={id}"), None).await;
        assert!(t.contains("UNKNOWN_USER_ID_ERROR"), "{t}");
    }
}

#[tokio::test]
async fn deleting_a_user_removes_its_pending_codes() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let u = sign_in(&app, "public", json!({"email": "d@x.com"})).await;
        let pending = create(&app, "public", json!({"email": "d@x.com"})).await;
        app.json("POST", "/user/remove", Some(json!({"userId": u["recipeUserId"]}))).await;
        assert_eq!(consume(&app, "public", linked(&pending)).await["status"], "RESTART_FLOW_ERROR");
        let again = sign_in(&app, "public", json!({"email": "d@x.com"})).await;
        assert_eq!(again["createdNewUser"], true);
    }
}

#[tokio::test]
async fn lifetime_and_attempts_come_from_the_tenant_config() {
    for b in backends() {
        let app = TestApp::spawn_with(cfg(b)).await;
        let core_config = json!({"passwordless_code_lifetime": 1000, "passwordless_max_code_input_attempts": 1});
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "short", "coreConfig": core_config}))).await;
        let code = create(&app, "short", json!({"email": "s@x.com"})).await;
        assert_eq!(code["codeLifetime"], 1000);
        assert_eq!(list(&app, "short", "email=s@x.com").await[0]["codes"][0]["codeLifetime"], 1000);
        assert_eq!(consume(&app, "short", typed(&code, "nope")).await, json!({"status": "RESTART_FLOW_ERROR"}), "one attempt allowed");
        let code = create(&app, "short", json!({"email": "s@x.com"})).await;
        app.clock.advance(1001);
        assert_eq!(consume(&app, "short", linked(&code)).await["status"], "RESTART_FLOW_ERROR");
        // The public tenant keeps the base values.
        let code = create(&app, "public", json!({"email": "s@x.com"})).await;
        assert_eq!(code["codeLifetime"], 900000);
        assert_eq!(consume(&app, "public", linked(&code)).await["status"], "OK");
    }
}
