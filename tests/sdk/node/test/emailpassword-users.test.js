"use strict";
// Email-password sign-up and sign-in, the users APIs and tenant association through supertokens-node.

const assert = require("node:assert/strict");
const supertokens = require("supertokens-node");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Session = require("supertokens-node/recipe/session");
const { setup, uniqueId } = require("../helpers");

const ctx = setup({
    recipeList: () => [Multitenancy.init(), EmailPassword.init(), Session.init()],
});

const email = () => `${uniqueId("user")}@example.com`;

ctx.test("signUp, signIn, wrong password, duplicate email", async () => {
    const address = email();
    const up = await EmailPassword.signUp("public", address, "pw-123456");
    assert.equal(up.status, "OK");
    assert.deepEqual(up.user.emails, [address]);
    assert.equal(up.user.loginMethods[0].recipeId, "emailpassword");
    assert.equal(up.recipeUserId.getAsString(), up.user.id);

    const again = await EmailPassword.signUp("public", address, "other-123456");
    assert.equal(again.status, "EMAIL_ALREADY_EXISTS_ERROR");

    const signIn = await EmailPassword.signIn("public", address, "pw-123456");
    assert.equal(signIn.status, "OK");
    assert.equal(signIn.user.id, up.user.id);
    assert.equal((await EmailPassword.signIn("public", address, "nope-123456")).status, "WRONG_CREDENTIALS_ERROR");
    assert.equal((await EmailPassword.signIn("public", email(), "pw-123456")).status, "WRONG_CREDENTIALS_ERROR");
});

ctx.test("getUser, getUserCount, getUsersNewestFirst/OldestFirst with pagination, deleteUser", async () => {
    const tenant = uniqueId("t");
    await Multitenancy.createOrUpdateTenant(tenant, { firstFactors: ["emailpassword"] });
    const ids = [];
    for (let i = 0; i < 5; i++) {
        const r = await EmailPassword.signUp(tenant, email(), "pw-123456");
        ids.push(r.user.id);
    }
    const user = await supertokens.getUser(ids[0]);
    assert.equal(user.id, ids[0]);
    assert.deepEqual(user.tenantIds, [tenant]);
    assert.equal(await supertokens.getUser("unknown-user-id"), undefined);

    assert.equal(await supertokens.getUserCount(undefined, tenant), 5);
    const first = await supertokens.getUsersNewestFirst({ tenantId: tenant, limit: 2 });
    assert.deepEqual(first.users.map((u) => u.id), [ids[4], ids[3]]);
    assert.ok(first.nextPaginationToken);
    const second = await supertokens.getUsersNewestFirst({ tenantId: tenant, limit: 2, paginationToken: first.nextPaginationToken });
    assert.deepEqual(second.users.map((u) => u.id), [ids[2], ids[1]]);
    const oldest = await supertokens.getUsersOldestFirst({ tenantId: tenant });
    assert.deepEqual(oldest.users.map((u) => u.id), ids);
    assert.equal(oldest.nextPaginationToken, undefined);

    await supertokens.deleteUser(ids[0]);
    assert.equal(await supertokens.getUser(ids[0]), undefined);
    assert.equal(await supertokens.getUserCount(undefined, tenant), 4);
});

ctx.test("listUsersByAccountInfo, associateUserToTenant and disassociateUserFromTenant", async () => {
    const address = email();
    const up = await EmailPassword.signUp("public", address, "pw-123456");
    const found = await supertokens.listUsersByAccountInfo("public", { email: address });
    assert.deepEqual(found.map((u) => u.id), [up.user.id]);

    const tenant = uniqueId("t");
    await Multitenancy.createOrUpdateTenant(tenant, { firstFactors: ["emailpassword"] });
    const assoc = await Multitenancy.associateUserToTenant(tenant, up.recipeUserId);
    assert.deepEqual(assoc, { status: "OK", wasAlreadyAssociated: false });
    assert.equal((await EmailPassword.signIn(tenant, address, "pw-123456")).status, "OK");

    // A tenant that already has a user with that email refuses the association.
    const crowded = uniqueId("t");
    await Multitenancy.createOrUpdateTenant(crowded, { firstFactors: ["emailpassword"] });
    assert.equal((await EmailPassword.signUp(crowded, address, "pw-123456")).status, "OK");
    assert.equal((await Multitenancy.associateUserToTenant(crowded, up.recipeUserId)).status, "EMAIL_ALREADY_EXISTS_ERROR");

    const removed = await Multitenancy.disassociateUserFromTenant(tenant, up.recipeUserId);
    assert.deepEqual(removed, { status: "OK", wasAssociated: true });
    assert.equal((await EmailPassword.signIn(tenant, address, "pw-123456")).status, "WRONG_CREDENTIALS_ERROR");
    const unknown = await Multitenancy.associateUserToTenant(tenant, supertokens.convertToRecipeUserId("no-such-user"));
    assert.equal(unknown.status, "UNKNOWN_USER_ID_ERROR");
});

