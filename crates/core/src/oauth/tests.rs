//! Whole flows through the provider's decisions, with an in-memory model of what
//! [`crate::oauth::storage::OAuthStorage`] does with each write (the adapters must behave the same),
//! and the negative cases the issue lists: a wrong secret, a wrong redirect URI, a reused code, an
//! expired code, a PKCE mismatch, a revoked token, a scope outside the client's.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::digest::{digest, SHA256};
use serde_json::{json, Map, Value};

use super::authorize::{self, AuthAnswer, AuthInput, Completion, ConsentStart, Flow, Params, RememberedConsent, Step};
use super::challenges::{self, ConsentHandled, LoginHandled};
use super::claims::{tests::claims_of, GrantRecord, Issued, Signer};
use super::client::{self, Client};
use super::cookies::{self, CsrfKind};
use super::errors::{BadInput, Failure, OAuthError};
use super::introspect;
use super::random::Random;
use super::revoke::{self, Revocation};
use super::secret;
use super::testing::{client, obj, signing_key, BrokenRandom, SeqRandom, NOW};
use super::token::{self, RefreshWrite, SecretCheck, TokenInput};
use crate::crypto::jwt;
use crate::crypto::keys::SigningKey;
use crate::crypto::password::VerifySettings;
use crate::crypto::sha256_hex;

/// A row of `oauth_sessions` with its `oauth_grants` row.
struct GrantRow {
    grant: GrantRecord,
    refresh_hash: Option<String>,
    jtis: String,
    session_handle: String,
}

/// What the storage adapters do, in memory.
#[derive(Default)]
struct Mem {
    flows: Vec<Flow>,
    /// By gid.
    grants: HashMap<String, GrantRow>,
    consents: Vec<RememberedConsent>,
}

impl Mem {
    fn flow_by(&self, f: impl Fn(&Flow) -> bool) -> Option<Flow> {
        self.flows.iter().find(|x| f(x)).cloned()
    }

    fn flow_mut(&mut self, f: impl Fn(&Flow) -> bool) -> Option<&mut Flow> {
        self.flows.iter_mut().find(|x| f(x))
    }

    fn handle_login(&mut self, challenge: &str, h: &LoginHandled) -> bool {
        match self.flow_mut(|f| f.login_challenge == challenge && !f.login_verifier_used) {
            Some(f) => {
                f.login_verifier_hash = Some(h.verifier_hash.clone());
                f.login = Some(h.outcome.clone());
                true
            }
            None => false,
        }
    }

    fn use_login_verifier(&mut self, challenge: &str, s: &ConsentStart) -> bool {
        match self.flow_mut(|f| f.login_challenge == challenge && !f.login_verifier_used) {
            Some(f) => {
                f.login_verifier_used = true;
                f.consent_challenge = Some(s.consent_challenge.clone());
                f.consent_csrf = Some(s.consent_csrf.clone());
                f.consent_skip = s.skip;
                true
            }
            None => false,
        }
    }

    fn handle_consent(&mut self, challenge: &str, h: &ConsentHandled) -> bool {
        match self.flow_mut(|f| f.consent_challenge.as_deref() == Some(challenge) && !f.consent_verifier_used) {
            Some(f) => {
                f.consent_verifier_hash = Some(h.verifier_hash.clone());
                f.consent = Some(h.outcome.clone());
                f.gid = h.gid.clone();
                true
            }
            None => false,
        }
    }

    fn use_consent_verifier(&mut self, challenge: &str, c: &Completion) -> bool {
        let Some(f) = self.flow_mut(|f| f.login_challenge == challenge && !f.consent_verifier_used) else { return false };
        f.consent_verifier_used = true;
        f.code_hash = c.code.as_ref().map(|c| c.hash.clone());
        f.code_expires_at = c.code.as_ref().map(|c| c.expires_at);
        f.expires_at = c.flow_expires_at;
        if let Some(r) = &c.remember {
            self.consents.retain(|x| !(x.client_id == r.client_id && x.subject == r.subject));
            self.consents.push(r.clone());
        }
        if let Some((g, issued)) = &c.grant {
            self.upsert_grant(g, issued);
        }
        true
    }

    fn upsert_grant(&mut self, g: &GrantRecord, issued: &Issued) {
        let row = self.grants.entry(g.gid.clone()).or_insert_with(|| GrantRow {
            grant: g.clone(),
            refresh_hash: None,
            jtis: String::new(),
            session_handle: g.ext.session_handle.clone(),
        });
        row.grant = g.clone();
        if let Some(r) = &issued.refresh {
            row.refresh_hash = Some(r.hash.clone());
        }
        row.jtis.push_str(&format!("{},", issued.jti));
    }

    fn redeem(&mut self, code_hash: &str, g: &GrantRecord, issued: &Issued) -> bool {
        match self.flow_mut(|f| f.code_hash.as_deref() == Some(code_hash) && !f.code_used) {
            Some(f) => {
                f.code_used = true;
                self.upsert_grant(g, issued);
                true
            }
            None => false,
        }
    }

    fn grant_by_refresh(&self, hash: &str) -> Option<GrantRecord> {
        self.grants.values().find(|r| r.refresh_hash.as_deref() == Some(hash)).map(|r| r.grant.clone())
    }

    fn refresh(&mut self, w: &RefreshWrite, now: i64) -> bool {
        let Some(row) = self
            .grants
            .values_mut()
            .find(|r| r.refresh_hash.as_deref() == Some(w.old_hash.as_str()) && r.grant.exp_s >= now / 1000)
        else {
            return false;
        };
        if let Some(n) = &w.new_hash {
            row.refresh_hash = Some(n.clone());
        }
        row.jtis.push_str(&format!("{},", w.jti));
        row.grant.exp_s = w.exp_s;
        row.grant.created_at = now;
        true
    }

    fn jtis(&self, gid: &str) -> Option<String> {
        self.grants.get(gid).map(|r| r.jtis.clone())
    }

    fn revoke_grant(&mut self, gid: &str) -> bool {
        self.grants.remove(gid).is_some()
    }

    fn revoke_access(&mut self, gid: &str, jti: &str) -> bool {
        match self.grants.get_mut(gid) {
            Some(row) => {
                row.jtis = row.jtis.replace(&format!("{jti},"), "");
                true
            }
            None => false,
        }
    }

    fn revoke_by_session(&mut self, handle: &str) -> u64 {
        let before = self.grants.len();
        self.grants.retain(|_, r| r.session_handle != handle);
        (before - self.grants.len()) as u64
    }
}

const ISS: &str = "http://localhost:3001/auth";
const STATE: &str = "state-123456";
const NONCE: &str = "nonce-123456";
// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SECRET: &str = "generated-secret-of-good-length-0123456789a";

struct World {
    mem: Mem,
    client: Client,
    key: SigningKey,
    rng: SeqRandom,
    /// The browser's cookie jar (name → value).
    jar: Vec<(String, String)>,
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn auth_params(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("client_id", "stcl_test"),
        ("redirect_uri", "https://rp.example.com/cb"),
        ("response_type", "code"),
        ("scope", "openid offline_access"),
        ("state", STATE),
        ("nonce", NONCE),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        p.retain(|(n, _)| n != k);
        if !v.is_empty() {
            p.push((k.to_string(), v.to_string()));
        }
    }
    p
}

