"""A software WebAuthn authenticator for the SDK tests.

It answers the options the SDK hands a browser with what a browser forwards after
`navigator.credentials.create()` / `.get()` (the PublicKeyCredential `toJSON()` form, base64url
without padding), for ES256 (-7), EdDSA (-8) and RS256 (-257) credentials with "none", "packed"
(self) and "packed-x5c" attestation (WebAuthn L3 §6.1, §6.5, §8.2).

Yubico's `fido2` builds the WebAuthn structures (COSE keys, authenticator data, attestation
objects, client data) and `cryptography` makes the keys, signatures and the x5c certificate.

    auth = Authenticator(-8)
    credential = auth.register(Request(challenge, origin, rp_id), "none")   # registration dict
    assertion = auth.assert_(Request(challenge, origin, rp_id), user_handle)  # assertion dict

Negative tests change one input of the `Request` (origin, rp_id, challenge, flags, client data
type), the counter (`auth.sign_count`, `auth.counter_step`) or the dict afterwards (`tamper`).

`python webauthn_authenticator.py` prints registrations and assertions for every algorithm and
attestation (the fixture crates/core/tests/fixtures/webauthn/software-python.json, which the Rust
tests verify).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from fido2.cose import ES256, RS256, EdDSA
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40
AAGUID = b"portcullis-test!"
ALGORITHMS = (-7, -8, -257)
ATTESTATIONS = ("none", "packed", "packed-x5c")
AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


@dataclass
class Request:
    """One ceremony as the browser runs it."""

    challenge: str
    origin: str
    rp_id: str
    flags: int = FLAG_UP | FLAG_UV
    client_data_type: Optional[str] = None
    cross_origin: bool = False


@dataclass
class CertificateProfile:
    """The x5c certificate's properties; the default meets packed attestation's requirements."""

    organizational_unit: str = "Authenticator Attestation"
    ca: bool = False
    aaguid_extension: Optional[bytes] = AAGUID
    aaguid_extension_critical: bool = False


def _attestation_certificate(profile: CertificateProfile):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portcullis Tests"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, profile.organizational_unit),
            x509.NameAttribute(NameOID.COMMON_NAME, "Portcullis Test Authenticator"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=profile.ca, path_length=None), critical=True)
    )
    if profile.aaguid_extension is not None:
        # The extension's value is a DER OCTET STRING (tag 0x04, length 16) holding the AAGUID.
        value = b"\x04\x10" + profile.aaguid_extension
        builder = builder.add_extension(
            x509.UnrecognizedExtension(AAGUID_EXTENSION, value), critical=profile.aaguid_extension_critical
        )
    cert = builder.sign(key, hashes.SHA256())
    return key, cert


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Authenticator:
    """A software authenticator holding one credential."""

    def __init__(self, alg: int = -7):
        if alg == -7:
            self.private_key = ec.generate_private_key(ec.SECP256R1())
            self.cose_key = ES256.from_cryptography_key(self.private_key.public_key())
        elif alg == -8:
            self.private_key = ed25519.Ed25519PrivateKey.generate()
            self.cose_key = EdDSA.from_cryptography_key(self.private_key.public_key())
        elif alg == -257:
            self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.cose_key = RS256.from_cryptography_key(self.private_key.public_key())
        else:
            raise ValueError(f"unsupported algorithm {alg}")
        self.alg = alg
        self.credential_id = os.urandom(32)
        self.aaguid = AAGUID
        # Reported at registration, then moved by counter_step before each assertion (0 = no counter).
        self.sign_count = 0
        self.counter_step = 1

    @property
    def id(self) -> str:
        return websafe_encode(self.credential_id)

    def sign(self, data: bytes) -> bytes:
        """ES256: ECDSA with SHA-256, DER; EdDSA: Ed25519; RS256: RSASSA-PKCS1-v1_5 with SHA-256."""
        if self.alg == -7:
            return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == -8:
            return self.private_key.sign(data)
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def _client_data(self, request: Request, default_type: str) -> CollectedClientData:
        return CollectedClientData.create(
            request.client_data_type or default_type,
            request.challenge,
            request.origin,
            cross_origin=request.cross_origin,
        )

    def _auth_data(self, request: Request, flags: int, attested: bool) -> AuthenticatorData:
        credential_data = b""
        if attested:
            credential_data = AttestedCredentialData.create(self.aaguid, self.credential_id, self.cose_key)
        return AuthenticatorData.create(
            _sha256(request.rp_id.encode()), AuthenticatorData.FLAG(flags), self.sign_count, credential_data
        )

    def register(self, request: Request, attestation: str = "none", profile: Optional[CertificateProfile] = None) -> dict:
        """navigator.credentials.create(): the registration JSON."""
        client_data = self._client_data(request, "webauthn.create")
        auth_data = self._auth_data(request, request.flags | FLAG_AT, True)
        signed = bytes(auth_data) + client_data.hash
        if attestation == "none":
            fmt, statement = "none", {}
        elif attestation == "packed":
            fmt, statement = "packed", {"alg": self.alg, "sig": self.sign(signed)}
        elif attestation == "packed-x5c":
            key, cert = _attestation_certificate(profile or CertificateProfile())
            sig = key.sign(signed, ec.ECDSA(hashes.SHA256()))
            fmt = "packed"
            statement = {"alg": -7, "sig": sig, "x5c": [cert.public_bytes(Encoding.DER)]}
        else:
            raise ValueError(f"unknown attestation {attestation}")
        obj = AttestationObject.create(fmt, auth_data, statement)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": websafe_encode(bytes(client_data)),
                "attestationObject": websafe_encode(bytes(obj)),
                "authenticatorData": websafe_encode(bytes(auth_data)),
                "transports": ["internal"],
                "publicKeyAlgorithm": self.alg,
            },
        }

    def assert_(self, request: Request, user_handle: Optional[str] = None) -> dict:
        """navigator.credentials.get(): the assertion JSON (the counter moves first)."""
        self.sign_count = (self.sign_count + self.counter_step) & 0xFFFFFFFF
        client_data = self._client_data(request, "webauthn.get")
        auth_data = self._auth_data(request, request.flags, False)
        signature = self.sign(bytes(auth_data) + client_data.hash)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": websafe_encode(bytes(client_data)),
                "authenticatorData": websafe_encode(bytes(auth_data)),
                "signature": websafe_encode(signature),
                "userHandle": user_handle,
            },
        }


def tamper(credential: dict, path: str, change: Callable[[bytearray], None]) -> dict:
    """Changes the bytes of a base64url member (`path` like "response.signature") and re-encodes them."""
    *keys, last = path.split(".")
    holder = credential
    for k in keys:
        holder = holder[k]
    data = bytearray(websafe_decode(holder[last]))
    change(data)
    holder[last] = websafe_encode(bytes(data))
    return credential


def fixture() -> dict:
    """Every algorithm and attestation, registered and asserted once, with the options used."""
    origin, rp_id = "https://example.com", "example.com"
    cases = []
    for alg in ALGORITHMS:
        for attestation in ATTESTATIONS:
            auth = Authenticator(alg)
            register_challenge = websafe_encode(os.urandom(32))
            sign_in_challenge = websafe_encode(os.urandom(32))
            cases.append(
                {
                    "name": f"python {alg} {attestation}",
                    "algorithm": alg,
                    "attestation": attestation,
                    "origin": origin,
                    "rpId": rp_id,
                    "registerChallenge": register_challenge,
                    "registration": auth.register(Request(register_challenge, origin, rp_id), attestation),
                    "signInChallenge": sign_in_challenge,
                    "assertion": auth.assert_(Request(sign_in_challenge, origin, rp_id), websafe_encode(b"user-handle")),
                }
            )
    return {"madeBy": "tests/sdk/python/webauthn_authenticator.py", "cases": cases}


if __name__ == "__main__":
    print(json.dumps(fixture(), indent=1))
