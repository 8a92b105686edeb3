"""Email verification through supertokens_python's emailverification syncio functions: tokens
(created, consumed once, revoked), is-verified, unverify, and the verified flag on the user."""

import pytest
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.emailpassword.syncio import sign_up
from supertokens_python.recipe.emailverification.interfaces import (
    CreateEmailVerificationTokenEmailAlreadyVerifiedError,
    CreateEmailVerificationTokenOkResult,
    VerifyEmailUsingTokenInvalidTokenError,
    VerifyEmailUsingTokenOkResult,
)
from supertokens_python.recipe.emailverification.syncio import (
    create_email_verification_token,
    is_email_verified,
    revoke_email_verification_tokens,
    unverify_email,
    verify_email_using_token,
)
from supertokens_python.syncio import get_user

from conftest import init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id


def _reset_email_verification() -> None:
    from supertokens_python.recipe.emailverification.recipe import EmailVerificationRecipe

    reset_recipes(EmailVerificationRecipe)


@pytest.fixture(scope="module", autouse=True)
def sdk_with_email_verification(portcullis, sdk):
    from supertokens_python.recipe import emailpassword, emailverification, session

    reset_sdk()
    _reset_email_verification()
    init_with_recipes(portcullis, sdk, [session.init(), emailpassword.init(), emailverification.init(mode="OPTIONAL")])
    yield
    reset_sdk()
    _reset_email_verification()
    init_sdk(portcullis, sdk)


def test_verify_with_a_token_then_unverify():
    address = f"{unique_id('ev')}@example.com"
    up = sign_up("public", address, "pw-123456")
    assert isinstance(up, SignUpOkResult)
    rid = up.recipe_user_id
    assert not is_email_verified(rid, address)

    token = create_email_verification_token("public", rid, address)
    assert isinstance(token, CreateEmailVerificationTokenOkResult)
    verified = verify_email_using_token("public", token.token)
    assert isinstance(verified, VerifyEmailUsingTokenOkResult)
    assert verified.user.email == address
    assert is_email_verified(rid, address)
    user = get_user(up.user.id)
    assert user is not None and user.login_methods[0].verified
    assert isinstance(verify_email_using_token("public", token.token), VerifyEmailUsingTokenInvalidTokenError)
    assert isinstance(create_email_verification_token("public", rid, address), CreateEmailVerificationTokenEmailAlreadyVerifiedError)

    unverify_email(rid, address)
    assert not is_email_verified(rid, address)


def test_revoked_tokens_no_longer_verify():
    address = f"{unique_id('ev')}@example.com"
    up = sign_up("public", address, "pw-123456")
    assert isinstance(up, SignUpOkResult)
    token = create_email_verification_token("public", up.recipe_user_id, address)
    assert isinstance(token, CreateEmailVerificationTokenOkResult)
    revoke_email_verification_tokens("public", up.recipe_user_id, address)
    assert isinstance(verify_email_using_token("public", token.token), VerifyEmailUsingTokenInvalidTokenError)
    assert not is_email_verified(up.recipe_user_id, address)
