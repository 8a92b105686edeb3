"""Sessions through supertokens_python.recipe.session.syncio, with the session-wide
configuration of conftest.py: dynamic signing keys and no anti-CSRF (the SDK's default
for a same-site API and website). Other configurations are in test_session_config.py.
"""

import time

import pytest
from supertokens_python.recipe.multitenancy.interfaces import (
    TenantConfigCreateOrUpdate as Config,
)
from supertokens_python.recipe.multitenancy.syncio import create_or_update_tenant
from supertokens_python.recipe.session.exceptions import (
    TokenTheftError,
    UnauthorisedError,
)
from supertokens_python.recipe.session.syncio import (
    get_all_session_handles_for_user,
    get_session_information,
    get_session_without_request_response,
    merge_into_access_token_payload,
    refresh_session_without_request_response,
    revoke_all_sessions_for_user,
    revoke_multiple_sessions,
    revoke_session,
    update_session_data_in_database,
)

from conftest import unique_id
from session_helpers import (
    ISSUER,
    PROTECTED_CLAIMS,
    REFRESH_VALIDITY_MS,
    UUID_V4,
    claims_of,
    front_token_of,
    header_of,
    jwks,
    new_session,
    now_ms,
    sha256hex,
    tokens_of,
    verified_claims,
)


def new_tenant() -> str:
    tenant_id = unique_id()
    assert create_or_update_tenant(tenant_id, Config(first_factors=None)).created_new
    return tenant_id


def paths(calls):
    return [(method, path) for method, path, _, _ in calls]


