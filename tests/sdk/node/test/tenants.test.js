"use strict";
// Tenant management through supertokens-node (seed doc 002: create, update, get,
// list and delete tenants). Expected values follow the seed doc and the core's
// CreateOrUpdateTenantOrGetTenantV2 handler as summarised in README.md.

const assert = require("node:assert/strict");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const { BACKEND, setup, uniqueId, sorted } = require("../helpers");

const ctx = setup();

const ALL_FIRST_FACTORS = ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-phone", "link-email"];

ctx.test("createOrUpdateTenant creates, then updates (seed: create a new tenant)", async () => {
    const tenantId = uniqueId("customer1");

    const created = await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ALL_FIRST_FACTORS });
    assert.deepEqual(created, { status: "OK", createdNew: true });

    const updated = await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ALL_FIRST_FACTORS });
    assert.deepEqual(updated, { status: "OK", createdNew: false });

    const tenant = await Multitenancy.getTenant(tenantId);
    assert.ok(tenant, "getTenant returned undefined for an existing tenant");
    assert.equal(tenant.status, "OK");
    assert.equal(tenant.tenantId, tenantId);
    assert.deepEqual(sorted(tenant.firstFactors), sorted(ALL_FIRST_FACTORS));
    assert.deepEqual(tenant.thirdParty, { providers: [] });
    assert.deepEqual(tenant.coreConfig, {});
    assert.equal(tenant.requiredSecondaryFactors, undefined);
});

ctx.test("coreConfig is stored and returned as set (seed: update a tenant)", async () => {
    const tenantId = uniqueId("customer1");
    const coreConfig = { email_verification_token_lifetime: 7200000, password_reset_token_lifetime: 3600000 };

    const created = await Multitenancy.createOrUpdateTenant(tenantId, { coreConfig });
    assert.deepEqual(created, { status: "OK", createdNew: true });

    const tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(tenant.coreConfig, coreConfig);
});

ctx.test("coreConfig updates merge key by key; a null value removes the key", async () => {
    const tenantId = uniqueId("cfg");
    await Multitenancy.createOrUpdateTenant(tenantId, {
        coreConfig: { email_verification_token_lifetime: 7200000, password_reset_token_lifetime: 3600000 },
    });

    await Multitenancy.createOrUpdateTenant(tenantId, { coreConfig: { password_reset_token_lifetime: 1800000 } });
    let tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(tenant.coreConfig, {
        email_verification_token_lifetime: 7200000,
        password_reset_token_lifetime: 1800000,
    });

    await Multitenancy.createOrUpdateTenant(tenantId, { coreConfig: { email_verification_token_lifetime: null } });
    tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(tenant.coreConfig, { password_reset_token_lifetime: 1800000 });
});

ctx.test(
    "coreConfig with postgresql_connection_uri round-trips (postgres only)",
    { skip: BACKEND !== "postgres" && "only with PORTCULLIS_BACKEND=postgres" },
    async () => {
        const tenantId = uniqueId("customer1");
        const coreConfig = {
            email_verification_token_lifetime: 7200000,
            password_reset_token_lifetime: 3600000,
            postgresql_connection_uri: process.env.PORTCULLIS_TEST_PG_URI,
        };
        const created = await Multitenancy.createOrUpdateTenant(tenantId, { coreConfig });
        assert.deepEqual(created, { status: "OK", createdNew: true });

        const tenant = await Multitenancy.getTenant(tenantId);
        assert.deepEqual(tenant.coreConfig, coreConfig);
    },
);

ctx.test("updating only coreConfig keeps firstFactors", async () => {
    const tenantId = uniqueId("keep");
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["emailpassword", "otp-email"] });
    await Multitenancy.createOrUpdateTenant(tenantId, { coreConfig: { password_reset_token_lifetime: 3600000 } });

    const tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(sorted(tenant.firstFactors), ["emailpassword", "otp-email"]);
    assert.deepEqual(tenant.coreConfig, { password_reset_token_lifetime: 3600000 });
});

