// The relying party's scenario against a running SDK app (supertokens-node's oauth2provider recipe in
// front of Portcullis), step by step, each step checked: the code flow with PKCE (signed out, then
// signed in), the tokens' signatures and claims, userinfo, introspection, refresh, client
// credentials, revocation, RP-initiated logout, and the negative cases of issue 22.
//
//   node rp/run.mjs            (with the environment below)
//   import { runScenario } from "./rp/run.mjs"   (from a test, with the same options)
//
// ISSUER                    apiDomain + apiBasePath of the app, e.g. http://localhost:3001/auth
// CLIENT_ID, CLIENT_SECRET  a client with grant types authorization_code + refresh_token, response
//                           type code, scope covering "openid offline_access email", the redirect URI
//                           and post-logout redirect URI below registered
// AUTH_METHOD               its tokenEndpointAuthMethod (default client_secret_basic)
// REDIRECT_URI              registered callback, without a query string
// POST_LOGOUT_REDIRECT_URI  registered post-logout redirect URI
// M2M_CLIENT_ID, M2M_CLIENT_SECRET, M2M_SCOPE, M2M_AUDIENCE
//                           optional: a client_credentials client, a scope and audience it allows
//
// The app must have the emailpassword recipe (the user signs up through it) and cookie-based sessions.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { pathToFileURL } from "node:url";

import { Browser, client, codeFlow, decodeJwt, discover, emailPasswordSignUp, fetchJwks, logout, rawTokenRequest, verifyJwt, withIntrospection } from "./relying-party.mjs";

