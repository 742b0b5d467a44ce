"""Hostile PGP mail, end to end with real gpg keys made in temp GNUPGHOMEs:
captured ciphertext sent back inside someone else's mail, compression bombs,
session-key packet floods, a gpg that stalls on one message, and signatures
that cover only part of a message or name someone other than From."""

import base64
import os
import signal
import subprocess
import threading
import time

from harness import Env, run_tests, wait_for
from lmtp_client import deliver
from pgp import Keyring, crlf, gpg, headers, inline_encrypted, pgp_mime_encrypted, pgp_mime_signed, text_entity

ALIAS = "security@example.com"
RITA = "Rita Reporter <rita@example.org>"
MALLORY = "Mallory <mallory@example.net>"
SECRET = "okapi17"
VICTIM_SUBJECT = "Victim secret subject"


class World:
    """The alias keyring (the daemon's gpg.home) and a reporter who knows the alias key."""

    def __init__(self, lmtp_extra="", gpg_extra=""):
        self.alias = Keyring(ALIAS)
        self.env = Env(extra_config=f'{lmtp_extra}\n[gpg]\nhome = "{self.alias.home}"\n{gpg_extra}[ack]\nenabled = false\n')
        self.rita = Keyring(RITA)
        self.rita.import_key(self.alias.public())
        self.alias.import_key(self.rita.public())

    def show(self, case=1):
        return self.env.json("show", str(case))

    def victim_report(self):
        """A report Rita encrypted to the alias, as an attacker may have captured it."""
        inner = text_entity(f"The widget overflows; secretword {SECRET}.\n", protected_subject=VICTIM_SUBJECT)
        return pgp_mime_encrypted(self.rita, [ALIAS], RITA, "victim@example.org", inner, outer_subject="...")

    def close(self):
        self.env.cleanup()
        self.alias.close()
        self.rita.close()


def entity_of(message):
    """The MIME entity of a whole message: its Content-Type and its body."""
    head, body = message.split(b"\r\n\r\n", 1)
    ct = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-type:")]
    return ct[0] + b"\r\n\r\n" + body


def mallory_mixed(msgid, *parts):
    b = "==mallory=="
    out = headers(MALLORY, "Question about your product", msgid, f'Content-Type: multipart/mixed; boundary="{b}"\r\n')
    out += crlf(f"\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nHello, could you have a look at this?\r\n")
    for p in parts:
        out += crlf(f"--{b}\r\n") + p + b"\r\n"
    return out + crlf(f"--{b}--\r\n")


def assert_not_decrypted(w, r):
    s = w.show(r["case"])
    m = s["messages"][0]
    assert m["decryption"] == "none", m
    assert "not at the root" in (m["decryption_error"] or ""), m
    assert m["subject"] == "Question about your product" == s["subject"], (m["subject"], s["subject"])
    assert SECRET not in m["body"] and VICTIM_SUBJECT not in m["body"], m["body"]
    assert w.env.json("search", SECRET) == []
    shown = w.env.casectl("show", str(r["case"])).stdout.decode()
    assert "not decrypted" in shown and SECRET not in shown and VICTIM_SUBJECT not in shown, shown


def test_captured_report_inside_a_multipart_mixed_is_not_decrypted():
    w = World()
    try:
        r = w.env.json("ingest", input=mallory_mixed("wrap@example.net", entity_of(w.victim_report())))
        assert_not_decrypted(w, r)
    finally:
        w.close()


def test_captured_report_forwarded_as_message_rfc822_is_not_decrypted():
    w = World()
    try:
        forwarded = b"Content-Type: message/rfc822\r\n\r\n" + w.victim_report()
        r = w.env.json("ingest", input=mallory_mixed("fwd@example.net", forwarded))
        assert_not_decrypted(w, r)
    finally:
        w.close()


