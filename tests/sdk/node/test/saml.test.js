"use strict";
// SAML through supertokens-node's saml recipe and its "saml" third-party provider, with the signing
// test IdP of ../../python/saml_idp.py (signxml on lxml) run as a subprocess of the SDK tests'
// Python virtualenv (PORTCULLIS_SAML_IDP_PYTHON, else tests/sdk/python/.venv; scripts/test.sh makes
// it before the node tests).
//
// The login runs through the SDK's own HTTP APIs as a browser meets them: the authorisation URL,
// the SDK's /saml/login redirect to the IdP with a real (signed) AuthnRequest, the IdP's signed
// response POSTed to the SDK's /saml/callback, the redirect with a code, and the third-party
// sign-in-up that exchanges the code for the user. Then the forgeries, expired, misdirected and
// reused responses, each refused with the core's status.

const assert = require("node:assert/strict");
const { after } = require("node:test");
const { execFile } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { promisify } = require("node:util");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const Saml = require("supertokens-node/recipe/saml");
const Session = require("supertokens-node/recipe/session");
const ThirdParty = require("supertokens-node/recipe/thirdparty");
const { setup, uniqueId, startSdkWebApp } = require("../helpers");

const PYTHON_TESTS = path.join(__dirname, "..", "..", "python");
const PYTHON = process.env.PORTCULLIS_SAML_IDP_PYTHON || path.join(PYTHON_TESTS, ".venv", "bin", "python");
const IDP_SCRIPT = path.join(PYTHON_TESTS, "saml_idp.py");

const CLIENT_ID = "saml-node-client";
const THIRD_PARTY_ID = "saml-test";
const REDIRECT = "http://localhost:3000/auth/callback/saml-test";
// The SDK makes the ACS URL from the app info's API domain.
const ACS = "http://localhost:3001/auth/public/saml/callback";

const ctx = setup({
    init: { framework: "express" },
    recipeList: () => [
        Multitenancy.init(),
        Session.init(),
        ThirdParty.init({
            signInAndUpFeature: { providers: [{ config: { thirdPartyId: THIRD_PARTY_ID, clients: [{ clientId: CLIENT_ID }] } }] },
        }),
        Saml.init(),
    ],
});

/** One command of saml_idp.py's command line (see its `main`); its JSON answer. */
async function idpCommand(command, args) {
    if (!fs.existsSync(PYTHON)) {
        throw new Error(`no Python with signxml at ${PYTHON}: make tests/sdk/python/.venv (scripts/test.sh does) or set PORTCULLIS_SAML_IDP_PYTHON`);
    }
    const { stdout } = await promisify(execFile)(PYTHON, [IDP_SCRIPT, command, JSON.stringify(args)], { timeout: 30_000 });
    return JSON.parse(stdout);
}

/** The test IdP: a key pair, a certificate and an entity id of its own. */
async function newIdp() {
    const keys = await idpCommand("keygen", {});
    const identity = { ...keys, entity_id: `https://idp.test/${uniqueId("e")}`, sso_url: "https://idp.test/sso" };
    const { metadata_b64 } = await idpCommand("metadata", identity);
    return {
        metadataB64: metadata_b64,
        /** A signed SAMLResponse (base64), or the forgery `forgery` of it; `args` as saml_idp's response(). */
        response: async (args) => (await idpCommand("response", { ...identity, ...args })).saml_response,
    };
}

