"use strict";
// The secrets check that every test file runs on its server's log when it ends (helpers.js
// `assertNoSecretsLogged`): it must find a secret the SDK sent when the log holds it, at any depth
// of a body or in a query parameter, and ignore values that are not secrets.

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { assertNoSecretsLogged } = require("../helpers");

const calls = [
    { method: "POST", path: "/recipe/signin", body: { email: "a@example.com", password: "hunter2-secret" } },
    { method: "POST", path: "/recipe/session/refresh", body: { refreshToken: "rt-0123456789" } },
    { method: "POST", path: "/recipe/signinup/code/consume", body: { deviceInfo: { userInputCode: "482913" } } },
    { method: "GET", path: "/recipe/totp/verify", params: { totp: "135790" } },
];

test("a log holding any secret the SDK sent fails the check; other values do not", () => {
    assert.doesNotThrow(() => assertNoSecretsLogged("INFO sign-in for a@example.com answered OK", calls));
    for (const secret of ["hunter2-secret", "rt-0123456789", "482913", "135790"]) {
        assert.throws(() => assertNoSecretsLogged(`DEBUG body ... ${secret} ...`, calls), /logged 1 secret value/);
    }
});
