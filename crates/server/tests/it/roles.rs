//! The user roles APIs through the real HTTP server, on every backend: every status, the core's
//! input rules, the public-tenant rule for app-wide APIs, users' roles per tenant, and (on
//! PostgreSQL) a tenant whose data lives in another database.

use std::sync::Arc;

use crate::common::{backends, Backend, TestApp};
use portcullis_core::ids::{TenantIdentifier, TenantKey};
use serde_json::{json, Value};

const FORBIDDEN: &str = "Only public tenantId can call this app specific API\n";

async fn create_role(app: &TestApp, role: &str, permissions: Option<Value>) -> Value {
    let mut body = json!({"role": role});
    if let Some(p) = permissions {
        body["permissions"] = p;
    }
    app.json("PUT", "/recipe/role", Some(body)).await
}

async fn add(app: &TestApp, tenant: &str, user: &str, role: &str) -> Value {
    app.json("PUT", &format!("/{tenant}/recipe/user/role"), Some(json!({"userId": user, "role": role}))).await
}

async fn remove(app: &TestApp, tenant: &str, user: &str, role: &str) -> Value {
    app.json("POST", &format!("/{tenant}/recipe/user/role/remove"), Some(json!({"userId": user, "role": role}))).await
}

async fn roles_of(app: &TestApp, tenant: &str, user: &str) -> Value {
    app.json("GET", &format!("/{tenant}/recipe/user/roles?userId={user}"), None).await
}

async fn users_of(app: &TestApp, tenant: &str, role: &str) -> Value {
    app.json("GET", &format!("/{tenant}/recipe/role/users?role={role}"), None).await
}

fn unknown() -> Value {
    json!({"status": "UNKNOWN_ROLE_ERROR"})
}

#[tokio::test]
async fn roles_and_permissions() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let (s, text) = app.call("PUT", "/recipe/role", Some(json!({"role": "admin", "permissions": ["write", "read"]}))).await;
        assert_eq!((s, text.as_str()), (200, "{\"status\":\"OK\",\"createdNewRole\":true}\n"), "{b:?}");
        // Names are trimmed; existing permissions are kept, new ones added.
        assert_eq!(create_role(&app, " admin\t", Some(json!(["read ", "delete", "delete"]))).await, json!({"status": "OK", "createdNewRole": false}));
        assert_eq!(create_role(&app, "viewer", None).await["createdNewRole"], true);
        assert_eq!(create_role(&app, "editor", Some(json!([]))).await["createdNewRole"], true);
        assert_eq!(create_role(&app, "editor", Some(json!(["write"]))).await["createdNewRole"], false);

        let (_, text) = app.call("GET", "/recipe/role/permissions?role=admin", None).await;
        assert_eq!(text, "{\"permissions\":[\"delete\",\"read\",\"write\"],\"status\":\"OK\"}\n");
        assert_eq!(app.json("GET", "/recipe/role/permissions?role=%20viewer%20", None).await, json!({"permissions": [], "status": "OK"}));
        assert_eq!(app.json("GET", "/recipe/role/permissions?role=nope", None).await, unknown());
        assert_eq!(app.json("GET", "/recipe/roles", None).await, json!({"roles": ["admin", "editor", "viewer"], "status": "OK"}));
        assert_eq!(
            app.json("GET", "/recipe/permission/roles?permission=write", None).await,
            json!({"roles": ["admin", "editor"], "status": "OK"})
        );
        assert_eq!(app.json("GET", "/recipe/permission/roles?permission=none", None).await, json!({"roles": [], "status": "OK"}));

        let r = app.json("POST", "/recipe/role/permissions/remove", Some(json!({"role": "admin", "permissions": ["delete", "absent"]}))).await;
        assert_eq!(r, json!({"status": "OK"}));
        let r = app.json("POST", "/recipe/role/permissions/remove", Some(json!({"role": "admin", "permissions": []}))).await;
        assert_eq!(r, json!({"status": "OK"}), "an empty list removes nothing");
        assert_eq!(app.json("GET", "/recipe/role/permissions?role=admin", None).await["permissions"], json!(["read", "write"]));
        let r = app.json("POST", "/recipe/role/permissions/remove", Some(json!({"role": "admin"}))).await;
        assert_eq!(r, json!({"status": "OK"}), "no list removes every permission");
        assert_eq!(app.json("GET", "/recipe/role/permissions?role=admin", None).await["permissions"], json!([]));
        let r = app.json("POST", "/recipe/role/permissions/remove", Some(json!({"role": "nope"}))).await;
        assert_eq!(r, unknown());

        let (_, text) = app.call("POST", "/recipe/role/remove", Some(json!({"role": "editor"}))).await;
        assert_eq!(text, "{\"status\":\"OK\",\"didRoleExist\":true}\n");
        assert_eq!(app.json("POST", "/recipe/role/remove", Some(json!({"role": "editor"}))).await["didRoleExist"], false);
        assert_eq!(app.json("GET", "/recipe/permission/roles?permission=write", None).await["roles"], json!([]));
        assert_eq!(app.json("GET", "/recipe/roles", None).await["roles"], json!(["admin", "viewer"]));

        // Roles belong to an app.
        app.json("PUT", "/recipe/multitenancy/app/v2", Some(json!({"appId": "a1", "coreConfig": {}}))).await;
        assert_eq!(app.json("GET", "/appid-a1/recipe/roles", None).await["roles"], json!([]));
        assert_eq!(app.json("PUT", "/appid-a1/recipe/role", Some(json!({"role": "admin"}))).await["createdNewRole"], true);
    }
}

