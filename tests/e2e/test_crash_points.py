"""Every crash point of a commit: cased is stopped at each write and sync that
its SQLite VFS shim makes (lib/store/crash_points.hpp) while a fixed
workload is delivered over LMTP, restarted, and checked: every message that
got its 250 is there exactly once, no case is left without a message, and
SQLite's and the search index's integrity checks pass; then the workload is
delivered again and everything is there once and found by the index.

A counting run first numbers the points (P); then every point 1..P is a
crash, in three modes: `process` (SIGKILL: what the kernel has stays),
`power` (every write since its file's last sync is undone first: a power
loss) and `torn` (a seeded random subset of those writes survives, some cut
at a sector). A run that ends before its point is a failure, so the test
cannot pass by stopping nowhere.

The points must come in the same order in every run: the workload waits,
after each 250, until the daemon has made as many points as the counting
run made by then (the search index commits on a timer after a delivery).
In process mode a reader keeps the database open across the crash, so the
restarted daemon uses the wal-index the dead one left in shared memory:
that is where a flush after publishing would show."""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from harness import CASED, SANITIZER, SKIP, Env, need_test_hooks, run_tests, wait_for
from lmtp_client import Lmtp, deliver, message

NOW = "2026-11-30T12:00:00Z"
# Small, so that the workload checkpoints and restarts the WAL several times.
AUTOCHECKPOINT = "24"
QUIET = 0.6 if SANITIZER else 0.3  # counting run: no new point for this long
BIG = 140 * 1024  # more than one coalesced run (128 KiB): flushed mid-commit


