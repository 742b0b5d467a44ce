"""Killing cased with SIGKILL at random moments while several sessions
deliver loses no acknowledged message and leaves no half-written case."""

import random
import signal
import sqlite3
import threading
import time

from harness import SANITIZER, Env, run_tests
from lmtp_client import deliver, message

MESSAGES = 1500
SESSIONS = 4


def test_sigkill_during_concurrent_delivery():
    env = Env()
    env.start()
    acked = set()
    lock = threading.Lock()
    stop = threading.Event()
    kills = 0
    rng = random.Random(20261123)

    def sender(worker):
        for i in range(worker, MESSAGES, SESSIONS):
            msgid = f"dur{i}@example.org"
            # Threads of 5 messages each: replies reference their root.
            root = f"dur{i - i % 5}@example.org"
            extra = f"References: <{root}>\r\n" if i % 5 else ""
            data = message(msgid, subject=f"durability {i // 5}", extra=extra)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                try:
                    codes = deliver(port=env.port, msgid=msgid, data=data)
                except (OSError, AssertionError, ConnectionError):
                    time.sleep(0.05)
                    continue
                if codes == [250]:
                    with lock:
                        acked.add(msgid)
                    break
                time.sleep(0.05)  # 4xx / 421: the MTA would retry

    def killer():
        nonlocal kills
        while not stop.is_set():
            # Kill at a random moment, but only after some progress since the
            # last kill, so that a slow (sanitizer) build still finishes.
            with lock:
                seen = len(acked)
            while not stop.is_set():
                with lock:
                    if len(acked) >= seen + 40:
                        break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.1))
            if stop.is_set():
                break
            env.daemon.send_signal(signal.SIGKILL)
            env.daemon.wait()
            kills += 1
            env.start()

    try:
        threads = [threading.Thread(target=sender, args=(w,)) for w in range(SESSIONS)]
        k = threading.Thread(target=killer)
        for t in threads:
            t.start()
        k.start()
        for t in threads:
            t.join()
        stop.set()
        k.join()
        env.stop()
        assert kills >= 5, f"only {kills} kills: the test proved little"
        assert len(acked) == MESSAGES, f"{MESSAGES - len(acked)} messages never acknowledged"
        with sqlite3.connect(env.db) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = dict(db.execute("SELECT message_id, count(*) FROM messages GROUP BY message_id").fetchall())
            for msgid in acked:
                assert rows.get(msgid) == 1, (msgid, rows.get(msgid))
            # every stored message belongs to a case that exists; no case without a message
            assert db.execute("SELECT count(*) FROM messages WHERE case_id NOT IN (SELECT id FROM cases)").fetchone()[0] == 0
            assert db.execute("SELECT count(*) FROM cases c WHERE merged_into IS NULL AND NOT EXISTS "
                              "(SELECT 1 FROM messages m WHERE m.case_id = c.id)").fetchone()[0] == 0
            # threads of five stay together
            live = db.execute("SELECT count(*) FROM cases WHERE merged_into IS NULL").fetchone()[0]
            assert live == MESSAGES // 5, live
            # the search index, which follows each commit, caught up after every
            # kill: a clean stop leaves every message indexed, and only once
            assert db.execute("SELECT indexed_upto FROM search_progress").fetchone()[0] == \
                db.execute("SELECT max(id) FROM messages").fetchone()[0]
            assert db.execute("SELECT count(*) FROM message_index_docsize").fetchone()[0] == MESSAGES
            db.execute("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 1)")
        print(f"{kills} kills, {len(acked)} messages acknowledged and stored once")
    finally:
        stop.set()
        env.cleanup()


def test_casectl_between_deliveries_loses_nothing():
    """Regression: the daemon once opened the database file with open()/close()
    while its writer held SQLite's locks, which dropped them; a casectl exiting
    then deleted the WAL under the daemon and acknowledged mail vanished."""
    env = Env(extra_config='[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n')
    env.start()
    try:
        for i in range(6):
            assert deliver(port=env.port, msgid=f"c{i}@example.org",
                           data=message(f"c{i}@example.org", subject=f"report {i}")) == [250]
            env.casectl("comment", "1", "-m", f"note {i}")
            env.casectl("list")
            with sqlite3.connect(env.db) as db:
                n = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            assert n == i + 1, (i, n)
        env.stop()
        with sqlite3.connect(env.db) as db:
            assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 6
            assert db.execute("SELECT count(*) FROM comments").fetchone()[0] == 6
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
