// An independent OpenID Connect relying party for the OAuth2 provider (issue 22), built on
// openid-client 6 (pinned in ../package.json): it knows nothing of SuperTokens but the issuer URL
// and a client's credentials, and plays the browser and the frontend's pages itself.
//
// The issuer is the SDK app's `apiDomain + apiBasePath` (e.g. http://localhost:3001/auth), where
// supertokens-node's oauth2provider, openid and jwt recipes serve /oauth/*, /.well-known/
// openid-configuration and /jwt/jwks.json, in front of the core. The frontend routes the SDK
// redirects to (`{websiteDomain}{websiteBasePath}?loginChallenge=…`, `…/oauth/logout?logoutChallenge=…`)
// are served by nobody: `Browser` never follows redirects by itself, and the flows below do what
// the frontend SDK would do on those pages.
//
// openid-client facts this relies on (from its build, 6.8.9):
// - an http issuer needs `execute: [allowInsecureRequests]` at discovery;
// - with a secret and no explicit method it authenticates with client_secret_post, so the method
//   is always passed explicitly (ClientSecretBasic or ClientSecretPost, matching the client's
//   `tokenEndpointAuthMethod`);
// - the SDK's discovery document names the introspection endpoint `token_introspection_endpoint`,
//   which openid-client does not read: `withIntrospection` adds the standard key;
// - `authorizationCodeGrant` derives the token request's redirect_uri from the callback URL's
//   origin and path, so clients are registered with callbacks without a query string;
// - it checks the ID token's claims (iss, aud, exp, iat, nonce) but not its signature when it comes
//   from the token endpoint: `verifyJwt` checks signatures against the issuer's JWKS.

import crypto from "node:crypto";
import * as client from "openid-client";

/** A browser for one site: a cookie jar and fetch without automatic redirects. */
export class Browser {
    constructor() {
        /** name → value */
        this.jar = new Map();
    }

    cookieHeader() {
        return [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    }

    /** Keeps the `Set-Cookie`s of a response (an expired or emptied cookie is removed). */
    store(response) {
        for (const line of response.headers.getSetCookie()) {
            const [pair, ...attributes] = line.split(";").map((s) => s.trim());
            const eq = pair.indexOf("=");
            if (eq <= 0) continue;
            const name = pair.slice(0, eq);
            const value = pair.slice(eq + 1);
            const attr = (key) => attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.split("=")[1];
            const expires = attr("expires");
            const maxAge = attr("max-age");
            const gone = value === "" || (maxAge !== undefined && Number(maxAge) <= 0) || (expires !== undefined && Date.parse(expires) <= Date.now());
            if (gone) this.jar.delete(name);
            else this.jar.set(name, value);
        }
    }

    /** `fetch` with the jar's cookies, `redirect: "manual"` (each hop is the caller's to check). */
    async fetch(url, init = {}) {
        const headers = new Headers(init.headers ?? {});
        if (this.jar.size > 0) headers.set("cookie", this.cookieHeader());
        const response = await fetch(url, { ...init, headers, redirect: "manual" });
        this.store(response);
        return response;
    }
}

/**
 * Discovers the issuer and returns openid-client's Configuration for one client.
 * `authMethod`: "client_secret_basic" (default), "client_secret_post" or "none".
 */
export async function discover(issuer, clientId, clientSecret, authMethod = "client_secret_basic") {
    const auth =
        authMethod === "none"
            ? client.None()
            : authMethod === "client_secret_post"
              ? client.ClientSecretPost(clientSecret)
              : client.ClientSecretBasic(clientSecret);
    const insecure = new URL(issuer).protocol === "http:";
    const config = await client.discovery(new URL(issuer), clientId, undefined, auth, insecure ? { execute: [client.allowInsecureRequests] } : {});
    return config;
}

/** The same client with the standard `introspection_endpoint` the SDK's discovery lacks. */
export function withIntrospection(config, clientSecret, authMethod = "client_secret_basic") {
    const server = config.serverMetadata();
    const auth = authMethod === "client_secret_post" ? client.ClientSecretPost(clientSecret) : client.ClientSecretBasic(clientSecret);
    const withEndpoint = new client.Configuration(
        { ...server, introspection_endpoint: server.token_introspection_endpoint ?? `${server.issuer}/oauth/introspect` },
        config.clientMetadata().client_id,
        undefined,
        auth,
    );
    if (server.issuer.startsWith("http:")) client.allowInsecureRequests(withEndpoint);
    return withEndpoint;
}

/** Signs a user up through the SDK's emailpassword API, in cookie mode (the browser keeps the session). */
export async function emailPasswordSignUp(browser, issuer, email, password) {
    const response = await browser.fetch(`${issuer}/signup`, {
        method: "POST",
        headers: { "content-type": "application/json", rid: "emailpassword", "st-auth-mode": "cookie" },
        body: JSON.stringify({ formFields: [{ id: "email", value: email }, { id: "password", value: password }] }),
    });
    const body = await response.json();
    if (response.status !== 200 || body.status !== "OK") {
        throw new Error(`sign-up failed: ${response.status} ${JSON.stringify(body)}`);
    }
    return body.user;
}

/**
 * The authorization-code flow with PKCE, browser-less:
 * 1. the browser opens the authorization URL; the SDK answers 302 — straight to the callback when
 *    the browser has a SuperTokens session, else to the frontend's login page with `loginChallenge`
 *    (and the core's CSRF cookie);
 * 2. on that page the frontend signs the user in (`signIn(browser)`) and asks the SDK where to go:
 *    `GET {issuer}/oauth/login?loginChallenge=…` → `{"frontendRedirectTo": "<callback>?code=…"}`;
 * 3. the relying party exchanges the code (openid-client checks state, nonce and the ID token).
 * Returns the tokens, the callback URL, and the login challenge (when there was a login page).
 */
export async function codeFlow({ config, browser, redirectUri, scope = "openid offline_access", signIn, pkceMethod = "S256", extraParams = {} }) {
    const issuer = config.serverMetadata().issuer;
    const pkceCodeVerifier = client.randomPKCECodeVerifier();
    const codeChallenge = pkceMethod === "plain" ? pkceCodeVerifier : await client.calculatePKCECodeChallenge(pkceCodeVerifier);
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope,
        state,
        nonce,
        code_challenge: codeChallenge,
        code_challenge_method: pkceMethod,
        ...extraParams,
    });
    const first = await browser.fetch(url);
    const location = first.headers.get("location");
    if (first.status !== 302 || !location) {
        throw new Error(`authorization request: expected a 302, got ${first.status} ${await first.text()}`);
    }
    let callback = location;
    let loginChallenge;
    if (!location.startsWith(redirectUri)) {
        loginChallenge = new URL(location).searchParams.get("loginChallenge");
        if (!loginChallenge) throw new Error(`expected the frontend's login page, got ${location}`);
        if (signIn) await signIn(browser);
        const login = await browser.fetch(`${issuer}/oauth/login?loginChallenge=${encodeURIComponent(loginChallenge)}`);
        const body = await login.json();
        if (login.status !== 200 || !body.frontendRedirectTo) {
            throw new Error(`GET /oauth/login: ${login.status} ${JSON.stringify(body)}`);
        }
        callback = body.frontendRedirectTo;
    }
    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
        pkceCodeVerifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: scope.split(" ").includes("openid"),
    });
    return { tokens, callback, loginChallenge, pkceCodeVerifier, state, nonce };
}

