"""Passwordless through supertokens_python's syncio functions: create_code,
create_new_code_for_device, consume_code (user input code and link code), check_code, the
list_codes_by_* functions, revoke_code, revoke_all_codes, update_user (and its delete_*
variants) and signinup.

supertokens-python 0.31.x reads no codes from the list replies (it looks for a `code` member
that the core never sends), and its revoke_all_codes sends a phone number as `email`; the tests
check what the SDK does with the core's answers, not those quirks."""

import re
import secrets

from supertokens_python.recipe.multitenancy.interfaces import TenantConfigCreateOrUpdate
from supertokens_python.recipe.multitenancy.syncio import create_or_update_tenant
from supertokens_python.recipe.passwordless.interfaces import (
    CheckCodeOkResult,
    ConsumeCodeIncorrectUserInputCodeError,
    ConsumeCodeOkResult,
    ConsumeCodeRestartFlowError,
    CreateNewCodeForDeviceOkResult,
    CreateNewCodeForDeviceRestartFlowError,
    CreateNewCodeForDeviceUserInputCodeAlreadyUsedError,
    UpdateUserEmailAlreadyExistsError,
    UpdateUserOkResult,
    UpdateUserPhoneNumberAlreadyExistsError,
    UpdateUserUnknownUserIdError,
)
from supertokens_python.recipe.passwordless.syncio import (
    check_code,
    consume_code,
    create_code,
    create_new_code_for_device,
    delete_email_for_user,
    delete_phone_number_for_user,
    list_codes_by_device_id,
    list_codes_by_email,
    list_codes_by_phone_number,
    list_codes_by_pre_auth_session_id,
    revoke_all_codes,
    revoke_code,
    signinup,
    update_user,
)
from supertokens_python.syncio import get_user
from supertokens_python.types import RecipeUserId

from conftest import unique_id

def email() -> str:
    return f"{unique_id('pl')}@example.com"


def phone() -> str:
    return f"+1415{secrets.randbelow(10_000_000):07d}"


def typed(code, user_input_code=None):
    return consume_code(
        "public",
        pre_auth_session_id=code.pre_auth_session_id,
        device_id=code.device_id,
        user_input_code=user_input_code or code.user_input_code,
    )


def test_create_and_consume_by_user_input_code():
    address = email()
    code = create_code("public", email=address)
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", code.device_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", code.pre_auth_session_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", code.link_code)
    assert re.fullmatch(r"[0-9]{6}", code.user_input_code)
    assert code.code_life_time == 900000

    up = typed(code)
    assert isinstance(up, ConsumeCodeOkResult)
    assert up.created_new_recipe_user is True
    assert up.user.emails == [address]
    assert up.user.login_methods[0].recipe_id == "passwordless"
    assert up.user.login_methods[0].verified is True
    assert up.recipe_user_id.get_as_string() == up.user.id
    assert up.consumed_device.pre_auth_session_id == code.pre_auth_session_id
    assert up.consumed_device.email == address

    assert isinstance(typed(code), ConsumeCodeRestartFlowError)
    again = signinup("public", email=address, phone_number=None)
    assert again.created_new_recipe_user is False
    assert again.user.id == up.user.id


