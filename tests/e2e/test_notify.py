"""Vendor notifications end to end: two vendors of the contact book with
real gpg keys, `casectl notify` sending through the repo's STARTTLS sink
(aiosmtpd, a test CA), each mail checked byte for byte: to that vendor's
contacts only, encrypted to that vendor's key (and the alias's own) and to
no other vendor's, with its Reply-To, and nothing of the report unless
--include forwards it. Then vendor-status, outreach, show and the digest;
and every kind of bad input refused with nothing queued."""

import email
import email.policy
import os
import subprocess
import tempfile
import time

from certs import CA
from harness import Env, need_test_hooks, run_tests
from pgp import Keyring, gpg, headers, text_entity
from test_outbound import SmtpServer

ALIAS = "security@example.com"
RITA = "Rita Reporter <rita@example.org>"
REPORT_WORDS = (b"rita@example.org", b"Heap overflow", b"zebra42")


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="cased-notify-")
        self.ca = CA(os.path.join(self.tmp, "ca"))
        self.smtp = SmtpServer(self.tmp, "--starttls", self.ca.server("smtp"))
        self.alias = Keyring(ALIAS, parent=self.tmp)
        self.acme = Keyring("Acme PSIRT <psirt@acme.example>", parent=self.tmp)
        self.beta = Keyring("Beta Security <sec@beta.example>", parent=self.tmp)
        for k in (self.acme, self.beta):
            k.import_key(self.alias.public())
        self.empty = tempfile.mkdtemp(prefix="gpg-empty-", dir=self.tmp)
        os.chmod(self.empty, 0o700)
        self.env = Env(extra_config=(
            f'[gpg]\nhome = "{self.alias.home}"\n\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {self.smtp.port}\nsecurity = "starttls"\n'
            f'ca_file = "{self.ca.cert}"\n'))
        self.smtp.start()
        self.env.casectl("init")
        body = text_entity("The widget parser has a Heap overflow; zebra42.\n")
        report = headers(RITA, "Heap overflow in widget", "r1@example.org",
                         "Content-Type: multipart/mixed; boundary=\"b\"\r\n") + b"\r\n--b\r\n" + body + b"\r\n--b--\r\n"
        self.env.json("ingest", input=report)
        self.env.casectl("vendor", "add", "acme", "--contact", "psirt@acme.example", "--contact", "cert@acme.example",
                         "--key", self.file("acme.asc", self.acme.public()))
        self.env.casectl("vendor", "add", "beta", "--contact", "sec@beta.example",
                         "--key", self.file("beta.asc", self.beta.public()))
        self.env.casectl("vendor", "add", "gamma", "--contact", "psirt@gamma.example")

    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def notifications(self):
        """(raw, envelope) of every mail at the sink that is not an acknowledgement."""
        out = []
        for raw, env in self.smtp.messages():
            if b"Your report has been received" not in raw:
                out.append((raw, env))
        return out

    def outbox_rows(self):
        return len(self.env.json("outbox"))

    def close(self):
        self.env.cleanup()
        self.smtp.cleanup()
        for k in (self.alias, self.acme, self.beta):
            k.close()
        subprocess.run(["rm", "-rf", self.tmp])


