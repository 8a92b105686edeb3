"""User metadata and user roles through supertokens_python's usermetadata and userroles syncio
functions: every function, every status the core answers, and the core's rules the SDK relies on
(shallow merge with None removing a key, roles per app, users' roles per tenant).

The session-wide SDK (conftest's `init_sdk`) has no UserRoles recipe, so this module initialises the
SDK again with one, against the session's app, and restores the session-wide configuration at the end.
UserMetadata needs no such care: supertokens_python adds it to every init.
"""

import pytest
from supertokens_python.recipe.multitenancy.interfaces import (
    TenantConfigCreateOrUpdate,
)
from supertokens_python.recipe.multitenancy.syncio import create_or_update_tenant
from supertokens_python.recipe.usermetadata.syncio import (
    clear_user_metadata,
    get_user_metadata,
    update_user_metadata,
)
from supertokens_python.recipe.userroles.interfaces import (
    AddRoleToUserOkResult,
    GetPermissionsForRoleOkResult,
    GetUsersThatHaveRoleOkResult,
    RemovePermissionsFromRoleOkResult,
    RemoveUserRoleOkResult,
    UnknownRoleError,
)
from supertokens_python.recipe.userroles.syncio import (
    add_role_to_user,
    create_new_role_or_add_permissions,
    delete_role,
    get_all_roles,
    get_permissions_for_role,
    get_roles_for_user,
    get_roles_that_have_permission,
    get_users_that_have_role,
    remove_permissions_from_role,
    remove_user_role,
)

from conftest import init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id


def _reset_user_roles() -> None:
    from supertokens_python.recipe.userroles.recipe import UserRolesRecipe

    reset_recipes(UserRolesRecipe)


def _init_with_user_roles(server, app_id: str) -> None:
    from supertokens_python.recipe import session, usermetadata, userroles

    init_with_recipes(server, app_id, [session.init(), usermetadata.init(), userroles.init()])


@pytest.fixture(scope="module", autouse=True)
def sdk_with_user_roles(portcullis, sdk):
    reset_sdk()
    _reset_user_roles()
    _init_with_user_roles(portcullis, sdk)
    yield
    reset_sdk()
    _reset_user_roles()
    init_sdk(portcullis, sdk)


def test_get_update_and_clear_metadata(core_calls):
    user_id = unique_id("user")
    assert get_user_metadata(user_id).metadata == {}

    first = update_user_metadata(user_id, {"theme": "dark", "prefs": {"a": 1}, "gone": None})
    assert first.metadata == {"theme": "dark", "prefs": {"a": 1}}
    method, path, body, reply = core_calls[-1]
    assert (method, path) == ("PUT", "/recipe/user/metadata")
    assert body == {"userId": user_id, "metadataUpdate": {"theme": "dark", "prefs": {"a": 1}, "gone": None}}
    assert reply == {"metadata": {"theme": "dark", "prefs": {"a": 1}}, "status": "OK"}

    # Shallow: top-level keys are replaced whole; None removes one.
    second = update_user_metadata(user_id, {"prefs": {"b": 2}, "theme": None, "list": [1, None]})
    assert second.metadata == {"prefs": {"b": 2}, "list": [1, None]}
    assert get_user_metadata(user_id).metadata == second.metadata

    clear_user_metadata(user_id)
    clear_user_metadata(user_id)  # clearing nothing is fine
    assert get_user_metadata(user_id).metadata == {}
    assert core_calls[-2][3] == {"status": "OK"}