fn redirect_of(a: &AuthAnswer) -> (&str, &[String]) {
    match a {
        AuthAnswer::Redirect { redirect_to, cookies } => (redirect_to, cookies),
        AuthAnswer::Failed(f) => panic!("expected a redirect, got {f:?}"),
    }
}

/// The query (or fragment) parameters of a URL.
fn url_params(url: &str) -> HashMap<String, String> {
    let q = url.split_once(['?', '#']).map_or("", |(_, q)| q);
    let q = q.split('#').next().unwrap_or("");
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), super::url::form_decode(v).unwrap()))
        .collect()
}

impl World {
    fn new() -> World {
        let rng = SeqRandom::new();
        let mut c = client();
        c.secret_hash = Some(secret::hash_generated(SECRET, &rng).unwrap());
        World { mem: Mem::default(), client: c, key: signing_key(), rng, jar: vec![] }
    }

    fn signer(&self) -> Signer<'_> {
        Signer { kid: "s-test", key: &self.key }
    }

    fn cookie_header(&self) -> String {
        self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn take_cookies(&mut self, set_cookies: &[String]) {
        for c in set_cookies {
            assert!(c.contains("; Expires=") && c.contains("; Path=/") && c.contains("; SameSite=Lax"), "{c}");
            let (pair, _) = c.split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.jar.retain(|(n, _)| n != k);
            self.jar.push((k.to_owned(), v.to_owned()));
        }
    }

    /// One `/recipe/oauth/auth` call, as the handler will make it.
    fn auth(&mut self, pairs: Vec<(String, String)>, now: i64) -> AuthAnswer {
        let input = AuthInput { params: Params::new(pairs), iss: Some(ISS.into()), cookies: Some(self.cookie_header()), ..Default::default() };
        let req = match authorize::validate(&input, Some(&self.client)) {
            Ok(r) => r,
            Err(a) => return a,
        };
        let cookies = input.cookies.as_deref();
        match input.step() {
            Step::Start => match authorize::start(req, now, &self.rng) {
                Ok((flow, answer)) => {
                    self.mem.flows.push(flow);
                    answer
                }
                Err(a) => a,
            },
            step @ Step::LoginVerifier(_) => {
                let hash = step.verifier_hash().unwrap();
                let flow = self.mem.flow_by(|f| f.login_verifier_hash.as_deref() == Some(hash.as_str()));
                let login = match authorize::check_login_verifier(flow.as_ref(), &req, cookies, now) {
                    Ok(l) => l.clone(),
                    Err(a) => return a,
                };
                let flow = flow.unwrap();
                let remembered = self.mem.consents.iter().find(|c| c.client_id == flow.client_id && c.subject == login.subject).cloned();
                let (start, answer) = authorize::begin_consent(&flow, remembered.as_ref(), now, &self.rng).unwrap();
                if !self.mem.use_login_verifier(&flow.login_challenge, &start) {
                    return authorize::verifier_already_used(&req, CsrfKind::Login);
                }
                answer
            }
            step @ Step::ConsentVerifier(_) => {
                let hash = step.verifier_hash().unwrap();
                let flow = self.mem.flow_by(|f| f.consent_verifier_hash.as_deref() == Some(hash.as_str()));
                let (login, consent) = match authorize::check_consent_verifier(flow.as_ref(), &req, cookies, now) {
                    Ok((l, c)) => (l.clone(), c.clone()),
                    Err(a) => return a,
                };
                let flow = flow.unwrap();
                let (completion, answer) =
                    authorize::complete(&flow, &login, &consent, &self.client, &input, &self.signer(), now, &self.rng).unwrap();
                if !self.mem.use_consent_verifier(&flow.login_challenge, &completion) {
                    return authorize::verifier_already_used(&req, CsrfKind::Consent);
                }
                answer
            }
        }
    }

    fn accept_login(&mut self, challenge: &str, now: i64) -> String {
        let flow = self.mem.flow_by(|f| f.login_challenge == challenge);
        let body = obj(json!({"subject": "user-1", "identityProviderSessionId": "sh-1", "acr": null, "amr": null, "context": null, "extendSessionLifespan": null}));
        let (handled, answer) = challenges::accept_login(flow.as_ref(), &body, now, &self.rng).unwrap();
        assert!(self.mem.handle_login(challenge, &handled));
        answer["redirectTo"].as_str().unwrap().to_owned()
    }

    fn accept_consent(&mut self, challenge: &str, remember: bool, now: i64) -> String {
        let flow = self.mem.flow_by(|f| f.consent_challenge.as_deref() == Some(challenge));
        let requested = flow.as_ref().map(|f| f.request.scopes.clone()).unwrap_or_default();
        let body = obj(json!({
            "grantScope": requested, "grantAccessTokenAudience": [], "remember": remember, "rememberFor": 0,
            "handledAt": null, "context": null, "iss": ISS, "tId": "public", "rsub": "recipe-user-1",
            "sessionHandle": "sh-1", "initialAccessTokenPayload": {"email": "u@example.com"},
            "initialIdTokenPayload": {"email": "u@example.com", "email_verified": true}
        }));
        let (handled, answer) = challenges::accept_consent(flow.as_ref(), Some(&self.client), &body, now, &self.rng).unwrap();
        assert!(self.mem.handle_consent(challenge, &handled));
        answer["redirectTo"].as_str().unwrap().to_owned()
    }

    /// Follows `{apiDomain}/oauth/auth?…` as the SDK does (its query becomes `params`).
    fn follow(&mut self, to: &str, now: i64) -> AuthAnswer {
        assert!(to.starts_with("{apiDomain}/oauth/auth?"), "{to}");
        let q = to.split_once('?').unwrap().1;
        let pairs = q.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), super::url::form_decode(v).unwrap())).collect();
        self.auth(pairs, now)
    }

    /// A whole flow up to the client's callback; returns the callback URL.
    fn authorize(&mut self, extra: &[(&str, &str)], remember: bool, now: i64) -> String {
        let answer = self.auth(auth_params(extra), now);
        let (to, set) = redirect_of(&answer);
        let (to, set) = (to.to_owned(), set.to_vec());
        self.take_cookies(&set);
        let lc = url_params(&to)["login_challenge"].clone();
        let to = self.accept_login(&lc, now);
        let answer = self.follow(&to, now);
        let (to, set) = redirect_of(&answer);
        let (to, set) = (to.to_owned(), set.to_vec());
        self.take_cookies(&set);
        let cc = url_params(&to)["consent_challenge"].clone();
        let to = self.accept_consent(&cc, remember, now);
        let answer = self.follow(&to, now);
        redirect_of(&answer).0.to_owned()
    }

    fn token_input(&self, form: Value, header: Option<String>) -> TokenInput {
        let mut body = obj(json!({"iss": ISS, "inputBody": form}));
        if let Some(h) = header {
            body.insert("authorizationHeader".into(), json!(h));
        }
        if form_grant(&body) != "authorization_code" {
            body.insert("access_token".into(), json!({"fresh": true}));
            body.insert("id_token".into(), json!({}));
        }
        TokenInput::from_body(&body).unwrap()
    }

    /// Client authentication as the handler will do it.
    fn authenticate(&self, t: &TokenInput) -> Result<(), OAuthError> {
        let p = token::presented(t.authorization_header.as_deref(), t.client_id.as_deref(), t.client_secret.as_deref()).map_err(|f| match f {
            Failure::OAuth(e) => e,
            other => panic!("{other:?}"),
        })?;
        match token::authenticate(Some(&self.client), &p)? {
            SecretCheck::Public => Ok(()),
            SecretCheck::Verify { presented, stored } => {
                if secret::verify(&presented, &stored, &VerifySettings::default()) == Ok(true) {
                    Ok(())
                } else {
                    Err(token::invalid_client())
                }
            }
        }
    }

    /// `/recipe/oauth/token` with `authorization_code`, as the handler will run it.
    fn exchange(&mut self, code: &str, verifier: Option<&str>, redirect_uri: &str, now: i64) -> Result<Issued, OAuthError> {
        let mut form = json!({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": "stcl_test"});
        if let Some(v) = verifier {
            form["code_verifier"] = json!(v);
        }
        let t = self.token_input(form, Some(basic("stcl_test", SECRET)));
        self.authenticate(&t)?;
        token::grant_type(&t, &self.client)?;
        let hash = token::code_hash(&t).unwrap();
        let flow = self.mem.flow_by(|f| f.code_hash.as_deref() == Some(hash.as_str()));
        let mut grant = match token::check_code(&t, &self.client, flow.as_ref(), now) {
            Ok(g) => g,
            Err(refused) => {
                if let Some(gid) = &refused.revoke_gid {
                    self.mem.revoke_grant(gid);
                }
                return Err(refused.error);
            }
        };
        let flow = flow.unwrap();
        let issued = token::code_tokens(&t, &self.client, &flow, &mut grant, &self.signer(), now, &self.rng).unwrap();
        if !self.mem.redeem(&hash, &grant, &issued) {
            let refused = token::code_reused(&flow);
            self.mem.revoke_grant(refused.revoke_gid.as_deref().unwrap());
            return Err(refused.error);
        }
        Ok(issued)
    }

    fn refresh(&mut self, refresh_token: &str, now: i64) -> Result<Issued, OAuthError> {
        let t = self.token_input(json!({"grant_type": "refresh_token", "refresh_token": refresh_token}), Some(basic("stcl_test", SECRET)));
        self.authenticate(&t)?;
        token::grant_type(&t, &self.client)?;
        let grant = token::refresh_hash(&t).and_then(|h| self.mem.grant_by_refresh(&h));
        let (issued, write) = token::refresh(&t, &self.client, grant.as_ref(), &self.signer(), now, &self.rng).map_err(|f| match f {
            Failure::OAuth(e) => e,
            other => panic!("{other:?}"),
        })?;
        if !self.mem.refresh(&write, now) {
            return Err(token::token_inactive());
        }
        Ok(issued)
    }

    /// `/recipe/oauth/introspect` as the handler will run it.
    fn introspect(&self, token: &str, now: i64) -> Value {
        if let Some(hash) = introspect::refresh_token_hash(token) {
            return introspect::refresh_answer(self.mem.grant_by_refresh(&hash).as_ref(), now, &[]);
        }
        let claims = jwt::decode(token).and_then(|u| u.verify(&self.key.public_key().unwrap()));
        let Some(claims) = claims else { return introspect::inactive() };
        let Some((gid, _)) = introspect::access_lookup(&claims, now, &[]) else { return introspect::inactive() };
        let jtis = self.mem.jtis(gid);
        introspect::access_answer(claims.clone(), jtis.as_deref())
    }

    fn revoke(&mut self, token: &str) {
        let body = obj(json!({"token": token, "authorizationHeader": basic("stcl_test", SECRET)}));
        let input = revoke::parse(&body).unwrap();
        let action = if let Some(hash) = introspect::refresh_token_hash(&input.token) {
            revoke::of_refresh_token(self.mem.grant_by_refresh(&hash).as_ref(), &input.client.client_id)
        } else {
            let claims = jwt::decode(&input.token).and_then(|u| u.verify(&self.key.public_key().unwrap()));
            revoke::of_access_token(claims.as_ref(), &input.client.client_id)
        };
        match action {
            Revocation::Nothing => {}
            Revocation::Grant { gid } => {
                self.mem.revoke_grant(&gid);
            }
            Revocation::AccessToken { gid, jti } => {
                self.mem.revoke_access(&gid, &jti);
            }
        }
    }
}

fn form_grant(body: &Map<String, Value>) -> String {
    body["inputBody"]["grant_type"].as_str().unwrap_or("").to_owned()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn code_of(callback: &str) -> String {
    url_params(callback)["code"].clone()
}

#[test]
fn the_code_flow_with_pkce_from_start_to_refresh() {
    let mut w = World::new();
    // 1. Start: the SDK's login page, and a login CSRF cookie with Expires.
    let answer = w.auth(auth_params(&[]), NOW);
    let json = answer.redirect_json().unwrap();
    assert_eq!(json.as_object().unwrap().len(), 2);
    let to = json["redirectTo"].as_str().unwrap();
    assert!(to.starts_with("{apiDomain}/oauth/login?login_challenge="), "{to}");
    assert_eq!(url_params(to).len(), 1, "exactly one query parameter");
    let cookie = json["cookies"][0].as_str().unwrap();
    assert!(cookie.starts_with(&cookies::csrf_cookie_name(CsrfKind::Login, "stcl_test")));
    assert!(cookie.contains("Expires=Tue, 14 Nov 2023 22:43:20 GMT; Max-Age=1800; HttpOnly; SameSite=Lax"));
    let (to, set) = redirect_of(&answer);
    let (to, set) = (to.to_owned(), set.to_vec());
    w.take_cookies(&set);
    let lc = url_params(&to)["login_challenge"].clone();

    // 2. The login request, as the SDK reads it: exactly ten keys.
    let flow = w.mem.flow_by(|f| f.login_challenge == lc);
    let lr = challenges::login_request(flow.as_ref(), Some(&w.client), NOW).unwrap();
    let keys: Vec<&str> = lr.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["challenge", "requestedScope", "requestedAccessTokenAudience", "skip", "subject", "oidcContext", "client", "requestUrl", "sessionId"]);
    assert_eq!(lr["requestedScope"], json!(["openid", "offline_access"]));
    assert_eq!(lr["skip"], false);
    assert_eq!(lr["client"]["clientId"], "stcl_test");
    assert!(lr["client"].get("clientSecret").is_none());
    assert_eq!(lr["client"]["enableRefreshTokenRotation"], false);
    assert_eq!(lr["oidcContext"], json!({"acrValues": [], "uiLocales": [], "idTokenHintClaims": {}}));
    let request_url = lr["requestUrl"].as_str().unwrap();
    assert!(request_url.starts_with("http://localhost:3001/auth/oauth/auth?client_id=stcl_test&"), "{request_url}");

    // 3. Login accepted: the verifier URL is the original query plus login_verifier.
    let to = w.accept_login(&lc, NOW + 1000);
    let p = url_params(&to);
    assert_eq!(p.len(), 9);
    assert_eq!(p["scope"], "openid offline_access");
    assert!(p.contains_key("login_verifier"));

    // 4. Login verifier → consent page and a consent CSRF cookie.
    let answer = w.follow(&to, NOW + 2000);
    let (to, set) = redirect_of(&answer);
    let (to, set) = (to.to_owned(), set.to_vec());
    assert!(to.starts_with("{apiDomain}/oauth/consent?consent_challenge="), "{to}");
    assert!(set[0].starts_with("st_oauth_consent_csrf_"));
    w.take_cookies(&set);
    let cc = url_params(&to)["consent_challenge"].clone();

    // 5. The consent request.
    let flow = w.mem.flow_by(|f| f.consent_challenge.as_deref() == Some(cc.as_str()));
    let cr = challenges::consent_request(flow.as_ref(), Some(&w.client), NOW + 2000).unwrap();
    for key in ["acr", "amr", "challenge", "client", "context", "loginChallenge", "loginSessionId", "oidcContext", "requestedAccessTokenAudience", "requestedScope", "skip", "subject"] {
        assert!(cr.get(key).is_some(), "consent request lacks {key}");
    }
    assert_eq!(cr["subject"], "user-1");
    assert_eq!(cr["skip"], false);
    assert_eq!(cr["loginSessionId"], lr["sessionId"]);
    assert!(cr["client"].get("enableRefreshTokenRotation").is_none() && cr["client"].get("clientSecret").is_none());

    // 6. Consent accepted → consent verifier (without the login verifier) → the code.
    let to = w.accept_consent(&cc, false, NOW + 3000);
    assert!(to.contains("consent_verifier=") && !to.contains("login_verifier="), "{to}");
    let answer = w.follow(&to, NOW + 4000);
    let (callback, set) = redirect_of(&answer);
    assert!(set.is_empty());
    assert!(callback.starts_with("https://rp.example.com/cb?code=st_ac_"), "{callback}");
    let p = url_params(callback);
    assert_eq!((p["scope"].as_str(), p["state"].as_str()), ("openid offline_access", STATE));
    let code = p["code"].clone();

    // 7. The token exchange.
    let issued = w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW + 5000).unwrap();
    let json = issued.to_json();
    assert_eq!(json["token_type"], "bearer");
    assert_eq!(json["expires_in"], 3600);
    assert_eq!(json["scope"], "openid offline_access");
    let at = claims_of(&issued.access_token);
    assert_eq!((at["stt"].as_i64(), at["sub"].as_str(), at["client_id"].as_str()), (Some(1), Some("user-1"), Some("stcl_test")));
    assert_eq!(at["sessionHandle"], "sh-1");
    assert_eq!(at["rsub"], "recipe-user-1");
    assert_eq!(at["tId"], "public");
    assert_eq!(at["iss"], ISS);
    assert_eq!(at["email"], "u@example.com", "the consent's initial payload");
    let gid = at["gid"].as_str().unwrap().to_owned();
    let id = claims_of(issued.id_token.as_deref().unwrap());
    assert_eq!((id["stt"].as_i64(), id["aud"].as_str(), id["nonce"].as_str()), (Some(2), Some("stcl_test"), Some(NONCE)));
    assert_eq!(id["sid"], "sh-1");
    assert_eq!(id["auth_time"], (NOW + 1000) / 1000);
    assert_eq!(id["rat"], NOW / 1000);
    assert_eq!(id["email_verified"], true);
    let refresh_token = issued.refresh.as_ref().unwrap().plain.clone();
    assert!(refresh_token.starts_with("st_rt_"));

    // 8. Introspection of both.
    let v = w.introspect(&issued.access_token, NOW + 6000);
    assert_eq!((v["active"].as_bool(), v["gid"].as_str()), (Some(true), Some(gid.as_str())));
    let v = w.introspect(&refresh_token, NOW + 6000);
    assert_eq!((v["active"].as_bool(), v["sessionHandle"].as_str(), v["sub"].as_str()), (Some(true), Some("sh-1"), Some("user-1")));

    // 9. Refresh without rotation: no new refresh token, the old one keeps working, same gid.
    let r1 = w.refresh(&refresh_token, NOW + 7000).unwrap();
    assert!(r1.refresh.is_none() && r1.to_json().get("refresh_token").is_none());
    let at1 = claims_of(&r1.access_token);
    assert_eq!(at1["gid"], json!(gid));
    assert_eq!(at1["fresh"], true, "the refresh call's payload");
    assert!(at1.get("email").is_none());
    assert!(r1.id_token.is_some());
    let r2 = w.refresh(&refresh_token, NOW + 8000).unwrap();
    assert_eq!(w.introspect(&r1.access_token, NOW + 9000)["active"], true);
    assert_eq!(w.introspect(&r2.access_token, NOW + 9000)["active"], true);
    assert_eq!(w.introspect(&issued.access_token, NOW + 9000)["active"], true);
}

