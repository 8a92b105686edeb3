"use strict";
// Sessions through supertokens-node's Session recipe without an HTTP framework
// (the *WithoutRequestResponse functions and the handle-based functions).
// Session.init({ antiCsrf: "VIA_TOKEN" }), dynamic signing keys (the SDK's default),
// default access_token_validity (3600 s).
//
// What the SDK sends and reads: node_modules/supertokens-node/lib/build/recipe/session/
// sessionFunctions.js and recipeImplementation.js. Expected token contents:
// algorithms.md §1 (V5 access tokens, V2 refresh tokens, parent/child refresh of CDI <= 5.5).

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const { setup, uniqueId, sorted, decodeJwt, sha256hex, loadJose, UUID_V4 } = require("../helpers");

const ctx = setup({
    recipeList: () => [Session.init({ antiCsrf: "VIA_TOKEN" })],
});

// The SDK adds `iss` = apiDomain + apiBasePath (default "/auth") to every new session's
// payload (recipe/openid/recipeImplementation.js getOpenIdDiscoveryConfiguration).
const ISSUER = "http://localhost:3001/auth";
// Default refresh_token_validity: 144000 minutes (config.md).
const REFRESH_VALIDITY_MS = 144000 * 60 * 1000;
const DEFAULT_ACCESS_VALIDITY_S = 3600;

const newUserId = () => `user-${crypto.randomUUID()}`;
const rid = (userId) => supertokens.convertToRecipeUserId(userId);

async function createSession(userId, payload = {}, data = {}, tenantId = "public", disableAntiCsrf = false) {
    return Session.createNewSessionWithoutRequestResponse(tenantId, rid(userId), payload, data, disableAntiCsrf);
}

/** Asserts that `promise` rejects with a Session error of the given type; returns the error. */
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

/** exp - iat of a minted token: the configured validity, shortened by at most 5 % jitter and 1 s rounding. */
function assertValidity(payload, seconds) {
    const lifetime = payload.exp - payload.iat;
    assert.ok(
        lifetime <= seconds && lifetime >= Math.floor(seconds * 0.95) - 1,
        `exp - iat = ${lifetime}, expected about ${seconds}`,
    );
}

const verifyCalls = (calls) => calls.filter((c) => c.method === "POST" && c.path === "/recipe/session/verify");

ctx.test("createNewSessionWithoutRequestResponse (public): ids, handle, tokens and claims", async () => {
    const userId = newUserId();
    const before = Math.floor(Date.now() / 1000);
    const session = await createSession(userId, { role: "admin", n: 1, nested: { a: [1, 2] } }, { secret: "s" });
    const after = Math.ceil(Date.now() / 1000);

    assert.equal(session.getUserId(), userId);
    assert.equal(session.getRecipeUserId().getAsString(), userId);
    assert.equal(session.getTenantId(), "public");
    assert.match(session.getHandle(), UUID_V4, "a public-tenant handle is a bare UUID v4");

    const tokens = session.getAllSessionTokensDangerously();
    assert.equal(tokens.accessAndFrontTokenUpdated, true);
    assert.match(tokens.refreshToken, /^[A-Za-z0-9+/]+=*\.[0-9a-f]{64}\.V2$/, "refresh token format V2");
    assert.match(tokens.antiCsrfToken, UUID_V4, "antiCsrf VIA_TOKEN: the core returns an anti-CSRF token");

    const { header, payload } = decodeJwt(tokens.accessToken);
    assert.equal(header.alg, "RS256");
    assert.equal(header.typ, "JWT");
    assert.equal(header.version, "5");
    assert.match(header.kid, /^d-\d+$/, "dynamic signing key");

    assert.equal(payload.sub, userId);
    assert.equal(payload.rsub, userId);
    assert.equal(payload.tId, "public");
    assert.equal(payload.sessionHandle, session.getHandle());
    assert.equal(payload.refreshTokenHash1, sha256hex(tokens.refreshToken));
    assert.ok("parentRefreshTokenHash1" in payload && payload.parentRefreshTokenHash1 === null);
    assert.equal(payload.antiCsrfToken, tokens.antiCsrfToken);
    assert.equal(payload.role, "admin");
    assert.equal(payload.n, 1);
    assert.deepEqual(payload.nested, { a: [1, 2] });
    assert.equal(payload.iss, ISSUER);
    assert.ok(payload.iat >= before - 1 && payload.iat <= after, `iat ${payload.iat} not in [${before}, ${after}]`);
    assertValidity(payload, DEFAULT_ACCESS_VALIDITY_S);
    assert.deepEqual(session.getAccessTokenPayload(), payload);

    // The front token: base64 of {uid, ate, up} (cookieAndHeaders.js buildFrontToken).
    const front = JSON.parse(Buffer.from(tokens.frontToken, "base64").toString("utf8"));
    assert.equal(front.uid, userId);
    assert.equal(front.ate, payload.exp * 1000);
    assert.deepEqual(front.up, payload);
});

