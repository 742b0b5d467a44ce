"""casectl end to end: the real binary on real-shaped messages, JSON checked
against the contract in docs/contract.md."""

import os
import re
import sqlite3
import stat
import subprocess

from harness import CASECTL, Env, data, need_test_hooks, run_tests

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def plain(msgid, subject="Crash in the parser", body="It crashes.\n", extra="", frm="Rita Reporter <rita@example.org>"):
    return (
        f"From: {frm}\nTo: security@example.com\nSubject: {subject}\n"
        f"Date: Sun, 22 Nov 2026 21:56:20 +0000\nMessage-ID: <{msgid}>\n{extra}\n{body}"
    ).encode()


def test_help_and_version():
    for args in (["--help"], ["--version"]):
        p = subprocess.run([CASECTL, *args], capture_output=True)
        assert p.returncode == 0, p
        assert p.stdout and not p.stderr
    p = subprocess.run([CASECTL, "frobnicate"], capture_output=True)
    assert p.returncode == 2
    assert p.stderr.startswith(b"casectl: ")


def test_config_errors_exit_1_before_touching_anything():
    env = Env()
    try:
        with open(env.config, "a") as f:
            f.write("\n[case2]\nx = 1\n")
        p = env.casectl("list", check=False)
        assert p.returncode == 1
        assert p.stderr.startswith(b"casectl: ")
        assert b"case2" in p.stderr and b"cased.toml:" in p.stderr
        assert not os.path.exists(env.db)
    finally:
        env.cleanup()


def test_init_is_idempotent_and_database_is_0600():
    env = Env()
    try:
        os.umask(0o022)
        a = env.json("init")
        b = env.json("init")
        assert a == b
        assert a["schema_version"] >= 2
        assert stat.S_IMODE(os.stat(env.db).st_mode) == 0o600
        for companion in ("-wal", "-shm"):
            path = env.db + companion
            if os.path.exists(path):
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, companion
    finally:
        env.cleanup()


def test_ingest_list_show_json_contract():
    env = Env()
    try:
        r = env.json("ingest", input=plain("one@example.org"))
        assert r == {"case": 1, "message": 1, "new_case": True, "duplicate": False}
        again = env.json("ingest", input=plain("one@example.org"))
        assert again == {"case": 1, "message": 1, "new_case": False, "duplicate": True}
        # LF-only and CRLF forms are the same message.
        crlf = plain("one@example.org").replace(b"\n", b"\r\n")
        assert env.json("ingest", input=crlf)["duplicate"] is True

        cases = env.json("list")
        assert len(cases) == 1
        c = cases[0]
        for key in ("id", "subject", "status", "assignee", "created", "updated", "messages", "participants"):
            assert key in c, key
        assert c["id"] == 1 and c["status"] == "new" and c["assignee"] is None
        assert c["messages"] == 1 and c["participants"] == ["rita@example.org"]
        assert c["subject"] == "Crash in the parser"
        assert RFC3339.match(c["created"]) and RFC3339.match(c["updated"])

        s = env.json("show", "1")
        assert s["id"] == 1
        m = s["messages"][0]
        for key in ("id", "message_id", "direction", "from", "to", "date", "subject", "encrypted", "decryption",
                    "signature", "signer", "body", "attachments"):
            assert key in m, key
        assert m["message_id"] == "one@example.org"
        assert m["direction"] == "in"
        assert m["from"] == "rita@example.org"
        assert m["to"] == ["security@example.com"]
        assert m["date"] == "2026-11-22T21:56:20Z"
        assert m["encrypted"] is False and m["decryption"] == "none" and m["signature"] == "none"
        assert m["signer"] is None
        assert m["body"].strip() == "It crashes."
        assert s["comments"] == []
        kinds = [e["kind"] for e in s["events"]]
        assert "created" in kinds and "message" in kinds
        for e in s["events"]:
            assert set(("kind", "actor", "created", "detail")) <= set(e)
    finally:
        env.cleanup()


