"use strict";
// PHASE 2 of issue 21 (see harness.js): supertokens-node 13.6.1, the last major before CDI 2.21. It
// sends CDI 2.20 and gets V2 access tokens (fixed header, standard base64, exact milliseconds),
// bootstraps with `POST /recipe/handshake` (the signing keys as `jwtSigningPublicKey*`), verifies
// tokens itself with those keys, and reads `idRefreshToken` and the key members from create.
// Node 13 has no `…WithoutRequestResponse` functions, so the flow runs through its express
// integration, with tokens in headers. Run by old-sdks.test.js.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const http = require("node:http");
const { before, after } = require("node:test");

const { setupOld, decodeToken, keysOf } = require("./harness");

const pkg = "supertokens-node-13";
const V2_HEADER = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";
const ctx = setupOld({
    packages: [pkg],
    recipeList: () => [require(`${pkg}/recipe/emailpassword`).init(), require(`${pkg}/recipe/session`).init({ antiCsrf: "NONE" })],
});

const EP = () => require(`${pkg}/recipe/emailpassword`);
const Session = () => require(`${pkg}/recipe/session`);

// The application: node 13's express middleware (serving /auth/session/refresh) and three routes.
let web;
before(async () => {
    const express = require("express");
    const { middleware, errorHandler } = require(`${pkg}/framework/express`);
    const app = express();
    app.use(express.json());
    app.use(middleware());
    app.post("/create", async (req, res, next) => {
        try {
            const s = await Session().createNewSession(req, res, req.body.userId, { role: "admin" }, { d: 1 });
            res.json({ handle: s.getHandle() });
        } catch (err) {
            next(err);
        }
    });
    app.get("/me", async (req, res, next) => {
        try {
            const s = await Session().getSession(req, res);
            res.json({ userId: s.getUserId(), handle: s.getHandle(), payload: s.getAccessTokenPayload() });
        } catch (err) {
            next(err);
        }
    });
    app.post("/merge", async (req, res, next) => {
        try {
            const s = await Session().getSession(req, res);
            await s.mergeIntoAccessTokenPayload({ k: "v" });
            res.json({ payload: s.getAccessTokenPayload() });
        } catch (err) {
            next(err);
        }
    });
    app.use(errorHandler());
    const server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    web = { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
});
after(async () => web && (await web.close()));

async function call(method, path, { bearer, body: json } = {}) {
    const headers = { "st-auth-mode": "header" };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (json) headers["content-type"] = "application/json";
    const res = await fetch(web.url + path, { method, headers, body: json ? JSON.stringify(json) : undefined });
    const text = await res.text();
    let body;
    try {
        body = text ? JSON.parse(text) : undefined;
    } catch {
        body = text;
    }
    return {
        status: res.status,
        body,
        accessToken: res.headers.get("st-access-token") || undefined,
        refreshToken: res.headers.get("st-refresh-token") || undefined,
    };
}

const email = `n13-${crypto.randomBytes(4).toString("hex")}@example.com`;
let userId;

ctx.test("supertokens-node-13 (CDI 2.20): sign up and sign in get the legacy user object without tenantIds", async () => {
    const { result, calls } = await ctx.record(() => EP().signUp(email, "pass-word-1"));
    assert.equal(result.status, "OK");
    userId = result.user.id;
    const signUp = calls.find((c) => c.path === "/recipe/signup");
    assert.equal(signUp.cdiVersion, "2.20");
    assert.deepEqual(keysOf(signUp.reply.user), ["email", "id", "timeJoined"]);
    assert.deepEqual(keysOf(signUp.reply), ["status", "user"]);
    const inn = await EP().signIn(email, "pass-word-1");
    assert.equal(inn.status, "OK");
    assert.equal(inn.user.id, userId);
    assert.equal((await EP().signIn(email, "nope-nope-1")).status, "WRONG_CREDENTIALS_ERROR");
});

ctx.test("supertokens-node-13 (CDI 2.20): handshake, V2 tokens, local and core verification, refresh, payload, data, revoke", async () => {
    assert.ok(userId, "sign-up ran first");
    const { result: created, calls } = await ctx.record(() => call("POST", "/create", { body: { userId } }));
    assert.equal(created.status, 200, JSON.stringify(created.body));

    // The handshake: the keys and settings the SDK verifies with.
    const handshake = calls.find((c) => c.path === "/recipe/handshake");
    assert.ok(handshake, `no handshake in ${JSON.stringify(calls.map((c) => c.path))}`);
    assert.equal(handshake.cdiVersion, "2.20");
    assert.deepEqual(keysOf(handshake.reply), [
        "accessTokenBlacklistingEnabled",
        "accessTokenValidity",
        "jwtSigningPublicKey",
        "jwtSigningPublicKeyExpiryTime",
        "jwtSigningPublicKeyList",
        "refreshTokenValidity",
        "status",
    ]);
    assert.equal(handshake.reply.accessTokenBlacklistingEnabled, false);
    assert.equal(handshake.reply.accessTokenValidity, 3_600_000);
    for (const k of handshake.reply.jwtSigningPublicKeyList) assert.deepEqual(keysOf(k), ["createdAt", "expiryTime", "publicKey"]);

    // Create: a V2 token at exact milliseconds, an idRefreshToken, the key members.
    const create = calls.find((c) => c.path === "/recipe/session");
    assert.deepEqual(keysOf(create.reply.session), ["handle", "userDataInJWT", "userId"]);
    assert.deepEqual(keysOf(create.reply.idRefreshToken), ["createdTime", "expiry", "token"]);
    assert.equal(create.reply.idRefreshToken.expiry, create.reply.refreshToken.expiry);
    assert.ok(create.reply.jwtSigningPublicKey && create.reply.jwtSigningPublicKeyExpiryTime && create.reply.jwtSigningPublicKeyList);
    const at = created.accessToken;
    assert.ok(at.startsWith(`${V2_HEADER}.`), at);
    const { payload } = decodeToken(at);
    assert.deepEqual(payload.userData, { role: "admin" });
    assert.equal(create.reply.accessToken.expiry, payload.expiryTime, "exact milliseconds");
    assert.equal(create.reply.accessToken.createdTime, payload.timeCreated);
    const handle = created.body.handle;

    // Verified by the SDK itself with the handshake's keys: no core call.
    const { result: me, calls: meCalls } = await ctx.record(() => call("GET", "/me", { bearer: at }));
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.userId, userId);
    assert.deepEqual(meCalls, []);

    // Refresh through the SDK's API; the child token is verified by the core (promotion).
    const { result: refreshed, calls: refreshCalls } = await ctx.record(() =>
        call("POST", "/auth/session/refresh", { bearer: created.refreshToken }),
    );
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const refresh = refreshCalls.find((c) => c.path === "/recipe/session/refresh");
    assert.ok(refresh.reply.idRefreshToken, "idRefreshToken below 2.21");
    assert.equal(refresh.reply.jwtSigningPublicKey, undefined, "no key members on refresh");
    assert.ok(refreshed.accessToken.startsWith(`${V2_HEADER}.`));
    const { result: after, calls: verifyCalls } = await ctx.record(() => call("GET", "/me", { bearer: refreshed.accessToken }));
    assert.equal(after.status, 200, JSON.stringify(after.body));
    const verify = verifyCalls.find((c) => c.path === "/recipe/session/verify");
    assert.equal(verify.body.checkDatabase, undefined, "node 13 does not send checkDatabase");
    assert.equal(verify.reply.status, "OK");
    assert.ok(verify.reply.jwtSigningPublicKeyList, "verify carries the key members below 2.21");
    const current = after.accessToken || refreshed.accessToken;

    // Payload update (regenerate) keeps V2 and the expiry.
    const merged = await call("POST", "/merge", { bearer: current });
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.equal(merged.body.payload.k, "v");
    assert.ok(merged.accessToken.startsWith(`${V2_HEADER}.`));
    assert.equal(decodeToken(merged.accessToken).payload.expiryTime, decodeToken(current).payload.expiryTime);

    // Session data.
    assert.equal(await Session().updateSessionData(handle, { x: 2 }), true);
    const info = await Session().getSessionInformation(handle);
    assert.deepEqual(info.sessionData, { x: 2 });
    assert.equal(info.accessTokenPayload.k, "v");
    assert.ok((await Session().getAllSessionHandlesForUser(userId)).includes(handle));

    // Revoke: with blacklisting off, the token still verifies locally; the refresh is refused.
    assert.equal(await Session().revokeSession(handle), true);
    assert.equal(await Session().getSessionInformation(handle), undefined);
    const gone = await call("POST", "/auth/session/refresh", { bearer: refreshed.refreshToken });
    assert.equal(gone.status, 401);
});

ctx.test("supertokens-node-13: every core call spoke CDI 2.20", async () => {
    assert.equal(ctx.calls[0].path, "/apiversion");
    assert.ok(ctx.calls[0].reply.versions.includes("2.20"), JSON.stringify(ctx.calls[0].reply));
    assert.ok(ctx.calls.length > 5, "the flow ran");
    for (const c of ctx.calls.slice(1)) {
        assert.equal(c.cdiVersion, "2.20", `${c.method} ${c.path}`);
        assert.equal(c.status, 200, `${c.method} ${c.path}: ${JSON.stringify(c.reply)}`);
    }
});
