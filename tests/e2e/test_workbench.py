"""The analyst's workbench through the real casectl: unassigning and taking
a case, JSON after every change, the triage list's default, filters and
orders, clear errors, and the actor and database errors under sudo."""

import csv
import io
import json
import os
import subprocess

from harness import CASECTL, Env, run_tests


def plain(msgid, subject="Crash in the parser"):
    return (
        f"From: Rita Reporter <rita@example.org>\nTo: security@example.com\nSubject: {subject}\n"
        f"Date: Sun, 22 Nov 2026 21:56:20 +0000\nMessage-ID: <{msgid}>\n\nIt crashes.\n"
    ).encode()


def me():
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


def ids(cases):
    return [c["id"] for c in cases]


def test_assign_none_and_take():
    env = Env()
    try:
        env.json("ingest", input=plain("a@example.org"))
        env.casectl("assign", "1", "alice")
        p = env.casectl("assign", "1", "", check=False)
        assert p.returncode == 2 and b"--none" in p.stderr, p
        assert env.json("show", "1")["assignee"] == "alice"
        p = env.casectl("assign", "1", "--none")
        assert p.stdout == b"[CASE#1] unassigned\n", p.stdout
        assert env.json("show", "1")["assignee"] is None
        assert ids(env.json("list", "--unassigned")) == [1]
        p = env.casectl("take", "1")
        assert p.stdout.decode() == f"[CASE#1] assigned to {me()}\n"
        shown = env.json("show", "1")
        assert shown["assignee"] == me()
        assigns = [(e["detail"], e["actor"]) for e in shown["events"] if e["kind"] == "assign"]
        assert assigns == [("alice", me()), ("", me()), (me(), me())], assigns
        assert ids(env.json("list", "--mine")) == [1]
        assert env.json("list", "--unassigned") == []
        assert env.casectl("take", "9", check=False).returncode == 3
        assert env.casectl("assign", "1", check=False).returncode == 2
    finally:
        env.cleanup()


def test_json_after_each_change_is_the_case_as_show_prints_it():
    env = Env()
    try:
        env.json("ingest", input=plain("a@example.org"))
        changes = [
            ["assign", "1", "alice"],
            ["take", "1"],
            ["assign", "1", "--none"],
            ["status", "1", "open"],
            ["comment", "1", "-m", "looked at it"],
            ["participant", "1", "vendor@example.net", "--role", "vendor"],
        ]
        for args in changes:
            after = env.json(*args)
            assert after == env.json("show", "1"), args
        assert after["status"] == "open" and after["assignee"] is None
        assert after["comments"][0]["text"] == "looked at it"
        assert "vendor@example.net" in after["participants"]
    finally:
        env.cleanup()


def test_list_default_hides_closed_cases_and_filters_repeat():
    env = Env()
    try:
        for n in range(1, 5):
            env.json("ingest", input=plain(f"m{n}@example.org", subject=f"report {n}"))
        env.casectl("status", "2", "resolved")
        env.casectl("status", "3", "rejected")
        env.casectl("status", "4", "waiting")
        env.casectl("set", "4", "--embargo", "2027-01-15", "--cve", "CVE-2026-1234", "--cve", "CVE-2026-5678")
        env.casectl("set", "1", "--embargo", "2027-03-01")
        assert sorted(ids(env.json("list"))) == [1, 4]
        assert sorted(ids(env.json("list", "--all"))) == [1, 2, 3, 4]
        assert sorted(ids(env.json("list", "--status", "resolved", "--status", "rejected"))) == [2, 3]
        assert ids(env.json("list", "--all", "--sort", "id")) == [4, 3, 2, 1]
        assert ids(env.json("list", "--all", "--sort", "id", "--reverse")) == [1, 2, 3, 4]
        assert ids(env.json("list", "--all", "--sort", "embargo"))[:2] == [4, 1]
        assert ids(env.json("list", "--embargoed", "--sort", "embargo", "--reverse")) == [1, 4]
        assert ids(env.json("list", "--sort", "created", "--limit", "1")) == [4]
        item = {c["id"]: c for c in env.json("list")}[4]
        assert item["embargo"] == "2027-01-15" and item["cves"] == ["CVE-2026-1234", "CVE-2026-5678"]
        assert {c["id"]: c for c in env.json("list")}[1]["cves"] == []
        # --stale 0: every case idle for zero days or more, but never a closed one.
        assert sorted(ids(env.json("list", "--all", "--stale", "0"))) == [1, 4]
        text = env.casectl("list").stdout.decode()
        assert "EMBARGO" in text and "2027-01-15" in text and "CVE-2026-1234 +1" in text, text
        assert "report 2" not in text
    finally:
        env.cleanup()


