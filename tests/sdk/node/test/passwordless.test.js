"use strict";
// Passwordless through supertokens-node: the recipe functions (createCode, createNewCodeForDevice,
// consumeCode by user input code and by link code, checkCode, the listCodes* functions, revokeCode,
// revokeAllCodes, updateUser, signInUp), and a real express app doing a sign-in through the SDK's
// HTTP APIs (POST /auth/signinup/code, POST /auth/signinup/code/consume) with an email delivery
// override that captures the code instead of sending it.

const assert = require("node:assert/strict");
const { before, after } = require("node:test");
const supertokens = require("supertokens-node");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Passwordless = require("supertokens-node/recipe/passwordless");
const Session = require("supertokens-node/recipe/session");
const { setup, uniqueId, sorted, startSdkWebApp } = require("../helpers");

/** Emails the SDK would have sent, newest last. */
const sentEmails = [];

const ctx = setup({
    recipeList: () => [
        Multitenancy.init(),
        Passwordless.init({
            contactMethod: "EMAIL_OR_PHONE",
            flowType: "USER_INPUT_CODE_AND_MAGIC_LINK",
            emailDelivery: {
                override: (original) => ({
                    ...original,
                    sendEmail: async (input) => {
                        sentEmails.push(input);
                    },
                }),
            },
            smsDelivery: {
                override: (original) => ({ ...original, sendSms: async () => {} }),
            },
        }),
        Session.init(),
    ],
    init: { framework: "express" },
});

const email = () => `${uniqueId("pl")}@example.com`;
const phone = () => `+1415555${String(Math.floor(Math.random() * 10000)).padStart(4, "0")}`;

ctx.test("createCode and consumeCode by user input code: the core's formats, sign-up then sign-in", async () => {
    const address = email();
    const code = await Passwordless.createCode({ tenantId: "public", email: address });
    assert.equal(code.status, "OK");
    assert.match(code.deviceId, /^[A-Za-z0-9+/]{43}=$/);
    assert.match(code.preAuthSessionId, /^[A-Za-z0-9_-]{43}$/);
    assert.match(code.linkCode, /^[A-Za-z0-9_-]{43}$/);
    assert.match(code.userInputCode, /^[0-9]{6}$/);
    assert.equal(code.codeLifetime, 900000);
    assert.ok(Math.abs(code.timeCreated - Date.now()) < 60_000);

    const up = await Passwordless.consumeCode({
        tenantId: "public",
        preAuthSessionId: code.preAuthSessionId,
        deviceId: code.deviceId,
        userInputCode: code.userInputCode,
    });
    assert.equal(up.status, "OK");
    assert.equal(up.createdNewRecipeUser, true);
    assert.deepEqual(up.user.emails, [address]);
    assert.equal(up.user.loginMethods[0].recipeId, "passwordless");
    assert.equal(up.user.loginMethods[0].verified, true);
    assert.equal(up.recipeUserId.getAsString(), up.user.id);
    assert.equal(up.consumedDevice.preAuthSessionId, code.preAuthSessionId);
    assert.equal(up.consumedDevice.email, address);

    const again = await Passwordless.consumeCode({
        tenantId: "public",
        preAuthSessionId: code.preAuthSessionId,
        deviceId: code.deviceId,
        userInputCode: code.userInputCode,
    });
    assert.equal(again.status, "RESTART_FLOW_ERROR");

    const signIn = await Passwordless.signInUp({ tenantId: "public", email: address });
    assert.equal(signIn.status, "OK");
    assert.equal(signIn.createdNewRecipeUser, false);
    assert.equal(signIn.user.id, up.user.id);
    assert.equal((await supertokens.getUser(up.user.id)).loginMethods[0].email, address);
});

ctx.test("consumeCode by link code, phone numbers, checkCode", async () => {
    const number = phone();
    const code = await Passwordless.createCode({ tenantId: "public", phoneNumber: number });
    const checked = await Passwordless.checkCode({ tenantId: "public", preAuthSessionId: code.preAuthSessionId, linkCode: code.linkCode });
    assert.equal(checked.status, "OK");
    assert.equal(checked.consumedDevice.phoneNumber, number);
    const r = await Passwordless.consumeCode({ tenantId: "public", preAuthSessionId: code.preAuthSessionId, linkCode: code.linkCode });
    assert.equal(r.status, "OK");
    assert.equal(r.createdNewRecipeUser, true);
    assert.deepEqual(r.user.phoneNumbers, [number]);
    assert.equal(r.user.loginMethods[0].phoneNumber, number);
    const found = await supertokens.listUsersByAccountInfo("public", { phoneNumber: number });
    assert.deepEqual(found.map((u) => u.id), [r.user.id]);
});

