"""Throwaway OpenPGP keys and messages for the tests, made with the real gpg
in temp GNUPGHOMEs. INSECURE TEST KEYS: no passphrase, made at test time,
never committed.

PGP/MIME messages are composed here with gpg for the crypto and Python's
string handling for the MIME structure (RFC 3156 layout written out by hand),
so the bytes that are signed are exactly the bytes in the message. The same
shapes as a real mail client writes them are tested in test_pgp_mutt.py,
where neomutt composes, signs and encrypts."""

import base64
import os
import subprocess
import tempfile

GPG = "gpg"


def gpg(home, *args, input=None, check=True):
    p = subprocess.run(
        [GPG, "--homedir", home, "--batch", "--yes", "--quiet", "--pinentry-mode", "loopback",
         "--passphrase", "", "--trust-model", "always", *args],
        input=input, capture_output=True, timeout=120,
    )
    if check and p.returncode != 0:
        raise AssertionError(f"gpg {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p


class Keyring:
    """A GNUPGHOME with one secret key."""

    def __init__(self, uid, algo="ed25519", parent=None):
        self.home = tempfile.mkdtemp(prefix="cased-gpg-", dir=parent)
        os.chmod(self.home, 0o700)
        self.uid = uid
        if algo == "ed25519":
            gpg(self.home, "--quick-gen-key", uid, "ed25519", "sign,cert", "never")
            fpr = self.fingerprint_of_secret()
            gpg(self.home, "--quick-add-key", fpr, "cv25519", "encr", "never")
        else:
            gpg(self.home, "--quick-gen-key", uid, "rsa3072", "sign,cert", "never")
            fpr = self.fingerprint_of_secret()
            gpg(self.home, "--quick-add-key", fpr, "rsa3072", "encr", "never")
        self.fpr = self.fingerprint_of_secret()

    def fingerprint_of_secret(self):
        out = gpg(self.home, "--with-colons", "--list-secret-keys").stdout.decode()
        for line in out.splitlines():
            if line.startswith("fpr:"):
                return line.split(":")[9]
        raise AssertionError("no secret key")

    def close(self):
        """Stops this home's gpg-agent and removes the home."""
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True)
        subprocess.run(["rm", "-rf", self.home])

    def public(self):
        return gpg(self.home, "--armor", "--export", self.fpr).stdout

    def public_binary(self):
        return gpg(self.home, "--export", self.fpr).stdout

    def import_key(self, armored):
        gpg(self.home, "--import", input=armored)

    def encrypt(self, data, recipients, sign=True):
        args = ["--armor", "--encrypt"]
        for r in recipients:
            args += ["--recipient", r]
        if sign:
            args += ["--sign", "--local-user", self.fpr]
        return gpg(self.home, *args, input=data).stdout

    def detach_sign(self, data):
        return gpg(self.home, "--armor", "--detach-sign", "--local-user", self.fpr, input=data).stdout

    def clearsign(self, data):
        return gpg(self.home, "--clearsign", "--local-user", self.fpr, input=data).stdout


def crlf(s):
    if isinstance(s, str):
        s = s.encode()
    return s.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def headers(frm, subject, msgid, extra=""):
    return (
        f"From: {frm}\r\nTo: security@example.com\r\nSubject: {subject}\r\n"
        f"Date: Sun, 22 Nov 2026 21:56:20 +0000\r\nMessage-ID: <{msgid}>\r\nMIME-Version: 1.0\r\n{extra}"
    ).encode()


def text_entity(body, protected_subject=None):
    """A text/plain entity, optionally carrying protected headers (mutt style)."""
    ph = '; protected-headers="v1"' if protected_subject else ""
    head = f"Content-Type: text/plain; charset=utf-8{ph}\r\nContent-Transfer-Encoding: 8bit\r\n"
    if protected_subject:
        head += f"Subject: {protected_subject}\r\n"
    return crlf(head.encode() + b"\r\n" + crlf(body))


def pgp_mime_encrypted(sender, recipients, frm, msgid, inner, outer_subject="...", sign=True, extra=""):
    ciphertext = sender.encrypt(inner, recipients, sign=sign)
    b = "==cased-enc-boundary=="
    return headers(frm, outer_subject, msgid,
                   extra + f'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="{b}"\r\n'
                   ) + crlf(
        f"\r\nThis is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n--{b}\r\n"
        "Content-Type: application/pgp-encrypted\r\nContent-Description: PGP/MIME version identification\r\n\r\n"
        f"Version: 1\r\n\r\n--{b}\r\n"
        'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
        'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n'
    ) + crlf(ciphertext) + crlf(f"\r\n--{b}--\r\n")


def pgp_mime_signed(signer, frm, msgid, inner, subject="signed report", tamper=None):
    sig = signer.detach_sign(inner)
    if tamper:
        inner = inner.replace(tamper[0], tamper[1])
    b = "==cased-sig-boundary=="
    return headers(frm, subject, msgid,
                   f'Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="{b}"\r\n'
                   ) + b"\r\n" + crlf(f"--{b}\r\n") + inner + crlf(
        f"\r\n--{b}\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n"
    ) + crlf(sig) + crlf(f"\r\n--{b}--\r\n")


def inline_encrypted(sender, recipients, frm, msgid, body, subject="inline report", before="", after=""):
    armored = sender.encrypt(body.encode(), recipients)
    return headers(frm, subject, msgid, "Content-Type: text/plain; charset=utf-8\r\n") + b"\r\n" + crlf(
        before.encode() + armored + after.encode())


def autocrypt_header(addr, key_binary):
    data = base64.b64encode(key_binary).decode()
    folded = "\r\n ".join(data[i:i + 72] for i in range(0, len(data), 72))
    return f"Autocrypt: addr={addr}; prefer-encrypt=mutual; keydata=\r\n {folded}\r\n"
