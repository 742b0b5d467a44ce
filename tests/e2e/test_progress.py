"""Progress of long work on a terminal: `ingest --mbox`, `backup`, `verify`
and `export` draw a line on stderr when it is a terminal (a pseudo-terminal
here), clear it, and end with a summary line; piped, they print nothing
beyond what they always printed."""

import os
import pty
import re
import select
import subprocess
import time

from harness import CASECTL, Env, run_tests

MESSAGES = 10000


def write_mbox(path, n=MESSAGES):
    with open(path, "wb") as f:
        for i in range(n):
            f.write(b"From rita@example.org Sun Nov 22 21:56:20 2026\n"
                    + f"From: Rita <rita@example.org>\nTo: security@example.com\nSubject: report {i}\n"
                      f"Message-ID: <p{i}@example.org>\nDate: Sun, 22 Nov 2026 21:56:20 +0000\n\n"
                      f"text of report {i}\n\n".encode())


def on_pty(env, *args, timeout=300):
    """Runs casectl with stderr on a pseudo-terminal; returns (exit status,
    stdout bytes, what the terminal received)."""
    master, slave = pty.openpty()
    full_env = dict(os.environ, CASED_CONFIG=env.config)
    p = subprocess.Popen([CASECTL, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                         env=full_env)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other end is closed
                    break
                if not chunk:
                    break
                screen += chunk
            elif p.poll() is not None:
                break
        out = p.stdout.read()
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()
    return rc, out, screen


def test_mbox_import_shows_progress_on_a_terminal_and_nothing_when_piped():
    env = Env()
    try:
        path = os.path.join(env.dir, "import.mbox")
        write_mbox(path)
        rc, out, screen = on_pty(env, "ingest", "--mbox", path)
        assert rc == 0, (out, screen)
        text = screen.decode()
        drawn = re.findall(r"\rimporting: ([\d,]+) messages, ([\d,]+)/s, (\d+)%, ([^\r]*)", text)
        assert drawn, repr(text[:500])
        counts = [int(c.replace(",", "")) for c, _, _, _ in drawn]
        assert counts == sorted(counts) and 0 < counts[-1] <= MESSAGES, counts
        # At most five redraws a second (plus one).
        assert len(drawn) <= 5 * max(1.0, counts[-1] / 1000.0) + 10
        # The line is blanked before the summary, which ends the output.
        summary = re.search(r"\r +\rimported ([\d,]+) messages in ([\d.:]+)( s)? \(([\d,]+)/s\), 0 duplicates\r?\n$",
                            text)
        assert summary and summary.group(1) == f"{MESSAGES:,}", repr(text[-300:])
        # stdout says what it always said.
        assert out.decode() == f"{MESSAGES} messages read: {MESSAGES} stored (0 duplicates), {MESSAGES} new cases, 0 failed\n"

        # Piped: nothing on stderr, the same stdout.
        again = env.casectl("ingest", "--mbox", path)
        # (Only the warning every casectl run gives here: no gpg.home.)
        assert all(l.startswith(b"casectl: warning: gpg.home") for l in again.stderr.splitlines()), again.stderr
        assert b"\r" not in again.stderr and b"import" not in again.stderr
        assert again.stdout.decode() == (f"{MESSAGES} messages read: {MESSAGES} stored ({MESSAGES} duplicates), "
                                         "0 new cases, 0 failed\n")
    finally:
        env.cleanup()


def test_backup_verify_and_export_end_with_a_summary_on_a_terminal():
    env = Env()
    try:
        path = os.path.join(env.dir, "small.mbox")
        write_mbox(path, 300)
        env.casectl("ingest", "--mbox", path)
        copy = os.path.join(env.dir, "copy.db")
        rc, out, screen = on_pty(env, "backup", copy)
        assert rc == 0 and out.startswith(b"backed up "), (out, screen)
        assert re.search(rb"backed up [\d,]+ pages in [\d.]+ s \([\d,]+/s\)\r?\n$", screen), screen
        rc, out, screen = on_pty(env, "verify", "--database", copy)
        assert rc == 0 and out.startswith(b"ok: "), (out, screen)
        assert re.search(rb"verify ran 4 steps in [\d.]+ s\r?\n$", screen), screen
        rc, out, screen = on_pty(env, "export", "--all")
        assert rc == 0 and out.count(b"\r\n") == 301, (out[:200], screen)
        assert re.search(rb"exported 300 cases in [\d.]+ s \([\d,]+/s\)\r?\n$", screen), screen
        # Piped: stderr stays empty, stdout as always.
        os.unlink(copy)
        for args in (("backup", copy), ("verify", "--database", copy), ("export", "--all")):
            p = env.casectl(*args)
            assert p.stderr == b"", (args, p.stderr)
            assert p.stdout, args
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
