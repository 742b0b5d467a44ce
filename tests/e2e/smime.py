"""Throwaway X.509 for the S/MIME tests, made with the real openssl at test
time: a test CA, people's certificates (address in the subject, or only in
subjectAltName; expired; from an unknown CA), and S/MIME messages made by
`openssl cms` and, as a second client, by `gpgsm` itself. INSECURE TEST
KEYS: no passphrase, never committed."""

import base64
import os
import subprocess
import tempfile

from pgp import crlf


def run(*args, input=None, cwd=None, env=None):
    p = subprocess.run(list(args), input=input, capture_output=True, timeout=120, cwd=cwd, env=env)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout


CA_CONFIG = """[ca]
default_ca = d
[d]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/new
serial = {dir}/serial
crlnumber = {dir}/crlnumber
certificate = {dir}/ca.pem
private_key = {dir}/ca.key
default_md = sha256
default_days = 30
default_crl_days = 7
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
emailAddress = optional
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[crl_ext]
authorityKeyIdentifier = keyid
"""

USER_EXT = """[u]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment,dataEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
{san}
"""


class Person:
    def __init__(self, cert, key, address):
        self.cert, self.key, self.address = cert, key, address

    def fingerprint(self):
        out = run("openssl", "x509", "-in", self.cert, "-noout", "-fingerprint", "-sha1").decode()
        return out.strip().split("=", 1)[1].replace(":", "").upper()


class CA:
    def __init__(self, directory, name="cased test CA"):
        self.dir = directory
        os.makedirs(os.path.join(directory, "new"), exist_ok=True)
        open(os.path.join(directory, "index.txt"), "w").close()
        with open(os.path.join(directory, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(directory, "crlnumber"), "w") as f:
            f.write("01\n")
        self.config = os.path.join(directory, "ca.cnf")
        with open(self.config, "w") as f:
            f.write(CA_CONFIG.format(dir=directory))
        self.key = os.path.join(directory, "ca.key")
        self.cert = os.path.join(directory, "ca.pem")
        run("openssl", "req", "-x509", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
            "-days", "30", "-subj", f"/CN={name}/O=cased tests", "-config", self.config, "-extensions", "v3_ca")

    def person(self, name, address, in_subject=True, san=True, expired=False):
        """A certificate for `address`: in the subject's emailAddress and/or subjectAltName."""
        stem = os.path.join(self.dir, name.replace(" ", "_"))
        key, csr, cert, ext = stem + ".key", stem + ".csr", stem + ".pem", stem + ".ext"
        subj = f"/CN={name}" + (f"/emailAddress={address}" if in_subject else "")
        run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subj,
            "-config", self.config)
        with open(ext, "w") as f:
            f.write(USER_EXT.format(san=f"subjectAltName = email:{address}" if san else ""))
        dates = ["-startdate", "20240101000000Z", "-enddate", "20240201000000Z"] if expired else ["-days", "30"]
        run("openssl", "ca", "-batch", "-config", self.config, "-in", csr, "-out", cert, "-notext", "-extfile", ext,
            "-extensions", "u", *dates)
        os.chmod(key, 0o600)
        return Person(cert, key, address)

    def revoke(self, person):
        """Revokes `person` and returns the path of a new CRL (PEM)."""
        run("openssl", "ca", "-batch", "-config", self.config, "-revoke", person.cert)
        return self.crl()

    def crl(self):
        path = os.path.join(self.dir, "ca.crl")
        run("openssl", "ca", "-batch", "-config", self.config, "-gencrl", "-crlexts", "crl_ext", "-out", path)
        return path


def headers(frm, subject, msgid, to="security@example.com"):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Sun, 22 Nov 2026 21:56:20 +0000\r\nMessage-ID: <{msgid}>\r\n").encode()


def entity(body):
    return crlf(b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + crlf(body))


def cms(*args, input):
    return run("openssl", "cms", *args, input=input)


