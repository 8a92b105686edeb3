"use strict";
// Passkeys in a real browser: headless Chromium (Debian's package) driven over the DevTools
// protocol by puppeteer-core, with its virtual authenticator enabled, opens a page served by an
// express app running supertokens-node's webauthn recipe, and signs up and in for real:
// register options → navigator.credentials.create() → sign-up, then sign-in options →
// navigator.credentials.get() → sign-in. Once with the core's default algorithms (Chromium picks
// EdDSA) and "none" attestation, once with "direct" attestation (packed with an x5c certificate).
//
// Chromium is installed with apt-get when it is missing (CI machines are fresh); the test is
// skipped, saying why, only when that is impossible.

const assert = require("node:assert/strict");
const fs = require("node:fs");
const { spawnSync } = require("node:child_process");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Session = require("supertokens-node/recipe/session");
const WebAuthn = require("supertokens-node/recipe/webauthn");
const { setup, startSdkWebApp, uniqueId } = require("../helpers");

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Chromium's path, installing Debian's package if needed; null (with the reason) if impossible. */
function chromium() {
    if (fs.existsSync(CHROMIUM)) return { path: CHROMIUM };
    const apt = (args) => spawnSync("apt-get", args, { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (apt(["update"]).status === 0 && apt(["install", "-y", "--no-install-recommends", "chromium"]).status === 0 && fs.existsSync(CHROMIUM)) {
        return { path: CHROMIUM };
    }
    return { path: null, reason: `Chromium is not at ${CHROMIUM} and apt-get could not install it` };
}

// The page's origin is known once the web app listens; the recipe asks for it per request.
let origin = "http://localhost:3000";

const ctx = setup({
    init: { framework: "express" },
    recipeList: () => [
        Multitenancy.init(),
        Session.init(),
        WebAuthn.init({
            getOrigin: () => origin,
            getRelyingPartyId: () => "localhost",
            getRelyingPartyName: () => "Portcullis browser test",
            override: {
                functions: (impl) => ({
                    ...impl,
                    // The test's second run asks for "direct" attestation (packed, x5c) via the user context.
                    registerOptions: (input) => impl.registerOptions({ ...input, attestation: input.userContext.attestation ?? input.attestation }),
                }),
                apis: (api) => ({
                    ...api,
                    registerOptionsPOST: (input) => {
                        input.userContext.attestation = input.options.req.getKeyValueFromQuery("attestation");
                        return api.registerOptionsPOST(input);
                    },
                }),
            },
        }),
    ],
});

/** Runs in the page: the frontend's sign-up then sign-in, with the browser's WebAuthn API. */
async function signUpAndIn(email, attestation) {
    const post = async (path, body) => {
        const res = await fetch(`/auth${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", "st-auth-mode": "header" },
            body: JSON.stringify(body),
        });
        return { body: await res.json(), session: res.headers.get("st-access-token") !== null };
    };
    const options = await post(`/webauthn/options/register${attestation ? `?attestation=${attestation}` : ""}`, { email });
    if (options.body.status !== "OK") return { step: "register options", ...options };
    const created = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body) });
    const registration = created.toJSON();
    const signUp = await post("/webauthn/signup", {
        webauthnGeneratedOptionsId: options.body.webauthnGeneratedOptionsId,
        credential: registration,
        shouldTryLinkingWithSessionUser: false,
    });
    const signInOptions = await post("/webauthn/options/signin", {});
    const got = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(signInOptions.body) });
    const signIn = await post("/webauthn/signin", {
        webauthnGeneratedOptionsId: signInOptions.body.webauthnGeneratedOptionsId,
        credential: got.toJSON(),
        shouldTryLinkingWithSessionUser: false,
    });
    const fmt = new TextDecoder("latin1").decode(Uint8Array.from(atob(registration.response.attestationObject.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)));
    return { signUp, signIn, algorithm: registration.response.publicKeyAlgorithm, packed: fmt.includes("packed"), x5c: fmt.includes("x5c") };
}

ctx.test("a real browser signs up and in with a passkey", { timeout: 120_000 }, async (t) => {
    const found = chromium();
    if (!found.path) {
        t.skip(found.reason);
        return;
    }
    const puppeteer = require("puppeteer-core");
    const web = await startSdkWebApp((app) => {
        app.get("/", (_, res) => res.type("html").send("<!doctype html><title>Portcullis passkeys</title>"));
    });
    const browser = await puppeteer.launch({
        executablePath: found.path,
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
        origin = web.baseURL.replace("127.0.0.1", "localhost");
        for (const attestation of [null, "direct"]) {
            const page = await browser.newPage();
            await page.goto(`${origin}/`);
            const cdp = await page.createCDPSession();
            await cdp.send("WebAuthn.enable", { enableUI: false });
            const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
                options: {
                    protocol: "ctap2", ctap2Version: "ctap2_1", transport: "internal", hasResidentKey: true,
                    hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
                },
            });
            const email = `${uniqueId("browser")}@example.com`;
            const r = await page.evaluate(signUpAndIn, email, attestation);
            assert.equal(r.signUp?.body?.status, "OK", JSON.stringify(r));
            assert.ok(r.signUp.session, "a session after sign-up");
            assert.equal(r.signUp.body.user.emails[0], email);
            assert.equal(r.signIn.body.status, "OK", JSON.stringify(r.signIn));
            assert.ok(r.signIn.session, "a session after sign-in");
            assert.equal(r.signIn.body.user.id, r.signUp.body.user.id);
            if (attestation === null) {
                assert.equal(r.algorithm, -8, "Chromium picks EdDSA from the core's default algorithms");
            } else {
                assert.ok(r.packed && r.x5c, "direct attestation is packed with an x5c certificate");
            }
            const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
            assert.equal(credentials[0].signCount, 2, "one create and one get");
            await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
            await page.close();
        }
    } finally {
        await browser.close();
        await web.close();
    }
});
