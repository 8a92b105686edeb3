"""Sessions under other SDK or app configurations: anti-CSRF via token, static signing keys,
and an app whose access tokens live 2 s. Each test re-initialises the SDK through the
`sdk_with` fixture of conftest.py, which restores the session-wide configuration after it.
"""

import time

import pytest
from supertokens_python.recipe.session.exceptions import (
    TryRefreshTokenError,
    UnauthorisedError,
)
from supertokens_python.recipe.session.syncio import (
    create_new_session_without_request_response,
    get_session_without_request_response,
    refresh_session_without_request_response,
)
from supertokens_python.types import RecipeUserId

from conftest import core_post, unique_id
from session_helpers import (
    UUID_V4,
    claims_of,
    header_of,
    jwks,
    new_session,
    now_ms,
    sha256hex,
    tokens_of,
    verified_claims,
)


def test_anti_csrf_via_token(sdk_with, core_calls):
    sdk_with(anti_csrf="VIA_TOKEN")
    session = new_session()
    (_, _, body, reply), = [c for c in core_calls if c[1] == "/public/recipe/session"]
    assert body["enableAntiCsrf"] is True

    tokens = tokens_of(session)
    anti_csrf = tokens["antiCsrfToken"]
    assert anti_csrf is not None and UUID_V4.match(anti_csrf), anti_csrf
    assert reply["antiCsrfToken"] == anti_csrf
    access_token = tokens["accessToken"]
    assert claims_of(access_token)["antiCsrfToken"] == anti_csrf

    # Locally: the token must be given and match, unless the check is skipped.
    ok = get_session_without_request_response(access_token, anti_csrf_token=anti_csrf)
    assert ok.get_handle() == session.get_handle()
    with pytest.raises(TryRefreshTokenError):
        get_session_without_request_response(access_token)
    with pytest.raises(TryRefreshTokenError):
        get_session_without_request_response(access_token, anti_csrf_token="wrong")
    unchecked = get_session_without_request_response(access_token, anti_csrf_check=False)
    assert unchecked.get_handle() == session.get_handle()

    # With the database check, the core sees the anti-CSRF token too.
    core_calls.clear()
    checked = get_session_without_request_response(
        access_token, anti_csrf_token=anti_csrf, check_database=True
    )
    assert checked.get_handle() == session.get_handle()
    (_, path, body, reply), = core_calls
    assert path == "/recipe/session/verify"
    assert body == {
        "accessToken": access_token,
        "antiCsrfToken": anti_csrf,
        "doAntiCsrfCheck": True,
        "enableAntiCsrf": True,
        "checkDatabase": True,
    }
    assert reply["status"] == "OK" and "antiCsrfToken" not in reply

    # The core's own check (the SDK would have refused these locally already).
    verify = {"accessToken": access_token, "doAntiCsrfCheck": True, "enableAntiCsrf": True,
              "checkDatabase": False}
    assert core_post("/recipe/session/verify", {**verify, "antiCsrfToken": "wrong"})[
        "status"
    ] == "TRY_REFRESH_TOKEN"
    assert core_post("/recipe/session/verify", verify)["status"] == "TRY_REFRESH_TOKEN"
    assert core_post("/recipe/session/verify", {**verify, "doAntiCsrfCheck": False})[
        "status"
    ] == "OK"

    # Refreshing needs the anti-CSRF token of the refresh token.
    refresh_token = tokens["refreshToken"]
    with pytest.raises(UnauthorisedError):
        refresh_session_without_request_response(refresh_token)
    with pytest.raises(UnauthorisedError):
        refresh_session_without_request_response(refresh_token, anti_csrf_token="wrong")
    refreshed = refresh_session_without_request_response(refresh_token, anti_csrf_token=anti_csrf)
    new_anti_csrf = tokens_of(refreshed)["antiCsrfToken"]
    assert new_anti_csrf is not None and UUID_V4.match(new_anti_csrf)
    new_claims = claims_of(tokens_of(refreshed)["accessToken"])
    assert new_claims["antiCsrfToken"] == new_anti_csrf
    assert new_claims["parentRefreshTokenHash1"] == sha256hex(refresh_token)

    # The child's refresh token carries the new anti-CSRF token.
    child_refresh = tokens_of(refreshed)["refreshToken"]
    with pytest.raises(UnauthorisedError):
        refresh_session_without_request_response(child_refresh, anti_csrf_token=anti_csrf + "x")
    grandchild = refresh_session_without_request_response(
        child_refresh, anti_csrf_token=new_anti_csrf
    )
    assert grandchild.get_handle() == session.get_handle()

    # With anti-CSRF disabled for the call, nothing is checked and no token is minted.
    plain = refresh_session_without_request_response(
        tokens_of(grandchild)["refreshToken"], disable_anti_csrf=True
    )
    assert tokens_of(plain)["antiCsrfToken"] is None
    assert claims_of(tokens_of(plain)["accessToken"])["antiCsrfToken"] is None

    # A session created with anti-CSRF disabled has no anti-CSRF token.
    without = create_new_session_without_request_response(
        "public", RecipeUserId(unique_id("user")), disable_anti_csrf=True
    )
    assert tokens_of(without)["antiCsrfToken"] is None
    assert claims_of(tokens_of(without)["accessToken"])["antiCsrfToken"] is None


