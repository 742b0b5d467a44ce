"""Attachments out, as an analyst gets them: `attachments` lists handles,
`save` writes the files (decrypted again from the stored message with the
alias key) byte for byte as the reporter attached them, under safe names,
0600 in a 0700 directory, never overwriting, never outside DIR; `--stdout`
and `raw` write bytes to a pipe but never to a terminal."""

import base64
import hashlib
import json
import os
import pty
import stat
import subprocess
import tempfile

from harness import CASECTL, Env, run_tests
from lmtp_client import deliver
from pgp import Keyring, crlf, gpg, headers, pgp_mime_encrypted

ALIAS = "security@example.com"
RITA = "Rita Reporter <rita@example.org>"
POC = b"/* poc-marker-7f3e */\n#include <stdio.h>\nint main(void) { puts(\"boom\"); }\n"
BLOB = bytes(range(256)) * 64 + os.urandom(4096)


def attachment_entity(name_param, content_type, data):
    return crlf(f"Content-Type: {content_type}\r\nContent-Disposition: attachment; {name_param}\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n") + crlf(base64.encodebytes(data))


def multipart(parts, text="See the attached files.\n"):
    b = "==attach-boundary=="
    out = crlf(f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n'
               f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}")
    for p in parts:
        out += crlf(f"\r\n--{b}\r\n") + p
    return out + crlf(f"\r\n--{b}--\r\n")