def test_link_codes_phone_numbers_and_check_code():
    number = phone()
    code = create_code("public", phone_number=number)
    checked = check_code("public", pre_auth_session_id=code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(checked, CheckCodeOkResult)
    assert checked.consumed_device.phone_number == number
    r = consume_code("public", pre_auth_session_id=code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(r, ConsumeCodeOkResult)
    assert r.user.phone_numbers == [number]
    assert r.consumed_device.phone_number == number
    assert r.consumed_device.email is None


def test_wrong_codes_and_new_codes_for_a_device():
    code = create_code("public", email=email(), user_input_code="111111")
    assert code.user_input_code == "111111"
    wrong = typed(code, "222222")
    assert isinstance(wrong, ConsumeCodeIncorrectUserInputCodeError)
    assert (wrong.failed_code_input_attempt_count, wrong.maximum_code_input_attempts) == (1, 5)

    used = create_new_code_for_device("public", device_id=code.device_id, user_input_code="111111")
    assert isinstance(used, CreateNewCodeForDeviceUserInputCodeAlreadyUsedError)
    resent = create_new_code_for_device("public", device_id=code.device_id)
    assert isinstance(resent, CreateNewCodeForDeviceOkResult)
    assert resent.pre_auth_session_id == code.pre_auth_session_id
    assert resent.code_id != code.code_id
    device = list_codes_by_device_id("public", code.device_id)
    assert device is not None
    assert device.failed_code_input_attempt_count == 1

    for _ in range(3):
        assert isinstance(typed(code, "333333"), ConsumeCodeIncorrectUserInputCodeError)
    assert isinstance(typed(code, "333333"), ConsumeCodeRestartFlowError)
    gone = create_new_code_for_device("public", device_id=code.device_id)
    assert isinstance(gone, CreateNewCodeForDeviceRestartFlowError)
    assert list_codes_by_device_id("public", code.device_id) is None


def test_listing_and_revoking():
    address = email()
    number = phone()
    a = create_code("public", email=address)
    b = create_code("public", email=address)
    p = create_code("public", phone_number=number)

    by_email = list_codes_by_email("public", address)
    assert sorted(d.pre_auth_session_id for d in by_email) == sorted([a.pre_auth_session_id, b.pre_auth_session_id])
    assert by_email[0].email == address
    by_phone = list_codes_by_phone_number("public", number)
    assert [d.pre_auth_session_id for d in by_phone] == [p.pre_auth_session_id]
    assert by_phone[0].phone_number == number
    by_pre = list_codes_by_pre_auth_session_id("public", a.pre_auth_session_id)
    assert by_pre is not None and by_pre.email == address

    revoke_code("public", a.code_id)
    assert list_codes_by_pre_auth_session_id("public", a.pre_auth_session_id) is None
    revoke_all_codes("public", email=address)
    assert list_codes_by_email("public", address) == []
    gone = consume_code("public", pre_auth_session_id=b.pre_auth_session_id, link_code=b.link_code)
    assert isinstance(gone, ConsumeCodeRestartFlowError)


def test_update_user():
    user = signinup("public", email=email(), phone_number=None)
    other = signinup("public", email=email(), phone_number=None)
    rid = user.recipe_user_id
    number = phone()
    assert isinstance(update_user(rid, phone_number=number), UpdateUserOkResult)
    assert get_user(user.user.id).phone_numbers == [number]
    assert isinstance(update_user(rid, email=other.user.emails[0]), UpdateUserEmailAlreadyExistsError)
    assert isinstance(update_user(other.recipe_user_id, phone_number=number), UpdateUserPhoneNumberAlreadyExistsError)
    assert isinstance(delete_email_for_user(rid), UpdateUserOkResult)
    assert get_user(user.user.id).emails == []
    fresh = email()
    assert isinstance(update_user(rid, email=fresh), UpdateUserOkResult)
    assert isinstance(delete_phone_number_for_user(rid), UpdateUserOkResult)
    u = get_user(user.user.id)
    assert (u.emails, u.phone_numbers) == ([fresh], [])
    assert isinstance(update_user(RecipeUserId("unknown-id"), phone_number=phone()), UpdateUserUnknownUserIdError)


def test_codes_and_users_are_per_tenant():
    tenant = unique_id("t")
    create_or_update_tenant(tenant, TenantConfigCreateOrUpdate(first_factors=["otp-email", "link-email"]))
    address = email()
    code = create_code(tenant, email=address)
    assert list_codes_by_email("public", address) == []
    wrong = consume_code("public", pre_auth_session_id=code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(wrong, ConsumeCodeRestartFlowError)
    r = consume_code(tenant, pre_auth_session_id=code.pre_auth_session_id, link_code=code.link_code)
    assert isinstance(r, ConsumeCodeOkResult)
    assert r.user.tenant_ids == [tenant]
    elsewhere = signinup("public", email=address, phone_number=None)
    assert elsewhere.created_new_recipe_user is True
    assert elsewhere.user.id != r.user.id
