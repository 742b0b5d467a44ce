"""Trust in a case, end to end over LMTP: who may join a case and receive
its replies, which keys stand for whom, what the receiving MTA's
Authentication-Results says, and acknowledgements that variants of one
address cannot multiply. INSECURE TEST KEYS made at test time."""

import json
import os
import sqlite3
import subprocess
import tempfile

from harness import Env, run_tests
from lmtp_client import deliver
from pgp import Keyring, crlf, headers, text_entity

ALIAS = "security@example.com"


class World:
    """An alias key in gpg.home, a reporter (Rita), an attacker (Mallory)."""

    def __init__(self, extra_config="", case_extra=""):
        self.tmp = tempfile.mkdtemp(prefix="cased-trust-")
        self.alias = Keyring(ALIAS, parent=self.tmp)
        self.rita = Keyring("Rita Reporter <rita@example.org>", parent=self.tmp)
        self.mallory = Keyring("Mallory <mallory@evil.example>", parent=self.tmp)
        self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\n\n' + extra_config)
        if case_extra:
            with open(self.env.config) as f:
                text = f.read()
            with open(self.env.config, "w") as f:
                f.write(text.replace('tag = "CASE"\n', 'tag = "CASE"\n' + case_extra, 1))

    def mail(self, frm, msgid, subject="report", body="text\n", key=None, extra=""):
        """A message from `frm`, with `key` (armored) attached when given."""
        b = "==trust=="
        part = b""
        if key:
            part = crlf(f"--{b}\r\nContent-Type: application/pgp-keys\r\n\r\n") + crlf(key) + b"\r\n"
        return headers(frm, subject, msgid, extra + f'Content-Type: multipart/mixed; boundary="{b}"\r\n') + crlf(
            f"\r\n--{b}\r\n") + text_entity(body) + b"\r\n" + part + crlf(f"--{b}--\r\n")

    def deliver(self, data, msgid, rcpts=(ALIAS,), mail_from="sender@example.org"):
        assert deliver(port=self.env.port, msgid=msgid, data=data, rcpts=rcpts, mail_from=mail_from) == [250] * len(rcpts)

    def close(self):
        self.env.cleanup()
        for k in (self.alias, self.rita, self.mallory):
            k.close()
        subprocess.run(["rm", "-rf", self.tmp])


def participant(show, address):
    return next((p for p in show["participant_details"] if p["address"] == address), None)


def test_a_stranger_to_the_plus_address_or_naming_the_thread_is_unverified():
    w = World()
    try:
        w.env.start()
        w.deliver(w.mail("rita@example.org", "r1@example.org", key=w.rita.public()), "r1@example.org")
        # To security+1@ (case numbers are guessable), with her own key.
        w.deliver(w.mail("mallory@evil.example", "m1@evil.example", key=w.mallory.public()), "m1@evil.example",
                  rcpts=("security+1@example.com",))
        # Naming the case's Message-ID in References, from another address.
        w.deliver(w.mail("eve@evil.example", "e1@evil.example",
                         extra="References: <r1@example.org>\r\nIn-Reply-To: <r1@example.org>\r\n"), "e1@evil.example")
        w.env.stop()
        show = w.env.json("show", "1")
        assert len(show["messages"]) == 3, show["messages"]
        assert [m["unverified"] for m in show["messages"]] == [False, True, True]
        assert participant(show, "rita@example.org")["verified"] is True
        for who in ("mallory@evil.example", "eve@evil.example"):
            assert participant(show, who)["verified"] is False, show["participant_details"]
        details = [e["detail"] for e in show["events"] if e["kind"] == "unverified"]
        assert len(details) == 2, details
        # Her key is recorded, not pinned.
        keys = {(k["address"], k["pinned"]) for k in w.env.json("keys")}
        assert ("mallory@evil.example", False) in keys and ("rita@example.org", True) in keys, keys
        # The next reply goes to the reporter alone.
        w.env.casectl("reply", "1", "-m", "Thanks; fixed in 2.1.")
        reply = [r for r in w.env.json("outbox") if r["kind"] == "reply"][-1]
        assert reply["to"] == ["rita@example.org"], reply
        # Once an analyst adds her, she is a verified participant.
        w.env.casectl("participant", "1", "mallory@evil.example")
        assert participant(w.env.json("show", "1"), "mallory@evil.example")["verified"] is True
    finally:
        w.close()


