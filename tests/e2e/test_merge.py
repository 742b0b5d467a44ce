"""casectl merge and split as an analyst runs them, with the mail delivered
to the real cased over LMTP: what moves, what later mail finds, what is
refused with nothing changed, and a database that verify still passes."""

import json

from harness import TEST_HOOKS, Env, run_tests
from lmtp_client import deliver, message


def mail(env, msgid, subject, body, frm="rita@example.org", refs=(), rcpt="security@example.com"):
    extra = ""
    if refs:
        extra = f"In-Reply-To: <{refs[-1]}>\r\nReferences: " + " ".join(f"<{r}>" for r in refs) + "\r\n"
    data = message(msgid, subject=subject, body=body + "\r\n", frm=frm, extra=extra)
    assert deliver(port=env.port, rcpts=(rcpt,), data=data, mail_from=frm) == [250]


def case_of(env, msgid):
    """The case a Message-ID was filed in, as search and show tell it."""
    for c in env.json("list", "--all"):
        if any(m["message_id"] == msgid for m in env.json("show", str(c["id"]))["messages"]):
            return c["id"]
    raise AssertionError(f"{msgid} is in no listed case")


def found(env, word):
    return sorted(h["id"] for h in env.json("search", word))


def kinds(case):
    return [e["kind"] for e in case["events"]]


def refused(env, *args, code):
    p = env.casectl(*args, check=False)
    assert p.returncode == code, (args, p)
    return p.stderr.decode()


