"use strict";
// Harness for the old-SDK tests: supertokens-node majors that apps still pin, installed under npm
// aliases (`supertokens-node-13` … `-17`, see package.json), each speaking its own CDI version.
//
// `old-sdks.test.js` runs every file here in one process (one server, one app), on the backend of
// PORTCULLIS_BACKEND; `scripts/test.sh` runs it on both (`npm run test:old`).
//
// `setupOld({ packages, recipeList, coreConfig })` registers hooks that, as `helpers.setup()` does,
// start one Portcullis (PORTCULLIS_BACKEND sqlite or postgres) and create a fresh app; then put a
// recording proxy in front of it and call `init` of every listed package against
// `<proxy>/appid-<id>` (several majors may share one process and one app: each package has its own
// singletons). The proxy records every core call the SDKs make — `{method, path, query, cdiVersion,
// rid, body, status, reply}`, `path` without the `/appid-<id>` prefix — which old SDKs have no
// interceptor for, so tests can check what each version sends and is answered.

const crypto = require("node:crypto");
const http = require("node:http");
const { before, after, test } = require("node:test");

const { startPortcullis, createApp, assertNoSecretsLogged, EXTERNAL } = require("../helpers");

const parse = (text) => {
    if (!text) return undefined;
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
};

/** A reverse proxy to `target` that records every request and its reply in `calls`. */
async function startRecorder(target, appPrefix, calls) {
    const server = http.createServer((req, res) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", async () => {
            const body = Buffer.concat(chunks);
            const headers = {};
            for (const [k, v] of Object.entries(req.headers)) {
                if (!["host", "connection", "content-length", "transfer-encoding"].includes(k)) headers[k] = v;
            }
            try {
                const upstream = await fetch(target + req.url, {
                    method: req.method,
                    headers,
                    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
                });
                const text = await upstream.text();
                const url = new URL(req.url, "http://x");
                calls.push({
                    method: req.method,
                    path: url.pathname.startsWith(appPrefix) ? url.pathname.slice(appPrefix.length) : url.pathname,
                    query: Object.fromEntries(url.searchParams),
                    params: Object.fromEntries(url.searchParams),
                    cdiVersion: req.headers["cdi-version"],
                    rid: req.headers.rid,
                    body: parse(body.toString("utf8")),
                    status: upstream.status,
                    reply: parse(text),
                });
                const out = { "content-type": upstream.headers.get("content-type") || "text/plain" };
                const cache = upstream.headers.get("cache-control");
                if (cache) out["cache-control"] = cache;
                res.writeHead(upstream.status, out);
                res.end(text);
            } catch (err) {
                res.writeHead(502, { "content-type": "text/plain" });
                res.end(`recorder: ${err.message}`);
            }
        });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        baseURL: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((resolve) => server.close(resolve)),
    };
}

const appInfo = { appName: "old-sdk", apiDomain: "http://localhost:3001", websiteDomain: "http://localhost:3000", apiBasePath: "/auth" };

/**
 * One Portcullis and one app per process, shared by every `setupOld` of the process (the files of
 * `old-sdks.test.js` run in one process: a new app's first session makes its signing keys, which
 * costs seconds in a debug build, so they make them once). Started by the first user, stopped by
 * the last.
 */
let shared = null;
let sharedUsers = 0;
const sharedCalls = [];
const initialised = new Set();

function sharedServer(coreConfig) {
    if (!shared) {
        shared = (async () => {
            const server = await startPortcullis();
            const appId = crypto.randomUUID();
            try {
                await createApp(server.baseURL, appId, coreConfig);
            } catch (err) {
                err.message += `\nPortcullis output:\n${server.output()}`;
                throw err;
            }
            return { server, appId };
        })();
    }
    return shared;
}

/**
 * Options: `packages` (aliases to init, e.g. ["supertokens-node-14"]), `recipeList(pkg)` (the
 * recipes for one package), `coreConfig` (the app's), `init(pkg)` (extra init fields). Each call
 * has its own recording proxy in front of the shared server and app, so its `calls` are those of
 * its own packages. A package already initialised in this process (by an earlier `setupOld`) keeps
 * that initialisation and its proxy.
 */
function setupOld({ packages, recipeList, coreConfig = {}, init = () => ({}) }) {
    const ctx = { server: null, recorder: null, appId: null, connectionURI: null, calls: [], test: null };
    sharedUsers += 1;

    before(async () => {
        const { server, appId } = await sharedServer(coreConfig);
        ctx.server = server;
        ctx.appId = appId;
        const prefix = `/appid-${ctx.appId}`;
        ctx.recorder = await startRecorder(ctx.server.baseURL, prefix, ctx.calls);
        ctx.connectionURI = `${ctx.recorder.baseURL}${prefix}`;
        for (const pkg of packages.filter((p) => !initialised.has(p))) {
            initialised.add(pkg);
            require(pkg).init({
                supertokens: { connectionURI: ctx.connectionURI },
                appInfo,
                recipeList: recipeList(pkg),
                telemetry: false,
                ...init(pkg),
            });
        }
    });

    after(async () => {
        if (ctx.recorder) await ctx.recorder.close();
        sharedCalls.push(...ctx.calls);
        sharedUsers -= 1;
        if (sharedUsers > 0 || !ctx.server) return;
        await ctx.server.stop();
        try {
            assertNoSecretsLogged(ctx.server.output(), sharedCalls);
        } catch (err) {
            console.error(err.message);
            process.exitCode = 1;
        }
    });

    /** The core calls recorded while `fn` runs. */
    ctx.record = async (fn) => {
        const from = ctx.calls.length;
        const result = await fn();
        return { result, calls: ctx.calls.slice(from) };
    };

    /** A raw request to the app (not through an SDK), with the given `cdi-version` (none if null). */
    ctx.coreRequest = async (method, path, body, cdiVersion = "5.4") => {
        const headers = {};
        if (cdiVersion !== null) headers["cdi-version"] = cdiVersion;
        if (body !== undefined) headers["content-type"] = "application/json";
        const res = await fetch(`${ctx.server.baseURL}/appid-${ctx.appId}${path}`, {
            method,
            headers,
            body: body !== undefined ? JSON.stringify(body) : undefined,
        });
        const text = await res.text();
        return { status: res.status, body: parse(text) };
    };

    ctx.test = (name, fn) =>
        test(name, async (t) => {
            const from = ctx.server ? ctx.server.output().length : 0;
            try {
                await fn(t);
            } catch (err) {
                const out = ctx.server ? ctx.server.output().slice(from) : "";
                console.error(`--- Portcullis output during "${name}" ---\n${out || "(none)"}\n--- end ---`);
                throw err;
            }
        });

    return ctx;
}

/** Header and payload of a V3+ token (base64url JSON), or of a V1/V2 one (standard base64). */
function decodeToken(token) {
    const [h, p] = token.split(".");
    const part = (s) => JSON.parse(Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"));
    return { header: part(h), payload: part(p) };
}

/** The version an access token names: 1 or 2 for the fixed legacy headers, else its header's `version`. */
function tokenVersion(token) {
    const { header } = decodeToken(token);
    return Number(header.version);
}

const keysOf = (o) => Object.keys(o).sort();

module.exports = { setupOld, decodeToken, tokenVersion, keysOf, EXTERNAL };