#[test]
fn rotation_replaces_the_refresh_token() {
    let mut w = World::new();
    w.client.enable_refresh_token_rotation = true;
    let callback = w.authorize(&[], false, NOW);
    let issued = w.exchange(&code_of(&callback), Some(VERIFIER), "https://rp.example.com/cb", NOW).unwrap();
    let first = issued.refresh.unwrap().plain;
    let r1 = w.refresh(&first, NOW + 1000).unwrap();
    let second = r1.refresh.as_ref().unwrap().plain.clone();
    assert_ne!(first, second);
    assert_eq!(r1.to_json()["refresh_token"], json!(second));
    // The old token is inactive; the new one works (the grant survives: D12).
    assert_eq!(w.refresh(&first, NOW + 2000).unwrap_err(), token::token_inactive());
    assert_eq!(w.introspect(&first, NOW + 2000)["active"], false);
    assert!(w.refresh(&second, NOW + 3000).is_ok());
}

#[test]
fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let mut w = World::new();
    let callback = w.authorize(&[], false, NOW);
    let code = code_of(&callback);
    let issued = w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW + 1000).unwrap();
    assert_eq!(w.introspect(&issued.access_token, NOW + 1000)["active"], true);
    let e = w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW + 2000).unwrap_err();
    assert_eq!((e.error.as_str(), e.status_code), ("invalid_grant", 400));
    assert!(e.description.unwrap().contains("already been used"));
    // RFC 6749 §4.1.2: the tokens of the first exchange are revoked (D17).
    assert_eq!(w.introspect(&issued.access_token, NOW + 3000)["active"], false);
    assert_eq!(w.introspect(issued.refresh.as_ref().unwrap().plain.as_str(), NOW + 3000)["active"], false);
    assert_eq!(w.refresh(&issued.refresh.unwrap().plain, NOW + 3000).unwrap_err(), token::token_inactive());
}