ctx.test("getSessionInformation returns what was stored", async () => {
    const userId = newUserId();
    const before = Date.now();
    const session = await createSession(userId, { role: "viewer" }, { secret: "s", list: [1, "x", null] });
    const after = Date.now();

    const info = await Session.getSessionInformation(session.getHandle());
    assert.ok(info, "getSessionInformation returned undefined for a live session");
    assert.equal(info.sessionHandle, session.getHandle());
    assert.equal(info.userId, userId);
    assert.equal(info.recipeUserId.getAsString(), userId);
    assert.equal(info.tenantId, "public");
    assert.deepEqual(info.sessionDataInDatabase, { secret: "s", list: [1, "x", null] });
    assert.deepEqual(info.customClaimsInAccessTokenPayload, { role: "viewer", iss: ISSUER });
    assert.ok(info.timeCreated >= before - 1000 && info.timeCreated <= after + 1000, `timeCreated ${info.timeCreated}`);
    // expiry is the refresh token's expiry: created + refresh_token_validity
    assert.equal(info.expiry - info.timeCreated, REFRESH_VALIDITY_MS);

    // the Session object's own accessors read the same row
    assert.equal(await session.getTimeCreated(), info.timeCreated);
    assert.equal(await session.getExpiry(), info.expiry);
    assert.deepEqual(await session.getSessionDataFromDatabase(), info.sessionDataInDatabase);

    assert.equal(await Session.getSessionInformation(crypto.randomUUID()), undefined);
});

ctx.test("getSessionWithoutRequestResponse verifies locally with the JWKS: no core call", async () => {
    const userId = newUserId();
    const created = await createSession(userId, { role: "admin" });
    const { accessToken, antiCsrfToken } = created.getAllSessionTokensDangerously();

    const { result: session, calls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(accessToken, antiCsrfToken),
    );
    assert.deepEqual(calls, [], `no core call expected, got ${JSON.stringify(calls)}`);
    assert.equal(session.getHandle(), created.getHandle());
    assert.equal(session.getUserId(), userId);
    assert.equal(session.getRecipeUserId().getAsString(), userId);
    assert.equal(session.getTenantId(), "public");
    assert.equal(session.getAccessTokenPayload().role, "admin");
    const tokens = session.getAllSessionTokensDangerously();
    assert.equal(tokens.accessToken, accessToken);
    assert.equal(tokens.accessAndFrontTokenUpdated, false);
    assert.equal(tokens.refreshToken, undefined);

    // A token whose signature does not match is refused (TRY_REFRESH_TOKEN), also locally.
    const [h, p, s] = accessToken.split(".");
    const forged = JSON.parse(Buffer.from(p, "base64url").toString());
    forged.sub = "someone-else";
    const forgedToken = `${h}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${s}`;
    await assertSessionError(Session.getSessionWithoutRequestResponse(forgedToken, antiCsrfToken), Session.Error.TRY_REFRESH_TOKEN);

    // Not a JWT at all: UNAUTHORISED
    await assertSessionError(Session.getSessionWithoutRequestResponse("not-a-token", antiCsrfToken), Session.Error.UNAUTHORISED);
});

ctx.test("checkDatabase: true asks the core (POST /recipe/session/verify)", async () => {
    const userId = newUserId();
    const created = await createSession(userId, { role: "admin" });
    const { accessToken, antiCsrfToken } = created.getAllSessionTokensDangerously();

    const { result: session, calls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(accessToken, antiCsrfToken, { checkDatabase: true }),
    );
    const verify = verifyCalls(calls);
    assert.equal(verify.length, 1, `expected one verify call, got ${JSON.stringify(calls)}`);
    assert.deepEqual(verify[0].body, {
        accessToken,
        antiCsrfToken,
        doAntiCsrfCheck: true,
        enableAntiCsrf: true,
        checkDatabase: true,
    });
    assert.equal(session.getHandle(), created.getHandle());
    assert.equal(session.getUserId(), userId);
    assert.equal(session.getTenantId(), "public");
    assert.equal(session.getAccessTokenPayload().role, "admin");
    // no child token and an unchanged payload: the core hands out no new access token
    assert.equal(session.getAllSessionTokensDangerously().accessAndFrontTokenUpdated, false);
    assert.equal(session.getAccessToken(), accessToken);
});

