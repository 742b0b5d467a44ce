"""Vendors' mail in a case, end to end over LMTP (swaks) with real gpg keys:
a vendor's encrypted reply to alias+ID.NAME is that vendor's, a stranger
writing to the same address is unverified, a reply by In-Reply-To alone is
the vendor's, `reply` goes to the reporter only, and a delivery report on
a notification marks the failed contact bouncing while a forged one marks
nobody. INSECURE TEST KEYS made at test time.

The notification itself is written into the database the way `casectl
notify` leaves it (the rows listed in notify_rows()), so that this test
does not depend on the command that sends it."""

import json
import os
import sqlite3
import subprocess
import tempfile
import time

from harness import Env, run_tests, wait_for
from pgp import Keyring, pgp_mime_encrypted, text_entity

ALIAS = "security@example.com"
NOTIFY_ID = "cased.1.notify.acme@example.com"


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="cased-vparty-")
        self.alias = Keyring(ALIAS, parent=self.tmp)
        self.acme = Keyring("Acme PSIRT <psirt@acme.example>", parent=self.tmp)
        self.acme.import_key(self.alias.public())
        self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\n\n[ack]\nenabled = false\n')
        self.env.casectl("init")
        key = os.path.join(self.tmp, "acme.asc")
        with open(key, "wb") as f:
            f.write(self.acme.public())
        self.env.casectl("vendor", "add", "acme", "--contact", "psirt@acme.example", "--contact",
                         "sec@acme.example", "--key", key)

    def swaks(self, data, rcpt=ALIAS, mail_from="sender@example.org"):
        path = os.path.join(self.tmp, "mail.eml")
        with open(path, "wb") as f:
            f.write(data)
        p = subprocess.run(["swaks", "--protocol", "LMTP", "--server", "127.0.0.1", "--port", str(self.env.port),
                            "--from", mail_from, "--to", rcpt, "--data", path],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "250 2.0.0" in p.stdout, p.stdout + p.stderr

    def notify_rows(self, case_id, to):
        """What a notification to acme leaves: the stored outbound message
        (party vendor:acme), its outbox row of kind notify, acme attached to
        the case with its contacts as verified vendor participants, its
        status unknown, and the outreach entry naming the outbox row."""
        now = int(time.time())
        db = sqlite3.connect(self.env.db, timeout=30)
        with db:
            cur = db.execute(
                "INSERT INTO messages(case_id, message_id, content_sha256, direction, source, from_addr, to_json, "
                "date, received, subject, body, encrypted, decryption, signature, raw, party) "
                "VALUES (?, ?, 'notify-sha', 'out', 'casectl', ?, ?, ?, ?, 'notification', 'text', 1, 'none', "
                "'good', x'00', 'vendor:acme')", (case_id, NOTIFY_ID, ALIAS, json.dumps(to), now, now))
            message = cur.lastrowid
            cur = db.execute(
                "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, message, raw, "
                "next_attempt, created, sent) VALUES (?, 'notify', 'sent', ?, 'notification', ?, ?, x'00', 1000, "
                "1000, 1000)", (case_id, json.dumps(to), NOTIFY_ID, message))
            outbox = cur.lastrowid
            db.execute("INSERT INTO case_vendors(case_id, vendor, added, notified, last_contact) "
                       "VALUES (?, 'acme', 1000, 1000, 1000)", (case_id,))
            db.execute("INSERT INTO vendor_status(case_id, vendor, cve, state, actor, updated) "
                       "VALUES (?, 'acme', '', 'unknown', 'ana', 1000)", (case_id,))
            for address in ("psirt@acme.example", "sec@acme.example"):
                db.execute("INSERT OR IGNORE INTO participants(case_id, address, role, verified, added) "
                           "VALUES (?, ?, 'vendor', 1, 1000)", (case_id, address))
            db.execute("INSERT INTO vendor_outreach(case_id, vendor, via, at, actor, text, outbox) "
                       "VALUES (?, 'acme', 'mail', 1000, 'ana', 'notified', ?)", (case_id, outbox))
        db.close()

    def query(self, sql, *args):
        db = sqlite3.connect(self.env.db, timeout=30)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def parties(self):
        return [(m["from"], m["party"]) for m in self.env.json("show", "1")["messages"]]

    def close(self):
        self.env.cleanup()
        for k in (self.alias, self.acme):
            k.close()
        subprocess.run(["rm", "-rf", self.tmp])


def plain(frm, msgid, subject, body, extra=""):
    return (f"From: {frm}\r\nTo: {ALIAS}\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\n"
            f"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n{extra}\r\n{body}\r\n").encode()


def dsn(msgid, quoted, recipient, action="failed"):
    return (f"From: MAILER-DAEMON@mx.acme.example\r\nTo: {ALIAS}\r\nSubject: Undelivered Mail\r\n"
            f"Message-ID: <{msgid}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
            "--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: 5.1.1\r\n\r\n"
            "--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: security@example.com\r\n"
            f"Message-ID: <{quoted}>\r\n--dsn--\r\n").encode()


def test_vendor_replies_strangers_and_bounces():
    w = World()
    try:
        w.env.start()
        w.swaks(plain("Rita <rita@example.org>", "r1@example.org", "quux overflows", "the report"),
                mail_from="rita@example.org")
        assert [c["id"] for c in w.env.json("list")] == [1]
        w.notify_rows(1, ["psirt@acme.example"])

        # (a) acme's reply, encrypted to the alias and signed by acme's key, to alias+1.acme.
        inner = text_entity("Acme: affected; fix in 2.1. secretword zyzzyva.\n")
        w.swaks(pgp_mime_encrypted(w.acme, [ALIAS], "Acme PSIRT <psirt@acme.example>", "a1@acme.example", inner,
                                   extra=f"In-Reply-To: <{NOTIFY_ID}>\r\n"),
                rcpt="security+1.acme@example.com", mail_from="psirt@acme.example")
        wait_for(lambda: len(w.env.json("show", "1")["messages"]) == 3, 30, "acme's reply")
        m = w.env.json("show", "1")["messages"][2]
        assert m["party"] == "vendor:acme" and m["decryption"] == "ok" and m["signature"] == "good", m
        assert "zyzzyva" in m["body"] and m["unverified"] is False
        assert w.query("SELECT last_reply IS NOT NULL FROM case_vendors WHERE vendor = 'acme'") == [(1,)]

        # (b) a stranger writing to the same address: in the case, unverified, no reply of acme's.
        before = w.query("SELECT last_reply FROM case_vendors WHERE vendor = 'acme'")
        w.swaks(plain("Mallory <mallory@evil.example>", "x1@evil.example", "acme statement", "not affected, honest"),
                rcpt="security+1.acme@example.com", mail_from="mallory@evil.example")
        wait_for(lambda: len(w.env.json("show", "1")["messages"]) == 4, 30, "the stranger's mail")
        m = w.env.json("show", "1")["messages"][3]
        assert m["party"] == "unverified" and m["unverified"] is True, m
        assert w.query("SELECT last_reply FROM case_vendors WHERE vendor = 'acme'") == before

        # (c) acme's other contact, answering the notification by In-Reply-To alone (to the bare alias).
        w.swaks(plain("sec@acme.example", "a2@acme.example", "Re: notification", "investigating",
                      extra=f"In-Reply-To: <{NOTIFY_ID}>\r\n"), mail_from="sec@acme.example")
        wait_for(lambda: len(w.env.json("show", "1")["messages"]) == 5, 30, "the reply by In-Reply-To")
        assert w.parties() == [("rita@example.org", "reporter"),
                               (ALIAS, "vendor:acme"), ("psirt@acme.example", "vendor:acme"),
                               ("mallory@evil.example", "unverified"), ("sec@acme.example", "vendor:acme")], w.parties()
        text = w.env.casectl("show", "1").stdout.decode()
        assert text.index("=== Reporter") < text.index("=== Vendor acme (3 messages)") < text.index(
            "=== Unverified senders"), text

        # reply: to the reporter only; no vendor contact, no stranger.
        w.env.casectl("reply", "1", "--sign-only", "-m", "Thanks; we told the vendor.")
        reply = [r for r in w.env.json("outbox") if r["kind"] == "reply"][-1]
        assert reply["to"] == ["rita@example.org"], reply

        # (e) a forged report naming acme's other contact, to which the notification never went.
        w.swaks(dsn("dsn-forged@mx.acme.example", NOTIFY_ID, "sec@acme.example"), mail_from="<>")
        # ... and one quoting a Message-ID we never sent.
        w.swaks(dsn("dsn-madeup@mx.acme.example", "made-up@acme.example", "psirt@acme.example"), mail_from="<>")
        wait_for(lambda: len(w.env.json("list")) == 2, 30, "the made-up report (a case of its own)")
        shown = w.env.json("vendor", "show", "acme")
        assert [c["bouncing"] for c in shown["contact_details"]] == [None, None], shown
        assert w.query("SELECT delivery FROM vendor_outreach") == [(None,)]
        assert not any(p["bouncing"] for p in w.env.json("show", "1")["participant_details"])

        # (d) the real report: the notification bounced for psirt@acme.example.
        w.swaks(dsn("dsn-real@mx.acme.example", NOTIFY_ID, "psirt@acme.example"), mail_from="<>")
        wait_for(lambda: w.query("SELECT delivery FROM vendor_outreach") == [("bounced",)], 30, "the bounce")
        assert w.query("SELECT delivery_detail FROM vendor_outreach") == [("psirt@acme.example",)]
        shown = w.env.json("vendor", "show", "acme")
        details = {c["address"]: c["bouncing"] for c in shown["contact_details"]}
        assert details["psirt@acme.example"] is not None and details["sec@acme.example"] is None, shown
        assert "BOUNCING since" in w.env.casectl("vendor", "show", "acme").stdout.decode()
        events = w.env.json("show", "1")["events"]
        assert any(e["kind"] == "bounce" and "to vendor acme bounced: psirt@acme.example" in e["detail"]
                   for e in events), events
        # Giving the contact again clears the mark.
        w.env.casectl("vendor", "edit", "acme", "--contact", "psirt@acme.example", "--contact", "sec@acme.example")
        shown = w.env.json("vendor", "show", "acme")
        assert [c["bouncing"] for c in shown["contact_details"]] == [None, None], shown
    finally:
        w.env.stop()
        w.close()


def test_a_made_up_vendor_address_creates_nothing():
    w = World()
    try:
        w.env.start()
        w.swaks(plain("rita@example.org", "r1@example.org", "report", "the report"), mail_from="rita@example.org")
        w.notify_rows(1, ["psirt@acme.example"])
        for i, rcpt in enumerate(("security+1.nosuch@example.com", "security+99.acme@example.com")):
            w.swaks(plain("psirt@acme.example", f"n{i}@acme.example", "hello", "text"), rcpt=rcpt,
                    mail_from="psirt@acme.example")
        wait_for(lambda: len(w.env.json("list")) == 3, 30, "two new cases")
        for case in (2, 3):
            events = w.env.json("show", str(case))["events"]
            assert any("which has no such vendor: that address was ignored" in e["detail"] for e in events), events
        assert w.query("SELECT case_id, vendor FROM case_vendors") == [(1, "acme")]
    finally:
        w.env.stop()
        w.close()


if __name__ == "__main__":
    run_tests(globals())