def test_create_session_mints_v5_tokens(portcullis, sdk, core_calls):
    user_id = unique_id("user")
    before = now_ms()
    session = new_session(user_id=user_id, payload={"role": "admin", "n": 1}, data={"db": "x"})
    after = now_ms()

    # What was sent and answered.
    (_, _, body, reply), = [c for c in core_calls if c[1] == "/public/recipe/session"]
    assert body == {
        "userId": user_id,
        "userDataInJWT": {"role": "admin", "n": 1, "iss": ISSUER},
        "userDataInDatabase": {"db": "x"},
        "useDynamicSigningKey": True,
        "enableAntiCsrf": False,
    }
    assert reply["status"] == "OK"
    assert "antiCsrfToken" not in reply
    assert reply["session"] == {
        "handle": session.get_handle(),
        "userId": user_id,
        "recipeUserId": user_id,
        "userDataInJWT": {"role": "admin", "n": 1, "iss": ISSUER},
        "tenantId": "public",
    }

    handle = session.get_handle()
    assert UUID_V4.match(handle), handle
    assert session.get_user_id() == user_id
    assert session.get_recipe_user_id().get_as_string() == user_id
    assert session.get_tenant_id() == "public"

    tokens = tokens_of(session)
    assert tokens["antiCsrfToken"] is None
    assert tokens["accessAndFrontTokenUpdated"] is True
    refresh_token = tokens["refreshToken"]
    assert refresh_token.endswith(".V2") and len(refresh_token.split(".")) == 3

    access_token = tokens["accessToken"]
    header = header_of(access_token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["version"] == "5"
    assert header["kid"].startswith("d-")

    claims = claims_of(access_token)
    assert list(claims)[: len(PROTECTED_CLAIMS)] == PROTECTED_CLAIMS
    assert claims["sub"] == user_id and claims["rsub"] == user_id
    assert claims["tId"] == "public"
    assert claims["sessionHandle"] == handle
    assert claims["refreshTokenHash1"] == sha256hex(refresh_token)
    assert claims["parentRefreshTokenHash1"] is None
    assert claims["antiCsrfToken"] is None
    assert {k: claims[k] for k in ("role", "n", "iss")} == {"role": "admin", "n": 1, "iss": ISSUER}
    assert before // 1000 <= claims["iat"] <= after // 1000
    # 3600 s by default, shortened by at most 5 % of jitter.
    assert 3600 * 0.95 - 1 <= claims["exp"] - claims["iat"] <= 3600
    assert reply["accessToken"] == {
        "token": access_token,
        "expiry": claims["exp"] * 1000,
        "createdTime": claims["iat"] * 1000,
    }
    assert reply["refreshToken"]["token"] == refresh_token
    assert before <= reply["refreshToken"]["createdTime"] <= after
    assert reply["refreshToken"]["expiry"] == reply["refreshToken"]["createdTime"] + REFRESH_VALIDITY_MS

    # The signature checks out against the app's published keys.
    assert verified_claims(access_token, jwks(portcullis, sdk)) == claims

    front = front_token_of(tokens["frontToken"])
    assert front["uid"] == user_id and front["ate"] == claims["exp"] * 1000
    assert front["up"] == claims

    info = get_session_information(handle)
    assert info.session_handle == handle
    assert info.user_id == user_id
    assert info.recipe_user_id.get_as_string() == user_id
    assert info.tenant_id == "public"
    assert info.session_data_in_database == {"db": "x"}
    assert info.custom_claims_in_access_token_payload == {"role": "admin", "n": 1, "iss": ISSUER}
    assert info.time_created == reply["refreshToken"]["createdTime"]
    assert info.expiry == reply["refreshToken"]["expiry"]


def test_session_in_a_second_tenant(portcullis, sdk):
    tenant_id = new_tenant()
    user_id = unique_id("user")
    in_public = new_session(user_id=user_id)
    in_tenant = new_session(tenant_id=tenant_id, user_id=user_id, payload={"t": tenant_id})

    # Handles of non-public sessions end with _<tenantId>.
    handle = in_tenant.get_handle()
    assert handle.endswith("_" + tenant_id)
    assert UUID_V4.match(handle[: -len(tenant_id) - 1])
    assert in_tenant.get_tenant_id() == tenant_id
    claims = claims_of(tokens_of(in_tenant)["accessToken"])
    assert claims["tId"] == tenant_id and claims["t"] == tenant_id

    verified = get_session_without_request_response(tokens_of(in_tenant)["accessToken"])
    assert verified.get_handle() == handle and verified.get_tenant_id() == tenant_id
    checked = get_session_without_request_response(
        tokens_of(in_tenant)["accessToken"], check_database=True
    )
    assert checked.get_tenant_id() == tenant_id

    info = get_session_information(handle)
    assert info.tenant_id == tenant_id
    assert info.custom_claims_in_access_token_payload == {"t": tenant_id, "iss": ISSUER}

    # Listing: per tenant, or across tenants when no tenant is given.
    assert get_all_session_handles_for_user(user_id, tenant_id=tenant_id) == [handle]
    assert get_all_session_handles_for_user(user_id, tenant_id="public") == [in_public.get_handle()]
    assert sorted(get_all_session_handles_for_user(user_id)) == sorted(
        [handle, in_public.get_handle()]
    )

    # Refreshing keeps the tenant.
    refreshed = refresh_session_without_request_response(tokens_of(in_tenant)["refreshToken"])
    assert refreshed.get_handle() == handle
    assert refreshed.get_tenant_id() == tenant_id
    assert claims_of(tokens_of(refreshed)["accessToken"])["tId"] == tenant_id

    # Revoking in one tenant leaves the other one alone.
    assert revoke_all_sessions_for_user(user_id, tenant_id=tenant_id) == [handle]
    assert get_session_information(handle) is None
    assert get_all_session_handles_for_user(user_id) == [in_public.get_handle()]


def test_get_session_verifies_locally_unless_asked_to_check_the_database(core_calls):
    session = new_session(payload={"k": "v"})
    access_token = tokens_of(session)["accessToken"]
    core_calls.clear()

    local = get_session_without_request_response(access_token)
    assert core_calls == []  # signature checked with the JWKS, no core call
    assert local.get_handle() == session.get_handle()
    assert local.get_user_id() == session.get_user_id()
    assert local.get_access_token_payload()["k"] == "v"
    assert tokens_of(local)["accessAndFrontTokenUpdated"] is False

    checked = get_session_without_request_response(access_token, check_database=True)
    assert paths(core_calls) == [("POST", "/recipe/session/verify")]
    _, _, body, reply = core_calls[0]
    assert body == {
        "accessToken": access_token,
        "doAntiCsrfCheck": True,
        "enableAntiCsrf": False,
        "checkDatabase": True,
    }
    assert reply["status"] == "OK"
    # Nothing changed, so no new access token.
    assert "accessToken" not in reply
    assert reply["session"] == {
        "handle": session.get_handle(),
        "userId": session.get_user_id(),
        "recipeUserId": session.get_user_id(),
        "userDataInJWT": {"k": "v", "iss": ISSUER},
        "tenantId": "public",
    }
    assert checked.get_handle() == session.get_handle()
    assert tokens_of(checked)["accessAndFrontTokenUpdated"] is False


def test_malformed_access_token_is_unauthorised():
    with pytest.raises(UnauthorisedError):
        get_session_without_request_response("not-a-jwt")
    assert get_session_without_request_response("not-a-jwt", session_required=False) is None


def test_revoked_session_fails_only_when_the_database_is_checked():
    session = new_session()
    access_token = tokens_of(session)["accessToken"]
    assert revoke_session(session.get_handle()) is True
    assert revoke_session(session.get_handle()) is False
    assert get_session_information(session.get_handle()) is None

    # The access token is still validly signed and unexpired: local checks accept it.
    assert get_session_without_request_response(access_token).get_handle() == session.get_handle()
    with pytest.raises(UnauthorisedError):
        get_session_without_request_response(access_token, check_database=True)
    with pytest.raises(UnauthorisedError):
        refresh_session_without_request_response(tokens_of(session)["refreshToken"])


def test_refresh_then_verify_promotes_the_child(core_calls):
    session = new_session(payload={"k": 1})
    old_refresh = tokens_of(session)["refreshToken"]
    first_created = claims_of(tokens_of(session)["accessToken"])["iat"]

    refreshed = refresh_session_without_request_response(old_refresh)
    (_, _, body, reply), = [c for c in core_calls if c[1] == "/recipe/session/refresh"]
    assert body == {
        "refreshToken": old_refresh,
        "enableAntiCsrf": False,
        "useDynamicSigningKey": True,
    }
    assert reply["status"] == "OK" and "antiCsrfToken" not in reply
    assert reply["session"]["handle"] == session.get_handle()
    assert reply["session"]["userDataInJWT"] == {"k": 1, "iss": ISSUER}

    assert refreshed.get_handle() == session.get_handle()
    new_refresh = tokens_of(refreshed)["refreshToken"]
    assert new_refresh != old_refresh and new_refresh.endswith(".V2")
    child_access = tokens_of(refreshed)["accessToken"]
    claims = claims_of(child_access)
    assert claims["refreshTokenHash1"] == sha256hex(new_refresh)
    assert claims["parentRefreshTokenHash1"] == sha256hex(old_refresh)
    assert claims["k"] == 1 and claims["iat"] >= first_created
    assert header_of(child_access)["kid"].startswith("d-")

    # A token with a parent hash is always sent to the core, which promotes the child and
    # answers with a new access token without the parent hash.
    core_calls.clear()
    verified = get_session_without_request_response(child_access)
    assert paths(core_calls) == [("POST", "/recipe/session/verify")]
    reply = core_calls[0][3]
    assert reply["status"] == "OK"
    assert "accessToken" in reply, reply
    promoted = reply["accessToken"]["token"]
    promoted_claims = claims_of(promoted)
    assert promoted_claims["parentRefreshTokenHash1"] is None
    assert promoted_claims["refreshTokenHash1"] == sha256hex(new_refresh)
    assert promoted_claims["sessionHandle"] == session.get_handle()
    assert promoted_claims["k"] == 1
    assert reply["accessToken"]["expiry"] == promoted_claims["exp"] * 1000
    assert tokens_of(verified)["accessToken"] == promoted
    assert tokens_of(verified)["accessAndFrontTokenUpdated"] is True

    # The promoted token verifies locally.
    core_calls.clear()
    assert get_session_without_request_response(promoted).get_handle() == session.get_handle()
    assert core_calls == []

    # The promoted child is now the current refresh token and refreshes normally.
    again = refresh_session_without_request_response(new_refresh)
    assert again.get_handle() == session.get_handle()


def test_refreshing_the_same_parent_twice_before_the_child_is_used_is_allowed():
    session = new_session()
    parent = tokens_of(session)["refreshToken"]
    one = refresh_session_without_request_response(parent)
    two = refresh_session_without_request_response(parent)
    assert one.get_handle() == two.get_handle() == session.get_handle()
    assert tokens_of(one)["refreshToken"] != tokens_of(two)["refreshToken"]


def test_token_theft_when_the_parent_is_replayed_after_the_child_was_refreshed():
    user_id = unique_id("user")
    session = new_session(user_id=user_id)
    parent = tokens_of(session)["refreshToken"]
    child = tokens_of(refresh_session_without_request_response(parent))["refreshToken"]
    # Using the child promotes it.
    grandchild = refresh_session_without_request_response(child)
    assert grandchild.get_handle() == session.get_handle()

    with pytest.raises(TokenTheftError) as theft:
        refresh_session_without_request_response(parent)
    assert theft.value.session_handle == session.get_handle()
    assert theft.value.user_id == user_id
    assert theft.value.recipe_user_id.get_as_string() == user_id


def test_token_theft_when_the_parent_is_replayed_after_the_child_access_token_was_verified():
    session = new_session()
    parent = tokens_of(session)["refreshToken"]
    child_access = tokens_of(refresh_session_without_request_response(parent))["accessToken"]
    get_session_without_request_response(child_access)  # promotes the child

    with pytest.raises(TokenTheftError) as theft:
        refresh_session_without_request_response(parent)
    assert theft.value.session_handle == session.get_handle()


def test_refresh_with_a_garbage_token_is_unauthorised():
    with pytest.raises(UnauthorisedError):
        refresh_session_without_request_response("garbage")
    session = new_session()
    token = tokens_of(session)["refreshToken"]
    encrypted, nonce, version = token.split(".")
    with pytest.raises(UnauthorisedError):
        refresh_session_without_request_response(f"{encrypted}.{'0' * 64}.{version}")


def test_list_and_revoke_sessions_of_a_user():
    user_id = unique_id("user")
    handles = [new_session(user_id=user_id).get_handle() for _ in range(3)]
    other = new_session()

    assert sorted(get_all_session_handles_for_user(user_id)) == sorted(handles)
    assert get_all_session_handles_for_user(unique_id("nobody")) == []

    unknown = "00000000-0000-4000-8000-000000000000"
    revoked = revoke_multiple_sessions([handles[0], handles[1], unknown])
    assert sorted(revoked) == sorted(handles[:2])
    assert get_all_session_handles_for_user(user_id) == [handles[2]]

    assert revoke_all_sessions_for_user(user_id) == [handles[2]]
    assert get_all_session_handles_for_user(user_id) == []
    assert revoke_all_sessions_for_user(user_id) == []
    # Other users keep theirs.
    assert get_session_information(other.get_handle()) is not None


def test_update_session_data_in_database():
    session = new_session(data={"a": 1, "b": 2})
    handle = session.get_handle()
    assert session.sync_get_session_data_from_database() == {"a": 1, "b": 2}

    # Replaces the whole object.
    assert update_session_data_in_database(handle, {"c": [1, "x", None], "d": {"e": True}})
    assert get_session_information(handle).session_data_in_database == {
        "c": [1, "x", None],
        "d": {"e": True},
    }
    session.sync_update_session_data_in_database({"z": 0})
    assert session.sync_get_session_data_from_database() == {"z": 0}

    revoke_session(handle)
    assert update_session_data_in_database(handle, {"y": 1}) is False


def test_merge_into_access_token_payload_by_handle(core_calls):
    session = new_session(payload={"keep": 1, "drop": 2})
    handle = session.get_handle()
    access_token = tokens_of(session)["accessToken"]

    assert merge_into_access_token_payload(handle, {"drop": None, "add": {"x": [1]}}) is True
    put = [c for c in core_calls if c[:2] == ("PUT", "/recipe/jwt/data")]
    assert len(put) == 1 and put[0][3] == {"status": "OK"}
    assert put[0][2]["userDataInJWT"] == {"keep": 1, "add": {"x": [1]}, "iss": ISSUER}
    assert get_session_information(handle).custom_claims_in_access_token_payload == {
        "keep": 1,
        "add": {"x": [1]},
        "iss": ISSUER,
    }

    # The old access token still carries the old claims when verified locally...
    local = get_session_without_request_response(access_token)
    assert local.get_access_token_payload()["drop"] == 2
    # ...and the core hands out a token with the new claims when asked.
    core_calls.clear()
    checked = get_session_without_request_response(access_token, check_database=True)
    reply = core_calls[0][3]
    assert "accessToken" in reply, reply
    assert tokens_of(checked)["accessAndFrontTokenUpdated"] is True
    payload = checked.get_access_token_payload()
    assert payload["keep"] == 1 and payload["add"] == {"x": [1]} and "drop" not in payload
    assert reply["session"]["userDataInJWT"] == {"keep": 1, "add": {"x": [1]}, "iss": ISSUER}

    revoke_session(handle)
    assert merge_into_access_token_payload(handle, {"x": 1}) is False


def test_merge_into_access_token_payload_on_a_session_object(portcullis, sdk, core_calls):
    session = new_session(payload={"keep": 1, "drop": 2})
    old_token = tokens_of(session)["accessToken"]
    old_claims = claims_of(old_token)
    time.sleep(1.05)  # so that a fresh `iat` would differ

    session.sync_merge_into_access_token_payload({"drop": None, "add": "y"})
    (_, _, body, reply), = [c for c in core_calls if c[1] == "/recipe/session/regenerate"]
    assert body["accessToken"] == old_token
    assert body["userDataInJWT"] == {"keep": 1, "add": "y", "iss": ISSUER}
    assert reply["status"] == "OK"
    assert reply["session"]["userDataInJWT"] == {"keep": 1, "add": "y", "iss": ISSUER}

    new_token = tokens_of(session)["accessToken"]
    assert new_token != old_token
    assert tokens_of(session)["accessAndFrontTokenUpdated"] is True
    claims = claims_of(new_token)
    assert claims["add"] == "y" and claims["keep"] == 1 and "drop" not in claims
    # Regenerating keeps the session, the refresh token hashes and the absolute expiry.
    for key in ("sub", "rsub", "tId", "sessionHandle", "refreshTokenHash1", "exp"):
        assert claims[key] == old_claims[key], key
    assert claims["iat"] > old_claims["iat"]
    assert reply["accessToken"]["expiry"] == old_claims["exp"] * 1000
    assert verified_claims(new_token, jwks(portcullis, sdk)) == claims
    assert session.get_access_token_payload()["add"] == "y"
    assert front_token_of(tokens_of(session)["frontToken"])["up"]["add"] == "y"

    assert get_session_information(session.get_handle()).custom_claims_in_access_token_payload == {
        "keep": 1,
        "add": "y",
        "iss": ISSUER,
    }
    assert get_session_without_request_response(new_token).get_access_token_payload()["add"] == "y"

    # On a revoked session the SDK raises UNAUTHORISED.
    revoke_session(session.get_handle())
    with pytest.raises(UnauthorisedError):
        session.sync_merge_into_access_token_payload({"z": 1})