def test_roles_and_permissions():
    role, other, permission = unique_id("admin"), unique_id("viewer"), unique_id("perm")
    assert create_new_role_or_add_permissions(role, ["read", permission]).created_new_role is True
    assert create_new_role_or_add_permissions(role, ["read", "write"]).created_new_role is False
    assert create_new_role_or_add_permissions(other, []).created_new_role is True
    assert create_new_role_or_add_permissions(other, [permission]).created_new_role is False

    perms = get_permissions_for_role(role)
    assert isinstance(perms, GetPermissionsForRoleOkResult)
    assert sorted(perms.permissions) == sorted(["read", "write", permission])
    assert isinstance(get_permissions_for_role(unique_id("missing")), UnknownRoleError)
    assert sorted(get_roles_that_have_permission(permission).roles) == sorted([role, other])
    assert get_roles_that_have_permission(unique_id("nothing")).roles == []
    roles = get_all_roles().roles
    assert role in roles and other in roles

    assert isinstance(remove_permissions_from_role(role, ["read", "absent"]), RemovePermissionsFromRoleOkResult)
    assert sorted(get_permissions_for_role(role).permissions) == sorted(["write", permission])
    assert isinstance(remove_permissions_from_role(role, []), RemovePermissionsFromRoleOkResult)
    assert len(get_permissions_for_role(role).permissions) == 2, "an empty list removes nothing"
    assert isinstance(remove_permissions_from_role(unique_id("missing"), ["a"]), UnknownRoleError)

    assert delete_role(other).did_role_exist is True
    assert delete_role(other).did_role_exist is False
    assert isinstance(get_permissions_for_role(other), UnknownRoleError)
    assert get_roles_that_have_permission(permission).roles == [role]


def test_users_roles(core_calls):
    role, second = unique_id("admin"), unique_id("viewer")
    create_new_role_or_add_permissions(role, [])
    create_new_role_or_add_permissions(second, [])
    u1, u2 = unique_id("user"), unique_id("user")

    added = add_role_to_user("public", u1, role)
    assert isinstance(added, AddRoleToUserOkResult) and added.did_user_already_have_role is False
    assert core_calls[-1][:3] == ("PUT", "/public/recipe/user/role", {"userId": u1, "role": role})
    assert add_role_to_user("public", u1, role).did_user_already_have_role is True
    assert add_role_to_user("public", u1, second).did_user_already_have_role is False
    assert add_role_to_user("public", u2, role).did_user_already_have_role is False
    assert isinstance(add_role_to_user("public", u1, unique_id("missing")), UnknownRoleError)

    assert sorted(get_roles_for_user("public", u1).roles) == sorted([role, second])
    users = get_users_that_have_role("public", role)
    assert isinstance(users, GetUsersThatHaveRoleOkResult)
    assert sorted(users.users) == sorted([u1, u2])
    assert isinstance(get_users_that_have_role("public", unique_id("missing")), UnknownRoleError)

    removed = remove_user_role("public", u1, role)
    assert isinstance(removed, RemoveUserRoleOkResult) and removed.did_user_have_role is True
    assert remove_user_role("public", u1, role).did_user_have_role is False
    assert isinstance(remove_user_role("public", u1, unique_id("missing")), UnknownRoleError)
    assert get_roles_for_user("public", u1).roles == [second]
    assert get_users_that_have_role("public", role).users == [u2]

    # Deleting a role takes it from its users.
    assert delete_role(second).did_role_exist is True
    assert get_roles_for_user("public", u1).roles == []


def test_users_roles_belong_to_a_tenant():
    tenant_id = unique_id("tenant")
    created = create_or_update_tenant(tenant_id, TenantConfigCreateOrUpdate(first_factors=["emailpassword"]))
    assert created.status == "OK"
    role, user = unique_id("admin"), unique_id("user")
    create_new_role_or_add_permissions(role, ["p"])

    assert add_role_to_user(tenant_id, user, role).did_user_already_have_role is False
    assert get_roles_for_user(tenant_id, user).roles == [role]
    assert get_roles_for_user("public", user).roles == []
    assert get_users_that_have_role(tenant_id, role).users == [user]
    assert get_users_that_have_role("public", role).users == []
    assert remove_user_role("public", user, role).did_user_have_role is False
    assert isinstance(add_role_to_user(tenant_id, user, unique_id("missing")), UnknownRoleError)

    assert delete_role(role).did_role_exist is True
    assert get_roles_for_user(tenant_id, user).roles == []


def test_bad_input_is_the_cores_400():
    with pytest.raises(Exception, match="status code: 400"):
        create_new_role_or_add_permissions("   ", [])
    with pytest.raises(Exception, match="status code: 400"):
        create_new_role_or_add_permissions(unique_id("r"), [" "])
    with pytest.raises(Exception, match="status code: 400"):
        add_role_to_user("public", "u", "")
    with pytest.raises(Exception, match="status code: 400"):
        get_users_that_have_role("public", " ")
