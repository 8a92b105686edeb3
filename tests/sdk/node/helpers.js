"use strict";
// Shared harness for the supertokens-node tests.
//
// Every test file calls `setup()` once at top level. It registers hooks that
//   1. start one Portcullis process on a free port (sqlite or postgres backend),
//   2. create a fresh app on it with a raw `PUT /recipe/multitenancy/app/v2`,
//   3. call `supertokens.init` with connectionURI `http://127.0.0.1:<port>/appid-<id>`,
// and stop the process (SIGTERM) when the file is done.
//
// With PORTCULLIS_URL set (e.g. the balancer of scripts/cluster.sh), no process is started:
// the apps are created on that core, which must run with --test-mode for the tests whose app
// config needs it. `EXTERNAL` tells tests so; the server output is then not available.
//
// `supertokens.init` may run only once per process, so isolation is one app per
// test file (node --test runs each file in its own process) and unique tenant ids
// per test (`uniqueId()`).
//
// `setup(options)` takes, all optional:
//   coreConfig   the app's coreConfig (e.g. { access_token_validity: 2 } in test mode)
//   recipeList   a function returning the recipe list for supertokens.init
//                (default: Multitenancy, EmailPassword, ThirdParty, Passwordless, Session)
//   init         extra top-level fields for supertokens.init (e.g. { framework: "express" })
//   warmUpKeys   fetch the app's JWKS once before the tests, so that its signing keys
//                exist. A debug build takes a second or two to generate RSA keys on
//                first use, which would eat most of a 2 s access token's lifetime.
// Every core call the SDK makes is recorded in `ctx.coreCalls` (through the SDK's
// `supertokens.networkInterceptor`), as { method, path, params, body }, with `path`
// relative to the connectionURI. The JWKS fetches of the session recipe go through
// `jose`, not the querier, and are not recorded.

const { spawn } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { before, after, test } = require("node:test");

const supertokens = require("supertokens-node");
const Multitenancy = require("supertokens-node/recipe/multitenancy");
const EmailPassword = require("supertokens-node/recipe/emailpassword");
const ThirdParty = require("supertokens-node/recipe/thirdparty");
const Passwordless = require("supertokens-node/recipe/passwordless");
const Session = require("supertokens-node/recipe/session");

const PORTCULLIS_BIN = process.env.PORTCULLIS_BIN || path.join(__dirname, "..", "..", "..", "target", "debug", "portcullis");
const BACKEND = process.env.PORTCULLIS_BACKEND || "sqlite";
const EXTERNAL_URL = process.env.PORTCULLIS_URL ? process.env.PORTCULLIS_URL.replace(/\/+$/, "") : null;
const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

function randomHex(bytes = 4) {
    return crypto.randomBytes(bytes).toString("hex");
}

/** A tenant id that no other test uses: `<prefix>-<8 hex chars>`. */
function uniqueId(prefix = "t") {
    return `${prefix}-${randomHex()}`;
}

function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Environment of the child: the backend is chosen by PORTCULLIS_BACKEND. */
function backendEnv() {
    const env = { ...process.env };
    delete env.PORTCULLIS_SQLITE_PATH;
    delete env.POSTGRESQL_CONNECTION_URI;
    delete env.POSTGRESQL_TABLE_SCHEMA;

    if (BACKEND === "sqlite") {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "portcullis-sdk-node-"));
        env.PORTCULLIS_SQLITE_PATH = path.join(dir, "portcullis.db");
        return { env, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
    }
    if (BACKEND === "postgres") {
        const uri = process.env.PORTCULLIS_TEST_PG_URI;
        if (!uri) {
            throw new Error("PORTCULLIS_BACKEND=postgres needs PORTCULLIS_TEST_PG_URI (e.g. postgresql://postgres@127.0.0.1:5433/postgres)");
        }
        env.POSTGRESQL_CONNECTION_URI = uri;
        // A fresh schema per process keeps runs isolated. It is left behind.
        env.POSTGRESQL_TABLE_SCHEMA = `t_${randomHex(6)}`;
        return { env, cleanup: () => {} };
    }
    throw new Error(`unknown PORTCULLIS_BACKEND '${BACKEND}' (expected sqlite or postgres)`);
}