/** The SP certificate of the app, from the core's SP metadata, as the IdP reads it. */
async function spCertificatePem() {
    const res = await fetch(`${ctx.connectionURI}/.well-known/sp-metadata`);
    assert.equal(res.status, 200);
    const xml = await res.text();
    const b64 = xml.split("<ds:X509Certificate>")[1].split("</ds:X509Certificate>")[0].replace(/\s+/g, "");
    return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g).join("\n")}\n-----END CERTIFICATE-----\n`;
}

/** The SDK's login API: the redirect to the IdP, and the AuthnRequest as the IdP reads it. */
async function login(web, state = "st-1", spCertPem = undefined) {
    const query = new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: REDIRECT, state });
    const res = await fetch(`${web.baseURL}/auth/public/saml/login?${query}`, { redirect: "manual" });
    assert.equal(res.status, 302, await res.text());
    const location = new URL(res.headers.get("location"));
    assert.equal(`${location.origin}${location.pathname}`, "https://idp.test/sso");
    const relayState = location.searchParams.get("RelayState");
    assert.ok(relayState, location.href);
    const request = await idpCommand("request", { saml_request: location.searchParams.get("SAMLRequest"), sp_cert_pem: spCertPem });
    return { request, relayState };
}

/** The IdP's POST to the SDK's callback API: { redirect } on success, else { status }. */
async function callback(web, samlResponse, relayState) {
    const form = new URLSearchParams({ SAMLResponse: samlResponse });
    if (relayState !== undefined) form.set("RelayState", relayState);
    const res = await fetch(`${web.baseURL}/auth/public/saml/callback`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form,
        redirect: "manual",
    });
    if (res.status === 302) return { redirect: new URL(res.headers.get("location")) };
    assert.equal(res.status, 200);
    return { status: (await res.json()).status };
}

let web;
let idp;
after(async () => {
    if (web) await web.close();
});

ctx.test("a client from the IdP's metadata", async () => {
    web = await startSdkWebApp();
    idp = await newIdp();
    const made = await Saml.createOrUpdateClient({
        tenantId: "public",
        clientId: CLIENT_ID,
        redirectURIs: [REDIRECT],
        defaultRedirectURI: REDIRECT,
        metadataXML: idp.metadataB64,
    });
    assert.equal(made.status, "OK", JSON.stringify(made));
    assert.equal(made.enableRequestSigning, true);
    // The core's 400 for metadata that is not SAML metadata (the SDK throws it).
    const bad = Saml.createOrUpdateClient({ tenantId: "public", redirectURIs: [REDIRECT], defaultRedirectURI: REDIRECT, metadataXML: Buffer.from("<nope/>").toString("base64") });
    await assert.rejects(bad, (err) => /status code: 400 and message: metadataXML does not have a valid SAML metadata/.test(err.message));
});

ctx.test("sign in through the IdP: login, callback, code exchange by sign-in-up", async () => {
    // The frontend asks for the provider's authorisation URL: the SDK's own login API.
    const authUrl = await fetch(`${web.baseURL}/auth/authorisationurl?${new URLSearchParams({ thirdPartyId: THIRD_PARTY_ID, redirectURIOnProviderDashboard: REDIRECT })}`);
    const { status, urlWithQueryParams } = await authUrl.json();
    assert.equal(status, "OK");
    const loginUrl = new URL(urlWithQueryParams);
    assert.equal(`${loginUrl.origin}${loginUrl.pathname}`, "http://localhost:3001/auth/public/saml/login");
    assert.equal(loginUrl.searchParams.get("client_id"), CLIENT_ID);

    const { request, relayState } = await login(web, "st-1", await spCertificatePem());
    assert.equal(request.acs_url, ACS);
    assert.equal(request.issuer, "https://saml.supertokens.com");
    assert.equal(request.signed, true, "signed, and verified against the SP metadata's certificate");

    const email = `${uniqueId("u")}@example.com`;
    const response = await idp.response({ in_response_to: request.id, acs_url: ACS, name_id: email, attributes: { groups: ["a", "b"] } });
    const done = await callback(web, response, relayState);
    assert.ok(done.redirect, JSON.stringify(done));
    assert.equal(`${done.redirect.origin}${done.redirect.pathname}`, REDIRECT);
    assert.equal(done.redirect.searchParams.get("state"), "st-1");
    const code = done.redirect.searchParams.get("code");
    assert.ok(code);

    // The same response again: its relay state was used.
    assert.deepEqual(await callback(web, response, relayState), { status: "INVALID_RELAY_STATE_ERROR" });

    // The frontend finishes with the code; the provider exchanges it for the user.
    const signIn = await fetch(`${web.baseURL}/auth/signinup`, {
        method: "POST",
        headers: { "content-type": "application/json", "st-auth-mode": "header" },
        body: JSON.stringify({
            thirdPartyId: THIRD_PARTY_ID,
            redirectURIInfo: { redirectURIOnProviderDashboard: REDIRECT, redirectURIQueryParams: { code, state: "st-1" } },
        }),
    });
    const body = await signIn.json();
    assert.equal(body.status, "OK", JSON.stringify(body));
    assert.equal(body.createdNewRecipeUser, true);
    assert.deepEqual(body.user.thirdParty, [{ id: THIRD_PARTY_ID, userId: email }]);
    assert.deepEqual(body.user.emails, [email]);
    assert.ok(signIn.headers.get("st-access-token"), "a session is made");

    // A code is used once.
    assert.deepEqual(await Saml.getUserInfo({ tenantId: "public", accessToken: code, clientId: CLIENT_ID }), { status: "INVALID_TOKEN_ERROR" });
});

ctx.test("forged, expired and misdirected responses are refused, and do not burn the login", async () => {
    const { request, relayState } = await login(web);
    const genuine = { in_response_to: request.id, acs_url: ACS };
    const hour = 60 * 60 * 1000;
    const refused = {
        "a tampered NameID": { ...genuine, forgery: "tampered_name_id" },
        "a signed assertion moved under Advice of a forged one": { ...genuine, forgery: "xsw_advice" },
        "a signed assertion moved under Extensions of a forged response": { ...genuine, forgery: "xsw_extensions_response" },
        "an unsigned assertion beside a signed one": { ...genuine, forgery: "unsigned_sibling" },
        "a signature from another key": { ...genuine, forgery: "other_key" },
        "an unsigned response": { ...genuine, forgery: "unsigned" },
        "an expired response": { ...genuine, now: Date.now() - 2 * hour },
        "a wrong audience": { ...genuine, audience: "https://other-sp.example" },
        "a wrong InResponseTo": { ...genuine, in_response_to: "_not-the-request" },
        "a wrong recipient": { ...genuine, acs_url: "http://evil.test/acs" },
    };
    for (const [name, args] of Object.entries(refused)) {
        const answer = await callback(web, await idp.response(args), relayState);
        assert.deepEqual(answer, { status: "SAML_RESPONSE_VERIFICATION_FAILED_ERROR" }, name);
    }
    // The relay state is still good for the genuine response.
    const done = await callback(web, await idp.response(genuine), relayState);
    assert.ok(done.redirect, JSON.stringify(done));
});

ctx.test("a DOCTYPE is a core error; IdP-initiated login only where the client allows it; unknown relay states", async () => {
    const { request, relayState } = await login(web);
    const doctype = await idp.response({ in_response_to: request.id, acs_url: ACS, forgery: "doctype_internal_entity" });
    await assert.rejects(
        Saml.verifySAMLResponse({ tenantId: "public", samlResponse: doctype, relayState }),
        (err) => /Invalid or malformed SAML response input/.test(err.message),
    );

    const unsolicited = await idp.response({ attributes: { groups: ["a", "b"] } });
    assert.deepEqual(await callback(web, unsolicited, undefined), { status: "IDP_LOGIN_DISALLOWED_ERROR" });
    assert.deepEqual(await callback(web, unsolicited, "no-such-relay-state"), { status: "INVALID_RELAY_STATE_ERROR" });
    const allowed = await Saml.createOrUpdateClient({
        tenantId: "public",
        clientId: CLIENT_ID,
        redirectURIs: [REDIRECT],
        defaultRedirectURI: REDIRECT,
        metadataXML: idp.metadataB64,
        allowIDPInitiatedLogin: true,
    });
    assert.equal(allowed.status, "OK");
    const done = await callback(web, unsolicited, undefined);
    assert.ok(done.redirect, JSON.stringify(done));
    assert.equal(done.redirect.searchParams.get("state"), null);
    const info = await Saml.getUserInfo({ tenantId: "public", accessToken: done.redirect.searchParams.get("code"), clientId: CLIENT_ID });
    assert.equal(info.status, "OK", JSON.stringify(info));
    assert.equal(info.sub, "alice@example.com");
    assert.equal(info.email, "alice@example.com");
    assert.deepEqual(info.claims.groups, ["a", "b"]);

    const listed = await Saml.listClients({ tenantId: "public" });
    assert.deepEqual(listed.clients.map((c) => c.clientId), [CLIENT_ID]);
    assert.deepEqual(await Saml.removeClient({ tenantId: "public", clientId: CLIENT_ID }), { status: "OK", didExist: true });
    assert.deepEqual(await Saml.removeClient({ tenantId: "public", clientId: CLIENT_ID }), { status: "OK", didExist: false });
});
