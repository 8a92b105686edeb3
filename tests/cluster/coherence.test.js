"use strict";
// Several Portcullis nodes on one database (scripts/cluster.sh --test-mode): what one node does,
// the others see.
//   - a tenant created through one node is used by every other node at once;
//   - a tenant changed through one node is read back changed by every other node at once, and its
//     behaviour follows within TENANT_BOUND_MS (the nodes check the tenant configs' version every
//     second);
//   - a tenant removed through one node is gone on every other node within TENANT_BOUND_MS;
//   - no token signed by one node is rejected by another, nor missing from another's JWKS, while
//     the signing key rotates every 1.8 s;
//   - each background job runs once per interval across the nodes (the first runs come a minute
//     after start).

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { NODES, LB, env, sleep, randomHex, call, ok, createApp, psql, metric } = require("./lib");

/** The bound on behaviour changes: the 1 s version check plus a request's time. */
const TENANT_BOUND_MS = 1500;

assert.ok(NODES.length >= 2, "the cluster tests need at least two nodes");
const other = (i, k = 1) => NODES[(i + k) % NODES.length];

async function signUp(base, appId, tenantId, email) {
    return call(base, "POST", `/appid-${appId}/${tenantId}/recipe/signup`, { email, password: "pw-123456" });
}

/** Polls `probe` (returning true when converged) until it holds; returns the milliseconds it took. */
async function convergence(probe, limitMs) {
    const start = Date.now();
    for (;;) {
        if (await probe()) return Date.now() - start;
        if (Date.now() - start > limitMs) return Infinity;
        await sleep(50);
    }
}

test("a tenant created through one node is used by every other node at once", async () => {
    const appId = `c-${randomHex()}`;
    await createApp(NODES[0], appId);
    for (let i = 0; i < 3 * NODES.length; i++) {
        const tenantId = `t${i}-${randomHex()}`;
        const created = await ok(NODES[i % NODES.length], "PUT", `/appid-${appId}/recipe/multitenancy/tenant/v2`, {
            tenantId,
            firstFactors: ["emailpassword"],
        });
        assert.equal(created.createdNew, true);
        for (let k = 1; k < NODES.length; k++) {
            const r = await signUp(other(i, k), appId, tenantId, `u${k}-${randomHex()}@example.com`);
            assert.equal(r.status, 200, `sign-up in ${tenantId} on ${other(i, k)} right after its creation: ${JSON.stringify(r.body)}`);
            assert.equal(r.body.status, "OK");
        }
    }
});

test("a tenant changed through one node: read back at once, behaviour within the bound", async () => {
    const appId = `c-${randomHex()}`;
    await createApp(NODES[0], appId, { access_token_validity: 3600 });
    const tenantId = `t-${randomHex()}`;
    const path = `/appid-${appId}/recipe/multitenancy/tenant/v2`;
    await ok(NODES[0], "PUT", path, { tenantId, firstFactors: ["emailpassword"] });
    for (const node of NODES) await ok(node, "GET", `/appid-${appId}/${tenantId}/recipe/multitenancy/tenant/v2`);

    // Configs as the multitenancy APIs show them: changed on every node at once.
    await ok(NODES[1], "PUT", path, { tenantId, firstFactors: ["thirdparty"], coreConfig: { email_verification_token_lifetime: 7200000 } });
    for (const node of NODES) {
        const t = await ok(node, "GET", `/appid-${appId}/${tenantId}/recipe/multitenancy/tenant/v2`);
        assert.deepEqual(t.firstFactors, ["thirdparty"], `firstFactors on ${node}`);
        assert.equal(t.coreConfig.email_verification_token_lifetime, 7200000, `coreConfig on ${node}`);
    }

    // Behaviour: sessions created on the other nodes take the app's new access-token validity.
    const validity = async (node) => {
        const s = await ok(node, "POST", `/appid-${appId}/recipe/session`, {
            userId: "u1",
            userDataInJWT: {},
            userDataInDatabase: {},
            enableAntiCsrf: false,
        });
        return Math.round((s.accessToken.expiry - Date.now()) / 1000);
    };
    // Within access_token_validity_jitter (5 %) of the configured validity.
    const near = (v, want) => Math.abs(v - want) <= 0.06 * want;
    for (const node of NODES) {
        const v = await validity(node);
        assert.ok(near(v, 3600), `validity ${v} s on ${node}`);
    }
    await createApp(NODES[0], appId, { access_token_validity: 1800 });
    for (let k = 1; k < NODES.length; k++) {
        const ms = await convergence(async () => near(await validity(NODES[k]), 1800), 5000);
        console.log(`# access_token_validity change reached ${NODES[k]} after ${ms} ms`);
        assert.ok(ms <= TENANT_BOUND_MS, `${NODES[k]} took ${ms} ms (bound ${TENANT_BOUND_MS} ms)`);
    }
});

