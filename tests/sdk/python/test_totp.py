"""TOTP through supertokens_python's totp syncio functions: create_device, list_devices,
verify_device, update_device, remove_device and verify_totp, with the rate limit of a tenant and
used codes per tenant. Valid codes are computed here from the returned secret (RFC 6238 with
hmac/hashlib)."""

import base64
import hashlib
import hmac
import struct
import time

import pytest
from supertokens_python.recipe.emailpassword.interfaces import SignUpOkResult
from supertokens_python.recipe.emailpassword.syncio import sign_up
from supertokens_python.recipe.multitenancy.interfaces import TenantConfigCreateOrUpdate
from supertokens_python.recipe.multitenancy.syncio import create_or_update_tenant
from supertokens_python.recipe.totp.syncio import (
    create_device,
    list_devices,
    remove_device,
    update_device,
    verify_device,
    verify_totp,
)
from supertokens_python.recipe.totp.types import (
    CreateDeviceOkResult,
    DeviceAlreadyExistsError,
    InvalidTOTPError,
    LimitReachedError,
    UnknownDeviceError,
    UnknownUserIdError,
    UpdateDeviceOkResult,
    VerifyDeviceOkResult,
    VerifyTOTPOkResult,
)

from conftest import init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id


def _reset_totp() -> None:
    from supertokens_python.recipe.multifactorauth.recipe import MultiFactorAuthRecipe
    from supertokens_python.recipe.totp.recipe import TOTPRecipe

    reset_recipes(TOTPRecipe, MultiFactorAuthRecipe)


@pytest.fixture(scope="module", autouse=True)
def sdk_with_totp(portcullis, sdk):
    from supertokens_python.recipe import emailpassword, multifactorauth, multitenancy, session, totp

    reset_sdk()
    _reset_totp()
    init_with_recipes(portcullis, sdk, [multitenancy.init(), session.init(), emailpassword.init(), multifactorauth.init(), totp.init()])
    yield
    reset_sdk()
    _reset_totp()
    init_sdk(portcullis, sdk)


def totp_code(secret: str, at: float = None, period: int = 30) -> str:
    """RFC 6238 (HMAC-SHA1, T0 = 0), 6 digits, at `at` seconds (default now)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{binary % 1_000_000:06d}"


def wrong_code(secret: str) -> str:
    now = time.time()
    near = {totp_code(secret, now + i * 30) for i in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999)) if c not in near)


def new_user() -> str:
    up = sign_up("public", f"{unique_id('totp')}@example.com", "pw-123456")
    assert isinstance(up, SignUpOkResult)
    return up.user.id


def test_rfc6238_helper():
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp_code(secret, 59) == "287082"


def test_devices_and_device_verification():
    user_id = new_user()
    assert isinstance(create_device("no-such-user"), UnknownUserIdError)
    device = create_device(user_id)
    assert isinstance(device, CreateDeviceOkResult)
    assert device.device_name == "TOTP Device 0"
    assert len(device.secret) == 32 and device.secret.isupper()
    assert f"secret={device.secret}&" in device.qr_code_string
    devices = list_devices(user_id).devices
    assert [(d.name, d.period, d.skew, d.verified) for d in devices] == [("TOTP Device 0", 30, 1, False)]

    wrong = verify_device("public", user_id, "TOTP Device 0", wrong_code(device.secret))
    assert isinstance(wrong, InvalidTOTPError)
    assert (wrong.current_number_of_failed_attempts, wrong.max_number_of_failed_attempts) == (1, 5)
    assert isinstance(verify_device("public", user_id, "nope", "123456"), UnknownDeviceError)
    ok = verify_device("public", user_id, "TOTP Device 0", totp_code(device.secret))
    assert isinstance(ok, VerifyDeviceOkResult) and ok.was_already_verified is False
    again = verify_device("public", user_id, "TOTP Device 0", "000000")
    assert isinstance(again, VerifyDeviceOkResult) and again.was_already_verified is True
    assert list_devices(user_id).devices[0].verified

    laptop = create_device(user_id, device_name="laptop", skew=0, period=60)
    assert isinstance(laptop, CreateDeviceOkResult) and laptop.device_name == "laptop"
    assert isinstance(update_device(user_id, "laptop", "TOTP Device 0"), DeviceAlreadyExistsError)
    assert isinstance(update_device(user_id, "nope", "x"), UnknownDeviceError)
    assert isinstance(update_device(user_id, "laptop", "tablet"), UpdateDeviceOkResult)
    assert [(d.name, d.period, d.skew) for d in list_devices(user_id).devices] == [("TOTP Device 0", 30, 1), ("tablet", 60, 0)]

    assert remove_device(user_id, "tablet").did_device_exist is True
    assert remove_device(user_id, "tablet").did_device_exist is False
    assert remove_device(user_id, "TOTP Device 0").did_device_exist is True
    assert list_devices(user_id).devices == []
    assert isinstance(verify_totp("public", user_id, "123456"), UnknownUserIdError)


def test_verify_totp_once_and_rate_limit_per_tenant():
    tenant_id = unique_id("strict")
    create_or_update_tenant(tenant_id, TenantConfigCreateOrUpdate(core_config={"totp_max_attempts": 2, "totp_rate_limit_cooldown_sec": 1}))
    user_id = new_user()
    device = create_device(user_id, device_name="main")
    assert isinstance(device, CreateDeviceOkResult)
    secret = device.secret
    assert isinstance(verify_device("public", user_id, "main", totp_code(secret)), VerifyDeviceOkResult)

    next_code = totp_code(secret, time.time() + 30)
    assert isinstance(verify_totp("public", user_id, next_code), VerifyTOTPOkResult)
    assert isinstance(verify_totp("public", user_id, next_code), InvalidTOTPError), "a code is accepted once"
    # Used codes are per tenant: the same code is fresh in another tenant.
    assert isinstance(verify_totp(tenant_id, user_id, next_code), VerifyTOTPOkResult)
    for n in (1, 2):
        r = verify_totp(tenant_id, user_id, wrong_code(secret))
        assert isinstance(r, InvalidTOTPError)
        assert (r.current_number_of_failed_attempts, r.max_number_of_failed_attempts) == (n, 2)
    limited = verify_totp(tenant_id, user_id, totp_code(secret))
    assert isinstance(limited, LimitReachedError)
    assert 0 < limited.retry_after_ms <= 1000
    time.sleep(limited.retry_after_ms / 1000 + 0.05)
    # Any code within the skew that this tenant has not seen yet.
    now = time.time()
    fresh = next(c for c in (totp_code(secret, now + k * 30) for k in (0, -1, 1)) if c != next_code)
    assert isinstance(verify_totp(tenant_id, user_id, fresh), VerifyTOTPOkResult)
