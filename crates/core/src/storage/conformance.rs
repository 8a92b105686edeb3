//! The behaviour every storage adapter must show, as one suite each adapter runs against itself
//! (PostgreSQL and SQLite alike). Each check panics with a message naming what broke.

use serde_json::json;

use super::Storage;
use crate::ids::TenantIdentifier;
use crate::multitenancy::{Provider, ProviderClient, TenantConfig, UserInfoMap, UserInfoMapFields};

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
    s.add_tenant_rows("kv-app", "public", 1).await.expect("add rows");
    s.add_tenant_rows("kv-app", "public", 2).await.expect("add rows is idempotent");
    s.add_tenant_rows("kv-app", "t1", 3).await.expect("add tenant");
    let v = s.key_value_insert_if_absent("kv-app", "public", "k", "first", 1).await.expect("kv insert");
    assert_eq!(v, "first");
    let v = s.key_value_insert_if_absent("kv-app", "public", "k", "second", 2).await.expect("kv insert again");
    assert_eq!(v, "first", "insert-if-absent must keep the first value");
    assert_eq!(s.key_value_get("kv-app", "public", "k").await.expect("kv get").as_deref(), Some("first"));
    assert_eq!(s.key_value_get("kv-app", "public", "none").await.expect("kv get"), None);
    s.key_value_set("kv-app", "public", "set", "one", 1).await.expect("kv set");
    s.key_value_set("kv-app", "public", "set", "two", 2).await.expect("kv set again");
    assert_eq!(s.key_value_get("kv-app", "public", "set").await.expect("kv get").as_deref(), Some("two"));
    s.key_value_insert_if_absent("kv-app", "t1", "k", "t1v", 1).await.expect("kv tenant");
    assert!(s.delete_tenant_rows("kv-app", "t1").await.expect("delete tenant rows"));
    assert!(!s.delete_tenant_rows("kv-app", "t1").await.expect("delete tenant rows again"));
    assert_eq!(s.key_value_get("kv-app", "t1", "k").await.expect("kv get"), None, "tenant data must cascade");
    assert!(s.delete_app_rows("kv-app").await.expect("delete app"));
    assert_eq!(s.key_value_get("kv-app", "public", "k").await.expect("kv get"), None, "app data must cascade");
    assert!(!s.delete_app_rows("kv-app").await.expect("delete app again"));

    s.add_tenant_rows("public", "public", 1).await.expect("public rows");
    assert!(s.lease("conformance-job", 1_000, 100).await.expect("lease"), "a new lease is free");
    assert!(!s.lease("conformance-job", 1_050, 100).await.expect("lease"), "a lease is held for its interval");
    assert!(s.lease("conformance-job", 1_100, 100).await.expect("lease"), "and free again after it");
    assert!(s.lease("other-job", 1_050, 100).await.expect("lease"), "leases are per name");
}

