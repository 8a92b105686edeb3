"use strict";
// User metadata and user roles through supertokens-node's UserMetadata and UserRoles recipes: every
// function, every status the core can answer, what the SDK sends, and the core's rules the SDK relies
// on (shallow merge with null removing a key, roles per app, users' roles per tenant).

const assert = require("node:assert/strict");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Session = require("supertokens-node/recipe/session");
const UserMetadata = require("supertokens-node/recipe/usermetadata");
const UserRoles = require("supertokens-node/recipe/userroles");
const { assertCoreError, setup, uniqueId } = require("../helpers");

const ctx = setup({
    recipeList: () => [Multitenancy.init(), Session.init(), UserMetadata.init(), UserRoles.init()],
});

const UNKNOWN_ROLE = { status: "UNKNOWN_ROLE_ERROR" };

ctx.test("getUserMetadata, updateUserMetadata (shallow merge, null removes) and clearUserMetadata", async () => {
    const userId = uniqueId("user");
    assert.deepEqual(await UserMetadata.getUserMetadata(userId), { status: "OK", metadata: {} });

    const { result: first, calls } = await ctx.recordCoreCalls(() =>
        UserMetadata.updateUserMetadata(userId, { theme: "dark", prefs: { a: 1 }, gone: null }),
    );
    assert.deepEqual(first, { status: "OK", metadata: { theme: "dark", prefs: { a: 1 } } });
    assert.deepEqual(
        calls.map(({ method, path, body }) => ({ method, path, body })),
        [{ method: "PUT", path: "/recipe/user/metadata", body: { userId, metadataUpdate: { theme: "dark", prefs: { a: 1 }, gone: null } } }],
    );

    const second = await UserMetadata.updateUserMetadata(userId, { prefs: { b: 2 }, theme: null, list: [1, null] });
    assert.deepEqual(second, { status: "OK", metadata: { prefs: { b: 2 }, list: [1, null] } }, "top-level keys are replaced whole");
    assert.deepEqual(await UserMetadata.getUserMetadata(userId), second);

    assert.deepEqual(await UserMetadata.clearUserMetadata(userId), { status: "OK" });
    assert.deepEqual(await UserMetadata.clearUserMetadata(userId), { status: "OK" }, "clearing nothing is OK");
    assert.deepEqual(await UserMetadata.getUserMetadata(userId), { status: "OK", metadata: {} });
});

ctx.test("metadata updates of one user from many callers at once lose nothing", async () => {
    const userId = uniqueId("user");
    await Promise.all(Array.from({ length: 20 }, (_, i) => UserMetadata.updateUserMetadata(userId, { [`k${i}`]: i })));
    const { metadata } = await UserMetadata.getUserMetadata(userId);
    assert.equal(Object.keys(metadata).length, 20);
});

ctx.test("createNewRoleOrAddPermissions, getPermissionsForRole, getRolesThatHavePermission, getAllRoles", async () => {
    const role = uniqueId("admin");
    const other = uniqueId("viewer");
    const permission = uniqueId("perm");
    assert.deepEqual(await UserRoles.createNewRoleOrAddPermissions(role, ["read", permission]), { status: "OK", createdNewRole: true });
    assert.deepEqual(await UserRoles.createNewRoleOrAddPermissions(role, ["read", "write"]), { status: "OK", createdNewRole: false });
    assert.deepEqual(await UserRoles.createNewRoleOrAddPermissions(other, []), { status: "OK", createdNewRole: true });
    assert.deepEqual(await UserRoles.createNewRoleOrAddPermissions(other, [permission]), { status: "OK", createdNewRole: false });

    const perms = await UserRoles.getPermissionsForRole(role);
    assert.equal(perms.status, "OK");
    assert.deepEqual([...perms.permissions].sort(), [permission, "read", "write"].sort());
    assert.deepEqual(await UserRoles.getPermissionsForRole(uniqueId("missing")), UNKNOWN_ROLE);

    const withPermission = await UserRoles.getRolesThatHavePermission(permission);
    assert.equal(withPermission.status, "OK");
    assert.deepEqual([...withPermission.roles].sort(), [role, other].sort());
    assert.deepEqual(await UserRoles.getRolesThatHavePermission(uniqueId("nothing")), { status: "OK", roles: [] });

    const all = await UserRoles.getAllRoles();
    assert.equal(all.status, "OK");
    assert.ok(all.roles.includes(role) && all.roles.includes(other), JSON.stringify(all));
});

ctx.test("removePermissionsFromRole and deleteRole", async () => {
    const role = uniqueId("editor");
    await UserRoles.createNewRoleOrAddPermissions(role, ["a", "b", "c"]);
    assert.deepEqual(await UserRoles.removePermissionsFromRole(role, ["a", "absent"]), { status: "OK" });
    assert.deepEqual((await UserRoles.getPermissionsForRole(role)).permissions.sort(), ["b", "c"]);
    assert.deepEqual(await UserRoles.removePermissionsFromRole(role, []), { status: "OK" });
    assert.deepEqual((await UserRoles.getPermissionsForRole(role)).permissions.sort(), ["b", "c"], "an empty list removes nothing");
    assert.deepEqual(await UserRoles.removePermissionsFromRole(uniqueId("missing"), ["a"]), UNKNOWN_ROLE);

    const userId = uniqueId("user");
    await UserRoles.addRoleToUser("public", userId, role);
    assert.deepEqual(await UserRoles.deleteRole(role), { status: "OK", didRoleExist: true });
    assert.deepEqual(await UserRoles.deleteRole(role), { status: "OK", didRoleExist: false });
    assert.deepEqual(await UserRoles.getPermissionsForRole(role), UNKNOWN_ROLE);
    assert.deepEqual(await UserRoles.getRolesForUser("public", userId), { status: "OK", roles: [] }, "the role left its users");
    assert.ok(!(await UserRoles.getAllRoles()).roles.includes(role));
});

