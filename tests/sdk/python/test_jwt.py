"""Custom JWTs through supertokens_python.recipe.jwt.syncio (POST /recipe/jwt) and the
session recipe's create_jwt (which goes through the openid recipe), checked with PyJWT
against the app's GET /.well-known/jwks.json; and the JWKS documents themselves."""

import base64
import re
import urllib.request

from supertokens_python.recipe.jwt.interfaces import CreateJwtOkResult
from supertokens_python.recipe.jwt.syncio import create_jwt, get_jwks
from supertokens_python.recipe.session.syncio import create_jwt as session_create_jwt

from conftest import API_DOMAIN
from session_helpers import ISSUER, UUID_V4, header_of, jwks, now_ms, verified_claims

# supertokens-python's default for the JWT recipe: 100 years.
DEFAULT_JWT_VALIDITY_S = 3153600000


def test_create_jwt_with_the_static_key(portcullis, sdk, core_calls):
    payload = {"sub": "abc", "custom": {"a": [1, 2], "b": None}, "n": 1.5}
    before = now_ms() // 1000
    result = create_jwt(payload, validity_seconds=120)
    after = now_ms() // 1000
    assert isinstance(result, CreateJwtOkResult)

    (_, path, body, reply), = core_calls
    assert path == "/recipe/jwt"
    assert body == {
        "payload": payload,
        "validity": 120,
        "useStaticSigningKey": True,
        "algorithm": "RS256",
        "jwksDomain": API_DOMAIN,
    }
    assert reply == {"status": "OK", "jwt": result.jwt}

    header = header_of(result.jwt)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": header["kid"]}
    assert header["kid"].startswith("s-") and UUID_V4.match(header["kid"][2:])

    claims = verified_claims(result.jwt, jwks(portcullis, sdk))
    # iss is the jwksDomain the SDK sent.
    assert claims == {**payload, "iss": API_DOMAIN, "iat": claims["iat"], "exp": claims["exp"]}
    assert before <= claims["iat"] <= after
    assert 120 <= claims["exp"] - claims["iat"] <= 121


def test_create_jwt_with_a_dynamic_key_and_the_default_validity(portcullis, sdk):
    result = create_jwt({"x": "y"}, use_static_signing_key=False)
    kid = header_of(result.jwt)["kid"]
    assert kid.startswith("d-")
    claims = verified_claims(result.jwt, jwks(portcullis, sdk))
    assert claims["x"] == "y" and claims["iss"] == API_DOMAIN
    assert DEFAULT_JWT_VALIDITY_S <= claims["exp"] - claims["iat"] <= DEFAULT_JWT_VALIDITY_S + 1


def test_session_recipe_create_jwt_keeps_the_issuer_of_the_payload(portcullis, sdk, core_calls):
    # The openid recipe puts iss = apiDomain + apiBasePath in the payload; the core keeps it.
    result = session_create_jwt({"role": "r"}, validity_seconds=60)
    assert isinstance(result, CreateJwtOkResult)
    assert core_calls[-1][2]["payload"] == {"iss": ISSUER, "role": "r"}
    claims = verified_claims(result.jwt, jwks(portcullis, sdk))
    assert claims["iss"] == ISSUER and claims["role"] == "r"
    assert 60 <= claims["exp"] - claims["iat"] <= 61


def test_jwks_documents(portcullis, sdk):
    well_known = jwks(portcullis, sdk)
    assert "status" not in well_known
    # The CDI endpoint serves the same keys, with a status.
    assert jwks(portcullis, sdk, "/recipe/jwt/jwks") == {"status": "OK", **well_known}

    keys = well_known["keys"]
    kids = [k["kid"] for k in keys]
    dynamic = [kid for kid in kids if kid.startswith("d-")]
    static = [kid for kid in kids if kid.startswith("s-")]
    assert dynamic and len(static) == 1
    # Dynamic keys first, newest first; then the static key.
    assert kids == dynamic + static
    assert dynamic == sorted(dynamic, key=lambda kid: -int(kid[2:]))
    for key in keys:
        assert set(key) == {"kty", "kid", "n", "e", "alg", "use"}
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert key["e"] == "AQAB"
        # base64url without padding of a 2048-bit modulus.
        assert re.fullmatch(r"[A-Za-z0-9_-]+", key["n"])
        modulus = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
        assert len(modulus) == 256 and modulus[0] != 0

    # The SDK's view of the same document.
    result = get_jwks()
    assert [(k.kid, k.n, k.e, k.alg, k.use, k.kty) for k in result.keys] == [
        (k["kid"], k["n"], k["e"], k["alg"], k["use"], k["kty"]) for k in keys
    ]
    # The SDK looks for "Cache-Control" in httpx's lower-cased header dict, never finds it
    # and keeps its default of 60 s, whatever the core sends (see test_jwks_cache_control).
    assert result.validity_in_secs == 60


def test_jwks_cache_control(portcullis, sdk):
    # A plain GET, without cdi-version (this is how the session recipe fetches it).
    url = f"{portcullis.url}/appid-{sdk}/.well-known/jwks.json"
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        cache_control = resp.headers["cache-control"]
    match = re.fullmatch(r"max-age=(\d+), must-revalidate", cache_control)
    assert match, cache_control
    # Until 60 s before the newest dynamic key is due for replacement (168 h by default).
    newest = int(jwks(portcullis, sdk)["keys"][0]["kid"][2:])
    expected = (newest + 168 * 3600 * 1000 - 60_000 - now_ms()) // 1000
    assert abs(int(match.group(1)) - max(1, expected)) <= 2, (cache_control, expected)
