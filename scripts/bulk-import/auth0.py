#!/usr/bin/env python3
"""Converts Auth0 exports to Portcullis / SuperTokens bulk-import JSON (docs/migrating.md).

Inputs:
  --password-hashes  the password hashes export Auth0 support provides: one JSON object a line,
                     with `_id.$oid` (or `alt_id`), `email` (or an email in `identifiers`),
                     `email_verified` and a bcrypt `passwordHash` ($2a$/$2b$).
  --users            optional: the regular user export (Management API `users-exports` job, JSON
                     format, one user a line) for `created_at`, social identities and metadata.
                     Without it, every user of the hash export becomes an email-password user.

Each Auth0 user becomes one bulk-import user whose externalUserId is its Auth0 user_id
(`auth0|…`), so ids stored elsewhere in the app keep working. Database identities become
email-password methods with the imported hash (never hashed again); social identities become
third-party methods. Passwords are not needed: users sign in with the ones they had.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# Auth0 social connection names and the third-party ids of SuperTokens' built-in providers; more
# with --provider auth0-name=third-party-id.
PROVIDERS = {
    "google-oauth2": "google",
    "github": "github",
    "facebook": "facebook",
    "apple": "apple",
    "linkedin": "linkedin",
    "twitter": "twitter",
    "bitbucket": "bitbucket",
}


def hash_entry_email(entry):
    if entry.get("email"):
        return entry["email"], bool(entry.get("email_verified"))
    for identifier in entry.get("identifiers") or []:
        if identifier.get("type") == "email" and identifier.get("value"):
            return identifier["value"], bool(identifier.get("verified"))
    return None, False


def hash_entry_user_id(entry):
    """The Auth0 user id a hash belongs to: auth0|<alt_id> when present, else auth0|<_id.$oid>."""
    if entry.get("alt_id"):
        return "auth0|" + entry["alt_id"]
    return "auth0|" + entry["_id"]["$oid"]


def password_method(entry, verified_default):
    email, verified = hash_entry_email(entry)
    password_hash = (entry.get("passwordHash") or "").strip()
    if not email:
        common.warn(f"{hash_entry_user_id(entry)}: no email in the hash export; its password is not imported")
        return None
    if not password_hash.startswith("$2"):
        # Exports sometimes wrap hashes; only a bare bcrypt string can be verified.
        common.warn(f"{hash_entry_user_id(entry)}: the password hash is not a bcrypt string; its password is not imported")
        return None
    return {
        "recipeId": "emailpassword",
        "email": email,
        "passwordHash": password_hash,
        "hashingAlgorithm": "bcrypt",
        "isVerified": verified or verified_default,
    }


def convert(hash_entries, users, primary, providers=PROVIDERS):
    hashes = {hash_entry_user_id(e): e for e in hash_entries}
    out = []
    if users is None:
        for user_id, entry in hashes.items():
            method = password_method(entry, False)
            if method:
                out.append({"externalUserId": user_id, "loginMethods": common.choose_primary([method], primary)})
        return out
    used = set()
    for user in users:
        user_id = user["user_id"]
        joined = common.ms_from_iso(user["created_at"]) if user.get("created_at") else None
        verified = bool(user.get("email_verified"))
        methods = []
        for identity in user.get("identities") or [{"provider": "auth0", "user_id": user_id.split("|", 1)[-1]}]:
            provider = identity.get("provider")
            if provider == "auth0":
                entry = hashes.get("auth0|" + str(identity["user_id"]))
                if entry is None:
                    common.warn(f"{user_id}: no password hash for its database identity; it is not imported")
                    continue
                used.add("auth0|" + str(identity["user_id"]))
                method = password_method(entry, verified)
            elif provider in providers and user.get("email"):
                method = {
                    "recipeId": "thirdparty",
                    "email": user["email"],
                    "thirdPartyId": providers[provider],
                    "thirdPartyUserId": str(identity["user_id"]),
                    "isVerified": verified,
                }
            else:
                common.warn(f"{user_id}: identity {provider} is not imported (no email, or no matching provider)")
                method = None
            if method:
                if joined is not None:
                    method["timeJoinedInMSSinceEpoch"] = joined
                methods.append(method)
        if not methods:
            common.warn(f"{user_id}: nothing to sign in with; the user is not imported")
            continue
        converted = {"externalUserId": user_id}
        metadata = dict(user.get("user_metadata") or {})
        if user.get("app_metadata"):
            metadata["app_metadata"] = user["app_metadata"]
        if metadata:
            converted["userMetadata"] = metadata
        converted["loginMethods"] = common.choose_primary(methods, primary)
        out.append(converted)
    for user_id in sorted(set(hashes) - used):
        common.warn(f"{user_id}: in the hash export but not in the user export; not imported")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--password-hashes", required=True)
    parser.add_argument("--users")
    parser.add_argument("--primary", choices=["linked", "always", "never"], default="linked",
                        help="which users become primary users (default: those with several login methods)")
    parser.add_argument("--provider", action="append", default=[], metavar="AUTH0_NAME=THIRD_PARTY_ID",
                        help="map another social connection to a third-party id")
    parser.add_argument("--out-dir", help="write files of 10,000 users here instead of one document on stdout")
    args = parser.parse_args()
    providers = dict(PROVIDERS)
    providers.update(p.split("=", 1) for p in args.provider)
    users = common.read_json_lines(args.users) if args.users else None
    common.write_batches(convert(common.read_json_lines(args.password_hashes), users, args.primary, providers), args.out_dir)


if __name__ == "__main__":
    main()
