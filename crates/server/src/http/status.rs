//! Every `status` the CDI's JSON replies carry, spelled once. Handlers name a [`Status`]; it
//! serialises as its string, so it goes straight into a `json!` reply.

use serde::{Serialize, Serializer};

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $text:literal, )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Status {
            $( $(#[$doc])* $name, )*
        }

        impl Status {
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Status::$name => $text, )*
                }
            }
        }
    };
}

statuses! {
    Ok = "OK",
    // Users and login methods.
    UnknownUserId = "UNKNOWN_USER_ID_ERROR",
    UnknownEmail = "UNKNOWN_EMAIL_ERROR",
    UnknownPhoneNumber = "UNKNOWN_PHONE_NUMBER_ERROR",
    UnknownThirdPartyUser = "UNKNOWN_THIRD_PARTY_USER_ERROR",
    EmailAlreadyExists = "EMAIL_ALREADY_EXISTS_ERROR",
    PhoneNumberAlreadyExists = "PHONE_NUMBER_ALREADY_EXISTS_ERROR",
    ThirdPartyUserAlreadyExists = "THIRD_PARTY_USER_ALREADY_EXISTS_ERROR",
    EmailChangeNotAllowed = "EMAIL_CHANGE_NOT_ALLOWED_ERROR",
    PhoneNumberChangeNotAllowed = "PHONE_NUMBER_CHANGE_NOT_ALLOWED_ERROR",
    // Email-password.
    WrongCredentials = "WRONG_CREDENTIALS_ERROR",
    ResetPasswordInvalidToken = "RESET_PASSWORD_INVALID_TOKEN_ERROR",
    // Email verification.
    EmailAlreadyVerified = "EMAIL_ALREADY_VERIFIED_ERROR",
    EmailVerificationInvalidToken = "EMAIL_VERIFICATION_INVALID_TOKEN_ERROR",
    // Passwordless.
    RestartFlow = "RESTART_FLOW_ERROR",
    IncorrectUserInputCode = "INCORRECT_USER_INPUT_CODE_ERROR",
    ExpiredUserInputCode = "EXPIRED_USER_INPUT_CODE_ERROR",
    UserInputCodeAlreadyUsed = "USER_INPUT_CODE_ALREADY_USED_ERROR",
    // Multitenancy.
    TenantNotFound = "TENANT_NOT_FOUND_ERROR",
    AssociationNotAllowed = "ASSOCIATION_NOT_ALLOWED_ERROR",
    // Account linking.
    InputUserIsNotAPrimaryUser = "INPUT_USER_IS_NOT_A_PRIMARY_USER",
    RecipeUserIdAlreadyLinkedWithPrimaryUserId = "RECIPE_USER_ID_ALREADY_LINKED_WITH_PRIMARY_USER_ID_ERROR",
    RecipeUserIdAlreadyLinkedWithAnotherPrimaryUserId = "RECIPE_USER_ID_ALREADY_LINKED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR",
    AccountInfoAlreadyAssociatedWithAnotherPrimaryUserId = "ACCOUNT_INFO_ALREADY_ASSOCIATED_WITH_ANOTHER_PRIMARY_USER_ID_ERROR",
    // User-id mapping.
    UnknownSuperTokensUserId = "UNKNOWN_SUPERTOKENS_USER_ID_ERROR",
    UserIdMappingAlreadyExists = "USER_ID_MAPPING_ALREADY_EXISTS_ERROR",
    UnknownMapping = "UNKNOWN_MAPPING_ERROR",
    // Sessions and JWTs.
    Unauthorised = "UNAUTHORISED",
    TryRefreshToken = "TRY_REFRESH_TOKEN",
    TokenTheftDetected = "TOKEN_THEFT_DETECTED",
    UnsupportedAlgorithm = "UNSUPPORTED_ALGORITHM_ERROR",
    // Dashboard.
    InvalidEmail = "INVALID_EMAIL_ERROR",
    PasswordWeak = "PASSWORD_WEAK_ERROR",
    UnknownUser = "UNKNOWN_USER_ERROR",
    InvalidCredentials = "INVALID_CREDENTIALS_ERROR",
    InvalidSession = "INVALID_SESSION_ERROR",
    // User roles.
    UnknownRole = "UNKNOWN_ROLE_ERROR",
    // TOTP.
    UnknownDevice = "UNKNOWN_DEVICE_ERROR",
    DeviceAlreadyExists = "DEVICE_ALREADY_EXISTS_ERROR",
    InvalidTotp = "INVALID_TOTP_ERROR",
    LimitReached = "LIMIT_REACHED_ERROR",
    // WebAuthn.
    InvalidOptions = "INVALID_OPTIONS_ERROR",
    InvalidAuthenticator = "INVALID_AUTHENTICATOR_ERROR",
    OptionsNotFound = "OPTIONS_NOT_FOUND_ERROR",
    CredentialNotFound = "CREDENTIAL_NOT_FOUND_ERROR",
    CredentialAlreadyExists = "CREDENTIAL_ALREADY_EXISTS_ERROR",
    UserWithEmailAlreadyExists = "USER_WITH_EMAIL_ALREADY_EXISTS_ERROR",
    RecoverAccountTokenInvalid = "RECOVER_ACCOUNT_TOKEN_INVALID_ERROR",
    // The OAuth2 provider.
    OAuthError = "OAUTH_ERROR",
    ClientNotFound = "CLIENT_NOT_FOUND_ERROR",
    // The core's own APIs.
    NotAllowed = "NOT_ALLOWED",
    NoLicenseKeyFound = "NO_LICENSE_KEY_FOUND_ERROR",
    Unavailable = "UNAVAILABLE",
    // SAML.
    DuplicateIdpEntity = "DUPLICATE_IDP_ENTITY_ERROR",
    InvalidClient = "INVALID_CLIENT_ERROR",
    InvalidRelayState = "INVALID_RELAY_STATE_ERROR",
    SamlResponseVerificationFailed = "SAML_RESPONSE_VERIFICATION_FAILED_ERROR",
    IdpLoginDisallowed = "IDP_LOGIN_DISALLOWED_ERROR",
    InvalidToken = "INVALID_TOKEN_ERROR",
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialise_as_their_strings() {
        assert_eq!(serde_json::json!({"status": Status::UnknownUserId}), serde_json::json!({"status": "UNKNOWN_USER_ID_ERROR"}));
        assert_eq!(Status::Ok.as_str(), "OK");
    }
}
