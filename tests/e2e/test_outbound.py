"""Mail out, end to end: acknowledgements and replies through a real SMTP
server (aiosmtpd) with STARTTLS and a test CA, decrypted and verified with
the reporter's real gpg key."""

import email
import email.policy
import json
import os
import subprocess
import tempfile
import time

from certs import CA
from harness import Env, free_port, need_test_hooks, run_tests, wait_for
from lmtp_client import deliver
from pgp import Keyring, crlf, gpg, headers, pgp_mime_encrypted, text_entity

ALIAS = "security@example.com"
RITA = "Rita Reporter <rita@example.org>"
HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


class SmtpServer:
    def __init__(self, ca_dir, mode="--starttls", cert=None, extra=()):
        self.port = free_port()
        self.spool = tempfile.mkdtemp(prefix="cased-spool-")
        args = [PYTHON, os.path.join(HERE, "smtp_server.py"), "--port", str(self.port), "--spool", self.spool, mode, *extra]
        if cert:
            args += ["--cert", cert[0], "--key", cert[1]]
        self.args = args
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        assert line.strip() == b"ready", line

    def stop(self):
        if self.proc:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def messages(self):
        out = []
        for name in sorted(os.listdir(self.spool), key=lambda n: int(n.split(".")[0])):
            if name.endswith(".eml"):
                with open(os.path.join(self.spool, name), "rb") as f:
                    raw = f.read()
                with open(os.path.join(self.spool, name[:-4] + ".json")) as f:
                    out.append((raw, json.load(f)))
        return out

    def cleanup(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.spool])


class World:
    def __init__(self, mode="--starttls", trusted=True, smtp_extra="", server_extra=(), extra_config=""):
        self.tmp = tempfile.mkdtemp(prefix="cased-out-")
        self.ca = CA(os.path.join(self.tmp, "ca"))
        self.other_ca = CA(os.path.join(self.tmp, "other-ca"), name="some other CA")
        cert = (self.ca if trusted else self.other_ca).server("smtp")
        self.smtp = SmtpServer(self.tmp, mode, cert, server_extra)
        security = {"--starttls": "starttls", "--implicit-tls": "tls", "--plain": "starttls"}[mode]
        self.alias = Keyring(ALIAS)
        self.rita = Keyring(RITA)
        self.rita.import_key(self.alias.public())
        self.env = Env(extra_config=(
            f'[gpg]\nhome = "{self.alias.home}"\n\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {self.smtp.port}\nsecurity = "{security}"\n'
            f'ca_file = "{self.ca.cert}"\n{smtp_extra}\n{extra_config}'))

    def report(self, msgid="r1@example.org", subject="Heap overflow in widget", body="The widget overflows; zebra42.\n",
               extra="", attach_key=True):
        b = "==report=="
        inner = text_entity(body)
        key_part = b""
        if attach_key:
            key_part = crlf(f"--{b}\r\nContent-Type: application/pgp-keys\r\n\r\n") + crlf(self.rita.public()) + b"\r\n"
        return headers(RITA, subject, msgid, extra + f'Content-Type: multipart/mixed; boundary="{b}"\r\n') + crlf(
            f"\r\n--{b}\r\n") + inner + b"\r\n" + key_part + crlf(f"--{b}--\r\n")

    def decrypt(self, raw):
        """Decrypts a PGP/MIME mail with the reporter's key; returns (plaintext, gpg status)."""
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert msg.get_content_type() == "multipart/encrypted", msg.get_content_type()
        cipher = msg.get_payload()[1].get_payload(decode=True)
        p = gpg(self.rita.home, "--status-fd", "2", "--decrypt", input=cipher)
        return p.stdout, p.stderr.decode()

    def close(self):
        self.env.cleanup()
        self.smtp.cleanup()
        self.alias.close()
        self.rita.close()
        subprocess.run(["rm", "-rf", self.tmp])


def wait_for_mail(server, n, timeout=30):
    wait_for(lambda: len(server.messages()) >= n, timeout, f"{n} message(s) at the SMTP server")


