//! The IdP's `samlp:Response` at the ACS: decoded, parsed once, verified, and read.
//!
//! XML-DSig and canonicalisation are `bergshamra`'s (pure Rust, on the same `uppsala` document we
//! read, so the verifier and the reader never see two different parses). Around it, our SAML rules,
//! so that no library default decides what is accepted:
//!
//! 1. **Before the library runs** ([`prescan`]): bergshamra is a general xmlsec replacement; it
//!    reads files for plain-name Reference URIs, runs XPath and XSLT transforms and digests every
//!    Reference of every signature. So every `ds:Reference` anywhere must be `#` + an NCName, every
//!    `ds:Transform` enveloped-signature or exclusive C14N, every `ds:SignedInfo` must hold exactly
//!    one Reference, and there is no `ds:Object`, `ds:Manifest` or `ds:RetrievalMethod` and at most
//!    a handful of signatures. No two elements may share an ID.
//! 2. **Shape**: exactly one `saml:Assertion` child of the Response, no `EncryptedAssertion`.
//! 3. **Signature** (the library, trusting only the client's certificate, then our profile): the
//!    signed object is the Response when it has a `ds:Signature` child, else the assertion (so when
//!    the Response is unsigned, every assertion is signed). Its one `ds:Signature` child must be
//!    valid with exactly one Reference, `#` + the object's `ID`, resolving to the object itself, the
//!    enveloped-signature transform and at most exclusive C14N beside it, and allowed algorithms.
//! 4. **Meaning**, read only from the verified assertion element (nothing under `Advice`, never a
//!    fresh search from the root): Status Success; `IssueInstant` within 5 minutes; Conditions
//!    `NotBefore`/`NotOnOrAfter` (no skew, as the core); the audience; the bearer subject
//!    confirmation: for an SP-initiated login `InResponseTo` = the request ID derived from the relay
//!    state and `Recipient` (the ACS URL of that login, see `login::request_id`), the Response's
//!    `InResponseTo`/`Destination` agreeing when present; for an IdP-initiated one no
//!    `InResponseTo` anywhere. When only the assertion is signed, the Response's own attributes
//!    are the attacker's: they are used only in checks that can refuse.
//! 5. **Claims** of that assertion ([`super::claims`]).

use std::collections::HashSet;

use bergshamra_dsig::{DsigContext, VerifyResult};
use uppsala::{Document, NodeId};

use super::claims::{self, Claims};
use super::login::request_id;
use super::xml::{self, NS_ASSERTION, NS_DSIG, NS_PROTOCOL};
use super::time::parse_date_time;

/// The core's 400 text for a response it cannot read.
pub const MALFORMED_MESSAGE: &str = "Invalid or malformed SAML response input";

/// The largest response XML accepted (real ones are a few KiB; a very attribute-heavy one, tens).
pub const MAX_RESPONSE_XML_BYTES: usize = 1 << 20;

/// One Response signature and one assertion signature is the legitimate most; a few more leaves
/// room without letting a document make the library digest without end.
const MAX_SIGNATURES: usize = 4;

/// The core allows 5 minutes either way on the Response's IssueInstant.
const ISSUE_INSTANT_SKEW_MS: i64 = 300_000;

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
const C14N_METHODS: [&str; 4] = [
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    EXC_C14N,
    EXC_C14N_COMMENTS,
];
/// The accepted signature algorithms. RSA-SHA1 stays because the core accepts it (older AD FS
/// setups still sign with it); HMAC and DSA never. Tighten here.
const SIGNATURE_METHODS: [&str; 7] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
];
const DIGEST_METHODS: [&str; 4] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
    "http://www.w3.org/2000/09/xmldsig#sha1",
];

/// Not base64, not UTF-8, too large, not well-formed, a DOCTYPE, or not a `samlp:Response`: the
/// core's 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Invalid or malformed SAML response input")]
pub struct MalformedResponse;

