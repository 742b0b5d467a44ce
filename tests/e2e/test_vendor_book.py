"""The vendor contact book through the real casectl: vendors added by hand
and from an RFC 9116 security.txt (clear-signed with gpg by a vendor key),
their keys imported into gpg.home and pinned to their contacts, and every
kind of bad input refused with a clear message and nothing changed."""

import json
import os
import tempfile

from harness import Env, run_tests
from pgp import Keyring, gpg

ALIAS = "Security Team <security@example.com>"
FUTURE = "2099-01-31T12:00:00.000Z"


class World:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="cased-vendor-")
        self.alias = Keyring(ALIAS, parent=self.tmp)
        self.acme = Keyring("Acme PSIRT <psirt@acme.example>", parent=self.tmp)
        self.beta = Keyring("Beta Security <sec@beta.example>", parent=self.tmp)
        self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\n\n')
        self.env.casectl("init")

    def file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def fail(self, code, *args):
        p = self.env.casectl(*args, check=False)
        assert p.returncode == code, (args, p.returncode, p.stdout, p.stderr)
        return p.stderr.decode()

    def vendors(self):
        return {v["name"]: v for v in self.env.json("vendor", "list")}

    def in_keyring(self, fpr):
        return gpg(self.alias.home, "--list-keys", fpr, check=False).returncode == 0

    def close(self):
        self.env.cleanup()
        for k in (self.alias, self.acme, self.beta):
            k.close()
        os.system(f"rm -rf {self.tmp}")


def securitytxt(contacts, expires=FUTURE, extra=""):
    lines = [f"Contact: {c}" for c in contacts]
    if expires:
        lines.append(f"Expires: {expires}")
    return "# security.txt\n" + "\n".join(lines) + "\n" + extra


def pins(w):
    return {k["address"]: k["fingerprint"] for k in w.env.json("keys") if k["pinned"]}


def test_a_book_kept_by_hand():
    w = World()
    try:
        acme_key = w.file("acme.asc", w.acme.public())
        assert not w.in_keyring(w.acme.fpr)
        p = w.env.casectl("vendor", "add", "acme", "--contact", "PSIRT@Acme.example", "--contact",
                          "sec@acme.example", "--key", acme_key, "--phone", "+1 201 555 0123",
                          "--postal", "Acme Inc.\n1 Road", "--note", "PSIRT answers in a day")
        assert p.stdout.decode().startswith("vendor acme added: contacts psirt@acme.example, sec@acme.example"), p
        # A user id of the key names one of the contacts: no warning.
        assert "warning" not in p.stderr.decode(), p.stderr
        assert w.in_keyring(w.acme.fpr)
        shown = w.env.json("vendor", "show", "acme")
        assert shown["name"] == "acme" and shown["contacts"] == ["psirt@acme.example", "sec@acme.example"], shown
        assert shown["key"] == w.acme.fpr and shown["phone"] == "+1 201 555 0123", shown
        assert shown["postal"] == "Acme Inc.\n1 Road" and shown["note"] == "PSIRT answers in a day", shown
        assert shown["url"] is None and shown["securitytxt"] is None, shown
        assert pins(w) == {"psirt@acme.example": w.acme.fpr, "sec@acme.example": w.acme.fpr}

        # A key already in gpg.home, by fingerprint (spaces allowed).
        gpg(w.alias.home, "--import", input=w.beta.public())
        spaced = " ".join(w.beta.fpr[i:i + 4] for i in range(0, 40, 4))
        p = w.env.casectl("vendor", "add", "beta", "--contact", "sec@beta.example", "--key", spaced)
        assert "warning" not in p.stderr.decode(), p.stderr
        assert w.env.json("vendor", "show", "beta")["key"] == w.beta.fpr
        # A vendor without a key is allowed in the book, and said to be.
        p = w.env.casectl("vendor", "add", "gamma", "--contact", "security@gamma.example")
        assert "has no key" in p.stdout.decode(), p.stdout
        # A key naming none of the vendor's contacts: a warning, pinned all the same.
        p = w.env.casectl("vendor", "edit", "gamma", "--key", w.beta.fpr)
        assert "no user id of key" in p.stderr.decode(), p.stderr
        assert pins(w)["security@gamma.example"] == w.beta.fpr
        w.env.casectl("vendor", "edit", "gamma", "--key", "none")
        assert w.env.json("vendor", "show", "gamma")["key"] is None
        assert sorted(w.vendors()) == ["acme", "beta", "gamma"]
        listed = w.env.casectl("vendor", "list").stdout.decode()
        assert "gamma" in listed and "NO KEY" in listed and w.acme.fpr[-16:] in listed, listed

        # edit: the given fields change, "none" clears, --contact replaces them all.
        w.env.casectl("vendor", "edit", "acme", "--url", "https://acme.example/security", "--note", "none",
                      "--contact", "psirt@acme.example")
        shown = w.env.json("vendor", "show", "acme")
        assert shown["url"] == "https://acme.example/security" and shown["note"] is None, shown
        assert shown["contacts"] == ["psirt@acme.example"] and shown["key"] == w.acme.fpr, shown
        text = w.env.casectl("vendor", "show", "acme").stdout.decode()
        assert "history" in text and " add: " in text and " edit: " in text, text

        w.env.casectl("vendor", "remove", "beta")
        assert sorted(w.vendors()) == ["acme", "gamma"]
        assert "no vendor beta" in w.fail(3, "vendor", "show", "beta")
        # The log outlives the vendor in the database; the pin stays with the address.
        assert pins(w)["sec@beta.example"] == w.beta.fpr
    finally:
        w.close()


