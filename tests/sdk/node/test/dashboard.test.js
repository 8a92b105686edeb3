"use strict";
// The user-management dashboard of supertokens-node (recipe/dashboard) in an express app, driven
// over HTTP the way its web page drives it. The page itself (a React bundle) is not loaded: the
// SDK's HTML points at cdn.jsdelivr.net/gh/supertokens/dashboard, which this machine cannot reach,
// and the bundle is not published on npm (see docs/compatibility.md). Everything the page asks
// for goes through these routes, so the test covers what the page would show:
//   sign in with a dashboard user (created on the core, as the SuperTokens CLI does), then with
//   `authorization: Bearer <sessionId>`: users list (pagination, newest first, search), count,
//   user details, metadata, sessions (list, revoke), email verification, password, roles,
//   tenants (list, create, details with the core-config rows, change a setting, delete),
//   deleting a user, and signing out.

const assert = require("node:assert/strict");
const { before, after } = require("node:test");
const supertokens = require("supertokens-node");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const EmailVerification = require("supertokens-node/recipe/emailverification");
const Session = require("supertokens-node/recipe/session");
const UserMetadata = require("supertokens-node/recipe/usermetadata");
const UserRoles = require("supertokens-node/recipe/userroles");
const Dashboard = require("supertokens-node/recipe/dashboard");
const { setup, startSdkWebApp, uniqueId, sleep } = require("../helpers");

// Cheap password hashes for the Portcullis this file starts (its environment is inherited):
// this file tests the dashboard, not hashing.
process.env.BCRYPT_LOG_ROUNDS = "4";

const ctx = setup({
    recipeList: () => [
        Multitenancy.init(),
        EmailPassword.init(),
        EmailVerification.init({ mode: "OPTIONAL" }),
        Session.init(),
        UserMetadata.init(),
        UserRoles.init(),
        Dashboard.init(),
    ],
    init: { framework: "express" },
});

let web = null;
let bearer = null;
const ADMIN = { email: "admin@example.com", password: "admin-pass-1" };

before(async () => {
    web = await startSdkWebApp();
});
after(async () => {
    if (web) await web.close();
});

