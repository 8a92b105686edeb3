//! Account linking through the real HTTP server, on every backend: making primary users, linking
//! and unlinking with every status, the rules across tenants, what linking does to sessions,
//! deletes, tenant association and email changes, and concurrent links that race for one email.

use std::collections::HashMap;

use crate::common::{backends, config, TestApp};
use serde_json::{json, Value};

fn cheap(b: crate::common::Backend) -> portcullis_core::config::Config {
    config(b, &[("BCRYPT_LOG_ROUNDS", "4")])
}

async fn ep(app: &TestApp, tenant: &str, email: &str) -> String {
    let r = app.json("POST", &format!("/{tenant}/recipe/signup"), Some(json!({"email": email, "password": "pw"}))).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["recipeUserId"].as_str().unwrap().to_owned()
}

async fn tp_sign_in(app: &TestApp, tenant: &str, provider_user: &str, email: &str) -> Value {
    let body = json!({"thirdPartyId": "google", "thirdPartyUserId": provider_user, "email": {"id": email, "isVerified": true}});
    app.json("POST", &format!("/{tenant}/recipe/signinup"), Some(body)).await
}

async fn tp(app: &TestApp, tenant: &str, provider_user: &str, email: &str) -> String {
    let r = tp_sign_in(app, tenant, provider_user, email).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["recipeUserId"].as_str().unwrap().to_owned()
}

async fn tenant(app: &TestApp, id: &str) {
    let r = app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": id}))).await;
    assert_eq!(r["status"], "OK", "{r}");
}

async fn primary(app: &TestApp, user: &str) -> Value {
    app.json("POST", "/recipe/accountlinking/user/primary", Some(json!({"recipeUserId": user}))).await
}

async fn link(app: &TestApp, recipe: &str, primary: &str) -> Value {
    app.json("POST", "/recipe/accountlinking/user/link", Some(json!({"recipeUserId": recipe, "primaryUserId": primary}))).await
}

async fn unlink(app: &TestApp, recipe: &str) -> Value {
    app.json("POST", "/recipe/accountlinking/user/unlink", Some(json!({"recipeUserId": recipe}))).await
}

async fn user(app: &TestApp, id: &str) -> Value {
    app.json("GET", &format!("/user/id?userId={id}"), None).await
}

