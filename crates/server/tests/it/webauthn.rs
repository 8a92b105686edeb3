//! WebAuthn through the real HTTP server on every backend, with the software authenticator of
//! `portcullis_core::webauthn::test_authenticator` (ES256, EdDSA, RS256; none, packed self and x5c):
//! every endpoint, every status it can answer, and the negative ceremonies the issue names (a
//! forged signature, a wrong origin, a replayed challenge, an unknown credential, a counter going
//! backwards, a recovery token used twice).

use portcullis_core::webauthn::test_authenticator::{tamper, Algorithm, Attestation, Authenticator, Request};
use serde_json::{json, Value};

use crate::common::{backends, TestApp};

const ORIGIN: &str = "https://example.com";
const RP: &str = "example.com";

async fn register_options(app: &TestApp, tenant: &str, email: &str) -> Value {
    let body = json!({"email": email, "relyingPartyName": "Example", "relyingPartyId": RP, "origin": ORIGIN, "timeout": 60000,
                      "userVerification": "preferred", "userPresence": true, "attestation": "none", "residentKey": "required"});
    let r = app.json("POST", &format!("/{tenant}/recipe/webauthn/options/register"), Some(body)).await;
    assert_eq!(r["status"], "OK", "{r}");
    r
}

async fn sign_in_options(app: &TestApp, tenant: &str) -> Value {
    let body = json!({"relyingPartyName": "Example", "relyingPartyId": RP, "origin": ORIGIN, "timeout": 60000,
                      "userVerification": "preferred", "userPresence": true});
    let r = app.json("POST", &format!("/{tenant}/recipe/webauthn/options/signin"), Some(body)).await;
    assert_eq!(r["status"], "OK", "{r}");
    r
}

fn request(options: &Value) -> Request {
    Request::new(options["challenge"].as_str().unwrap(), ORIGIN, RP)
}

fn id(options: &Value) -> &str {
    options["webauthnGeneratedOptionsId"].as_str().unwrap()
}

async fn sign_up(app: &TestApp, tenant: &str, options: &Value, credential: Value) -> Value {
    let body = json!({"webauthnGeneratedOptionsId": id(options), "credential": credential});
    app.json("POST", &format!("/{tenant}/recipe/webauthn/signup"), Some(body)).await
}

async fn sign_in(app: &TestApp, tenant: &str, options: &Value, credential: Value) -> Value {
    let body = json!({"webauthnGeneratedOptionsId": id(options), "credential": credential});
    app.json("POST", &format!("/{tenant}/recipe/webauthn/signin"), Some(body)).await
}

/// Signs up a new user with a fresh authenticator; returns the authenticator and the reply.
async fn new_user(app: &TestApp, tenant: &str, email: &str, alg: Algorithm, attestation: Attestation) -> (Authenticator, Value) {
    let mut auth = Authenticator::new(alg);
    let options = register_options(app, tenant, email).await;
    let credential = auth.register(&request(&options), &attestation);
    let r = sign_up(app, tenant, &options, credential).await;
    assert_eq!(r["status"], "OK", "{r}");
    (auth, r)
}

