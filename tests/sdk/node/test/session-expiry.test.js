"use strict";
// Access-token expiry and anti-CSRF off: Session.init({ antiCsrf: "NONE" }) and an app
// with coreConfig { access_token_validity: 2 } (seconds; accepted in test mode).
//
// With a 2 s validity (shortened by up to 5 % jitter, exp rounded down to the second)
// a token lives between about 0.9 and 2 s, so every test creates its own session and
// uses it right away; the waits go until the token's own `exp`, not a fixed time.

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const { setup, decodeJwt, sha256hex, sleepUntil } = require("../helpers");

const ACCESS_TOKEN_VALIDITY_S = 2;

const ctx = setup({
    coreConfig: { access_token_validity: ACCESS_TOKEN_VALIDITY_S },
    recipeList: () => [Session.init({ antiCsrf: "NONE" })],
    warmUpKeys: true,
});

const newUserId = () => `user-${crypto.randomUUID()}`;
const rid = (userId) => supertokens.convertToRecipeUserId(userId);

async function assertSessionError(promise, type) {
    let caught;
    await assert.rejects(promise, (err) => {
        assert.ok(Session.Error.isErrorFromSuperTokens(err), `not a SuperTokens error: ${err && err.stack}`);
        assert.equal(err.type, type, `expected ${type}, got ${err.type}: ${err.message}`);
        caught = err;
        return true;
    });
    return caught;
}

/** Waits until the access token has expired (its `exp`, plus a margin). */
async function waitForExpiry(accessToken) {
    const { exp } = decodeJwt(accessToken).payload;
    await sleepUntil(exp * 1000, 150);
}

ctx.test("antiCsrf NONE: no anti-CSRF token is asked for or minted", async () => {
    const userId = newUserId();
    const { result: session, calls } = await ctx.recordCoreCalls(() =>
        Session.createNewSessionWithoutRequestResponse("public", rid(userId), { a: 1 }),
    );
    const create = calls.find((c) => c.method === "POST" && c.path === "/public/recipe/session");
    assert.ok(create, `no create call in ${JSON.stringify(calls)}`);
    assert.equal(create.body.enableAntiCsrf, false);
    assert.equal(create.body.useDynamicSigningKey, true);

    const tokens = session.getAllSessionTokensDangerously();
    assert.equal(tokens.antiCsrfToken, undefined);
    const { payload } = decodeJwt(tokens.accessToken);
    assert.equal(payload.antiCsrfToken, null);
    assert.equal(payload.sub, userId);

    // no anti-CSRF token needed, locally or through the core
    const local = await Session.getSessionWithoutRequestResponse(tokens.accessToken);
    assert.equal(local.getHandle(), session.getHandle());
    const { result: checked, calls: verifyCalls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(tokens.accessToken, undefined, { checkDatabase: true }),
    );
    assert.equal(checked.getHandle(), session.getHandle());
    const verify = verifyCalls.find((c) => c.path === "/recipe/session/verify");
    assert.deepEqual(verify.body, {
        accessToken: tokens.accessToken,
        doAntiCsrfCheck: true,
        enableAntiCsrf: false,
        checkDatabase: true,
    });

    const { result: refreshed, calls: refreshCalls } = await ctx.recordCoreCalls(() =>
        Session.refreshSessionWithoutRequestResponse(tokens.refreshToken),
    );
    assert.equal(refreshCalls[0].path, "/recipe/session/refresh");
    assert.equal(refreshCalls[0].body.enableAntiCsrf, false);
    assert.equal(refreshed.getHandle(), session.getHandle());
    assert.equal(refreshed.getAllSessionTokensDangerously().antiCsrfToken, undefined);
    assert.equal(decodeJwt(refreshed.getAccessToken()).payload.antiCsrfToken, null);
});

