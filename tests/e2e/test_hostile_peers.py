"""Servers are not trusted either: an IMAP server that refuses, floods or
lacks MOVE/UIDPLUS, and an SMTP server that never ends its reply. cased and
casectl stay up, bounded in memory and time, and remove nothing they did
not store."""

import os
import sqlite3
import subprocess
import time

from harness import CASECTL, SANITIZER, Env, run_tests, wait_for
from hostile_servers import ImapServer, SmtpFlood
from lmtp_client import message

# Peak RSS allowed while flooded; a sanitizer build's shadow memory and
# quarantine make its figure meaningless, so it only gets a looser bound.
RSS_BOUND_MB = 1024 if SANITIZER else 200


def rss_kb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(next(l for l in f if l.startswith(field)).split()[1])
    except (OSError, StopIteration):
        return 0


class World:
    def __init__(self, server, extra=""):
        self.imap = server
        pw = "/dev/null"
        self.env = Env(extra_config=(
            f'[imap]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\nuser = "security"\n'
            f'password_file = "{pw}"\nmailbox = "INBOX"\ndone_mailbox = "Processed"\nidle = false\n'
            f'poll_seconds = 1\n'), listen=None)
        if extra:
            with open(self.env.config) as f:
                text = f.read()
            with open(self.env.config, "w") as f:
                f.write(text.replace("[lmtp]\n", "[lmtp]\n" + extra))

    def start(self):
        self.imap.start()
        self.env.start()

    def stored(self):
        if not os.path.exists(self.env.db):
            return 0
        with sqlite3.connect(self.env.db) as db:
            try:
                return db.execute("SELECT count(*) FROM messages").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    def alive(self):
        return self.env.daemon is not None and self.env.daemon.poll() is None

    def wait(self, fn, timeout, what):
        try:
            wait_for(lambda: fn() or not self.alive(), timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- cased log ---\n{self.env.log()[-3000:]}") from None
        assert self.alive(), f"cased died ({self.env.daemon.poll()}) while waiting for {what}:\n{self.env.log()[-3000:]}"

    def close(self):
        self.env.cleanup()
        self.imap.stop()


def msgs(*ids, size=0):
    out = []
    for i, name in enumerate(ids):
        body = "x" * 70 + "\r\n"
        raw = message(f"{name}@example.org", subject=f"report {name}", body=body * max(1, size // 72))
        out.append((i + 1, raw.encode() if isinstance(raw, str) else raw))
    return out


def test_a_no_to_a_body_fetch_neither_crashes_nor_stops_the_others():
    """Item 14: libetpan frees the fetch list on NO; owning it again was a double free.
    The server's text (with an escape sequence) reaches the log made inert."""
    w = World(ImapServer(msgs("n1", "n2", "n3"), body_no={2}, no_text="\x1b[31mno such message\x1b]0;x\x07"))
    try:
        w.start()
        w.wait(lambda: w.stored() == 2, 30, "the two readable messages")
        time.sleep(2)  # more passes over the refused one
        assert w.alive()
        log = w.env.log()
        assert "uid 2 not fetched" in log, log[-2000:]
        assert "reconnecting" not in log, log[-2000:]  # a NO to one message is not a broken session
        assert "\x1b" not in log and "^[[31mno such message" in log, log[-2000:]
    finally:
        w.close()


def test_a_no_to_the_listing_does_not_crash():
    w = World(ImapServer(msgs("l1"), list_no=True))
    try:
        w.start()
        w.wait(lambda: "FETCH (UID FLAGS) failed" in w.env.log(), 30, "the refused listing logged")
        time.sleep(2)
        assert w.alive()
        w.env.stop()
    finally:
        w.close()


def scripted_server_survived(script, close, past):
    """`past`: what cased must get past (a log line, or a reconnection)."""
    w = World(ImapServer([], script=script, close=close))
    try:
        w.start()
        w.wait(lambda: past(w), 30, "cased to get past the server's replies")
        time.sleep(0.5)
        assert w.alive()
        t0 = time.monotonic()
        w.env.stop()  # SIGTERM is heard: cased is not spinning inside libetpan
        assert time.monotonic() - t0 < 15
    finally:
        w.close()


def test_capabilities_that_do_not_parse_do_not_crash():
    """Found by fuzzing (tests/fuzz/corpus/imap_reply/crash-has-extension-null):
    libetpan's mailimap_has_extension dereferenced NULL after this greeting
    and LOGIN reply; cased died with SIGSEGV."""
    with open(os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus", "imap_reply",
                           "crash-has-extension-null"), "rb") as f:
        scripted_server_survived(f.read(), close=False, past=lambda w: "offers neither MOVE" in w.env.log())


def test_a_literal_cut_short_by_the_server_closing_does_not_spin():
    """libetpan read the end of the stream as an empty read forever inside a
    literal: cased spun at 100% CPU and ignored SIGTERM."""
    script = (b"* OK [CAPABILITY IMAP4rev1] ready\r\n1 OK logged in\r\n"
              b"* LIST (\\HasNoChildren) \".\" {100}\r\nshort")
    scripted_server_survived(script, close=True, past=lambda w: w.imap.connections >= 2)


def flood_bounded(server, what):
    w = World(server)
    try:
        w.start()
        pid = w.env.daemon.pid
        deadline = time.monotonic() + 30
        peak = 0
        while time.monotonic() < deadline:
            peak = max(peak, rss_kb(pid))
            assert w.alive(), f"cased died: {w.env.log()[-2000:]}"
            assert peak < RSS_BOUND_MB * 1024, f"cased grew to {peak // 1024} MB under {what}"
            if "reconnecting" in w.env.log():
                break
            time.sleep(0.05)
        log = w.env.log()
        assert "reconnecting" in log, f"no error within 30 s under {what}: {log[-2000:]}"
        hwm = rss_kb(pid, "VmHWM")
        print(f"{what}: gave up after {30 - (deadline - time.monotonic()):.1f}s, peak RSS {hwm // 1024} MB")
        assert hwm < RSS_BOUND_MB * 1024, hwm
        return log
    finally:
        w.close()


def test_an_imap_greeting_that_never_ends_is_cut_off():
    """Item 15: a greeting line without end."""
    log = flood_bounded(ImapServer([], greeting="flood-line"), "an endless greeting line")
    assert "line longer than" in log, log[-2000:]


def test_endless_imap_lines_are_cut_off():
    log = flood_bounded(ImapServer([], greeting="flood-lines"), "endless untagged lines")
    assert "exceeded" in log or "line longer than" in log, log[-2000:]


def test_an_endless_listing_under_a_huge_exists_claim_is_cut_off():
    log = flood_bounded(ImapServer([], list_flood=True), "a listing without end")
    assert "exceeded" in log, log[-2000:]


def test_a_listing_in_chunks_sees_the_last_message_of_a_large_mailbox():
    """12,000 messages already stored and flagged, one new at the end: the
    listing goes in chunks and must reach it."""
    tiny = msgs("old")[0][1]
    server = ImapServer([(i, tiny) for i in range(1, 12001)] + [(12001, msgs("new")[0][1])])
    for m in server.messages[:-1]:
        m[2].add("$CasedStored")
    w = World(server)
    try:
        w.start()
        w.wait(lambda: w.stored() == 1, 30, "the one new message")
        assert server.body_fetches(12001) == 1
        listings = [c for c in server.commands if c.split(" ")[1:2] == ["FETCH"]]
        assert len(listings) >= 3 and "1:5000" in listings[0], listings
    finally:
        w.close()


def test_an_oversize_message_is_neither_fetched_nor_looped_on():
    """Item 16: RFC822.SIZE first; over max_message_size: flagged, logged once, left."""
    big = msgs("big", size=200 * 1024)[0][1]
    small = msgs("small")[0][1]
    server = ImapServer([(1, big), (2, small)])
    w = World(server, extra="max_message_size = 1024\n")
    try:
        w.start()
        w.wait(lambda: w.stored() >= 1, 30, "the small message")
        time.sleep(3)  # several passes
        assert w.stored() == 1
        assert server.body_fetches(1) == 0, server.commands
        assert "$CasedTooLarge" in (server.flags(1) or set()), server.flags(1)
        log = w.env.log()
        assert log.count("uid 1 is") == 1, log[-3000:]
        assert server.flags(1) is not None  # still in the mailbox
    finally:
        w.close()


def test_without_move_or_uidplus_nothing_is_expunged():
    """Item 22: a plain EXPUNGE would take mail other clients marked \\Deleted."""
    server = ImapServer(msgs("e1", "e2", "e3"))
    server.messages[2][2].add("\\Deleted")  # another client's, not ours to remove
    w = World(server)
    try:
        w.start()
        w.wait(lambda: w.stored() == 3, 30, "all three stored")
        time.sleep(3)
        assert not any(c.split(" ")[1].upper() == "EXPUNGE" for c in server.commands if " " in c), server.commands
        assert server.expunged == [], server.expunged
        for uid in (1, 2, 3):
            assert "$CasedStored" in server.flags(uid) and "\\Seen" in server.flags(uid), server.flags(uid)
            assert server.body_fetches(uid) == 1, (uid, server.body_fetches(uid))
        assert w.stored() == 3
    finally:
        w.close()


def test_a_message_that_fails_to_store_does_not_hold_up_the_rest():
    """Item 13: the pass goes on after a failed store and retries it later."""
    server = ImapServer(msgs("h1", "h2bad", "h3"), caps=("IMAP4rev1", "MOVE"))
    w = World(server)
    try:
        w.env.casectl("init")  # creates the database
        with sqlite3.connect(w.env.db) as db:
            db.execute("CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.message_id LIKE 'h2bad%' "
                       "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        w.start()
        w.wait(lambda: w.stored() == 2, 30, "the messages before and after the failing one")
        with sqlite3.connect(w.env.db, timeout=30) as db:
            ids = [r[0] for r in db.execute("SELECT message_id FROM messages")]
        assert any(i.startswith("h3") for i in ids), ids
        with sqlite3.connect(w.env.db, timeout=30) as db:
            db.execute("DROP TRIGGER refuse")
        w.wait(lambda: w.stored() == 3, 30, "the failed one, retried")
        # The move follows the commit: wait for it rather than race it.
        w.wait(lambda: server.messages == [], 30, "every stored message moved off the server")
    finally:
        w.close()


def run_casectl_bounded(env, *args):
    """casectl under a watchdog: killed past the RSS bound or 60 s. Returns (rc, out, peak_kb, seconds)."""
    full = dict(os.environ, CASED_CONFIG=env.config)
    t0 = time.monotonic()
    p = subprocess.Popen([CASECTL, *args], env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed = None
    # The output is small (one error line); read after the exit.
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if not killed and rss_kb(p.pid) > RSS_BOUND_MB * 1024:
            killed = "memory"
        elif not killed and time.monotonic() - t0 > 60:
            killed = "time"
        if killed:
            p.kill()
        time.sleep(0.05)
    out = p.stdout.read().decode(errors="replace")
    p.returncode = os.waitstatus_to_exitcode(status)
    assert not killed, f"casectl {' '.join(args)} killed for {killed}; output: {out[-500:]}"
    return p.returncode, out, usage.ru_maxrss, time.monotonic() - t0


def smtp_flood(mode):
    from test_outbound import World as OutWorld
    flood = SmtpFlood(mode)
    w = OutWorld()
    try:
        flood.start()
        with open(w.env.config) as f:
            text = f.read()
        with open(w.env.config, "w") as f:
            f.write(text.replace(f"port = {w.smtp.port}", f"port = {flood.port}"))
        w.env.json("ingest", input=w.report())
        rc, out, peak, secs = run_casectl_bounded(w.env, "reply", "1", "-m", "the fix")
        print(f"SMTP {mode}: casectl gave up after {secs:.1f}s, peak RSS {peak // 1024} MB: {out.strip()[-200:]}")
        assert "queued" in out and ("exceeded" in out or "longer than" in out), out
        assert peak < RSS_BOUND_MB * 1024
        box = w.env.json("outbox")
        assert box[-1]["status"] == "queued" and box[-1]["last_error"], box[-1]
    finally:
        flood.stop()
        w.close()


def test_smtp_server_text_reaches_the_outbox_inert():
    """Item 23: the server's text in last_error and casectl's output has its escapes made visible."""
    from test_outbound import World as OutWorld
    flood = SmtpFlood("escape")
    w = OutWorld()
    try:
        flood.start()
        with open(w.env.config) as f:
            text = f.read()
        with open(w.env.config, "w") as f:
            f.write(text.replace(f"port = {w.smtp.port}", f"port = {flood.port}")
                    .replace('security = "starttls"', 'security = "none"'))
        w.env.json("ingest", input=w.report())
        p = w.env.casectl("reply", "1", "-m", "the fix")
        out = p.stdout.decode(errors="replace")
        assert "try later" in out and "\x1b" not in out and "\x9b" not in out, repr(out)
        err = w.env.json("outbox")[-1]["last_error"]
        assert "^[[31mtry later" in err and "\x1b" not in err and "\x07" not in err and "\x9b" not in err, repr(err)
    finally:
        flood.stop()
        w.close()


def test_an_endless_ehlo_reply_is_cut_off():
    """Item 15, SMTP: endless 250- lines before STARTTLS."""
    smtp_flood("lines")


def test_an_ehlo_line_that_never_ends_is_cut_off():
    smtp_flood("line")


if __name__ == "__main__":
    run_tests(globals())
