"use strict";
// Account linking and MFA through supertokens-node, with the AccountLinking recipe set to link
// automatically once an email is verified, EmailVerification, MultiFactorAuth and TOTP:
//   - automatic linking: a verified third-party sign-up becomes a primary user; an email-password
//     sign-up with that email stays apart until its email is verified, then is linked;
//   - the AccountLinking functions (create/can-create primary, can-link/link, unlink) with their
//     statuses, getUser and listUsersByAccountInfo over a linked group, deleteUser of one method;
//   - a sign-in that requires a TOTP second factor, in an express app driven over HTTP: sign-up
//     (first factor), a protected route refused until TOTP is set up and verified, then allowed;
//     a second sign-in completing the factor with /auth/totp/verify.

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const AccountLinking = require("supertokens-node/recipe/accountlinking");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const EmailVerification = require("supertokens-node/recipe/emailverification");
const MultiFactorAuth = require("supertokens-node/recipe/multifactorauth");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Session = require("supertokens-node/recipe/session");
const ThirdParty = require("supertokens-node/recipe/thirdparty");
const Totp = require("supertokens-node/recipe/totp");
const { verifySession } = require("supertokens-node/recipe/session/framework/express");
const { setup, uniqueId, startSdkWebApp, totpCode } = require("../helpers");

const ctx = setup({
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        ThirdParty.init(),
        EmailVerification.init({ mode: "OPTIONAL" }),
        AccountLinking.init({
            shouldDoAutomaticAccountLinking: async () => ({ shouldAutomaticallyLink: true, shouldRequireVerification: true }),
        }),
        Session.init({ getTokenTransferMethod: () => "header" }),
        MultiFactorAuth.init({ firstFactors: ["emailpassword", "thirdparty"] }),
        Totp.init({ issuer: "Portcullis Tests" }),
    ],
    init: { framework: "express" },
    warmUpKeys: true,
});

const email = () => `${uniqueId("al")}@example.com`;

async function thirdPartyUser(address, verified = true) {
    const r = await ThirdParty.manuallyCreateOrUpdateUser("public", "google", uniqueId("g"), address, verified);
    assert.equal(r.status, "OK");
    return r;
}

ctx.test("a verified sign-up becomes primary; an email-password sign-up is linked once its email is verified", async () => {
    const address = email();
    const tp = await thirdPartyUser(address);
    assert.equal(tp.user.isPrimaryUser, true, "automatic linking made the verified user primary");

    const ep = await EmailPassword.signUp("public", address, "password-1");
    assert.equal(ep.status, "OK");
    assert.notEqual(ep.user.id, tp.user.id, "not linked while its email is unverified");
    assert.equal(ep.user.isPrimaryUser, false);

    const token = await EmailVerification.createEmailVerificationToken("public", ep.recipeUserId);
    assert.equal(token.status, "OK");
    const verified = await EmailVerification.verifyEmailUsingToken("public", token.token, true);
    assert.equal(verified.status, "OK");

    const user = await supertokens.getUser(ep.recipeUserId.getAsString());
    assert.equal(user.id, tp.user.id);
    assert.equal(user.isPrimaryUser, true);
    assert.deepEqual(user.loginMethods.map((m) => m.recipeId).sort(), ["emailpassword", "thirdparty"]);
    assert.deepEqual(user.emails, [address]);

    const signIn = await EmailPassword.signIn("public", address, "password-1");
    assert.equal(signIn.status, "OK");
    assert.equal(signIn.user.id, tp.user.id, "signing in with the password reaches the linked user");

    const byEmail = await supertokens.listUsersByAccountInfo("public", { email: address });
    assert.deepEqual(byEmail.map((u) => u.id), [tp.user.id]);
});

