"use strict";
// The OAuth2 provider through supertokens-node's OAuth2Provider recipe against Portcullis (no Hydra):
// client CRUD, the authorization-code flow with PKCE driven through the recipe implementation the
// SDK's /oauth/auth, /oauth/login and /oauth/token APIs use (with a real session), introspection,
// refresh, client credentials, validation of access tokens, and revocation.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const supertokens = require("supertokens-node");
const Session = require("supertokens-node/recipe/session");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const OAuth2Provider = require("supertokens-node/recipe/oauth2provider");
const OAuth2ProviderRecipe = require("supertokens-node/lib/build/recipe/oauth2provider/recipe").default;
const { setup, uniqueId } = require("../helpers");

const ctx = setup({
    recipeList: () => [EmailPassword.init(), Session.init(), OAuth2Provider.init()],
});

const CB = "http://localhost:3000/cb";
const VERIFIER = "a-pkce-verifier-that-is-long-enough-0123456789abcdef";
const CHALLENGE = crypto.createHash("sha256").update(VERIFIER).digest("base64url");

function impl() {
    return OAuth2ProviderRecipe.getInstanceOrThrowError().recipeInterfaceImpl;
}

/** Set-Cookie strings → a Cookie header, merged into `jar`. */
function takeCookies(jar, setCookies) {
    for (const c of setCookies || []) {
        const [pair] = c.split(";");
        const i = pair.indexOf("=");
        jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
}
const cookieHeader = (jar) => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
const queryOf = (url) => Object.fromEntries(new URL(url).searchParams);

ctx.test("clients, the code flow with PKCE, introspection, refresh, M2M and revocation", async () => {
    const userContext = {};
    const created = await OAuth2Provider.createOAuth2Client({
        clientName: "rp",
        redirectUris: [CB],
        grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
        responseTypes: ["code"],
        scope: "openid offline_access email",
        audience: ["api1"],
        tokenEndpointAuthMethod: "client_secret_post",
    });
    assert.equal(created.status, "OK", JSON.stringify(created));
    const { clientId, clientSecret } = created.client;
    assert.ok(clientId.startsWith("stcl_") && clientSecret.length >= 32);

    const got = await OAuth2Provider.getOAuth2Client(clientId);
    assert.equal(got.status, "OK");
    assert.equal(got.client.clientName, "rp");
    const missing = await OAuth2Provider.getOAuth2Client("nope");
    assert.equal(missing.status, "ERROR");
    const updated = await OAuth2Provider.updateOAuth2Client({ clientId, clientName: "rp2" });
    assert.equal(updated.client.clientName, "rp2");
    const listed = await OAuth2Provider.getOAuth2Clients({ pageSize: 10 });
    assert.ok(listed.clients.some((c) => c.clientId === clientId));

    // A signed-in user and a session, as the SDK's /oauth/auth API has them.
    const email = `${uniqueId("u")}@example.com`;
    const signUp = await EmailPassword.signUp("public", email, "password-123");
    assert.equal(signUp.status, "OK");
    const session = await Session.createNewSessionWithoutRequestResponse("public", signUp.recipeUserId);

    const jar = new Map();
    const params = {
        client_id: clientId,
        redirect_uri: CB,
        response_type: "code",
        scope: "openid offline_access",
        state: "state-0123456789",
        code_challenge: CHALLENGE,
        code_challenge_method: "S256",
    };
    // 1. /oauth/auth → the login page.
    let r = await impl().authorization({ params, cookies: cookieHeader(jar), session, userContext });
    assert.ok(r.redirectTo, JSON.stringify(r));
    takeCookies(jar, r.cookies);
    const loginChallenge = queryOf(r.redirectTo).loginChallenge || queryOf(r.redirectTo).login_challenge;
    assert.ok(loginChallenge, r.redirectTo);
    // 2. The login page accepts for the session's user (what the SDK's loginGET does).
    const loginRequest = await impl().getLoginRequest({ challenge: loginChallenge, userContext });
    assert.equal(loginRequest.client.clientId, clientId);
    const accepted = await impl().acceptLoginRequest({
        challenge: loginChallenge,
        subject: session.getUserId(),
        identityProviderSessionId: session.getHandle(),
        userContext,
    });
    assert.equal(accepted.status, "OK", JSON.stringify(accepted));
    // 3. Back at /oauth/auth with the login verifier: the SDK accepts consent itself.
    r = await impl().authorization({ params: queryOf(accepted.redirectTo), cookies: cookieHeader(jar), session, userContext });
    assert.ok(r.redirectTo, JSON.stringify(r));
    takeCookies(jar, r.cookies);
    // 4. With the consent verifier: the client's callback with the code.
    r = await impl().authorization({ params: queryOf(r.redirectTo), cookies: cookieHeader(jar), session, userContext });
    assert.ok(r.redirectTo.startsWith(CB), JSON.stringify(r));
    const { code, state } = queryOf(r.redirectTo);
    assert.equal(state, "state-0123456789");

    // 5. /oauth/token.
    const tokens = await impl().tokenExchange({
        body: { grant_type: "authorization_code", code, redirect_uri: CB, code_verifier: VERIFIER, client_id: clientId, client_secret: clientSecret },
        userContext,
    });
    assert.equal(tokens.status, "OK", JSON.stringify(tokens));
    assert.ok(tokens.access_token && tokens.id_token && tokens.refresh_token.startsWith("st_rt_"));

    // The SDK validates the access token against Portcullis' JWKS and its database.
    const validated = await OAuth2Provider.validateOAuth2AccessToken(tokens.access_token, { clientId, scopes: ["openid"] }, true);
    assert.equal(validated.status, "OK", JSON.stringify(validated));
    assert.equal(validated.payload.sub, session.getUserId());
    assert.equal(validated.payload.sessionHandle, session.getHandle());
    const introspected = await impl().introspectToken({ token: tokens.access_token, scopes: [], userContext });
    assert.equal(introspected.active, true);

    // A reused code is refused (and revokes what it issued).
    const reused = await impl().tokenExchange({
        body: { grant_type: "authorization_code", code, redirect_uri: CB, code_verifier: VERIFIER, client_id: clientId, client_secret: clientSecret },
        userContext,
    });
    assert.equal(reused.error, "invalid_grant", JSON.stringify(reused));
    assert.equal((await impl().introspectToken({ token: tokens.access_token, scopes: [], userContext })).active, false);

    // M2M: client credentials with scopes and an audience.
    const m2m = await OAuth2Provider.createTokenForClientCredentials(clientId, clientSecret, ["email"], ["api1"]);
    assert.equal(m2m.status, "OK", JSON.stringify(m2m));
    const m2mValid = await OAuth2Provider.validateOAuth2AccessToken(m2m.access_token, { clientId }, true);
    assert.equal(m2mValid.status, "OK");
    const bad = await OAuth2Provider.createTokenForClientCredentials(clientId, "wrong-secret", ["email"], ["api1"]);
    assert.equal(bad.error, "invalid_client", JSON.stringify(bad));

    // Revocation: one token, then every token of the client.
    assert.equal((await OAuth2Provider.revokeToken(m2m.access_token, clientId, clientSecret)).status, "OK");
    assert.equal((await impl().introspectToken({ token: m2m.access_token, scopes: [], userContext })).active, false);
    const m2m2 = await OAuth2Provider.createTokenForClientCredentials(clientId, clientSecret, ["email"], ["api1"]);
    assert.equal((await OAuth2Provider.revokeTokensByClientId(clientId)).status, "OK");
    assert.equal((await impl().introspectToken({ token: m2m2.access_token, scopes: [], userContext })).active, false);

    assert.equal((await OAuth2Provider.deleteOAuth2Client({ clientId })).status, "OK");
    assert.equal((await OAuth2Provider.getOAuth2Client(clientId)).status, "ERROR");
});
