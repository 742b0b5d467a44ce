"""PGP in, end to end through `casectl ingest` with real gpg keys
(ed25519/cv25519 and RSA 3072) made in temp GNUPGHOMEs."""

import os
import signal
import subprocess
import threading
import time

from harness import Env, run_tests
from lmtp_client import deliver, message
from pgp import (Keyring, autocrypt_header, crlf, gpg, headers, inline_encrypted, pgp_mime_encrypted,
                 pgp_mime_signed, text_entity)

ALIAS = "security@example.com"
RITA = "Rita Reporter <rita@example.org>"


class World:
    """The alias keyring (as the daemon's gpg.home) and a reporter who knows the alias key."""

    def __init__(self, reporter_known=True, algo="ed25519", gpg_extra=""):
        self.alias = Keyring(ALIAS)
        self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\n{gpg_extra}[ack]\nenabled = false\n')
        self.rita = Keyring(RITA, algo=algo)
        self.rita.import_key(self.alias.public())
        if reporter_known:
            self.alias.import_key(self.rita.public())

    def show(self, case=1):
        return self.env.json("show", str(case))

    def close(self):
        self.env.cleanup()
        self.alias.close()
        self.rita.close()


def test_encrypted_and_signed_by_known_key():
    w = World()
    try:
        inner = text_entity("The quux daemon overflows; secretword zyzzyva.\n")
        msg = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "enc1@example.org", inner, outer_subject="Report")
        r = w.env.json("ingest", input=msg)
        assert r["new_case"]
        m = w.show()["messages"][0]
        assert m["decryption"] == "ok", m
        assert m["encrypted"] is True and m.get("mixed") is False
        assert m["signature"] == "good"
        assert m["signer"] == w.rita.fpr.upper()
        assert "zyzzyva" in m["body"]
        # the word exists only inside the encryption, yet search finds it
        assert [c["id"] for c in w.env.json("search", "zyzzyva")] == [1]
        # the raw message is stored exactly as received
        raw = subprocess.run(["sqlite3", w.env.db, "SELECT hex(raw) FROM messages WHERE id = 1"],
                             capture_output=True, text=True).stdout.strip()
        assert bytes.fromhex(raw) == msg
    finally:
        w.close()


def test_signed_by_unknown_key():
    w = World(reporter_known=False)
    try:
        inner = text_entity("signed but the key is not known\n")
        w.env.json("ingest", input=pgp_mime_encrypted(w.rita, [ALIAS], RITA, "unk@example.org", inner))
        m = w.show()["messages"][0]
        assert m["decryption"] == "ok"
        assert m["signature"] == "unknown-key"
        assert m["signer"] is None
    finally:
        w.close()


def test_multipart_signed_good_and_tampered():
    w = World()
    try:
        inner = text_entity("Signed in the clear.\nLine two.\n")
        w.env.json("ingest", input=pgp_mime_signed(w.rita, RITA, "sig1@example.org", inner))
        m = w.show()["messages"][0]
        assert m["signature"] == "good", m
        assert m["signer"] == w.rita.fpr.upper()
        assert m["encrypted"] is False and m["decryption"] == "none"
        bad = pgp_mime_signed(w.rita, RITA, "sig2@example.org", inner, subject="other",
                              tamper=(b"Line two.", b"Line 2!!."))
        r = w.env.json("ingest", input=bad)
        m2 = w.show(r["case"])["messages"][0]
        assert m2["signature"] == "bad", m2
    finally:
        w.close()


def test_encrypted_to_another_key_is_stored_and_marked_failed():
    w = World()
    try:
        stranger = Keyring("Stranger <stranger@example.net>")
        w.rita.import_key(stranger.public())
        inner = text_entity("not for you\n")
        msg = pgp_mime_encrypted(w.rita, [stranger.fpr], RITA, "other@example.org", inner, outer_subject="hello")
        r = w.env.json("ingest", input=msg)
        assert r["new_case"]
        m = w.show()["messages"][0]
        assert m["decryption"] == "failed"
        assert m["encrypted"] is False
        # threading still works: a reply to it joins the case
        reply = headers(RITA, "Re: hello", "other2@example.org", "In-Reply-To: <other@example.org>\r\n") + b"\r\nping\r\n"
        assert w.env.json("ingest", input=reply)["case"] == r["case"]
        stranger.close()
    finally:
        w.close()