ctx.test("anti-CSRF VIA_TOKEN: the token's antiCsrfToken must be passed unless antiCsrfCheck is false", async () => {
    const created = await createSession(newUserId());
    const { accessToken, antiCsrfToken } = created.getAllSessionTokensDangerously();
    assert.equal(typeof antiCsrfToken, "string");

    await assertSessionError(Session.getSessionWithoutRequestResponse(accessToken, undefined), Session.Error.TRY_REFRESH_TOKEN);
    await assertSessionError(
        Session.getSessionWithoutRequestResponse(accessToken, crypto.randomUUID()),
        Session.Error.TRY_REFRESH_TOKEN,
    );

    const unchecked = await Session.getSessionWithoutRequestResponse(accessToken, undefined, { antiCsrfCheck: false });
    assert.equal(unchecked.getHandle(), created.getHandle());

    // through the core, with the check off
    const { result: viaCore, calls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(accessToken, undefined, { antiCsrfCheck: false, checkDatabase: true }),
    );
    assert.equal(viaCore.getHandle(), created.getHandle());
    const verify = verifyCalls(calls);
    assert.equal(verify.length, 1);
    assert.equal(verify[0].body.doAntiCsrfCheck, false);
    assert.equal(verify[0].body.enableAntiCsrf, true);
});

ctx.test("a session created with disableAntiCsrf has no anti-CSRF token", async () => {
    const created = await createSession(newUserId(), {}, {}, "public", true);
    const { accessToken, antiCsrfToken } = created.getAllSessionTokensDangerously();
    assert.equal(antiCsrfToken, undefined);
    assert.equal(decodeJwt(accessToken).payload.antiCsrfToken, null);

    // VIA_TOKEN with the check on needs an antiCsrfToken in the access token
    await assertSessionError(Session.getSessionWithoutRequestResponse(accessToken, undefined), Session.Error.TRY_REFRESH_TOKEN);
    const session = await Session.getSessionWithoutRequestResponse(accessToken, undefined, { antiCsrfCheck: false });
    assert.equal(session.getHandle(), created.getHandle());
});

ctx.test("refreshSessionWithoutRequestResponse: a child token; verify promotes it; the child refreshes", async () => {
    const userId = newUserId();
    const s0 = await createSession(userId, { k: 1 });
    const t0 = s0.getAllSessionTokensDangerously();

    const { result: s1, calls: refreshCalls } = await ctx.recordCoreCalls(() =>
        Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken),
    );
    assert.deepEqual(
        refreshCalls.map((c) => `${c.method} ${c.path}`),
        ["POST /recipe/session/refresh"],
    );
    assert.deepEqual(refreshCalls[0].body, {
        refreshToken: t0.refreshToken,
        antiCsrfToken: t0.antiCsrfToken,
        enableAntiCsrf: true,
        useDynamicSigningKey: true,
    });
    const t1 = s1.getAllSessionTokensDangerously();
    assert.equal(s1.getHandle(), s0.getHandle());
    assert.equal(s1.getUserId(), userId);
    assert.equal(s1.getRecipeUserId().getAsString(), userId);
    assert.equal(s1.getTenantId(), "public");
    assert.equal(t1.accessAndFrontTokenUpdated, true);
    assert.notEqual(t1.refreshToken, t0.refreshToken);
    assert.match(t1.refreshToken, /\.V2$/);
    assert.equal(typeof t1.antiCsrfToken, "string");

    const p1 = decodeJwt(t1.accessToken).payload;
    assert.equal(p1.sessionHandle, s0.getHandle());
    assert.equal(p1.sub, userId);
    assert.equal(p1.refreshTokenHash1, sha256hex(t1.refreshToken));
    assert.equal(p1.parentRefreshTokenHash1, sha256hex(t0.refreshToken), "a child token names its parent");
    assert.equal(p1.k, 1);
    assert.equal(p1.iss, ISSUER);
    assertValidity(p1, DEFAULT_ACCESS_VALIDITY_S);

    // A token with a parent hash is always sent to the core, which promotes the child
    // and answers with a new access token without parent.
    const { result: verified, calls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(t1.accessToken, t1.antiCsrfToken),
    );
    const verify = verifyCalls(calls);
    assert.equal(verify.length, 1, "a child access token is verified by the core");
    assert.equal(verify[0].body.checkDatabase, false);
    const tv = verified.getAllSessionTokensDangerously();
    assert.equal(tv.accessAndFrontTokenUpdated, true, "the core must hand out a new access token after promotion");
    const pv = decodeJwt(tv.accessToken).payload;
    assert.equal(pv.sessionHandle, s0.getHandle());
    assert.equal(pv.parentRefreshTokenHash1, null);
    assert.equal(pv.refreshTokenHash1, sha256hex(t1.refreshToken));
    assert.equal(pv.k, 1);
    assert.deepEqual(verified.getAccessTokenPayload(), pv);

    // the promoted token verifies locally
    const { calls: localCalls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(tv.accessToken, t1.antiCsrfToken),
    );
    assert.deepEqual(localCalls, []);

    // the child is now the current refresh token
    const s2 = await Session.refreshSessionWithoutRequestResponse(t1.refreshToken, false, t1.antiCsrfToken);
    const p2 = decodeJwt(s2.getAllSessionTokensDangerously().accessToken).payload;
    assert.equal(s2.getHandle(), s0.getHandle());
    assert.equal(p2.parentRefreshTokenHash1, sha256hex(t1.refreshToken));

    // and the original parent is gone: replaying it is theft
    await assertSessionError(
        Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken),
        Session.Error.TOKEN_THEFT_DETECTED,
    );
});