def signed(person, inner, opaque=False):
    """`inner` (a MIME entity) signed by `person`: multipart/signed, or opaque signed-data."""
    args = ["-sign", "-signer", person.cert, "-inkey", person.key]
    if opaque:
        args.append("-nodetach")
    return cms(*args, input=inner)


def encrypted(recipient_cert, inner):
    return cms("-encrypt", "-aes256", recipient_cert, input=inner)


def message(frm, subject, msgid, smime_entity):
    """A whole message around what openssl cms wrote (which starts with MIME-Version)."""
    return headers(frm, subject, msgid) + crlf(smime_entity)


def pkcs7_part(der, smime_type):
    b64 = base64.encodebytes(der).replace(b"\n", b"\r\n")
    return (f'MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type={smime_type}; name="smime.p7m"\r\n'
            'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
            ).encode() + b64


class Gpgsm:
    """A reporter's own gpgsm home: the second S/MIME client."""

    def __init__(self, person, ca):
        self.home = tempfile.mkdtemp(prefix="cased-gpgsm-")
        os.chmod(self.home, 0o700)
        with open(os.path.join(self.home, "gpgsm.conf"), "w") as f:
            f.write("disable-crl-checks\n")
        p12 = os.path.join(self.home, "me.p12")
        self.gpgsm("--import", ca.cert)
        # gpgsm 2.2.40 refuses about one in thirty of these files ("decryption
        # failed"), made from the same key and certificate: only the random
        # salt and IV differ between them. A new file is made and tried again.
        for attempt in range(5):
            run("openssl", "pkcs12", "-export", "-in", person.cert, "-inkey", person.key, "-passout", "pass:",
                "-out", p12, "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1")
            try:
                self.gpgsm("--import", p12, input=b"\n")
                break
            except AssertionError as e:
                if "decryption failed" not in str(e) or attempt == 4:
                    raise
        fpr = run("openssl", "x509", "-in", ca.cert, "-noout", "-fingerprint", "-sha1").decode().split("=", 1)[1]
        with open(os.path.join(self.home, "trustlist.txt"), "w") as f:
            f.write(fpr.strip() + " S\n")
        self.person = person

    def gpgsm(self, *args, input=None):
        return run("gpgsm", "--homedir", self.home, "--batch", "--disable-dirmngr", "--pinentry-mode", "loopback",
                   "--passphrase-fd", "0", *args, input=input if input is not None else b"\n")

    def sign_encrypt(self, inner, recipient_cert):
        """`inner` signed (opaque signed-data) by the person, then encrypted to `recipient_cert`: DER."""
        self.gpgsm("--import", recipient_cert)
        sig = os.path.join(self.home, "in.p7s")
        with open(os.path.join(self.home, "in.txt"), "wb") as f:
            f.write(inner)
        self.gpgsm("--output", sig, "--sign", "--local-user", self.person.address, os.path.join(self.home, "in.txt"))
        with open(sig, "rb") as f:
            signed_der = f.read()
        signed_entity = pkcs7_part(signed_der, "signed-data")
        recipient = run("openssl", "x509", "-in", recipient_cert, "-noout", "-fingerprint", "-sha1").decode()
        recipient = recipient.strip().split("=", 1)[1].replace(":", "")
        return run("gpgsm", "--homedir", self.home, "--batch", "--disable-dirmngr", "--encrypt",
                   "--recipient", recipient, input=signed_entity)

    def close(self):
        subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True)
        subprocess.run(["rm", "-rf", self.home])


def smime_world_config(gpg_home, ca, alias, system_store=False, crl=None):
    crl_line = f'crl_files = ["{crl}"]\n' if crl else ""
    return (f'[gpg]\nhome = "{gpg_home}"\n\n[smime]\nca_files = ["{ca.cert}"]\ncertificate = "{alias.cert}"\n'
            f'key = "{alias.key}"\nsystem_store = {"true" if system_store else "false"}\n{crl_line}\n')
