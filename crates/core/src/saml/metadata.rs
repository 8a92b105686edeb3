//! An IdP's SAML metadata (an `md:EntityDescriptor`, sent base64-encoded as `metadataXML`) read
//! into what a client needs: the IdP's entity id, its HTTP-Redirect single sign-on URL and its
//! signing certificate. Every failure is the core's one 400 text.

use super::xml::{self, NS_DSIG, NS_METADATA};

/// The core's answer to any metadata it cannot use.
pub const INVALID_METADATA_MESSAGE: &str = "metadataXML does not have a valid SAML metadata";

const HTTP_REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// The plugin stores the entity id in a VARCHAR(256); a longer one would fail the insert.
const MAX_ENTITY_ID_CHARS: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("metadataXML does not have a valid SAML metadata")]
pub struct InvalidMetadata;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `EntityDescriptor@entityID`.
    pub entity_id: String,
    /// The `Location` of the last HTTP-Redirect `SingleSignOnService` (the core's loop keeps the last).
    pub sso_url: String,
    /// The signing certificate: base64 of its DER, whitespace removed (as stored and returned).
    pub signing_certificate: String,
}

/// Reads `metadataXML` (base64 of the XML, strict like Java's basic decoder: no whitespace,
/// padding optional).
pub fn parse_base64(metadata_xml: &str) -> Result<IdpMetadata, InvalidMetadata> {
    let bytes = super::encoding::decode_base64_strict(metadata_xml).ok_or(InvalidMetadata)?;
    // Java decodes the bytes as UTF-8 with replacement before parsing; so do we.
    let text = String::from_utf8_lossy(&bytes);
    parse_xml(text.strip_prefix('\u{feff}').unwrap_or(&text))
}

/// Reads the metadata XML itself.
pub fn parse_xml(xml_text: &str) -> Result<IdpMetadata, InvalidMetadata> {
    let doc = xml::parse_untrusted(xml_text).ok_or(InvalidMetadata)?;
    let root = doc.document_element().ok_or(InvalidMetadata)?;
    if !xml::is_element(&doc, root, NS_METADATA, "EntityDescriptor") {
        return Err(InvalidMetadata);
    }
    let entity_id = xml::attr(&doc, root, "entityID").ok_or(InvalidMetadata)?;
    if entity_id.chars().count() > MAX_ENTITY_ID_CHARS {
        return Err(InvalidMetadata);
    }
    let idp_descriptors: Vec<_> = xml::children(&doc, root, NS_METADATA, "IDPSSODescriptor").collect();

    // Like the core: every matching service overwrites the URL, so the last one wins, even when it
    // has no Location.
    let mut sso_url = None;
    for &idp in &idp_descriptors {
        for sso in xml::children(&doc, idp, NS_METADATA, "SingleSignOnService") {
            if xml::attr(&doc, sso, "Binding") == Some(HTTP_REDIRECT_BINDING) {
                sso_url = xml::attr(&doc, sso, "Location");
            }
        }
    }
    let sso_url = sso_url.ok_or(InvalidMetadata)?;

    // The first certificate of a `use="signing"` key; failing that, of a key without `use` (which
    // the core would turn into a 500). Encryption keys are never taken.
    let mut without_use = None;
    let mut signing = None;
    'descriptors: for &idp in &idp_descriptors {
        for key in xml::children(&doc, idp, NS_METADATA, "KeyDescriptor") {
            let slot = match xml::attr(&doc, key, "use") {
                Some("signing") => &mut signing,
                None => &mut without_use,
                Some(_) => continue,
            };
            if slot.is_none() {
                *slot = first_certificate(&doc, key);
            }
            if signing.is_some() {
                break 'descriptors;
            }
        }
    }
    let certificate = signing.or(without_use).ok_or(InvalidMetadata)?;
    let der = super::encoding::decode_base64_strict(&certificate).ok_or(InvalidMetadata)?;
    super::encoding::parse_certificate(&der).ok_or(InvalidMetadata)?;

    Ok(IdpMetadata { entity_id: entity_id.to_owned(), sso_url: sso_url.to_owned(), signing_certificate: certificate })
}

