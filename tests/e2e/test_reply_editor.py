"""casectl reply in the analyst's editor, --cc, --attach, outbox cancel and
the outbox state `show` gives each reply, and `show` through $PAGER: run as
an analyst would, on a pseudo-terminal, with a scripted $EDITOR and $PAGER,
the reply checked at a real STARTTLS server and decrypted with the
recipients' own keys."""

import email
import fcntl
import email.policy
import json
import os
import select
import signal
import subprocess
import tempfile
import termios
import time

from harness import CASECTL, run_tests, wait_for
from pgp import Keyring, gpg
from test_outbound import World

HERE = os.path.dirname(os.path.abspath(__file__))
EDITOR = f"/usr/bin/python3 {os.path.join(HERE, 'scripted_editor.py')}"
CARL = "Carl Coordinator <carl@example.net>"
REPORT_BODY = "The widget overflows; zebra42.\nSecond line \x1b[31mred\n"


def fs_type(path):
    return subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True, check=True).stdout.strip()


def run_on_pty(env, args, extra_env=None, timeout=120, when_running=None):
    """casectl with stdin and stdout a terminal. `when_running(proc)` is called
    while it runs until it returns True. Returns (returncode, terminal output, stderr)."""
    master, slave = os.openpty()
    full_env = dict(os.environ)
    full_env.pop("VISUAL", None)
    full_env.update({"CASED_CONFIG": env.config, "TERM": "dumb"})
    full_env.update(extra_env or {})
    err = tempfile.TemporaryFile()
    def controlling_terminal():  # as a login on a terminal: casectl leads a session on it
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen([CASECTL, *args], stdin=slave, stdout=slave, stderr=err, env=full_env,
                         preexec_fn=controlling_terminal)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.05)
            chunk = b""
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every copy of the terminal's other end is closed
                    chunk = b""
                out += chunk
            if when_running and when_running(p):
                when_running = None
            if p.poll() is not None and not chunk:
                break
            if time.monotonic() > deadline:
                p.kill()
                raise AssertionError(f"casectl {args} still running after {timeout}s")
    finally:
        os.close(master)
    p.wait()
    err.seek(0)
    return p.returncode, bytes(out), err.read().decode(errors="replace")


