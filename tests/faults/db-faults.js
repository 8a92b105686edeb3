"use strict";
// Database faults under load (issue 9). Run through scripts/db-faults.sh, which finds the
// PostgreSQL binaries and the portcullis binary and passes them in the environment.
//
// Two throwaway PostgreSQL clusters of our own (never a shared server): A holds the base database,
// B the database of one tenant ("shard", coreConfig postgresql_connection_uri → B).
//
// Phase 1, base outage: mixed load (sign-ups, sign-ins, session create/refresh/verify, metadata
// updates) on the public tenant; A is stopped with `pg_ctl -m immediate`, stays down, restarts.
// Phase 2, tenant outage: load on the public tenant and on "shard"; B is stopped and restarted.
// Phase 3, frozen database: A's processes get SIGSTOP (a hung host: connections open, no answers)
// and SIGCONT after the outage; only client-side timeouts can bound the answers here.
//
// Checks (each failure is printed and makes the exit code 1):
//   - portcullis never exits and never refuses a connection;
//   - every request is answered within FAULT_MAX_LATENCY_MS (errors during an outage are prompt);
//   - every request after FAULT_RECOVERY_MS from the database's return succeeds;
//   - phase 2: the public tenant has no failure at all while B is down;
//   - phase 3: the pool's counters in /metrics show the freeze (units of work that ran out of time,
//     connections left busy by them discarded) and the pool gauges stay served;
//   - a client-side ledger of acknowledged writes matches the tables afterwards: each acknowledged
//     sign-up is a user with that id, each acknowledged session exists with the refresh token hash
//     of its last acknowledged refresh, each user's metadata is the last acknowledged write or a
//     later attempted one (an error does not prove the write did not commit).

