"""Helpers shared by the session and JWT tests: making sessions, and looking inside the
tokens Portcullis mints.

PyJWT is what supertokens-python itself verifies access tokens with, so it is already
installed with the SDK; it is pinned in requirements.txt because these helpers use it
directly.
"""

import base64
import hashlib
import json
import re
import time

import jwt
from supertokens_python.recipe.session.syncio import (
    create_new_session_without_request_response,
)
from supertokens_python.types import RecipeUserId

from conftest import API_DOMAIN, http, unique_id

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# The claims Portcullis puts in every V5 access token, in this order (algorithms.md §1.4).
PROTECTED_CLAIMS = [
    "sub",
    "exp",
    "iat",
    "tId",
    "rsub",
    "sessionHandle",
    "refreshTokenHash1",
    "parentRefreshTokenHash1",
    "antiCsrfToken",
]
# Default refresh_token_validity: 144000 minutes.
REFRESH_VALIDITY_MS = 144000 * 60 * 1000
# The SDK adds `iss` (apiDomain + apiBasePath) to the custom claims of every new session.
ISSUER = API_DOMAIN + "/auth"


def new_session(tenant_id="public", user_id=None, payload=None, data=None):
    """create_new_session_without_request_response for a new user unless one is given."""
    user_id = user_id or unique_id("user")
    return create_new_session_without_request_response(
        tenant_id, RecipeUserId(user_id), payload, data
    )


def tokens_of(session) -> dict:
    return session.get_all_session_tokens_dangerously()


def sha256hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


def header_of(token: str) -> dict:
    return jwt.get_unverified_header(token)


def claims_of(token: str) -> dict:
    """The payload, unverified, with its key order kept."""
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def front_token_of(front_token: str) -> dict:
    """The SDK's front token: standard base64 of `{"ate","uid","up"}`."""
    return json.loads(base64.b64decode(front_token))


def jwks(server, app_id: str, path: str = "/.well-known/jwks.json") -> dict:
    status, text = http("GET", f"{server.url}/appid-{app_id}{path}")
    assert status == 200, f"GET {path} answered {status}: {text}"
    return json.loads(text)


def verified_claims(token: str, key_set: dict, **options) -> dict:
    """Checks the RS256 signature with the key of the token's kid from `key_set` (a JWKS
    document) and returns the claims. Raises when the kid is unknown or the check fails."""
    kid = header_of(token)["kid"]
    keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(key_set).keys}
    assert kid in keys, f"kid {kid} is not in the JWKS ({sorted(keys)})"
    return jwt.decode(
        token,
        keys[kid].key,
        algorithms=["RS256"],
        options={"verify_aud": False, **options},
    )