fn method_ids(user: &Value) -> Vec<String> {
    user["loginMethods"].as_array().unwrap().iter().map(|m| m["recipeUserId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn primary_link_and_unlink_with_every_status() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let a = ep(&app, "public", "a@x.com").await;
        let t = tp(&app, "public", "g-t", "a@x.com").await;
        let bb = ep(&app, "public", "b@x.com").await;

        let check = app.json("GET", &format!("/recipe/accountlinking/user/primary/check?recipeUserId={a}"), None).await;
        assert_eq!(check, json!({"status": "OK", "wasAlreadyAPrimaryUser": false}));
        let p = primary(&app, &a).await;
        assert_eq!((p["status"].clone(), p["wasAlreadyAPrimaryUser"].clone()), (json!("OK"), json!(false)), "{p}");
        assert_eq!(p["user"]["isPrimaryUser"], true);
        assert_eq!(primary(&app, &a).await["wasAlreadyAPrimaryUser"], true);

        // Link the third-party user to A: one user, A's id, both login methods.
        let check = app.json("GET", &format!("/recipe/accountlinking/user/link/check?recipeUserId={t}&primaryUserId={a}"), None).await;
        assert_eq!(check, json!({"status": "OK", "accountsAlreadyLinked": false}));
        let l = link(&app, &t, &a).await;
        assert_eq!((l["status"].clone(), l["accountsAlreadyLinked"].clone()), (json!("OK"), json!(false)), "{l}");
        assert_eq!(l["user"]["id"], a.as_str());
        assert_eq!(l["user"]["emails"], json!(["a@x.com"]));
        assert_eq!(method_ids(&l["user"]).len(), 2);
        let by_t = user(&app, &t).await;
        assert_eq!(by_t["user"], l["user"], "any login method's id names the whole user");
        assert_eq!(link(&app, &t, &a).await["accountsAlreadyLinked"], true);
        let listed = app.json("GET", "/users", None).await;
        assert_eq!(listed["users"].as_array().unwrap().len(), 2, "a linked group is listed once: {listed}");
        assert_eq!(app.json("GET", "/users/count", None).await["count"], 2);

        // Every refusal.
        let r = primary(&app, &t).await;
        assert_eq!(r["status"], "RECIPE_USER_ID_ALREADY_LINKED_WITH_PRIMARY_USER_ID_ERROR", "{r}");
        assert_eq!(r["primaryUserId"], a.as_str());
        assert_eq!(link(&app, &t, &bb).await, json!({"status": "INPUT_USER_IS_NOT_A_PRIMARY_USER"}));
        assert_eq!(primary(&app, &bb).await["status"], "OK");
        let r = link(&app, &t, &bb).await;
        assert_eq!(r["status"], "RECIPE_USER_ID_ALREADY_LINKED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR", "{r}");
        assert_eq!(r["primaryUserId"], a.as_str());
        assert_eq!(r["description"], "The input recipe user ID is already linked to another user ID");
        assert_eq!(r["user"]["id"], a.as_str());
        let other = tp(&app, "public", "g-o", "a@x.com").await;
        let r = primary(&app, &other).await;
        assert_eq!(
            r,
            json!({
                "status": "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR",
                "primaryUserId": a,
                "description": "This user's email is already associated with another user ID"
            })
        );
        let r = link(&app, &other, &bb).await;
        assert_eq!(r["status"], "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR", "{r}");
        let r = app.json("GET", &format!("/recipe/accountlinking/user/link/check?recipeUserId={other}&primaryUserId={bb}"), None).await;
        assert_eq!(r["status"], "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR");
        assert!(r.get("user").is_none(), "checks do not carry the user");
        for (path, body) in [
            ("/recipe/accountlinking/user/primary", json!({"recipeUserId": "nobody"})),
            ("/recipe/accountlinking/user/link", json!({"recipeUserId": t, "primaryUserId": "nobody"})),
            ("/recipe/accountlinking/user/unlink", json!({"recipeUserId": "nobody"})),
        ] {
            let (s, text) = app.call("POST", path, Some(body)).await;
            assert_eq!((s, text.as_str()), (400, "Unknown user ID provided\n"), "{path}");
        }
        let (s, _) = app.call("POST", "/recipe/accountlinking/user/link", Some(json!({"recipeUserId": t}))).await;
        assert_eq!(s, 400);

        // Unlink: the third-party user stands alone again; twice is harmless.
        assert_eq!(unlink(&app, &t).await, json!({"status": "OK", "wasRecipeUserDeleted": false, "wasLinked": true}));
        let alone = user(&app, &t).await["user"].clone();
        assert_eq!((alone["id"].clone(), alone["isPrimaryUser"].clone()), (json!(t), json!(false)));
        assert_eq!(method_ids(&user(&app, &a).await["user"]), vec![a.clone()]);
        assert_eq!(unlink(&app, &t).await, json!({"status": "OK", "wasRecipeUserDeleted": false, "wasLinked": false}));

        // Unlinking a primary user that has others deletes its login method instead; the group
        // keeps its id.
        assert_eq!(link(&app, &t, &a).await["status"], "OK");
        assert_eq!(unlink(&app, &a).await, json!({"status": "OK", "wasRecipeUserDeleted": true, "wasLinked": true}));
        let group = user(&app, &t).await["user"].clone();
        assert_eq!((group["id"].clone(), group["isPrimaryUser"].clone()), (json!(a), json!(true)), "{group}");
        assert_eq!(method_ids(&group), vec![t.clone()]);
        let signin = app.json("POST", "/recipe/signin", Some(json!({"email": "a@x.com", "password": "pw"}))).await;
        assert_eq!(signin["status"], "WRONG_CREDENTIALS_ERROR");
    }
}

#[tokio::test]
async fn the_group_joins_at_its_first_sign_up_and_external_ids_name_it() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let a = ep(&app, "public", "a@x.com").await;
        // Two sign-ups in one millisecond would tie on timeJoined; the test is about the earlier one.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let t = tp(&app, "public", "g-1", "t@x.com").await;
        let m = app.json("POST", "/recipe/userid/map", Some(json!({"superTokensUserId": a, "externalUserId": "ext-a"}))).await;
        assert_eq!(m["status"], "OK");
        assert_eq!(primary(&app, "ext-a").await["user"]["id"], "ext-a");
        let l = link(&app, &t, "ext-a").await;
        assert_eq!(l["user"]["id"], "ext-a", "{l}");
        let a_joined = l["user"]["loginMethods"][0]["timeJoined"].as_i64().unwrap();
        assert_eq!(l["user"]["timeJoined"].as_i64().unwrap(), a_joined, "the earliest login method");
        assert_eq!(l["user"]["loginMethods"][0]["recipeUserId"], "ext-a");
        let listed = app.json("GET", "/users", None).await;
        assert_eq!(listed["users"][0]["id"], "ext-a", "{listed}");
    }
}

