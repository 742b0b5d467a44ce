"""What a sender or a server wrote reaches the analyst's terminal inert:
content types in `show`, addresses in `outbox` and `keys`, SMTP error text.
And an address an analyst types is checked before anything is queued."""

import sqlite3

from harness import run_tests
from lmtp_client import message
from test_outbound import World

# ESC c (reset the terminal), CSI as the C1 control U+009B, RIGHT-TO-LEFT OVERRIDE.
HOSTILE = b"\x1bc\xc2\x9b2J\xe2\x80\xae"


def assert_inert(out):
    for bad in (b"\x1b", b"\xc2\x9b", b"\xe2\x80\xae"):
        assert bad not in out, (bad, out)


def test_show_prints_a_hostile_content_type_inert():
    w = World()
    try:
        raw = (b"From: rita@example.org\r\nTo: security@example.com\r\nSubject: ct\r\nMessage-ID: <ct@example.org>\r\n"
               b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
               b"--b\r\nContent-Type: application/x-" + HOSTILE + b"\r\nContent-Disposition: attachment\r\n\r\nxx\r\n--b--\r\n")
        w.env.json("ingest", input=raw)
        db = sqlite3.connect(w.env.db)
        # As older code stored it, whatever the parser makes of it today.
        db.execute("UPDATE attachments SET content_type = CAST(? AS TEXT)", (b"application/x-" + HOSTILE,))
        db.execute("UPDATE messages SET problems = CAST(? AS TEXT)", (b"bad " + HOSTILE,))
        db.execute("UPDATE messages SET malformed = 1")
        db.commit()
        db.close()
        out = w.env.casectl("show", "1").stdout
        assert b"Attachment:" in out and b"^[c" in out and b"<U+009B>" in out and b"<U+202E>" in out, out
        assert_inert(out)
    finally:
        w.close()


def test_outbox_and_keys_print_addresses_and_server_text_inert():
    w = World()
    try:
        w.env.json("ingest", input=message("k@example.org").encode())
        db = sqlite3.connect(w.env.db)
        db.execute("INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, last_error, next_attempt, created) "
                   "VALUES (1, 'reply', 'queued', CAST(? AS TEXT), 's', 'm@x', CAST(? AS TEXT), 0, 0)",
                   (b'["v' + HOSTILE + b'@example.org"]', b"550 no such user " + HOSTILE))
        db.execute("INSERT INTO keys(address, fingerprint, source, pinned, added) VALUES (CAST(? AS TEXT), 'ABCD', 'attachment', 0, 0)",
                   (b"k" + HOSTILE + b"@example.org",))
        db.commit()
        db.close()
        out = w.env.casectl("outbox").stdout
        assert b"no such user ^[c" in out and b"<U+202E>" in out, out
        assert_inert(out)
        out = w.env.casectl("keys").stdout
        assert b"k^[c" in out, out
        assert_inert(out)
    finally:
        w.close()


def test_reply_to_something_that_is_not_an_address_is_a_usage_error():
    w = World()
    try:
        w.env.json("ingest", input=message("n@example.org").encode())
        for bad in ("not an address", "victim@example.net\rX-Injected: yes", "a@b>", "<a@b>, c@d"):
            p = w.env.casectl("reply", "1", "--to", bad, "--sign-only", "-m", "hello", check=False)
            assert p.returncode == 2, (bad, p.returncode, p.stdout, p.stderr)
            assert b"\r" not in p.stderr
        p = w.env.casectl("participant", "1", "x y@example.org\rX: y", check=False)
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert all("\r" not in x["address"] for x in w.env.json("show", "1")["participant_details"])
        assert [o for o in w.env.json("outbox") if o["kind"] == "reply"] == []
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
