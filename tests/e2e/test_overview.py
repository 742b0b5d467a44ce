"""The analyst's overviews through casectl, with a fixed clock (CASED_NOW):
`list` newest activity first and `--limit`, `search` ranked and cut to 50
(or `--limit`), the digest's summary of a long section, and `stats` in text
and JSON, with a first response by `reply`."""

import sys

from harness import SKIP, need_test_hooks, run_tests
from test_outbound import World


def msg(msgid, subject, body="report text", frm="rita@example.org"):
    return (f"From: {frm}\r\nTo: security@example.com\r\nSubject: {subject}\r\nMessage-ID: <{msgid}>\r\n"
            f"Date: Sun, 01 Nov 2026 09:00:00 +0000\r\nAuto-Submitted: auto-generated\r\n\r\n{body}\r\n").encode()


def at(when):
    return {"CASED_NOW": when}


def ids(items):
    return [c["id"] for c in items]


def test_list_newest_activity_first_and_limit():
    w = World()
    try:
        c = w.env.casectl
        for i in range(1, 6):
            c("ingest", input=msg(f"l{i}@x", f"Report {i}"), env=at(f"2026-11-0{i}T09:00:00Z"))
        # A comment on the oldest case is its newest activity.
        c("comment", "1", "-m", "looked at it", env=at("2026-11-09T09:00:00Z"))
        assert ids(w.env.json("list")) == [1, 5, 4, 3, 2]
        assert ids(w.env.json("list", "--limit", "2")) == [1, 5]
        c("status", "3", "open", env=at("2026-11-10T09:00:00Z"))
        assert ids(w.env.json("list", "--status", "new", "--limit", "3")) == [1, 5, 4]
        text = c("list", "--limit", "1").stdout.decode().splitlines()
        assert len(text) == 2 and "[CASE#3]" not in text[1] and "CASE#3" in text[1]
        assert c("list", "--limit", "0", check=False).returncode == 2
    finally:
        w.close()


def test_search_ranked_and_limited():
    w = World()
    try:
        c = w.env.casectl
        # 60 cases mention "widget" once in a long text; case 61 is about it.
        filler = " ".join(["lorem ipsum dolor sit amet"] * 30)
        for i in range(1, 61):
            c("ingest", input=msg(f"s{i}@x", f"Report {i}", f"a widget and {filler}"))
        c("ingest", input=msg("s61@x", "Widget crash", "widget widget: the widget crashes"))
        hits = w.env.json("search", "widget")
        assert len(hits) == 50 and hits[0]["id"] == 61 and "[widget]" in hits[0]["snippet"]
        assert len(set(ids(hits))) == 50
        assert ids(w.env.json("search", "widget", "--limit", "3"))[0] == 61
        assert len(w.env.json("search", "widget", "--limit", "100")) == 61
        # Comments are found with the messages.
        c("comment", "7", "-m", "zanzibar zanzibar")
        c("ingest", input=msg("s62@x", "Other", "zanzibar among " + filler))
        assert sorted(ids(w.env.json("search", "zanzibar"))) == [7, 62]
        text = c("search", "widget", "--limit", "2").stdout.decode()
        assert text.index("CASE#61") < text.index("[widget]") and text.count("CASE#") == 2
    finally:
        w.close()


def test_digest_summarises_a_long_section():
    w = World()
    try:
        c = w.env.casectl
        for i in range(1, 26):
            c("ingest", input=msg(f"d{i}@x", f"Report {i}"), env=at(f"2026-11-01T09:{i:02d}:00Z"))
        d = w.env.json("digest", env=at("2026-11-02T09:00:00Z"))
        assert d["totals"]["new-unassigned"] == 25
        assert ids(d["sections"]["new-unassigned"]) == list(range(1, 21))
        assert d["totals"]["stale"] == 0 and d["sections"]["stale"] == []
        text = c("digest", env=at("2026-11-02T09:00:00Z")).stdout.decode()
        assert "New and unassigned (25)" in text
        assert "... and 5 more; the oldest 20 are shown" in text
        assert "[CASE#20]" in text and "[CASE#21]" not in text
        # Ten days later all 25 are stale too: both sections summarised.
        later = w.env.json("digest", env=at("2026-11-12T09:00:00Z"))
        assert later["totals"]["stale"] == 25 and len(later["sections"]["stale"]) == 20
    finally:
        w.close()


def test_stats_text_and_json():
    w = World()
    try:
        c = w.env.casectl
        # Three cases in November, one in September.
        c("ingest", input=w.report("r1@example.org"), env=at("2026-11-01T09:00:00Z"))
        c("ingest", input=msg("b@x", "Second"), env=at("2026-11-02T09:00:00Z"))
        c("ingest", input=msg("c@x", "Third"), env=at("2026-11-03T09:00:00Z"))
        c("ingest", input=msg("old@x", "Old"), env=at("2026-09-01T09:00:00Z"))
        # Case 1 answered after 3 hours (the first response), resolved after 4 days.
        c("reply", "1", "-m", "We reproduced it.", env=at("2026-11-01T12:00:00Z"), check=False)
        c("status", "1", "resolved", env=at("2026-11-05T09:00:00Z"))
        c("assign", "2", "alice", env=at("2026-11-02T10:00:00Z"))
        c("status", "3", "waiting", env=at("2026-11-03T10:00:00Z"))
        now = at("2026-11-20T09:00:00Z")
        s = w.env.json("stats", "--since", "2026-11-01", "--until", "2026-11-30", env=now)
        assert s["since"] == "2026-11-01T00:00:00Z" and s["until"] == "2026-12-01T00:00:00Z"
        assert s["by_status"] == {"new": 2, "open": 0, "waiting": 1, "resolved": 1, "rejected": 0}
        assert s["opened"] == 3 and s["closed"] == 1
        assert s["first_response"] == {"cases": 1, "median": 3 * 3600, "p90": 3 * 3600}
        assert s["time_to_resolution"] == {"cases": 1, "median": 4 * 86400, "p90": 4 * 86400}
        assert s["open_by_age"] == {"<7d": 0, "7-30d": 2, "30-90d": 1, ">90d": 0}
        assert s["open_by_assignee"] == [{"assignee": None, "open": 2}, {"assignee": "alice", "open": 1}]
        # The default period is the 30 days up to now: September is outside.
        d = w.env.json("stats", env=now)
        assert d["opened"] == 3 and d["since"] == "2026-10-21T09:00:00Z"
        text = c("stats", "--since", "2026-11-01", env=now).stdout.decode()
        assert "3 opened, 1 closed" in text and "First response" in text and "median 3h 0m" in text
        assert "alice" in text and "unassigned" in text
        for bad in (["--since", "2026-13-01"], ["--since", "yesterday"],
                    ["--since", "2026-11-10", "--until", "2026-11-01"]):
            p = c("stats", *bad, check=False, env=now)
            assert p.returncode == 2, (bad, p.returncode)
    finally:
        w.close()


if __name__ == "__main__":
    if not need_test_hooks("every overview test"):
        sys.exit(SKIP)
    run_tests(globals())