#[tokio::test]
async fn passkeys_sign_up_and_in_with_every_algorithm_and_attestation() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let cases = [
            (Algorithm::EdDsa, Attestation::None),
            (Algorithm::Es256, Attestation::PackedSelf),
            (Algorithm::Rs256, Attestation::x5c()),
            (Algorithm::Es256, Attestation::x5c()),
        ];
        for (i, (alg, attestation)) in cases.into_iter().enumerate() {
            let email = format!("User{i}@Example.com");
            let (mut auth, up) = new_user(&app, "public", &email, alg, attestation).await;
            let user_id = up["recipeUserId"].as_str().unwrap().to_owned();
            assert_eq!(up["webauthnCredentialId"], auth.credential_id_b64().as_str());
            assert_eq!(up["relyingPartyId"], RP);
            assert_eq!(up["relyingPartyName"], "Example");
            let user = &up["user"];
            assert_eq!(user["emails"], json!([format!("user{i}@example.com")]));
            assert_eq!(user["webauthn"], json!({"credentialIds": [auth.credential_id_b64()]}));
            assert_eq!(user["loginMethods"][0]["recipeId"], "webauthn");
            assert_eq!(user["loginMethods"][0]["webauthn"], json!({"credentialIds": [auth.credential_id_b64()]}));

            let options = sign_in_options(&app, "public").await;
            let r = sign_in(&app, "public", &options, auth.assert(&request(&options), Some(user_id.as_bytes()))).await;
            assert_eq!(r["status"], "OK", "{r}");
            assert_eq!(r["recipeUserId"], user_id.as_str());
            assert_eq!(r["user"]["id"], user_id.as_str());
            assert_eq!(r.as_object().unwrap().len(), 3);

            // The SDKs read the options back after signing in: still readable, never usable again.
            let read = app.json("GET", &format!("/public/recipe/webauthn/options?webauthnGeneratedOptionsId={}", id(&options)), None).await;
            assert_eq!(read["status"], "OK", "{read}");
            assert_eq!(read["email"], Value::Null);
            let by_credential = format!("/public/users/by-accountinfo?webauthnCredentialId={}", auth.credential_id_b64());
            let found = app.json("GET", &by_credential, None).await;
            assert_eq!(found["users"].as_array().unwrap().len(), 1, "{found}");
            assert_eq!(found["users"][0]["id"], user_id.as_str());
            let nobody = app.json("GET", "/public/users/by-accountinfo?webauthnCredentialId=unknown", None).await;
            assert_eq!(nobody["users"], json!([]));
            let again = sign_in(&app, "public", &options, auth.assert(&request(&options), None)).await;
            assert_eq!(again, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}), "a replayed challenge");
        }
        // Users API: the webauthn users are listed, found by email, and counted by recipe.
        let count = app.json("GET", "/users/count?includeRecipeIds=webauthn", None).await;
        assert_eq!(count["count"], 4, "{count}");
        let found = app.json("GET", "/public/users/by-accountinfo?email=user0%40example.com", None).await;
        assert_eq!(found["users"][0]["loginMethods"][0]["recipeId"], "webauthn", "{found}");
    }
}

#[tokio::test]
async fn options_endpoints_and_their_refusals() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let r = register_options(&app, "public", "  A@B.com ").await;
        assert_eq!(r["email"], "a@b.com");
        assert_eq!(r["rp"], json!({"id": RP, "name": "Example"}));
        assert_eq!(r["pubKeyCredParams"].as_array().unwrap().len(), 3);
        assert_eq!(r["authenticatorSelection"], json!({"requireResidentKey": true, "residentKey": "required", "userVerification": "preferred"}));
        assert_eq!(r["challenge"].as_str().unwrap().len(), 43);
        let path = format!("/public/recipe/webauthn/options?webauthnGeneratedOptionsId={}", id(&r));
        let read = app.json("GET", &path, None).await;
        assert_eq!(read["email"], "a@b.com");
        assert_eq!(read["challenge"], r["challenge"]);
        assert_eq!(read["timeout"], 60000);
        // Another tenant does not see them.
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let other = app.json("GET", &path.replace("/public/", "/t1/"), None).await;
        assert_eq!(other, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}));

        let remove = format!("/public/recipe/webauthn/options/remove?webauthnGeneratedOptionsId={}", id(&r));
        assert_eq!(app.json("DELETE", &remove, None).await, json!({"status": "OK"}));
        assert_eq!(app.json("DELETE", &remove, None).await, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}));
        assert_eq!(app.json("GET", &path, None).await, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}));

        let base = json!({"email": "a@b.com", "relyingPartyName": "Example", "relyingPartyId": RP, "origin": ORIGIN});
        let refusals = [
            (json!({"origin": "not a url"}), "Origin has to be a valid url!"),
            (json!({"origin": "https://other.com"}), "Origin does not match RelyingParty Id"),
            (json!({"timeout": -1}), "Timeout must be a positive value"),
            (json!({"userVerification": "sometimes"}), "Invalid value 'sometimes' for userVerification. Must be one of: required, discouraged, preferred"),
            (json!({"attestation": "full"}), "Invalid value 'full' for attestation. Must be one of: none, indirect, direct, enterprise"),
            (json!({"residentKey": "maybe"}), "Invalid value 'maybe' for residentKey. Must be one of: required, discouraged, preferred"),
        ];
        for (change, reason) in refusals {
            let mut body = base.clone();
            body.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
            let r = app.json("POST", "/public/recipe/webauthn/options/register", Some(body.clone())).await;
            assert_eq!(r, json!({"status": "INVALID_OPTIONS_ERROR", "reason": reason}), "{body}");
        }
        let bad_sign_in = json!({"relyingPartyName": "Example", "relyingPartyId": RP, "origin": "https://other.com"});
        let r = app.json("POST", "/public/recipe/webauthn/options/signin", Some(bad_sign_in)).await;
        assert_eq!(r, json!({"status": "INVALID_OPTIONS_ERROR", "reason": "Origin does not match RelyingParty Id"}));
        // Shapes the parser refuses are 400s, never 500s.
        for bad in [json!({}), json!({"email": 1, "relyingPartyName": "x", "relyingPartyId": RP, "origin": ORIGIN}),
                    json!({"email": "a@b.com", "relyingPartyName": "x", "relyingPartyId": RP, "origin": ORIGIN, "timeout": "soon"}),
                    json!({"email": "a@b.com", "relyingPartyName": "x", "relyingPartyId": RP, "origin": ORIGIN, "supportedAlgorithmIDs": 7}),
                    json!({"email": "x".repeat(300), "relyingPartyName": "x", "relyingPartyId": RP, "origin": ORIGIN})] {
            let (s, _) = app.call("POST", "/public/recipe/webauthn/options/register", Some(bad.clone())).await;
            assert_eq!(s, 400, "{bad}");
        }
        let (s, _) = app.call("GET", "/public/recipe/webauthn/options", None).await;
        assert_eq!(s, 400);
    }
}

