"""Tenant CRUD through supertokens_python.recipe.multitenancy.syncio."""

import json

import pytest
from supertokens_python.recipe.multitenancy.interfaces import (
    TenantConfigCreateOrUpdate as Config,
)
from supertokens_python.recipe.multitenancy.syncio import (
    create_or_update_tenant,
    delete_tenant,
    get_tenant,
    list_all_tenants,
)

from conftest import unique_id

# The six first factors of the "managing tenants" guide.
ALL_FIRST_FACTORS = [
    "emailpassword",
    "thirdparty",
    "otp-email",
    "otp-phone",
    "link-phone",
    "link-email",
]


def sorted_or_none(values):
    return None if values is None else sorted(values)


def test_create_then_update_with_first_factors():
    tenant_id = unique_id()

    created = create_or_update_tenant(tenant_id, Config(first_factors=ALL_FIRST_FACTORS))
    assert created.status == "OK"
    assert created.created_new is True

    tenant = get_tenant(tenant_id)
    assert tenant is not None
    assert tenant.tenant_id == tenant_id
    assert sorted(tenant.first_factors) == sorted(ALL_FIRST_FACTORS)
    assert tenant.required_secondary_factors is None
    assert tenant.core_config == {}
    assert tenant.third_party_providers == []

    updated = create_or_update_tenant(tenant_id, Config(first_factors=["emailpassword"]))
    assert updated.status == "OK"
    assert updated.created_new is False
    assert get_tenant(tenant_id).first_factors == ["emailpassword"]


def test_core_config_round_trips_exactly():
    tenant_id = unique_id()
    core_config = {
        "email_verification_token_lifetime": 7200000,
        "password_reset_token_lifetime": 3600000,
    }

    assert create_or_update_tenant(tenant_id, Config(core_config=core_config)).created_new

    tenant = get_tenant(tenant_id)
    assert tenant.core_config == core_config
    # Same JSON, not just equal numbers: 7200000 must not come back as 7200000.0 or "7200000".
    assert json.dumps(tenant.core_config, sort_keys=True) == json.dumps(core_config, sort_keys=True)


def test_core_config_updates_merge_and_null_removes_a_key():
    tenant_id = unique_id()
    create_or_update_tenant(
        tenant_id,
        Config(
            core_config={
                "email_verification_token_lifetime": 7200000,
                "password_reset_token_lifetime": 3600000,
            }
        ),
    )

    # The SDK always sends coreConfig; an empty object changes nothing.
    create_or_update_tenant(tenant_id, Config(first_factors=["emailpassword"]))
    assert get_tenant(tenant_id).core_config == {
        "email_verification_token_lifetime": 7200000,
        "password_reset_token_lifetime": 3600000,
    }

    # Keys not mentioned are kept; a key set to None is removed.
    create_or_update_tenant(
        tenant_id,
        Config(
            core_config={
                "password_reset_token_lifetime": None,
                "passwordless_code_lifetime": 60000,
            }
        ),
    )
    assert get_tenant(tenant_id).core_config == {
        "email_verification_token_lifetime": 7200000,
        "passwordless_code_lifetime": 60000,
    }


def test_first_factors_absent_none_empty_and_list():
    # A new tenant created without firstFactors enables no login method: [].
    tenant_id = unique_id()
    assert create_or_update_tenant(tenant_id, Config()).created_new
    assert get_tenant(tenant_id).first_factors == []

    # Same with no config at all (the SDK then sends only the tenant id).
    bare_id = unique_id()
    assert create_or_update_tenant(bare_id, None).created_new
    assert get_tenant(bare_id).first_factors == []

    # None: every login method is allowed; the field is absent from the reply.
    create_or_update_tenant(tenant_id, Config(first_factors=None))
    assert get_tenant(tenant_id).first_factors is None

    # An update that does not mention first factors leaves them as they are.
    create_or_update_tenant(tenant_id, Config(core_config={"passwordless_code_lifetime": 60000}))
    assert get_tenant(tenant_id).first_factors is None

    # []: no login method.
    create_or_update_tenant(tenant_id, Config(first_factors=[]))
    assert get_tenant(tenant_id).first_factors == []

    # A list: exactly those.
    create_or_update_tenant(tenant_id, Config(first_factors=["otp-email", "thirdparty"]))
    assert sorted(get_tenant(tenant_id).first_factors) == ["otp-email", "thirdparty"]

    create_or_update_tenant(tenant_id, Config(first_factors=ALL_FIRST_FACTORS))
    assert sorted(get_tenant(tenant_id).first_factors) == sorted(ALL_FIRST_FACTORS)


