"""What an analyst types into a case or an advisory reaches published
documents, an announcement's Subject and terminals: a forged line, an escape
sequence, a bidi override or an invisible character is refused (exit 2,
nothing changed, the message names the field and shows nothing raw), and a
value stored raw before these checks is echoed inert. The [advisory] keys
that would make documents invalid (a cve_org_id that is no UUID, the
translator category) stop the configuration from loading."""

import sqlite3

from harness import Env, run_tests

REPORT = b"Message-ID: <i1@example.org>\r\nFrom: r@example.org\r\nSubject: s\r\n\r\nx\r\n"
FORGED = "Wid\x1b[31mget\nFixed: all"
RLO, ZWSP, RLM, LRI = "\u202e", "\u200b", "\u200f", "\u2066"


def new_case():
    env = Env()
    env.casectl("init")
    env.casectl("ingest", input=REPORT)
    env.casectl("set", "1", "--product", "Widget Server", "--versions", "1.0 - 1.4")
    env.casectl("advisory", "1", "init")
    env.casectl("advisory", "1", "set", "title", "A title")
    return env


def refused(env, args, words):
    """The command exits 2 naming the problem, echoes nothing raw and changes nothing."""
    before = (env.json("show", "1"), env.json("advisory", "1", "show"))
    p = env.casectl(*args, check=False)
    err = p.stderr.decode("utf-8")
    assert p.returncode == 2 and words in err, (args, p.returncode, err)
    for raw in ("\x1b", RLO, ZWSP, LRI, "\u2028"):
        assert raw not in err and raw not in p.stdout.decode("utf-8"), (args, err)
    assert (env.json("show", "1"), env.json("advisory", "1", "show")) == before, args


def test_case_product_and_versions_are_plain_text():
    env = new_case()
    try:
        refused(env, ("set", "1", "--product", FORGED), "product: holds a control character (U+001B)")
        refused(env, ("set", "1", "--product", "Widget\nFixed: all"), "product: holds a line break (U+000A)")
        refused(env, ("set", "1", "--versions", "1.0 \u2028Fixed: all"), "versions: holds a line break (U+2028)")
        refused(env, ("set", "1", "--product", f"Widget {RLO}revreS"),
                "product: holds a bidi control that reorders text (U+202E)")
        refused(env, ("set", "1", "--versions", f"1.0{ZWSP} - 1.4"),
                "versions: holds an invisible format character (U+200B)")
        refused(env, ("set", "1", "--product", "x" * 201), "product: longer than 200 bytes")
        refused(env, ("set", "1", "--versions", "1" * 501), "versions: longer than 500 bytes")
        # One bad field refuses the whole change.
        refused(env, ("set", "1", "--cve", "CVE-2026-1234", "--product", FORGED), "product:")
        env.casectl("set", "1", "--product", "Wídget Sérver", "--versions", "1" * 500)
        assert env.json("show", "1")["disclosure"]["product"] == "Wídget Sérver"
    finally:
        env.cleanup()


def test_a_raw_value_stored_earlier_is_echoed_inert():
    env = new_case()
    try:
        with sqlite3.connect(env.db) as db:
            db.execute("UPDATE cases SET product = ? WHERE id = 1", (FORGED,))
        p = env.casectl("set", "1", "--product", "Widget Server")
        out = p.stdout.decode("utf-8")
        assert "\x1b" not in out and out.count("\n") == 1, out
        assert "product: Wid^[[31mget^JFixed: all -> Widget Server" in out, out
    finally:
        env.cleanup()


def test_advisory_fields_refuse_bidi_and_invisible_characters():
    env = new_case()
    try:
        for field in ("title", "credit", "fixed", "reference"):
            refused(env, ("advisory", "1", "set", field, f"https://x.example/{RLO}1"),
                    f"{field}: holds a bidi control that reorders text (U+202E)")
            refused(env, ("advisory", "1", "set", field, f"https://x.example/{ZWSP}1"),
                    f"{field}: holds an invisible format character (U+200B)")
            refused(env, ("advisory", "1", "set", field, f"https://x.example/{RLM}1"),
                    f"{field}: holds an invisible format character (U+200F)")
        refused(env, ("advisory", "1", "set", "title", "Fixed\u2029Subject: x"), "title: holds a line break (U+2029)")
        refused(env, ("advisory", "1", "set", "title", "Fixed\u0085x"), "title: holds a line break (U+0085)")
        for field in ("summary", "details", "remediation"):
            refused(env, ("advisory", "1", "set", field, f"if (admin) {{ {RLO} }}"),
                    f"{field}: holds a bidi control that reorders text (U+202E)")
            refused(env, ("advisory", "1", "set", field, f"a {LRI}b"),
                    f"{field}: holds a bidi control that reorders text (U+2066)")
            refused(env, ("advisory", "1", "set", field, "a\x1b[2Jb"), f"{field}: holds a control character (U+001B)")
            # Right-to-left prose keeps its marks and its line breaks.
            text = "First line.\n\tSecond: \u05e2\u05d1\u05e8\u05d9\u05ea" + RLM + "."
            env.casectl("advisory", "1", "set", field, text)
            assert env.json("advisory", "1", "show")[field] == text
    finally:
        env.cleanup()


def check_config(extra):
    """casectl init under a configuration with `extra` appended."""
    env = Env(extra_config=extra)
    try:
        return env.casectl("init", check=False)
    finally:
        env.cleanup()


def test_advisory_configuration_is_checked():
    good = check_config('[advisory]\ncve_org_id = "b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5b"\ncategory = "coordinator"\n')
    assert good.returncode == 0, good.stderr
    for extra, words in (('[advisory]\ncve_org_id = "Example Corp"\n', "advisory.cve_org_id: expected the CVE"),
                         ('[advisory]\ncve_org_id = "b3d1f4a2-5c6e-1f70-8a9b-0c1d2e3f4a5b"\n', "advisory.cve_org_id"),
                         ('[advisory]\ncategory = "translator"\n', "advisory.category: translator is not possible")):
        p = check_config(extra)
        assert p.returncode != 0 and words in p.stderr.decode(), (extra, p.returncode, p.stderr)


if __name__ == "__main__":
    run_tests(globals())