/// The first non-blank `KeyInfo/X509Data/X509Certificate` of a key descriptor, whitespace removed.
fn first_certificate(doc: &uppsala::Document<'_>, key_descriptor: uppsala::NodeId) -> Option<String> {
    let key_info = xml::child(doc, key_descriptor, NS_DSIG, "KeyInfo")?;
    xml::children(doc, key_info, NS_DSIG, "X509Data")
        .flat_map(|data| xml::children(doc, data, NS_DSIG, "X509Certificate"))
        .map(|c| xml::text(doc, c).chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .find(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// A real certificate (the test IdP's), base64 DER.
    fn cert() -> String {
        let pem = include_str!("../../tests/fixtures/saml/idp_cert.pem");
        pem.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    fn metadata(body: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="{NS_METADATA}" xmlns:ds="{NS_DSIG}" entityID="https://idp.example.com/metadata">{body}</md:EntityDescriptor>"#
        )
    }

    fn key(use_attr: &str, cert: &str) -> String {
        format!(r#"<md:KeyDescriptor {use_attr}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#)
    }

    fn sso(binding: &str, location: &str) -> String {
        format!(r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:{binding}" Location="{location}"/>"#)
    }

    fn idp(inner: &str) -> String {
        format!(r#"<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{inner}</md:IDPSSODescriptor>"#)
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn a_typical_metadata_is_read() {
        let cert = cert();
        // Wrapped and indented, as IdPs publish it.
        let wrapped: String = cert.as_bytes().chunks(64).map(|c| format!("\n    {}", std::str::from_utf8(c).unwrap())).collect();
        let xml = metadata(&idp(&format!(
            "{}{}{}{}",
            key(r#"use="encryption""#, "MIIBogus"),
            key(r#"use="signing""#, &wrapped),
            sso("HTTP-POST", "https://idp.example.com/post"),
            sso("HTTP-Redirect", "https://idp.example.com/sso?idpid=abc&amp;x=1"),
        )));
        let m = parse_base64(&b64(&xml)).unwrap();
        assert_eq!(m.entity_id, "https://idp.example.com/metadata");
        assert_eq!(m.sso_url, "https://idp.example.com/sso?idpid=abc&x=1");
        assert_eq!(m.signing_certificate, cert);
    }

    #[test]
    fn the_last_redirect_binding_wins() {
        let xml = metadata(&format!(
            "{}{}",
            idp(&format!("{}{}", key(r#"use="signing""#, &cert()), sso("HTTP-Redirect", "https://first"))),
            idp(&sso("HTTP-Redirect", "https://second")),
        ));
        assert_eq!(parse_xml(&xml).unwrap().sso_url, "https://second");
        // A last match without Location leaves no URL, as in the core.
        let xml = metadata(&idp(&format!(
            "{}{}<md:SingleSignOnService Binding=\"{HTTP_REDIRECT_BINDING}\"/>",
            key(r#"use="signing""#, &cert()),
            sso("HTTP-Redirect", "https://first")
        )));
        assert_eq!(parse_xml(&xml), Err(InvalidMetadata));
    }

    #[test]
    fn signing_keys_come_first_then_keys_without_use() {
        let cert = cert();
        let without_use = metadata(&idp(&format!("{}{}", key("", &cert), sso("HTTP-Redirect", "https://sso"))));
        assert_eq!(parse_xml(&without_use).unwrap().signing_certificate, cert);
        let encryption_only = metadata(&idp(&format!("{}{}", key(r#"use="encryption""#, &cert), sso("HTTP-Redirect", "https://sso"))));
        assert_eq!(parse_xml(&encryption_only), Err(InvalidMetadata));
        // A blank certificate is skipped for the next one.
        let blank_then_real = metadata(&idp(&format!(
            "{}{}{}",
            key(r#"use="signing""#, "  "),
            key(r#"use="signing""#, &cert),
            sso("HTTP-Redirect", "https://sso")
        )));
        assert_eq!(parse_xml(&blank_then_real).unwrap().signing_certificate, cert);
    }

    #[test]
    fn unusable_metadata_is_the_one_400() {
        let cert = cert();
        let good_idp = idp(&format!("{}{}", key(r#"use="signing""#, &cert), sso("HTTP-Redirect", "https://sso")));
        let cases = [
            // No redirect binding (POST only).
            metadata(&idp(&format!("{}{}", key(r#"use="signing""#, &cert), sso("HTTP-POST", "https://sso")))),
            // No certificate at all.
            metadata(&idp(&sso("HTTP-Redirect", "https://sso"))),
            // A certificate that is not one.
            metadata(&idp(&format!("{}{}", key(r#"use="signing""#, "bm90IGEgY2VydA=="), sso("HTTP-Redirect", "https://sso")))),
            metadata(&idp(&format!("{}{}", key(r#"use="signing""#, "!!!"), sso("HTTP-Redirect", "https://sso")))),
            // Not an EntityDescriptor.
            format!(r#"<md:EntitiesDescriptor xmlns:md="{NS_METADATA}">{}</md:EntitiesDescriptor>"#, metadata(&good_idp)),
            "<root/>".to_owned(),
            format!(r#"<EntityDescriptor entityID="x">{good_idp}</EntityDescriptor>"#),
            // No entityID, or one longer than the column.
            metadata(&good_idp).replace(r#" entityID="https://idp.example.com/metadata""#, ""),
            metadata(&good_idp).replace("https://idp.example.com/metadata", &"e".repeat(257)),
            // A DOCTYPE.
            format!("<!DOCTYPE md:EntityDescriptor [<!ENTITY e \"x\">]>{}", metadata(&good_idp)),
            "not xml".to_owned(),
            String::new(),
        ];
        for xml in &cases {
            assert_eq!(parse_base64(&b64(xml)), Err(InvalidMetadata), "{xml}");
        }
        assert!(parse_base64(&b64(&metadata(&good_idp))).is_ok());
        let entity_256 = metadata(&good_idp).replace("https://idp.example.com/metadata", &"é".repeat(256));
        assert!(parse_xml(&entity_256).is_ok(), "the limit counts characters");
    }

    #[test]
    fn base64_is_strict_like_javas_basic_decoder() {
        let xml = metadata(&idp(&format!("{}{}", key(r#"use="signing""#, &cert()), sso("HTTP-Redirect", "https://sso"))));
        let encoded = b64(&xml);
        assert!(parse_base64(encoded.trim_end_matches('=')).is_ok(), "padding is optional");
        let wrapped = format!("{}\n{}", &encoded[..60], &encoded[60..]);
        assert_eq!(parse_base64(&wrapped), Err(InvalidMetadata), "whitespace is refused");
        assert_eq!(parse_base64("not base64!"), Err(InvalidMetadata));
        assert_eq!(parse_base64(""), Err(InvalidMetadata));
        assert_eq!(INVALID_METADATA_MESSAGE, InvalidMetadata.to_string());
    }
}
