"""Users imported through the core's bulk-import API sign in through the unmodified SDK with their
original passwords: hashes made here from known passwords (bcrypt $2a$ and $2b$, argon2id, argon2i
and argon2d, Firebase scrypt with the app's signer key) and a plain-text password; a wrong password
is refused; an imported third-party user signs in up as the same user; external user ids are what
the SDK sees; the imported roles, metadata and verified emails are visible through the SDK.

Users come in one at a time (`POST /bulk-import/import`), and in the last test through the queue
(`POST /bulk-import/users`) and the worker. The module runs against an app of its own
(the Firebase signer key is app config) with the UserRoles and EmailVerification recipes, and
restores the session-wide SDK at the end.
"""

import base64
import json
import os
import time

import pytest
from argon2.low_level import Type
from supertokens_python.recipe.emailpassword.interfaces import SignInOkResult, WrongCredentialsError
from supertokens_python.recipe.emailpassword.syncio import sign_in
from supertokens_python.recipe.emailverification.syncio import is_email_verified
from supertokens_python.recipe.thirdparty.syncio import manually_create_or_update_user
from supertokens_python.recipe.usermetadata.syncio import get_user_metadata
from supertokens_python.recipe.userroles.syncio import (
    create_new_role_or_add_permissions,
    get_roles_for_user,
    get_users_that_have_role,
)
from supertokens_python.syncio import get_user

from bulkimport_hashes import (
    FIREBASE_EXAMPLE_HASH,
    FIREBASE_EXAMPLE_PASSWORD,
    FIREBASE_EXAMPLE_SALT,
    FIREBASE_SIGNER_KEY,
    argon2_hash,
    bcrypt_hash,
    firebase_scrypt,
)
from conftest import create_app, http, init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id


def _reset_extra_recipes() -> None:
    from supertokens_python.recipe.emailverification.recipe import EmailVerificationRecipe
    from supertokens_python.recipe.userroles.recipe import UserRolesRecipe

    reset_recipes(UserRolesRecipe, EmailVerificationRecipe)


@pytest.fixture(scope="module")
def app_url(portcullis, sdk):
    """An app with the Firebase signer key, the SDK initialised against it."""
    from supertokens_python.recipe import (
        emailpassword,
        emailverification,
        multitenancy,
        session,
        thirdparty,
        usermetadata,
        userroles,
    )

    app_id = create_app(portcullis, {"firebase_password_hashing_signer_key": FIREBASE_SIGNER_KEY})
    reset_sdk()
    _reset_extra_recipes()
    init_with_recipes(
        portcullis,
        app_id,
        [
            multitenancy.init(),
            emailpassword.init(),
            emailverification.init(mode="OPTIONAL"),
            thirdparty.init(),
            session.init(),
            usermetadata.init(),
            userroles.init(),
        ],
    )
    yield f"{portcullis.url}/appid-{app_id}"
    reset_sdk()
    _reset_extra_recipes()
    init_sdk(portcullis, sdk)


def import_user(app_url: str, user: dict) -> dict:
    """Imports one user through `POST /bulk-import/import`; returns the user the core answers."""
    status, text = http("POST", f"{app_url}/bulk-import/import", user)
    assert status == 200, f"import answered {status}: {text}"
    reply = json.loads(text)
    assert reply["status"] == "OK"
    return reply["user"]


def email(what: str) -> str:
    return f"{unique_id(what)}@import.example"


def password_method(address: str, password_hash: str, algorithm: str) -> dict:
    return {
        "recipeId": "emailpassword",
        "email": address,
        "passwordHash": password_hash,
        "hashingAlgorithm": algorithm,
        "isVerified": True,
        "isPrimary": True,
    }


def assert_signs_in(address: str, password: str, user_id: str) -> SignInOkResult:
    ok = sign_in("public", address, password)
    assert isinstance(ok, SignInOkResult), f"{address} signs in with its original password"
    assert ok.user.id == user_id
    assert isinstance(sign_in("public", address, password + "-not"), WrongCredentialsError)
    return ok


def test_bcrypt_hashes_sign_in(app_url):
    password = "bcrypt-Passw0rd!"
    for prefix in (b"2a", b"2b"):
        address = email("bcrypt")
        hashed = bcrypt_hash(password, prefix=prefix)
        assert hashed.startswith(f"${prefix.decode()}$10$")
        user = import_user(app_url, {"loginMethods": [password_method(address, hashed, "bcrypt")]})
        assert_signs_in(address, password, user["id"])


def test_argon2_hashes_sign_in(app_url):
    password = "argon2-Passw0rd!"
    for variant in (Type.ID, Type.I, Type.D):
        address = email("argon2")
        user = import_user(app_url, {"loginMethods": [password_method(address, argon2_hash(password, variant), "argon2")]})
        assert_signs_in(address, password, user["id"])


def test_firebase_scrypt_hashes_sign_in_with_the_apps_signer_key(app_url):
    # The generator reproduces Firebase's own example, which is imported too.
    assert firebase_scrypt(FIREBASE_EXAMPLE_PASSWORD, FIREBASE_EXAMPLE_SALT) == FIREBASE_EXAMPLE_HASH
    password = "firebase-Passw0rd!"
    salt = base64.b64encode(os.urandom(12)).decode()
    for pw, hashed in ((password, firebase_scrypt(password, salt)), (FIREBASE_EXAMPLE_PASSWORD, FIREBASE_EXAMPLE_HASH)):
        address = email("firebase")
        user = import_user(app_url, {"loginMethods": [password_method(address, hashed, "firebase_scrypt")]})
        assert_signs_in(address, pw, user["id"])


