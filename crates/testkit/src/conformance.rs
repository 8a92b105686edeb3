//! The behaviour every storage adapter must show, as one suite each adapter runs against itself
//! (PostgreSQL and SQLite alike). Each check panics with a message naming what broke.

use serde_json::json;

use portcullis_core::storage::Storage;
use portcullis_core::ids::{AppKey, TenantIdentifier, TenantKey};
use portcullis_core::multitenancy::associate_user;
use portcullis_core::multitenancy::{Provider, ProviderClient, TenantConfig, UserInfoMap, UserInfoMapFields};

pub async fn run_all(s: &dyn Storage) {
    s.ping().await.expect("ping");
    tenant_config_round_trip(s).await;
    tenant_config_delete(s).await;
    tenant_rows_and_key_value(s).await;
}

fn full_provider() -> Provider {
    let map = |v: serde_json::Value| v.as_object().cloned();
    Provider {
        third_party_id: "custom".into(),
        name: Some("Custom Provider".into()),
        clients: vec![
            ProviderClient {
                client_type: Some("web".into()),
                client_id: "cid".into(),
                client_secret: Some("secret".into()),
                scope: Some(vec!["email".into(), "profile".into()]),
                force_pkce: Some(true),
                additional_config: map(json!({"teamId": "t", "nested": {"a": 1}})),
            },
            ProviderClient { client_id: "cid2".into(), ..Default::default() },
        ],
        authorization_endpoint: Some("https://example.com/oauth/authorize".into()),
        authorization_endpoint_query_params: map(json!({"someKey1": "value1", "someKey2": null})),
        token_endpoint: Some("https://example.com/oauth/token".into()),
        token_endpoint_body_params: map(json!({"k": "v"})),
        user_info_endpoint: Some("https://example.com/oauth/userinfo".into()),
        user_info_endpoint_query_params: map(json!({"q": null})),
        user_info_endpoint_headers: map(json!({"h": "x"})),
        jwks_uri: Some("https://example.com/jwks".into()),
        oidc_discovery_endpoint: Some("https://example.com/.well-known/openid-configuration".into()),
        require_email: Some(false),
        user_info_map: UserInfoMap {
            from_id_token_payload: UserInfoMapFields { user_id: Some("sub".into()), email: None, email_verified: None },
            from_user_info_api: UserInfoMapFields {
                user_id: Some("id".into()),
                email: Some("email".into()),
                email_verified: Some("email_verified".into()),
            },
        },
    }
}

async fn find(s: &dyn Storage, id: &TenantIdentifier) -> Option<TenantConfig> {
    s.load_tenant_configs().await.expect("load").into_iter().find(|t| &t.id == id)
}

async fn tenant_config_round_trip(s: &dyn Storage) {
    let id = TenantIdentifier::new("", "conf-app", "t1");
    let mut t = TenantConfig::new_v2(id.clone());
    t.first_factors = Some(vec!["emailpassword".into(), "otp-email".into()]);
    t.required_secondary_factors = Some(vec!["totp".into()]);
    t.core_config = json!({"access_token_validity": 10, "api_keys": null}).as_object().cloned().unwrap_or_default();
    t.providers = vec![full_provider(), Provider { third_party_id: "bare".into(), ..Default::default() }];
    assert!(s.upsert_tenant_config(&t).await.expect("upsert"), "first upsert must report created");
    let mut back = find(s, &id).await.expect("tenant config not found after upsert");
    back.providers.sort_by(|a, b| a.third_party_id.cmp(&b.third_party_id));
    t.providers.sort_by(|a, b| a.third_party_id.cmp(&b.third_party_id));
    if let Some(f) = back.first_factors.as_mut() { f.sort() }
    if let Some(f) = t.first_factors.as_mut() { f.sort() }
    for p in back.providers.iter_mut().chain(t.providers.iter_mut()) {
        p.clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    }
    assert_eq!(back, t, "tenant config must round-trip exactly");

    // An update replaces factors and providers and is not "created".
    t.first_factors = None;
    t.required_secondary_factors = None;
    t.providers.clear();
    assert!(!s.upsert_tenant_config(&t).await.expect("update"), "second upsert must not report created");
    let back = find(s, &id).await.expect("tenant config after update");
    assert_eq!(back.first_factors, None);
    assert_eq!(back.required_secondary_factors, None);
    assert!(back.providers.is_empty());
}

async fn tenant_config_delete(s: &dyn Storage) {
    let id = TenantIdentifier::new("", "conf-app", "t2");
    let mut t = TenantConfig::new_v2(id.clone());
    t.providers = vec![full_provider()];
    s.upsert_tenant_config(&t).await.expect("upsert");
    assert!(s.delete_tenant_config(&id).await.expect("delete"));
    assert!(!s.delete_tenant_config(&id).await.expect("delete again"));
    assert!(find(s, &id).await.is_none(), "deleted tenant config must be gone");
    // Removing and recreating works: the providers cascaded away.
    assert!(s.upsert_tenant_config(&t).await.expect("recreate"));
}

async fn tenant_rows_and_key_value(s: &dyn Storage) {
    s.add_tenant_rows(TenantKey::new("kv-app", "public"), 1).await.expect("add rows");
    s.add_tenant_rows(TenantKey::new("kv-app", "public"), 2).await.expect("add rows is idempotent");
    s.add_tenant_rows(TenantKey::new("kv-app", "t1"), 3).await.expect("add tenant");
    let v = s.key_value_insert_if_absent(TenantKey::new("kv-app", "public"), "k", "first", 1).await.expect("kv insert");
    assert_eq!(v, "first");
    let v = s.key_value_insert_if_absent(TenantKey::new("kv-app", "public"), "k", "second", 2).await.expect("kv insert again");
    assert_eq!(v, "first", "insert-if-absent must keep the first value");
    assert_eq!(s.key_value_get(TenantKey::new("kv-app", "public"), "k").await.expect("kv get").as_deref(), Some("first"));
    assert_eq!(s.key_value_get(TenantKey::new("kv-app", "public"), "none").await.expect("kv get"), None);
    s.key_value_set(TenantKey::new("kv-app", "public"), "set", "one", 1).await.expect("kv set");
    s.key_value_set(TenantKey::new("kv-app", "public"), "set", "two", 2).await.expect("kv set again");
    assert_eq!(s.key_value_get(TenantKey::new("kv-app", "public"), "set").await.expect("kv get").as_deref(), Some("two"));
    s.key_value_insert_if_absent(TenantKey::new("kv-app", "t1"), "k", "t1v", 1).await.expect("kv tenant");
    assert!(s.delete_tenant_rows(TenantKey::new("kv-app", "t1")).await.expect("delete tenant rows"));
    assert!(!s.delete_tenant_rows(TenantKey::new("kv-app", "t1")).await.expect("delete tenant rows again"));
    assert_eq!(s.key_value_get(TenantKey::new("kv-app", "t1"), "k").await.expect("kv get"), None, "tenant data must cascade");
    assert!(s.delete_app_rows(AppKey::new("kv-app")).await.expect("delete app"));
    assert_eq!(s.key_value_get(TenantKey::new("kv-app", "public"), "k").await.expect("kv get"), None, "app data must cascade");
    assert!(!s.delete_app_rows(AppKey::new("kv-app")).await.expect("delete app again"));

    s.add_tenant_rows(TenantKey::new("public", "public"), 1).await.expect("public rows");
    assert!(s.lease("conformance-job", 1_000, 100).await.expect("lease"), "a new lease is free");
    assert!(!s.lease("conformance-job", 1_050, 100).await.expect("lease"), "a lease is held for its interval");
    assert!(s.lease("conformance-job", 1_100, 100).await.expect("lease"), "and free again after it");
    assert!(s.lease("other-job", 1_050, 100).await.expect("lease"), "leases are per name");
}

