"use strict";
// TOTP through supertokens-node's Totp recipe functions (createDevice, updateDevice, listDevices,
// removeDevice, verifyDevice, verifyTOTP), with MultiFactorAuth initialised as applications do (it
// asks the TOTP recipe which users have a verified device). Valid codes are computed here from the
// returned secret with the small RFC 6238 implementation in ../helpers.

const assert = require("node:assert/strict");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const MultiFactorAuth = require("supertokens-node/recipe/multifactorauth");
const Session = require("supertokens-node/recipe/session");
const Totp = require("supertokens-node/recipe/totp");
const { setup, uniqueId, totpCode } = require("../helpers");

const ctx = setup({
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        Session.init(),
        MultiFactorAuth.init(),
        Totp.init({ issuer: "Portcullis Tests" }),
    ],
});

/** A code that is the secret's in no window near now. */
function wrongCode(secret) {
    const near = [-2, -1, 0, 1, 2].map((i) => totpCode(secret, Date.now() + i * 30_000));
    for (let n = 123456; ; n++) {
        if (!near.includes(String(n))) return String(n);
    }
}

async function newUser() {
    const up = await EmailPassword.signUp("public", `${uniqueId("totp")}@example.com`, "pw-123456");
    assert.equal(up.status, "OK");
    return up.user.id;
}

ctx.test("the RFC 6238 helper agrees with the RFC's vector", () => {
    const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"
    assert.equal(totpCode(secret, 59_000), "287082");
    assert.equal(totpCode(secret, 1_111_111_109_000), "081804");
});

ctx.test("createDevice, listDevices, verifyDevice, updateDevice and removeDevice", async () => {
    const userId = await newUser();
    assert.deepEqual(await Totp.createDevice("no-such-user"), { status: "UNKNOWN_USER_ID_ERROR" });

    const device = await Totp.createDevice(userId);
    assert.equal(device.status, "OK");
    assert.equal(device.deviceName, "TOTP Device 0");
    assert.match(device.secret, /^[A-Z2-7]{32}$/);
    assert.ok(device.qrCodeString.startsWith("otpauth://totp/Portcullis%20Tests:"), device.qrCodeString);
    assert.ok(device.qrCodeString.includes(`secret=${device.secret}&`), device.qrCodeString);
    assert.deepEqual(await Totp.listDevices(userId), {
        status: "OK",
        devices: [{ name: "TOTP Device 0", period: 30, skew: 1, verified: false }],
    });

    const wrong = await Totp.verifyDevice("public", userId, "TOTP Device 0", wrongCode(device.secret));
    assert.deepEqual(wrong, { status: "INVALID_TOTP_ERROR", currentNumberOfFailedAttempts: 1, maxNumberOfFailedAttempts: 5 });
    assert.deepEqual(await Totp.verifyDevice("public", userId, "nope", "123456"), { status: "UNKNOWN_DEVICE_ERROR" });
    const ok = await Totp.verifyDevice("public", userId, "TOTP Device 0", totpCode(device.secret));
    assert.deepEqual(ok, { status: "OK", wasAlreadyVerified: false });
    assert.deepEqual(await Totp.verifyDevice("public", userId, "TOTP Device 0", "000000"), { status: "OK", wasAlreadyVerified: true });
    assert.ok((await MultiFactorAuth.getFactorsSetupForUser(userId)).includes("totp"));

    assert.deepEqual(await Totp.createDevice(userId, undefined, "TOTP Device 0"), { status: "DEVICE_ALREADY_EXISTS_ERROR" });
    const second = await Totp.createDevice(userId, "someone@example.com", "laptop", 0, 60);
    assert.equal(second.deviceName, "laptop");
    assert.ok(second.qrCodeString.includes(":someone@example.com?") && second.qrCodeString.endsWith("&period=60"), second.qrCodeString);

    assert.deepEqual(await Totp.updateDevice(userId, "laptop", "TOTP Device 0"), { status: "DEVICE_ALREADY_EXISTS_ERROR" });
    assert.deepEqual(await Totp.updateDevice(userId, "nope", "x"), { status: "UNKNOWN_DEVICE_ERROR" });
    assert.deepEqual(await Totp.updateDevice(userId, "laptop", "tablet"), { status: "OK" });
    assert.deepEqual((await Totp.listDevices(userId)).devices, [
        { name: "TOTP Device 0", period: 30, skew: 1, verified: true },
        { name: "tablet", period: 60, skew: 0, verified: false },
    ]);

    assert.deepEqual(await Totp.removeDevice(userId, "tablet"), { status: "OK", didDeviceExist: true });
    assert.deepEqual(await Totp.removeDevice(userId, "tablet"), { status: "OK", didDeviceExist: false });
    assert.deepEqual(await Totp.removeDevice(userId, "TOTP Device 0"), { status: "OK", didDeviceExist: true });
    assert.deepEqual(await Totp.listDevices(userId), { status: "OK", devices: [] });
    assert.ok(!(await MultiFactorAuth.getFactorsSetupForUser(userId)).includes("totp"));
    assert.deepEqual(await Totp.verifyTOTP("public", userId, "123456"), { status: "UNKNOWN_USER_ID_ERROR" });
});

