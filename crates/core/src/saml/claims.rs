//! Claims: what a verified assertion says about the user, kept under a single-use code, and what
//! `/recipe/saml/user` (and the legacy userinfo) make of them.
//!
//! The claims are a JSON object of string arrays, in the core's shape: `NameID` (and
//! `NameIDFormat` when the NameID has a Format), then every attribute by its `Name`, each value's
//! whole text trimmed, blank values skipped, an attribute without values left out, a repeated name
//! replacing the earlier one (in its place).

use serde_json::{json, Map, Value};
use uppsala::{Document, NodeId};

use super::xml::{self, NS_ASSERTION};

pub type Claims = Map<String, Value>;

/// The claims of one (verified) assertion element. Only the assertion's own Subject and
/// AttributeStatements are read, never anything nested under Advice.
pub(crate) fn extract(doc: &Document<'_>, assertion: NodeId) -> Claims {
    let mut claims = Claims::new();
    if let Some(subject) = xml::child(doc, assertion, NS_ASSERTION, "Subject") {
        if let Some(name_id) = xml::child(doc, subject, NS_ASSERTION, "NameID") {
            let value = xml::text(doc, name_id);
            // An empty NameID would be a JSON null in the core (and a 500 at /user); it names no
            // one, so it is left out.
            if !value.is_empty() {
                claims.insert("NameID".into(), json!([value]));
                if let Some(format) = xml::attr(doc, name_id, "Format") {
                    claims.insert("NameIDFormat".into(), json!([format]));
                }
            }
        }
    }
    for statement in xml::children(doc, assertion, NS_ASSERTION, "AttributeStatement") {
        for attribute in xml::children(doc, statement, NS_ASSERTION, "Attribute") {
            let Some(name) = xml::attr(doc, attribute, "Name") else { continue };
            let values: Vec<Value> = xml::children(doc, attribute, NS_ASSERTION, "AttributeValue")
                .map(|v| xml::text(doc, v))
                .filter(|v| !v.is_empty())
                .map(Value::String)
                .collect();
            if !values.is_empty() {
                claims.insert(name.to_owned(), Value::Array(values));
            }
        }
    }
    claims
}

const MS_OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const WS_NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
const WS_EMAIL: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";

/// The first value of a claim, when the claim is present with a string first value.
fn first<'c>(claims: &'c Claims, name: &str) -> Option<&'c str> {
    claims.get(name)?.as_array()?.first()?.as_str()
}

/// The user id: NameID, else Azure AD's object id, else the WS-Federation name claim. As in the
/// core, the first claim present decides (a present claim without a string value gives none).
pub fn subject(claims: &Claims) -> Option<&str> {
    ["NameID", MS_OBJECT_ID, WS_NAME].into_iter().find(|n| claims.contains_key(*n)).and_then(|n| first(claims, n))
}

/// The email: the WS-Federation email claim, else `mail` (LDAP, AD FS), else `email`, else the
/// NameID when it contains `@`. The first claim present decides, as in the core.
pub fn email(claims: &Claims) -> Option<&str> {
    match [WS_EMAIL, "mail", "email"].into_iter().find(|n| claims.contains_key(*n)) {
        Some(name) => first(claims, name),
        None => first(claims, "NameID").filter(|n| n.contains('@')),
    }
}

/// The only non-OK status of `/recipe/saml/user` (and the legacy userinfo's 400 text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserInfoError {
    /// Unknown or expired code, or the code of another client (which is consumed all the same).
    #[error("unknown, expired or foreign code")]
    InvalidToken,
}

/// A consumed code's row: the client it was issued to and its claims (JSON text, as stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedCode {
    pub client_id: String,
    pub claims: String,
}

