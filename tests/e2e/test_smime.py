"""S/MIME end to end: a test CA, a reporter and the alias certificate made
with openssl at test time; reports made by `openssl cms` (encrypt, detached
and opaque signing, sign then encrypt) and by `gpgsm` as a second client,
delivered over LMTP to the real cased; the reply leaves through a real SMTP
server with STARTTLS and opens with `openssl cms` as the reporter."""

import email
import json
import os
import subprocess
import tempfile

from certs import CA as TlsCA
from harness import Env, run_tests, wait_for
from lmtp_client import deliver
from pgp import Keyring
from smime import CA, Gpgsm, cms, encrypted, entity, message, pkcs7_part, run, signed, smime_world_config
from test_outbound import SmtpServer, wait_for_mail

ALIAS = "security@example.com"
RITA = "rita@example.org"


class World:
    """A gpg.home with the alias's PGP key, a test CA, the alias's and Rita's
    certificates, and cased configured for them."""

    def __init__(self, smtp=False, crl=None, revoke_rita=False, key_mode=0o600):
        self.tmp = tempfile.mkdtemp(prefix="cased-smime-")
        self.ca = CA(os.path.join(self.tmp, "ca"))
        self.alias_cert = self.ca.person("cased alias", ALIAS)
        os.chmod(self.alias_cert.key, key_mode)
        # Rita's address is only in subjectAltName, as many CAs issue them.
        self.rita = self.ca.person("Rita Reporter", RITA, in_subject=False)
        crl_path = self.ca.revoke(self.rita) if revoke_rita else (self.ca.crl() if crl else None)
        self.alias = Keyring(ALIAS)
        extra = smime_world_config(self.alias.home, self.ca, self.alias_cert, crl=crl_path)
        self.smtp = None
        if smtp:
            self.tls_ca = TlsCA(os.path.join(self.tmp, "tls-ca"))
            self.smtp = SmtpServer(self.tmp, "--starttls", self.tls_ca.server("smtp"))
            extra += (f'[smtp]\nhost = "127.0.0.1"\nport = {self.smtp.port}\nsecurity = "starttls"\n'
                      f'ca_file = "{self.tls_ca.cert}"\n')
        else:
            extra += "[ack]\nenabled = false\n"
        self.env = Env(extra_config=extra)

    def deliver(self, raw, msgid):
        assert deliver(port=self.env.port, msgid=msgid, data=raw) == [250]

    def last_message(self, case=1):
        return self.env.json("show", str(case))["messages"][-1]

    def close(self):
        self.env.cleanup()
        if self.smtp:
            self.smtp.cleanup()
        self.alias.close()
        subprocess.run(["rm", "-rf", self.tmp])


def report(w, msgid, body=b"The widget overflows; zebra42.\n", signer=None, opaque=False, encrypt=True,
           frm=f"Rita Reporter <{RITA}>"):
    inner = entity(body)
    if signer is not False:
        inner = signed(signer or w.rita, inner, opaque=opaque)
    if encrypt:
        inner = encrypted(w.alias_cert.cert, inner)
    return message(frm, "S/MIME report", msgid, inner)


def assert_good_rita(m, w):
    assert m["crypto"] == "smime", m
    assert m["signature"] == "good", m
    assert m["signer"] == w.rita.fingerprint(), m
    assert m["smime"]["chain"] == "good" and m["smime"]["revocation"] == "not checked", m["smime"]
    assert "Rita Reporter" in m["smime"]["subject"] and "cased test CA" in m["smime"]["issuer"], m["smime"]
    assert RITA in m["smime"]["addresses"], m["smime"]
    assert m["signer_matches_from"] is True, m


def test_openssl_sign_then_encrypt_is_decrypted_verified_and_pinned():
    w = World()
    try:
        w.env.start()
        w.deliver(report(w, "s1@example.org"), "s1@example.org")
        m = w.last_message()
        assert m["decryption"] == "ok" and m["encrypted"] is True, m
        assert "zebra42" in m["body"], m["body"]
        assert_good_rita(m, w)
        keys = [k for k in w.env.json("keys") if k["kind"] == "smime"]
        assert [(k["address"], k["fingerprint"], k["pinned"], k["source"]) for k in keys] == [
            (RITA, w.rita.fingerprint(), True, "smime")], keys
        # Encrypted only (no signature): decrypted, unsigned.
        w.deliver(report(w, "s2@example.org", body=b"plain secret yak7\n", signer=False), "s2@example.org")
        m2 = w.env.json("show", "2")["messages"][0]
        assert m2["decryption"] == "ok" and "yak7" in m2["body"] and m2["signature"] == "none", m2
        assert m2["crypto"] == "smime" and m2["smime"] is None, m2
        text = w.env.casectl("show", "1").stdout.decode()
        assert "S/MIME:" in text and "chain good, revocation not checked" in text, text
    finally:
        w.close()