def test_static_signing_key(portcullis, sdk, sdk_with, core_calls):
    # Made with the session-wide configuration: signed with a dynamic key.
    dynamic = new_session()
    assert header_of(tokens_of(dynamic)["accessToken"])["kid"].startswith("d-")

    sdk_with(use_dynamic_access_token_signing_key=False)
    key_set = jwks(portcullis, sdk)
    static_kids = [k["kid"] for k in key_set["keys"] if not k["kid"].startswith("d-")]
    assert len(static_kids) == 1 and static_kids[0].startswith("s-")
    assert UUID_V4.match(static_kids[0][2:]), static_kids[0]

    core_calls.clear()
    session = new_session(payload={"k": "s"})
    assert core_calls[-1][2]["useDynamicSigningKey"] is False
    access_token = tokens_of(session)["accessToken"]
    assert header_of(access_token)["kid"] == static_kids[0]
    assert verified_claims(access_token, key_set)["k"] == "s"

    assert get_session_without_request_response(access_token).get_handle() == session.get_handle()
    checked = get_session_without_request_response(access_token, check_database=True)
    assert checked.get_handle() == session.get_handle()
    assert tokens_of(checked)["accessAndFrontTokenUpdated"] is False

    # Refresh stays on the static key, and so does the token the core mints on promotion.
    refreshed = refresh_session_without_request_response(tokens_of(session)["refreshToken"])
    assert header_of(tokens_of(refreshed)["accessToken"])["kid"] == static_kids[0]
    core_calls.clear()
    promoted = get_session_without_request_response(tokens_of(refreshed)["accessToken"])
    assert "accessToken" in core_calls[-1][3], core_calls[-1][3]
    assert header_of(tokens_of(promoted)["accessToken"])["kid"] == static_kids[0]

    # A dynamically signed token does not match the setting: the SDK asks for a refresh,
    # and the refresh (useDynamicSigningKey false) moves the session to the static key.
    with pytest.raises(TryRefreshTokenError):
        get_session_without_request_response(tokens_of(dynamic)["accessToken"])
    moved = refresh_session_without_request_response(tokens_of(dynamic)["refreshToken"])
    assert moved.get_handle() == dynamic.get_handle()
    assert header_of(tokens_of(moved)["accessToken"])["kid"] == static_kids[0]
    core_calls.clear()
    moved_verified = get_session_without_request_response(tokens_of(moved)["accessToken"])
    assert "accessToken" in core_calls[-1][3], core_calls[-1][3]
    assert header_of(tokens_of(moved_verified)["accessToken"])["kid"] == static_kids[0]


def test_expired_access_token_then_refresh(portcullis, sdk_with, core_calls):
    app_id = sdk_with(core_config={"access_token_validity": "2"})
    before = now_ms()
    session = new_session()
    tokens = tokens_of(session)
    claims = claims_of(tokens["accessToken"])
    assert 1 <= claims["exp"] - claims["iat"] <= 2
    assert claims["exp"] * 1000 <= before + 2000 + 1000
    (_, _, _, reply), = [c for c in core_calls if c[1] == "/public/recipe/session"]
    assert reply["accessToken"]["expiry"] - reply["accessToken"]["createdTime"] <= 2000
    assert verified_claims(tokens["accessToken"], jwks(portcullis, app_id), verify_exp=False)

    time.sleep(3)
    with pytest.raises(TryRefreshTokenError):
        get_session_without_request_response(tokens["accessToken"])
    with pytest.raises(TryRefreshTokenError):
        get_session_without_request_response(tokens["accessToken"], check_database=True)
    # The core says the same.
    verify = {"accessToken": tokens["accessToken"], "doAntiCsrfCheck": False,
              "enableAntiCsrf": False, "checkDatabase": True}
    assert core_post("/recipe/session/verify", verify)["status"] == "TRY_REFRESH_TOKEN"

    refreshed = refresh_session_without_request_response(tokens["refreshToken"])
    assert refreshed.get_handle() == session.get_handle()
    new_claims = claims_of(tokens_of(refreshed)["accessToken"])
    assert new_claims["exp"] * 1000 > now_ms()
    assert 1 <= new_claims["exp"] - new_claims["iat"] <= 2
    verified = get_session_without_request_response(tokens_of(refreshed)["accessToken"])
    assert verified.get_handle() == session.get_handle()