/** A dashboard API call as the page makes it: `/auth/<tenant>/dashboard/api/<path>`. */
async function api(method, path, { body, tenant = "public", auth = bearer } = {}) {
    const res = await fetch(`${web.baseURL}/auth/${tenant}/dashboard/api${path}`, {
        method,
        headers: {
            rid: "dashboard",
            ...(auth ? { authorization: `Bearer ${auth}` } : {}),
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch {
        // not JSON
    }
    return { status: res.status, body: json, text };
}

async function ok(method, path, options) {
    const r = await api(method, path, options);
    assert.equal(r.status, 200, `${method} ${path}: ${r.text}`);
    assert.equal(r.body.status, "OK", `${method} ${path}: ${r.text}`);
    return r.body;
}

ctx.test("the page's HTML and sign-in", async () => {
    const created = await ctx.coreRequest("POST", "/recipe/dashboard/user", ADMIN);
    assert.equal(created.body.status, "OK", JSON.stringify(created.body));

    const page = await fetch(`${web.baseURL}/auth/dashboard`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /window\.authMode = "email-password"/);
    assert.match(html, /window\.dashboardAppPath = "\/auth\/dashboard"/);
    assert.match(html, /window\.isSearchEnabled = "true"/, "search needs CDI >= 2.20");
    assert.match(html, /window\.staticBasePath = "https:\/\/cdn\.jsdelivr\.net\/gh\/supertokens\/dashboard@v[0-9.]+\/build\/static"/);

    const wrong = await api("POST", "/signin", { body: { email: ADMIN.email, password: "nope-12345" }, auth: null });
    assert.deepEqual(wrong.body, { status: "INVALID_CREDENTIALS_ERROR" });
    // (Without any authorization header the SDK sends no sessionId and the core, like the Java
    // core, answers 400, which the SDK turns into a 500; the page never does that.)
    const badSession = await api("GET", "/users?limit=10", { auth: "not-a-session" });
    assert.equal(badSession.status, 401);

    const signedIn = await api("POST", "/signin", { body: ADMIN, auth: null });
    assert.equal(signedIn.body.status, "OK", signedIn.text);
    bearer = signedIn.body.sessionId;
    assert.ok(bearer);
});

ctx.test("users list with pagination, search, count and details", async () => {
    const emails = ["alice@example.com", "bob@example.com", "alina@example.org", "carol@example.com", "dave@example.com"];
    const ids = [];
    for (const email of emails) {
        const r = await EmailPassword.signUp("public", email, "password-123");
        assert.equal(r.status, "OK");
        ids.push(r.user.id);
        await sleep(2); // distinct time_joined, so that the order is certain
    }
    await UserMetadata.updateUserMetadata(ids[0], { first_name: "Alice", last_name: "Liddell" });

    const count = await ok("GET", "/users/count");
    assert.equal(count.count, 5);

    // Newest first, two per page, following nextPaginationToken to the end.
    const seen = [];
    let token;
    for (let page = 0; page < 5; page++) {
        const q = `/users?limit=2&timeJoinedOrder=DESC${token ? `&paginationToken=${encodeURIComponent(token)}` : ""}`;
        const r = await ok("GET", q);
        seen.push(...r.users.map((u) => u.emails[0]));
        token = r.nextPaginationToken;
        if (!token) break;
    }
    assert.deepEqual(seen, [...emails].reverse());
    const oldest = await ok("GET", "/users?limit=1&timeJoinedOrder=ASC");
    assert.equal(oldest.users[0].emails[0], "alice@example.com");
    assert.equal(oldest.users[0].firstName, "Alice", "names come from the user's metadata");
    assert.ok(oldest.nextPaginationToken);

    // Search as the page's search bar sends it: one query parameter per tag.
    const tags = await ok("GET", "/search/tags");
    assert.ok(tags.tags.includes("email"), JSON.stringify(tags));
    const found = await ok("GET", "/users?limit=10&email=ali");
    assert.deepEqual(found.users.map((u) => u.emails[0]).sort(), ["alice@example.com", "alina@example.org"]);
    const none = await ok("GET", "/users?limit=10&email=zed");
    assert.deepEqual(none.users, []);

    // A user's page.
    const details = await ok("GET", `/user?userId=${ids[0]}`);
    assert.equal(details.user.id, ids[0]);
    assert.deepEqual(details.user.emails, ["alice@example.com"]);
    assert.equal(details.user.loginMethods[0].recipeId, "emailpassword");
    assert.equal(details.user.firstName, "Alice");
    const missing = await api("GET", "/user?userId=no-such-user");
    assert.deepEqual(missing.body, { status: "NO_USER_FOUND_ERROR" });

    // Metadata: the page sends the new object as a JSON string.
    const md = await ok("GET", `/user/metadata?userId=${ids[1]}`);
    assert.deepEqual(md.data, {});
    await ok("PUT", "/user/metadata", { body: { userId: ids[1], data: JSON.stringify({ plan: "pro" }) } });
    assert.deepEqual((await ok("GET", `/user/metadata?userId=${ids[1]}`)).data, { plan: "pro" });

    // Sessions: list and revoke.
    const s = await Session.createNewSessionWithoutRequestResponse("public", supertokens.convertToRecipeUserId(ids[1]));
    const sessions = await ok("GET", `/user/sessions?userId=${ids[1]}`);
    assert.deepEqual(sessions.sessions.map((x) => x.sessionHandle), [s.getHandle()]);
    await ok("POST", "/user/sessions", { body: { sessionHandles: [s.getHandle()] } });
    assert.deepEqual((await ok("GET", `/user/sessions?userId=${ids[1]}`)).sessions, []);

    // Email verification.
    assert.equal((await ok("GET", `/user/email/verify?recipeUserId=${ids[1]}`)).isVerified, false);
    await ok("PUT", "/user/email/verify", { body: { recipeUserId: ids[1], verified: true } });
    assert.equal((await ok("GET", `/user/email/verify?recipeUserId=${ids[1]}`)).isVerified, true);
    await ok("PUT", "/user/email/verify", { body: { recipeUserId: ids[1], verified: false } });
    assert.equal((await ok("GET", `/user/email/verify?recipeUserId=${ids[1]}`)).isVerified, false);

    // Password change, then the user signs in with it.
    await ok("PUT", "/user/password", { body: { recipeUserId: ids[1], newPassword: "another-pass-9" } });
    assert.equal((await EmailPassword.signIn("public", "bob@example.com", "another-pass-9")).status, "OK");
    assert.equal((await EmailPassword.signIn("public", "bob@example.com", "password-123")).status, "WRONG_CREDENTIALS_ERROR");

    // Delete a user.
    await ok("DELETE", `/user?userId=${ids[4]}`);
    assert.equal((await ok("GET", "/users/count")).count, 4);
    assert.deepEqual((await api("GET", `/user?userId=${ids[4]}`)).body, { status: "NO_USER_FOUND_ERROR" });
});

ctx.test("roles and permissions", async () => {
    const user = await EmailPassword.signUp("public", `${uniqueId("r")}@example.com`, "password-123");
    await ok("PUT", "/userroles/role", { body: { role: "admin", permissions: ["read", "write"] } });
    await ok("PUT", "/userroles/role", { body: { role: "viewer", permissions: [] } });
    const roles = await ok("GET", "/userroles/roles");
    assert.deepEqual([...roles.roles].sort(), ["admin", "viewer"]);
    assert.deepEqual((await ok("GET", "/userroles/role/permissions?role=admin")).permissions.sort(), ["read", "write"]);
    await ok("PUT", "/userroles/role/permissions/remove", { body: { role: "admin", permissions: ["write"] } });
    assert.deepEqual((await ok("GET", "/userroles/role/permissions?role=admin")).permissions, ["read"]);

    await ok("PUT", "/userroles/user/roles", { body: { userId: user.user.id, role: "admin" } });
    assert.deepEqual((await ok("GET", `/userroles/user/roles?userId=${user.user.id}`)).roles, ["admin"]);
    await ok("DELETE", `/userroles/user/roles?userId=${user.user.id}&role=admin`);
    assert.deepEqual((await ok("GET", `/userroles/user/roles?userId=${user.user.id}`)).roles, []);
    const deleted = await ok("DELETE", "/userroles/role?role=viewer");
    assert.equal(deleted.didRoleExist, true);
});

ctx.test("tenants: list, create, details with core config, change a setting, delete", async () => {
    const tenantId = uniqueId("dash");
    const created = await api("POST", "/tenant", { body: { tenantId, firstFactors: ["emailpassword"] } });
    assert.equal(created.body.status, "OK", created.text);
    assert.equal(created.body.createdNew, true);
    assert.deepEqual((await api("POST", "/tenant", { body: { tenantId } })).body, { status: "TENANT_ID_ALREADY_EXISTS_ERROR" });

    const list = await ok("GET", "/tenants");
    const mine = list.tenants.find((t) => t.tenantId === tenantId);
    assert.deepEqual(mine.firstFactors, ["emailpassword"]);
    assert.ok(list.tenants.some((t) => t.tenantId === "public"));

    const info = await ok("GET", "/tenant", { tenant: tenantId });
    assert.equal(info.tenant.tenantId, tenantId);
    assert.equal(info.tenant.userCount, 0);
    const rows = info.tenant.coreConfig;
    const lifetime = rows.find((r) => r.key === "password_reset_token_lifetime");
    assert.equal(lifetime.value, 3600000);
    assert.equal(lifetime.valueType, "number");
    assert.equal(lifetime.isDifferentAcrossTenants, true);
    assert.ok(lifetime.description.length > 10);
    assert.ok(!rows.some((r) => r.key === "api_keys" || r.key === "postgresql_password"), "no secrets");

    await ok("PUT", "/tenant/core-config", { tenant: tenantId, body: { name: "password_reset_token_lifetime", value: 120000 } });
    const after = await ok("GET", "/tenant", { tenant: tenantId });
    assert.equal(after.tenant.coreConfig.find((r) => r.key === "password_reset_token_lifetime").value, 120000);
    const invalid = await api("PUT", "/tenant/core-config", { tenant: tenantId, body: { name: "port", value: 1 } });
    assert.equal(invalid.body.status, "INVALID_CONFIG_ERROR", invalid.text);

    await ok("DELETE", "/tenant", { tenant: tenantId });
    assert.ok(!(await ok("GET", "/tenants")).tenants.some((t) => t.tenantId === tenantId));
    assert.deepEqual((await api("GET", "/tenant", { tenant: tenantId })).body, { status: "UNKNOWN_TENANT_ERROR" });
});

ctx.test("sign out ends the dashboard session", async () => {
    await ok("POST", "/signout");
    assert.equal((await api("GET", "/users/count")).status, 401);
    const verify = await ctx.coreRequest("POST", "/recipe/dashboard/session/verify", { sessionId: bearer });
    assert.deepEqual(verify.body, { status: "INVALID_SESSION_ERROR" });
});
