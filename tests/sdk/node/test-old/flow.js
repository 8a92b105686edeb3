"use strict";
// The sign-up/in and session flow every old SDK major runs (PHASE 2 of issue 21; see harness.js),
// with what the core answers at that SDK's CDI version checked on the wire:
//   sign-up, sign-in (and a wrong password); session create, verify locally and with the
//   database, refresh (then the promoting verify), access-token payload update, session data,
//   session handles of the user, revoke.
//
// `registerFlow(ctx, a)` takes an adapter `a` for one major:
//   pkg            the npm alias (e.g. "supertokens-node-14")
//   cdi            the CDI version it speaks (the only one it lists)
//   tokenVersion   the access-token version minted at that CDI (3 for 2.21, 4 for 3.x, 5 from 4.0)
//   signUp(EP, email, password), signIn(EP, email, password)    the recipe's functions at that major
//   userIdOf(result)                                          the user id in a sign-up/in result
//   createSession(st, Session, userId, payload, data)         createNewSessionWithoutRequestResponse
//   handlesFor(Session, userId)                               getAllSessionHandlesForUser

const assert = require("node:assert/strict");
const crypto = require("node:crypto");

const { decodeToken, tokenVersion, keysOf } = require("./harness");

/** The user object the core returns at each CDI (the pre-4.0 object has no account linking). */
function expectedUserKeys(cdi) {
    const v = Number(cdi);
    if (v < 3) return ["email", "id", "timeJoined"];
    if (v < 4) return ["email", "id", "tenantIds", "timeJoined"];
    const keys = ["emails", "id", "isPrimaryUser", "loginMethods", "phoneNumbers", "tenantIds", "thirdParty", "timeJoined"];
    return v >= 5.3 ? [...keys, "webauthn"].sort() : keys;
}

/** The `session` object of create/refresh/verify replies at each CDI. */
function expectedSessionKeys(cdi) {
    const v = Number(cdi);
    if (v < 3) return ["handle", "userDataInJWT", "userId"];
    if (v < 4) return ["handle", "tenantId", "userDataInJWT", "userId"];
    return ["handle", "recipeUserId", "tenantId", "userDataInJWT", "userId"];
}

/** The claims a token of `version` sets itself. */
function ownClaims(version) {
    const v3 = ["antiCsrfToken", "exp", "iat", "parentRefreshTokenHash1", "refreshTokenHash1", "sessionHandle", "sub"];
    if (version === 3) return v3;
    if (version === 4) return [...v3, "tId"].sort();
    return [...v3, "rsub", "tId"].sort();
}

