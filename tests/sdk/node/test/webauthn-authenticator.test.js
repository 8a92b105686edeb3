"use strict";
// The software authenticator (webauthn-authenticator.js) checked on its own, before the webauthn
// recipe's tests rely on it: its CBOR decodes, its authenticator data says what was asked, and its
// signatures verify with node:crypto (the credential key, or the x5c certificate's key). The Rust
// tests verify its output with the core's verifier (crates/core/tests/fixtures/webauthn/software-node.json).
// No server is needed.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { test } = require("node:test");
const cbor = require("cbor");
const { Authenticator, tamper, b64url, fromB64url, FLAG_UP, FLAG_UV, FLAG_AT, AAGUID, ALGORITHMS, ATTESTATIONS } = require("../webauthn-authenticator");

const origin = "https://example.com";
const rpId = "example.com";
const sha256 = (b) => crypto.createHash("sha256").update(b).digest();

function verify(alg, key, data, signature) {
  if (alg === -8) return crypto.verify(null, data, key, signature);
  return crypto.verify("sha256", data, alg === -7 ? { key, dsaEncoding: "der" } : key, signature);
}

for (const alg of ALGORITHMS) {
  for (const attestation of ATTESTATIONS) {
    test(`alg ${alg}, ${attestation}: registration and assertion verify`, () => {
      const auth = new Authenticator(alg);
      const challenge = b64url(crypto.randomBytes(32));
      const reg = auth.register({ challenge, origin, rpId }, attestation);
      assert.equal(reg.id, b64url(auth.credentialId));
      const clientData = fromB64url(reg.response.clientDataJSON);
      assert.deepEqual(JSON.parse(clientData), { type: "webauthn.create", challenge, origin, crossOrigin: false });
      const object = cbor.decodeFirstSync(fromB64url(reg.response.attestationObject));
      assert.equal(object.fmt, attestation === "none" ? "none" : "packed");
      const authData = object.authData;
      assert.deepEqual(authData.subarray(0, 32), sha256(Buffer.from(rpId)));
      assert.equal(authData[32], FLAG_UP | FLAG_UV | FLAG_AT);
      assert.deepEqual(authData.subarray(37, 53), AAGUID);
      assert.equal(authData.readUInt16BE(53), 32);
      assert.deepEqual(authData.subarray(55, 87), auth.credentialId);
      const coseKey = cbor.decodeFirstSync(authData.subarray(87), { extendedResults: false });
      assert.equal(coseKey.get(3), alg);
      const signed = Buffer.concat([authData, sha256(clientData)]);
      if (attestation === "packed") {
        assert.equal(object.attStmt.alg, alg);
        assert.ok(verify(alg, auth.publicKey, signed, object.attStmt.sig));
      } else if (attestation === "packed-x5c") {
        assert.equal(object.attStmt.alg, -7);
        const cert = new crypto.X509Certificate(object.attStmt.x5c[0]);
        assert.match(cert.subject, /OU=Authenticator Attestation/);
        assert.ok(verify(-7, cert.publicKey, signed, object.attStmt.sig));
      } else {
        assert.equal(object.attStmt.size ?? Object.keys(object.attStmt).length, 0);
      }

      const signInChallenge = b64url(crypto.randomBytes(32));
      for (const expectedCount of [1, 2]) {
        const a = auth.assert({ challenge: signInChallenge, origin, rpId, userHandle: "dXNlcg" });
        const data = fromB64url(a.response.authenticatorData);
        assert.equal(data.length, 37);
        assert.equal(data.readUInt32BE(33), expectedCount);
        const aClientData = fromB64url(a.response.clientDataJSON);
        assert.equal(JSON.parse(aClientData).type, "webauthn.get");
        assert.equal(a.response.userHandle, "dXNlcg");
        const aSigned = Buffer.concat([data, sha256(aClientData)]);
        assert.ok(verify(alg, auth.publicKey, aSigned, fromB64url(a.response.signature)));
        tamper(a, "response.signature", (sig) => { sig[sig.length - 1] ^= 1; });
        assert.ok(!verify(alg, auth.publicKey, aSigned, fromB64url(a.response.signature)));
      }
    });
  }
}

test("negative inputs: flags, type, counter", () => {
  const auth = new Authenticator(-7);
  const reg = auth.register({ challenge: "AA", origin, rpId, flags: FLAG_UP, type: "webauthn.get" }, "none");
  assert.equal(JSON.parse(fromB64url(reg.response.clientDataJSON)).type, "webauthn.get");
  const authData = cbor.decodeFirstSync(fromB64url(reg.response.attestationObject)).authData;
  assert.equal(authData[32], FLAG_UP | FLAG_AT);
  auth.counterStep = 0;
  const a = auth.assert({ challenge: "AA", origin, rpId });
  assert.equal(fromB64url(a.response.authenticatorData).readUInt32BE(33), 0);
  assert.equal(a.response.userHandle, null);
});
