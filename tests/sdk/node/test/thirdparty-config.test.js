"use strict";
// Per-tenant third-party provider configs through supertokens-node (seed doc 002:
// "Add a custom third-party provider to a tenant").
//
// Network note: neither supertokens-node 24.0.3 nor the core fetches
// `oidcDiscoveryEndpoint` when a config is saved. The SDK's
// createOrUpdateThirdPartyConfig only sends PUT /<tenantId>/recipe/multitenancy/config/thirdparty
// with {config, skipValidation}; discovery happens only later, when a sign-in uses the
// provider. The core's validation (skipped by skipValidation=true) is purely local:
// unique thirdPartyId / clientType, clientId present, no null in scope, and required
// additionalConfig keys for apple / google-workspaces / boxy-saml ids. So the
// example.com URLs below never hit the network.

const assert = require("node:assert/strict");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const { setup, uniqueId, assertCoreError } = require("../helpers");

const ctx = setup();

// The seed's "Using OAuth endpoints" example.
const oauthProvider = () => ({
    thirdPartyId: "custom",
    name: "Custom Provider",
    clients: [{ clientId: "client-id-1", clientSecret: "client-secret-1", scope: ["email", "profile"] }],
    authorizationEndpoint: "https://example.com/oauth/authorize",
    authorizationEndpointQueryParams: { someKey1: "value1", someKey2: null },
    tokenEndpoint: "https://example.com/oauth/token",
    tokenEndpointBodyParams: { someKey1: "value1" },
    userInfoEndpoint: "https://example.com/oauth/userinfo",
    userInfoMap: { fromUserInfoAPI: { userId: "id", email: "email", emailVerified: "email_verified" } },
});

// The seed's "Using OpenID Connect endpoints" example.
const oidcProvider = () => ({
    thirdPartyId: "custom-oidc",
    name: "Custom OIDC Provider",
    clients: [{ clientId: "oidc-client", clientSecret: "oidc-secret", scope: ["email", "profile"] }],
    oidcDiscoveryEndpoint: "https://example.com/.well-known/openid-configuration",
    authorizationEndpointQueryParams: { someKey1: "value1", someKey2: null },
    userInfoMap: { fromIdTokenPayload: { userId: "id", email: "email", emailVerified: "email_verified" } },
});

// Every optional field, two client types.
const fullProvider = () => ({
    thirdPartyId: "custom-full",
    name: "Everything Provider",
    clients: [
        {
            clientType: "web",
            clientId: "web-client",
            clientSecret: "web-secret",
            scope: ["openid", "email", "profile"],
            forcePKCE: true,
            additionalConfig: { hd: "example.com", nested: { a: 1, list: ["x", "y"] }, flag: true },
        },
        { clientType: "mobile", clientId: "mobile-client", scope: ["openid"], forcePKCE: false },
    ],
    authorizationEndpoint: "https://idp.example.com/authorize",
    authorizationEndpointQueryParams: { prompt: "consent", access_type: null },
    tokenEndpoint: "https://idp.example.com/token",
    tokenEndpointBodyParams: { audience: "api://default" },
    userInfoEndpoint: "https://idp.example.com/userinfo",
    userInfoEndpointQueryParams: { fields: "id,email", drop: null },
    userInfoEndpointHeaders: { "x-api-version": "2", "x-remove-me": null },
    jwksURI: "https://idp.example.com/jwks.json",
    requireEmail: false,
    userInfoMap: {
        fromIdTokenPayload: { userId: "sub", email: "email", emailVerified: "email_verified" },
        fromUserInfoAPI: { userId: "user.id", email: "user.email", emailVerified: "user.verified" },
    },
});

async function newTenant() {
    const tenantId = uniqueId("tp");
    await Multitenancy.createOrUpdateTenant(tenantId, {
        firstFactors: ["emailpassword", "thirdparty", "otp-email", "otp-phone", "link-phone", "link-email"],
    });
    return tenantId;
}

async function providersOf(tenantId) {
    const tenant = await Multitenancy.getTenant(tenantId);
    assert.ok(tenant, `tenant ${tenantId} not found`);
    return tenant.thirdParty.providers;
}

