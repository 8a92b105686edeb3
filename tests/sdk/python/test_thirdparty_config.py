"""Per-tenant third-party provider configs through the multitenancy syncio functions."""

import pytest
from supertokens_python.recipe.multitenancy.interfaces import (
    TenantConfigCreateOrUpdate as Config,
)
from supertokens_python.recipe.multitenancy.syncio import (
    create_or_update_tenant,
    create_or_update_third_party_config,
    delete_tenant,
    delete_third_party_config,
    get_tenant,
    list_all_tenants,
)
from supertokens_python.recipe.thirdparty.provider import (
    ProviderClientConfig,
    ProviderConfig,
    UserFields,
    UserInfoMap,
)

from conftest import unique_id


def new_tenant() -> str:
    tenant_id = unique_id()
    create_or_update_tenant(tenant_id, Config(first_factors=["thirdparty"]))
    return tenant_id


def oauth_provider(name: str = "Custom Provider") -> ProviderConfig:
    """The guide's 'OAuth endpoints' example, with two clients and every optional field."""
    return ProviderConfig(
        third_party_id="custom",
        name=name,
        clients=[
            ProviderClientConfig(
                client_id="web-client-id",
                client_secret="web-client-secret",
                client_type="web",
                scope=["email", "profile"],
            ),
            ProviderClientConfig(
                client_id="mobile-client-id",
                client_type="mobile",
                scope=["email"],
                force_pkce=True,
                additional_config={"someKey": "someValue", "nested": {"n": 1}},
            ),
        ],
        authorization_endpoint="https://example.com/oauth/authorize",
        authorization_endpoint_query_params={"someKey1": "value1", "someKey2": None},
        token_endpoint="https://example.com/oauth/token",
        token_endpoint_body_params={"someKey1": "value1"},
        user_info_endpoint="https://example.com/oauth/userinfo",
        user_info_endpoint_query_params={"fields": "id,email", "drop": None},
        user_info_endpoint_headers={"x-extra": "1", "x-drop": None},
        jwks_uri="https://example.com/oauth/jwks",
        user_info_map=UserInfoMap(
            from_user_info_api=UserFields(
                user_id="id", email="email", email_verified="email_verified"
            )
        ),
        require_email=False,
    )


def oidc_provider() -> ProviderConfig:
    """The guide's 'OpenID Connect endpoints' example."""
    return ProviderConfig(
        third_party_id="custom-oidc",
        name="Custom OIDC Provider",
        clients=[
            ProviderClientConfig(
                client_id="oidc-client-id",
                client_secret="oidc-client-secret",
                scope=["email", "profile"],
            )
        ],
        oidc_discovery_endpoint="https://example.com/.well-known/openid-configuration",
        authorization_endpoint_query_params={"someKey1": "value1", "someKey2": None},
        user_info_map=UserInfoMap(
            from_id_token_payload=UserFields(
                user_id="id", email="email", email_verified="email_verified"
            )
        ),
    )


def as_comparable(provider: ProviderConfig) -> dict:
    """The provider's JSON with the defaults the SDK fills in when reading made explicit.

    When the SDK parses a provider it sets forcePKCE=False and requireEmail=True if absent
    and always builds both halves of userInfoMap; client order is not significant.
    """
    data = provider.to_json()
    data.setdefault("requireEmail", True)
    clients = []
    for client in data.get("clients", []):
        client = dict(client)
        client.setdefault("forcePKCE", False)
        clients.append(client)
    data["clients"] = sorted(clients, key=lambda c: c.get("clientType") or "")
    user_info_map = {k: v for k, v in data.get("userInfoMap", {}).items() if v}
    if user_info_map:
        data["userInfoMap"] = user_info_map
    else:
        data.pop("userInfoMap", None)
    return data


def providers_of(tenant_id: str) -> dict:
    tenant = get_tenant(tenant_id)
    assert tenant is not None
    return {p.third_party_id: p for p in tenant.third_party_providers}


def test_oauth_provider_round_trips():
    tenant_id = new_tenant()
    sent = oauth_provider()

    result = create_or_update_third_party_config(tenant_id, sent)
    assert result.status == "OK"
    assert result.created_new is True

    stored = providers_of(tenant_id)
    assert list(stored) == ["custom"]
    got = stored["custom"]
    assert as_comparable(got) == as_comparable(sent)

    # The spelled-out essentials, so a failure reads clearly.
    assert got.name == "Custom Provider"
    assert got.authorization_endpoint_query_params == {"someKey1": "value1", "someKey2": None}
    assert got.user_info_endpoint_headers == {"x-extra": "1", "x-drop": None}
    assert got.require_email is False
    clients = {c.client_type: c for c in got.clients}
    assert set(clients) == {"web", "mobile"}
    assert clients["web"].client_id == "web-client-id"
    assert clients["web"].client_secret == "web-client-secret"
    assert clients["web"].scope == ["email", "profile"]
    assert clients["mobile"].client_secret is None
    assert clients["mobile"].force_pkce is True
    assert clients["mobile"].additional_config == {"someKey": "someValue", "nested": {"n": 1}}
    assert got.user_info_map.from_user_info_api.user_id == "id"
    assert got.user_info_map.from_user_info_api.email_verified == "email_verified"