#[tokio::test]
async fn ceremonies_refuse_what_does_not_verify() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        // Sign-up refusals.
        let options = register_options(&app, "public", "a@example.com").await;
        let mut auth = Authenticator::new(Algorithm::Es256);
        let missing = json!({"webauthnGeneratedOptionsId": "00000000-0000-0000-0000-000000000000", "credential": auth.register(&request(&options), &Attestation::None)});
        assert_eq!(app.json("POST", "/public/recipe/webauthn/signup", Some(missing)).await, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}));
        assert_eq!(sign_up(&app, "public", &options, json!({})).await, json!({"status": "INVALID_CREDENTIALS_ERROR", "reason": "credential id is missing!"}));
        let wrong_origin = auth.register(&Request::new(options["challenge"].as_str().unwrap(), "https://evil.com", RP), &Attestation::None);
        let r = sign_up(&app, "public", &options, wrong_origin).await;
        assert_eq!(r["status"], "INVALID_AUTHENTICATOR_ERROR", "{r}");
        let wrong_challenge = auth.register(&Request::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ORIGIN, RP), &Attestation::None);
        let r = sign_up(&app, "public", &options, wrong_challenge).await;
        assert_eq!(r, json!({"status": "INVALID_AUTHENTICATOR_ERROR", "reason": "The actual challenge does not match the expected challenge"}));
        let mut forged = auth.register(&request(&options), &Attestation::PackedSelf);
        tamper(&mut forged, "/response/clientDataJSON", |bytes| bytes.push(b' '));
        let r = sign_up(&app, "public", &options, forged).await;
        assert_eq!(r["status"], "INVALID_AUTHENTICATOR_ERROR", "a forged attestation signature: {r}");
        let r = sign_up(&app, "public", &options, json!({"id": "!!", "type": "public-key"})).await;
        assert_eq!(r["status"], "INVALID_CREDENTIALS_ERROR", "{r}");
        // Failed attempts leave the options usable.
        let ok = sign_up(&app, "public", &options, auth.register(&request(&options), &Attestation::None)).await;
        assert_eq!(ok["status"], "OK", "{ok}");
        let user_id = ok["recipeUserId"].as_str().unwrap().to_owned();
        // Used options are gone; the same email again is taken; the same credential again is refused.
        let again = sign_up(&app, "public", &options, auth.register(&request(&options), &Attestation::None)).await;
        assert_eq!(again, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}));
        let options2 = register_options(&app, "public", "a@example.com").await;
        let other = Authenticator::new(Algorithm::EdDsa).register(&request(&options2), &Attestation::None);
        assert_eq!(sign_up(&app, "public", &options2, other).await, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
        let options3 = register_options(&app, "public", "b@example.com").await;
        let r = sign_up(&app, "public", &options3, auth.register(&request(&options3), &Attestation::None)).await;
        assert_eq!(r, json!({"status": "INVALID_AUTHENTICATOR_ERROR", "reason": "Credential ID already registered"}));
        // Expired options.
        let body = json!({"email": "c@example.com", "relyingPartyName": "Example", "relyingPartyId": RP, "origin": ORIGIN, "timeout": 0});
        let expired = app.json("POST", "/public/recipe/webauthn/options/register", Some(body)).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let r = sign_up(&app, "public", &expired, Authenticator::new(Algorithm::Es256).register(&request(&expired), &Attestation::None)).await;
        assert_eq!(r, json!({"status": "INVALID_OPTIONS_ERROR", "reason": "Options expired"}));
        // Sign-in options cannot register.
        let s = sign_in_options(&app, "public").await;
        let r = sign_up(&app, "public", &s, Authenticator::new(Algorithm::Es256).register(&request(&s), &Attestation::None)).await;
        assert_eq!(r, json!({"status": "INVALID_OPTIONS_ERROR", "reason": "Options were not generated for registration"}));

        // Sign-in refusals.
        let s = sign_in_options(&app, "public").await;
        let unknown = Authenticator::new(Algorithm::Es256).assert(&request(&s), None);
        assert_eq!(sign_in(&app, "public", &s, unknown).await, json!({"status": "CREDENTIAL_NOT_FOUND_ERROR"}), "an unknown credential");
        let mut forged = auth.assert(&request(&s), None);
        tamper(&mut forged, "/response/signature", |sig| {
            let last = sig.len() - 1;
            sig[last] ^= 1;
        });
        let r = sign_in(&app, "public", &s, forged).await;
        assert_eq!(r, json!({"status": "INVALID_AUTHENTICATOR_ERROR", "reason": "Assertion signature is not valid."}), "a forged signature");
        let wrong_origin = auth.assert(&Request::new(s["challenge"].as_str().unwrap(), "https://evil.com", RP), None);
        assert_eq!(sign_in(&app, "public", &s, wrong_origin).await["status"], "INVALID_AUTHENTICATOR_ERROR", "a wrong origin");
        // A counter going backwards (a cloned authenticator).
        let ok = sign_in(&app, "public", &s, auth.assert(&request(&s), None)).await;
        assert_eq!(ok["status"], "OK", "{ok}");
        auth.sign_count -= 2;
        let s2 = sign_in_options(&app, "public").await;
        let r = sign_in(&app, "public", &s2, auth.assert(&request(&s2), None)).await;
        assert_eq!(r["status"], "INVALID_AUTHENTICATOR_ERROR", "{r}");
        assert_eq!(r["reason"], "Malicious counter value is detected. Cloned authenticators exist in parallel.");
        // A credential of another tenant's user is not found in this tenant.
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        auth.sign_count += 10;
        let t = sign_in_options(&app, "t1").await;
        assert_eq!(sign_in(&app, "t1", &t, auth.assert(&request(&t), None)).await, json!({"status": "CREDENTIAL_NOT_FOUND_ERROR"}));
        // After association with t1 the user signs in there too, and appears in the tenant.
        let assoc = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": user_id}))).await;
        assert_eq!(assoc["status"], "OK", "{assoc}");
        let r = sign_in(&app, "t1", &t, auth.assert(&request(&t), None)).await;
        assert_eq!(r["status"], "OK", "{r}");
        assert_eq!(r["user"]["tenantIds"], json!(["public", "t1"]));
    }
}

