"""Third-party sign-in-up through supertokens_python: manually_create_or_update_user (create,
sign in, email follows the provider, per tenant), users by third-party account, and the tenant's
custom provider from the core (get_provider)."""

from supertokens_python.recipe.multitenancy.interfaces import TenantConfigCreateOrUpdate
from supertokens_python.recipe.multitenancy.syncio import (
    create_or_update_tenant,
    create_or_update_third_party_config,
)
from supertokens_python.recipe.thirdparty.interfaces import ManuallyCreateOrUpdateUserOkResult
from supertokens_python.recipe.thirdparty.provider import (
    ProviderClientConfig,
    ProviderConfig,
    UserFields,
    UserInfoMap,
)
from supertokens_python.recipe.thirdparty.syncio import get_provider, manually_create_or_update_user
from supertokens_python.syncio import delete_user, get_user, list_users_by_account_info
from supertokens_python.types.base import AccountInfoInput
from supertokens_python.recipe.thirdparty.types import ThirdPartyInfo

from conftest import unique_id


def new_tenant() -> str:
    tenant = unique_id("t")
    create_or_update_tenant(tenant, TenantConfigCreateOrUpdate(first_factors=["thirdparty"]))
    return tenant


def test_manually_create_or_update_user():
    tenant = new_tenant()
    provider_user = unique_id("g")
    made = manually_create_or_update_user(tenant, "google", provider_user, "Ann@Example.com", False)
    assert isinstance(made, ManuallyCreateOrUpdateUserOkResult)
    assert made.created_new_recipe_user
    assert made.user.emails == ["ann@example.com"]
    assert [(t.id, t.user_id) for t in made.user.third_party] == [("google", provider_user)]

    again = manually_create_or_update_user(tenant, "google", provider_user, "new@example.com", False)
    assert isinstance(again, ManuallyCreateOrUpdateUserOkResult)
    assert not again.created_new_recipe_user
    assert again.user.id == made.user.id and again.user.emails == ["new@example.com"]

    found = list_users_by_account_info(tenant, AccountInfoInput(third_party=ThirdPartyInfo(provider_user, "google")))
    assert [u.id for u in found] == [made.user.id]
    elsewhere = manually_create_or_update_user("public", "google", provider_user, "new@example.com", False)
    assert isinstance(elsewhere, ManuallyCreateOrUpdateUserOkResult)
    assert elsewhere.created_new_recipe_user and elsewhere.user.id != made.user.id

    delete_user(made.user.id)
    assert get_user(made.user.id) is None


def test_get_provider_reads_the_tenant_config():
    tenant = new_tenant()
    create_or_update_third_party_config(
        tenant,
        ProviderConfig(
            third_party_id="mock",
            name="Mock",
            clients=[ProviderClientConfig(client_id="mock-client", client_secret="mock-secret")],
            authorization_endpoint="http://127.0.0.1:1/authorize",
            token_endpoint="http://127.0.0.1:1/token",
            user_info_endpoint="http://127.0.0.1:1/userinfo",
            user_info_map=UserInfoMap(from_user_info_api=UserFields(user_id="uid", email="mail")),
        ),
    )
    provider = get_provider(tenant, "mock")
    assert provider is not None
    assert provider.id == "mock"
    assert provider.config.token_endpoint == "http://127.0.0.1:1/token"
    assert provider.config.client_id == "mock-client"
    assert get_provider(tenant, "unknown") is None
