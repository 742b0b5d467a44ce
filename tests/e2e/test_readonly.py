"""casectl's read-only commands on a database they may not or must not
write, and a database from a newer program, refused by casectl and cased
alike without a byte of it changed."""

import hashlib
import os
import shutil
import sqlite3
import subprocess

from harness import CASECTL, Env, run_tests

READ_ONLY = [["list"], ["show", "1"], ["--json", "show", "1"], ["--json", "list"], ["search", "parser"],
             ["outbox"], ["digest"], ["--json", "digest"]]


def report(msgid, subject="Crash in the parser"):
    return (
        f"From: Rita Reporter <rita@example.org>\nTo: security@example.com\nSubject: {subject}\n"
        f"Date: Sun, 22 Nov 2026 21:56:20 +0000\nMessage-ID: <{msgid}>\n\nThe parser crashes.\n"
    ).encode()


def fingerprint(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def user_version(path):
    # Through a read-only URI, so that looking does not change the file.
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def filled_env():
    env = Env()
    env.json("ingest", input=report("one@example.org"))
    env.json("ingest", input=report("two@example.org", "Another report"))
    env.casectl("comment", "1", "-m", "looking at it")
    return env


def test_read_only_commands_leave_a_0400_database_as_it_was():
    env = filled_env()
    try:
        os.chmod(env.db, 0o400)
        before, version = fingerprint(env.db), user_version(env.db)
        for args in READ_ONLY:
            p = env.casectl(*args, check=False)
            assert p.returncode == 0, (args, p.returncode, p.stderr)
        assert b"Crash in the parser" in env.casectl("show", "1").stdout
        assert sorted(c["id"] for c in env.json("list")) == [1, 2]
        assert fingerprint(env.db) == before
        assert user_version(env.db) == version
    finally:
        env.cleanup()


def test_an_analyst_without_write_access_reads_and_cannot_write():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("skip: needs root and setpriv to run casectl as a user without write access")
        return
    env = filled_env()
    try:
        os.chmod(env.dir, 0o755)
        os.chmod(env.config, 0o644)
        os.chmod(env.db, 0o444)
        before = fingerprint(env.db)

        def as_nobody(*args):
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", CASECTL, "--config", env.config,
                   *args]
            return subprocess.run(cmd, capture_output=True, timeout=120)

        for args in READ_ONLY:
            p = as_nobody(*args)
            assert p.returncode == 0, (args, p.returncode, p.stderr)
        assert b"looking at it" in as_nobody("show", "1").stdout
        p = as_nobody("comment", "1", "-m", "not allowed")
        assert p.returncode not in (0, 2), (p.returncode, p.stderr)
        assert p.stderr.startswith(b"casectl: ")
        assert fingerprint(env.db) == before
    finally:
        env.cleanup()


def test_a_database_from_a_newer_program_is_refused_untouched():
    env = Env()
    try:
        newest = env.json("init")["schema_version"]
        con = sqlite3.connect(env.db)
        con.execute(f"PRAGMA user_version = {newest + 1}")
        con.commit()
        con.close()
        before = fingerprint(env.db)
        for args in (["list"], ["show", "1"], ["init"], ["comment", "1", "-m", "x"], ["ingest"]):
            p = env.casectl(*args, input=report("three@example.org"), check=False)
            assert p.returncode == 4, (args, p.returncode, p.stderr)
            assert b"newer than this program" in p.stderr, (args, p.stderr)
        daemon = env.start(wait_port=False)
        rc = daemon.wait(timeout=60)
        env.daemon = None
        assert rc != 0, rc
        assert "newer than this program" in env.log(), env.log()
        assert fingerprint(env.db) == before
        assert user_version(env.db) == newest + 1
    finally:
        env.cleanup()


def test_read_only_commands_never_create_a_database():
    env = Env()
    try:
        for args in (["list"], ["show", "1"]):
            p = env.casectl(*args, check=False)
            assert p.returncode == 1, (args, p.returncode, p.stderr)
            assert b"does not exist yet" in p.stderr, p.stderr
        assert not os.path.exists(env.db)
    finally:
        env.cleanup()


def test_help_prints_the_exit_status_table():
    p = subprocess.run([CASECTL, "--help"], capture_output=True, timeout=60)
    assert p.returncode == 0, p
    table = p.stdout.split(b"Exit status:", 1)[1]
    for code in (b"0", b"1", b"2", b"3", b"4", b"75"):
        assert any(line.split()[:1] == [code] for line in table.splitlines()), (code, table)


if __name__ == "__main__":
    run_tests(globals())