ctx.test("refreshing the same parent twice before a child is used is not theft", async () => {
    const s0 = await createSession(newUserId());
    const t0 = s0.getAllSessionTokensDangerously();

    const a = await Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken);
    const b = await Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken);
    const ta = a.getAllSessionTokensDangerously();
    const tb = b.getAllSessionTokensDangerously();
    assert.equal(a.getHandle(), s0.getHandle());
    assert.equal(b.getHandle(), s0.getHandle());
    assert.notEqual(ta.refreshToken, tb.refreshToken, "every refresh mints a new child");
    assert.equal(decodeJwt(ta.accessToken).payload.parentRefreshTokenHash1, sha256hex(t0.refreshToken));
    assert.equal(decodeJwt(tb.accessToken).payload.parentRefreshTokenHash1, sha256hex(t0.refreshToken));

    // using one child promotes it ...
    const c = await Session.refreshSessionWithoutRequestResponse(tb.refreshToken, false, tb.antiCsrfToken);
    assert.equal(c.getHandle(), s0.getHandle());
    // ... after which its sibling is neither the current token nor its child
    await assertSessionError(
        Session.refreshSessionWithoutRequestResponse(ta.refreshToken, false, ta.antiCsrfToken),
        Session.Error.TOKEN_THEFT_DETECTED,
    );
});

ctx.test("TOKEN_THEFT_DETECTED when an old refresh token is replayed after the child was used", async () => {
    const userId = newUserId();
    const s0 = await createSession(userId, { k: "v" });
    const t0 = s0.getAllSessionTokensDangerously();
    const s1 = await Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken);
    const t1 = s1.getAllSessionTokensDangerously();
    // using the child promotes it
    const s2 = await Session.refreshSessionWithoutRequestResponse(t1.refreshToken, false, t1.antiCsrfToken);
    const t2 = s2.getAllSessionTokensDangerously();

    const { result: err, calls } = await ctx.recordCoreCalls(() =>
        assertSessionError(
            Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken),
            Session.Error.TOKEN_THEFT_DETECTED,
        ),
    );
    assert.deepEqual(
        calls.map((c) => `${c.method} ${c.path}`),
        ["POST /recipe/session/refresh"],
    );
    assert.equal(err.payload.sessionHandle, s0.getHandle());
    assert.equal(err.payload.userId, userId);
    assert.equal(err.payload.recipeUserId.getAsString(), userId);

    // The core reports theft but does not revoke the session (algorithms.md §1.7;
    // the SDK's request-based error handler revokes it, see webapp.test.js).
    const info = await Session.getSessionInformation(s0.getHandle());
    assert.ok(info, "the core must not revoke the session on TOKEN_THEFT_DETECTED");
    const s3 = await Session.refreshSessionWithoutRequestResponse(t2.refreshToken, false, t2.antiCsrfToken);
    assert.equal(s3.getHandle(), s0.getHandle());
});

