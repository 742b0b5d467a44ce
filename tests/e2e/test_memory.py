"""Peak memory per message: a large plain message costs at most three times
its size over what a tiny one costs, through `casectl ingest` and through
cased over LMTP, indexing for search included. What is stored stays the
same: the raw bytes, the text, the search index, Authentication-Results."""

import hashlib
import json
import os
import sqlite3
import subprocess

from harness import CASECTL, SANITIZER, Env, run_tests, wait_for
from lmtp_client import deliver

MB = 1 << 20
SIZE = 24 * MB
# What does not grow with the message: SQLite's page cache, the search
# index's buffers, the allocator's slack.
SLACK = 16 * MB
LINE = "The quick brown fox jumps over the lazy dog, and the lazy dog minds.\n"


def big_message(msgid, eol):
    head = (
        "From: Rita Reporter <rita@example.org>\nTo: security@example.com\nSubject: big report\n"
        "Date: Mon, 30 Nov 2026 05:00:00 +0000\n"
        f"Message-ID: <{msgid}>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Authentication-Results: mx.example.com; dkim=pass header.d=example.org; spf=pass; dmarc=pass\n\n"
    )
    body = LINE * (SIZE // len(LINE)) + "zanzibarquux at the very end\n"
    return (head + body).replace("\n", eol).encode()


def tiny_message(msgid, eol):
    return (
        f"From: rita@example.org\nTo: security@example.com\nSubject: tiny\nMessage-ID: <{msgid}>\n\nhello\n"
    ).replace("\n", eol).encode()


def env_with_authserv():
    env = Env(extra_config=f"max_message_size = {64 * MB}\n")
    with open(env.config) as f:
        text = f.read()
    with open(env.config, "w") as f:
        f.write(text.replace('tag = "CASE"\n', 'tag = "CASE"\nauthserv_id = "mx.example.com"\n', 1))
    return env


def run_peak_kb(args):
    """Runs args under /usr/bin/time; returns its peak RSS in KB. (This
    process's own peak would be inherited by a child it forks directly.)"""
    p = subprocess.run(["/usr/bin/time", "-f", "peak_kb=%M", *args], capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return int(p.stderr.decode().rsplit("peak_kb=", 1)[1].split()[0])


def stored_checks(env, data, word="zanzibarquux"):
    con = sqlite3.connect(env.db)
    try:
        raw, sha, auth = con.execute(
            "SELECT raw, content_sha256, auth_dmarc FROM messages WHERE subject = 'big report'").fetchone()
        body = con.execute("SELECT body FROM message_text WHERE subject = 'big report'").fetchone()[0]
    finally:
        con.close()
    assert raw == data
    crlf = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert sha == hashlib.sha256(crlf).hexdigest()
    assert auth == "pass", auth
    assert body.endswith(word + " at the very end\n") or body.endswith(word + " at the very end\r\n"), body[-60:]
    hits = env.json("search", word)
    assert len(hits) == 1, hits


def test_casectl_ingest_peak_is_under_three_times_the_message():
    if SANITIZER or not os.path.exists("/usr/bin/time"):
        print("skip: the sanitizers' own memory would be measured, or no /usr/bin/time")
        return
    env = env_with_authserv()
    try:
        small = os.path.join(env.dir, "small.eml")
        big = os.path.join(env.dir, "big.eml")
        data = big_message("big@example.org", "\n")  # bare LF: the hash is over CRLF
        with open(small, "wb") as f:
            f.write(tiny_message("tiny@example.org", "\n"))
        with open(big, "wb") as f:
            f.write(data)
        base_kb = run_peak_kb([CASECTL, "--config", env.config, "--json", "ingest", small])
        peak_kb = run_peak_kb([CASECTL, "--config", env.config, "--json", "ingest", big])
        over = peak_kb * 1024 - base_kb * 1024
        print(f"casectl ingest: tiny {base_kb // 1024} MB, {len(data) // MB} MB message {peak_kb // 1024} MB")
        assert over < 3 * len(data) + SLACK, f"peak {peak_kb // 1024} MB over {base_kb // 1024} MB"
        stored_checks(env, data)
    finally:
        env.cleanup()


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_lmtp_peak_is_under_three_times_the_message():
    if SANITIZER:
        print("skip: the sanitizers' own memory would be measured")
        return
    env = env_with_authserv()
    try:
        daemon = env.start()
        assert deliver(port=env.port, msgid="tiny@example.org", data=tiny_message("tiny@example.org", "\r\n")) == [250]
        base_kb = vm_hwm_kb(daemon.pid)
        data = big_message("big@example.org", "\r\n")
        assert deliver(port=env.port, msgid="big@example.org", data=data) == [250]

        def indexed():
            con = sqlite3.connect(env.db)
            try:
                return con.execute("SELECT indexed_upto FROM search_progress").fetchone()[0] >= 2
            finally:
                con.close()
        wait_for(indexed, 60, "cased to index the message")
        peak_kb = vm_hwm_kb(daemon.pid)
        print(f"cased: after a tiny message {base_kb // 1024} MB, {len(data) // MB} MB message {peak_kb // 1024} MB")
        assert (peak_kb - base_kb) * 1024 < 3 * len(data) + SLACK, f"peak {peak_kb // 1024} MB over {base_kb // 1024} MB"
        env.stop()
        stored_checks(env, data)
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
