"""PGP/MIME composed by a real mail client: neomutt (with GPGME) writes the
reports, cased reads them through `casectl ingest` and over LMTP.

How neomutt is run, and why not in batch mode:

- neomutt's batch mode (stdin not a terminal, e.g. `neomutt -s ... < body`)
  turns cryptography off. Its manual says so ("Encryption and Signing": "In
  batch mode, cryptographic operations are disabled"), and send/send.c only
  applies $crypt_autosign/$crypt_autoencrypt when SEND_BATCH is not set. Tried
  here with neomutt 20220429 (Debian 12): with the very muttrc below, batch mode
  hands the sendmail wrapper a plain text/plain message. Queued keystrokes
  (`-e "push <send-message>"`) do not help either: neomutt flushes its input
  buffer before composing.
- So neomutt runs unattended in its ordinary interactive mode on a pseudo
  terminal that this file opens: `neomutt -n -F muttrc -H draft`, where the
  draft holds To, Subject and the body; $auto_edit + $edit_headers skip the
  To/Subject prompts; $editor is /bin/true; and `send2-hook . "push
  <send-message>"` presses "send" in the compose screen once the (no-op) editor
  has run. Nobody types anything; the pty's output is drained and kept for the
  failure message, and every run has a time limit.
- The crypto is neomutt's own, from its settings: crypt_use_gpgme,
  crypt_autosign, crypt_autoencrypt, pgp_sign_as/pgp_default_key = the
  reporter's key, crypt_protected_headers_write with the stand-in subject
  "...". $sendmail is a small script that writes the message to a file; the
  test then hands those bytes to cased.
- Trust: the reporter's gpg.conf is left at the default trust model; the
  reporter lsigns (local, non-exportable signature) the alias key, as a person
  who checked the fingerprint would, so the key is fully valid and neomutt
  uses it without asking "key is not valid, use it anyway?".

The message neomutt writes has LF line ends; `casectl ingest` gets it as is
(a local delivery pipe), LMTP gets it with CRLF, as an MTA sends it."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import tempfile
import termios
import time

from harness import Env, run_tests
from lmtp_client import deliver
from pgp import Keyring, gpg

ALIAS = "security@example.com"
RITA = "Rita Reporter <rita@example.org>"
NEOMUTT = os.environ.get("NEOMUTT_BIN", "neomutt")


def screen_text(raw):
    """The pty output without escape sequences, for failure messages."""
    text = re.sub(rb"\x1b(\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[=>])", b" ", raw)
    return re.sub(rb"[\x00-\x08\x0e-\x1f]", b"", text).decode(errors="replace")[-1500:]


class Mutt:
    """neomutt set up for one reporter Keyring; send() returns the bytes it hands to sendmail."""

    def __init__(self, reporter, sign=True, encrypt=True):
        self.reporter = reporter
        self.dir = tempfile.mkdtemp(prefix="cased-mutt-")
        self.wrapper = os.path.join(self.dir, "sendmail")
        with open(self.wrapper, "w") as f:
            # Writes the message neomutt pipes in to the file named by $MUTT_OUT.
            f.write('#!/bin/sh\ncat > "$MUTT_OUT"\n')
        os.chmod(self.wrapper, 0o755)
        self.muttrc = os.path.join(self.dir, "muttrc")
        yes = lambda b: "yes" if b else "no"  # noqa: E731
        with open(self.muttrc, "w") as f:
            f.write(f"""\
