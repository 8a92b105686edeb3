"""A signing SAML 2.0 identity provider for the tests, and the forgeries an attacker would try.

It is independent of Portcullis: XML is built with lxml, signed with signxml (enveloped RSA-SHA256,
exclusive C14N, as Okta, Azure AD and ADFS sign), and keys and certificates come from cryptography.

Used three ways:

* as a module, by the SDK tests: ``Idp()`` makes a key pair and a self-signed certificate,
  ``idp.metadata_b64()`` is what ``create_or_update_client`` takes, ``read_authn_request()`` decodes
  the SP's ``SAMLRequest`` (and checks its signature against the SP certificate), ``idp.response()``
  builds and signs a response, and ``forge(kind, idp, ...)`` builds each forgery;
* from other languages, through the command line (``python saml_idp.py response '<json>'``, see
  ``main``), e.g. the node SDK tests as a subprocess;
* ``python saml_idp.py fixtures <dir>`` writes the recorded set the Rust unit tests verify
  (``crates/core/tests/fixtures/saml``), with a fixed clock (see that directory's README).

The SP side follows Portcullis's rules: the AuthnRequest ID of an SP-initiated login is
``"_" + hex(SHA-256(relayState || 0x00 || acsURL))`` (``request_id``), and the response must
echo it in ``InResponseTo`` with ``Recipient`` = the ACS URL.
"""

import base64
import copy
import datetime
import hashlib
import json
import sys
import uuid
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, XMLVerifier

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

DEFAULT_SP_ENTITY_ID = "https://saml.supertokens.com"
FIVE_MINUTES_MS = 5 * 60 * 1000


def q(ns, local):
    return f"{{{ns}}}{local}"


def iso(ms):
    """An xs:dateTime in UTC with milliseconds, as IdPs write them."""
    dt = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_ms():
    return int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)


def request_id(relay_state, acs_url):
    """The AuthnRequest ID Portcullis derives for a login (its relay state and ACS URL)."""
    digest = hashlib.sha256(relay_state.encode() + b"\0" + acs_url.encode()).hexdigest()
    return "_" + digest


def new_id():
    return "_" + uuid.uuid4().hex


def serialize(element):
    return etree.tostring(element, encoding="unicode").encode()


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


class _Sha1Signer(XMLSigner):
    """signxml refuses SHA-1 by default; the core accepts it, so one fixture proves we do too."""

    def check_deprecated_methods(self):
        pass


def _signer(algorithm="rsa-sha256", digest="sha256"):
    cls = _Sha1Signer if "sha1" in (algorithm + digest) else XMLSigner
    return cls(signature_algorithm=algorithm, digest_algorithm=digest, c14n_algorithm=EXC_C14N)


def _insert_placeholder(element):
    """Places the signature where SAML wants it: right after the element's Issuer."""
    placeholder = etree.Element(q(DS, "Signature"), nsmap={"ds": DS})
    placeholder.set("Id", "placeholder")
    issuer = element.find(q(SAML, "Issuer"))
    issuer.addnext(placeholder)


def sign_element(element, key, cert_pem, algorithm="rsa-sha256", digest="sha256", reference_uri=None):
    """An enveloped signature of `element` (a standalone Assertion or Response), referencing its ID."""
    _insert_placeholder(element)
    return _signer(algorithm, digest).sign(
        element, key=key, cert=cert_pem, id_attribute="ID", reference_uri=reference_uri
    )