def test_captured_inline_ciphertext_quoted_or_among_paragraphs_is_not_decrypted():
    w = World()
    try:
        armored = w.rita.encrypt(f"inline report {SECRET}\n".encode(), [ALIAS])
        quoted = b"".join(b"> " + line + b"\n" for line in armored.splitlines())
        body = b"Did you send this?\n\n" + quoted + b"\nThanks\n"
        msg = headers(MALLORY, "Question about your product", "quoted@example.net",
                      "Content-Type: text/plain; charset=utf-8\r\n") + b"\r\n" + crlf(body)
        assert_not_decrypted(w, w.env.json("ingest", input=msg))
        between = inline_encrypted(w.rita, [ALIAS], MALLORY, "between@example.net", f"inline report {SECRET}\n",
                                   subject="Question about your product",
                                   before="Plain text an attacker added\n\n", after="\nplain footer\n")
        assert_not_decrypted(w, w.env.json("ingest", input=between))
    finally:
        w.close()


def test_ciphertext_as_the_only_part_of_a_multipart_mixed_is_decrypted():
    w = World()
    try:
        b = "==only=="
        msg = headers(RITA, "...", "only@example.org", f'Content-Type: multipart/mixed; boundary="{b}"\r\n') + crlf(
            f"\r\n--{b}\r\n") + entity_of(w.victim_report()) + crlf(f"\r\n--{b}--\r\n")
        r = w.env.json("ingest", input=msg)
        m = w.show(r["case"])["messages"][0]
        assert m["decryption"] == "ok" and SECRET in m["body"] and m["subject"] == VICTIM_SUBJECT, m
    finally:
        w.close()


def pgp_mime_around(ciphertext, frm, msgid, subject="..."):
    b = "==enc=="
    return headers(frm, subject, msgid,
                   f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="{b}"\r\n') + crlf(
        f"\r\n--{b}\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--{b}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n") + crlf(ciphertext) + crlf(f"\r\n--{b}--\r\n")


def test_compression_bomb_stops_at_the_message_size_limit():
    """1 MiB max_message_size; 20 MiB of zeros, bzip2-compressed by gpg to a
    few hundred bytes: decryption stops at the limit and the message is
    stored as failed, with the reason."""
    w = World(lmtp_extra="max_message_size = 1048576\n")
    try:
        inner = (b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=zeros\r\n\r\n"
                 + b"\0" * (20 << 20))
        cipher = gpg(w.rita.home, "--armor", "--encrypt", "--recipient", ALIAS, "--compress-algo", "bzip2", "-z", "9",
                     input=inner).stdout
        assert len(cipher) < 4096, len(cipher)
        w.env.start()
        assert deliver(port=w.env.port, data=pgp_mime_around(cipher, RITA, "bomb@example.org")) == [250]
        m = w.show()["messages"][0]
        assert m["decryption"] == "failed", m["decryption"]
        assert "larger than 1048576 bytes" in m["decryption_error"], m["decryption_error"]
        assert all(a["size"] < (1 << 20) for a in m["attachments"]), m["attachments"]
        size = subprocess.run(["sqlite3", w.env.db, "SELECT sum(length(body)) FROM message_text"],
                              capture_output=True, text=True).stdout.strip()
        assert int(size or 0) < (1 << 20), size
    finally:
        w.close()


def packet_length(data):
    """Header size and body length of the first OpenPGP packet (definite lengths only)."""
    ctb = data[0]
    if ctb & 0x40:
        l1 = data[1]
        if l1 < 192:
            return 2, l1
        if l1 < 224:
            return 3, ((l1 - 192) << 8) + data[2] + 192
        return 6, int.from_bytes(data[2:6], "big")
    n = {0: 1, 1: 2, 2: 4}[ctb & 3]
    return 1 + n, int.from_bytes(data[1:1 + n], "big")


def armor(binary):
    b64 = base64.b64encode(binary).decode()
    lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN PGP MESSAGE-----\n\n{lines}\n-----END PGP MESSAGE-----\n".encode()