const { spawn, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

const env = process.env;
const num = (name, dflt) => (env[name] === undefined ? dflt : Number(env[name]));
const BIN = env.PORTCULLIS_BIN;
const PG_BIN = env.PG_BINDIR;
const AS_POSTGRES = env.PG_AS_POSTGRES === "1"; // run PostgreSQL as user postgres (we are root)
const DB_TIMEOUT_MS = num("FAULT_DB_TIMEOUT_MS", 1000);
const MAX_LATENCY_MS = num("FAULT_MAX_LATENCY_MS", 4 * DB_TIMEOUT_MS + 1000);
const RECOVERY_MS = num("FAULT_RECOVERY_MS", 5000);
const WARM_S = num("FAULT_WARM_S", 3);
const OUTAGE_S = num("FAULT_OUTAGE_S", 4);
const AFTER_S = num("FAULT_AFTER_S", 7);
// A freeze must outlast the client-side deadline (4 × the database timeout) to test it.
const FREEZE_S = num("FAULT_FREEZE_S", Math.max(OUTAGE_S, Math.ceil((4 * DB_TIMEOUT_MS) / 1000) + 3));
const WORKERS = num("FAULT_WORKERS", 3); // per kind of work
const PAUSE_MS = num("FAULT_PAUSE_MS", 5); // between one worker's requests
const CLIENT_TIMEOUT_MS = 60_000; // far above any bound: a hang shows as a latency, not an abort

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (s) => crypto.createHash("sha256").update(s).digest("hex");
const problems = [];
const problem = (msg) => {
    problems.push(msg);
    console.error(`FAIL: ${msg}`);
};
const log = (msg) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${msg}`);

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.on("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

// ---- PostgreSQL clusters -------------------------------------------------------------------

function pgCmd(tool, args) {
    const exe = path.join(PG_BIN, tool);
    return AS_POSTGRES ? ["runuser", ["-u", "postgres", "--", exe, ...args]] : [exe, args];
}

function pg(tool, args) {
    const [cmd, argv] = pgCmd(tool, args);
    return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] }).toString();
}

class Cluster {
    constructor(name, dir, port) {
        Object.assign(this, { name, dir, port, data: path.join(dir, "data"), sock: path.join(dir, "sock") });
        this.uri = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    }
    static async create(name, root) {
        const dir = path.join(root, name);
        fs.mkdirSync(path.join(dir, "sock"), { recursive: true });
        if (AS_POSTGRES) execFileSync("chown", ["-R", "postgres:", dir]);
        const c = new Cluster(name, dir, await freePort());
        pg("initdb", ["-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
        c.start();
        return c;
    }
    start() {
        const opts = `-p ${this.port} -k ${this.sock} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off -c full_page_writes=off`;
        pg("pg_ctl", ["-D", this.data, "-l", path.join(this.dir, "server.log"), "-w", "-t", "60", "-o", opts, "start"]);
    }
    stopHard() {
        pg("pg_ctl", ["-D", this.data, "-m", "immediate", "-w", "stop"]);
    }
    /** The postmaster and its children (the backends and background workers), from /proc. */
    pids() {
        const pm = Number(fs.readFileSync(path.join(this.data, "postmaster.pid"), "utf8").split("\n")[0]);
        const kids = fs
            .readdirSync("/proc")
            .filter((d) => /^\d+$/.test(d))
            .filter((d) => {
                try {
                    // Field 4 of /proc/PID/stat, after the parenthesised command name, is the parent.
                    const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
                    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pm;
                } catch {
                    return false;
                }
            })
            .map(Number);
        return [pm, ...kids];
    }
    /** SIGSTOP: the server keeps its sockets but answers nothing (a hung host or network). */
    freeze() {
        this.frozen = this.pids();
        for (const pid of this.frozen) process.kill(pid, "SIGSTOP");
    }
    thaw() {
        for (const pid of this.frozen) {
            try {
                process.kill(pid, "SIGCONT");
            } catch {
                // exited meanwhile
            }
        }
        this.frozen = null;
    }
    stopQuietly() {
        if (this.frozen) this.thaw();
        try {
            this.stopHard();
        } catch {
            // already stopped
        }
    }
    /** Rows of a query, as arrays of text. */
    query(sql) {
        const out = pg("psql", ["-h", "127.0.0.1", "-p", String(this.port), "-U", "postgres", "-d", "postgres", "-X", "-A", "-t", "-F", "\t", "-c", sql]);
        return out.split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
    }
}

// ---- Portcullis ----------------------------------------------------------------------------

async function startPortcullis(baseUri) {
    const port = await freePort();
    const child = spawn(BIN, ["start", "--host", "127.0.0.1", "--port", String(port)], {
        env: {
            PATH: env.PATH,
            POSTGRESQL_CONNECTION_URI: baseUri,
            PORTCULLIS_DATABASE_TIMEOUT_MS: String(DB_TIMEOUT_MS),
            BCRYPT_LOG_ROUNDS: "4",
            RUST_LOG: "warn",
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const p = { url: `http://127.0.0.1:${port}`, child, exited: null, output: "" };
    child.stdout.on("data", (d) => (p.output += d));
    child.stderr.on("data", (d) => (p.output += d));
    child.on("exit", (code, signal) => (p.exited = { code, signal }));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && p.exited === null) {
        try {
            const r = await fetch(`${p.url}/hello`);
            if (r.status === 200) return p;
        } catch {
            // not listening yet
        }
        await sleep(100);
    }
    throw new Error(`portcullis did not start (${JSON.stringify(p.exited)}):\n${p.output}`);
}

// ---- Requests and the record of every one --------------------------------------------------

let server;
const record = []; // { kind, tenant, start, ms, outcome: "ok" | "error" | "refused", status }

async function call(kind, tenant, method, p, body) {
    const start = Date.now();
    let status = 0;
    let json = null;
    let outcome = "error";
    try {
        const res = await fetch(server.url + p, {
            method,
            headers: { "content-type": "application/json", "cdi-version": "5.4" },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
        });
        status = res.status;
        const text = await res.text();
        if (status === 200) {
            json = JSON.parse(text);
            outcome = json.status === "OK" ? "ok" : "error";
        }
    } catch (e) {
        outcome = e.name === "TimeoutError" ? "hang" : "refused";
    }
    record.push({ kind, tenant, start, ms: Date.now() - start, outcome, status: json ? json.status : status });
    return outcome === "ok" ? json : null;
}

