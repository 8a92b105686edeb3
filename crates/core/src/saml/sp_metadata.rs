//! `GET /.well-known/sp-metadata`: the SP's metadata document, byte for byte the core's (one line;
//! the HTTP layer adds the trailing newline). It has no AssertionConsumerService: the ACS URL is the
//! SDK's, given per login.

use super::sp_key::SpKey;
use super::xml::escape;
use super::time::format_date_time;

pub fn sp_metadata_xml(sp_entity_id: &str, key: &SpKey) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>"#,
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}" validUntil="{until}">"#,
            r#"<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>"#,
            r#"<ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"#,
            r#"</md:SPSSODescriptor></md:EntityDescriptor>"#,
        ),
        entity = escape(sp_entity_id),
        until = escape(&format_date_time(key.not_after_ms())),
        cert = key.certificate_b64(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::sp_key::test_support::test_key;

    #[test]
    fn the_cores_document() {
        let key = test_key().load().unwrap();
        let xml = sp_metadata_xml("https://sp.example/?a=1&b=\"<x>\"", &key);
        assert_eq!(
            xml,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"https://sp.example/?a=1&amp;b=&quot;&lt;x&gt;&quot;\" validUntil=\"2036-01-13T12:00:00Z\"><md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat></md:SPSSODescriptor></md:EntityDescriptor>",
                key.certificate_b64()
            )
        );
        assert!(crate::saml::xml::parse_untrusted(&xml).is_some());
    }
}