/** Request fields whose values are secrets: the server must never write them to its log. */
const SECRET_FIELDS = /^(password|newPassword|token|accessToken|refreshToken|antiCsrfToken|userInputCode|linkCode|totp|secretKey|clientSecret)$/;

/** Every secret value the SDK sent to the core (bodies and query parameters), at any depth. */
function secretsSent(calls) {
    const found = new Set();
    const walk = (value, key) => {
        if (typeof value === "string") {
            if (key !== undefined && SECRET_FIELDS.test(key) && value.length >= 6) found.add(value);
        } else if (Array.isArray(value)) {
            value.forEach((v) => walk(v, key));
        } else if (value && typeof value === "object") {
            for (const [k, v] of Object.entries(value)) walk(v, k);
        }
    };
    for (const call of calls) {
        walk(call.body);
        walk(call.params);
    }
    return found;
}

/**
 * The whole log of this file's Portcullis (at DEBUG level) against every password, token, code and
 * key the SDK sent it: none may appear.
 */
function assertNoSecretsLogged(log, calls) {
    const leaked = [...secretsSent(calls)].filter((secret) => log.includes(secret));
    if (leaked.length > 0) {
        throw new Error(`Portcullis logged ${leaked.length} secret value(s) the SDK sent, e.g. one starting ${leaked[0].slice(0, 4)}…`);
    }
}

/**
 * Starts `portcullis start --host 127.0.0.1 --port <free> --test-mode` and waits
 * until GET /hello answers 200. Returns { port, baseURL, output(), stop() }.
 */
async function startPortcullis() {
    if (EXTERNAL_URL) {
        return { port: Number(new URL(EXTERNAL_URL).port), baseURL: EXTERNAL_URL, output: () => "", async stop() {} };
    }
    if (!fs.existsSync(PORTCULLIS_BIN)) {
        throw new Error(`Portcullis binary not found at ${PORTCULLIS_BIN} (set PORTCULLIS_BIN)`);
    }
    const port = await freePort();
    const baseURL = `http://127.0.0.1:${port}`;
    const { env, cleanup } = backendEnv();
    // The most the server ever logs, so that the secrets check after the file sees it all.
    env.LOG_LEVEL = "DEBUG";

    const child = spawn(
        PORTCULLIS_BIN,
        ["start", "--host", "127.0.0.1", "--port", String(port), "--test-mode"],
        { env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    child.stdout.on("data", (chunk) => (log += chunk));
    child.stderr.on("data", (chunk) => (log += chunk));
    let exited = null;
    const exitPromise = new Promise((resolve) => {
        child.on("exit", (code, signal) => {
            exited = { code, signal };
            resolve();
        });
    });

    const server = {
        port,
        baseURL,
        output: () => log,
        async stop() {
            if (exited === null) {
                child.kill("SIGTERM");
                const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
                await exitPromise;
                clearTimeout(timer);
            }
            cleanup();
        },
    };

    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
        if (exited !== null) {
            await server.stop();
            throw new Error(`Portcullis exited during startup (${JSON.stringify(exited)}); output:\n${log}`);
        }
        try {
            const res = await fetch(`${baseURL}/hello`);
            await res.text();
            if (res.status === 200) return server;
        } catch {
            // not listening yet
        }
        if (Date.now() > deadline) {
            await server.stop();
            throw new Error(`Portcullis did not answer GET /hello with 200 within ${STARTUP_TIMEOUT_MS} ms; output:\n${log}`);
        }
        await sleep(100);
    }
}

/** Creates an app on the base app without an api key (sdk-test-contract.md §3). */
async function createApp(baseURL, appId, coreConfig = {}) {
    const res = await fetch(`${baseURL}/recipe/multitenancy/app/v2`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ appId, coreConfig }),
    });
    const text = await res.text();
    if (res.status !== 200) {
        throw new Error(`PUT /recipe/multitenancy/app/v2 answered ${res.status}: ${text}`);
    }
    const body = JSON.parse(text);
    if (body.status !== "OK" || body.createdNew !== true) {
        throw new Error(`PUT /recipe/multitenancy/app/v2 answered unexpected body: ${text}`);
    }
}