// ---- The ledger: what the client was told, per tenant --------------------------------------

const ledger = { users: new Map(), sessions: new Map(), metadata: new Map() };
const tenantPrefix = (t) => (t === "public" ? "" : `/${t}`);

async function signUpWorker(tenant, w, stop) {
    for (let i = 0; !stop.now; i++) {
        const email = `w${w}-${i}-${crypto.randomBytes(3).toString("hex")}@${tenant}.example.com`;
        const r = await call("signup", tenant, "POST", `${tenantPrefix(tenant)}/recipe/signup`, { email, password: "pw-faults-1" });
        if (r) ledger.users.set(`${tenant}:${email}`, { tenant, email, id: r.user.id });
        await sleep(PAUSE_MS);
    }
}

async function signInWorker(tenant, email, stop) {
    while (!stop.now) {
        await call("signin", tenant, "POST", `${tenantPrefix(tenant)}/recipe/signin`, { email, password: "pw-faults-1" });
        await sleep(PAUSE_MS);
    }
}

/** One session: refreshed again and again (each refresh uses the last token it was given) and verified. */
async function sessionWorker(tenant, w, stop) {
    let s = null;
    while (!s && !stop.now) {
        s = await call("session", tenant, "POST", `${tenantPrefix(tenant)}/recipe/session`, {
            userId: `session-user-${w}`,
            userDataInJWT: {},
            userDataInDatabase: {},
            enableAntiCsrf: false,
        });
        await sleep(PAUSE_MS);
    }
    if (!s) return;
    let refreshToken = s.refreshToken.token;
    let accessToken = s.accessToken.token;
    // The stored hash is that of the token last presented in an acknowledged refresh, or of the
    // child it returned (a verify of the child's access token promotes it; so may a refresh with
    // the child whose answer was lost).
    const entry = { tenant, handle: s.session.handle, lastPresented: refreshToken, held: refreshToken };
    ledger.sessions.set(`${tenant}:${entry.handle}`, entry);
    while (!stop.now) {
        const r = await call("refresh", tenant, "POST", "/recipe/session/refresh", { refreshToken, enableAntiCsrf: false, useDynamicSigningKey: true });
        if (r) {
            entry.lastPresented = refreshToken;
            refreshToken = r.refreshToken.token;
            accessToken = r.accessToken.token;
            entry.held = refreshToken;
        }
        await sleep(PAUSE_MS);
        await call("verify", tenant, "POST", "/recipe/session/verify", { accessToken, doAntiCsrfCheck: false, enableAntiCsrf: false, checkDatabase: true });
        await sleep(PAUSE_MS);
    }
}

async function metadataWorker(userId, stop) {
    const entry = { acked: -1, attempted: -1 };
    ledger.metadata.set(userId, entry);
    for (let n = 0; !stop.now; n++) {
        entry.attempted = n;
        if (await call("metadata", "public", "PUT", "/recipe/user/metadata", { userId, metadataUpdate: { n } })) entry.acked = n;
        await sleep(PAUSE_MS);
    }
}

/** Starts the load; returns a function that stops it and waits for the workers. */
function load(tenants, fixtures) {
    const stop = { now: false };
    const jobs = [];
    for (const t of tenants) {
        for (let w = 0; w < WORKERS; w++) {
            jobs.push(signUpWorker(t, w, stop), signInWorker(t, fixtures[t], stop), sessionWorker(t, `${t}-${w}-${Date.now()}`, stop));
            if (t === "public") jobs.push(metadataWorker(`meta-${w}-${Date.now()}`, stop));
        }
    }
    return async () => {
        stop.now = true;
        await Promise.all(jobs);
    };
}

// ---- Checks --------------------------------------------------------------------------------

