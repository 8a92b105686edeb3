"use strict";
// WebAuthn (passkeys) through supertokens-node's webauthn recipe, with the software authenticator
// of ../webauthn-authenticator.js playing the browser: the SDK's own HTTP APIs (register options →
// sign-up → sign-in options → sign-in, as a frontend calls them, with a session at the end), and
// the recipe functions for credentials, options, email changes and account recovery.

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const Session = require("supertokens-node/recipe/session");
const WebAuthn = require("supertokens-node/recipe/webauthn");
const { setup, uniqueId, startSdkWebApp } = require("../helpers");
const { Authenticator, tamper } = require("../webauthn-authenticator");

// The SDK's defaults: the relying party is the API domain's host, the origin the website domain.
const RP = "localhost";
const ORIGIN = "http://localhost:3000";

const ctx = setup({
    init: { framework: "express" },
    recipeList: () => [Multitenancy.init(), EmailPassword.init(), Session.init(), WebAuthn.init()],
});

const emailOf = () => `${uniqueId("wa")}@example.com`;

async function registerOptions(email, tenantId = "public") {
    const o = await WebAuthn.registerOptions({ email, relyingPartyId: RP, relyingPartyName: "Tests", origin: ORIGIN, tenantId });
    assert.equal(o.status, "OK", JSON.stringify(o));
    return o;
}

async function signInOptions(tenantId = "public") {
    const o = await WebAuthn.signInOptions({ relyingPartyId: RP, relyingPartyName: "Tests", origin: ORIGIN, tenantId });
    assert.equal(o.status, "OK", JSON.stringify(o));
    return o;
}

/** A new webauthn user through the recipe functions; returns { auth, user, recipeUserId }. */
async function newUser(email = emailOf(), alg = -7, attestation = "none") {
    const auth = new Authenticator(alg);
    const o = await registerOptions(email);
    const credential = auth.register({ challenge: o.challenge, origin: ORIGIN, rpId: RP }, attestation);
    const up = await WebAuthn.signUp({ webauthnGeneratedOptionsId: o.webauthnGeneratedOptionsId, credential, tenantId: "public" });
    assert.equal(up.status, "OK", JSON.stringify(up));
    return { auth, user: up.user, recipeUserId: up.recipeUserId.getAsString(), email };
}

ctx.test("a frontend signs up and in with a passkey through the SDK's HTTP APIs", async () => {
    const web = await startSdkWebApp();
    try {
        const post = async (path, body) => {
            const res = await fetch(`${web.baseURL}/auth${path}`, {
                method: "POST",
                headers: { "content-type": "application/json", "st-auth-mode": "header", origin: ORIGIN },
                body: JSON.stringify(body),
            });
            return { status: res.status, body: await res.json(), headers: res.headers };
        };
        const email = emailOf();
        for (const alg of [-8, -257]) {
            const auth = new Authenticator(alg);
            const address = alg === -8 ? email : emailOf();
            const options = await post("/webauthn/options/register", { email: address });
            assert.equal(options.body.status, "OK", JSON.stringify(options.body));
            assert.equal(options.body.rp.id, RP);
            const credential = auth.register({ challenge: options.body.challenge, origin: ORIGIN, rpId: RP }, alg === -8 ? "packed" : "packed-x5c");
            const up = await post("/webauthn/signup", { webauthnGeneratedOptionsId: options.body.webauthnGeneratedOptionsId, credential, shouldTryLinkingWithSessionUser: false });
            assert.equal(up.body.status, "OK", JSON.stringify(up.body));
            assert.equal(up.body.user.loginMethods[0].recipeId, "webauthn");
            assert.deepEqual(up.body.user.loginMethods[0].webauthn.credentialIds, [auth.id]);
            assert.ok(up.headers.get("st-access-token"), "a session is made");

            const signInOpts = await post("/webauthn/options/signin", {});
            assert.equal(signInOpts.body.status, "OK", JSON.stringify(signInOpts.body));
            const assertion = auth.assert({ challenge: signInOpts.body.challenge, origin: ORIGIN, rpId: RP });
            const signIn = await post("/webauthn/signin", { webauthnGeneratedOptionsId: signInOpts.body.webauthnGeneratedOptionsId, credential: assertion, shouldTryLinkingWithSessionUser: false });
            assert.equal(signIn.body.status, "OK", JSON.stringify(signIn.body));
            assert.equal(signIn.body.user.id, up.body.user.id);
            assert.ok(signIn.headers.get("st-access-token"));
            // The same assertion again: its options were used.
            const replay = await post("/webauthn/signin", { webauthnGeneratedOptionsId: signInOpts.body.webauthnGeneratedOptionsId, credential: assertion, shouldTryLinkingWithSessionUser: false });
            assert.notEqual(replay.body.status, "OK", JSON.stringify(replay.body));
        }
        // The email is taken now.
        const options = await post("/webauthn/options/register", { email });
        const other = new Authenticator(-7).register({ challenge: options.body.challenge, origin: ORIGIN, rpId: RP });
        const again = await post("/webauthn/signup", { webauthnGeneratedOptionsId: options.body.webauthnGeneratedOptionsId, credential: other, shouldTryLinkingWithSessionUser: false });
        assert.equal(again.body.status, "EMAIL_ALREADY_EXISTS_ERROR", JSON.stringify(again.body));
    } finally {
        await web.close();
    }
});