/// The answer of `/recipe/saml/user` (without its `status`, which the API appends) or, with
/// `legacy`, of the legacy userinfo (`id` in place of `sub`): `{claims, sub|id, email, aud}`.
/// `consumed` is the row the code named (already deleted); the code must be `client_id`'s.
pub fn user_info(consumed: Option<ConsumedCode>, client_id: &str, legacy: bool) -> Result<Map<String, Value>, UserInfoError> {
    let row = consumed.filter(|r| r.client_id == client_id).ok_or(UserInfoError::InvalidToken)?;
    // A row the Java core wrote is JSON too; anything unreadable is treated as no claims.
    let claims: Claims = serde_json::from_str(&row.claims).unwrap_or_default();
    let mut out = Map::new();
    let sub = subject(&claims).map(str::to_owned);
    let email = email(&claims).map(str::to_owned);
    out.insert("claims".into(), Value::Object(claims));
    out.insert(if legacy { "id" } else { "sub" }.into(), json!(sub));
    out.insert("email".into(), json!(email));
    out.insert("aud".into(), json!(row.client_id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn extraction_reads_whole_trimmed_texts() {
        let xml = format!(
            r#"<saml:Assertion xmlns:saml="{NS_ASSERTION}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
              <saml:Subject><saml:NameID Format="urn:f"> bob@<!--c-->example.com </saml:NameID></saml:Subject>
              <saml:Advice><saml:Assertion><saml:Subject><saml:NameID>evil</saml:NameID></saml:Subject></saml:Assertion></saml:Advice>
              <saml:AttributeStatement>
                <saml:Attribute Name="groups"><saml:AttributeValue xsi:type="xs:string">a</saml:AttributeValue><saml:AttributeValue>  </saml:AttributeValue><saml:AttributeValue><x:v xmlns:x="urn:x">b<x:w>c</x:w></x:v></saml:AttributeValue></saml:Attribute>
                <saml:Attribute Name="blank"><saml:AttributeValue> </saml:AttributeValue></saml:Attribute>
                <saml:Attribute Name="dept" FriendlyName="ignored"><saml:AttributeValue><![CDATA[ eng ]]></saml:AttributeValue></saml:Attribute>
                <saml:Attribute><saml:AttributeValue>nameless</saml:AttributeValue></saml:Attribute>
              </saml:AttributeStatement>
              <saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>z</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
            </saml:Assertion>"#
        );
        let doc = xml::parse_untrusted(&xml).unwrap();
        let c = extract(&doc, doc.document_element().unwrap());
        assert_eq!(
            Value::Object(c).to_string(),
            r#"{"NameID":["bob@example.com"],"NameIDFormat":["urn:f"],"groups":["z"],"dept":["eng"]}"#
        );
    }

    #[test]
    fn an_empty_name_id_is_left_out() {
        let xml = format!(r#"<saml:Assertion xmlns:saml="{NS_ASSERTION}"><saml:Subject><saml:NameID Format="f"> </saml:NameID></saml:Subject></saml:Assertion>"#);
        let doc = xml::parse_untrusted(&xml).unwrap();
        assert!(extract(&doc, doc.document_element().unwrap()).is_empty());
    }

    #[test]
    fn subject_precedence() {
        let c = claims(json!({WS_NAME: ["name"], MS_OBJECT_ID: ["oid"], "NameID": ["nid"]}));
        assert_eq!(subject(&c), Some("nid"));
        let c = claims(json!({WS_NAME: ["name"], MS_OBJECT_ID: ["oid"]}));
        assert_eq!(subject(&c), Some("oid"));
        let c = claims(json!({WS_NAME: ["name"]}));
        assert_eq!(subject(&c), Some("name"));
        assert_eq!(subject(&claims(json!({"email": ["e@x"]}))), None);
        assert_eq!(subject(&claims(json!({"NameID": [], MS_OBJECT_ID: ["oid"]}))), None, "the first present claim decides");
    }

    /// The core's SAMLClaimsExtractionTest5_4 cases.
    #[test]
    fn email_precedence() {
        let all = claims(json!({"NameID": ["n@nameid.com"], "email": ["tertiary@email.com"], "mail": ["secondary@mail.com"], WS_EMAIL: ["primary@wsfed.com"]}));
        assert_eq!(email(&all), Some("primary@wsfed.com"));
        let c = claims(json!({"NameID": ["n@nameid.com"], "email": ["user@oidc.com"], "mail": ["user@ldap.com"]}));
        assert_eq!(email(&c), Some("user@ldap.com"));
        let c = claims(json!({"NameID": ["n@nameid.com"], "email": ["user@oidc-idp.com"]}));
        assert_eq!(email(&c), Some("user@oidc-idp.com"));
        assert_eq!(email(&claims(json!({"NameID": ["user@nameid-email.com"]}))), Some("user@nameid-email.com"));
        assert_eq!(email(&claims(json!({"NameID": ["not-an-email"]}))), None);
        assert_eq!(email(&claims(json!({}))), None);
    }

    #[test]
    fn user_info_shapes_and_the_client_check() {
        let row = ConsumedCode { client_id: "c1".into(), claims: r#"{"NameID":["u@x.com"],"groups":["a","b"]}"#.into() };
        let out = user_info(Some(row.clone()), "c1", false).unwrap();
        assert_eq!(
            Value::Object(out).to_string(),
            r#"{"claims":{"NameID":["u@x.com"],"groups":["a","b"]},"sub":"u@x.com","email":"u@x.com","aud":"c1"}"#
        );
        let out = user_info(Some(row.clone()), "c1", true).unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), ["claims", "id", "email", "aud"]);
        assert_eq!(user_info(Some(row), "c2", false), Err(UserInfoError::InvalidToken));
        assert_eq!(user_info(None, "c1", false), Err(UserInfoError::InvalidToken));
        let none = ConsumedCode { client_id: "c1".into(), claims: r#"{"groups":["a"]}"#.into() };
        assert_eq!(
            Value::Object(user_info(Some(none), "c1", false).unwrap()).to_string(),
            r#"{"claims":{"groups":["a"]},"sub":null,"email":null,"aud":"c1"}"#
        );
    }
}
