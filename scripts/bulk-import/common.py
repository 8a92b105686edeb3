"""Shared by the export converters: the bulk-import JSON they write (POST /bulk-import/users), in
batches of at most 10,000 users, and the small conversions every export needs."""

import datetime
import json
import os
import sys

MAX_USERS_PER_REQUEST = 10_000


def ms_from_iso(text):
    """Epoch milliseconds of an ISO-8601 time such as 2019-12-06T18:36:12.412Z."""
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return round(value.timestamp() * 1000)


def choose_primary(methods, policy):
    """Marks the first method primary: always, never, or (`linked`) when the user has several
    methods, which are then linked into one user. A primary user may not share an email with
    another primary user in a tenant, so mark single methods primary only if the app uses account
    linking for every user."""
    if methods and (policy == "always" or (policy == "linked" and len(methods) > 1)):
        methods[0]["isPrimary"] = True
    return methods


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


def write_batches(users, out_dir):
    """One JSON document on stdout, or (with out_dir) files users-0001.json, ... of at most
    10,000 users each, to POST one by one."""
    if out_dir is None:
        if len(users) > MAX_USERS_PER_REQUEST:
            raise SystemExit(f"{len(users)} users: more than one request holds; pass --out-dir")
        json.dump({"users": users}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    os.makedirs(out_dir, exist_ok=True)
    for n, start in enumerate(range(0, len(users), MAX_USERS_PER_REQUEST), 1):
        path = os.path.join(out_dir, f"users-{n:04d}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"users": users[start:start + MAX_USERS_PER_REQUEST]}, f, ensure_ascii=False)
        print(f"wrote {path}", file=sys.stderr)


def read_json_lines(path):
    """A JSON document, or newline-delimited JSON (one object a line)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        document = json.loads(text)
        return document if isinstance(document, list) else [document]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
