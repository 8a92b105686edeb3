#!/usr/bin/env python3
"""Converts Amazon Cognito user pool listings to Portcullis / SuperTokens bulk-import JSON
(docs/migrating.md).

Inputs: one or more outputs of `aws cognito-idp list-users --user-pool-id <id>` (each page).

Cognito never exports password hashes. Password users are imported with one shared bcrypt hash
that matches no password (--unusable-hash; by default one is made here, if the `bcrypt` Python
package is installed) and the metadata flag {"cognitoPasswordReset": true}: they reset their
password, or a lazy migration in the backend checks the password against Cognito on their first
sign-in and sets it. Federated users (Google, Facebook, Sign in with Apple, Login with Amazon)
become third-party methods, and, with --phone-numbers, a phone number a passwordless method.
The user's `sub` becomes its externalUserId.
"""

import argparse
import datetime
import json
import os
import secrets
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PROVIDERS = {"Google": "google", "Facebook": "facebook", "SignInWithApple": "apple", "LoginWithAmazon": "amazon"}


def unusable_hash():
    """One bcrypt hash (cost 10) of 32 random bytes that are then forgotten: it passes the import's
    format check and matches no password."""
    try:
        import bcrypt  # optional
    except ImportError:
        raise SystemExit(
            "pass --unusable-hash (a bcrypt hash of random bytes, for example from "
            "`htpasswd -nbBC 10 x \"$(openssl rand -base64 32)\" | cut -d: -f2`) or install the bcrypt package"
        )
    return bcrypt.hashpw(secrets.token_bytes(32).hex().encode(), bcrypt.gensalt(10)).decode()


def created_ms(value):
    """UserCreateDate: epoch seconds (the API and SDKs) or ISO-8601 (some CLI versions)."""
    if isinstance(value, (int, float)):
        return round(value * 1000)
    return common.ms_from_iso(value)


def convert(pages, password_hash, primary, phone_numbers):
    out = []
    for page in pages:
        for user in page.get("Users", []):
            attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
            sub = attributes.get("sub") or user["Username"]
            email = attributes.get("email")
            verified = attributes.get("email_verified") == "true"
            joined = created_ms(user["UserCreateDate"]) if "UserCreateDate" in user else None
            identities = json.loads(attributes["identities"]) if attributes.get("identities") else []
            # A native user may have providers linked to it (then it has `identities` too); a user
            # created by a provider's sign-in has the EXTERNAL_PROVIDER status and no password.
            password_user = user.get("UserStatus") != "EXTERNAL_PROVIDER" and bool(email)
            methods = []
            if password_user:
                methods.append({
                    "recipeId": "emailpassword",
                    "email": email,
                    "passwordHash": password_hash,
                    "hashingAlgorithm": "bcrypt",
                    "isVerified": verified,
                })
            for identity in identities:
                third_party_id = PROVIDERS.get(identity.get("providerName"), str(identity.get("providerName", "")).lower())
                if not email or not third_party_id:
                    common.warn(f"{sub}: federated identity without an email; not imported")
                    continue
                methods.append({
                    "recipeId": "thirdparty",
                    "email": email,
                    "thirdPartyId": third_party_id,
                    "thirdPartyUserId": str(identity["userId"]),
                    "isVerified": verified,
                })
            if phone_numbers and attributes.get("phone_number"):
                methods.append({"recipeId": "passwordless", "phoneNumber": attributes["phone_number"]})
            if not methods:
                common.warn(f"{sub}: nothing to sign in with; the user is not imported")
                continue
            if joined is not None:
                for m in methods:
                    m["timeJoinedInMSSinceEpoch"] = joined
            converted = {"externalUserId": sub}
            if password_user:
                converted["userMetadata"] = {"cognitoPasswordReset": True}
            converted["loginMethods"] = common.choose_primary(methods, primary)
            out.append(converted)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="+")
    parser.add_argument("--unusable-hash", help="the bcrypt hash every password user gets (default: made here)")
    parser.add_argument("--phone-numbers", action="store_true", help="import phone numbers as passwordless methods")
    parser.add_argument("--primary", choices=["linked", "always", "never"], default="linked",
                        help="which users become primary users (default: those with several login methods)")
    parser.add_argument("--out-dir", help="write files of 10,000 users here instead of one document on stdout")
    args = parser.parse_args()
    password_hash = args.unusable_hash or unusable_hash()
    if not password_hash.startswith("$2"):
        raise SystemExit("--unusable-hash must be a bcrypt hash ($2a$, $2b$ or $2y$)")
    pages = []
    for path in args.pages:
        with open(path, encoding="utf-8") as f:
            pages.append(json.load(f))
    common.write_batches(convert(pages, password_hash, args.primary, args.phone_numbers), args.out_dir)


if __name__ == "__main__":
    main()
