"use strict";
// PHASE 2 of issue 21 (see harness.js): the middle of an upgrade, when the backend already runs the
// new SDK (supertokens-node 24.0.3, CDI 5.4) and clients still hold tokens minted for the old one.
// Both majors share this process and one app. The core verifies tokens of any version under any
// CDI, re-mints in the presented version, and a refresh converts the session to the request's
// version (V5 at 5.4). Run by old-sdks.test.js.

const assert = require("node:assert/strict");

const { setupOld, decodeToken, tokenVersion } = require("./harness");

const OLD = "supertokens-node-14";
const NEW = "supertokens-node";
const V2_HEADER = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";

const ctx = setupOld({
    packages: [OLD, NEW],
    // node 14 as node14.js initialises it (it is initialised once per process); node 24 without anti-CSRF.
    recipeList: (pkg) => [
        ...(pkg === OLD ? [require(`${pkg}/recipe/emailpassword`).init()] : []),
        require(`${pkg}/recipe/session`).init({ antiCsrf: pkg === OLD ? "VIA_TOKEN" : "NONE" }),
    ],
});

const OldSession = () => require(`${OLD}/recipe/session`);
const NewSession = () => require(`${NEW}/recipe/session`);

ctx.test("a V3 token minted for node 14 (CDI 2.21) is verified, regenerated and refreshed by node 24 (CDI 5.4)", async () => {
    const old = await OldSession().createNewSessionWithoutRequestResponse("mid-user-3", { role: "admin" }, {});
    const tokens = old.getAllSessionTokensDangerously();
    assert.equal(tokenVersion(tokens.accessToken), 3);

    // Locally: node 24 reads V3 (tenant `public`, recipe user = `sub`) with the JWKS.
    const local = await NewSession().getSessionWithoutRequestResponse(tokens.accessToken);
    assert.equal(local.getUserId(), "mid-user-3");
    assert.equal(local.getTenantId(), "public");
    assert.equal(local.getRecipeUserId().getAsString(), "mid-user-3");
    assert.equal(local.getAccessTokenPayload().role, "admin");

    // With the database: the core verifies the V3 token at 5.4.
    const { result: checked, calls } = await ctx.record(() =>
        NewSession().getSessionWithoutRequestResponse(tokens.accessToken, undefined, { checkDatabase: true }),
    );
    const verify = calls.find((c) => c.path === "/recipe/session/verify");
    assert.equal(verify.cdiVersion, "5.4");
    assert.equal(verify.reply.status, "OK", JSON.stringify(verify.reply));
    assert.equal(verify.reply.session.userId, "mid-user-3");

    // A payload update re-mints in the presented version (V3).
    await checked.mergeIntoAccessTokenPayload({ k: "v" });
    const regenerated = checked.getAllSessionTokensDangerously().accessToken;
    assert.equal(tokenVersion(regenerated), 3);
    assert.equal(decodeToken(regenerated).payload.k, "v");

    // Refresh at 5.4 converts the session: a V5 token with the stored claims.
    const { result: refreshed, calls: refreshCalls } = await ctx.record(() =>
        NewSession().refreshSessionWithoutRequestResponse(tokens.refreshToken),
    );
    assert.equal(refreshCalls.find((c) => c.path === "/recipe/session/refresh").cdiVersion, "5.4");
    const v5 = refreshed.getAllSessionTokensDangerously().accessToken;
    assert.equal(tokenVersion(v5), 5);
    const { payload } = decodeToken(v5);
    assert.equal(payload.tId, "public");
    assert.equal(payload.rsub, "mid-user-3");
    assert.equal(payload.role, "admin");
    assert.equal(payload.k, "v");
    const promoted = await NewSession().getSessionWithoutRequestResponse(v5);
    assert.equal(promoted.getHandle(), old.getHandle());
});

ctx.test("a V2 token minted under CDI 2.20 is verified by the core and refreshed by node 24 (CDI 5.4)", async () => {
    // As node 13 or supertokens-python 0.12 would have created it.
    const created = await ctx.coreRequest(
        "POST",
        "/recipe/session",
        { userId: "mid-user-2", userDataInJWT: { role: "admin" }, userDataInDatabase: {}, enableAntiCsrf: false },
        "2.20",
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const v2 = created.body.accessToken.token;
    assert.ok(v2.startsWith(`${V2_HEADER}.`), v2);
    assert.ok(created.body.idRefreshToken, "CDI 2.20 has idRefreshToken");

    // node 24 checks a V2 token (no kid) against every key of the JWKS, locally.
    const { result: local, calls: localCalls } = await ctx.record(() => NewSession().getSessionWithoutRequestResponse(v2));
    assert.equal(local.getUserId(), "mid-user-2");
    assert.ok(!localCalls.some((c) => c.path === "/recipe/session/verify"), JSON.stringify(localCalls.map((c) => c.path)));
    // With the database: the core verifies the V2 token at 5.4.
    const { result: s, calls } = await ctx.record(() =>
        NewSession().getSessionWithoutRequestResponse(v2, undefined, { checkDatabase: true }),
    );
    const verify = calls.find((c) => c.path === "/recipe/session/verify");
    assert.ok(verify, `no verify call in ${JSON.stringify(calls.map((c) => c.path))}`);
    assert.equal(verify.cdiVersion, "5.4");
    assert.equal(verify.reply.status, "OK", JSON.stringify(verify.reply));
    assert.equal(s.getUserId(), "mid-user-2");
    assert.equal(s.getAccessTokenPayload().role, "admin");

    const refreshed = await NewSession().refreshSessionWithoutRequestResponse(created.body.refreshToken.token);
    const v5 = refreshed.getAllSessionTokensDangerously().accessToken;
    assert.equal(tokenVersion(v5), 5);
    assert.equal(decodeToken(v5).payload.role, "admin");
    const promoted = await NewSession().getSessionWithoutRequestResponse(v5);
    assert.equal(promoted.getUserId(), "mid-user-2");
});
