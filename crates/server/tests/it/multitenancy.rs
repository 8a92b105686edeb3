//! Tenant management (seed 002 and the CDI's multitenancy APIs) through the real HTTP server.

use crate::common::{backends, TestApp};
use serde_json::{json, Value};

const ALL: [&str; 6] = ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-phone", "link-email"];

async fn put_tenant(app: &TestApp, prefix: &str, body: Value) -> Value {
    app.json("PUT", &format!("{prefix}/recipe/multitenancy/tenant/v2"), Some(body)).await
}

async fn get_tenant(app: &TestApp, path_prefix: &str) -> Value {
    app.json("GET", &format!("{path_prefix}/recipe/multitenancy/tenant/v2"), None).await
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

#[tokio::test]
async fn create_update_get_list_remove_tenant() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let r = put_tenant(&app, "", json!({"tenantId": "customer1", "firstFactors": ALL})).await;
        assert_eq!(r, json!({"status": "OK", "createdNew": true}));
        let r = put_tenant(&app, "", json!({"tenantId": "customer1", "firstFactors": ALL})).await;
        assert_eq!(r, json!({"status": "OK", "createdNew": false}));
        let t = get_tenant(&app, "/customer1").await;
        assert_eq!(t["status"], "OK");
        assert_eq!(t["tenantId"], "customer1");
        let mut all: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
        all.sort();
        assert_eq!(sorted(&t["firstFactors"]), all);
        assert_eq!(t["thirdParty"], json!({"providers": []}));
        assert_eq!(t["coreConfig"], json!({}));

        let cc = json!({"email_verification_token_lifetime": 7200000, "password_reset_token_lifetime": 3600000});
        put_tenant(&app, "", json!({"tenantId": "customer1", "coreConfig": cc})).await;
        let t = get_tenant(&app, "/customer1").await;
        assert_eq!(t["coreConfig"], cc, "coreConfig is returned exactly as set");
        assert_eq!(sorted(&t["firstFactors"]), all, "an update without firstFactors keeps them");
        // null removes one key, others stay.
        put_tenant(&app, "", json!({"tenantId": "customer1", "coreConfig": {"password_reset_token_lifetime": null}})).await;
        let t = get_tenant(&app, "/customer1").await;
        assert_eq!(t["coreConfig"], json!({"email_verification_token_lifetime": 7200000}));

        let list = app.json("GET", "/recipe/multitenancy/tenant/list/v2", None).await;
        let ids: Vec<&str> = list["tenants"].as_array().unwrap().iter().map(|t| t["tenantId"].as_str().unwrap()).collect();
        assert!(ids.contains(&"public") && ids.contains(&"customer1"), "{list}");

        let r = app.json("POST", "/recipe/multitenancy/tenant/remove", Some(json!({"tenantId": "customer1"}))).await;
        assert_eq!(r, json!({"status": "OK", "didExist": true}));
        let r = app.json("POST", "/recipe/multitenancy/tenant/remove", Some(json!({"tenantId": "customer1"}))).await;
        assert_eq!(r, json!({"status": "OK", "didExist": false}));
        assert_eq!(get_tenant(&app, "/customer1").await, json!({"status": "TENANT_NOT_FOUND_ERROR"}));
    }
}

#[tokio::test]
async fn first_factor_semantics() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        // A new non-public tenant has no login method until told otherwise.
        put_tenant(&app, "", json!({"tenantId": "t1"})).await;
        assert_eq!(get_tenant(&app, "/t1").await["firstFactors"], json!([]));
        put_tenant(&app, "", json!({"tenantId": "t1", "firstFactors": null})).await;
        assert!(get_tenant(&app, "/t1").await.get("firstFactors").is_none(), "null = every login method");
        put_tenant(&app, "", json!({"tenantId": "t1", "firstFactors": ["emailpassword"]})).await;
        assert_eq!(get_tenant(&app, "/t1").await["firstFactors"], json!(["emailpassword"]));
        put_tenant(&app, "", json!({"tenantId": "t1", "firstFactors": []})).await;
        assert_eq!(get_tenant(&app, "/t1").await["firstFactors"], json!([]));
        put_tenant(&app, "", json!({"tenantId": "t1", "requiredSecondaryFactors": ["otp-email", "totp"]})).await;
        let t = get_tenant(&app, "/t1").await;
        assert_eq!(t["requiredSecondaryFactors"], json!(["otp-email", "totp"]));
        assert_eq!(t["firstFactors"], json!([]), "changing required factors keeps first factors");
        put_tenant(&app, "", json!({"tenantId": "t1", "requiredSecondaryFactors": null})).await;
        assert!(get_tenant(&app, "/t1").await.get("requiredSecondaryFactors").is_none());
        // The public tenant allows everything by default.
        assert!(get_tenant(&app, "").await.get("firstFactors").is_none());
        // Duplicates and legacy switches are refused.
        let (s, t) = app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "firstFactors": ["a", "a"]}))).await;
        assert_eq!((s, t.as_str()), (400, "firstFactors input should not contain duplicate values\n"));
        let (s, _) = app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "emailPasswordEnabled": true}))).await;
        assert_eq!(s, 400);
    }
}