set folder="{self.dir}"
set spoolfile="{self.dir}/inbox"
set postponed="{self.dir}/postponed"
set record=""
set copy=no
set hostname=example.org
set realname="Rita Reporter"
set from="rita@example.org"
set use_from=yes
set charset=utf-8
set send_charset=utf-8
set sendmail="{self.wrapper}"
set editor=/bin/true
set edit_headers=yes
set auto_edit=yes
set crypt_use_gpgme=yes
set crypt_autosign={yes(sign)}
set crypt_autoencrypt={yes(encrypt)}
set crypt_opportunistic_encrypt=no
set autocrypt=no
set pgp_sign_as={reporter.fpr}
set pgp_default_key={reporter.fpr}
set crypt_protected_headers_write=yes
set crypt_protected_headers_subject="..."
send2-hook . "push <send-message>"
""")

    def send(self, subject, body, name="msg", timeout=60):
        draft = os.path.join(self.dir, name + ".draft")
        out = os.path.join(self.dir, name + ".eml")
        with open(draft, "w") as f:
            f.write(f"To: {ALIAS}\nSubject: {subject}\n\n{body}")
        env = dict(os.environ, GNUPGHOME=self.reporter.home, HOME=self.dir, XDG_CONFIG_HOME=self.dir,
                   TERM="vt100", MUTT_OUT=out, LC_ALL="C.UTF-8")
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        try:
            p = subprocess.Popen([NEOMUTT, "-n", "-F", self.muttrc, "-H", draft],
                                 stdin=slave, stdout=slave, stderr=slave, env=env, cwd=self.dir,
                                 start_new_session=True)
        finally:
            os.close(slave)
        screen = b""
        deadline = time.monotonic() + timeout
        try:
            # Drain the terminal (so neomutt never blocks on a full pty) until it exits.
            while p.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.1)
                if ready:
                    try:
                        screen += os.read(master, 65536)
                    except OSError:  # EIO: every writer closed the terminal
                        break
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise AssertionError(f"neomutt did not finish within {timeout}s; screen: {screen_text(screen)}")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
        if p.returncode != 0 or not os.path.exists(out):
            raise AssertionError(f"neomutt exited {p.returncode} without sending; screen: {screen_text(screen)}")
        with open(out, "rb") as f:
            return f.read()

    def close(self):
        subprocess.run(["rm", "-rf", self.dir])


def outer_subject(msg):
    m = re.search(rb"^Subject: (.*)$", msg, re.M)
    return m.group(1).decode().rstrip("\r") if m else None


def crlf(msg):
    return msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class World:
    """The alias keyring (the daemon's gpg.home) and Rita, whose neomutt knows and trusts the alias key."""

    def __init__(self, sign=True, encrypt=True):
        self.alias = self.rita = self.env = self.mutt = None
        try:
            self.alias = Keyring(ALIAS)
            self.rita = Keyring(RITA)
            self.rita.import_key(self.alias.public())
            # Trust: lsign the alias key (see the docstring); default trust model.
            gpg(self.rita.home, "--quick-lsign-key", self.alias.fpr)
            self.alias.import_key(self.rita.public())
            self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\n[ack]\nenabled = false\n')
            self.mutt = Mutt(self.rita, sign=sign, encrypt=encrypt)
        except BaseException:
            self.close()
            raise

    def show(self, case=1):
        return self.env.json("show", str(case))

    def close(self):
        if self.env:
            self.env.cleanup()
        for thing in (self.mutt, self.alias, self.rita):
            if thing:
                thing.close()  # a Keyring's close() also stops its gpg-agent


REPORT_SUBJECT = "Heap overflow in widget"


def assert_encrypted_report(w, msg, word):
    # What neomutt wrote: PGP/MIME, the real subject and the text only inside.
    assert b"multipart/encrypted" in msg and b"application/pgp-encrypted" in msg, msg[:800]
    assert outer_subject(msg) == "...", outer_subject(msg)
    assert REPORT_SUBJECT.encode() not in msg and word.encode() not in msg
    s = w.show()
    m = s["messages"][0]
    assert m["decryption"] == "ok", m
    assert m["encrypted"] is True, m
    assert m["signature"] == "good", m
    assert m["signer"] == w.rita.fpr.upper(), (m["signer"], w.rita.fpr)
    assert m["subject"] == REPORT_SUBJECT, m["subject"]
    assert s["subject"] == REPORT_SUBJECT, s["subject"]
    assert word in m["body"], m["body"]
    # the word exists only inside the encryption, yet search finds it
    assert [c["id"] for c in w.env.json("search", word)] == [1]


def test_neomutt_signed_and_encrypted_through_ingest():
    w = World()
    try:
        msg = w.mutt.send(REPORT_SUBJECT, "The widget parser overflows its heap buffer.\n"
                                          "Secret word: xylophone42.\n")
        r = w.env.json("ingest", input=msg)
        assert r["new_case"] and r["case"] == 1, r
        assert_encrypted_report(w, msg, "xylophone42")
    finally:
        w.close()


def test_neomutt_signed_and_encrypted_over_lmtp():
    w = World()
    try:
        msg = w.mutt.send(REPORT_SUBJECT, "Over LMTP this time; secret word: marmoset17.\n")
        w.env.start()
        assert deliver(port=w.env.port, data=crlf(msg)) == [250]
        assert_encrypted_report(w, msg, "marmoset17")
        w.env.stop()
        log = w.env.log()
        assert "marmoset17" not in log and REPORT_SUBJECT not in log
    finally:
        w.close()


def test_neomutt_signed_only_verifies_good():
    w = World(encrypt=False)
    try:
        msg = w.mutt.send("Signed widget note", "Signed, not encrypted, by neomutt.\n")
        assert b"multipart/signed" in msg and b"application/pgp-signature" in msg, msg[:800]
        assert b"multipart/encrypted" not in msg
        w.env.json("ingest", input=msg)
        m = w.show()["messages"][0]
        assert m["signature"] == "good", m
        assert m["signer"] == w.rita.fpr.upper(), m
        assert m["encrypted"] is False and m["decryption"] == "none", m
        assert m["subject"] == "Signed widget note"
        assert "Signed, not encrypted, by neomutt." in m["body"]
    finally:
        w.close()


def test_neomutt_reply_with_case_tag_only_in_protected_subject_threads():
    w = World()
    try:
        first = w.mutt.send(REPORT_SUBJECT, "First report.\n", name="first")
        r = w.env.json("ingest", input=first)
        assert r["new_case"] and r["case"] == 1, r
        # Rita answers the analyst (whose reply is not stored here), so only the
        # tag in the encrypted subject ties this message to the case: no
        # In-Reply-To or References to a stored message.
        reply = w.mutt.send(f"Re: [CASE#1] {REPORT_SUBJECT}", "More detail: it also crashes on empty input.\n",
                            name="reply")
        assert outer_subject(reply) == "..." and b"CASE#1" not in reply
        assert b"In-Reply-To" not in reply and b"References" not in reply
        r2 = w.env.json("ingest", input=reply)
        assert r2["case"] == 1 and not r2["new_case"], r2
        s = w.show()
        assert len(s["messages"]) == 2, s["messages"]
        assert s["subject"] == REPORT_SUBJECT
        m2 = s["messages"][1]
        assert m2["subject"] == f"Re: [CASE#1] {REPORT_SUBJECT}", m2["subject"]
        assert (m2["decryption"], m2["signature"], m2["signer"]) == ("ok", "good", w.rita.fpr.upper()), m2
        assert "crashes on empty input" in m2["body"]
        assert len(w.env.json("list")) == 1
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
