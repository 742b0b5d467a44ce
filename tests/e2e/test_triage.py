"""Triage through the real casectl and cased: closing reasons, reopening by
new mail (LMTP) and by an analyst, stats by resolution, tags and list
--tag, and search with fields, hostile queries included."""

import email
import json

from harness import Env, run_tests, wait_for
from lmtp_client import deliver, message


def plain(msgid, subject="Crash in the parser", frm="Rita Reporter <rita@example.org>", extra="", body="It crashes.\n"):
    return (
        f"From: {frm}\nTo: security@example.com\nSubject: {subject}\n"
        f"Date: Sun, 22 Nov 2026 21:56:20 +0000\nMessage-ID: <{msgid}>\n{extra}\n{body}"
    ).encode()


def with_attachment(msgid, name, subject="Proof of concept attached"):
    return (
        "From: Rita Reporter <rita@example.org>\nTo: security@example.com\n"
        f"Subject: {subject}\nMessage-ID: <{msgid}>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nSee the file.\n"
        f'--b\nContent-Type: text/x-c\nContent-Disposition: attachment; filename="{name}"\n\n'
        "int main(void) { return 0; }\n--b--\n"
    ).encode()


def ids(cases):
    return [c["id"] for c in cases]


def kinds(shown):
    return [e["kind"] for e in shown["events"]]


def test_resolution_is_kept_shown_counted_and_refused_for_open_states():
    env = Env()
    try:
        env.json("ingest", input=plain("a@example.org"))
        env.json("ingest", input=plain("b@example.org", subject="Second"))
        p = env.casectl("status", "1", "open", "--reason", "fixed", check=False)
        assert p.returncode == 2 and b"--reason" in p.stderr and b"resolved or rejected" in p.stderr, p
        p = env.casectl("status", "1", "resolved", "--reason", "because", check=False)
        assert p.returncode == 2 and b"fixed" in p.stderr, p
        assert env.json("show", "1")["status"] == "new"

        p = env.casectl("status", "1", "resolved", "--reason", "fixed", "-m", "fixed in 1.2.3")
        assert p.stdout == b"[CASE#1] is resolved (fixed); comment added\n", p.stdout
        shown = env.json("show", "1")
        assert shown["resolution"] == "fixed" and shown["status"] == "resolved"
        assert shown["comments"][-1]["text"] == "fixed in 1.2.3"
        assert [e["detail"] for e in shown["events"] if e["kind"] == "resolution"] == ["none -> fixed"]
        assert "Status:       resolved (fixed)" in env.casectl("show", "1").stdout.decode()
        assert {c["id"]: c["resolution"] for c in env.json("list", "--all")} == {1: "fixed", 2: None}
        assert {c["id"]: c["resolution"] for c in env.json("export", "--all", "--format", "json")}[1] == "fixed"
        csv_text = env.casectl("export", "--all").stdout.decode()
        assert csv_text.splitlines()[0].endswith(",resolution,tags") and ",fixed," in csv_text, csv_text
        # --json after status is the case as show prints it.
        after = env.json("status", "2", "rejected", "--reason", "spam")
        assert after == env.json("show", "2") and after["resolution"] == "spam"

        stats = env.json("stats")
        assert stats["by_resolution"]["fixed"] == 1 and stats["by_resolution"]["spam"] == 1, stats
        assert stats["by_resolution"]["none"] == 0 and stats["by_resolution"]["duplicate"] == 0
        assert "fixed" in env.casectl("stats").stdout.decode()

        # An analyst reopens: the resolution goes.
        env.casectl("status", "2", "open")
        assert env.json("show", "2")["resolution"] is None
        assert env.json("stats")["by_resolution"]["spam"] == 0
    finally:
        env.cleanup()