#[tokio::test]
async fn invalid_ids_and_core_config_are_refused() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        for bad in ["Bad_Id!", "appid-x", "recipe", ""] {
            let (s, t) = app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": bad}))).await;
            assert_eq!(s, 400, "tenant id {bad:?} answered {s} {t}");
        }
        for (cc, expect) in [
            (json!({"nope": 1}), "Invalid core config: nope is not a valid core config"),
            (json!({"port": 1}), "Invalid core config: port can only be set via the core's base config setting"),
            (json!({"access_token_validity": "abc"}), "Invalid core config: invalid value for 'access_token_validity'"),
            (json!({"access_token_validity": 0}), "Invalid core config: 'access_token_validity' must be between"),
        ] {
            let (s, t) = app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "coreConfig": cc}))).await;
            assert_eq!(s, 400, "{t}");
            assert!(t.starts_with(expect), "{t}");
        }
        // App-wide keys must agree across an app's tenants.
        let (s, t) = app
            .call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t2", "coreConfig": {"access_token_validity": 10}})))
            .await;
        assert_eq!(s, 400);
        assert!(t.contains("You cannot set different values for access_token_validity for the same appId"), "{t}");
        // Nothing half-written: the refused tenants do not exist.
        assert_eq!(get_tenant(&app, "/t1").await["status"], "TENANT_NOT_FOUND_ERROR");
        assert_eq!(get_tenant(&app, "/t2").await["status"], "TENANT_NOT_FOUND_ERROR");
        // The base config cannot be changed through the API.
        let (s, t) = app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "public", "coreConfig": {"access_token_validity": 10}}))).await;
        assert_eq!((s, t.as_str()), (400, "Cannot modify base config\n"));
        let (s, t) = app.call("POST", "/recipe/multitenancy/tenant/remove", Some(json!({"tenantId": "public"}))).await;
        assert_eq!((s, t.as_str()), (403, "Cannot delete public tenant, use remove app API instead\n"));
        let (s, _) = app.call("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t3", "requiredSecondaryFactors": []}))).await;
        assert_eq!(s, 400, "an empty required-factor list is refused");
    }
}

#[tokio::test]
async fn apps_are_cheap_isolated_and_removable() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        // As the SDK suites do: numbers as strings, the first call without cdi-version.
        let r = app
            .json("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a1", "coreConfig": {"access_token_validity": "2", "refresh_token_validity": "720"}})))
            .await;
        assert_eq!(r, json!({"status": "OK", "createdNew": true}));
        let v: Value = app.client.get(format!("{}/appid-a1/apiversion?apiDomain=x&websiteDomain=y", app.url)).send().await.unwrap().json().await.unwrap();
        assert!(v["versions"].as_array().unwrap().contains(&json!("5.4")));
        let t = get_tenant(&app, "/appid-a1/public").await;
        assert_eq!(t["coreConfig"], json!({"access_token_validity": "2", "refresh_token_validity": "720"}));
        // A tenant in the app inherits the app's values; a different app-wide value is refused.
        put_tenant(&app, "/appid-a1", json!({"tenantId": "t1"})).await;
        let (s, _) = app.call("PUT", "/appid-a1/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1", "coreConfig": {"access_token_validity": 3}}))).await;
        assert_eq!(s, 400);
        // Tenants of different apps are separate.
        put_tenant(&app, "", json!({"tenantId": "t1", "firstFactors": ["thirdparty"]})).await;
        assert_eq!(get_tenant(&app, "/appid-a1/t1").await["firstFactors"], json!([]));
        assert_eq!(get_tenant(&app, "/t1").await["firstFactors"], json!(["thirdparty"]));
        // App-level APIs need the public tenant and the public app.
        let (s, _) = app.call("GET", "/appid-a1/t1/recipe/multitenancy/tenant/list/v2", None).await;
        assert_eq!(s, 403);
        let (s, _) = app.call("PUT", "/appid-a1/recipe/multitenancy/app/v2", Some(json!({"appId": "a2"}))).await;
        assert_eq!(s, 403);
        let apps = app.json("GET", "/recipe/multitenancy/app/list/v2", None).await;
        let a1 = apps["apps"].as_array().unwrap().iter().find(|a| a["appId"] == "a1").unwrap();
        assert_eq!(a1["tenants"].as_array().unwrap().len(), 2);
        // Removing the app removes its tenants.
        let r = app.json("POST", "/recipe/multitenancy/app/remove", Some(json!({"appId": "a1"}))).await;
        assert_eq!(r, json!({"status": "OK", "didExist": true}));
        let (s, _) = app.call("GET", "/appid-a1/t1/recipe/multitenancy/tenant/v2", None).await;
        assert_eq!(s, 400);
        let r = app.json("POST", "/recipe/multitenancy/app/remove", Some(json!({"appId": "a1"}))).await;
        assert_eq!(r["didExist"], false);
        let (s, _) = app.call("POST", "/recipe/multitenancy/app/remove", Some(json!({"appId": "public"}))).await;
        assert_eq!(s, 403);
        // Many apps are quick to create.
        let start = std::time::Instant::now();
        for i in 0..50 {
            app.json("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": format!("bulk-{i}"), "coreConfig": {}}))).await;
        }
        assert!(start.elapsed().as_secs() < 20, "50 apps took {:?}", start.elapsed());
    }
}

