"""A database held by another writer, end to end: an analyst's long
transaction (BEGIN EXCLUSIVE in another process's connection) while the
MTA delivers. With case.busy_timeout = 2, every delivery gets 451 4.3.0
within the bound of 2 x busy_timeout + 3 s = 7 s (a delivery may queue
behind one other commit that waits out the timeout), nothing is stored
twice or half, the fault is logged once, and once the lock is released the
next delivery is 250 without a restart."""

import os
import sqlite3
import subprocess

from faults import assert_idle, check_store, count_lines, deliver_all, deliver_timed, plain
from harness import CASED, Env, run_tests, wait_for
from pgp import Keyring

BUSY_TIMEOUT = 2
BOUND = 2 * BUSY_TIMEOUT + 3


def locked_env():
    env = Env()
    with open(env.config) as f:
        text = f.read()
    with open(env.config, "w") as f:
        f.write(text.replace('tag = "CASE"\n', f'tag = "CASE"\nbusy_timeout = {BUSY_TIMEOUT}\n', 1))
    return env


def test_a_locked_database_defers_with_451_in_bounded_time_and_recovers():
    env = locked_env()
    analyst = None
    try:
        env.start()
        stored = []
        for i in range(3):
            code, line, _ = deliver_timed(env.port, plain(f"before{i}@example.org", f"before{i}"), BOUND)
            assert code == 250, line
            stored.append(f"before{i}@example.org")
        analyst = sqlite3.connect(env.db, isolation_level=None, timeout=30)
        analyst.execute("BEGIN EXCLUSIVE")
        analyst.execute("SELECT count(*) FROM cases").fetchall()
        # Six sessions at once, one of them a large message parsed on the pool.
        batch = {f"locked{i}@example.org": (plain(f"locked{i}@example.org", f"locked{i}", 40000 if i == 0 else 0),
                                            f"locked{i}@example.org") for i in range(6)}
        results = deliver_all(env.port, batch, BOUND)
        for msgid, (code, line, seconds) in results.items():
            assert code == 451 and "4.3.0" in line, (msgid, line)
            # It waited for the lock (the busy timeout), and no longer than the bound.
            assert BUSY_TIMEOUT - 0.5 <= seconds <= BOUND, (msgid, seconds)
        # Reading is not blocked: the analyst's colleagues can still list cases.
        assert len(env.json("list")) == 3
        # casectl waits as long, then exits 75 (EX_TEMPFAIL): an MTA piping to it defers.
        p = env.casectl("ingest", input=plain("piped@example.org", "piped").encode(), check=False)
        assert p.returncode == 75, (p.returncode, p.stderr)
        assert count_lines(env.log(), "fault: database busy") == 1, env.log()
        assert count_lines(env.log(), "deferred") == 0, env.log()  # per message only at debug level
        assert_idle(env.daemon.pid)
        analyst.execute("ROLLBACK")
        analyst.close()
        analyst = None
        # Released: the next delivery is 250 at once, without a restart.
        pid = env.daemon.pid
        code, line, seconds = deliver_timed(env.port, plain("after@example.org", "after"), BOUND)
        assert code == 250 and seconds < BUSY_TIMEOUT, (line, seconds)
        stored.append("after@example.org")
        # The MTA's retries: each stored once.
        for msgid, (data, frm) in batch.items():
            code, line, _ = deliver_timed(env.port, data, BOUND, frm)
            assert code == 250, (msgid, line)
            stored.append(msgid)
        code, line, _ = deliver_timed(env.port, batch["locked1@example.org"][0], BOUND)
        assert code == 250, line  # a second retry is recognised as a duplicate
        assert env.daemon.pid == pid and env.daemon.poll() is None
        wait_for(lambda: count_lines(env.log(), "fault cleared: database busy") == 1, 10, "the cleared line")
        # The search index caught up with everything stored.
        for word in ("before0", "locked3", "after"):
            wait_for(lambda: len(env.json("search", word)) == 1, 10, f"search to find {word}")
        env.stop()
        check_store(env.db, stored)
        log = env.log()
        assert count_lines(log, "fault: database busy") == 1, log
        assert count_lines(log, "fault cleared: database busy") == 1, log
    finally:
        if analyst:
            analyst.close()
        env.cleanup()


def test_busy_timeout_is_checked_by_cased_check():
    keys = Keyring("Security <security@example.com>")  # --check also wants the alias's key
    env = Env(extra_config=f'[gpg]\nhome = "{keys.home}"\n')
    try:
        with open(env.config) as f:
            text = f.read()
        for value, ok in (("0", False), ("3601", False), ('"10"', False), ("30", True)):
            with open(env.config, "w") as f:
                f.write(text.replace('tag = "CASE"\n', f'tag = "CASE"\nbusy_timeout = {value}\n', 1))
            p = subprocess.run([CASED, "--check", "--config", env.config], capture_output=True, text=True, timeout=30)
            assert (p.returncode == 0) == ok, (value, p.returncode, p.stderr)
            if not ok:
                assert "case.busy_timeout" in p.stderr + p.stdout, p.stderr
    finally:
        env.cleanup()
        keys.close()


if __name__ == "__main__":
    run_tests(globals())