#[tokio::test]
async fn credentials_email_and_recovery() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let (first, up) = new_user(&app, "public", "a@example.com", Algorithm::Es256, Attestation::None).await;
        let user_id = up["recipeUserId"].as_str().unwrap().to_owned();

        // A second credential, registered on the public path with options made for the user.
        let options = register_options(&app, "public", "a@example.com").await;
        let mut second = Authenticator::new(Algorithm::EdDsa);
        let body = |o: &Value, c: Value, u: &str| json!({"recipeUserId": u, "webauthnGeneratedOptionsId": id(o), "credential": c});
        let r = app.json("POST", "/recipe/webauthn/user/credential/register", Some(body(&options, second.register(&request(&options), &Attestation::x5c()), &user_id))).await;
        assert_eq!(r["status"], "OK", "{r}");
        assert_eq!(r["webauthnCredentialId"], second.credential_id_b64().as_str());
        assert_eq!(r["email"], "a@example.com");
        let again = register_options(&app, "public", "a@example.com").await;
        let r = app.json("POST", "/recipe/webauthn/user/credential/register", Some(body(&again, second.register(&request(&again), &Attestation::None), &user_id))).await;
        assert_eq!(r, json!({"status": "CREDENTIAL_ALREADY_EXISTS_ERROR"}));
        let r = app.json("POST", "/recipe/webauthn/user/credential/register", Some(body(&again, Authenticator::new(Algorithm::Es256).register(&request(&again), &Attestation::None), "nobody"))).await;
        assert_eq!(r, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        let r = app.json("POST", "/recipe/webauthn/user/credential/register", Some(body(&options, json!({}), &user_id))).await;
        assert_eq!(r, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}), "used options");

        let list = app.json("GET", &format!("/recipe/webauthn/user/credential/list?recipeUserId={user_id}"), None).await;
        assert_eq!(list["status"], "OK");
        let ids: Vec<&str> = list["credentials"].as_array().unwrap().iter().map(|c| c["webauthnCredentialId"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&first.credential_id_b64().as_str()) && ids.contains(&second.credential_id_b64().as_str()));
        let none = app.json("GET", "/recipe/webauthn/user/credential/list?recipeUserId=nobody", None).await;
        assert_eq!(none, json!({"credentials": [], "status": "OK"}));
        let get = format!("/recipe/webauthn/user/credential?recipeUserId={user_id}&webauthnCredentialId={}", second.credential_id_b64());
        let c = app.json("GET", &get, None).await;
        assert_eq!(c["status"], "OK", "{c}");
        assert_eq!(c["relyingPartyId"], RP);
        let user = app.json("GET", &format!("/user/id?userId={user_id}"), None).await;
        assert_eq!(user["user"]["webauthn"]["credentialIds"].as_array().unwrap().len(), 2, "{user}");
        let remove = format!("/recipe/webauthn/user/credential/remove?recipeUserId={user_id}&webauthnCredentialId={}", second.credential_id_b64());
        assert_eq!(app.json("DELETE", &remove, None).await, json!({"status": "OK"}));
        assert_eq!(app.json("DELETE", &remove, None).await, json!({"status": "CREDENTIAL_NOT_FOUND_ERROR"}));
        assert_eq!(app.json("GET", &get, None).await, json!({"status": "CREDENTIAL_NOT_FOUND_ERROR"}));

        // Email changes.
        let (_, other) = new_user(&app, "public", "b@example.com", Algorithm::Es256, Attestation::None).await;
        let other_id = other["recipeUserId"].as_str().unwrap().to_owned();
        let put = |u: &str, e: &str| json!({"recipeUserId": u, "email": e});
        assert_eq!(app.json("PUT", "/public/recipe/webauthn/user/email", Some(put(&user_id, "b@example.com"))).await, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}));
        assert_eq!(app.json("PUT", "/public/recipe/webauthn/user/email", Some(put("nobody", "z@example.com"))).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        assert_eq!(app.json("PUT", "/public/recipe/webauthn/user/email", Some(put(&user_id, "new@example.com"))).await, json!({"status": "OK"}));
        let user = app.json("GET", &format!("/user/id?userId={user_id}"), None).await;
        assert_eq!(user["user"]["emails"], json!(["new@example.com"]));
        // Two primary users: one may not take the other's email.
        for u in [&user_id, &other_id] {
            let r = app.json("POST", "/recipe/accountlinking/user/primary", Some(json!({"recipeUserId": u}))).await;
            assert_eq!(r["status"], "OK", "{r}");
        }
        let r = app.json("PUT", "/public/recipe/webauthn/user/email", Some(put(&user_id, "b@example.com"))).await;
        assert_eq!(r, json!({"status": "USER_WITH_EMAIL_ALREADY_EXISTS_ERROR"}));

        // Recovery tokens: single use, every token of the email goes, unknown ones are invalid.
        let token = |u: &str| json!({"userId": u, "email": "new@example.com"});
        assert_eq!(app.json("POST", "/public/recipe/webauthn/user/recover/token", Some(token("nobody"))).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        let t1 = app.json("POST", "/public/recipe/webauthn/user/recover/token", Some(token(&user_id))).await;
        let t2 = app.json("POST", "/public/recipe/webauthn/user/recover/token", Some(token(&user_id))).await;
        let (t1, t2) = (t1["token"].as_str().unwrap().to_owned(), t2["token"].as_str().unwrap().to_owned());
        assert_eq!(t1.len(), 43);
        let read = app.json("GET", &format!("/public/recipe/webauthn/user/recover?token={t1}"), None).await;
        assert_eq!(read["status"], "OK", "{read}");
        assert_eq!(read["recipeUserId"], user_id.as_str());
        assert_eq!(read["user"]["id"], user_id.as_str());
        let consume = |t: &str| json!({"token": t});
        let used = app.json("POST", "/public/recipe/webauthn/user/recover/token/consume", Some(consume(&t1))).await;
        assert_eq!(used, json!({"status": "OK", "userId": user_id, "email": "new@example.com"}));
        let invalid = json!({"status": "RECOVER_ACCOUNT_TOKEN_INVALID_ERROR"});
        assert_eq!(app.json("POST", "/public/recipe/webauthn/user/recover/token/consume", Some(consume(&t1))).await, invalid, "a token used twice");
        assert_eq!(app.json("POST", "/public/recipe/webauthn/user/recover/token/consume", Some(consume(&t2))).await, invalid, "the email's other tokens went too");
        assert_eq!(app.json("GET", &format!("/public/recipe/webauthn/user/recover?token={t1}"), None).await, invalid);

        // Deleting the user removes its credentials: it cannot sign in any more.
        let removed = app.json("POST", "/user/remove", Some(json!({"userId": other_id}))).await;
        assert_eq!(removed["status"], "OK");
        let none = app.json("GET", &format!("/recipe/webauthn/user/credential/list?recipeUserId={other_id}"), None).await;
        assert_eq!(none["credentials"], json!([]));
    }
}