def test_merge_then_split():
    env = Env()
    env.start()
    try:
        mail(env, "r1@example.org", "Overflow in the widget parser", "the xylophone input overflows")
        mail(env, "c1@example.net", "Widget parser crash", "a quokka file crashes it", frm="carl@example.net")
        first, second = case_of(env, "r1@example.org"), case_of(env, "c1@example.net")
        assert first != second
        env.casectl("comment", str(first), "-m", "reproduced with the zeppelin build")
        env.casectl("participant", str(first), "vendor@widget.example", "--role", "vendor")
        # CVE ids keep the order they were added in, across the merge: the
        # times are fixed (the test passed only when both fell in one second).
        env.casectl("set", str(first), "--cve", "CVE-2026-4242", "--embargo", "2027-01-15",
                    env={"CASED_NOW": "2026-11-30T10:00:00Z"})
        env.casectl("set", str(second), "--cve", "CVE-2026-5151", env={"CASED_NOW": "2026-11-30T10:00:05Z"})

        # Refused, with nothing changed: itself, an unknown case.
        before = (env.json("show", str(first)), env.json("show", str(second)))
        assert "into itself" in refused(env, "merge", str(first), str(first), code=1)
        refused(env, "merge", str(first), "999", code=3)
        refused(env, "merge", "999", str(first), code=3)
        assert (env.json("show", str(first)), env.json("show", str(second))) == before

        merged = env.json("merge", str(first), str(second))
        into = env.json("show", str(second))
        assert merged == into
        assert [m["message_id"] for m in into["messages"]] == ["r1@example.org", "c1@example.net"]
        assert [c["text"] for c in into["comments"]] == ["reproduced with the zeppelin build"]
        assert {"rita@example.org", "carl@example.net", "vendor@widget.example"} <= set(into["participants"])
        if TEST_HOOKS:
            assert into["disclosure"]["cves"] == ["CVE-2026-4242", "CVE-2026-5151"], into["disclosure"]["cves"]
        else:
            assert sorted(into["disclosure"]["cves"]) == ["CVE-2026-4242", "CVE-2026-5151"]
        assert into["disclosure"]["embargo"] == "2027-01-15"
        assert "merge" in kinds(into) and into["merged_into"] is None
        old = env.json("show", str(first))
        assert old["merged_into"] == second and old["status"] == "merged" and old["messages"] == []
        assert "merge" in kinds(old) and "created" in kinds(old)
        text = env.casectl("show", str(first)).stdout.decode()
        assert f"Merged into:  [CASE#{second}]" in text, text
        assert first not in [c["id"] for c in env.json("list", "--all")]
        for word in ("xylophone", "zeppelin", "CVE-2026-4242"):
            assert found(env, word) == [second], word
        assert f"merged into [CASE#{second}]" in refused(env, "status", str(first), "open", code=1)
        refused(env, "comment", str(first), "-m", "x", code=1)
        # A cycle, and moving the merged case again, change nothing.
        before = (env.json("show", str(first)), env.json("show", str(second)))
        assert "cycle" in refused(env, "merge", str(second), str(first), code=1)
        assert "was merged into" in refused(env, "merge", str(first), str(second), code=1)
        assert (env.json("show", str(first)), env.json("show", str(second))) == before

        # The merged case's tag and plus-address bring new mail to INTO.
        mail(env, "r2@example.org", f"Re: [CASE#{first}] Overflow", "tagged follow-up")
        mail(env, "r3@example.org", "no tag here", "plus follow-up", rcpt=f"security+{first}@example.com")
        assert case_of(env, "r2@example.org") == second
        assert case_of(env, "r3@example.org") == second
        assert not env.json("show", str(second))["messages"][-1]["unverified"]

        # Split carl's report and its follow-up back out.
        mail(env, "c2@example.net", "Re: Widget parser crash", "the walrus variant", frm="carl@example.net",
             refs=("r1@example.org", "c1@example.net"))
        shown = env.json("show", str(second))
        ids = {m["message_id"]: m["id"] for m in shown["messages"]}
        assert "all the messages" in refused(env, "split", str(second), *[str(i) for i in ids.values()], code=1)
        assert "MSG" in refused(env, "split", str(second), "x7", code=2)
        assert "MSG" in refused(env, "split", str(second), "0", code=2)
        assert env.json("show", str(second)) == shown
        split = env.json("split", str(second), str(ids["c1@example.net"]), str(ids["c2@example.net"]))
        new = split["id"]
        assert split == env.json("show", str(new))
        assert split["split_from"] == second and split["status"] == "new" and split["assignee"] is None
        assert split["subject"] == "Widget parser crash"
        assert [m["message_id"] for m in split["messages"]] == ["c1@example.net", "c2@example.net"]
        assert "carl@example.net" in split["participants"] and "split" in kinds(split)
        rest = env.json("show", str(second))
        assert "split" in kinds(rest)
        assert [m["message_id"] for m in rest["messages"]] == ["r1@example.org", "r2@example.org", "r3@example.org"]
        assert found(env, "walrus") == [new] and found(env, "quokka") == [new]
        assert found(env, "xylophone") == [second]
        assert sorted(c["id"] for c in env.json("list")) == sorted([second, new])

        # A reply to a moved message threads into the new case, though its
        # References name a message of the old one too; a reply in the old
        # part (which c2 also names) stays there, and neither is joined.
        mail(env, "c3@example.net", "Re: Widget parser crash", "thanks", frm="carl@example.net",
             refs=("r1@example.org", "c1@example.net", "c2@example.net"))
        assert case_of(env, "c3@example.net") == new
        # Even from rita, verified only in the old case: she answers carl's report.
        mail(env, "r5@example.org", "Re: Widget parser crash", "seen it too",
             refs=("r1@example.org", "c1@example.net", "c2@example.net"))
        assert case_of(env, "r5@example.org") == new
        assert env.json("show", str(new))["messages"][-1]["unverified"]
        mail(env, "r4@example.org", "Re: Overflow", "mine again", refs=("r1@example.org",))
        assert case_of(env, "r4@example.org") == second
        assert env.json("show", str(new))["merged_into"] is None
        assert env.json("show", str(second))["merged_into"] is None
        assert len(env.json("show", str(new))["messages"]) == 4

        env.stop()
        p = env.casectl("--json", "verify", check=False)
        report = json.loads(p.stdout)
        assert p.returncode == 0 and report["ok"], report["problems"]
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