/// Why a response was refused. Clients only ever see one status;
/// the reason is for logs and tests (it never contains response content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The pre-scan found something the SAML profile never needs (see the module doc).
    Forbidden(&'static str),
    DuplicateId,
    EncryptedAssertion,
    /// Not exactly one assertion.
    AssertionCount,
    /// Neither the Response nor the assertion carries a signature.
    NotSigned,
    /// The library refused the document or the signature did not verify with the client's key.
    SignatureInvalid,
    /// The signature verified but breaks the SAML signature profile.
    Profile(&'static str),
    /// The client's stored certificate is unusable.
    BadCertificate,
    Status,
    IssueInstant,
    /// `Conditions` missing, not yet valid, or expired.
    Conditions,
    Audience,
    SubjectConfirmation(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("verification failed ({0:?})")]
pub struct VerificationFailed(pub Refusal);

/// Which login the response answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login<'a> {
    /// The login of this relay state (its row exists; the ACS URL is bound through the request ID).
    SpInitiated { relay_state: &'a str },
    /// An unsolicited response (no relay state), for a client that allows it.
    IdpInitiated,
}

/// What a response is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The client's `idp_signing_certificate` (base64 DER): the only key trusted.
    pub idp_certificate: &'a str,
    /// The tenant's SP entity id: the audience.
    pub sp_entity_id: &'a str,
    pub now_ms: i64,
    pub login: Login<'a>,
}

/// The `samlResponse` field: base64 (ASCII whitespace ignored, as IdPs and proxies wrap lines),
/// of UTF-8 XML no larger than [`MAX_RESPONSE_XML_BYTES`].
pub fn decode(saml_response: &str) -> Result<String, MalformedResponse> {
    let compact: String = saml_response.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() / 4 * 3 > MAX_RESPONSE_XML_BYTES + 3 {
        return Err(MalformedResponse);
    }
    let bytes = super::encoding::decode_base64_strict(&compact).ok_or(MalformedResponse)?;
    if bytes.len() > MAX_RESPONSE_XML_BYTES {
        return Err(MalformedResponse);
    }
    String::from_utf8(bytes).map_err(|_| MalformedResponse)
}

/// A parsed response, not yet trusted.
pub struct SamlResponse<'a> {
    xml: &'a str,
    doc: Document<'a>,
    root: NodeId,
}