/** Runs the scenario; returns `{passed, failed}` (the names of the steps). */
export async function runScenario(o) {
    const results = { passed: [], failed: [] };
    const step = async (name, fn) => {
        try {
            await fn();
            results.passed.push(name);
            console.log(`ok   ${name}`);
        } catch (e) {
            results.failed.push(name);
            const detail = e.error ? ` (${e.error}: ${e.error_description})` : "";
            console.log(`FAIL ${name}${detail}: ${e.stack ?? e}`);
        }
    };
    const authMethod = o.authMethod ?? "client_secret_basic";
    const config = await discover(o.issuer, o.clientId, o.clientSecret, authMethod);
    const introspecting = withIntrospection(config, o.clientSecret, authMethod);
    const jwks = await fetchJwks(config);
    const browser = new Browser();
    const email = `rp-${crypto.randomBytes(4).toString("hex")}@example.com`;
    const signIn = (b) => emailPasswordSignUp(b, o.issuer, email, "rp-Password-123");
    const introspect = async (token) => client.tokenIntrospection(introspecting, token);
    let first;

    await step("discovery names the issuer and the SDK's endpoints", async () => {
        const m = config.serverMetadata();
        assert.equal(m.issuer, o.issuer);
        assert.equal(m.token_endpoint, `${o.issuer}/oauth/token`);
        assert.equal(m.jwks_uri, `${o.issuer}/jwt/jwks.json`);
        assert.ok(jwks.keys.some((k) => k.kid.startsWith("s-")), "the static key that signs OAuth tokens is published");
    });

    await step("code flow with PKCE S256, signed out: login page, sign-up, callback, tokens", async () => {
        first = await codeFlow({ config, browser, redirectUri: o.redirectUri, scope: "openid offline_access email", signIn });
        assert.ok(first.loginChallenge, "went through the frontend's login page");
        assert.ok(browser.jar.size > 0);
        const at = verifyJwt(first.tokens.access_token, jwks);
        assert.equal(at.stt, 1);
        assert.equal(at.client_id, o.clientId);
        assert.deepEqual(at.scp, ["openid", "offline_access", "email"]);
        assert.equal(at.iss, o.issuer);
        assert.equal(typeof at.sessionHandle, "string");
        assert.ok(decodeJwt(first.tokens.access_token).header.kid.startsWith("s-"));
        const id = verifyJwt(first.tokens.id_token, jwks);
        assert.equal(id.stt, 2);
        assert.equal(id.aud, o.clientId);
        assert.equal(id.sid, at.sessionHandle);
        assert.equal(id.email, email);
        assert.ok(first.tokens.refresh_token.startsWith("st_rt_"));
    });

    await step("userinfo", async () => {
        const info = await client.fetchUserInfo(config, first.tokens.access_token, first.tokens.claims().sub);
        assert.equal(info.email, email);
    });

    await step("introspection of the access and refresh tokens", async () => {
        const at = await introspect(first.tokens.access_token);
        assert.equal(at.active, true);
        assert.equal(at.token_use, "access_token");
        const rt = await introspect(first.tokens.refresh_token);
        assert.equal(rt.active, true);
        assert.equal(rt.token_use, "refresh_token");
    });

    await step("refresh", async () => {
        const refreshed = await client.refreshTokenGrant(config, first.tokens.refresh_token);
        const at = verifyJwt(refreshed.access_token, jwks);
        assert.equal(at.gid, decodeJwt(first.tokens.access_token).payload.gid, "same grant");
        assert.equal((await introspect(refreshed.access_token)).active, true);
    });

    await step("code flow, signed in: straight to the callback", async () => {
        const again = await codeFlow({ config, browser, redirectUri: o.redirectUri });
        assert.equal(again.loginChallenge, undefined);
        assert.equal(verifyJwt(again.tokens.access_token, jwks).stt, 1);
    });

    await step("negative: a wrong client secret is 401 invalid_client", async () => {
        const r = await rawTokenRequest(config, { grant_type: "refresh_token", refresh_token: first.tokens.refresh_token }, { clientSecret: "wrong-secret" });
        assert.equal(r.status, 401);
        assert.equal(r.body.error, "invalid_client");
    });

    await step("negative: an unregistered redirect URI is 400 invalid_request, not redirected", async () => {
        const url = client.buildAuthorizationUrl(config, { redirect_uri: `${o.redirectUri}/evil`, scope: "openid", state: client.randomState() });
        const r = await browser.fetch(url);
        assert.equal(r.status, 400);
        assert.equal((await r.json()).error, "invalid_request");
    });

    await step("negative: a scope outside the client's comes back as invalid_scope", async () => {
        const state = client.randomState();
        const url = client.buildAuthorizationUrl(config, { redirect_uri: o.redirectUri, scope: "openid not-a-scope-of-this-client", state });
        const r = await browser.fetch(url);
        const back = new URL(r.headers.get("location"));
        assert.equal(back.searchParams.get("error"), "invalid_scope");
        assert.equal(back.searchParams.get("state"), state);
    });

    await step("negative: a PKCE mismatch is 400 invalid_grant", async () => {
        const flow = await authorizeOnly(config, browser, o.redirectUri);
        const r = await rawTokenRequest(
            config,
            { grant_type: "authorization_code", code: flow.code, redirect_uri: o.redirectUri, code_verifier: client.randomPKCECodeVerifier() },
            { clientSecret: o.clientSecret },
        );
        assert.equal(r.status, 400);
        assert.equal(r.body.error, "invalid_grant");
    });

    await step("negative: a reused code is 400 invalid_grant and revokes what it issued", async () => {
        const flow = await authorizeOnly(config, browser, o.redirectUri);
        const form = { grant_type: "authorization_code", code: flow.code, redirect_uri: o.redirectUri, code_verifier: flow.verifier };
        const ok = await rawTokenRequest(config, form, { clientSecret: o.clientSecret });
        assert.equal(ok.status, 200);
        const again = await rawTokenRequest(config, form, { clientSecret: o.clientSecret });
        assert.equal(again.status, 400);
        assert.equal(again.body.error, "invalid_grant");
        assert.equal((await introspect(ok.body.access_token)).active, false);
    });

    await step("negative: revoked tokens are inactive; a revoked refresh token no longer refreshes", async () => {
        const flow = await codeFlow({ config, browser, redirectUri: o.redirectUri });
        await client.tokenRevocation(config, flow.tokens.access_token);
        assert.equal((await introspect(flow.tokens.access_token)).active, false);
        await client.tokenRevocation(config, flow.tokens.refresh_token);
        assert.equal((await introspect(flow.tokens.refresh_token)).active, false);
        await assert.rejects(client.refreshTokenGrant(config, flow.tokens.refresh_token), (e) => e.error === "invalid_grant");
    });

    if (o.m2mClientId) {
        await step("client credentials with scope and audience", async () => {
            const m2m = await discover(o.issuer, o.m2mClientId, o.m2mClientSecret, o.m2mAuthMethod ?? "client_secret_basic");
            const params = {};
            if (o.m2mScope) params.scope = o.m2mScope;
            if (o.m2mAudience) params.audience = o.m2mAudience;
            const t = await client.clientCredentialsGrant(m2m, params);
            const at = verifyJwt(t.access_token, jwks);
            assert.equal(at.sub, o.m2mClientId);
            assert.deepEqual(at.scp, o.m2mScope ? o.m2mScope.split(" ") : []);
            if (o.m2mAudience) assert.equal(at.aud, o.m2mAudience);
            assert.equal(t.refresh_token, undefined);
            // Credentials the way the client authenticates (a post client sent Basic is invalid_client).
            const form = { grant_type: "client_credentials", scope: "not-a-scope-of-this-client" };
            const denied = o.m2mAuthMethod === "client_secret_post"
                ? await rawTokenRequest(m2m, { ...form, client_id: o.m2mClientId, client_secret: o.m2mClientSecret })
                : await rawTokenRequest(m2m, form, { clientSecret: o.m2mClientSecret });
            assert.equal(denied.status, 400);
            assert.equal(denied.body.error, "invalid_scope");
        });
    }

    await step("RP-initiated logout through the SDK's logout page", async () => {
        const flow = await codeFlow({ config, browser, redirectUri: o.redirectUri });
        const state = client.randomState();
        const out = await logout({ config, browser, idToken: flow.tokens.id_token, postLogoutRedirectUri: o.postLogoutRedirectUri, state });
        assert.equal(out.confirmed, true);
        const back = new URL(out.redirectTo);
        assert.equal(`${back.origin}${back.pathname}`, o.postLogoutRedirectUri);
        assert.equal(back.searchParams.get("state"), state);
        assert.equal((await introspect(flow.tokens.access_token)).active, false);
        assert.equal((await introspect(flow.tokens.refresh_token)).active, false);
    });

    console.log(`${results.passed.length} passed, ${results.failed.length} failed`);
    return results;
}