#[test]
fn an_expired_code_is_refused() {
    let mut w = World::new();
    let callback = w.authorize(&[], false, NOW);
    let code = code_of(&callback);
    let e = w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW + 10 * 60_000 + 1).unwrap_err();
    assert_eq!((e.error.as_str(), e.status_code), ("invalid_grant", 400));
    assert!(e.description.unwrap().contains("expired"));
    // Just in time still works.
    assert!(w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW + 10 * 60_000).is_ok());
}

#[test]
fn pkce_mismatches_are_refused() {
    let mut w = World::new();
    let code = code_of(&w.authorize(&[], false, NOW));
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj";
    for (verifier, hint) in [(Some(wrong), "did not match"), (None, "at least 43")] {
        let e = w.exchange(&code, verifier, "https://rp.example.com/cb", NOW).unwrap_err();
        assert_eq!(e.error, "invalid_grant");
        assert!(e.description.unwrap().contains(hint));
    }
    // A failed check does not use the code up.
    assert!(w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW).is_ok());

    // Plain PKCE: the verifier is the challenge.
    let mut w = World::new();
    let code = code_of(&w.authorize(&[("code_challenge", VERIFIER), ("code_challenge_method", "plain")], false, NOW));
    assert_eq!(w.exchange(&code, Some(CHALLENGE), "https://rp.example.com/cb", NOW).unwrap_err().error, "invalid_grant");
    assert!(w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW).is_ok());

    // No PKCE at /auth: a verifier at /token is refused, none is fine.
    let mut w = World::new();
    let code = code_of(&w.authorize(&[("code_challenge", ""), ("code_challenge_method", "")], false, NOW));
    assert_eq!(w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW).unwrap_err().error, "invalid_grant");
    assert!(w.exchange(&code, None, "https://rp.example.com/cb", NOW).is_ok());
}

