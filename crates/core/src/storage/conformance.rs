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
}