def test_references_naming_two_cases_do_not_merge_them():
    w = World()
    try:
        w.env.start()
        w.deliver(w.mail("rita@example.org", "victim@example.org", subject="victim report"), "victim@example.org")
        w.deliver(w.mail("mallory@evil.example", "own@evil.example", subject="attacker report"), "own@evil.example")
        # From a throwaway address, and from her own: both cases named.
        refs = "References: <own@evil.example> <victim@example.org>\r\n"
        w.deliver(w.mail("throwaway@evil.example", "t1@evil.example", extra=refs), "t1@evil.example")
        w.deliver(w.mail("mallory@evil.example", "t2@evil.example",
                         extra="References: <victim@example.org> <own@evil.example>\r\n"), "t2@evil.example")
        w.env.stop()
        cases = w.env.json("list")
        assert sorted(c["id"] for c in cases) == [1, 2], cases
        victim = w.env.json("show", "1")
        assert victim["id"] == 1
        assert [p["address"] for p in victim["participant_details"] if p["verified"]] == ["rita@example.org"]
        assert participant(victim, "mallory@evil.example") is None or not participant(victim, "mallory@evil.example")["verified"]
        attacker = w.env.json("show", "2")
        assert attacker["id"] == 2
        # Her own follow-up lands in her own case; the analyst hears of the other.
        assert "t2@evil.example" in [m["message_id"] for m in attacker["messages"]]
        notes = [e["detail"] for e in attacker["events"] + victim["events"] if "not merged" in e["detail"]]
        assert notes, attacker["events"]
        w.env.casectl("reply", "1", "-m", "embargoed details", "--sign-only")
        reply = [r for r in w.env.json("outbox") if r["kind"] == "reply"][-1]
        assert reply["to"] == ["rita@example.org"], reply
    finally:
        w.close()


def test_a_key_from_mail_never_stands_in_for_another_address():
    w = World(extra_config='[digest]\nto = "vic@example.net"\n')
    fake = Keyring("Vic Victim <vic@example.net>", parent=w.tmp)
    try:
        w.env.start()
        w.deliver(w.mail("vic@example.net", "v1@example.net", subject="keyless report"), "v1@example.net")
        # Mallory opens her own case carrying a key whose user id is the victim's.
        w.deliver(w.mail("mallory@evil.example", "m1@evil.example", key=fake.public()), "m1@evil.example")
        w.env.stop()
        keys = [k for k in w.env.json("keys") if k["address"] == "vic@example.net"]
        assert keys and not any(k["pinned"] for k in keys), keys
        assert [k["offered_by"] for k in keys] == ["mallory@evil.example"], keys
        assert b"sent by mallory@evil.example" in w.env.casectl("keys").stdout
        p = w.env.casectl("reply", "1", "-m", "details", check=False)
        assert p.returncode == 4 and b"no usable key for vic@example.net" in p.stderr, (p.returncode, p.stderr)
        p = w.env.casectl("reply", "2", "--to", "vic@example.net", "-m", "details", check=False)
        assert p.returncode == 4 and b"no usable key" in p.stderr, (p.returncode, p.stderr)
        p = w.env.casectl("digest", "--send")
        assert b"signed, bare" in p.stdout, p.stdout
        assert not [r for r in w.env.json("outbox") if r["kind"] == "reply"]
    finally:
        fake.close()
        w.close()


AR_TOP = ("Authentication-Results: mx.example.com;\r\n dkim=pass header.d=example.org header.s=s1;\r\n"
          " spf=pass smtp.mailfrom=rita@example.org;\r\n dmarc=fail (p=reject) header.from=example.org\r\n")