def ciphertext(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/encrypted", msg.get_content_type()
    return msg.get_payload()[1].get_payload(decode=True)


def encryption_subkey(keyring):
    out = gpg(keyring.home, "--with-colons", "--list-keys", keyring.fpr).stdout.decode()
    subs = [line.split(":")[4] for line in out.splitlines() if line.startswith("sub:") and "e" in line.split(":")[11]]
    assert len(subs) == 1, out
    return subs[0].upper()


def recipients_of(w, raw):
    """The key ids the ciphertext is encrypted to, from its packets (no key needed)."""
    p = gpg(w.empty, "--list-packets", input=ciphertext(raw), check=False)
    ids = set()
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.startswith(":pubkey enc packet:") and "keyid " in line:
            ids.add(line.split("keyid ")[1].split()[0].upper())
    return ids


def decrypt(keyring, raw):
    p = gpg(keyring.home, "--status-fd", "2", "--decrypt", input=ciphertext(raw), check=False)
    return p.returncode, p.stdout, p.stderr.decode()


def test_one_mail_per_vendor_encrypted_to_it_alone():
    w = World()
    try:
        p = w.env.casectl("notify", "1", "acme", "beta", "-m", "Please look at the widget parser before Tuesday.")
        out = p.stdout.decode()
        assert "notified 2 vendor(s) of [CASE#1]: 2 sent, 0 queued, 0 failed" in out, out
        mails = w.notifications()
        assert len(mails) == 2, [e for _, e in mails]
        by_to = {tuple(env["to"]): raw for raw, env in mails}
        assert set(by_to) == {("psirt@acme.example", "cert@acme.example"), ("sec@beta.example",)}, by_to.keys()
        acme_sub, beta_sub, alias_sub = (encryption_subkey(k) for k in (w.acme, w.beta, w.alias))
        for to, raw, mine, other, name in (
                (("psirt@acme.example", "cert@acme.example"), None, w.acme, w.beta, "acme"),
                (("sec@beta.example",), None, w.beta, w.acme, "beta")):
            raw = by_to[to]
            outer = email.message_from_bytes(raw)
            assert outer["From"] == ALIAS
            assert outer["To"].replace(" ", "") == ",".join(to), outer["To"]
            assert outer["Cc"] is None
            assert outer["Reply-To"] == f"security+1.{name}@example.com", outer["Reply-To"]
            assert outer["Subject"] == "[CASE#1] Encrypted message", outer["Subject"]
            # Encrypted to this vendor's key and the alias's own (the team reads its sent mail), no other.
            own = acme_sub if mine is w.acme else beta_sub
            assert recipients_of(w, raw) == {own, alias_sub}, (recipients_of(w, raw), own, alias_sub)
            rc, plain, status = decrypt(mine, raw)
            assert rc == 0 and "[GNUPG:] GOODSIG" in status, status
            assert b"before Tuesday" in plain and b"[CASE#1]" in plain
            assert f"Reply-To: security+1.{name}@example.com".encode() in plain
            # The other vendor cannot read it.
            assert decrypt(other, raw)[0] != 0
            for word in REPORT_WORDS + (b"widget parser before",):
                assert word not in raw, word
            for word in REPORT_WORDS:
                assert word not in plain, word
        assert b"Please look" not in b"".join(by_to.values())

        show = w.env.json("show", "1")
        vendors = {v["name"]: v for v in show["vendors"]}
        assert set(vendors) == {"acme", "beta"}
        for v in vendors.values():
            assert v["notified"] and v["last_reply"] is None
            assert v["status"] == [{"cve": None, "state": "unknown", "statement": None,
                                    "updated": v["notified"], "actor": v["status"][0]["actor"]}]
            assert len(v["outreach"]) == 1 and v["outreach"][0]["via"] == "mail"
            assert v["outreach"][0]["outbox"]["status"] == "sent"
        roles = {p["address"]: (p["role"], p["verified"]) for p in show["participant_details"]}
        assert roles["psirt@acme.example"] == ("vendor", True) and roles["sec@beta.example"] == ("vendor", True)
        parties = [m for m in show["messages"] if m["direction"] == "out" and "Encrypted" not in m["subject"]]
        assert len([e for e in show["events"] if e["kind"] == "notify"]) >= 2
        assert [o["kind"] for o in w.env.json("outbox")].count("notify") == 2, parties
    finally:
        w.close()


def test_include_forwards_the_report_inside_the_encryption():
    w = World()
    try:
        msg = w.env.json("show", "1")["messages"][0]["id"]
        w.env.casectl("notify", "1", "acme", "-m", "The report follows.", "--include", str(msg),
                      "--attach", w.file("poc.py", b"print('poc')\n"))
        (raw, env), = w.notifications()
        assert env["to"] == ["psirt@acme.example", "cert@acme.example"]
        for word in REPORT_WORDS + (b"poc.py",):
            assert word not in raw, word
        rc, plain, _ = decrypt(w.acme, raw)
        assert rc == 0
        assert b"The report follows." in plain and b"zebra42" in plain, plain
        assert b"poc.py" in plain
        # The forwarded text only: the reporter's address stays out.
        assert b"rita@example.org" not in plain
    finally:
        w.close()


def test_status_outreach_show_and_digest():
    w = World()
    try:
        w.env.casectl("notify", "1", "acme", "beta", "-m", "hello")
        w.env.casectl("vendor-status", "1", "acme", "affected", "--cve", "CVE-2026-12345",
                      "--statement", "Fixed in 2.3.2\x1b[31m")
        w.env.casectl("outreach", "1", "beta", "--via", "phone", "-m", "Called the PSIRT line; voice mail")
        text = w.env.casectl("show", "1", env={"PAGER": "cat"}).stdout.decode()
        assert "\nVendors\n" in text, text
        assert "Last reply:     no reply yet" in text
        assert "CVE-2026-12345: affected" in text and "Statement: Fixed in 2.3.2" in text
        assert "\x1b" not in text
        assert "phone" in text and "Called the PSIRT line" in text and "[outbox " in text and ": sent]" in text
        v = {x["name"]: x for x in w.env.json("show", "1")["vendors"]}
        assert [s["cve"] for s in v["acme"]["status"]] == [None, "CVE-2026-12345"]
        assert v["acme"]["status"][1]["statement"] == "Fixed in 2.3.2\x1b[31m"
        assert [o["via"] for o in v["beta"]["outreach"]] == ["mail", "phone"]
        assert v["beta"]["last_contact"] >= v["beta"]["notified"]
        if need_test_hooks("the digest's vendors section ten days on"):
            later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 10 * 86400))
            d = w.env.json("digest", env={"CASED_NOW": later})
            # acme answered (its state for a CVE was recorded); beta was only phoned.
            assert [s["vendor"] for s in d["vendors"]["silent"]] == ["beta"], d["vendors"]
            w.env.casectl("vendor-status", "1", "beta", "unresponsive")
            d = w.env.json("digest", env={"CASED_NOW": later})
            assert [s["vendor"] for s in d["vendors"]["silent"]] == ["beta"], d["vendors"]
            text = w.env.casectl("digest", env={"CASED_NOW": later}).stdout.decode()
            assert "beta notified 10d ago, no reply yet" in text, text
            w.env.casectl("vendor-status", "1", "beta", "investigating")
            d = w.env.json("digest", env={"CASED_NOW": later})
            assert d["vendors"]["silent"] == [] and d["vendors"]["totals"]["silent"] == 0, d["vendors"]
    finally:
        w.close()