def test_export_csv_and_json_hold_what_list_holds():
    """export takes list's filters; its CSV parses back (RFC 4180) to the
    list's values, fields whole, and a formula from a subject is text."""
    env = Env()
    try:
        env.json("ingest", input=plain("e1@example.org", subject="overflow, \"quoted\" in parser"))
        env.json("ingest", input=plain("e2@example.org", subject="=HYPERLINK(\"http://evil\")"))
        env.json("ingest", input=plain("e3@example.org", subject="closed one"))
        env.casectl("status", "3", "resolved")
        env.casectl("set", "1", "--cve", "CVE-2026-1111", "--cve", "CVE-2026-2222")
        listed = {c["id"]: c for c in env.json("list", "--all")}
        out = env.casectl("export", "--all").stdout.decode()
        assert out.endswith("\r\n")
        rows = list(csv.DictReader(io.StringIO(out, newline="")))
        assert sorted(int(r["id"]) for r in rows) == [1, 2, 3]
        by_id = {int(r["id"]): r for r in rows}
        assert by_id[1]["subject"] == listed[1]["subject"] == 'overflow, "quoted" in parser'
        assert by_id[1]["cves"] == "CVE-2026-1111 CVE-2026-2222"
        assert by_id[2]["subject"] == "'" + listed[2]["subject"]
        assert by_id[3]["status"] == "resolved" and by_id[1]["updated"] == listed[1]["updated"]
        # The default filter is list's: closed cases only with --all.
        assert sorted(int(r["id"]) for r in csv.DictReader(io.StringIO(
            env.casectl("export").stdout.decode(), newline=""))) == [1, 2]
        assert env.json("export", "--all", "--format", "json") == env.json("list", "--all")
        bad = env.casectl("export", "--format", "xml", check=False)
        assert bad.returncode == 2, bad
    finally:
        env.cleanup()


def test_clear_errors():
    p = subprocess.run([CASECTL, "help"], capture_output=True, timeout=60)
    full = subprocess.run([CASECTL, "--help"], capture_output=True, timeout=60).stdout
    assert p.returncode == 0 and p.stdout == full and b"take" in p.stdout, p
    p = subprocess.run([CASECTL, "frobnicate"], capture_output=True, timeout=60)
    assert p.returncode == 2
    assert b"unknown command 'frobnicate'" in p.stderr and b"list, show" in p.stderr, p.stderr
    p = subprocess.run([CASECTL], capture_output=True, timeout=60)
    assert p.returncode == 2 and b"a command is required" in p.stderr, p.stderr
    env = Env()
    try:
        env.json("init")
        for bad in ("abc", "-3", "9" * 300):
            p = env.casectl("list", "--stale", bad, check=False)
            assert p.returncode == 2, (bad, p)
            assert b"--stale: wants a whole number from 0 to 100000" in p.stderr, p.stderr
            assert len(p.stderr) < 120, p.stderr
    finally:
        env.cleanup()


def test_sudo_actor_and_a_database_the_user_cannot_open():
    if os.geteuid() != 0:
        print("SKIP: needs root (to create users and emulate sudo); not run")
        return
    from test_sudo import ANALYST, SYSTEM_CONFIG, World

    w = World()
    try:
        assert w.as_root("ingest", input=plain("s@example.org")).returncode == 0
        w.give_to_service()
        p = w.via_sudo("--json", "take", "1")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["assignee"] == ANALYST
        events = [e for e in json.loads(w.case_text())["events"] if e["kind"] == "assign"]
        assert events[-1]["actor"] == ANALYST and events[-1]["detail"] == ANALYST, events
        # The analyst without sudo: the database is the service user's, mode 0600.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUDO_")}
        env["CASED_CONFIG"] = SYSTEM_CONFIG
        for args in (["list"], ["take", "1"]):
            p = subprocess.run(["setpriv", f"--reuid={w.analyst.pw_uid}", f"--regid={w.analyst.pw_gid}",
                                "--clear-groups", CASECTL, *args], capture_output=True, env=env, timeout=60)
            assert p.returncode == 1, (args, p)
            msg = p.stderr.decode()
            assert f"cannot open database {w.db} as user {ANALYST}" in msg, msg
            assert "unable to open database file" not in msg, msg
    finally:
        w.close()


if __name__ == "__main__":
    run_tests(globals())