#[tokio::test]
async fn users_roles_per_tenant() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        create_role(&app, "admin", Some(json!(["all"]))).await;
        create_role(&app, "viewer", None).await;

        let (_, text) = app.call("PUT", "/public/recipe/user/role", Some(json!({"userId": "u1", "role": "admin"}))).await;
        assert_eq!(text, "{\"status\":\"OK\",\"didUserAlreadyHaveRole\":false}\n", "{b:?}");
        assert_eq!(add(&app, "public", "u1", " admin ").await, json!({"status": "OK", "didUserAlreadyHaveRole": true}));
        assert_eq!(add(&app, "public", "u1", "viewer").await["didUserAlreadyHaveRole"], false);
        assert_eq!(add(&app, "public", "u1", "nope").await, unknown());
        // The path without a tenant is the public tenant.
        let r = app.json("PUT", "/recipe/user/role", Some(json!({"userId": "u2", "role": "viewer"}))).await;
        assert_eq!(r["didUserAlreadyHaveRole"], false);
        assert_eq!(add(&app, "t1", "u1", "viewer").await["didUserAlreadyHaveRole"], false, "each tenant has its own");

        let (_, text) = app.call("GET", "/public/recipe/user/roles?userId=u1", None).await;
        assert_eq!(text, "{\"roles\":[\"admin\",\"viewer\"],\"status\":\"OK\"}\n");
        assert_eq!(roles_of(&app, "t1", "u1").await, json!({"roles": ["viewer"], "status": "OK"}));
        assert_eq!(roles_of(&app, "t1", "nobody").await, json!({"roles": [], "status": "OK"}));
        let (_, text) = app.call("GET", "/public/recipe/role/users?role=viewer", None).await;
        assert_eq!(text, "{\"users\":[\"u1\",\"u2\"],\"status\":\"OK\"}\n");
        assert_eq!(users_of(&app, "t1", "viewer").await, json!({"users": ["u1"], "status": "OK"}));
        assert_eq!(users_of(&app, "t1", "admin").await, json!({"users": [], "status": "OK"}));
        assert_eq!(users_of(&app, "t1", "nope").await, unknown());

        let (_, text) = app.call("POST", "/public/recipe/user/role/remove", Some(json!({"userId": "u1", "role": "admin"}))).await;
        assert_eq!(text, "{\"status\":\"OK\",\"didUserHaveRole\":true}\n");
        assert_eq!(remove(&app, "public", "u1", "admin").await, json!({"status": "OK", "didUserHaveRole": false}));
        assert_eq!(remove(&app, "public", "u1", "nope").await, unknown());
        assert_eq!(remove(&app, "t1", "u2", "viewer").await["didUserHaveRole"], false, "u2 has it in public only");

        // Deleting a role takes it from every user of every tenant.
        assert_eq!(app.json("POST", "/recipe/role/remove", Some(json!({"role": "viewer"}))).await["didRoleExist"], true);
        assert_eq!(roles_of(&app, "public", "u2").await["roles"], json!([]));
        assert_eq!(roles_of(&app, "t1", "u1").await["roles"], json!([]));
        assert_eq!(users_of(&app, "t1", "viewer").await, unknown());
        assert_eq!(add(&app, "t1", "u1", "viewer").await, unknown());

        // Tenant-scoped APIs on an unknown tenant are the core's 400.
        let (s, text) = app.call("GET", "/nope/recipe/user/roles?userId=u1", None).await;
        assert_eq!(s, 400, "{text}");
        assert!(text.starts_with("AppId or tenantId not found"), "{text}");
        let (s, _) = app.call("PUT", "/nope/recipe/user/role", Some(json!({"userId": "u1", "role": "admin"}))).await;
        assert_eq!(s, 400);
    }
}