ctx.test("create and check primary users, link, check, unlink, and every refusal", async () => {
    const a = await thirdPartyUser(email(), false);
    const b = await thirdPartyUser(email(), false);
    assert.equal(a.user.isPrimaryUser, false, "unverified: left alone");

    assert.deepEqual(await AccountLinking.canCreatePrimaryUser(a.recipeUserId), { status: "OK", wasAlreadyAPrimaryUser: false });
    const made = await AccountLinking.createPrimaryUser(a.recipeUserId);
    assert.equal(made.status, "OK");
    assert.equal(made.user.isPrimaryUser, true);
    assert.equal((await AccountLinking.createPrimaryUser(a.recipeUserId)).wasAlreadyAPrimaryUser, true);

    assert.deepEqual(await AccountLinking.canLinkAccounts(b.recipeUserId, a.user.id), { status: "OK", accountsAlreadyLinked: false });
    const linked = await AccountLinking.linkAccounts(b.recipeUserId, a.user.id);
    assert.equal(linked.status, "OK");
    assert.equal(linked.accountsAlreadyLinked, false);
    assert.equal(linked.user.loginMethods.length, 2);
    assert.equal((await supertokens.getUser(b.user.id)).id, a.user.id);

    const c = await thirdPartyUser(email(), false);
    assert.equal((await AccountLinking.linkAccounts(b.recipeUserId, c.user.id)).status, "INPUT_USER_IS_NOT_A_PRIMARY_USER");
    await AccountLinking.createPrimaryUser(c.recipeUserId);
    const taken = await AccountLinking.linkAccounts(b.recipeUserId, c.user.id);
    assert.equal(taken.status, "RECIPE_USER_ID_ALREADY_LINKED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR");
    assert.equal(taken.primaryUserId, a.user.id);
    const again = await AccountLinking.createPrimaryUser(b.recipeUserId);
    assert.equal(again.status, "RECIPE_USER_ID_ALREADY_LINKED_WITH_PRIMARY_USER_ID_ERROR");
    assert.equal(again.primaryUserId, a.user.id);

    // Another user with A's email cannot become primary while A is.
    const same = await thirdPartyUser(a.user.emails[0], false);
    const clash = await AccountLinking.canCreatePrimaryUser(same.recipeUserId);
    assert.equal(clash.status, "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR");
    assert.equal(clash.primaryUserId, a.user.id);

    const unlinked = await AccountLinking.unlinkAccount(b.recipeUserId);
    assert.deepEqual(unlinked, { status: "OK", wasRecipeUserDeleted: false, wasLinked: true });
    const alone = await supertokens.getUser(b.user.id);
    assert.equal(alone.id, b.user.id);
    assert.equal(alone.isPrimaryUser, false);

    // Deleting one login method keeps the rest of the user.
    await AccountLinking.linkAccounts(b.recipeUserId, a.user.id);
    await supertokens.deleteUser(b.user.id, false);
    const left = await supertokens.getUser(a.user.id);
    assert.deepEqual(left.loginMethods.map((m) => m.recipeUserId.getAsString()), [a.user.id]);
    await supertokens.deleteUser(a.user.id);
    assert.equal(await supertokens.getUser(a.user.id), undefined);
});

ctx.test("express: sign-up, then TOTP as a required second factor before the protected route", async () => {
    const tenant = await Multitenancy.createOrUpdateTenant("public", { requiredSecondaryFactors: ["totp"] });
    assert.equal(tenant.status, "OK");
    const web = await startSdkWebApp((app) => {
        app.get("/protected", verifySession(), (req, res) => res.json({ userId: req.session.getUserId() }));
    });
    try {
        const call = async (method, path, { token, body } = {}) => {
            const headers = { "st-auth-mode": "header" };
            if (token) headers.authorization = `Bearer ${token}`;
            if (body !== undefined) headers["content-type"] = "application/json";
            const res = await fetch(`${web.baseURL}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
            const text = await res.text();
            return { status: res.status, json: text ? JSON.parse(text) : undefined, token: res.headers.get("st-access-token") };
        };
        const address = email();
        const formFields = [
            { id: "email", value: address },
            { id: "password", value: "password-1" },
        ];
        const up = await call("POST", "/auth/signup", { body: { formFields } });
        assert.equal(up.status, 200);
        assert.equal(up.json.status, "OK", JSON.stringify(up.json));
        let token = up.token;
        assert.ok(token, "a session in header mode");

        const refused = await call("GET", "/protected", { token });
        assert.equal(refused.status, 403, "the MFA claim is not satisfied yet");

        const device = await call("POST", "/auth/totp/device", { token, body: {} });
        assert.equal(device.json.status, "OK", JSON.stringify(device.json));
        const usedWindow = Math.floor(Date.now() / 30_000);
        const verified = await call("POST", "/auth/totp/device/verify", {
            token,
            body: { deviceName: device.json.deviceName, totp: totpCode(device.json.secret, usedWindow * 30_000) },
        });
        assert.equal(verified.json.status, "OK", JSON.stringify(verified.json));
        token = verified.token || token;
        const allowed = await call("GET", "/protected", { token });
        assert.equal(allowed.status, 200, JSON.stringify(allowed.json));
        assert.equal(allowed.json.userId, up.json.user.id);

        // A new sign-in must complete TOTP again, with a code not used yet: the next window's (the
        // device accepts one window either side) unless time has moved past the one used.
        const signIn = await call("POST", "/auth/signin", { body: { formFields } });
        assert.equal(signIn.json.status, "OK", JSON.stringify(signIn.json));
        assert.equal((await call("GET", "/protected", { token: signIn.token })).status, 403);
        const wrong = await call("POST", "/auth/totp/verify", { token: signIn.token, body: { totp: "000000" === totpCode(device.json.secret) ? "000001" : "000000" } });
        assert.equal(wrong.json.status, "INVALID_TOTP_ERROR", JSON.stringify(wrong.json));
        const ok = await call("POST", "/auth/totp/verify", {
            token: signIn.token,
            body: { totp: totpCode(device.json.secret, Math.floor(Date.now() / 30_000) === usedWindow ? Date.now() + 30_000 : Date.now()) },
        });
        assert.equal(ok.json.status, "OK", JSON.stringify(ok.json));
        assert.equal((await call("GET", "/protected", { token: ok.token || signIn.token })).status, 200);
    } finally {
        await web.close();
        await Multitenancy.createOrUpdateTenant("public", { requiredSecondaryFactors: null });
    }
});
