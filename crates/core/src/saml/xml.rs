//! The few XML operations the SAML rules need, on `uppsala`'s DOM (the parser the signature library
//! works on, so that the document we check is the document that was verified).
//!
//! Reading: elements are matched by namespace URI and local name, never by prefix; attributes the
//! SAML schema defines are unqualified, so only attributes without a namespace are read (an
//! attacker's `x:ID` is not `ID`); text is every Text and CDATA descendant concatenated (comments
//! and processing instructions skipped), so a comment inside a value can never truncate it.
//!
//! Writing: every value placed in XML goes through [`escape`].

use uppsala::{Document, NodeId, NodeKind};

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Parses untrusted XML: any DOCTYPE is refused (and with it every entity declaration, internal or
/// external); nothing outside the text is ever read; nesting is capped by uppsala's default depth.
pub fn parse_untrusted(xml: &str) -> Option<Document<'_>> {
    uppsala::Parser::new().with_forbid_dtd(true).with_forbid_entities(true).parse(xml).ok()
}

/// Whether `id` is an element named `{ns}local`.
pub fn is_element(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id).is_some_and(|e| e.name.namespace_uri.as_deref() == Some(ns) && e.name.local_name == local)
}

/// The child elements of `parent` named `{ns}local`, in document order.
pub fn children<'d>(doc: &'d Document<'_>, parent: NodeId, ns: &'d str, local: &'d str) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(parent).filter(move |&c| is_element(doc, c, ns, local))
}

/// The first child element of `parent` named `{ns}local`.
pub fn child(doc: &Document<'_>, parent: NodeId, ns: &str, local: &str) -> Option<NodeId> {
    children(doc, parent, ns, local).next()
}

/// The child elements of `parent`, whatever their name.
pub fn child_elements<'d>(doc: &'d Document<'_>, parent: NodeId) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(parent).filter(move |&c| doc.element(c).is_some())
}

/// The value of the unqualified attribute `name` of element `id`.
pub fn attr<'d>(doc: &'d Document<'_>, id: NodeId, name: &str) -> Option<&'d str> {
    doc.element(id)?.attributes.iter().find(|a| a.name.namespace_uri.is_none() && a.name.local_name == name).map(|a| &*a.value)
}

/// All text below `id` (Text and CDATA, comments and PIs skipped), trimmed as OpenSAML trims
/// element content.
pub fn text(doc: &Document<'_>, id: NodeId) -> String {
    let mut out = String::new();
    collect_text(doc, id, &mut out);
    out.trim().to_owned()
}

fn collect_text(doc: &Document<'_>, id: NodeId, out: &mut String) {
    // Recursion depth is bounded by the parser's nesting cap.
    for c in doc.children_iter(id) {
        match doc.node_kind(c) {
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => out.push_str(t),
            Some(NodeKind::Element(_)) => collect_text(doc, c, out),
            _ => {}
        }
    }
}

/// Every element of the document in document order (the root's element and its descendants).
pub fn all_elements(doc: &Document<'_>) -> Vec<NodeId> {
    doc.descendants(doc.root()).into_iter().filter(|&n| doc.element(n).is_some()).collect()
}

/// Escapes text for a double-quoted XML attribute value or element content, as the core's SP
/// metadata does (`&`, `"`, `<`, `>`). Characters XML 1.0 cannot carry at all (control characters
/// other than tab, newline and carriage return; U+FFFE, U+FFFF) become U+FFFD, so the output is
/// always well-formed.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Whether `s` is an NCName in its ASCII subset (a letter or `_`, then letters, digits, `.`, `-`,
/// `_`): the shape of every XML ID an IdP generates.
pub fn is_ascii_ncname(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctypes_and_entities_are_refused() {
        assert!(parse_untrusted("<a/>").is_some());
        assert!(parse_untrusted("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>").is_none());
        assert!(parse_untrusted("<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>").is_none());
        assert!(parse_untrusted("<!DOCTYPE a><a/>").is_none());
        assert!(parse_untrusted("<a>&undeclared;</a>").is_none());
        assert!(parse_untrusted("<a><b></a>").is_none());
        assert!(parse_untrusted("<x:a/>").is_none(), "undeclared prefix");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert!(parse_untrusted(&deep).is_none());
    }

    #[test]
    fn text_joins_every_text_node_and_skips_comments() {
        let doc = parse_untrusted("<a> admin@victim.com<!--x-->.evil.example <![CDATA[!]]><b>?</b></a>").unwrap();
        let a = doc.document_element().unwrap();
        assert_eq!(text(&doc, a), "admin@victim.com.evil.example !?");
    }

    #[test]
    fn only_unqualified_attributes_are_read() {
        let doc = parse_untrusted(r#"<a xmlns:x="urn:x" x:ID="forged"/>"#).unwrap();
        assert_eq!(attr(&doc, doc.document_element().unwrap(), "ID"), None);
        let doc = parse_untrusted(r#"<a xmlns:x="urn:x" x:ID="forged" ID="real"/>"#).unwrap();
        assert_eq!(attr(&doc, doc.document_element().unwrap(), "ID"), Some("real"));
    }

    #[test]
    fn elements_match_by_namespace_not_prefix() {
        let xml = format!(r#"<p:Response xmlns:p="{NS_PROTOCOL}" xmlns:q="{NS_ASSERTION}"><q:Issuer>i</q:Issuer><Issuer>x</Issuer></p:Response>"#);
        let doc = parse_untrusted(&xml).unwrap();
        let root = doc.document_element().unwrap();
        assert!(is_element(&doc, root, NS_PROTOCOL, "Response"));
        let issuers: Vec<_> = children(&doc, root, NS_ASSERTION, "Issuer").collect();
        assert_eq!(issuers.len(), 1);
        assert_eq!(text(&doc, issuers[0]), "i");
    }

    #[test]
    fn escaping_and_ncnames() {
        assert_eq!(escape(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d'");
        assert_eq!(escape("a\u{1}b\tc\u{ffff}"), "a\u{fffd}b\tc\u{fffd}");
        assert!(parse_untrusted(&format!("<a b=\"{}\">{}</a>", escape("\u{0}\"<"), escape("\u{8}&"))).is_some());
        assert!(is_ascii_ncname("_a1.b-c"));
        assert!(is_ascii_ncname("id-123"));
        assert!(!is_ascii_ncname(""));
        assert!(!is_ascii_ncname("1abc"));
        assert!(!is_ascii_ncname("a/b"));
        assert!(!is_ascii_ncname("xpointer(/)"));
    }
}