#[tokio::test]
async fn bad_input_and_the_public_tenant_rule() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "t1"}))).await;
        create_role(&app, "admin", None).await;
        let invalid = |f: &str| format!("Field name '{f}' is invalid in JSON input\n");
        let empty = |f: &str| format!("Field name '{f}' cannot be an empty String\n");
        let missing = |f: &str| format!("Field name '{f}' is missing in GET request\n");
        let empty_permission = "Field name 'permissions' cannot contain an empty string\n".to_string();
        let cases: Vec<(&str, &str, Option<Value>, String)> = vec![
            ("PUT", "/recipe/role", Some(json!({})), invalid("role")),
            ("PUT", "/recipe/role", Some(json!({"role": 5})), invalid("role")),
            ("PUT", "/recipe/role", Some(json!({"role": "  "})), empty("role")),
            ("PUT", "/recipe/role", Some(json!({"role": "r", "permissions": null})), invalid("permissions")),
            ("PUT", "/recipe/role", Some(json!({"role": "r", "permissions": "p"})), invalid("permissions")),
            ("PUT", "/recipe/role", Some(json!({"role": "r", "permissions": ["p", 1]})), invalid("permissions")),
            ("PUT", "/recipe/role", Some(json!({"role": "r", "permissions": ["p", " "]})), empty_permission.clone()),
            ("PUT", "/recipe/role", Some(json!([])), "Invalid Json Input\n".into()),
            ("GET", "/recipe/role/permissions", None, missing("role")),
            ("GET", "/recipe/role/permissions?role=", None, empty("role")),
            ("POST", "/recipe/role/permissions/remove", Some(json!({"permissions": []})), invalid("role")),
            ("POST", "/recipe/role/permissions/remove", Some(json!({"role": "admin", "permissions": [""]})), empty_permission),
            ("POST", "/recipe/role/permissions/remove", Some(json!({"role": "admin", "permissions": null})), invalid("permissions")),
            ("POST", "/recipe/role/remove", Some(json!({"role": ""})), empty("role")),
            ("GET", "/recipe/permission/roles", None, missing("permission")),
            ("GET", "/recipe/permission/roles?permission=%20", None, empty("permission")),
            ("PUT", "/public/recipe/user/role", Some(json!({"role": "admin"})), invalid("userId")),
            ("PUT", "/public/recipe/user/role", Some(json!({"userId": "u1"})), invalid("role")),
            ("PUT", "/public/recipe/user/role", Some(json!({"userId": "u1", "role": " "})), empty("role")),
            ("POST", "/public/recipe/user/role/remove", Some(json!({"userId": "u1", "role": ""})), empty("role")),
            ("POST", "/public/recipe/user/role/remove", Some(json!({"userId": null, "role": "admin"})), invalid("userId")),
            ("GET", "/public/recipe/user/roles", None, missing("userId")),
            ("GET", "/public/recipe/role/users", None, missing("role")),
            ("GET", "/public/recipe/role/users?role=", None, empty("role")),
        ];
        for (method, path, body, message) in cases {
            let (s, text) = app.call(method, path, body.clone()).await;
            assert_eq!((s, text.as_str()), (400, message.as_str()), "{b:?} {method} {path} {body:?}");
        }
        // What the schema cannot store is a 400, never a database error.
        let long = "r".repeat(256);
        for body in [
            json!({"role": long}),
            json!({"role": "r", "permissions": [long]}),
            json!({"role": "r\u{0}x"}),
        ] {
            let (s, text) = app.call("PUT", "/recipe/role", Some(body.clone())).await;
            assert_eq!(s, 400, "{b:?} {body}: {text}");
        }
        let (s, _) = app.call("PUT", "/public/recipe/user/role", Some(json!({"userId": "u".repeat(129), "role": "admin"}))).await;
        assert_eq!(s, 400);
        assert_eq!(add(&app, "public", &"u".repeat(128), "admin").await["didUserAlreadyHaveRole"], false);

        // App-wide APIs only on the public tenant; the tenant ones work anywhere.
        let app_wide: Vec<(&str, &str, Option<Value>)> = vec![
            ("PUT", "/t1/recipe/role", Some(json!({"role": "r"}))),
            ("GET", "/t1/recipe/role/permissions?role=admin", None),
            ("POST", "/t1/recipe/role/permissions/remove", Some(json!({"role": "admin"}))),
            ("POST", "/t1/recipe/role/remove", Some(json!({"role": "admin"}))),
            ("GET", "/t1/recipe/roles", None),
            ("GET", "/t1/recipe/permission/roles?permission=p", None),
        ];
        for (method, path, body) in app_wide {
            let (s, text) = app.call(method, path, body).await;
            assert_eq!((s, text.as_str()), (403, FORBIDDEN), "{b:?} {method} {path}");
        }
        assert_eq!(app.json("GET", "/recipe/roles", None).await["roles"], json!(["admin"]), "nothing changed");
        assert_eq!(add(&app, "t1", "u1", "admin").await["status"], "OK");
        let (s, _) = app.call("DELETE", "/recipe/role", None).await;
        assert_eq!(s, 405);
    }
}