impl<'a> SamlResponse<'a> {
    /// Parses the decoded XML (DOCTYPEs refused); the root must be a `samlp:Response`.
    pub fn parse(xml: &'a str) -> Result<SamlResponse<'a>, MalformedResponse> {
        let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
        let doc = xml::parse_untrusted(xml).ok_or(MalformedResponse)?;
        let root = doc.document_element().ok_or(MalformedResponse)?;
        if !xml::is_element(&doc, root, NS_PROTOCOL, "Response") {
            return Err(MalformedResponse);
        }
        Ok(SamlResponse { xml, doc, root })
    }

    /// The IdP's entity id as the response claims it (`Response/Issuer`, else the first
    /// assertion's Issuer): it only picks the client of an IdP-initiated login, whose certificate
    /// then has to verify the response.
    pub fn issuer(&self) -> Option<String> {
        let issuer = xml::child(&self.doc, self.root, NS_ASSERTION, "Issuer").or_else(|| {
            let assertion = xml::child(&self.doc, self.root, NS_ASSERTION, "Assertion")?;
            xml::child(&self.doc, assertion, NS_ASSERTION, "Issuer")
        })?;
        Some(xml::text(&self.doc, issuer)).filter(|s| !s.is_empty())
    }

    /// Verifies the response (module doc) and returns the assertion's claims.
    pub fn verify(&self, expected: &Expected<'_>) -> Result<Claims, VerificationFailed> {
        self.check(expected, true).map_err(VerificationFailed)
    }

    /// `library_positions`: whether the library also refuses references to elements that are not
    /// the signature's ancestors or siblings (always, except in the tests that show our profile
    /// check refuses wrapped signatures on its own).
    fn check(&self, expected: &Expected<'_>, library_positions: bool) -> Result<Claims, Refusal> {
        let doc = &self.doc;
        prescan(doc)?;
        unique_ids(doc)?;

        if xml::child(doc, self.root, NS_ASSERTION, "EncryptedAssertion").is_some() {
            return Err(Refusal::EncryptedAssertion);
        }
        let mut assertions = xml::children(doc, self.root, NS_ASSERTION, "Assertion");
        let (Some(assertion), None) = (assertions.next(), assertions.next()) else {
            return Err(Refusal::AssertionCount);
        };
        let signed = if xml::child(doc, self.root, NS_DSIG, "Signature").is_some() { self.root } else { assertion };
        let signature = only_signature(doc, signed)?;

        let results = self.run_library(expected.idp_certificate, library_positions)?;
        check_signature_profile(doc, signed, signature, &results)?;

        check_status(doc, self.root)?;
        check_issue_instant(doc, self.root, expected.now_ms)?;
        check_conditions(doc, assertion, expected)?;
        check_subject_confirmation(doc, self.root, assertion, expected)?;
        Ok(claims::extract(doc, assertion))
    }

    /// Every signature of the document verified by bergshamra with the client's certificate as the
    /// only trusted key (inline KeyInfo keys ignored, reference positions checked). The settings
    /// that matter are set here, not left to `DsigContext::new`'s defaults.
    fn run_library(&self, idp_certificate: &str, positions: bool) -> Result<Vec<VerifyResult>, Refusal> {
        let der = super::encoding::decode_base64_strict(idp_certificate).ok_or(Refusal::BadCertificate)?;
        let key = bergshamra_keys::loader::load_x509_cert_der(&der).map_err(|_| Refusal::BadCertificate)?;
        let mut keys = bergshamra_keys::KeysManager::new();
        keys.add_key(key);
        let mut ctx = DsigContext::new(keys);
        ctx.trusted_keys_only = true;
        ctx.strict_verification = positions;
        ctx.require_reference_digests = true;
        ctx.hmac_min_out_len = 160;
        // The IdP certificate's validity dates are not checked, as in the core.
        ctx.verify_keys = false;
        ctx.insecure = false;
        ctx.base_dir = None;
        ctx.url_maps.clear();
        ctx.debug = false;
        bergshamra_dsig::verify::verify_all_document_with_source(&ctx, &self.doc, Some(self.xml))
            .map_err(|_| Refusal::SignatureInvalid)
    }
}

/// Refuses, before any digest is computed, what could make the library read files, run
/// transforms or work without bound (module doc, step 1).
fn prescan(doc: &Document<'_>) -> Result<(), Refusal> {
    let mut signatures = 0;
    for el in xml::all_elements(doc) {
        let Some(e) = doc.element(el) else { continue };
        if e.name.namespace_uri.as_deref() != Some(NS_DSIG) {
            continue;
        }
        match &*e.name.local_name {
            "Signature" => {
                signatures += 1;
                if signatures > MAX_SIGNATURES {
                    return Err(Refusal::Forbidden("too many signatures"));
                }
            }
            "SignedInfo" if xml::children(doc, el, NS_DSIG, "Reference").count() != 1 => {
                return Err(Refusal::Forbidden("a SignedInfo without exactly one Reference"));
            }
            "Reference" => match xml::attr(doc, el, "URI").and_then(|u| u.strip_prefix('#')) {
                Some(id) if xml::is_ascii_ncname(id) => {}
                _ => return Err(Refusal::Forbidden("a Reference that is not to an ID in the document")),
            },
            "Transform" => {
                let algorithm = xml::attr(doc, el, "Algorithm").unwrap_or("");
                if ![ENVELOPED, EXC_C14N, EXC_C14N_COMMENTS].contains(&algorithm) {
                    return Err(Refusal::Forbidden("a Transform other than enveloped-signature or exclusive C14N"));
                }
                // Only exclusive C14N's InclusiveNamespaces (AD FS writes one) may sit inside.
                let foreign_child = xml::child_elements(doc, el).any(|c| !xml::is_element(doc, c, EXC_C14N, "InclusiveNamespaces"));
                if foreign_child {
                    return Err(Refusal::Forbidden("a Transform with parameters"));
                }
            }
            "Object" | "Manifest" | "RetrievalMethod" => {
                return Err(Refusal::Forbidden("a ds:Object, ds:Manifest or ds:RetrievalMethod"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// No two elements may carry the same ID (under any of the names the library resolves
/// References by): a duplicated ID is how a signature is made to cover one element while another
/// is read. The library refuses these too; this does not depend on it.
fn unique_ids(doc: &Document<'_>) -> Result<(), Refusal> {
    let mut seen = HashSet::new();
    for el in xml::all_elements(doc) {
        let Some(e) = doc.element(el) else { continue };
        for a in &e.attributes {
            if matches!(&*a.name.local_name, "ID" | "Id" | "id" | "AssertionID") && !seen.insert(&*a.value) {
                return Err(Refusal::DuplicateId);
            }
        }
    }
    Ok(())
}

/// The one `ds:Signature` child of the signed object.
fn only_signature(doc: &Document<'_>, signed: NodeId) -> Result<NodeId, Refusal> {
    let mut signatures = xml::children(doc, signed, NS_DSIG, "Signature");
    match (signatures.next(), signatures.next()) {
        (Some(s), None) => Ok(s),
        (None, _) => Err(Refusal::NotSigned),
        (Some(_), Some(_)) => Err(Refusal::Profile("more than one Signature")),
    }
}

/// The SAML signature profile (OpenSAML's `SAMLSignatureProfileValidator`, and stricter on the
/// empty URI) for the signed object `signed` and its `signature`, on top of the library's
/// cryptographic verdict.
fn check_signature_profile(doc: &Document<'_>, signed: NodeId, signature: NodeId, results: &[VerifyResult]) -> Result<(), Refusal> {
    let id = xml::attr(doc, signed, "ID").filter(|id| !id.is_empty()).ok_or(Refusal::Profile("the signed element has no ID"))?;
    let references = results
        .iter()
        .find_map(|r| match r {
            VerifyResult::Valid { signature_node, references, .. } if *signature_node == signature => Some(references),
            _ => None,
        })
        .ok_or(Refusal::SignatureInvalid)?;
    let [reference] = references.as_slice() else {
        return Err(Refusal::Profile("not exactly one Reference"));
    };
    let names_signed = reference.uri.strip_prefix('#') == Some(id) && reference.resolved_node == Some(signed);
    if !names_signed || !reference.digest_verified {
        return Err(Refusal::Profile("the Reference does not name the signed element"));
    }

    // The algorithms, read from the SignedInfo that was just verified.
    let signed_info = xml::child(doc, signature, NS_DSIG, "SignedInfo").ok_or(Refusal::Profile("no SignedInfo"))?;
    let algorithm = |parent: NodeId, name: &str| xml::child(doc, parent, NS_DSIG, name).and_then(|n| xml::attr(doc, n, "Algorithm"));
    if !algorithm(signed_info, "CanonicalizationMethod").is_some_and(|a| C14N_METHODS.contains(&a)) {
        return Err(Refusal::Profile("canonicalization method"));
    }
    if !algorithm(signed_info, "SignatureMethod").is_some_and(|a| SIGNATURE_METHODS.contains(&a)) {
        return Err(Refusal::Profile("signature method"));
    }
    let reference_el = xml::child(doc, signed_info, NS_DSIG, "Reference").ok_or(Refusal::Profile("no Reference"))?;
    if !algorithm(reference_el, "DigestMethod").is_some_and(|a| DIGEST_METHODS.contains(&a)) {
        return Err(Refusal::Profile("digest method"));
    }
    let transforms: Vec<&str> = xml::child(doc, reference_el, NS_DSIG, "Transforms")
        .map(|t| xml::children(doc, t, NS_DSIG, "Transform").map(|t| xml::attr(doc, t, "Algorithm").unwrap_or("")).collect())
        .unwrap_or_default();
    let enveloped = transforms.iter().filter(|&&t| t == ENVELOPED).count();
    let others_c14n = transforms.iter().all(|&t| t == ENVELOPED || t == EXC_C14N || t == EXC_C14N_COMMENTS);
    if transforms.len() > 2 || enveloped != 1 || !others_c14n {
        return Err(Refusal::Profile("transforms"));
    }
    if xml::child(doc, signature, NS_DSIG, "Object").is_some() {
        return Err(Refusal::Profile("ds:Object"));
    }
    Ok(())
}

fn check_status(doc: &Document<'_>, root: NodeId) -> Result<(), Refusal> {
    let code = xml::child(doc, root, NS_PROTOCOL, "Status")
        .and_then(|s| xml::child(doc, s, NS_PROTOCOL, "StatusCode"))
        .and_then(|c| xml::attr(doc, c, "Value"));
    if code == Some(STATUS_SUCCESS) {
        Ok(())
    } else {
        Err(Refusal::Status)
    }
}

/// The core's rule: when the Response has an IssueInstant, it is within 5 minutes of now.
fn check_issue_instant(doc: &Document<'_>, root: NodeId, now: i64) -> Result<(), Refusal> {
    let Some(text) = xml::attr(doc, root, "IssueInstant") else { return Ok(()) };
    let at = parse_date_time(text).ok_or(Refusal::IssueInstant)?;
    if at > now + ISSUE_INSTANT_SKEW_MS || at < now - ISSUE_INSTANT_SKEW_MS {
        return Err(Refusal::IssueInstant);
    }
    Ok(())
}

/// Conditions: `NotBefore <= now <= NotOnOrAfter` (the core's bounds, no skew); and the audience:
/// every AudienceRestriction must list the SP entity id (SAML core 2.5.1.4: the assertion is for
/// the audiences all restrictions share), and there is at least one.
fn check_conditions(doc: &Document<'_>, assertion: NodeId, expected: &Expected<'_>) -> Result<(), Refusal> {
    let conditions = xml::child(doc, assertion, NS_ASSERTION, "Conditions").ok_or(Refusal::Conditions)?;
    let time = |name: &str| -> Result<Option<i64>, Refusal> {
        xml::attr(doc, conditions, name).map(|t| parse_date_time(t).ok_or(Refusal::Conditions)).transpose()
    };
    if time("NotBefore")?.is_some_and(|t| expected.now_ms < t) || time("NotOnOrAfter")?.is_some_and(|t| expected.now_ms > t) {
        return Err(Refusal::Conditions);
    }
    let mut restrictions = xml::children(doc, conditions, NS_ASSERTION, "AudienceRestriction").peekable();
    if restrictions.peek().is_none() {
        return Err(Refusal::Audience);
    }
    for restriction in restrictions {
        if !xml::children(doc, restriction, NS_ASSERTION, "Audience").any(|a| xml::text(doc, a) == expected.sp_entity_id) {
            return Err(Refusal::Audience);
        }
    }
    Ok(())
}

/// The bearer subject confirmation (SAML Web SSO profile), with Portcullis's binding of the
/// response to its login (module doc, step 4).
fn check_subject_confirmation(doc: &Document<'_>, root: NodeId, assertion: NodeId, expected: &Expected<'_>) -> Result<(), Refusal> {
    let subject = xml::child(doc, assertion, NS_ASSERTION, "Subject").ok_or(Refusal::SubjectConfirmation("no Subject"))?;
    let confirmations: Vec<NodeId> = xml::children(doc, subject, NS_ASSERTION, "SubjectConfirmation").collect();
    let data = |c: NodeId| xml::child(doc, c, NS_ASSERTION, "SubjectConfirmationData");
    let response_in_response_to = xml::attr(doc, root, "InResponseTo");

    if expected.login == Login::IdpInitiated {
        // An unsolicited response answers no request; this also stops a solicited response from
        // being replayed without its relay state.
        let answers_a_request = response_in_response_to.is_some()
            || confirmations.iter().any(|&c| data(c).is_some_and(|d| xml::attr(doc, d, "InResponseTo").is_some()));
        if answers_a_request {
            return Err(Refusal::SubjectConfirmation("InResponseTo in an unsolicited response"));
        }
    }

    let mut first_refusal = Refusal::SubjectConfirmation("no bearer SubjectConfirmation");
    for (i, &c) in confirmations.iter().filter(|&&c| xml::attr(doc, c, "Method") == Some(BEARER)).enumerate() {
        match check_bearer(doc, root, data(c), expected) {
            Ok(()) => return Ok(()),
            Err(r) if i == 0 => first_refusal = r,
            Err(_) => {}
        }
    }
    Err(first_refusal)
}

fn check_bearer(doc: &Document<'_>, root: NodeId, data: Option<NodeId>, expected: &Expected<'_>) -> Result<(), Refusal> {
    let attr = |name: &str| data.and_then(|d| xml::attr(doc, d, name));
    if attr("NotBefore").is_some() {
        return Err(Refusal::SubjectConfirmation("NotBefore on bearer confirmation data"));
    }
    if let Some(t) = attr("NotOnOrAfter") {
        let until = parse_date_time(t).ok_or(Refusal::SubjectConfirmation("NotOnOrAfter"))?;
        if expected.now_ms >= until {
            return Err(Refusal::SubjectConfirmation("expired"));
        }
    }
    let Login::SpInitiated { relay_state } = expected.login else { return Ok(()) };
    let recipient = attr("Recipient").ok_or(Refusal::SubjectConfirmation("no Recipient"))?;
    let in_response_to = attr("InResponseTo").ok_or(Refusal::SubjectConfirmation("no InResponseTo"))?;
    // The IdP signed the request ID and the Recipient together; the ID is a hash of this login's
    // relay state and ACS URL, so both match only for a response to this very login, addressed to
    // the ACS URL that login named.
    if in_response_to != request_id(relay_state, recipient) {
        return Err(Refusal::SubjectConfirmation("InResponseTo or Recipient is not this login's"));
    }
    if xml::attr(doc, root, "InResponseTo").is_some_and(|r| r != in_response_to) {
        return Err(Refusal::SubjectConfirmation("the Response's InResponseTo differs"));
    }
    if xml::attr(doc, root, "Destination").is_some_and(|d| d != recipient) {
        return Err(Refusal::SubjectConfirmation("the Response's Destination differs"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_and_parsing_refuse_what_is_not_a_response() {
        use base64::Engine;
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(decode(""), Ok(String::new()));
        assert!(SamlResponse::parse("").is_err());
        assert_eq!(decode("not base64!"), Err(MalformedResponse));
        assert_eq!(decode(&b64(&[0xff, 0xfe, 0x00])), Err(MalformedResponse), "not UTF-8");
        let hello = decode(&b64(b"hello")).unwrap();
        assert!(SamlResponse::parse(&hello).is_err());
        assert!(SamlResponse::parse("<root></root>").is_err());
        let assertion = format!(r#"<saml:Assertion xmlns:saml="{NS_ASSERTION}"/>"#);
        assert!(SamlResponse::parse(&assertion).is_err(), "a SAML root that is not a Response");
        let response = format!(r#"<samlp:Response xmlns:samlp="{NS_PROTOCOL}"/>"#);
        let wrapped = b64(response.as_bytes()).chars().collect::<Vec<_>>().chunks(8).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("\r\n");
        assert_eq!(decode(&wrapped).unwrap(), response, "line-wrapped base64 is read");
        assert!(SamlResponse::parse(&response).is_ok());
        assert!(SamlResponse::parse(&format!("\u{feff}{response}")).is_ok());
        assert!(SamlResponse::parse(&format!("<!DOCTYPE r [<!ENTITY e \"x\">]>{response}")).is_err());
        assert_eq!(MalformedResponse.to_string(), MALFORMED_MESSAGE);
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        use base64::Engine;
        let big = base64::engine::general_purpose::STANDARD.encode(vec![b'a'; MAX_RESPONSE_XML_BYTES + 1]);
        assert_eq!(decode(&big), Err(MalformedResponse));
        let limit = base64::engine::general_purpose::STANDARD.encode(vec![b'a'; MAX_RESPONSE_XML_BYTES]);
        assert!(decode(&limit).is_ok());
        assert_eq!(decode(&"A".repeat(64 << 20)), Err(MalformedResponse));
    }

    /// With the library's own position check off, the relocated-signature forgeries verify
    /// cryptographically; the profile check alone refuses them.
    #[test]
    fn the_profile_refuses_wrapped_signatures_on_its_own() {
        let cert: String = include_str!("../../tests/fixtures/saml/idp_cert.pem").lines().filter(|l| !l.starts_with("-----")).collect();
        let expected = Expected {
            idp_certificate: &cert,
            sp_entity_id: super::super::DEFAULT_SP_ENTITY_ID,
            now_ms: 1_768_478_400_000,
            login: Login::SpInitiated { relay_state: "3f1c6a1e-6a8e-4c55-9a55-0d6b2f7c1a10" },
        };
        let check = |xml: &str| SamlResponse::parse(xml).unwrap().check(&expected, false);
        for xml in [
            include_str!("../../tests/fixtures/saml/forged_xsw_advice.xml"),
            include_str!("../../tests/fixtures/saml/forged_xsw_extensions_response.xml"),
        ] {
            assert_eq!(check(xml), Err(Refusal::Profile("the Reference does not name the signed element")));
        }
        assert!(check(include_str!("../../tests/fixtures/saml/valid_assertion_signed.xml")).is_ok());
        assert!(check(include_str!("../../tests/fixtures/saml/valid_response_signed.xml")).is_ok());
    }

    #[test]
    fn the_response_is_send() {
        fn is_send<T: Send>() {}
        is_send::<SamlResponse<'static>>();
    }
}