def test_corrupt_armor():
    w = World()
    try:
        inner = text_entity("x\n")
        msg = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "corrupt@example.org", inner)
        lines = msg.split(b"\r\n")
        # damage the middle of the armored block
        idx = next(i for i, l in enumerate(lines) if l.startswith(b"-----BEGIN PGP MESSAGE")) + 3
        lines[idx] = b"!!!!" + lines[idx][4:]
        w.env.json("ingest", input=b"\r\n".join(lines))
        m = w.show()["messages"][0]
        assert m["decryption"] == "failed"
    finally:
        w.close()


def test_inline_pgp_and_clearsigned():
    w = World()
    try:
        w.env.json("ingest", input=inline_encrypted(w.rita, [ALIAS], RITA, "inl@example.org", "inline secret glorp\n"))
        m = w.show()["messages"][0]
        assert m["decryption"] == "ok" and m["encrypted"] is True
        assert "glorp" in m["body"] and "BEGIN PGP" not in m["body"]
        assert m["signature"] == "good"
        clear = w.rita.clearsign(b"clearsigned words\n")
        msg = headers(RITA, "clear", "clr@example.org", "Content-Type: text/plain; charset=utf-8\r\n") + b"\r\n" + crlf(clear)
        r = w.env.json("ingest", input=msg)
        m2 = w.show(r["case"])["messages"][0]
        assert m2["signature"] == "good"
        assert "clearsigned words" in m2["body"]
    finally:
        w.close()


def test_inline_ciphertext_among_plain_text_is_kept_not_decrypted():
    """Text around the armour may be anyone's, wrapped around a captured
    message: the ciphertext is kept as it is (test_pgp_hostile.py has more)."""
    w = World()
    try:
        w.env.json("ingest", input=inline_encrypted(
            w.rita, [ALIAS], RITA, "mix@example.org", "the encrypted part\n",
            before="Plain text an attacker could have added\n\n", after="\nplain footer\n"))
        m = w.show()["messages"][0]
        assert m["encrypted"] is False and m["mixed"] is False and m["decryption"] == "none"
        assert "the encrypted part" not in m["body"] and "BEGIN PGP MESSAGE" in m["body"]
        assert m["decryption_error"] == "ciphertext not at the root; not decrypted"
    finally:
        w.close()


def test_attached_key_and_autocrypt_are_imported_and_pinned():
    w = World(reporter_known=False)
    try:
        b = "==keys=="
        msg = headers(RITA, "my key", "key1@example.org", f'Content-Type: multipart/mixed; boundary="{b}"\r\n') + crlf(
            f"\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nHere is my key.\r\n--{b}\r\n"
            "Content-Type: application/pgp-keys; name=\"key.asc\"\r\n\r\n") + crlf(w.rita.public()) + crlf(f"\r\n--{b}--\r\n")
        w.env.json("ingest", input=msg)
        listed = gpg(w.alias.home, "--with-colons", "--list-keys", w.rita.fpr, check=False)
        assert listed.returncode == 0
        ev = [e for e in w.show()["events"] if e["kind"] == "key"]
        assert any(w.rita.fpr.upper() in e["detail"] and "pinned" in e["detail"] for e in ev), ev

        ac = Keyring("Alice <alice@example.org>")
        msg2 = headers("Alice <alice@example.org>", "autocrypt", "ac@example.org",
                       autocrypt_header("alice@example.org", ac.public_binary())) + b"\r\nhello\r\n"
        r = w.env.json("ingest", input=msg2)
        assert gpg(w.alias.home, "--list-keys", ac.fpr, check=False).returncode == 0
        ev2 = [e for e in w.show(r["case"])["events"] if e["kind"] == "key"]
        assert any(ac.fpr.upper() in e["detail"] for e in ev2), ev2
        ac.close()
    finally:
        w.close()


def test_second_key_for_pinned_address_is_flagged():
    w = World(reporter_known=False)
    try:
        first = headers(RITA, "key", "k1@example.org", autocrypt_header("rita@example.org", w.rita.public_binary()))
        w.env.json("ingest", input=first + b"\r\nfirst\r\n")
        impostor = Keyring(RITA)
        second = headers(RITA, "Re: key", "k2@example.org",
                         "In-Reply-To: <k1@example.org>\r\n" + autocrypt_header("rita@example.org", impostor.public_binary()))
        w.env.json("ingest", input=second + b"\r\nsecond\r\n")
        ev = [e["detail"] for e in w.show()["events"] if e["kind"] == "key"]
        assert any("WARNING" in d and impostor.fpr.upper() in d and w.rita.fpr.upper() in d for d in ev), ev
        impostor.close()
    finally:
        w.close()