ctx.test("verifyTOTP: valid codes once, replays refused", async () => {
    const userId = await newUser();
    const { secret } = await Totp.createDevice(userId, undefined, "main");
    assert.equal((await Totp.verifyDevice("public", userId, "main", totpCode(secret))).status, "OK");
    // The code that verified the device counts as used.
    assert.equal((await Totp.verifyTOTP("public", userId, totpCode(secret))).status, "INVALID_TOTP_ERROR");
    const next = totpCode(secret, Date.now() + 30_000);
    assert.deepEqual(await Totp.verifyTOTP("public", userId, next), { status: "OK" });
    const replay = await Totp.verifyTOTP("public", userId, next);
    assert.deepEqual(replay, { status: "INVALID_TOTP_ERROR", currentNumberOfFailedAttempts: 1, maxNumberOfFailedAttempts: 5 });
});

ctx.test("the rate limit of a tenant, and used codes per tenant", async () => {
    const tenantId = uniqueId("strict");
    const created = await Multitenancy.createOrUpdateTenant(tenantId, {
        coreConfig: { totp_max_attempts: 2, totp_rate_limit_cooldown_sec: 1 },
    });
    assert.equal(created.status, "OK");
    const userId = await newUser();
    const { secret } = await Totp.createDevice(userId, undefined, "main");
    assert.equal((await Totp.verifyDevice("public", userId, "main", totpCode(secret))).status, "OK");

    // The device's code was used in public, not in the tenant.
    const inTenant = await Totp.verifyTOTP(tenantId, userId, totpCode(secret));
    assert.deepEqual(inTenant, { status: "OK" });
    for (const n of [1, 2]) {
        const r = await Totp.verifyTOTP(tenantId, userId, wrongCode(secret));
        assert.deepEqual(r, { status: "INVALID_TOTP_ERROR", currentNumberOfFailedAttempts: n, maxNumberOfFailedAttempts: 2 });
    }
    const limited = await Totp.verifyTOTP(tenantId, userId, totpCode(secret, Date.now() + 30_000));
    assert.equal(limited.status, "LIMIT_REACHED_ERROR");
    assert.ok(limited.retryAfterMs > 0 && limited.retryAfterMs <= 1000, JSON.stringify(limited));
    assert.equal(limited.currentNumberOfFailedAttempts, 2);
    // Public's attempts are its own.
    const inPublic = await Totp.verifyTOTP("public", userId, wrongCode(secret));
    assert.equal(inPublic.currentNumberOfFailedAttempts, 1);

    await new Promise((resolve) => setTimeout(resolve, limited.retryAfterMs + 50));
    assert.deepEqual(await Totp.verifyTOTP(tenantId, userId, totpCode(secret, Date.now() + 30_000)), { status: "OK" });
});
