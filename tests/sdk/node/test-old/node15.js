"use strict";
// PHASE 2 of issue 21 (see harness.js): supertokens-node 15.2.3, CDI 3.0: V4 access tokens (tId), tenant-prefixed recipe paths, the pre-4.0 user object with tenantIds.
// Then the pre-5.1 recipe rules this major meets: a tenant's recipe switches (403), passwordless
// code removal by `codeId`, `PUT /recipe/user` by `userId`, and a user-id mapping refused for a
// user with a verified email.
// Run by old-sdks.test.js.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");

const { setupOld } = require("./harness");
const { registerFlow } = require("./flow");

const pkg = "supertokens-node-15";
const ctx = setupOld({
    packages: [pkg],
    recipeList: () => [
        require(`${pkg}/recipe/emailpassword`).init(),
        require(`${pkg}/recipe/session`).init({ antiCsrf: "VIA_TOKEN" }),
        require(`${pkg}/recipe/passwordless`).init({ contactMethod: "EMAIL", flowType: "USER_INPUT_CODE" }),
    ],
});

registerFlow(ctx, {
    pkg,
    cdi: "3.0",
    tokenVersion: 4,
    signUp: (EP, email, password) => EP.signUp("public", email, password),
    signIn: (EP, email, password) => EP.signIn("public", email, password),
    userIdOf: (r) => r.user.id,
    createSession: (st, Session, userId, payload, data) => Session.createNewSessionWithoutRequestResponse("public", userId, payload, data),
    handlesFor: (Session, userId) => Session.getAllSessionHandlesForUser(userId),
});

const st = () => require(pkg);
const EP = () => require(`${pkg}/recipe/emailpassword`);
const Passwordless = () => require(`${pkg}/recipe/passwordless`);
const Multitenancy = () => require(`${pkg}/recipe/multitenancy`);
const unique = (prefix) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;

ctx.test(`${pkg} (CDI 3.0): a tenant's recipe switches decide its sign-in APIs (403)`, async () => {
    const tenantId = unique("old15");
    const created = await Multitenancy().createOrUpdateTenant(tenantId, { emailPasswordEnabled: true });
    assert.equal(created.createdNew, true);
    const up = await EP().signUp(tenantId, `${unique("t")}@example.com`, "pass-word-1");
    assert.equal(up.status, "OK");
    const email = `${unique("pl")}@example.com`;
    const { result: refused, calls } = await ctx.record(() =>
        Passwordless().createCode({ tenantId, email }).then(() => "created", (err) => err.message),
    );
    assert.match(refused, /403/);
    assert.match(refused, /Passwordless login not enabled for tenant/);
    assert.equal(calls.at(-1).status, 403);
    assert.equal(calls.at(-1).path, `/${tenantId}/recipe/signinup/code`);

    // Turned on: a code is made, and removed by its codeId (the only way below 5.0).
    await Multitenancy().createOrUpdateTenant(tenantId, { passwordlessEnabled: true });
    const code = await Passwordless().createCode({ tenantId, email });
    assert.equal(code.status, "OK");
    const { result: revoked, calls: revokeCalls } = await ctx.record(() => Passwordless().revokeCode({ tenantId, codeId: code.codeId }));
    assert.equal(revoked.status, "OK");
    assert.deepEqual(revokeCalls.at(-1).body, { codeId: code.codeId });
    const device = await ctx.coreRequest("POST", `/${tenantId}/recipe/signinup/code/remove`, { preAuthSessionId: code.preAuthSessionId }, "3.0");
    assert.deepEqual(device, { status: 400, body: "Field name 'codeId' is invalid in JSON input\n" });
});

ctx.test(`${pkg} (CDI 3.0): updateEmailOrPassword names the user by userId`, async () => {
    const email = `${unique("u")}@example.com`;
    const up = await EP().signUp("public", email, "pass-word-1");
    const { result, calls } = await ctx.record(() => EP().updateEmailOrPassword({ userId: up.user.id, password: "pass-word-2" }));
    assert.equal(result.status, "OK");
    const put = calls.find((c) => c.method === "PUT" && c.path === "/recipe/user");
    assert.equal(put.cdiVersion, "3.0");
    assert.equal(put.body.userId, up.user.id);
    assert.equal(put.body.recipeUserId, undefined);
    assert.equal((await EP().signIn("public", email, "pass-word-2")).status, "OK");
});

ctx.test(`${pkg} (CDI 3.0): a verified email blocks a user-id mapping (no exception below 4.0)`, async () => {
    const email = `${unique("m")}@example.com`;
    const up = await EP().signUp("public", email, "pass-word-1");
    const userId = up.user.id;
    const token = await ctx.coreRequest("POST", "/public/recipe/user/email/verify/token", { userId, email }, "3.0");
    const verified = await ctx.coreRequest("POST", "/public/recipe/user/email/verify", { method: "token", token: token.body.token }, "3.0");
    assert.equal(verified.body.status, "OK");
    const refused = await st()
        .createUserIdMapping({ superTokensUserId: userId, externalUserId: unique("ext") })
        .then(() => "created", (err) => err.message);
    assert.match(refused, /400/);
    assert.match(refused, /UserId is already in use in EmailVerification recipe/);
    const forced = await st().createUserIdMapping({ superTokensUserId: userId, externalUserId: unique("ext"), force: true });
    assert.equal(forced.status, "OK");
});