ctx.test("sign-in refuses forged, unknown and replayed assertions", async () => {
    const { auth, recipeUserId } = await newUser();
    const o = await signInOptions();
    const request = { challenge: o.challenge, origin: ORIGIN, rpId: RP };
    const forged = auth.assert(request);
    tamper(forged, "response.signature", (sig) => { sig[sig.length - 1] ^= 1; return sig; });
    const id = o.webauthnGeneratedOptionsId;
    const r1 = await WebAuthn.signIn({ webauthnGeneratedOptionsId: id, credential: forged, tenantId: "public" });
    assert.equal(r1.status, "INVALID_AUTHENTICATOR_ERROR");
    const unknown = new Authenticator(-7).assert(request);
    assert.equal((await WebAuthn.signIn({ webauthnGeneratedOptionsId: id, credential: unknown, tenantId: "public" })).status, "CREDENTIAL_NOT_FOUND_ERROR");
    const wrongOrigin = auth.assert({ ...request, origin: "http://evil.example" });
    assert.equal((await WebAuthn.signIn({ webauthnGeneratedOptionsId: id, credential: wrongOrigin, tenantId: "public" })).status, "INVALID_AUTHENTICATOR_ERROR");
    const ok = await WebAuthn.signIn({ webauthnGeneratedOptionsId: id, credential: auth.assert(request), tenantId: "public" });
    assert.equal(ok.status, "OK", JSON.stringify(ok));
    assert.equal(ok.recipeUserId.getAsString(), recipeUserId);
    assert.equal((await WebAuthn.signIn({ webauthnGeneratedOptionsId: id, credential: auth.assert(request), tenantId: "public" })).status, "OPTIONS_NOT_FOUND_ERROR");
    const v = await WebAuthn.verifyCredentials({ webauthnGeneratedOptionsId: (await signInOptions()).webauthnGeneratedOptionsId, credential: unknown, tenantId: "public" });
    assert.equal(v.status, "CREDENTIAL_NOT_FOUND_ERROR");
});

ctx.test("options can be read back and removed", async () => {
    const o = await registerOptions(emailOf());
    const read = await WebAuthn.getGeneratedOptions({ webauthnGeneratedOptionsId: o.webauthnGeneratedOptionsId, tenantId: "public" });
    assert.equal(read.status, "OK");
    assert.equal(read.challenge, o.challenge);
    assert.equal(read.relyingPartyId, RP);
    const bad = await WebAuthn.registerOptions({ email: emailOf(), relyingPartyId: RP, relyingPartyName: "Tests", origin: "http://other.example", tenantId: "public" });
    assert.equal(bad.status, "INVALID_OPTIONS_ERROR");
    const args = { webauthnGeneratedOptionsId: o.webauthnGeneratedOptionsId, tenantId: "public" };
    assert.equal((await WebAuthn.removeGeneratedOptions(args)).status, "OK");
    assert.equal((await WebAuthn.removeGeneratedOptions(args)).status, "OPTIONS_NOT_FOUND_ERROR");
    assert.equal((await WebAuthn.getGeneratedOptions(args)).status, "OPTIONS_NOT_FOUND_ERROR");
});