def key_packet_flood(w, copies):
    """A real message to the alias led by `copies` corrupted copies of its
    public-key encrypted session key packet (all naming the alias key)."""
    binary = gpg(w.rita.home, "--encrypt", "--recipient", ALIAS, input=text_entity("flooded\n")).stdout
    head, length = packet_length(binary)
    pkesk = binary[:head + length]
    bad = bytearray(pkesk)
    bad[-2] ^= 0x55
    bad[-1] ^= 0xAA
    return armor(bytes(bad) * copies + binary)


def test_a_session_key_packet_flood_is_refused_before_gpg_and_stored_failed():
    """gpg.timeout = 2; 3,000 corrupted PKESK packets to the alias key kept
    gpg busy past the limit (451, the MTA resends for ever). Counted before
    gpg: stored at once as failed. A few such packets still decrypt."""
    w = World(gpg_extra="timeout = 2\n")
    try:
        w.env.start()
        t0 = time.monotonic()
        assert deliver(port=w.env.port, data=pgp_mime_around(key_packet_flood(w, 3000), RITA, "flood@example.org")) == [250]
        took = time.monotonic() - t0
        m = w.show()["messages"][0]
        assert m["decryption"] == "failed" and "session key packets" in m["decryption_error"], m
        assert took < 1.5, took
        assert deliver(port=w.env.port, data=pgp_mime_around(key_packet_flood(w, 5), RITA, "few@example.org")) == [250]
        hits = w.env.json("search", "flooded")
        assert len(hits) == 1 and w.show(hits[0]["id"])["messages"][0]["decryption"] == "ok"
    finally:
        w.close()


def gpg_decrypting(home, op=b"--decrypt"):
    """Pids of gpg processes running `op` with `home` (never its gpg-agent)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if op in cmd and home.encode() in cmd and not cmd[0].endswith(b"gpg-agent"):
            found.append(int(pid))
    return found


def test_gpg_stalled_on_a_message_while_the_agent_answers_stores_it_failed():
    """gpg.timeout = 2: the gpg decrypting one message is stopped (as a
    message that makes gpg work for ever would hold it); gpg-agent still
    answers, so the message is at fault: stored as failed, 250, no retry."""
    w = World(gpg_extra="timeout = 2\n")
    stopped = []
    try:
        w.env.start()
        blob = base64.encodebytes(os.urandom(6 << 20)).decode()
        inner = crlf("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + blob)
        cipher = gpg(w.rita.home, "--armor", "--encrypt", "--recipient", ALIAS, "-z", "0", input=inner).stdout
        msg = pgp_mime_around(cipher, RITA, "stall@example.org")
        result = {}

        def send():
            t0 = time.monotonic()
            result["codes"] = deliver(port=w.env.port, data=msg)
            result["seconds"] = time.monotonic() - t0

        t = threading.Thread(target=send)
        t.start()

        def catch():
            for pid in gpg_decrypting(w.alias.home):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            return bool(stopped)

        wait_for(catch, 30, "gpg decrypting the message")
        t.join(30)
        assert not t.is_alive()
        assert result["codes"] == [250], result
        assert result["seconds"] < 10, result
        m = w.show()["messages"][0]
        assert m["decryption"] == "failed" and "in time" in m["decryption_error"], m
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        w.close()


def process_state(pid):
    """The state letter of /proc/PID/stat ("T" stopped), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def test_many_parts_that_each_stall_gpg_cost_one_time_limit_in_all():
    """gpg.timeout = 2; 25 signed parts, the gpg verifying each one stopped:
    one part costing the time limit was 451 for all of them (the worker's
    deadline passed). Once one operation on a message times out while
    gpg-agent answers, no more gpg runs for that message: 250, stored."""
    w = World(gpg_extra="timeout = 2\n")
    stopped, done = set(), threading.Event()

    def stopper():
        while not done.is_set():
            for pid in gpg_decrypting(w.alias.home, b"--verify"):
                if pid not in stopped:
                    os.kill(pid, signal.SIGSTOP)
                    stopped.add(pid)
            time.sleep(0.002)

    t = threading.Thread(target=stopper)
    try:
        parts = [entity_of(pgp_mime_signed(w.rita, RITA, f"p{i}@example.org", text_entity(f"part {i}\n")))
                 for i in range(25)]
        msg = mallory_mixed("stalls@example.net", *parts)
        w.env.start()
        t.start()
        t0 = time.monotonic()
        assert deliver(port=w.env.port, data=msg) == [250]
        took = time.monotonic() - t0
        assert took < 10, took
        # Count the gpg processes that stalled: a SIGSTOP can also reach a
        # gpg that had already answered and was exiting (it is gone or a
        # zombie then, not stopped), which is no second run after the time-out.
        stalled = {pid for pid in stopped if process_state(pid) == "T"}
        assert len(stalled) == 1, (stopped, stalled)
        m = w.show()["messages"][0]
        # The stopper polls: a part verified before it caught the first gpg
        # counts as a good signature over that part only, hence "partial".
        assert m["signature"] in ("bad", "partial"), m["signature"]
    finally:
        done.set()
        if t.is_alive():
            t.join()
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        w.close()


