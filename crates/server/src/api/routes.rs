//! The route table: every API the server serves, one row per (method, path), with the handler,
//! the checks the pipeline applies before calling it (see `http::routes::Route`) and the name its
//! requests are counted under. The one place that knows the routes: the pipeline resolves paths
//! against it, the metrics label requests by it, and a test calls every row.

use std::sync::OnceLock;

use axum::response::Response;

use crate::http::ctx::Ctx;
use crate::http::error::ApiError;
use crate::http::routes::{Route, RouteTable};

use super::{accountlinking, bulkimport, core, dashboard, emailpassword, emailverification, metadata, multitenancy, passwordless, roles, saml, session, thirdparty, totp, useridmapping, users, webauthn};
use super::oauth;

pub static ROUTES: &[Route] = &[
    Route::get("/hello", "Hello", |c| Box::pin(core::hello(c, false))).public().any_version(),
    Route::post("/hello", "Hello", |c| Box::pin(core::hello(c, false))).public().any_version().no_body(),
    Route::put("/hello", "Hello", |c| Box::pin(core::hello(c, false))).public().any_version().no_body(),
    Route::delete("/hello", "Hello", |c| Box::pin(core::hello(c, false))).public().any_version(),
    Route::get("/health", "Health", |c| Box::pin(core::health(c))).public().any_version(),
    Route::get("/user/search/tags", "SearchTags", |c| Box::pin(async move { core::search_tags(c) })),
    Route::get("/", "Root", |c| Box::pin(core::hello(c, true))).public().any_version(),
    Route::post("/", "Root", |c| Box::pin(core::hello(c, true))).public().any_version().no_body(),
    Route::put("/", "Root", |c| Box::pin(core::hello(c, true))).public().any_version().no_body(),
    Route::delete("/", "Root", |c| Box::pin(core::hello(c, true))).public().any_version(),
    Route::get("/apiversion", "ApiVersion", |c| Box::pin(async move { core::api_version(c) })).any_version(),
    Route::get("/config", "Config", |c| Box::pin(async move { core::config(c) })).public(),
    Route::get("/telemetry", "Telemetry", |c| Box::pin(core::telemetry(c))),
    Route::get("/ee/license", "EeLicense", |c| Box::pin(async move { core::license(c) })),
    Route::put("/ee/license", "EeLicense", |c| Box::pin(async move { core::license(c) })).no_body(),
    Route::delete("/ee/license", "EeLicense", |c| Box::pin(async move { core::license(c) })),
    Route::get("/ee/featureflag", "EeFeatureFlag", |c| Box::pin(async move { core::feature_flags(c) })),
    Route::put("/recipe/multitenancy/connectionuridomain/v2", "CudV2", |c| Box::pin(multitenancy::create_or_update_cud(c))).multitenancy(),
    Route::get("/recipe/multitenancy/connectionuridomain/list/v2", "CudListV2", |c| Box::pin(async move { multitenancy::list_cuds(c) })).multitenancy(),
    Route::post("/recipe/multitenancy/connectionuridomain/remove", "CudRemove", |c| Box::pin(multitenancy::remove_cud(c))).multitenancy(),
    Route::put("/recipe/multitenancy/app/v2", "AppV2", |c| Box::pin(multitenancy::create_or_update_app(c))).multitenancy(),
    Route::get("/recipe/multitenancy/app/list/v2", "AppListV2", |c| Box::pin(async move { multitenancy::list_apps(c) })).multitenancy(),
    Route::post("/recipe/multitenancy/app/remove", "AppRemove", |c| Box::pin(multitenancy::remove_app(c))).multitenancy(),
    Route::put("/recipe/multitenancy/tenant/v2", "TenantV2", |c| Box::pin(multitenancy::create_or_update_tenant(c))).multitenancy(),
    Route::get("/recipe/multitenancy/tenant/v2", "TenantV2", |c| Box::pin(async move { multitenancy::get_tenant(c) })).multitenancy(),
    Route::get("/recipe/multitenancy/tenant/list/v2", "TenantListV2", |c| Box::pin(async move { multitenancy::list_tenants(c) })).multitenancy(),
    Route::post("/recipe/multitenancy/tenant/remove", "TenantRemove", |c| Box::pin(multitenancy::remove_tenant(c))).multitenancy(),
    // The deprecated non-v2 routes (SDKs of CDI 3.0 – 5.0).
    Route::put("/recipe/multitenancy/connectionuridomain", "Cud", |c| Box::pin(multitenancy::deprecated_create_or_update_cud(c))).multitenancy(),
    Route::get("/recipe/multitenancy/connectionuridomain/list", "CudList", |c| Box::pin(async move { multitenancy::deprecated_list_cuds(c) })).multitenancy(),
    Route::put("/recipe/multitenancy/app", "App", |c| Box::pin(multitenancy::deprecated_create_or_update_app(c))).multitenancy(),
    Route::get("/recipe/multitenancy/app/list", "AppList", |c| Box::pin(async move { multitenancy::deprecated_list_apps(c) })).multitenancy(),
    Route::put("/recipe/multitenancy/tenant", "Tenant", |c| Box::pin(multitenancy::deprecated_create_or_update_tenant(c))).multitenancy(),
    Route::get("/recipe/multitenancy/tenant", "Tenant", |c| Box::pin(async move { multitenancy::deprecated_get_tenant(c) })).multitenancy(),
    Route::get("/recipe/multitenancy/tenant/list", "TenantList", |c| Box::pin(async move { multitenancy::deprecated_list_tenants(c) })).multitenancy(),
    Route::put("/recipe/multitenancy/config/thirdparty", "ThirdPartyConfig", |c| Box::pin(multitenancy::create_or_update_third_party(c))).multitenancy(),
    Route::post("/recipe/multitenancy/config/thirdparty/remove", "ThirdPartyConfigRemove", |c| Box::pin(multitenancy::remove_third_party(c))).multitenancy(),
    Route::get("/.well-known/jwks.json", "Jwks", |c| Box::pin(session::jwks(c, false))).public().any_version(),
    Route::get("/recipe/jwt/jwks", "JwtJwks", |c| Box::pin(session::jwks(c, true))),
    Route::post("/recipe/jwt", "Jwt", |c| Box::pin(session::create_jwt(c))),
    Route::get("/recipe/jwt/data", "JwtData", |c| Box::pin(session::data(c, true))),
    Route::put("/recipe/jwt/data", "JwtData", |c| Box::pin(session::data(c, true))),
    Route::post("/recipe/session", "Session", |c| Box::pin(session::create(c))),
    Route::get("/recipe/session", "Session", |c| Box::pin(session::get_info(c))),
    Route::post("/recipe/session/verify", "SessionVerify", |c| Box::pin(session::verify(c))),
    Route::post("/recipe/handshake", "Handshake", |c| Box::pin(session::handshake(c))),
    Route::post("/recipe/session/refresh", "SessionRefresh", |c| Box::pin(session::refresh(c))),
    Route::post("/recipe/session/regenerate", "SessionRegenerate", |c| Box::pin(session::regenerate(c))),
    Route::post("/recipe/session/remove", "SessionRemove", |c| Box::pin(session::remove(c))),
    Route::get("/recipe/session/user", "SessionUser", |c| Box::pin(session::handles_for_user(c))),
    Route::get("/recipe/session/data", "SessionData", |c| Box::pin(session::data(c, false))),
    Route::put("/recipe/session/data", "SessionData", |c| Box::pin(session::data(c, false))),
    Route::get("/user/id", "UserById", |c| Box::pin(users::get_by_id(c))),
    Route::get("/users", "Users", |c| Box::pin(users::list(c))),
    Route::get("/users/count", "UsersCount", |c| Box::pin(users::count(c))),
    Route::post("/user/remove", "UserRemove", |c| Box::pin(users::remove(c))),
    Route::get("/users/by-accountinfo", "UsersByAccountInfo", |c| Box::pin(users::by_account_info(c))),
    Route::post("/recipe/signup", "SignUp", |c| Box::pin(emailpassword::sign_up(c))),
    Route::post("/recipe/signin", "SignIn", |c| Box::pin(emailpassword::sign_in(c))),
    Route::post("/recipe/user/password/reset/token", "ResetToken", |c| Box::pin(emailpassword::create_reset_token(c))),
    Route::post("/recipe/user/password/reset", "ResetPassword", |c| Box::pin(emailpassword::reset_password(c))),
    Route::post("/recipe/user/password/reset/token/consume", "ResetTokenConsume", |c| Box::pin(emailpassword::consume_reset_token(c))),
    Route::put("/recipe/user", "RecipeUser", |c| Box::pin(recipe_user_put(c))),
    Route::get("/recipe/user", "RecipeUser", |c| Box::pin(recipe_user_get(c))),
    Route::post("/recipe/signinup/code", "PasswordlessCode", |c| Box::pin(passwordless::create_code(c))),
    Route::post("/recipe/signinup/code/check", "PasswordlessCodeCheck", |c| Box::pin(passwordless::consume_code(c, false))),
    Route::post("/recipe/signinup/code/consume", "PasswordlessCodeConsume", |c| Box::pin(passwordless::consume_code(c, true))),
    Route::post("/recipe/signinup/code/remove", "PasswordlessCodeRemove", |c| Box::pin(passwordless::remove_code(c))),
    Route::get("/recipe/signinup/codes", "PasswordlessCodes", |c| Box::pin(passwordless::list_codes(c))),
    Route::post("/recipe/signinup/codes/remove", "PasswordlessCodesRemove", |c| Box::pin(passwordless::remove_codes(c))),
    Route::post("/recipe/signinup", "ThirdPartySignInUp", |c| Box::pin(thirdparty::sign_in_up(c))),
    Route::get("/recipe/users/by-email", "ThirdPartyUsersByEmail", |c| Box::pin(thirdparty::users_by_email(c))),
    Route::post("/recipe/user/passwordhash/import", "PasswordHashImport", |c| Box::pin(emailpassword::import_with_hash(c))),
    Route::post("/recipe/accountlinking/user/primary", "AccountLinkPrimary", |c| Box::pin(accountlinking::create_primary(c, false))),
    Route::get("/recipe/accountlinking/user/primary/check", "AccountLinkPrimaryCheck", |c| Box::pin(accountlinking::create_primary(c, true))),
    Route::post("/recipe/accountlinking/user/link", "AccountLink", |c| Box::pin(accountlinking::link(c, false))),
    Route::get("/recipe/accountlinking/user/link/check", "AccountLinkCheck", |c| Box::pin(accountlinking::link(c, true))),
    Route::post("/recipe/accountlinking/user/unlink", "AccountUnlink", |c| Box::pin(accountlinking::unlink(c))),
    Route::post("/recipe/userid/map", "UserIdMap", |c| Box::pin(useridmapping::create(c))),
    Route::get("/recipe/userid/map", "UserIdMap", |c| Box::pin(useridmapping::get(c))),
    Route::post("/recipe/userid/map/remove", "UserIdMapRemove", |c| Box::pin(useridmapping::remove(c))),
    Route::put("/recipe/userid/external-user-id-info", "ExternalUserIdInfo", |c| Box::pin(useridmapping::update_info(c))),
    Route::post("/recipe/userid/external-user-id-info", "ExternalUserIdInfo", |c| Box::pin(useridmapping::update_info(c))),
    Route::post("/recipe/dashboard/user", "DashboardUser", |c| Box::pin(dashboard::create_user(c))),
    Route::put("/recipe/dashboard/user", "DashboardUser", |c| Box::pin(dashboard::update_user(c))),
    Route::delete("/recipe/dashboard/user", "DashboardUser", |c| Box::pin(dashboard::delete_user(c))),
    Route::get("/recipe/dashboard/users", "DashboardUsers", |c| Box::pin(dashboard::list_users(c))),
    Route::get("/recipe/dashboard/user/sessions", "DashboardUserSessions", |c| Box::pin(dashboard::sessions_of_user(c))),
    Route::get("/users/count/active", "ActiveUsersCount", |c| Box::pin(dashboard::active_users_count(c))),
    Route::post("/recipe/dashboard/signin", "DashboardSignIn", |c| Box::pin(dashboard::sign_in(c))),
    Route::post("/recipe/dashboard/session/verify", "DashboardSessionVerify", |c| Box::pin(dashboard::verify_session(c))),
    Route::delete("/recipe/dashboard/session", "DashboardSession", |c| Box::pin(dashboard::revoke_session(c))),
    Route::get("/recipe/dashboard/tenant/core-config", "DashboardTenantCoreConfig", |c| Box::pin(async move { dashboard::tenant_core_config(c) })),
    Route::post("/recipe/user/email/verify/token", "EmailVerifyToken", |c| Box::pin(emailverification::create_token(c))),
    Route::post("/recipe/user/email/verify", "EmailVerify", |c| Box::pin(emailverification::verify(c))),
    Route::get("/recipe/user/email/verify", "EmailVerify", |c| Box::pin(emailverification::verify(c))),
    Route::post("/recipe/user/email/verify/remove", "EmailVerifyRemove", |c| Box::pin(emailverification::unverify(c))),
    Route::post("/recipe/user/email/verify/token/remove", "EmailVerifyTokenRemove", |c| Box::pin(emailverification::revoke_tokens(c))),
    Route::post("/recipe/multitenancy/tenant/user", "TenantUser", |c| Box::pin(users::associate(c))),
    Route::post("/recipe/multitenancy/tenant/user/remove", "TenantUserRemove", |c| Box::pin(users::disassociate(c))),
    Route::get("/recipe/user/metadata", "UserMetadata", |c| Box::pin(metadata::get(c))),
    Route::put("/recipe/user/metadata", "UserMetadata", |c| Box::pin(metadata::update(c))),
    Route::post("/recipe/user/metadata/remove", "UserMetadataRemove", |c| Box::pin(metadata::remove(c))),
    Route::post("/recipe/user/metadata/bulk", "UserMetadataBulk", |c| Box::pin(metadata::bulk(c))),
    Route::put("/recipe/role", "Role", |c| Box::pin(roles::create_or_add_permissions(c))),
    Route::get("/recipe/role/permissions", "RolePermissions", |c| Box::pin(roles::permissions(c))),
    Route::post("/recipe/role/permissions/remove", "RolePermissionsRemove", |c| Box::pin(roles::remove_permissions(c))),
    Route::post("/recipe/role/remove", "RoleRemove", |c| Box::pin(roles::remove(c))),
    Route::get("/recipe/roles", "Roles", |c| Box::pin(roles::all(c))),
    Route::get("/recipe/permission/roles", "PermissionRoles", |c| Box::pin(roles::with_permission(c))),
    Route::put("/recipe/user/role", "UserRole", |c| Box::pin(roles::add_to_user(c))),
    Route::post("/recipe/user/role/remove", "UserRoleRemove", |c| Box::pin(roles::remove_from_user(c))),
    Route::get("/recipe/user/roles", "UserRoles", |c| Box::pin(roles::of_user(c))),
    Route::get("/recipe/role/users", "RoleUsers", |c| Box::pin(roles::users_with(c))),
    Route::post("/recipe/totp/device", "TotpDevice", |c| Box::pin(totp::create_device(c))),
    Route::put("/recipe/totp/device", "TotpDevice", |c| Box::pin(totp::rename_device(c))),
    Route::get("/recipe/totp/device/list", "TotpDeviceList", |c| Box::pin(totp::list_devices(c))),
    Route::post("/recipe/totp/device/remove", "TotpDeviceRemove", |c| Box::pin(totp::remove_device(c))),
    Route::post("/recipe/totp/device/verify", "TotpDeviceVerify", |c| Box::pin(totp::verify(c, true))),
    Route::post("/recipe/totp/verify", "TotpVerify", |c| Box::pin(totp::verify(c, false))),
    Route::post("/recipe/totp/device/import", "TotpDeviceImport", |c| Box::pin(totp::import_device(c))),
    Route::post("/recipe/totp/device/status/bulk", "TotpDeviceStatusBulk", |c| Box::pin(totp::bulk_status(c))),
    Route::put("/recipe/saml/clients", "SamlClients", |c| Box::pin(saml::save_client(c))),
    Route::get("/recipe/saml/clients/list", "SamlClientsList", |c| Box::pin(saml::list_clients(c))),
    Route::post("/recipe/saml/clients/remove", "SamlClientsRemove", |c| Box::pin(saml::remove_client(c))),
    Route::post("/recipe/saml/login", "SamlLogin", |c| Box::pin(saml::login(c))),
    Route::post("/recipe/saml/callback", "SamlCallback", |c| Box::pin(saml::callback(c))),
    Route::post("/recipe/saml/user", "SamlUser", |c| Box::pin(saml::user(c))),
    Route::get("/.well-known/sp-metadata", "SamlSpMetadata", |c| Box::pin(saml::sp_metadata(c))).public(),
    Route::get("/recipe/saml/legacy/authorize", "SamlLegacyAuthorize", |c| Box::pin(saml::legacy_authorize(c))),
    Route::post("/recipe/saml/legacy/callback", "SamlLegacyCallback", |c| Box::pin(saml::legacy_callback(c))),
    Route::post("/recipe/saml/legacy/token", "SamlLegacyToken", |c| Box::pin(saml::legacy_token(c))).public(),
    Route::get("/recipe/saml/legacy/userinfo", "SamlLegacyUserinfo", |c| Box::pin(saml::legacy_userinfo(c))).public(),
    Route::get("/recipe/oauth/clients", "OAuthClient", |c| Box::pin(oauth::client_get(c))),
    Route::post("/recipe/oauth/clients", "OAuthClient", |c| Box::pin(oauth::client_create(c))),
    Route::put("/recipe/oauth/clients", "OAuthClient", |c| Box::pin(oauth::client_update(c))),
    Route::get("/recipe/oauth/clients/list", "OAuthClientList", |c| Box::pin(oauth::client_list(c))),
    Route::post("/recipe/oauth/clients/remove", "OAuthClientRemove", |c| Box::pin(oauth::client_remove(c))),
    Route::post("/recipe/oauth/auth", "OAuthAuth", |c| Box::pin(oauth::auth(c))),
    Route::get("/recipe/oauth/auth/requests/login", "OAuthLoginRequest", |c| Box::pin(oauth::login_request(c))),
    Route::put("/recipe/oauth/auth/requests/login/accept", "OAuthLoginAccept", |c| Box::pin(oauth::login_handle(c, true))),
    Route::put("/recipe/oauth/auth/requests/login/reject", "OAuthLoginReject", |c| Box::pin(oauth::login_handle(c, false))),
    Route::get("/recipe/oauth/auth/requests/consent", "OAuthConsentRequest", |c| Box::pin(oauth::consent_request(c))),
    Route::put("/recipe/oauth/auth/requests/consent/accept", "OAuthConsentAccept", |c| Box::pin(oauth::consent_handle(c, true))),
    Route::put("/recipe/oauth/auth/requests/consent/reject", "OAuthConsentReject", |c| Box::pin(oauth::consent_handle(c, false))),
    Route::get("/recipe/oauth/sessions/logout", "OAuthEndSession", |c| Box::pin(oauth::end_session(c))),
    Route::put("/recipe/oauth/auth/requests/logout/accept", "OAuthLogoutAccept", |c| Box::pin(oauth::logout_accept(c))),
    Route::put("/recipe/oauth/auth/requests/logout/reject", "OAuthLogoutReject", |c| Box::pin(oauth::logout_reject(c))),
    Route::post("/recipe/oauth/token", "OAuthToken", |c| Box::pin(oauth::token(c))),
    Route::post("/recipe/oauth/introspect", "OAuthIntrospect", |c| Box::pin(oauth::introspect(c))),
    Route::post("/recipe/oauth/token/revoke", "OAuthTokenRevoke", |c| Box::pin(oauth::revoke_token(c))),
    Route::post("/recipe/oauth/tokens/revoke", "OAuthTokensRevoke", |c| Box::pin(oauth::revoke_by_client(c))),
    Route::post("/recipe/oauth/session/revoke", "OAuthSessionRevoke", |c| Box::pin(oauth::revoke_by_session(c))),
    Route::post("/recipe/webauthn/options/register", "WebauthnOptionsRegister", |c| Box::pin(webauthn::register_options(c))),
    Route::post("/recipe/webauthn/options/signin", "WebauthnOptionsSignIn", |c| Box::pin(webauthn::sign_in_options(c))),
    Route::get("/recipe/webauthn/options", "WebauthnOptions", |c| Box::pin(webauthn::get_options(c))),
    Route::delete("/recipe/webauthn/options/remove", "WebauthnOptionsRemove", |c| Box::pin(webauthn::remove_options(c))),
    Route::post("/recipe/webauthn/signup", "WebauthnSignUp", |c| Box::pin(webauthn::sign_up(c))),
    Route::post("/recipe/webauthn/signin", "WebauthnSignIn", |c| Box::pin(webauthn::sign_in(c))),
    Route::put("/recipe/webauthn/user/email", "WebauthnUserEmail", |c| Box::pin(webauthn::update_email(c))),
    Route::post("/recipe/webauthn/user/recover/token", "WebauthnRecoverToken", |c| Box::pin(webauthn::create_recovery_token(c))),
    Route::post("/recipe/webauthn/user/recover/token/consume", "WebauthnRecoverTokenConsume", |c| Box::pin(webauthn::consume_recovery_token(c))),
    Route::get("/recipe/webauthn/user/recover", "WebauthnRecover", |c| Box::pin(webauthn::recovery_user(c))),
    Route::post("/recipe/webauthn/user/credential/register", "WebauthnCredentialRegister", |c| Box::pin(webauthn::register_credential(c))),
    Route::get("/recipe/webauthn/user/credential", "WebauthnCredential", |c| Box::pin(webauthn::get_credential(c))),
    Route::get("/recipe/webauthn/user/credential/list", "WebauthnCredentialList", |c| Box::pin(webauthn::list_credentials(c))),
    Route::delete("/recipe/webauthn/user/credential/remove", "WebauthnCredentialRemove", |c| Box::pin(webauthn::remove_credential(c))),
    // Bulk import (app-wide: the public tenant's queue).
    Route::post("/bulk-import/users", "BulkImportUsers", |c| Box::pin(bulkimport::add(c))).large_body(),
    Route::get("/bulk-import/users", "BulkImportUsers", |c| Box::pin(bulkimport::list(c))),
    Route::get("/bulk-import/users/count", "BulkImportCount", |c| Box::pin(bulkimport::count(c))),
    Route::post("/bulk-import/users/remove", "BulkImportRemove", |c| Box::pin(bulkimport::remove(c))),
    Route::post("/bulk-import/import", "BulkImportImport", |c| Box::pin(bulkimport::import(c))),
];