/// The session-storage behaviour: rows, compare-and-set of the refresh hash, scoped listing and
/// deletion, signing keys that deduplicate on their creation time.
pub async fn run_sessions(base: &dyn Storage, s: &dyn super::session::SessionStorage) {
    use super::session::{SessionRow, StaticKey, TenantScope};
    use crate::session::signing_keys::DynamicKey;

    base.add_tenant_rows("sess-app", "public", 1).await.expect("app rows");
    base.add_tenant_rows("sess-app", "t1", 1).await.expect("tenant rows");
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
    s.session_insert("sess-app", &a).await.expect("insert");
    s.session_insert("sess-app", &row("t1", "s2_t1", "u1", 1000)).await.expect("insert");
    s.session_insert("sess-app", &row("public", "s3", "u1", 50)).await.expect("insert");
    s.session_insert("sess-app", &row("public", "s4", "u2", 1000)).await.expect("insert");
    assert_eq!(s.session_get("sess-app", "public", "s1").await.expect("get"), Some(a.clone()));
    assert_eq!(s.session_get("sess-app", "t1", "s1").await.expect("get"), None, "sessions are per tenant");

    // Compare-and-set: the second of two identical promotions loses.
    assert!(s.session_replace_refresh_hash("sess-app", "public", "s1", "h0", "h1", 2000).await.expect("cas"));
    assert!(!s.session_replace_refresh_hash("sess-app", "public", "s1", "h0", "h2", 3000).await.expect("cas"));
    let got = s.session_get("sess-app", "public", "s1").await.expect("get").expect("row");
    assert_eq!((got.refresh_token_hash_2.as_str(), got.expires_at), ("h1", 2000));

    s.session_set_use_static_key("sess-app", "public", "s1", true).await.expect("static");
    assert!(s.session_update_data("sess-app", "public", "s1", r#"{"b":2}"#).await.expect("data"));
    assert!(s.session_update_jwt_payload("sess-app", "public", "s1", r#"{"c":3}"#).await.expect("jwt"));
    assert!(!s.session_update_data("sess-app", "public", "nope", "{}").await.expect("data"));
    let got = s.session_get("sess-app", "public", "s1").await.expect("get").expect("row");
    assert!(got.use_static_key);
    assert_eq!((got.session_data.as_str(), got.jwt_user_payload.as_str()), (r#"{"b":2}"#, r#"{"c":3}"#));

    let mut one = s.session_handles_for_user("sess-app", TenantScope::One("public"), "u1", 100).await.expect("list");
    one.sort();
    assert_eq!(one, vec![("public".to_string(), "s1".to_string())], "expired sessions are not listed");
    let mut all = s.session_handles_for_user("sess-app", TenantScope::AllTenants, "u1", 100).await.expect("list");
    all.sort();
    assert_eq!(all.len(), 2);

    let deleted = s
        .session_delete("sess-app", &[("public".into(), "s1".into()), ("public".into(), "missing".into())])
        .await
        .expect("delete");
    assert_eq!(deleted, vec!["s1".to_string()]);
    assert_eq!(s.session_delete_expired(100).await.expect("expire"), 1);
    assert_eq!(s.session_get("sess-app", "public", "s3").await.expect("get"), None);

    let k1 = DynamicKey { created_at: 1000, value: "k1".into() };
    s.dynamic_key_insert("sess-app", &k1).await.expect("key");
    s.dynamic_key_insert("sess-app", &DynamicKey { created_at: 1000, value: "other".into() }).await.expect("dup key");
    s.dynamic_key_insert("sess-app", &DynamicKey { created_at: 2000, value: "k2".into() }).await.expect("key");
    let keys = s.dynamic_keys("sess-app").await.expect("keys");
    assert_eq!(keys.iter().map(|k| k.value.as_str()).collect::<Vec<_>>(), vec!["k2", "k1"], "newest first, first insert wins");
    assert_eq!(s.dynamic_keys_delete_before("sess-app", 1500).await.expect("cleanup"), 1);

    let sk = StaticKey { key_id: "s-1".into(), key_string: "a|b".into(), algorithm: "RS256".into(), created_at: 5 };
    s.static_key_insert("sess-app", &sk).await.expect("static key");
    s.static_key_insert("sess-app", &sk).await.expect("static key twice");
    assert_eq!(s.static_keys("sess-app").await.expect("static keys"), vec![sk]);

    s.user_last_active_upsert("sess-app", "u1", 1).await.expect("last active");
    s.user_last_active_upsert("sess-app", "u1", 2).await.expect("last active again");

    assert!(base.delete_app_rows("sess-app").await.expect("delete app"));
    assert_eq!(s.session_get("sess-app", "public", "s4").await.expect("get"), None, "sessions cascade with the app");
    assert!(s.dynamic_keys("sess-app").await.expect("keys").is_empty(), "keys cascade with the app");
}

/// Linked users (groups by `primary_or_recipe_user_id`) as the readers see them: whole users, a
/// list of users read at once, counts per tenant and across tenants, pages. `link(app, recipe user,
/// primary)` writes the account-linking columns as the core does (both tables, the group's earliest
/// time joined on every row), with the store's own SQL.
pub async fn run_user_groups<F, Fut>(base: &dyn Storage, s: &dyn super::users::UserStorage, link: F)
where
    F: Fn(&'static str, &'static str, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use super::users::UserFilter;
    use crate::users::{RecipeId, User};

    let app = "groups-app";
    for tenant in ["public", "t1", "t2"] {
        base.add_tenant_rows(app, tenant, 1).await.expect("tenant rows");
    }
    // p1 (public) + r1 (public, t1); p2 (t2) + r2 (t1); u3 (public) alone.
    for (id, tenant, time) in [("g-p1", "public", 10), ("g-r1", "public", 20), ("g-p2", "t2", 30), ("g-r2", "t1", 40), ("g-u3", "public", 50)] {
        assert!(s.ep_create_user(app, tenant, id, &format!("{id}@example.com"), "h", time).await.expect("sign up"));
    }
    s.associate_user_with_tenant(app, "t1", "g-r1").await.expect("associate");
    link(app, "g-r1", "g-p1").await;
    link(app, "g-r2", "g-p2").await;

    let ids = |users: &[User]| users.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    let asked: Vec<String> = ["g-u3", "g-r2", "g-p1", "nobody", "g-r1"].map(String::from).to_vec();
    let users = s.get_users(app, &asked).await.expect("get users");
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
        let one = s.get_user(app, id).await.expect("get user").expect("user");
        assert_eq!(vec![one.clone()], s.get_users(app, &[id.to_string()]).await.expect("get users"), "get_user({id})");
        assert_eq!(one.login_methods.len(), if id == "g-u3" { 1 } else { 2 }, "{id}: the whole group");
    }
    assert!(s.get_users(app, &[]).await.expect("none").is_empty());

    // A group counts once wherever any of its rows is: t1 holds p1's group only through r1.
    let tenant = |t: &str| UserFilter { tenant_id: Some(t.into()), recipe_ids: vec![], search: None };
    for (t, n) in [("public", 2), ("t1", 2), ("t2", 1)] {
        assert_eq!(s.count_users(app, &tenant(t)).await.expect("count"), n, "users in {t}");
        let page = s.list_users(app, &tenant(t), false, 10, None).await.expect("list");
        assert_eq!(page.len() as u64, n, "{t}: a page lists what the count counts: {page:?}");
    }
    assert_eq!(s.count_users(app, &UserFilter::default()).await.expect("count"), 3, "across tenants");
    let ep = UserFilter { recipe_ids: vec![RecipeId::EmailPassword], ..tenant("t1") };
    assert_eq!(s.count_users(app, &ep).await.expect("count"), 2);
    let tp = UserFilter { recipe_ids: vec![RecipeId::ThirdParty], ..tenant("t1") };
    assert_eq!(s.count_users(app, &tp).await.expect("count"), 0);
    let page = s.list_users(app, &tenant("t1"), false, 10, None).await.expect("list");
    assert_eq!(page, [("g-p2".to_string(), 30), ("g-p1".to_string(), 10)], "newest group first, by the group's time");
}

/// Auth-recipe users: sign-up rows, unique emails per tenant, whole-user reads, listing order and
/// pages, counts, tenant association and deletion.
pub async fn run_users(base: &dyn Storage, s: &dyn super::users::UserStorage) {
    use super::users::{AccountInfo, AssociateOutcome, UserFilter};
    use crate::users::RecipeId;

    let app = "users-app";
    base.add_tenant_rows(app, "public", 1).await.expect("app rows");
    base.add_tenant_rows(app, "t1", 1).await.expect("tenant rows");
    for (i, id) in ["u-a", "u-b", "u-c"].iter().enumerate() {
        let created = s
            .ep_create_user(app, "public", id, &format!("{id}@example.com"), "$2a$04$hash", 100 + i as i64)
            .await
            .expect("sign up");
        assert!(created);
    }
    assert!(!s.ep_create_user(app, "public", "u-d", "u-a@example.com", "h", 200).await.expect("dup"), "one email per tenant");
    assert!(s.get_user(app, "u-d").await.expect("get").is_none(), "a refused sign-up leaves nothing behind");
    assert!(s.ep_create_user(app, "t1", "u-e", "u-a@example.com", "h", 300).await.expect("other tenant"), "emails are per tenant");

    let u = s.get_user(app, "u-a").await.expect("get").expect("user");
    assert_eq!(u.id, "u-a");
    assert!(!u.is_primary);
    let m = &u.login_methods[0];
    assert_eq!((m.recipe_id, m.email.as_deref(), m.time_joined), (RecipeId::EmailPassword, Some("u-a@example.com"), 100));
    assert_eq!(m.tenant_ids, vec!["public".to_string()]);
    assert_eq!(m.password_hash.as_deref(), Some("$2a$04$hash"));
    let by_email = s.ep_login_method_by_email(app, "public", "u-b@example.com").await.expect("by email").expect("found");
    assert_eq!(by_email.recipe_user_id, "u-b");
    assert!(s.ep_login_method_by_email(app, "t1", "u-b@example.com").await.expect("by email").is_none());

    let public = UserFilter { tenant_id: Some("public".into()), recipe_ids: vec![], search: None };
    let page = s.list_users(app, &public, false, 2, None).await.expect("list");
    assert_eq!(page, vec![("u-c".to_string(), 102), ("u-b".to_string(), 101)]);
    let next = s.list_users(app, &public, false, 2, Some((100, "u-a".into()))).await.expect("list");
    assert_eq!(next, vec![("u-a".to_string(), 100)]);
    let asc = s.list_users(app, &public, true, 10, None).await.expect("list");
    assert_eq!(asc.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), vec!["u-a", "u-b", "u-c"]);
    assert_eq!(s.count_users(app, &public).await.expect("count"), 3);
    assert_eq!(s.count_users(app, &UserFilter::default()).await.expect("count"), 4);
    let tp = UserFilter { tenant_id: None, recipe_ids: vec![RecipeId::ThirdParty], search: None };
    assert_eq!(s.count_users(app, &tp).await.expect("count"), 0);
    let by_email = AccountInfo::Email("u-a@example.com".into());
    assert_eq!(s.user_ids_by_account_info(app, "public", &by_email).await.expect("ids"), vec!["u-a".to_string()]);
    let by_phone = AccountInfo::PhoneNumber("+15550100".into());
    assert!(s.user_ids_by_account_info(app, "public", &by_phone).await.expect("ids").is_empty());

    // Tenant association follows the per-tenant email uniqueness.
    assert_eq!(s.associate_user_with_tenant(app, "t1", "u-b").await.expect("assoc"), AssociateOutcome::Associated { was_already_associated: false });
    assert_eq!(s.associate_user_with_tenant(app, "t1", "u-b").await.expect("assoc"), AssociateOutcome::Associated { was_already_associated: true });
    assert_eq!(s.associate_user_with_tenant(app, "t1", "u-a").await.expect("assoc"), AssociateOutcome::EmailAlreadyExists);
    assert_eq!(s.associate_user_with_tenant(app, "t1", "nobody").await.expect("assoc"), AssociateOutcome::UnknownUser);
    let u = s.get_user(app, "u-b").await.expect("get").expect("user");
    assert_eq!(u.tenant_ids(), vec!["public".to_string(), "t1".to_string()]);
    assert!(s.ep_login_method_by_email(app, "t1", "u-b@example.com").await.expect("by email").is_some());
    assert!(s.disassociate_user_from_tenant(app, "public", "u-b").await.expect("disassoc"));
    assert!(!s.disassociate_user_from_tenant(app, "public", "u-b").await.expect("disassoc"));
    assert!(s.ep_login_method_by_email(app, "public", "u-b@example.com").await.expect("by email").is_none());
    assert!(s.get_user(app, "u-b").await.expect("get").is_some(), "a user without a tenant keeps their data");

    assert!(s.delete_users(app, &["u-c".to_string()]).await.expect("delete"));
    assert!(!s.delete_users(app, &["u-c".to_string()]).await.expect("delete again"));
    assert!(s.get_user(app, "u-c").await.expect("get").is_none());
    assert_eq!(s.count_users(app, &public).await.expect("count"), 1);
    assert!(base.delete_app_rows(app).await.expect("delete app"));
}

/// User metadata: read-merge-write updates, bulk reads, deletion, per-app isolation, and concurrent
/// updates of one user that lose no key.
pub async fn run_metadata(base: &dyn Storage, s: &dyn super::metadata::MetadataStorage) {
    let app = "meta-app";
    base.add_tenant_rows(app, "public", 1).await.expect("app rows");
    base.add_tenant_rows("meta-other", "public", 1).await.expect("other app rows");
    assert_eq!(s.metadata_get(app, "u1").await.expect("get"), None);
    let obj = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();

    let m = s.metadata_update(app, "u1", &obj(json!({"a": 1, "b": {"x": 1}, "gone": null}))).await.expect("update");
    assert_eq!(serde_json::Value::Object(m), json!({"a": 1, "b": {"x": 1}}));
    let m = s.metadata_update(app, "u1", &obj(json!({"b": {"y": 2}, "a": null, "c": [1]}))).await.expect("update");
    assert_eq!(serde_json::Value::Object(m.clone()), json!({"b": {"y": 2}, "c": [1]}), "shallow merge, null removes");
    assert_eq!(s.metadata_get(app, "u1").await.expect("get"), Some(m.clone()), "what update returns is stored");
    let order: Vec<&String> = m.keys().collect();
    assert_eq!(order, vec!["b", "c"], "key order survives storage");
    assert_eq!(s.metadata_get("meta-other", "u1").await.expect("get"), None, "metadata is per app");

    s.metadata_update(app, "u2", &obj(json!({"k": "v"}))).await.expect("update");
    let many = s
        .metadata_get_many(app, &["u1".into(), "u2".into(), "nobody".into(), "u1".into()])
        .await
        .expect("bulk");
    assert_eq!(many.len(), 2);
    assert_eq!(many.get("u2"), Some(&obj(json!({"k": "v"}))));
    assert!(s.metadata_get_many(app, &[]).await.expect("bulk empty").is_empty());

    assert!(s.metadata_delete(app, "u1").await.expect("delete"));
    assert!(!s.metadata_delete(app, "u1").await.expect("delete again"));
    assert_eq!(s.metadata_get(app, "u1").await.expect("get"), None);
    let m = s.metadata_update(app, "u1", &obj(json!({}))).await.expect("empty update");
    assert!(m.is_empty(), "an empty update of a user without metadata gives {{}}");

    // Concurrent updates, each adding its own key: none may be lost (the first writes race to
    // create the row, the later ones to update it).
    let updates = (0..16).map(|i| {
        let update = obj(json!({ format!("k{i}"): i }));
        async move { s.metadata_update(app, "racer", &update).await }
    });
    for r in futures_join_all(updates).await {
        r.expect("concurrent update");
    }
    let m = s.metadata_get(app, "racer").await.expect("get").unwrap_or_default();
    assert_eq!(m.len(), 16, "concurrent updates lost keys: {m:?}");

    assert!(base.delete_app_rows(app).await.expect("delete app"));
    assert_eq!(s.metadata_get(app, "u2").await.expect("get"), None, "metadata cascades with the app");
    assert!(base.delete_app_rows("meta-other").await.expect("delete other app"));
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
pub async fn run_roles(base: &dyn Storage, s: &dyn super::roles::RoleStorage) {
    use super::roles::{RoleCheck, UserRoleChange};
    let app = "roles-app";
    base.add_tenant_rows(app, "public", 1).await.expect("app rows");
    base.add_tenant_rows(app, "t1", 1).await.expect("tenant rows");
    base.add_tenant_rows("roles-other", "public", 1).await.expect("other app rows");
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert!(s.role_create_or_add_permissions(app, "admin", &strings(&["write", "read"])).await.expect("create"));
    assert!(!s.role_create_or_add_permissions(app, "admin", &strings(&["read", "delete"])).await.expect("add"));
    assert!(s.role_create_or_add_permissions(app, "viewer", &[]).await.expect("create without permissions"));
    assert!(s.role_create_or_add_permissions(app, "editor", &strings(&["write"])).await.expect("create"));
    assert_eq!(s.role_permissions(app, "admin").await.expect("perms"), Some(strings(&["delete", "read", "write"])));
    assert_eq!(s.role_permissions(app, "viewer").await.expect("perms"), Some(vec![]));
    assert_eq!(s.role_permissions(app, "nope").await.expect("perms"), None);
    assert!(s.role_exists(app, "viewer").await.expect("exists"));
    assert!(!s.role_exists("roles-other", "viewer").await.expect("exists"), "roles are per app");
    assert_eq!(s.roles(app).await.expect("roles"), strings(&["admin", "editor", "viewer"]));
    assert_eq!(s.roles_with_permission(app, "write").await.expect("by permission"), strings(&["admin", "editor"]));
    assert!(s.roles_with_permission(app, "nothing").await.expect("by permission").is_empty());

    assert!(s.role_remove_permissions(app, "admin", Some(&strings(&["delete", "absent"]))).await.expect("remove some"));
    assert_eq!(s.role_permissions(app, "admin").await.expect("perms"), Some(strings(&["read", "write"])));
    assert!(s.role_remove_permissions(app, "editor", None).await.expect("remove all"));
    assert_eq!(s.role_permissions(app, "editor").await.expect("perms"), Some(vec![]));
    assert!(!s.role_remove_permissions(app, "nope", None).await.expect("unknown role"));

    let here = RoleCheck::InThisDatabase;
    let done = |changed| UserRoleChange::Done { changed };
    assert_eq!(s.user_role_add(app, "public", "u1", "admin", here).await.expect("add"), done(true));
    assert_eq!(s.user_role_add(app, "public", "u1", "admin", here).await.expect("add again"), done(false));
    assert_eq!(s.user_role_add(app, "public", "u1", "viewer", here).await.expect("add"), done(true));
    assert_eq!(s.user_role_add(app, "t1", "u2", "admin", here).await.expect("add in t1"), done(true));
    assert_eq!(s.user_role_add(app, "public", "u1", "nope", here).await.expect("unknown"), UserRoleChange::UnknownRole);
    assert_eq!(
        s.user_role_add(app, "t1", "u3", "checked-elsewhere", RoleCheck::DoneElsewhere).await.expect("unchecked add"),
        done(true),
        "a role checked in another database is not looked for here"
    );
    assert_eq!(s.user_roles(app, "public", "u1").await.expect("user roles"), strings(&["admin", "viewer"]));
    assert!(s.user_roles(app, "t1", "u1").await.expect("user roles").is_empty(), "user roles are per tenant");
    assert_eq!(s.role_users(app, "public", "admin").await.expect("role users"), strings(&["u1"]));
    assert_eq!(s.role_users(app, "t1", "admin").await.expect("role users"), strings(&["u2"]));

    assert_eq!(s.user_role_remove(app, "public", "u1", "viewer", here).await.expect("remove"), done(true));
    assert_eq!(s.user_role_remove(app, "public", "u1", "viewer", here).await.expect("remove again"), done(false));
    assert_eq!(s.user_role_remove(app, "public", "u1", "nope", here).await.expect("remove unknown"), UserRoleChange::UnknownRole);
    assert_eq!(
        s.user_role_remove(app, "t1", "u3", "checked-elsewhere", RoleCheck::DoneElsewhere).await.expect("unchecked remove"),
        done(true)
    );

    // Deleting a role takes its permissions and every association with it in this database.
    assert!(s.role_delete(app, "admin").await.expect("delete role"));
    assert!(!s.role_delete(app, "admin").await.expect("delete role again"));
    assert_eq!(s.role_permissions(app, "admin").await.expect("perms"), None);
    assert!(s.user_roles(app, "public", "u1").await.expect("user roles").is_empty());
    assert!(s.role_users(app, "t1", "admin").await.expect("role users").is_empty());
    assert!(s.roles_with_permission(app, "read").await.expect("by permission").is_empty());
    assert_eq!(s.user_role_add(app, "public", "u1", "admin", here).await.expect("add deleted"), UserRoleChange::UnknownRole);

    // Associations alone (a tenant database that does not hold the role).
    s.user_role_add(app, "t1", "u4", "remote", RoleCheck::DoneElsewhere).await.expect("unchecked add");
    assert!(s.role_delete_user_associations(app, "remote").await.expect("delete associations"));
    assert!(!s.role_delete_user_associations(app, "remote").await.expect("delete associations again"));
    assert!(s.role_users(app, "t1", "remote").await.expect("role users").is_empty());

    s.user_role_add(app, "t1", "u5", "viewer", here).await.expect("add");
    assert!(base.delete_tenant_rows(app, "t1").await.expect("delete tenant"));
    assert!(s.role_users(app, "t1", "viewer").await.expect("role users").is_empty(), "user roles cascade with the tenant");
    assert!(base.delete_app_rows(app).await.expect("delete app"));
    assert!(s.roles(app).await.expect("roles").is_empty(), "roles cascade with the app");
    assert!(base.delete_app_rows("roles-other").await.expect("delete other app"));
}

/// Dashboard users (unique emails per app) and their sessions (expiry, deletion, cascade with the user's app).
pub async fn run_dashboard(base: &dyn Storage, s: &dyn super::dashboard::DashboardStorage) {
    use super::dashboard::DashboardUser;
    let app = "dash-app";
    base.add_tenant_rows(app, "public", 1).await.expect("app rows");
    let user = DashboardUser { user_id: "dash-user-1".into(), email: "d@example.com".into(), password_hash: "h".into(), time_joined: 5 };
    assert!(s.dashboard_user_create(app, &user).await.expect("create"));
    let twin = DashboardUser { user_id: "dash-user-2".into(), ..user.clone() };
    assert!(!s.dashboard_user_create(app, &twin).await.expect("create twin"), "one dashboard user per email");
    assert_eq!(s.dashboard_user_by_email(app, "d@example.com").await.expect("by email"), Some(user.clone()));
    assert_eq!(s.dashboard_user_by_email(app, "x@example.com").await.expect("by email"), None);
    s.dashboard_session_create(app, "sess-1", "dash-user-1", 10, 100).await.expect("session");
    assert_eq!(s.dashboard_session_email(app, "sess-1", 50).await.expect("email").as_deref(), Some("d@example.com"));
    assert_eq!(s.dashboard_session_email(app, "sess-1", 100).await.expect("email"), None, "expired sessions do not count");
    assert!(s.dashboard_session_delete(app, "sess-1").await.expect("delete"));
    assert!(!s.dashboard_session_delete(app, "sess-1").await.expect("delete again"));
    assert!(base.delete_app_rows(app).await.expect("delete app"));
    assert_eq!(s.dashboard_user_by_email(app, "d@example.com").await.expect("by email"), None, "users cascade with the app");
}

/// Email verification: tokens consumed once, all of a (user, email)'s tokens removed on use, expiry.
pub async fn run_email_verification(base: &dyn Storage, s: &dyn super::emailverification::EmailVerificationStorage) {
    use super::emailverification::ConsumeOutcome;
    let app = "ev-app";
    base.add_tenant_rows(app, "public", 1).await.expect("app rows");
    s.ev_token_create(app, "public", "u1", "a@x.com", "h1", 100).await.expect("token");
    s.ev_token_create(app, "public", "u1", "a@x.com", "h2", 100).await.expect("token");
    s.ev_token_create(app, "public", "u2", "b@x.com", "h3", 10).await.expect("token");
    assert_eq!(s.ev_consume(app, "t-other", "h1", 50).await.expect("consume"), ConsumeOutcome::Invalid, "tokens are per tenant");
    let ok = s.ev_consume(app, "public", "h1", 50).await.expect("consume");
    assert_eq!(ok, ConsumeOutcome::Verified { user_id: "u1".into(), email: "a@x.com".into() });
    assert_eq!(s.ev_consume(app, "public", "h2", 50).await.expect("consume"), ConsumeOutcome::Invalid, "using one token removes the others");
    assert_eq!(s.ev_consume(app, "public", "h3", 50).await.expect("consume"), ConsumeOutcome::Invalid, "expired");
    assert!(s.ev_is_verified(app, "u1", "a@x.com").await.expect("check"));
    assert!(!s.ev_is_verified(app, "u2", "b@x.com").await.expect("check"));
    s.ev_mark_verified(app, "u2", "b@x.com").await.expect("mark");
    s.ev_mark_verified(app, "u2", "b@x.com").await.expect("mark twice");
    s.ev_unverify(app, "u1", "a@x.com").await.expect("unverify");
    assert!(!s.ev_is_verified(app, "u1", "a@x.com").await.expect("check"));
    s.ev_token_create(app, "public", "u1", "a@x.com", "h4", 100).await.expect("token");
    s.ev_revoke_tokens(app, "public", "u1", "a@x.com").await.expect("revoke");
    assert_eq!(s.ev_consume(app, "public", "h4", 50).await.expect("consume"), ConsumeOutcome::Invalid);
    assert!(base.delete_app_rows(app).await.expect("delete app"));
}

/// Passwordless: devices and codes (duplicates refused, codes per device), consume outcomes with
/// failed attempts and expiry, sign-up then sign-in rows, code and device removal, user updates
/// with their conflicts, and the expired-device cleanup.
pub async fn run_passwordless(base: &dyn Storage, s: &dyn super::passwordless::PasswordlessStorage) {
    use super::passwordless::{Code, ConsumeOutcome, ConsumeRequest, Contact, CreateCodeOutcome, Device, SignInUp, UpdateUserOutcome};

    let app = "pl-app";
    base.add_tenant_rows(app, "public", 1).await.expect("app rows");
    base.add_tenant_rows(app, "t1", 1).await.expect("tenant rows");
    let device = |hash: &str, email: Option<&str>, phone: Option<&str>| Device {
        id_hash: hash.into(),
        email: email.map(Into::into),
        phone_number: phone.map(Into::into),
        link_code_salt: "c2FsdA==".into(),
        failed_attempts: 0,
    };
    let code = |id: &str, hash: &str, link: &str, at: i64| Code { id: id.into(), device_id_hash: hash.into(), link_code_hash: link.into(), created_at: at };
    let request = |hash: &str, link: &str, typed: bool, sign_up: Option<&str>| ConsumeRequest {
        device_id_hash: hash.into(),
        link_code_hash: link.into(),
        by_user_input_code: typed,
        now: 1_000,
        code_lifetime_ms: 500,
        max_attempts: 3,
        sign_in_up: sign_up.map(|id| SignInUp { new_user_id: id.into(), verify_email: true }),
    };

    assert!(s.pl_create_device_with_code(app, "public", &device("d1", Some("a@x.com"), None), &code("c1", "d1", "l1", 100)).await.expect("create"));
    assert!(!s.pl_create_device_with_code(app, "public", &device("d1", Some("b@x.com"), None), &code("c9", "d1", "l9", 900)).await.expect("dup"));
    assert!(s.pl_code_by_link_code_hash(app, "public", "l9").await.expect("read").is_none(), "nothing half-written");
    assert_eq!(s.pl_create_code(app, "public", &code("c2", "d1", "l2", 950)).await.expect("code"), CreateCodeOutcome::Created);
    assert_eq!(s.pl_create_code(app, "public", &code("c3", "d1", "l2", 950)).await.expect("code"), CreateCodeOutcome::Duplicate);
    assert_eq!(s.pl_create_code(app, "public", &code("c4", "nope", "l4", 950)).await.expect("code"), CreateCodeOutcome::UnknownDevice);
    let d1 = s.pl_device(app, "public", "d1").await.expect("read").expect("device");
    assert_eq!(d1.device.email.as_deref(), Some("a@x.com"));
    assert_eq!(d1.codes.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["c1", "c2"]);
    assert_eq!(s.pl_devices_by_contact(app, "public", Contact::Email("a@x.com")).await.expect("by email").len(), 1);
    assert!(s.pl_devices_by_contact(app, "t1", Contact::Email("a@x.com")).await.expect("by email").is_empty(), "devices are per tenant");
    assert_eq!(s.pl_code_by_link_code_hash(app, "public", "l2").await.expect("by link").map(|c| c.id), Some("c2".into()));

    // Wrong and expired codes count; checking does not consume.
    let wrong = s.pl_consume(app, "public", &request("d1", "nope", true, None)).await.expect("consume");
    assert_eq!(wrong, ConsumeOutcome::IncorrectUserInputCode { failed_attempts: 1 });
    let expired = s.pl_consume(app, "public", &request("d1", "l1", true, None)).await.expect("consume");
    assert_eq!(expired, ConsumeOutcome::ExpiredUserInputCode { failed_attempts: 2 });
    assert_eq!(s.pl_consume(app, "public", &request("d1", "nope", false, None)).await.expect("consume"), ConsumeOutcome::RestartFlow);
    let checked = s.pl_consume(app, "public", &request("d1", "l2", true, None)).await.expect("check");
    assert!(matches!(checked, ConsumeOutcome::Ok { user: None, .. }), "{checked:?}");
    // Consuming signs up, removes the email's devices, and verifies the email.
    let ok = s.pl_consume(app, "public", &request("d1", "l2", true, Some("pl-user-1"))).await.expect("consume");
    let ConsumeOutcome::Ok { device: d, user } = ok else { panic!("{ok:?}") };
    assert_eq!((d.failed_attempts, user), (2, Some(("pl-user-1".to_string(), true))));
    assert!(s.pl_device(app, "public", "d1").await.expect("read").is_none());
    assert!(base.ev_is_verified(app, "pl-user-1", "a@x.com").await.expect("verified"));
    let u = base.get_user(app, "pl-user-1").await.expect("get").expect("user");
    let m = &u.login_methods[0];
    assert_eq!((m.recipe_id, m.email.as_deref(), m.time_joined, m.tenant_ids.clone()), (crate::users::RecipeId::Passwordless, Some("a@x.com"), 1_000, vec!["public".to_string()]));
    // A second device for the email signs in the same user.
    s.pl_create_device_with_code(app, "public", &device("d2", Some("a@x.com"), None), &code("c5", "d2", "l5", 990)).await.expect("create");
    let again = s.pl_consume(app, "public", &request("d2", "l5", false, Some("pl-user-2"))).await.expect("consume");
    assert!(matches!(again, ConsumeOutcome::Ok { user: Some((ref id, false)), .. } if id == "pl-user-1"), "{again:?}");
    // Reaching the maximum removes the device.
    s.pl_create_device_with_code(app, "public", &device("d3", None, Some("+1555")), &code("c6", "d3", "l6", 990)).await.expect("create");
    for n in 1..=2 {
        let r = s.pl_consume(app, "public", &request("d3", "x", true, None)).await.expect("consume");
        assert_eq!(r, ConsumeOutcome::IncorrectUserInputCode { failed_attempts: n });
    }
    assert_eq!(s.pl_consume(app, "public", &request("d3", "x", true, None)).await.expect("consume"), ConsumeOutcome::RestartFlow);
    assert!(s.pl_device(app, "public", "d3").await.expect("read").is_none());

    // Removing codes: one of two keeps the device, the last removes it; by contact.
    s.pl_create_device_with_code(app, "public", &device("d4", None, Some("+1555")), &code("c7", "d4", "l7", 990)).await.expect("create");
    s.pl_create_code(app, "public", &code("c8", "d4", "l8", 995)).await.expect("code");
    s.pl_delete_code(app, "public", "c7").await.expect("delete code");
    assert_eq!(s.pl_device(app, "public", "d4").await.expect("read").expect("device").codes.len(), 1);
    s.pl_delete_code(app, "public", "c8").await.expect("delete code");
    assert!(s.pl_device(app, "public", "d4").await.expect("read").is_none());
    s.pl_create_device_with_code(app, "public", &device("d5", None, Some("+1555")), &code("c10", "d5", "l10", 990)).await.expect("create");
    s.pl_delete_devices_by_contact(app, "public", Contact::Phone("+1555")).await.expect("delete by phone");
    assert!(s.pl_device(app, "public", "d5").await.expect("read").is_none());

    // Updates: conflicts, removal of both refused, devices of the old and new values removed.
    s.pl_create_device_with_code(app, "public", &device("d6", None, Some("+1666")), &code("c11", "d6", "l11", 990)).await.expect("create");
    let r = s.pl_consume(app, "public", &request("d6", "l11", false, Some("pl-user-3"))).await.expect("consume");
    assert!(matches!(r, ConsumeOutcome::Ok { user: Some((_, true)), .. }));
    assert_eq!(s.pl_update_user(app, "pl-user-3", Some(Some("a@x.com")), None).await.expect("update"), UpdateUserOutcome::EmailAlreadyExists);
    assert_eq!(s.pl_update_user(app, "pl-user-1", None, Some(Some("+1666"))).await.expect("update"), UpdateUserOutcome::PhoneNumberAlreadyExists);
    assert_eq!(s.pl_update_user(app, "pl-user-3", None, Some(None)).await.expect("update"), UpdateUserOutcome::NoContactLeft);
    assert_eq!(s.pl_update_user(app, "nobody", Some(Some("z@x.com")), None).await.expect("update"), UpdateUserOutcome::UnknownUser);
    s.pl_create_device_with_code(app, "public", &device("d7", Some("n@x.com"), None), &code("c12", "d7", "l12", 990)).await.expect("create");
    assert_eq!(s.pl_update_user(app, "pl-user-3", Some(Some("n@x.com")), Some(None)).await.expect("update"), UpdateUserOutcome::Updated);
    assert!(s.pl_device(app, "public", "d7").await.expect("read").is_none());
    let m = base.get_user(app, "pl-user-3").await.expect("get").expect("user").login_methods[0].clone();
    assert_eq!((m.email.as_deref(), m.phone_number), (Some("n@x.com"), None));

    // Cleanup: a device whose codes all expired goes; one with a fresh code stays.
    s.pl_create_device_with_code(app, "t1", &device("d8", Some("e@x.com"), None), &code("c13", "d8", "l13", 100)).await.expect("create");
    s.pl_create_device_with_code(app, "t1", &device("d9", Some("f@x.com"), None), &code("c14", "d9", "l14", 100)).await.expect("create");
    s.pl_create_code(app, "t1", &code("c15", "d9", "l15", 600)).await.expect("code");
    assert_eq!(s.pl_delete_expired_devices(app, "t1", 500).await.expect("cleanup"), 1);
    assert!(s.pl_device(app, "t1", "d8").await.expect("read").is_none());
    assert_eq!(s.pl_device(app, "t1", "d9").await.expect("read").expect("device").codes.len(), 2);
    assert!(base.delete_app_rows(app).await.expect("delete app"));
}

/// TOTP: device names (default, replacement of unverified ones, taken verified ones), rename,
/// list order, verification with used codes per tenant (replay, rate limit), bulk status, removal
/// of the last device taking the user's used codes with it, and the expired-code cleanup.
pub async fn run_totp(base: &dyn Storage, s: &dyn super::totp::TotpStorage) {
    use super::totp::{CreateDeviceOutcome, Limits, NewDevice, RenameOutcome, Verdict, VerifyOutcome, VerifyRequest};
    use crate::totp::{base32_encode, totp_at};

    let app = "totp-app";
    base.add_tenant_rows(app, "public", 1).await.expect("app rows");
    base.add_tenant_rows(app, "t1", 1).await.expect("tenant rows");
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
    assert_eq!(s.totp_create_device(app, &device("u", None, false, 10)).await.expect("create"), created("TOTP Device 0"));
    assert_eq!(s.totp_create_device(app, &device("u", None, false, 11)).await.expect("create"), created("TOTP Device 0"));
    assert_eq!(s.totp_create_device(app, &device("u", Some("b"), true, 12)).await.expect("create"), created("b"));
    assert_eq!(s.totp_create_device(app, &device("u", Some("b"), false, 13)).await.expect("create"), CreateDeviceOutcome::AlreadyExists);
    assert_eq!(s.totp_create_device(app, &device("u", None, false, 14)).await.expect("create"), created("TOTP Device 1"));
    let names = |devices: Vec<crate::totp::Device>| devices.into_iter().map(|d| (d.name, d.verified)).collect::<Vec<_>>();
    let listed = names(s.totp_devices(app, "u").await.expect("list"));
    assert_eq!(listed, vec![("TOTP Device 0".into(), false), ("b".into(), true), ("TOTP Device 1".into(), false)]);
    assert_eq!(s.totp_rename_device(app, "u", "nope", "x").await.expect("rename"), RenameOutcome::UnknownDevice);
    assert_eq!(s.totp_rename_device(app, "u", "TOTP Device 1", "b").await.expect("rename"), RenameOutcome::AlreadyExists);
    assert_eq!(s.totp_rename_device(app, "u", "TOTP Device 1", "c").await.expect("rename"), RenameOutcome::Renamed);

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
    assert_eq!(s.totp_verify(app, "public", &request(Some("zz"), &good, now)).await.expect("verify"), VerifyOutcome::UnknownDevice);
    assert_eq!(s.totp_verify(app, "public", &request(Some("b"), "x", now)).await.expect("verify"), VerifyOutcome::AlreadyVerified);
    assert_eq!(s.totp_verify(app, "public", &request(Some("c"), &good, now)).await.expect("verify"), checked(Verdict::Ok));
    assert_eq!(names(s.totp_devices(app, "u").await.expect("list"))[2], ("c".into(), true));
    assert_eq!(s.totp_verify(app, "public", &request(None, &good, now)).await.expect("verify"), invalid(1), "replay");
    assert_eq!(s.totp_verify(app, "t1", &request(None, &good, now)).await.expect("verify"), checked(Verdict::Ok), "other tenant");
    assert_eq!(s.totp_verify(app, "public", &request(None, "000000", now)).await.expect("verify"), invalid(2));
    let limited = s.totp_verify(app, "public", &request(None, &good, now + 10)).await.expect("verify");
    assert_eq!(limited, checked(Verdict::LimitReached { retry_after_ms: 992, failed_attempts: 2, max_attempts: 2 }));
    assert_eq!(s.totp_verify(app, "public", &request(None, "000000", now + 2000)).await.expect("verify"), invalid(1));
    let nobody = VerifyRequest { user_id: "nobody".into(), ..request(None, &good, now) };
    assert_eq!(s.totp_verify(app, "public", &nobody).await.expect("verify"), VerifyOutcome::UnknownUser);

    // Bulk status: users without devices are absent.
    s.totp_create_device(app, &device("w", None, false, 20)).await.expect("create");
    let status = s.totp_device_status(app, &["u".into(), "w".into(), "nobody".into()]).await.expect("status");
    assert_eq!((status.get("u"), status.get("w"), status.get("nobody")), (Some(&true), Some(&false), None));

    // Cleanup: codes that expired before the cutoff, per tenant (expiry = now + 90 s).
    assert_eq!(s.totp_delete_expired_codes(app, "t1", now + 90_000).await.expect("cleanup"), 0);
    assert_eq!(s.totp_delete_expired_codes(app, "t1", now + 90_001).await.expect("cleanup"), 1);

    // Removing the last device removes the user and its used codes.
    for name in ["TOTP Device 0", "b"] {
        assert!(s.totp_remove_device(app, "u", name).await.expect("remove"));
    }
    assert!(!s.totp_remove_device(app, "u", "b").await.expect("remove"));
    assert!(s.totp_remove_device(app, "u", "c").await.expect("remove"));
    assert!(s.totp_devices(app, "u").await.expect("list").is_empty());
    assert_eq!(s.totp_verify(app, "public", &request(None, &good, now)).await.expect("verify"), VerifyOutcome::UnknownUser);
    s.totp_create_device(app, &device("u", Some("again"), true, 30)).await.expect("create");
    assert_eq!(s.totp_verify(app, "public", &request(None, &good, now)).await.expect("verify"), checked(Verdict::Ok), "no used codes left");
    assert!(base.delete_app_rows(app).await.expect("delete app"));
}

/// SAML: clients (create, full-replace update keeping `created_at`, the duplicate IdP entity id per
/// tenant, lookups, list order, removal), relay states (expiry, tenant scope, a null `state`,
/// consumed once together with the claims), codes (consumed once, expiry), the cron, the SP key's
/// first-writer-wins and replacement, and the cascade with the tenant.
pub async fn run_saml(base: &dyn Storage, s: &dyn super::saml::SamlStorage) {
    let app = "saml-app";
    for tenant in ["public", "t1", "t2"] {
        base.add_tenant_rows(app, tenant, 1).await.expect("tenant rows");
    }
    saml_checks(s, app).await;
    assert!(base.delete_tenant_rows(app, "t1").await.expect("delete tenant"));
    assert!(s.saml_clients(app, "t1").await.expect("list").is_empty(), "clients go with their tenant");
    assert!(base.delete_app_rows(app).await.expect("delete app"));
}

/// [`run_saml`] without the tenant rows (which the caller makes: `public`, `t1`, `t2` of `app`).
pub async fn saml_checks(s: &dyn super::saml::SamlStorage, app: &str) {
    use super::saml::{CodeClaims, ConsumedCode, RelayState, SamlClient, StoredSpKey, UpsertClientOutcome};

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
    assert_eq!(s.saml_upsert_client(app, "t1", &a).await.expect("create"), saved(&a));
    assert_eq!(s.saml_client(app, "t1", "a").await.expect("get"), Some(a.clone()));
    assert_eq!(s.saml_client(app, "t2", "a").await.expect("get"), None, "tenant scope");
    assert_eq!(s.saml_client_by_idp_entity_id(app, "t1", "https://idp-a").await.expect("by entity"), Some(a.clone()));
    assert_eq!(s.saml_client_by_idp_entity_id(app, "t1", "https://nope").await.expect("by entity"), None);
    let b = client("b", "https://idp-a", 20);
    let duplicate = s.saml_upsert_client(app, "t1", &b).await.expect("dup");
    assert_eq!((&duplicate, duplicate.status()), (&UpsertClientOutcome::DuplicateIdpEntity, "DUPLICATE_IDP_ENTITY_ERROR"));
    assert_eq!(s.saml_client(app, "t1", "b").await.expect("get"), None, "nothing written");
    assert_eq!(s.saml_upsert_client(app, "t2", &b).await.expect("other tenant"), saved(&b), "entity ids are unique per tenant");
    let b1 = client("b", "https://idp-b", 5);
    assert_eq!(s.saml_upsert_client(app, "t1", &b1).await.expect("create"), saved(&b1));
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
    assert_eq!(s.saml_upsert_client(app, "t1", &a2).await.expect("update"), saved(&stored));
    assert_eq!(s.saml_client(app, "t1", "a").await.expect("get"), Some(stored.clone()));
    let a3 = SamlClient { idp_entity_id: "https://idp-b".into(), ..a2.clone() };
    assert_eq!(s.saml_upsert_client(app, "t1", &a3).await.expect("update"), UpsertClientOutcome::DuplicateIdpEntity);
    assert_eq!(s.saml_client(app, "t1", "a").await.expect("get"), Some(stored.clone()), "unchanged");
    let listed: Vec<_> = s.saml_clients(app, "t1").await.expect("list").into_iter().map(|c| c.client_id).collect();
    assert_eq!(listed, ["b", "a"], "oldest first");
    assert!(s.saml_remove_client(app, "t2", "b").await.expect("remove"));
    assert!(!s.saml_remove_client(app, "t2", "b").await.expect("remove"));
    assert_eq!(s.saml_client(app, "t1", "b").await.expect("get"), Some(b1), "only that tenant's");

    // Relay states: read while not expired, in their tenant only.
    let now = 1_000_000;
    let rs = RelayState::new("rs-1".into(), "a".into(), None, "http://other/cb".into(), now, 300_000);
    s.saml_save_relay_state(app, "t1", &rs).await.expect("save");
    assert_eq!(s.saml_relay_state(app, "t1", "rs-1", now + 300_000).await.expect("get"), Some(rs.clone()));
    assert_eq!(s.saml_relay_state(app, "t1", "rs-1", now + 300_001).await.expect("get"), None, "expired");
    assert_eq!(s.saml_relay_state(app, "t2", "rs-1", now).await.expect("get"), None, "tenant scope");
    let with_state = RelayState::new("rs-2".into(), "a".into(), Some("st".into()), "http://other/cb".into(), now, 300_000);
    s.saml_save_relay_state(app, "t1", &with_state).await.expect("save");
    assert_eq!(s.saml_relay_state(app, "t1", "rs-2", now).await.expect("get"), Some(with_state));

    // A relay state is consumed once, with its claims; an expired one stores nothing.
    let claims = |code: &str| CodeClaims {
        client_id: "a".into(),
        code: code.into(),
        claims: r#"{"NameID":["u@x.com"]}"#.into(),
        created_at: now,
        expires_at: now + 300_000,
    };
    assert!(s.saml_consume_relay_state_and_save_claims(app, "t1", "rs-1", now, &claims("k1")).await.expect("consume"));
    assert!(!s.saml_consume_relay_state_and_save_claims(app, "t1", "rs-1", now, &claims("k2")).await.expect("consume"), "used");
    assert_eq!(s.saml_relay_state(app, "t1", "rs-1", now).await.expect("get"), None);
    assert!(!s.saml_consume_relay_state_and_save_claims(app, "t1", "rs-2", now + 300_001, &claims("k3")).await.expect("consume"), "expired");
    assert!(!s.saml_consume_relay_state_and_save_claims(app, "t2", "rs-2", now, &claims("k4")).await.expect("consume"), "tenant scope");
    let consumed = ConsumedCode { client_id: "a".into(), claims: r#"{"NameID":["u@x.com"]}"#.into() };
    for unstored in ["k2", "k3", "k4"] {
        assert_eq!(s.saml_consume_code(app, "t1", unstored, now).await.expect("code"), None, "{unstored} not stored");
    }
    assert_eq!(s.saml_consume_code(app, "t2", "k1", now).await.expect("code"), None, "tenant scope");
    assert_eq!(s.saml_consume_code(app, "t1", "k1", now).await.expect("code"), Some(consumed.clone()));
    assert_eq!(s.saml_consume_code(app, "t1", "k1", now).await.expect("code"), None, "a code is used once");
    s.saml_save_claims(app, "t1", &claims("k5")).await.expect("save claims");
    assert_eq!(s.saml_consume_code(app, "t1", "k5", now + 300_001).await.expect("code"), None, "expired");

    // The cron: every tenant's expired rows (expires_at <= now).
    s.saml_save_claims(app, "t2", &claims("k6")).await.expect("save claims");
    assert_eq!(s.saml_delete_expired(now + 299_999).await.expect("cleanup"), (0, 0));
    let (relay_states, codes) = s.saml_delete_expired(now + 300_000).await.expect("cleanup");
    assert_eq!((relay_states, codes), (1, 2), "rs-2; k5 and k6");
    assert_eq!(s.saml_delete_expired(now + 300_000).await.expect("cleanup"), (0, 0));

    // The SP key: the first stored wins; an expired one is replaced only once.
    let key = |n: u8| StoredSpKey { key_pair: format!("private-{n}\npublic-{n}"), certificate: format!("cert-{n}") };
    assert_eq!(s.saml_sp_key(app).await.expect("key"), None);
    assert_eq!(s.saml_store_sp_key(app, &key(1), None, now).await.expect("store"), key(1));
    assert_eq!(s.saml_store_sp_key(app, &key(2), None, now).await.expect("store"), key(1), "another instance's key stays");
    assert_eq!(s.saml_store_sp_key(app, &key(3), Some("cert-0"), now).await.expect("store"), key(1), "not the key being replaced");
    assert_eq!(s.saml_store_sp_key(app, &key(4), Some("cert-1"), now).await.expect("store"), key(4));
    assert_eq!(s.saml_sp_key(app).await.expect("key"), Some(key(4)));
}

#[cfg(test)]
mod saml_reference {
    //! An in-memory model of the SAML storage contract: it shows `saml_checks` is consistent (the
    //! adapters run the suite against real databases).

    use std::sync::Mutex;

    use async_trait::async_trait;

    use crate::storage::saml::{CodeClaims, ConsumedCode, RelayState, SamlClient, SamlStorage, StoredSpKey, UpsertClientOutcome};
    use crate::storage::StorageError;

    #[derive(Default)]
    struct Model {
        clients: Vec<(String, SamlClient)>,
        relay_states: Vec<(String, RelayState)>,
        claims: Vec<(String, CodeClaims)>,
        sp_keys: Vec<(String, StoredSpKey)>,
    }

    #[derive(Default)]
    struct InMemory(Mutex<Model>);

    fn key(app: &str, tenant: &str) -> String {
        format!("{app}/{tenant}")
    }

    #[async_trait]
    impl SamlStorage for InMemory {
        async fn saml_upsert_client(&self, app: &str, tenant: &str, c: &SamlClient) -> Result<UpsertClientOutcome, StorageError> {
            let mut m = self.0.lock().unwrap();
            let k = key(app, tenant);
            if m.clients.iter().any(|(t, o)| *t == k && o.idp_entity_id == c.idp_entity_id && o.client_id != c.client_id) {
                return Ok(UpsertClientOutcome::DuplicateIdpEntity);
            }
            let mut stored = c.clone();
            if let Some((_, old)) = m.clients.iter_mut().find(|(t, o)| *t == k && o.client_id == c.client_id) {
                stored.created_at = old.created_at;
                *old = stored.clone();
            } else {
                m.clients.push((k, stored.clone()));
            }
            Ok(UpsertClientOutcome::Saved(stored))
        }
        async fn saml_client(&self, app: &str, tenant: &str, id: &str) -> Result<Option<SamlClient>, StorageError> {
            let m = self.0.lock().unwrap();
            Ok(m.clients.iter().find(|(t, c)| *t == key(app, tenant) && c.client_id == id).map(|(_, c)| c.clone()))
        }
        async fn saml_client_by_idp_entity_id(&self, app: &str, tenant: &str, e: &str) -> Result<Option<SamlClient>, StorageError> {
            let m = self.0.lock().unwrap();
            Ok(m.clients.iter().find(|(t, c)| *t == key(app, tenant) && c.idp_entity_id == e).map(|(_, c)| c.clone()))
        }
        async fn saml_clients(&self, app: &str, tenant: &str) -> Result<Vec<SamlClient>, StorageError> {
            let m = self.0.lock().unwrap();
            let mut list: Vec<_> = m.clients.iter().filter(|(t, _)| *t == key(app, tenant)).map(|(_, c)| c.clone()).collect();
            list.sort_by_key(|c| c.created_at);
            Ok(list)
        }
        async fn saml_remove_client(&self, app: &str, tenant: &str, id: &str) -> Result<bool, StorageError> {
            let mut m = self.0.lock().unwrap();
            let before = m.clients.len();
            m.clients.retain(|(t, c)| !(*t == key(app, tenant) && c.client_id == id));
            Ok(m.clients.len() < before)
        }
        async fn saml_save_relay_state(&self, app: &str, tenant: &str, row: &RelayState) -> Result<(), StorageError> {
            self.0.lock().unwrap().relay_states.push((key(app, tenant), row.clone()));
            Ok(())
        }
        async fn saml_relay_state(&self, app: &str, tenant: &str, rs: &str, now: i64) -> Result<Option<RelayState>, StorageError> {
            let m = self.0.lock().unwrap();
            Ok(m.relay_states
                .iter()
                .find(|(t, r)| *t == key(app, tenant) && r.relay_state == rs && r.expires_at >= now)
                .map(|(_, r)| r.clone()))
        }
        async fn saml_consume_relay_state_and_save_claims(
            &self,
            app: &str,
            tenant: &str,
            rs: &str,
            now: i64,
            claims: &CodeClaims,
        ) -> Result<bool, StorageError> {
            let mut m = self.0.lock().unwrap();
            let k = key(app, tenant);
            let Some(i) = m.relay_states.iter().position(|(t, r)| *t == k && r.relay_state == rs && r.expires_at >= now) else {
                return Ok(false);
            };
            m.relay_states.remove(i);
            m.claims.push((k, claims.clone()));
            Ok(true)
        }
        async fn saml_save_claims(&self, app: &str, tenant: &str, claims: &CodeClaims) -> Result<(), StorageError> {
            self.0.lock().unwrap().claims.push((key(app, tenant), claims.clone()));
            Ok(())
        }
        async fn saml_consume_code(&self, app: &str, tenant: &str, code: &str, now: i64) -> Result<Option<ConsumedCode>, StorageError> {
            let mut m = self.0.lock().unwrap();
            let k = key(app, tenant);
            let Some(i) = m.claims.iter().position(|(t, c)| *t == k && c.code == code && c.expires_at >= now) else { return Ok(None) };
            let (_, c) = m.claims.remove(i);
            Ok(Some(ConsumedCode { client_id: c.client_id, claims: c.claims }))
        }
        async fn saml_delete_expired(&self, now: i64) -> Result<(u64, u64), StorageError> {
            let mut m = self.0.lock().unwrap();
            let (r, c) = (m.relay_states.len(), m.claims.len());
            m.relay_states.retain(|(_, x)| x.expires_at > now);
            m.claims.retain(|(_, x)| x.expires_at > now);
            Ok(((r - m.relay_states.len()) as u64, (c - m.claims.len()) as u64))
        }
        async fn saml_sp_key(&self, app: &str) -> Result<Option<StoredSpKey>, StorageError> {
            Ok(self.0.lock().unwrap().sp_keys.iter().find(|(a, _)| a == app).map(|(_, k)| k.clone()))
        }
        async fn saml_store_sp_key(&self, app: &str, new: &StoredSpKey, replacing: Option<&str>, _now: i64) -> Result<StoredSpKey, StorageError> {
            let mut m = self.0.lock().unwrap();
            match m.sp_keys.iter_mut().find(|(a, _)| a == app) {
                None => m.sp_keys.push((app.to_owned(), new.clone())),
                Some((_, current)) if Some(current.certificate.as_str()) == replacing => *current = new.clone(),
                Some((_, current)) => return Ok(current.clone()),
            }
            Ok(new.clone())
        }
    }

    #[tokio::test]
    async fn the_saml_suite_holds_for_the_reference_model() {
        super::saml_checks(&InMemory::default(), "saml-app").await;
    }
}
