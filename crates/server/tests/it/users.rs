//! The users APIs and tenant association through the real HTTP server, on every backend. Users are
//! seeded through the storage (sign-up has its own tests).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crate::common::{backends, TestApp};
use portcullis_core::ids::TenantKey;
use serde_json::{json, Value};

async fn seed(app: &TestApp, tenant: &str, id: &str, email: &str, time: i64) {
    let storage = app.state.registry.base_storage();
    assert!(storage.ep_create_user(TenantKey::new("public", tenant), id, email, "$2a$04$x", time).await.unwrap());
}

fn ids(v: &Value) -> Vec<String> {
    v["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn get_list_count_and_delete_users() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        for i in 0..5 {
            seed(&app, "public", &format!("user-{i}"), &format!("u{i}@example.com"), 1000 + i).await;
        }
        let u = app.json("GET", "/user/id?userId=user-1", None).await;
        assert_eq!(u["status"], "OK");
        let user = &u["user"];
        assert_eq!(user["id"], "user-1");
        assert_eq!(user["emails"], json!(["u1@example.com"]));
        assert_eq!(user["tenantIds"], json!(["public"]));
        assert_eq!(user["isPrimaryUser"], false);
        assert_eq!(user["timeJoined"], 1001);
        assert_eq!(user["loginMethods"][0]["recipeId"], "emailpassword");
        assert_eq!(user["loginMethods"][0]["verified"], false);
        assert!(!u.to_string().contains("$2a$"), "password hashes never leave the server");
        assert_eq!(app.json("GET", "/user/id?userId=nope", None).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        let (s, _) = app.call("GET", "/user/id", None).await;
        assert_eq!(s, 400);

        let page = app.json("GET", "/public/users?limit=2", None).await;
        assert_eq!(ids(&page), vec!["user-4", "user-3"]);
        let token = page["nextPaginationToken"].as_str().unwrap();
        assert_eq!(String::from_utf8(STANDARD.decode(token).unwrap()).unwrap(), "user-2;1002");
        let page2 = app.json("GET", &format!("/public/users?limit=2&paginationToken={}", urlencode(token)), None).await;
        assert_eq!(ids(&page2), vec!["user-2", "user-1"]);
        let asc = app.json("GET", "/public/users?timeJoinedOrder=ASC", None).await;
        assert_eq!(ids(&asc), vec!["user-0", "user-1", "user-2", "user-3", "user-4"]);
        assert!(asc.get("nextPaginationToken").is_none());
        let filtered = app.json("GET", "/public/users?includeRecipeIds=thirdparty", None).await;
        assert_eq!(ids(&filtered), Vec::<String>::new());
        for bad in ["limit=0", "limit=501", "limit=x", "timeJoinedOrder=UP", "paginationToken=bad", "includeRecipeIds=nope"] {
            let (s, t) = app.call("GET", &format!("/public/users?{bad}"), None).await;
            assert_eq!(s, 400, "{bad}: {t}");
        }

        assert_eq!(app.json("GET", "/public/users/count", None).await, json!({"status": "OK", "count": 5}));
        assert_eq!(app.json("GET", "/users/count?includeRecipeIds=emailpassword", None).await["count"], 5);

        assert_eq!(app.json("POST", "/user/remove", Some(json!({"userId": "user-0"}))).await, json!({"status": "OK"}));
        assert_eq!(app.json("POST", "/user/remove", Some(json!({"userId": "user-0"}))).await, json!({"status": "OK"}));
        assert_eq!(app.json("GET", "/user/id?userId=user-0", None).await["status"], "UNKNOWN_USER_ID_ERROR");
        assert_eq!(app.json("GET", "/public/users/count", None).await["count"], 4);

        let found = app.json("GET", "/public/users/by-accountinfo?email=U2@Example.com&doUnionOfAccountInfo=false", None).await;
        assert_eq!(ids(&found), vec!["user-2"]);
        let none = app.json("GET", "/public/users/by-accountinfo?phoneNumber=%2B14155550100", None).await;
        assert_eq!(none, json!({"status": "OK", "users": []}));
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

#[tokio::test]
async fn associating_users_with_tenants() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        for t in ["t1", "t2"] {
            app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": t, "firstFactors": ["emailpassword"]}))).await;
        }
        seed(&app, "public", "user-a", "a@example.com", 1).await;
        seed(&app, "t2", "user-b", "a@example.com", 2).await;
        let r = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": "user-a"}))).await;
        assert_eq!(r, json!({"status": "OK", "wasAlreadyAssociated": false}));
        let r = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": "user-a"}))).await;
        assert_eq!(r, json!({"status": "OK", "wasAlreadyAssociated": true}));
        let r = app.json("POST", "/t2/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": "user-a"}))).await;
        assert_eq!(r, json!({"status": "EMAIL_ALREADY_EXISTS_ERROR"}), "t2 already has that email");
        let r = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": "nobody"}))).await;
        assert_eq!(r, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        let u = app.json("GET", "/user/id?userId=user-a", None).await;
        let mut tenants: Vec<String> = u["user"]["tenantIds"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect();
        tenants.sort();
        assert_eq!(tenants, vec!["public", "t1"]);
        assert_eq!(app.json("GET", "/t1/users/count", None).await["count"], 1);

        let r = app.json("POST", "/t1/recipe/multitenancy/tenant/user/remove", Some(json!({"recipeUserId": "user-a"}))).await;
        assert_eq!(r, json!({"status": "OK", "wasAssociated": true}));
        let r = app.json("POST", "/t1/recipe/multitenancy/tenant/user/remove", Some(json!({"recipeUserId": "user-a"}))).await;
        assert_eq!(r, json!({"status": "OK", "wasAssociated": false}));
        // Removed from every tenant, the user keeps their data.
        app.json("POST", "/public/recipe/multitenancy/tenant/user/remove", Some(json!({"recipeUserId": "user-a"}))).await;
        let u = app.json("GET", "/user/id?userId=user-a", None).await;
        assert_eq!(u["user"]["tenantIds"], json!([]));
        let (s, _) = app.call("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({}))).await;
        assert_eq!(s, 400);
    }
}

#[tokio::test]
async fn search_by_email_phone_and_provider_prefixes() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        seed(&app, "public", "alice", "alice@example.com", 1).await;
        seed(&app, "public", "alfred", "alfred@other.org", 2).await;
        seed(&app, "public", "bob", "bob@example.com", 3).await;
        seed(&app, "public", "under", "a_b@example.com", 4).await;

        assert_eq!(ids(&app.json("GET", "/users?email=al", None).await), vec!["alfred", "alice"]);
        assert_eq!(ids(&app.json("GET", "/users?email=oth", None).await), vec!["alfred"], "a tag also matches the start of the domain");
        assert_eq!(ids(&app.json("GET", "/users?email=AL&timeJoinedOrder=ASC", None).await), vec!["alice", "alfred"], "case-insensitive input");
        assert_eq!(ids(&app.json("GET", "/users?email=bob;alice", None).await), vec!["bob", "alice"], "several prefixes, any may match");
        assert_eq!(ids(&app.json("GET", "/users?email=a_", None).await), vec!["under"], "LIKE wildcards in the input are literal");
        assert_eq!(ids(&app.json("GET", "/users?email=%25", None).await), Vec::<String>::new());
        // Email-password users have neither phone numbers nor providers.
        assert_eq!(ids(&app.json("GET", "/users?phone=%2B1", None).await), Vec::<String>::new());
        assert_eq!(ids(&app.json("GET", "/users?email=al&provider=google", None).await), Vec::<String>::new());
        // Pagination and recipe filters combine with a search.
        let first = app.json("GET", "/users?email=al&limit=1", None).await;
        assert_eq!(ids(&first), vec!["alfred"]);
        let token = first["nextPaginationToken"].as_str().unwrap();
        assert_eq!(ids(&app.json("GET", &format!("/users?email=al&limit=1&paginationToken={token}"), None).await), vec!["alice"]);
        assert_eq!(ids(&app.json("GET", "/users?email=al&includeRecipeIds=thirdparty", None).await), Vec::<String>::new());
        assert_eq!(app.json("GET", "/users?email=al&limit=1000", None).await["status"], "OK", "searches may ask for larger pages");
    }
}

#[tokio::test]
async fn search_tags_are_listed() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    assert_eq!(app.json("GET", "/user/search/tags", None).await, json!({"status": "OK", "tags": ["email", "phone", "provider"]}));
}