def test_acknowledgement_and_reply_signed_encrypted_and_threaded():
    w = World()
    try:
        w.smtp.start()
        w.env.start()
        assert deliver(port=w.env.port, msgid="r1@example.org", data=w.report()) == [250]
        wait_for_mail(w.smtp, 1)
        raw, env = w.smtp.messages()[0]
        assert env["tls"] is True and env["to"] == ["rita@example.org"] and env["from"] == ALIAS
        outer = email.message_from_bytes(raw)
        assert outer["Subject"] == "[CASE#1] Your report has been received"
        assert outer["Auto-Submitted"] == "auto-replied"
        assert outer["In-Reply-To"] == "<r1@example.org>"
        plain, status = w.decrypt(raw)
        assert "[GNUPG:] GOODSIG" in status and w.alias.fpr in status.replace(" ", ""), status
        # The acknowledgement echoes nothing of the report.
        for word in (b"Heap", b"overflow", b"widget", b"zebra42"):
            assert word not in raw and word not in plain, word
        assert b"[CASE#1]" in plain

        p = w.env.casectl("reply", "1", "-m", "We reproduced it; a fix ships Tuesday.")
        assert b"sent" in p.stdout, p.stdout
        raw2, env2 = w.smtp.messages()[1]
        outer2 = email.message_from_bytes(raw2)
        assert outer2["Subject"] == "[CASE#1] Encrypted message"
        assert outer2["In-Reply-To"] == "<r1@example.org>"
        assert outer2["From"] == ALIAS and env2["to"] == ["rita@example.org"]
        assert b"Heap overflow" not in raw2 and b"Tuesday" not in raw2
        plain2, status2 = w.decrypt(raw2)
        assert "[GNUPG:] GOODSIG" in status2
        assert b"Subject: Re: [CASE#1] Heap overflow in widget" in plain2
        assert b'protected-headers="v1"' in plain2
        assert b"a fix ships Tuesday" in plain2
        # The reporter answers our reply without any tag: it threads by Message-ID.
        answer = headers(RITA, "Re: Encrypted message", "r2@example.org",
                         f"In-Reply-To: {outer2['Message-ID']}\r\n") + b"\r\nthanks!\r\n"
        assert deliver(port=w.env.port, msgid="r2@example.org", data=answer) == [250]
        show = w.env.json("show", "1")
        assert [m["direction"] for m in show["messages"]] == ["in", "out", "out", "in"], show["messages"]
        assert show["messages"][2]["encrypted"] is True
        # Sent mail shows the alias key that signed it.
        assert all(m["signer"] == w.alias.fpr.upper() and m["signature"] == "good"
                   for m in show["messages"] if m["direction"] == "out"), show["messages"]
        outbox = w.env.json("outbox")
        assert [o["status"] for o in outbox] == ["sent", "sent"]
        assert all(o["attempts"] == 1 for o in outbox)
        kinds = [e["kind"] for e in show["events"]]
        assert "ack" in kinds and "reply" in kinds
        # What we wrote is searchable like what we received (contract: "Search").
        assert [c["id"] for c in w.env.json("search", "tuesday")] == [1]
        # The log names cases and Message-IDs, never the report.
        w.env.stop()
        assert "zebra42" not in w.env.log() and "Heap overflow" not in w.env.log()
    finally:
        w.close()


def test_no_acknowledgement_for_automatic_or_bulk_mail():
    w = World()
    try:
        w.smtp.start()
        w.env.start()
        deliver(port=w.env.port, msgid="a1@example.org", data=w.report("a1@example.org", extra="Auto-Submitted: auto-replied\r\n"))
        deliver(port=w.env.port, msgid="a2@example.org", data=w.report("a2@example.org", subject="s2", extra="Precedence: bulk\r\n"))
        deliver(port=w.env.port, msgid="a3@example.org", data=w.report("a3@example.org", subject="s3"), mail_from="")
        deliver(port=w.env.port, msgid="a4@example.org", data=w.report("a4@example.org", subject="s4"))
        deliver(port=w.env.port, msgid="a5@example.org", data=w.report("a5@example.org", subject="s5"))
        # Acknowledgements are queued with the case, in the same transaction:
        # the outbox holds every one there will be.
        assert [o["kind"] for o in w.env.json("outbox")] == ["ack", "ack"]
        wait_for_mail(w.smtp, 2)
        msgs = w.smtp.messages()
        assert len(msgs) == 2, [email.message_from_bytes(m[0])["Subject"] for m in msgs]
        # Two reports from one person in a minute: two cases, two tags.
        replied = sorted(email.message_from_bytes(m[0])["In-Reply-To"] for m in msgs)
        assert replied == ["<a4@example.org>", "<a5@example.org>"], replied
        assert len(w.env.json("list")) == 5
    finally:
        w.close()