#[tokio::test]
async fn connection_uri_domains() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let r = app.json("PUT", "/recipe/multitenancy/connectionuridomain/v2", Some(json!({"connectionUriDomain": "Example.COM"}))).await;
        assert_eq!(r["createdNew"], true);
        // The Host header picks the domain.
        let r = app.client.get(format!("{}/recipe/multitenancy/tenant/list/v2", app.url)).header("host", "example.com").send().await.unwrap();
        assert_eq!(r.status(), 200);
        let list = app.json("GET", "/recipe/multitenancy/connectionuridomain/list/v2", None).await;
        let cuds: Vec<&str> = list["connectionUriDomains"].as_array().unwrap().iter().map(|c| c["connectionUriDomain"].as_str().unwrap()).collect();
        assert_eq!(cuds, vec!["", "example.com"]);
        let user = app.json("POST", "/recipe/signup", Some(json!({"email": "cud@example.com", "password": "pw-123456"}))).await;
        let user_id = user["user"]["id"].as_str().unwrap().to_owned();
        let r = app.json("POST", "/recipe/multitenancy/connectionuridomain/remove", Some(json!({"connectionUriDomain": "example.com"}))).await;
        assert_eq!(r["didExist"], true);
        // The default domain's public app shares its ids (and database) with the removed domain's:
        // its rows and data stay.
        let r = app.json("GET", &format!("/user/id?userId={user_id}"), None).await;
        assert_eq!(r["status"], "OK", "the default domain's user must survive: {r}");
        let r = app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "after-cud"}))).await;
        assert_eq!(r["createdNew"], true);
        let (s, _) = app.call("POST", "/recipe/multitenancy/connectionuridomain/remove", Some(json!({"connectionUriDomain": ""}))).await;
        assert_eq!(s, 400, "an empty domain is not a host name");
    }
}

fn oauth_provider() -> Value {
    json!({
        "thirdPartyId": "custom",
        "name": "Custom Provider",
        "clients": [{"clientId": "cid", "clientSecret": "secret", "scope": ["email", "profile"]}],
        "authorizationEndpoint": "https://example.com/oauth/authorize",
        "authorizationEndpointQueryParams": {"someKey1": "value1", "someKey2": null},
        "tokenEndpoint": "https://example.com/oauth/token",
        "tokenEndpointBodyParams": {"someKey1": "value1"},
        "userInfoEndpoint": "https://example.com/oauth/userinfo",
        "userInfoMap": {"fromUserInfoAPI": {"userId": "id", "email": "email", "emailVerified": "email_verified"}}
    })
}