def test_unsigned_line_above_a_clearsigned_block_is_partial_and_labelled():
    w = World()
    try:
        clear = w.rita.clearsign(b"The widget overflows at offset 12.\n")
        body = b"Send all future details to mallory@example.net\n\n" + clear
        msg = headers(RITA, "report", "part@example.org", "Content-Type: text/plain; charset=utf-8\r\n") + b"\r\n" + crlf(body)
        w.env.json("ingest", input=msg)
        m = w.show()["messages"][0]
        assert m["signature"] == "partial", m["signature"]
        assert m["signer"] == w.rita.fpr.upper() and m["signer_matches_from"] is True, m
        assert "[UNSIGNED part]\nSend all future details" in m["body"], m["body"]
        assert "[signed part]\nThe widget overflows" in m["body"], m["body"]
        shown = w.env.casectl("show", "1").stdout.decode()
        assert "signature partial" in shown and "[UNSIGNED part]" in shown, shown
    finally:
        w.close()


def test_multipart_signed_next_to_unsigned_siblings_is_partial():
    w = World()
    try:
        signed = pgp_mime_signed(w.rita, RITA, "x@example.org", text_entity("Signed words.\n"))
        b = "==outer=="
        msg = headers(RITA, "report", "sib@example.org", f'Content-Type: multipart/mixed; boundary="{b}"\r\n') + crlf(
            f"\r\n--{b}\r\n") + entity_of(signed) + crlf(
            f"\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nUnsigned words added later.\r\n--{b}--\r\n")
        w.env.json("ingest", input=msg)
        m = w.show()["messages"][0]
        assert m["signature"] == "partial", m["signature"]
        assert "[UNSIGNED part]\nUnsigned words" in m["body"] and "[signed part]\nSigned words" in m["body"], m["body"]
        whole = pgp_mime_signed(w.rita, RITA, "whole@example.org", text_entity("All signed.\n"), subject="whole")
        r = w.env.json("ingest", input=whole)
        m2 = w.show(r["case"])["messages"][0]
        assert m2["signature"] == "good" and m2["signer_matches_from"] is True and "[signed part]" not in m2["body"], m2
    finally:
        w.close()


def test_signer_whose_user_ids_do_not_name_from_is_shown():
    w = World()
    try:
        msg = pgp_mime_signed(w.rita, MALLORY, "mm@example.net", text_entity("Signed by Rita, sent as Mallory.\n"))
        w.env.json("ingest", input=msg)
        m = w.show()["messages"][0]
        assert m["signature"] == "good" and m["signer"] == w.rita.fpr.upper(), m
        assert m["signer_matches_from"] is False, m
        assert "signer does not match From" in (m["problems"] or ""), m
        shown = w.env.casectl("show", "1").stdout.decode()
        assert "does not name the From address" in shown, shown
        plain = headers(RITA, "plain", "plain@example.org") + b"\r\nunsigned\r\n"
        r = w.env.json("ingest", input=plain)
        assert w.show(r["case"])["messages"][0]["signer_matches_from"] is None
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