def test_bad_input_is_refused_and_changes_nothing():
    w = World()
    try:
        w.env.casectl("vendor", "add", "acme", "--contact", "psirt@acme.example")
        before = w.vendors()
        assert "bad vendor name" in w.fail(2, "vendor", "add", "Acme", "--contact", "a@acme.example")
        assert "bad vendor name" in w.fail(2, "vendor", "add", "../x", "--contact", "a@acme.example")
        assert "not an address" in w.fail(2, "vendor", "add", "beta", "--contact", "not an address")
        assert "not an address" in w.fail(2, "vendor", "add", "beta", "--contact", "a@b.example\r\nBcc: x@y")
        assert "way to reach" in w.fail(2, "vendor", "add", "beta")
        assert "in the book already" in w.fail(2, "vendor", "add", "acme", "--contact", "b@acme.example")
        for action in (["show", "nope"], ["edit", "nope", "--url", "https://x.example"], ["remove", "nope"]):
            assert "no vendor nope" in w.fail(3, "vendor", *action), action
        assert "no vendor nope" in w.fail(3, "vendor", "import-securitytxt", "nope",
                                          w.file("st.txt", securitytxt(["mailto:a@nope.example"])))
        assert "unknown vendor action" in w.fail(2, "vendor", "frobnicate", "acme")

        # Keys: not in gpg.home, a secret key, several keys, a key that cannot encrypt.
        assert "no key" in w.fail(3, "vendor", "edit", "acme", "--key", w.beta.fpr)
        assert "our own" in w.fail(4, "vendor", "edit", "acme", "--key", w.alias.fpr)
        assert "our own" in w.fail(4, "vendor", "edit", "acme", "--key", w.file("alias.asc", w.alias.public()))
        secret = w.file("secret.asc", gpg(w.acme.home, "--armor", "--export-secret-keys", w.acme.fpr).stdout)
        assert "secret key" in w.fail(4, "vendor", "edit", "acme", "--key", secret)
        both = w.file("both.asc", w.acme.public() + w.beta.public())
        assert "2 keys" in w.fail(4, "vendor", "edit", "acme", "--key", both)
        signer = Keyring("Sign Only <signonly@acme.example>", parent=w.tmp)
        gpg(signer.home, "--quick-gen-key", "Only Signs <only@acme.example>", "ed25519", "sign", "never")
        only = [l.split(":")[9] for l in gpg(signer.home, "--with-colons", "--list-keys", "<only@acme.example>")
                .stdout.decode().splitlines() if l.startswith("fpr:")][0]
        sign_only = w.file("signonly.asc", gpg(signer.home, "--armor", "--export", only).stdout)
        assert "cannot encrypt" in w.fail(4, "vendor", "edit", "acme", "--key", sign_only)
        signer.close()
        assert "no OpenPGP key" in w.fail(2, "vendor", "edit", "acme", "--key", w.file("junk.asc", "hello\n"))
        assert not w.in_keyring(w.beta.fpr) and not w.in_keyring(w.acme.fpr) and not w.in_keyring(only)
        assert w.vendors() == before
        assert pins(w) == {}
    finally:
        w.close()


