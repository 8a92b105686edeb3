"""supertokens-python 0.24.4 (CDI 3.0) end to end — PHASE 2 of issue 21 (see conftest.py).

What a CDI 3.0 app does: sign-up and sign-in reading the pre-4.0 user object (`user.email`,
`user.tenantIds`; 0.24 raises KeyError 'email' on the 4.0 object), sessions with V4 access tokens
(`tId`, no `rsub`), verify locally and with the database, refresh, payload update, session data,
revoke, and the deprecated non-v2 multitenancy APIs. Every core call must carry `cdi-version: 3.0`.
"""

import base64
import json
import secrets

import pytest

from supertokens_python.recipe.emailpassword import syncio as ep
from supertokens_python.recipe.emailpassword.interfaces import (
    SignInWrongCredentialsError,
    SignUpEmailAlreadyExistsError,
)
from supertokens_python.recipe.multitenancy import syncio as mt
from supertokens_python.recipe.multitenancy.interfaces import TenantConfig
from supertokens_python.recipe.session import syncio as session
from supertokens_python.recipe.session.exceptions import UnauthorisedError

CDI = "3.0"
EMAIL = f"old-py-{secrets.token_hex(4)}@example.com"
PASSWORD = "pass-word-1"
V4_OWN = {"sub", "exp", "iat", "tId", "sessionHandle", "refreshTokenHash1", "parentRefreshTokenHash1", "antiCsrfToken"}


def decode(token: str):
    def part(p: str):
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

    h, p, _ = token.split(".")
    return part(h), part(p)


def call(calls, method: str, suffix: str):
    found = [c for c in calls if c[0] == method and c[1].endswith(suffix)]
    assert found, f"no {method} …{suffix} in {[c[:2] for c in calls]}"
    return found[-1]


@pytest.fixture(scope="module")
def user_id():
    result = ep.sign_up("public", EMAIL, PASSWORD)
    return result.user.user_id


def test_sign_up_and_sign_in_read_the_legacy_user_object(core_calls):
    email = f"old-py-{secrets.token_hex(4)}@example.com"
    up = ep.sign_up("public", email, PASSWORD)
    assert up.user.email == email
    assert up.user.tenant_ids == ["public"]
    _, path, _, reply = call(core_calls, "POST", "/recipe/signup")
    assert path == "/public/recipe/signup"
    assert sorted(reply["user"]) == ["email", "id", "tenantIds", "timeJoined"]
    assert "recipeUserId" not in reply
    assert isinstance(ep.sign_up("public", email, PASSWORD), SignUpEmailAlreadyExistsError)
    inn = ep.sign_in("public", email, PASSWORD)
    assert inn.user.user_id == up.user.user_id
    assert inn.user.email == email
    assert isinstance(ep.sign_in("public", email, "wrong-password-1"), SignInWrongCredentialsError)