#[test]
fn a_wrong_secret_or_client_is_invalid_client() {
    let mut w = World::new();
    let code = code_of(&w.authorize(&[], false, NOW));
    let t = w.token_input(json!({"grant_type": "authorization_code", "code": code}), Some(basic("stcl_test", "wrong-secret")));
    let e = w.authenticate(&t).unwrap_err();
    assert_eq!((e.error.as_str(), e.status_code), ("invalid_client", 401));
    // The secret in the body when the client registered the header method.
    let t = w.token_input(json!({"grant_type": "authorization_code", "client_id": "stcl_test", "client_secret": SECRET}), None);
    let e = w.authenticate(&t).unwrap_err();
    assert_eq!(e.status_code, 401);
    assert!(e.description.unwrap().contains("'client_secret_basic', but method 'client_secret_post'"));
    // An unknown client (RFC 6749 §5.2: 401, D1).
    let p = token::presented(Some(&basic("nobody", "x")), None, None).unwrap();
    assert_eq!(token::authenticate(None, &p).unwrap_err(), token::invalid_client());
    assert_eq!(token::authenticate(Some(&w.client), &p).unwrap_err(), token::invalid_client());
    // No credentials at all.
    assert!(matches!(token::presented(None, None, None), Err(Failure::OAuth(e)) if e.error == "invalid_request"));
    // Public clients are identified by their id.
    let mut public = w.client.clone();
    public.config.token_endpoint_auth_method = client::AuthMethod::None;
    public.secret_hash = None;
    let p = token::presented(None, Some("stcl_test"), None).unwrap();
    assert_eq!(token::authenticate(Some(&public), &p), Ok(SecretCheck::Public));
    // A confidential client without a secret presented.
    let mut post = w.client.clone();
    post.config.token_endpoint_auth_method = client::AuthMethod::Post;
    assert_eq!(token::authenticate(Some(&post), &p).unwrap_err().status_code, 401);
}

#[test]
fn redirect_uris_must_match_exactly() {
    let mut w = World::new();
    // At /auth: not redirected (the URI is not trusted), 400.
    let answer = w.auth(auth_params(&[("redirect_uri", "https://rp.example.com/cb/evil")]), NOW);
    let AuthAnswer::Failed(Failure::OAuth(e)) = answer else { panic!("{answer:?}") };
    assert_eq!((e.error.as_str(), e.status_code), ("invalid_request", 400));
    assert!(e.description.unwrap().ends_with("The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls."));
    // OpenID requests must name it.
    let answer = w.auth(auth_params(&[("redirect_uri", "")]), NOW);
    assert!(matches!(answer, AuthAnswer::Failed(Failure::OAuth(ref e)) if e.description.as_deref().unwrap().contains("required when using OpenID Connect")));
    // At /token: the one of the authorization request.
    let code = code_of(&w.authorize(&[], false, NOW));
    let e = w.exchange(&code, Some(VERIFIER), "http://localhost:3000/cb?x=1", NOW).unwrap_err();
    assert_eq!(e.error, "invalid_grant");
    assert!(e.description.unwrap().contains("redirect_uri"));
    // The registered URI's own query is kept in the callback.
    let callback = w.authorize(&[("redirect_uri", "http://localhost:3000/cb?x=1")], false, NOW);
    assert!(callback.starts_with("http://localhost:3000/cb?x=1&code=st_ac_"), "{callback}");
}

#[test]
fn scopes_outside_the_clients_are_refused() {
    let mut w = World::new();
    let answer = w.auth(auth_params(&[("scope", "openid admin")]), NOW);
    let (to, cookies) = redirect_of(&answer);
    assert!(cookies.is_empty());
    let p = url_params(to);
    assert!(to.starts_with("https://rp.example.com/cb?error=invalid_scope&"));
    assert_eq!(p["state"], STATE);
    assert!(p["error_description"].ends_with("The OAuth 2.0 Client is not allowed to request scope 'admin'."));
    // Wildcards of the client allow sub-scopes.
    assert!(w.authorize(&[("scope", "openid api.read")], false, NOW).contains("code="));
    // M2M with a scope the client lacks.
    let t = w.token_input(json!({"grant_type": "client_credentials", "scope": "admin"}), Some(basic("stcl_test", SECRET)));
    let e = token::client_credentials(&t, &w.client, &w.signer(), NOW, &w.rng).unwrap_err();
    assert!(matches!(e, Failure::OAuth(ref e) if e.error == "invalid_scope" && e.status_code == 400), "{e:?}");
}