def test_a_signed_securitytxt_fills_the_entry_and_its_signature_is_reported():
    w = World()
    try:
        acme_key = w.file("acme.asc", w.acme.public())
        text = securitytxt(["mailto:PSIRT@acme.example", "https://acme.example/report", "tel:+1-201-555-0123"],
                           extra=f"Encryption: openpgp4fpr:{w.acme.fpr}\nPolicy: https://acme.example/policy\n")
        signed = w.file("acme-security.txt", w.acme.clearsign(text.encode()))
        p = w.env.casectl("vendor", "add", "acme", "--key", acme_key, "--securitytxt", signed)
        assert f"good signature by {w.acme.fpr}" in p.stderr.decode(), p.stderr
        shown = w.env.json("vendor", "show", "acme")
        assert shown["contacts"] == ["psirt@acme.example"] and shown["key"] == w.acme.fpr, shown
        assert shown["url"] == "https://acme.example/report" and shown["phone"] == "+1-201-555-0123", shown
        st = shown["securitytxt"]
        assert st["signed"] is True and st["signature"] == "good" and st["expires"] == "2099-01-31T12:00:00Z", st
        assert pins(w) == {"psirt@acme.example": w.acme.fpr}

        # import-securitytxt on an entry: contacts added, the signature reported again.
        more = w.acme.clearsign(securitytxt(["mailto:psirt@acme.example", "mailto:cert@acme.example"]).encode())
        w.env.casectl("vendor", "import-securitytxt", "acme", w.file("more.txt", more))
        shown = w.env.json("vendor", "show", "acme")
        assert shown["contacts"] == ["psirt@acme.example", "cert@acme.example"], shown
        assert pins(w)["cert@acme.example"] == w.acme.fpr

        # Signed by a key gpg.home does not hold: kept, and reported as unchecked.
        w.env.casectl("vendor", "add", "beta", "--contact", "sec@beta.example")
        # Signed well, but by another vendor's key than this one's: said so.
        gpg(w.alias.home, "--import", input=w.beta.public())
        w.env.casectl("vendor", "edit", "beta", "--key", w.beta.fpr)
        p = w.env.casectl("vendor", "import-securitytxt", "beta", w.file("more2.txt", more))
        assert f"signed by {w.acme.fpr}, not by the vendor's key {w.beta.fpr}" in p.stderr.decode(), p.stderr
        gpg(w.alias.home, "--delete-keys", w.beta.fpr)
        w.env.casectl("vendor", "edit", "beta", "--key", "none")
        by_beta = w.file("beta.txt", w.beta.clearsign(securitytxt(["mailto:sec@beta.example"]).encode()))
        p = w.env.casectl("vendor", "import-securitytxt", "beta", by_beta)
        assert "NOT checked" in p.stderr.decode() and w.beta.fpr[-16:] in p.stderr.decode(), p.stderr
        st = w.env.json("vendor", "show", "beta")["securitytxt"]
        assert st["signed"] is True and st["signature"] == "unknown-key", st

        # Expired, or unsigned from a file: refused, nothing changed, unless the analyst says so.
        before = w.vendors()
        plain = w.file("plain.txt", securitytxt(["mailto:sec@beta.example"], expires="2020-01-01T00:00:00Z"))
        assert "expired on 2020-01-01" in w.fail(4, "vendor", "import-securitytxt", "beta", plain)
        assert "--allow-unsigned" in w.fail(4, "vendor", "import-securitytxt", "beta", "--allow-expired", plain)
        fresh = w.file("fresh.txt", securitytxt(["mailto:sec@beta.example"]))
        assert "not signed" in w.fail(4, "vendor", "import-securitytxt", "beta", fresh)
        old_signed = w.file("old.txt", w.beta.clearsign(
            securitytxt(["mailto:sec@beta.example"], expires="2020-01-01T00:00:00Z").encode()))
        assert "--allow-expired" in w.fail(4, "vendor", "import-securitytxt", "beta", old_signed)
        assert w.vendors() == before
        p = w.env.casectl("vendor", "import-securitytxt", "beta", "--allow-expired", "--allow-unsigned", plain)
        err = p.stderr.decode()
        assert "not signed" in err and "expired on 2020-01-01" in err, err
        st = w.env.json("vendor", "show", "beta")["securitytxt"]
        assert st["signed"] is False and st["signature"] is None and st["expires"] == "2020-01-01T00:00:00Z", st
        assert "(EXPIRED)" in w.env.casectl("vendor", "show", "beta").stdout.decode()
    finally:
        w.close()