def test_a_plain_text_password_signs_in(app_url):
    address = email("plain")
    user = import_user(
        app_url,
        {"loginMethods": [{"recipeId": "emailpassword", "email": address, "plainTextPassword": "plain-Passw0rd!", "isPrimary": True}]},
    )
    assert_signs_in(address, "plain-Passw0rd!", user["id"])


def test_external_id_roles_metadata_and_verified_email_through_the_sdk(app_url):
    role = unique_id("imported-role")
    create_new_role_or_add_permissions(role, ["read"])
    external = f"cognito-{os.urandom(8).hex()}"
    address = email("external")
    password = "external-Passw0rd!"
    joined = 1689980857949
    user = import_user(
        app_url,
        {
            "externalUserId": external,
            "userMetadata": {"plan": "pro", "source": {"name": "cognito"}},
            "userRoles": [{"role": role, "tenantIds": ["public"]}],
            "loginMethods": [{**password_method(address, bcrypt_hash(password), "bcrypt"), "timeJoinedInMSSinceEpoch": joined}],
        },
    )
    assert user["id"] == external

    ok = assert_signs_in(address, password, external)
    assert ok.recipe_user_id.get_as_string() == external
    assert ok.user.time_joined == joined
    assert ok.user.is_primary_user
    fetched = get_user(external)
    assert fetched is not None and fetched.emails == [address]
    assert get_roles_for_user("public", external).roles == [role]
    assert get_users_that_have_role("public", role).users == [external]
    assert get_user_metadata(external).metadata == {"plan": "pro", "source": {"name": "cognito"}}
    assert is_email_verified(ok.recipe_user_id, address) is True


def test_an_imported_third_party_user_signs_in_up_as_the_same_user(app_url):
    tp_user = f"g-{os.urandom(8).hex()}"
    address = email("google")
    external = f"firebase-{os.urandom(8).hex()}"
    user = import_user(
        app_url,
        {
            "externalUserId": external,
            "loginMethods": [
                {"recipeId": "thirdparty", "thirdPartyId": "google", "thirdPartyUserId": tp_user, "email": address, "isVerified": True, "isPrimary": True}
            ],
        },
    )
    assert user["id"] == external
    res = manually_create_or_update_user("public", "google", tp_user, address, True)
    assert res.created_new_recipe_user is False, "the imported user, not a new one"
    assert res.user.id == external
    assert [(t.id, t.user_id) for t in res.user.third_party] == [("google", tp_user)]


def test_a_linked_import_is_one_user_to_both_sign_ins(app_url):
    address = email("linked")
    password = "linked-Passw0rd!"
    tp_user = f"gh-{os.urandom(8).hex()}"
    user = import_user(
        app_url,
        {
            "loginMethods": [
                password_method(address, argon2_hash(password, Type.ID), "argon2"),
                {"recipeId": "thirdparty", "thirdPartyId": "github", "thirdPartyUserId": tp_user, "email": address, "isVerified": True},
            ]
        },
    )
    assert user["isPrimaryUser"] is True and len(user["loginMethods"]) == 2
    ok = assert_signs_in(address, password, user["id"])
    tp = manually_create_or_update_user("public", "github", tp_user, address, True)
    assert tp.created_new_recipe_user is False
    assert tp.user.id == user["id"], "the third-party sign-in lands on the primary user"
    assert tp.recipe_user_id.get_as_string() != ok.recipe_user_id.get_as_string()


def test_users_queued_for_the_worker_are_imported_and_sign_in(app_url):
    password = "queued-Passw0rd!"
    salt = base64.b64encode(os.urandom(12)).decode()
    hashes = [
        ("bcrypt", bcrypt_hash(password)),
        ("argon2", argon2_hash(password, Type.ID)),
        ("firebase_scrypt", firebase_scrypt(password, salt)),
    ]
    users = [
        {"externalUserId": unique_id(f"queued-{algorithm}"), "loginMethods": [password_method(email(algorithm), hashed, algorithm)]}
        for algorithm, hashed in hashes
    ]
    users.append(
        {
            "externalUserId": unique_id("queued-plain"),
            "loginMethods": [{"recipeId": "emailpassword", "email": email("plain"), "plainTextPassword": password, "isPrimary": True}],
        }
    )
    tp_user, google_email = f"g-{os.urandom(8).hex()}", email("queued-google")
    users.append(
        {
            "externalUserId": unique_id("queued-google"),
            "loginMethods": [
                {"recipeId": "thirdparty", "thirdPartyId": "google", "thirdPartyUserId": tp_user, "email": google_email, "isVerified": True, "isPrimary": True}
            ],
        }
    )

    status, text = http("POST", f"{app_url}/bulk-import/users", {"users": users})
    assert status == 200, text
    deadline = time.monotonic() + 60
    while True:
        status, text = http("GET", f"{app_url}/bulk-import/users?status=FAILED")
        assert json.loads(text)["users"] == [], text
        status, text = http("GET", f"{app_url}/bulk-import/users/count")
        left = json.loads(text)["count"]
        if left == 0:
            break
        assert time.monotonic() < deadline, f"{left} users still queued"
        time.sleep(0.1)

    for user in users[:4]:
        assert_signs_in(user["loginMethods"][0]["email"], password, user["externalUserId"])
    res = manually_create_or_update_user("public", "google", tp_user, google_email, True)
    assert res.created_new_recipe_user is False
    assert res.user.id == users[4]["externalUserId"]
