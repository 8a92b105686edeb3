"""The OAuth2 provider through supertokens_python's oauth2provider recipe against Portcullis (no
Hydra): client CRUD, the authorization-code flow with PKCE driven through the recipe implementation
the SDK's FastAPI APIs use (with a real session), token exchange, refresh, introspection, a reused
code, client credentials, validation and revocation.

The session-wide SDK has no OAuth2Provider recipe: this module initialises the SDK again with one,
against the session's app, and restores the session-wide configuration at the end.
"""

import base64
import hashlib
import inspect
from urllib.parse import parse_qsl, urlsplit

import pytest
from supertokens_python.async_to_sync_wrapper import sync

from conftest import init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id

CB = "http://localhost:3000/cb"
VERIFIER = "a-pkce-verifier-that-is-long-enough-0123456789abcdef"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def _recipe():
    from supertokens_python.recipe.oauth2provider.recipe import OAuth2ProviderRecipe

    return OAuth2ProviderRecipe


@pytest.fixture(scope="module", autouse=True)
def sdk_with_oauth2provider(portcullis, sdk):
    from supertokens_python.recipe import emailpassword, oauth2provider, session

    reset_sdk()
    reset_recipes(_recipe())
    init_with_recipes(portcullis, sdk, [emailpassword.init(), session.init(), oauth2provider.init()])
    yield
    reset_sdk()
    reset_recipes(_recipe())
    init_sdk(portcullis, sdk)


def _input(cls, **given):
    """The SDK's input classes take every field positionally; unnamed ones are None."""
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    return cls(**{n: given.get(n) for n in names})


def _query(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def _cookie_header(jar: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _take(jar: dict, set_cookies) -> None:
    for c in set_cookies or []:
        k, v = c.split(";", 1)[0].split("=", 1)
        jar[k] = v


def test_clients_code_flow_tokens_m2m_and_revocation():
    from supertokens_python.recipe.emailpassword.asyncio import sign_up
    from supertokens_python.recipe.oauth2provider.asyncio import (
        create_oauth2_client,
        create_token_for_client_credentials,
        delete_oauth2_client,
        get_oauth2_client,
        get_oauth2_clients,
        revoke_token,
        revoke_tokens_by_client_id,
        update_oauth2_client,
        validate_oauth2_access_token,
    )
    from supertokens_python.recipe.oauth2provider.interfaces import (
        CreateOAuth2ClientInput,
        UpdateOAuth2ClientInput,
    )
    from supertokens_python.recipe.session.asyncio import create_new_session_without_request_response

    created = sync(
        create_oauth2_client(
            _input(
                CreateOAuth2ClientInput,
                client_name="rp",
                redirect_uris=[CB],
                grant_types=["authorization_code", "refresh_token", "client_credentials"],
                response_types=["code"],
                scope="openid offline_access email",
                audience=["api1"],
                token_endpoint_auth_method="client_secret_post",
            )
        )
    )
    client = created.client
    client_id, secret = client.client_id, client.client_secret
    assert client_id.startswith("stcl_") and len(secret) >= 32
    assert sync(get_oauth2_client(client_id)).client.client_name == "rp"
    assert getattr(sync(get_oauth2_client("nope")), "error", None) == "invalid_request"
    updated = sync(update_oauth2_client(UpdateOAuth2ClientInput(client_id=client_id, client_name="rp2")))
    assert updated.client.client_name == "rp2"
    assert any(c.client_id == client_id for c in sync(get_oauth2_clients(page_size=10)).clients)

    email = f"{unique_id('u')}@example.com"
    user = sync(sign_up("public", email, "password-123"))
    session = sync(create_new_session_without_request_response("public", user.recipe_user_id))
    impl = _recipe().get_instance().recipe_implementation
    ctx = {}
    jar = {}
    params = {
        "client_id": client_id,
        "redirect_uri": CB,
        "response_type": "code",
        "scope": "openid offline_access",
        "state": "state-0123456789",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    r = sync(impl.authorization(params, _cookie_header(jar), session, ctx))
    assert getattr(r, "redirect_to", None), vars(r)
    _take(jar, r.cookies)
    q = _query(r.redirect_to)
    challenge = q.get("loginChallenge") or q.get("login_challenge")
    login = sync(impl.get_login_request(challenge, ctx))
    assert login.client.client_id == client_id
    accepted = sync(impl.accept_login_request(challenge, None, None, None, None, session.get_handle(), session.get_user_id(), ctx))
    r = sync(impl.authorization(_query(accepted.redirect_to), _cookie_header(jar), session, ctx))
    assert getattr(r, "redirect_to", None), vars(r)
    _take(jar, r.cookies)
    r = sync(impl.authorization(_query(r.redirect_to), _cookie_header(jar), session, ctx))
    assert r.redirect_to.startswith(CB), vars(r)
    cb = _query(r.redirect_to)
    assert cb["state"] == "state-0123456789"

    exchange = {"grant_type": "authorization_code", "code": cb["code"], "redirect_uri": CB, "code_verifier": VERIFIER, "client_id": client_id, "client_secret": secret}
    tokens = sync(impl.token_exchange(None, dict(exchange), ctx))
    assert tokens.access_token and tokens.id_token and tokens.refresh_token.startswith("st_rt_"), vars(tokens)
    active = sync(impl.introspect_token(tokens.access_token, None, ctx))
    assert active.payload["sub"] == session.get_user_id() and active.payload["sessionHandle"] == session.get_handle()
    assert sync(impl.introspect_token(tokens.refresh_token, None, ctx)).payload["client_id"] == client_id

    refreshed = sync(impl.token_exchange(None, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": client_id, "client_secret": secret}, ctx))
    assert refreshed.access_token and refreshed.expires_in > 0, vars(refreshed)

    reused = sync(impl.token_exchange(None, dict(exchange), ctx))
    assert reused.error == "invalid_grant", vars(reused)
    assert not hasattr(sync(impl.introspect_token(tokens.access_token, None, ctx)), "payload"), "a reused code revokes its grant"

    m2m = sync(create_token_for_client_credentials(client_id, secret, ["email"], "api1"))
    assert m2m.access_token and m2m.scope == "email", vars(m2m)
    assert sync(validate_oauth2_access_token(m2m.access_token, None, True)).payload["client_id"] == client_id
    bad = sync(create_token_for_client_credentials(client_id, "wrong-secret", ["email"], "api1"))
    assert bad.error == "invalid_client", vars(bad)

    sync(revoke_token(m2m.access_token, client_id, secret))
    assert not hasattr(sync(impl.introspect_token(m2m.access_token, None, ctx)), "payload")
    m2m2 = sync(create_token_for_client_credentials(client_id, secret, ["email"], "api1"))
    sync(revoke_tokens_by_client_id(client_id))
    assert not hasattr(sync(impl.introspect_token(m2m2.access_token, None, ctx)), "payload")

    sync(delete_oauth2_client(client_id))
    assert getattr(sync(get_oauth2_client(client_id)), "error", None) == "invalid_request"
