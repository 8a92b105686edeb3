"use strict";
// Users imported through the core's bulk-import API sign in through the unmodified SDK with their
// original passwords: hashes made here from known passwords (bcrypt $2a$ and $2b$, argon2id and
// argon2d, Firebase scrypt with the app's signer key) and a plain-text password; a wrong password
// is refused; an imported third-party user signs in up as the same user; external user ids are what
// the SDK sees; the imported roles, metadata and verified emails are visible through the SDK.
// Most users come in one at a time (`POST /bulk-import/import`); the last test queues them
// (`POST /bulk-import/users`) for the worker, as docs/migrating.md's worked examples are queued in
// migrating-examples.test.js.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { argon2d, argon2id, bcrypt } = require("hash-wasm");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const EmailVerification = require("supertokens-node/recipe/emailverification");
const ThirdParty = require("supertokens-node/recipe/thirdparty");
const Session = require("supertokens-node/recipe/session");
const UserMetadata = require("supertokens-node/recipe/usermetadata");
const UserRoles = require("supertokens-node/recipe/userroles");
const supertokens = require("supertokens-node");
const { setup, uniqueId } = require("../helpers");
const { firebaseScrypt, FIREBASE } = require("../bulkimport-hashes");

const ctx = setup({
    coreConfig: { firebase_password_hashing_signer_key: FIREBASE.signerKey },
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        EmailVerification.init({ mode: "OPTIONAL" }),
        ThirdParty.init(),
        Session.init(),
        UserMetadata.init(),
        UserRoles.init(),
    ],
});

const email = (what) => `${uniqueId(what)}@import.example`;