ctx.test("access_token_validity 2: the token expires; TRY_REFRESH_TOKEN; refresh works", async () => {
    const userId = newUserId();
    const session = await Session.createNewSessionWithoutRequestResponse("public", rid(userId), { role: "r" }, { d: 1 });
    const t0 = session.getAllSessionTokensDangerously();
    const p0 = decodeJwt(t0.accessToken).payload;
    const lifetime = p0.exp - p0.iat;
    assert.ok(lifetime >= 0 && lifetime <= ACCESS_TOKEN_VALIDITY_S, `exp - iat = ${lifetime}, expected <= 2`);

    await waitForExpiry(t0.accessToken);

    // expired V3+ tokens are refused locally; the SDK does not ask the core
    const { calls } = await ctx.recordCoreCalls(() =>
        assertSessionError(Session.getSessionWithoutRequestResponse(t0.accessToken), Session.Error.TRY_REFRESH_TOKEN),
    );
    assert.deepEqual(calls, []);
    await assertSessionError(
        Session.getSessionWithoutRequestResponse(t0.accessToken, undefined, { checkDatabase: true }),
        Session.Error.TRY_REFRESH_TOKEN,
    );
    // the core itself says the same for that token
    const coreVerify = await ctx.coreRequest("POST", "/recipe/session/verify", {
        accessToken: t0.accessToken,
        doAntiCsrfCheck: false,
        enableAntiCsrf: false,
        checkDatabase: true,
    });
    assert.equal(coreVerify.status, 200);
    assert.equal(coreVerify.body.status, "TRY_REFRESH_TOKEN", JSON.stringify(coreVerify.body));

    // the session is still there and the refresh token still works
    const refreshed = await Session.refreshSessionWithoutRequestResponse(t0.refreshToken);
    assert.equal(refreshed.getHandle(), session.getHandle());
    assert.equal(refreshed.getUserId(), userId);
    const t1 = refreshed.getAllSessionTokensDangerously();
    const p1 = decodeJwt(t1.accessToken).payload;
    assert.ok(p1.exp * 1000 > Date.now(), "the new access token is not expired");
    assert.ok(p1.exp - p1.iat <= ACCESS_TOKEN_VALIDITY_S);
    assert.equal(p1.role, "r");
    assert.equal(p1.parentRefreshTokenHash1, sha256hex(t0.refreshToken));

    // the new (child) token is accepted; the core promotes it and hands out a fresh token
    const verified = await Session.getSessionWithoutRequestResponse(t1.accessToken);
    assert.equal(verified.getHandle(), session.getHandle());
    assert.equal(verified.getAccessTokenPayload().role, "r");
    assert.equal(verified.getAllSessionTokensDangerously().accessAndFrontTokenUpdated, true);
    assert.equal(verified.getAccessTokenPayload().parentRefreshTokenHash1, null);
    assert.deepEqual((await Session.getSessionInformation(session.getHandle())).sessionDataInDatabase, { d: 1 });
});

ctx.test("a token minted by verify after promotion has the full validity again", async () => {
    const session = await Session.createNewSessionWithoutRequestResponse("public", rid(newUserId()));
    await waitForExpiry(session.getAccessToken());
    const refreshed = await Session.refreshSessionWithoutRequestResponse(session.getAllSessionTokensDangerously().refreshToken);
    const verified = await Session.getSessionWithoutRequestResponse(refreshed.getAccessToken());
    const p = verified.getAccessTokenPayload();
    assert.ok(p.exp * 1000 > Date.now());
    assert.ok(p.exp - p.iat <= ACCESS_TOKEN_VALIDITY_S && p.exp - p.iat >= ACCESS_TOKEN_VALIDITY_S - 1, `exp - iat = ${p.exp - p.iat}`);
});

ctx.test("a revoked session: getSession with checkDatabase fails with UNAUTHORISED", async () => {
    const userId = newUserId();
    const session = await Session.createNewSessionWithoutRequestResponse("public", rid(userId));
    const tokens = session.getAllSessionTokensDangerously();
    assert.deepEqual(await Session.revokeAllSessionsForUser(userId), [session.getHandle()]);

    await assertSessionError(
        Session.getSessionWithoutRequestResponse(tokens.accessToken, undefined, { checkDatabase: true }),
        Session.Error.UNAUTHORISED,
    );
    await assertSessionError(Session.refreshSessionWithoutRequestResponse(tokens.refreshToken), Session.Error.UNAUTHORISED);
});

ctx.test("session.mergeIntoAccessTokenPayload on an expired token updates the stored claims only", async () => {
    const session = await Session.createNewSessionWithoutRequestResponse("public", rid(newUserId()), { v: 1 });
    const before = session.getAccessToken();
    await waitForExpiry(before);

    // The core's regenerate updates the stored payload and, the token being expired,
    // returns no new access token (the SDK then keeps its token and merges the claims).
    const { calls } = await ctx.recordCoreCalls(() => session.mergeIntoAccessTokenPayload({ v: 2 }));
    assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), ["POST /recipe/session/regenerate"]);
    assert.equal(session.getAccessToken(), before);
    assert.equal(session.getAccessTokenPayload().v, 2);
    assert.equal((await Session.getSessionInformation(session.getHandle())).customClaimsInAccessTokenPayload.v, 2);

    const refreshed = await Session.refreshSessionWithoutRequestResponse(session.getAllSessionTokensDangerously().refreshToken);
    assert.equal(refreshed.getAccessTokenPayload().v, 2);
});