def make_key_and_cert(common_name, not_before_ms, days=3650):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime.fromtimestamp(not_before_ms / 1000, datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return key, cert


class Idp:
    """One IdP: its entity id, SSO URL, signing key and certificate."""

    def __init__(self, entity_id="https://idp.test/metadata", sso_url="https://idp.test/sso",
                 key=None, cert=None, clock_ms=None):
        if key is None:
            key, cert = make_key_and_cert("Portcullis test IdP", (clock_ms or now_ms()) - 86_400_000)
        self.entity_id = entity_id
        self.sso_url = sso_url
        self.key = key
        self.cert = cert

    @classmethod
    def from_pem(cls, key_pem, cert_pem, **kwargs):
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        return cls(key=key, cert=cert, **kwargs)

    def key_pem(self):
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def cert_pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def cert_b64(self):
        return b64(self.cert.public_bytes(serialization.Encoding.DER))

    def metadata_xml(self, binding=REDIRECT_BINDING):
        root = etree.Element(q(MD, "EntityDescriptor"), nsmap={"md": MD, "ds": DS})
        root.set("entityID", self.entity_id)
        idp = etree.SubElement(root, q(MD, "IDPSSODescriptor"))
        idp.set("WantAuthnRequestsSigned", "false")
        idp.set("protocolSupportEnumeration", SAMLP)
        key = etree.SubElement(idp, q(MD, "KeyDescriptor"))
        key.set("use", "signing")
        data = etree.SubElement(etree.SubElement(key, q(DS, "KeyInfo")), q(DS, "X509Data"))
        etree.SubElement(data, q(DS, "X509Certificate")).text = self.cert_b64()
        etree.SubElement(idp, q(MD, "NameIDFormat")).text = EMAIL_FORMAT
        for b in (POST_BINDING, binding):
            sso = etree.SubElement(idp, q(MD, "SingleSignOnService"))
            sso.set("Binding", b)
            sso.set("Location", self.sso_url)
        return '<?xml version="1.0" encoding="UTF-8"?>' + etree.tostring(root, encoding="unicode")

    def metadata_b64(self):
        """What create_or_update_client's metadataXML takes."""
        return b64(self.metadata_xml())

    def assertion(self, *, now, name_id="alice@example.com", name_id_format=EMAIL_FORMAT,
                  attributes=None, audience=DEFAULT_SP_ENTITY_ID, recipient=None, in_response_to=None,
                  issue_instant=None, not_before=None, not_on_or_after=None,
                  confirmation_not_on_or_after=None, assertion_id=None):
        """An unsigned Assertion element. Times are milliseconds; defaults are the usual
        NotBefore = now - 5 s and NotOnOrAfter = now + 5 min."""
        not_before = now - 5000 if not_before is None else not_before
        not_on_or_after = now + FIVE_MINUTES_MS if not_on_or_after is None else not_on_or_after
        if confirmation_not_on_or_after is None:
            confirmation_not_on_or_after = not_on_or_after
        a = etree.Element(q(SAML, "Assertion"), nsmap={"saml": SAML, "xs": XS, "xsi": XSI})
        a.set("ID", assertion_id or new_id())
        a.set("IssueInstant", iso(now if issue_instant is None else issue_instant))
        a.set("Version", "2.0")
        etree.SubElement(a, q(SAML, "Issuer")).text = self.entity_id
        subject = etree.SubElement(a, q(SAML, "Subject"))
        nid = etree.SubElement(subject, q(SAML, "NameID"))
        if name_id_format:
            nid.set("Format", name_id_format)
        nid.text = name_id
        confirmation = etree.SubElement(subject, q(SAML, "SubjectConfirmation"))
        confirmation.set("Method", BEARER)
        data = etree.SubElement(confirmation, q(SAML, "SubjectConfirmationData"))
        if in_response_to is not None:
            data.set("InResponseTo", in_response_to)
        data.set("NotOnOrAfter", iso(confirmation_not_on_or_after))
        if recipient is not None:
            data.set("Recipient", recipient)
        conditions = etree.SubElement(a, q(SAML, "Conditions"))
        conditions.set("NotBefore", iso(not_before))
        conditions.set("NotOnOrAfter", iso(not_on_or_after))
        restriction = etree.SubElement(conditions, q(SAML, "AudienceRestriction"))
        etree.SubElement(restriction, q(SAML, "Audience")).text = audience
        authn = etree.SubElement(a, q(SAML, "AuthnStatement"))
        authn.set("AuthnInstant", iso(now))
        authn.set("SessionIndex", new_id())
        ctx = etree.SubElement(authn, q(SAML, "AuthnContext"))
        etree.SubElement(ctx, q(SAML, "AuthnContextClassRef")).text = (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        )
        if attributes:
            statement = etree.SubElement(a, q(SAML, "AttributeStatement"))
            for attr_name, values in attributes.items():
                attr = etree.SubElement(statement, q(SAML, "Attribute"))
                attr.set("Name", attr_name)
                attr.set("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
                for v in values:
                    value = etree.SubElement(attr, q(SAML, "AttributeValue"))
                    if isinstance(v, str):
                        value.set(q(XSI, "type"), "xs:string")
                        value.text = v
                    else:
                        # An element value (xs:anyType): its text is the claim.
                        value.append(v)
        return a

    def response_shell(self, *, now, destination=None, in_response_to=None, issue_instant=None,
                       status=SUCCESS, response_id=None):
        r = etree.Element(q(SAMLP, "Response"), nsmap={"samlp": SAMLP, "saml": SAML})
        if destination is not None:
            r.set("Destination", destination)
        r.set("ID", response_id or new_id())
        if in_response_to is not None:
            r.set("InResponseTo", in_response_to)
        r.set("IssueInstant", iso(now if issue_instant is None else issue_instant))
        r.set("Version", "2.0")
        etree.SubElement(r, q(SAML, "Issuer")).text = self.entity_id
        st = etree.SubElement(r, q(SAMLP, "Status"))
        etree.SubElement(st, q(SAMLP, "StatusCode")).set("Value", status)
        return r

    def sign(self, element, **kwargs):
        return sign_element(element, self.key, self.cert_pem(), **kwargs)

    def response(self, *, now=None, sign="assertion", relay_state=None, acs_url=None,
                 in_response_to=None, recipient=None, destination=None, issue_instant=None,
                 status=SUCCESS, algorithm="rsa-sha256", digest="sha256", **assertion_args):
        """A signed Response element. `sign` is "assertion", "response", "both" or "none".

        SP-initiated: give `relay_state` and `acs_url` (InResponseTo is derived as Portcullis
        derives the request ID, Recipient and Destination are the ACS), or `in_response_to`
        (e.g. read from the real AuthnRequest) and `acs_url`. IdP-initiated: give neither;
        `acs_url` alone sets Recipient and Destination without InResponseTo."""
        now = now_ms() if now is None else now
        if in_response_to is None and relay_state is not None:
            in_response_to = request_id(relay_state, acs_url)
        recipient = acs_url if recipient is None else recipient
        destination = acs_url if destination is None else destination
        assertion = self.assertion(now=now, recipient=recipient, in_response_to=in_response_to, **assertion_args)
        if sign in ("assertion", "both"):
            assertion = self.sign(assertion, algorithm=algorithm, digest=digest)
        response = self.response_shell(now=now, destination=destination, in_response_to=in_response_to,
                                       issue_instant=issue_instant, status=status)
        response.append(assertion)
        if sign in ("response", "both"):
            response = self.sign(response, algorithm=algorithm, digest=digest)
        return response


def read_authn_request(saml_request, sp_cert_pem=None):
    """Decodes an HTTP-Redirect SAMLRequest (already URL-decoded): base64, raw inflate, parse.
    With `sp_cert_pem`, an embedded signature must verify against it (the SP metadata's certificate).
    Returns {"id", "acs_url", "issuer", "destination", "signed", "xml"}."""
    xml = zlib.decompress(base64.b64decode(saml_request), -15)
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    if root.tag != q(SAMLP, "AuthnRequest"):
        raise ValueError(f"not an AuthnRequest: {root.tag}")
    signature = root.find(q(DS, "Signature"))
    if sp_cert_pem is not None:
        if signature is None:
            raise ValueError("the AuthnRequest is not signed")
        XMLVerifier().verify(xml, x509_cert=sp_cert_pem, id_attribute="ID",
                             expect_config=_one_reference())
    return {
        "id": root.get("ID"),
        "acs_url": root.get("AssertionConsumerServiceURL"),
        "destination": root.get("Destination"),
        "issuer": root.findtext(q(SAML, "Issuer")),
        "signed": signature is not None,
        "xml": xml.decode(),
    }


def _one_reference():
    from signxml.verifier import SignatureConfiguration

    return SignatureConfiguration(expect_references=1)


# ---------------------------------------------------------------------------------------------
# Forgeries. Each returns the response XML (bytes) an attacker would post. `genuine` arguments are
# the usual response() arguments of the login being attacked.

VICTIM = "admin@victim.example"


def _detach_signature(element):
    sig = element.find(q(DS, "Signature"))
    element.remove(sig)
    return sig


def _set_name_id(assertion, value):
    assertion.find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}").text = value


def _only_assertion(response):
    return response.find(q(SAML, "Assertion"))


def forge_tampered_name_id(idp, **genuine):
    r = idp.response(**genuine)
    _set_name_id(_only_assertion(r), VICTIM)
    return serialize(r)


def forge_xsw_advice(idp, same_id=False, **genuine):
    """The genuine signed assertion, signature removed, parked under the forged assertion's Advice;
    its signature moved onto the forged assertion (victim NameID)."""
    r = idp.response(**genuine)
    signed = _only_assertion(r)
    forged = copy.deepcopy(signed)
    _detach_signature(forged)
    sig = _detach_signature(signed)
    r.remove(signed)
    if not same_id:
        forged.set("ID", new_id())
    _set_name_id(forged, VICTIM)
    forged.find(q(SAML, "Issuer")).addnext(sig)
    advice = etree.Element(q(SAML, "Advice"))
    advice.append(signed)
    forged.find(q(SAML, "Conditions")).addnext(advice)
    r.append(forged)
    return serialize(r)


def forge_xsw_extensions_response(idp, **genuine):
    """A genuine signed Response, signature removed, parked under the forged Response's
    Extensions; its signature moved onto the forged Response (victim NameID, new IDs)."""
    genuine_response = idp.response(sign="response", **genuine)
    forged = copy.deepcopy(genuine_response)
    _detach_signature(forged)
    forged.set("ID", new_id())
    forged_assertion = _only_assertion(forged)
    forged_assertion.set("ID", new_id())
    _set_name_id(forged_assertion, VICTIM)
    sig = _detach_signature(genuine_response)
    forged.find(q(SAML, "Issuer")).addnext(sig)
    extensions = etree.Element(q(SAMLP, "Extensions"))
    extensions.append(genuine_response)
    sig.addnext(extensions)
    return serialize(forged)


def forge_xsw_extensions_assertion(idp, copy_signature=False, **genuine):
    """The genuine signed assertion parked under the Response's Extensions, a forged assertion (victim
    NameID) as the real child: unsigned, or carrying a copy of the genuine signature."""
    r = idp.response(**genuine)
    signed = _only_assertion(r)
    forged = copy.deepcopy(signed)
    forged.set("ID", new_id())
    _set_name_id(forged, VICTIM)
    if not copy_signature:
        _detach_signature(forged)
    r.remove(signed)
    extensions = etree.Element(q(SAMLP, "Extensions"))
    extensions.append(signed)
    r.find(q(SAML, "Issuer")).addnext(extensions)
    r.append(forged)
    return serialize(r)


def forge_unsigned_sibling(idp, **genuine):
    """A genuine signed assertion and, after it, an unsigned one naming the victim."""
    r = idp.response(**genuine)
    forged = copy.deepcopy(_only_assertion(r))
    _detach_signature(forged)
    forged.set("ID", new_id())
    _set_name_id(forged, VICTIM)
    r.append(forged)
    return serialize(r)


def forge_other_key(idp, **genuine):
    """Signed by another key, whose certificate travels in KeyInfo."""
    other = Idp(entity_id=idp.entity_id, sso_url=idp.sso_url, clock_ms=genuine.get("now"))
    return serialize(other.response(**genuine))


def forge_doctype(idp, external=False, **genuine):
    body = serialize(idp.response(**genuine)).decode()
    if external:
        doctype = '<!DOCTYPE samlp:Response [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    else:
        doctype = '<!DOCTYPE samlp:Response [<!ENTITY e "x">]>'
    return (doctype + body).encode()


def _signature_of(response):
    return response.find(f".//{q(DS, 'Signature')}")


def forge_reference_uri(idp, uri, **genuine):
    """A signature whose Reference names something else: a local file, or nothing (URI="")."""
    r = idp.response(**genuine)
    _signature_of(r).find(f".//{q(DS, 'Reference')}").set("URI", uri)
    return serialize(r)


def forge_empty_reference_uri(idp, **genuine):
    """A correctly signed response whose Reference is URI="" (the whole document): valid XML-DSig,
    but SAML core 5.4.2 requires the signed element's ID. (signxml writes URI="" for an element
    without an ID, so the Response goes without one.)"""
    r = idp.response(sign="none", **genuine)
    del r.attrib["ID"]
    return serialize(idp.sign(r))


def forge_extra_transform(idp, algorithm, child=None, **genuine):
    r = idp.response(**genuine)
    transforms = _signature_of(r).find(f".//{q(DS, 'Transforms')}")
    t = etree.SubElement(transforms, q(DS, "Transform"))
    t.set("Algorithm", algorithm)
    if child is not None:
        t.append(child)
    return serialize(r)


def forge_xpath_transform(idp, **genuine):
    xpath = etree.Element(q(DS, "XPath"))
    xpath.text = "count(ancestor-or-self::node()) > 0"
    return forge_extra_transform(idp, "http://www.w3.org/TR/1999/REC-xpath-19991116", xpath, **genuine)


def forge_xslt_transform(idp, **genuine):
    xslt = etree.fromstring(
        '<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
        '<xsl:template match="/"><xsl:copy-of select="document(\'/etc/passwd\')"/></xsl:template>'
        "</xsl:stylesheet>"
    )
    return forge_extra_transform(idp, "http://www.w3.org/TR/1999/REC-xslt-19991116", xslt, **genuine)


def forge_ds_object(idp, **genuine):
    r = idp.response(**genuine)
    obj = etree.SubElement(_signature_of(r), q(DS, "Object"))
    manifest = etree.SubElement(obj, q(DS, "Manifest"))
    ref = etree.SubElement(manifest, q(DS, "Reference"))
    ref.set("URI", "#" + _only_assertion(r).get("ID"))
    return serialize(r)


def forge_two_references(idp, **genuine):
    r = idp.response(**genuine)
    reference = _signature_of(r).find(f".//{q(DS, 'Reference')}")
    reference.addnext(copy.deepcopy(reference))
    return serialize(r)


def forge_hmac(idp, **genuine):
    """SignatureMethod switched to HMAC (keyed with the public certificate, the classic trick)."""
    r = idp.response(**genuine)
    method = _signature_of(r).find(f".//{q(DS, 'SignatureMethod')}")
    method.set("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256")
    return serialize(r)


def forge_comment_in_name_id(idp, **genuine):
    """NameID `<prefix><!--x--><suffix>` after signing: exclusive C14N drops comments, so the
    signature still verifies; the value read must be the whole signed text, never `<prefix>`."""
    r = idp.response(name_id="admin@victim.example.evil.example", **genuine)
    nid = _only_assertion(r).find(f"{q(SAML, 'Subject')}/{q(SAML, 'NameID')}")
    nid.text = "admin@victim.example"
    comment = etree.Comment("x")
    comment.tail = ".evil.example"
    nid.append(comment)
    return serialize(r)


def forge_two_signed_assertions(idp, **genuine):
    r = idp.response(**genuine)
    second = idp.sign(idp.assertion(now=genuine["now"], name_id=VICTIM))
    r.append(second)
    return serialize(r)


def forge_encrypted_assertion_beside(idp, **genuine):
    r = idp.response(**genuine)
    enc = etree.SubElement(r, q(SAML, "EncryptedAssertion"))
    etree.SubElement(enc, q("http://www.w3.org/2001/04/xmlenc#", "EncryptedData"))
    return serialize(r)


FORGERIES = {
    "tampered_name_id": forge_tampered_name_id,
    "xsw_advice": forge_xsw_advice,
    "xsw_advice_same_id": lambda idp, **g: forge_xsw_advice(idp, same_id=True, **g),
    "xsw_extensions_response": forge_xsw_extensions_response,
    "xsw_extensions_assertion": forge_xsw_extensions_assertion,
    "xsw_extensions_assertion_copied_signature":
        lambda idp, **g: forge_xsw_extensions_assertion(idp, copy_signature=True, **g),
    "unsigned_sibling": forge_unsigned_sibling,
    "other_key": forge_other_key,
    "doctype_internal_entity": forge_doctype,
    "doctype_external_entity": lambda idp, **g: forge_doctype(idp, external=True, **g),
    "reference_local_file": lambda idp, **g: forge_reference_uri(idp, "Cargo.toml", **g),
    "empty_reference_uri": forge_empty_reference_uri,
    "xpath_transform": forge_xpath_transform,
    "xslt_transform": forge_xslt_transform,
    "ds_object": forge_ds_object,
    "two_references": forge_two_references,
    "hmac_signature_method": forge_hmac,
    "two_signed_assertions": forge_two_signed_assertions,
    "encrypted_assertion_beside": forge_encrypted_assertion_beside,
    "unsigned": lambda idp, **g: serialize(idp.response(sign="none", **g)),
}


def forge(kind, idp, **genuine):
    """The forgery `kind` (a key of FORGERIES) of the login described by `genuine`."""
    return FORGERIES[kind](idp, **genuine)


# ---------------------------------------------------------------------------------------------
# The recorded fixtures of crates/core/tests/fixtures/saml.

FIXTURE_NOW = 1_768_478_400_000  # 2026-01-15T12:00:00Z
FIXTURE_ACS = "http://localhost:3001/auth/public/saml/callback"
FIXTURE_RELAY_STATE = "3f1c6a1e-6a8e-4c55-9a55-0d6b2f7c1a10"
FIXTURE_OTHER_RELAY_STATE = "9b2d7c44-1e0f-4a3b-8c5d-6e7f8a9b0c1d"
FIXTURE_ATTRIBUTES = {
    "email": ["alice@example.com"],
    "groups": ["admins", "developers", "qa"],
    "department": ["  engineering\n  "],
    "blank": ["   "],
}


def write_fixtures(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    idp = Idp(entity_id="https://idp.test/metadata", sso_url="https://idp.test/sso",
              clock_ms=FIXTURE_NOW)
    now = FIXTURE_NOW
    sp = dict(now=now, relay_state=FIXTURE_RELAY_STATE, acs_url=FIXTURE_ACS)

    def nested_value():
        e = etree.Element("{urn:example:x}Name", nsmap={"x": "urn:example:x"})
        e.text = "nested "
        inner = etree.SubElement(e, "{urn:example:x}Part")
        inner.text = "value"
        return e

    attributes = dict(FIXTURE_ATTRIBUTES, nested=[nested_value()])
    files = {
        "valid_assertion_signed.xml": serialize(idp.response(attributes=attributes, **sp)),
        "valid_response_signed.xml": serialize(idp.response(sign="response", **sp)),
        "valid_both_signed.xml": serialize(idp.response(sign="both", **sp)),
        "valid_idp_initiated.xml": serialize(idp.response(now=now)),
        "valid_sha1.xml": serialize(idp.response(algorithm="rsa-sha1", digest="sha1", **sp)),
        "valid_comment_in_name_id.xml": forge_comment_in_name_id(idp, **sp),
        "expired.xml": serialize(idp.response(
            now=now - 2 * 3600_000, relay_state=FIXTURE_RELAY_STATE, acs_url=FIXTURE_ACS)),
        "conditions_expired.xml": serialize(idp.response(not_on_or_after=now - 1000, **sp)),
        "not_yet_valid.xml": serialize(idp.response(not_before=now + 60_000, **sp)),
        "issue_instant_skewed.xml": serialize(idp.response(issue_instant=now + 10 * 60_000, **sp)),
        "subject_confirmation_expired.xml": serialize(
            idp.response(confirmation_not_on_or_after=now - 1000, **sp)),
        "wrong_audience.xml": serialize(idp.response(audience="https://other-sp.example", **sp)),
        "wrong_in_response_to.xml": serialize(idp.response(
            now=now, in_response_to=request_id(FIXTURE_OTHER_RELAY_STATE, FIXTURE_ACS), acs_url=FIXTURE_ACS)),
        "wrong_recipient.xml": serialize(idp.response(recipient="https://evil.example/acs", **sp)),
        "wrong_destination.xml": serialize(idp.response(destination="https://evil.example/acs", **sp)),
        "status_failure.xml": serialize(
            idp.response(status="urn:oasis:names:tc:SAML:2.0:status:Responder", **sp)),
    }
    for kind in FORGERIES:
        files[f"forged_{kind}.xml"] = forge(kind, idp, **sp)
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "idp_cert.pem").write_text(idp.cert_pem())
    (out / "idp_metadata.xml").write_text(idp.metadata_xml())
    (out / "fixture.json").write_text(json.dumps({
        "now_ms": FIXTURE_NOW,
        "sp_entity_id": DEFAULT_SP_ENTITY_ID,
        "acs_url": FIXTURE_ACS,
        "relay_state": FIXTURE_RELAY_STATE,
        "request_id": request_id(FIXTURE_RELAY_STATE, FIXTURE_ACS),
        "idp_entity_id": idp.entity_id,
        "files": sorted(files),
    }, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# Command line (for tests in other languages).

def main(argv):
    """
    saml_idp.py fixtures <dir>
    saml_idp.py keygen                      -> {"key_pem", "cert_pem"}
    saml_idp.py metadata '<json>'           json: {key_pem, cert_pem, entity_id?, sso_url?}
                                            -> {"metadata_xml", "metadata_b64"}
    saml_idp.py request '<json>'            json: {saml_request, sp_cert_pem?} -> read_authn_request()
    saml_idp.py response '<json>'           json: {key_pem, cert_pem, entity_id?, sso_url?, forgery?,
                                                   and response() arguments: now, sign, relay_state,
                                                   acs_url, in_response_to, name_id, attributes, audience...}
                                            -> {"saml_response": base64}
    """
    if len(argv) < 2:
        print(main.__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], (json.loads(argv[2]) if len(argv) > 2 and argv[1] != "fixtures" else {})
    if command == "fixtures":
        write_fixtures(argv[2])
        return 0
    if command == "keygen":
        idp = Idp()
        print(json.dumps({"key_pem": idp.key_pem(), "cert_pem": idp.cert_pem()}))
        return 0
    if command == "request":
        print(json.dumps(read_authn_request(args["saml_request"], args.get("sp_cert_pem"))))
        return 0
    identity = {k: args.pop(k) for k in ("entity_id", "sso_url") if k in args}
    idp = Idp.from_pem(args.pop("key_pem"), args.pop("cert_pem"), **identity)
    if command == "metadata":
        print(json.dumps({"metadata_xml": idp.metadata_xml(), "metadata_b64": idp.metadata_b64()}))
        return 0
    if command == "response":
        forgery = args.pop("forgery", None)
        args.setdefault("now", now_ms())
        xml = forge(forgery, idp, **args) if forgery else serialize(idp.response(**args))
        print(json.dumps({"saml_response": b64(xml)}))
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