ctx.test("refresh with a wrong anti-CSRF token, a garbage or a tampered token: UNAUTHORISED", async () => {
    const s0 = await createSession(newUserId());
    const t0 = s0.getAllSessionTokensDangerously();

    await assertSessionError(
        Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, crypto.randomUUID()),
        Session.Error.UNAUTHORISED,
    );
    await assertSessionError(
        Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, undefined),
        Session.Error.UNAUTHORISED,
    );
    await assertSessionError(Session.refreshSessionWithoutRequestResponse("garbage", false), Session.Error.UNAUTHORISED);
    const [enc, nonce, v] = t0.refreshToken.split(".");
    const otherNonce = (nonce[0] === "a" ? "b" : "a") + nonce.slice(1);
    await assertSessionError(
        Session.refreshSessionWithoutRequestResponse(`${enc}.${otherNonce}.${v}`, false, t0.antiCsrfToken),
        Session.Error.UNAUTHORISED,
    );

    // none of that harmed the session
    const ok = await Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken);
    assert.equal(ok.getHandle(), s0.getHandle());
    // With anti-CSRF disabled for the call, the token's anti-CSRF value is not checked, and
    // the new tokens carry none (the core mints one only when enableAntiCsrf is true).
    const noCsrf = await Session.refreshSessionWithoutRequestResponse(t0.refreshToken, true);
    assert.equal(noCsrf.getHandle(), s0.getHandle());
    assert.equal(noCsrf.getAllSessionTokensDangerously().antiCsrfToken, undefined);
    assert.equal(noCsrf.getAccessTokenPayload().antiCsrfToken, null);
});

ctx.test("revokeSession: the session is gone for the core; the access token stays valid locally", async () => {
    const userId = newUserId();
    const s0 = await createSession(userId);
    const t0 = s0.getAllSessionTokensDangerously();

    const { result: revoked, calls } = await ctx.recordCoreCalls(() => Session.revokeSession(s0.getHandle()));
    assert.equal(revoked, true);
    assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), ["POST /recipe/session/remove"]);
    assert.deepEqual(calls[0].body, { sessionHandles: [s0.getHandle()] });
    assert.equal(await Session.revokeSession(s0.getHandle()), false, "revoking twice");

    assert.equal(await Session.getSessionInformation(s0.getHandle()), undefined);
    assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), []);

    // an access token cannot be revoked: local verification still accepts it
    const local = await Session.getSessionWithoutRequestResponse(t0.accessToken, t0.antiCsrfToken);
    assert.equal(local.getHandle(), s0.getHandle());
    // the core does not
    await assertSessionError(
        Session.getSessionWithoutRequestResponse(t0.accessToken, t0.antiCsrfToken, { checkDatabase: true }),
        Session.Error.UNAUTHORISED,
    );
    await assertSessionError(
        Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken),
        Session.Error.UNAUTHORISED,
    );
    assert.equal(await Session.updateSessionDataInDatabase(s0.getHandle(), { x: 1 }), false);
    assert.equal(await Session.mergeIntoAccessTokenPayload(s0.getHandle(), { x: 1 }), false);
    // the Session object reports UNAUTHORISED for database reads and token regeneration
    await assertSessionError(s0.getSessionDataFromDatabase(), Session.Error.UNAUTHORISED);
    await assertSessionError(s0.mergeIntoAccessTokenPayload({ x: 1 }), Session.Error.UNAUTHORISED);
});

ctx.test("revokeMultipleSessions revokes exactly the given live sessions", async () => {
    const userId = newUserId();
    const a = await createSession(userId);
    const b = await createSession(userId);
    const c = await createSession(userId);
    const unknown = crypto.randomUUID();

    const revoked = await Session.revokeMultipleSessions([a.getHandle(), c.getHandle(), unknown]);
    assert.deepEqual(sorted(revoked), sorted([a.getHandle(), c.getHandle()]));
    assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), [b.getHandle()]);
    assert.deepEqual(await Session.revokeMultipleSessions([a.getHandle()]), []);
});

ctx.test("getAllSessionHandlesForUser and revokeAllSessionsForUser, per tenant and across tenants", async () => {
    const tenantId = uniqueId("sess");
    assert.deepEqual(await Multitenancy.createOrUpdateTenant(tenantId), { status: "OK", createdNew: true });
    const userId = newUserId();
    const otherUser = newUserId();

    const pub1 = await createSession(userId);
    const pub2 = await createSession(userId);
    const inTenant = await createSession(userId, {}, {}, tenantId);
    const other = await createSession(otherUser);

    const { result: all, calls } = await ctx.recordCoreCalls(() => Session.getAllSessionHandlesForUser(userId));
    assert.deepEqual(sorted(all), sorted([pub1.getHandle(), pub2.getHandle(), inTenant.getHandle()]));
    assert.equal(calls[0].path, "/recipe/session/user");
    assert.deepEqual(
        sorted(await Session.getAllSessionHandlesForUser(userId, true, "public")),
        sorted([pub1.getHandle(), pub2.getHandle()]),
    );
    assert.deepEqual(await Session.getAllSessionHandlesForUser(userId, true, tenantId), [inTenant.getHandle()]);
    assert.deepEqual(await Session.getAllSessionHandlesForUser(otherUser), [other.getHandle()]);
    assert.deepEqual(await Session.getAllSessionHandlesForUser(newUserId()), []);

    // revoke in one tenant only
    const { result: revokedInTenant, calls: removeCalls } = await ctx.recordCoreCalls(() =>
        Session.revokeAllSessionsForUser(userId, true, tenantId),
    );
    assert.deepEqual(revokedInTenant, [inTenant.getHandle()]);
    assert.equal(removeCalls[0].path, `/${tenantId}/recipe/session/remove`);
    assert.equal(removeCalls[0].body.revokeAcrossAllTenants, false);
    assert.deepEqual(sorted(await Session.getAllSessionHandlesForUser(userId)), sorted([pub1.getHandle(), pub2.getHandle()]));

    // revoke everywhere
    const revokedAll = await Session.revokeAllSessionsForUser(userId);
    assert.deepEqual(sorted(revokedAll), sorted([pub1.getHandle(), pub2.getHandle()]));
    assert.deepEqual(await Session.getAllSessionHandlesForUser(userId), []);
    assert.deepEqual(await Session.revokeAllSessionsForUser(userId), []);

    // the other user's session is untouched
    assert.deepEqual(await Session.getAllSessionHandlesForUser(otherUser), [other.getHandle()]);
    assert.ok(await Session.getSessionInformation(other.getHandle()));
});

