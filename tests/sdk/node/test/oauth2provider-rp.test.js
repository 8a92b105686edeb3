"use strict";
// An independent relying party (openid-client 6.8.9, rp/) against supertokens-node's OAuth2Provider
// recipe in an express app in front of Portcullis: discovery, the code flow with PKCE (signed out
// and signed in), token signatures and claims, userinfo, introspection, refresh, client
// credentials, revocation, RP-initiated logout, and the negative cases of issue 22. Every step of
// rp/run.mjs must pass.

const assert = require("node:assert/strict");
const express = require("express");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const Session = require("supertokens-node/recipe/session");
const OAuth2Provider = require("supertokens-node/recipe/oauth2provider");
const { middleware, errorHandler } = require("supertokens-node/framework/express");
const { setup } = require("../helpers");

// The app's apiDomain is fixed at init, before a port can be asked for: one derived from the pid.
const PORT = 20000 + (process.pid % 20000);
const API_DOMAIN = `http://localhost:${PORT}`;
const ISSUER = `${API_DOMAIN}/auth`;
const REDIRECT_URI = "http://rp.localhost/cb";
const POST_LOGOUT = "http://rp.localhost/bye";

const ctx = setup({
    recipeList: () => [EmailPassword.init(), Session.init({ getTokenTransferMethod: () => "cookie" }), OAuth2Provider.init()],
    init: { framework: "express", appInfo: { appName: "rp-test", apiDomain: API_DOMAIN, websiteDomain: "http://localhost:3000", apiBasePath: "/auth" } },
});

ctx.test("openid-client completes every step against the SDK app in front of Portcullis", async () => {
    const app = express();
    app.use(middleware());
    app.use(errorHandler());
    const server = await new Promise((resolve) => {
        const s = app.listen(PORT, () => resolve(s));
    });
    try {
        const web = await OAuth2Provider.createOAuth2Client({
            clientName: "rp",
            redirectUris: [REDIRECT_URI],
            postLogoutRedirectUris: [POST_LOGOUT],
            grantTypes: ["authorization_code", "refresh_token"],
            responseTypes: ["code"],
            scope: "openid offline_access email",
            tokenEndpointAuthMethod: "client_secret_basic",
        });
        assert.equal(web.status, "OK", JSON.stringify(web));
        const m2m = await OAuth2Provider.createOAuth2Client({
            clientName: "m2m",
            grantTypes: ["client_credentials"],
            scope: "read write",
            audience: ["https://api.example.com"],
            // supertokens-node reads a client-credentials client's id from a Basic header without
            // URL-decoding it, and openid-client encodes "_" and "-": an M2M client must post.
            tokenEndpointAuthMethod: "client_secret_post",
        });
        assert.equal(m2m.status, "OK", JSON.stringify(m2m));
        const { runScenario } = await import("../rp/run.mjs");
        const results = await runScenario({
            issuer: ISSUER,
            clientId: web.client.clientId,
            clientSecret: web.client.clientSecret,
            authMethod: "client_secret_basic",
            redirectUri: REDIRECT_URI,
            postLogoutRedirectUri: POST_LOGOUT,
            m2mClientId: m2m.client.clientId,
            m2mClientSecret: m2m.client.clientSecret,
            m2mAuthMethod: "client_secret_post",
            m2mScope: "read",
            m2mAudience: "https://api.example.com",
        });
        assert.deepEqual(results.failed, [], `failed steps: ${results.failed.join("; ")}`);
        assert.ok(results.passed.length >= 10, `passed: ${results.passed.join("; ")}`);
    } finally {
        server.close();
    }
});