/// The session-storage behaviour: rows, compare-and-set of the refresh hash, scoped listing and
/// deletion, signing keys that deduplicate on their creation time.
pub async fn run_sessions(base: &dyn Storage, s: &dyn portcullis_core::session::storage::SessionStorage) {
    use portcullis_core::session::storage::{SessionRow, StaticKey, TenantScope};
    use portcullis_core::session::signing_keys::DynamicKey;

    base.add_tenant_rows(TenantKey::new("sess-app", "public"), 1).await.expect("app rows");
    base.add_tenant_rows(TenantKey::new("sess-app", "t1"), 1).await.expect("tenant rows");
    let row = |tenant: &str, handle: &str, user: &str, expires_at: i64| SessionRow {
        tenant_id: tenant.into(),
        handle: handle.into(),
        user_id: user.into(),
        refresh_token_hash_2: "h0".into(),
        session_data: r#"{"a":1}"#.into(),
        expires_at,
        created_at: 10,
        jwt_user_payload: "{}".into(),
        use_static_key: false,
        primary_user_id: None,
    };
    let a = row("public", "s1", "u1", 1000);
    s.session_insert(AppKey::new("sess-app"), &a).await.expect("insert");
    s.session_insert(AppKey::new("sess-app"), &row("t1", "s2_t1", "u1", 1000)).await.expect("insert");
    s.session_insert(AppKey::new("sess-app"), &row("public", "s3", "u1", 50)).await.expect("insert");
    s.session_insert(AppKey::new("sess-app"), &row("public", "s4", "u2", 1000)).await.expect("insert");
    assert_eq!(s.session_get(TenantKey::new("sess-app", "public"), "s1").await.expect("get"), Some(a.clone()));
    assert_eq!(s.session_get(TenantKey::new("sess-app", "t1"), "s1").await.expect("get"), None, "sessions are per tenant");

    // Compare-and-set: the second of two identical promotions loses.
    assert!(s.session_replace_refresh_hash(TenantKey::new("sess-app", "public"), "s1", "h0", "h1", 2000).await.expect("cas"));
    assert!(!s.session_replace_refresh_hash(TenantKey::new("sess-app", "public"), "s1", "h0", "h2", 3000).await.expect("cas"));
    let got = s.session_get(TenantKey::new("sess-app", "public"), "s1").await.expect("get").expect("row");
    assert_eq!((got.refresh_token_hash_2.as_str(), got.expires_at), ("h1", 2000));

    // Promotion with the row in one statement: moves only from the given parent hash and only a
    // live session; otherwise answers the row as stored.
    let public = TenantKey::new("sess-app", "public");
    let (moved, did) = s.session_promote(public, "s1", "h1", "h2", 2500, 2000).await.expect("promote").expect("row");
    assert!(did);
    assert_eq!((moved.refresh_token_hash_2.as_str(), moved.expires_at), ("h2", 2500));
    assert_eq!(moved, SessionRow { refresh_token_hash_2: "h2".into(), expires_at: 2500, ..a.clone() }, "the row after the move");
    let (again, did) = s.session_promote(public, "s1", "h1", "h3", 3000, 2000).await.expect("promote").expect("row");
    assert!(!did, "the parent is no longer stored");
    assert_eq!((again.refresh_token_hash_2.as_str(), again.expires_at), ("h2", 2500));
    let (expired, did) = s.session_promote(public, "s3", "h0", "h9", 9000, 100).await.expect("promote").expect("row");
    assert!(!did, "an expired session does not move");
    assert_eq!((expired.refresh_token_hash_2.as_str(), expired.expires_at), ("h0", 50));
    assert_eq!(s.session_promote(public, "nope", "h0", "h1", 1, 0).await.expect("promote"), None);

    // The user a new session names: the given id, mapped to the external id either way round, and
    // the primary user of its group.
    use portcullis_core::session::storage::SessionUser;
    let app = AppKey::new("sess-app");
    let user = |id: &str, primary: Option<&str>| SessionUser { user_id: id.into(), primary_user_id: primary.map(str::to_owned) };
    assert_eq!(s.session_user(app, "ghost").await.expect("user"), user("ghost", None), "no auth user");
    let st_id = "5e55e55e-0000-4000-8000-000000000001";
    assert!(base.ep_create_user(public, st_id, "sess-user@example.com", "h", 1).await.expect("sign up"));
    assert_eq!(s.session_user(app, st_id).await.expect("user"), user(st_id, Some(st_id)));
    let mapping = portcullis_core::useridmapping::storage::UserIdMapping {
        supertokens_user_id: st_id.into(),
        external_user_id: "ext-sess-user".into(),
        external_user_id_info: None,
    };
    portcullis_core::storage::transaction(base, mapping, |tx, m| Box::pin(async move { tx.uim_insert(AppKey::new("sess-app"), m).await }))
        .await
        .expect("map")
        .expect("mapped");
    assert_eq!(s.session_user(app, st_id).await.expect("user"), user("ext-sess-user", Some("ext-sess-user")), "by the SuperTokens id");
    assert_eq!(s.session_user(app, "ext-sess-user").await.expect("user"), user("ext-sess-user", Some("ext-sess-user")), "by the external id");

    s.session_set_use_static_key(TenantKey::new("sess-app", "public"), "s1", true).await.expect("static");
    assert!(s.session_update_data(TenantKey::new("sess-app", "public"), "s1", r#"{"b":2}"#).await.expect("data"));
    assert!(s.session_update_jwt_payload(TenantKey::new("sess-app", "public"), "s1", r#"{"c":3}"#).await.expect("jwt"));
    assert!(!s.session_update_data(TenantKey::new("sess-app", "public"), "nope", "{}").await.expect("data"));
    let got = s.session_get(TenantKey::new("sess-app", "public"), "s1").await.expect("get").expect("row");
    assert!(got.use_static_key);
    assert_eq!((got.session_data.as_str(), got.jwt_user_payload.as_str()), (r#"{"b":2}"#, r#"{"c":3}"#));

    let mut one = s.session_handles_for_user(AppKey::new("sess-app"), TenantScope::One("public"), "u1", 100).await.expect("list");
    one.sort();
    assert_eq!(one, vec![("public".to_string(), "s1".to_string())], "expired sessions are not listed");
    let mut all = s.session_handles_for_user(AppKey::new("sess-app"), TenantScope::AllTenants, "u1", 100).await.expect("list");
    all.sort();
    assert_eq!(all.len(), 2);

    let deleted = s
        .session_delete(AppKey::new("sess-app"), &[("public".into(), "s1".into()), ("public".into(), "missing".into())])
        .await
        .expect("delete");
    assert_eq!(deleted, vec!["s1".to_string()]);
    assert_eq!(s.session_delete_expired(100).await.expect("expire"), 1);
    assert_eq!(s.session_get(TenantKey::new("sess-app", "public"), "s3").await.expect("get"), None);

    let k1 = DynamicKey { created_at: 1000, value: "k1".into() };
    s.dynamic_key_insert(AppKey::new("sess-app"), &k1).await.expect("key");
    s.dynamic_key_insert(AppKey::new("sess-app"), &DynamicKey { created_at: 1000, value: "other".into() }).await.expect("dup key");
    s.dynamic_key_insert(AppKey::new("sess-app"), &DynamicKey { created_at: 2000, value: "k2".into() }).await.expect("key");
    let keys = s.dynamic_keys(AppKey::new("sess-app")).await.expect("keys");
    assert_eq!(keys.iter().map(|k| k.value.as_str()).collect::<Vec<_>>(), vec!["k2", "k1"], "newest first, first insert wins");
    assert_eq!(s.dynamic_keys_delete_before(AppKey::new("sess-app"), 1500).await.expect("cleanup"), 1);

    let sk = StaticKey { key_id: "s-1".into(), key_string: "a|b".into(), algorithm: "RS256".into(), created_at: 5 };
    s.static_key_insert(AppKey::new("sess-app"), &sk).await.expect("static key");
    s.static_key_insert(AppKey::new("sess-app"), &sk).await.expect("static key twice");
    assert_eq!(s.static_keys(AppKey::new("sess-app")).await.expect("static keys"), vec![sk.clone()]);
    // ES256 keys (access_token_signing_algorithm): a static one and dynamic ones (`d-<created_at>`)
    // in the same table; other algorithms' rows are not read; the cleanup removes expired ES256
    // dynamic rows only.
    let es = |id: &str, at: i64| StaticKey { key_id: id.into(), key_string: format!("ES256:{id}"), algorithm: "ES256".into(), created_at: at };
    for k in [es("s-2", 6), es("d-1000", 1000), es("d-3000", 3000), StaticKey { algorithm: "HS256".into(), ..es("s-3", 7) }] {
        s.static_key_insert(AppKey::new("sess-app"), &k).await.expect("es256 key");
    }
    assert_eq!(
        s.static_keys(AppKey::new("sess-app")).await.expect("keys"),
        vec![sk.clone(), es("s-2", 6), es("d-1000", 1000), es("d-3000", 3000)],
        "oldest first, RS256 and ES256"
    );
    assert_eq!(s.dynamic_keys_delete_before(AppKey::new("sess-app"), 1500).await.expect("cleanup"), 1);
    assert_eq!(s.static_keys(AppKey::new("sess-app")).await.expect("keys"), vec![sk, es("s-2", 6), es("d-3000", 3000)]);

    s.user_last_active_upsert(AppKey::new("sess-app"), "u1", 1).await.expect("last active");
    s.user_last_active_upsert(AppKey::new("sess-app"), "u1", 2).await.expect("last active again");

    assert!(base.delete_app_rows(AppKey::new("sess-app")).await.expect("delete app"));
    assert_eq!(s.session_get(TenantKey::new("sess-app", "public"), "s4").await.expect("get"), None, "sessions cascade with the app");
    assert!(s.dynamic_keys(AppKey::new("sess-app")).await.expect("keys").is_empty(), "keys cascade with the app");
}

/// Linked users (groups by `primary_or_recipe_user_id`) as the readers see them: whole users, a
/// list of users read at once, counts per tenant and across tenants, pages. `link(app, recipe user,
/// primary)` writes the account-linking columns as the core does (both tables, the group's earliest
/// time joined on every row), with the store's own SQL.
pub async fn run_user_groups<F, Fut>(s: &dyn Storage, link: F)
where
    F: Fn(&'static str, &'static str, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use portcullis_core::users::storage::UserFilter;
    use portcullis_core::users::{RecipeId, User};

    let base = s;
    let app = "groups-app";
    for tenant in ["public", "t1", "t2"] {
        base.add_tenant_rows(TenantKey::new(app, tenant), 1).await.expect("tenant rows");
    }
    // p1 (public) + r1 (public, t1); p2 (t2) + r2 (t1); u3 (public) alone.
    for (id, tenant, time) in [("g-p1", "public", 10), ("g-r1", "public", 20), ("g-p2", "t2", 30), ("g-r2", "t1", 40), ("g-u3", "public", 50)] {
        assert!(s.ep_create_user(TenantKey::new(app, tenant), id, &format!("{id}@example.com"), "h", time).await.expect("sign up"));
    }
    associate_user(s, TenantKey::new(app, "t1"), "g-r1").await.expect("associate");
    link(app, "g-r1", "g-p1").await;
    link(app, "g-r2", "g-p2").await;

    let ids = |users: &[User]| users.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    let asked: Vec<String> = ["g-u3", "g-r2", "g-p1", "nobody", "g-r1"].map(String::from).to_vec();
    let users = s.get_users(AppKey::new(app), &asked).await.expect("get users");
    assert_eq!(ids(&users), ["g-u3", "g-p2", "g-p1", "g-p1"], "in the order asked, by group, unknown ids left out");
    let p1 = &users[2];
    assert!(p1.is_primary && !users[0].is_primary);
    let methods: Vec<(&str, &str, bool, Vec<String>, i64)> = p1
        .login_methods
        .iter()
        .map(|m| (m.recipe_user_id.as_str(), m.primary_user_id.as_str(), m.is_linked_or_primary, m.tenant_ids.clone(), m.time_joined))
        .collect();
    let tenants = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    assert_eq!(methods, [("g-p1", "g-p1", true, tenants(&["public"]), 10), ("g-r1", "g-p1", true, tenants(&["public", "t1"]), 20)]);
    for id in ["g-u3", "g-r2", "g-p1", "g-r1", "g-p2"] {
        let one = s.get_user(AppKey::new(app), id).await.expect("get user").expect("user");
        assert_eq!(vec![one.clone()], s.get_users(AppKey::new(app), &[id.to_string()]).await.expect("get users"), "get_user({id})");
        assert_eq!(one.login_methods.len(), if id == "g-u3" { 1 } else { 2 }, "{id}: the whole group");
    }
    assert!(s.get_users(AppKey::new(app), &[]).await.expect("none").is_empty());

    // A group counts once wherever any of its rows is: t1 holds p1's group only through r1.
    let tenant = |t: &str| UserFilter { tenant_id: Some(t.into()), recipe_ids: vec![], search: None };
    for (t, n) in [("public", 2), ("t1", 2), ("t2", 1)] {
        assert_eq!(s.count_users(AppKey::new(app), &tenant(t)).await.expect("count"), n, "users in {t}");
        let page = s.list_users(AppKey::new(app), &tenant(t), false, 10, None).await.expect("list");
        assert_eq!(page.len() as u64, n, "{t}: a page lists what the count counts: {page:?}");
    }
    assert_eq!(s.count_users(AppKey::new(app), &UserFilter::default()).await.expect("count"), 3, "across tenants");
    let ep = UserFilter { recipe_ids: vec![RecipeId::EmailPassword], ..tenant("t1") };
    assert_eq!(s.count_users(AppKey::new(app), &ep).await.expect("count"), 2);
    let tp = UserFilter { recipe_ids: vec![RecipeId::ThirdParty], ..tenant("t1") };
    assert_eq!(s.count_users(AppKey::new(app), &tp).await.expect("count"), 0);
    let page = s.list_users(AppKey::new(app), &tenant("t1"), false, 10, None).await.expect("list");
    assert_eq!(page, [("g-p2".to_string(), 30), ("g-p1".to_string(), 10)], "newest group first, by the group's time");
}

/// Auth-recipe users: sign-up rows, unique emails per tenant, whole-user reads, listing order and
/// pages, counts, tenant association and deletion.
pub async fn run_users(s: &dyn Storage) {
    use portcullis_core::multitenancy::AssociateOutcome;
    use portcullis_core::users::storage::{AccountInfo, UserFilter};
    use portcullis_core::users::RecipeId;

    let base = s;
    let app = "users-app";
    base.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    base.add_tenant_rows(TenantKey::new(app, "t1"), 1).await.expect("tenant rows");
    for (i, id) in ["u-a", "u-b", "u-c"].iter().enumerate() {
        let created = s
            .ep_create_user(TenantKey::new(app, "public"), id, &format!("{id}@example.com"), "$2a$04$hash", 100 + i as i64)
            .await
            .expect("sign up");
        assert!(created);
    }
    assert!(!s.ep_create_user(TenantKey::new(app, "public"), "u-d", "u-a@example.com", "h", 200).await.expect("dup"), "one email per tenant");
    assert!(s.get_user(AppKey::new(app), "u-d").await.expect("get").is_none(), "a refused sign-up leaves nothing behind");
    assert!(s.ep_create_user(TenantKey::new(app, "t1"), "u-e", "u-a@example.com", "h", 300).await.expect("other tenant"), "emails are per tenant");

    let u = s.get_user(AppKey::new(app), "u-a").await.expect("get").expect("user");
    assert_eq!(u.id, "u-a");
    assert!(!u.is_primary);
    let m = &u.login_methods[0];
    assert_eq!((m.recipe_id, m.email.as_deref(), m.time_joined), (RecipeId::EmailPassword, Some("u-a@example.com"), 100));
    assert_eq!(m.tenant_ids, vec!["public".to_string()]);
    assert_eq!(m.password_hash.as_deref(), Some("$2a$04$hash"));
    let by_email = s.ep_login_method_by_email(TenantKey::new(app, "public"), "u-b@example.com").await.expect("by email").expect("found");
    assert_eq!(by_email.recipe_user_id, "u-b");
    assert!(s.ep_login_method_by_email(TenantKey::new(app, "t1"), "u-b@example.com").await.expect("by email").is_none());

    let public = UserFilter { tenant_id: Some("public".into()), recipe_ids: vec![], search: None };
    let page = s.list_users(AppKey::new(app), &public, false, 2, None).await.expect("list");
    assert_eq!(page, vec![("u-c".to_string(), 102), ("u-b".to_string(), 101)]);
    let next = s.list_users(AppKey::new(app), &public, false, 2, Some((100, "u-a".into()))).await.expect("list");
    assert_eq!(next, vec![("u-a".to_string(), 100)]);
    let asc = s.list_users(AppKey::new(app), &public, true, 10, None).await.expect("list");
    assert_eq!(asc.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), vec!["u-a", "u-b", "u-c"]);
    let asc_next = s.list_users(AppKey::new(app), &public, true, 10, Some((101, "u-b".into()))).await.expect("list");
    assert_eq!(asc_next, vec![("u-b".to_string(), 101), ("u-c".to_string(), 102)], "oldest first from a token, inclusive");
    assert_eq!(s.count_users(AppKey::new(app), &public).await.expect("count"), 3);
    assert_eq!(s.count_users(AppKey::new(app), &UserFilter::default()).await.expect("count"), 4);
    let tp = UserFilter { tenant_id: None, recipe_ids: vec![RecipeId::ThirdParty], search: None };
    assert_eq!(s.count_users(AppKey::new(app), &tp).await.expect("count"), 0);
    let by_email = AccountInfo::Email("u-a@example.com".into());
    assert_eq!(s.user_ids_by_account_info(TenantKey::new(app, "public"), &by_email).await.expect("ids"), vec!["u-a".to_string()]);
    let by_phone = AccountInfo::PhoneNumber("+15550100".into());
    assert!(s.user_ids_by_account_info(TenantKey::new(app, "public"), &by_phone).await.expect("ids").is_empty());

    // Tenant association follows the per-tenant email uniqueness.
    assert_eq!(associate_user(s, TenantKey::new(app, "t1"), "u-b").await.expect("assoc"), AssociateOutcome::Associated { was_already_associated: false });
    assert_eq!(associate_user(s, TenantKey::new(app, "t1"), "u-b").await.expect("assoc"), AssociateOutcome::Associated { was_already_associated: true });
    assert_eq!(associate_user(s, TenantKey::new(app, "t1"), "u-a").await.expect("assoc"), AssociateOutcome::EmailAlreadyExists);
    assert_eq!(associate_user(s, TenantKey::new(app, "t1"), "nobody").await.expect("assoc"), AssociateOutcome::UnknownUser);
    let u = s.get_user(AppKey::new(app), "u-b").await.expect("get").expect("user");
    assert_eq!(u.tenant_ids(), vec!["public".to_string(), "t1".to_string()]);
    assert!(s.ep_login_method_by_email(TenantKey::new(app, "t1"), "u-b@example.com").await.expect("by email").is_some());
    assert!(s.disassociate_user_from_tenant(TenantKey::new(app, "public"), "u-b").await.expect("disassoc"));
    assert!(!s.disassociate_user_from_tenant(TenantKey::new(app, "public"), "u-b").await.expect("disassoc"));
    assert!(s.ep_login_method_by_email(TenantKey::new(app, "public"), "u-b@example.com").await.expect("by email").is_none());
    assert!(s.get_user(AppKey::new(app), "u-b").await.expect("get").is_some(), "a user without a tenant keeps their data");

    assert!(s.delete_users(AppKey::new(app), &["u-c".to_string()]).await.expect("delete"));
    assert!(!s.delete_users(AppKey::new(app), &["u-c".to_string()]).await.expect("delete again"));
    assert!(s.get_user(AppKey::new(app), "u-c").await.expect("get").is_none());
    assert_eq!(s.count_users(AppKey::new(app), &public).await.expect("count"), 1);
    assert!(base.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
}

/// User metadata: read-merge-write updates, bulk reads, deletion, per-app isolation, and concurrent
/// updates of one user that lose no key.
pub async fn run_metadata(s: &dyn Storage) {
    use portcullis_core::metadata;
    let app = "meta-app";
    s.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    s.add_tenant_rows(TenantKey::new("meta-other", "public"), 1).await.expect("other app rows");
    assert_eq!(s.metadata_get(AppKey::new(app), "u1").await.expect("get"), None);
    let obj = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();

    let m = metadata::update(s, AppKey::new(app), "u1", obj(json!({"a": 1, "b": {"x": 1}, "gone": null}))).await.expect("update");
    assert_eq!(serde_json::Value::Object(m), json!({"a": 1, "b": {"x": 1}}));
    let m = metadata::update(s, AppKey::new(app), "u1", obj(json!({"b": {"y": 2}, "a": null, "c": [1]}))).await.expect("update");
    assert_eq!(serde_json::Value::Object(m.clone()), json!({"b": {"y": 2}, "c": [1]}), "shallow merge, null removes");
    assert_eq!(s.metadata_get(AppKey::new(app), "u1").await.expect("get"), Some(m.clone()), "what update returns is stored");
    let order: Vec<&String> = m.keys().collect();
    assert_eq!(order, vec!["b", "c"], "key order survives storage");
    assert_eq!(s.metadata_get(AppKey::new("meta-other"), "u1").await.expect("get"), None, "metadata is per app");

    metadata::update(s, AppKey::new(app), "u2", obj(json!({"k": "v"}))).await.expect("update");
    let many = s
        .metadata_get_many(AppKey::new(app), &["u1".into(), "u2".into(), "nobody".into(), "u1".into()])
        .await
        .expect("bulk");
    assert_eq!(many.len(), 2);
    assert_eq!(many.get("u2"), Some(&obj(json!({"k": "v"}))));
    assert!(s.metadata_get_many(AppKey::new(app), &[]).await.expect("bulk empty").is_empty());

    assert!(s.metadata_delete(AppKey::new(app), "u1").await.expect("delete"));
    assert!(!s.metadata_delete(AppKey::new(app), "u1").await.expect("delete again"));
    assert_eq!(s.metadata_get(AppKey::new(app), "u1").await.expect("get"), None);
    let m = metadata::update(s, AppKey::new(app), "u1", obj(json!({}))).await.expect("empty update");
    assert!(m.is_empty(), "an empty update of a user without metadata gives {{}}");

    // Concurrent updates, each adding its own key: none may be lost (the first writes race to
    // create the row, the later ones to update it).
    let updates = (0..16).map(|i| {
        let update = obj(json!({ format!("k{i}"): i }));
        async move { metadata::update(s, AppKey::new(app), "racer", update).await }
    });
    for r in futures_join_all(updates).await {
        r.expect("concurrent update");
    }
    let m = s.metadata_get(AppKey::new(app), "racer").await.expect("get").unwrap_or_default();
    assert_eq!(m.len(), 16, "concurrent updates lost keys: {m:?}");

    assert!(s.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
    assert_eq!(s.metadata_get(AppKey::new(app), "u2").await.expect("get"), None, "metadata cascades with the app");
    assert!(s.delete_app_rows(AppKey::new("meta-other")).await.expect("delete other app"));
}

/// A future being polled and its output once ready.
type Slot<F> = (std::pin::Pin<Box<F>>, Option<<F as std::future::Future>::Output>);

/// Runs futures concurrently and collects their outputs in order (core has no futures crate).
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    use std::task::{Context, Poll};
    let mut pending: Vec<Slot<F>> = futures.into_iter().map(|f| (Box::pin(f), None)).collect();
    std::future::poll_fn(|cx: &mut Context<'_>| {
        let mut all_done = true;
        for (f, out) in pending.iter_mut() {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    pending.into_iter().filter_map(|(_, out)| out).collect()
}

/// User roles: roles and permissions, user-role rows per tenant with the role checked in the same
/// transaction, deletion of a role with its permissions and associations, and the per-app scope.
pub async fn run_roles(s: &dyn Storage) {
    use portcullis_core::roles::{self, RoleCheck, UserRoleChange};
    let app = "roles-app";
    s.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    s.add_tenant_rows(TenantKey::new(app, "t1"), 1).await.expect("tenant rows");
    s.add_tenant_rows(TenantKey::new("roles-other", "public"), 1).await.expect("other app rows");
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert!(roles::create_or_add_permissions(s, AppKey::new(app), "admin".into(), strings(&["write", "read"])).await.expect("create"));
    assert!(!roles::create_or_add_permissions(s, AppKey::new(app), "admin".into(), strings(&["read", "delete"])).await.expect("add"));
    assert!(roles::create_or_add_permissions(s, AppKey::new(app), "viewer".into(), vec![]).await.expect("create without permissions"));
    assert!(roles::create_or_add_permissions(s, AppKey::new(app), "editor".into(), strings(&["write"])).await.expect("create"));
    assert_eq!(s.role_permissions(AppKey::new(app), "admin").await.expect("perms"), Some(strings(&["delete", "read", "write"])));
    assert_eq!(s.role_permissions(AppKey::new(app), "viewer").await.expect("perms"), Some(vec![]));
    assert_eq!(s.role_permissions(AppKey::new(app), "nope").await.expect("perms"), None);
    assert!(s.role_exists(AppKey::new(app), "viewer").await.expect("exists"));
    assert!(!s.role_exists(AppKey::new("roles-other"), "viewer").await.expect("exists"), "roles are per app");
    assert_eq!(s.roles(AppKey::new(app)).await.expect("roles"), strings(&["admin", "editor", "viewer"]));
    assert_eq!(s.roles_with_permission(AppKey::new(app), "write").await.expect("by permission"), strings(&["admin", "editor"]));
    assert!(s.roles_with_permission(AppKey::new(app), "nothing").await.expect("by permission").is_empty());

    assert!(roles::remove_permissions(s, AppKey::new(app), "admin".into(), Some(strings(&["delete", "absent"]))).await.expect("remove some"));
    assert_eq!(s.role_permissions(AppKey::new(app), "admin").await.expect("perms"), Some(strings(&["read", "write"])));
    assert!(roles::remove_permissions(s, AppKey::new(app), "editor".into(), None).await.expect("remove all"));
    assert_eq!(s.role_permissions(AppKey::new(app), "editor").await.expect("perms"), Some(vec![]));
    assert!(!roles::remove_permissions(s, AppKey::new(app), "nope".into(), None).await.expect("unknown role"));

    let here = RoleCheck::InThisDatabase;
    let done = |changed| UserRoleChange::Done { changed };
    assert_eq!(roles::add_to_user(s, TenantKey::new(app, "public"), "u1", "admin", here).await.expect("add"), done(true));
    assert_eq!(roles::add_to_user(s, TenantKey::new(app, "public"), "u1", "admin", here).await.expect("add again"), done(false));
    assert_eq!(roles::add_to_user(s, TenantKey::new(app, "public"), "u1", "viewer", here).await.expect("add"), done(true));
    assert_eq!(roles::add_to_user(s, TenantKey::new(app, "t1"), "u2", "admin", here).await.expect("add in t1"), done(true));
    assert_eq!(roles::add_to_user(s, TenantKey::new(app, "public"), "u1", "nope", here).await.expect("unknown"), UserRoleChange::UnknownRole);
    assert_eq!(
        roles::add_to_user(s, TenantKey::new(app, "t1"), "u3", "checked-elsewhere", RoleCheck::DoneElsewhere).await.expect("unchecked add"),
        done(true),
        "a role checked in another database is not looked for here"
    );
    assert_eq!(s.user_roles(TenantKey::new(app, "public"), "u1").await.expect("user roles"), strings(&["admin", "viewer"]));
    assert!(s.user_roles(TenantKey::new(app, "t1"), "u1").await.expect("user roles").is_empty(), "user roles are per tenant");
    assert_eq!(s.role_users(TenantKey::new(app, "public"), "admin").await.expect("role users"), strings(&["u1"]));
    assert_eq!(s.role_users(TenantKey::new(app, "t1"), "admin").await.expect("role users"), strings(&["u2"]));

    assert_eq!(roles::remove_from_user(s, TenantKey::new(app, "public"), "u1", "viewer", here).await.expect("remove"), done(true));
    assert_eq!(roles::remove_from_user(s, TenantKey::new(app, "public"), "u1", "viewer", here).await.expect("remove again"), done(false));
    assert_eq!(roles::remove_from_user(s, TenantKey::new(app, "public"), "u1", "nope", here).await.expect("remove unknown"), UserRoleChange::UnknownRole);
    assert_eq!(
        roles::remove_from_user(s, TenantKey::new(app, "t1"), "u3", "checked-elsewhere", RoleCheck::DoneElsewhere).await.expect("unchecked remove"),
        done(true)
    );

    // Deleting a role takes its permissions and every association with it in this datas.
    assert!(s.role_delete(AppKey::new(app), "admin").await.expect("delete role"));
    assert!(!s.role_delete(AppKey::new(app), "admin").await.expect("delete role again"));
    assert_eq!(s.role_permissions(AppKey::new(app), "admin").await.expect("perms"), None);
    assert!(s.user_roles(TenantKey::new(app, "public"), "u1").await.expect("user roles").is_empty());
    assert!(s.role_users(TenantKey::new(app, "t1"), "admin").await.expect("role users").is_empty());
    assert!(s.roles_with_permission(AppKey::new(app), "read").await.expect("by permission").is_empty());
    assert_eq!(roles::add_to_user(s, TenantKey::new(app, "public"), "u1", "admin", here).await.expect("add deleted"), UserRoleChange::UnknownRole);

    // Associations alone (a tenant database that does not hold the role).
    roles::add_to_user(s, TenantKey::new(app, "t1"), "u4", "remote", RoleCheck::DoneElsewhere).await.expect("unchecked add");
    assert!(s.role_delete_user_associations(AppKey::new(app), "remote").await.expect("delete associations"));
    assert!(!s.role_delete_user_associations(AppKey::new(app), "remote").await.expect("delete associations again"));
    assert!(s.role_users(TenantKey::new(app, "t1"), "remote").await.expect("role users").is_empty());

    roles::add_to_user(s, TenantKey::new(app, "t1"), "u5", "viewer", here).await.expect("add");
    assert!(s.delete_tenant_rows(TenantKey::new(app, "t1")).await.expect("delete tenant"));
    assert!(s.role_users(TenantKey::new(app, "t1"), "viewer").await.expect("role users").is_empty(), "user roles cascade with the tenant");
    assert!(s.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
    assert!(s.roles(AppKey::new(app)).await.expect("roles").is_empty(), "roles cascade with the app");
    assert!(s.delete_app_rows(AppKey::new("roles-other")).await.expect("delete other app"));
}

/// Dashboard users (unique emails per app) and their sessions (expiry, deletion, cascade with the user's app).
pub async fn run_dashboard(base: &dyn Storage, s: &dyn portcullis_core::dashboard::storage::DashboardStorage) {
    use portcullis_core::dashboard::storage::DashboardUser;
    let app = "dash-app";
    base.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    let user = DashboardUser { user_id: "dash-user-1".into(), email: "d@example.com".into(), password_hash: "h".into(), time_joined: 5 };
    assert!(s.dashboard_user_create(AppKey::new(app), &user).await.expect("create"));
    let twin = DashboardUser { user_id: "dash-user-2".into(), ..user.clone() };
    assert!(!s.dashboard_user_create(AppKey::new(app), &twin).await.expect("create twin"), "one dashboard user per email");
    assert_eq!(s.dashboard_user_by_email(AppKey::new(app), "d@example.com").await.expect("by email"), Some(user.clone()));
    assert_eq!(s.dashboard_user_by_email(AppKey::new(app), "x@example.com").await.expect("by email"), None);
    s.dashboard_session_create(AppKey::new(app), "sess-1", "dash-user-1", 10, 100).await.expect("session");
    assert_eq!(s.dashboard_session_email(AppKey::new(app), "sess-1", 50).await.expect("email").as_deref(), Some("d@example.com"));
    assert_eq!(s.dashboard_session_email(AppKey::new(app), "sess-1", 100).await.expect("email"), None, "expired sessions do not count");
    assert!(s.dashboard_session_delete(AppKey::new(app), "sess-1").await.expect("delete"));
    assert!(!s.dashboard_session_delete(AppKey::new(app), "sess-1").await.expect("delete again"));
    assert!(base.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
    assert_eq!(s.dashboard_user_by_email(AppKey::new(app), "d@example.com").await.expect("by email"), None, "users cascade with the app");
}

/// Email verification: tokens consumed once, all of a (user, email)'s tokens removed on use, expiry.
pub async fn run_email_verification(s: &dyn Storage) {
    use portcullis_core::crypto::sha256_hex;
    use portcullis_core::emailverification::{verify, VerifyOutcome};
    let base = s;
    let app = "ev-app";
    base.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    s.ev_token_create(TenantKey::new(app, "public"), "u1", "a@x.com", &sha256_hex("h1"), 100).await.expect("token");
    s.ev_token_create(TenantKey::new(app, "public"), "u1", "a@x.com", &sha256_hex("h2"), 100).await.expect("token");
    s.ev_token_create(TenantKey::new(app, "public"), "u2", "b@x.com", &sha256_hex("h3"), 10).await.expect("token");
    assert_eq!(verify(s, TenantKey::new(app, "t-other"), "h1", 50).await.expect("consume"), VerifyOutcome::InvalidToken, "tokens are per tenant");
    let ok = verify(s, TenantKey::new(app, "public"), "h1", 50).await.expect("consume");
    assert_eq!(ok, VerifyOutcome::Verified { user_id: "u1".into(), email: "a@x.com".into() });
    assert_eq!(verify(s, TenantKey::new(app, "public"), "h2", 50).await.expect("consume"), VerifyOutcome::InvalidToken, "using one token removes the others");
    assert_eq!(verify(s, TenantKey::new(app, "public"), "h3", 50).await.expect("consume"), VerifyOutcome::InvalidToken, "expired");
    assert!(s.ev_is_verified(AppKey::new(app), "u1", "a@x.com").await.expect("check"));
    assert!(!s.ev_is_verified(AppKey::new(app), "u2", "b@x.com").await.expect("check"));
    s.ev_mark_verified(AppKey::new(app), "u2", "b@x.com").await.expect("mark");
    s.ev_mark_verified(AppKey::new(app), "u2", "b@x.com").await.expect("mark twice");
    s.ev_unverify(AppKey::new(app), "u1", "a@x.com").await.expect("unverify");
    assert!(!s.ev_is_verified(AppKey::new(app), "u1", "a@x.com").await.expect("check"));
    s.ev_token_create(TenantKey::new(app, "public"), "u1", "a@x.com", &sha256_hex("h4"), 100).await.expect("token");
    s.ev_revoke_tokens(TenantKey::new(app, "public"), "u1", "a@x.com").await.expect("revoke");
    assert_eq!(verify(s, TenantKey::new(app, "public"), "h4", 50).await.expect("consume"), VerifyOutcome::InvalidToken);
    assert!(base.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
}

/// Passwordless, through the recipe's flows (`portcullis_core::passwordless`) on this storage:
/// codes made and resent, wrong and expired codes counted, checking without consuming, consuming
/// (sign-up, then sign-in of the same user, the email verified, the devices ended), the attempt
/// limit, code and device removal, user updates, the cleanup of expired devices, and a unit of
/// work that meets a conflict keeping nothing.
pub async fn run_passwordless(s: &dyn Storage) {
    use portcullis_core::passwordless::codes::{DeviceId, LinkCode, LinkCodeSalt};
    use portcullis_core::passwordless::storage::{Code, Contact, Device};
    use portcullis_core::passwordless::{self as pl, CodeInput, ConsumeOutcome, CreateCodeOutcome, CreatedCode, DeviceLookup, NewCode, Settings, SignInUp, UpdateUserOutcome};
    use portcullis_core::ratelimit::Limit;
    use portcullis_core::storage::transaction;

    struct NoActivity;
    #[async_trait::async_trait]
    impl portcullis_core::services::ActivityLog for NoActivity {
        async fn record(&self, _: &dyn Storage, _: AppKey<'_>, _: &str, _: i64) {}
    }

    let app = "pl-app";
    s.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    s.add_tenant_rows(TenantKey::new(app, "t1"), 1).await.expect("tenant rows");
    let t = TenantKey::new(app, "public");
    let settings = Settings { code_lifetime_ms: 500, max_attempts: 3 };
    let contact = |email: Option<&str>, phone: Option<&str>| NewCode::Contact { email: email.map(Into::into), phone_number: phone.map(Into::into) };
    let created = |o: CreateCodeOutcome| match o {
        CreateCodeOutcome::Created(c) => c,
        other => panic!("{other:?}"),
    };
    let typed = |c: &CreatedCode, code: &str| CodeInput::UserInputCode { device_id: c.device_id.clone(), user_input_code: code.into() };
    let sign_in_up = Some(SignInUp { verify_email: true });
    let consume = |c: CreatedCode, input: CodeInput, now: i64, sign: Option<SignInUp>| async move {
        pl::consume_code(s, &NoActivity, t, &settings, now, &c.pre_auth_session_id, input, sign).await.expect("consume")
    };

    // A device for an email, then a second code for it (with a given user input code).
    let c1 = created(pl::create_code(s, t, &settings, 100, contact(Some("a@x.com"), None), None, Limit::default()).await.expect("create"));
    let resend = || NewCode::Device { device_id: c1.device_id.clone() };
    let c2 = created(pl::create_code(s, t, &settings, 950, resend(), Some("111111".into()), Limit::default()).await.expect("resend"));
    assert_eq!(c2.pre_auth_session_id, c1.pre_auth_session_id);
    let again = pl::create_code(s, t, &settings, 960, resend(), Some("111111".into()), Limit::default()).await.expect("resend");
    assert_eq!(again, CreateCodeOutcome::UserInputCodeAlreadyUsed);
    let unknown = NewCode::Device { device_id: DeviceId::generate().expect("id").encode() };
    assert_eq!(pl::create_code(s, t, &settings, 960, unknown, None, Limit::default()).await.expect("resend"), CreateCodeOutcome::RestartFlow);
    let devices = pl::devices(s, t, DeviceLookup::Email("a@x.com".into())).await.expect("devices");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].codes.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec![c1.code_id.as_str(), c2.code_id.as_str()]);
    assert_eq!(devices[0].device.email.as_deref(), Some("a@x.com"));
    assert!(pl::devices(s, TenantKey::new(app, "t1"), DeviceLookup::Email("a@x.com".into())).await.expect("devices").is_empty(), "devices are per tenant");
    assert_eq!(pl::devices(s, t, DeviceLookup::DeviceId(c1.device_id.clone())).await.expect("devices").len(), 1);

    // Wrong and expired codes count; a wrong link code restarts; checking does not consume.
    let wrong = consume(c1.clone(), typed(&c1, "nope"), 1_000, None).await;
    assert_eq!(wrong, ConsumeOutcome::IncorrectUserInputCode { failed_attempts: 1, max_attempts: 3 });
    let expired = consume(c1.clone(), typed(&c1, &c1.user_input_code), 1_000, None).await;
    assert_eq!(expired, ConsumeOutcome::ExpiredUserInputCode { failed_attempts: 2, max_attempts: 3 });
    assert_eq!(consume(c1.clone(), CodeInput::LinkCode(c1.link_code.clone()), 1_000, None).await, ConsumeOutcome::RestartFlow, "an expired link");
    let checked = consume(c2.clone(), typed(&c2, "111111"), 1_000, None).await;
    assert!(matches!(checked, ConsumeOutcome::Ok { signed_in: None, .. }), "{checked:?}");
    // Consuming signs up, removes the email's devices, and verifies the email.
    let ok = consume(c2.clone(), typed(&c2, "111111"), 1_000, sign_in_up).await;
    let ConsumeOutcome::Ok { device: d, signed_in: Some(first) } = ok else { panic!("{ok:?}") };
    assert_eq!((d.failed_attempts, first.created), (2, true));
    let user_1 = first.user.id.clone();
    assert!(pl::devices(s, t, DeviceLookup::PreAuthSessionId(c1.pre_auth_session_id.clone())).await.expect("devices").is_empty());
    assert!(s.ev_is_verified(AppKey::new(app), &user_1, "a@x.com").await.expect("verified"));
    let m = &first.user.login_methods[0];
    assert_eq!((m.recipe_id, m.email.as_deref(), m.time_joined, m.tenant_ids.clone()), (portcullis_core::users::RecipeId::Passwordless, Some("a@x.com"), 1_000, vec!["public".to_string()]));
    // A second device for the email signs in the same user (by its link).
    let c5 = created(pl::create_code(s, t, &settings, 990, contact(Some("a@x.com"), None), None, Limit::default()).await.expect("create"));
    let again = consume(c5.clone(), CodeInput::LinkCode(c5.link_code.clone()), 1_000, sign_in_up).await;
    assert!(matches!(&again, ConsumeOutcome::Ok { signed_in: Some(s), .. } if s.user.id == user_1 && !s.created), "{again:?}");
    // Reaching the maximum removes the device.
    let c6 = created(pl::create_code(s, t, &settings, 990, contact(None, Some("+1555")), None, Limit::default()).await.expect("create"));
    for n in 1..=2 {
        assert_eq!(consume(c6.clone(), typed(&c6, "x"), 1_000, None).await, ConsumeOutcome::IncorrectUserInputCode { failed_attempts: n, max_attempts: 3 });
    }
    assert_eq!(consume(c6.clone(), typed(&c6, "x"), 1_000, None).await, ConsumeOutcome::RestartFlow);
    assert!(s.pl_device(t, &c6.pre_auth_session_id).await.expect("read").is_none());

    // Removing codes: one of two keeps the device, the last removes it; by contact.
    let c7 = created(pl::create_code(s, t, &settings, 990, contact(None, Some("+1555")), None, Limit::default()).await.expect("create"));
    let c8 = created(pl::create_code(s, t, &settings, 995, NewCode::Device { device_id: c7.device_id.clone() }, None, Limit::default()).await.expect("code"));
    pl::remove_code(s, t, c7.code_id.clone()).await.expect("remove code");
    assert_eq!(s.pl_device(t, &c7.pre_auth_session_id).await.expect("read").expect("device").codes.len(), 1);
    pl::remove_code(s, t, c8.code_id.clone()).await.expect("remove code");
    assert!(s.pl_device(t, &c7.pre_auth_session_id).await.expect("read").is_none());
    pl::remove_code(s, t, "no-such-code".into()).await.expect("remove nothing");
    let c10 = created(pl::create_code(s, t, &settings, 990, contact(None, Some("+1555")), None, Limit::default()).await.expect("create"));
    s.pl_delete_devices_by_contact(t, Contact::Phone("+1555")).await.expect("delete by phone");
    assert!(s.pl_device(t, &c10.pre_auth_session_id).await.expect("read").is_none());

    // Updates: conflicts, removal of both refused, devices of the old and new values removed.
    let c11 = created(pl::create_code(s, t, &settings, 990, contact(None, Some("+1666")), None, Limit::default()).await.expect("create"));
    let r = consume(c11.clone(), typed(&c11, &c11.user_input_code), 1_000, sign_in_up).await;
    let ConsumeOutcome::Ok { signed_in: Some(third), .. } = r else { panic!("{r:?}") };
    let user_3 = third.user.id.clone();
    assert_eq!(pl::update_user_in(s, AppKey::new(app), &user_3, Some(Some("a@x.com".into())), None).await.expect("update"), UpdateUserOutcome::EmailAlreadyExists);
    assert_eq!(pl::update_user_in(s, AppKey::new(app), &user_1, None, Some(Some("+1666".into()))).await.expect("update"), UpdateUserOutcome::PhoneNumberAlreadyExists);
    assert_eq!(pl::update_user_in(s, AppKey::new(app), &user_3, None, Some(None)).await.expect("update"), UpdateUserOutcome::NoContactLeft);
    assert_eq!(pl::update_user_in(s, AppKey::new(app), "nobody", Some(Some("z@x.com".into())), None).await.expect("update"), UpdateUserOutcome::UnknownUser);
    let c12 = created(pl::create_code(s, t, &settings, 990, contact(Some("n@x.com"), None), None, Limit::default()).await.expect("create"));
    assert_eq!(pl::update_user_in(s, AppKey::new(app), &user_3, Some(Some("n@x.com".into())), Some(None)).await.expect("update"), UpdateUserOutcome::Updated);
    assert!(s.pl_device(t, &c12.pre_auth_session_id).await.expect("read").is_none());
    let m = s.get_user(AppKey::new(app), &user_3).await.expect("get").expect("user").login_methods[0].clone();
    assert_eq!((m.email.as_deref(), m.phone_number), (Some("n@x.com"), None));

    // Cleanup: a device whose codes all expired goes; one with a fresh code stays.
    let t1 = TenantKey::new(app, "t1");
    let c13 = created(pl::create_code(s, t1, &settings, 100, contact(Some("e@x.com"), None), None, Limit::default()).await.expect("create"));
    let c14 = created(pl::create_code(s, t1, &settings, 100, contact(Some("f@x.com"), None), None, Limit::default()).await.expect("create"));
    pl::create_code(s, t1, &settings, 600, NewCode::Device { device_id: c14.device_id.clone() }, None, Limit::default()).await.expect("code");
    assert_eq!(s.pl_delete_expired_devices(t1, 500).await.expect("cleanup"), 1);
    assert!(s.pl_device(t1, &c13.pre_auth_session_id).await.expect("read").is_none());
    assert_eq!(s.pl_device(t1, &c14.pre_auth_session_id).await.expect("read").expect("device").codes.len(), 2);

    // A unit of work that meets a conflict keeps nothing, and runs no statement after it.
    let id = DeviceId::generate().expect("id");
    let salt = LinkCodeSalt::generate().expect("salt");
    let device = Device { id_hash: id.hash(), email: Some("g@x.com".into()), phone_number: None, link_code_salt: salt.encode(), failed_attempts: 0 };
    let taken = s.pl_device(t1, &c14.pre_auth_session_id).await.expect("read").expect("device").codes[0].clone();
    let code = Code { id: "conflict-code".into(), device_id_hash: id.hash(), link_code_hash: taken.link_code_hash, created_at: 1 };
    let stored = transaction(s, (t1.owned(), device.clone(), code), |tx, (t, d, c)| {
        Box::pin(async move { Ok(tx.pl_insert_device(t.key(), d).await? && tx.pl_insert_code(t.key(), c).await?) })
    })
    .await
    .expect("unit");
    assert!(!stored, "the link code hash is taken");
    assert!(s.pl_device(t1, &device.id_hash).await.expect("read").is_none(), "nothing half-written");
    let after = transaction(s, (t1.owned(), device.clone()), |tx, (t, d)| {
        Box::pin(async move {
            let first = tx.pl_insert_device(t.key(), d).await?;
            let second = tx.pl_insert_device(t.key(), d).await?;
            assert!(first && !second);
            tx.pl_remove_device(t.key(), &d.id_hash).await
        })
    })
    .await;
    assert!(after.is_err(), "a statement after a conflict fails");
    assert!(s.pl_device(t1, &device.id_hash).await.expect("read").is_none(), "and the unit is rolled back");
    let _ = LinkCode::decode(&c5.link_code).expect("link codes decode");
    assert!(s.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
}

/// TOTP: device names (default, replacement of unverified ones, taken verified ones), rename,
/// list order, verification with used codes per tenant (replay, rate limit), bulk status, removal
/// of the last device taking the user's used codes with it, and the expired-code cleanup.
pub async fn run_totp(s: &dyn Storage) {
    use portcullis_core::totp::storage::NewDevice;
    use portcullis_core::totp::{self, base32_encode, totp_at, CreateDeviceOutcome, Limits, RenameOutcome, Verdict, VerifyOutcome, VerifyRequest};

    let app = "totp-app";
    s.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    s.add_tenant_rows(TenantKey::new(app, "t1"), 1).await.expect("tenant rows");
    let key = b"12345678901234567890";
    let secret = base32_encode(key);
    let device = |user: &str, name: Option<&str>, verified: bool, at: i64| NewDevice {
        user_id: user.into(),
        name: name.map(Into::into),
        secret_key: secret.clone(),
        period: 30,
        skew: 1,
        verified,
        created_at: at,
    };
    let created = |name: &str| CreateDeviceOutcome::Created(name.into());
    assert_eq!(totp::create_device(s, AppKey::new(app), device("u", None, false, 10)).await.expect("create"), created("TOTP Device 0"));
    assert_eq!(totp::create_device(s, AppKey::new(app), device("u", None, false, 11)).await.expect("create"), created("TOTP Device 0"));
    assert_eq!(totp::create_device(s, AppKey::new(app), device("u", Some("b"), true, 12)).await.expect("create"), created("b"));
    assert_eq!(totp::create_device(s, AppKey::new(app), device("u", Some("b"), false, 13)).await.expect("create"), CreateDeviceOutcome::AlreadyExists);
    assert_eq!(totp::create_device(s, AppKey::new(app), device("u", None, false, 14)).await.expect("create"), created("TOTP Device 1"));
    let names = |devices: Vec<portcullis_core::totp::Device>| devices.into_iter().map(|d| (d.name, d.verified)).collect::<Vec<_>>();
    let listed = names(s.totp_devices(AppKey::new(app), "u").await.expect("list"));
    assert_eq!(listed, vec![("TOTP Device 0".into(), false), ("b".into(), true), ("TOTP Device 1".into(), false)]);
    assert_eq!(totp::rename_device(s, AppKey::new(app), "u", "nope", "x").await.expect("rename"), RenameOutcome::UnknownDevice);
    assert_eq!(totp::rename_device(s, AppKey::new(app), "u", "TOTP Device 1", "b").await.expect("rename"), RenameOutcome::AlreadyExists);
    assert_eq!(totp::rename_device(s, AppKey::new(app), "u", "TOTP Device 1", "c").await.expect("rename"), RenameOutcome::Renamed);

    // Verification, at T = 1111111109 s (RFC 6238's vector: 081804 for 6 digits).
    let now = 1_111_111_109_000;
    let limits = Limits { max_attempts: 2, cooldown_ms: 1000 };
    let request = |device: Option<&str>, code: &str, at: i64| VerifyRequest {
        user_id: "u".into(),
        device: device.map(Into::into),
        code: code.into(),
        now: at,
        limits,
    };
    let good = totp_at(key, 30, now, 6);
    assert_eq!(good, "081804");
    let checked = |v: Verdict| VerifyOutcome::Checked(v);
    let invalid = |n: i64| checked(Verdict::Invalid { failed_attempts: n, max_attempts: 2 });
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(Some("zz"), &good, now)).await.expect("verify"), VerifyOutcome::UnknownDevice);
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(Some("b"), "x", now)).await.expect("verify"), VerifyOutcome::AlreadyVerified);
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(Some("c"), &good, now)).await.expect("verify"), checked(Verdict::Ok));
    assert_eq!(names(s.totp_devices(AppKey::new(app), "u").await.expect("list"))[2], ("c".into(), true));
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(None, &good, now)).await.expect("verify"), invalid(1), "replay");
    assert_eq!(totp::verify(s, TenantKey::new(app, "t1"), request(None, &good, now)).await.expect("verify"), checked(Verdict::Ok), "other tenant");
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(None, "000000", now)).await.expect("verify"), invalid(2));
    let limited = totp::verify(s, TenantKey::new(app, "public"), request(None, &good, now + 10)).await.expect("verify");
    assert_eq!(limited, checked(Verdict::LimitReached { retry_after_ms: 992, failed_attempts: 2, max_attempts: 2 }));
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(None, "000000", now + 2000)).await.expect("verify"), invalid(1));
    let nobody = VerifyRequest { user_id: "nobody".into(), ..request(None, &good, now) };
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), nobody).await.expect("verify"), VerifyOutcome::UnknownUser);

    // Bulk status: users without devices are absent.
    totp::create_device(s, AppKey::new(app), device("w", None, false, 20)).await.expect("create");
    let status = s.totp_device_status(AppKey::new(app), &["u".into(), "w".into(), "nobody".into()]).await.expect("status");
    assert_eq!((status.get("u"), status.get("w"), status.get("nobody")), (Some(&true), Some(&false), None));

    // Cleanup: codes that expired before the cutoff, per tenant (expiry = now + 90 s).
    assert_eq!(s.totp_delete_expired_codes(TenantKey::new(app, "t1"), now + 90_000).await.expect("cleanup"), 0);
    assert_eq!(s.totp_delete_expired_codes(TenantKey::new(app, "t1"), now + 90_001).await.expect("cleanup"), 1);

    // Removing the last device removes the user and its used codes.
    for name in ["TOTP Device 0", "b"] {
        assert!(totp::remove_device(s, AppKey::new(app), "u", name).await.expect("remove"));
    }
    assert!(!totp::remove_device(s, AppKey::new(app), "u", "b").await.expect("remove"));
    assert!(totp::remove_device(s, AppKey::new(app), "u", "c").await.expect("remove"));
    assert!(s.totp_devices(AppKey::new(app), "u").await.expect("list").is_empty());
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(None, &good, now)).await.expect("verify"), VerifyOutcome::UnknownUser);
    totp::create_device(s, AppKey::new(app), device("u", Some("again"), true, 30)).await.expect("create");
    assert_eq!(totp::verify(s, TenantKey::new(app, "public"), request(None, &good, now)).await.expect("verify"), checked(Verdict::Ok), "no used codes left");
    assert!(s.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
}

