//! User-id mapping through the real HTTP server, on every backend: the mapping APIs with every
//! status, and external ids accepted and rendered wherever the core does.

use crate::common::{backends, config, TestApp};
use serde_json::{json, Value};

async fn sign_up(app: &TestApp, email: &str) -> String {
    let r = app.json("POST", "/recipe/signup", Some(json!({"email": email, "password": "pw"}))).await;
    assert_eq!(r["status"], "OK", "{r}");
    r["recipeUserId"].as_str().unwrap().to_owned()
}

async fn map(app: &TestApp, st: &str, ext: &str, extra: Value) -> Value {
    let mut body = json!({"superTokensUserId": st, "externalUserId": ext});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.json("POST", "/recipe/userid/map", Some(body)).await
}

fn cheap(b: crate::common::Backend) -> portcullis_core::config::Config {
    config(b, &[("BCRYPT_LOG_ROUNDS", "4")])
}

#[tokio::test]
async fn create_get_update_and_remove_with_every_status() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let st = sign_up(&app, "a@example.com").await;
        let other = sign_up(&app, "b@example.com").await;

        assert_eq!(map(&app, &st, "ext-1", json!({"externalUserIdInfo": "info"})).await, json!({"status": "OK"}));
        for (id, kind) in [(st.as_str(), "SUPERTOKENS"), ("ext-1", "EXTERNAL"), ("ext-1", "ANY"), (st.as_str(), "ANY")] {
            let g = app.json("GET", &format!("/recipe/userid/map?userId={id}&userIdType={kind}"), None).await;
            assert_eq!(g, json!({"status": "OK", "superTokensUserId": st, "externalUserId": "ext-1", "externalUserIdInfo": "info"}));
        }
        let g = app.json("GET", "/recipe/userid/map?userId=ext-1&userIdType=SUPERTOKENS", None).await;
        assert_eq!(g, json!({"status": "UNKNOWN_MAPPING_ERROR"}));

        // Conflicts on either side, and unknown users.
        let both = json!({
            "status": "USER_ID_MAPPING_ALREADY_EXISTS_ERROR",
            "doesSuperTokensUserIdExist": true,
            "doesExternalUserIdExist": true,
            "does_external_user_id_exist": true,
        });
        assert_eq!(map(&app, &st, "ext-1", json!({})).await, both);
        let r = map(&app, &st, "ext-2", json!({})).await;
        assert_eq!((r["doesSuperTokensUserIdExist"].clone(), r["doesExternalUserIdExist"].clone()), (json!(true), json!(false)));
        let r = map(&app, &other, "ext-1", json!({})).await;
        assert_eq!((r["doesSuperTokensUserIdExist"].clone(), r["doesExternalUserIdExist"].clone()), (json!(false), json!(true)));
        assert_eq!(map(&app, "no-such-user", "ext-9", json!({})).await, json!({"status": "UNKNOWN_SUPERTOKENS_USER_ID_ERROR"}));
        let (s, body) = app.call("POST", "/recipe/userid/map", Some(json!({"superTokensUserId": other, "externalUserId": st}))).await;
        assert_eq!((s, body.as_str()), (400, "Cannot create a userId mapping where the externalId is also a SuperTokens userID\n"));
        let (s, body) = app.call("POST", "/recipe/userid/map", Some(json!({"superTokensUserId": " ", "externalUserId": "x"}))).await;
        assert_eq!((s, body.as_str()), (400, "Field name 'superTokensUserId' cannot be an empty String\n"));
        let (s, _) = app.call("GET", "/recipe/userid/map?userId=ext-1&userIdType=OTHER", None).await;
        assert_eq!(s, 400);

        // External info: replaced, then cleared with null (then omitted from answers).
        let put = |info: Value| app.json("PUT", "/recipe/userid/external-user-id-info", Some(json!({"userId": "ext-1", "externalUserIdInfo": info})));
        assert_eq!(put(json!("new")).await, json!({"status": "OK"}));
        assert_eq!(app.json("GET", "/recipe/userid/map?userId=ext-1", None).await["externalUserIdInfo"], "new");
        assert_eq!(put(Value::Null).await, json!({"status": "OK"}));
        let g = app.json("GET", "/recipe/userid/map?userId=ext-1", None).await;
        assert!(g.get("externalUserIdInfo").is_none(), "{g}");
        let r = app.json("POST", "/recipe/userid/external-user-id-info", Some(json!({"userId": "nope", "externalUserIdInfo": "x"}))).await;
        assert_eq!(r, json!({"status": "UNKNOWN_MAPPING_ERROR"}), "POST too, as supertokens-python sends it");
        let r = app.json("PUT", "/recipe/userid/external-user-id-info", Some(json!({"userId": "nope", "externalUserIdInfo": "x"}))).await;
        assert_eq!(r, json!({"status": "UNKNOWN_MAPPING_ERROR"}));

        // Removal.
        let rm = app.json("POST", "/recipe/userid/map/remove", Some(json!({"userId": "ext-1", "userIdType": "EXTERNAL"}))).await;
        assert_eq!(rm, json!({"status": "OK", "didMappingExist": true}));
        let rm = app.json("POST", "/recipe/userid/map/remove", Some(json!({"userId": "ext-1"}))).await;
        assert_eq!(rm, json!({"status": "OK", "didMappingExist": false}));
        assert_eq!(app.json("GET", "/recipe/userid/map?userId=ext-1", None).await, json!({"status": "UNKNOWN_MAPPING_ERROR"}));

        // App-wide: a non-public tenant path is refused.
        let (s, _) = app.call("GET", "/t1/recipe/userid/map?userId=x", None).await;
        assert!(s == 403 || s == 400, "{s}");
    }
}