test("a tenant removed through one node is gone on every other node within the bound", async () => {
    const appId = `c-${randomHex()}`;
    await createApp(NODES[0], appId);
    const tenantId = `t-${randomHex()}`;
    await ok(NODES[0], "PUT", `/appid-${appId}/recipe/multitenancy/tenant/v2`, { tenantId, firstFactors: ["emailpassword"] });
    for (const node of NODES) assert.equal((await signUp(node, appId, tenantId, `${randomHex()}@example.com`)).status, 200);

    const removed = await ok(NODES[0], "POST", `/appid-${appId}/recipe/multitenancy/tenant/remove`, { tenantId });
    assert.equal(removed.didExist, true);
    for (let k = 1; k < NODES.length; k++) {
        const seen = [];
        const ms = await convergence(async () => {
            const r = await signUp(NODES[k], appId, tenantId, `${randomHex()}@example.com`);
            seen.push(r.status);
            return r.status === 400 && /not found/.test(String(r.body));
        }, 5000);
        console.log(`# removal reached ${NODES[k]} after ${ms} ms (answers meanwhile: ${seen.join(",")})`);
        assert.ok(ms <= TENANT_BOUND_MS, `${NODES[k]} took ${ms} ms (bound ${TENANT_BOUND_MS} ms)`);
        assert.ok(!seen.some((s) => s >= 500), `no 5xx while the removal spreads: ${seen.join(",")}`);
    }
});

test("no token signed by one node is rejected by another, across key rotations", async () => {
    // 0.0005 h = 1.8 s per key (test mode).
    const appId = `c-${randomHex()}`;
    await createApp(LB, appId, { access_token_dynamic_signing_key_update_interval: "0.0005" });
    const app = `/appid-${appId}`;
    const kids = new Set();
    let tokens = 0;
    // For 6 s and until three keys have signed (two rotations), at most 20 s.
    const start = Date.now();
    const busy = (i) => i < 2 || Date.now() - start < 6000 || (kids.size < 3 && Date.now() - start < 20_000);
    for (let i = 0; busy(i); i++) {
        const signer = NODES[i % NODES.length];
        const s = await ok(signer, "POST", `${app}/recipe/session`, {
            userId: `u${i}`,
            userDataInJWT: { i },
            userDataInDatabase: {},
            enableAntiCsrf: false,
        });
        let access = s.accessToken.token;
        let refresh = s.refreshToken.token;
        for (let k = 0; k < NODES.length; k++) {
            const node = other(i, k);
            const kid = JSON.parse(Buffer.from(access.split(".")[0], "base64url")).kid;
            kids.add(kid);
            // What an SDK verifying locally needs: the kid in this node's JWKS.
            const jwks = await call(node, "GET", `${app}/.well-known/jwks.json`);
            assert.ok(jwks.body.keys.some((key) => key.kid === kid), `${kid} (signed by ${signer}) missing from the JWKS of ${node}`);
            const v = await call(node, "POST", `${app}/recipe/session/verify`, {
                accessToken: access,
                doAntiCsrfCheck: false,
                enableAntiCsrf: false,
                checkDatabase: true,
            });
            assert.equal(v.body.status, "OK", `a token signed by ${signer} with ${kid}, verified on ${node}: ${JSON.stringify(v.body)}`);
            tokens++;
            const r = await call(node, "POST", `${app}/recipe/session/refresh`, { refreshToken: refresh, enableAntiCsrf: false, useDynamicSigningKey: true });
            assert.equal(r.body.status, "OK", `refresh on ${node}: ${JSON.stringify(r.body)}`);
            access = r.body.accessToken.token;
            refresh = r.body.refreshToken.token;
        }
    }
    console.log(`# ${tokens} verifications and refreshes across nodes, ${kids.size} signing keys`);
    assert.ok(kids.size >= 3, `the keys must have rotated at least twice (saw ${[...kids].join(", ")})`);
});

test("each background job runs once across the nodes (a minute after start)", async () => {
    const started = Number(env("PORTCULLIS_CLUSTER_STARTED_MS"));
    // The jobs are first checked 60 s after each node starts; allow for the run itself.
    const due = started + 65_000;
    if (Date.now() < due) await sleep(due - Date.now());
    const jobs = [
        "portcullis.cron.delete_expired_sessions",
        "portcullis.cron.delete_expired_signing_keys",
        "portcullis.cron.delete_expired_passwordless_devices",
        "portcullis.cron.delete_expired_totp_codes",
        "portcullis.cron.delete_expired_dashboard_sessions",
        "portcullis.cron.delete_expired_webauthn_data",
        "portcullis.cron.delete_expired_saml_data",
        "portcullis.cron.delete_expired_oauth_rows",
        "portcullis.cron.delete_expired_rate_limits",
    ];
    const texts = [];
    for (const node of NODES) {
        const res = await fetch(`${node}/metrics`);
        assert.equal(res.status, 200);
        texts.push(await res.text());
    }
    for (const job of jobs) {
        const runs = texts.map((t) => metric(t, "portcullis_cron_runs_total", `job="${job}"`));
        const failures = texts.map((t) => metric(t, "portcullis_cron_failures_total", `job="${job}"`));
        assert.equal(runs.reduce((a, b) => a + b, 0), 1, `${job} runs per node: ${runs.join(", ")}`);
        assert.equal(failures.reduce((a, b) => a + b, 0), 0, `${job} failures per node: ${failures.join(", ")}`);
    }
    // The bulk-import worker is the one job that takes no lease: every node drains the queue
    // (claims keep them apart), starting at start-up, which sets its queue gauge on every node.
    for (const [i, t] of texts.entries()) {
        assert.ok(t.includes('portcullis_bulk_import_queue_users{status="NEW"}'), `the bulk-import worker ran on ${NODES[i]}`);
    }
    // The leases the runs took, one row per job in the base database.
    const schema = env("POSTGRESQL_TABLE_SCHEMA");
    const rows = psql(
        env("PORTCULLIS_TEST_PG_URI"),
        `SELECT name FROM ${schema}.key_value WHERE app_id = 'public' AND name LIKE 'portcullis.cron.%' ORDER BY name`,
    );
    assert.deepEqual(rows.map((r) => r[0]), [...jobs].sort());
});