/**
 * Comparable view of a provider config. Two things are not significant:
 * the order of `clients` (the core keeps them keyed by clientType), and empty
 * userInfoMap halves (the Java core answers `"fromIdTokenPayload":{}` for a
 * half that was never set). Everything else must round-trip exactly, including
 * null values inside the *Params / *Headers maps and absent optional fields.
 */
function normaliseProvider(provider) {
    const out = { ...provider };
    if (Array.isArray(out.clients)) {
        out.clients = [...out.clients].sort((x, y) =>
            `${x.clientType ?? ""}\u0000${x.clientId}`.localeCompare(`${y.clientType ?? ""}\u0000${y.clientId}`),
        );
    }
    if (out.userInfoMap !== undefined) {
        const map = {};
        for (const [half, value] of Object.entries(out.userInfoMap)) {
            if (value !== null && Object.keys(value).length > 0) map[half] = value;
        }
        if (Object.keys(map).length === 0) delete out.userInfoMap;
        else out.userInfoMap = map;
    }
    return out;
}

function assertProvider(providers, expected) {
    const matches = providers.filter((p) => p.thirdPartyId === expected.thirdPartyId);
    assert.equal(matches.length, 1, `expected one provider ${expected.thirdPartyId} in ${JSON.stringify(providers)}`);
    assert.deepEqual(normaliseProvider(matches[0]), normaliseProvider(expected));
}

ctx.test("OAuth-endpoints provider: created, then overwritten; every field round-trips", async () => {
    const tenantId = await newTenant();
    const config = oauthProvider();

    const created = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, config);
    assert.deepEqual(created, { status: "OK", createdNew: true });

    let providers = await providersOf(tenantId);
    assert.equal(providers.length, 1);
    assertProvider(providers, config);
    // the null-valued query param is kept as null, not dropped
    const stored = providers[0];
    assert.ok("someKey2" in stored.authorizationEndpointQueryParams);
    assert.equal(stored.authorizationEndpointQueryParams.someKey2, null);
    assert.deepEqual(stored.clients[0].scope, ["email", "profile"]);
    assert.equal(stored.clients[0].clientSecret, "client-secret-1");

    const again = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, config);
    assert.deepEqual(again, { status: "OK", createdNew: false });
    providers = await providersOf(tenantId);
    assert.equal(providers.length, 1);
    assertProvider(providers, config);
});

ctx.test("overwriting a provider replaces the whole config", async () => {
    const tenantId = await newTenant();
    await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oauthProvider());

    const replacement = {
        thirdPartyId: "custom",
        name: "Renamed",
        clients: [{ clientId: "client-id-2" }],
        authorizationEndpoint: "https://example.org/authorize",
        tokenEndpoint: "https://example.org/token",
    };
    const resp = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, replacement);
    assert.deepEqual(resp, { status: "OK", createdNew: false });

    const providers = await providersOf(tenantId);
    assert.equal(providers.length, 1);
    // fields of the old config that the new one does not set are gone
    assertProvider(providers, replacement);
});

ctx.test("OIDC provider (oidcDiscoveryEndpoint, fromIdTokenPayload) next to an OAuth one", async () => {
    const tenantId = await newTenant();
    await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oauthProvider());

    const created = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oidcProvider());
    assert.deepEqual(created, { status: "OK", createdNew: true });
    const again = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oidcProvider());
    assert.deepEqual(again, { status: "OK", createdNew: false });

    const providers = await providersOf(tenantId);
    assert.equal(providers.length, 2);
    assertProvider(providers, oauthProvider());
    assertProvider(providers, oidcProvider());
});

ctx.test("provider with web and mobile clients and every optional field", async () => {
    const tenantId = await newTenant();
    const config = fullProvider();

    const created = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, config);
    assert.deepEqual(created, { status: "OK", createdNew: true });

    const providers = await providersOf(tenantId);
    assertProvider(providers, config);
    const stored = providers.find((p) => p.thirdPartyId === "custom-full");
    assert.equal(stored.requireEmail, false);
    const web = stored.clients.find((c) => c.clientType === "web");
    const mobile = stored.clients.find((c) => c.clientType === "mobile");
    assert.equal(web.forcePKCE, true);
    assert.equal(mobile.forcePKCE, false);
    assert.ok(!("clientSecret" in mobile));
    assert.deepEqual(web.additionalConfig, config.clients[0].additionalConfig);
    assert.equal(stored.userInfoEndpointHeaders["x-remove-me"], null);
    assert.equal(stored.userInfoEndpointQueryParams.drop, null);
});

