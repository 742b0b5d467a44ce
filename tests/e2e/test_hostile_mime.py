"""Hostile mail over LMTP: bytes that are not UTF-8, nesting deep enough to
overflow a recursive parser, addresses that smuggle a CR into a header. The
daemon must store what it can, stay up, and never write such bytes into
mail it sends."""

import sqlite3
import threading
import time

from harness import Env, run_tests
from lmtp_client import deliver, message
from test_outbound import World as OutboundWorld, wait_for_mail


def alive(env):
    return env.daemon is not None and env.daemon.poll() is None


def deliver_and_check(env, data, msgid="after@example.org"):
    codes = deliver(port=env.port, data=data)
    assert alive(env), f"cased died: {env.log()[-2000:]}"
    assert codes == [250], codes
    # The daemon still serves the next delivery.
    assert deliver(port=env.port, msgid=msgid) == [250]


def test_invalid_utf8_address_and_message_id_do_not_stop_the_daemon():
    env = Env()
    try:
        env.start()
        raw = (b"From: rita@example.org\r\nTo: <\xff@x>\r\nCc: \"\xfe\" <\xc3@example.org>\r\n"
               b"Subject: bad bytes \xff\r\nMessage-ID: <\xff@x>\r\nReferences: <\xff\xfe@x> <ok@example.org>\r\n"
               b"\r\nbody \xff\r\n")
        deliver_and_check(env, raw)
        cases = env.json("list")
        assert len(cases) >= 1
        shown = env.json("show", str(cases[-1]["id"]))
        first = shown["messages"][0]
        assert first["message_id"] == "" or "\ufffd" not in first["message_id"]
        assert all("@x" != t[-2:] or t.isascii() for t in first["to"])
        env.stop()
    finally:
        env.cleanup()


def test_a_message_id_stored_by_older_code_that_is_not_utf8_still_shows():
    env = Env()
    try:
        env.json("ingest", input=message("old@example.org").encode())
        db = sqlite3.connect(env.db)
        db.execute("UPDATE messages SET message_id = CAST(X'3cff403e' AS TEXT)")
        db.execute("UPDATE messages SET from_addr = CAST(X'ff40782e6f7267' AS TEXT)")
        db.commit()
        db.close()
        shown = env.json("show", "1")
        assert shown["messages"][0]["message_id"] == "<\ufffd@>"
        text = env.casectl("show", "1").stdout.decode()
        assert "\ufffd@x.org" in text
    finally:
        env.cleanup()


def nested_rfc822(levels):
    head = b"From: rita@example.org\r\nTo: security@example.com\r\nSubject: deep\r\nMessage-ID: <deep@example.org>\r\n"
    return head + b"Content-Type: message/rfc822\r\n\r\n" * levels + b"innermost\r\n"


def nested_multipart(levels):
    head = b"From: rita@example.org\r\nTo: security@example.com\r\nSubject: deep mp\r\nMessage-ID: <deepmp@example.org>\r\n"
    out = [head]
    for i in range(levels):
        out.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i))
    out.append(b"\r\ninnermost\r\n")
    return b"".join(out)


def test_deep_nesting_is_stored_flagged_and_the_daemon_stays_up():
    env = Env()
    try:
        env.start()
        deliver_and_check(env, nested_rfc822(110_000), "after1@example.org")  # about 3.4 MB
        deliver_and_check(env, nested_multipart(60_000), "after2@example.org")
        shown = [env.json("show", str(c["id"])) for c in env.json("list")]
        deep = [m for s in shown for m in s["messages"] if m["subject"].startswith("deep")]
        assert len(deep) == 2
        assert all(m["malformed"] and "too deep" in m["problems"] for m in deep), deep
        env.stop()
    finally:
        env.cleanup()


def test_a_cr_in_reply_to_or_message_id_never_reaches_an_acknowledgement():
    w = OutboundWorld()
    try:
        w.smtp.start()
        w.env.start()
        raw = (b"From: rita@example.org\r\nTo: security@example.com\r\nSubject: hi\r\n"
               b"Message-ID: <x\rX-Injected:yes@example.org>\r\nReply-To: (c <victim2@example.net\rX:y>\r\n"
               b"References: <y\rX-Injected:yes@example.org>\r\n\r\nbody\r\n")
        assert deliver(port=w.env.port, data=raw) == [250]
        wait_for_mail(w.smtp, 1)
        sent, envelope = w.smtp.messages()[0]
        assert envelope["to"] == ["rita@example.org"], envelope
        head = sent.split(b"\r\n\r\n", 1)[0]
        assert b"X-Injected" not in head and b"X:y" not in head and b"victim2" not in head, head
        for row in w.env.json("outbox"):
            assert row["to"] == ["rita@example.org"], row
        w.env.stop()
    finally:
        w.close()


def test_a_reply_to_a_case_whose_subject_is_all_re_prefixes_is_quick():
    w = OutboundWorld()
    try:
        subject = "Re: " * 500000 + "x"  # 2 MB: each prefix used to copy the rest (41 s)
        w.env.json("ingest", input=w.report(subject=subject))
        start = time.monotonic()
        p = w.env.casectl("reply", "1", "-m", "hello")
        assert time.monotonic() - start < 20, time.monotonic() - start
        assert b"signed, encrypted" in p.stdout, p.stdout
    finally:
        w.close()


def test_a_hostile_html_message_does_not_hold_up_another_session():
    env = Env()
    try:
        env.start()
        html = b"<html><body>" + b"<SCRIPT>var a = 1;</SCRIPT><style>p{}</style>x &amp; y && " * 4500 + b"</body></html>"
        raw = (b"From: rita@example.org\r\nTo: security@example.com\r\nSubject: html\r\n"
               b"Message-ID: <html@example.org>\r\nContent-Type: text/html\r\n\r\n" + html[:258_000] + b"\r\n")
        results = {}

        def big():
            results["big"] = deliver(port=env.port, data=raw)

        t = threading.Thread(target=big)
        t.start()
        time.sleep(0.05)
        start = time.monotonic()
        results["small"] = deliver(port=env.port, msgid="small@example.org")
        small_took = time.monotonic() - start
        print("small delivery took", round(small_took, 3))
        t.join(120)
        assert results == {"big": [250], "small": [250]}, results
        assert small_took < 1, small_took  # quadratic HTML parsing on the event loop held it seconds
        env.stop()
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
