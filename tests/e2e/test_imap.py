"""IMAP polling against a real Dovecot (Debian dovecot-imapd) that the test
starts on a loopback port from a temp directory, with a passwd-file user and
a certificate from a test CA."""

import os
import pwd
import random
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

from certs import CA
from harness import Env, free_port, run_tests, wait_for
from lmtp_client import message

DOVECOT = "/usr/sbin/dovecot"


class Dovecot:
    def __init__(self, root, cert, key, starttls=False):
        self.root = root
        self.port = free_port()
        self.maildir = os.path.join(root, "mail", "security", "Maildir")
        for d in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(self.maildir, d), exist_ok=True)
        # The mail user must not be root; dovecot's own system user will do.
        pw = pwd.getpwnam("dovecot")
        uid, gid = pw.pw_uid, pw.pw_gid
        self.uid, self.gid = uid, gid
        subprocess.run(["chown", "-R", f"{uid}:{gid}", os.path.join(root, "mail")], check=True)
        with open(os.path.join(root, "passwd"), "w") as f:
            f.write(f"security:{{PLAIN}}imap-secret:{uid}:{gid}::{root}/mail/security\n")
        self.conf = os.path.join(root, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 0
mail_location = maildir:~/Maildir
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port if starttls else 0}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {0 if starttls else self.port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
mailbox_idle_check_interval = 1 secs
""")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False
        wait_for(up, 20, "dovecot to listen")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def drop(self, name, data):
        """Delivers a message into INBOX the way an MTA writes a Maildir."""
        tmp = os.path.join(self.maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, os.path.join(self.maildir, "new", name))

    def count(self, folder=""):
        base = os.path.join(self.maildir, folder) if folder else self.maildir
        total = 0
        for d in ("new", "cur"):
            p = os.path.join(base, d)
            if os.path.isdir(p):
                total += len(os.listdir(p))
        return total


class World:
    def __init__(self, trusted=True, idle=True, security="tls", lmtp_extra=""):
        self.tmp = tempfile.mkdtemp(prefix="cased-imap-")
        os.chmod(self.tmp, 0o755)  # dovecot's login processes run unprivileged
        self.ca = CA(os.path.join(self.tmp, "ca"))
        signer = self.ca if trusted else CA(os.path.join(self.tmp, "other"), "other CA")
        cert, key = signer.server("imap")
        self.dovecot = Dovecot(self.tmp, cert, key, starttls=security == "starttls")
        pw = os.path.join(self.tmp, "imap.pass")
        with open(pw, "w") as f:
            f.write("imap-secret\n")
        self.env = Env(listen=[], extra_config=lmtp_extra + (
            f'[imap]\nhost = "127.0.0.1"\nport = {self.dovecot.port}\nsecurity = "{security}"\nuser = "security"\n'
            f'password_file = "{pw}"\nmailbox = "INBOX"\ndone_mailbox = "Processed"\nidle = {"true" if idle else "false"}\n'
            f'poll_seconds = 1\nca_file = "{self.ca.cert}"\n'))

    def wait(self, fn, timeout, what):
        """wait_for that, on timeout, shows what cased and Dovecot said."""
        try:
            wait_for(fn, timeout, what)
        except AssertionError as e:
            try:
                with open(os.path.join(self.dovecot.root, "dovecot.log"), errors="replace") as f:
                    dovecot_log = f.read()[-2000:]
            except OSError:
                dovecot_log = "(none)"
            raise AssertionError(f"{e}\n--- cased log (end) ---\n{self.env.log()[-3000:]}"
                                 f"\n--- dovecot log (end) ---\n{dovecot_log}") from None

    def stored(self):
        if not os.path.exists(self.env.db):
            return 0
        with sqlite3.connect(self.env.db) as db:
            try:
                return db.execute("SELECT count(*) FROM messages").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    def close(self):
        self.env.cleanup()
        self.dovecot.stop()
        subprocess.run(["rm", "-rf", self.tmp])


def test_existing_and_idle_messages_are_ingested_and_moved():
    w = World()
    try:
        for i in range(5):
            w.dovecot.drop(f"pre{i}", message(f"pre{i}@example.org", subject=f"imap report {i}"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        # Normally 2-3 s; 60 s leaves room for reconnects with back-off (1, 2, 4 ... s)
        # under a loaded ASan run, and a timeout prints both logs to say why.
        w.wait(lambda: w.stored() == 5, 60, "5 messages stored")
        w.wait(lambda: w.dovecot.count(".Processed") == 5 and w.dovecot.count() == 0, 30, "moved to Processed")
        t0 = time.monotonic()
        w.dovecot.drop("live", message("live@example.org", subject="arrives while running"))
        w.wait(lambda: w.stored() == 6, 20, "the live message via IDLE")
        print(f"IDLE delivery took {time.monotonic() - t0:.1f}s")
        assert len(w.env.json("list")) == 6

        def state():
            with sqlite3.connect(w.env.db, timeout=30) as db:
                return db.execute("SELECT uidvalidity, last_uid FROM imap_state").fetchone()

        # The state is recorded after the pass that stored and moved the
        # message: wait for it rather than race it.
        w.wait(lambda: (state() or (0, 0))[1] == 6, 20, "the IMAP state after the live message")
        w.env.stop()
        with sqlite3.connect(w.env.db) as db:
            validity, last_uid = db.execute("SELECT uidvalidity, last_uid FROM imap_state").fetchone()
        assert validity > 0 and last_uid == 6, (validity, last_uid)
        log = w.env.log()
        assert "imap: connected" in log and "imap report" not in log
    finally:
        w.close()


def test_restart_and_uidvalidity_change_lose_and_double_nothing():
    w = World(idle=False)
    try:
        for i in range(3):
            w.dovecot.drop(f"a{i}", message(f"a{i}@example.org", subject=f"first batch {i}"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        w.wait(lambda: w.stored() == 3, 30, "first batch")
        w.env.stop()
        # Recreate the mailbox (new UIDVALIDITY) with one old and one new message.
        w.dovecot.stop()
        for d in ("new", "cur"):
            for n in os.listdir(os.path.join(w.dovecot.maildir, d)):
                os.remove(os.path.join(w.dovecot.maildir, d, n))
        # Every index, list index and uidvalidity file: Dovecot then picks a
        # new UIDVALIDITY from the clock, so let a second pass first.
        for n in os.listdir(w.dovecot.maildir):
            if n.startswith("dovecot"):
                os.remove(os.path.join(w.dovecot.maildir, n))
        time.sleep(1.1)
        w.dovecot.drop("again", message("a0@example.org", subject="first batch 0"))
        w.dovecot.drop("b0", message("b0@example.org", subject="second batch"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        w.wait(lambda: w.stored() == 4, 30, "the new message, and the old one recognised")
        w.wait(lambda: w.dovecot.count() == 0, 30, "INBOX emptied")
        w.env.stop()
        assert "UIDVALIDITY" in w.env.log()
        with sqlite3.connect(w.env.db) as db:
            assert db.execute("SELECT count(DISTINCT message_id) FROM messages").fetchone()[0] == 4
    finally:
        w.close()


def test_two_thousand_messages_with_bounded_memory():
    w = World()
    try:
        for i in range(2000):
            w.dovecot.drop(f"bulk{i:04d}", message(f"bulk{i}@example.org", subject=f"bulk {i // 10}",
                                                   body=("x" * 70 + "\r\n") * 50))
        w.dovecot.start()
        t0 = time.monotonic()
        w.env.start(wait_port=False)
        w.wait(lambda: w.stored() == 2000, 600, "2000 messages")
        elapsed = time.monotonic() - t0
        with open(f"/proc/{w.env.daemon.pid}/status") as f:
            peak_kb = int(next(l for l in f if l.startswith("VmHWM")).split()[1])
        print(f"2000 messages in {elapsed:.1f}s, cased peak RSS {peak_kb // 1024} MB")
        w.wait(lambda: w.dovecot.count() == 0, 60, "INBOX emptied")
        w.env.stop()
        assert "imap: 100 of 2000" in w.env.log()  # progress in the log
        # About 20 MB when built optimised; AddressSanitizer's quarantine and
        # shadow memory make the sanitizer build's figure meaningless.
        bound_mb = 1024 if os.environ.get("CASED_UNDER_SANITIZER") else 64
        assert peak_kb < bound_mb * 1024, peak_kb
    finally:
        w.close()


def test_untrusted_certificate_is_refused():
    w = World(trusted=False)
    try:
        w.dovecot.drop("x", message("x@example.org"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        wait_for(lambda: "certificate verification failed" in w.env.log(), 20, "a clear log line")
        assert w.stored() == 0 and w.dovecot.count() == 1
    finally:
        w.close()


def test_kill_between_commit_and_move_neither_loses_nor_doubles():
    """The move to Processed is refused (a read-only folder), so the message is
    committed but stays in INBOX: exactly the state a kill between commit and
    move leaves. cased is killed there and restarted with the folder fixed."""
    w = World(idle=False)
    try:
        done = os.path.join(w.dovecot.maildir, ".Processed")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(done, d))
        subprocess.run(["chown", "-R", "root:root", done], check=True)
        subprocess.run(["chmod", "-R", "0555", done], check=True)
        w.dovecot.drop("k0", message("k0@example.org", subject="committed not moved"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        w.wait(lambda: w.stored() == 1, 30, "the message committed")
        wait_for(lambda: "UID MOVE failed" in w.env.log() or "UID COPY failed" in w.env.log(), 30, "the move refused")
        assert w.dovecot.count() == 1
        w.env.daemon.send_signal(signal.SIGKILL)
        w.env.daemon.wait()
        subprocess.run(["chown", "-R", f"{w.dovecot.uid}:{w.dovecot.gid}", done], check=True)
        subprocess.run(["chmod", "-R", "0700", done], check=True)
        w.env.start(wait_port=False)
        w.wait(lambda: w.dovecot.count() == 0 and w.dovecot.count(".Processed") == 1, 30, "moved after restart")
        w.env.stop()
        with sqlite3.connect(w.env.db) as db:
            assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
            assert db.execute("SELECT count(*) FROM cases").fetchone()[0] == 1
    finally:
        w.close()


def test_random_kills_during_a_batch_neither_lose_nor_double():
    w = World(idle=False)
    total = 300
    try:
        for i in range(total):
            w.dovecot.drop(f"r{i:03d}", message(f"r{i}@example.org", subject=f"batch {i // 3}"))
        w.dovecot.start()
        rng = random.Random(7)
        for _ in range(4):
            w.env.start(wait_port=False)
            before = w.stored()
            # Kill once it has made some progress, at a random point after that.
            w.wait(lambda: w.stored() > before or w.dovecot.count() == 0, 60, "progress")
            time.sleep(rng.uniform(0.0, 0.4))
            w.env.daemon.send_signal(signal.SIGKILL)
            w.env.daemon.wait()
        w.env.start(wait_port=False)
        w.wait(lambda: w.dovecot.count() == 0, 120, "INBOX emptied")
        w.env.stop()
        assert w.dovecot.count(".Processed") == total
        with sqlite3.connect(w.env.db) as db:
            assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == total
            assert db.execute("SELECT count(DISTINCT message_id) FROM messages").fetchone()[0] == total
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        w.close()


def test_starttls_on_the_plain_port():
    """Port 143 with STARTTLS (Dovecot's ssl = required refuses LOGIN before it)."""
    w = World(security="starttls")
    try:
        w.dovecot.drop("s0", message("s0@example.org", subject="over starttls"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        w.wait(lambda: w.stored() == 1 and w.dovecot.count() == 0, 30, "stored and moved")
        w.env.stop()
        assert "(starttls)" in w.env.log()
    finally:
        w.close()


def test_starttls_with_an_untrusted_certificate_is_refused():
    w = World(security="starttls", trusted=False)
    try:
        w.dovecot.drop("s1", message("s1@example.org"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        wait_for(lambda: "certificate verification failed" in w.env.log(), 20, "a clear log line")
        assert w.stored() == 0 and w.dovecot.count() == 1
    finally:
        w.close()


def test_a_message_the_server_cannot_deliver_does_not_stop_the_others():
    """One message file is unreadable to Dovecot, so its FETCH fails; the
    messages after it are still stored and moved, and it stays in INBOX."""
    w = World(idle=False)
    try:
        for i in range(3):
            w.dovecot.drop(f"b{i}", message(f"b{i}@example.org", subject=f"batch {i}"))
        bad = os.path.join(w.dovecot.maildir, "new", "b1")
        subprocess.run(["chown", "root:root", bad], check=True)
        os.chmod(bad, 0o000)
        w.dovecot.start()
        w.env.start(wait_port=False)
        w.wait(lambda: w.stored() == 2 and w.dovecot.count(".Processed") == 2, 30, "the two good ones")
        time.sleep(2)  # a few more passes: still no progress on the bad one, and no crash
        assert w.env.daemon.poll() is None
        w.env.stop()
        assert w.dovecot.count() == 1
        assert "uid 2" in w.env.log() and "not fetched" in w.env.log()
    finally:
        w.close()


def test_messages_arriving_throughout_a_pass_are_all_picked_up_under_idle():
    """Messages land while the poller fetches, moves and enters IDLE, at
    random moments. One that the server announces in the reply to some other
    command, or together with IDLE's continuation, is not announced again:
    each must still be picked up at once, not after IDLE's 25 minutes."""
    w = World()
    try:
        w.dovecot.start()
        w.env.start(wait_port=False)
        wait_for(lambda: "imap: connected" in w.env.log(), 30, "the poller connected")
        rng = random.Random(2033)
        total = 60
        for i in range(total):
            w.dovecot.drop(f"r{i}", message(f"r{i}@example.org", subject=f"race {i}"))
            time.sleep(rng.uniform(0, 0.15))
        w.wait(lambda: w.stored() == total, 20, f"all {total} messages under IDLE")
        w.wait(lambda: w.dovecot.count() == 0 and w.dovecot.count(".Processed") == total, 20, "all moved")
        assert w.env.daemon.poll() is None
    finally:
        w.close()


def test_a_message_over_max_message_size_is_left_and_flagged():
    """RFC822.SIZE first: over lmtp.max_message_size it is never fetched nor
    stored, gets \\Flagged (and a keyword), and is logged once."""
    w = World(idle=False, lmtp_extra="max_message_size = 1024\n")
    try:
        w.dovecot.drop("big", message("big@example.org", subject="too big", body=("y" * 70 + "\r\n") * 3000))
        w.dovecot.drop("small", message("small@example.org", subject="fits"))
        w.dovecot.start()
        w.env.start(wait_port=False)
        w.wait(lambda: w.stored() == 1 and w.dovecot.count(".Processed") == 1, 30, "the small one")
        time.sleep(3)  # a few more passes
        w.env.stop()
        assert w.stored() == 1 and w.dovecot.count() == 1
        names = os.listdir(os.path.join(w.dovecot.maildir, "cur"))
        assert len(names) == 1 and "F" in names[0].split(":2,")[1], names
        assert w.env.log().count("over max_message_size") == 1, w.env.log()[-2000:]
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