#[tokio::test]
async fn sessions_follow_the_primary_user_and_linking_revokes_the_recipe_users_sessions() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let a = ep(&app, "public", "a@x.com").await;
        let t = tp(&app, "public", "g-1", "t@x.com").await;
        let create = |user: String| {
            let app = &app;
            async move {
                let body = json!({"userId": user, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false});
                app.json("POST", "/recipe/session", Some(body)).await
            }
        };
        let before = create(t.clone()).await;
        assert_eq!(primary(&app, &a).await["status"], "OK");
        assert_eq!(link(&app, &t, &a).await["status"], "OK");
        let refresh = |token: Value| {
            let app = &app;
            async move { app.json("POST", "/recipe/session/refresh", Some(json!({"refreshToken": token, "enableAntiCsrf": false, "useDynamicSigningKey": true}))).await }
        };
        assert_eq!(refresh(before["refreshToken"]["token"].clone()).await["status"], "UNAUTHORISED", "linking revoked it");

        let s = create(t.clone()).await;
        assert_eq!((s["session"]["userId"].clone(), s["session"]["recipeUserId"].clone()), (json!(a), json!(t)), "{s}");
        let v = app
            .json("POST", "/recipe/session/verify", Some(json!({"accessToken": s["accessToken"]["token"], "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": true})))
            .await;
        assert_eq!((v["session"]["userId"].clone(), v["session"]["recipeUserId"].clone()), (json!(a), json!(t)), "{v}");
        let r = refresh(s["refreshToken"]["token"].clone()).await;
        assert_eq!((r["session"]["userId"].clone(), r["session"]["recipeUserId"].clone()), (json!(a), json!(t)), "{r}");
        let handle = s["session"]["handle"].as_str().unwrap();
        let info = app.json("GET", &format!("/recipe/session?sessionHandle={handle}"), None).await;
        assert_eq!((info["userId"].clone(), info["recipeUserId"].clone()), (json!(a), json!(t)));

        // The primary user's sessions include its linked users' unless asked otherwise.
        let all = app.json("GET", &format!("/recipe/session/user?userId={a}"), None).await;
        assert_eq!(all["sessionHandles"], json!([handle]));
        let own = app.json("GET", &format!("/recipe/session/user?userId={a}&fetchSessionsForAllLinkedAccounts=false"), None).await;
        assert_eq!(own["sessionHandles"], json!([]));

        // Unlinking revokes the recipe user's sessions.
        assert_eq!(unlink(&app, &t).await["wasLinked"], true);
        assert_eq!(refresh(r["refreshToken"]["token"].clone()).await["status"], "UNAUTHORISED");
    }
}

