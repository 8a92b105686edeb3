"""The export converters of scripts/bulk-import turn the fixture exports into exactly the committed
expected.json files (which crates/core/tests/bulk_import_exports.rs validates and signs in with),
and handle the odd cases; the worked examples of docs/migrating.md are these files, word for word.
Run: python3 -m unittest discover -s tests/bulk-import"""

import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "..", "..", "scripts", "bulk-import")
sys.path.insert(0, SCRIPTS)


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(SCRIPTS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


auth0, firebase, cognito, common = load("auth0"), load("firebase"), load("cognito"), load("common")


def fixture(*parts):
    return os.path.join(HERE, *parts)


def expected(*parts):
    with open(fixture(*parts, "expected.json"), encoding="utf-8") as f:
        return json.load(f)


def run(script, *args):
    """The script as a user runs it: its stdout as JSON."""
    out = subprocess.run([sys.executable, os.path.join(SCRIPTS, script), *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout), out.stderr


class Auth0(unittest.TestCase):
    def test_the_fixture_converts_to_the_expected_users(self):
        users, warnings = run("auth0.py", "--password-hashes", fixture("auth0", "password-hashes.ndjson"),
                              "--users", fixture("auth0", "users.ndjson"))
        self.assertEqual(users, expected("auth0"))
        # A SAML user has nothing to sign in with; a hash without its user is reported.
        self.assertIn("samlp|corp|frank: nothing to sign in with", warnings)
        self.assertIn("auth0|6aaaaaaaaaaaaaaaaaaaaaaa: in the hash export but not in the user export", warnings)

    def test_the_hash_export_alone(self):
        entries = common.read_json_lines(fixture("auth0", "password-hashes.ndjson"))
        users = auth0.convert(entries, None, "linked")
        self.assertEqual([u["externalUserId"] for u in users],
                         ["auth0|5dea9f9c82dd7c0e76e4ec93", "auth0|64a1b2c3d4e5f60718293a4b", "auth0|carol-legacy-7",
                          "auth0|6aaaaaaaaaaaaaaaaaaaaaaa"])
        bob = users[1]["loginMethods"][0]
        self.assertEqual((bob["email"], bob["isVerified"]), ("bob@example.com", False), "the email of `identifiers`")
        self.assertNotIn("isPrimary", bob, "single methods are not primary by default")
        always = auth0.convert(entries, None, "always")
        self.assertTrue(all(u["loginMethods"][0]["isPrimary"] for u in always))

    def test_wrapped_hashes_are_not_imported(self):
        entry = {"_id": {"$oid": "x"}, "email": "a@b.c", "passwordHash": "bcrypt:$2b$10$abc"}
        self.assertEqual(auth0.convert([entry], None, "linked"), [])

    def test_more_providers_can_be_mapped(self):
        users = [{"user_id": "oidc|1", "email": "o@b.c", "identities": [{"provider": "oidc", "user_id": "1"}]}]
        out = auth0.convert([], users, "linked", {**auth0.PROVIDERS, "oidc": "my-oidc"})
        self.assertEqual(out[0]["loginMethods"][0]["thirdPartyId"], "my-oidc")


class Firebase(unittest.TestCase):
    def test_both_projects_convert_to_the_expected_users(self):
        for project, config in [("project-a", "hash-config.txt"), ("project-b", "hash-config.json")]:
            users, warnings = run("firebase.py", fixture("firebase", project, "users.json"),
                                  "--hash-config", fixture("firebase", project, config))
            self.assertEqual(users, expected("firebase", project), project)
            self.assertIn("firebase_password_hashing_signer_key", warnings)
            self.assertNotIn("gRhC3eDe", warnings, "the signer key is never printed")
            self.assertNotIn("jxspr8Ki", warnings, "the signer key is never printed")

    def test_the_console_text_and_json_give_the_same_parameters(self):
        text = firebase.read_hash_config(fixture("firebase", "project-a", "hash-config.txt"))
        self.assertEqual(text, {"salt_separator": "Bw==", "rounds": 8, "mem_cost": 14, "has_signer_key": True})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"algorithm": "HMAC_SHA256", "rounds": 1}, f)
        with self.assertRaises(SystemExit):
            firebase.read_hash_config(f.name)
        os.unlink(f.name)

    def test_the_hash_string_is_the_cores_format(self):
        config = {"salt_separator": "Bw==", "rounds": 8, "mem_cost": 14}
        self.assertEqual(firebase.scrypt_hash({"passwordHash": "H", "salt": "S"}, config), "$f_scrypt$H$S$m=14$r=8$s=Bw==")


