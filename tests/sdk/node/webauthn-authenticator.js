"use strict";
// A software WebAuthn authenticator for the SDK tests: it answers the options the SDK hands a
// browser with what a browser forwards after navigator.credentials.create() / .get() (the
// PublicKeyCredential toJSON() form, base64url without padding), for ES256 (-7), EdDSA (-8) and
// RS256 (-257) credentials with "none", "packed" (self) and "packed-x5c" attestation
// (WebAuthn L3 §6.1, §6.5, §8.2).
//
// Keys and signatures come from node:crypto, CBOR from the `cbor` package (Maps keep COSE's integer
// labels), the x5c certificate and its ES256 key from fixtures/webauthn-attestation.pem.
//
//   const auth = new Authenticator(-8);
//   const credential = auth.register({ challenge, origin, rpId }, "none");   // registration JSON
//   const assertion = auth.assert({ challenge, origin, rpId, userHandle }); // assertion JSON
//
// Negative tests change one input (origin, rpId, challenge, flags, type) or the JSON afterwards
// (`tamper`), or the counter (`auth.signCount`, `auth.counterStep`).
//
// `node webauthn-authenticator.js` prints registrations and assertions for every algorithm and
// attestation (the fixture crates/core/tests/fixtures/webauthn/software-node.json, which the Rust
// tests verify).

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const cbor = require("cbor");

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;
const AAGUID = Buffer.from("portcullis-test!");
const ALGORITHMS = [-7, -8, -257];
const ATTESTATIONS = ["none", "packed", "packed-x5c"];

const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const fromB64url = (text) => Buffer.from(text, "base64url");
const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest();

let attestationPem;
function attestationMaterial() {
  if (!attestationPem) {
    const pem = fs.readFileSync(path.join(__dirname, "fixtures", "webauthn-attestation.pem"), "utf8");
    const cert = new crypto.X509Certificate(pem);
    attestationPem = { key: crypto.createPrivateKey(pem), certDer: cert.raw };
  }
  return attestationPem;
}

class Authenticator {
  /** @param {number} alg -7 (ES256), -8 (EdDSA) or -257 (RS256) */
  constructor(alg = -7) {
    if (!ALGORITHMS.includes(alg)) throw new Error(`unsupported algorithm ${alg}`);
    this.alg = alg;
    const { publicKey, privateKey } =
      alg === -7
        ? crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
        : alg === -8
          ? crypto.generateKeyPairSync("ed25519")
          : crypto.generateKeyPairSync("rsa", { modulusLength: 2048, publicExponent: 65537 });
    this.publicKey = publicKey;
    this.privateKey = privateKey;
    this.credentialId = crypto.randomBytes(32);
    this.aaguid = AAGUID;
    // Reported at registration, then moved by counterStep before each assertion (0 = no counter).
    this.signCount = 0;
    this.counterStep = 1;
  }

  get id() {
    return b64url(this.credentialId);
  }

  /** The credential public key as a COSE_Key (CBOR bytes). */
  coseKey() {
    const jwk = this.publicKey.export({ format: "jwk" });
    const key =
      this.alg === -7
        ? new Map([[1, 2], [3, -7], [-1, 1], [-2, fromB64url(jwk.x)], [-3, fromB64url(jwk.y)]])
        : this.alg === -8
          ? new Map([[1, 1], [3, -8], [-1, 6], [-2, fromB64url(jwk.x)]])
          : new Map([[1, 3], [3, -257], [-1, fromB64url(jwk.n)], [-2, fromB64url(jwk.e)]]);
    return cbor.encode(key);
  }

  /** ES256: ECDSA with SHA-256, DER; EdDSA: Ed25519; RS256: RSASSA-PKCS1-v1_5 with SHA-256. */
  sign(data) {
    if (this.alg === -8) return crypto.sign(null, data, this.privateKey);
    return crypto.sign("sha256", data, this.alg === -7 ? { key: this.privateKey, dsaEncoding: "der" } : this.privateKey);
  }

  attestedCredentialData() {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(this.credentialId.length);
    return Buffer.concat([this.aaguid, length, this.credentialId, this.coseKey()]);
  }