def ack_subjects(server):
    return sorted(email.message_from_bytes(raw)["Subject"] for raw, _ in server.messages())


def test_every_new_case_acknowledged_once_up_to_the_daily_cap():
    """Three reports in an hour from one sender: three acknowledgements, each
    with its own case tag; a follow-up to a case gets none; past
    ack.per_sender_per_day none, also after a restart, and the log names the
    case, not the subject."""
    w = World(extra_config="[ack]\nper_sender_per_day = 3\n")
    try:
        w.smtp.start()
        w.env.start()
        for i in (1, 2, 3):
            assert deliver(port=w.env.port, msgid=f"n{i}@example.org",
                           data=w.report(f"n{i}@example.org", subject=f"Overflow number {i}")) == [250]
        wait_for_mail(w.smtp, 3)
        assert ack_subjects(w.smtp) == [f"[CASE#{i}] Your report has been received" for i in (1, 2, 3)]
        for raw, env in w.smtp.messages():
            outer = email.message_from_bytes(raw)
            assert env["tls"] is True and env["to"] == ["rita@example.org"]
            case = outer["Subject"].split("#")[1].split("]")[0]
            assert outer["In-Reply-To"] == f"<n{case}@example.org>", (outer["Subject"], outer["In-Reply-To"])
            plain, _ = w.decrypt(raw)
            assert f"[CASE#{case}]".encode() in plain
        # A second message on case 2 (the reporter's follow-up, and an
        # auto-responder quoting our acknowledgement): no second acknowledgement.
        ack2 = [email.message_from_bytes(r) for r, _ in w.smtp.messages()]
        ack2 = [m for m in ack2 if m["Subject"].startswith("[CASE#2]")][0]
        follow = headers(RITA, "Re: [CASE#2] more details", "n2b@example.org") + b"\r\nmore\r\n"
        responder = headers("Away <away@example.net>", "Out of office", "oo1@example.net",
                            f"In-Reply-To: {ack2['Message-ID']}\r\n") + b"\r\nI am away\r\n"
        assert deliver(port=w.env.port, msgid="n2b@example.org", data=follow) == [250]
        assert deliver(port=w.env.port, msgid="oo1@example.net", data=responder, mail_from="away@example.net") == [250]
        assert [m["direction"] for m in w.env.json("show", "2")["messages"]] == ["in", "out", "in", "in"]
        # The fourth new case that day: the cap. Counted from the outbox, so a
        # restart changes nothing.
        assert deliver(port=w.env.port, msgid="n4@example.org", data=w.report("n4@example.org", subject="Zebra99 flaw")) == [250]
        w.env.stop()
        w.env.start()
        assert deliver(port=w.env.port, msgid="n5@example.org", data=w.report("n5@example.org", subject="Zebra98 flaw")) == [250]
        assert [o["kind"] for o in w.env.json("outbox")] == ["ack", "ack", "ack"]
        assert all(o["status"] == "sent" for o in w.env.json("outbox"))
        for case in (4, 5):
            events = [e["detail"] for e in w.env.json("show", str(case))["events"] if e["kind"] == "ack"]
            assert events and "ack.per_sender_per_day" in events[0], events
        assert len(w.env.json("list")) == 5
        w.env.stop()
        log = w.env.log()
        for case in (4, 5):
            assert f"case={case}: not acknowledged" in log, log
        assert "Zebra99" not in log and "Zebra98" not in log and "Overflow number" not in log
        assert len(w.smtp.messages()) == 3, ack_subjects(w.smtp)
    finally:
        w.close()


