"use strict";
// Tenants sharded over two databases (postgresql_connection_uri in their coreConfig), under load
// through the balancer of scripts/cluster.sh: no request fails, and each tenant's rows are in its
// own database and nowhere else (checked with psql).
//
// CLUSTER_LOAD_SECONDS (default 8) and CLUSTER_LOAD_WORKERS (default 16) set the load.

const assert = require("node:assert/strict");
const { test, after } = require("node:test");
const { LB, env, randomHex, call, ok, createApp, psql } = require("./lib");

const SECONDS = Number(process.env.CLUSTER_LOAD_SECONDS || 8);
const WORKERS = Number(process.env.CLUSTER_LOAD_WORKERS || 16);

const baseUri = env("PORTCULLIS_TEST_PG_URI");
const schema = env("POSTGRESQL_TABLE_SCHEMA");
/** The same server, another database. */
const uriOf = (db) => {
    const u = new URL(baseUri);
    u.pathname = `/${db}`;
    return u.toString();
};

const suffix = randomHex();
const shards = { a: `shard_a_${suffix}`, b: `shard_b_${suffix}` };
for (const db of Object.values(shards)) psql(baseUri, `CREATE DATABASE ${db}`);
after(() => {
    // The nodes keep pools open on them: force the drop.
    for (const db of Object.values(shards)) psql(baseUri, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
});

test("tenants on two databases, under load through the balancer", async () => {
    const appId = `shards-${suffix}`;
    await createApp(LB, appId);
    const tenants = {
        "a-1": shards.a,
        "a-2": shards.a,
        "b-1": shards.b,
        "b-2": shards.b,
        "base-1": null, // the base database
    };
    for (const [tenantId, db] of Object.entries(tenants)) {
        const coreConfig = db ? { postgresql_connection_uri: uriOf(db) } : {};
        await ok(LB, "PUT", `/appid-${appId}/recipe/multitenancy/tenant/v2`, {
            tenantId,
            firstFactors: ["emailpassword"],
            coreConfig,
        });
    }

    const ids = Object.keys(tenants);
    const signedUp = Object.fromEntries(ids.map((t) => [t, 0]));
    const sessions = Object.fromEntries(ids.map((t) => [t, 0]));
    const errors = [];
    let requests = 0;
    const step = async (path, body) => {
        requests++;
        const r = await call(LB, "POST", `/appid-${appId}${path}`, body);
        if (r.status !== 200 || r.body.status !== "OK") {
            errors.push(`${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
            return null;
        }
        return r.body;
    };
    const round = async (w, i) => {
        const tenantId = ids[(w + i) % ids.length];
        const email = `w${w}-${i}-${randomHex()}@example.com`;
        const up = await step(`/${tenantId}/recipe/signup`, { email, password: "pw-123456" });
        if (!up) return;
        signedUp[tenantId]++;
        const inn = await step(`/${tenantId}/recipe/signin`, { email, password: "pw-123456" });
        if (!inn) return;
        assert.equal(inn.user.id, up.user.id);
        const s = await step(`/${tenantId}/recipe/session`, {
            userId: up.user.id,
            userDataInJWT: {},
            userDataInDatabase: {},
            enableAntiCsrf: false,
        });
        if (!s) return;
        sessions[tenantId]++;
        await step(`/recipe/session/verify`, {
            accessToken: s.accessToken.token,
            doAntiCsrfCheck: false,
            enableAntiCsrf: false,
            checkDatabase: true,
        });
    };
    // Warm-up, not measured: the app's signing keys are made (RSA, slow in a debug build) and
    // every node opens its pools to both shards.
    await Promise.all(Array.from({ length: 2 * ids.length }, (_, w) => round(w, 0)));
    const warm = requests;
    const started = Date.now();
    const until = started + SECONDS * 1000;
    const worker = async (w) => {
        for (let i = 0; Date.now() < until; i++) await round(w, i);
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    const secs = (Date.now() - started) / 1000;
    requests -= warm;
    console.log(
        `# ${requests} requests in ${secs.toFixed(1)} s (${(requests / secs).toFixed(0)}/s) from ${WORKERS} workers, ` +
            `${errors.length} errors; sign-ups per tenant ${JSON.stringify(signedUp)}`,
    );
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} requests failed`);

    // Each tenant's users and sessions are in its own database, and only there.
    const count = (uri, table) =>
        Object.fromEntries(
            psql(uri, `SELECT tenant_id, count(*) FROM ${schema}.${table} WHERE app_id = '${appId}' GROUP BY tenant_id`).map(
                ([t, n]) => [t, Number(n)],
            ),
        );
    const expect = (db, of) =>
        Object.fromEntries(
            Object.entries(tenants)
                .filter(([, d]) => d === db)
                .map(([t]) => [t, of[t]]),
        );
    for (const [db, uri] of [
        [shards.a, uriOf(shards.a)],
        [shards.b, uriOf(shards.b)],
        [null, baseUri],
    ]) {
        const where = db || "the base database";
        assert.deepEqual(count(uri, "emailpassword_user_to_tenant"), expect(db, signedUp), `users in ${where}`);
        assert.deepEqual(count(uri, "session_info"), expect(db, sessions), `sessions in ${where}`);
    }
});