def test_session_create_verify_refresh_payload_data_revoke(user_id, core_calls):
    s = session.create_new_session_without_request_response("public", user_id, {"role": "admin"}, {"d": 1})
    tokens = s.get_all_session_tokens_dangerously()
    header, claims = decode(tokens["accessToken"])
    assert header["version"] == "4"
    assert header["kid"].startswith("d-")
    assert V4_OWN <= set(claims) and "rsub" not in claims
    assert claims["tId"] == "public" and claims["role"] == "admin"
    _, _, _, created = call(core_calls, "POST", "/recipe/session")
    assert sorted(created["session"]) == ["handle", "tenantId", "userDataInJWT", "userId"]
    assert "idRefreshToken" not in created and "jwtSigningPublicKey" not in created
    handle = s.get_handle()

    # Locally: no core call.
    before = len(core_calls)
    local = session.get_session_without_request_response(tokens["accessToken"], tokens["antiCsrfToken"])
    assert local.get_user_id() == user_id
    assert core_calls[before:] == []

    # With the database.
    checked = session.get_session_without_request_response(
        tokens["accessToken"], tokens["antiCsrfToken"], check_database=True
    )
    assert checked.get_access_token_payload()["role"] == "admin"
    _, _, body, verified = call(core_calls, "POST", "/recipe/session/verify")
    assert body["checkDatabase"] is True
    assert verified["status"] == "OK"
    assert sorted(verified["session"]) == ["handle", "tenantId", "userDataInJWT", "userId"]

    # Refresh, then the promoting verify; tokens stay V4.
    refreshed = session.refresh_session_without_request_response(tokens["refreshToken"], False, tokens["antiCsrfToken"])
    fresh = refreshed.get_all_session_tokens_dangerously()
    assert decode(fresh["accessToken"])[0]["version"] == "4"
    promoted = session.get_session_without_request_response(fresh["accessToken"], fresh["antiCsrfToken"])
    assert promoted.get_handle() == handle
    current = promoted.get_all_session_tokens_dangerously()

    # Payload update (regenerate): the V4 token comes back with the same expiry.
    promoted.sync_merge_into_access_token_payload({"k": "v"})
    regenerated = promoted.get_all_session_tokens_dangerously()["accessToken"]
    assert decode(regenerated)[0]["version"] == "4"
    assert decode(regenerated)[1]["k"] == "v"
    assert decode(regenerated)[1]["exp"] == decode(current["accessToken"])[1]["exp"]
    _, _, _, regen = call(core_calls, "POST", "/recipe/session/regenerate")
    assert sorted(regen["session"]) == ["handle", "tenantId", "userDataInJWT", "userId"]

    # Session data.
    assert session.update_session_data_in_database(handle, {"x": 2}) is True
    info = session.get_session_information(handle)
    assert info.session_data_in_database == {"x": 2}
    assert info.custom_claims_in_access_token_payload["k"] == "v"
    assert info.tenant_id == "public"
    _, _, _, got = call(core_calls, "GET", "/recipe/session")
    assert "recipeUserId" not in got and got["tenantId"] == "public"
    assert handle in session.get_all_session_handles_for_user(user_id)

    # Revoke.
    assert session.revoke_session(handle) is True
    assert session.get_session_information(handle) is None
    with pytest.raises(UnauthorisedError):
        session.refresh_session_without_request_response(fresh["refreshToken"], False, fresh["antiCsrfToken"])


def test_the_deprecated_multitenancy_apis(core_calls):
    tenant = f"t-{secrets.token_hex(4)}"
    created = mt.create_or_update_tenant(tenant, TenantConfig(email_password_enabled=True))
    assert created.created_new is True
    method, path, body, _ = call(core_calls, "PUT", "/recipe/multitenancy/tenant")
    assert path == "/recipe/multitenancy/tenant" and body["tenantId"] == tenant
    got = mt.get_tenant(tenant)
    # Below 5.0 a recipe is enabled when its switch is on and the first factors name it.
    assert got.emailpassword.enabled is True
    assert got.third_party.enabled is False
    assert got.passwordless.enabled is False
    _, path, _, reply = call(core_calls, "GET", "/recipe/multitenancy/tenant")
    assert path == f"/{tenant}/recipe/multitenancy/tenant"
    assert sorted(reply) == ["coreConfig", "emailPassword", "passwordless", "status", "tenantId", "thirdParty"]
    updated = mt.create_or_update_tenant(tenant, TenantConfig(passwordless_enabled=True))
    assert updated.created_new is False
    assert mt.get_tenant(tenant).passwordless.enabled is True
    listed = mt.list_all_tenants()
    assert tenant in [t.tenant_id for t in listed.tenants]
    assert mt.delete_tenant(tenant).did_exist is True


def test_every_core_call_spoke_cdi_3_0():
    from supertokens_python.async_to_sync_wrapper import sync
    from supertokens_python.querier import Querier

    assert sync(Querier.get_instance().get_api_version()) == CDI
