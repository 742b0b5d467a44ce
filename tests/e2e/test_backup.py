"""Backup and restore, following docs/operator.md "Backup and restore" step
by step: `casectl backup` under LMTP load, `casectl verify` on the copy,
restore onto a fresh directory, start cased on it, verify again, and every
message acknowledged before the backup started is there. Also: the copy is
0600, an existing file is never overwritten without --force, verify names
what is broken (a damaged page, rows missing from the search index, an
orphan row), and the nightly units in contrib/ pass `systemd-analyze
verify` and do what they say."""

import datetime
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time

from harness import CASECTL, Env, run_tests, wait_for
from lmtp_client import deliver, message

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONTRIB = os.path.join(ROOT, "contrib")
SESSIONS = 4
BODY = "the widget overflows when the header is long\r\n" * 200  # ~9 KB


class Load:
    """SESSIONS threads delivering over LMTP until stopped; records each 250."""

    def __init__(self, env):
        self.env = env
        self.acked = {}  # msgid -> raw bytes
        self.other_replies = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.sender, args=(w,)) for w in range(SESSIONS)]

    def sender(self, worker):
        i = 0
        while not self.stop.is_set():
            msgid = f"load{worker}-{i}@example.org"
            root = f"load{worker}-{i - i % 4}@example.org"
            extra = f"References: <{root}>\r\n" if i % 4 else ""
            data = message(msgid, subject=f"report {worker}-{i // 4}", body=BODY, extra=extra)
            codes = deliver(port=self.env.port, msgid=msgid, data=data)
            with self.lock:
                if codes == [250]:
                    self.acked[msgid] = data
                    i += 1
                else:
                    self.other_replies.append(codes)

    def count(self):
        with self.lock:
            return len(self.acked)

    def snapshot(self):
        with self.lock:
            return dict(self.acked)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)


def stored_ids(db_path):
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT message_id, count(*) FROM messages GROUP BY message_id").fetchall())


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_restore_drill_under_load():
    env = Env()
    restored = Env()
    backups = tempfile.mkdtemp(prefix="cased-backups-")
    os.chmod(backups, 0o700)
    copy = os.path.join(backups, "cases-2026-11-30.db")
    try:
        env.start()
        with Load(env) as load:
            wait_for(lambda: load.count() >= 120, 120, "120 deliveries before the backup")
            # Nightly backup, while the senders keep delivering.
            before = load.snapshot()
            p = env.casectl("--json", "backup", copy)
            summary = json.loads(p.stdout)
            at_end = load.count()
            # verify on the live database, mid-delivery: messages not yet
            # indexed are no problem, and deliveries go on.
            p = env.casectl("verify")
            assert p.stdout.decode().startswith("ok"), p.stdout
            wait_for(lambda: load.count() >= at_end + 40, 120, "deliveries to go on after the backup")
        after = load.snapshot()
        assert not load.other_replies, f"deliveries not acknowledged during the backup: {load.other_replies[:5]}"
        assert summary["path"] == copy, summary
        assert summary["bytes"] == os.path.getsize(copy), summary
        assert summary["messages"] >= len(before), (summary, len(before))
        assert summary["schema_version"] > 0 and summary["cases"] > 0, summary
        assert mode_of(copy) == 0o600, oct(mode_of(copy))
        assert sorted(os.listdir(backups)) == ["cases-2026-11-30.db"], os.listdir(backups)  # no -wal, no temp file
        env.stop()

        # 1. Verify the copy.
        p = env.casectl("verify", "--database", copy)
        assert p.stdout.decode().startswith("ok"), p.stdout

        # 3.-4. A fresh directory (0700), the copy in place as the database, mode 0600.
        assert mode_of(restored.dir) == 0o700
        subprocess.run(["install", "-m", "0600", copy, restored.db], check=True)
        # 5. Start cased on it; 6. verify and look.
        restored.start()
        p = restored.casectl("verify")
        assert p.stdout.decode().startswith("ok"), p.stdout
        listed = restored.json("list")
        assert len(listed) > 0
        ids = stored_ids(restored.db)
        missing = [m for m in before if ids.get(m) != 1]
        assert not missing, f"{len(missing)} messages acknowledged before the backup are missing: {missing[:5]}"
        assert mode_of(restored.db) == 0o600

        # What arrived after the backup comes back from the second copy
        # (the mailbox): an mbox import stores it, and what the copy holds once.
        late = [m for m in after if ids.get(m) is None]
        assert late, "no message arrived after the backup: the test proved little"
        mbox = b"".join(b"From rita@example.org Mon Nov 30 02:30:00 2026\n" +
                        after[m].encode().replace(b"\r\n", b"\n") + b"\n" for m in sorted(after))
        result = restored.json("ingest", "--mbox", "-", input=mbox)
        assert result["failed"] == 0 and result["stored"] == len(after), result
        assert result["duplicates"] == len(after) - len(late), (result, len(late))
        restored.stop()
        ids = stored_ids(restored.db)
        assert all(ids.get(m) == 1 for m in after), "after the import every acknowledged message is stored once"
        p = restored.casectl("verify")
        assert p.returncode == 0, p.stdout
        print(f"{len(before)} acknowledged before the backup, {len(late)} after it; "
              f"copy {summary['bytes']} bytes, {summary['messages']} messages")
    finally:
        env.cleanup()
        restored.cleanup()
        shutil.rmtree(backups, ignore_errors=True)