#[tokio::test]
async fn delete_one_login_method_or_the_whole_group() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let a = ep(&app, "public", "a@x.com").await;
        let t = tp(&app, "public", "g-1", "t@x.com").await;
        let u = tp(&app, "public", "g-2", "u@x.com").await;
        assert_eq!(primary(&app, &a).await["status"], "OK");
        assert_eq!(link(&app, &t, &a).await["status"], "OK");
        assert_eq!(link(&app, &u, &a).await["status"], "OK");
        let meta = app.json("PUT", "/recipe/user/metadata", Some(json!({"userId": a, "metadataUpdate": {"k": 1}}))).await;
        assert_eq!(meta["status"], "OK");

        // A linked login method alone.
        let r = app.json("POST", "/user/remove", Some(json!({"userId": u, "removeAllLinkedAccounts": false}))).await;
        assert_eq!(r["status"], "OK");
        assert_eq!(method_ids(&user(&app, &a).await["user"]).len(), 2);
        assert_eq!(user(&app, &u).await["status"], "UNKNOWN_USER_ID_ERROR");

        // The primary login method alone: the others stay linked under its id, with its metadata.
        let r = app.json("POST", "/user/remove", Some(json!({"userId": a, "removeAllLinkedAccounts": false}))).await;
        assert_eq!(r["status"], "OK");
        let group = user(&app, &t).await["user"].clone();
        assert_eq!((group["id"].clone(), method_ids(&group)), (json!(a), vec![t.clone()]), "{group}");
        let m = app.json("GET", &format!("/recipe/user/metadata?userId={a}"), None).await;
        assert_eq!(m["metadata"], json!({"k": 1}));

        // The whole group.
        let r = app.json("POST", "/user/remove", Some(json!({"userId": t}))).await;
        assert_eq!(r["status"], "OK");
        assert_eq!(user(&app, &t).await["status"], "UNKNOWN_USER_ID_ERROR");
        assert_eq!(user(&app, &a).await["status"], "UNKNOWN_USER_ID_ERROR");
        assert_eq!(app.json("GET", &format!("/recipe/user/metadata?userId={a}"), None).await["metadata"], json!({}));
        assert_eq!(app.json("GET", "/users/count", None).await["count"], 0);
    }
}

#[tokio::test]
async fn the_rules_hold_in_every_tenant_of_either_side() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        tenant(&app, "t1").await;
        let a = ep(&app, "public", "a@x.com").await;
        assert_eq!(primary(&app, &a).await["status"], "OK");
        // In t1, another primary user has A's email.
        let z = tp(&app, "t1", "g-z", "a@x.com").await;
        assert_eq!(primary(&app, &z).await["status"], "OK", "A is not in t1");
        let r = ep(&app, "t1", "r@x.com").await;
        let refused = link(&app, &r, &a).await;
        assert_eq!(refused["status"], "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR", "{refused}");
        assert_eq!(refused["primaryUserId"], z.as_str());

        // A primary user may not join a tenant where another primary user has its email.
        let add = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": a}))).await;
        assert_eq!(add, json!({"status": "ASSOCIATION_NOT_ALLOWED_ERROR", "reason": format!("Another primary user with email already exists: {z}")}));
        // A recipe user that is not primary may.
        let plain = tp(&app, "public", "g-p", "a@x.com").await;
        let add = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": plain}))).await;
        assert_eq!(add["status"], "OK", "{add}");

        // Email changes of primary users are checked in their tenants.
        let b_user = ep(&app, "t1", "b@x.com").await;
        assert_eq!(primary(&app, &b_user).await["status"], "OK");
        let change = app.json_rid("PUT", "/recipe/user", "emailpassword", Some(json!({"recipeUserId": b_user, "email": "a@x.com"}))).await;
        assert_eq!(change, json!({"status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "reason": "New email is associated with another primary user ID"}));
        let change = app.json_rid("PUT", "/recipe/user", "emailpassword", Some(json!({"recipeUserId": r, "email": "z@x.com"}))).await;
        assert_eq!(change["status"], "OK", "not primary: {change}");
        // A primary third-party user signing in with a taken email keeps its own.
        let zz = tp(&app, "t1", "g-zz", "zz@x.com").await;
        assert_eq!(primary(&app, &zz).await["status"], "OK");
        let again = tp_sign_in(&app, "t1", "g-zz", "a@x.com").await;
        assert_eq!(again, json!({"status": "EMAIL_CHANGE_NOT_ALLOWED_ERROR", "reason": "Email already associated with another primary user."}));
        assert_eq!(user(&app, &zz).await["user"]["emails"], json!(["zz@x.com"]));
        assert_eq!(tp_sign_in(&app, "t1", "g-zz", "new@x.com").await["status"], "OK");
    }
}

#[tokio::test]
async fn a_primary_user_without_a_password_gets_a_reset_token() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let t = tp(&app, "public", "g-1", "t@x.com").await;
        assert_eq!(primary(&app, &t).await["status"], "OK");
        let tok = app.json("POST", "/recipe/user/password/reset/token", Some(json!({"userId": t, "email": "t@x.com"}))).await;
        assert_eq!(tok["status"], "OK", "{tok}");
        let used = app.json("POST", "/recipe/user/password/reset/token/consume", Some(json!({"token": tok["token"]}))).await;
        assert_eq!(used, json!({"status": "OK", "userId": t, "email": "t@x.com"}));
    }
}

