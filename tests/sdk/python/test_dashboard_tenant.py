"""The dashboard's tenant page data through supertokens-python's own API function
(recipe/dashboard/api/multitenancy/get_tenant_info), which reads
GET /<tenant>/recipe/dashboard/tenant/core-config and parses every row with
CoreConfigFieldInfo.from_json (all ten fields must be present)."""

from types import SimpleNamespace

from supertokens_python.async_to_sync_wrapper import sync
from supertokens_python.recipe.dashboard.api.multitenancy.get_tenant_info import (
    GetTenantInfoOkResult,
    get_tenant_info,
)
from supertokens_python.recipe.emailpassword.syncio import sign_up
from supertokens_python.recipe.multitenancy.interfaces import (
    TenantConfigCreateOrUpdate as Config,
)
from supertokens_python.recipe.multitenancy.syncio import create_or_update_tenant

from conftest import unique_id


def tenant_info(tenant_id: str):
    # The function reads only `recipe_id` from its options.
    options = SimpleNamespace(recipe_id="dashboard")
    return sync(get_tenant_info(None, tenant_id, options, {}))  # type: ignore[arg-type]


def test_tenant_page_lists_the_effective_core_config():
    tenant_id = unique_id()
    core_config = {"password_reset_token_lifetime": 120000, "totp_max_attempts": 7}
    create_or_update_tenant(
        tenant_id, Config(first_factors=["emailpassword"], core_config=core_config)
    )
    sign_up(tenant_id, f"{unique_id('u')}@example.com", "password-123")

    result = tenant_info(tenant_id)
    assert isinstance(result, GetTenantInfoOkResult)
    info = result.tenant
    assert info.tenant_id == tenant_id
    assert info.user_count == 1
    rows = {row.key: row for row in info.core_config}

    reset = rows["password_reset_token_lifetime"]
    assert reset.value == 120000
    assert reset.default_value == 3600000
    assert reset.value_type == "number"
    assert reset.is_different_across_tenants is True
    assert reset.is_plugin_property is False
    assert len(reset.description) > 10
    assert rows["totp_max_attempts"].value == 7

    alg = rows["password_hashing_alg"]
    assert alg.value_type == "enum"
    assert alg.possible_values == ["ARGON2", "BCRYPT"]
    assert alg.is_different_across_tenants is False

    signer = rows["firebase_password_hashing_signer_key"]
    assert signer.is_nullable is True and signer.value is None

    for secret in ("api_keys", "postgresql_password", "postgresql_connection_uri"):
        assert secret not in rows

    # The public tenant keeps the defaults.
    public = tenant_info("public")
    assert isinstance(public, GetTenantInfoOkResult)
    public_rows = {row.key: row for row in public.tenant.core_config}
    assert public_rows["password_reset_token_lifetime"].value == 3600000