def test_updating_a_provider_replaces_it():
    tenant_id = new_tenant()
    assert create_or_update_third_party_config(tenant_id, oauth_provider()).created_new is True

    replacement = ProviderConfig(
        third_party_id="custom",
        name="Renamed",
        clients=[ProviderClientConfig(client_id="only-client")],
        authorization_endpoint="https://example.org/authorize",
        token_endpoint="https://example.org/token",
        user_info_endpoint="https://example.org/userinfo",
    )
    again = create_or_update_third_party_config(tenant_id, replacement)
    assert again.status == "OK"
    assert again.created_new is False

    stored = providers_of(tenant_id)
    assert list(stored) == ["custom"]
    got = stored["custom"]
    assert as_comparable(got) == as_comparable(replacement)
    # Fields of the old config are gone, not merged in.
    assert got.authorization_endpoint_query_params is None
    assert got.jwks_uri is None
    assert got.require_email is True


def test_oidc_provider_round_trips_next_to_oauth_provider():
    tenant_id = new_tenant()
    create_or_update_third_party_config(tenant_id, oauth_provider())

    # skip_validation: nothing may fetch the discovery endpoint (there is no network here).
    result = create_or_update_third_party_config(tenant_id, oidc_provider(), skip_validation=True)
    assert result.created_new is True

    stored = providers_of(tenant_id)
    assert set(stored) == {"custom", "custom-oidc"}
    got = stored["custom-oidc"]
    assert as_comparable(got) == as_comparable(oidc_provider())
    assert got.oidc_discovery_endpoint == "https://example.com/.well-known/openid-configuration"
    assert got.authorization_endpoint is None
    assert got.user_info_map.from_id_token_payload.email == "email"

    listed = {t.tenant_id: t for t in list_all_tenants().tenants}[tenant_id]
    assert {p.third_party_id for p in listed.third_party_providers} == {"custom", "custom-oidc"}


def test_providers_belong_to_their_tenant():
    with_provider, without = new_tenant(), new_tenant()
    create_or_update_third_party_config(with_provider, oauth_provider())
    assert providers_of(without) == {}
    # The same id in another tenant is a new config there.
    assert create_or_update_third_party_config(without, oidc_provider()).created_new is True


def test_delete_third_party_config():
    tenant_id = new_tenant()
    create_or_update_third_party_config(tenant_id, oauth_provider())
    create_or_update_third_party_config(tenant_id, oidc_provider())

    first = delete_third_party_config(tenant_id, "custom")
    assert first.status == "OK"
    assert first.did_config_exist is True
    assert set(providers_of(tenant_id)) == {"custom-oidc"}

    assert delete_third_party_config(tenant_id, "custom").did_config_exist is False
    assert set(providers_of(tenant_id)) == {"custom-oidc"}

    # The tenant itself is untouched.
    assert get_tenant(tenant_id).first_factors == ["thirdparty"]


def test_deleting_a_tenant_removes_its_providers():
    tenant_id = new_tenant()
    create_or_update_third_party_config(tenant_id, oauth_provider())
    assert delete_tenant(tenant_id).did_exist is True

    create_or_update_tenant(tenant_id, Config(first_factors=["thirdparty"]))
    assert providers_of(tenant_id) == {}


def test_provider_on_unknown_tenant_is_rejected_with_400():
    with pytest.raises(Exception, match="status code: 400"):
        create_or_update_third_party_config(unique_id("missing"), oauth_provider())


def test_duplicate_client_type_is_rejected_with_400():
    tenant_id = new_tenant()
    provider = ProviderConfig(
        third_party_id="custom",
        clients=[
            ProviderClientConfig(client_id="a", client_type="web"),
            ProviderClientConfig(client_id="b", client_type="web"),
        ],
        authorization_endpoint="https://example.com/authorize",
    )
    with pytest.raises(Exception, match="status code: 400"):
        create_or_update_third_party_config(tenant_id, provider)
    assert providers_of(tenant_id) == {}