ctx.test("credentials: register another, list, get, remove", async () => {
    const { auth, recipeUserId, email } = await newUser();
    const second = new Authenticator(-8);
    const o = await registerOptions(email);
    const reg = await WebAuthn.registerCredential({ recipeUserId, webauthnGeneratedOptionsId: o.webauthnGeneratedOptionsId, credential: second.register({ challenge: o.challenge, origin: ORIGIN, rpId: RP }, "packed-x5c") });
    assert.equal(reg.status, "OK", JSON.stringify(reg));
    const list = await WebAuthn.listCredentials({ recipeUserId });
    assert.deepEqual(list.credentials.map((c) => c.webauthnCredentialId).sort(), [auth.id, second.id].sort());
    const got = await WebAuthn.getCredential({ recipeUserId, webauthnCredentialId: second.id });
    assert.equal(got.status, "OK");
    assert.equal(got.relyingPartyId, RP);
    const user = await supertokens.getUser(recipeUserId);
    assert.equal(user.webauthn.credentialIds.length, 2);
    // The second passkey signs in too.
    const s = await signInOptions();
    const signIn = await WebAuthn.signIn({ webauthnGeneratedOptionsId: s.webauthnGeneratedOptionsId, credential: second.assert({ challenge: s.challenge, origin: ORIGIN, rpId: RP }), tenantId: "public" });
    assert.equal(signIn.status, "OK", JSON.stringify(signIn));
    assert.equal((await WebAuthn.removeCredential({ recipeUserId, webauthnCredentialId: second.id })).status, "OK");
    assert.equal((await WebAuthn.removeCredential({ recipeUserId, webauthnCredentialId: second.id })).status, "CREDENTIAL_NOT_FOUND_ERROR");
    assert.equal((await WebAuthn.getCredential({ recipeUserId, webauthnCredentialId: second.id })).status, "CREDENTIAL_NOT_FOUND_ERROR");
});

ctx.test("email changes and account recovery", async () => {
    const a = await newUser();
    const b = await newUser();
    assert.equal((await WebAuthn.updateUserEmail({ recipeUserId: a.recipeUserId, email: b.email, tenantId: "public" })).status, "EMAIL_ALREADY_EXISTS_ERROR");
    const newEmail = emailOf();
    assert.equal((await WebAuthn.updateUserEmail({ recipeUserId: a.recipeUserId, email: newEmail, tenantId: "public" })).status, "OK");
    assert.deepEqual((await supertokens.getUser(a.recipeUserId)).emails, [newEmail]);

    // Recovery: a token, options made from it, a new passkey registered for the user.
    const t = await WebAuthn.generateRecoverAccountToken({ tenantId: "public", userId: a.recipeUserId, email: newEmail });
    assert.equal(t.status, "OK");
    const found = await WebAuthn.getUserFromRecoverAccountToken({ token: t.token, tenantId: "public" });
    assert.equal(found.status, "OK");
    assert.equal(found.user.id, a.recipeUserId);
    const o = await WebAuthn.registerOptions({ recoverAccountToken: t.token, relyingPartyId: RP, relyingPartyName: "Tests", origin: ORIGIN, tenantId: "public" });
    assert.equal(o.status, "OK", JSON.stringify(o));
    const fresh = new Authenticator(-7);
    const recovered = await WebAuthn.recoverAccount({ tenantId: "public", webauthnGeneratedOptionsId: o.webauthnGeneratedOptionsId, token: t.token, credential: fresh.register({ challenge: o.challenge, origin: ORIGIN, rpId: RP }) });
    assert.equal(recovered.status, "OK", JSON.stringify(recovered));
    const list = await WebAuthn.listCredentials({ recipeUserId: a.recipeUserId });
    assert.ok(list.credentials.some((c) => c.webauthnCredentialId === fresh.id), "the new passkey is the user's");
    // The token was used.
    assert.equal((await WebAuthn.consumeRecoverAccountToken({ tenantId: "public", token: t.token })).status, "RECOVER_ACCOUNT_TOKEN_INVALID_ERROR");
    assert.equal((await WebAuthn.getUserFromRecoverAccountToken({ token: t.token, tenantId: "public" })).status, "RECOVER_ACCOUNT_TOKEN_INVALID_ERROR");
    assert.equal((await WebAuthn.generateRecoverAccountToken({ tenantId: "public", userId: "nobody", email: newEmail })).status, "UNKNOWN_USER_ID_ERROR");

    // Deleting the user takes its passkeys.
    await supertokens.deleteUser(b.recipeUserId);
    assert.deepEqual((await WebAuthn.listCredentials({ recipeUserId: b.recipeUserId })).credentials, []);
});
