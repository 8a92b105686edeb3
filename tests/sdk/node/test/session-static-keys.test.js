"use strict";
// Static signing keys: Session.init({ useDynamicAccessTokenSigningKey: false }).
// The SDK sends useDynamicSigningKey: false on create and refresh, and refuses (with
// TRY_REFRESH_TOKEN) a token whose kid does not match its setting: kid "d-…" = dynamic
// (sessionFunctions.js getSession). Static keys: kid "s-<uuid v4>", the app's RS256 key
// in jwt_signing_keys, the same key /recipe/jwt signs with (algorithms.md §1.4, §1.6).

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const JWT = require("supertokens-node/recipe/jwt");
const { setup, decodeJwt, sha256hex } = require("../helpers");

const ctx = setup({
    recipeList: () => [Session.init({ useDynamicAccessTokenSigningKey: false, antiCsrf: "NONE" })],
});

const STATIC_KID = /^s-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const newUserId = () => `user-${crypto.randomUUID()}`;
const rid = (userId) => supertokens.convertToRecipeUserId(userId);
const kidOf = (token) => decodeJwt(token).header.kid;

async function assertSessionError(promise, type) {
    await assert.rejects(promise, (err) => {
        assert.ok(Session.Error.isErrorFromSuperTokens(err), `not a SuperTokens error: ${err && err.stack}`);
        assert.equal(err.type, type, `expected ${type}, got ${err.type}: ${err.message}`);
        return true;
    });
}

async function jwks() {
    const res = await fetch(`${ctx.connectionURI}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    return (await res.json()).keys;
}

ctx.test("tokens are signed with the app's static key", async () => {
    const userId = newUserId();
    const { result: session, calls } = await ctx.recordCoreCalls(() =>
        Session.createNewSessionWithoutRequestResponse("public", rid(userId), { a: 1 }),
    );
    const create = calls.find((c) => c.path === "/public/recipe/session");
    assert.equal(create.body.useDynamicSigningKey, false);

    const kid = kidOf(session.getAccessToken());
    assert.match(kid, STATIC_KID);
    const keys = await jwks();
    assert.ok(keys.some((k) => k.kid === kid), `${kid} not in the JWKS`);
    assert.equal(keys.filter((k) => k.kid.startsWith("s-")).length, 1, "one static RS256 key per app");

    // verifies locally
    const { result: verified, calls: verifyCalls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(session.getAccessToken()),
    );
    assert.deepEqual(verifyCalls, []);
    assert.equal(verified.getUserId(), userId);
    assert.equal(verified.getAccessTokenPayload().a, 1);

    // and through the core
    const checked = await Session.getSessionWithoutRequestResponse(session.getAccessToken(), undefined, { checkDatabase: true });
    assert.equal(checked.getHandle(), session.getHandle());

    // every static-key session of the app uses that one key
    const other = await Session.createNewSessionWithoutRequestResponse("public", rid(newUserId()));
    assert.equal(kidOf(other.getAccessToken()), kid);

    // /recipe/jwt signs with the same static key by default
    const jwt = await JWT.createJWT({ x: 1 }, 60);
    assert.equal(jwt.status, "OK");
    assert.equal(kidOf(jwt.jwt), kid);
});

ctx.test("refresh, promotion by verify and regenerate keep the static key", async () => {
    const session = await Session.createNewSessionWithoutRequestResponse("public", rid(newUserId()), { v: 1 });
    const kid = kidOf(session.getAccessToken());
    const t0 = session.getAllSessionTokensDangerously();

    const { result: refreshed, calls } = await ctx.recordCoreCalls(() =>
        Session.refreshSessionWithoutRequestResponse(t0.refreshToken),
    );
    assert.equal(calls[0].path, "/recipe/session/refresh");
    assert.equal(calls[0].body.useDynamicSigningKey, false);
    assert.equal(kidOf(refreshed.getAccessToken()), kid);
    assert.equal(refreshed.getAccessTokenPayload().parentRefreshTokenHash1, sha256hex(t0.refreshToken));

    const promoted = await Session.getSessionWithoutRequestResponse(refreshed.getAccessToken());
    assert.equal(promoted.getAllSessionTokensDangerously().accessAndFrontTokenUpdated, true);
    assert.equal(kidOf(promoted.getAccessToken()), kid, "the token minted by verify must use the session's static key");

    await promoted.mergeIntoAccessTokenPayload({ v: 2 });
    assert.equal(kidOf(promoted.getAccessToken()), kid, "regenerate must keep the session's static key");
    assert.equal(promoted.getAccessTokenPayload().v, 2);
    const again = await Session.getSessionWithoutRequestResponse(promoted.getAccessToken());
    assert.equal(again.getAccessTokenPayload().v, 2);
});

ctx.test("a dynamic-key token is refused (TRY_REFRESH_TOKEN); refresh moves the session to the static key", async () => {
    // A session created with a dynamic key, as an SDK configured for dynamic keys would.
    const userId = newUserId();
    const created = await ctx.coreRequest("POST", "/public/recipe/session", {
        userId,
        userDataInJWT: { origin: "dynamic" },
        userDataInDatabase: {},
        enableAntiCsrf: false,
        useDynamicSigningKey: true,
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.status, "OK", JSON.stringify(created.body));
    const accessToken = created.body.accessToken.token;
    assert.match(kidOf(accessToken), /^d-\d+$/);

    // valid signature, but the kid does not match useDynamicAccessTokenSigningKey: false
    await assertSessionError(Session.getSessionWithoutRequestResponse(accessToken), Session.Error.TRY_REFRESH_TOKEN);

    const refreshed = await Session.refreshSessionWithoutRequestResponse(created.body.refreshToken.token);
    assert.equal(refreshed.getHandle(), created.body.session.handle);
    assert.equal(refreshed.getUserId(), userId);
    assert.match(kidOf(refreshed.getAccessToken()), STATIC_KID);
    assert.equal(refreshed.getAccessTokenPayload().origin, "dynamic");

    const verified = await Session.getSessionWithoutRequestResponse(refreshed.getAccessToken());
    assert.equal(verified.getHandle(), created.body.session.handle);
    assert.match(kidOf(verified.getAccessToken()), STATIC_KID, "after the switch, verify mints with the static key");

    // The switch is stored: the next refresh stays static.
    const next = await Session.refreshSessionWithoutRequestResponse(refreshed.getAllSessionTokensDangerously().refreshToken);
    assert.match(kidOf(next.getAccessToken()), STATIC_KID);
});