ctx.test("firstFactors not given on creation: no login method enabled ([])", async () => {
    // Seed doc: "If firstFactors is not specified, by default, the system does not
    // enable any of the login methods." The core stores [] for a new non-public tenant.
    const tenantId = uniqueId("ff-none");
    await Multitenancy.createOrUpdateTenant(tenantId);

    const tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(tenant.firstFactors, []);
});

ctx.test("firstFactors: null means all login methods (firstFactors undefined)", async () => {
    const tenantId = uniqueId("ff-null");
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["emailpassword"] });
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: null });

    const tenant = await Multitenancy.getTenant(tenantId);
    assert.equal(tenant.firstFactors, undefined);
    assert.ok(!("firstFactors" in tenant), "firstFactors must be absent, not null");

    // also when null is given on creation
    const other = uniqueId("ff-null");
    await Multitenancy.createOrUpdateTenant(other, { firstFactors: null });
    assert.ok(!("firstFactors" in (await Multitenancy.getTenant(other))));
});

ctx.test("firstFactors: [] is stored as []", async () => {
    const tenantId = uniqueId("ff-empty");
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: null });
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: [] });

    const tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(tenant.firstFactors, []);
});

ctx.test("firstFactors: a list is stored as exactly that list", async () => {
    const tenantId = uniqueId("ff-list");
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["otp-phone", "thirdparty"] });
    assert.deepEqual(sorted((await Multitenancy.getTenant(tenantId)).firstFactors), ["otp-phone", "thirdparty"]);

    // replacing the list replaces it entirely
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["link-email"] });
    assert.deepEqual((await Multitenancy.getTenant(tenantId)).firstFactors, ["link-email"]);
});

ctx.test("requiredSecondaryFactors can be set and cleared with null", async () => {
    const tenantId = uniqueId("rsf");
    await Multitenancy.createOrUpdateTenant(tenantId, {
        firstFactors: ["emailpassword"],
        requiredSecondaryFactors: ["otp-email", "totp"],
    });
    let tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(sorted(tenant.requiredSecondaryFactors), ["otp-email", "totp"]);

    // not mentioning it keeps it
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ["emailpassword", "thirdparty"] });
    tenant = await Multitenancy.getTenant(tenantId);
    assert.deepEqual(sorted(tenant.requiredSecondaryFactors), ["otp-email", "totp"]);

    await Multitenancy.createOrUpdateTenant(tenantId, { requiredSecondaryFactors: null });
    tenant = await Multitenancy.getTenant(tenantId);
    assert.ok(!("requiredSecondaryFactors" in tenant), "requiredSecondaryFactors must be absent after null");
    assert.deepEqual(sorted(tenant.firstFactors), ["emailpassword", "thirdparty"]);
});

ctx.test("tenant ids are trimmed and lower-cased by the core", async () => {
    const suffix = uniqueId("mixed");
    const created = await Multitenancy.createOrUpdateTenant(` MiXeD-${suffix.toUpperCase()} `, {
        firstFactors: ["emailpassword"],
    });
    assert.deepEqual(created, { status: "OK", createdNew: true });

    const tenant = await Multitenancy.getTenant(`mixed-${suffix}`);
    assert.ok(tenant, "tenant not found under its lower-cased id");
    assert.equal(tenant.tenantId, `mixed-${suffix}`);
});

ctx.test("getTenant of a tenant that does not exist returns undefined", async () => {
    assert.equal(await Multitenancy.getTenant(uniqueId("missing")), undefined);
});

ctx.test("getTenant of the app's public tenant", async () => {
    const tenant = await Multitenancy.getTenant("public");
    assert.ok(tenant);
    assert.equal(tenant.status, "OK");
    assert.equal(tenant.tenantId, "public");
    // The app was created with {"coreConfig":{}} and no firstFactors: all methods on.
    assert.ok(!("firstFactors" in tenant));
    assert.deepEqual(tenant.thirdParty, { providers: [] });
    assert.deepEqual(tenant.coreConfig, {});
    // getTenant() without an id means the public tenant
    assert.deepEqual(await Multitenancy.getTenant(), tenant);
});

