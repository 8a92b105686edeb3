#!/usr/bin/env python3
"""Memory held by clients that send large bodies (issue 18, finding 1).

Starts `portcullis` on a fresh SQLite file, opens N connections that each send the headers and
all but the last byte of a 1 MB body to PATH (so the server holds whatever it buffered), records
the server's RSS, closes them, waits, and records RSS again. Usage:

    scripts/probe-memory.py [--bin target/debug/portcullis] [--connections 200] [--path /hello]
                            [--api-keys KEY]

Prints one line: idle, peak and after-close RSS in MB, and how the requests were answered.
"""
import argparse, os, socket, subprocess, sys, tempfile, time

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/debug/portcullis")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--path", default="/hello")
    ap.add_argument("--api-keys", default="")
    ap.add_argument("--body-bytes", type=int, default=1_000_000)
    a = ap.parse_args()
    port = 20000 + os.getpid() % 20000
    tmp = tempfile.mkdtemp(prefix="probe-memory-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRESQL_", "PORTCULLIS_")) and k != "API_KEYS"}
    env.update(PORTCULLIS_SQLITE_PATH=os.path.join(tmp, "p.db"), LOG_LEVEL="ERROR")
    if a.api_keys:
        env["API_KEYS"] = a.api_keys
    server = subprocess.Popen([a.bin, "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        idle = rss_mb(server.pid)
        head = (f"POST {a.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {a.body_bytes}\r\n\r\n").encode()
        body = b"{" + b" " * (a.body_bytes - 3) + b"}"  # all but the last byte
        conns, refused = [], 0
        for _ in range(a.connections):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(head)
                conns.append(s)
            except OSError:
                refused += 1
        for s in conns:
            try:
                s.settimeout(0.2)
                s.sendall(body)
            except OSError:
                pass
        time.sleep(2)
        peak = rss_mb(server.pid)
        answers = {}
        for s in conns:
            try:
                s.settimeout(0.05)
                line = s.recv(64).split(b"\r\n")[0].decode(errors="replace") or "(closed)"
            except socket.timeout:
                line = "(waiting)"
            except OSError:
                line = "(reset)"
            answers[line] = answers.get(line, 0) + 1
            s.close()
        time.sleep(5)
        after = rss_mb(server.pid)
        print(f"path={a.path} connections={a.connections} keys={'yes' if a.api_keys else 'no'}: "
              f"idle {idle:.0f} MB, peak {peak:.0f} MB, 5 s after close {after:.0f} MB; "
              f"connect refused {refused}; answers {answers}")
    finally:
        server.terminate()
        server.wait()

if __name__ == "__main__":
    sys.exit(main())
