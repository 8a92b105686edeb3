"use strict";
// The relying party of rp/ (openid-client 6) against a stand-in OpenID provider on a local port:
// checks the harness itself — the cookie jar, the signature check, openid-client's wiring over
// http (discovery, PKCE, state, nonce, ID token claims, client_secret_basic) — so that when the
// SDK app in front of Portcullis replaces the stand-in (issue 22, phase 2), a failure means the
// provider, not the harness. Needs no Portcullis.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const http = require("node:http");
const { test, before, after } = require("node:test");

let rp;
let server;
let issuer;
const CLIENT_ID = "stcl_rp";
const SECRET = "rp-secret-of-enough-length";
const REDIRECT_URI = "http://rp.localhost/cb";
const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "s-test", alg: "RS256", use: "sig" };
const codes = new Map();

function sign(payload) {
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const input = `${enc({ kid: "s-test", typ: "JWT", alg: "RS256" })}.${enc(payload)}`;
    return `${input}.${crypto.sign("RSA-SHA256", Buffer.from(input), privateKey).toString("base64url")}`;
}

function json(res, status, body, headers = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
}

/** The stand-in: the SDK's discovery document and the two endpoints of a signed-in code flow. */
function provider(req, res) {
    const url = new URL(req.url, issuer);
    const path = url.pathname.replace(/^\/auth/, "");
    if (path === "/.well-known/openid-configuration") {
        return json(res, 200, {
            issuer,
            authorization_endpoint: `${issuer}/oauth/auth`,
            token_endpoint: `${issuer}/oauth/token`,
            jwks_uri: `${issuer}/jwt/jwks.json`,
            token_introspection_endpoint: `${issuer}/oauth/introspect`,
            end_session_endpoint: `${issuer}/oauth/end_session`,
        });
    }
    if (path === "/jwt/jwks.json") return json(res, 200, { keys: [jwk] });
    if (path === "/oauth/auth") {
        const p = url.searchParams;
        const code = `st_ac_${crypto.randomBytes(8).toString("hex")}`;
        codes.set(code, { challenge: p.get("code_challenge"), nonce: p.get("nonce") });
        const to = new URL(p.get("redirect_uri"));
        to.searchParams.set("code", code);
        to.searchParams.set("state", p.get("state"));
        res.writeHead(302, { location: to.href, "set-cookie": "st_oauth_login_csrf_x=v; Path=/; Expires=Tue, 14 Nov 2100 22:43:20 GMT; HttpOnly; SameSite=Lax" });
        return res.end();
    }
    if (path === "/oauth/token") {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            const form = new URLSearchParams(body);
            const [id, secret] = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString().split(":");
            if (decodeURIComponent(id) !== CLIENT_ID || decodeURIComponent(secret ?? "") !== SECRET) return json(res, 401, { error: "invalid_client" });
            const flow = codes.get(form.get("code"));
            const s256 = crypto.createHash("sha256").update(form.get("code_verifier") ?? "").digest("base64url");
            if (!flow || flow.challenge !== s256) return json(res, 400, { error: "invalid_grant" });
            codes.delete(form.get("code"));
            const now = Math.floor(Date.now() / 1000);
            const access = sign({ iss: issuer, sub: "u1", client_id: CLIENT_ID, scp: ["openid"], iat: now, exp: now + 3600, stt: 1 });
            const idToken = sign({ iss: issuer, sub: "u1", aud: CLIENT_ID, iat: now, exp: now + 3600, nonce: flow.nonce, stt: 2 });
            json(res, 200, { status: "OK", access_token: access, id_token: idToken, expires_in: 3600, scope: "openid", token_type: "bearer" });
        });
        return;
    }
    json(res, 404, {});
}

before(async () => {
    rp = await import("../rp/relying-party.mjs");
    server = http.createServer(provider);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${server.address().port}/auth`;
});

after(() => server.close());

test("the cookie jar keeps, replaces and drops cookies", () => {
    const b = new rp.Browser();
    const response = (lines) => ({ headers: { getSetCookie: () => lines } });
    b.store(response(["a=1; Path=/; HttpOnly", "b=2; Path=/; Expires=Tue, 14 Nov 2100 22:43:20 GMT; Max-Age=1800", "junk"]));
    assert.equal(b.cookieHeader(), "a=1; b=2");
    b.store(response(["a=3; Path=/", "b=; Path=/; Max-Age=0"]));
    assert.equal(b.cookieHeader(), "a=3");
    b.store(response(["a=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]));
    assert.equal(b.jar.size, 0);
});

test("signatures are checked against the JWKS", () => {
    const token = sign({ sub: "u" });
    assert.deepEqual(rp.verifyJwt(token, { keys: [jwk] }), { sub: "u" });
    const [h, , s] = token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: "admin" })).toString("base64url")}.${s}`;
    assert.throws(() => rp.verifyJwt(forged, { keys: [jwk] }), /bad signature/);
    assert.throws(() => rp.verifyJwt(token, { keys: [] }), /no key/);
    assert.equal(rp.decodeJwt(token).header.kid, "s-test");
});

test("openid-client runs the code flow with PKCE over http and client_secret_basic", async () => {
    const config = await rp.discover(issuer, CLIENT_ID, SECRET);
    assert.equal(config.serverMetadata().issuer, issuer);
    const withIntrospection = rp.withIntrospection(config, SECRET);
    assert.equal(withIntrospection.serverMetadata().introspection_endpoint, `${issuer}/oauth/introspect`);
    const browser = new rp.Browser();
    const flow = await rp.codeFlow({ config, browser, redirectUri: REDIRECT_URI, scope: "openid" });
    assert.equal(flow.loginChallenge, undefined);
    assert.ok(flow.callback.startsWith(`${REDIRECT_URI}?code=st_ac_`));
    assert.equal(browser.jar.get("st_oauth_login_csrf_x"), "v");
    assert.equal(flow.tokens.claims().nonce, flow.nonce);
    const jwks = await rp.fetchJwks(config);
    assert.equal(rp.verifyJwt(flow.tokens.access_token, jwks).stt, 1);
    // The raw token request (for negative cases) sends the Basic header as openid-client does.
    const wrong = await rp.rawTokenRequest(config, { grant_type: "authorization_code", code: "x" }, { clientSecret: "nope" });
    assert.deepEqual(wrong, { status: 401, body: { error: "invalid_client" } });
    const unknown = await rp.rawTokenRequest(config, { grant_type: "authorization_code", code: "x", code_verifier: "v" }, { clientSecret: SECRET });
    assert.deepEqual(unknown, { status: 400, body: { error: "invalid_grant" } });
});
