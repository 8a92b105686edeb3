//! The OAuth2 provider (`/recipe/oauth/*`) through the real HTTP server, on every backend, called as
//! the SDKs call it: client CRUD, the authorization-code flow with PKCE through the login and
//! consent challenges, the token endpoint's three grants, introspection, revocation and
//! RP-initiated logout, with the refusals the issue names.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use portcullis_core::crypto::sha256_hex;
use portcullis_core::oauth::url::form_decode;
use serde_json::{json, Value};

use crate::common::{backends, TestApp};

const ISS: &str = "http://localhost:3001/auth";
const CB: &str = "http://localhost:3000/cb";
const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-0123456789abcdef";

fn s256(verifier: &str) -> String {
    let hex = sha256_hex(verifier);
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn params_of(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let q = q.split('#').next().unwrap_or("");
    q.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), form_decode(v).unwrap())).collect()
}

/// A browser's cookie jar, as the SDK forwards it (`cookies` of `/recipe/oauth/auth`).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, answer: &Value) {
        for c in answer["cookies"].as_array().unwrap() {
            let c = c.as_str().unwrap();
            assert!(c.contains("Expires=") && c.contains("HttpOnly"), "{c}");
            let (k, v) = c.split(';').next().unwrap().split_once('=').unwrap();
            self.0.retain(|(n, _)| n != k);
            self.0.push((k.to_owned(), v.to_owned()));
        }
    }

    fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }
}