def test_new_mail_over_lmtp_reopens_a_closed_case():
    env = Env()
    env.start()
    try:
        assert deliver(port=env.port, msgid="first@example.org",
                       data=message("first@example.org", subject="Heap overflow")) == [250]
        wait_for(lambda: len(env.json("list", "--all")) == 1, 10, "the case")
        env.casectl("status", "1", "resolved", "--reason", "fixed")
        # An automatic reply (RFC 3834) to the closed case leaves it closed.
        auto = message("auto@example.org", subject="Re: [CASE#1] Heap overflow",
                       extra="Auto-Submitted: auto-replied\r\n")
        assert deliver(port=env.port, data=auto) == [250]
        wait_for(lambda: env.json("show", "1")["message_count"] == 2, 10, "the automatic reply")
        assert env.json("show", "1")["status"] == "resolved"
        # The reporter writes again: open, no resolution, an event by cased.
        again = message("again@example.org", subject="Re: [CASE#1] Heap overflow", body="It is back.\r\n")
        assert deliver(port=env.port, data=again) == [250]
        wait_for(lambda: env.json("show", "1")["message_count"] == 3, 10, "the reply")
        shown = env.json("show", "1")
        assert shown["status"] == "open" and shown["resolution"] is None, shown["status"]
        reopen = [e for e in shown["events"] if e["kind"] == "reopen"]
        assert len(reopen) == 1 and reopen[0]["actor"] == "cased", reopen
        assert "resolved (fixed) -> open" in reopen[0]["detail"] and "rita@example.org" in reopen[0]["detail"]
        assert ids(env.json("list")) == [1]
        assert env.json("stats")["by_resolution"]["fixed"] == 0
    finally:
        env.stop()
        env.cleanup()


def test_our_reply_and_its_bounce_leave_a_closed_case_closed():
    """Mail of ours (a reply sent while the case is resolved) and the bounce
    of it are no news from a person: the case stays closed."""
    from test_outbound import World

    w = World()
    try:
        w.smtp.start()
        w.env.json("ingest", input=w.report())
        w.env.casectl("status", "1", "resolved", "--reason", "duplicate")
        w.env.casectl("reply", "1", "-m", "closed as a duplicate of an earlier report")
        assert w.env.json("show", "1")["status"] == "resolved"
        ours = email.message_from_bytes(w.smtp.messages()[-1][0])["Message-ID"]
        dsn = (b"From: MAILER-DAEMON@mx.example.org\r\nTo: security@example.com\r\n"
               b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.example.org>\r\n"
               b"MIME-Version: 1.0\r\n"
               b'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
               b"--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
               b"--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
               b"Final-Recipient: rfc822; rita@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
               b"--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: security@example.com\r\n"
               b"Message-ID: " + ours.encode() + b"\r\nSubject: [CASE#1] Encrypted message\r\n--dsn--\r\n")
        assert w.env.json("ingest", input=dsn)["case"] == 1
        shown = w.env.json("show", "1")
        assert "bounce" in kinds(shown) and "reopen" not in kinds(shown)
        assert shown["status"] == "resolved" and shown["resolution"] == "duplicate"
        # The reporter answers the reply: that reopens it.
        answer = w.report(msgid="r2@example.org", subject="Re: [CASE#1] Heap overflow in widget", attach_key=False,
                          extra=f"In-Reply-To: {ours}\r\n")
        assert w.env.json("ingest", input=answer)["case"] == 1
        shown = w.env.json("show", "1")
        assert shown["status"] == "open" and shown["resolution"] is None and "reopen" in kinds(shown)
    finally:
        w.close()


def test_tags_add_remove_noop_and_bad_ones_change_nothing():
    env = Env()
    try:
        for n in range(1, 4):
            env.json("ingest", input=plain(f"t{n}@example.org", subject=f"report {n}"))
        p = env.casectl("tag", "1", "+web", "+needs-info", "-absent")
        assert p.stdout == b"[CASE#1] +web +needs-info; tags: needs-info web\n", p.stdout
        after = env.json("tag", "2", "+web", "+crash")
        assert after == env.json("show", "2") and after["tags"] == ["crash", "web"]
        # A removal first (it looks like an option), --json after the words.
        p = env.casectl("tag", "1", "-needs-info", "+web", "--json")
        assert json.loads(p.stdout)["tags"] == ["web"], p.stdout
        p = env.casectl("tag", "1", "+web", "-nothere")
        assert p.stdout == b"[CASE#1] unchanged; tags: web\n", p.stdout
        events = len(env.json("show", "1")["events"])
        for bad in (["+Web"], ["+ok", "+bad tag"], ["+ok", "+-x"], ["web"], ["+\x1b[31mred"], ["+" + "a" * 65], []):
            p = env.casectl("tag", "1", *bad, check=False)
            assert p.returncode == 2, (bad, p)
            assert b"\x1b" not in p.stderr and p.stderr.startswith(b"casectl: "), p.stderr
        assert env.json("show", "1")["tags"] == ["web"]
        assert len(env.json("show", "1")["events"]) == events
        shown = env.json("show", "1")
        assert [e["detail"] for e in shown["events"] if e["kind"] == "tag"] == ["+web +needs-info", "-needs-info"]
        assert "Tags:         web" in env.casectl("show", "1").stdout.decode()
        assert env.casectl("tag", "9", "+web", check=False).returncode == 3

        assert sorted(ids(env.json("list", "--tag", "web"))) == [1, 2]
        # The text list shows the tags after the subject; a case without tags shows none.
        rows = {line.split()[0]: line for line in env.casectl("list").stdout.decode().splitlines()[1:]}
        assert rows["CASE#1"].endswith("report 1 (web)"), rows
        assert rows["CASE#2"].endswith("report 2 (crash web)"), rows
        assert rows["CASE#3"].endswith("report 3"), rows
        assert ids(env.json("list", "--tag", "web", "--tag", "crash")) == [2]
        assert ids(env.json("list", "--tag", "WEB", "--tag", "crash")) == [2]
        assert env.json("list", "--tag", "nothing") == []
        assert env.casectl("list", "--tag", "a;b", check=False).returncode == 2
        env.casectl("status", "2", "resolved")
        assert ids(env.json("list", "--tag", "crash")) == []
        assert ids(env.json("list", "--all", "--tag", "crash")) == [2]
        assert {c["id"]: c["tags"] for c in env.json("list", "--all")}[3] == []
    finally:
        env.cleanup()