#[tokio::test]
async fn data_keyed_by_an_id_blocks_mapping_changes_unless_forced() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let st = sign_up(&app, "a@example.com").await;
        app.json("PUT", "/recipe/user/metadata", Some(json!({"userId": st, "metadataUpdate": {"role": "admin"}}))).await;
        let (s, body) = app.call("POST", "/recipe/userid/map", Some(json!({"superTokensUserId": st, "externalUserId": "ext"}))).await;
        assert_eq!((s, body.as_str()), (400, "UserId is already in use in UserMetadata recipe\n"));
        assert_eq!(map(&app, &st, "ext", json!({"force": true})).await, json!({"status": "OK"}));

        app.json("PUT", "/recipe/user/metadata", Some(json!({"userId": "ext", "metadataUpdate": {"k": 1}}))).await;
        let (s, body) = app.call("POST", "/recipe/userid/map/remove", Some(json!({"userId": "ext"}))).await;
        assert_eq!((s, body.as_str()), (400, "UserId is already in use in UserMetadata recipe\n"));
        let rm = app.json("POST", "/recipe/userid/map/remove", Some(json!({"userId": "ext", "force": true}))).await;
        assert_eq!(rm, json!({"status": "OK", "didMappingExist": true}));

        // Email verification made under the SuperTokens id moves to the external id.
        let st2 = sign_up(&app, "c@example.com").await;
        let t = app.json("POST", "/recipe/user/email/verify/token", Some(json!({"userId": st2, "email": "c@example.com"}))).await;
        app.json("POST", "/recipe/user/email/verify", Some(json!({"method": "token", "token": t["token"]}))).await;
        assert_eq!(map(&app, &st2, "ext2", json!({})).await, json!({"status": "OK"}));
        let v = app.json("GET", "/recipe/user/email/verify?userId=ext2&email=c@example.com", None).await;
        assert_eq!(v["isVerified"], true);
        let u = app.json("GET", "/user/id?userId=ext2", None).await;
        assert_eq!(u["user"]["loginMethods"][0]["verified"], true);
    }
}