#[tokio::test]
async fn third_party_provider_configs() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        put_tenant(&app, "", json!({"tenantId": "customer1", "firstFactors": ["thirdparty"]})).await;
        let path = "/customer1/recipe/multitenancy/config/thirdparty";
        let r = app.json("PUT", path, Some(json!({"config": oauth_provider()}))).await;
        assert_eq!(r, json!({"status": "OK", "createdNew": true}));
        let r = app.json("PUT", path, Some(json!({"config": oauth_provider()}))).await;
        assert_eq!(r, json!({"status": "OK", "createdNew": false}));
        let oidc = json!({
            "thirdPartyId": "oidc",
            "clients": [
                {"clientType": "web", "clientId": "w", "forcePKCE": true, "additionalConfig": {"teamId": "x"}},
                {"clientType": "mobile", "clientId": "m"}
            ],
            "oidcDiscoveryEndpoint": "https://example.com/.well-known/openid-configuration",
            "jwksURI": "https://example.com/jwks",
            "userInfoEndpointHeaders": {"h": null},
            "requireEmail": false,
            "userInfoMap": {"fromIdTokenPayload": {"userId": "sub"}}
        });
        app.json("PUT", path, Some(json!({"config": oidc.clone(), "skipValidation": true}))).await;
        let t = get_tenant(&app, "/customer1").await;
        let providers = t["thirdParty"]["providers"].as_array().unwrap();
        let custom = providers.iter().find(|p| p["thirdPartyId"] == "custom").unwrap();
        let mut expected = oauth_provider();
        expected["userInfoMap"]["fromIdTokenPayload"] = json!({});
        assert_eq!(custom, &expected);
        let got = providers.iter().find(|p| p["thirdPartyId"] == "oidc").unwrap();
        assert_eq!(got["userInfoEndpointHeaders"], json!({"h": null}));
        assert_eq!(got["requireEmail"], false);
        assert_eq!(got["jwksURI"], "https://example.com/jwks");
        let mut types: Vec<&str> = got["clients"].as_array().unwrap().iter().map(|c| c["clientType"].as_str().unwrap()).collect();
        types.sort();
        assert_eq!(types, vec!["mobile", "web"]);
        let web = got["clients"].as_array().unwrap().iter().find(|c| c["clientType"] == "web").unwrap();
        assert_eq!(web["forcePKCE"], true);
        assert_eq!(web["additionalConfig"], json!({"teamId": "x"}));

        let remove = "/customer1/recipe/multitenancy/config/thirdparty/remove";
        let r = app.json("POST", remove, Some(json!({"thirdPartyId": "custom"}))).await;
        assert_eq!(r, json!({"status": "OK", "didConfigExist": true}));
        let r = app.json("POST", remove, Some(json!({"thirdPartyId": "custom"}))).await;
        assert_eq!(r, json!({"status": "OK", "didConfigExist": false}));
        // Bad configs are 400s, not database errors.
        let (s, _) = app.call("PUT", path, Some(json!({"config": {"thirdPartyId": "x".repeat(40)}}))).await;
        assert_eq!(s, 400);
        let (s, _) = app.call("PUT", path, Some(json!({"config": {"thirdPartyId": "x", "clients": "no"}}))).await;
        assert_eq!(s, 400);
        let apple = json!({"thirdPartyId": "apple", "clients": [{"clientId": "com.example"}]});
        let (s, t) = app.call("PUT", path, Some(json!({"config": apple.clone()}))).await;
        assert_eq!(s, 400, "{t}");
        app.json("PUT", path, Some(json!({"config": apple, "skipValidation": true}))).await;
        let (s, _) = app.call("PUT", "/nope/recipe/multitenancy/config/thirdparty", Some(json!({"config": oauth_provider()}))).await;
        assert_eq!(s, 400);
    }
}

#[tokio::test]
async fn saas_secret_protects_database_settings() {
    for b in backends() {
        let api_key = "api-key-aaaaaaaaaaaaaaaaaaaaaaaa";
        let secret = "saas-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let app = TestApp::spawn_with(crate::common::config(b, &[("API_KEYS", api_key), ("SUPERTOKENS_SAAS_SECRET", secret)])).await;
        let call = |key: &'static str, method: reqwest::Method, path: &'static str, body: Option<Value>| {
            let mut req = app.client.request(method, format!("{}{path}", app.url)).header("api-key", key).header("cdi-version", "5.4");
            if let Some(b) = body {
                req = req.body(b.to_string());
            }
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let with_ip = json!({"tenantId": "t1", "coreConfig": {"ip_allow_regex": ".*", "email_verification_token_lifetime": 1000}});
        let (s, _) = call(api_key, reqwest::Method::PUT, "/recipe/multitenancy/tenant/v2", Some(with_ip.clone())).await;
        assert_eq!(s, 403, "a protected key needs the SaaS secret");
        let (s, _) = call(secret, reqwest::Method::PUT, "/recipe/multitenancy/tenant/v2", Some(with_ip)).await;
        assert_eq!(s, 200);
        let (_, t) = call(api_key, reqwest::Method::GET, "/t1/recipe/multitenancy/tenant/v2", None).await;
        let t: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(t["coreConfig"], json!({"email_verification_token_lifetime": 1000}), "protected keys are hidden");
        let (_, t) = call(secret, reqwest::Method::GET, "/t1/recipe/multitenancy/tenant/v2", None).await;
        let t: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(t["coreConfig"]["ip_allow_regex"], ".*");
    }
}
