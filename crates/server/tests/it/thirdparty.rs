//! Third-party sign-in-up and its lookups through the real HTTP server, on every backend.

use crate::common::{backends, TestApp};
use serde_json::{json, Value};

async fn sign_in_up(app: &TestApp, tenant: &str, provider: &str, provider_user: &str, email: &str) -> Value {
    let body = json!({"thirdPartyId": provider, "thirdPartyUserId": provider_user, "email": {"id": email, "isVerified": true}});
    app.json("POST", &format!("/{tenant}/recipe/signinup"), Some(body)).await
}

#[tokio::test]
async fn sign_in_up_creates_once_then_signs_in_and_follows_the_email() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let first = sign_in_up(&app, "public", "google", "g-1", " Ann@Example.com ").await;
        assert_eq!((first["status"].clone(), first["createdNewUser"].clone()), (json!("OK"), json!(true)), "{first}");
        let id = first["recipeUserId"].as_str().unwrap().to_owned();
        let user = &first["user"];
        assert_eq!(user["id"], id.as_str());
        assert_eq!(user["emails"], json!(["ann@example.com"]));
        assert_eq!(user["thirdParty"], json!([{"id": "google", "userId": "g-1"}]));
        assert_eq!(user["loginMethods"][0]["recipeId"], "thirdparty");
        assert_eq!(user["loginMethods"][0]["verified"], true, "the provider said the email is verified");
        let unverified = json!({"thirdPartyId": "google", "thirdPartyUserId": "g-9", "email": {"id": "u@x.com", "isVerified": false}});
        let u = app.json("POST", "/recipe/signinup", Some(unverified)).await;
        assert_eq!(u["user"]["loginMethods"][0]["verified"], false);

        let again = sign_in_up(&app, "public", "google", "g-1", "ann.new@example.com").await;
        assert_eq!((again["createdNewUser"].clone(), again["recipeUserId"].clone()), (json!(false), json!(id)));
        assert_eq!(again["user"]["emails"], json!(["ann.new@example.com"]), "the provider's new email replaces the old");
        assert_eq!(again["user"]["timeJoined"], first["user"]["timeJoined"]);

        // Another provider, or another provider user, is another user.
        assert_eq!(sign_in_up(&app, "public", "github", "g-1", "ann@example.com").await["createdNewUser"], true);
        assert_eq!(sign_in_up(&app, "public", "google", "g-2", "ann@example.com").await["createdNewUser"], true);
        assert_eq!(app.json("GET", "/users/count?includeRecipeIds=thirdparty", None).await["count"], 4);

        // Input errors.
        for body in [
            json!({"thirdPartyId": "google", "thirdPartyUserId": "x", "email": {"id": "a@x.com"}}),
            json!({"thirdPartyId": "google", "thirdPartyUserId": "x", "email": "a@x.com"}),
            json!({"thirdPartyId": "", "thirdPartyUserId": "x", "email": {"id": "a@x.com", "isVerified": false}}),
            json!({"thirdPartyUserId": "x", "email": {"id": "a@x.com", "isVerified": false}}),
        ] {
            let (s, text) = app.call("POST", "/recipe/signinup", Some(body.clone())).await;
            assert_eq!(s, 400, "{body} -> {text}");
        }
        assert_eq!(app.json("GET", "/users/count", None).await["count"], 4, "nothing half-written");
    }
}

#[tokio::test]
async fn accounts_are_per_tenant_and_association_keeps_them_unique() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        for t in ["t1", "t2"] {
            app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": t}))).await;
        }
        let a = sign_in_up(&app, "t1", "google", "g-1", "a@example.com").await;
        let b2 = sign_in_up(&app, "t2", "google", "g-1", "a@example.com").await;
        assert_eq!(b2["createdNewUser"], true, "the same account in another tenant is another user");
        assert_ne!(a["recipeUserId"], b2["recipeUserId"]);
        let assoc = app.json("POST", "/t2/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": a["recipeUserId"]}))).await;
        assert_eq!(assoc, json!({"status": "THIRD_PARTY_USER_ALREADY_EXISTS_ERROR"}));
        let assoc = app.json("POST", "/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": a["recipeUserId"]}))).await;
        assert_eq!(assoc, json!({"status": "OK", "wasAlreadyAssociated": false}));
        let signed_in = sign_in_up(&app, "public", "google", "g-1", "a@example.com").await;
        assert_eq!((signed_in["createdNewUser"].clone(), signed_in["recipeUserId"].clone()), (json!(false), a["recipeUserId"].clone()));
        assert_eq!(signed_in["user"]["tenantIds"], json!(["public", "t1"]));
    }
}

