"use strict";
// A small OAuth 2 provider on localhost for the third-party tests: a token endpoint that trades an
// authorization code (registered with `codes.set(code, profile)`) for an access token, and a
// user-info endpoint that answers that token with the profile.

const http = require("node:http");
const express = require("express");
const { uniqueId } = require("./helpers");

const CLIENT_ID = "mock-client";
const CLIENT_SECRET = "mock-secret";

/** Starts the provider; returns { baseURL, codes, close() }. */
async function startMockOAuth() {
    const codes = new Map();
    const tokens = new Map();
    const app = express();
    app.post("/token", express.urlencoded({ extended: false }), (req, res) => {
        const profile = codes.get(req.body.code);
        if (!profile || req.body.client_id !== CLIENT_ID || req.body.client_secret !== CLIENT_SECRET) {
            return res.status(400).json({ error: "invalid_grant" });
        }
        codes.delete(req.body.code);
        const token = `at-${uniqueId("t")}`;
        tokens.set(token, profile);
        res.json({ access_token: token, token_type: "Bearer", expires_in: 3600 });
    });
    app.get("/userinfo", (req, res) => {
        const profile = tokens.get((req.headers.authorization || "").replace(/^Bearer /, ""));
        if (!profile) return res.status(401).json({ error: "invalid_token" });
        res.json(profile);
    });
    const server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const baseURL = `http://127.0.0.1:${server.address().port}`;
    return { baseURL, codes, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The provider as a tenant's third-party config (profile fields uid, mail, mail_ok). */
function mockProviderConfig(baseURL) {
    return {
        thirdPartyId: "mock",
        name: "Mock",
        clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, scope: ["profile"] }],
        authorizationEndpoint: `${baseURL}/authorize`,
        tokenEndpoint: `${baseURL}/token`,
        userInfoEndpoint: `${baseURL}/userinfo`,
        userInfoMap: { fromUserInfoAPI: { userId: "uid", email: "mail", emailVerified: "mail_ok" } },
    };
}

module.exports = { startMockOAuth, mockProviderConfig };
