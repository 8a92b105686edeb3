"use strict";
// PHASE 2 of issue 21 (see harness.js): supertokens-node 17.1.5, CDI 5.0: MFA-era shapes, useDynamicSigningKey required at refresh, V5 tokens.
// Run by old-sdks.test.js.

const { setupOld } = require("./harness");
const { registerFlow } = require("./flow");

const pkg = "supertokens-node-17";
const ctx = setupOld({
    packages: [pkg],
    recipeList: () => [
        require(`${pkg}/recipe/emailpassword`).init(),
        require(`${pkg}/recipe/session`).init({ antiCsrf: "VIA_TOKEN" }),
    ],
});

registerFlow(ctx, {
    pkg,
    cdi: "5.0",
    tokenVersion: 5,
    signUp: (EP, email, password) => EP.signUp("public", email, password),
    signIn: (EP, email, password) => EP.signIn("public", email, password),
    userIdOf: (r) => r.user.id,
    createSession: (st, Session, userId, payload, data) => Session.createNewSessionWithoutRequestResponse("public", st.convertToRecipeUserId(userId), payload, data),
    handlesFor: (Session, userId) => Session.getAllSessionHandlesForUser(userId),
});