/// The table indexed by path, built once.
pub fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| RouteTable::new(ROUTES))
}

/// `PUT /recipe/user` serves two recipes, told apart by the `rid` header.
async fn recipe_user_put(c: &Ctx) -> Result<Response, ApiError> {
    match c.rid.as_deref() {
        Some("passwordless") => passwordless::update_user(c).await,
        _ => emailpassword::update(c).await,
    }
}

/// `GET /recipe/user` (deprecated) serves three recipes, told apart by the `rid` header.
async fn recipe_user_get(c: &Ctx) -> Result<Response, ApiError> {
    match c.rid.as_deref() {
        Some("thirdparty") => thirdparty::get_user(c).await,
        Some("passwordless") => passwordless::get_user(c).await,
        _ => emailpassword::get_user(c).await,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    #[test]
    fn the_rows_of_a_path_agree_on_its_checks_and_name() {
        let mut seen: HashMap<&str, &Route> = HashMap::new();
        for row in ROUTES {
            assert_eq!(row.path, row.path.to_lowercase(), "paths are matched lower-cased");
            assert!(row.path.starts_with('/') && (row.path == "/" || !row.path.ends_with('/')), "{}", row.path);
            match seen.get(row.path) {
                None => {
                    seen.insert(row.path, row);
                }
                Some(first) => {
                    assert_eq!(first.metric, row.metric, "{}", row.path);
                    assert_eq!(
                        (first.needs_api_key, first.needs_version, first.is_multitenancy),
                        (row.needs_api_key, row.needs_version, row.is_multitenancy),
                        "{}",
                        row.path
                    );
                    assert_ne!(first.method, row.method, "{} twice", row.path);
                }
            }
        }
        let names: HashSet<&str> = ROUTES.iter().map(|r| r.metric).collect();
        assert_eq!(names.len(), seen.len(), "one metric name per path");
        assert_eq!(table().metric_names().len(), seen.len());
    }
}