#[tokio::test]
async fn cron_removes_expired_options_and_recovery_tokens() {
    use portcullis::cron::{run, Job};
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let (_, up) = new_user(&app, "public", "a@example.com", Algorithm::Es256, Attestation::None).await;
        let user_id = up["recipeUserId"].as_str().unwrap();
        let kept = register_options(&app, "public", "b@example.com").await;
        let token = app.json("POST", "/public/recipe/webauthn/user/recover/token", Some(json!({"userId": user_id, "email": "a@example.com"}))).await;
        assert_eq!(token["status"], "OK");
        // Nothing has expired yet.
        assert_eq!(run(&app.state, Job::DeleteExpiredWebauthnData, app.clock.now()).await.unwrap(), Some(0));
        // A day later the options (60 s) and the token (an hour) have: both go.
        app.clock.advance(24 * 3_600_000 + 1);
        assert_eq!(run(&app.state, Job::DeleteExpiredWebauthnData, app.clock.now()).await.unwrap(), Some(2));
        let read = app.json("GET", &format!("/public/recipe/webauthn/options?webauthnGeneratedOptionsId={}", id(&kept)), None).await;
        assert_eq!(read, json!({"status": "OPTIONS_NOT_FOUND_ERROR"}));
        assert_eq!(run(&app.state, Job::DeleteExpiredWebauthnData, app.clock.now()).await.unwrap(), None, "the lease holds for a day");
    }
}

