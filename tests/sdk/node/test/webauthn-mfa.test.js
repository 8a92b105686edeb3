"use strict";
// WebAuthn as a multi-factor-auth first factor (factor id "webauthn"), through supertokens-node's
// own HTTP APIs with the MultiFactorAuth and Totp recipes on, as a frontend calls them:
//
// - a tenant whose firstFactors is ["webauthn"] and whose requiredSecondaryFactors is ["totp"]:
//   a passkey sign-up makes a session whose MFA claim ("st-mfa") has "webauthn" completed and is
//   not yet valid; the user sets up TOTP in that session and the claim becomes valid; a later
//   passkey sign-in needs the TOTP code again before the claim is valid;
// - a tenant whose firstFactors excludes "webauthn": passkey sign-up and sign-in are refused there.
//
// The core stores the tenant's factors, lists them to the SDK, and answers the user and TOTP
// calls the MFA recipe makes to find the factors a user has set up.

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const MultiFactorAuth = require("supertokens-node/recipe/multifactorauth");
const Session = require("supertokens-node/recipe/session");
const Totp = require("supertokens-node/recipe/totp");
const WebAuthn = require("supertokens-node/recipe/webauthn");
const { setup, uniqueId, startSdkWebApp, decodeJwt, totpCode } = require("../helpers");
const { Authenticator } = require("../webauthn-authenticator");

// The SDK's defaults: the relying party is the API domain's host, the origin the website domain.
const RP = "localhost";
const ORIGIN = "http://localhost:3000";

const ctx = setup({
    init: { framework: "express" },
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        Session.init(),
        WebAuthn.init(),
        MultiFactorAuth.init(),
        Totp.init({ issuer: "Portcullis Tests" }),
    ],
});