function summarise(label, rows) {
    const by = {};
    for (const r of rows) {
        const k = `${r.kind}:${r.outcome}`;
        by[k] = (by[k] || 0) + 1;
    }
    const max = rows.reduce((m, r) => Math.max(m, r.ms), 0);
    const statuses = {};
    for (const r of rows.filter((r) => r.outcome !== "ok")) statuses[r.status] = (statuses[r.status] || 0) + 1;
    log(`${label}: ${rows.length} requests, ${rows.filter((r) => r.outcome === "ok").length} ok, max latency ${max} ms; ${JSON.stringify(by)}; errors by status ${JSON.stringify(statuses)}`);
    return max;
}

function checkWindow(label, rows, { downAt, upAt, tenants }) {
    const mine = rows.filter((r) => tenants.includes(r.tenant));
    summarise(`${label} (tenants ${tenants.join(", ")})`, mine);
    const during = mine.filter((r) => r.start >= downAt && r.start < upAt);
    summarise(`${label}, during the outage`, during);
    const refused = mine.filter((r) => r.outcome === "refused" || r.outcome === "hang");
    if (refused.length) problem(`${label}: ${refused.length} requests got no HTTP answer`);
    const slow = mine.filter((r) => r.ms > MAX_LATENCY_MS);
    if (slow.length) problem(`${label}: ${slow.length} requests took over ${MAX_LATENCY_MS} ms (max ${Math.max(...slow.map((r) => r.ms))})`);
    const lateFailures = mine.filter((r) => r.outcome !== "ok" && r.start >= upAt + RECOVERY_MS);
    if (lateFailures.length) problem(`${label}: ${lateFailures.length} failures more than ${RECOVERY_MS} ms after the database returned`);
    const lastFailure = mine.filter((r) => r.outcome !== "ok" && r.start >= upAt).reduce((m, r) => Math.max(m, r.start + r.ms), upAt);
    const firstOk = mine.filter((r) => r.outcome === "ok" && r.start >= upAt).reduce((m, r) => Math.min(m, r.start + r.ms), Infinity);
    log(`${label}: first success ${firstOk - upAt} ms and last failure ${lastFailure - upAt} ms after the database returned (bound ${RECOVERY_MS} ms)`);
    const okAfter = mine.filter((r) => r.outcome === "ok" && r.start >= upAt + RECOVERY_MS).length;
    if (okAfter === 0) problem(`${label}: no successful request after recovery (run longer)`);
    return { during: during.length, failedDuring: during.filter((r) => r.outcome !== "ok").length, max: mine.reduce((m, r) => Math.max(m, r.ms), 0) };
}

function checkLedger(clusters) {
    const counts = { users: 0, sessions: 0, metadata: 0 };
    for (const [tenant, cluster] of Object.entries(clusters)) {
        const users = new Map(cluster.query(`SELECT e.email, trim(e.user_id) FROM emailpassword_users e JOIN emailpassword_user_to_tenant t
            ON t.app_id = e.app_id AND t.user_id = e.user_id WHERE t.tenant_id = '${tenant}'`).map(([e, id]) => [e, id]));
        for (const u of [...ledger.users.values()].filter((u) => u.tenant === tenant)) {
            counts.users++;
            if (users.get(u.email) !== u.id) problem(`acknowledged sign-up ${u.email} (${u.id}) is ${users.get(u.email) || "missing"} in the database`);
        }
        const sessions = new Map(cluster.query(`SELECT session_handle, refresh_token_hash_2 FROM session_info WHERE tenant_id = '${tenant}'`).map(([h, x]) => [h, x]));
        for (const s of [...ledger.sessions.values()].filter((s) => s.tenant === tenant)) {
            counts.sessions++;
            if (!sessions.has(s.handle)) {
                problem(`acknowledged session ${s.handle} is missing`);
            } else {
                const allowed = [s.lastPresented, s.held].map((t) => sha256(sha256(t)));
                if (!allowed.includes(sessions.get(s.handle))) problem(`session ${s.handle}: the stored refresh token is not the last acknowledged one`);
            }
        }
    }
    const meta = new Map(clusters.public.query("SELECT user_id, user_metadata FROM user_metadata").map(([u, m]) => [u, JSON.parse(m)]));
    for (const [user, e] of ledger.metadata) {
        if (e.acked < 0) continue;
        counts.metadata++;
        const n = meta.get(user)?.n;
        if (!(n >= e.acked && n <= e.attempted)) problem(`metadata of ${user}: stored n=${n}, acknowledged ${e.acked}, attempted up to ${e.attempted}`);
    }
    log(`ledger: ${counts.users} acknowledged sign-ups, ${counts.sessions} sessions, ${counts.metadata} metadata users checked against the tables`);
}

