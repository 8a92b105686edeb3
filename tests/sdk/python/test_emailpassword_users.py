"""Email-password sign-up and sign-in, the users functions and tenant association through
supertokens_python's syncio functions."""

from supertokens_python.recipe.emailpassword.interfaces import (
    EmailAlreadyExistsError,
    SignInOkResult,
    SignUpOkResult,
    WrongCredentialsError,
)
from supertokens_python.interfaces import (
    CreateUserIdMappingOkResult,
    DeleteUserIdMappingOkResult,
    GetUserIdMappingOkResult,
    UnknownMappingError,
    UnknownSupertokensUserIDError,
    UpdateOrDeleteUserIdMappingInfoOkResult,
    UserIdMappingAlreadyExistsError,
)
from supertokens_python.recipe.emailpassword.interfaces import (
    ConsumePasswordResetTokenOkResult,
    CreateResetPasswordOkResult,
    PasswordResetTokenInvalidError,
    UnknownUserIdError,
    UpdateEmailOrPasswordOkResult,
)
from supertokens_python.recipe.emailpassword.syncio import (
    consume_password_reset_token,
    create_reset_password_token,
    reset_password_using_token,
    sign_in,
    sign_up,
    update_email_or_password,
)
from supertokens_python.recipe.multitenancy.interfaces import TenantConfigCreateOrUpdate
from supertokens_python.recipe.multitenancy.syncio import (
    associate_user_to_tenant,
    create_or_update_tenant,
    disassociate_user_from_tenant,
)
from supertokens_python.syncio import (
    create_user_id_mapping,
    delete_user_id_mapping,
    get_user_id_mapping,
    update_or_delete_user_id_mapping_info,
    delete_user,
    get_user,
    get_user_count,
    get_users_newest_first,
    get_users_oldest_first,
    list_users_by_account_info,
)
from supertokens_python.types import RecipeUserId
from supertokens_python.types.base import AccountInfoInput

from conftest import unique_id


def email() -> str:
    return f"{unique_id('user')}@example.com"


def new_tenant() -> str:
    tenant = unique_id("t")
    create_or_update_tenant(tenant, TenantConfigCreateOrUpdate(first_factors=["emailpassword"]))
    return tenant


def test_sign_up_sign_in_and_errors():
    address = email()
    up = sign_up("public", address, "pw-123456")
    assert isinstance(up, SignUpOkResult)
    assert up.user.emails == [address]
    assert up.recipe_user_id.get_as_string() == up.user.id
    assert isinstance(sign_up("public", address, "x-123456"), EmailAlreadyExistsError)
    ok = sign_in("public", address, "pw-123456")
    assert isinstance(ok, SignInOkResult) and ok.user.id == up.user.id
    assert isinstance(sign_in("public", address, "wrong-123456"), WrongCredentialsError)
    assert isinstance(sign_in("public", email(), "pw-123456"), WrongCredentialsError)


def test_users_listing_count_get_and_delete():
    tenant = new_tenant()
    ids = []
    for _ in range(4):
        up = sign_up(tenant, email(), "pw-123456")
        assert isinstance(up, SignUpOkResult)
        ids.append(up.user.id)
    assert get_user_count(tenant_id=tenant) == 4
    user = get_user(ids[0])
    assert user is not None and user.id == ids[0] and user.tenant_ids == [tenant]
    assert get_user("no-such-user") is None
    first = get_users_newest_first(tenant, limit=3)
    assert [u.id for u in first.users] == [ids[3], ids[2], ids[1]]
    assert first.next_pagination_token is not None
    rest = get_users_newest_first(tenant, limit=3, pagination_token=first.next_pagination_token)
    assert [u.id for u in rest.users] == [ids[0]]
    assert [u.id for u in get_users_oldest_first(tenant).users] == ids
    delete_user(ids[1])
    assert get_user(ids[1]) is None
    assert get_user_count(tenant_id=tenant) == 3