def test_required_secondary_factors_set_kept_and_cleared():
    tenant_id = unique_id()
    create_or_update_tenant(
        tenant_id,
        Config(first_factors=["emailpassword"], required_secondary_factors=["otp-email", "totp"]),
    )
    tenant = get_tenant(tenant_id)
    assert sorted(tenant.required_secondary_factors) == ["otp-email", "totp"]
    assert tenant.first_factors == ["emailpassword"]

    # Not mentioned: unchanged.
    create_or_update_tenant(tenant_id, Config(first_factors=["thirdparty"]))
    tenant = get_tenant(tenant_id)
    assert sorted(tenant.required_secondary_factors) == ["otp-email", "totp"]
    assert tenant.first_factors == ["thirdparty"]

    create_or_update_tenant(tenant_id, Config(required_secondary_factors=["totp"]))
    assert get_tenant(tenant_id).required_secondary_factors == ["totp"]

    # None clears them; the first factors stay.
    create_or_update_tenant(tenant_id, Config(required_secondary_factors=None))
    tenant = get_tenant(tenant_id)
    assert tenant.required_secondary_factors is None
    assert tenant.first_factors == ["thirdparty"]


def test_get_tenant_unknown_is_none():
    assert get_tenant(unique_id("missing")) is None


def test_get_public_tenant():
    tenant = get_tenant("public")
    assert tenant is not None
    assert tenant.tenant_id == "public"
    assert isinstance(tenant.core_config, dict)


def test_list_all_tenants():
    first, second = unique_id(), unique_id()
    create_or_update_tenant(first, Config(first_factors=["emailpassword"]))
    create_or_update_tenant(
        second,
        Config(
            first_factors=None,
            required_secondary_factors=["totp"],
            core_config={"password_reset_token_lifetime": 3600000},
        ),
    )

    result = list_all_tenants()
    assert result.status == "OK"
    by_id = {t.tenant_id: t for t in result.tenants}
    assert len(by_id) == len(result.tenants), "a tenant is listed twice"
    assert {"public", first, second} <= set(by_id)

    assert by_id[first].first_factors == ["emailpassword"]
    assert by_id[first].required_secondary_factors is None
    assert by_id[first].core_config == {}
    assert by_id[first].third_party_providers == []

    assert by_id[second].first_factors is None
    assert by_id[second].required_secondary_factors == ["totp"]
    assert by_id[second].core_config == {"password_reset_token_lifetime": 3600000}


def test_delete_tenant():
    tenant_id = unique_id()
    create_or_update_tenant(tenant_id, Config(first_factors=["emailpassword"]))

    first = delete_tenant(tenant_id)
    assert first.status == "OK"
    assert first.did_exist is True
    assert get_tenant(tenant_id) is None
    assert tenant_id not in {t.tenant_id for t in list_all_tenants().tenants}

    assert delete_tenant(tenant_id).did_exist is False

    # The id can be used again, for a new tenant.
    assert create_or_update_tenant(tenant_id, Config(first_factors=[])).created_new is True


@pytest.mark.parametrize("bad_id", ["bad id!", "Bad_Tenant", "appid-x", "recipe", ""])
def test_invalid_tenant_id_is_rejected_with_400(bad_id):
    with pytest.raises(Exception, match="status code: 400"):
        create_or_update_tenant(bad_id, Config(first_factors=["emailpassword"]))


def test_deleting_public_tenant_is_refused_with_403():
    with pytest.raises(Exception, match="status code: 403"):
        delete_tenant("public")