ctx.test("sessions in several tenants: handle suffix, tId, verification and refresh", async () => {
    const tenants = [uniqueId("ta"), uniqueId("tb")];
    for (const t of tenants) await Multitenancy.createOrUpdateTenant(t);
    const userId = newUserId();

    for (const tenantId of tenants) {
        const session = await createSession(userId, { where: tenantId }, { t: tenantId }, tenantId);
        const handle = session.getHandle();
        assert.equal(session.getTenantId(), tenantId);
        assert.ok(handle.endsWith(`_${tenantId}`), `handle ${handle} must end with _${tenantId}`);
        assert.match(handle.slice(0, -(tenantId.length + 1)), UUID_V4);

        const tokens = session.getAllSessionTokensDangerously();
        const { payload } = decodeJwt(tokens.accessToken);
        assert.equal(payload.tId, tenantId);
        assert.equal(payload.sessionHandle, handle);
        assert.equal(payload.where, tenantId);

        const info = await Session.getSessionInformation(handle);
        assert.equal(info.tenantId, tenantId);
        assert.equal(info.userId, userId);
        assert.deepEqual(info.sessionDataInDatabase, { t: tenantId });

        const local = await Session.getSessionWithoutRequestResponse(tokens.accessToken, tokens.antiCsrfToken);
        assert.equal(local.getTenantId(), tenantId);
        const viaCore = await Session.getSessionWithoutRequestResponse(tokens.accessToken, tokens.antiCsrfToken, {
            checkDatabase: true,
        });
        assert.equal(viaCore.getTenantId(), tenantId);
        assert.equal(viaCore.getHandle(), handle);

        const refreshed = await Session.refreshSessionWithoutRequestResponse(tokens.refreshToken, false, tokens.antiCsrfToken);
        assert.equal(refreshed.getHandle(), handle);
        assert.equal(refreshed.getTenantId(), tenantId);
        assert.equal(decodeJwt(refreshed.getAllSessionTokensDangerously().accessToken).payload.tId, tenantId);
    }

    const handles = await Session.getAllSessionHandlesForUser(userId);
    assert.equal(handles.length, 2);
    assert.deepEqual(sorted(handles.map((h) => h.slice(h.indexOf("_") + 1))), sorted(tenants));
});

ctx.test("updateSessionDataInDatabase replaces the data; an unknown handle gives false", async () => {
    const session = await createSession(newUserId(), {}, { a: 1, b: { c: 2 } });

    assert.equal(await Session.updateSessionDataInDatabase(session.getHandle(), { z: true }), true);
    assert.deepEqual((await Session.getSessionInformation(session.getHandle())).sessionDataInDatabase, { z: true });

    // the Session object's variant
    await session.updateSessionDataInDatabase({ fromObject: [1, 2, 3] });
    assert.deepEqual(await session.getSessionDataFromDatabase(), { fromObject: [1, 2, 3] });

    // the access token payload is a different thing and is untouched
    assert.deepEqual((await Session.getSessionInformation(session.getHandle())).customClaimsInAccessTokenPayload, {
        iss: ISSUER,
    });

    assert.equal(await Session.updateSessionDataInDatabase(crypto.randomUUID(), { z: true }), false);
});

