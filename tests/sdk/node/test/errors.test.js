"use strict";
// Error paths through supertokens-node. The SDK turns every non-200 answer of the
// core into `Error("SuperTokens core threw an error for a <METHOD> request to path:
// '<path>' with status code: <N> and message: <body>")`.

const assert = require("node:assert/strict");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const { setup, uniqueId, assertCoreError } = require("../helpers");

const ctx = setup();

for (const [label, badId] of [
    ["characters outside [a-z0-9-]", "Bad_Id!"],
    ["an appid- prefix", "appid-x"],
    ["the reserved word recipe", "recipe"],
    ["the reserved word config", "config"],
    ["the reserved word users", "users"],
    ["the reserved word hello", "hello"],
    ["an empty id", ""],
    ["only whitespace", "   "],
]) {
    ctx.test(`createOrUpdateTenant refuses a tenant id with ${label} (400)`, async () => {
        await assertCoreError(assert, Multitenancy.createOrUpdateTenant(badId, { firstFactors: ["emailpassword"] }), 400);
    });
}

ctx.test("the message carries the core's reason", async () => {
    await assert.rejects(Multitenancy.createOrUpdateTenant("Bad_Id!"), (err) => {
        assert.match(err.message, /PUT request to path: '\/recipe\/multitenancy\/tenant\/v2' with status code: 400/);
        const reason = err.message.split(" and message: ")[1];
        assert.ok(reason && reason.trim().length > 0, `no reason in: ${err.message}`);
        return true;
    });
});

ctx.test("refused tenant ids are not created", async () => {
    await assertCoreError(assert, Multitenancy.createOrUpdateTenant("appid-x"), 400);
    const { tenants } = await Multitenancy.listAllTenants();
    assert.deepEqual(
        tenants.map((t) => t.tenantId).filter((id) => id.startsWith("appid")),
        [],
    );
});

ctx.test("deleteTenant refuses an invalid tenant id (400)", async () => {
    await assertCoreError(assert, Multitenancy.deleteTenant("Bad_Id!"), 400);
});

ctx.test("deleteTenant('public') is refused with 403", async () => {
    // The core answers 403 "Cannot delete public tenant, use remove app API instead";
    // the SDK's dashboard API relies on that status code.
    await assertCoreError(assert, Multitenancy.deleteTenant("public"), 403);
    assert.ok(await Multitenancy.getTenant("public"));
});

ctx.test("duplicate firstFactors are refused (400)", async () => {
    const tenantId = uniqueId("dup");
    await assertCoreError(
        assert,
        Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["emailpassword", "emailpassword"] }),
        400,
    );
    assert.equal(await Multitenancy.getTenant(tenantId), undefined);
});

ctx.test("an empty requiredSecondaryFactors list is refused (400): use null", async () => {
    const tenantId = uniqueId("rsf");
    await assertCoreError(assert, Multitenancy.createOrUpdateTenant(tenantId, { requiredSecondaryFactors: [] }), 400);
    assert.equal(await Multitenancy.getTenant(tenantId), undefined);
});

ctx.test("legacy *Enabled flags are refused by the v2 API (400)", async () => {
    // The SDK copies the config object into the request body as-is.
    const tenantId = uniqueId("legacy");
    for (const flag of ["emailPasswordEnabled", "thirdPartyEnabled", "passwordlessEnabled"]) {
        await assertCoreError(assert, Multitenancy.createOrUpdateTenant(tenantId, { [flag]: true }), 400);
    }
    assert.equal(await Multitenancy.getTenant(tenantId), undefined);
});

ctx.test("createOrUpdateThirdPartyConfig on a tenant that does not exist (400)", async () => {
    const config = { thirdPartyId: "custom", name: "X", clients: [{ clientId: "x" }] };
    await assertCoreError(assert, Multitenancy.createOrUpdateThirdPartyConfig(uniqueId("missing"), config), 400);
});