def test_protected_subject_with_case_tag_threads_into_the_case():
    w = World()
    try:
        first = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "ph1@example.org",
                                   text_entity("first\n", protected_subject="RCE in widget"), outer_subject="...")
        r = w.env.json("ingest", input=first)
        s = w.show(r["case"])
        assert s["subject"] == "RCE in widget"
        assert s["messages"][0]["subject"] == "RCE in widget"
        follow = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "ph2@example.org",
                                    text_entity("more\n", protected_subject=f"Re: [CASE#{r['case']}] RCE in widget"),
                                    outer_subject="...")
        r2 = w.env.json("ingest", input=follow)
        assert r2["case"] == r["case"] and not r2["new_case"]
    finally:
        w.close()


def test_alias_only_in_bcc_still_decrypts():
    w = World()
    try:
        inner = text_entity("bcc'd report\n")
        msg = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "bcc@example.org", inner)
        msg = msg.replace(b"To: security@example.com", b"To: vendor@example.net")
        w.env.json("ingest", input=msg)
        m = w.show()["messages"][0]
        assert m["decryption"] == "ok" and "bcc'd report" in m["body"]
    finally:
        w.close()


def test_rsa3072_and_a_10mb_encrypted_attachment():
    w = World(algo="rsa3072")
    try:
        blob = os.urandom(10 * 1024 * 1024)
        import base64
        b64 = base64.encodebytes(blob)
        b = "==inner=="
        inner = crlf(f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n'
                     "Content-Type: text/plain\r\n\r\nsee the dump\r\n"
                     f"--{b}\r\nContent-Type: application/octet-stream\r\n"
                     "Content-Disposition: attachment; filename=\"core.dump\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n") + crlf(b64) + crlf(f"--{b}--\r\n")
        msg = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "big@example.org", inner)
        w.env.json("ingest", input=msg)
        m = w.show()["messages"][0]
        assert m["decryption"] == "ok" and m["signature"] == "good"
        att = [a for a in m["attachments"] if a["filename"] == "core.dump"]
        assert len(att) == 1 and att[0]["size"] == len(blob) and att[0]["encrypted"] is True
        import hashlib
        assert att[0]["sha256"] == hashlib.sha256(blob).hexdigest()
    finally:
        w.close()


def test_through_lmtp_decrypted_verified_and_searchable():
    w = World()
    try:
        w.env.start()
        inner = text_entity("Delivered over LMTP; secretword quokka77.\n", protected_subject="Real subject via LMTP")
        msg = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "lmtp1@example.org", inner)
        assert deliver(port=w.env.port, data=msg) == [250]
        m = w.show()["messages"][0]
        assert (m["decryption"], m["signature"], m["signer"]) == ("ok", "good", w.rita.fpr.upper())
        assert m["subject"] == "Real subject via LMTP" and "quokka77" in m["body"]
        assert [c["id"] for c in w.env.json("search", "quokka77")] == [1]
        w.env.stop()
        assert "quokka77" not in w.env.log() and "Real subject" not in w.env.log()
    finally:
        w.close()


def agent_pid(home):
    out = subprocess.run(["pgrep", "-f", f"gpg-agent --homedir {home}"], capture_output=True, text=True).stdout.split()
    assert out, "no gpg-agent for " + home
    return int(out[0])


def test_a_hung_gpg_agent_defers_pgp_mail_and_blocks_nothing_else():
    """gpg.timeout = 2: with the alias's gpg-agent stopped (SIGSTOP), PGP mail
    gets 451 after the timeout, so the MTA retries; plain mail is delivered
    meanwhile; once the agent runs again the retry is decrypted."""
    w = World(gpg_extra="timeout = 2\n")
    try:
        w.env.start()
        first = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "warm@example.org", text_entity("starts the agent\n"))
        assert deliver(port=w.env.port, data=first) == [250]
        agent = agent_pid(w.alias.home)
        os.kill(agent, signal.SIGSTOP)
        try:
            hung = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "hung@example.org", text_entity("word wombat31\n"))
            result = {}

            def pgp_delivery():
                t0 = time.monotonic()
                result["codes"] = deliver(port=w.env.port, data=hung)
                result["seconds"] = time.monotonic() - t0

            t = threading.Thread(target=pgp_delivery)
            t.start()
            time.sleep(0.5)  # the PGP message is now waiting on the agent
            t0 = time.monotonic()
            assert deliver(port=w.env.port, msgid="plain@example.org", data=message("plain@example.org")) == [250]
            plain_seconds = time.monotonic() - t0
            t.join(30)
            assert not t.is_alive()
            assert result["codes"] == [451], result
            assert 1.5 < result["seconds"] < 10, result
            assert plain_seconds < 1.5, plain_seconds
        finally:
            os.kill(agent, signal.SIGCONT)
        # list puts the most recently active case first: compare as a set.
        assert sorted(m["message_id"] for c in w.env.json("list") for m in w.show(c["id"])["messages"]) == \
            ["plain@example.org", "warm@example.org"]
        # The MTA's retry, with the agent back.
        assert deliver(port=w.env.port, data=hung) == [250]
        hits = w.env.json("search", "wombat31")
        assert len(hits) == 1 and w.show(hits[0]["id"])["messages"][0]["decryption"] == "ok"
        w.env.stop()
        assert "gpg did not finish within 2 s" in w.env.log()
    finally:
        w.close()