def small_db_with_copy(env, n=12):
    env.start()
    for i in range(n):
        root = f"s{i - i % 3}@example.org"
        extra = f"References: <{root}>\r\n" if i % 3 else ""
        assert deliver(port=env.port, msgid=f"s{i}@example.org",
                       data=message(f"s{i}@example.org", subject=f"small {i // 3}", extra=extra)) == [250]
    env.casectl("comment", "1", "-m", "reproduced")
    env.stop()
    copy = os.path.join(env.dir, "copy.db")
    env.casectl("backup", copy)
    return copy


def test_backup_never_overwrites_without_force():
    env = Env()
    try:
        copy = small_db_with_copy(env)
        with open(copy, "rb") as f:
            first = f.read()
        other = os.path.join(env.dir, "precious")
        with open(other, "wb") as f:
            f.write(b"not a database")
        p = env.casectl("backup", other, check=False)
        assert p.returncode == 4, (p.returncode, p.stderr)
        assert b"exists" in p.stderr and b"--force" in p.stderr, p.stderr
        with open(other, "rb") as f:
            assert f.read() == b"not a database"
        p = env.casectl("backup", "--force", other)
        assert mode_of(other) == 0o600
        assert env.casectl("verify", "--database", other).returncode == 0
        with open(copy, "rb") as f:
            assert f.read() == first
        # A directory that does not exist: an error, and nothing created.
        p = env.casectl("backup", os.path.join(env.dir, "no", "such.db"), check=False)
        assert p.returncode == 1, p
        assert not os.path.exists(os.path.join(env.dir, "no"))
    finally:
        env.cleanup()


def damaged(copy, name):
    path = os.path.join(os.path.dirname(copy), name)
    shutil.copy(copy, path)
    return path


def verify_lines(env, path):
    p = env.casectl("verify", "--database", path, check=False)
    j = env.casectl("--json", "verify", "--database", path, check=False)
    report = json.loads(j.stdout)
    assert j.returncode == p.returncode
    return p.returncode, p.stdout.decode(), report


def test_verify_names_what_is_broken():
    env = Env()
    try:
        copy = small_db_with_copy(env)
        rc, out, report = verify_lines(env, copy)
        assert rc == 0 and out.startswith("ok"), out
        assert report["ok"] is True and report["problems"] == [], report

        # A page overwritten: the table's root page, 0x5a throughout.
        page_hit = damaged(copy, "page.db")
        with sqlite3.connect(page_hit) as db:
            root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'messages'").fetchone()[0]
            size = db.execute("PRAGMA page_size").fetchone()[0]
        with open(page_hit, "r+b") as f:
            f.seek((root - 1) * size)
            f.write(b"\x5a" * size)
        rc, out, report = verify_lines(env, page_hit)
        assert rc == 1, out
        assert re.search(r"^integrity: ", out, re.M), out
        assert any(p["check"] == "integrity" for p in report["problems"]), report

        # Rows removed from the search index.
        fts = damaged(copy, "fts.db")
        with sqlite3.connect(fts) as db:
            db.execute("DELETE FROM message_index WHERE rowid IN (2, 5)")
        rc, out, report = verify_lines(env, fts)
        assert rc == 1, out
        assert re.search(r"^message index: .*message_index\): 2, 5$", out, re.M), out
        assert re.search(r"^search index: message_index: ", out, re.M), out

        # An orphan row: an attachment whose message does not exist.
        orphan = damaged(copy, "orphan.db")
        with sqlite3.connect(orphan) as db:
            db.execute("INSERT INTO attachments(message, filename, content_type, size, sha256) "
                       "VALUES (4242, 'x.txt', 'text/plain', 1, 'ab')")
        rc, out, report = verify_lines(env, orphan)
        assert rc == 1, out
        assert re.search(r"^attachment: attachments whose message does not exist: \d+$", out, re.M), out
        assert {"check": "foreign keys"}.items() <= next(p for p in report["problems"] if p["check"] == "foreign keys").items()

        # verify is read-only: the clean copy is byte for byte what it was,
        # and a missing file is an error that creates nothing.
        with open(copy, "rb") as f:
            before = f.read()
        assert verify_lines(env, copy)[0] == 0
        with open(copy, "rb") as f:
            assert f.read() == before
        assert not [n for n in os.listdir(env.dir) if n.startswith("copy.db-")], os.listdir(env.dir)
        p = env.casectl("verify", "--database", os.path.join(env.dir, "none.db"), check=False)
        assert p.returncode == 1 and not os.path.exists(os.path.join(env.dir, "none.db")), p
    finally:
        env.cleanup()


