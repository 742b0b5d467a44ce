"""Coordinating a report with two vendors, end to end, with real peers: a
report arrives; two vendors from the book are notified, each by its own
mail through the STARTTLS SMTP sink, encrypted to that vendor's key only
and carrying nothing of the reporter's; Acme replies (encrypted, over LMTP,
to its alias+ID.acme address) and is recorded as affected with a
statement; Beta's notification bounces (a DSN), so Beta is phoned; eight
days on, the digest flags Beta as notified without a reply and its contact
as bouncing, and does not flag Acme."""

import email
import email.policy
import os
import re
import subprocess
import time

from harness import need_test_hooks, run_tests, wait_for
from lmtp_client import deliver
from pgp import Keyring, gpg, pgp_mime_encrypted, text_entity
from test_outbound import World, wait_for_mail

REPORT_SECRET = "zebra42"  # in the reporter's report only: must never reach a vendor
ACME = "Acme PSIRT <psirt@acme.example>"
BETA = "Beta Security <sec@beta.example>"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def encrypted_to(raw):
    """The key ids a PGP/MIME mail is encrypted to (gpg --list-packets, no key needed)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/encrypted", msg.get_content_type()
    cipher = msg.get_payload()[1].get_payload(decode=True)
    p = subprocess.run(["gpg", "--batch", "--list-packets", "--homedir", "/nonexistent"], input=cipher,
                       capture_output=True, timeout=60)
    return set(re.findall(rb"pubkey enc packet: version \d+, algo \d+, keyid ([0-9A-F]{16})", p.stdout + p.stderr))


def subkey_ids(keyring):
    out = gpg(keyring.home, "--with-colons", "--list-keys", keyring.fpr).stdout.decode()
    return {line.split(":")[4].encode() for line in out.splitlines() if line.startswith("sub:")}


def decrypt(keyring, raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    cipher = msg.get_payload()[1].get_payload(decode=True)
    return gpg(keyring.home, "--decrypt", input=cipher).stdout


def dsn_for(message_id, recipient):
    return (b"From: MAILER-DAEMON@mx.beta.example\r\nTo: security@example.com\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-beta@mx.beta.example>\r\n"
            b"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
            b"--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            b"--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.beta.example\r\n\r\n"
            b"Final-Recipient: rfc822; " + recipient.encode() + b"\r\nAction: failed\r\nStatus: 5.1.1\r\n"
            b"--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: security@example.com\r\n"
            b"Message-ID: " + message_id.encode() + b"\r\nSubject: [CASE#1] Encrypted message\r\n--dsn--\r\n")


def test_report_two_vendors_one_answers_one_bounces_and_the_digest_flags_the_silent_one():
    if not need_test_hooks("the vendor scenario (the digest eight days on needs CASED_NOW)"):
        return
    w = World(extra_config="[digest]\nstale_days = 7\nto = \"psirt-team@example.com\"\n")
    acme, beta = Keyring(ACME, parent=w.tmp), Keyring(BETA, parent=w.tmp)
    try:
        w.smtp.start()
        w.env.start()
        env = w.env
        # The book: both vendors with their keys.
        for name, k, contact in (("acme", acme, "psirt@acme.example"), ("beta", beta, "sec@beta.example")):
            path = os.path.join(w.tmp, f"{name}.asc")
            with open(path, "wb") as f:
                f.write(k.public())
            env.casectl("vendor", "add", name, "--contact", contact, "--key", path)
            k.import_key(w.alias.public())

        # 1. The report arrives (with the reporter's key), over LMTP.
        assert deliver(port=env.port, msgid="r1@example.org",
                       data=w.report(body=f"The widget overflows; {REPORT_SECRET}.\n")) == [250]
        wait_for(lambda: len(env.json("list")) == 1, 30, "the report's case")
        wait_for_mail(w.smtp, 1)  # the acknowledgement to the reporter
        acked = len(w.smtp.messages())

        # 2. Both vendors notified: one mail each, to its contacts only.
        env.casectl("notify", "1", "acme", "beta", "-m", "A heap overflow in widget 2.1; details inside.")
        wait_for_mail(w.smtp, acked + 2)
        sent = {tuple(e["to"]): raw for raw, e in w.smtp.messages()[acked:]}
        assert set(sent) == {("psirt@acme.example",), ("sec@beta.example",)}, list(sent)
        notes = {}
        for (to,), raw in sent.items():
            vendor, other = (acme, beta) if to == "psirt@acme.example" else (beta, acme)
            name = "acme" if vendor is acme else "beta"
            outer = email.message_from_bytes(raw)
            assert outer["Reply-To"] == f"security+1.{name}@example.com", outer["Reply-To"]
            # Encrypted to this vendor's key (and the alias's own, for the team's
            # copy) only: not the other vendor's, not the reporter's.
            to_keys = encrypted_to(raw)
            assert subkey_ids(vendor) <= to_keys <= subkey_ids(vendor) | subkey_ids(w.alias), (name, to_keys)
            assert not to_keys & (subkey_ids(other) | subkey_ids(w.rita)), (name, to_keys)
            assert gpg(other.home, "--decrypt", input=email.message_from_bytes(raw, policy=email.policy.compat32)
                       .get_payload()[1].get_payload(decode=True), check=False).returncode != 0
            plain = decrypt(vendor, raw)
            assert b"heap overflow in widget 2.1" in plain, plain
            for leak in (b"rita@example.org", REPORT_SECRET.encode()):
                assert leak not in raw and leak not in plain, (name, leak)
            notes[name] = outer["Message-ID"]

        # 3. Acme answers, encrypted, to its own address for this case.
        inner = text_entity("We are affected; a fix ships in widget 2.1.1.\n")
        answer = pgp_mime_encrypted(acme, [w.alias.fpr], ACME, "acme-1@acme.example", inner,
                                    extra=f"In-Reply-To: {notes['acme']}\r\n")
        assert deliver(port=env.port, msgid="acme-1@acme.example", rcpts=("security+1.acme@example.com",),
                       data=answer, mail_from="psirt@acme.example") == [250]
        wait_for(lambda: any(m.get("party") == "vendor:acme" for m in env.json("show", "1")["messages"]), 30,
                 "Acme's answer in case 1 as Acme's")
        env.casectl("vendor-status", "1", "acme", "affected", "--statement", "Fixed in widget 2.1.1.")

        # 4. Beta's notification bounces; Beta is phoned instead.
        r = env.json("ingest", input=dsn_for(notes["beta"], "sec@beta.example"))
        assert r["case"] == 1, r
        env.casectl("outreach", "1", "beta", "--via", "phone", "-m", "Called the PSIRT line; left a message.")

        shown = env.json("show", "1")
        vendors = {v["name"]: v for v in shown["vendors"]}
        assert set(vendors) == {"acme", "beta"}, vendors
        a, b = vendors["acme"], vendors["beta"]
        assert a["notified"] and a["last_reply"], a
        assert [(s["cve"], s["state"], s["statement"]) for s in a["status"]] == [
            (None, "affected", "Fixed in widget 2.1.1.")], a
        assert b["notified"] and not b["last_reply"], b
        # "No reply yet" is not an answer: Beta stays unknown.
        assert [s["state"] for s in b["status"]] in (["unknown"], []), b
        assert [o["via"] for o in b["outreach"]] == ["mail", "phone"], b["outreach"]
        mail, phone = b["outreach"]
        assert mail["outbox"] and mail["outbox"]["status"] == "sent" and mail["delivery"] == "bounced", mail
        assert phone["outbox"] is None and "PSIRT line" in phone["text"], phone
        assert [o["via"] for o in a["outreach"]] == ["mail"] and a["outreach"][0]["delivery"] is None, a
        # show keeps each party's conversation apart: Acme's answer is Acme's.
        inbound = [m for m in shown["messages"] if m["direction"] == "in"]
        assert inbound[0]["party"] in ("reporter", "unverified"), inbound[0]
        assert [m["party"] for m in inbound if m["message_id"] == "acme-1@acme.example"] == ["vendor:acme"], inbound

        # 5. Eight days on, the digest flags Beta (notified, no reply) and its bouncing contact; not Acme.
        later = rfc3339(time.time() + 8 * 86400)
        digest = env.json("digest", env={"CASED_NOW": later})
        section = digest["vendors"]
        assert [(v["case"], v["vendor"]) for v in section["silent"]] == [(1, "beta")], section
        # The contact, marked in the book (no case), and case 1's notification that bounced.
        assert sorted((v["case"] or 0, v["vendor"], v["address"]) for v in section["bouncing"]) == [
            (0, "beta", "sec@beta.example"), (1, "beta", "sec@beta.example")], section
        text = env.casectl("digest", env={"CASED_NOW": later}).stdout.decode()
        assert "beta" in text and "sec@beta.example" in text and "acme" not in text, text
    finally:
        acme.close()
        beta.close()
        w.close()


if __name__ == "__main__":
    run_tests(globals())
