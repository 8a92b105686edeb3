//! Every API path Portcullis serves, and what the pipeline must check before calling it.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Hello,
    /// `/` (and `/<tenant>`, `/appid-x`): Hello when the tenant exists, else Not found.
    Root,
    ApiVersion,
    Config,
    Telemetry,
    EeLicense,
    EeFeatureFlag,
    CudV2,
    CudListV2,
    CudRemove,
    AppV2,
    AppListV2,
    AppRemove,
    TenantV2,
    TenantListV2,
    TenantRemove,
    ThirdPartyConfig,
    ThirdPartyConfigRemove,
    Jwks,
    JwtJwks,
    Jwt,
    JwtData,
    Session,
    SessionVerify,
    SessionRefresh,
    SessionRegenerate,
    SessionRemove,
    SessionUser,
    SessionData,
    UserById,
    Users,
    UsersCount,
    UserRemove,
    UsersByAccountInfo,
    TenantUser,
    TenantUserRemove,
    UserMetadata,
    UserMetadataRemove,
    UserMetadataBulk,
    Role,
    RolePermissions,
    RolePermissionsRemove,
    RoleRemove,
    Roles,
    PermissionRoles,
    UserRole,
    UserRoleRemove,
    UserRoles,
    RoleUsers,
}

impl Route {
    pub fn from_path(path: &str) -> Option<Route> {
        Some(match path {
            "/hello" => Route::Hello,
            "/apiversion" => Route::ApiVersion,
            "/config" => Route::Config,
            "/telemetry" => Route::Telemetry,
            "/ee/license" => Route::EeLicense,
            "/ee/featureflag" => Route::EeFeatureFlag,
            "/recipe/multitenancy/connectionuridomain/v2" => Route::CudV2,
            "/recipe/multitenancy/connectionuridomain/list/v2" => Route::CudListV2,
            "/recipe/multitenancy/connectionuridomain/remove" => Route::CudRemove,
            "/recipe/multitenancy/app/v2" => Route::AppV2,
            "/recipe/multitenancy/app/list/v2" => Route::AppListV2,
            "/recipe/multitenancy/app/remove" => Route::AppRemove,
            "/recipe/multitenancy/tenant/v2" => Route::TenantV2,
            "/recipe/multitenancy/tenant/list/v2" => Route::TenantListV2,
            "/recipe/multitenancy/tenant/remove" => Route::TenantRemove,
            "/recipe/multitenancy/config/thirdparty" => Route::ThirdPartyConfig,
            "/recipe/multitenancy/config/thirdparty/remove" => Route::ThirdPartyConfigRemove,
            "/.well-known/jwks.json" => Route::Jwks,
            "/recipe/jwt/jwks" => Route::JwtJwks,
            "/recipe/jwt" => Route::Jwt,
            "/recipe/jwt/data" => Route::JwtData,
            "/recipe/session" => Route::Session,
            "/recipe/session/verify" => Route::SessionVerify,
            "/recipe/session/refresh" => Route::SessionRefresh,
            "/recipe/session/regenerate" => Route::SessionRegenerate,
            "/recipe/session/remove" => Route::SessionRemove,
            "/recipe/session/user" => Route::SessionUser,
            "/recipe/session/data" => Route::SessionData,
            "/user/id" => Route::UserById,
            "/users" => Route::Users,
            "/users/count" => Route::UsersCount,
            "/user/remove" => Route::UserRemove,
            "/users/by-accountinfo" => Route::UsersByAccountInfo,
            "/recipe/multitenancy/tenant/user" => Route::TenantUser,
            "/recipe/multitenancy/tenant/user/remove" => Route::TenantUserRemove,
            "/recipe/user/metadata" => Route::UserMetadata,
            "/recipe/user/metadata/remove" => Route::UserMetadataRemove,
            "/recipe/user/metadata/bulk" => Route::UserMetadataBulk,
            "/recipe/role" => Route::Role,
            "/recipe/role/permissions" => Route::RolePermissions,
            "/recipe/role/permissions/remove" => Route::RolePermissionsRemove,
            "/recipe/role/remove" => Route::RoleRemove,
            "/recipe/roles" => Route::Roles,
            "/recipe/permission/roles" => Route::PermissionRoles,
            "/recipe/user/role" => Route::UserRole,
            "/recipe/user/role/remove" => Route::UserRoleRemove,
            "/recipe/user/roles" => Route::UserRoles,
            "/recipe/role/users" => Route::RoleUsers,

            _ => return None,
        })
    }

    /// Endpoints the core serves without an API key.
    pub fn needs_api_key(self) -> bool {
        !matches!(self, Route::Hello | Route::Root | Route::Config | Route::Jwks)
    }

    /// Endpoints that skip the CDI-version check.
    pub fn needs_version(self) -> bool {
        !matches!(self, Route::Hello | Route::Root | Route::ApiVersion | Route::Jwks)
    }
}
