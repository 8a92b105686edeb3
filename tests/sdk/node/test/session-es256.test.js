"use strict";
// Opt-in ES256 access tokens (Portcullis only, beyond the Java core): an app with coreConfig
// { access_token_signing_algorithm: "ES256" }. The unmodified SDK verifies its tokens locally
// through the JWKS (jose picks the EC key by kid and the algorithm from its `alg`) and through the
// core (checkDatabase), and refreshes them; a tampered token is refused both ways.

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const { setup, decodeJwt } = require("../helpers");

const ctx = setup({
    coreConfig: { access_token_signing_algorithm: "ES256" },
    recipeList: () => [Session.init({ antiCsrf: "NONE" })],
    warmUpKeys: true,
});

const rid = (userId) => supertokens.convertToRecipeUserId(userId);

ctx.test("the JWKS publishes P-256 keys", async () => {
    const res = await fetch(`${ctx.connectionURI}/.well-known/jwks.json`);
    assert.equal(res.status, 200);
    const { keys } = await res.json();
    assert.ok(keys.length >= 2, "a dynamic and a static key");
    for (const k of keys) {
        assert.deepEqual([k.kty, k.crv, k.alg, k.use], ["EC", "P-256", "ES256", "sig"], JSON.stringify(k));
        assert.equal(Buffer.from(k.x, "base64url").length, 32);
        assert.equal(Buffer.from(k.y, "base64url").length, 32);
    }
});

ctx.test("ES256 tokens verify locally, through the core, and after a refresh", async () => {
    const s = await Session.createNewSessionWithoutRequestResponse("public", rid("es-1"), { role: "admin" });
    const token = s.getAccessToken();
    const { header } = decodeJwt(token);
    assert.equal(header.alg, "ES256");
    assert.match(header.kid, /^d-\d+$/);
    assert.equal(Buffer.from(token.split(".")[2], "base64url").length, 64, "JWS r || s");

    // locally, through the JWKS: no core call
    const { result: local, calls } = await ctx.recordCoreCalls(() => Session.getSessionWithoutRequestResponse(token));
    assert.deepEqual(calls, []);
    assert.equal(local.getHandle(), s.getHandle());
    assert.equal(local.getAccessTokenPayload().role, "admin");

    // through the core
    const { result: checked, calls: coreCalls } = await ctx.recordCoreCalls(() =>
        Session.getSessionWithoutRequestResponse(token, undefined, { checkDatabase: true }),
    );
    assert.ok(coreCalls.some((c) => c.path.endsWith("/recipe/session/verify")), JSON.stringify(coreCalls));
    assert.equal(checked.getHandle(), s.getHandle());

    // refresh: a new ES256 token, which verifies too
    const refreshed = await Session.refreshSessionWithoutRequestResponse(s.getAllSessionTokensDangerously().refreshToken);
    assert.equal(decodeJwt(refreshed.getAccessToken()).header.alg, "ES256");
    const again = await Session.getSessionWithoutRequestResponse(refreshed.getAccessToken());
    assert.equal(again.getHandle(), s.getHandle());
    assert.equal(again.getAccessTokenPayload().role, "admin");
});

ctx.test("a tampered ES256 token is refused", async () => {
    const s = await Session.createNewSessionWithoutRequestResponse("public", rid("es-2"), { role: "user" });
    const [h, p, sig] = s.getAccessToken().split(".");
    const payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    payload.role = "admin";
    const forged = [h, Buffer.from(JSON.stringify(payload)).toString("base64url"), sig].join(".");
    for (const options of [undefined, { checkDatabase: true }]) {
        await assert.rejects(Session.getSessionWithoutRequestResponse(forged, undefined, options), (err) => {
            assert.equal(err.type, Session.Error.TRY_REFRESH_TOKEN);
            return true;
        });
    }
});
