"""Opt-in ES256 access tokens (Portcullis only, beyond the Java core): an app with core config
{"access_token_signing_algorithm": "ES256"}. The unmodified SDK verifies its tokens locally
through the JWKS (PyJWT with the EC key of the token's kid, the algorithm from its header) and
through the core (check_database), refreshes them, and refuses a tampered one.
"""

import base64
import json

import jwt
import pytest
from supertokens_python.recipe.session.exceptions import TryRefreshTokenError
from supertokens_python.recipe.session.syncio import (
    get_session_without_request_response,
    refresh_session_without_request_response,
)

from session_helpers import header_of, jwks, new_session, tokens_of

ES256 = {"access_token_signing_algorithm": "ES256"}


def es256_claims(token: str, key_set: dict) -> dict:
    """Checks the ES256 signature with the EC key of the token's kid from `key_set`."""
    keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(key_set).keys}
    return jwt.decode(token, keys[header_of(token)["kid"]].key, algorithms=["ES256"], options={"verify_aud": False})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("dynamic", [True, False], ids=["dynamic", "static"])
def test_es256_tokens_verify_locally_and_through_the_core(portcullis, sdk_with, core_calls, dynamic):
    app_id = sdk_with(core_config=ES256, use_dynamic_access_token_signing_key=dynamic)
    key_set = jwks(portcullis, app_id)
    for k in key_set["keys"]:
        assert (k["kty"], k["crv"], k["alg"], k["use"]) == ("EC", "P-256", "ES256", "sig"), k

    session = new_session(payload={"role": "admin"})
    access_token = tokens_of(session)["accessToken"]
    header = header_of(access_token)
    assert header["alg"] == "ES256"
    assert header["kid"].startswith("d-" if dynamic else "s-")
    assert es256_claims(access_token, jwks(portcullis, app_id))["role"] == "admin"

    # Locally: no core call.
    core_calls.clear()
    local = get_session_without_request_response(access_token)
    assert local.get_handle() == session.get_handle()
    assert local.get_access_token_payload()["role"] == "admin"
    assert not any(path.endswith("/recipe/session/verify") for _, path, _, _ in core_calls)

    # Through the core.
    checked = get_session_without_request_response(access_token, check_database=True)
    assert checked.get_handle() == session.get_handle()
    assert any(path.endswith("/recipe/session/verify") for _, path, _, _ in core_calls)

    # A refresh mints an ES256 token that verifies too.
    refreshed = refresh_session_without_request_response(tokens_of(session)["refreshToken"])
    new_token = tokens_of(refreshed)["accessToken"]
    assert header_of(new_token)["alg"] == "ES256"
    again = get_session_without_request_response(new_token)
    assert again.get_handle() == session.get_handle()
    assert again.get_access_token_payload()["role"] == "admin"

    # A tampered token is refused, locally and through the core.
    h, p, sig = access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["role"] = "root"
    forged = ".".join([h, b64url(json.dumps(claims).encode()), sig])
    for check_database in (False, True):
        with pytest.raises(TryRefreshTokenError):
            get_session_without_request_response(forged, check_database=check_database)
