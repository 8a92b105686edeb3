"use strict";
// PHASE 2 of issue 21 (see harness.js): supertokens-node 14.1.4, the last major on CDI 2.21: V3 access tokens (no tenants), JWKS verification, the pre-4.0 user object without tenantIds.
// Run by old-sdks.test.js.

const { setupOld } = require("./harness");
const { registerFlow } = require("./flow");

const pkg = "supertokens-node-14";
const ctx = setupOld({
    packages: [pkg],
    recipeList: () => [
        require(`${pkg}/recipe/emailpassword`).init(),
        require(`${pkg}/recipe/session`).init({ antiCsrf: "VIA_TOKEN" }),
    ],
});

registerFlow(ctx, {
    pkg,
    cdi: "2.21",
    tokenVersion: 3,
    signUp: (EP, email, password) => EP.signUp(email, password),
    signIn: (EP, email, password) => EP.signIn(email, password),
    userIdOf: (r) => r.user.id,
    createSession: (st, Session, userId, payload, data) => Session.createNewSessionWithoutRequestResponse(userId, payload, data),
    handlesFor: (Session, userId) => Session.getAllSessionHandlesForUser(userId),
});