const defaultRecipeList = () => [
    Multitenancy.init(),
    EmailPassword.init(),
    ThirdParty.init(),
    Passwordless.init({ contactMethod: "EMAIL_OR_PHONE", flowType: "USER_INPUT_CODE_AND_MAGIC_LINK" }),
    Session.init(),
];

/**
 * Registers the per-file hooks. Returns a context whose `test(name, fn)` works
 * like node:test's `test` but prints the server output produced during the test
 * when it fails. Options: see the top of this file.
 */
function setup(options = {}) {
    const { coreConfig = {}, recipeList = defaultRecipeList, init = {}, warmUpKeys = false } = options;
    const ctx = {
        server: null,
        appId: crypto.randomUUID(),
        connectionURI: null,
        test: null,
        /** Core calls made by the SDK, in order: { method, path, params, body }. */
        coreCalls: [],
    };

    before(async () => {
        ctx.server = await startPortcullis();
        try {
            await createApp(ctx.server.baseURL, ctx.appId, coreConfig);
        } catch (err) {
            err.message += `\nPortcullis output:\n${ctx.server.output()}`;
            throw err;
        }
        ctx.connectionURI = `${ctx.server.baseURL}/appid-${ctx.appId}`;
        if (warmUpKeys) {
            const res = await fetch(`${ctx.connectionURI}/.well-known/jwks.json`);
            const text = await res.text();
            if (res.status !== 200) throw new Error(`GET /.well-known/jwks.json answered ${res.status}: ${text}`);
        }
        supertokens.init({
            supertokens: {
                connectionURI: ctx.connectionURI,
                networkInterceptor: (request) => {
                    ctx.coreCalls.push({
                        method: request.method.toUpperCase(),
                        path: request.url.startsWith(ctx.connectionURI)
                            ? request.url.slice(ctx.connectionURI.length)
                            : request.url,
                        params: request.params,
                        // as sent: JSON.stringify drops undefined fields
                        body: request.body === undefined ? undefined : JSON.parse(JSON.stringify(request.body)),
                    });
                    return request;
                },
            },
            appInfo: { appName: "t", apiDomain: "http://localhost:3001", websiteDomain: "http://localhost:3000" },
            recipeList: typeof recipeList === "function" ? recipeList() : recipeList,
            telemetry: false,
            ...init,
        });
    });

    after(async () => {
        if (!ctx.server) return;
        await ctx.server.stop();
        // Not thrown: a throwing hook skips the file's later ones, and a server they would have
        // closed keeps the file's process (and the whole run) waiting for ever. A non-zero exit
        // code fails the file just the same.
        try {
            assertNoSecretsLogged(ctx.server.output(), ctx.coreCalls);
        } catch (err) {
            console.error(err.message);
            process.exitCode = 1;
        }
    });

    /** The core calls recorded while `fn` runs. */
    ctx.recordCoreCalls = async (fn) => {
        const from = ctx.coreCalls.length;
        const result = await fn();
        return { result, calls: ctx.coreCalls.slice(from) };
    };

    /**
     * A raw request to the app on Portcullis (not through the SDK), with the headers
     * the SDK sends (cdi-version 5.4). Returns { status, headers, body } with `body`
     * parsed as JSON when the reply is JSON.
     */
    ctx.coreRequest = async (method, path, body) => {
        const res = await fetch(`${ctx.connectionURI}${path}`, {
            method,
            headers: { "cdi-version": "5.4", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
            body: body !== undefined ? JSON.stringify(body) : undefined,
        });
        const text = await res.text();
        const isJson = (res.headers.get("content-type") || "").startsWith("application/json");
        return { status: res.status, headers: res.headers, body: isJson ? JSON.parse(text) : text };
    };

    ctx.test = (name, options, fn) => {
        if (typeof options === "function") {
            fn = options;
            options = {};
        }
        return test(name, options, async (t) => {
            const from = ctx.server ? ctx.server.output().length : 0;
            try {
                await fn(t);
            } catch (err) {
                await sleep(50); // let the child's last output arrive
                const out = ctx.server ? ctx.server.output().slice(from) : "";
                console.error(`--- Portcullis output during "${name}" (${EXTERNAL_URL || BACKEND}) ---\n${out || "(none)"}\n--- end ---`);
                throw err;
            }
        });
    };

    return ctx;
}

/** Asserts that `promise` rejects with the querier's error for the given core status. */
async function assertCoreError(assert, promise, status) {
    await assert.rejects(promise, (err) => {
        assert.match(err.message, /^SuperTokens core threw an error for a /);
        assert.match(err.message, new RegExp(`with status code: ${status} and message: `));
        return true;
    });
}

const sorted = (list) => [...list].sort();

/** Header and payload of a JWT, decoded without verifying anything. */
function decodeJwt(token) {
    const parts = token.split(".");
    if (parts.length !== 3) throw new Error(`not a JWT: ${token}`);
    const part = (p) => JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    return { header: part(parts[0]), payload: part(parts[1]) };
}

/** sha256 as lower-case hex of a UTF-8 string (algorithms.md: `sha256hex`). */
function sha256hex(s) {
    return crypto.createHash("sha256").update(s, "utf8").digest("hex");
}

/** `jose` as supertokens-node resolves it (a dependency of the SDK, not of these tests). */
function loadJose() {
    return require(require.resolve("jose", { paths: [path.dirname(require.resolve("supertokens-node"))] }));
}

/** Waits until `Date.now()` is past `epochMs` (plus `marginMs`). */
async function sleepUntil(epochMs, marginMs = 0) {
    const wait = epochMs + marginMs - Date.now();
    if (wait > 0) await sleep(wait);
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * An express app serving the SDK's own HTTP APIs (middleware() and errorHandler()) on a free
 * port, for tests that drive sign-in flows as a frontend would. Returns { baseURL, close() }.
 * Needs supertokens.init with framework "express" (the `init` option of setup()).
 * `routes(app)` may add the application's own routes after the SDK's middleware.
 */
async function startSdkWebApp(routes = () => {}) {
    const express = require("express");
    const { middleware, errorHandler } = require("supertokens-node/framework/express");
    const app = express();
    app.use(middleware());
    routes(app);
    app.use(errorHandler());
    const server = require("node:http").createServer(app);
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        baseURL: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((resolve) => server.close(resolve)),
    };
}

// TOTP (RFC 6238) for the tests, on node:crypto.
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32Decode(s) {
    const out = [];
    let value = 0;
    let bits = 0;
    for (const c of s.toUpperCase()) {
        const i = BASE32.indexOf(c);
        if (i < 0) continue;
        value = ((value << 5) | i) & 0xffff;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push((value >>> bits) & 0xff);
        }
    }
    return Buffer.from(out);
}

/** RFC 6238 (HMAC-SHA1, T0 = 0): the 6-digit code of a Base32 secret at `atMs`. */
function totpCode(secret, atMs = Date.now(), period = 30) {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / period)));
    const mac = crypto.createHmac("sha1", base32Decode(secret)).update(counter).digest();
    const offset = mac[mac.length - 1] & 0x0f;
    const binary = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
    return String(binary % 1_000_000).padStart(6, "0");
}

module.exports = {
    // for the old-SDK harness (test-old/harness.js), which inits other SDK majors itself
    startPortcullis,
    createApp,
    assertNoSecretsLogged,
    totpCode,
    startSdkWebApp,
    BACKEND,
    EXTERNAL: EXTERNAL_URL !== null,
    setup,
    uniqueId,
    randomHex,
    assertCoreError,
    sorted,
    sleep,
    sleepUntil,
    decodeJwt,
    sha256hex,
    loadJose,
    UUID_V4,
};