def test_a_bad_securitytxt_is_refused_and_changes_nothing():
    w = World()
    try:
        w.env.casectl("vendor", "add", "acme", "--contact", "psirt@acme.example")
        gpg(w.alias.home, "--import", input=w.acme.public())
        before = w.vendors()
        signed = w.acme.clearsign(securitytxt(["mailto:psirt@acme.example"]).encode())
        tampered = w.file("tampered.txt", signed.replace(b"mailto:psirt@", b"mailto:evil1@"))
        assert "BAD signature" in w.fail(4, "vendor", "import-securitytxt", "acme", tampered)
        appended = w.file("appended.txt", signed + b"Contact: mailto:evil@example.org\n")
        assert "after the signature" in w.fail(2, "vendor", "import-securitytxt", "acme", appended)
        big = w.file("big.txt", securitytxt(["mailto:a@acme.example"]) + "#" * 70000 + "\n")
        assert "larger than 64 KiB" in w.fail(4, "vendor", "import-securitytxt", "acme", big)
        for bad, why in ((securitytxt(["mailto:a@acme.example"], extra="this is not a field\n"), "line 4"),
                         (securitytxt(["mailto:a@acme.example"], expires="next year"), "Expires"),
                         (securitytxt([]), "no usable Contact"),
                         (securitytxt(["mailto:not an address"]), "not an address")):
            err = w.fail(2, "vendor", "import-securitytxt", "acme", w.file("bad.txt", bad))
            assert "malformed security.txt" in err and why in err, (why, err)
        unknown_key = securitytxt(["mailto:a@acme.example"], extra="Encryption: openpgp4fpr:" + "AB" * 20 + "\n")
        err = w.fail(4, "vendor", "import-securitytxt", "acme", "--allow-unsigned", w.file("k.txt", unknown_key))
        assert "not in gpg.home" in err and "--key FILE" in err, err
        # add --securitytxt with a malformed file adds nothing, not even the key file's key.
        err = w.fail(2, "vendor", "add", "beta", "--key", w.file("beta.asc", w.beta.public()),
                     "--securitytxt", w.file("bad2.txt", "Contact mailto:x@beta.example\n"))
        assert "malformed" in err and not w.in_keyring(w.beta.fpr), err
        # add --key F --securitytxt F2, F2 signed by F's key and then changed: the
        # key was needed to check the signature, and is taken back with the refusal.
        beta_signed = w.beta.clearsign(securitytxt(["mailto:sec@beta.example"]).encode())
        err = w.fail(4, "vendor", "add", "beta", "--key", w.file("beta.asc", w.beta.public()), "--securitytxt",
                     w.file("beta-bad.txt", beta_signed.replace(b"mailto:sec@", b"mailto:evil@")))
        assert "BAD signature" in err and not w.in_keyring(w.beta.fpr), err
        # A URL must be https (the fetch itself: test_vendor_fetch.py).
        err = w.fail(2, "vendor", "import-securitytxt", "acme", "http://acme.example/.well-known/security.txt")
        assert "http:// is not encrypted" in err and "nothing changed" in err, err
        assert w.vendors() == before
        assert [e for e in w.vendors()["acme"]["contacts"]] == ["psirt@acme.example"]
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
