"use strict";
// Portcullis's brute-force limits (issue 18, finding 8) as the unmodified SDK sees them: a limited
// sign-in is the SDK's ordinary wrong-credentials result, a limited reset token its unknown-user
// result (on which its API sends no email), and a limited passwordless code a core error.

const assert = require("node:assert/strict");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const Passwordless = require("supertokens-node/recipe/passwordless");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Session = require("supertokens-node/recipe/session");
const { setup, uniqueId } = require("../helpers");

const ctx = setup({
    coreConfig: {
        emailpassword_max_failed_sign_ins: 2,
        emailpassword_failed_sign_in_window_sec: 600,
        password_reset_max_tokens_created: 1,
        passwordless_max_codes_created: 1,
    },
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        Passwordless.init({ contactMethod: "EMAIL_OR_PHONE", flowType: "USER_INPUT_CODE" }),
        Session.init(),
    ],
});

ctx.test("a limited sign-in is WRONG_CREDENTIALS_ERROR, even with the right password", async () => {
    const email = `${uniqueId("user")}@example.com`;
    assert.equal((await EmailPassword.signUp("public", email, "pw-123456")).status, "OK");
    assert.equal((await EmailPassword.signIn("public", email, "wrong-1")).status, "WRONG_CREDENTIALS_ERROR");
    assert.equal((await EmailPassword.signIn("public", email, "wrong-2")).status, "WRONG_CREDENTIALS_ERROR");
    const limited = await EmailPassword.signIn("public", email, "pw-123456");
    assert.deepEqual(limited, { status: "WRONG_CREDENTIALS_ERROR" });
    // Another email is not affected.
    const other = `${uniqueId("user")}@example.com`;
    await EmailPassword.signUp("public", other, "pw-123456");
    assert.equal((await EmailPassword.signIn("public", other, "pw-123456")).status, "OK");
});

ctx.test("a limited reset token is UNKNOWN_USER_ID_ERROR; a limited passwordless code is a core error", async () => {
    const email = `${uniqueId("user")}@example.com`;
    const up = await EmailPassword.signUp("public", email, "pw-123456");
    const first = await EmailPassword.createResetPasswordToken("public", up.user.id, email);
    assert.equal(first.status, "OK");
    assert.deepEqual(await EmailPassword.createResetPasswordToken("public", up.user.id, email), { status: "UNKNOWN_USER_ID_ERROR" });

    const pl = `${uniqueId("pl")}@example.com`;
    assert.equal((await Passwordless.createCode({ tenantId: "public", email: pl })).status, "OK");
    await assert.rejects(Passwordless.createCode({ tenantId: "public", email: pl }), /429/);
});