AR_FORGED = "Authentication-Results: mx.example.com; dkim=pass; spf=pass; dmarc=pass header.from=example.org\r\n"


def test_authentication_results_of_the_receiving_mta_are_recorded_and_decide_pinning():
    w = World(case_extra='authserv_id = "mx.example.com"\n')
    try:
        w.env.start()
        # The MTA's header on top; the sender's forged one below it.
        w.deliver(AR_TOP.encode() + w.mail("rita@example.org", "a1@example.org", key=w.rita.public(),
                                            extra=AR_FORGED), "a1@example.org")
        # A topmost header from another server is not ours: nothing recorded.
        w.deliver(b"Authentication-Results: other.example; dmarc=pass\r\n" + AR_TOP.encode() +
                  w.mail("bob@example.org", "b1@example.org"), "b1@example.org")
        w.env.stop()
        first = w.env.json("show", "1")["messages"][0]
        assert first["auth"]["authserv_id"] == "mx.example.com", first.get("auth")
        assert (first["auth"]["dkim"], first["auth"]["spf"], first["auth"]["dmarc"]) == ("pass", "pass", "fail")
        assert w.env.json("show", "2")["messages"][0]["auth"] is None
        text = w.env.casectl("show", "1").stdout.decode()
        assert "dmarc=fail" in text, text
        # A forged From is nobody's, even when it opens a case.
        show = w.env.json("show", "1")
        assert show["messages"][0]["unverified"] is True
        assert participant(show, "rita@example.org")["verified"] is False
        # The From failed DMARC: the key it carried is not pinned.
        keys = [k for k in w.env.json("keys") if k["address"] == "rita@example.org"]
        assert keys and not any(k["pinned"] for k in keys), keys
    finally:
        w.close()


def test_a_reply_threads_under_the_reporters_own_mail_not_a_forgery():
    w = World(case_extra='authserv_id = "mx.example.com"\n')
    try:
        w.env.start()
        passed = "Authentication-Results: mx.example.com; dkim=pass; spf=pass; dmarc=pass\r\n"
        failed = "Authentication-Results: mx.example.com; dkim=none; spf=fail; dmarc=fail\r\n"
        w.deliver(passed.encode() + w.mail("rita@example.org", "r1@example.org"), "r1@example.org")
        # Someone else writing as Rita, after her.
        w.deliver(failed.encode() + w.mail("rita@example.org", "forged@evil.example",
                                            extra="References: <r1@example.org>\r\n"), "forged@evil.example")
        w.env.stop()
        show = w.env.json("show", "1")
        assert [m["unverified"] for m in show["messages"]] == [False, True]
        w.env.casectl("reply", "1", "-m", "thanks", "--sign-only")
        db = sqlite3.connect(w.env.db)
        try:
            refs = [r[0] for r in db.execute(
                "SELECT ref FROM message_refs r JOIN messages m ON m.id = r.message WHERE m.direction = 'out'")]
        finally:
            db.close()
        assert "r1@example.org" in refs and "forged@evil.example" not in refs, refs
    finally:
        w.close()


def test_variants_of_one_address_share_the_daily_cap_of_acknowledgements():
    w = World(extra_config="[ack]\nper_sender_per_day = 2\n")
    try:
        w.env.start()
        for i, frm in enumerate(['vic@example.net', '"vic"@example.net', 'vic+1@example.net', 'VIC@Example.NET',
                                 'vic+2@EXAMPLE.net']):
            w.deliver(w.mail(frm, f"v{i}@example.net", subject=f"report {i}"), f"v{i}@example.net")
        w.env.stop()
        assert len(w.env.json("list")) == 5
        # Each new case is acknowledged, until the cap, which every variant shares.
        acks = [r for r in w.env.json("outbox") if r["kind"] == "ack"]
        assert len(acks) == 2, acks
        assert len({a["case"] for a in acks}) == 2, acks
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
