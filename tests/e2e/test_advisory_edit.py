"""casectl advisory ID edit as an analyst runs it: on a pseudo-terminal with
a scripted $EDITOR (tests/e2e/scripted_editor.py). The template shows the
draft's fields and nothing of the reporter's mail; what the editor saves is
checked field by field before anything is stored, so one bad field (an empty
title, a bidi override) saves nothing; without a terminal the command
refuses."""

import json
import os
import subprocess
import tempfile

from harness import Env, run_tests
from test_reply_editor import EDITOR, run_on_pty

REPORT = (b"Message-ID: <e1@example.org>\r\nFrom: Rita Reporter <rita@example.org>\r\n"
          b"To: security@example.com\r\nSubject: Heap overflow in quokka parsing\r\n\r\n"
          b"The widget overflows; zebra42.\r\n")
RLO = "\u202e"


def template(title="Buffer overflow in the Widget Server parser", summary="A crafted widget crashes the server.",
             credit="Rita Reporter"):
    """An edited draft: every heading, the fields as an analyst typed them."""
    return (f"# my notes: not saved\n[title]\n{title}\n[summary]\n{summary}\nIt may run code.\n\n"
            f"[details]\nThe parser copies a length-prefixed field without checking it.\n"
            f"[remediation]\nUpdate to 1.5.\n[credit]\n{credit}\n[fixed]\n1.5\n")


class Draft:
    """A case from Rita's report with an advisory draft titled 'Old title'."""

    def __init__(self):
        self.env = Env()
        self.runtime = tempfile.mkdtemp(prefix="casectl-xdg-", dir="/dev/shm")
        self.log = os.path.join(self.env.dir, "editor.json")
        self.env.casectl("init")
        self.env.casectl("ingest", input=REPORT)
        self.env.casectl("set", "1", "--product", "Widget Server", "--versions", "1.0 - 1.4")
        self.env.casectl("advisory", "1", "init")
        self.env.casectl("advisory", "1", "set", "title", "Old title")
        self.env.casectl("advisory", "1", "set", "summary", "Old summary.")

    def editor_env(self, mode, text):
        return {"EDITOR": EDITOR, "EDIT_MODE": mode, "EDIT_TEXT": text, "EDIT_LOG": self.log,
                "XDG_RUNTIME_DIR": self.runtime}

    def edit(self, mode, text=""):
        return run_on_pty(self.env, ["advisory", "1", "edit"], self.editor_env(mode, text), timeout=60)

    def editor_saw(self):
        with open(self.log) as f:
            return json.load(f)["text"]

    def state(self):
        """The draft and the case's history, to show that a refusal changed nothing."""
        return self.env.json("advisory", "1", "show"), self.env.json("show", "1")["events"]

    def close(self):
        subprocess.run(["rm", "-rf", self.runtime])
        self.env.cleanup()


def test_template_shows_the_fields_and_the_edit_is_saved():
    d = Draft()
    try:
        code, out, err = d.edit("replace", template())
        assert code == 0, (code, out, err)
        assert b"advisory" in out and b"saved" in out, out
        shown = d.editor_saw()
        for heading in ("[title]\nOld title\n", "[summary]\nOld summary.\n", "[details]\n", "[remediation]\n",
                        "[credit]\n", "[fixed]\n"):
            assert heading in shown, (heading, shown)
        for word in ("Rita", "rita@", "quokka", "zebra42", "overflows"):
            assert word not in shown, (word, shown)
        a = d.env.json("advisory", "1", "show")
        assert a["title"] == "Buffer overflow in the Widget Server parser"
        assert a["summary"] == "A crafted widget crashes the server.\nIt may run code."
        assert a["details"] == "The parser copies a length-prefixed field without checking it."
        assert a["remediation"] == "Update to 1.5."
        assert a["credit"] == "Rita Reporter" and a["fixed"] == "1.5"
        assert "my notes" not in json.dumps(a)
        # The next template holds what was saved; an empty credit clears it.
        code, out, err = d.edit("replace", template(credit=""))
        assert code == 0, (code, out, err)
        assert "[credit]\nRita Reporter\n" in d.editor_saw()
        assert d.env.json("advisory", "1", "show")["credit"] is None
        # An editor that saves CRLF line ends; a deleted heading leaves its field as it was.
        text = template(title="Saved with CRLF").replace("[fixed]\n1.5\n", "").replace("\n", "\r\n")
        code, out, err = d.edit("replace", text)
        assert code == 0, (code, out, err)
        a = d.env.json("advisory", "1", "show")
        assert a["title"] == "Saved with CRLF" and a["summary"] == "A crafted widget crashes the server.\nIt may run code."
        assert a["fixed"] == "1.5"
    finally:
        d.close()


def test_a_bad_field_saves_nothing():
    d = Draft()
    try:
        before = d.state()
        for text, words in ((template(title=""), "title: an advisory needs a title"),
                            (template(title="   "), "title: an advisory needs a title"),
                            (template(title=f"Fixed in 1.5 {RLO}5.1 ni dexiF"), "title: holds a bidi control"),
                            (template(title="Widget\u200b Server"), "title: holds an invisible format character"),
                            (template(summary=f"Crash when {RLO}gnisrap"), "summary: holds a bidi control"),
                            (template(credit=f"Rita {RLO}"), "credit: holds a bidi control")):
            code, out, err = d.edit("replace", text)
            assert code == 2 and words in err, (text, code, out, err)
            assert "\x1b" not in err and RLO not in err, err
            assert d.state() == before, text
        # The marks that right-to-left prose needs stay allowed in the long texts.
        code, out, err = d.edit("replace", template(summary="A crash; \u05e2\u05d1\u05e8\u05d9\u05ea\u200f."))
        assert code == 0, (code, out, err)
        assert d.env.json("advisory", "1", "show")["summary"].startswith("A crash; \u05e2")
    finally:
        d.close()


def test_edit_needs_a_terminal():
    d = Draft()
    try:
        before = d.state()
        p = d.env.casectl("advisory", "1", "edit", input=b"", check=False,
                          env=d.editor_env("replace", template()))
        assert p.returncode == 2, (p.returncode, p.stderr)
        assert b"advisory edit needs a terminal (use advisory ID set FIELD VALUE)" in p.stderr, p.stderr
        assert not os.path.exists(d.log)  # the editor never ran
        assert d.state() == before
    finally:
        d.close()


if __name__ == "__main__":
    run_tests(globals())
