"""WebAuthn (passkeys) through supertokens_python's webauthn recipe functions, with the software
authenticator of webauthn_authenticator.py playing the browser: register options, sign-up,
sign-in options, sign-in; refusals (forged signature, unknown credential, replayed options); a
second credential, listed, read and removed; options read back and removed; email changes; and
account recovery (token, options from the token, a new passkey, the token used up)."""

import pytest
from supertokens_python.asyncio import get_user
from supertokens_python.async_to_sync_wrapper import sync
from supertokens_python.recipe.webauthn import functions as wa
from supertokens_python.recipe.webauthn.interfaces.recipe import AuthenticationPayload, RegistrationPayload

from conftest import init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id
from webauthn_authenticator import Authenticator, Request, tamper

RP = "example.com"
ORIGIN = "https://example.com"


@pytest.fixture(scope="module", autouse=True)
def sdk_with_webauthn(portcullis, sdk):
    from supertokens_python.recipe import emailpassword, multitenancy, session, webauthn
    from supertokens_python.recipe.webauthn.recipe import WebauthnRecipe

    reset_sdk()
    reset_recipes(WebauthnRecipe)
    init_with_recipes(portcullis, sdk, [multitenancy.init(), emailpassword.init(), session.init(), webauthn.init()])
    yield
    reset_sdk()
    reset_recipes(WebauthnRecipe)
    init_sdk(portcullis, sdk)


def register_options(**kwargs):
    o = wa.register_options.sync(relying_party_id=RP, relying_party_name="Tests", origin=ORIGIN, **kwargs)
    assert o.status == "OK", o
    return o


def sign_in_options():
    o = wa.sign_in_options.sync(relying_party_id=RP, relying_party_name="Tests", origin=ORIGIN)
    assert o.status == "OK", o
    return o


def registration(auth: Authenticator, options, attestation: str = "none") -> RegistrationPayload:
    return RegistrationPayload.from_json(auth.register(Request(options.challenge, ORIGIN, RP), attestation))


def assertion(auth: Authenticator, options, credential=None) -> AuthenticationPayload:
    return AuthenticationPayload.from_json(credential or auth.assert_(Request(options.challenge, ORIGIN, RP)))


def new_user(alg: int = -7, attestation: str = "none"):
    email = f"{unique_id('wa')}@example.com"
    auth = Authenticator(alg)
    o = register_options(email=email)
    up = wa.sign_up.sync(webauthn_generated_options_id=o.webauthn_generated_options_id, credential=registration(auth, o, attestation))
    assert up.status == "OK", up
    return auth, up.recipe_user_id.get_as_string(), email


@pytest.mark.parametrize("alg,attestation", [(-8, "none"), (-7, "packed"), (-257, "packed-x5c")])
def test_sign_up_and_sign_in(alg, attestation):
    auth, user_id, email = new_user(alg, attestation)
    user = sync(get_user(user_id))
    assert user.login_methods[0].recipe_id == "webauthn"
    assert user.emails == [email]
    assert user.webauthn.credential_ids == [auth.id]
    o = sign_in_options()
    r = wa.sign_in.sync(webauthn_generated_options_id=o.webauthn_generated_options_id, credential=assertion(auth, o))
    assert r.status == "OK", r
    assert r.recipe_user_id.get_as_string() == user_id
    again = wa.sign_in.sync(webauthn_generated_options_id=o.webauthn_generated_options_id, credential=assertion(auth, o))
    assert again.status == "OPTIONS_NOT_FOUND_ERROR", "a replayed challenge"


