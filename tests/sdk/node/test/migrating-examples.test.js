"use strict";
// docs/migrating.md's worked examples, end to end: the Auth0, Firebase and Cognito batches of
// tests/bulk-import (which the doc shows word for word, checked by tests/bulk-import/test_converters.py)
// are queued with POST /bulk-import/users as they are and imported by the worker, then their users sign in through supertokens-node with
// the passwords they had (tests/bulk-import/*/passwords.json) and a wrong password fails; their
// social identities sign in up as the same users; Cognito's users sign in with no password until
// one is set for them, as the doc says.

const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const supertokens = require("supertokens-node");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const ThirdParty = require("supertokens-node/recipe/thirdparty");
const Passwordless = require("supertokens-node/recipe/passwordless");
const Session = require("supertokens-node/recipe/session");
const UserMetadata = require("supertokens-node/recipe/usermetadata");
const { setup } = require("../helpers");

const EXAMPLES = path.join(__dirname, "..", "..", "..", "bulk-import");
const readJson = (...parts) => JSON.parse(fs.readFileSync(path.join(EXAMPLES, ...parts), "utf8"));

// Firebase's example project's signer key, from the hash parameters the doc shows.
const hashConfig = fs.readFileSync(path.join(EXAMPLES, "firebase", "project-a", "hash-config.txt"), "utf8");
const SIGNER_KEY = /base64_signer_key:\s*([^,\s]+)/.exec(hashConfig)[1];

const ctx = setup({
    coreConfig: { firebase_password_hashing_signer_key: SIGNER_KEY },
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        ThirdParty.init(),
        Passwordless.init({ contactMethod: "EMAIL_OR_PHONE", flowType: "USER_INPUT_CODE" }),
        Session.init(),
        UserMetadata.init(),
    ],
});

/**
 * Queues a batch as the doc says (`POST /bulk-import/users` with batch.json as it is), waits for the
 * worker to import it, and returns the core's users by external id.
 */
async function importBatch(batch) {
    const queued = await ctx.coreRequest("POST", "/bulk-import/users", batch);
    assert.equal(queued.status, 200, `queueing answered ${queued.status}: ${JSON.stringify(queued.body)}`);
    await drainQueue();
    const imported = {};
    for (const user of batch.users) {
        const res = await ctx.coreRequest("GET", `/user/id?userId=${encodeURIComponent(user.externalUserId)}`);
        assert.equal(res.body.status, "OK", `${user.externalUserId} was imported`);
        assert.equal(res.body.user.id, user.externalUserId, "the SDK-facing id is the external id");
        imported[user.externalUserId] = res.body.user;
    }
    return imported;
}

