"use strict";
// Harness for the old-SDK tests: supertokens-node majors that apps still pin, installed under npm
// aliases (`supertokens-node-13` … `-17`, see package.json), each speaking its own CDI version.
//
// PHASE 2 of issue 21. These files are not run by `npm test` (which runs test/ only); run them with
// `npm run test:old`. They pass once Portcullis answers every CDI version with that version's
// behaviour; before that, 13–15 stop at start-up ("The running SuperTokens core version is not
// compatible with this NodeJS SDK").
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
 * Options: `packages` (aliases to init, e.g. ["supertokens-node-14"]), `recipeList(pkg)` (the
 * recipes for one package), `coreConfig` (the app's), `init(pkg)` (extra init fields).
 */
function setupOld({ packages, recipeList, coreConfig = {}, init = () => ({}) }) {
    const ctx = { server: null, recorder: null, appId: crypto.randomUUID(), connectionURI: null, calls: [], test: null };

    before(async () => {
        ctx.server = await startPortcullis();
        try {
            await createApp(ctx.server.baseURL, ctx.appId, coreConfig);
        } catch (err) {
            err.message += `\nPortcullis output:\n${ctx.server.output()}`;
            throw err;
        }
        const prefix = `/appid-${ctx.appId}`;
        ctx.recorder = await startRecorder(ctx.server.baseURL, prefix, ctx.calls);
        ctx.connectionURI = `${ctx.recorder.baseURL}${prefix}`;
        for (const pkg of packages) {
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
        if (!ctx.server) return;
        await ctx.server.stop();
        try {
            assertNoSecretsLogged(ctx.server.output(), ctx.calls);
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