ctx.test("mergeIntoAccessTokenPayload(handle): stored claims merge; the next core verify hands out an updated token", async () => {
    const userId = newUserId();
    const session = await createSession(userId, { keep: 1, drop: "x", change: "old" });
    const t0 = session.getAllSessionTokensDangerously();

    const { result: ok, calls } = await ctx.recordCoreCalls(() =>
        Session.mergeIntoAccessTokenPayload(session.getHandle(), { change: "new", added: { deep: true }, drop: null }),
    );
    assert.equal(ok, true);
    assert.deepEqual(
        calls.map((c) => `${c.method} ${c.path}`),
        ["GET /recipe/session", "PUT /recipe/jwt/data"],
    );
    const expectedClaims = { keep: 1, change: "new", added: { deep: true }, iss: ISSUER };
    assert.deepEqual(calls[1].body, { sessionHandle: session.getHandle(), userDataInJWT: expectedClaims });
    assert.deepEqual((await Session.getSessionInformation(session.getHandle())).customClaimsInAccessTokenPayload, expectedClaims);

    // The existing token is unchanged and still verifies locally with the old claims.
    const local = await Session.getSessionWithoutRequestResponse(t0.accessToken, t0.antiCsrfToken);
    assert.equal(local.getAccessTokenPayload().change, "old");
    assert.equal(local.getAllSessionTokensDangerously().accessAndFrontTokenUpdated, false);

    // Verified by the core, the changed payload yields a new access token (algorithms.md §1.8).
    const checked = await Session.getSessionWithoutRequestResponse(t0.accessToken, t0.antiCsrfToken, { checkDatabase: true });
    assert.equal(checked.getAllSessionTokensDangerously().accessAndFrontTokenUpdated, true);
    const p = checked.getAccessTokenPayload();
    assert.equal(p.change, "new");
    assert.equal(p.keep, 1);
    assert.deepEqual(p.added, { deep: true });
    assert.ok(!("drop" in p), "a null in the update removes the claim");
    assert.equal(p.sessionHandle, session.getHandle());
    assert.equal(p.sub, userId);

    // A refresh mints tokens with the stored claims.
    const refreshed = await Session.refreshSessionWithoutRequestResponse(t0.refreshToken, false, t0.antiCsrfToken);
    const pr = refreshed.getAccessTokenPayload();
    assert.equal(pr.change, "new");
    assert.ok(!("drop" in pr));

    assert.equal(await Session.mergeIntoAccessTokenPayload(crypto.randomUUID(), { a: 1 }), false);
});

ctx.test("session.mergeIntoAccessTokenPayload regenerates the access token (POST /recipe/session/regenerate)", async () => {
    const userId = newUserId();
    const session = await createSession(userId, { role: "user", temp: 1 });
    const t0 = session.getAllSessionTokensDangerously();
    const p0 = decodeJwt(t0.accessToken).payload;

    const { calls } = await ctx.recordCoreCalls(() => session.mergeIntoAccessTokenPayload({ role: "admin", temp: null, x: [1] }));
    assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), ["POST /recipe/session/regenerate"]);
    assert.deepEqual(calls[0].body, {
        accessToken: t0.accessToken,
        userDataInJWT: { role: "admin", x: [1], iss: ISSUER },
    });

    const t1 = session.getAllSessionTokensDangerously();
    assert.notEqual(t1.accessToken, t0.accessToken, "regenerate must return a new access token");
    assert.equal(t1.accessAndFrontTokenUpdated, true);
    const { header, payload: p1 } = decodeJwt(t1.accessToken);
    assert.match(header.kid, /^d-/);
    assert.equal(p1.role, "admin");
    assert.deepEqual(p1.x, [1]);
    assert.ok(!("temp" in p1));
    assert.equal(p1.iss, ISSUER);
    assert.equal(p1.sub, userId);
    assert.equal(p1.sessionHandle, session.getHandle());
    assert.equal(p1.refreshTokenHash1, p0.refreshTokenHash1);
    assert.equal(p1.antiCsrfToken, p0.antiCsrfToken);
    assert.equal(p1.exp, p0.exp, "regenerate keeps the absolute expiry");
    assert.deepEqual(session.getAccessTokenPayload(), p1);

    // stored too
    assert.deepEqual((await Session.getSessionInformation(session.getHandle())).customClaimsInAccessTokenPayload, {
        role: "admin",
        x: [1],
        iss: ISSUER,
    });

    // the new token verifies locally, the claims are there
    const verified = await Session.getSessionWithoutRequestResponse(t1.accessToken, t0.antiCsrfToken);
    assert.equal(verified.getAccessTokenPayload().role, "admin");

    // a second merge keeps the claims of the first
    await session.mergeIntoAccessTokenPayload({ n: 2 });
    const p2 = session.getAccessTokenPayload();
    assert.equal(p2.n, 2);
    assert.equal(p2.role, "admin");
});