/** Runs an authorization request of a signed-in browser and returns the code, without exchanging it. */
async function authorizeOnly(config, browser, redirectUri) {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: "openid offline_access",
        state: client.randomState(),
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
    });
    const r = await browser.fetch(url);
    const code = new URL(r.headers.get("location")).searchParams.get("code");
    assert.ok(code, `expected a code, got ${r.status} ${r.headers.get("location")}`);
    return { code, verifier };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    const env = process.env;
    for (const key of ["ISSUER", "CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URI", "POST_LOGOUT_REDIRECT_URI"]) {
        if (!env[key]) {
            console.error(`${key} is not set (see the top of rp/run.mjs)`);
            process.exit(2);
        }
    }
    const results = await runScenario({
        issuer: env.ISSUER,
        clientId: env.CLIENT_ID,
        clientSecret: env.CLIENT_SECRET,
        authMethod: env.AUTH_METHOD,
        redirectUri: env.REDIRECT_URI,
        postLogoutRedirectUri: env.POST_LOGOUT_REDIRECT_URI,
        m2mClientId: env.M2M_CLIENT_ID,
        m2mClientSecret: env.M2M_CLIENT_SECRET,
        m2mScope: env.M2M_SCOPE,
        m2mAudience: env.M2M_AUDIENCE,
    });
    process.exit(results.failed.length === 0 ? 0 : 1);
}