def test_search_fields_alone_combined_and_with_words():
    env = Env()
    try:
        env.json("ingest", input=plain("s1@example.org", subject="Heap overflow in the parser",
                                       body="zebra stripes overflow\n"))
        env.json("ingest", input=plain("s2@example.org", subject="Stack exhaustion", frm="Mallory <m@evil.example>",
                                       body="zebra recursion\n"))
        env.json("ingest", input=with_attachment("s3@example.org", "PoC_exploit.c"))
        env.casectl("tag", "2", "+dos")
        env.casectl("set", "1", "--cve", "CVE-2026-4242")

        def found(query):
            return sorted(ids(env.json("search", query)))

        assert found("zebra") == [1, 2]
        assert found("tag:dos") == [2]
        assert found("zebra tag:dos") == [2]
        assert found("from:rita@example.org") == [1, 3]
        assert found("from:RITA@Example.org") == [1, 3]
        assert found("from:@evil.example") == [2]
        assert found("from:@example.org zebra") == [1]
        assert found("subject:overflow") == [1]
        assert found("subject:exhaust*") == [2]
        assert found("overflow subject:stack") == []
        assert found("cve:cve-2026-4242") == [1]
        assert found("attachment:poc_") == [3]
        assert found("attachment:EXPLOIT") == [3]
        assert found("attachment:%") == []
        assert found("tag:dos from:m@evil.example subject:stack") == [2]
        assert found("tag:dos cve:CVE-2026-4242") == []
        # Fields alone: in list's order (the most recently active first), snippet empty.
        env.casectl("comment", "1", "-m", "touch it")
        hits = env.json("search", "from:@example.org")
        by_activity = [c["id"] for c in env.json("list", "--all") if c["id"] in (1, 3)]
        assert ids(hits) == by_activity and hits[0]["snippet"] == "", hits
        text = env.casectl("search", "tag:dos").stdout.decode()
        assert "CASE#2" in text and "Stack exhaustion" in text
    finally:
        env.cleanup()


def test_hostile_queries_give_results_or_a_clear_message():
    env = Env()
    try:
        env.json("ingest", input=plain("h1@example.org", subject="Quote \" and (parens) NEAR(x) in here"))
        hostile = ['"', 'from:"', 'subject:"', "(", ")", "NEAR(", "NEAR(a b", "*", "-", '"', ":", "a:b:c",
                   "subject:*", "subject:NEAR(", "tag:'; DROP TABLE cases; --", "from:%@%", "attachment:\\",
                   "cve:\" OR 1=1 --", "überlauf ☃ 漏洞", "subject:☃", "AND OR NOT", "^x", "{subject}: x",
                   "col:x", "-parens"]
        for q in hostile:
            p = env.casectl("--json", "search", q, check=False)
            assert p.returncode in (0, 2), (q, p)
            err = p.stderr.decode(errors="replace").lower()
            assert "sql" not in err and "fts5" not in err and "syntax" not in err, (q, err)
            if p.returncode == 0:
                json.loads(p.stdout)
        assert ids(env.json("search", "parens")) == [1]
        assert ids(env.json("search", '"')) == []
        for q in ("tag:", "from:", 'subject:""', "", "   "):
            p = env.casectl("search", q, check=False)
            assert p.returncode == 2 and p.stderr.startswith(b"casectl: search: "), (q, p)
        assert len(env.json("list", "--all")) == 1  # nothing dropped
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
