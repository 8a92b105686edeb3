"use strict";
// Firebase scrypt hashes for the bulk-import tests, made the way Firebase makes them
// (shared/reference/algorithms.md §2): key = scrypt(password, salt ‖ salt separator,
// N = 2^mem_cost, r = rounds, p = 1, 64 bytes); the hash is AES-256-CTR(key[0..32], zero IV) of the
// project's signer key, in Base64. The core's format:
// $f_scrypt$<hash>$<salt>$m=<mem_cost>$r=<rounds>$s=<salt separator>.

const crypto = require("node:crypto");

// Firebase's published example project (the firebase/scrypt README): its signer key, salt
// separator and cost parameters, and one user's hash of a known password.
const FIREBASE = {
    signerKey: "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
    saltSeparator: "Bw==",
    rounds: 8,
    memCost: 14,
    examplePassword: "user1password",
    exampleHash:
        "$f_scrypt$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$m=14$r=8$s=Bw==",
};

/** The core's `$f_scrypt$…` string for `password` with a Base64 `salt`, under FIREBASE's parameters. */
function firebaseScrypt(password, salt, p = FIREBASE) {
    const key = crypto.scryptSync(
        Buffer.from(password, "utf8"),
        Buffer.concat([Buffer.from(salt, "base64"), Buffer.from(p.saltSeparator, "base64")]),
        64,
        { N: 2 ** p.memCost, r: p.rounds, p: 1, maxmem: 256 * 1024 * 1024 },
    );
    const cipher = crypto.createCipheriv("aes-256-ctr", key.subarray(0, 32), Buffer.alloc(16));
    const hash = Buffer.concat([cipher.update(Buffer.from(p.signerKey, "base64")), cipher.final()]).toString("base64");
    return `$f_scrypt$${hash}$${salt}$m=${p.memCost}$r=${p.rounds}$s=${p.saltSeparator}`;
}

module.exports = { FIREBASE, firebaseScrypt };