def test_refused_without_key_and_sign_only():
    w = World()
    try:
        w.smtp.start()
        w.env.json("ingest", input=w.report(attach_key=False))
        p = w.env.casectl("reply", "1", "-m", "hello", "--to", "bob@example.net", check=False)
        assert p.returncode == 4 and b"bob@example.net" in p.stderr, p.stderr
        p = w.env.casectl("reply", "1", "-m", "no key known for you", check=False)
        assert p.returncode == 4 and b"rita@example.org" in p.stderr
        assert [o for o in w.env.json("outbox") if o["kind"] == "reply"] == []
        refused = [e for e in w.env.json("show", "1")["events"] if e["kind"] == "reply"]
        assert refused and "refused" in refused[0]["detail"]
        p = w.env.casectl("reply", "1", "-m", "signed words only", "--sign-only")
        assert b"sent" in p.stdout, p.stdout
        raw, _ = w.smtp.messages()[0]
        msg = email.message_from_bytes(raw)
        assert msg.get_content_type() == "multipart/signed"
        assert b"a report" not in raw.split(b"\r\n\r\n", 1)[0]
        # It travels in clear: no word of the case subject anywhere, inside or out.
        for word in (b"Heap overflow", b"widget"):
            assert word not in raw, raw
        signed_part = msg.get_payload()[0]
        assert signed_part["Subject"] == "[CASE#1] Message from the security team", signed_part["Subject"]
        assert msg["Subject"] == "[CASE#1] Message from the security team", msg["Subject"]
        signed, sig = msg.get_payload()
        signed_bytes = raw.split(b"\r\n--" + msg.get_boundary().encode() + b"\r\n")[1]
        sigfile = os.path.join(w.tmp, "sig.asc")
        with open(sigfile, "wb") as f:
            f.write(sig.get_payload(decode=True))
        w.rita.import_key(w.alias.public())
        v = gpg(w.rita.home, "--status-fd", "2", "--verify", sigfile, "-", input=signed_bytes, check=False)
        assert "[GNUPG:] GOODSIG" in v.stderr.decode(), v.stderr
        assert "NOT encrypted" in json.dumps(w.env.json("show", "1")["events"])
    finally:
        w.close()


def test_untrusted_certificate_and_no_starttls_send_nothing():
    w = World(trusted=False)
    try:
        w.smtp.start()
        w.env.json("ingest", input=w.report())
        p = w.env.casectl("reply", "1", "-m", "secret fix details")
        assert b"queued" in p.stdout and b"certificate verification failed" in p.stdout, p.stdout
        assert w.smtp.messages() == []
        box = w.env.json("outbox")
        assert box[-1]["status"] == "queued" and "certificate" in box[-1]["last_error"]
    finally:
        w.close()
    w = World(mode="--plain")
    try:
        w.smtp.start()
        w.env.json("ingest", input=w.report())
        p = w.env.casectl("reply", "1", "-m", "secret fix details")
        assert b"does not offer STARTTLS" in p.stdout, p.stdout
        assert w.smtp.messages() == []
    finally:
        w.close()


def test_server_down_then_sent_exactly_once():
    w = World()
    try:
        w.env.json("ingest", input=w.report())
        p = w.env.casectl("reply", "1", "-m", "first try fails")
        assert b"queued" in p.stdout and b"cannot connect" in p.stdout, p.stdout
        w.smtp.start()
        # casectl and the daemon both try: the claim lets only one send it.
        w.env.start()
        w.env.casectl("outbox", "retry", "2")
        wait_for_mail(w.smtp, 2)  # the acknowledgement and the reply
        time.sleep(6)  # a second sender pass must not send again
        subjects = sorted(email.message_from_bytes(m[0])["Subject"] for m in w.smtp.messages())
        assert subjects == ["[CASE#1] Encrypted message", "[CASE#1] Your report has been received"], subjects
        assert [o["status"] for o in w.env.json("outbox")] == ["sent", "sent"]
    finally:
        w.close()