#[test]
fn revoked_tokens_are_inactive() {
    let mut w = World::new();
    let code = code_of(&w.authorize(&[], false, NOW));
    let issued = w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW).unwrap();
    let r1 = w.refresh(&issued.refresh.as_ref().unwrap().plain, NOW + 1000).unwrap();
    // One access token: only that one dies.
    w.revoke(&issued.access_token);
    assert_eq!(w.introspect(&issued.access_token, NOW + 2000)["active"], false);
    assert_eq!(w.introspect(&r1.access_token, NOW + 2000)["active"], true);
    // The refresh token: the whole grant.
    let rt = issued.refresh.unwrap().plain;
    w.revoke(&rt);
    assert_eq!(w.introspect(&r1.access_token, NOW + 3000)["active"], false);
    assert_eq!(w.introspect(&rt, NOW + 3000)["active"], false);
    assert_eq!(w.refresh(&rt, NOW + 3000).unwrap_err(), token::token_inactive());
    // Garbage and unknown tokens: nothing, never an error.
    w.revoke("garbage");
    w.revoke("st_rt_unknown");
    assert_eq!(w.introspect("garbage", NOW), introspect::inactive());

    // All tokens of a session.
    let code = code_of(&w.authorize(&[], false, NOW));
    let issued = w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW).unwrap();
    assert_eq!(w.mem.revoke_by_session("sh-1"), 1);
    assert_eq!(w.introspect(&issued.access_token, NOW)["active"], false);

    // Expired access tokens are inactive.
    let code = code_of(&w.authorize(&[], false, NOW));
    let issued = w.exchange(&code, Some(VERIFIER), "https://rp.example.com/cb", NOW).unwrap();
    assert_eq!(w.introspect(&issued.access_token, NOW + 3_600_001)["active"], false);
}

#[test]
fn verifiers_are_single_use_and_csrf_checked() {
    let mut w = World::new();
    let answer = w.auth(auth_params(&[]), NOW);
    let (to, set) = redirect_of(&answer);
    let (to, set) = (to.to_owned(), set.to_vec());
    w.take_cookies(&set);
    let lc = url_params(&to)["login_challenge"].clone();
    let verifier_url = w.accept_login(&lc, NOW);

    // Without the CSRF cookie, or with another value: request_forbidden (403), redirected.
    let jar = std::mem::take(&mut w.jar);
    let answer = w.follow(&verifier_url, NOW);
    let (to, _) = redirect_of(&answer);
    assert!(to.starts_with("https://rp.example.com/cb?error=request_forbidden&"), "{to}");
    w.jar = jar.iter().map(|(k, _)| (k.clone(), "forged".to_owned())).collect();
    let answer = w.follow(&verifier_url, NOW);
    assert!(url_params(redirect_of(&answer).0)["error_description"].contains("does not match"));
    w.jar = jar;

    // After 30 minutes: request_unauthorized, at the verifier and at the login request.
    let answer = w.follow(&verifier_url, NOW + 30 * 60_000 + 1);
    assert_eq!(url_params(redirect_of(&answer).0)["error"], "request_unauthorized");
    let flow = w.mem.flow_by(|f| f.login_challenge == lc);
    assert!(matches!(challenges::login_request(flow.as_ref(), Some(&w.client), NOW + 30 * 60_000 + 1), Err(Failure::OAuth(e)) if e.error == "request_unauthorized"));
    assert_eq!(challenges::login_request(flow.as_ref(), None, NOW), Err(Failure::ClientNotFound));

    // Used once; the second use is access_denied.
    assert!(redirect_of(&w.follow(&verifier_url, NOW)).0.contains("/oauth/consent?"));
    let answer = w.follow(&verifier_url, NOW);
    assert_eq!(url_params(redirect_of(&answer).0)["error"], "access_denied");
    // A made-up verifier too.
    let answer = w.follow(&format!("{}x", verifier_url), NOW);
    assert_eq!(url_params(redirect_of(&answer).0)["error"], "access_denied");

    // The login request is gone once its verifier is used (410), unknown challenges are 404.
    let flow = w.mem.flow_by(|f| f.login_challenge == lc);
    let e = challenges::login_request(flow.as_ref(), Some(&w.client), NOW).unwrap_err();
    assert_eq!(e, Failure::OAuth(OAuthError::already_handled()));
    let e = challenges::accept_login(flow.as_ref(), &obj(json!({"subject": "u"})), NOW, &w.rng).unwrap_err();
    assert_eq!(e, Failure::OAuth(OAuthError::already_handled()));
    assert!(matches!(challenges::login_request(None, Some(&w.client), NOW), Err(Failure::OAuth(e)) if e.status_code == 404));
    assert!(!w.mem.handle_login(&lc, &LoginHandled { verifier_hash: "x".into(), outcome: flow.unwrap().login.unwrap() }));
}

#[test]
fn rejected_logins_and_consents_reach_the_client_as_errors() {
    let mut w = World::new();
    let answer = w.auth(auth_params(&[]), NOW);
    let (to, set) = redirect_of(&answer);
    let (to, set) = (to.to_owned(), set.to_vec());
    w.take_cookies(&set);
    let lc = url_params(&to)["login_challenge"].clone();
    let flow = w.mem.flow_by(|f| f.login_challenge == lc);
    let body = obj(json!({"error": "login_required", "errorDescription": "Prompt 'none' was requested", "statusCode": null}));
    let (handled, answer) = challenges::reject_login(flow.as_ref(), &body, NOW, &w.rng).unwrap();
    assert!(w.mem.handle_login(&lc, &handled));
    let answer = w.follow(answer["redirectTo"].as_str().unwrap(), NOW);
    let p = url_params(redirect_of(&answer).0);
    assert_eq!((p["error"].as_str(), p["error_description"].as_str(), p["state"].as_str()), ("login_required", "Prompt 'none' was requested", STATE));

    // A rejected consent, with Hydra's default error.
    let mut w = World::new();
    let answer = w.auth(auth_params(&[]), NOW);
    let (to, set) = redirect_of(&answer);
    let (to, set) = (to.to_owned(), set.to_vec());
    w.take_cookies(&set);
    let to = w.accept_login(&url_params(&to)["login_challenge"], NOW);
    let answer = w.follow(&to, NOW);
    let (to, set) = redirect_of(&answer);
    let (to, set) = (to.to_owned(), set.to_vec());
    w.take_cookies(&set);
    let cc = url_params(&to)["consent_challenge"].clone();
    let flow = w.mem.flow_by(|f| f.consent_challenge.as_deref() == Some(cc.as_str()));
    let (handled, answer) = challenges::reject_consent(flow.as_ref(), &obj(json!({})), NOW, &w.rng).unwrap();
    assert!(w.mem.handle_consent(&cc, &handled));
    let answer = w.follow(answer["redirectTo"].as_str().unwrap(), NOW);
    assert_eq!(url_params(redirect_of(&answer).0)["error"], "consent request denied");
}