/// A tenant whose `coreConfig` names another schema keeps its users' roles there, while the roles
/// stay in the app's database.
#[tokio::test]
async fn a_tenant_in_another_database() {
    for b in backends() {
        if !matches!(b, Backend::Postgres) {
            continue;
        }
        let app = TestApp::spawn(b).await;
        let schema = format!("t_far_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let cc = json!({"postgresql_table_schema": schema});
        let r = app.json("PUT", "/recipe/multitenancy/tenant/v2", Some(json!({"tenantId": "far", "coreConfig": cc}))).await;
        assert_eq!(r["status"], "OK", "{r}");
        create_role(&app, "admin", Some(json!(["p"]))).await;
        let snapshot = app.state.registry.snapshot();
        let tenant = |t: &str| snapshot.get(&TenantIdentifier::new("", "public", t)).map(|t| Arc::clone(&t.storage)).unwrap();
        let (far, public) = (tenant("far"), tenant("public"));
        assert!(!Arc::ptr_eq(&far, &public), "the tenant must have its own database");

        assert_eq!(add(&app, "far", "u1", "admin").await["didUserAlreadyHaveRole"], false);
        assert_eq!(far.user_roles(TenantKey::new("public", "far"), "u1").await.unwrap(), vec!["admin".to_string()], "stored in the tenant's database");
        assert!(public.user_roles(TenantKey::new("public", "far"), "u1").await.unwrap().is_empty());
        assert_eq!(add(&app, "far", "u1", "admin").await["didUserAlreadyHaveRole"], true);
        assert_eq!(add(&app, "far", "u1", "nope").await, unknown());
        assert_eq!(add(&app, "public", "u1", "admin").await["didUserAlreadyHaveRole"], false);
        assert_eq!(roles_of(&app, "far", "u1").await["roles"], json!(["admin"]));
        assert_eq!(users_of(&app, "far", "admin").await["users"], json!(["u1"]));
        assert_eq!(users_of(&app, "far", "nope").await, unknown());
        assert_eq!(remove(&app, "far", "u1", "nope").await, unknown());
        assert_eq!(remove(&app, "far", "u1", "admin").await["didUserHaveRole"], true);
        assert_eq!(add(&app, "far", "u2", "admin").await["didUserAlreadyHaveRole"], false);

        // The role's deletion reaches the other database too.
        assert_eq!(app.json("POST", "/recipe/role/remove", Some(json!({"role": "admin"}))).await["didRoleExist"], true);
        assert_eq!(roles_of(&app, "far", "u2").await["roles"], json!([]));
        assert_eq!(roles_of(&app, "public", "u1").await["roles"], json!([]));
        assert_eq!(users_of(&app, "far", "admin").await, unknown());
    }
}