  authenticatorData(rpId, flags, attested) {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.signCount >>> 0);
    const parts = [sha256(Buffer.from(rpId, "utf8")), Buffer.from([flags]), count];
    if (attested) parts.push(this.attestedCredentialData());
    return Buffer.concat(parts);
  }

  /**
   * navigator.credentials.create(): the registration JSON.
   * @param {{challenge: string, origin: string, rpId: string, flags?: number, type?: string, crossOrigin?: boolean}} request
   * @param {"none"|"packed"|"packed-x5c"} attestation
   */
  register(request, attestation = "none") {
    const clientData = clientDataJSON(request, "webauthn.create");
    const authData = this.authenticatorData(request.rpId, (request.flags ?? FLAG_UP | FLAG_UV) | FLAG_AT, true);
    const signed = Buffer.concat([authData, sha256(clientData)]);
    let fmt = "packed";
    let attStmt;
    if (attestation === "none") {
      fmt = "none";
      attStmt = new Map();
    } else if (attestation === "packed") {
      attStmt = new Map([["alg", this.alg], ["sig", this.sign(signed)]]);
    } else if (attestation === "packed-x5c") {
      const { key, certDer } = attestationMaterial();
      const sig = crypto.sign("sha256", signed, { key, dsaEncoding: "der" });
      attStmt = new Map([["alg", -7], ["sig", sig], ["x5c", [certDer]]]);
    } else {
      throw new Error(`unknown attestation ${attestation}`);
    }
    const attestationObject = cbor.encode(new Map([["fmt", fmt], ["attStmt", attStmt], ["authData", authData]]));
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(attestationObject),
        authenticatorData: b64url(authData),
        transports: ["internal"],
        publicKeyAlgorithm: this.alg,
      },
    };
  }

  /**
   * navigator.credentials.get(): the assertion JSON (the counter moves first).
   * @param {{challenge: string, origin: string, rpId: string, userHandle?: string, flags?: number, type?: string, crossOrigin?: boolean}} request
   */
  assert(request) {
    this.signCount = (this.signCount + this.counterStep) >>> 0;
    const clientData = clientDataJSON(request, "webauthn.get");
    const authData = this.authenticatorData(request.rpId, request.flags ?? FLAG_UP | FLAG_UV, false);
    const signature = this.sign(Buffer.concat([authData, sha256(clientData)]));
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: request.userHandle ?? null,
      },
    };
  }
}

function clientDataJSON(request, defaultType) {
  return Buffer.from(
    JSON.stringify({
      type: request.type ?? defaultType,
      challenge: request.challenge,
      origin: request.origin,
      crossOrigin: request.crossOrigin ?? false,
    }),
    "utf8",
  );
}

/** Changes the bytes of a base64url member (`path` like "response.signature") and re-encodes them. */
function tamper(credential, memberPath, change) {
  const keys = memberPath.split(".");
  const last = keys.pop();
  const holder = keys.reduce((o, k) => o[k], credential);
  const bytes = fromB64url(holder[last]);
  holder[last] = b64url(change(bytes) ?? bytes);
  return credential;
}

/** Every algorithm and attestation, registered and asserted once, with the options used. */
function fixture() {
  const origin = "https://example.com";
  const rpId = "example.com";
  const cases = [];
  for (const alg of ALGORITHMS) {
    for (const attestation of ATTESTATIONS) {
      const auth = new Authenticator(alg);
      const registerChallenge = b64url(crypto.randomBytes(32));
      const signInChallenge = b64url(crypto.randomBytes(32));
      cases.push({
        name: `node ${alg} ${attestation}`,
        algorithm: alg,
        attestation,
        origin,
        rpId,
        registerChallenge,
        registration: auth.register({ challenge: registerChallenge, origin, rpId }, attestation),
        signInChallenge,
        assertion: auth.assert({ challenge: signInChallenge, origin, rpId, userHandle: b64url("user-handle") }),
      });
    }
  }
  return { madeBy: "tests/sdk/node/webauthn-authenticator.js", cases };
}

module.exports = { Authenticator, tamper, b64url, fromB64url, FLAG_UP, FLAG_UV, FLAG_AT, AAGUID, ALGORITHMS, ATTESTATIONS };

if (require.main === module) {
  process.stdout.write(JSON.stringify(fixture(), null, 1) + "\n");
}