def workload():
    """Two sessions of (msgid, bytes): a new case, a reply by References, a
    duplicate, a message over 128 KiB, more new cases and a reply."""
    def msg(mid, subject, body, extra=""):
        return mid, message(mid, subject=subject, body=body, extra=extra).encode()

    line = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do\r\n"
    big_body = "bigword0 appears once\r\n" + line * (BIG // len(line))
    first = [
        msg("crash0@example.org", "overflow in parser", "ridgeword0 the first report\r\n"),
        msg("crash1@example.org", "Re: overflow in parser", "ridgeword1 a reply\r\n",
            "References: <crash0@example.org>\r\n"),
        msg("crash0@example.org", "overflow in parser", "ridgeword0 the first report\r\n"),
        msg("crash2@example.org", "large attachment", big_body),
    ]
    second = [
        msg("crash3@example.org", "second issue", "ridgeword3 another report\r\n"),
        msg("crash4@example.org", "Re: second issue", "ridgeword4 reply two\r\n",
            "References: <crash3@example.org>\r\n"),
    ]
    if not SANITIZER:  # a third of the points fewer under the sanitizers
        second += [
            msg("crash5@example.org", "third issue", "ridgeword5 " + line * 40),
            msg("crash1@example.org", "Re: overflow in parser", "ridgeword1 a reply\r\n",
                "References: <crash0@example.org>\r\n"),
        ]
    return [first, second]


# The word only each new message has, by Message-ID.
WORDS = {"crash0@example.org": "ridgeword0", "crash1@example.org": "ridgeword1",
         "crash2@example.org": "bigword0", "crash3@example.org": "ridgeword3",
         "crash4@example.org": "ridgeword4", "crash5@example.org": "ridgeword5"}
WORDS = {mid: w for mid, w in WORDS.items() if any(mid == m for s in workload() for m, _ in s)}
NEW_MESSAGES = len(WORDS)


class Trace:
    """The daemon's CASED_CRASH_COUNT file: one line per point."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        return data.decode().split("\n")[:-1]  # only complete lines

    def count(self):
        return len(self.lines())


class Run:
    """One daemon over a copy of the template database."""

    def __init__(self, template, mode, at=0):
        self.env = Env()
        shutil.copy(template, self.env.db)
        self.mode, self.at = mode, at
        self.trace = Trace(os.path.join(self.env.dir, "points"))
        self.marker = os.path.join(self.env.dir, "crashed")
        self.reader = None

    def spawn(self, hooked):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASED_CRASH_")}
        env.update(CASED_NOW=NOW, CASED_TEST_WAL_AUTOCHECKPOINT=AUTOCHECKPOINT)
        if hooked:
            env.update(CASED_CRASH_COUNT=self.trace.path, CASED_CRASH_MODE=self.mode,
                       CASED_CRASH_MARKER=self.marker)
            if self.at:
                env["CASED_CRASH_AT"] = str(self.at)
        log = open(self.env.daemon_log, "ab")
        self.env.daemon = subprocess.Popen([CASED, "--config", self.env.config], stdout=log, stderr=log,
                                           stdin=subprocess.DEVNULL, env=env)
        log.close()

    def listening_or_dead(self):
        def ready():
            if self.env.daemon.poll() is not None:
                return True
            try:
                socket.create_connection(("127.0.0.1", self.env.port), timeout=0.5).close()
                return True
            except OSError:
                return False
        wait_for(ready, 60, "cased to listen or die")
        return self.env.daemon.poll() is None

    def attach_reader(self):
        """A connection that keeps the -shm mapped (and the wal-index alive) across a crash."""
        self.reader = sqlite3.connect(self.env.db, timeout=30, isolation_level=None)
        self.reader.execute("SELECT count(*) FROM cases").fetchone()

    def wait_points(self, n, what):
        """Until the daemon made n points (or died); returns whether it lives."""
        deadline = time.monotonic() + 60
        while self.trace.count() < n:
            if self.env.daemon.poll() is not None:
                return False
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.mode} run {self.at}: {self.trace.count()} points, "
                                     f"expected {n} {what}: the points are not deterministic")
            time.sleep(0.002)
        return self.env.daemon.poll() is None

    def settle(self):
        """Counting run: the point count once the daemon is quiet."""
        last, since = self.trace.count(), time.monotonic()
        while time.monotonic() - since < QUIET:
            time.sleep(0.02)
            if (n := self.trace.count()) != last:
                last, since = n, time.monotonic()
        return last

    def deliver_workload(self, settled=None, acked=None):
        """Delivers the workload in two sessions. With `settled` (crash run),
        waits after each 250 for the counting run's point count; without it
        (counting run), records that count. Returns the counts, or None when
        the daemon died."""
        counts = []
        step = 0
        for session in workload():
            try:
                c = Lmtp(port=self.env.port)
                assert c.reply()[0] == 220
                assert c.cmd("LHLO crash.example")[0] == 250
                for mid, data in session:
                    assert c.cmd("MAIL FROM:<rita@example.org>")[0] == 250
                    assert c.cmd("RCPT TO:<security@example.com>")[0] == 250
                    assert c.cmd("DATA")[0] == 354
                    c.send(data + b".\r\n")
                    code = c.reply()[0]
                    assert code == 250, (mid, code)
                    if acked is not None:
                        acked.add(mid)
                    if settled is None:
                        counts.append(self.settle())
                    elif not self.wait_points(settled[step], f"after message {step}"):
                        return None
                    step += 1
                c.cmd("QUIT")
                c.close()
            except (ConnectionError, OSError):
                try:
                    self.env.daemon.wait(timeout=30)  # died at its point: the socket closed first
                except subprocess.TimeoutExpired:
                    raise AssertionError("the connection closed but cased lives") from None
                return None
        return counts

    def cleanup(self):
        if self.reader:
            self.reader.close()
        self.env.cleanup()


def make_template():
    """A database made and migrated by cased itself, closed cleanly."""
    env = Env()
    env.start()
    env.stop()
    return env


def count_points(template, mode):
    """The counting run: (total P, points settled at start and after each
    message, the trace)."""
    run = Run(template, mode)
    try:
        run.spawn(hooked=True)
        assert run.listening_or_dead(), run.env.log()
        if mode == "process":
            run.attach_reader()
        settled = [run.settle()]
        settled += run.deliver_workload()
        run.env.stop()
        lines = run.trace.lines()
        return len(lines), settled, lines
    finally:
        run.cleanup()


def check_after_crash(db, acked):
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        rows = dict(c.execute("SELECT message_id, count(*) FROM messages GROUP BY message_id").fetchall())
        for mid in acked:
            assert rows.get(mid) == 1, f"acknowledged {mid} stored {rows.get(mid, 0)} times"
        for mid, n in rows.items():
            assert n == 1, f"{mid} stored {n} times"
        assert c.execute("SELECT count(*) FROM cases c WHERE merged_into IS NULL AND NOT EXISTS "
                         "(SELECT 1 FROM messages m WHERE m.case_id = c.id)").fetchone()[0] == 0, "a case without messages"
        assert c.execute("SELECT count(*) FROM messages WHERE case_id NOT IN (SELECT id FROM cases)").fetchone()[0] == 0
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for root, reply in (("crash0@example.org", "crash1@example.org"), ("crash3@example.org", "crash4@example.org")):
            if {root, reply} <= acked:
                cases = c.execute("SELECT count(DISTINCT case_id) FROM messages WHERE message_id IN (?, ?)",
                                  (root, reply)).fetchone()[0]
                assert cases == 1, f"{reply} left the thread of {root}"
    # The search index may lag behind the messages after a crash (it follows
    # the commits), so here only its own structure is checked (rank 0).
    with sqlite3.connect(db, timeout=30) as c:
        c.execute("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 0)")


def check_complete(db):
    with sqlite3.connect(db, timeout=30) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        c.execute("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 1)")
        rows = dict(c.execute("SELECT message_id, count(*) FROM messages GROUP BY message_id").fetchall())
        assert rows == {mid: 1 for mid in WORDS}, rows
        assert c.execute("SELECT count(*) FROM messages WHERE case_id NOT IN (SELECT id FROM cases)").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM cases c WHERE merged_into IS NULL AND NOT EXISTS "
                         "(SELECT 1 FROM messages m WHERE m.case_id = c.id)").fetchone()[0] == 0
        assert c.execute("SELECT indexed_upto FROM search_progress").fetchone()[0] == \
            c.execute("SELECT max(id) FROM messages").fetchone()[0]
        for mid, word in WORDS.items():
            found = c.execute("SELECT m.message_id FROM message_index JOIN messages m ON m.id = message_index.rowid "
                              "WHERE message_index MATCH ?", (word,)).fetchall()
            assert found == [(mid,)], (word, found)


def crash_at(template, mode, n, settled):
    """One point: returns the marker line ("n kind path mode")."""
    run = Run(template, mode, at=n)
    acked = set()
    try:
        run.spawn(hooked=True)
        alive = run.listening_or_dead()
        if alive and mode == "process":
            run.attach_reader()
        if alive and run.wait_points(settled[0], "at start"):
            if run.deliver_workload(settled[1:], acked) is not None:
                run.env.daemon.send_signal(signal.SIGTERM)
        rc = run.env.daemon.wait(timeout=60)
        run.env.daemon = None
        try:
            with open(run.marker) as f:
                mark = f.read().strip()
        except FileNotFoundError:
            mark = ""
        assert rc == -signal.SIGKILL and mark.startswith(f"{n} "), \
            f"{mode} point {n} was not reached (exit {rc}, marker {mark!r}): {run.env.log()[-2000:]}"
        run.spawn(hooked=False)
        assert run.listening_or_dead(), f"{mode} point {n} ({mark}): cased does not start again: {run.env.log()[-2000:]}"
        check_after_crash(run.env.db, acked)
        for session in workload():
            for mid, data in session:
                assert deliver(port=run.env.port, msgid=mid, data=data) == [250], (mode, n, mid)
        if run.reader:
            run.reader.close()
            run.reader = None
        run.env.stop()
        check_complete(run.env.db)
        return mark
    except AssertionError as e:
        raise AssertionError(f"{mode} point {n}: {e}") from None
    finally:
        run.cleanup()


def distinct_points(kinds):
    """The points whose crash leaves distinct files: every point but a
    buffered write (nothing reaches a file from one point to the next
    unless the next is a write, flush, truncate, delete or sync, so a crash
    at a buffered write leaves what a crash at the next other point leaves),
    and the first buffered write after each other point, to crash there too."""
    picked = []
    for n, kind in enumerate(kinds, start=1):
        if kind != "buffer" or n == 1 or kinds[n - 2] != "buffer":
            picked.append(n)
    return picked


def crash_everywhere(mode):
    template_env = make_template()
    try:
        template = template_env.db
        total, settled, lines = count_points(template, mode)
        kinds = [l.split(" ")[1] for l in lines]
        # Each new message is a durable commit: at least a write and a sync
        # of the WAL; a checkpoint writes and syncs the database too.
        assert total >= 2 * NEW_MESSAGES + 2, (total, lines)
        assert {"buffer", "flush", "sync"} <= set(kinds), set(kinds)
        in_workload = lines[:settled[-1]]
        assert any(l.split(" ")[2].endswith("/cases.db") and l.split(" ")[1] in ("flush", "write") for l in in_workload), \
            "no checkpoint inside the workload"
        # Each new message is its own durable commit: its frames reach the WAL
        # (the large one in two runs at least) and the WAL is synced.
        wal = [l.split(" ")[1] for l in in_workload if l.split(" ")[2].endswith("/cases.db-wal")]
        assert wal.count("sync") >= NEW_MESSAGES, wal.count("sync")
        assert wal.count("flush") + wal.count("write") >= NEW_MESSAGES + 1, wal
        # CASED_CRASH_ALL=1: every buffered write too (docs/benchmarks.md).
        every = os.environ.get("CASED_CRASH_ALL") == "1"
        points = list(range(1, total + 1)) if every else distinct_points(kinds)
        which = "all" if every else "every one but buffered writes between two others"
        assert set(points) >= {n for n, k in enumerate(kinds, start=1) if k != "buffer"}
        if SANITIZER and mode != "process":
            # cased's recovery runs the same code after either loss; the
            # release build stops at every point, the sanitizers watch a half
            # (power) and a third (torn, other points) of them.
            points = points[::2] if mode == "power" else points[1::3]
            which = ("a half" if mode == "power" else "a third") + " of " + which
        stopped = {}
        lock = threading.Lock()
        start = time.monotonic()

        def one(n):
            mark = crash_at(template, mode, n, settled)
            with lock:
                stopped[n] = mark

        pool = ThreadPoolExecutor(max_workers=2)
        try:
            for done in as_completed([pool.submit(one, n) for n in points]):
                done.result()  # the first failure ends the test
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        assert sorted(stopped) == points, (len(stopped), len(points))
        undid = sum(1 for mark in stopped.values() if int(mark.split(" ")[4]) > 0)
        if mode != "process":
            # Otherwise the power loss lost nothing and proved nothing.
            assert undid >= len(points) // 2, (undid, len(points))
        for n, mark in stopped.items():
            assert mark.split(" ")[1] == lines[n - 1].split(" ")[1], (n, mark, lines[n - 1])
        by_kind = {}
        for k in kinds:
            by_kind[k] = by_kind.get(k, 0) + 1
        print(f"{mode}: {total} points {by_kind}; stopped at {len(stopped)} ({which}), "
              f"{undid} losing unsynced writes, in {time.monotonic() - start:.0f}s")
    finally:
        template_env.cleanup()


def test_process_crash_at_every_point():
    crash_everywhere("process")


def test_power_loss_at_every_point():
    crash_everywhere("power")


def test_torn_power_loss_at_every_point():
    crash_everywhere("torn")


if __name__ == "__main__":
    if not need_test_hooks("the crash points"):
        raise SystemExit(SKIP)
    run_tests(globals())
