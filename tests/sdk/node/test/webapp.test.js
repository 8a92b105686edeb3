"use strict";
// A real web app: express with supertokens-node's middleware(), verifySession() and
// errorHandler(), a custom sign-in route that calls Session.createNewSession(req, res, …),
// and the SDK's built-in APIs POST /auth/session/refresh and POST /auth/signout. Driven
// with node's fetch, cookies kept in a hand-made jar, in cookie mode and in header mode.
// App coreConfig { access_token_validity: 2 }.
//
// What the SDK does on the HTTP side (recipe/session/cookieAndHeaders.js, utils.js,
// sessionRequestFunctions.js): cookies sAccessToken (Path=/) and sRefreshToken
// (Path=/auth/session/refresh), headers st-access-token / st-refresh-token / front-token;
// the transfer method of a new session comes from `st-auth-mode` (default header);
// 401 {"message":"try refresh token"} for an expired token, 401 {"message":"unauthorised"}
// without a valid session, 401 {"message":"token theft detected"} after revoking the
// session on TOKEN_THEFT_DETECTED. apiDomain and websiteDomain are both localhost, so
// SameSite=Lax and anti-CSRF NONE.

const assert = require("node:assert/strict");
const http = require("node:http");
const { before, after } = require("node:test");
const express = require("express");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const { middleware, errorHandler } = require("supertokens-node/framework/express");
const { verifySession } = require("supertokens-node/recipe/session/framework/express");
const { setup, decodeJwt, sleepUntil } = require("../helpers");

const ctx = setup({
    coreConfig: { access_token_validity: 2 },
    recipeList: () => [Session.init()],
    init: { framework: "express" },
    warmUpKeys: true,
});

let web = null; // { baseURL, server }

function buildApp() {
    const app = express();
    app.use(middleware());
    app.post("/login", express.json(), async (req, res, next) => {
        try {
            const session = await Session.createNewSession(
                req,
                res,
                "public",
                supertokens.convertToRecipeUserId(req.body.userId),
                { role: req.body.role },
                { via: "login" },
            );
            res.json({ userId: session.getUserId(), handle: session.getHandle() });
        } catch (err) {
            next(err);
        }
    });
    const me = (req, res) =>
        res.json({
            userId: req.session.getUserId(),
            handle: req.session.getHandle(),
            tenantId: req.session.getTenantId(),
            role: req.session.getAccessTokenPayload().role,
        });
    app.get("/me", verifySession(), me);
    app.get("/me-strict", verifySession({ checkDatabase: true }), me);
    app.use(errorHandler());
    app.use((err, req, res, _next) => res.status(500).json({ error: String(err && err.stack) }));
    return app;
}

before(async () => {
    const server = http.createServer(buildApp());
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    web = { server, baseURL: `http://127.0.0.1:${server.address().port}` };
});

after(async () => {
    if (web) await new Promise((resolve) => web.server.close(resolve));
});

/** A minimal cookie jar: name -> { value, path, attrs }; honours Path, Expires and Max-Age. */
class CookieJar {
    constructor() {
        this.cookies = new Map();
    }

    update(res) {
        for (const line of res.headers.getSetCookie()) {
            const [pair, ...attrParts] = line.split(";").map((s) => s.trim());
            const eq = pair.indexOf("=");
            const name = pair.slice(0, eq);
            const value = pair.slice(eq + 1);
            const attrs = {};
            for (const part of attrParts) {
                const i = part.indexOf("=");
                const key = (i < 0 ? part : part.slice(0, i)).toLowerCase();
                attrs[key] = i < 0 ? true : part.slice(i + 1);
            }
            const expired =
                (attrs.expires !== undefined && Date.parse(attrs.expires) <= Date.now()) ||
                (attrs["max-age"] !== undefined && Number(attrs["max-age"]) <= 0);
            if (value === "" || expired) this.cookies.delete(name);
            else this.cookies.set(name, { value, path: attrs.path || "/", attrs });
        }
    }

    headerFor(path) {
        return [...this.cookies]
            .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
            .map(([name, c]) => `${name}=${c.value}`)
            .join("; ");
    }

    get(name) {
        return this.cookies.get(name)?.value;
    }
}

