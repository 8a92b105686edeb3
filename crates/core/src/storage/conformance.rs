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
    back.first_factors.as_mut().map(|f| f.sort());
    t.first_factors.as_mut().map(|f| f.sort());
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

/// Auth-recipe users: sign-up rows, unique emails per tenant, whole-user reads, listing order and
/// pages, counts, tenant association and deletion.
pub async fn run_users(base: &dyn Storage, s: &dyn super::users::UserStorage) {
    use super::users::{AssociateOutcome, UserFilter};
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

    let public = UserFilter { tenant_id: Some("public".into()), recipe_ids: vec![] };
    let page = s.list_users(app, &public, false, 2, None).await.expect("list");
    assert_eq!(page, vec![("u-c".to_string(), 102), ("u-b".to_string(), 101)]);
    let next = s.list_users(app, &public, false, 2, Some((100, "u-a".into()))).await.expect("list");
    assert_eq!(next, vec![("u-a".to_string(), 100)]);
    let asc = s.list_users(app, &public, true, 10, None).await.expect("list");
    assert_eq!(asc.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), vec!["u-a", "u-b", "u-c"]);
    assert_eq!(s.count_users(app, &public).await.expect("count"), 3);
    assert_eq!(s.count_users(app, &UserFilter::default()).await.expect("count"), 4);
    let tp = UserFilter { tenant_id: None, recipe_ids: vec![RecipeId::ThirdParty] };
    assert_eq!(s.count_users(app, &tp).await.expect("count"), 0);
    assert_eq!(s.user_ids_by_email(app, "public", "u-a@example.com").await.expect("ids"), vec!["u-a".to_string()]);

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