/** Imports one user through `POST /bulk-import/import`; returns the user the core answers. */
async function importUser(user) {
    const res = await ctx.coreRequest("POST", "/bulk-import/import", user);
    assert.equal(res.status, 200, `import answered ${res.status}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.status, "OK");
    return res.body.user;
}

/** An email-password login method with a hash. */
function passwordMethod(address, passwordHash, hashingAlgorithm) {
    return { recipeId: "emailpassword", email: address, passwordHash, hashingAlgorithm, isVerified: true, isPrimary: true };
}

async function assertSignsIn(address, password, userId) {
    const ok = await EmailPassword.signIn("public", address, password);
    assert.equal(ok.status, "OK", `${address} signs in with its original password`);
    assert.equal(ok.user.id, userId);
    const wrong = await EmailPassword.signIn("public", address, `${password}-not`);
    assert.deepEqual(wrong, { status: "WRONG_CREDENTIALS_ERROR" }, "a wrong password is refused");
}

ctx.test("bcrypt hashes ($2a$ and $2b$, cost 10) sign in with their passwords", async () => {
    const password = "bcrypt-Passw0rd!";
    const hash = await bcrypt({ password, salt: crypto.randomBytes(16), costFactor: 10, outputType: "encoded" });
    assert.match(hash, /^\$2a\$10\$/);
    // Auth0's exports are $2b$: the same algorithm (the versions differ only for passwords over 255 bytes).
    for (const passwordHash of [hash, hash.replace(/^\$2a\$/, "$2b$")]) {
        const address = email("bcrypt");
        const user = await importUser({ loginMethods: [passwordMethod(address, passwordHash, "bcrypt")] });
        await assertSignsIn(address, password, user.id);
    }
});

ctx.test("argon2id and argon2d hashes sign in with their passwords", async () => {
    const password = "argon2-Passw0rd!";
    for (const hashFn of [argon2id, argon2d]) {
        const passwordHash = await hashFn({
            password,
            salt: crypto.randomBytes(16),
            parallelism: 1,
            iterations: 2,
            memorySize: 1024,
            hashLength: 32,
            outputType: "encoded",
        });
        assert.match(passwordHash, /^\$argon2(id|d)\$v=19\$m=1024,t=2,p=1\$/);
        const address = email("argon2");
        const user = await importUser({ loginMethods: [passwordMethod(address, passwordHash, "argon2")] });
        await assertSignsIn(address, password, user.id);
    }
});

ctx.test("Firebase scrypt hashes sign in with the app's signer key (one made here, and Firebase's own example)", async () => {
    const password = "firebase-Passw0rd!";
    const made = firebaseScrypt(password, crypto.randomBytes(12).toString("base64"));
    const address = email("firebase");
    const user = await importUser({ loginMethods: [passwordMethod(address, made, "firebase_scrypt")] });
    await assertSignsIn(address, password, user.id);

    // The generator reproduces Firebase's own example.
    assert.equal(firebaseScrypt(FIREBASE.examplePassword, "42xEC+ixf3L2lw=="), FIREBASE.exampleHash);
    const example = email("firebase-example");
    const exampleUser = await importUser({ loginMethods: [passwordMethod(example, FIREBASE.exampleHash, "firebase_scrypt")] });
    await assertSignsIn(example, FIREBASE.examplePassword, exampleUser.id);
});

ctx.test("a plain-text password is hashed on import and signs in", async () => {
    const address = email("plain");
    const user = await importUser({
        loginMethods: [{ recipeId: "emailpassword", email: address, plainTextPassword: "plain-Passw0rd!", isPrimary: true }],
    });
    await assertSignsIn(address, "plain-Passw0rd!", user.id);
});

ctx.test("an external user id is the id the SDK sees, with the imported roles, metadata and verified email", async () => {
    const role = uniqueId("imported-role");
    await UserRoles.createNewRoleOrAddPermissions(role, ["read"]);
    const externalUserId = `auth0|${crypto.randomBytes(12).toString("hex")}`;
    const address = email("external");
    const password = "external-Passw0rd!";
    const passwordHash = await bcrypt({ password, salt: crypto.randomBytes(16), costFactor: 10, outputType: "encoded" });
    const joined = 1575657372412;
    const user = await importUser({
        externalUserId,
        userMetadata: { plan: "pro", source: { name: "auth0" } },
        userRoles: [{ role, tenantIds: ["public"] }],
        loginMethods: [{ ...passwordMethod(address, passwordHash, "bcrypt"), timeJoinedInMSSinceEpoch: joined }],
    });
    assert.equal(user.id, externalUserId);

    const signedIn = await EmailPassword.signIn("public", address, password);
    assert.equal(signedIn.status, "OK");
    assert.equal(signedIn.user.id, externalUserId);
    assert.equal(signedIn.recipeUserId.getAsString(), externalUserId);
    assert.equal(signedIn.user.timeJoined, joined);
    assert.equal(signedIn.user.isPrimaryUser, true);

    const fetched = await supertokens.getUser(externalUserId);
    assert.deepEqual(fetched.emails, [address]);
    assert.deepEqual((await UserRoles.getRolesForUser("public", externalUserId)).roles, [role]);
    assert.deepEqual((await UserRoles.getUsersThatHaveRole("public", role)).users, [externalUserId]);
    assert.deepEqual((await UserMetadata.getUserMetadata(externalUserId)).metadata, { plan: "pro", source: { name: "auth0" } });
    assert.equal(await EmailVerification.isEmailVerified(signedIn.recipeUserId, address), true);
});

ctx.test("an imported third-party user signs in up through the SDK as the same user", async () => {
    const thirdPartyUserId = `g-${crypto.randomBytes(8).toString("hex")}`;
    const address = email("google");
    const externalUserId = `firebase-${crypto.randomBytes(8).toString("hex")}`;
    const user = await importUser({
        externalUserId,
        loginMethods: [{ recipeId: "thirdparty", thirdPartyId: "google", thirdPartyUserId, email: address, isVerified: true, isPrimary: true }],
    });
    assert.equal(user.id, externalUserId);
    const res = await ThirdParty.manuallyCreateOrUpdateUser("public", "google", thirdPartyUserId, address, true);
    assert.equal(res.status, "OK");
    assert.equal(res.createdNewRecipeUser, false, "the imported user, not a new one");
    assert.equal(res.user.id, externalUserId);
    assert.deepEqual(res.user.thirdParty, [{ id: "google", userId: thirdPartyUserId }]);
});

ctx.test("a user imported with a password and a third-party method, linked, is one user to both sign-ins", async () => {
    const address = email("linked");
    const password = "linked-Passw0rd!";
    const passwordHash = await argon2id({
        password,
        salt: crypto.randomBytes(16),
        parallelism: 1,
        iterations: 2,
        memorySize: 1024,
        hashLength: 32,
        outputType: "encoded",
    });
    const thirdPartyUserId = `gh-${crypto.randomBytes(8).toString("hex")}`;
    const user = await importUser({
        loginMethods: [
            passwordMethod(address, passwordHash, "argon2"),
            { recipeId: "thirdparty", thirdPartyId: "github", thirdPartyUserId, email: address, isVerified: true },
        ],
    });
    assert.equal(user.isPrimaryUser, true);
    assert.equal(user.loginMethods.length, 2);
    const signedIn = await EmailPassword.signIn("public", address, password);
    assert.equal(signedIn.status, "OK");
    assert.equal(signedIn.user.id, user.id);
    const tp = await ThirdParty.manuallyCreateOrUpdateUser("public", "github", thirdPartyUserId, address, true);
    assert.equal(tp.createdNewRecipeUser, false);
    assert.equal(tp.user.id, user.id, "the third-party sign-in lands on the primary user");
    assert.notEqual(tp.recipeUserId.getAsString(), signedIn.recipeUserId.getAsString());
});

ctx.test("users queued with POST /bulk-import/users are imported by the worker and sign in", async () => {
    const password = "queued-Passw0rd!";
    const salt = () => crypto.randomBytes(16);
    const hashes = [
        ["bcrypt", await bcrypt({ password, salt: salt(), costFactor: 10, outputType: "encoded" })],
        ["argon2", await argon2id({ password, salt: salt(), parallelism: 1, iterations: 2, memorySize: 1024, hashLength: 32, outputType: "encoded" })],
        ["firebase_scrypt", firebaseScrypt(password, crypto.randomBytes(12).toString("base64"))],
    ];
    const users = hashes.map(([algorithm, hash]) => ({
        externalUserId: uniqueId(`queued-${algorithm}`),
        loginMethods: [passwordMethod(email(algorithm), hash, algorithm)],
    }));
    users.push({
        externalUserId: uniqueId("queued-plain"),
        loginMethods: [{ recipeId: "emailpassword", email: email("plain"), plainTextPassword: password, isPrimary: true }],
    });
    const thirdPartyUserId = `g-${crypto.randomBytes(8).toString("hex")}`;
    const googleEmail = email("queued-google");
    users.push({
        externalUserId: uniqueId("queued-google"),
        loginMethods: [{ recipeId: "thirdparty", thirdPartyId: "google", thirdPartyUserId, email: googleEmail, isVerified: true, isPrimary: true }],
    });

    const queued = await ctx.coreRequest("POST", "/bulk-import/users", { users });
    assert.equal(queued.status, 200, JSON.stringify(queued.body));
    assert.equal(queued.body.users.length, users.length);
    const deadline = Date.now() + 60_000;
    for (;;) {
        const failed = await ctx.coreRequest("GET", "/bulk-import/users?status=FAILED");
        assert.deepEqual(failed.body.users, [], "no user FAILED");
        const left = await ctx.coreRequest("GET", "/bulk-import/users/count");
        if (left.body.count === 0) break;
        assert.ok(Date.now() < deadline, `${left.body.count} users still queued`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }

    for (const user of users.slice(0, 4)) {
        await assertSignsIn(user.loginMethods[0].email, password, user.externalUserId);
    }
    const google = users[4];
    const res = await ThirdParty.manuallyCreateOrUpdateUser("public", "google", thirdPartyUserId, googleEmail, true);
    assert.equal(res.createdNewRecipeUser, false);
    assert.equal(res.user.id, google.externalUserId);
});