def test_refusals():
    auth, _, email = new_user()
    o = register_options(email=email)
    taken = wa.sign_up.sync(webauthn_generated_options_id=o.webauthn_generated_options_id, credential=registration(Authenticator(-7), o))
    assert taken.status == "EMAIL_ALREADY_EXISTS_ERROR"
    s = sign_in_options()
    forged = tamper(auth.assert_(Request(s.challenge, ORIGIN, RP)), "response.signature", lambda sig: sig.__setitem__(-1, sig[-1] ^ 1))
    r = wa.sign_in.sync(webauthn_generated_options_id=s.webauthn_generated_options_id, credential=assertion(auth, s, forged))
    assert r.status == "INVALID_AUTHENTICATOR_ERROR", r
    unknown = wa.sign_in.sync(webauthn_generated_options_id=s.webauthn_generated_options_id, credential=assertion(Authenticator(-7), s))
    assert unknown.status == "CREDENTIAL_NOT_FOUND_ERROR"
    bad = wa.register_options.sync(relying_party_id=RP, relying_party_name="Tests", origin="https://other.com", email=email)
    assert bad.status == "INVALID_OPTIONS_ERROR"


def test_options_read_back_and_removed():
    o = register_options(email=f"{unique_id('wa')}@example.com")
    read = wa.get_generated_options.sync(webauthn_generated_options_id=o.webauthn_generated_options_id)
    assert read.status == "OK", read
    assert read.challenge == o.challenge
    assert wa.remove_generated_options.sync(webauthn_generated_options_id=o.webauthn_generated_options_id).status == "OK"
    assert wa.remove_generated_options.sync(webauthn_generated_options_id=o.webauthn_generated_options_id).status == "OPTIONS_NOT_FOUND_ERROR"
    assert wa.get_generated_options.sync(webauthn_generated_options_id=o.webauthn_generated_options_id).status == "OPTIONS_NOT_FOUND_ERROR"


def test_credentials():
    first, user_id, email = new_user()
    second = Authenticator(-8)
    o = register_options(email=email)
    reg = wa.register_credential.sync(webauthn_generated_options_id=o.webauthn_generated_options_id, credential=registration(second, o, "packed-x5c"), recipe_user_id=user_id)
    assert reg.status == "OK", reg
    listed = wa.list_credentials.sync(recipe_user_id=user_id)
    assert sorted(c.webauthn_credential_id for c in listed.credentials) == sorted([first.id, second.id])
    got = wa.get_credential.sync(webauthn_credential_id=second.id, recipe_user_id=user_id)
    assert got.status == "OK", got
    assert got.relying_party_id == RP
    assert wa.remove_credential.sync(webauthn_credential_id=second.id, recipe_user_id=user_id).status == "OK"
    assert wa.remove_credential.sync(webauthn_credential_id=second.id, recipe_user_id=user_id).status == "CREDENTIAL_NOT_FOUND_ERROR"
    assert wa.get_credential.sync(webauthn_credential_id=second.id, recipe_user_id=user_id).status == "CREDENTIAL_NOT_FOUND_ERROR"


def test_email_change_and_account_recovery():
    _, a, _ = new_user()
    _, _, b_email = new_user()
    assert wa.update_user_email.sync(email=b_email, recipe_user_id=a).status == "EMAIL_ALREADY_EXISTS_ERROR"
    new_email = f"{unique_id('wa')}@example.com"
    assert wa.update_user_email.sync(email=new_email, recipe_user_id=a).status == "OK"
    assert sync(get_user(a)).emails == [new_email]

    t = wa.generate_recover_account_token.sync(user_id=a, email=new_email)
    assert t.status == "OK", t
    found = wa.get_user_from_recover_account_token.sync(token=t.token)
    assert found.status == "OK", found
    assert found.user.id == a
    o = register_options(recover_account_token=t.token)
    fresh = Authenticator(-7)
    recovered = wa.recover_account.sync(webauthn_generated_options_id=o.webauthn_generated_options_id, token=t.token, credential=registration(fresh, o))
    assert recovered.status == "OK", recovered
    assert fresh.id in [c.webauthn_credential_id for c in wa.list_credentials.sync(recipe_user_id=a).credentials]
    assert wa.consume_recover_account_token.sync(token=t.token).status == "RECOVER_ACCOUNT_TOKEN_INVALID_ERROR"
    assert wa.get_user_from_recover_account_token.sync(token=t.token).status == "RECOVER_ACCOUNT_TOKEN_INVALID_ERROR"
    assert wa.generate_recover_account_token.sync(user_id="nobody", email=new_email).status == "UNKNOWN_USER_ID_ERROR"