def test_account_info_and_tenant_association():
    address = email()
    up = sign_up("public", address, "pw-123456")
    assert isinstance(up, SignUpOkResult)
    found = list_users_by_account_info("public", AccountInfoInput(email=address))
    assert [u.id for u in found] == [up.user.id]
    tenant = new_tenant()
    assoc = associate_user_to_tenant(tenant, up.recipe_user_id)
    assert assoc.status == "OK" and assoc.was_already_associated is False
    assert isinstance(sign_in(tenant, address, "pw-123456"), SignInOkResult)
    crowded = new_tenant()
    assert isinstance(sign_up(crowded, address, "pw-123456"), SignUpOkResult)
    assert associate_user_to_tenant(crowded, up.recipe_user_id).status == "EMAIL_ALREADY_EXISTS_ERROR"
    assert associate_user_to_tenant(tenant, RecipeUserId("no-such-user")).status == "UNKNOWN_USER_ID_ERROR"
    removed = disassociate_user_from_tenant(tenant, up.recipe_user_id)
    assert removed.was_associated is True
    assert isinstance(sign_in(tenant, address, "pw-123456"), WrongCredentialsError)


def test_password_reset_and_updates():
    address = email()
    up = sign_up("public", address, "pw-123456")
    assert isinstance(up, SignUpOkResult)
    token = create_reset_password_token("public", up.user.id, address)
    assert isinstance(token, CreateResetPasswordOkResult)
    assert isinstance(reset_password_using_token("public", token.token, "new-pw-123456"), UpdateEmailOrPasswordOkResult)
    assert isinstance(sign_in("public", address, "new-pw-123456"), SignInOkResult)
    assert isinstance(consume_password_reset_token("public", token.token), PasswordResetTokenInvalidError)
    assert isinstance(create_reset_password_token("public", "no-such-user", address), UnknownUserIdError)

    new_address = email()
    assert isinstance(update_email_or_password(up.recipe_user_id, email=new_address), UpdateEmailOrPasswordOkResult)
    assert isinstance(sign_in("public", new_address, "new-pw-123456"), SignInOkResult)
    other = sign_up("public", email(), "pw-123456")
    assert isinstance(other, SignUpOkResult)
    assert isinstance(update_email_or_password(other.recipe_user_id, email=new_address), EmailAlreadyExistsError)


def test_user_id_mapping_and_external_ids():
    address = email()
    up = sign_up("public", address, "pw-123456")
    assert isinstance(up, SignUpOkResult)
    st, ext = up.user.id, unique_id("ext")
    assert isinstance(create_user_id_mapping(st, ext, "info"), CreateUserIdMappingOkResult)
    got = get_user_id_mapping(ext, "EXTERNAL")
    assert isinstance(got, GetUserIdMappingOkResult)
    assert (got.supertokens_user_id, got.external_user_id, got.external_user_info) == (st, ext, "info")
    dup = create_user_id_mapping(st, unique_id("ext"))
    assert isinstance(dup, UserIdMappingAlreadyExistsError)
    assert dup.does_super_tokens_user_id_exist and not dup.does_external_user_id_exist
    assert isinstance(create_user_id_mapping("no-such-user", unique_id("ext")), UnknownSupertokensUserIDError)

    signed_in = sign_in("public", address, "pw-123456")
    assert isinstance(signed_in, SignInOkResult)
    assert signed_in.user.id == ext and signed_in.recipe_user_id.get_as_string() == ext
    user = get_user(ext)
    assert user is not None and user.id == ext
    token = create_reset_password_token("public", ext, address)
    assert isinstance(token, CreateResetPasswordOkResult)
    consumed = consume_password_reset_token("public", token.token)
    assert isinstance(consumed, ConsumePasswordResetTokenOkResult) and consumed.user_id == ext

    assert isinstance(update_or_delete_user_id_mapping_info(ext, "EXTERNAL", None), UpdateOrDeleteUserIdMappingInfoOkResult)
    cleared = get_user_id_mapping(st, "SUPERTOKENS")
    assert isinstance(cleared, GetUserIdMappingOkResult) and cleared.external_user_info is None
    removed = delete_user_id_mapping(st, "SUPERTOKENS")
    assert isinstance(removed, DeleteUserIdMappingOkResult) and removed.did_mapping_exist
    assert isinstance(get_user_id_mapping(ext), UnknownMappingError)