class Cognito(unittest.TestCase):
    def test_the_pages_convert_to_the_expected_users(self):
        with open(fixture("cognito", "unusable-hash.txt"), encoding="utf-8") as f:
            unusable = f.read().strip()
        users, _ = run("cognito.py", fixture("cognito", "page-1.json"), fixture("cognito", "page-2.json"),
                       "--phone-numbers", "--unusable-hash", unusable)
        self.assertEqual(users, expected("cognito"))

    def test_without_phone_numbers_and_with_a_bad_hash(self):
        with open(fixture("cognito", "page-2.json"), encoding="utf-8") as f:
            page = json.load(f)
        users = cognito.convert([page], "$2b$10$x", "linked", False)
        self.assertEqual([m["recipeId"] for m in users[0]["loginMethods"]], ["emailpassword"])
        out = subprocess.run([sys.executable, os.path.join(SCRIPTS, "cognito.py"), fixture("cognito", "page-2.json"),
                              "--unusable-hash", "plain"], capture_output=True, text=True)
        self.assertNotEqual(out.returncode, 0)

    def test_a_linked_native_user_keeps_its_password_method(self):
        page = {"Users": [{"Username": "u", "UserStatus": "CONFIRMED", "UserCreateDate": 1,
                           "Attributes": [{"Name": "sub", "Value": "s"}, {"Name": "email", "Value": "e@x.y"},
                                          {"Name": "identities", "Value": "[{\"userId\":\"9\",\"providerName\":\"Facebook\"}]"}]}]}
        methods = cognito.convert([page], "$2b$10$x", "linked", False)[0]["loginMethods"]
        self.assertEqual([(m["recipeId"], m.get("isPrimary")) for m in methods], [("emailpassword", True), ("thirdparty", None)])
        self.assertEqual(methods[1]["thirdPartyId"], "facebook")


class Batches(unittest.TestCase):
    def test_more_than_one_request_goes_to_files_of_10000(self):
        users = [{"externalUserId": str(i), "loginMethods": []} for i in range(25_001)]
        with tempfile.TemporaryDirectory() as d:
            stderr, sys.stderr = sys.stderr, io.StringIO()
            try:
                common.write_batches(users, d)
            finally:
                sys.stderr = stderr
            files = sorted(os.listdir(d))
            self.assertEqual(files, ["users-0001.json", "users-0002.json", "users-0003.json"])
            sizes = []
            for name in files:
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    sizes.append(len(json.load(f)["users"]))
            self.assertEqual(sizes, [10_000, 10_000, 5_001])
        with self.assertRaises(SystemExit):
            common.write_batches(users, None)

    def test_iso_times(self):
        self.assertEqual(common.ms_from_iso("2019-12-06T18:36:12.412Z"), 1575657372412)
        self.assertEqual(common.ms_from_iso("2023-07-22T04:26:40.000000+00:00"), 1690000000000)
        self.assertEqual(common.ms_from_iso("2021-01-01T00:00:00"), 1609459200000)


if __name__ == "__main__":
    unittest.main()


class WorkedExamples(unittest.TestCase):
    """docs/migrating.md shows the fixtures as its worked examples: each block after a
    `<!-- file: PATH -->` line must be that file exactly, so the doc cannot drift from what the
    tests convert, import and sign in with."""

    ROOT = os.path.join(HERE, "..", "..")

    def blocks(self):
        with open(os.path.join(self.ROOT, "docs", "migrating.md"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        out = {}
        for i, line in enumerate(lines):
            if not line.startswith("<!-- file: "):
                continue
            path = line[len("<!-- file: "):].removesuffix(" -->")
            self.assertTrue(lines[i + 1].startswith("```"), f"{path}: a fenced block must follow its marker")
            end = lines.index("```", i + 2)
            out[path] = "\n".join(lines[i + 2:end])
        return out

    def test_every_block_is_its_file(self):
        blocks = self.blocks()
        for path, text in blocks.items():
            with open(os.path.join(self.ROOT, path), encoding="utf-8") as f:
                self.assertEqual(text, f.read().rstrip("\n"), f"docs/migrating.md's block for {path} differs from the file")

    def test_each_service_shows_its_export_batch_and_passwords(self):
        shown = set(self.blocks())
        for path in ["tests/bulk-import/auth0/password-hashes.ndjson", "tests/bulk-import/auth0/users.ndjson",
                     "tests/bulk-import/auth0/expected.json", "tests/bulk-import/auth0/passwords.json",
                     "tests/bulk-import/firebase/project-a/users.json", "tests/bulk-import/firebase/project-a/hash-config.txt",
                     "tests/bulk-import/firebase/project-a/expected.json", "tests/bulk-import/firebase/project-a/passwords.json",
                     "tests/bulk-import/cognito/page-1.json", "tests/bulk-import/cognito/page-2.json",
                     "tests/bulk-import/cognito/expected.json"]:
            self.assertIn(path, shown)