def test_assign_comment_status_and_actor():
    env = Env()
    try:
        env.json("ingest", input=plain("a@example.org"))
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        env.casectl("assign", "1", "alice")
        env.casectl("comment", "1", "-m", "Reproduced; internal only")
        env.casectl("status", "1", "open")
        s = env.json("show", "1")
        assert s["assignee"] == "alice"
        assert s["status"] == "open"
        assert s["comments"][0]["author"] == user
        assert s["comments"][0]["text"] == "Reproduced; internal only"
        ev = {e["kind"]: e for e in s["events"]}
        assert ev["assign"]["detail"] == "alice" and ev["assign"]["actor"] == user
        assert ev["status"]["detail"] == "new -> open"
        assert [c["id"] for c in env.json("list", "--assignee", "alice")] == [1]
        assert env.json("list", "--status", "new") == []
        assert [c["id"] for c in env.json("list", "--status", "open")] == [1]
        # comment from a file
        path = os.path.join(env.dir, "note.txt")
        with open(path, "w") as f:
            f.write("from a file\n")
        env.casectl("comment", "1", "-F", path)
        assert env.json("show", "1")["comments"][1]["text"] == "from a file\n"
        # bad state is a usage error
        assert env.casectl("status", "1", "closed", check=False).returncode == 2
    finally:
        env.cleanup()


def test_unknown_case_exits_3():
    env = Env()
    try:
        env.json("init")
        for args in (["show", "42"], ["assign", "42", "bob"], ["status", "42", "open"], ["comment", "42", "-m", "x"]):
            p = env.casectl(*args, check=False)
            assert p.returncode == 3, (args, p.returncode)
            assert p.stderr.startswith(b"casectl: ") and b"42" in p.stderr
    finally:
        env.cleanup()


def test_stale_filter_uses_activity():
    if not need_test_hooks("test_stale_filter_uses_activity"):
        return
    env = Env()
    try:
        env.casectl("ingest", input=plain("old@example.org"), env={"CASED_NOW": "2026-11-01T00:00:00Z"})
        env.casectl("ingest", input=plain("new@example.org", subject="other"), env={"CASED_NOW": "2026-11-20T00:00:00Z"})
        now = {"CASED_NOW": "2026-11-22T00:00:00Z"}
        assert [c["id"] for c in env.json("list", "--stale", "7", env=now)] == [1]
        env.casectl("comment", "1", "-m", "still looking", env=now)
        assert env.json("list", "--stale", "7", env=now) == []
    finally:
        env.cleanup()


def test_search_subjects_bodies_comments():
    env = Env()
    try:
        env.json("ingest", input=plain("s1@example.org", subject="Overflow in Frobnicator", body="heap smash\n"))
        env.json("ingest", input=plain("s2@example.org", subject="XSS in login", body="script alert\n"))
        env.casectl("comment", "2", "-m", "zanzibar")
        assert [c["id"] for c in env.json("search", "frobnicator")] == [1]
        assert [c["id"] for c in env.json("search", "FROB*")] == [1]
        assert [c["id"] for c in env.json("search", "smash")] == [1]
        assert [c["id"] for c in env.json("search", "zanzibar")] == [2]
        assert env.json("search", "nothinglikethis") == []
        text = env.casectl("search", "heap").stdout.decode()
        assert "CASE#1" in text and "[heap]" in text
    finally:
        env.cleanup()


def test_threading_through_casectl():
    env = Env()
    try:
        env.json("ingest", input=plain("t1@example.org"))
        reply = plain("t2@example.org", subject="Re: Crash in the parser", extra="In-Reply-To: <t1@example.org>\n")
        assert env.json("ingest", input=reply)["case"] == 1
        tagged = plain("t3@example.org", subject="Re: [CASE#1] more", frm="mallory@example.net")
        assert env.json("ingest", input=tagged)["case"] == 1
        s = env.json("show", "1")
        assert s["messages"][2].get("unverified") is True
        assert "unverified" in [e["kind"] for e in s["events"]]
        plus = plain("t4@example.org", subject="new thing", extra="Delivered-To: security+1@example.com\n")
        assert env.json("ingest", input=plus)["case"] == 1
        fresh = plain("t5@example.org", subject="unrelated")
        assert env.json("ingest", input=fresh)["new_case"] is True
    finally:
        env.cleanup()