function registerFlow(ctx, a) {
    const st = () => require(a.pkg);
    const EP = () => require(`${a.pkg}/recipe/emailpassword`);
    const Session = () => require(`${a.pkg}/recipe/session`);
    const email = `old-${crypto.randomBytes(4).toString("hex")}@example.com`;
    const password = "pass-word-1";
    let userId;

    ctx.test(`${a.pkg} (CDI ${a.cdi}): sign up and sign in get the CDI ${a.cdi} user object`, async () => {
        const { result: up, calls } = await ctx.record(() => a.signUp(EP(), email, password));
        assert.equal(up.status, "OK");
        userId = a.userIdOf(up);
        const signUp = calls.find((c) => c.method === "POST" && /\/recipe\/signup$/.test(c.path));
        assert.ok(signUp, `no sign-up call in ${JSON.stringify(calls.map((c) => c.path))}`);
        assert.equal(signUp.cdiVersion, a.cdi);
        assert.equal(signUp.reply.status, "OK");
        assert.deepEqual(keysOf(signUp.reply.user), expectedUserKeys(a.cdi), JSON.stringify(signUp.reply));
        assert.equal(signUp.reply.user.id, userId);
        if (Number(a.cdi) < 4) {
            assert.equal(signUp.reply.user.email, email);
            assert.equal(signUp.reply.recipeUserId, undefined);
        } else {
            assert.deepEqual(signUp.reply.user.emails, [email]);
            assert.equal(signUp.reply.recipeUserId, userId);
        }
        if (Number(a.cdi) >= 3) assert.deepEqual(signUp.reply.user.tenantIds, ["public"]);

        const again = await a.signUp(EP(), email, password);
        assert.equal(again.status, "EMAIL_ALREADY_EXISTS_ERROR");
        const { result: inn, calls: inCalls } = await ctx.record(() => a.signIn(EP(), email, password));
        assert.equal(inn.status, "OK");
        assert.equal(a.userIdOf(inn), userId);
        const signIn = inCalls.find((c) => /\/recipe\/signin$/.test(c.path));
        assert.deepEqual(keysOf(signIn.reply.user), expectedUserKeys(a.cdi));
        const wrong = await a.signIn(EP(), email, "wrong-password-1");
        assert.equal(wrong.status, "WRONG_CREDENTIALS_ERROR");
    });

    ctx.test(`${a.pkg} (CDI ${a.cdi}): session create, verify, refresh, payload, data, revoke`, async () => {
        assert.ok(userId, "sign-up ran first");
        const S = Session();

        // Create: a V<tokenVersion> token with this version's claims.
        const { result: session, calls: createCalls } = await ctx.record(() =>
            a.createSession(st(), S, userId, { role: "admin" }, { d: 1 }),
        );
        const create = createCalls.find((c) => c.method === "POST" && /\/recipe\/session$/.test(c.path));
        assert.equal(create.cdiVersion, a.cdi);
        assert.deepEqual(keysOf(create.reply.session), expectedSessionKeys(a.cdi));
        for (const legacy of ["idRefreshToken", "jwtSigningPublicKey", "jwtSigningPublicKeyExpiryTime", "jwtSigningPublicKeyList"]) {
            assert.equal(create.reply[legacy], undefined, `${legacy} is only for CDI < 2.21`);
        }
        const tokens = session.getAllSessionTokensDangerously();
        assert.equal(tokenVersion(tokens.accessToken), a.tokenVersion);
        const { header, payload } = decodeToken(tokens.accessToken);
        assert.ok(header.kid.startsWith("d-"), header.kid);
        assert.deepEqual(
            Object.keys(payload).filter((k) => ownClaims(a.tokenVersion).includes(k)).sort(),
            ownClaims(a.tokenVersion),
        );
        assert.equal(payload.role, "admin");
        assert.equal(create.reply.accessToken.expiry, payload.exp * 1000, "V3+ times are whole seconds");
        assert.equal(session.getUserId(), userId);
        const handle = session.getHandle();

        // Verify locally: no core call (besides the JWKS, which the SDK fetches itself).
        const { result: local, calls: localCalls } = await ctx.record(() =>
            S.getSessionWithoutRequestResponse(tokens.accessToken, tokens.antiCsrfToken),
        );
        assert.equal(local.getHandle(), handle);
        assert.deepEqual(localCalls.filter((c) => c.path !== "/.well-known/jwks.json"), []);

        // Verify with the database.
        const { result: checked, calls: verifyCalls } = await ctx.record(() =>
            S.getSessionWithoutRequestResponse(tokens.accessToken, tokens.antiCsrfToken, { checkDatabase: true }),
        );
        assert.equal(checked.getAccessTokenPayload().role, "admin");
        const verify = verifyCalls.find((c) => c.path === "/recipe/session/verify");
        assert.equal(verify.cdiVersion, a.cdi);
        assert.equal(verify.body.checkDatabase, true);
        assert.equal(verify.reply.status, "OK");
        assert.deepEqual(keysOf(verify.reply.session), expectedSessionKeys(a.cdi));

        // Refresh: the new token has the same version; the promoting verify works.
        const { result: refreshed, calls: refreshCalls } = await ctx.record(() =>
            S.refreshSessionWithoutRequestResponse(tokens.refreshToken, false, tokens.antiCsrfToken),
        );
        const refresh = refreshCalls.find((c) => c.path === "/recipe/session/refresh");
        assert.equal(refresh.reply.status, "OK");
        assert.deepEqual(keysOf(refresh.reply.session), expectedSessionKeys(a.cdi));
        assert.equal(refresh.reply.idRefreshToken, undefined);
        const fresh = refreshed.getAllSessionTokensDangerously();
        assert.equal(tokenVersion(fresh.accessToken), a.tokenVersion);
        assert.ok(decodeToken(fresh.accessToken).payload.parentRefreshTokenHash1, "a child token");
        const promoted = await S.getSessionWithoutRequestResponse(fresh.accessToken, fresh.antiCsrfToken);
        assert.equal(promoted.getHandle(), handle);
        const current = promoted.getAllSessionTokensDangerously();

        // Payload update (regenerate): old SDKs send back what their token version treats as custom.
        const { calls: regenCalls } = await ctx.record(() => promoted.mergeIntoAccessTokenPayload({ k: "v" }));
        const regen = regenCalls.find((c) => c.path === "/recipe/session/regenerate");
        assert.equal(regen.reply.status, "OK", JSON.stringify(regen.reply));
        assert.deepEqual(keysOf(regen.reply.session), expectedSessionKeys(a.cdi));
        assert.equal(promoted.getAccessTokenPayload().k, "v");
        assert.equal(promoted.getAccessTokenPayload().role, "admin");
        const regenerated = promoted.getAllSessionTokensDangerously().accessToken;
        assert.notEqual(regenerated, current.accessToken);
        assert.equal(tokenVersion(regenerated), a.tokenVersion);
        assert.equal(decodeToken(regenerated).payload.exp, decodeToken(current.accessToken).payload.exp, "the expiry is kept");

        // Session data and information.
        assert.equal(await S.updateSessionDataInDatabase(handle, { x: 2 }), true);
        const info = await S.getSessionInformation(handle);
        assert.deepEqual(info.sessionDataInDatabase, { x: 2 });
        assert.equal(info.customClaimsInAccessTokenPayload.k, "v");
        const { calls: infoCalls } = await ctx.record(() => S.getSessionInformation(handle));
        const got = infoCalls.find((c) => c.path === "/recipe/session");
        const infoKeys = ["expiry", "sessionHandle", "status", "timeCreated", "userDataInDatabase", "userDataInJWT", "userId"];
        if (Number(a.cdi) >= 3) infoKeys.push("tenantId");
        if (Number(a.cdi) >= 4) infoKeys.push("recipeUserId");
        assert.deepEqual(keysOf(got.reply), infoKeys.sort());
        assert.ok((await a.handlesFor(S, userId)).includes(handle));

        // Revoke: the session is gone for the database check and for refresh.
        assert.equal(await S.revokeSession(handle), true);
        assert.equal(await S.getSessionInformation(handle), undefined);
        await assert.rejects(S.getSessionWithoutRequestResponse(regenerated, current.antiCsrfToken, { checkDatabase: true }));
        await assert.rejects(S.refreshSessionWithoutRequestResponse(fresh.refreshToken, false, fresh.antiCsrfToken));
    });

    ctx.test(`${a.pkg}: every core call spoke CDI ${a.cdi}`, async () => {
        assert.ok(ctx.calls.length > 5, "the flow ran");
        assert.equal(ctx.calls[0].path, "/apiversion");
        assert.equal(ctx.calls[0].cdiVersion, undefined);
        assert.ok(ctx.calls[0].reply.versions.includes(a.cdi), JSON.stringify(ctx.calls[0].reply));
        for (const c of ctx.calls.slice(1)) {
            if (c.path === "/.well-known/jwks.json" || c.path === "/apiversion") continue;
            assert.equal(c.cdiVersion, a.cdi, `${c.method} ${c.path}`);
            assert.equal(c.status, 200, `${c.method} ${c.path}: ${JSON.stringify(c.reply)}`);
        }
    });
}

module.exports = { registerFlow, expectedUserKeys, expectedSessionKeys, ownClaims };