#[test]
fn remembered_consent_is_skipped_next_time() {
    let mut w = World::new();
    w.authorize(&[], true, NOW);
    assert_eq!(w.mem.consents.len(), 1);
    assert_eq!(w.mem.consents[0].remember_until, None, "rememberFor 0: indefinitely");
    // A second flow: the consent request says skip.
    let answer = w.auth(auth_params(&[]), NOW + 1000);
    let (to, set) = redirect_of(&answer);
    let (to, set) = (to.to_owned(), set.to_vec());
    w.take_cookies(&set);
    let to = w.accept_login(&url_params(&to)["login_challenge"], NOW + 1000);
    let answer = w.follow(&to, NOW + 1000);
    let cc = url_params(redirect_of(&answer).0)["consent_challenge"].clone();
    let flow = w.mem.flow_by(|f| f.consent_challenge.as_deref() == Some(cc.as_str()));
    let cr = challenges::consent_request(flow.as_ref(), Some(&w.client), NOW + 1000).unwrap();
    assert_eq!(cr["skip"], true);
    // A wider request is not covered.
    let flow = flow.unwrap();
    let mut wider = flow.request.clone();
    wider.scopes.push("email".into());
    assert!(!w.mem.consents[0].covers(&wider, NOW));
    let mut expired = w.mem.consents[0].clone();
    expired.remember_until = Some(NOW);
    assert!(!expired.covers(&flow.request, NOW + 1));
}

#[test]
fn client_credentials_with_scopes_and_audiences() {
    let w = World::new();
    let t = w.token_input(
        json!({"grant_type": "client_credentials", "scope": "api.read api.write", "audience": ["https://api.example.com/v1"]}),
        Some(basic("stcl_test", SECRET)),
    );
    w.authenticate(&t).unwrap();
    assert_eq!(token::grant_type(&t, &w.client), Ok(client::Grant::ClientCredentials));
    let (issued, m2m) = token::client_credentials(&t, &w.client, &w.signer(), NOW, &w.rng).unwrap();
    let at = claims_of(&issued.access_token);
    assert_eq!(at["scp"], json!(["api.read", "api.write"]));
    assert_eq!(at["aud"], "https://api.example.com/v1");
    assert_eq!(at["sub"], "stcl_test");
    assert_eq!(at["fresh"], true, "the SDK's payload");
    assert_eq!((m2m.gid.as_str(), m2m.jti.as_str()), (at["gid"].as_str().unwrap(), at["jti"].as_str().unwrap()));
    assert_eq!((m2m.iat_s, m2m.exp_s), (NOW / 1000, NOW / 1000 + 3600));
    assert_eq!(issued.to_json()["scope"], "api.read api.write");
    // An audience the client lacks.
    let t = w.token_input(json!({"grant_type": "client_credentials", "audience": "https://evil.example.com"}), None);
    assert!(matches!(token::client_credentials(&t, &w.client, &w.signer(), NOW, &w.rng), Err(Failure::OAuth(e)) if e.error == "invalid_request"));
    // Public clients may not; clients without the grant type may not.
    let mut public = w.client.clone();
    public.config.token_endpoint_auth_method = client::AuthMethod::None;
    assert!(matches!(token::client_credentials(&t, &public, &w.signer(), NOW, &w.rng), Err(Failure::OAuth(e)) if e.error == "invalid_grant"));
    let mut code_only = w.client.clone();
    code_only.config.grant_types = vec!["authorization_code".into()];
    let e = token::grant_type(&t, &code_only).unwrap_err();
    assert_eq!((e.error.as_str(), e.status_code), ("unauthorized_client", 400));
    let mut t2 = t.clone();
    t2.grant_type = "password".into();
    assert_eq!(token::grant_type(&t2, &w.client).unwrap_err().error, "unsupported_grant_type");
}

#[test]
fn implicit_and_hybrid_flows_answer_in_the_fragment() {
    let mut w = World::new();
    w.client.config.grant_types.push("implicit".into());
    let callback = w.authorize(&[("response_type", "id_token token"), ("code_challenge", "")], false, NOW);
    assert!(callback.starts_with("https://rp.example.com/cb#"), "{callback}");
    let p = url_params(&callback);
    assert_eq!((p["token_type"].as_str(), p["expires_in"].as_str(), p["state"].as_str()), ("bearer", "3600", STATE));
    let id = claims_of(&p["id_token"]);
    assert_eq!(id["at_hash"], json!(super::claims::left_half_hash(&p["access_token"])));
    assert_eq!(id["nonce"], NONCE);
    assert_eq!(w.introspect(&p["access_token"], NOW)["active"], true);

    // Hybrid: the code and an ID token with c_hash; the code exchange then joins the same grant.
    let callback = w.authorize(&[("response_type", "code id_token")], false, NOW);
    let p = url_params(&callback);
    let id = claims_of(&p["id_token"]);
    assert_eq!(id["c_hash"], json!(super::claims::left_half_hash(&p["code"])));
    assert!(!p.contains_key("access_token"));
    let grants_before = w.mem.grants.len();
    let issued = w.exchange(&p["code"], Some(VERIFIER), "https://rp.example.com/cb", NOW).unwrap();
    assert_eq!(claims_of(&issued.access_token)["gid"], json!(w.mem.flows.last().unwrap().gid));
    assert_ne!(id["gid"], json!(w.mem.flows.last().unwrap().gid), "an ID token's gid is its own");
    assert_eq!(w.mem.grants.len(), grants_before + 1);
    assert_eq!(w.introspect(&issued.access_token, NOW)["active"], true);

    // Without the implicit grant type, or without a nonce.
    let mut w = World::new();
    let answer = w.auth(auth_params(&[("response_type", "id_token token")]), NOW);
    assert!(redirect_of(&answer).0.starts_with("https://rp.example.com/cb#error=unauthorized_client"));
    w.client.config.grant_types.push("implicit".into());
    let answer = w.auth(auth_params(&[("response_type", "id_token token"), ("nonce", "")]), NOW);
    assert!(url_params(redirect_of(&answer).0)["error_description"].contains("'nonce' must be set"));
    let answer = w.auth(auth_params(&[("response_type", "id_token token"), ("response_mode", "query")]), NOW);
    assert!(redirect_of(&answer).0.contains("error=unsupported_response_mode"));
}

#[test]
fn authorization_requests_are_validated_in_order() {
    let mut w = World::new();
    let failed = |a: AuthAnswer| match a {
        AuthAnswer::Failed(f) => f,
        other => panic!("{other:?}"),
    };
    // Before the client is known: not redirected.
    let f = failed(w.auth(auth_params(&[("client_id", "")]), NOW));
    assert!(matches!(f, Failure::OAuth(ref e) if e.error == "invalid_client" && e.status_code == 400));
    assert_eq!(failed(w.auth(auth_params(&[("client_id", "stcl_other")]), NOW)), Failure::ClientNotFound);
    assert!(matches!(failed(w.auth(auth_params(&[("request", "x")]), NOW)), Failure::OAuth(e) if e.error == "request_not_supported"));
    assert!(matches!(failed(w.auth(auth_params(&[("response_mode", "jwt")]), NOW)), Failure::OAuth(e) if e.error == "unsupported_response_mode"));
    // After: redirected with the state.
    for (extra, error) in [
        (vec![("state", "short")], "invalid_state"),
        (vec![("state", "")], "invalid_state"),
        (vec![("response_type", "")], "unsupported_response_type"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("response_type", "code id_token token")], "unsupported_response_type"),
        (vec![("audience", "https://evil.example.com")], "invalid_request"),
        (vec![("nonce", "short")], "invalid_request"),
        (vec![("code_challenge_method", "S512")], "invalid_request"),
        (vec![("registration", "{}")], "registration_not_supported"),
        (vec![("response_mode", "form_post")], "unsupported_response_mode"),
        (vec![("prompt", "none")], "login_required"),
        (vec![("prompt", "none login")], "invalid_request"),
    ] {
        let answer = w.auth(auth_params(&extra), NOW);
        let (to, _) = redirect_of(&answer);
        // The query for `code`; a fragment for every other response type (even an invalid one).
        assert!(to.starts_with("https://rp.example.com/cb?error=") || to.starts_with("https://rp.example.com/cb#error="), "{extra:?}: {to}");
        assert_eq!(url_params(to)["error"], error, "{extra:?}");
    }
    // The response type set may come in any order.
    let answer = w.auth(auth_params(&[("response_type", "token id_token")]), NOW);
    assert!(redirect_of(&answer).0.contains("unauthorized_client"), "allowed as a set; the implicit grant is missing");
}