ctx.test("listAllTenants returns public and the created tenants (seed: list all tenants)", async () => {
    const a = uniqueId("list-a");
    const b = uniqueId("list-b");
    await Multitenancy.createOrUpdateTenant(a, {
        firstFactors: ["emailpassword", "thirdparty"],
        coreConfig: { password_reset_token_lifetime: 3600000 },
    });
    await Multitenancy.createOrUpdateTenant(b, { firstFactors: null, requiredSecondaryFactors: ["totp"] });

    const resp = await Multitenancy.listAllTenants();
    assert.equal(resp.status, "OK");
    assert.ok(Array.isArray(resp.tenants));

    const ids = resp.tenants.map((t) => t.tenantId);
    assert.equal(new Set(ids).size, ids.length, `duplicate tenant ids in ${JSON.stringify(ids)}`);
    for (const id of ["public", a, b]) {
        assert.ok(ids.includes(id), `${id} missing from ${JSON.stringify(ids)}`);
    }

    for (const tenant of resp.tenants) {
        assert.equal(typeof tenant.tenantId, "string");
        assert.ok(!("status" in tenant), `list entry ${tenant.tenantId} carries a status`);
        assert.ok(Array.isArray(tenant.thirdParty?.providers), `${tenant.tenantId}: thirdParty.providers`);
        assert.equal(typeof tenant.coreConfig, "object", `${tenant.tenantId}: coreConfig`);
        assert.ok(tenant.firstFactors === undefined || Array.isArray(tenant.firstFactors));
    }

    // Each listed tenant is the same object getTenant returns (minus status).
    for (const id of ["public", a, b]) {
        const { status, ...single } = await Multitenancy.getTenant(id);
        const listed = resp.tenants.find((t) => t.tenantId === id);
        assert.deepEqual(normaliseTenant(listed), normaliseTenant(single), `list entry for ${id}`);
    }

    const listedA = resp.tenants.find((t) => t.tenantId === a);
    assert.deepEqual(sorted(listedA.firstFactors), ["emailpassword", "thirdparty"]);
    assert.deepEqual(listedA.coreConfig, { password_reset_token_lifetime: 3600000 });
    const listedB = resp.tenants.find((t) => t.tenantId === b);
    assert.ok(!("firstFactors" in listedB));
    assert.deepEqual(listedB.requiredSecondaryFactors, ["totp"]);
});

ctx.test("deleteTenant reports whether the tenant existed", async () => {
    const tenantId = uniqueId("customer1");
    await Multitenancy.createOrUpdateTenant(tenantId, { firstFactors: ALL_FIRST_FACTORS });

    assert.deepEqual(await Multitenancy.deleteTenant(tenantId), { status: "OK", didExist: true });
    assert.equal(await Multitenancy.getTenant(tenantId), undefined);
    assert.ok(!(await Multitenancy.listAllTenants()).tenants.some((t) => t.tenantId === tenantId));
    assert.deepEqual(await Multitenancy.deleteTenant(tenantId), { status: "OK", didExist: false });

    // it can be created again afterwards, as a new tenant with nothing left over
    const again = await Multitenancy.createOrUpdateTenant(tenantId);
    assert.deepEqual(again, { status: "OK", createdNew: true });
    assert.deepEqual((await Multitenancy.getTenant(tenantId)).firstFactors, []);
});

/** Order-insensitive view of a tenant object (factor lists are sets). */
function normaliseTenant(tenant) {
    const out = { ...tenant };
    if (Array.isArray(out.firstFactors)) out.firstFactors = sorted(out.firstFactors);
    if (Array.isArray(out.requiredSecondaryFactors)) out.requiredSecondaryFactors = sorted(out.requiredSecondaryFactors);
    return out;
}