/** Takes a cluster away for OUTAGE_S: stopped (`immediate`) then restarted, or frozen then thawed. */
async function outage(cluster, label, how = "stop", seconds = OUTAGE_S) {
    await sleep(WARM_S * 1000);
    log(`${label}: ${how === "stop" ? "stopping" : "freezing"} ${cluster.name}`);
    how === "stop" ? cluster.stopHard() : cluster.freeze();
    const downAt = Date.now();
    await sleep(seconds * 1000);
    log(`${label}: ${how === "stop" ? "restarting" : "thawing"} ${cluster.name}`);
    how === "stop" ? cluster.start() : cluster.thaw();
    const upAt = Date.now();
    log(`${label}: ${cluster.name} accepts connections again`);
    await sleep(AFTER_S * 1000);
    return { downAt, upAt };
}

/** The pool counters and gauges of /metrics, summed over the pools. */
async function poolMetrics() {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const sum = (name) => text.split("\n").filter((l) => l.startsWith(`${name}{`)).reduce((s, l) => s + Number(l.split(" ").pop()), 0);
    const has = (name) => text.includes(`\n${name}{`);
    return {
        timeouts: sum("portcullis_db_pool_timeouts_total"),
        discarded: sum("portcullis_db_pool_discarded_total"),
        waitSeconds: sum("portcullis_db_pool_wait_seconds_total"),
        gauges: ["portcullis_db_pool_connections", "portcullis_db_pool_idle", "portcullis_db_pool_waiting", "portcullis_db_pool_max"].every(has),
    };
}

async function alive(label) {
    if (server.exited) return problem(`${label}: portcullis exited ${JSON.stringify(server.exited)}`);
    try {
        const r = await fetch(`${server.url}/hello`);
        if (r.status !== 200) problem(`${label}: /hello answered ${r.status}`);
    } catch (e) {
        problem(`${label}: /hello failed: ${e.message}`);
    }
}