ctx.test("JWKS: /.well-known/jwks.json, its Cache-Control, Session.getJWKS and /recipe/jwt/jwks", async () => {
    const session = await createSession(newUserId());
    const { header } = decodeJwt(session.getAllSessionTokensDangerously().accessToken);

    const res = await fetch(`${ctx.connectionURI}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    const cacheControl = res.headers.get("cache-control");
    const m = /^max-age=(\d+), must-revalidate$/.exec(cacheControl || "");
    assert.ok(m, `Cache-Control: ${cacheControl}`);
    const maxAge = Number(m[1]);
    // at most the update interval (default 168 h), at least 1
    assert.ok(maxAge >= 1 && maxAge <= 168 * 3600, `max-age ${maxAge}`);

    const body = await res.json();
    assert.deepEqual(Object.keys(body), ["keys"], "no status in /.well-known/jwks.json");
    assert.ok(body.keys.length >= 2, `expected a dynamic and a static key: ${JSON.stringify(body.keys)}`);
    for (const key of body.keys) {
        assert.deepEqual(sorted(Object.keys(key)), ["alg", "e", "kid", "kty", "n", "use"]);
        assert.equal(key.kty, "RSA");
        assert.equal(key.alg, "RS256");
        assert.equal(key.use, "sig");
        assert.equal(key.e, "AQAB");
        assert.match(key.n, /^[A-Za-z0-9_-]+$/);
        assert.equal(Buffer.from(key.n, "base64url").length, 256, "RSA 2048 modulus");
        assert.match(key.kid, /^(d-\d+|s-[0-9a-f-]{36})$/);
    }
    const kinds = body.keys.map((k) => k.kid[0]);
    assert.ok(kinds.includes("d") && kinds.includes("s"));
    assert.equal(kinds.join("").replace(/^d+s+$/, ""), "", `dynamic keys first: ${kinds.join("")}`);
    const dynamicTimes = body.keys.filter((k) => k.kid.startsWith("d-")).map((k) => Number(k.kid.slice(2)));
    assert.deepEqual(dynamicTimes, [...dynamicTimes].sort((a, b) => b - a), "dynamic keys newest first");
    assert.ok(body.keys.some((k) => k.kid === header.kid), "the session's signing key is published");

    // The token verifies with these keys (jose, as the SDK does it).
    const jose = loadJose();
    const verified = await jose.jwtVerify(session.getAccessToken(), jose.createLocalJWKSet(body));
    assert.equal(verified.payload.sessionHandle, session.getHandle());

    // Session.getJWKS goes through the querier and reads max-age from the header.
    const sdk = await Session.getJWKS();
    assert.deepEqual(sdk.keys, body.keys);
    assert.ok(Math.abs(sdk.validityInSeconds - maxAge) <= 1, `validityInSeconds ${sdk.validityInSeconds} vs ${maxAge}`);

    // /recipe/jwt/jwks answers the same keys with a status.
    const recipeJwks = await ctx.coreRequest("GET", "/recipe/jwt/jwks");
    assert.equal(recipeJwks.status, 200);
    assert.equal(recipeJwks.body.status, "OK");
    assert.deepEqual(recipeJwks.body.keys, body.keys);
});

ctx.test("a token of another app does not verify here", async () => {
    // a second app on the same Portcullis, with its own keys
    const otherApp = crypto.randomUUID();
    const created = await fetch(`${ctx.server.baseURL}/recipe/multitenancy/app/v2`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ appId: otherApp, coreConfig: {} }),
    });
    assert.equal(created.status, 200);
    const res = await fetch(`${ctx.server.baseURL}/appid-${otherApp}/public/recipe/session`, {
        method: "POST",
        headers: { "content-type": "application/json", "cdi-version": "5.4" },
        body: JSON.stringify({
            userId: "intruder",
            userDataInJWT: {},
            userDataInDatabase: {},
            enableAntiCsrf: false,
            useDynamicSigningKey: true,
        }),
    });
    const body = await res.json();
    assert.equal(body.status, "OK");
    const foreign = body.accessToken.token;
    assert.equal(decodeJwt(foreign).payload.sub, "intruder");

    await assertSessionError(
        Session.getSessionWithoutRequestResponse(foreign, undefined, { antiCsrfCheck: false }),
        Session.Error.TRY_REFRESH_TOKEN,
    );
    // nor is its refresh token accepted by this app
    await assertSessionError(Session.refreshSessionWithoutRequestResponse(body.refreshToken.token, true), Session.Error.UNAUTHORISED);
});
