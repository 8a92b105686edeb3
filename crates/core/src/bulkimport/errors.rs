//! Why a user could not be imported: the core's error codes and texts (`BulkImport.java` of core
//! 11.4.7, the last on the seed's schema), as stored in `bulk_import_users.error_msg` and answered
//! by `POST /bulk-import/import`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportError {
    /// Re-validation in the worker failed (roles or tenants changed since the upload). Stored as
    /// Java's `List.toString()` of the messages: `[a, b]`.
    Invalid(Vec<String>),
    /// E003: an email-password user of one of the tenants has this email.
    EmailPasswordEmailTaken { email: String },
    /// E005: a third-party user of one of the tenants has this identity.
    ThirdPartyTaken { third_party_id: String, third_party_user_id: String },
    /// E006: a passwordless user of one of the tenants has this email.
    PasswordlessEmailTaken { email: String },
    /// E007: a passwordless user of one of the tenants has this phone number.
    PasswordlessPhoneTaken { phone_number: String },
    /// E022: another primary user in the user's tenants holds the primary method's account info.
    PrimaryInfoTaken { user_id: String },
    /// E027: another primary user in the group's tenants holds account info of the group.
    LinkInfoTaken { recipe_user_id: String, primary_user_id: String },
    /// E030: the external id is a SuperTokens user id.
    ExternalIdIsUserId,
    /// E031: the external id is mapped already.
    ExternalIdTaken { external_user_id: String },
    /// E034: a role was deleted since the user was validated.
    UnknownRole,
    /// A login method's id is taken by another user (only possible with ids not generated here,
    /// or a UUID collision). Not a core code: the entry must be removed and added again.
    UserIdTaken { user_id: String },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Invalid(messages) => write!(f, "[{}]", messages.join(", ")),
            ImportError::EmailPasswordEmailTaken { email } => {
                write!(f, "E003: A user with email {email} already exists in emailpassword loginMethod.")
            }
            ImportError::ThirdPartyTaken { third_party_id, third_party_user_id } => write!(
                f,
                "E005: A user with thirdPartyId {third_party_id} and thirdPartyUserId {third_party_user_id} already exists in thirdparty loginMethod."
            ),
            ImportError::PasswordlessEmailTaken { email } => {
                write!(f, "E006: A user with email {email} already exists in passwordless loginMethod.")
            }
            ImportError::PasswordlessPhoneTaken { phone_number } => {
                write!(f, "E007: A user with phoneNumber {phone_number} already exists in passwordless loginMethod.")
            }
            ImportError::PrimaryInfoTaken { user_id } => write!(
                f,
                "E022: We tried to create the primary user for the userId {user_id} but the account info is already associated with another primary user."
            ),
            ImportError::LinkInfoTaken { recipe_user_id, primary_user_id } => write!(
                f,
                "E027: We tried to link the userId {recipe_user_id} to the primary userId {primary_user_id} but the account info is already associated with another primary user."
            ),
            ImportError::ExternalIdIsUserId => {
                f.write_str("E030: Cannot create a userId mapping where the externalId is also a SuperTokens userID")
            }
            ImportError::ExternalIdTaken { external_user_id } => {
                write!(f, "E031: A user with externalId {external_user_id} already exists")
            }
            ImportError::UnknownRole => {
                f.write_str("E034: Role does not exist! You need to pre-create the role before assigning it to the user.")
            }
            ImportError::UserIdTaken { user_id } => write!(
                f,
                "A user with the id {user_id} already exists; remove this entry and add the user again to give it new ids."
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_cores() {
        let cases = [
            (ImportError::Invalid(vec!["a.".into(), "b.".into()]), "[a., b.]"),
            (
                ImportError::EmailPasswordEmailTaken { email: "a@b.c".into() },
                "E003: A user with email a@b.c already exists in emailpassword loginMethod.",
            ),
            (
                ImportError::ThirdPartyTaken { third_party_id: "google".into(), third_party_user_id: "1".into() },
                "E005: A user with thirdPartyId google and thirdPartyUserId 1 already exists in thirdparty loginMethod.",
            ),
            (
                ImportError::PasswordlessEmailTaken { email: "a@b.c".into() },
                "E006: A user with email a@b.c already exists in passwordless loginMethod.",
            ),
            (
                ImportError::PasswordlessPhoneTaken { phone_number: "+1".into() },
                "E007: A user with phoneNumber +1 already exists in passwordless loginMethod.",
            ),
            (
                ImportError::PrimaryInfoTaken { user_id: "p".into() },
                "E022: We tried to create the primary user for the userId p but the account info is already associated with another primary user.",
            ),
            (
                ImportError::LinkInfoTaken { recipe_user_id: "r".into(), primary_user_id: "p".into() },
                "E027: We tried to link the userId r to the primary userId p but the account info is already associated with another primary user.",
            ),
            (ImportError::ExternalIdIsUserId, "E030: Cannot create a userId mapping where the externalId is also a SuperTokens userID"),
            (ImportError::ExternalIdTaken { external_user_id: "x".into() }, "E031: A user with externalId x already exists"),
            (ImportError::UnknownRole, "E034: Role does not exist! You need to pre-create the role before assigning it to the user."),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
        assert!(ImportError::UserIdTaken { user_id: "u".into() }.to_string().contains("u already exists"));
    }
}