/** fetch against the web app; with a jar, sends its cookies and stores the Set-Cookies. */
async function call(method, path, { jar, headers = {}, body } = {}) {
    const h = { ...headers };
    if (jar) {
        const cookie = jar.headerFor(path);
        if (cookie) h.cookie = cookie;
    }
    if (body !== undefined) h["content-type"] = "application/json";
    const res = await fetch(`${web.baseURL}${path}`, {
        method,
        headers: h,
        body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    if (jar) jar.update(res);
    const text = await res.text();
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
}

const frontToken = (res) => JSON.parse(Buffer.from(res.headers.get("front-token"), "base64").toString("utf8"));
const expOf = (accessToken) => decodeJwt(accessToken).payload.exp * 1000;

ctx.test("cookies: sign in, protected route, expiry, refresh, sign out", async () => {
    const jar = new CookieJar();
    const userId = `web-${crypto.randomUUID()}`;

    // sign in
    const login = await call("POST", "/login", { jar, headers: { "st-auth-mode": "cookie" }, body: { userId, role: "admin" } });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.json.userId, userId);
    const handle = login.json.handle;
    assert.equal(login.headers.get("st-access-token"), null, "cookie mode: no token headers");
    assert.equal(login.headers.get("st-refresh-token"), null);
    const access0 = jar.get("sAccessToken");
    const refresh0 = jar.get("sRefreshToken");
    assert.ok(access0 && refresh0, `cookies after login: ${login.headers.getSetCookie()}`);
    assert.equal(jar.cookies.get("sAccessToken").path, "/");
    assert.equal(jar.cookies.get("sRefreshToken").path, "/auth/session/refresh");
    for (const name of ["sAccessToken", "sRefreshToken"]) {
        assert.equal(jar.cookies.get(name).attrs.httponly, true, `${name} HttpOnly`);
        assert.equal(String(jar.cookies.get(name).attrs.samesite).toLowerCase(), "lax", `${name} SameSite`);
    }
    const p0 = decodeJwt(access0).payload;
    assert.equal(p0.sub, userId);
    assert.equal(p0.sessionHandle, handle);
    assert.equal(p0.role, "admin");
    const front = frontToken(login);
    assert.equal(front.uid, userId);
    assert.equal(front.up.sessionHandle, handle);
    assert.equal(front.ate, p0.exp * 1000);

    // protected route with the cookie
    let me = await call("GET", "/me", { jar });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json, { userId, handle, tenantId: "public", role: "admin" });
    // the refresh cookie is not sent outside its path
    assert.ok(!jar.headerFor("/me").includes("sRefreshToken"));

    // the access token expires
    await sleepUntil(expOf(access0), 150);
    me = await call("GET", "/me", { jar });
    assert.equal(me.status, 401);
    assert.deepEqual(me.json, { message: "try refresh token" });

    // refresh with the refresh cookie
    const refreshed = await call("POST", "/auth/session/refresh", { jar });
    assert.equal(refreshed.status, 200, refreshed.text);
    const access1 = jar.get("sAccessToken");
    const refresh1 = jar.get("sRefreshToken");
    assert.notEqual(access1, access0);
    assert.notEqual(refresh1, refresh0);
    assert.equal(decodeJwt(access1).payload.sessionHandle, handle);
    assert.ok(expOf(access1) > Date.now(), "the refreshed access token is valid");
    assert.equal(frontToken(refreshed).uid, userId);

    // protected route again (the child token is promoted by the core on the way)
    me = await call("GET", "/me", { jar });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json, { userId, handle, tenantId: "public", role: "admin" });
    const accessBeforeSignout = jar.get("sAccessToken");

    // sign out
    const signout = await call("POST", "/auth/signout", { jar });
    assert.equal(signout.status, 200, signout.text);
    assert.deepEqual(signout.json, { status: "OK" });
    assert.equal(signout.headers.get("front-token"), "remove");
    assert.equal(jar.get("sAccessToken"), undefined, "the access cookie is cleared");
    assert.equal(jar.get("sRefreshToken"), undefined, "the refresh cookie is cleared");
    assert.equal(await Session.getSessionInformation(handle), undefined, "the session is revoked in the core");

    // the protected route now answers 401
    me = await call("GET", "/me", { jar });
    assert.equal(me.status, 401);
    assert.deepEqual(me.json, { message: "unauthorised" });
    // even with the old access token, a route that checks the database says 401
    const strict = await call("GET", "/me-strict", { headers: { cookie: `sAccessToken=${accessBeforeSignout}` } });
    assert.equal(strict.status, 401);
    assert.deepEqual(strict.json, { message: "unauthorised" });
    // and the old refresh token is refused
    const again = await call("POST", "/auth/session/refresh", { headers: { cookie: `sRefreshToken=${refresh1}` } });
    assert.equal(again.status, 401);
    assert.deepEqual(again.json, { message: "unauthorised" });
});

