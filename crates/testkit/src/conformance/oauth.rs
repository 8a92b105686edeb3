//! The OAuth2 provider's storage (`portcullis_core::oauth::storage::OAuthStorage`): what each
//! adapter must do, above all the conditional writes that make codes, verifiers, refresh tokens
//! and logout challenges single-use.

use portcullis_core::ids::{AppKey, TenantKey};
use portcullis_core::oauth::authorize::{self, AuthInput, Completion, ConsentStart, NewCode, Params, RememberedConsent};
use portcullis_core::oauth::challenges;
use portcullis_core::oauth::claims::{GrantRecord, IdClaims, Issued, NewRefreshToken, TokenExt};
use portcullis_core::oauth::client::{Client, ClientConfig, ListQuery};
use portcullis_core::oauth::logout::LogoutChallenge;
use portcullis_core::oauth::random::OsRandom;
use portcullis_core::oauth::storage::{CreateClientOutcome, RedeemOutcome};
use portcullis_core::oauth::token::{M2mIssue, RefreshWrite};
use portcullis_core::storage::Storage;
use serde_json::json;

const NOW: i64 = 1_700_000_000_000;

fn client(id: &str, name: &str) -> Client {
    let config = ClientConfig {
        client_name: name.into(),
        redirect_uris: vec!["http://localhost/cb".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        ..ClientConfig::default()
    };
    Client { client_id: id.into(), secret_hash: Some("$sha256$x$y".into()), enable_refresh_token_rotation: false, config, created_at: NOW, updated_at: NOW }
}

fn grant(gid: &str, client_id: &str, handle: &str) -> GrantRecord {
    GrantRecord {
        gid: gid.into(),
        client_id: client_id.into(),
        subject: "user-1".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        audience: vec!["api1".into()],
        ext: TokenExt { iss: "http://iss".into(), tenant_id: "public".into(), rsub: "user-1".into(), session_handle: handle.into() },
        id_claims: IdClaims { auth_time: 1, rat: 1, sid: Some(handle.into()), nonce: None, acr: None, amr: vec![] },
        created_at: NOW,
        exp_s: NOW / 1000 + 3600,
    }
}

fn issued(jti: &str, refresh_hash: Option<&str>) -> Issued {
    Issued {
        access_token: "a".into(),
        jti: jti.into(),
        access_exp_s: NOW / 1000 + 3600,
        expires_in: 3600,
        id_token: None,
        refresh: refresh_hash.map(|h| NewRefreshToken { plain: "st_rt_x".into(), hash: h.into(), exp_s: NOW / 1000 + 7200 }),
        scope: "openid offline_access".into(),
    }
}

pub async fn run_oauth(s: &dyn Storage) {
    let app = AppKey::new("oauth-app");
    s.add_tenant_rows(TenantKey::new("oauth-app", "public"), 1).await.expect("app rows");
    s.add_tenant_rows(TenantKey::new("oauth-other", "public"), 1).await.expect("other app rows");

    // Clients: create, duplicate, get, update, list (keyset, by name), isolation per app.
    let c1 = client("c1", "one");
    assert_eq!(s.oauth_client_create(app, &c1).await.expect("create"), CreateClientOutcome::Created);
    assert_eq!(s.oauth_client_create(app, &c1).await.expect("create"), CreateClientOutcome::AlreadyExists);
    assert_eq!(s.oauth_client_get(app, "c1").await.expect("get"), Some(c1.clone()), "a client round-trips");
    assert_eq!(s.oauth_client_get(AppKey::new("oauth-other"), "c1").await.expect("get"), None, "clients are per app");
    let mut c1b = c1.clone();
    c1b.config.client_name = "uno".into();
    c1b.enable_refresh_token_rotation = true;
    c1b.updated_at = NOW + 1;
    assert!(s.oauth_client_update(app, &c1b).await.expect("update"));
    assert!(!s.oauth_client_update(app, &client("nope", "x")).await.expect("update"));
    assert_eq!(s.oauth_client_get(app, "c1").await.expect("get"), Some(c1b.clone()));
    s.oauth_client_create(app, &client("c2", "two")).await.expect("create");
    s.oauth_client_create(app, &client("c3", "two")).await.expect("create");
    let page = |after: Option<&str>, name: Option<&str>| ListQuery { page_size: 1, client_name: name.map(Into::into), after: after.map(Into::into) };
    let ids = |v: Vec<Client>| v.into_iter().map(|c| c.client_id).collect::<Vec<_>>();
    assert_eq!(ids(s.oauth_client_list(app, &page(None, None)).await.expect("list")), ["c1", "c2"], "page_size + 1, by id");
    assert_eq!(ids(s.oauth_client_list(app, &page(Some("c2"), None)).await.expect("list")), ["c3"]);
    assert_eq!(ids(s.oauth_client_list(app, &page(None, Some("two"))).await.expect("list")), ["c2", "c3"]);

    // A flow: login handled, its verifier used once; consent handled, used once.
    let mut pairs = vec![];
    for (k, v) in [("client_id", "c1"), ("redirect_uri", "http://localhost/cb"), ("response_type", "code"), ("scope", "openid"), ("state", "state-12345678")] {
        pairs.push((k.to_owned(), v.to_owned()));
    }
    let input = AuthInput { params: Params::new(pairs), iss: Some("http://iss".into()), ..Default::default() };
    let req = authorize::validate(&input, Some(&c1b)).expect("a valid request");
    let (flow, _) = authorize::start(req, NOW, &OsRandom).expect("start");
    s.oauth_flow_insert(app, &flow).await.expect("insert flow");
    let lc = flow.login_challenge.clone();
    assert_eq!(s.oauth_flow_by_login_challenge(app, &lc).await.expect("read"), Some(flow.clone()), "a flow round-trips");
    let body = json!({"subject": "user-1"}).as_object().cloned().unwrap_or_default();
    let (handled, _) = challenges::accept_login(Some(&flow), &body, NOW, &OsRandom).expect("accept");
    assert!(s.oauth_flow_handle_login(app, &lc, &handled).await.expect("handle"));
    let by_verifier = s.oauth_flow_by_login_verifier(app, &handled.verifier_hash).await.expect("read").expect("found");
    assert_eq!(by_verifier.login, Some(handled.outcome.clone()));
    let start = ConsentStart { consent_challenge: "cc-1".into(), consent_csrf: "csrf".into(), skip: false };
    assert!(s.oauth_flow_use_login_verifier(app, &lc, &start).await.expect("use"));
    assert!(!s.oauth_flow_use_login_verifier(app, &lc, &start).await.expect("use"), "a login verifier is used once");
    assert!(!s.oauth_flow_handle_login(app, &lc, &handled).await.expect("handle"), "no answer after its verifier was used");
    let consent_body = json!({"iss": "http://iss", "tId": "public", "rsub": "user-1", "sessionHandle": "sh-1", "initialAccessTokenPayload": {}, "initialIdTokenPayload": {}, "grantScope": ["openid"], "remember": true});
    let consent_flow = s.oauth_flow_by_consent_challenge(app, "cc-1").await.expect("read").expect("found");
    let (chandled, _) = challenges::accept_consent(Some(&consent_flow), Some(&c1b), consent_body.as_object().expect("object"), NOW, &OsRandom).expect("consent");
    assert!(s.oauth_flow_handle_consent(app, "cc-1", &chandled).await.expect("handle"));
    assert!(s.oauth_flow_by_consent_verifier(app, &chandled.verifier_hash).await.expect("read").is_some());
    let remember = RememberedConsent { client_id: "c1".into(), subject: "user-1".into(), scopes: vec!["openid".into()], audience: vec![], remember_until: None, time_created: NOW };
    let done = Completion {
        code: Some(NewCode { plain: "st_ac_x".into(), hash: "code-hash".into(), expires_at: NOW + 600_000 }),
        flow_expires_at: NOW + 90_000_000,
        remember: Some(remember.clone()),
        grant: None,
    };
    assert!(s.oauth_flow_use_consent_verifier(app, &lc, &done).await.expect("use"));
    assert!(!s.oauth_flow_use_consent_verifier(app, &lc, &done).await.expect("use"), "a consent verifier is used once");
    assert_eq!(s.oauth_consent_get(app, "c1", "user-1").await.expect("consent"), Some(remember), "the consent is remembered");
    assert!(s.oauth_flow_by_code(app, "code-hash").await.expect("read").is_some_and(|f| !f.code_used));

    // Redeeming: once; the grant is readable by its refresh hash; a refresh is conditional.
    let g = grant("g1", "c1", "sh-1");
    assert_eq!(s.oauth_redeem_code(app, "code-hash", &g, &issued("j1", Some("rh-1"))).await.expect("redeem"), RedeemOutcome::Redeemed);
    assert_eq!(s.oauth_redeem_code(app, "code-hash", &g, &issued("j2", Some("rh-1"))).await.expect("redeem"), RedeemOutcome::AlreadyUsed);
    let mut stored = s.oauth_grant_by_refresh_hash(app, "rh-1").await.expect("read").expect("grant");
    assert_eq!(stored.exp_s, NOW / 1000 + 7200, "the session row expires with the refresh token");
    stored.exp_s = g.exp_s;
    assert_eq!(stored, g, "a grant round-trips");
    assert_eq!(s.oauth_grant_jtis(app, "g1").await.expect("jtis").as_deref(), Some("j1,"));
    let w = RefreshWrite { old_hash: "rh-1".into(), new_hash: Some("rh-2".into()), jti: "j3".into(), exp_s: NOW / 1000 + 9000 };
    assert!(s.oauth_refresh(app, &w, NOW + 5).await.expect("refresh"));
    assert!(!s.oauth_refresh(app, &w, NOW + 5).await.expect("refresh"), "the old refresh token was rotated away");
    assert_eq!(s.oauth_grant_by_refresh_hash(app, "rh-2").await.expect("read").map(|g| g.created_at), Some(NOW + 5));
    assert_eq!(s.oauth_grant_jtis(app, "g1").await.expect("jtis").as_deref(), Some("j1,j3,"));
    assert!(s.oauth_revoke_access_token(app, "g1", "j1").await.expect("revoke"));
    assert!(!s.oauth_revoke_access_token(app, "g1", "j1").await.expect("revoke"));
    assert_eq!(s.oauth_grant_jtis(app, "g1").await.expect("jtis").as_deref(), Some("j3,"));
    let expired = RefreshWrite { old_hash: "rh-2".into(), new_hash: None, jti: "j4".into(), exp_s: 0 };
    assert!(!s.oauth_refresh(app, &expired, NOW + 10_000_000_000).await.expect("refresh"), "an expired refresh token is refused");

    // M2M: twice in one second is fine (statistics rows are at most one per second).
    for gid in ["m1", "m2"] {
        let m = M2mIssue { gid: gid.into(), client_id: "c2".into(), jti: format!("{gid}-j"), iat_s: NOW / 1000, exp_s: NOW / 1000 + 3600 };
        s.oauth_record_m2m(app, &m).await.expect("m2m");
    }
    assert_eq!(s.oauth_grant_jtis(app, "m1").await.expect("jtis").as_deref(), Some("m1-j,"));
    assert_eq!(s.oauth_revoke_by_client(app, "c2").await.expect("by client"), 2);
    assert_eq!(s.oauth_grant_jtis(app, "m2").await.expect("jtis"), None);

    // Logout: accept consumes the challenge and revokes the session's grants; reject deletes.
    let l = LogoutChallenge { challenge: "lo-1".into(), client_id: "c1".into(), post_logout_redirect_uri: None, session_handle: Some("sh-1".into()), state: Some("s".into()), time_created: NOW };
    s.oauth_logout_challenge_insert(app, &l).await.expect("insert");
    assert_eq!(s.oauth_logout_accept(app, "lo-1", NOW + 1).await.expect("accept"), None, "too old");
    assert_eq!(s.oauth_logout_accept(app, "lo-1", NOW - 1).await.expect("accept"), Some(l.clone()));
    assert_eq!(s.oauth_logout_accept(app, "lo-1", NOW - 1).await.expect("accept"), None, "consumed");
    assert_eq!(s.oauth_grant_jtis(app, "g1").await.expect("jtis"), None, "logout revoked the session's grants");
    s.oauth_logout_challenge_insert(app, &LogoutChallenge { challenge: "lo-2".into(), ..l.clone() }).await.expect("insert");
    assert!(s.oauth_logout_reject(app, "lo-2").await.expect("reject"));
    assert!(!s.oauth_logout_reject(app, "lo-2").await.expect("reject"));

    // By session handle; cleanup of expired rows; removing a client.
    s.oauth_redeem_code(app, "no-such-code", &grant("g9", "c1", "sh-9"), &issued("j", None)).await.expect("redeem");
    assert_eq!(s.oauth_revoke_by_session_handle(app, "sh-9").await.expect("by session"), 0, "nothing was redeemed");
    let cleaned = s.oauth_cleanup(app, NOW + 100_000_000_000).await.expect("cleanup");
    assert_eq!(cleaned.flows, 1, "{cleaned:?}");
    assert!(s.oauth_client_remove(app, "c1").await.expect("remove"));
    assert!(!s.oauth_client_remove(app, "c1").await.expect("remove"));
    assert_eq!(s.oauth_client_get(app, "c1").await.expect("get"), None);
}