#[test]
fn bad_input_gets_clear_errors_and_never_panics() {
    let rng = SeqRandom::new();
    let c = client();
    let values = [json!(null), json!(1), json!("s"), json!(true), json!([]), json!([1, "a"]), json!({}), json!({"a": [null]}), json!("x".repeat(5000))];
    let keys = [
        "params", "iss", "cookies", "access_token", "id_token", "inputBody", "grant_type", "token", "clientId", "clientSecret",
        "redirectUris", "scope", "metadata", "subject", "grantScope", "tId", "rsub", "sessionHandle", "initialAccessTokenPayload",
        "initialIdTokenPayload", "challenge", "authorizationHeader", "client_id", "enableRefreshTokenRotation", "amr", "statusCode",
        "authorizationCodeGrantAccessTokenLifespan", "postLogoutRedirectUris", "allowedCorsOrigins", "tokenEndpointAuthMethod",
    ];
    let flow = {
        let mut w = World::new();
        w.auth(auth_params(&[]), NOW);
        w.mem.flows[0].clone()
    };
    for k in keys {
        for v in &values {
            let body = obj(json!({ k: v }));
            let nested = obj(json!({"iss": "i", "inputBody": { k: v }, "params": { k: v }}));
            for b in [&body, &nested] {
                let _ = AuthInput::from_body(b).map(|i| authorize::validate(&i, Some(&c)));
                let _ = TokenInput::from_body(b);
                let _ = client::create(b, NOW, &rng);
                let _ = client::update(&c, b, NOW, &rng);
                let _ = challenges::accept_login(Some(&flow), b, NOW, &rng);
                let _ = challenges::reject_login(Some(&flow), b, NOW, &rng);
                let _ = challenges::accept_consent(Some(&flow), Some(&c), b, NOW, &rng);
                let _ = revoke::parse(b);
                let _ = introspect::parse(b);
                let _ = super::logout::challenge_of(b, None);
            }
        }
    }
    // The messages the core gives.
    assert_eq!(AuthInput::from_body(&obj(json!({}))).unwrap_err(), Failure::BadInput(BadInput::field_invalid("params")));
    assert_eq!(AuthInput::from_body(&obj(json!({"params": {"a": 1}}))).unwrap_err(), Failure::BadInput(BadInput::field_invalid("params")));
    let many: Map<String, Value> = (0..100).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert!(matches!(AuthInput::from_body(&obj(json!({"params": many}))), Err(Failure::OAuth(e)) if e.error == "invalid_request"));
    assert_eq!(TokenInput::from_body(&obj(json!({"inputBody": {}}))).unwrap_err(), Failure::BadInput(BadInput::field_invalid("iss")));
    assert_eq!(
        TokenInput::from_body(&obj(json!({"iss": "i", "inputBody": {"grant_type": "refresh_token"}}))).unwrap_err(),
        Failure::BadInput(BadInput::field_invalid("access_token"))
    );
    assert_eq!(
        TokenInput::from_body(&obj(json!({"iss": "i", "inputBody": {"grant_type": "authorization_code", "code": {"x": 1}}}))).unwrap_err(),
        Failure::BadInput(BadInput(token::MALFORMED.into()))
    );
    assert_eq!(
        TokenInput::from_body(&obj(json!({"iss": "i", "inputBody": {"code": "c"}}))).unwrap_err(),
        Failure::BadInput(BadInput::field_invalid("grant_type"))
    );
    let t = TokenInput::from_body(&obj(json!({"iss": "i", "inputBody": {"grant_type": "client_credentials", "audience": ["a", "b"], "scope": "x y"}, "access_token": {}, "id_token": {}}))).unwrap();
    assert_eq!((t.audience, t.scope), (vec!["a".to_owned(), "b".to_owned()], Some(vec!["x".to_owned(), "y".to_owned()])));
    for header in ["Basic !!!", "Basic bm9jb2xvbg==", "Basic JXp6OnM="] {
        assert_eq!(token::presented(Some(header), None, None).unwrap_err(), Failure::BadInput(BadInput(token::MALFORMED.into())), "{header}");
    }
    // URL-encoded credentials in the header (RFC 6749 §2.3.1).
    let p = token::presented(Some(&basic("a%3Ab", "s%20t")), None, None).unwrap();
    assert_eq!((p.client_id.as_str(), p.secret.as_deref()), ("a:b", Some("s t")));
    // Another scheme is not client authentication.
    assert!(matches!(token::presented(Some("Bearer x"), None, None), Err(Failure::OAuth(_))));
    // Hydra refuses unknown fields in a login accept.
    assert!(matches!(challenges::accept_login(Some(&flow), &obj(json!({"subject": "u", "bogus": 1})), NOW, &rng), Err(Failure::OAuth(e)) if e.description.as_deref().unwrap().contains("'bogus'")));
    assert!(matches!(challenges::accept_login(Some(&flow), &obj(json!({"subject": ""})), NOW, &rng), Err(Failure::OAuth(e)) if e.description.as_deref().unwrap().contains("'subject' must not be empty")));
    // A failing random source is an internal failure, not a panic.
    assert!(matches!(client::create(&Map::new(), NOW, &BrokenRandom), Err(Failure::Internal(_))));
    let req = authorize::validate(&AuthInput { params: params(&auth_params(&[]).iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>()), ..Default::default() }, Some(&c)).unwrap();
    assert!(matches!(authorize::start(req, NOW, &BrokenRandom), Err(AuthAnswer::Failed(Failure::Internal(_)))));
}

#[test]
fn code_hash_is_the_stored_form() {
    let t = TokenInput { code: Some("st_ac_x".into()), ..Default::default() };
    assert_eq!(token::code_hash(&t), Some(sha256_hex("st_ac_x")));
    assert_eq!(token::code_hash(&TokenInput::default()), None);
    let s256 = URL_SAFE_NO_PAD.encode(digest(&SHA256, VERIFIER.as_bytes()));
    assert_eq!(s256, CHALLENGE);
    let _: &dyn Random = &SeqRandom::new();
}