/**
 * RP-initiated logout: the browser opens the end-session URL. With a SuperTokens session the SDK
 * sends it to the frontend's confirmation page (`…/oauth/logout?logoutChallenge=…`), which calls
 * `POST {issuer}/oauth/logout`; without one it redirects to the post-logout URI at once.
 * Returns where the browser ends up and whether the confirmation page was involved.
 */
export async function logout({ config, browser, idToken, postLogoutRedirectUri, state }) {
    const issuer = config.serverMetadata().issuer;
    const params = { id_token_hint: idToken };
    if (postLogoutRedirectUri) params.post_logout_redirect_uri = postLogoutRedirectUri;
    if (state) params.state = state;
    const first = await browser.fetch(client.buildEndSessionUrl(config, params));
    const location = first.headers.get("location");
    if (first.status !== 302 || !location) {
        throw new Error(`end-session request: expected a 302, got ${first.status} ${await first.text()}`);
    }
    const challenge = new URL(location).searchParams.get("logoutChallenge");
    if (!challenge) return { redirectTo: location, confirmed: false };
    // The frontend's confirmation page; `rid` satisfies the SDK's custom-header anti-CSRF check.
    const response = await browser.fetch(`${issuer}/oauth/logout`, {
        method: "POST",
        headers: { "content-type": "application/json", rid: "oauth2provider" },
        body: JSON.stringify({ logoutChallenge: challenge }),
    });
    const body = await response.json();
    if (response.status !== 200 || body.status !== "OK") {
        throw new Error(`POST /oauth/logout: ${response.status} ${JSON.stringify(body)}`);
    }
    return { redirectTo: body.frontendRedirectTo, confirmed: true };
}

/** Calls the SDK's token endpoint directly (for negative cases openid-client would refuse to send). */
export async function rawTokenRequest(config, form, { clientId, clientSecret } = {}) {
    const headers = { "content-type": "application/x-www-form-urlencoded" };
    if (clientSecret !== undefined) {
        const id = encodeURIComponent(clientId ?? config.clientMetadata().client_id);
        headers.authorization = `Basic ${Buffer.from(`${id}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;
    }
    const response = await fetch(config.serverMetadata().token_endpoint, { method: "POST", headers, body: new URLSearchParams(form) });
    return { status: response.status, body: await response.json() };
}

/** The payload of a compact JWT, unverified. */
export function decodeJwt(token) {
    const [header, payload] = token.split(".");
    return { header: JSON.parse(Buffer.from(header, "base64url")), payload: JSON.parse(Buffer.from(payload, "base64url")) };
}

/**
 * Verifies an RS256 JWT against a JWKS (`{keys: [...]}`, as the issuer's `jwks_uri` serves it) with
 * node's own crypto, independent of the SDK. Returns the payload; throws if no key verifies it.
 */
export function verifyJwt(token, jwks) {
    const [h, p, s] = token.split(".");
    const { header, payload } = decodeJwt(token);
    if (header.alg !== "RS256") throw new Error(`unexpected alg ${header.alg}`);
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    if (!jwk) throw new Error(`no key ${header.kid} in the JWKS`);
    const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
    const ok = crypto.verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
    if (!ok) throw new Error("bad signature");
    return payload;
}

/** The issuer's JWKS. */
export async function fetchJwks(config) {
    const response = await fetch(config.serverMetadata().jwks_uri);
    return response.json();
}

export { client };