def test_mbox_backfill_of_1000_messages():
    env = Env()
    try:
        path = os.path.join(env.dir, "backfill.mbox")
        threads, per_thread = 50, 20
        with open(path, "wb") as f:
            for t in range(threads):
                for k in range(per_thread):
                    refs = "".join(f" <t{t}m{j}@example.org>" for j in range(k))
                    extra = f"References:{refs}\nIn-Reply-To: <t{t}m{k - 1}@example.org>\n" if k else ""
                    body = f"message {k} of thread {t}\nFrom the start of a line\n"
                    msg = plain(f"t{t}m{k}@example.org", subject=f"thread {t}", body=body, extra=extra)
                    msg = msg.replace(b"\nFrom the start", b"\n>From the start")
                    f.write(b"From rita@example.org Sun Nov 22 21:56:20 2026\n" + msg + b"\n")
        r = env.json("ingest", "--mbox", path)
        assert r["messages"] == threads * per_thread
        assert r["stored"] == threads * per_thread
        assert r["new_cases"] == threads
        cases = env.json("list")
        assert len(cases) == threads
        assert all(c["messages"] == per_thread for c in cases)
        body = env.json("show", "1")["messages"][0]["body"]
        assert "\nFrom the start of a line" in body
        # Indexed for search by the import itself, before any search.
        with sqlite3.connect(env.db) as db:
            assert db.execute("SELECT count(*) FROM message_index_docsize").fetchone()[0] == threads * per_thread
            assert db.execute("SELECT indexed_upto = (SELECT max(id) FROM messages) FROM search_progress").fetchone()[0] == 1
            # Each message is indexed under its own id, in the first batch and the last.
            for t, k in ((0, 0), (24, 19), (49, 19)):
                want = db.execute("SELECT id FROM messages WHERE message_id = ?", (f"t{t}m{k}@example.org",)).fetchone()[0]
                got = db.execute("SELECT rowid FROM message_index WHERE message_index MATCH ?",
                                 (f'body:"message {k} of thread {t}"',)).fetchall()
                assert got == [(want,)]
        # Importing the same mbox again stores nothing new.
        again = env.json("ingest", "--mbox", path)
        assert again["duplicates"] == threads * per_thread
    finally:
        env.cleanup()


def test_human_output_is_readable():
    env = Env()
    try:
        env.json("ingest", input=plain("h@example.org", subject="Terminal \x1b[31mred\x1b[0m subject"))
        out = env.casectl("list").stdout.decode()
        assert out.splitlines()[0].split()[:3] == ["CASE", "STATUS", "ASSIGNEE"]
        assert "CASE#1" in out and "\x1b" not in out  # not a tty: no colour, and no escapes from mail
        show = env.casectl("show", "1").stdout.decode()
        assert "[CASE#1]" in show and "\x1b" not in show
    finally:
        env.cleanup()


def test_corpus_through_casectl():
    env = Env()
    try:
        expect = {
            "plain.eml": ("SQL injection in /search", "passed to the database unescaped", []),
            "alternative.eml": ("XSS in profile page", "Plain version", []),
            "html-only.eml": ("Open redirect", "open redirect", []),
            "latin1.eml": ("Schöne Grüße", "Grüße aus Köln", []),
            "windows-1252.eml": ("Smart quotes", "“quoted”", []),
            "iso-2022-jp.eml": ("サーバ", "脆弱性の報告です", []),
            "utf16.eml": ("UTF-16 body", "Überlauf im Parser", []),
            "encoded-subject.eml": ("Überlauf im Parser (für 2.3)", "see subject", []),
            "rfc2231-attachment.eml": ("Crash dump attached", "The dump is attached.",
                                       ["überlauf dump.bin", "screenshot.png"]),
            "forwarded-rfc822.eml": ("Fwd: report from a customer", "Forwarding", ["I found a bug.eml"]),
            "list-digest.eml": ("oss-security digest, Vol 1", "", ["first post.eml", "second post.eml", "third post.eml"]),
            "malformed-boundary.eml": ("Broken boundary", "the text is still here", []),
            "malformed-no-headers.eml": ("", "just some text", []),
            "8bit-garbage.eml": (None, "with NUL", []),
            "lf-only.eml": ("LF only", "line one", []),
        }
        for name, (subject, word, files) in expect.items():
            r = env.ingest_file(name)
            m = env.json("show", str(r["case"]))["messages"][-1]
            if subject is not None:
                assert m["subject"] == subject, (name, m["subject"])
            assert word in m["body"], (name, m["body"][:200])
            assert [a["filename"] for a in m["attachments"]] == files, (name, m["attachments"])
            for a in m["attachments"]:
                assert len(a["sha256"]) == 64 and a["size"] > 0
        for name in ("malformed-boundary.eml", "malformed-no-headers.eml", "malformed-bad-base64.eml"):
            r = env.ingest_file(name)
            m = [x for x in env.json("show", str(r["case"]))["messages"] if x["malformed"]]
            assert m, name
        # The reply threads into the plain report's case.
        assert env.ingest_file("reply-with-references.eml")["case"] == 1
    finally:
        env.cleanup()


def test_empty_input_to_ingest_is_a_usage_error():
    env = Env()
    try:
        for data in (b"", b"\n", b"\r\n \r\n"):
            p = env.casectl("ingest", input=data, check=False)
            assert p.returncode == 2, (data, p.returncode, p.stderr)
        assert not os.path.exists(env.db)
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