class World:
    """The alias keyring as the daemon's gpg.home, a reporter who knows its key, a working directory."""

    def __init__(self):
        self.alias = Keyring(ALIAS)
        self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\n[ack]\nenabled = false\n')
        self.rita = Keyring(RITA)
        self.rita.import_key(self.alias.public())
        self.alias.import_key(self.rita.public())
        self.work = tempfile.mkdtemp(prefix="cased-attach-work-")

    def run(self, *args, stdout=subprocess.PIPE, check=True):
        """casectl in the working directory, HOME there too (a ../../.bashrc would land in it)."""
        env = dict(os.environ, CASED_CONFIG=self.env.config, HOME=self.work)
        p = subprocess.run([CASECTL, *args], cwd=self.work, env=env, stdout=stdout, stderr=subprocess.PIPE,
                           timeout=300)
        if check and p.returncode != 0:
            raise AssertionError(f"casectl {args} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
        return p

    def json(self, *args):
        return json.loads(self.run("--json", *args).stdout)

    def sql(self, query):
        return subprocess.run(["sqlite3", self.env.db, query], capture_output=True, text=True, check=True).stdout

    def close(self):
        self.env.cleanup()
        self.alias.close()
        self.rita.close()
        subprocess.run(["rm", "-rf", self.work])


def encrypted_report(w, msgid="poc@example.org"):
    inner = multipart([attachment_entity('filename="poc.c"', "text/x-c", POC),
                       attachment_entity('filename="core.bin"', "application/octet-stream", BLOB)])
    return pgp_mime_encrypted(w.rita, [ALIAS], RITA, msgid, inner, outer_subject="...")


def files_under(root):
    out = set()
    for dirpath, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


def on_terminal(w, *args):
    """casectl with stdout on a pseudo-terminal: its exit status and what reached the terminal."""
    master, slave = pty.openpty()
    try:
        p = w.run(*args, stdout=slave, check=False)
        os.close(slave)
        slave = -1
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        return p, seen
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def test_encrypted_report_over_lmtp_saved_byte_for_byte():
    w = World()
    try:
        w.env.start()
        msg = encrypted_report(w)
        assert deliver(port=w.env.port, data=msg) == [250]
        listed = w.json("attachments", "1")
        assert [(a["handle"], a["filename"], a["safe_name"], a["encrypted"], a["signed"]) for a in listed] == [
            ("1.1", "poc.c", "poc.c", True, True), ("1.2", "core.bin", "core.bin", True, True)], listed
        assert listed[0]["sha256"] == hashlib.sha256(POC).hexdigest() and listed[1]["size"] == len(BLOB)
        shown = w.json("show", "1")["messages"][0]["attachments"]
        assert [a["handle"] for a in shown] == ["1.1", "1.2"]
        text = w.run("show", "1").stdout.decode()
        assert "Attachment: 1.1 poc.c" in text and "Attachment: 1.2 core.bin" in text, text
        lines = w.run("attachments", "1").stdout.decode().splitlines()
        assert lines[0].split()[:2] == ["1.1", "poc.c"] and "encrypted, signed" in lines[0], lines

        out = w.run("save", "1").stdout.decode().splitlines()
        assert out == ["CASE-1/poc.c", "CASE-1/core.bin"], out
        folder = os.path.join(w.work, "CASE-1")
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        for name, data in (("poc.c", POC), ("core.bin", BLOB)):
            path = os.path.join(folder, name)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            with open(path, "rb") as f:
                assert f.read() == data, name

        # again: nothing is overwritten, the new files are numbered
        again = w.json("save", "1", "1.1")
        assert again == [{"handle": "1.1", "path": "CASE-1/poc-1.c", "size": len(POC),
                          "sha256": hashlib.sha256(POC).hexdigest()}], again
        assert files_under(folder) == {"poc.c", "core.bin", "poc-1.c"}

        # one attachment to a pipe
        assert w.run("save", "1", "1.2", "--stdout").stdout == BLOB

        # who saved what: handles only
        events = [e for e in w.json("show", "1")["events"] if e["kind"] == "attachment-saved"]
        assert [e["detail"] for e in events] == ["1.1 1.2", "1.1", "1.2"], events
        assert all("poc" not in e["detail"] for e in events)
        w.env.stop()
        # the decrypted bytes are kept nowhere in the database
        dump = subprocess.run(["sqlite3", w.env.db, ".dump"], capture_output=True, check=True).stdout
        assert b"poc-marker-7f3e" not in dump
        assert base64.b16encode(b"poc-marker-7f3e") not in dump.upper()
    finally:
        w.close()


def hostile_report():
    long_name = "L" * 600 + ".txt"
    parts = [
        ("filename=\"../../.bashrc\"", b"echo owned\n"),
        ("filename*=utf-8''%1B%5B31mred%1B%5D0%3Btitle%07%1B%5B0m.txt", b"escape\n"),
        ('filename="..."', b"three dots\n"),
        ('filename="........"', b"only dots\n"),
        (f'filename="{long_name}"', b"long\n"),
        ('filename="a/b\\\\c.txt"', b"slashes\n"),
        ("filename*=utf-8''evil%E2%80%AEtxt.exe", b"bidi\n"),
        ('filename="-rf"', b"dash\n"),
    ]
    body = multipart([attachment_entity(p, "application/octet-stream", d) for p, d in parts])
    return headers(RITA, "hostile names", "hostile@example.org") + body, [d for _, d in parts]


def test_hostile_names_stay_inside_dir_and_print_inert():
    w = World()
    try:
        msg, datas = hostile_report()
        w.env.json("ingest", input=msg)
        listed = w.json("attachments", "1")
        assert len(listed) == len(datas), listed
        assert all(a["encrypted"] is False for a in listed)
        text = w.run("attachments", "1").stdout
        assert b"\x1b" not in text and b"\x07" not in text and "\u202e".encode() not in text, text

        result = w.run("save", "1", "--dir", "out")
        printed = result.stdout
        for bad in (b"\x1b", b"\x07", b"\r", "\u202e".encode(), b"\xc2\x9b"):
            assert bad not in printed and bad not in result.stderr, printed
        names = [line[len("out/"):] for line in printed.decode().splitlines()]
        expected = ["bashrc", "red.txt", "attachment-1.3", "attachment-1.4", None, "c.txt", "eviltxt.exe", "rf"]
        assert len(names) == len(expected), names
        for got, want in zip(names, expected):
            if want:
                assert got == want, names
        assert names[4].endswith(".txt") and len(names[4].encode()) <= 200 and set(names[4][:-4]) == {"L"}
        # every file is in out/, nothing anywhere else in the working directory (HOME is there too)
        assert files_under(w.work) == {os.path.join("out", n) for n in names}
        for n, data in zip(names, datas):
            with open(os.path.join(w.work, "out", n), "rb") as f:
                assert f.read() == data, n
    finally:
        w.close()


def test_dir_symlink_and_planted_link_are_not_followed():
    w = World()
    try:
        w.env.start()
        assert deliver(port=w.env.port, data=encrypted_report(w)) == [250]
        elsewhere = os.path.join(w.work, "elsewhere")
        os.mkdir(elsewhere)
        os.symlink(elsewhere, os.path.join(w.work, "link"))
        p = w.run("save", "1", "--dir", "link", check=False)
        assert p.returncode == 4 and b"symbolic link" in p.stderr, p.stderr
        assert os.listdir(elsewhere) == []
        # a link planted where a file would go is neither followed nor replaced
        os.mkdir(os.path.join(w.work, "out"), 0o750)
        target = os.path.join(elsewhere, "victim")
        with open(target, "wb") as f:
            f.write(b"untouched")
        os.symlink(target, os.path.join(w.work, "out", "poc.c"))
        p = w.run("save", "1", "1.1", "--dir", "out")
        assert p.stdout.decode().splitlines() == ["out/poc-1.c"]
        assert b"open to other users" in p.stderr  # an existing 0750 directory is kept as it is, with a warning
        with open(target, "rb") as f:
            assert f.read() == b"untouched"
        with open(os.path.join(w.work, "out", "poc-1.c"), "rb") as f:
            assert f.read() == POC
    finally:
        w.close()


def test_stdout_raw_and_errors():
    w = World()
    try:
        w.env.start()
        msg = encrypted_report(w)
        assert deliver(port=w.env.port, data=msg) == [250]
        other = headers(RITA, "another report", "other@example.org") + multipart(
            [attachment_entity('filename="x.txt"', "text/plain", b"x\n")])
        assert deliver(port=w.env.port, data=other) == [250]
        assert w.json("attachments", "2")[0]["handle"] == "2.1"

        # raw: byte for byte, through a pipe
        stored = bytes.fromhex(w.sql("SELECT hex(raw) FROM messages WHERE id = 1").strip())
        assert stored == msg
        assert w.run("raw", "1", "1").stdout == stored
        # ... never to a terminal, where the sender's bytes would be acted on
        p, seen = on_terminal(w, "raw", "1", "1")
        assert p.returncode == 4 and b"redirect" in p.stderr and b"pipe" in p.stderr, p.stderr
        assert seen == b""
        p, seen = on_terminal(w, "save", "1", "1.1", "--stdout")
        assert p.returncode == 4 and seen == b"", p.stderr

        # handles of another case, unknown handles and bad usage
        for args, code, words in [
            (("save", "1", "2.1"), 3, b"has no attachment 2.1"),
            (("save", "1", "1.9"), 3, b"has no attachment 1.9"),
            (("save", "1", "x.1"), 2, b"not an attachment handle"),
            (("save", "1", "9" * 30 + ".1"), 2, b"not an attachment handle"),
            (("save", "1", "--stdout"), 2, b"exactly one HANDLE"),
            (("save", "1", "1.1", "1.2", "--stdout"), 2, b"exactly one HANDLE"),
            (("raw", "1", "2"), 3, b"holds no message 2"),
            (("raw", "1", "1.1"), 2, b"not a message id"),
            (("attachments", "9"), 3, b"no such case"),
        ]:
            p = w.run(*args, check=False)
            assert p.returncode == code and words in p.stderr, (args, p.returncode, p.stderr)
            assert p.stdout == b""
        assert files_under(w.work) == set()
        assert not [e for e in w.json("show", "1")["events"] if e["kind"] == "attachment-saved"]
    finally:
        w.close()


def test_recorded_hash_mismatch_writes_nothing():
    w = World()
    try:
        w.env.json("ingest", input=encrypted_report(w))
        w.sql("UPDATE attachments SET sha256 = '" + "0" * 64 + "' WHERE id = 2")
        p = w.run("save", "1", check=False)
        assert p.returncode == 1 and b"1.2" in p.stderr and b"SHA-256" in p.stderr and b"nothing written" in p.stderr, p.stderr
        assert files_under(w.work) == set() and not os.path.exists(os.path.join(w.work, "CASE-1"))
        # the other one is intact and still saves
        assert w.run("save", "1", "1.1", "--stdout").stdout == POC
    finally:
        w.close()


def test_save_leaves_the_keyring_alone():
    w = World()
    try:
        key = crlf("Content-Type: application/pgp-keys\r\nContent-Disposition: attachment; filename=\"rita.asc\"\r\n\r\n"
                   ) + crlf(w.rita.public())
        inner = multipart([attachment_entity('filename="poc.c"', "text/x-c", POC), key])
        w.env.json("ingest", input=pgp_mime_encrypted(w.rita, [ALIAS], RITA, "key@example.org", inner))
        assert [a["handle"] for a in w.json("attachments", "1")] == ["1.1", "1.2"]
        # the operator removes the reporter's key; decrypting the report again must not bring it back
        gpg(w.alias.home, "--delete-keys", w.rita.fpr)
        assert gpg(w.alias.home, "--list-keys", w.rita.fpr, check=False).returncode != 0
        assert w.run("save", "1", "1.1", "--stdout").stdout == POC
        assert gpg(w.alias.home, "--list-keys", w.rita.fpr, check=False).returncode != 0
    finally:
        w.close()


def test_a_thousand_attachments_of_one_name_all_save():
    """Numbered names run out after 1000: the rest are named after their handles, none is lost."""
    w = World()
    try:
        for m in (1, 2):
            parts = [attachment_entity('filename="same.txt"', "text/plain", f"{m}.{i}\n".encode()) for i in range(600)]
            subject = "many" if m == 1 else "Re: [CASE#1] many"
            w.env.json("ingest", input=headers(RITA, subject, f"many{m}@example.org") + multipart(parts))
        listed = w.json("attachments", "1")
        assert len(listed) == 1200, len(listed)
        saved = w.json("save", "1", "--dir", "out")
        assert len(saved) == 1200, len(saved)
        names = [os.path.basename(f["path"]) for f in saved]
        assert len(set(names)) == 1200
        assert names[0] == "same.txt" and names[1000] == "same-1000.txt"
        assert names[1001] == "attachment-" + saved[1001]["handle"], names[1001]
        assert files_under(w.work) == {os.path.join("out", n) for n in names}
        for f in saved:
            with open(os.path.join(w.work, f["path"]), "rb") as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == f["sha256"], f
        events = [e for e in w.json("show", "1")["events"] if e["kind"] == "attachment-saved"]
        assert len(events) == 1, events
    finally:
        w.close()


def test_save_does_not_decrypt_ciphertext_intake_kept():
    """A captured report sent back inside other mail (nested, or as a forwarded message) is
    ciphertext to intake, and save gives it out as ciphertext, never decrypted."""
    w = World()
    try:
        captured = encrypted_report(w, msgid="captured@example.org")
        nested = multipart([captured, crlf("Content-Type: message/rfc822\r\n"
                                           'Content-Disposition: attachment; filename="fwd.eml"\r\n\r\n') + captured],
                           text="please have a look\n")
        w.env.json("ingest", input=headers("Mallory <mallory@example.net>", "look", "mallory@example.net") + nested)
        listed = w.json("attachments", "1")
        assert listed, listed
        for a in listed:
            data = w.run("save", "1", a["handle"], "--stdout").stdout
            assert b"poc-marker-7f3e" not in data and b"#include" not in data, a
        assert any(b"BEGIN PGP MESSAGE" in w.run("save", "1", a["handle"], "--stdout").stdout for a in listed)
        saved = w.json("save", "1", "--dir", "out")
        for f in saved:
            with open(os.path.join(w.work, f["path"]), "rb") as fh:
                assert b"poc-marker-7f3e" not in fh.read(), f
        assert "poc-marker-7f3e" not in json.dumps(w.json("show", "1"))
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