def test_opaque_and_detached_signatures_show_their_content():
    w = World()
    try:
        w.env.start()
        # Outlook's opaque signed-data: the content is inside the signature.
        w.deliver(report(w, "o1@example.org", body=b"opaque words kiwi3\n", opaque=True, encrypt=False), "o1@example.org")
        m = w.last_message(1)
        assert "kiwi3" in m["body"], m
        assert m["decryption"] == "none" and m["encrypted"] is False, m
        assert_good_rita(m, w)
        w.deliver(report(w, "d1@example.org", body=b"detached words lime5\n", encrypt=False), "d1@example.org")
        m = w.last_message(2)
        assert "lime5" in m["body"] and not [a for a in m["attachments"] if "pkcs7" in a["content_type"]], m
        assert_good_rita(m, w)
    finally:
        w.close()


def test_gpgsm_as_the_reporters_client():
    w = World()
    client = Gpgsm(w.rita, w.ca)
    try:
        w.env.start()
        der = client.sign_encrypt(entity(b"from gpgsm plum8\n"), w.alias_cert.cert)
        raw = message(f"Rita Reporter <{RITA}>", "gpgsm report", "g1@example.org", pkcs7_part(der, "enveloped-data"))
        w.deliver(raw, "g1@example.org")
        m = w.last_message()
        assert m["decryption"] == "ok" and "plum8" in m["body"], m
        assert_good_rita(m, w)
    finally:
        client.close()
        w.close()


