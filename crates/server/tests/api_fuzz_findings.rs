//! Regressions for what API fuzzing (scripts/api-fuzz.sh, schemathesis) found, on every backend.

mod common;

use common::{backends, TestApp};
use serde_json::json;

/// Removing another connection-URI domain on the same database left the default domain's public
/// app without its `apps`/`tenants` rows (they are keyed by app id only): every later sign-up
/// failed a foreign key (500) and the app's users were gone.
#[tokio::test]
async fn removing_a_domain_keeps_rows_another_domain_still_uses() {
    for b in backends() {
        let app = TestApp::spawn(b).await;
        let user = json!({"email": "kept@example.com", "password": "pw-123456"});
        assert_eq!(
            app.json("POST", "/recipe/signup", Some(user.clone())).await["status"],
            "OK"
        );
        let cud = json!({"connectionUriDomain": "core-1234.example.com:3567"});
        assert_eq!(
            app.json(
                "PUT",
                "/recipe/multitenancy/connectionuridomain/v2",
                Some(cud.clone())
            )
            .await["createdNew"],
            true
        );
        let removed = app
            .json(
                "POST",
                "/recipe/multitenancy/connectionuridomain/remove",
                Some(cud),
            )
            .await;
        assert_eq!(removed, json!({"status": "OK", "didExist": true}));

        assert_eq!(
            app.json("POST", "/recipe/signin", Some(user)).await["status"],
            "OK",
            "the user survived"
        );
        let other = json!({"email": "new@example.com", "password": "pw-123456"});
        assert_eq!(
            app.json("POST", "/recipe/signup", Some(other)).await["status"],
            "OK"
        );
    }
}