def test_implicit_tls_and_auth():
    w = World(mode="--implicit-tls", server_extra=("--auth", "cased:s3cret"),
              smtp_extra='user = "cased"\npassword_file = "PWFILE"\n')
    try:
        pw = os.path.join(w.tmp, "smtp.pass")
        with open(pw, "w") as f:
            f.write("s3cret\n")
        with open(w.env.config) as f:
            cfg = f.read().replace("PWFILE", pw)
        with open(w.env.config, "w") as f:
            f.write(cfg)
        w.smtp.start()
        w.env.json("ingest", input=w.report())
        p = w.env.casectl("reply", "1", "-m", "over implicit TLS")
        assert b"sent" in p.stdout, p.stdout
        assert len(w.smtp.messages()) == 1
        # (A wrong password is not tested here: Debian's aiosmtpd 1.4 never
        # answers a failed AUTH, so the client could only time out.)
    finally:
        w.close()


def test_bounce_attaches_to_the_case():
    w = World()
    try:
        w.smtp.start()
        w.env.json("ingest", input=w.report())
        w.env.casectl("reply", "1", "-m", "a reply that will bounce")
        ours = email.message_from_bytes(w.smtp.messages()[-1][0])["Message-ID"]
        dsn = (b"From: MAILER-DAEMON@mx.example.org\r\nTo: security@example.com\r\n"
               b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example.org>\r\n"
               b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
               b'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
               b"--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
               b"--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
               b"Final-Recipient: rfc822; rita@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
               b"--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: security@example.com\r\n"
               b"Message-ID: " + ours.encode() + b"\r\nSubject: [CASE#1] Encrypted message\r\n--dsn--\r\n")
        r = w.env.json("ingest", input=dsn)
        assert r["case"] == 1 and not r["new_case"]
        show = w.env.json("show", "1")
        assert any(e["kind"] == "bounce" and "rita@example.org" in e["detail"] for e in show["events"])
        assert [p for p in show["participant_details"] if p["address"] == "rita@example.org"][0]["bouncing"] is True
        assert len(w.env.json("list")) == 1
    finally:
        w.close()


def test_daily_cap_per_recipient_holds_mail_until_the_next_day():
    if not need_test_hooks("test_daily_cap_per_recipient_holds_mail_until_the_next_day"):
        return
    w = World(smtp_extra="max_per_recipient_per_day = 2\n")
    try:
        w.smtp.start()
        w.env.json("ingest", input=w.report(extra="Auto-Submitted: auto-generated\r\n"))  # no acknowledgement
        day = "2026-11-23T09:00:00Z"
        for i in range(2):
            p = w.env.casectl("reply", "1", "-m", f"reply {i}", env={"CASED_NOW": day})
            assert b"sent" in p.stdout, p.stdout
        p = w.env.casectl("reply", "1", "-m", "one too many", env={"CASED_NOW": day})
        assert b"daily limit of mail to rita@example.org reached" in p.stdout, p.stdout
        assert len(w.smtp.messages()) == 2
        held = w.env.json("outbox", env={"CASED_NOW": day})[-1]
        assert held["status"] == "queued" and "daily limit" in held["last_error"], held
        # A day later the held reply goes.
        p = w.env.casectl("outbox", "retry", str(held["id"]), env={"CASED_NOW": "2026-11-24T09:30:00Z"})
        assert len(w.smtp.messages()) == 3, p.stdout
        assert w.env.json("outbox", env={"CASED_NOW": "2026-11-24T09:30:00Z"})[-1]["status"] == "sent"
    finally:
        w.close()


def test_check_validates_the_acknowledgement_cap():
    w = World(extra_config="[ack]\nper_sender_per_day = 0\n")
    try:
        cased = os.environ.get("CASED_BIN", "cased")
        p = subprocess.run([cased, "--config", w.env.config, "--check"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 1 and "ack.per_sender_per_day: must be between 1 and 1000" in p.stdout + p.stderr, p
        with open(w.env.config) as f:
            cfg = f.read().replace("per_sender_per_day = 0", "per_sender_per_day = 4")
        with open(w.env.config, "w") as f:
            f.write(cfg)
        p = subprocess.run([cased, "--config", w.env.config, "--check", "--print"], capture_output=True, text=True,
                           timeout=120)
        assert "per_sender_per_day = 4" in p.stdout, p
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