/// WebAuthn as a multi-factor-auth first factor (issue 23). The MFA rules run in the SDKs; what
/// they read from the core is asked here: the tenant's `firstFactors` (`"webauthn"` kept as given,
/// beside the built-in factors and alone) and `requiredSecondaryFactors`, the user whose
/// `webauthn` login method and verified TOTP device make the factors it has set up, and the
/// tenant list the SDKs' `loginmethods` API filters.
#[tokio::test]
async fn webauthn_as_a_first_factor_of_a_tenant_that_requires_totp() {
    use portcullis_core::totp::{base32_decode, totp_at};
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let put = |body: Value| app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(body));
        let made = put(json!({"tenantId": "passkeys", "firstFactors": ["webauthn"], "requiredSecondaryFactors": ["totp"]})).await;
        assert_eq!(made, json!({"status": "OK", "createdNew": true}));
        let made = put(json!({"tenantId": "mixed", "firstFactors": ["emailpassword", "webauthn"]})).await;
        assert_eq!(made["status"], "OK", "{made}");
        let made = put(json!({"tenantId": "nopasskeys", "firstFactors": ["emailpassword"]})).await;
        assert_eq!(made["status"], "OK", "{made}");
        let tenant = app.json("GET", "/passkeys/recipe/multitenancy/tenant/v2", None).await;
        assert_eq!((&tenant["firstFactors"], &tenant["requiredSecondaryFactors"]), (&json!(["webauthn"]), &json!(["totp"])), "{tenant}");
        let list = app.json("GET", "/recipe/multitenancy/tenant/list/v2", None).await;
        let factors = |id: &str| list["tenants"].as_array().unwrap().iter().find(|t| t["tenantId"] == id).map(|t| t["firstFactors"].clone());
        assert_eq!(factors("passkeys"), Some(json!(["webauthn"])), "{list}");
        let mut mixed: Vec<String> = serde_json::from_value(factors("mixed").unwrap()).unwrap();
        mixed.sort();
        assert_eq!(mixed, ["emailpassword", "webauthn"]);
        assert_eq!(factors("nopasskeys"), Some(json!(["emailpassword"])));

        // A passkey user of the tenant: the login method the SDK counts as the "webauthn" factor.
        let (mut auth, up) = new_user(&app, "passkeys", "mfa@example.com", Algorithm::Es256, Attestation::None).await;
        let user_id = up["user"]["id"].as_str().unwrap().to_owned();
        let user = app.json("GET", &format!("/user/id?userId={user_id}"), None).await;
        assert_eq!(user["user"]["loginMethods"][0]["recipeId"], "webauthn", "{user}");
        assert_eq!(user["user"]["loginMethods"][0]["tenantIds"], json!(["passkeys"]));
        assert_eq!(user["user"]["tenantIds"], json!(["passkeys"]));

        // Its second factor: a TOTP device verified in the tenant, then a code at sign-in.
        let device = app.json("POST", "/recipe/totp/device", Some(json!({"userId": user_id, "deviceName": "phone", "skew": 1, "period": 30}))).await;
        assert_eq!(device["status"], "OK", "{device}");
        let secret = base32_decode(device["secret"].as_str().unwrap());
        let code = |at: i64| totp_at(&secret, 30, at, 6);
        let body = json!({"userId": user_id, "deviceName": "phone", "totp": code(app.clock.now())});
        let verified = app.json("POST", "/passkeys/recipe/totp/device/verify", Some(body)).await;
        assert_eq!(verified, json!({"status": "OK", "wasAlreadyVerified": false}));
        let devices = app.json("GET", &format!("/recipe/totp/device/list?userId={user_id}"), None).await;
        assert_eq!(devices["devices"][0]["verified"], true, "{devices}");

        let options = sign_in_options(&app, "passkeys").await;
        let r = sign_in(&app, "passkeys", &options, auth.assert(&request(&options), Some(user_id.as_bytes()))).await;
        assert_eq!(r["status"], "OK", "{r}");
        let body = json!({"userId": user_id, "totp": code(app.clock.now() + 30_000)});
        assert_eq!(app.json("POST", "/passkeys/recipe/totp/verify", Some(body)).await, json!({"status": "OK"}));

        // Tenants are where the user signs in: not in the tenant it is not a user of.
        let options = sign_in_options(&app, "nopasskeys").await;
        let r = sign_in(&app, "nopasskeys", &options, auth.assert(&request(&options), Some(user_id.as_bytes()))).await;
        assert_eq!(r, json!({"status": "CREDENTIAL_NOT_FOUND_ERROR"}));
    }
}
