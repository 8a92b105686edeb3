"use strict";
// Custom JWTs: the JWT recipe's createJWT (POST /recipe/jwt) and their verification
// against the app's /.well-known/jwks.json with `jose` (the copy supertokens-node uses).
//
// The SDK sends { payload, validity, useStaticSigningKey: <arg> !== false, algorithm:
// "RS256", jwksDomain: apiDomain } (recipe/jwt/recipeImplementation.js); default validity
// 3153600000 s (recipe/jwt/utils.js). The core sets `iss` to jwksDomain unless the payload
// has one, and signs with the static key, or the current dynamic key when
// useStaticSigningKey is false.

const assert = require("node:assert/strict");
const Session = require("supertokens-node/recipe/session");
const JWT = require("supertokens-node/recipe/jwt");
const { setup, decodeJwt, loadJose, sleepUntil, sorted } = require("../helpers");

const ctx = setup({ recipeList: () => [Session.init()] });

const API_DOMAIN = "http://localhost:3001";
const jose = loadJose();

function remoteJwks() {
    return jose.createRemoteJWKSet(new URL(`${ctx.connectionURI}/.well-known/jwks.json`));
}

function assertLifetime(payload, seconds) {
    const lifetime = payload.exp - payload.iat;
    assert.ok(lifetime === seconds || lifetime === seconds + 1, `exp - iat = ${lifetime}, expected ${seconds}`);
}

ctx.test("createJWT signs with the static key; the JWT verifies against /.well-known/jwks.json", async () => {
    const claims = { sub: "service-a", scope: ["read", "write"], nested: { n: 1, flag: true } };
    const before = Math.floor(Date.now() / 1000);
    const { result, calls } = await ctx.recordCoreCalls(() => JWT.createJWT(claims, 60));
    assert.equal(result.status, "OK");

    assert.deepEqual(
        calls.filter((c) => c.path === "/recipe/jwt"),
        [
            {
                method: "POST",
                path: "/recipe/jwt",
                params: undefined,
                body: { payload: claims, validity: 60, useStaticSigningKey: true, algorithm: "RS256", jwksDomain: API_DOMAIN },
            },
        ],
    );

    const { header, payload } = decodeJwt(result.jwt);
    assert.equal(header.alg, "RS256");
    assert.equal(header.typ, "JWT");
    assert.match(header.kid, /^s-[0-9a-f-]{36}$/);
    assert.equal(payload.sub, "service-a");
    assert.deepEqual(payload.scope, ["read", "write"]);
    assert.deepEqual(payload.nested, { n: 1, flag: true });
    assert.equal(payload.iss, API_DOMAIN, "iss = jwksDomain when the payload has none");
    assert.ok(payload.iat >= before - 1 && payload.iat <= Math.ceil(Date.now() / 1000));
    assertLifetime(payload, 60);
    assert.deepEqual(sorted(Object.keys(payload)), ["exp", "iat", "iss", "nested", "scope", "sub"]);

    const verified = await jose.jwtVerify(result.jwt, remoteJwks(), { issuer: API_DOMAIN, algorithms: ["RS256"] });
    assert.deepEqual(verified.payload, payload);
    assert.equal(verified.protectedHeader.kid, header.kid);

    // the key is published by /recipe/jwt/jwks and Session.getJWKS too
    const recipeJwks = await ctx.coreRequest("GET", "/recipe/jwt/jwks");
    assert.ok(recipeJwks.body.keys.some((k) => k.kid === header.kid));
    assert.ok((await JWT.getJWKS()).keys.some((k) => k.kid === header.kid));
});

ctx.test("useStaticSigningKey false signs with the current dynamic key", async () => {
    const result = await JWT.createJWT({ kind: "dynamic" }, 120, false);
    assert.equal(result.status, "OK");
    const { header, payload } = decodeJwt(result.jwt);
    assert.match(header.kid, /^d-\d+$/);
    assertLifetime(payload, 120);

    const keys = (await (await fetch(`${ctx.connectionURI}/.well-known/jwks.json`)).json()).keys;
    assert.equal(keys[0].kid, header.kid, "the newest dynamic key (listed first) signs");
    const verified = await jose.jwtVerify(result.jwt, remoteJwks());
    assert.equal(verified.payload.kind, "dynamic");

    // a session created now is signed with the same dynamic key
    const supertokens = require("supertokens-node");
    const session = await Session.createNewSessionWithoutRequestResponse("public", supertokens.convertToRecipeUserId("u-jwt"));
    assert.equal(decodeJwt(session.getAccessToken()).header.kid, header.kid);
});

ctx.test("an iss in the payload wins over jwksDomain", async () => {
    const own = await JWT.createJWT({ iss: "https://issuer.example" }, 30);
    assert.equal(decodeJwt(own.jwt).payload.iss, "https://issuer.example");
    await jose.jwtVerify(own.jwt, remoteJwks(), { issuer: "https://issuer.example" });
});

ctx.test("Session.createJWT (openid) puts iss = apiDomain + apiBasePath in the payload", async () => {
    const { result: viaOpenId, calls } = await ctx.recordCoreCalls(() => Session.createJWT({ x: 1 }, 30));
    assert.deepEqual(calls.find((c) => c.path === "/recipe/jwt").body.payload, { iss: `${API_DOMAIN}/auth`, x: 1 });
    assert.equal(viaOpenId.status, "OK");
    const { payload } = decodeJwt(viaOpenId.jwt);
    assert.equal(payload.iss, `${API_DOMAIN}/auth`);
    assert.equal(payload.x, 1);
    assertLifetime(payload, 30);
});

ctx.test("without a validity the SDK asks for 3153600000 s (100 years)", async () => {
    const { result, calls } = await ctx.recordCoreCalls(() => JWT.createJWT({ long: true }));
    assert.equal(calls.find((c) => c.path === "/recipe/jwt").body.validity, 3153600000);
    const { payload } = decodeJwt(result.jwt);
    assertLifetime(payload, 3153600000);
    await jose.jwtVerify(result.jwt, remoteJwks());
});

ctx.test("a JWT with a 1 s validity expires", async () => {
    const result = await JWT.createJWT({ short: true }, 1);
    const { payload } = decodeJwt(result.jwt);
    assertLifetime(payload, 1);
    await sleepUntil(payload.exp * 1000, 100);
    await assert.rejects(jose.jwtVerify(result.jwt, remoteJwks()), (err) => {
        assert.equal(err.code, "ERR_JWT_EXPIRED");
        return true;
    });
});
