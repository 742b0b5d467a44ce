"""Shared by the fault tests (test_faults_*.py): deliveries that record their
reply and how long it took, and the checks every fault must pass: nothing
lost, nothing stored twice, no half case, an intact database, one log line
per fault and a daemon that neither died nor spins."""

import os
import sqlite3
import threading
import time

from lmtp_client import Lmtp, message


def deliver_timed(port, data, bound, mail_from="rita@example.org"):
    """One LMTP transaction. Returns (code, reply line, seconds from the end
    of DATA to the reply); fails when the reply takes longer than `bound`."""
    c = Lmtp(port=port, timeout=bound + 5)
    try:
        assert c.reply()[0] == 220
        assert c.cmd("LHLO test.example")[0] == 250
        assert c.cmd(f"MAIL FROM:<{mail_from}>")[0] == 250
        assert c.cmd("RCPT TO:<security@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        if isinstance(data, str):
            data = data.encode()
        lines = data.split(b"\r\n")
        stuffed = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        t0 = time.monotonic()
        c.send(stuffed + b".\r\n")
        code, lines = c.reply()
        seconds = time.monotonic() - t0
        assert seconds <= bound, f"reply {lines} after {seconds:.1f}s, more than the bound of {bound}s"
        c.cmd("QUIT")
        return code, lines[-1], seconds
    finally:
        c.close()


def deliver_all(port, messages, bound):
    """Delivers {msgid: (data, mail_from)} in parallel, one session each;
    returns {msgid: (code, line, seconds)}."""
    results, errors = {}, []

    def one(msgid, data, mail_from):
        try:
            results[msgid] = deliver_timed(port, data, bound, mail_from)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"{msgid}: {e!r}")

    threads = [threading.Thread(target=one, args=(k, d, f)) for k, (d, f) in messages.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(bound + 30)
    assert not any(t.is_alive() for t in threads), "a delivery thread hung"
    assert not errors, errors
    return results


def plain(msgid, word, size=0):
    """A plain report with a unique word; `size` pads the body to about that many bytes."""
    body = f"The widget overflows; word {word}.\r\n"
    if size:
        body += ("x" * 70 + "\r\n") * (size // 72)
    return message(msgid, subject=f"report {word}", body=body, frm=f"{word}@example.org")


def check_store(db, acknowledged):
    """Every acknowledged Message-ID is stored exactly once and no other
    incoming message is (the acknowledgements sent out are stored too, as
    outgoing); no case without a message, no row without its parent; the
    database passes integrity_check and foreign_key_check."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        counts = dict(con.execute("SELECT message_id, count(*) FROM messages WHERE direction = 'in' GROUP BY message_id").fetchall())
        twice = {m: n for m, n in counts.items() if n != 1}
        assert not twice, f"stored more than once: {twice}"
        missing = set(acknowledged) - set(counts)
        assert not missing, f"acknowledged with 250 but not stored: {sorted(missing)}"
        unknown = set(counts) - set(acknowledged)
        assert not unknown, f"stored without a 250: {sorted(unknown)}"
        half = con.execute(
            "SELECT id FROM cases c WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id)").fetchall()
        assert not half, f"cases without a message: {half}"
        for table, col in (("attachments", "message"), ("message_refs", "message"), ("message_body_in_raw", "message")):
            orphans = con.execute(
                f"SELECT count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = t.{col})"
            ).fetchone()[0]
            assert orphans == 0, f"{orphans} row(s) of {table} without their message"
    finally:
        con.close()


def count_lines(log, text):
    return sum(1 for line in log.splitlines() if text in line)


def cpu_seconds(pid):
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def assert_idle(pid, seconds=2.0, limit=0.3):
    """The process uses less than `limit` CPU seconds over `seconds`: no
    thread spins on a fault."""
    before = cpu_seconds(pid)
    time.sleep(seconds)  # a measuring interval, not a synchronisation
    used = cpu_seconds(pid) - before
    assert used < limit, f"pid {pid} used {used:.2f}s of CPU in {seconds}s while idle under the fault"