/// SAML: clients (create, full-replace update keeping `created_at`, the duplicate IdP entity id per
/// tenant, lookups, list order, removal), relay states (expiry, tenant scope, a null `state`,
/// consumed once together with the claims), codes (consumed once, expiry), the cron, the SP key's
/// first-writer-wins and replacement, and the cascade with the tenant.
pub async fn run_saml(s: &dyn Storage) {
    let app = "saml-app";
    for tenant in ["public", "t1", "t2"] {
        s.add_tenant_rows(TenantKey::new(app, tenant), 1).await.expect("tenant rows");
    }
    saml_checks(s, app).await;
    assert!(s.delete_tenant_rows(TenantKey::new(app, "t1")).await.expect("delete tenant"));
    assert!(s.saml_clients(TenantKey::new(app, "t1")).await.expect("list").is_empty(), "clients go with their tenant");
    assert!(s.delete_app_rows(AppKey::new(app)).await.expect("delete app"));
}

/// [`run_saml`] without the tenant rows (which the caller makes: `public`, `t1`, `t2` of `app`).
pub async fn saml_checks(s: &dyn Storage, app: &str) {
    use portcullis_core::saml::storage::{CodeClaims, ConsumedCode, RelayState, SamlClient, StoredSpKey, UpsertClientOutcome};
    let (t1, t2) = (TenantKey::new(app, "t1"), TenantKey::new(app, "t2"));
    let app_key = AppKey::new(app);

    let client = |id: &str, entity: &str, at: i64| SamlClient {
        client_id: id.into(),
        client_secret: Some("secret".into()),
        sso_login_url: "https://idp.example/sso?idpid=1".into(),
        redirect_uris: vec!["http://app/cb".into(), "http://app/cb2".into()],
        default_redirect_uri: "http://app/cb".into(),
        idp_entity_id: entity.into(),
        idp_signing_certificate: "MIIC".into(),
        allow_idp_initiated_login: false,
        enable_request_signing: true,
        created_at: at,
        updated_at: at,
    };
    let saved = |c: &SamlClient| UpsertClientOutcome::Saved(c.clone());

    // Clients.
    let a = client("a", "https://idp-a", 10);
    assert_eq!(s.saml_upsert_client(t1, &a).await.expect("create"), saved(&a));
    assert_eq!(s.saml_client(t1, "a").await.expect("get"), Some(a.clone()));
    assert_eq!(s.saml_client(t2, "a").await.expect("get"), None, "tenant scope");
    assert_eq!(s.saml_client_by_idp_entity_id(t1, "https://idp-a").await.expect("by entity"), Some(a.clone()));
    assert_eq!(s.saml_client_by_idp_entity_id(t1, "https://nope").await.expect("by entity"), None);
    let b = client("b", "https://idp-a", 20);
    assert_eq!(s.saml_upsert_client(t1, &b).await.expect("dup"), UpsertClientOutcome::DuplicateIdpEntity);
    assert_eq!(s.saml_client(t1, "b").await.expect("get"), None, "nothing written");
    assert_eq!(s.saml_upsert_client(t2, &b).await.expect("other tenant"), saved(&b), "entity ids are unique per tenant");
    let b1 = client("b", "https://idp-b", 5);
    assert_eq!(s.saml_upsert_client(t1, &b1).await.expect("create"), saved(&b1));
    // A full replace keeps created_at; a secret left out is removed.
    let a2 = SamlClient {
        client_secret: None,
        redirect_uris: vec!["http://other/cb".into()],
        allow_idp_initiated_login: true,
        enable_request_signing: false,
        created_at: 99,
        updated_at: 99,
        ..client("a", "https://idp-a2", 99)
    };
    let stored = SamlClient { created_at: 10, ..a2.clone() };
    assert_eq!(s.saml_upsert_client(t1, &a2).await.expect("update"), saved(&stored));
    assert_eq!(s.saml_client(t1, "a").await.expect("get"), Some(stored.clone()));
    let a3 = SamlClient { idp_entity_id: "https://idp-b".into(), ..a2.clone() };
    assert_eq!(s.saml_upsert_client(t1, &a3).await.expect("update"), UpsertClientOutcome::DuplicateIdpEntity);
    assert_eq!(s.saml_client(t1, "a").await.expect("get"), Some(stored.clone()), "unchanged");
    let listed: Vec<_> = s.saml_clients(t1).await.expect("list").into_iter().map(|c| c.client_id).collect();
    assert_eq!(listed, ["b", "a"], "oldest first");
    assert!(s.saml_remove_client(t2, "b").await.expect("remove"));
    assert!(!s.saml_remove_client(t2, "b").await.expect("remove"));
    assert_eq!(s.saml_client(t1, "b").await.expect("get"), Some(b1), "only that tenant's");

    // Relay states: read while not expired, in their tenant only.
    let now = 1_000_000;
    let rs = RelayState::new("rs-1".into(), "a".into(), None, "http://other/cb".into(), now, 300_000);
    s.saml_save_relay_state(t1, &rs).await.expect("save");
    assert_eq!(s.saml_relay_state(t1, "rs-1", now + 300_000).await.expect("get"), Some(rs.clone()));
    assert_eq!(s.saml_relay_state(t1, "rs-1", now + 300_001).await.expect("get"), None, "expired");
    assert_eq!(s.saml_relay_state(t2, "rs-1", now).await.expect("get"), None, "tenant scope");
    let with_state = RelayState::new("rs-2".into(), "a".into(), Some("st".into()), "http://other/cb".into(), now, 300_000);
    s.saml_save_relay_state(t1, &with_state).await.expect("save");
    assert_eq!(s.saml_relay_state(t1, "rs-2", now).await.expect("get"), Some(with_state));

    // A relay state is consumed once, with its claims; an expired one stores nothing.
    let claims = |code: &str| CodeClaims {
        client_id: "a".into(),
        code: code.into(),
        claims: r#"{"NameID":["u@x.com"]}"#.into(),
        created_at: now,
        expires_at: now + 300_000,
    };
    assert!(s.saml_consume_relay_state_and_save_claims(t1, "rs-1", now, &claims("k1")).await.expect("consume"));
    assert!(!s.saml_consume_relay_state_and_save_claims(t1, "rs-1", now, &claims("k2")).await.expect("consume"), "used");
    assert_eq!(s.saml_relay_state(t1, "rs-1", now).await.expect("get"), None);
    assert!(!s.saml_consume_relay_state_and_save_claims(t1, "rs-2", now + 300_001, &claims("k3")).await.expect("consume"), "expired");
    assert!(!s.saml_consume_relay_state_and_save_claims(t2, "rs-2", now, &claims("k4")).await.expect("consume"), "tenant scope");
    let consumed = ConsumedCode { client_id: "a".into(), claims: r#"{"NameID":["u@x.com"]}"#.into() };
    for unstored in ["k2", "k3", "k4"] {
        assert_eq!(s.saml_consume_code(t1, unstored, now).await.expect("code"), None, "{unstored} not stored");
    }
    assert_eq!(s.saml_consume_code(t2, "k1", now).await.expect("code"), None, "tenant scope");
    assert_eq!(s.saml_consume_code(t1, "k1", now).await.expect("code"), Some(consumed.clone()));
    assert_eq!(s.saml_consume_code(t1, "k1", now).await.expect("code"), None, "a code is used once");
    s.saml_save_claims(t1, &claims("k5")).await.expect("save claims");
    assert_eq!(s.saml_consume_code(t1, "k5", now + 300_001).await.expect("code"), None, "expired");

    // The cron: every tenant's expired rows (expires_at <= now).
    s.saml_save_claims(t2, &claims("k6")).await.expect("save claims");
    assert_eq!(s.saml_delete_expired(now + 299_999).await.expect("cleanup"), (0, 0));
    let (relay_states, codes) = s.saml_delete_expired(now + 300_000).await.expect("cleanup");
    assert_eq!((relay_states, codes), (1, 2), "rs-2; k5 and k6");
    assert_eq!(s.saml_delete_expired(now + 300_000).await.expect("cleanup"), (0, 0));

    // The SP key: the first stored wins; an expired one is replaced only once.
    let key = |n: u8| StoredSpKey { key_pair: format!("private-{n}\npublic-{n}"), certificate: format!("cert-{n}") };
    assert_eq!(s.saml_sp_key(app_key).await.expect("key"), None);
    assert_eq!(s.saml_store_sp_key(app_key, &key(1), None, now).await.expect("store"), key(1));
    assert_eq!(s.saml_store_sp_key(app_key, &key(2), None, now).await.expect("store"), key(1), "another instance's key stays");
    assert_eq!(s.saml_store_sp_key(app_key, &key(3), Some("cert-0"), now).await.expect("store"), key(1), "not the key being replaced");
    assert_eq!(s.saml_store_sp_key(app_key, &key(4), Some("cert-1"), now).await.expect("store"), key(4));
    assert_eq!(s.saml_sp_key(app_key).await.expect("key"), Some(key(4)));
}
mod oauth;
pub use oauth::run_oauth;
mod webauthn;
pub use webauthn::run_webauthn;

/// The brute-force counters (`portcullis_rate_limits`): a hit restarts or increments the window
/// and returns the count; counters are kept apart by app, tenant, kind and key; clearing forgets
/// one; the cleanup deletes the windows that ended; and the flows over them (`ratelimit::hit`).
pub async fn run_rate_limits(s: &dyn Storage) {
    use portcullis_core::ratelimit::storage::CounterKey;
    use portcullis_core::ratelimit::{self, Counter, Kind, Limit};
    let (a1, a2) = ("rl-app1", "rl-app2");
    for app in [a1, a2] {
        s.add_tenant_rows(TenantKey::new(app, "public"), 1).await.expect("app rows");
    }
    let app = AppKey::new(a1);
    let hash = "a".repeat(64);
    let key = CounterKey { tenant_id: "public", kind: "sign_in_by_email", key_hash: &hash };
    assert_eq!(s.rate_limit_hit(app, key, 1_000, 2_000).await.expect("hit"), 1);
    assert_eq!(s.rate_limit_hit(app, key, 1_500, 2_500).await.expect("hit"), 2);
    assert_eq!(s.rate_limit_hit(app, key, 1_999, 2_999).await.expect("hit"), 3);
    // Apart by app, tenant, kind and key.
    assert_eq!(s.rate_limit_hit(AppKey::new(a2), key, 1_999, 2_999).await.expect("hit"), 1);
    assert_eq!(s.rate_limit_hit(app, CounterKey { tenant_id: "", ..key }, 1_999, 2_999).await.expect("hit"), 1);
    assert_eq!(s.rate_limit_hit(app, CounterKey { kind: "passwordless_codes", ..key }, 1_999, 2_999).await.expect("hit"), 1);
    let other = "b".repeat(64);
    assert_eq!(s.rate_limit_hit(app, CounterKey { key_hash: &other, ..key }, 1_999, 2_999).await.expect("hit"), 1);
    // The window (ending at 2000) is over at 2000: the count restarts with the new window end.
    assert_eq!(s.rate_limit_hit(app, key, 2_000, 5_000).await.expect("hit"), 1);
    assert_eq!(s.rate_limit_hit(app, key, 4_999, 9_999).await.expect("hit"), 2, "the window end stays 5000");
    assert_eq!(s.rate_limit_hit(app, key, 5_000, 6_000).await.expect("hit"), 1);
    s.rate_limit_clear(app, key).await.expect("clear");
    assert_eq!(s.rate_limit_hit(app, key, 5_001, 6_000).await.expect("hit"), 1, "cleared");
    s.rate_limit_clear(AppKey::new(a2), CounterKey { key_hash: &other, ..key }).await.expect("clearing nothing is fine");
    // Cleanup: every window that ended by then, in every app (the a2 and other ones end at 2999).
    assert_eq!(s.rate_limit_delete_expired(2_999).await.expect("cleanup"), 4);
    assert_eq!(s.rate_limit_delete_expired(6_000).await.expect("cleanup"), 1);
    assert_eq!(s.rate_limit_delete_expired(6_000).await.expect("cleanup"), 0);

    // The flow: `max` calls per window are served, the next is refused; off costs nothing.
    let limit = Limit { max: 2, window_ms: 1_000 };
    let counter = Counter::new(Kind::PasswordlessCodes, "public", "x@example.com");
    let served = |now| ratelimit::hit(s, app, &counter, limit, now);
    assert!(served(10_000).await.expect("hit") && served(10_001).await.expect("hit"));
    assert!(!served(10_002).await.expect("hit") && !served(10_999).await.expect("hit"));
    assert!(served(11_000).await.expect("hit"), "a new window");
    assert!(ratelimit::hit(s, app, &counter, Limit::default(), 11_001).await.expect("off"));
    assert!(served(11_001).await.expect("hit"), "an off limit counted nothing");
    assert_eq!(s.rate_limit_delete_expired(11_999).await.expect("cleanup"), 0);
    assert!(s.delete_app_rows(app).await.expect("delete app"));
    assert_eq!(s.rate_limit_delete_expired(i64::MAX).await.expect("cleanup"), 0, "counters go with their app");
    assert!(s.delete_app_rows(AppKey::new(a2)).await.expect("delete app"));
}
mod bulkimport;
pub use bulkimport::{run_bulk_import_flow, run_bulk_import_queue};