ctx.test("wrong codes count as attempts until the flow restarts; createNewCodeForDevice statuses", async () => {
    const code = await Passwordless.createCode({ tenantId: "public", email: email(), userInputCode: "111111" });
    assert.equal(code.userInputCode, "111111");
    const wrong = (userInputCode) =>
        Passwordless.consumeCode({ tenantId: "public", preAuthSessionId: code.preAuthSessionId, deviceId: code.deviceId, userInputCode });
    const first = await wrong("222222");
    assert.deepEqual(first, { status: "INCORRECT_USER_INPUT_CODE_ERROR", failedCodeInputAttemptCount: 1, maximumCodeInputAttempts: 5 });
    assert.equal((await wrong("333333")).failedCodeInputAttemptCount, 2);

    assert.equal((await Passwordless.createNewCodeForDevice({ tenantId: "public", deviceId: code.deviceId, userInputCode: "111111" })).status, "USER_INPUT_CODE_ALREADY_USED_ERROR");
    const resent = await Passwordless.createNewCodeForDevice({ tenantId: "public", deviceId: code.deviceId });
    assert.equal(resent.status, "OK");
    assert.equal(resent.preAuthSessionId, code.preAuthSessionId);
    assert.notEqual(resent.codeId, code.codeId);
    const device = await Passwordless.listCodesByDeviceId({ tenantId: "public", deviceId: code.deviceId });
    assert.equal(device.failedCodeInputAttemptCount, 2);
    assert.deepEqual(sorted(device.codes.map((c) => c.codeId)), sorted([code.codeId, resent.codeId]));

    for (let i = 3; i < 5; i++) await wrong("444444");
    assert.equal((await wrong("444444")).status, "RESTART_FLOW_ERROR");
    assert.equal((await Passwordless.createNewCodeForDevice({ tenantId: "public", deviceId: code.deviceId })).status, "RESTART_FLOW_ERROR");
    assert.equal(await Passwordless.listCodesByDeviceId({ tenantId: "public", deviceId: code.deviceId }), undefined);
});

ctx.test("listCodesByEmail/ByPhoneNumber/ByPreAuthSessionId, revokeCode, revokeAllCodes", async () => {
    const address = email();
    const number = phone();
    const a = await Passwordless.createCode({ tenantId: "public", email: address });
    const b = await Passwordless.createCode({ tenantId: "public", email: address });
    const p = await Passwordless.createCode({ tenantId: "public", phoneNumber: number });

    const byEmail = await Passwordless.listCodesByEmail({ tenantId: "public", email: address });
    assert.deepEqual(sorted(byEmail.map((d) => d.preAuthSessionId)), sorted([a.preAuthSessionId, b.preAuthSessionId]));
    assert.equal(byEmail[0].email, address);
    assert.equal(byEmail[0].codes[0].codeLifetime, 900000);
    const byPhone = await Passwordless.listCodesByPhoneNumber({ tenantId: "public", phoneNumber: number });
    assert.equal(byPhone.length, 1);
    assert.equal(byPhone[0].phoneNumber, number);
    const byPre = await Passwordless.listCodesByPreAuthSessionId({ tenantId: "public", preAuthSessionId: p.preAuthSessionId });
    assert.equal(byPre.codes[0].codeId, p.codeId);

    assert.deepEqual(await Passwordless.revokeCode({ tenantId: "public", codeId: a.codeId }), { status: "OK" });
    assert.equal(await Passwordless.listCodesByPreAuthSessionId({ tenantId: "public", preAuthSessionId: a.preAuthSessionId }), undefined);
    await Passwordless.revokeCode({ tenantId: "public", preAuthSessionId: p.preAuthSessionId });
    assert.deepEqual(await Passwordless.listCodesByPhoneNumber({ tenantId: "public", phoneNumber: number }), []);
    assert.deepEqual(await Passwordless.revokeAllCodes({ tenantId: "public", email: address }), { status: "OK" });
    assert.deepEqual(await Passwordless.listCodesByEmail({ tenantId: "public", email: address }), []);
    const c = await Passwordless.consumeCode({ tenantId: "public", preAuthSessionId: b.preAuthSessionId, linkCode: b.linkCode });
    assert.equal(c.status, "RESTART_FLOW_ERROR");
});