def unit_script(text):
    """The shell script of the service's ExecStart, as systemd hands it to sh."""
    joined = re.sub(r"\\\n", "", text)
    line = next(l for l in joined.splitlines() if l.startswith("ExecStart="))
    m = re.fullmatch(r"ExecStart=/bin/sh -euc '(.*)'", line)
    assert m, line
    return m.group(1).replace("$$", "$").replace("%%", "%")


def test_nightly_units():
    with open(os.path.join(CONTRIB, "cased-backup.timer")) as f:
        timer = f.read()
    with open(os.path.join(CONTRIB, "cased-backup.service")) as f:
        service = f.read()
    assert re.search(r"^Persistent=true$", timer, re.M), timer
    assert re.search(r"^OnCalendar=\*-\*-\* ", timer, re.M), timer
    assert re.search(r"^User=cased$", service, re.M), service
    assert re.search(r"^Environment=KEEP_DAYS=\d+$", service, re.M), service

    # The script itself: today's copy made and verified, copies older than
    # KEEP_DAYS removed by their date-stamped names, others kept.
    env = Env()
    try:
        small_db_with_copy(env)
        backups = os.path.join(env.dir, "backups")
        os.mkdir(backups, 0o700)
        today = datetime.datetime.now(datetime.timezone.utc).date()
        old = backups + f"/cases-{today - datetime.timedelta(days=30)}.db"
        recent = backups + f"/cases-{today - datetime.timedelta(days=1)}.db"
        unrelated = backups + "/notes.txt"
        for path in (old, recent, unrelated):
            with open(path, "w") as f:
                f.write("x")
        script = (unit_script(service).replace("/var/backups/cased", backups)
                  .replace("/usr/local/bin/casectl", os.path.abspath(CASECTL))
                  .replace("/etc/cased/cased.toml", env.config))
        p = subprocess.run(["/bin/sh", "-euc", script], env=dict(os.environ, KEEP_DAYS="14"),
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p
        made = backups + f"/cases-{today}.db"
        assert os.path.exists(made) and mode_of(made) == 0o600
        assert not os.path.exists(old) and os.path.exists(recent) and os.path.exists(unrelated)
        assert b"ok" in p.stdout, p.stdout
        # A second run the same day replaces that day's copy.
        p = subprocess.run(["/bin/sh", "-euc", script], env=dict(os.environ, KEEP_DAYS="14"),
                           capture_output=True, timeout=120)
        assert p.returncode == 0, p
    finally:
        env.cleanup()

    if not shutil.which("systemd-analyze"):
        print("NOT CHECKED: systemd-analyze is missing, so `systemd-analyze verify` did not run on "
              "contrib/cased-backup.service and contrib/cased-backup.timer")
        return
    tmp = tempfile.mkdtemp(prefix="cased-units-")
    try:
        for unit in ("cased-backup.service", "cased-backup.timer"):
            shutil.copy(os.path.join(CONTRIB, unit), tmp)
        man = os.environ.get("CASED_MAN_DIR")
        env = dict(os.environ, SYSTEMD_LOG_COLOR="0")
        if man and os.path.isfile(os.path.join(man, "casectl.1")):
            os.makedirs(os.path.join(tmp, "man", "man1"))
            shutil.copy(os.path.join(man, "casectl.1"), os.path.join(tmp, "man", "man1"))
            env["MANPATH"] = os.path.join(tmp, "man")
        p = subprocess.run(["systemd-analyze", "verify", "cased-backup.service", "cased-backup.timer"],
                           cwd=tmp, capture_output=True, env=env, timeout=120)
        out = (p.stdout + p.stderr).decode(errors="replace")
        assert p.returncode == 0, out
        ours = [l for l in out.splitlines() if "cased-backup" in l or tmp in l]
        assert not ours, out
        print("systemd-analyze verify: cased-backup.service and cased-backup.timer pass")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())
