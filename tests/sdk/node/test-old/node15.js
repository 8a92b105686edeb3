"use strict";
// PHASE 2 of issue 21 (see harness.js): supertokens-node 15.2.3, CDI 3.0: V4 access tokens (tId), tenant-prefixed recipe paths, the pre-4.0 user object with tenantIds.
// Run by old-sdks.test.js.

const { setupOld } = require("./harness");
const { registerFlow } = require("./flow");

const pkg = "supertokens-node-15";
const ctx = setupOld({
    packages: [pkg],
    recipeList: () => [
        require(`${pkg}/recipe/emailpassword`).init(),
        require(`${pkg}/recipe/session`).init({ antiCsrf: "VIA_TOKEN" }),
    ],
});

registerFlow(ctx, {
    pkg,
    cdi: "3.0",
    tokenVersion: 4,
    signUp: (EP, email, password) => EP.signUp("public", email, password),
    signIn: (EP, email, password) => EP.signIn("public", email, password),
    userIdOf: (r) => r.user.id,
    createSession: (st, Session, userId, payload, data) => Session.createNewSessionWithoutRequestResponse("public", userId, payload, data),
    handlesFor: (Session, userId) => Session.getAllSessionHandlesForUser(userId),
});
