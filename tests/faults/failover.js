"use strict";
// Failover to a promoted standby under load (issue 20). Run through scripts/pg-production.sh, which
// starts a primary P with synchronous replication to a streaming standby S (pg_basebackup -R) and
// passes their ports, data directories and the binaries in the environment.
//
// Portcullis runs on the multi-host URI `postgresql://…@S,P/postgres?target_session_attrs=read-write`
// (the standby first: the writable host must be picked whatever the order). Under a steady load
// (sign-ups, sessions refreshed again and again, metadata updates), P is stopped hard
// (`pg_ctl -m immediate`), and FAILOVER_GAP_S later S is promoted (`pg_ctl promote`), as a failover
// manager would. Portcullis is not restarted.
//
// Checks (each failure is printed and makes the exit code 1):
//   - portcullis never exits; every request gets an answer within FAILOVER_MAX_LATENCY_MS (requests
//     fail fast during the switch, they do not hang);
//   - service is back within FAILOVER_RECOVERY_MS (10 s) of the promotion: some request succeeds
//     by then, and none that starts later fails;
//   - the ledger: every acknowledged write is on the promoted standby — each acknowledged sign-up is
//     a user with the id the client was given, each acknowledged session exists with the refresh
//     token hash of its last acknowledged refresh (or the child it returned), each metadata update
//     acknowledged is there (or a later attempted one);
//   - the pool's counters in /metrics show the switch (failed connection attempts, discarded
//     connections).

const { spawn, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const net = require("node:net");
const path = require("node:path");

const env = process.env;
const num = (name, dflt) => (env[name] === undefined ? dflt : Number(env[name]));
const BIN = env.PORTCULLIS_BIN;
const PG_BIN = env.PG_BINDIR;
const AS_POSTGRES = env.PG_AS_POSTGRES === "1";
const SOCKET = env.PG_SOCKET_DIR;
const PRIMARY = { port: env.PORTCULLIS_TEST_PRIMARY_PORT, data: env.PORTCULLIS_TEST_PRIMARY_DATA };
const STANDBY = { port: env.PORTCULLIS_TEST_STANDBY_PORT, data: env.PORTCULLIS_TEST_STANDBY_DATA };
const DB_TIMEOUT_MS = num("FAILOVER_DB_TIMEOUT_MS", 1000);
const MAX_LATENCY_MS = num("FAILOVER_MAX_LATENCY_MS", 4 * DB_TIMEOUT_MS + 1000);
const RECOVERY_MS = num("FAILOVER_RECOVERY_MS", 10_000);
const WARM_S = num("FAILOVER_WARM_S", 3);
const GAP_S = num("FAILOVER_GAP_S", 2);
const AFTER_S = num("FAILOVER_AFTER_S", 14);
const WORKERS = num("FAILOVER_WORKERS", 3);
const PAUSE_MS = 5;

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

function pg(tool, args) {
    const exe = path.join(PG_BIN, tool);
    const [cmd, argv] = AS_POSTGRES ? ["runuser", ["-u", "postgres", "--", exe, ...args]] : [exe, args];
    return execFileSync(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] }).toString();
}

function query(port, sql) {
    const out = pg("psql", ["-h", SOCKET, "-p", String(port), "-U", "postgres", "-d", "postgres", "-X", "-A", "-t", "-F", "\t", "-c", sql]);
    return out.split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
}

// ---- Portcullis and the record of every request ----------------------------------------------

let server;
const record = []; // { kind, start, ms, outcome: "ok" | "error" | "refused" | "hang", status }

