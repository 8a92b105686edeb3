"use strict";
// Third-party sign-in through supertokens-node: ThirdParty.manuallyCreateOrUpdateUser, the
// tenant's custom provider from the core (getProvider), and a real express app whose
// POST /auth/signinup exchanges an authorization code with a small mock OAuth provider on
// localhost (token endpoint + user-info endpoint), maps the user through the tenant's
// userInfoMap and signs the user in with a session.

const assert = require("node:assert/strict");
const { before, after } = require("node:test");
const supertokens = require("supertokens-node");
const ThirdParty = require("supertokens-node/recipe/thirdparty");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Session = require("supertokens-node/recipe/session");
const EmailVerification = require("supertokens-node/recipe/emailverification");
const { setup, uniqueId, startSdkWebApp } = require("../helpers");
const { startMockOAuth, mockProviderConfig } = require("../mock-oauth");

const ctx = setup({
    recipeList: () => [Multitenancy.init(), EmailVerification.init({ mode: "OPTIONAL" }), ThirdParty.init(), Session.init()],
    init: { framework: "express" },
    warmUpKeys: true,
});

let oauth = null; // the mock provider: { baseURL, codes, close() }
let web = null; // the SDK's HTTP APIs: { baseURL, close() }

before(async () => {
    oauth = await startMockOAuth();
    web = await startSdkWebApp();
});

after(async () => {
    if (oauth) await oauth.close();
    if (web) await web.close();
});

async function addMockProvider(tenantId) {
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["thirdparty"] });
    const r = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, mockProviderConfig(oauth.baseURL));
    assert.equal(r.status, "OK");
}

ctx.test("manuallyCreateOrUpdateUser creates, signs in, follows the email; per tenant", async () => {
    const tenant = uniqueId("t");
    await Multitenancy.createOrUpdateTenant(tenant, { firstFactors: ["thirdparty"] });
    const userId = uniqueId("g");
    const made = await ThirdParty.manuallyCreateOrUpdateUser(tenant, "google", userId, "Ann@Example.com", false);
    assert.equal(made.status, "OK");
    assert.equal(made.createdNewRecipeUser, true);
    assert.deepEqual(made.user.thirdParty, [{ id: "google", userId }]);
    assert.deepEqual(made.user.emails, ["ann@example.com"]);

    assert.equal(made.user.loginMethods[0].verified, false);
    const again = await ThirdParty.manuallyCreateOrUpdateUser(tenant, "google", userId, "new@example.com", true);
    assert.equal(again.user.loginMethods[0].verified, true, "the core records the provider's word");
    assert.equal(again.createdNewRecipeUser, false);
    assert.equal(again.user.id, made.user.id);
    assert.deepEqual(again.user.emails, ["new@example.com"]);

    const found = await supertokens.listUsersByAccountInfo(tenant, { thirdParty: { id: "google", userId } });
    assert.deepEqual(found.map((u) => u.id), [made.user.id]);
    const other = await ThirdParty.manuallyCreateOrUpdateUser("public", "google", userId, "new@example.com", false);
    assert.equal(other.createdNewRecipeUser, true, "another tenant, another user");
    assert.notEqual(other.user.id, made.user.id);
});

ctx.test("getProvider returns the tenant's provider as the core stores it", async () => {
    const tenant = uniqueId("t");
    await addMockProvider(tenant);
    const provider = await ThirdParty.getProvider(tenant, "mock", undefined);
    assert.equal(provider.id, "mock");
    assert.equal(provider.config.tokenEndpoint, `${oauth.baseURL}/token`);
    assert.equal(provider.config.clientId, "mock-client");
    assert.equal(await ThirdParty.getProvider(tenant, "unknown", undefined), undefined);
});

ctx.test("express app: POST /auth/signinup exchanges a code with the mock provider and signs in", async () => {
    const tenant = uniqueId("t");
    await addMockProvider(tenant);
    const signIn = async (code) => {
        const res = await fetch(`${web.baseURL}/auth/${tenant}/signinup`, {
            method: "POST",
            headers: { "content-type": "application/json", rid: "thirdparty", "st-auth-mode": "header" },
            body: JSON.stringify({
                thirdPartyId: "mock",
                redirectURIInfo: { redirectURIOnProviderDashboard: "http://localhost/callback", redirectURIQueryParams: { code } },
            }),
        });
        const text = await res.text();
        let body;
        try {
            body = JSON.parse(text);
        } catch {
            body = { status: `HTTP ${res.status}`, text };
        }
        return { res, body };
    };
    const uid = uniqueId("mock-user");
    oauth.codes.set("code-1", { uid, mail: "Zed@Example.com", mail_ok: true });
    const first = await signIn("code-1");
    assert.equal(first.res.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, "OK");
    assert.equal(first.body.createdNewRecipeUser, true);
    assert.deepEqual(first.body.user.thirdParty, [{ id: "mock", userId: uid }]);
    assert.deepEqual(first.body.user.emails, ["zed@example.com"]);
    // The SDK's custom provider also reads emailVerified from the (absent) id token, by its
    // default mapping, so it reports the email unverified here.
    const signinup = ctx.coreCalls.findLast((c) => c.path.endsWith("/recipe/signinup"));
    assert.deepEqual(signinup.body.email, { id: "Zed@Example.com", isVerified: false });
    assert.ok(first.res.headers.get("st-access-token"), "a session was created");

    oauth.codes.set("code-2", { uid, mail: "zed@example.com", mail_ok: true });
    const second = await signIn("code-2");
    assert.equal(second.body.status, "OK");
    assert.equal(second.body.createdNewRecipeUser, false);
    assert.equal(second.body.user.id, first.body.user.id);

    const bad = await signIn("no-such-code");
    assert.notEqual(bad.res.status, 200, "a code the provider refuses signs nobody in");
    assert.equal(bad.res.headers.get("st-access-token"), null);
});