ctx.test("updateUser: email and phone, conflicts, removal", async () => {
    const user = await Passwordless.signInUp({ tenantId: "public", email: email() });
    const other = await Passwordless.signInUp({ tenantId: "public", email: email() });
    const number = phone();
    assert.deepEqual(await Passwordless.updateUser({ recipeUserId: user.recipeUserId, phoneNumber: number }), { status: "OK" });
    let u = await supertokens.getUser(user.user.id);
    assert.deepEqual(u.phoneNumbers, [number]);
    assert.equal((await Passwordless.updateUser({ recipeUserId: user.recipeUserId, email: other.user.emails[0] })).status, "EMAIL_ALREADY_EXISTS_ERROR");
    const taken = await Passwordless.updateUser({ recipeUserId: other.recipeUserId, phoneNumber: number });
    assert.equal(taken.status, "PHONE_NUMBER_ALREADY_EXISTS_ERROR");
    assert.deepEqual(await Passwordless.updateUser({ recipeUserId: user.recipeUserId, email: null }), { status: "OK" });
    u = await supertokens.getUser(user.user.id);
    assert.deepEqual(u.emails, []);
    const fresh = email();
    assert.equal((await Passwordless.updateUser({ recipeUserId: user.recipeUserId, email: fresh })).status, "OK");
    u = await supertokens.getUser(user.user.id);
    assert.deepEqual(u.emails, [fresh]);
    const unknown = await Passwordless.updateUser({ recipeUserId: supertokens.convertToRecipeUserId("unknown-id"), phoneNumber: phone() });
    assert.equal(unknown.status, "UNKNOWN_USER_ID_ERROR");
});

ctx.test("tenants: codes and users are per tenant", async () => {
    const tenant = uniqueId("t");
    await Multitenancy.createOrUpdateTenant(tenant, { firstFactors: ["otp-email", "link-email"] });
    const address = email();
    const code = await Passwordless.createCode({ tenantId: tenant, email: address });
    assert.deepEqual(await Passwordless.listCodesByEmail({ tenantId: "public", email: address }), []);
    const wrongTenant = await Passwordless.consumeCode({ tenantId: "public", preAuthSessionId: code.preAuthSessionId, linkCode: code.linkCode });
    assert.equal(wrongTenant.status, "RESTART_FLOW_ERROR");
    const r = await Passwordless.consumeCode({ tenantId: tenant, preAuthSessionId: code.preAuthSessionId, linkCode: code.linkCode });
    assert.equal(r.status, "OK");
    assert.deepEqual(r.user.tenantIds, [tenant]);
    const elsewhere = await Passwordless.signInUp({ tenantId: "public", email: address });
    assert.equal(elsewhere.createdNewRecipeUser, true);
    assert.notEqual(elsewhere.user.id, r.user.id);
});

let web = null;

before(async () => {
    web = await startSdkWebApp();
});

after(async () => {
    if (web) await web.close();
});

async function post(path, body) {
    const res = await fetch(`${web.baseURL}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", rid: "passwordless", "st-auth-mode": "header" },
        body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: JSON.parse(text), text };
}

ctx.test("express: sign in through /auth/signinup/code and /auth/signinup/code/consume with a captured email", async () => {
    const address = email();
    const started = await post("/auth/signinup/code", { email: address });
    assert.equal(started.status, 200, started.text);
    assert.equal(started.json.status, "OK", started.text);
    const sent = sentEmails.filter((e) => e.email === address);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].preAuthSessionId, started.json.preAuthSessionId);
    assert.match(sent[0].userInputCode, /^[0-9]{6}$/);
    assert.match(sent[0].urlWithLinkCode, new RegExp(`preAuthSessionId=${started.json.preAuthSessionId}`));

    const wrong = await post("/auth/signinup/code/consume", {
        preAuthSessionId: started.json.preAuthSessionId,
        deviceId: started.json.deviceId,
        userInputCode: sent[0].userInputCode === "000000" ? "111111" : "000000",
    });
    assert.equal(wrong.json.status, "INCORRECT_USER_INPUT_CODE_ERROR", wrong.text);
    assert.equal(wrong.json.failedCodeInputAttemptCount, 1);

    const resent = await post("/auth/signinup/code/resend", { preAuthSessionId: started.json.preAuthSessionId, deviceId: started.json.deviceId });
    assert.equal(resent.json.status, "OK", resent.text);
    const latest = sentEmails.filter((e) => e.email === address).at(-1);
    assert.notEqual(latest, sent[0]);

    const done = await post("/auth/signinup/code/consume", {
        preAuthSessionId: started.json.preAuthSessionId,
        deviceId: started.json.deviceId,
        userInputCode: latest.userInputCode,
    });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.status, "OK", done.text);
    assert.equal(done.json.createdNewRecipeUser, true);
    assert.deepEqual(done.json.user.emails, [address]);
    assert.ok(done.headers.get("st-access-token"), "a session was created");

    // The magic link from the email signs in the same user.
    const again = await post("/auth/signinup/code", { email: address });
    const link = new URL(sentEmails.filter((e) => e.email === address).at(-1).urlWithLinkCode);
    const linkCode = link.hash.slice(1);
    const viaLink = await post("/auth/signinup/code/consume", { preAuthSessionId: again.json.preAuthSessionId, linkCode });
    assert.equal(viaLink.json.status, "OK", viaLink.text);
    assert.equal(viaLink.json.createdNewRecipeUser, false);
    assert.equal(viaLink.json.user.id, done.json.user.id);
});