/// The search by provider (and email) reads `thirdparty_users`, which has no tenant: the page's
/// tenant still decides who is listed.
#[tokio::test]
async fn search_by_provider_lists_the_tenants_users_only() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let in_t1 = sign_in_up(&app, "t1", "google", "g-1", "a@example.com").await["recipeUserId"].clone();
        let in_public = sign_in_up(&app, "public", "google", "g-2", "b@example.com").await["recipeUserId"].clone();
        sign_in_up(&app, "t1", "github", "h-1", "c@example.com").await;
        let ids = |v: Value| v["users"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(app.json("GET", "/t1/users?provider=google", None).await), vec![in_t1.clone()]);
        assert_eq!(ids(app.json("GET", "/public/users?provider=google", None).await), vec![in_public.clone()]);
        assert_eq!(ids(app.json("GET", "/t1/users?provider=goo&email=a@", None).await), vec![in_t1.clone()]);
        assert_eq!(ids(app.json("GET", "/public/users?provider=goo&email=a@", None).await), Vec::<Value>::new());
        // Associated with public too, the t1 user is listed there as well.
        app.json("POST", "/public/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": in_t1}))).await;
        assert_eq!(ids(app.json("GET", "/public/users?provider=google&timeJoinedOrder=ASC", None).await), vec![in_t1, in_public]);
    }
}

#[tokio::test]
async fn lookups_by_id_account_email_and_search() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let u = sign_in_up(&app, "public", "google", "g-1", "a@example.com").await;
        let id = u["recipeUserId"].as_str().unwrap().to_owned();
        sign_in_up(&app, "public", "github", "h-1", "a@example.com").await;

        let by_id = app.json_rid("GET", &format!("/recipe/user?userId={id}"), "thirdparty", None).await;
        assert_eq!(by_id["user"]["id"], id.as_str());
        let by_account = app.json_rid("GET", "/recipe/user?thirdPartyId=google&thirdPartyUserId=g-1", "thirdparty", None).await;
        assert_eq!(by_account["user"]["id"], id.as_str());
        let none = app.json_rid("GET", "/recipe/user?thirdPartyId=google&thirdPartyUserId=zzz", "thirdparty", None).await;
        assert_eq!(none, json!({"status": "UNKNOWN_THIRD_PARTY_USER_ERROR"}));
        assert_eq!(app.json_rid("GET", "/recipe/user?userId=nobody", "thirdparty", None).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        // Without the rid, /recipe/user is email-password's, which this user is not.
        assert_eq!(app.json("GET", &format!("/recipe/user?userId={id}"), None).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));

        let by_email = app.json("GET", "/recipe/users/by-email?email=A@example.com", None).await;
        assert_eq!(by_email["users"].as_array().unwrap().len(), 2);
        let info = app.json("GET", "/users/by-accountinfo?thirdPartyId=google&thirdPartyUserId=g-1", None).await;
        assert_eq!(info["users"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect::<Vec<_>>(), vec![json!(id)]);
        let both = app.json("GET", "/users/by-accountinfo?email=a@example.com&thirdPartyId=google&thirdPartyUserId=g-1", None).await;
        assert_eq!(both["users"].as_array().unwrap().len(), 1, "all given account info must match");
        let either = app
            .json("GET", "/users/by-accountinfo?email=a@example.com&thirdPartyId=google&thirdPartyUserId=g-1&doUnionOfAccountInfo=true", None)
            .await;
        assert_eq!(either["users"].as_array().unwrap().len(), 2);
        assert_eq!(app.json("GET", "/users?provider=goo", None).await["users"][0]["id"], id.as_str());
        assert_eq!(app.json("GET", "/users?email=a@&provider=git", None).await["users"].as_array().unwrap().len(), 1);

        assert_eq!(app.json("POST", "/user/remove", Some(json!({"userId": id}))).await["status"], "OK");
        let gone = app.json_rid("GET", "/recipe/user?thirdPartyId=google&thirdPartyUserId=g-1", "thirdparty", None).await;
        assert_eq!(gone["status"], "UNKNOWN_THIRD_PARTY_USER_ERROR");
    }
}

#[tokio::test]
async fn concurrent_first_sign_ins_of_one_account_make_one_user() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let calls = (0..16).map(|_| sign_in_up(&app, "public", "google", "same", "s@example.com"));
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(|r| r["status"] == "OK"), "{results:?}");
        assert_eq!(results.iter().filter(|r| r["createdNewUser"] == true).count(), 1);
        let ids: std::collections::HashSet<_> = results.iter().map(|r| r["recipeUserId"].to_string()).collect();
        assert_eq!(ids.len(), 1);
        assert_eq!(app.json("GET", "/users/count", None).await["count"], 1);
    }
}