/** Waits until the worker has emptied the queue; fails on any user it could not import. */
async function drainQueue(timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const failed = await ctx.coreRequest("GET", "/bulk-import/users?status=FAILED");
        assert.deepEqual(failed.body.users, [], "no user FAILED");
        const left = await ctx.coreRequest("GET", "/bulk-import/users/count");
        if (left.body.count === 0) return;
        assert.ok(Date.now() < deadline, `${left.body.count} users still queued`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/** The email-password email of an imported user, as the core stored it (normalised). */
function passwordEmail(user) {
    const method = user.loginMethods.find((m) => m.recipeId === "emailpassword");
    assert.ok(method, `${user.id} has a password method`);
    return method.email;
}

async function assertPasswordSignIn(email, password, userId) {
    const ok = await EmailPassword.signIn("public", email, password);
    assert.equal(ok.status, "OK", `${email} signs in with its old password`);
    assert.equal(ok.user.id, userId);
    assert.deepEqual(await EmailPassword.signIn("public", email, `${password}x`), { status: "WRONG_CREDENTIALS_ERROR" });
}

async function assertSocialSignIn(thirdPartyId, thirdPartyUserId, email, userId) {
    const res = await ThirdParty.manuallyCreateOrUpdateUser("public", thirdPartyId, thirdPartyUserId, email, true);
    assert.equal(res.status, "OK");
    assert.equal(res.createdNewRecipeUser, false, `${thirdPartyId} ${thirdPartyUserId} is the imported user`);
    assert.equal(res.user.id, userId);
}

ctx.test("Auth0: the users sign in with their Auth0 passwords and social identities, under their Auth0 ids", async () => {
    const imported = await importBatch(readJson("auth0", "expected.json"));
    const passwords = readJson("auth0", "passwords.json");
    assert.equal(Object.keys(passwords).length, 3);
    for (const [externalId, password] of Object.entries(passwords)) {
        await assertPasswordSignIn(passwordEmail(imported[externalId]), password, externalId);
    }
    const alice = "auth0|5dea9f9c82dd7c0e76e4ec93";
    assert.equal(passwordEmail(imported[alice]), "alice@example.com", "emails are normalised");
    await assertSocialSignIn("google", "108234567890123456789", "alice@example.com", alice);
    await assertSocialSignIn("github", "4242", "dave@example.com", "github|4242");
    assert.deepEqual((await UserMetadata.getUserMetadata(alice)).metadata, { plan: "pro", app_metadata: { roles: ["admin"] } });
    const bob = await supertokens.getUser("auth0|64a1b2c3d4e5f60718293a4b");
    assert.equal(bob.timeJoined, 1688292000000);
});

ctx.test("Firebase: the password user signs in with its Firebase password under the app's signer key", async () => {
    const imported = await importBatch(readJson("firebase", "project-a", "expected.json"));
    const passwords = readJson("firebase", "project-a", "passwords.json");
    for (const [externalId, password] of Object.entries(passwords)) {
        await assertPasswordSignIn(passwordEmail(imported[externalId]), password, externalId);
    }
    await assertSocialSignIn("google", "113344556677889900112", "user1@example.com", "0dN6yMzLZoTZaXs3mA7VbXfWq1e2");
    assert.deepEqual((await UserMetadata.getUserMetadata("0dN6yMzLZoTZaXs3mA7VbXfWq1e2")).metadata, { role: "editor" });
    // The phone user (its number normalised to E.164) and the email-link user are found by their contact.
    const byPhone = await supertokens.listUsersByAccountInfo("public", { phoneNumber: "+14155550123" });
    assert.deepEqual(byPhone.map((u) => u.id), ["Hk3pQz9aWmB1cD2eF3gH4iJ5kL6m"]);
    const byEmail = await supertokens.listUsersByAccountInfo("public", { email: "linky@example.com" });
    assert.deepEqual(byEmail.map((u) => u.id), ["Zr7tY6uI5oP4aS3dF2gH1jK0lQwE"]);
});

ctx.test("Cognito: no password signs the users in until one is set for them; federated users sign in up", async () => {
    const imported = await importBatch(readJson("cognito", "expected.json"));
    const testuser = "d16b4aa8-8633-4abd-93b3-5062a8e1b5f8";
    const email = passwordEmail(imported[testuser]);
    for (const guess of ["", "Guess-0ne!", "Guess-tw0?", "Passw0rd!"]) {
        assert.deepEqual(await EmailPassword.signIn("public", email, guess), { status: "WRONG_CREDENTIALS_ERROR" });
    }
    assert.deepEqual((await UserMetadata.getUserMetadata(testuser)).metadata, { cognitoPasswordReset: true });
    // What the doc's lazy migration does once Cognito accepted the user's password.
    const updated = await EmailPassword.updateEmailOrPassword({
        recipeUserId: supertokens.convertToRecipeUserId(testuser),
        password: "Checked-at-C0gnito",
    });
    assert.equal(updated.status, "OK");
    await assertPasswordSignIn(email, "Checked-at-C0gnito", testuser);
    await assertSocialSignIn("google", "110987654321098765432", "fed@example.com", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    const phoneUser = await supertokens.getUser("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9");
    assert.deepEqual(phoneUser.phoneNumbers, ["+14155550199"]);
    assert.equal(phoneUser.loginMethods.length, 2, "the password and phone methods are linked");
});