/// No tenant has two primary users that share an email, phone number or third-party account.
async fn assert_unique_among_primary_users(app: &TestApp) {
    let users = app.json("GET", "/users?limit=500", None).await["users"].as_array().unwrap().clone();
    let mut owner: HashMap<(String, String), String> = HashMap::new();
    for u in users.iter().filter(|u| u["isPrimaryUser"] == true) {
        for t in u["tenantIds"].as_array().unwrap() {
            for e in u["emails"].as_array().unwrap() {
                let key = (t.to_string(), e.to_string());
                if let Some(other) = owner.insert(key.clone(), u["id"].to_string()) {
                    assert_eq!(other, u["id"].to_string(), "two primary users share {key:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn concurrent_links_that_would_share_an_email_let_exactly_one_win() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        for round in 0..4 {
            let p1 = ep(&app, "public", &format!("p1-{round}@x.com")).await;
            let p2 = ep(&app, "public", &format!("p2-{round}@x.com")).await;
            assert_eq!(primary(&app, &p1).await["status"], "OK");
            assert_eq!(primary(&app, &p2).await["status"], "OK");
            let shared = format!("s-{round}@x.com");
            let r1 = tp(&app, "public", &format!("g1-{round}"), &shared).await;
            let r2 = tp(&app, "public", &format!("g2-{round}"), &shared).await;
            let (x, y) = tokio::join!(link(&app, &r1, &p1), link(&app, &r2, &p2));
            let statuses = [x["status"].as_str().unwrap().to_owned(), y["status"].as_str().unwrap().to_owned()];
            assert_eq!(statuses.iter().filter(|s| *s == "OK").count(), 1, "{x} {y}");
            assert!(statuses.contains(&"ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR".to_owned()), "{x} {y}");
        }
        // Many users with one email racing to become primary: one does.
        let racers: Vec<String> = {
            let mut v = Vec::new();
            for i in 0..8 {
                v.push(tp(&app, "public", &format!("race-{i}"), "race@x.com").await);
            }
            v
        };
        let results = futures::future::join_all(racers.iter().map(|r| primary(&app, r))).await;
        assert_eq!(results.iter().filter(|r| r["status"] == "OK").count(), 1, "{results:?}");
        assert_unique_among_primary_users(&app).await;
    }
}

#[tokio::test]
async fn concurrent_link_unlink_and_association_leave_consistent_groups() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        tenant(&app, "t1").await;
        let p = ep(&app, "public", "p@x.com").await;
        assert_eq!(primary(&app, &p).await["status"], "OK");
        let members: Vec<String> = {
            let mut v = Vec::new();
            for i in 0..4 {
                v.push(tp(&app, "public", &format!("m-{i}"), &format!("m{i}@x.com")).await);
            }
            v
        };
        // Rival primary users in t1 with the members' emails: any member that joins t1 while
        // linked must be refused, and none may be linked once it is in t1.
        for i in 0..4 {
            let rival = tp(&app, "t1", &format!("r-{i}"), &format!("m{i}@x.com")).await;
            assert_eq!(primary(&app, &rival).await["status"], "OK");
        }
        let mut ops: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Value> + '_>>> = Vec::new();
        for m in &members {
            for _ in 0..3 {
                ops.push(Box::pin(link(&app, m, &p)));
                ops.push(Box::pin(unlink(&app, m)));
            }
        }
        let joins = members.iter().map(|m| app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": m}))));
        let (linked, joined) = tokio::join!(futures::future::join_all(ops), futures::future::join_all(joins));
        for r in linked.iter().chain(&joined) {
            let status = r["status"].as_str().unwrap_or_default();
            assert!(
                ["OK", "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR", "ASSOCIATION_NOT_ALLOWED_ERROR"].contains(&status),
                "{r}"
            );
        }
        // Whatever the interleaving: each member is either in P's group or alone, and no tenant has
        // two primary users sharing an email.
        for m in &members {
            let u = user(&app, m).await["user"].clone();
            assert!(u["id"] == p.as_str() || (u["id"] == m.as_str() && u["isPrimaryUser"] == false), "{u}");
        }
        assert_unique_among_primary_users(&app).await;
    }
}