async function startPortcullis(uri, schema) {
    const port = await freePort();
    const child = spawn(BIN, ["start", "--host", "127.0.0.1", "--port", String(port)], {
        env: {
            PATH: env.PATH,
            POSTGRESQL_CONNECTION_URI: uri,
            POSTGRESQL_TABLE_SCHEMA: schema,
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
            if ((await fetch(`${p.url}/hello`)).status === 200) return p;
        } catch {
            // not listening yet
        }
        await sleep(100);
    }
    throw new Error(`portcullis did not start (${JSON.stringify(p.exited)}):\n${p.output}`);
}

async function call(kind, method, p, body) {
    const start = Date.now();
    let status = 0;
    let json = null;
    let outcome = "error";
    try {
        const res = await fetch(server.url + p, {
            method,
            headers: { "content-type": "application/json", "cdi-version": "5.4" },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(60_000),
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
    record.push({ kind, start, ms: Date.now() - start, outcome, status: json ? json.status : status });
    return outcome === "ok" ? json : null;
}

// ---- Load and ledger ------------------------------------------------------------------------

const ledger = { users: new Map(), sessions: new Map(), metadata: new Map() };

async function signUpWorker(w, stop) {
    for (let i = 0; !stop.now; i++) {
        const email = `f${w}-${i}-${crypto.randomBytes(3).toString("hex")}@failover.example.com`;
        const r = await call("signup", "POST", "/recipe/signup", { email, password: "pw-failover-1" });
        if (r) ledger.users.set(email, r.user.id);
        await sleep(PAUSE_MS);
    }
}

async function sessionWorker(w, stop) {
    let s = null;
    while (!s && !stop.now) {
        s = await call("session", "POST", "/recipe/session", { userId: `failover-user-${w}`, userDataInJWT: {}, userDataInDatabase: {}, enableAntiCsrf: false });
        await sleep(PAUSE_MS);
    }
    if (!s) return;
    let refreshToken = s.refreshToken.token;
    let accessToken = s.accessToken.token;
    const entry = { handle: s.session.handle, lastPresented: refreshToken, held: refreshToken };
    ledger.sessions.set(entry.handle, entry);
    while (!stop.now) {
        const r = await call("refresh", "POST", "/recipe/session/refresh", { refreshToken, enableAntiCsrf: false, useDynamicSigningKey: true });
        if (r) {
            entry.lastPresented = refreshToken;
            refreshToken = r.refreshToken.token;
            accessToken = r.accessToken.token;
            entry.held = refreshToken;
        }
        await sleep(PAUSE_MS);
        await call("verify", "POST", "/recipe/session/verify", { accessToken, doAntiCsrfCheck: false, enableAntiCsrf: false, checkDatabase: true });
        await sleep(PAUSE_MS);
    }
}

async function metadataWorker(userId, stop) {
    const entry = { acked: -1, attempted: -1 };
    ledger.metadata.set(userId, entry);
    for (let n = 0; !stop.now; n++) {
        entry.attempted = n;
        if (await call("metadata", "PUT", "/recipe/user/metadata", { userId, metadataUpdate: { n } })) entry.acked = n;
        await sleep(PAUSE_MS);
    }
}

function checkLedger(port, schema) {
    const users = new Map(query(port, `SELECT email, trim(user_id) FROM ${schema}.emailpassword_users`).map(([e, id]) => [e, id]));
    for (const [email, id] of ledger.users) {
        if (users.get(email) !== id) problem(`acknowledged sign-up ${email} (${id}) is ${users.get(email) || "missing"} after the failover`);
    }
    const sessions = new Map(query(port, `SELECT session_handle, refresh_token_hash_2 FROM ${schema}.session_info`).map(([h, x]) => [h, x]));
    for (const s of ledger.sessions.values()) {
        if (!sessions.has(s.handle)) problem(`acknowledged session ${s.handle} is missing after the failover`);
        else if (![s.lastPresented, s.held].map((t) => sha256(sha256(t))).includes(sessions.get(s.handle))) {
            problem(`session ${s.handle}: the stored refresh token is not the last acknowledged one`);
        }
    }
    const meta = new Map(query(port, `SELECT user_id, user_metadata FROM ${schema}.user_metadata`).map(([u, m]) => [u, JSON.parse(m)]));
    let metaChecked = 0;
    for (const [user, e] of ledger.metadata) {
        if (e.acked < 0) continue;
        metaChecked++;
        const n = meta.get(user)?.n;
        if (!(n >= e.acked && n <= e.attempted)) problem(`metadata of ${user}: stored n=${n}, acknowledged ${e.acked}, attempted up to ${e.attempted}`);
    }
    log(`ledger: ${ledger.users.size} acknowledged sign-ups, ${ledger.sessions.size} sessions, ${metaChecked} metadata users, all checked on the promoted standby`);
}

async function metrics() {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = (name) => text.split("\n").filter((l) => l.startsWith(`${name}{`)).reduce((s, l) => s + Number(l.split(" ").pop()), 0);
    return { connectFailures: value("portcullis_db_pool_connect_failures_total"), discarded: value("portcullis_db_pool_discarded_total"), connections: value("portcullis_db_pool_connections") };
}

async function main() {
    if (!BIN || !PG_BIN || !PRIMARY.port || !STANDBY.port || !PRIMARY.data || !STANDBY.data || !SOCKET) {
        throw new Error("run through scripts/pg-production.sh (the binaries, ports and data directories are passed in the environment)");
    }
    const schema = `failover_${crypto.randomBytes(4).toString("hex")}`;
    const uri = `postgresql://postgres@127.0.0.1:${STANDBY.port},127.0.0.1:${PRIMARY.port}/postgres?target_session_attrs=read-write`;
    const sync = query(PRIMARY.port, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")[0][0];
    if (sync !== "1") throw new Error("the standby is not synchronous");
    try {
        server = await startPortcullis(uri, schema);
        log(`portcullis on ${server.url}: ${uri}, schema ${schema}, database_timeout_ms ${DB_TIMEOUT_MS}`);
        const warm = await call("setup", "POST", "/recipe/session", { userId: "warm-up", userDataInJWT: {}, userDataInDatabase: {}, enableAntiCsrf: false });
        if (!warm) throw new Error("no session before the failover");
        const before = await metrics();

        const stop = { now: false };
        const jobs = [];
        for (let w = 0; w < WORKERS; w++) jobs.push(signUpWorker(w, stop), sessionWorker(`${w}-${Date.now()}`, stop), metadataWorker(`meta-${w}-${Date.now()}`, stop));
        await sleep(WARM_S * 1000);
        log("stopping the primary hard (pg_ctl -m immediate)");
        pg("pg_ctl", ["-D", PRIMARY.data, "-m", "immediate", "-w", "stop"]);
        const downAt = Date.now();
        await sleep(GAP_S * 1000);
        log("promoting the standby (pg_ctl promote)");
        pg("pg_ctl", ["-D", STANDBY.data, "-w", "promote"]);
        const promotedAt = Date.now();
        log(`standby promoted ${promotedAt - downAt} ms after the primary went down`);
        await sleep(AFTER_S * 1000);
        stop.now = true;
        await Promise.all(jobs);
        const after = await metrics();

        if (server.exited) problem(`portcullis exited ${JSON.stringify(server.exited)}`);
        const rows = record.filter((r) => r.kind !== "setup");
        const by = {};
        for (const r of rows) by[`${r.kind}:${r.outcome}`] = (by[`${r.kind}:${r.outcome}`] || 0) + 1;
        const during = rows.filter((r) => r.start >= downAt && r.start < promotedAt);
        const maxAll = rows.reduce((m, r) => Math.max(m, r.ms), 0);
        const maxDuring = during.reduce((m, r) => Math.max(m, r.ms), 0);
        log(`${rows.length} requests, ${rows.filter((r) => r.outcome === "ok").length} ok; ${JSON.stringify(by)}`);
        log(`during the switch: ${during.length} requests, ${during.filter((r) => r.outcome !== "ok").length} failed, max latency ${maxDuring} ms (all: ${maxAll} ms, bound ${MAX_LATENCY_MS} ms)`);
        const unanswered = rows.filter((r) => r.outcome === "refused" || r.outcome === "hang");
        if (unanswered.length) problem(`${unanswered.length} requests got no HTTP answer`);
        const slow = rows.filter((r) => r.ms > MAX_LATENCY_MS);
        if (slow.length) problem(`${slow.length} requests took over ${MAX_LATENCY_MS} ms (max ${maxAll})`);
        const afterPromotion = rows.filter((r) => r.start + r.ms >= promotedAt);
        const firstOk = afterPromotion.filter((r) => r.outcome === "ok").reduce((m, r) => Math.min(m, r.start + r.ms), Infinity);
        const lastFailure = afterPromotion.filter((r) => r.outcome !== "ok").reduce((m, r) => Math.max(m, r.start + r.ms), promotedAt);
        log(`after the promotion: first success at +${firstOk - promotedAt} ms, last failure at +${lastFailure - promotedAt} ms (bound ${RECOVERY_MS} ms)`);
        if (!(firstOk - promotedAt <= RECOVERY_MS)) problem(`no success within ${RECOVERY_MS} ms of the promotion`);
        const late = rows.filter((r) => r.outcome !== "ok" && r.start >= promotedAt + RECOVERY_MS);
        if (late.length) problem(`${late.length} requests failed more than ${RECOVERY_MS} ms after the promotion`);
        if (rows.filter((r) => r.outcome === "ok" && r.start >= promotedAt + RECOVERY_MS).length === 0) problem("no success after the recovery bound (run longer)");
        if (during.length && during.every((r) => r.outcome === "ok")) problem("no request failed while no primary existed: was the primary really down?");
        log(`pool: failed connection attempts ${before.connectFailures} -> ${after.connectFailures}, discarded connections ${before.discarded} -> ${after.discarded}, open ${after.connections}`);
        if (after.connectFailures <= before.connectFailures || after.discarded <= before.discarded) problem("the metrics do not show the switch");

        checkLedger(STANDBY.port, schema);
    } finally {
        if (server && !server.exited) {
            const exited = new Promise((r) => server.child.once("exit", r));
            server.child.kill("SIGTERM");
            const killer = setTimeout(() => server.child.kill("SIGKILL"), 15_000);
            await exited;
            clearTimeout(killer);
        }
        if (problems.length && server) console.error(`portcullis output (last 3000 chars):\n${server.output.slice(-3000)}`);
    }
    if (problems.length) {
        console.error(`${problems.length} check(s) failed`);
        process.exit(1);
    }
    log("failover checks passed");
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