ctx.test("providers show up in listAllTenants", async () => {
    const tenantId = await newTenant();
    await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, fullProvider());
    await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oidcProvider());

    const { tenants } = await Multitenancy.listAllTenants();
    const listed = tenants.find((t) => t.tenantId === tenantId);
    assert.ok(listed, `${tenantId} missing from listAllTenants`);
    assert.equal(listed.thirdParty.providers.length, 2);
    assertProvider(listed.thirdParty.providers, fullProvider());
    assertProvider(listed.thirdParty.providers, oidcProvider());
});

ctx.test("deleteThirdPartyConfig reports whether the config existed", async () => {
    const tenantId = await newTenant();
    await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oauthProvider());
    await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oidcProvider());

    const first = await Multitenancy.deleteThirdPartyConfig(tenantId, "custom");
    assert.deepEqual(first, { status: "OK", didConfigExist: true });
    const second = await Multitenancy.deleteThirdPartyConfig(tenantId, "custom");
    assert.deepEqual(second, { status: "OK", didConfigExist: false });

    const providers = await providersOf(tenantId);
    assert.equal(providers.length, 1);
    assertProvider(providers, oidcProvider());

    // it can be added again afterwards
    const readded = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, oauthProvider());
    assert.deepEqual(readded, { status: "OK", createdNew: true });
});

ctx.test("providers are per tenant", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await Multitenancy.createOrUpdateThirdPartyConfig(a, oauthProvider());

    assert.equal((await providersOf(a)).length, 1);
    assert.deepEqual(await providersOf(b), []);
    assert.deepEqual(await Multitenancy.deleteThirdPartyConfig(b, "custom"), { status: "OK", didConfigExist: false });
    assert.equal((await providersOf(a)).length, 1);
});

ctx.test("deleting a tenant deletes its providers", async () => {
    const tenantId = await newTenant();
    await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, fullProvider());
    assert.deepEqual(await Multitenancy.deleteTenant(tenantId), { status: "OK", didExist: true });

    await Multitenancy.createOrUpdateTenant(tenantId);
    assert.deepEqual(await providersOf(tenantId), []);
});

ctx.test("provider on the app's public tenant", async () => {
    const created = await Multitenancy.createOrUpdateThirdPartyConfig("public", oidcProvider());
    assert.deepEqual(created, { status: "OK", createdNew: true });
    assertProvider(await providersOf("public"), oidcProvider());
    assert.deepEqual(await Multitenancy.deleteThirdPartyConfig("public", "custom-oidc"), {
        status: "OK",
        didConfigExist: true,
    });
});

ctx.test("core validation: duplicate clientType is refused with 400", async () => {
    const tenantId = await newTenant();
    const config = {
        thirdPartyId: "dup-clients",
        name: "Dup",
        clients: [
            { clientType: "web", clientId: "a" },
            { clientType: "web", clientId: "b" },
        ],
    };
    await assertCoreError(assert, Multitenancy.createOrUpdateThirdPartyConfig(tenantId, config), 400);
    assert.deepEqual(await providersOf(tenantId), []);
});

ctx.test("core validation: apple without keyId/teamId/privateKey is refused unless skipValidation", async () => {
    const tenantId = await newTenant();
    const config = { thirdPartyId: "apple", name: "Apple", clients: [{ clientId: "com.example.app" }] };

    await assertCoreError(assert, Multitenancy.createOrUpdateThirdPartyConfig(tenantId, config), 400);
    assert.deepEqual(await providersOf(tenantId), []);

    const resp = await Multitenancy.createOrUpdateThirdPartyConfig(tenantId, config, true);
    assert.deepEqual(resp, { status: "OK", createdNew: true });
    assertProvider(await providersOf(tenantId), config);
});
