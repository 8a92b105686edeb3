#!/usr/bin/env python3
"""Converts a Firebase Authentication export to Portcullis / SuperTokens bulk-import JSON
(docs/migrating.md).

Inputs:
  users.json     `firebase auth:export users.json --format=json --project <id>`
  --hash-config  the project's password hash parameters (console: Authentication, Users, ⋮,
                 Password hash parameters), as the console prints them
                 (`hash_config { algorithm: SCRYPT, base64_signer_key: …, base64_salt_separator: …,
                 rounds: 8, mem_cost: 14 }`) or as JSON with those keys.

Password users keep their Firebase scrypt hash (`$f_scrypt$<hash>$<salt>$m=<mem_cost>$r=<rounds>$s=<separator>`):
it is verified at sign-in and never hashed again. The signer key is not part of the hash: set it as
the app's `firebase_password_hashing_signer_key` before importing. Google, Facebook, GitHub, Apple
and Twitter identities become third-party methods, a phone number a passwordless method, and an
email without a password (email-link sign-in) a passwordless email method. The Firebase uid
(`localId`) becomes the externalUserId; `customAttributes` become the user's metadata.
"""

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PROVIDERS = {
    "google.com": "google",
    "facebook.com": "facebook",
    "github.com": "github",
    "apple.com": "apple",
    "twitter.com": "twitter",
}


def read_hash_config(path):
    """The scrypt parameters, from the console's text or from JSON."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        config = dict(re.findall(r"(\w+)\s*:\s*([^,\s}]+)", text))
    algorithm = str(config.get("algorithm", "SCRYPT")).upper()
    if algorithm != "SCRYPT":
        raise SystemExit(f"hash algorithm {algorithm}: only Firebase's SCRYPT can be imported")
    return {
        "salt_separator": str(config["base64_salt_separator"]),
        "rounds": int(config["rounds"]),
        "mem_cost": int(config["mem_cost"]),
        "has_signer_key": bool(config.get("base64_signer_key")),
    }


def scrypt_hash(user, config):
    return (
        f"$f_scrypt${user['passwordHash']}${user.get('salt', '')}"
        f"$m={config['mem_cost']}$r={config['rounds']}$s={config['salt_separator']}"
    )


def convert(export, config, primary):
    out = []
    for user in export.get("users", []):
        uid = user["localId"]
        joined = int(user["createdAt"]) if user.get("createdAt") else None
        email = user.get("email")
        verified = bool(user.get("emailVerified"))
        methods = []
        if email and user.get("passwordHash"):
            methods.append({
                "recipeId": "emailpassword",
                "email": email,
                "passwordHash": scrypt_hash(user, config),
                "hashingAlgorithm": "firebase_scrypt",
                "isVerified": verified,
            })
        elif email and not any(p.get("providerId") in PROVIDERS for p in user.get("providerUserInfo") or []):
            methods.append({"recipeId": "passwordless", "email": email, "isVerified": verified})
        for provider in user.get("providerUserInfo") or []:
            third_party_id = PROVIDERS.get(provider.get("providerId"))
            provider_email = provider.get("email") or email
            if third_party_id is None:
                continue
            if not provider_email:
                common.warn(f"{uid}: {provider['providerId']} identity without an email; not imported")
                continue
            methods.append({
                "recipeId": "thirdparty",
                "email": provider_email,
                "thirdPartyId": third_party_id,
                "thirdPartyUserId": provider["rawId"],
                "isVerified": verified and provider_email == email,
            })
        if user.get("phoneNumber"):
            methods.append({"recipeId": "passwordless", "phoneNumber": user["phoneNumber"]})
        if not methods:
            common.warn(f"{uid}: nothing to sign in with; the user is not imported")
            continue
        if joined is not None:
            for m in methods:
                m["timeJoinedInMSSinceEpoch"] = joined
        converted = {"externalUserId": uid}
        if user.get("customAttributes"):
            try:
                converted["userMetadata"] = json.loads(user["customAttributes"])
            except json.JSONDecodeError:
                common.warn(f"{uid}: customAttributes is not JSON; not imported")
        converted["loginMethods"] = common.choose_primary(methods, primary)
        out.append(converted)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("users")
    parser.add_argument("--hash-config", required=True)
    parser.add_argument("--primary", choices=["linked", "always", "never"], default="linked",
                        help="which users become primary users (default: those with several login methods)")
    parser.add_argument("--out-dir", help="write files of 10,000 users here instead of one document on stdout")
    args = parser.parse_args()
    config = read_hash_config(args.hash_config)
    if config["has_signer_key"]:
        print("note: set the app's firebase_password_hashing_signer_key to the project's base64_signer_key "
              "before importing", file=sys.stderr)
    with open(args.users, encoding="utf-8") as f:
        export = json.load(f)
    common.write_batches(convert(export, config, args.primary), args.out_dir)


if __name__ == "__main__":
    main()
