"use strict";
// Shared helpers of the cluster tests: raw requests to the balancer or to one node, as the SDKs
// send them (cdi-version 5.4). Run under scripts/cluster.sh, which sets PORTCULLIS_URL (the
// balancer), PORTCULLIS_NODE_URLS (the nodes), PORTCULLIS_TEST_PG_URI and POSTGRESQL_TABLE_SCHEMA.

const crypto = require("node:crypto");
const { execFileSync } = require("node:child_process");

function env(name) {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run this under scripts/cluster.sh`);
    return v;
}

const LB = env("PORTCULLIS_URL");
const NODES = env("PORTCULLIS_NODE_URLS").split(/\s+/).filter(Boolean);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const randomHex = (bytes = 4) => crypto.randomBytes(bytes).toString("hex");

/** A request; returns { status, body } with `body` parsed when it is JSON. */
async function call(base, method, path, body) {
    const res = await fetch(base + path, {
        method,
        headers: { "cdi-version": "5.4", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed = text;
    try {
        parsed = JSON.parse(text);
    } catch {
        // plain text (the core's 400s)
    }
    return { status: res.status, body: parsed };
}

/** A request that must answer 200 with status OK; returns the body. */
async function ok(base, method, path, body) {
    const r = await call(base, method, path, body);
    if (r.status !== 200 || r.body.status !== "OK") {
        throw new Error(`${method} ${base}${path} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    return r.body;
}

async function createApp(base, appId, coreConfig = {}) {
    return ok(base, "PUT", "/recipe/multitenancy/app/v2", { appId, coreConfig });
}

/** Runs SQL through psql against `uri`; returns the rows as arrays of strings. */
function psql(uri, sql) {
    const out = execFileSync("psql", [uri, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], {
        encoding: "utf8",
    });
    return out
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => l.split("\t"));
}

/** The value of a Prometheus sample `name{labels}` in a /metrics text, 0 when absent. */
function metric(text, name, labels) {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
    return line ? Number(line.split(" ").pop()) : 0;
}

module.exports = { LB, NODES, env, sleep, randomHex, call, ok, createApp, psql, metric };