#[tokio::test]
async fn external_ids_are_accepted_and_rendered() {
    for b in backends() {
        let app = TestApp::spawn_with(config(b, &[("BCRYPT_LOG_ROUNDS", "4"), ("PASSWORD_RESET_TOKEN_LIFETIME", "60000")])).await;
        let st = sign_up(&app, "a@example.com").await;
        assert_eq!(map(&app, &st, "ext", json!({})).await["status"], "OK");

        // Reads render the external id, whichever id was asked for.
        for id in [st.as_str(), "ext"] {
            let u = app.json("GET", &format!("/user/id?userId={id}"), None).await;
            assert_eq!(u["user"]["id"], "ext", "{u}");
            assert_eq!(u["user"]["loginMethods"][0]["recipeUserId"], "ext");
        }
        let signed_in = app.json("POST", "/recipe/signin", Some(json!({"email": "a@example.com", "password": "pw"}))).await;
        assert_eq!((signed_in["recipeUserId"].clone(), signed_in["user"]["id"].clone()), (json!("ext"), json!("ext")));
        assert_eq!(app.json("GET", "/users", None).await["users"][0]["id"], "ext");
        assert_eq!(app.json("GET", "/recipe/user?userId=ext", None).await["user"]["id"], "ext");
        assert_eq!(app.json("GET", "/recipe/user?email=a@example.com", None).await["user"]["id"], "ext");

        // Sessions store the external id even when given the SuperTokens one.
        let s = app
            .json("POST", "/recipe/session", Some(json!({"userId": st, "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false})))
            .await;
        assert_eq!(s["session"]["userId"], "ext", "{s}");

        // Updates and password reset by the external id; the reset answers with it.
        assert_eq!(app.json("PUT", "/recipe/user", Some(json!({"recipeUserId": "ext", "password": "pw2"}))).await, json!({"status": "OK"}));
        let t = app.json("POST", "/recipe/user/password/reset/token", Some(json!({"userId": "ext", "email": "a@example.com"}))).await;
        assert_eq!(t["status"], "OK", "{t}");
        let c = app.json("POST", "/recipe/user/password/reset/token/consume", Some(json!({"token": t["token"]}))).await;
        assert_eq!(c, json!({"status": "OK", "userId": "ext", "email": "a@example.com"}));

        // Tenant association by the external id.
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        let a = app.json("POST", "/t1/recipe/multitenancy/tenant/user", Some(json!({"recipeUserId": "ext"}))).await;
        assert_eq!(a, json!({"status": "OK", "wasAlreadyAssociated": false}));
        let a = app.json("POST", "/t1/recipe/multitenancy/tenant/user/remove", Some(json!({"recipeUserId": "ext"}))).await;
        assert_eq!(a, json!({"status": "OK", "wasAssociated": true}));

        // Deleting by the external id removes the user, its mapping and the data under either id.
        app.json("PUT", "/recipe/user/metadata", Some(json!({"userId": "ext", "metadataUpdate": {"k": 1}}))).await;
        assert_eq!(app.json("POST", "/user/remove", Some(json!({"userId": "ext"}))).await, json!({"status": "OK"}));
        assert_eq!(app.json("GET", "/user/id?userId=ext", None).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        assert_eq!(app.json("GET", "/recipe/userid/map?userId=ext", None).await, json!({"status": "UNKNOWN_MAPPING_ERROR"}));
        assert_eq!(app.json("GET", "/recipe/user/metadata?userId=ext", None).await["metadata"], json!({}));
    }
}

#[tokio::test]
async fn concurrent_mappings_of_one_external_id_make_one() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        let mut users = Vec::new();
        for i in 0..8 {
            users.push(sign_up(&app, &format!("u{i}@example.com")).await);
        }
        let calls = users.iter().map(|u| map(&app, u, "shared", json!({})));
        let results = futures::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r["status"] == "OK").count();
        assert_eq!(ok, 1, "{results:?}");
        assert!(results.iter().all(|r| r["status"] == "OK" || r["status"] == "USER_ID_MAPPING_ALREADY_EXISTS_ERROR"), "{results:?}");
    }
}

#[tokio::test]
async fn import_with_an_existing_hash() {
    for b in backends() {
        let app = TestApp::spawn_with(cheap(b)).await;
        // Hashes made by other implementations (crates/core/tests/fixtures/password_hashes.json).
        let password = "correct horse battery staple";
        let hash = "$2b$04$f40/QiCcucA2b3t8QArXweRarZILDwXVj6k48SUsh4bS8D8tsnmFK";
        let r = app.json("POST", "/recipe/user/passwordhash/import", Some(json!({"email": "I@x.com", "passwordHash": hash}))).await;
        assert_eq!((r["status"].clone(), r["didUserAlreadyExist"].clone()), (json!("OK"), json!(false)), "{r}");
        assert_eq!(r["user"]["emails"], json!(["i@x.com"]));
        let s = app.json("POST", "/recipe/signin", Some(json!({"email": "i@x.com", "password": password}))).await;
        assert_eq!(s["status"], "OK", "an imported bcrypt hash signs in");

        // A second import replaces the hash of the same user.
        let argon = "$argon2i$v=19$m=1024,t=2,p=1$jQQMH/RSt7yHkheSul/ZTQ$rcC/bo/g14VxCcrsEGE4ZtWiV79kD0r20cNNI8kH3tk";
        let r2 = app
            .json("POST", "/recipe/user/passwordhash/import", Some(json!({"email": "i@x.com", "passwordHash": argon, "hashingAlgorithm": "ARGON2"})))
            .await;
        assert_eq!((r2["didUserAlreadyExist"].clone(), r2["user"]["id"].clone()), (json!(true), r["user"]["id"].clone()));
        let s = app.json("POST", "/recipe/signin", Some(json!({"email": "i@x.com", "password": password}))).await;
        assert_eq!(s["status"], "OK", "the imported argon2 hash signs in");
        let s = app.json("POST", "/recipe/signin", Some(json!({"email": "i@x.com", "password": "other"}))).await;
        assert_eq!(s["status"], "WRONG_CREDENTIALS_ERROR");

        for (body, message) in [
            (json!({"email": "j@x.com", "passwordHash": "nope"}), "Password hash is in invalid format"),
            (json!({"email": "j@x.com", "passwordHash": hash, "hashingAlgorithm": "ARGON2"}), "Password hash is in invalid Argon2 format"),
            (json!({"email": "j@x.com", "passwordHash": hash, "hashingAlgorithm": "md5"}), "Unsupported password hashing algorithm"),
        ] {
            let (s, text) = app.call("POST", "/recipe/user/passwordhash/import", Some(body)).await;
            assert_eq!((s, text.trim_end()), (400, message));
        }
        assert_eq!(app.json("GET", "/users/count", None).await["count"], 1, "nothing half-written");
        assert_eq!(app.json("GET", "/recipe/user?email=nobody@x.com", None).await, json!({"status": "UNKNOWN_EMAIL_ERROR"}));
        assert_eq!(app.json("GET", "/recipe/user?userId=nobody", None).await, json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        let (s, _) = app.call("GET", "/recipe/user", None).await;
        assert_eq!(s, 400);
    }
}
