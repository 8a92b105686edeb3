"""The software authenticator (webauthn_authenticator.py) checked on its own, before the webauthn
recipe's tests rely on it: python-fido2's own verifiers accept its packed attestations (self and
x5c) and its assertion signatures, and its authenticator data says what was asked. The Rust tests
verify its output with the core's verifier (crates/core/tests/fixtures/webauthn/software-python.json).
"""

import hashlib
import json

import pytest
from fido2.attestation import AttestationType, NoneAttestation, PackedAttestation
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AuthenticatorData

from webauthn_authenticator import (
    AAGUID,
    ALGORITHMS,
    ATTESTATIONS,
    FLAG_AT,
    FLAG_UP,
    FLAG_UV,
    Authenticator,
    CertificateProfile,
    Request,
    tamper,
)

ORIGIN, RP_ID = "https://example.com", "example.com"


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("attestation", ATTESTATIONS)
def test_registrations_and_assertions_verify_with_fido2(alg, attestation):
    auth = Authenticator(alg)
    challenge = websafe_encode(b"c" * 32)
    reg = auth.register(Request(challenge, ORIGIN, RP_ID), attestation)
    assert reg["id"] == websafe_encode(auth.credential_id)
    client_data = websafe_decode(reg["response"]["clientDataJSON"])
    assert json.loads(client_data) == {"type": "webauthn.create", "challenge": challenge, "origin": ORIGIN, "crossOrigin": False}
    obj = AttestationObject(websafe_decode(reg["response"]["attestationObject"]))
    auth_data = obj.auth_data
    assert auth_data.rp_id_hash == hashlib.sha256(RP_ID.encode()).digest()
    assert auth_data.flags == FLAG_UP | FLAG_UV | FLAG_AT
    assert auth_data.credential_data.aaguid == AAGUID
    assert auth_data.credential_data.credential_id == auth.credential_id
    assert auth_data.credential_data.public_key.ALGORITHM == alg
    client_data_hash = hashlib.sha256(client_data).digest()
    if attestation == "none":
        assert obj.fmt == "none"
        NoneAttestation().verify(obj.att_stmt, auth_data, client_data_hash)
    else:
        assert obj.fmt == "packed"
        result = PackedAttestation().verify(obj.att_stmt, auth_data, client_data_hash)
        expected = AttestationType.SELF if attestation == "packed" else AttestationType.BASIC
        assert result.attestation_type == expected

    key = auth_data.credential_data.public_key
    for expected_count in (1, 2):
        a = auth.assert_(Request(websafe_encode(b"s" * 32), ORIGIN, RP_ID), "dXNlcg")
        data = websafe_decode(a["response"]["authenticatorData"])
        assert AuthenticatorData(data).counter == expected_count
        assert a["response"]["userHandle"] == "dXNlcg"
        signed = data + hashlib.sha256(websafe_decode(a["response"]["clientDataJSON"])).digest()
        key.verify(signed, websafe_decode(a["response"]["signature"]))
        tamper(a, "response.signature", lambda b: b.__setitem__(len(b) - 1, b[-1] ^ 1))
        with pytest.raises(Exception):
            key.verify(signed, websafe_decode(a["response"]["signature"]))


def test_certificates_for_negative_tests():
    auth = Authenticator(-7)
    reg = auth.register(Request("AA", ORIGIN, RP_ID), "packed-x5c", CertificateProfile(organizational_unit="Sales"))
    obj = AttestationObject(websafe_decode(reg["response"]["attestationObject"]))
    client_data_hash = hashlib.sha256(websafe_decode(reg["response"]["clientDataJSON"])).digest()
    with pytest.raises(Exception):
        PackedAttestation().verify(obj.att_stmt, obj.auth_data, client_data_hash)


def test_negative_inputs():
    auth = Authenticator(-8)
    reg = auth.register(Request("AA", ORIGIN, RP_ID, flags=FLAG_UP, client_data_type="webauthn.get"), "none")
    assert json.loads(websafe_decode(reg["response"]["clientDataJSON"]))["type"] == "webauthn.get"
    assert AttestationObject(websafe_decode(reg["response"]["attestationObject"])).auth_data.flags == FLAG_UP | FLAG_AT
    auth.counter_step = 0
    a = auth.assert_(Request("AA", ORIGIN, RP_ID))
    assert AuthenticatorData(websafe_decode(a["response"]["authenticatorData"])).counter == 0
    assert a["response"]["userHandle"] is None