class Editing:
    """A world with a report from Rita, Carl's key known, and a memory directory for drafts."""

    def __init__(self, smtp=True):
        self.w = World()
        if smtp:
            self.w.smtp.start()
        self.carl = Keyring(CARL)
        self.w.alias.import_key(self.carl.public())
        self.carl.import_key(self.w.alias.public())
        self.runtime = tempfile.mkdtemp(prefix="casectl-xdg-", dir="/dev/shm")
        self.log = os.path.join(self.w.tmp, "editor.json")
        self.w.env.casectl("ingest", input=self.w.report(body=REPORT_BODY))

    def edit_env(self, mode, text="", **extra):
        env = {"EDITOR": EDITOR, "EDIT_MODE": mode, "EDIT_TEXT": text, "EDIT_LOG": self.log,
               "XDG_RUNTIME_DIR": self.runtime}
        env.update(extra)
        return env

    def editor_saw(self):
        with open(self.log) as f:
            return json.load(f)

    def outbox(self):
        """The replies in the outbox (the report's acknowledgement aside)."""
        return [r for r in self.w.env.json("outbox") if r["kind"] == "reply"]

    def drafts_left(self):
        return os.listdir(self.runtime)

    def close(self):
        self.carl.close()
        subprocess.run(["rm", "-rf", self.runtime])
        self.w.close()


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def decrypt_with(keyring, raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    cipher = msg.get_payload()[1].get_payload(decode=True)
    p = gpg(keyring.home, "--status-fd", "2", "--decrypt", input=cipher)
    return p.stdout, p.stderr.decode()


def test_reply_written_in_the_editor_with_cc_and_attachment():
    e = Editing()
    try:
        poc = os.path.join(e.w.tmp, "poc.bin")
        poc_bytes = bytes(range(256)) * 40 + b"\x00end"
        with open(poc, "wb") as f:
            f.write(poc_bytes)
        text = "\nThanks, we reproduced it; the fix ships Tuesday.\n"
        rc, out, err = run_on_pty(e.w.env, ["reply", "1", "--cc", "carl@example.net", "--attach", poc],
                                  e.edit_env("append", text))
        assert rc == 0, (rc, out, err)
        saw = e.editor_saw()
        # The draft: in a new 0700 directory under $XDG_RUNTIME_DIR, 0600, on tmpfs.
        assert os.path.dirname(saw["dir"]) == e.runtime, saw
        assert saw["dir_mode"] == 0o700 and saw["file_mode"] == 0o600, saw
        assert saw["stdin_tty"] is True and saw["own_group"] is True and saw["foreground"] is True, saw
        assert fs_type(e.runtime) in ("tmpfs", "ramfs")
        # It quotes the inbound text after an attribution line, inert for a terminal.
        lines = saw["text"].splitlines()
        assert lines[0].startswith("On ") and lines[0].endswith("rita@example.org> wrote:"), lines
        assert "> The widget overflows; zebra42." in lines
        assert "> Second line ^[[31mred" in lines, lines
        assert "\x1b" not in saw["text"]
        assert e.drafts_left() == [], e.drafts_left()

        raw, envelope = e.w.smtp.messages()[-1]
        assert sorted(envelope["to"]) == ["carl@example.net", "rita@example.org"], envelope
        assert envelope["tls"] is True
        assert b"Tuesday" not in raw and b"zebra42" not in raw
        outer = email.message_from_bytes(raw)
        assert outer["Cc"] == "carl@example.net", outer["Cc"]
        for who in (e.w.rita, e.carl):  # both can read it
            plain, status = decrypt_with(who, raw)
            assert "[GNUPG:] GOODSIG" in status, status
            inner = email.message_from_bytes(plain, policy=email.policy.default)
            assert inner["Cc"] == "carl@example.net"
            body = inner.get_body(("plain",)).get_content()
            assert "the fix ships Tuesday." in body and "> The widget overflows; zebra42." in body
            files = [(p.get_filename(), p.get_payload(decode=True)) for p in inner.iter_attachments()]
            assert files == [("poc.bin", poc_bytes)], [(n, len(b or b"")) for n, b in files]
        case = e.w.env.json("show", "1")
        out_msgs = [m for m in case["messages"] if m["direction"] == "out"]
        assert out_msgs[-1]["outbox"]["status"] == "sent", out_msgs
        assert out_msgs[-1]["cc"] == ["carl@example.net"]
        assert out_msgs[-1]["attachments"][0]["filename"] == "poc.bin"
        assert out_msgs[-1]["attachments"][0]["size"] == len(poc_bytes)
    finally:
        e.close()


def test_visual_wins_and_json_reports_the_outbox_row():
    e = Editing(smtp=False)
    try:
        env = e.edit_env("append", "visual reply\n", VISUAL=EDITOR, EDITOR="/bin/false")
        rc, out, err = run_on_pty(e.w.env, ["--json", "reply", "1"], env)
        assert rc == 0, (rc, out, err)
        assert out.lstrip().startswith(b"{"), out[:300]
        j = json.loads(out.decode().replace("\r\n", "\n"))
        assert j["id"] == 1 and j["outbox"]["status"] == "queued", j["outbox"]
        assert j["outbox"]["recipients"] == ["rita@example.org"]
        assert j["messages"][-1]["outbox"] == {"id": j["outbox"]["id"], "status": "queued"}
    finally:
        e.close()


def test_unchanged_empty_or_failed_drafts_send_nothing():
    e = Editing()
    try:
        for mode, words in (("unchanged", "not changed"), ("empty", "empty"), ("fail", "exited with status 3")):
            rc, out, err = run_on_pty(e.w.env, ["reply", "1"], e.edit_env(mode))
            assert rc == 1, (mode, rc, err)
            assert "aborting" in err and words in err and "nothing was sent" in err, (mode, err)
            assert e.drafts_left() == [], (mode, e.drafts_left())
        assert e.outbox() == [] and e.w.smtp.messages() == []
    finally:
        e.close()


def test_a_signal_while_the_editor_runs_removes_the_draft():
    e = Editing()
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            def terminate(p):
                if not os.path.exists(e.log):
                    return False
                p.send_signal(sig)
                return True

            rc, out, err = run_on_pty(e.w.env, ["reply", "1"], e.edit_env("hang"), when_running=terminate)
            assert rc == -sig, (sig, rc, err)
            assert "the draft was removed and nothing was sent" in err, err
            saw = e.editor_saw()
            os.unlink(e.log)
            assert not os.path.exists(saw["dir"]), sig
            # The editor went too, not only the shell that ran it.
            wait_for(lambda: not alive(saw["pid"]), 10, "the editor to end")
            assert e.drafts_left() == [], sig
        assert e.outbox() == [] and e.w.smtp.messages() == []
    finally:
        e.close()


def test_a_draft_is_never_written_to_disk():
    e = Editing()
    try:
        disk = None
        for base in (tempfile.gettempdir(), os.getcwd(), HERE):
            if fs_type(base) not in ("tmpfs", "ramfs"):
                disk = tempfile.mkdtemp(prefix="casectl-disk-", dir=base)
                break
        assert disk, "no disk directory to test with"
        try:
            rc, out, err = run_on_pty(e.w.env, ["reply", "1"], e.edit_env("append", "x\n", XDG_RUNTIME_DIR=disk))
            assert rc == 4, (rc, err)
            assert "not a memory file system" in err and "-m TEXT or -F FILE" in err, err
            assert not os.path.exists(e.log), "the editor ran"
            assert os.listdir(disk) == []
        finally:
            subprocess.run(["rm", "-rf", disk])
        # Without a terminal the text must come from -m or -F, as before.
        p = e.w.env.casectl("reply", "1", check=False, env=e.edit_env("append", "x\n"))
        assert p.returncode == 2 and b"-m TEXT or -F FILE" in p.stderr, p.stderr
        assert e.outbox() == []
    finally:
        e.close()


def test_attach_errors_queue_nothing():
    e = Editing(smtp=False)
    try:
        missing = os.path.join(e.w.tmp, "no-such-file")
        p = e.w.env.casectl("reply", "1", "-m", "x", "--attach", missing, check=False)
        assert p.returncode == 1 and b"--attach" in p.stderr and b"no-such-file" in p.stderr, p.stderr
        big = os.path.join(e.w.tmp, "big.bin")
        with open(big, "wb") as f:
            f.truncate(11 << 20)
        p = e.w.env.casectl("reply", "1", "-m", "x", "--attach", big, check=False)
        assert p.returncode == 1 and b"at most" in p.stderr, p.stderr
        p = e.w.env.casectl("reply", "1", "-m", "x", "--cc", "not an address", check=False)
        assert p.returncode == 2, p.stderr
        p = e.w.env.casectl("reply", "1", "-m", "x", "--cc", "nokey@example.net", check=False)
        assert p.returncode == 4 and b"nokey@example.net" in p.stderr, p.stderr
        # In the editor: refused before the analyst writes anything.
        rc, out, err = run_on_pty(e.w.env, ["reply", "1", "--cc", "nokey@example.net"], e.edit_env("append", "x\n"))
        assert rc == 4 and "nokey@example.net" in err, (rc, err)
        assert not os.path.exists(e.log), "the editor ran"
        assert e.outbox() == []
    finally:
        e.close()


def test_outbox_cancel_only_while_queued():
    e = Editing(smtp=False)  # no server: the reply stays queued
    try:
        e.w.env.casectl("reply", "1", "-m", "first answer")
        [row] = e.outbox()
        assert row["status"] == "queued"
        text = e.w.env.casectl("show", "1").stdout.decode()
        assert "(queued)" in text and f"Outbox:     {row['id']} (queued)" in text, text
        case = e.w.env.json("outbox", "cancel", str(row["id"]))
        assert case["id"] == 1 and case["messages"][-1]["outbox"]["status"] == "cancelled"
        assert any(ev["kind"] == "cancel" for ev in case["events"]), case["events"]
        assert e.outbox()[0]["status"] == "cancelled"
        text = e.w.env.casectl("show", "1").stdout.decode()
        assert "(cancelled)" in text, text
        p = e.w.env.casectl("outbox", "cancel", str(row["id"]), check=False)
        assert p.returncode == 4 and b"already cancelled" in p.stderr, p.stderr
        p = e.w.env.casectl("outbox", "retry", str(row["id"]), check=False)
        assert p.returncode != 0
        p = e.w.env.casectl("outbox", "cancel", "99", check=False)
        assert p.returncode == 3, p.stderr
        # Sent mail cannot be called back.
        e.w.smtp.start()
        e.w.env.casectl("reply", "1", "-m", "second answer")
        sent = e.outbox()[-1]
        assert sent["status"] == "sent", sent
        p = e.w.env.casectl("outbox", "cancel", str(sent["id"]), check=False)
        assert p.returncode == 4 and b"already sent" in p.stderr, p.stderr
        states = [m["outbox"]["status"] for m in e.w.env.json("show", "1")["messages"] if m["direction"] == "out"]
        assert states == ["cancelled", "sent"], states
        assert len(e.w.smtp.messages()) == 1
    finally:
        e.close()


def test_show_pages_on_a_terminal_only():
    e = Editing(smtp=False)
    try:
        paged = os.path.join(e.w.tmp, "paged.txt")
        rc, out, err = run_on_pty(e.w.env, ["show", "1"], {"PAGER": f"cat > {paged}"})
        assert rc == 0, err
        with open(paged) as f:
            shown = f.read()
        assert "[CASE#1]" in shown and "zebra42" in shown
        assert b"zebra42" not in out  # it went through the pager
        os.unlink(paged)
        # PAGER=cat or empty: straight to the terminal; a pipe: no pager.
        for pager in ("cat", ""):
            rc, out, err = run_on_pty(e.w.env, ["show", "1"], {"PAGER": pager})
            assert rc == 0 and b"zebra42" in out, (pager, err)
        p = e.w.env.casectl("show", "1", env={"PAGER": f"cat > {paged}"})
        assert b"zebra42" in p.stdout and not os.path.exists(paged)
        # A pager that quits early (q in less) ends nothing badly.
        for i in range(3):
            e.w.env.casectl("comment", "1", "-F", "-", input=b"long note\n" * 20000)
        rc, out, err = run_on_pty(e.w.env, ["show", "1"], {"PAGER": "head -c 100 >/dev/null"})
        assert rc == 0 and err == "", (rc, err)
    finally:
        e.close()


if __name__ == "__main__":
    run_tests(globals())
