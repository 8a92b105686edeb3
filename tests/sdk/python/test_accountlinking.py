"""Account linking through supertokens_python, with the AccountLinking recipe set to link
automatically once an email is verified: a verified third-party sign-up becomes primary, an
email-password sign-up with its email is linked when its email is verified; and the accountlinking
syncio functions (can/create primary user, can/link accounts, unlink) with their statuses,
get_user over a linked group, and delete_user of one login method."""

import pytest
from supertokens_python.recipe.accountlinking.interfaces import (
    CanCreatePrimaryUserAccountInfoAlreadyAssociatedError,
    CanCreatePrimaryUserOkResult,
    CanLinkAccountsOkResult,
    CreatePrimaryUserOkResult,
    CreatePrimaryUserRecipeUserIdAlreadyLinkedError,
    LinkAccountsInputUserNotPrimaryError,
    LinkAccountsOkResult,
    LinkAccountsRecipeUserIdAlreadyLinkedError,
    UnlinkAccountOkResult,
)
from supertokens_python.recipe.accountlinking.syncio import (
    can_create_primary_user,
    can_link_accounts,
    create_primary_user,
    link_accounts,
    unlink_account,
)
from supertokens_python.recipe.emailpassword.syncio import sign_up
from supertokens_python.recipe.emailverification.syncio import (
    create_email_verification_token,
    verify_email_using_token,
)
from supertokens_python.recipe.thirdparty.interfaces import ManuallyCreateOrUpdateUserOkResult
from supertokens_python.recipe.thirdparty.syncio import manually_create_or_update_user
from supertokens_python.syncio import delete_user, get_user

from conftest import init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id


def _reset_linking() -> None:
    from supertokens_python.recipe.accountlinking.recipe import AccountLinkingRecipe
    from supertokens_python.recipe.emailverification.recipe import EmailVerificationRecipe

    reset_recipes(AccountLinkingRecipe, EmailVerificationRecipe)


@pytest.fixture(scope="module", autouse=True)
def sdk_with_linking(portcullis, sdk):
    from supertokens_python.recipe import (
        accountlinking,
        emailpassword,
        emailverification,
        multitenancy,
        session,
        thirdparty,
    )
    from supertokens_python.recipe.accountlinking.types import ShouldAutomaticallyLink

    async def automatic(*_args):
        return ShouldAutomaticallyLink(should_require_verification=True)

    reset_sdk()
    _reset_linking()
    init_with_recipes(
        portcullis,
        sdk,
        [
            multitenancy.init(),
            session.init(),
            emailpassword.init(),
            thirdparty.init(),
            emailverification.init(mode="OPTIONAL"),
            accountlinking.init(should_do_automatic_account_linking=automatic),
        ],
    )
    yield
    reset_sdk()
    _reset_linking()
    init_sdk(portcullis, sdk)


def email() -> str:
    return f"{unique_id('al')}@example.com"


def third_party(address: str, verified: bool):
    r = manually_create_or_update_user("public", "google", unique_id("g"), address, verified)
    assert isinstance(r, ManuallyCreateOrUpdateUserOkResult), r
    return r


def test_verified_users_are_linked_automatically():
    address = email()
    tp = third_party(address, True)
    assert tp.user.is_primary_user

    ep = sign_up("public", address, "password-1")
    assert ep.status == "OK"
    assert ep.user.id != tp.user.id, "not linked while unverified"

    token = create_email_verification_token("public", ep.recipe_user_id)
    assert token.status == "OK"
    assert verify_email_using_token("public", token.token, True).status == "OK"

    user = get_user(ep.recipe_user_id.get_as_string())
    assert user is not None and user.id == tp.user.id
    assert sorted(m.recipe_id for m in user.login_methods) == ["emailpassword", "thirdparty"]


def test_manual_linking_with_every_status():
    a = third_party(email(), False)
    b = third_party(email(), False)
    assert isinstance(can_create_primary_user(a.recipe_user_id), CanCreatePrimaryUserOkResult)
    made = create_primary_user(a.recipe_user_id)
    assert isinstance(made, CreatePrimaryUserOkResult) and made.user.is_primary_user
    assert create_primary_user(a.recipe_user_id).was_already_a_primary_user

    check = can_link_accounts(b.recipe_user_id, a.user.id)
    assert isinstance(check, CanLinkAccountsOkResult) and not check.accounts_already_linked
    linked = link_accounts(b.recipe_user_id, a.user.id)
    assert isinstance(linked, LinkAccountsOkResult)
    assert len(linked.user.login_methods) == 2
    assert get_user(b.user.id).id == a.user.id

    c = third_party(email(), False)
    assert isinstance(link_accounts(b.recipe_user_id, c.user.id), LinkAccountsInputUserNotPrimaryError)
    create_primary_user(c.recipe_user_id)
    taken = link_accounts(b.recipe_user_id, c.user.id)
    assert isinstance(taken, LinkAccountsRecipeUserIdAlreadyLinkedError)
    assert taken.primary_user_id == a.user.id
    again = create_primary_user(b.recipe_user_id)
    assert isinstance(again, CreatePrimaryUserRecipeUserIdAlreadyLinkedError)

    same = third_party(a.user.emails[0], False)
    clash = can_create_primary_user(same.recipe_user_id)
    assert isinstance(clash, CanCreatePrimaryUserAccountInfoAlreadyAssociatedError)
    assert clash.primary_user_id == a.user.id

    unlinked = unlink_account(b.recipe_user_id)
    assert isinstance(unlinked, UnlinkAccountOkResult)
    assert unlinked.was_linked and not unlinked.was_recipe_user_deleted
    assert get_user(b.user.id).id == b.user.id

    link_accounts(b.recipe_user_id, a.user.id)
    delete_user(b.user.id, remove_all_linked_accounts=False)
    left = get_user(a.user.id)
    assert [m.recipe_user_id.get_as_string() for m in left.login_methods] == [a.user.id]
    delete_user(a.user.id)
    assert get_user(a.user.id) is None
