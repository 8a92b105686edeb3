//! The APIs, one module per recipe area. Each takes the request context and returns the core's reply.

mod accountlinking;
mod core;
mod metadata;
mod multitenancy;
mod passwordless;
mod roles;
mod dashboard;
mod emailpassword;
mod emailverification;
mod session;
mod thirdparty;
mod totp;
mod useridmapping;
mod users;

use axum::http::Method;
use axum::response::Response;

use crate::http::error::ApiError;
use crate::http::routes::Route;
use crate::http::Ctx;

pub async fn dispatch(route: Route, ctx: &Ctx) -> Result<Response, ApiError> {
    use Method as M;
    use Route as R;
    match (route, &ctx.method) {
        (R::Hello, &M::GET | &M::POST | &M::PUT | &M::DELETE) => core::hello(ctx, false).await,
        (R::Health, &M::GET) => core::health(ctx).await,
        (R::SearchTags, &M::GET) => core::search_tags(ctx),
        (R::Root, &M::GET | &M::POST | &M::PUT | &M::DELETE) => core::hello(ctx, true).await,
        (R::ApiVersion, &M::GET) => core::api_version(ctx),
        (R::Config, &M::GET) => core::config(ctx),
        (R::Telemetry, &M::GET) => core::telemetry(ctx).await,
        (R::EeLicense, &M::GET | &M::PUT | &M::DELETE) => core::license(ctx),
        (R::EeFeatureFlag, &M::GET) => core::feature_flags(ctx),
        (R::CudV2, &M::PUT) => multitenancy::create_or_update_cud(ctx).await,
        (R::CudListV2, &M::GET) => multitenancy::list_cuds(ctx),
        (R::CudRemove, &M::POST) => multitenancy::remove_cud(ctx).await,
        (R::AppV2, &M::PUT) => multitenancy::create_or_update_app(ctx).await,
        (R::AppListV2, &M::GET) => multitenancy::list_apps(ctx),
        (R::AppRemove, &M::POST) => multitenancy::remove_app(ctx).await,
        (R::TenantV2, &M::PUT) => multitenancy::create_or_update_tenant(ctx).await,
        (R::TenantV2, &M::GET) => multitenancy::get_tenant(ctx),
        (R::TenantListV2, &M::GET) => multitenancy::list_tenants(ctx),
        (R::TenantRemove, &M::POST) => multitenancy::remove_tenant(ctx).await,
        (R::ThirdPartyConfig, &M::PUT) => multitenancy::create_or_update_third_party(ctx).await,
        (R::ThirdPartyConfigRemove, &M::POST) => multitenancy::remove_third_party(ctx).await,
        (R::Jwks, &M::GET) => session::jwks(ctx, false).await,
        (R::JwtJwks, &M::GET) => session::jwks(ctx, true).await,
        (R::Jwt, &M::POST) => session::create_jwt(ctx).await,
        (R::JwtData, &M::GET | &M::PUT) => session::data(ctx, true).await,
        (R::Session, &M::POST) => session::create(ctx).await,
        (R::Session, &M::GET) => session::get_info(ctx).await,
        (R::SessionVerify, &M::POST) => session::verify(ctx).await,
        (R::SessionRefresh, &M::POST) => session::refresh(ctx).await,
        (R::SessionRegenerate, &M::POST) => session::regenerate(ctx).await,
        (R::SessionRemove, &M::POST) => session::remove(ctx).await,
        (R::SessionUser, &M::GET) => session::handles_for_user(ctx).await,
        (R::SessionData, &M::GET | &M::PUT) => session::data(ctx, false).await,
        (R::UserById, &M::GET) => users::get_by_id(ctx).await,
        (R::Users, &M::GET) => users::list(ctx).await,
        (R::UsersCount, &M::GET) => users::count(ctx).await,
        (R::UserRemove, &M::POST) => users::remove(ctx).await,
        (R::UsersByAccountInfo, &M::GET) => users::by_account_info(ctx).await,
        (R::SignUp, &M::POST) => emailpassword::sign_up(ctx).await,
        (R::SignIn, &M::POST) => emailpassword::sign_in(ctx).await,
        (R::ResetToken, &M::POST) => emailpassword::create_reset_token(ctx).await,
        (R::ResetTokenConsume, &M::POST) => emailpassword::consume_reset_token(ctx).await,
        (R::RecipeUser, &M::PUT) if ctx.rid.as_deref() == Some("passwordless") => passwordless::update_user(ctx).await,
        (R::RecipeUser, &M::PUT) => emailpassword::update(ctx).await,
        (R::RecipeUser, &M::GET) if ctx.rid.as_deref() == Some("thirdparty") => thirdparty::get_user(ctx).await,
        (R::RecipeUser, &M::GET) if ctx.rid.as_deref() == Some("passwordless") => passwordless::get_user(ctx).await,
        (R::RecipeUser, &M::GET) => emailpassword::get_user(ctx).await,
        (R::PasswordlessCode, &M::POST) => passwordless::create_code(ctx).await,
        (R::PasswordlessCodeCheck, &M::POST) => passwordless::consume_code(ctx, false).await,
        (R::PasswordlessCodeConsume, &M::POST) => passwordless::consume_code(ctx, true).await,
        (R::PasswordlessCodeRemove, &M::POST) => passwordless::remove_code(ctx).await,
        (R::PasswordlessCodes, &M::GET) => passwordless::list_codes(ctx).await,
        (R::PasswordlessCodesRemove, &M::POST) => passwordless::remove_codes(ctx).await,
        (R::ThirdPartySignInUp, &M::POST) => thirdparty::sign_in_up(ctx).await,
        (R::ThirdPartyUsersByEmail, &M::GET) => thirdparty::users_by_email(ctx).await,
        (R::PasswordHashImport, &M::POST) => emailpassword::import_with_hash(ctx).await,
        (R::AccountLinkPrimary, &M::POST) => accountlinking::create_primary(ctx, false).await,
        (R::AccountLinkPrimaryCheck, &M::GET) => accountlinking::create_primary(ctx, true).await,
        (R::AccountLink, &M::POST) => accountlinking::link(ctx, false).await,
        (R::AccountLinkCheck, &M::GET) => accountlinking::link(ctx, true).await,
        (R::AccountUnlink, &M::POST) => accountlinking::unlink(ctx).await,
        (R::UserIdMap, &M::POST) => useridmapping::create(ctx).await,
        (R::UserIdMap, &M::GET) => useridmapping::get(ctx).await,
        (R::UserIdMapRemove, &M::POST) => useridmapping::remove(ctx).await,
        // The CDI says PUT (supertokens-node); supertokens-python sends POST.
        (R::ExternalUserIdInfo, &M::PUT | &M::POST) => useridmapping::update_info(ctx).await,
        (R::DashboardUser, &M::POST) => dashboard::create_user(ctx).await,
        (R::DashboardUser, &M::PUT) => dashboard::update_user(ctx).await,
        (R::DashboardUser, &M::DELETE) => dashboard::delete_user(ctx).await,
        (R::DashboardUsers, &M::GET) => dashboard::list_users(ctx).await,
        (R::DashboardUserSessions, &M::GET) => dashboard::sessions_of_user(ctx).await,
        (R::ActiveUsersCount, &M::GET) => dashboard::active_users_count(ctx).await,
        (R::DashboardSignIn, &M::POST) => dashboard::sign_in(ctx).await,
        (R::DashboardSessionVerify, &M::POST) => dashboard::verify_session(ctx).await,
        (R::DashboardSession, &M::DELETE) => dashboard::revoke_session(ctx).await,
        (R::DashboardTenantCoreConfig, &M::GET) => dashboard::tenant_core_config(ctx),
        (R::EmailVerifyToken, &M::POST) => emailverification::create_token(ctx).await,
        (R::EmailVerify, &M::POST | &M::GET) => emailverification::verify(ctx).await,
        (R::EmailVerifyRemove, &M::POST) => emailverification::unverify(ctx).await,
        (R::EmailVerifyTokenRemove, &M::POST) => emailverification::revoke_tokens(ctx).await,
        (R::TenantUser, &M::POST) => users::associate(ctx).await,
        (R::TenantUserRemove, &M::POST) => users::disassociate(ctx).await,
        (R::UserMetadata, &M::GET) => metadata::get(ctx).await,
        (R::UserMetadata, &M::PUT) => metadata::update(ctx).await,
        (R::UserMetadataRemove, &M::POST) => metadata::remove(ctx).await,
        (R::UserMetadataBulk, &M::POST) => metadata::bulk(ctx).await,
        (R::Role, &M::PUT) => roles::create_or_add_permissions(ctx).await,
        (R::RolePermissions, &M::GET) => roles::permissions(ctx).await,
        (R::RolePermissionsRemove, &M::POST) => roles::remove_permissions(ctx).await,
        (R::RoleRemove, &M::POST) => roles::remove(ctx).await,
        (R::Roles, &M::GET) => roles::all(ctx).await,
        (R::PermissionRoles, &M::GET) => roles::with_permission(ctx).await,
        (R::UserRole, &M::PUT) => roles::add_to_user(ctx).await,
        (R::UserRoleRemove, &M::POST) => roles::remove_from_user(ctx).await,
        (R::UserRoles, &M::GET) => roles::of_user(ctx).await,
        (R::RoleUsers, &M::GET) => roles::users_with(ctx).await,
        (R::TotpDevice, &M::POST) => totp::create_device(ctx).await,
        (R::TotpDevice, &M::PUT) => totp::rename_device(ctx).await,
        (R::TotpDeviceList, &M::GET) => totp::list_devices(ctx).await,
        (R::TotpDeviceRemove, &M::POST) => totp::remove_device(ctx).await,
        (R::TotpDeviceVerify, &M::POST) => totp::verify(ctx, true).await,
        (R::TotpVerify, &M::POST) => totp::verify(ctx, false).await,
        (R::TotpDeviceImport, &M::POST) => totp::import_device(ctx).await,
        (R::TotpDeviceStatusBulk, &M::POST) => totp::bulk_status(ctx).await,
        _ => Err(ApiError::MethodNotAllowed),
    }
}
