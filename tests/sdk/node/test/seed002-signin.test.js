"use strict";
// Seed 002 end to end: a tenant created with
// firstFactors ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-phone", "link-email"]
// signs users in with each method through a real express app and the SDK's HTTP APIs:
// email-password sign-up and sign-in, third-party sign-in against a mock OAuth provider, and
// passwordless by code and by magic link over email and SMS (deliveries captured, not sent).

const assert = require("node:assert/strict");
const { before, after } = require("node:test");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const ThirdParty = require("supertokens-node/recipe/thirdparty");
const Passwordless = require("supertokens-node/recipe/passwordless");
const Session = require("supertokens-node/recipe/session");
const { setup, uniqueId, startSdkWebApp } = require("../helpers");
const { startMockOAuth, mockProviderConfig } = require("../mock-oauth");

const FIRST_FACTORS = ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-phone", "link-email"];
const sent = []; // { email | phoneNumber, userInputCode, urlWithLinkCode }

const ctx = setup({
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        ThirdParty.init(),
        Passwordless.init({
            contactMethod: "EMAIL_OR_PHONE",
            flowType: "USER_INPUT_CODE_AND_MAGIC_LINK",
            emailDelivery: { override: (o) => ({ ...o, sendEmail: async (input) => void sent.push(input) }) },
            smsDelivery: { override: (o) => ({ ...o, sendSms: async (input) => void sent.push(input) }) },
        }),
        Session.init(),
    ],
    init: { framework: "express" },
    warmUpKeys: true,
});

let oauth = null;
let web = null;
let tenant = null;

before(async () => {
    oauth = await startMockOAuth();
    web = await startSdkWebApp();
});

after(async () => {
    if (oauth) await oauth.close();
    if (web) await web.close();
});

async function post(path, rid, body) {
    const res = await fetch(`${web.baseURL}/auth/${tenant}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", rid, "st-auth-mode": "header" },
        body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, session: res.headers.get("st-access-token"), json: JSON.parse(text), text };
}

function signedIn(r) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, "OK", r.text);
    assert.ok(r.session, "a session was created");
    assert.deepEqual(r.json.user.tenantIds, [tenant]);
    return r.json.user;
}

ctx.test("the seed's tenant: created with its firstFactors, read back by the SDK", async () => {
    tenant = uniqueId("customer1");
    const created = await Multitenancy.createOrUpdateTenant(tenant, { firstFactors: FIRST_FACTORS });
    assert.deepEqual(created, { status: "OK", createdNew: true });
    assert.equal((await Multitenancy.createOrUpdateThirdPartyConfig(tenant, mockProviderConfig(oauth.baseURL))).status, "OK");
    const read = await Multitenancy.getTenant(tenant);
    assert.deepEqual([...read.firstFactors].sort(), [...FIRST_FACTORS].sort());
});

ctx.test("emailpassword: sign up, then sign in", async () => {
    const formFields = [
        { id: "email", value: `${uniqueId("ep")}@example.com` },
        { id: "password", value: "pw-123456" },
    ];
    const up = signedIn(await post("/signup", "emailpassword", { formFields }));
    const inAgain = signedIn(await post("/signin", "emailpassword", { formFields }));
    assert.equal(inAgain.id, up.id);
});

ctx.test("thirdparty: the tenant's provider, by authorization code", async () => {
    oauth.codes.set("seed-code", { uid: uniqueId("mock"), mail: `${uniqueId("tp")}@example.com`, mail_ok: true });
    const user = signedIn(
        await post("/signinup", "thirdparty", {
            thirdPartyId: "mock",
            redirectURIInfo: { redirectURIOnProviderDashboard: "http://localhost/cb", redirectURIQueryParams: { code: "seed-code" } },
        }),
    );
    assert.equal(user.thirdParty[0].id, "mock");
});

for (const [factor, contact] of [
    ["otp-email", () => ({ email: `${uniqueId("pl")}@example.com` })],
    ["otp-phone", () => ({ phoneNumber: `+1415555${String(Math.floor(Math.random() * 10000)).padStart(4, "0")}` })],
    ["link-email", () => ({ email: `${uniqueId("pl")}@example.com` })],
    ["link-phone", () => ({ phoneNumber: `+1415556${String(Math.floor(Math.random() * 10000)).padStart(4, "0")}` })],
]) {
    ctx.test(`${factor}: sign in with what the delivery carried`, async () => {
        const to = contact();
        const started = await post("/signinup/code", "passwordless", to);
        assert.equal(started.json.status, "OK", started.text);
        const delivered = sent.filter((s) => s.preAuthSessionId === started.json.preAuthSessionId).at(-1);
        assert.ok(delivered, "the code was delivered");
        const consume = factor.startsWith("otp")
            ? { preAuthSessionId: started.json.preAuthSessionId, deviceId: started.json.deviceId, userInputCode: delivered.userInputCode }
            : { preAuthSessionId: started.json.preAuthSessionId, linkCode: new URL(delivered.urlWithLinkCode).hash.slice(1) };
        const user = signedIn(await post("/signinup/code/consume", "passwordless", consume));
        assert.equal(user.loginMethods[0].recipeId, "passwordless");
        if (to.email) assert.deepEqual(user.emails, [to.email]);
        if (to.phoneNumber) assert.deepEqual(user.phoneNumbers, [to.phoneNumber]);
    });
}