ctx.test("addRoleToUser, getRolesForUser, getUsersThatHaveRole, removeUserRole", async () => {
    const role = uniqueId("admin");
    const second = uniqueId("viewer");
    await UserRoles.createNewRoleOrAddPermissions(role, []);
    await UserRoles.createNewRoleOrAddPermissions(second, []);
    const [u1, u2] = [uniqueId("user"), uniqueId("user")];

    const { result, calls } = await ctx.recordCoreCalls(() => UserRoles.addRoleToUser("public", u1, role));
    assert.deepEqual(result, { status: "OK", didUserAlreadyHaveRole: false });
    assert.deepEqual(
        calls.map(({ method, path, body }) => ({ method, path, body })),
        [{ method: "PUT", path: "/public/recipe/user/role", body: { userId: u1, role } }],
    );
    assert.deepEqual(await UserRoles.addRoleToUser("public", u1, role), { status: "OK", didUserAlreadyHaveRole: true });
    assert.deepEqual(await UserRoles.addRoleToUser("public", u1, second), { status: "OK", didUserAlreadyHaveRole: false });
    assert.deepEqual(await UserRoles.addRoleToUser("public", u2, role), { status: "OK", didUserAlreadyHaveRole: false });
    assert.deepEqual(await UserRoles.addRoleToUser("public", u1, uniqueId("missing")), UNKNOWN_ROLE);

    const roles = await UserRoles.getRolesForUser("public", u1);
    assert.equal(roles.status, "OK");
    assert.deepEqual([...roles.roles].sort(), [role, second].sort());
    const users = await UserRoles.getUsersThatHaveRole("public", role);
    assert.equal(users.status, "OK");
    assert.deepEqual([...users.users].sort(), [u1, u2].sort());
    assert.deepEqual(await UserRoles.getUsersThatHaveRole("public", uniqueId("missing")), UNKNOWN_ROLE);

    assert.deepEqual(await UserRoles.removeUserRole("public", u1, role), { status: "OK", didUserHaveRole: true });
    assert.deepEqual(await UserRoles.removeUserRole("public", u1, role), { status: "OK", didUserHaveRole: false });
    assert.deepEqual(await UserRoles.removeUserRole("public", u1, uniqueId("missing")), UNKNOWN_ROLE);
    assert.deepEqual(await UserRoles.getRolesForUser("public", u1), { status: "OK", roles: [second] });
    assert.deepEqual(await UserRoles.getUsersThatHaveRole("public", role), { status: "OK", users: [u2] });
});

ctx.test("users' roles belong to a tenant; roles belong to the app", async () => {
    const tenantId = uniqueId("tenant");
    assert.equal((await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["emailpassword"] })).status, "OK");
    const role = uniqueId("admin");
    await UserRoles.createNewRoleOrAddPermissions(role, ["p"]);
    const userId = uniqueId("user");

    assert.deepEqual(await UserRoles.addRoleToUser(tenantId, userId, role), { status: "OK", didUserAlreadyHaveRole: false });
    assert.deepEqual(await UserRoles.getRolesForUser(tenantId, userId), { status: "OK", roles: [role] });
    assert.deepEqual(await UserRoles.getRolesForUser("public", userId), { status: "OK", roles: [] });
    assert.deepEqual(await UserRoles.getUsersThatHaveRole(tenantId, role), { status: "OK", users: [userId] });
    assert.deepEqual(await UserRoles.getUsersThatHaveRole("public", role), { status: "OK", users: [] });
    assert.deepEqual(await UserRoles.removeUserRole("public", userId, role), { status: "OK", didUserHaveRole: false });
    assert.deepEqual(await UserRoles.addRoleToUser(tenantId, userId, uniqueId("missing")), UNKNOWN_ROLE);

    // The app-wide APIs answer 403 on any other tenant (the SDK never calls them that way).
    for (const [method, path, body] of [
        ["PUT", `/${tenantId}/recipe/role`, { role: "r" }],
        ["GET", `/${tenantId}/recipe/roles`, undefined],
        ["GET", `/${tenantId}/recipe/user/metadata?userId=${userId}`, undefined],
    ]) {
        const res = await ctx.coreRequest(method, path, body);
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(res.body, "Only public tenantId can call this app specific API\n");
    }

    assert.deepEqual(await UserRoles.deleteRole(role), { status: "OK", didRoleExist: true });
    assert.deepEqual(await UserRoles.getRolesForUser(tenantId, userId), { status: "OK", roles: [] });
});

ctx.test("bad input is the core's 400, which the SDK throws", async () => {
    await assertCoreError(assert, UserRoles.createNewRoleOrAddPermissions("  ", []), 400);
    await assertCoreError(assert, UserRoles.createNewRoleOrAddPermissions(uniqueId("r"), [""]), 400);
    await assertCoreError(assert, UserRoles.addRoleToUser("public", "u", ""), 400);
    await assertCoreError(assert, UserMetadata.updateUserMetadata("u", null), 400);
});