def test_bad_input_is_refused_and_nothing_is_queued():
    w = World()
    try:
        before = w.outbox_rows()
        cases = [
            (3, ("notify", "1", "acme", "nosuch", "-m", "x"), "unknown vendor(s): nosuch"),
            (4, ("notify", "1", "acme", "gamma", "-m", "x"), "no usable key for vendor(s) gamma"),
            (3, ("notify", "1", "acme", "--include", "999", "-m", "x"), "999"),
            (2, ("notify", "1", "Acme!", "-m", "x"), "bad vendor name"),
            (2, ("notify", "1", "acme"), "-m TEXT or -F FILE"),
            (3, ("notify", "9", "acme", "-m", "x"), "no such case"),
            (2, ("vendor-status", "1", "acme", "broken"), "bad state 'broken'"),
            (2, ("vendor-status", "1", "acme", "fixed", "--cve", "CVE-26-1"), "bad CVE id 'CVE-26-1'"),
            (4, ("vendor-status", "1", "acme", "fixed"), "not attached"),
            (2, ("outreach", "1", "acme", "--via", "pigeon", "-m", "x"), "bad --via 'pigeon'"),
            (3, ("outreach", "1", "nosuch", "--via", "phone", "-m", "x"), "no vendor nosuch"),
        ]
        for code, args, says in cases:
            p = w.env.casectl(*args, check=False)
            err = p.stderr.decode()
            assert p.returncode == code, (args, p.returncode, err)
            assert says in err, (args, err)
            assert w.outbox_rows() == before, args
        assert w.notifications() == []
        assert w.env.json("show", "1")["vendors"] == []
        # With --sign-only the vendor without a key gets signed mail in clear.
        w.env.casectl("notify", "1", "gamma", "--sign-only", "-m", "signed only")
        (raw, env), = w.notifications()
        assert env["to"] == ["psirt@gamma.example"]
        assert email.message_from_bytes(raw).get_content_type() == "multipart/signed"
        for word in REPORT_WORDS:
            assert word not in raw
        # A merged case takes no notification.
        w.env.json("ingest", input=headers("Bob <bob@example.net>", "other", "r2@example.org") + b"\r\nhi\r\n")
        w.env.casectl("merge", "1", "2")
        p = w.env.casectl("notify", "1", "acme", "-m", "x", check=False)
        assert p.returncode != 0 and "merged into" in p.stderr.decode(), p.stderr
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