/** A client of the SDK's APIs at `baseURL`, keeping the session's access token as a browser would. */
function frontend(baseURL, tenantId) {
    let accessToken = null;
    const call = async (method, path, body) => {
        const headers = { "st-auth-mode": "header", origin: ORIGIN };
        if (body !== undefined) headers["content-type"] = "application/json";
        if (accessToken) headers.authorization = `Bearer ${accessToken}`;
        const res = await fetch(`${baseURL}/auth${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        const renewed = res.headers.get("st-access-token");
        if (renewed) accessToken = renewed;
        return { status: res.status, body: await res.json() };
    };
    const mfa = () => (accessToken ? decodeJwt(accessToken).payload["st-mfa"] : undefined);
    return {
        call,
        mfa,
        tenantPath: (path) => `/${tenantId}${path}`,
        forget: () => (accessToken = null),
    };
}

/** The application's own API behind verifySession(), which checks the MFA claim by default. */
function protectedRoute(app) {
    const { verifySession } = require("supertokens-node/recipe/session/framework/express");
    app.get("/protected", verifySession(), (req, res) => res.json({ userId: req.session.getUserId() }));
}

async function newTenant(config) {
    const tenantId = uniqueId("mfa");
    const created = await Multitenancy.createOrUpdateTenant(tenantId, config);
    assert.equal(created.status, "OK", JSON.stringify(created));
    return tenantId;
}

async function passkeySignUp(client, auth, email) {
    const options = await client.call("POST", client.tenantPath("/webauthn/options/register"), { email });
    assert.equal(options.body.status, "OK", JSON.stringify(options.body));
    const credential = auth.register({ challenge: options.body.challenge, origin: ORIGIN, rpId: RP });
    return client.call("POST", client.tenantPath("/webauthn/signup"), {
        webauthnGeneratedOptionsId: options.body.webauthnGeneratedOptionsId,
        credential,
        shouldTryLinkingWithSessionUser: false,
    });
}

async function passkeySignIn(client, auth) {
    const options = await client.call("POST", client.tenantPath("/webauthn/options/signin"), {});
    assert.equal(options.body.status, "OK", JSON.stringify(options.body));
    const credential = auth.assert({ challenge: options.body.challenge, origin: ORIGIN, rpId: RP });
    return client.call("POST", client.tenantPath("/webauthn/signin"), {
        webauthnGeneratedOptionsId: options.body.webauthnGeneratedOptionsId,
        credential,
        shouldTryLinkingWithSessionUser: false,
    });
}

ctx.test("a passkey is the first factor of a tenant that requires TOTP second", async () => {
    const tenantId = await newTenant({ firstFactors: ["webauthn"], requiredSecondaryFactors: ["totp"] });
    const tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(tenant.firstFactors, ["webauthn"]);
    assert.deepEqual(tenant.requiredSecondaryFactors, ["totp"]);

    const web = await startSdkWebApp(protectedRoute);
    try {
        const client = frontend(web.baseURL, tenantId);
        // What a frontend reads to show the login methods: the passkey and nothing else.
        const methods = await client.call("GET", client.tenantPath("/loginmethods"));
        assert.equal(methods.body.status, "OK", JSON.stringify(methods.body));
        assert.deepEqual(methods.body.firstFactors, ["webauthn"]);

        // Sign-up: webauthn completed, TOTP still owed.
        const auth = new Authenticator(-7);
        const email = `${uniqueId("wa-mfa")}@example.com`;
        const up = await passkeySignUp(client, auth, email);
        assert.equal(up.body.status, "OK", JSON.stringify(up.body));
        const userId = up.body.user.id;
        assert.deepEqual(up.body.user.tenantIds, [tenantId]);
        let claim = client.mfa();
        assert.ok(claim, "the session has the MFA claim");
        assert.deepEqual(Object.keys(claim.c), ["webauthn"]);
        assert.equal(claim.v, false, "TOTP is required");
        assert.deepEqual(await MultiFactorAuth.getFactorsSetupForUser(userId), ["webauthn"]);

        // The MFA info the frontend asks for next: TOTP is next, and may be set up.
        const info = await client.call("PUT", "/mfa/info");
        assert.equal(info.body.status, "OK", JSON.stringify(info.body));
        assert.deepEqual(info.body.factors.next, ["totp"]);
        assert.ok(info.body.factors.allowedToSetup.includes("totp"), JSON.stringify(info.body));

        // The application's own API refuses the session until TOTP is done.
        assert.equal((await client.call("GET", "/../protected")).status, 403);

        // TOTP set up in this session: the claim becomes valid.
        const device = await client.call("POST", "/totp/device", { deviceName: "phone" });
        assert.equal(device.body.status, "OK", JSON.stringify(device.body));
        const verified = await client.call("POST", "/totp/device/verify", { deviceName: "phone", totp: totpCode(device.body.secret) });
        assert.equal(verified.body.status, "OK", JSON.stringify(verified.body));
        claim = client.mfa();
        assert.deepEqual(Object.keys(claim.c).sort(), ["totp", "webauthn"]);
        assert.equal(claim.v, true);
        assert.deepEqual((await MultiFactorAuth.getFactorsSetupForUser(userId)).sort(), ["totp", "webauthn"]);
        assert.equal((await client.call("GET", "/../protected")).status, 200);

        // A new sign-in with the passkey: webauthn done, TOTP owed again.
        client.forget();
        const signIn = await passkeySignIn(client, auth);
        assert.equal(signIn.body.status, "OK", JSON.stringify(signIn.body));
        assert.equal(signIn.body.user.id, userId);
        claim = client.mfa();
        assert.deepEqual(Object.keys(claim.c), ["webauthn"]);
        assert.equal(claim.v, false);
        const wrong = await client.call("POST", "/totp/verify", { totp: totpCode(device.body.secret, Date.now() + 10 * 60_000) });
        assert.equal(wrong.body.status, "INVALID_TOTP_ERROR", JSON.stringify(wrong.body));
        assert.equal(client.mfa().v, false);
        const second = await client.call("POST", "/totp/verify", { totp: totpCode(device.body.secret, Date.now() + 30_000) });
        assert.equal(second.body.status, "OK", JSON.stringify(second.body));
        claim = client.mfa();
        assert.deepEqual(Object.keys(claim.c).sort(), ["totp", "webauthn"]);
        assert.equal(claim.v, true);
    } finally {
        await web.close();
    }
});

ctx.test("a tenant whose first factors exclude webauthn refuses passkey sign-up and sign-in", async () => {
    const allowed = await newTenant({ firstFactors: ["webauthn", "emailpassword"] });
    const excluded = await newTenant({ firstFactors: ["emailpassword"] });
    const web = await startSdkWebApp();
    try {
        const email = `${uniqueId("wa-mfa")}@example.com`;
        const auth = new Authenticator(-7);
        const inAllowed = frontend(web.baseURL, allowed);
        const up = await passkeySignUp(inAllowed, auth, email);
        assert.equal(up.body.status, "OK", JSON.stringify(up.body));
        // No second factor is required: the claim is valid after the passkey alone.
        assert.deepEqual(Object.keys(inAllowed.mfa().c), ["webauthn"]);
        assert.equal(inAllowed.mfa().v, true);

        const inExcluded = frontend(web.baseURL, excluded);
        const methods = await inExcluded.call("GET", inExcluded.tenantPath("/loginmethods"));
        assert.deepEqual(methods.body.firstFactors, ["emailpassword"]);
        // Without a session a factor that is not a first factor of the tenant asks for one: the
        // SDK answers 401 (a passkey could only be a secondary factor there).
        const refusedUp = await passkeySignUp(inExcluded, new Authenticator(-7), `${uniqueId("wa-mfa")}@example.com`);
        assert.equal(refusedUp.status, 401, JSON.stringify(refusedUp.body));
        // The passkey's user is not a user of that tenant; once it is, its passkey is still no
        // first factor there.
        const stranger = await passkeySignIn(inExcluded, auth);
        assert.deepEqual(stranger.body, { status: "INVALID_CREDENTIALS_ERROR" });
        const associated = await Multitenancy.associateUserToTenant(excluded, supertokens.convertToRecipeUserId(up.body.user.id));
        assert.equal(associated.status, "OK", JSON.stringify(associated));
        const refusedIn = await passkeySignIn(inExcluded, auth);
        assert.equal(refusedIn.status, 401, JSON.stringify(refusedIn.body));
        assert.equal(inExcluded.mfa(), undefined, "no session");
        // The same passkey still signs in where it is a first factor.
        inAllowed.forget();
        const again = await passkeySignIn(inAllowed, auth);
        assert.equal(again.body.status, "OK", JSON.stringify(again.body));
        assert.equal(again.body.user.id, up.body.user.id);
    } finally {
        await web.close();
    }
});