def test_bad_smime_is_stored_flagged_and_never_trusted():
    w = World()
    other_ca = CA(os.path.join(w.tmp, "unknown-ca"), name="unknown CA")
    try:
        w.env.start()
        good = report(w, "t0@example.org")
        # Truncated ciphertext, and base64 garbage, in place of the pkcs7 part.
        head, _, body = good.partition(b"\r\n\r\n")
        w.deliver(good[: len(head) + 4 + len(body) // 2], "t1@example.org")
        garbage = message(f"Rita Reporter <{RITA}>", "garbage", "t2@example.org",
                          pkcs7_part(b"\x30\x03not cms at all" * 20, "enveloped-data"))
        w.deliver(garbage, "t2@example.org")
        for case in (1, 2):
            m = w.last_message(case)
            assert m["crypto"] == "smime" and m["decryption"] == "failed", m
            assert m["signature"] != "good" and m["decryption_error"], m
        # A certificate for someone else's address, signing as Rita.
        mallory = w.ca.person("Mallory", "mallory@example.net")
        w.deliver(report(w, "t3@example.org", signer=mallory), "t3@example.org")
        m = w.last_message(3)
        assert m["signer_matches_from"] is False and "signer does not match From" in m["problems"], m
        # A certificate from a CA cased does not trust.
        stranger = other_ca.person("Rita Reporter", RITA)
        w.deliver(report(w, "t4@example.org", signer=stranger), "t4@example.org")
        m = w.last_message(4)
        assert m["signature"] == "unknown-key" and m["smime"]["chain"] == "untrusted", m
        # An expired certificate.
        old = w.ca.person("Rita Old", RITA, expired=True)
        w.deliver(report(w, "t5@example.org", signer=old), "t5@example.org")
        m = w.last_message(5)
        assert m["signature"] == "bad" and m["smime"]["chain"] == "expired", m
        # None of them pinned anything for Rita.
        assert not [k for k in w.env.json("keys") if k["kind"] == "smime" and k["pinned"]], w.env.json("keys")
        text = w.env.casectl("show", "4").stdout.decode()
        assert "not from a trusted CA" in text, text
    finally:
        w.close()


def test_revoked_certificate_with_a_crl():
    w = World(revoke_rita=True)
    try:
        w.env.start()
        w.deliver(report(w, "r1@example.org"), "r1@example.org")
        m = w.last_message()
        assert m["decryption"] == "ok", m
        assert m["signature"] == "bad" and m["smime"]["chain"] == "revoked", m
        assert m["smime"]["revocation"] == "revoked", m
    finally:
        w.close()


def test_crl_without_the_signer_says_checked():
    w = World(crl=True)
    try:
        w.env.start()
        w.deliver(report(w, "c1@example.org"), "c1@example.org")
        m = w.last_message()
        assert m["signature"] == "good" and m["smime"]["revocation"] == "checked", m
    finally:
        w.close()


def test_reply_is_smime_and_opens_with_openssl():
    w = World(smtp=True)
    try:
        w.smtp.start()
        w.env.start()
        w.deliver(report(w, "q1@example.org"), "q1@example.org")
        wait_for_mail(w.smtp, 1)  # the acknowledgement, S/MIME as well
        p = w.env.casectl("reply", "1", "-m", "Fixed in 2.3.1; thanks. walnut6")
        assert b"sent" in p.stdout, p.stdout + p.stderr
        wait_for_mail(w.smtp, 2)
        for raw, env in w.smtp.messages():
            assert env["tls"] is True and env["to"] == [RITA], env
            outer = email.message_from_bytes(raw)
            assert outer.get_content_type() == "application/pkcs7-mime", outer.get_content_type()
            assert "enveloped-data" in outer["Content-Type"]
            assert b"walnut6" not in raw
            inner = run("openssl", "cms", "-decrypt", "-recip", w.rita.cert, "-inkey", w.rita.key, input=raw)
            assert b"multipart/signed" in inner and b"application/pkcs7-signature" in inner, inner[:300]
            plain = run("openssl", "cms", "-verify", "-CAfile", w.ca.cert, input=inner)
            assert b"Content-Type: text/plain" in plain
        last = run("openssl", "cms", "-verify", "-CAfile", w.ca.cert,
                   input=run("openssl", "cms", "-decrypt", "-recip", w.rita.cert, "-inkey", w.rita.key,
                             input=w.smtp.messages()[1][0]))
        assert b"walnut6" in last.replace(b"=\r\n", b""), last
    finally:
        w.close()


def test_ciphertext_under_someone_elses_signature_is_not_decrypted():
    """Rita's encrypted report, captured and signed over by Mallory (detached
    and opaque), sent from Mallory: cased must not read it out for him, nor
    show Rita's words as signed by him."""
    w = World()
    mallory = w.ca.person("Mallory", "mallory@example.net")
    try:
        w.env.start()
        captured = encrypted(w.alias_cert.cert, entity(b"Rita's secret walrus61\n"))
        wrappers = [signed(mallory, captured), signed(mallory, captured, opaque=True),
                    encrypted(w.alias_cert.cert, signed(mallory, captured, opaque=True))]
        for n, wrapped in enumerate(wrappers, start=1):
            raw = message("Mallory <mallory@example.net>", "forwarded", f"w{n}@example.net", wrapped)
            w.deliver(raw, f"w{n}@example.net")
            m = w.last_message(n)
            assert "walrus61" not in json.dumps(w.env.json("show", str(n))), m
            assert m["crypto"] == "smime" and "not at the root" in (m["decryption_error"] or ""), m
        # The same ciphertext at the root is decrypted (the sender encrypted it).
        w.deliver(message(f"Rita Reporter <{RITA}>", "report", "w4@example.org", captured), "w4@example.org")
        m = w.last_message(4)
        assert m["decryption"] == "ok" and "walrus61" in m["body"], m
    finally:
        w.close()


def test_a_root_carried_in_a_signature_is_not_trusted():
    """A signature from an unknown CA that carries its own root: gpgsm keeps
    the certificates, but the root joins no trust list and the chain is
    untrusted; nothing is pinned."""
    w = World()
    other_ca = CA(os.path.join(w.tmp, "carried-ca"), name="carried CA")
    stranger = other_ca.person("Rita Reporter", RITA)
    trustlist = os.path.join(w.alias.home, "trustlist.txt")
    try:
        w.env.start()
        with open(trustlist) as f:
            before = f.read()
        inner = cms("-sign", "-signer", stranger.cert, "-inkey", stranger.key, "-certfile", other_ca.cert,
                    input=entity(b"carried root fig9\n"))
        for n in (1, 2):  # the second time the root is already in gpgsm's keybox
            w.deliver(message(f"Rita Reporter <{RITA}>", "carried", f"c{n}@example.org", inner), f"c{n}@example.org")
            m = w.last_message(n)
            assert m["signature"] == "unknown-key" and m["smime"]["chain"] == "untrusted", m
        with open(trustlist) as f:
            assert f.read() == before
        assert not [k for k in w.env.json("keys") if k["kind"] == "smime" and k["pinned"]], w.env.json("keys")
    finally:
        w.close()


def test_a_key_others_may_read_is_refused():
    w = World(key_mode=0o644)
    try:
        check = subprocess.run([os.environ.get("CASED_BIN", "cased"), "--config", w.env.config, "--check"],
                               capture_output=True, timeout=60)
        assert check.returncode == 1 and b"smime.key" in check.stdout + check.stderr, check
        w.env.start(wait_port=False)
        wait_for(lambda: w.env.daemon.poll() is not None, 30, "cased to refuse the key")
        assert w.env.daemon.returncode == 1
        assert "smime.key" in w.env.log() and "0600" in w.env.log(), w.env.log()
        w.env.daemon = None
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
