"use strict";
// Email verification through supertokens-node: create and use tokens, check, unverify, revoke.

const assert = require("node:assert/strict");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const EmailVerification = require("supertokens-node/recipe/emailverification");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Session = require("supertokens-node/recipe/session");
const { setup, uniqueId } = require("../helpers");

const ctx = setup({
    recipeList: () => [Multitenancy.init(), EmailPassword.init(), EmailVerification.init({ mode: "OPTIONAL" }), Session.init()],
});

ctx.test("createEmailVerificationToken, verifyEmailUsingToken, isEmailVerified, unverifyEmail", async () => {
    const email = `${uniqueId("ev")}@example.com`;
    const { recipeUserId } = await EmailPassword.signUp("public", email, "pw-123456");
    assert.equal(await EmailVerification.isEmailVerified(recipeUserId, email), false);

    const token = await EmailVerification.createEmailVerificationToken("public", recipeUserId, email);
    assert.equal(token.status, "OK");
    const verified = await EmailVerification.verifyEmailUsingToken("public", token.token);
    assert.equal(verified.status, "OK");
    assert.equal(verified.user.email, email);
    assert.equal((await EmailVerification.verifyEmailUsingToken("public", token.token)).status, "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR");
    assert.equal(await EmailVerification.isEmailVerified(recipeUserId, email), true);
    assert.equal((await EmailVerification.createEmailVerificationToken("public", recipeUserId, email)).status, "EMAIL_ALREADY_VERIFIED_ERROR");

    assert.equal((await EmailVerification.unverifyEmail(recipeUserId, email)).status, "OK");
    assert.equal(await EmailVerification.isEmailVerified(recipeUserId, email), false);
});

ctx.test("revokeEmailVerificationTokens makes outstanding tokens unusable", async () => {
    const email = `${uniqueId("ev")}@example.com`;
    const { recipeUserId } = await EmailPassword.signUp("public", email, "pw-123456");
    const token = await EmailVerification.createEmailVerificationToken("public", recipeUserId, email);
    assert.equal((await EmailVerification.revokeEmailVerificationTokens("public", recipeUserId, email)).status, "OK");
    assert.equal((await EmailVerification.verifyEmailUsingToken("public", token.token)).status, "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR");
});