def test_first_good_signature_pins_the_signer_and_a_different_signer_is_flagged():
    w = World()  # the operator imported Rita's key; no key travels with the mail
    impostor = Keyring(RITA)
    try:
        w.alias.import_key(impostor.public())
        msg = pgp_mime_signed(w.rita, RITA, "s1@example.org", text_entity("signed report\n"))
        w.env.json("ingest", input=msg)
        keys = w.env.json("keys")
        assert [(k["address"], k["fingerprint"], k["source"], k["pinned"]) for k in keys] == \
            [("rita@example.org", w.rita.fpr.upper(), "signature", True)], keys
        other = pgp_mime_signed(impostor, RITA, "s2@example.org", text_entity("also me, honest\n"))
        other = other.replace(b"Message-ID: <s2@example.org>", b"Message-ID: <s2@example.org>\r\nIn-Reply-To: <s1@example.org>")
        w.env.json("ingest", input=other)
        ev = [e["detail"] for e in w.show()["events"] if e["kind"] == "key"]
        assert any("WARNING" in d and impostor.fpr.upper() in d and w.rita.fpr.upper() in d for d in ev), ev
        # The pin stays with the first key.
        assert [k["fingerprint"] for k in w.env.json("keys") if k["pinned"]] == [w.rita.fpr.upper()]
    finally:
        impostor.close()
        w.close()


def parse_workers(daemon_pid):
    """The daemon's parse worker processes (cased --parse-worker)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == daemon_pid and b"--parse-worker" in cmd:
            found.append(int(pid))
    return found


def test_parse_workers_hold_no_client_connections_and_are_replaced_when_killed():
    """PGP mail is decrypted in single-threaded worker processes (parse_worker.hpp).
    They inherit nothing of the daemon's but their socket; one killed between
    messages is replaced without costing a delivery; all are gone after SIGTERM."""
    w = World()
    try:
        daemon = w.env.start()
        for i in range(4):  # two sessions at once reach both parser threads
            msgs = [pgp_mime_encrypted(w.rita, [ALIAS], RITA, f"w{i}{j}@example.org", text_entity(f"word kiwi{i}{j}\n"))
                    for j in range(2)]
            results = [None, None]
            threads = [threading.Thread(target=lambda j=j: results.__setitem__(j, deliver(port=w.env.port, data=msgs[j])))
                       for j in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert results == [[250], [250]], results
        workers = parse_workers(daemon.pid)
        assert 1 <= len(workers) <= max(2, os.cpu_count()), workers
        for pid in workers:
            fds = sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
            assert fds == [0, 1, 2, 3], (pid, fds)  # no listener, no client connection, no database
            assert os.readlink(f"/proc/{pid}/fd/3").startswith("socket:")
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        after = pgp_mime_encrypted(w.rita, [ALIAS], RITA, "after@example.org", text_entity("word walrus5\n"))
        assert deliver(port=w.env.port, data=after) == [250]
        hits = w.env.json("search", "walrus5")
        assert len(hits) == 1 and w.show(hits[0]["id"])["messages"][0]["decryption"] == "ok"
        # Plain mail never waits for a worker.
        assert deliver(port=w.env.port, msgid="plain@example.org", data=message("plain@example.org")) == [250]
        live = parse_workers(daemon.pid)
        assert live and not set(live) & set(workers), (workers, live)
        w.env.stop()
        for pid in live:
            assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} outlived the daemon"
        assert "walrus5" not in w.env.log() and "kiwi" not in w.env.log()
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