async function main() {
    if (!BIN || !PG_BIN) throw new Error("run through scripts/db-faults.sh (PORTCULLIS_BIN and PG_BINDIR are needed)");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "portcullis-faults-"));
    fs.chmodSync(root, 0o755);
    const clusters = {};
    try {
        clusters.public = await Cluster.create("A", root);
        clusters.shard = await Cluster.create("B", root);
        log(`clusters: A (base) on ${clusters.public.port}, B (tenant "shard") on ${clusters.shard.port}`);
        server = await startPortcullis(clusters.public.uri);
        log(`portcullis on ${server.url}, database_timeout_ms ${DB_TIMEOUT_MS}, latency bound ${MAX_LATENCY_MS} ms`);
        const put = await call("setup", "public", "PUT", "/recipe/multitenancy/tenant/v2", {
            tenantId: "shard",
            firstFactors: ["emailpassword"],
            coreConfig: { postgresql_connection_uri: clusters.shard.uri },
        });
        if (!put) throw new Error("could not create the tenant on cluster B");
        const fixtures = {};
        for (const t of ["public", "shard"]) {
            fixtures[t] = `signin@${t}.example.com`;
            if (!(await call("setup", t, "POST", `${tenantPrefix(t)}/recipe/signup`, { email: fixtures[t], password: "pw-faults-1" }))) {
                throw new Error(`could not create the sign-in user of ${t}`);
            }
            // The first session makes the app's signing keys (seconds in a debug build): not part of the load.
            const body = { userId: "warm-up", userDataInJWT: {}, userDataInDatabase: {}, enableAntiCsrf: false };
            if (!(await call("setup", t, "POST", `${tenantPrefix(t)}/recipe/session`, body))) throw new Error(`no session on ${t}`);
        }

        log("phase 1: the base database goes down under load");
        const start1 = Date.now();
        let stopLoad = load(["public"], fixtures);
        const w1 = await outage(clusters.public, "phase 1");
        await stopLoad();
        await alive("phase 1");
        const p1 = checkWindow("phase 1", record.filter((r) => r.start >= start1 && r.kind !== "setup"), { ...w1, tenants: ["public"] });

        log('phase 2: the database of tenant "shard" goes down; the public tenant must not notice');
        const from = Date.now();
        stopLoad = load(["public", "shard"], fixtures);
        const w2 = await outage(clusters.shard, "phase 2");
        await stopLoad();
        await alive("phase 2");
        const rows2 = record.filter((r) => r.start >= from);
        const p2 = checkWindow("phase 2", rows2, { ...w2, tenants: ["shard"] });
        const publicFailures = rows2.filter((r) => r.tenant === "public" && r.outcome !== "ok");
        summarise("phase 2, public tenant", rows2.filter((r) => r.tenant === "public"));
        if (publicFailures.length) problem(`phase 2: ${publicFailures.length} public-tenant requests failed while only B was down`);

        log("phase 3: the base database freezes (SIGSTOP): requests must still be answered within the bound");
        const start3 = Date.now();
        const m3 = await poolMetrics();
        stopLoad = load(["public"], fixtures);
        const w3 = await outage(clusters.public, "phase 3", "freeze", FREEZE_S);
        await stopLoad();
        await alive("phase 3");
        const m3after = await poolMetrics();
        log(`phase 3 metrics: timeouts ${m3.timeouts} -> ${m3after.timeouts}, discarded connections ${m3.discarded} -> ${m3after.discarded}, wait ${m3.waitSeconds.toFixed(2)} -> ${m3after.waitSeconds.toFixed(2)} s`);
        if (!(m3after.timeouts > m3.timeouts && m3after.discarded > m3.discarded)) problem("phase 3: the pool metrics do not show the frozen database (timeouts, discarded connections)");
        if (!m3after.gauges) problem("phase 3: the pool gauges are missing from /metrics");
        const p3 = checkWindow("phase 3", record.filter((r) => r.start >= start3), { ...w3, tenants: ["public"] });

        checkLedger(clusters);
        const total = record.filter((r) => r.kind !== "setup");
        log(
            `summary: ${total.length} requests, ${total.filter((r) => r.outcome === "ok").length} ok; ` +
                `phase 1 outage: ${p1.failedDuring}/${p1.during} failed, max latency ${p1.max} ms; ` +
                `phase 2 outage (shard): ${p2.failedDuring}/${p2.during} failed, max latency ${p2.max} ms; public failures ${publicFailures.length}; ` +
                `phase 3 freeze: ${p3.failedDuring}/${p3.during} failed, max latency ${p3.max} ms`,
        );
    } finally {
        if (server && !server.exited) {
            const t0 = Date.now();
            const exited = new Promise((r) => server.child.once("exit", r));
            server.child.kill("SIGTERM");
            const killer = setTimeout(() => server.child.kill("SIGKILL"), 15_000);
            await exited;
            clearTimeout(killer);
            log(`portcullis stopped ${Date.now() - t0} ms after SIGTERM`);
        }
        for (const c of Object.values(clusters)) c.stopQuietly();
        if (problems.length && server) console.error(`portcullis output (last 3000 chars):\n${server.output.slice(-3000)}`);
        fs.rmSync(root, { recursive: true, force: true });
    }
    if (problems.length) {
        console.error(`${problems.length} check(s) failed`);
        process.exit(1);
    }
    log("all fault checks passed");
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