ctx.test("password reset tokens and updateEmailOrPassword", async () => {
    const address = email();
    const up = await EmailPassword.signUp("public", address, "pw-123456");
    const token = await EmailPassword.createResetPasswordToken("public", up.user.id, address);
    assert.equal(token.status, "OK");
    const reset = await EmailPassword.resetPasswordUsingToken("public", token.token, "new-pw-123456");
    assert.equal(reset.status, "OK");
    assert.equal((await EmailPassword.signIn("public", address, "new-pw-123456")).status, "OK");
    const reused = await EmailPassword.consumePasswordResetToken("public", token.token);
    assert.equal(reused.status, "RESET_PASSWORD_INVALID_TOKEN_ERROR");
    const unknown = await EmailPassword.createResetPasswordToken("public", "no-such-user", address);
    assert.equal(unknown.status, "UNKNOWN_USER_ID_ERROR");

    const newAddress = email();
    const updated = await EmailPassword.updateEmailOrPassword({ recipeUserId: up.recipeUserId, email: newAddress });
    assert.equal(updated.status, "OK");
    assert.equal((await EmailPassword.signIn("public", newAddress, "new-pw-123456")).status, "OK");
    const other = await EmailPassword.signUp("public", email(), "pw-123456");
    const taken = await EmailPassword.updateEmailOrPassword({ recipeUserId: other.recipeUserId, email: newAddress });
    assert.equal(taken.status, "EMAIL_ALREADY_EXISTS_ERROR");
    const weak = await EmailPassword.updateEmailOrPassword({ recipeUserId: other.recipeUserId, password: "short" });
    assert.equal(weak.status, "PASSWORD_POLICY_VIOLATED_ERROR", "the SDK's own policy, before the core");
});

ctx.test("user-id mapping: create, get, update info, delete; external ids everywhere", async () => {
    const address = email();
    const up = await EmailPassword.signUp("public", address, "pw-123456");
    const st = up.user.id;
    const ext = uniqueId("ext");
    assert.deepEqual(await supertokens.createUserIdMapping({ superTokensUserId: st, externalUserId: ext, externalUserIdInfo: "info" }), { status: "OK" });
    const got = await supertokens.getUserIdMapping({ userId: ext, userIdType: "EXTERNAL" });
    assert.deepEqual(got, { status: "OK", superTokensUserId: st, externalUserId: ext, externalUserIdInfo: "info" });
    const dup = await supertokens.createUserIdMapping({ superTokensUserId: st, externalUserId: uniqueId("ext") });
    assert.equal(dup.status, "USER_ID_MAPPING_ALREADY_EXISTS_ERROR");
    assert.equal(dup.doesSuperTokensUserIdExist, true);
    assert.equal(dup.doesExternalUserIdExist, false);
    const unknown = await supertokens.createUserIdMapping({ superTokensUserId: "no-such-user", externalUserId: uniqueId("ext") });
    assert.equal(unknown.status, "UNKNOWN_SUPERTOKENS_USER_ID_ERROR");

    // The SDK sees only the external id from now on.
    const signIn = await EmailPassword.signIn("public", address, "pw-123456");
    assert.equal(signIn.user.id, ext);
    assert.equal(signIn.recipeUserId.getAsString(), ext);
    assert.equal((await supertokens.getUser(ext)).id, ext);
    const token = await EmailPassword.createResetPasswordToken("public", ext, address);
    assert.equal((await EmailPassword.consumePasswordResetToken("public", token.token)).userId, ext);

    const info = await supertokens.updateOrDeleteUserIdMappingInfo({ userId: ext, externalUserIdInfo: undefined });
    assert.equal(info.status, "OK");
    assert.equal((await supertokens.getUserIdMapping({ userId: st })).externalUserIdInfo, undefined);
    assert.deepEqual(await supertokens.deleteUserIdMapping({ userId: st, userIdType: "SUPERTOKENS" }), { status: "OK", didMappingExist: true });
    assert.equal((await supertokens.getUserIdMapping({ userId: ext })).status, "UNKNOWN_MAPPING_ERROR");
    assert.equal((await supertokens.getUser(st)).id, st);
});