ctx.test("headers: sign in, protected route, expiry, refresh, sign out", async () => {
    const userId = `web-${crypto.randomUUID()}`;

    const login = await call("POST", "/login", { headers: { "st-auth-mode": "header" }, body: { userId, role: "editor" } });
    assert.equal(login.status, 200, login.text);
    assert.deepEqual(login.headers.getSetCookie().filter((c) => /^s(Access|Refresh)Token=/.test(c)), []);
    let accessToken = login.headers.get("st-access-token");
    let refreshToken = login.headers.get("st-refresh-token");
    assert.ok(accessToken && refreshToken, "header mode: tokens in st-access-token / st-refresh-token");
    const handle = login.json.handle;
    assert.equal(decodeJwt(accessToken).payload.sessionHandle, handle);
    assert.match(refreshToken, /\.V2$/);
    assert.equal(frontToken(login).uid, userId);

    const bearer = (token) => ({ authorization: `Bearer ${token}` });

    let me = await call("GET", "/me", { headers: bearer(accessToken) });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json, { userId, handle, tenantId: "public", role: "editor" });

    await sleepUntil(expOf(accessToken), 150);
    me = await call("GET", "/me", { headers: bearer(accessToken) });
    assert.equal(me.status, 401);
    assert.deepEqual(me.json, { message: "try refresh token" });

    const refreshed = await call("POST", "/auth/session/refresh", { headers: bearer(refreshToken) });
    assert.equal(refreshed.status, 200, refreshed.text);
    const newAccess = refreshed.headers.get("st-access-token");
    const newRefresh = refreshed.headers.get("st-refresh-token");
    assert.ok(newAccess && newRefresh);
    assert.notEqual(newAccess, accessToken);
    assert.notEqual(newRefresh, refreshToken);
    assert.equal(decodeJwt(newAccess).payload.sessionHandle, handle);
    accessToken = newAccess;
    refreshToken = newRefresh;

    me = await call("GET", "/me", { headers: bearer(accessToken) });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json, { userId, handle, tenantId: "public", role: "editor" });
    // a promoted token, if the core handed one out, comes back in st-access-token
    if (me.headers.get("st-access-token")) accessToken = me.headers.get("st-access-token");

    const strictBefore = await call("GET", "/me-strict", { headers: bearer(accessToken) });
    assert.equal(strictBefore.status, 200, strictBefore.text);

    const signout = await call("POST", "/auth/signout", { headers: bearer(accessToken) });
    assert.equal(signout.status, 200, signout.text);
    assert.deepEqual(signout.json, { status: "OK" });
    assert.equal(signout.headers.get("st-access-token"), "", "header mode: the tokens are cleared with empty headers");
    assert.equal(signout.headers.get("st-refresh-token"), "");
    assert.equal(signout.headers.get("front-token"), "remove");
    assert.equal(await Session.getSessionInformation(handle), undefined);

    me = await call("GET", "/me");
    assert.equal(me.status, 401);
    assert.deepEqual(me.json, { message: "unauthorised" });
    const strict = await call("GET", "/me-strict", { headers: bearer(accessToken) });
    assert.equal(strict.status, 401);
    assert.deepEqual(strict.json, { message: "unauthorised" });
    const again = await call("POST", "/auth/session/refresh", { headers: bearer(refreshToken) });
    assert.equal(again.status, 401);
    assert.deepEqual(again.json, { message: "unauthorised" });
});

ctx.test("a replayed refresh token: 401 token theft detected, and the session is revoked", async () => {
    const userId = `web-${crypto.randomUUID()}`;
    const bearer = (token) => ({ authorization: `Bearer ${token}` });

    const login = await call("POST", "/login", { body: { userId, role: "r" } }); // no st-auth-mode: header mode
    assert.equal(login.status, 200, login.text);
    const rt0 = login.headers.get("st-refresh-token");
    assert.ok(rt0, "without st-auth-mode the SDK uses header mode");
    const handle = login.json.handle;

    const r1 = await call("POST", "/auth/session/refresh", { headers: bearer(rt0) });
    assert.equal(r1.status, 200, r1.text);
    const rt1 = r1.headers.get("st-refresh-token");
    const r2 = await call("POST", "/auth/session/refresh", { headers: bearer(rt1) }); // the child is used
    assert.equal(r2.status, 200, r2.text);
    const rt2 = r2.headers.get("st-refresh-token");

    const theft = await call("POST", "/auth/session/refresh", { headers: bearer(rt0) });
    assert.equal(theft.status, 401);
    assert.deepEqual(theft.json, { message: "token theft detected" });
    assert.equal(theft.headers.get("st-access-token"), "", "tokens cleared");
    assert.equal(await Session.getSessionInformation(handle), undefined, "the SDK revokes the session");

    const after = await call("POST", "/auth/session/refresh", { headers: bearer(rt2) });
    assert.equal(after.status, 401);
    assert.deepEqual(after.json, { message: "unauthorised" });
});