async fn create_client(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({
        "clientName": "rp", "redirectUris": [CB], "postLogoutRedirectUris": ["http://localhost:3000/bye"],
        "grantTypes": ["authorization_code", "refresh_token", "client_credentials"], "responseTypes": ["code"],
        "scope": "openid offline_access email", "audience": ["api1"], "tokenEndpointAuthMethod": "client_secret_post",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.json("POST", "/recipe/oauth/clients", Some(body)).await;
    assert_eq!(r["status"], "OK", "{r}");
    r
}

async fn auth(app: &TestApp, params: &HashMap<String, String>, jar: &mut Jar) -> Value {
    let body = json!({"params": params, "iss": ISS, "cookies": jar.header()});
    let r = app.json("POST", "/recipe/oauth/auth", Some(body)).await;
    if r["status"] == "OK" {
        jar.take(&r);
    }
    r
}

/// Follows `{apiDomain}/oauth/auth?…` as the SDK does.
async fn follow(app: &TestApp, to: &str, jar: &mut Jar) -> Value {
    assert!(to.starts_with("{apiDomain}/oauth/auth?"), "{to}");
    auth(app, &params_of(to), jar).await
}

/// Runs the browser part of the code flow; returns the client's callback URL.
async fn authorize(app: &TestApp, client_id: &str, extra: &[(&str, &str)], jar: &mut Jar) -> String {
    authorize_remembering(app, client_id, extra, jar, false).await.0
}

/// The code flow, remembering the consent or not; also returns the consent request's `skip`.
async fn authorize_remembering(app: &TestApp, client_id: &str, extra: &[(&str, &str)], jar: &mut Jar, remember: bool) -> (String, bool) {
    let mut params: HashMap<String, String> = [
        ("client_id", client_id),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid offline_access"),
        ("state", "state-0123456789"),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.insert("code_challenge".into(), s256(VERIFIER));
    for (k, v) in extra {
        params.insert(k.to_string(), v.to_string());
    }
    let r = auth(app, &params, jar).await;
    let to = r["redirectTo"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    let lc = params_of(&to)["login_challenge"].clone();
    let req = app.json("GET", &format!("/recipe/oauth/auth/requests/login?loginChallenge={lc}"), None).await;
    assert_eq!((req["status"].as_str(), req["client"]["clientId"].as_str()), (Some("OK"), Some(client_id)), "{req}");
    let acc = app
        .json(
            "PUT",
            &format!("/recipe/oauth/auth/requests/login/accept?loginChallenge={lc}"),
            Some(json!({"subject": "user-1", "identityProviderSessionId": "sh-1", "acr": null, "amr": null, "context": null})),
        )
        .await;
    let r = follow(app, acc["redirectTo"].as_str().unwrap_or_else(|| panic!("{acc}")), jar).await;
    let to = r["redirectTo"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    let cc = params_of(&to)["consent_challenge"].clone();
    let req = app.json("GET", &format!("/recipe/oauth/auth/requests/consent?consentChallenge={cc}"), None).await;
    assert_eq!(req["status"], "OK", "{req}");
    let acc = app
        .json(
            "PUT",
            &format!("/recipe/oauth/auth/requests/consent/accept?consentChallenge={cc}"),
            Some(json!({
                "grantScope": req["requestedScope"], "grantAccessTokenAudience": req["requestedAccessTokenAudience"],
                "remember": remember, "handledAt": null, "context": null, "iss": ISS, "tId": "public", "rsub": "user-1",
                "sessionHandle": "sh-1", "initialAccessTokenPayload": {"email": "u@example.com"}, "initialIdTokenPayload": {}
            })),
        )
        .await;
    let r = follow(app, acc["redirectTo"].as_str().unwrap_or_else(|| panic!("{acc}")), jar).await;
    (r["redirectTo"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned(), req["skip"].as_bool().unwrap_or_else(|| panic!("{req}")))
}

async fn token(app: &TestApp, input: Value, extra: Value) -> Value {
    let mut body = json!({"iss": ISS, "inputBody": input});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.json("POST", "/recipe/oauth/token", Some(body)).await
}

async fn introspect(app: &TestApp, t: &str) -> Value {
    app.json("POST", "/recipe/oauth/introspect", Some(json!({"token": t}))).await
}

#[tokio::test]
async fn clients_code_flow_tokens_introspection_revocation_and_logout() {
    for b in backends() {
        let app = TestApp::spawn(b).await;

        // --- clients ---
        let c = create_client(&app, json!({})).await;
        let (id, secret) = (c["clientId"].as_str().unwrap().to_owned(), c["clientSecret"].as_str().unwrap().to_owned());
        assert!(id.starts_with("stcl_"), "{c}");
        let got = app.json("GET", &format!("/recipe/oauth/clients?clientId={id}"), None).await;
        assert_eq!((got["status"].as_str(), got["clientName"].as_str()), (Some("OK"), Some("rp")), "{b:?} {got}");
        assert!(got.get("clientSecret").is_none(), "the secret is stored hashed, shown once");
        let r = app.json("GET", "/recipe/oauth/clients?clientId=nope", None).await;
        assert_eq!(r, json!({"status": "CLIENT_NOT_FOUND_ERROR"}));
        let (s, text) = app.call("GET", "/recipe/oauth/clients", None).await;
        assert_eq!((s, text.as_str()), (400, "Field name 'clientId' is missing in GET request\n"));
        let dup = app.json("POST", "/recipe/oauth/clients", Some(json!({"clientId": id}))).await;
        assert_eq!(dup["status"], "OAUTH_ERROR", "{dup}");
        let upd = app.json("PUT", "/recipe/oauth/clients", Some(json!({"clientId": id, "clientName": "rp2"}))).await;
        assert_eq!(upd["clientName"], "rp2", "{upd}");
        let r = app.json("PUT", "/recipe/oauth/clients", Some(json!({"clientId": "nope"}))).await;
        assert_eq!(r["status"], "CLIENT_NOT_FOUND_ERROR");
        let other = create_client(&app, json!({"clientName": "other"})).await;
        let list = app.json("GET", "/recipe/oauth/clients/list?pageSize=1", None).await;
        assert_eq!(list["clients"].as_array().unwrap().len(), 1, "{list}");
        let token_param = list["nextPaginationToken"].as_str().unwrap().to_owned();
        let list2 = app.json("GET", &format!("/recipe/oauth/clients/list?pageSize=1&pageToken={token_param}"), None).await;
        assert_eq!(list2["clients"].as_array().unwrap().len(), 1);
        assert!(list2.get("nextPaginationToken").is_none(), "{list2}");
        let named = app.json("GET", "/recipe/oauth/clients/list?clientName=other", None).await;
        assert_eq!(named["clients"][0]["clientId"], other["clientId"]);
        let r = app.json("POST", "/recipe/oauth/clients/remove", Some(json!({"clientId": other["clientId"]}))).await;
        assert_eq!(r, json!({"status": "OK", "didExist": true}));
        let r = app.json("POST", "/recipe/oauth/clients/remove", Some(json!({"clientId": other["clientId"]}))).await;
        assert_eq!(r, json!({"status": "OK", "didExist": false}));

        // --- authorization code with PKCE ---
        let mut jar = Jar::default();
        let cb = authorize(&app, &id, &[], &mut jar).await;
        assert!(cb.starts_with(CB), "{cb}");
        let p = params_of(&cb);
        assert_eq!(p["state"], "state-0123456789");
        let code = p["code"].clone();
        let exchange = |code: String, verifier: &'static str| {
            json!({"grant_type": "authorization_code", "code": code, "redirect_uri": CB, "code_verifier": verifier,
                   "client_id": id, "client_secret": secret})
        };
        // A PKCE mismatch does not use the code up.
        let r = token(&app, exchange(code.clone(), "another-verifier-that-is-long-enough-0123456789abc"), json!({})).await;
        assert_eq!((r["status"].as_str(), r["error"].as_str(), r["statusCode"].as_u64()), (Some("OAUTH_ERROR"), Some("invalid_grant"), Some(400)));
        // A wrong secret.
        let mut wrong = exchange(code.clone(), VERIFIER);
        wrong["client_secret"] = json!("not-the-secret");
        let r = token(&app, wrong, json!({})).await;
        assert_eq!((r["error"].as_str(), r["statusCode"].as_u64()), (Some("invalid_client"), Some(401)), "{r}");
        let t = token(&app, exchange(code.clone(), VERIFIER), json!({})).await;
        assert_eq!(t["status"], "OK", "{b:?} {t}");
        assert_eq!(t["token_type"], "bearer");
        let (access, refresh) = (t["access_token"].as_str().unwrap().to_owned(), t["refresh_token"].as_str().unwrap().to_owned());
        assert!(t["id_token"].is_string() && refresh.starts_with("st_rt_"), "{t}");

        let i = introspect(&app, &access).await;
        assert_eq!((i["status"].as_str(), i["active"].as_bool()), (Some("OK"), Some(true)), "{i}");
        assert_eq!((i["client_id"].as_str(), i["sub"].as_str(), i["sessionHandle"].as_str()), (Some(id.as_str()), Some("user-1"), Some("sh-1")));
        let i = introspect(&app, &refresh).await;
        assert_eq!(i["active"], true, "{i}");
        assert_eq!(introspect(&app, "garbage").await, json!({"status": "OK", "active": false}));

        // --- refresh ---
        let r = token(
            &app,
            json!({"grant_type": "refresh_token", "refresh_token": refresh, "client_id": id, "client_secret": secret}),
            json!({"access_token": {}, "id_token": {}}),
        )
        .await;
        assert_eq!(r["status"], "OK", "{r}");
        assert!(r.get("refresh_token").is_none(), "no rotation: the client keeps its refresh token");
        let access2 = r["access_token"].as_str().unwrap().to_owned();
        assert_eq!(introspect(&app, &access2).await["active"], true);

        // --- a reused code revokes what it issued ---
        let r = token(&app, exchange(code.clone(), VERIFIER), json!({})).await;
        assert_eq!(r["error"], "invalid_grant", "{r}");
        assert_eq!(introspect(&app, &access).await["active"], false, "{b:?}: reuse revoked the grant");
        assert_eq!(introspect(&app, &refresh).await["active"], false);

        // --- a wrong redirect URI at /auth is not redirected ---
        let mut bad = HashMap::new();
        for (k, v) in [("client_id", id.as_str()), ("redirect_uri", "http://evil.example/cb"), ("response_type", "code"), ("state", "state-0123456789")] {
            bad.insert(k.to_owned(), v.to_owned());
        }
        let r = auth(&app, &bad, &mut jar).await;
        assert_eq!((r["status"].as_str(), r["error"].as_str()), (Some("OAUTH_ERROR"), Some("invalid_request")), "{r}");
        bad.insert("client_id".into(), "nope".into());
        assert_eq!(auth(&app, &bad, &mut jar).await, json!({"status": "CLIENT_NOT_FOUND_ERROR"}));

        // --- client credentials with scopes and audiences ---
        let cc = |scope: &str| json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": scope, "audience": ["api1"]});
        let m = token(&app, cc("email"), json!({"access_token": {}, "id_token": {}})).await;
        assert_eq!((m["status"].as_str(), m["scope"].as_str()), (Some("OK"), Some("email")), "{m}");
        let m_access = m["access_token"].as_str().unwrap().to_owned();
        let i = introspect(&app, &m_access).await;
        assert_eq!((i["active"].as_bool(), i["aud"].clone()), (Some(true), json!("api1")), "{i}");
        let r = token(&app, cc("admin"), json!({"access_token": {}, "id_token": {}})).await;
        assert_eq!(r["error"], "invalid_scope", "a scope outside the client's: {r}");

        // --- revocation: one access token, then by client ---
        let r = app.json("POST", "/recipe/oauth/token/revoke", Some(json!({"token": m_access, "client_id": id, "client_secret": secret}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        assert_eq!(introspect(&app, &m_access).await["active"], false, "a revoked token is inactive");
        let r = app.json("POST", "/recipe/oauth/token/revoke", Some(json!({"token": "x", "client_id": id, "client_secret": "wrong"}))).await;
        assert_eq!(r["error"], "invalid_client");
        let m2 = token(&app, cc("email"), json!({"access_token": {}, "id_token": {}})).await["access_token"].as_str().unwrap().to_owned();
        let r = app.json("POST", "/recipe/oauth/tokens/revoke", Some(json!({"client_id": id}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        assert_eq!(introspect(&app, &m2).await["active"], false);

        // --- by session, and RP-initiated logout ---
        let mut jar = Jar::default();
        let cb = authorize(&app, &id, &[], &mut jar).await;
        let t = token(&app, exchange(params_of(&cb)["code"].clone(), VERIFIER), json!({})).await;
        let (access, id_token) = (t["access_token"].as_str().unwrap().to_owned(), t["id_token"].as_str().unwrap().to_owned());
        let r = app
            .json("GET", &format!("/recipe/oauth/sessions/logout?clientId={id}&idTokenHint={id_token}&postLogoutRedirectUri=http%3A%2F%2Flocalhost%3A3000%2Fbye&state=s1"), None)
            .await;
        let to = r["redirectTo"].as_str().unwrap_or_else(|| panic!("{r}"));
        let challenge = params_of(to)["logout_challenge"].clone();
        let r = app.json("PUT", "/recipe/oauth/auth/requests/logout/accept", Some(json!({"challenge": challenge}))).await;
        assert_eq!(r, json!({"status": "OK", "redirectTo": "http://localhost:3000/bye?state=s1"}));
        assert_eq!(introspect(&app, &access).await["active"], false, "logout revoked the session's tokens");
        let r = app.json("PUT", "/recipe/oauth/auth/requests/logout/accept", Some(json!({"challenge": challenge}))).await;
        assert_eq!(r["error"], "invalid_request", "a challenge is consumed: {r}");
        let r = app.json("GET", "/recipe/oauth/sessions/logout?postLogoutRedirectUri=http%3A%2F%2Fx", None).await;
        assert_eq!(r["error"], "invalid_request");
        let r = app.json("PUT", "/recipe/oauth/auth/requests/logout/reject?challenge=whatever", Some(json!({}))).await;
        assert_eq!(r, json!({"status": "OK"}));

        let mut jar = Jar::default();
        let cb = authorize(&app, &id, &[], &mut jar).await;
        let t = token(&app, exchange(params_of(&cb)["code"].clone(), VERIFIER), json!({})).await;
        let r = app.json("POST", "/recipe/oauth/session/revoke", Some(json!({"sessionHandle": "sh-1"}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        assert_eq!(introspect(&app, t["access_token"].as_str().unwrap()).await["active"], false);

        // --- rejected login reaches the client as an error ---
        let mut jar = Jar::default();
        let mut params = HashMap::new();
        for (k, v) in [("client_id", id.as_str()), ("redirect_uri", CB), ("response_type", "code"), ("state", "state-0123456789"), ("scope", "openid")] {
            params.insert(k.to_owned(), v.to_owned());
        }
        let r = auth(&app, &params, &mut jar).await;
        let lc = params_of(r["redirectTo"].as_str().unwrap())["login_challenge"].clone();
        let rej = app.json("PUT", &format!("/recipe/oauth/auth/requests/login/reject?login_challenge={lc}"), Some(json!({"error": "access_denied", "errorDescription": "no"}))).await;
        let r = follow(&app, rej["redirectTo"].as_str().unwrap_or_else(|| panic!("{rej}")), &mut jar).await;
        let p = params_of(r["redirectTo"].as_str().unwrap());
        assert_eq!(p["error"], "access_denied", "{r}");
        let r = app.json("GET", "/recipe/oauth/auth/requests/login?loginChallenge=unknown", None).await;
        assert_eq!((r["status"].as_str(), r["statusCode"].as_u64()), (Some("OAUTH_ERROR"), Some(404)), "{r}");

        // --- app-wide: a tenant is refused ---
        let (s, text) = app.call("GET", &format!("/t1/recipe/oauth/clients?clientId={id}"), None).await;
        assert_eq!((s, text.as_str()), (403, "Only public tenantId can call this app specific API\n"));
        let (s, _) = app.call("POST", "/recipe/oauth/token", Some(json!({"inputBody": {}}))).await;
        assert_eq!(s, 400, "bad input is a 400, never a 500");
    }
}

#[tokio::test]
async fn an_expired_code_is_refused_and_the_cron_removes_expired_rows() {
    use portcullis::cron::{run, Job};
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let c = create_client(&app, json!({})).await;
        let (id, secret) = (c["clientId"].as_str().unwrap().to_owned(), c["clientSecret"].as_str().unwrap().to_owned());
        let mut jar = Jar::default();
        let cb = authorize(&app, &id, &[], &mut jar).await;
        app.clock.advance(11 * 60_000);
        let r = token(
            &app,
            json!({"grant_type": "authorization_code", "code": params_of(&cb)["code"], "redirect_uri": CB, "code_verifier": VERIFIER,
                   "client_id": id, "client_secret": secret}),
            json!({}),
        )
        .await;
        assert_eq!((r["error"].as_str(), r["statusCode"].as_u64()), (Some("invalid_grant"), Some(400)), "{b:?}: a code lives 10 minutes: {r}");
        // A started flow that nobody finished, and the redeemed one once past its reuse window.
        auth(&app, &params_of(&format!("x?client_id={id}&redirect_uri={CB}&response_type=code&state=state-0123456789")), &mut jar).await;
        app.clock.advance(2 * 24 * 3_600_000);
        let removed = run(&app.state, Job::DeleteExpiredOAuthRows, app.clock.now()).await.unwrap();
        assert_eq!(removed, Some(2), "{b:?}: both flows are removed");
        assert_eq!(run(&app.state, Job::DeleteExpiredOAuthRows, app.clock.now()).await.unwrap(), None, "once per interval");
    }
}

#[tokio::test]
async fn consent_reject_handled_challenges_rotation_and_bad_input() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let c = create_client(&app, json!({"enableRefreshTokenRotation": true})).await;
        let (id, secret) = (c["clientId"].as_str().unwrap().to_owned(), c["clientSecret"].as_str().unwrap().to_owned());
        let start = |extra: &[(&str, &str)]| {
            let mut p: HashMap<String, String> = HashMap::new();
            for (k, v) in [("client_id", id.as_str()), ("redirect_uri", CB), ("response_type", "code"), ("state", "state-0123456789"), ("scope", "openid offline_access")] {
                p.insert(k.to_owned(), v.to_owned());
            }
            for (k, v) in extra {
                p.insert(k.to_string(), v.to_string());
            }
            p
        };

        // Consent rejected: the client gets the error; a handled login can't be answered again (410).
        let mut jar = Jar::default();
        let r = auth(&app, &start(&[]), &mut jar).await;
        let lc = params_of(r["redirectTo"].as_str().unwrap())["login_challenge"].clone();
        let acc = app.json("PUT", &format!("/recipe/oauth/auth/requests/login/accept?loginChallenge={lc}"), Some(json!({"subject": "u1"}))).await;
        let r = follow(&app, acc["redirectTo"].as_str().unwrap(), &mut jar).await;
        let again = app.json("PUT", &format!("/recipe/oauth/auth/requests/login/accept?loginChallenge={lc}"), Some(json!({"subject": "u1"}))).await;
        assert_eq!((again["status"].as_str(), again["statusCode"].as_u64()), (Some("OAUTH_ERROR"), Some(410)), "{b:?} {again}");
        let cc = params_of(r["redirectTo"].as_str().unwrap())["consent_challenge"].clone();
        let rej = app
            .json("PUT", &format!("/recipe/oauth/auth/requests/consent/reject?consentChallenge={cc}"), Some(json!({"error": "access_denied", "errorDescription": "no", "statusCode": 403})))
            .await;
        let r = follow(&app, rej["redirectTo"].as_str().unwrap_or_else(|| panic!("{rej}")), &mut jar).await;
        let p = params_of(r["redirectTo"].as_str().unwrap());
        assert_eq!((p["error"].as_str(), p["state"].as_str()), ("access_denied", "state-0123456789"), "{r}");
        // The consent accept's required fields are the core's 400s.
        let (s, text) = app.call("PUT", &format!("/recipe/oauth/auth/requests/consent/accept?consentChallenge={cc}"), Some(json!({"grantScope": []}))).await;
        assert_eq!((s, text.as_str()), (400, "Field name 'iss' is invalid in JSON input\n"));
        let (s, _) = app.call("GET", "/recipe/oauth/auth/requests/consent", None).await;
        assert_eq!(s, 400);
        // A PKCE method the provider does not know, and a missing client_id.
        let r = auth(&app, &start(&[("code_challenge", "abc"), ("code_challenge_method", "S512")]), &mut jar).await;
        assert!(r["redirectTo"].as_str().is_some_and(|t| t.contains("error=invalid_request")), "{r}");
        let mut no_client = start(&[]);
        no_client.remove("client_id");
        let r = auth(&app, &no_client, &mut jar).await;
        assert_eq!((r["error"].as_str(), r["statusCode"].as_u64()), (Some("invalid_client"), Some(400)), "{r}");

        // A remembered consent is skipped next time (the consent request says `skip: true`).
        let mut jar = Jar::default();
        let (_, skip) = authorize_remembering(&app, &id, &[], &mut jar, true).await;
        assert!(!skip, "the first consent is asked");
        let (cb, skip) = authorize_remembering(&app, &id, &[], &mut jar, false).await;
        assert!(skip && cb.starts_with(CB), "{b:?}: the remembered consent covers the same request");

        // Rotation: a new refresh token each time; the old one stops working.
        let mut jar = Jar::default();
        let cb = authorize(&app, &id, &[], &mut jar).await;
        let t = token(
            &app,
            json!({"grant_type": "authorization_code", "code": params_of(&cb)["code"], "redirect_uri": CB, "code_verifier": VERIFIER,
                   "client_id": id, "client_secret": secret}),
            json!({}),
        )
        .await;
        let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
        let refresh = |rt: String| json!({"grant_type": "refresh_token", "refresh_token": rt, "client_id": id, "client_secret": secret});
        let r = token(&app, refresh(rt1.clone()), json!({"access_token": {}, "id_token": {}})).await;
        let rt2 = r["refresh_token"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
        assert_ne!(rt1, rt2);
        let r = token(&app, refresh(rt1.clone()), json!({"access_token": {}, "id_token": {}})).await;
        assert_eq!((r["error"].as_str(), r["statusCode"].as_u64()), (Some("token_inactive"), Some(401)), "{r}");
        assert_eq!(introspect(&app, &rt1).await["active"], false);
        assert_eq!(introspect(&app, &rt2).await["active"], true);
        // A refresh without the SDK's payloads is the core's 400; an unknown grant type is an OAuth error.
        let (s, text) = app.call("POST", "/recipe/oauth/token", Some(json!({"iss": ISS, "inputBody": refresh(rt2.clone())}))).await;
        assert_eq!((s, text.as_str()), (400, "Field name 'access_token' is invalid in JSON input\n"));
        let r = token(&app, json!({"grant_type": "password", "client_id": id, "client_secret": secret}), json!({"access_token": {}, "id_token": {}})).await;
        assert_eq!(r["status"], "OAUTH_ERROR", "{r}");
        // Revoking the refresh token ends the grant.
        let r = app.json("POST", "/recipe/oauth/token/revoke", Some(json!({"token": rt2, "client_id": id, "client_secret": secret}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        assert_eq!(introspect(&app, &rt2).await["active"], false);
        let r = token(&app, refresh(rt2.clone()), json!({"access_token": {}, "id_token": {}})).await;
        assert_eq!(r["error"], "token_inactive", "a revoked refresh token no longer refreshes");
    }
}

/// Junk on every OAuth route is a 400 text or an OAuth error object, never a 500.
#[tokio::test]
async fn junk_input_never_gets_a_500() {
    let app = TestApp::spawn(backends()[0]).await;
    let routes = [
        ("GET", "/recipe/oauth/clients?clientId=%00"),
        ("POST", "/recipe/oauth/clients"),
        ("PUT", "/recipe/oauth/clients"),
        ("GET", "/recipe/oauth/clients/list?pageSize=x&pageToken=%%%"),
        ("POST", "/recipe/oauth/clients/remove"),
        ("POST", "/recipe/oauth/auth"),
        ("GET", "/recipe/oauth/auth/requests/login?loginChallenge=x"),
        ("PUT", "/recipe/oauth/auth/requests/login/accept?loginChallenge=x"),
        ("PUT", "/recipe/oauth/auth/requests/login/reject?login_challenge=x"),
        ("GET", "/recipe/oauth/auth/requests/consent?consentChallenge=x"),
        ("PUT", "/recipe/oauth/auth/requests/consent/accept?consentChallenge=x"),
        ("PUT", "/recipe/oauth/auth/requests/consent/reject?consentChallenge=x"),
        ("GET", "/recipe/oauth/sessions/logout?idTokenHint=a.b.c&clientId=x"),
        ("PUT", "/recipe/oauth/auth/requests/logout/accept"),
        ("PUT", "/recipe/oauth/auth/requests/logout/reject"),
        ("POST", "/recipe/oauth/token"),
        ("POST", "/recipe/oauth/introspect"),
        ("POST", "/recipe/oauth/token/revoke"),
        ("POST", "/recipe/oauth/tokens/revoke"),
        ("POST", "/recipe/oauth/session/revoke"),
    ];
    let bodies = [
        json!({}),
        json!([]),
        json!("x"),
        json!({"clientId": 1, "params": {"client_id": 1}, "token": {}, "inputBody": "x", "challenge": [], "redirectUris": "x"}),
        json!({"iss": "i", "inputBody": {"grant_type": "authorization_code", "code": "st_ac_x", "client_id": "c"}, "params": {"client_id": "nope"}, "token": "st_rt_x", "client_id": "c", "sessionHandle": "h", "challenge": "c"}),
    ];
    for (method, path) in routes {
        for body in &bodies {
            let (status, text) = app.call(method, path, if method == "GET" { None } else { Some(body.clone()) }).await;
            assert!(status == 200 || status == 400, "{method} {path} {body}: {status} {text}");
        }
    }
}
