"""casectl through sudo (`sudo -u cased casectl ...`): files named on the
command line are read, and files saved are written, with the invoking
user's rights, not the service user's; --config and CASED_CONFIG are not
the caller's to choose; the invoking user is recorded as the actor.

sudo itself is emulated: the test runs casectl as the service user with
setpriv and the SUDO_* variables sudo sets. It needs root to make the two
users and to write /etc/cased/cased.toml (restored afterwards)."""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

from harness import CASECTL, run_tests
from lmtp_client import message
from pgp import headers
from test_attachments import BLOB, POC, RITA, attachment_entity, multipart

SERVICE = "cased-svc-test"
ANALYST = "cased-analyst-test"
SYSTEM_CONFIG = "/etc/cased/cased.toml"
SECRET = "SECRET-KEY-MATERIAL-0123456789"


def ensure_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


class World:
    def __init__(self):
        self.svc = ensure_user(SERVICE)
        self.analyst = ensure_user(ANALYST)
        self.dir = tempfile.mkdtemp(prefix="cased-sudo-")
        os.chmod(self.dir, 0o755)
        self.db = os.path.join(self.dir, "cases.db")
        keys = os.path.join(self.dir, "gnupg", "private-keys-v1.d")
        os.makedirs(keys)
        self.secret = os.path.join(keys, "0123.key")
        with open(self.secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(self.secret, 0o600)
        os.chmod(os.path.join(self.dir, "gnupg"), 0o700)
        # What the analyst may read: their own file.
        self.own = os.path.join(self.dir, "analyst-note.txt")
        with open(self.own, "w") as f:
            f.write("the analyst's own note\n")
        os.chown(self.own, self.analyst.pw_uid, self.analyst.pw_gid)
        os.chmod(self.own, 0o600)
        config = f'[case]\ndatabase = "{self.db}"\nalias = "security@example.com"\n\n[lmtp]\nlisten = []\n'
        self.evil_db = os.path.join(self.dir, "evil.db")
        self.evil = os.path.join(self.dir, "evil.toml")
        with open(self.evil, "w") as f:
            f.write(config.replace(self.db, self.evil_db))
        os.chown(self.evil, self.analyst.pw_uid, self.analyst.pw_gid)
        self.backup = None
        if os.path.exists(SYSTEM_CONFIG):
            self.backup = SYSTEM_CONFIG + ".cased-test-backup"
            shutil.copy2(SYSTEM_CONFIG, self.backup)
        os.makedirs(os.path.dirname(SYSTEM_CONFIG), exist_ok=True)
        with open(SYSTEM_CONFIG, "w") as f:
            f.write(config)
        os.chmod(SYSTEM_CONFIG, 0o644)

    def as_root(self, *args, input=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUDO_")}
        env["CASED_CONFIG"] = SYSTEM_CONFIG
        return subprocess.run([CASECTL, *args], input=input, capture_output=True, env=env, timeout=60)

    def via_sudo(self, *args, input=None, target="service", env_extra=None, stdout=subprocess.PIPE):
        """casectl as sudo would run it for the analyst: as the service user (or root)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUDO_") and k != "CASED_CONFIG"}
        env.update(SUDO_UID=str(self.analyst.pw_uid), SUDO_GID=str(self.analyst.pw_gid), SUDO_USER=ANALYST,
                   SUDO_COMMAND=CASECTL, HOME=self.dir)
        env.update(env_extra or {})
        cmd = [CASECTL, *args]
        if target == "service":
            cmd = ["setpriv", f"--reuid={self.svc.pw_uid}", f"--regid={self.svc.pw_gid}", "--clear-groups", *cmd]
        return subprocess.run(cmd, input=input, stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=60, cwd=self.dir)

    def give_to_service(self):
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                p = os.path.join(root, n)
                if p != self.own and p != self.evil:
                    os.chown(p, self.svc.pw_uid, self.svc.pw_gid)
        os.chown(self.dir, self.svc.pw_uid, self.svc.pw_gid)

    def case_text(self):
        p = self.as_root("--json", "show", "1")
        assert p.returncode == 0, p.stderr
        return p.stdout.decode(errors="replace")

    def close(self):
        if self.backup:
            shutil.move(self.backup, SYSTEM_CONFIG)
        else:
            os.remove(SYSTEM_CONFIG)
        subprocess.run(["rm", "-rf", self.dir])


def needs_root():
    if os.geteuid() != 0:
        print("SKIP: needs root (to create users and emulate sudo); not run")
        sys.exit(0)
    if not shutil.which("setpriv"):
        print("SKIP: setpriv (util-linux) is missing; not run")
        sys.exit(0)


def test_files_are_read_with_the_invoking_users_rights():
    w = World()
    try:
        p = w.as_root("ingest", input=message("s1@example.org", subject="a report").encode())
        assert p.returncode == 0, p.stderr
        w.give_to_service()
        # The service user could read its own secret key; the analyst cannot.
        p = w.via_sudo("comment", "1", "-F", w.secret)
        assert p.returncode != 0, p.stdout
        assert b"stdin" in p.stderr, p.stderr
        p = w.via_sudo("comment", "1", "-F", os.path.relpath(w.secret, w.dir))
        assert p.returncode != 0
        p = w.via_sudo("ingest", w.secret)
        assert p.returncode != 0
        p = w.via_sudo("ingest", "--mbox", w.secret)
        assert p.returncode != 0
        assert SECRET not in w.case_text()
        # Stdin, opened by the analyst's own shell, is fine; the analyst is the actor.
        p = w.via_sudo("comment", "1", "-F", "-", input=b"read from stdin\n")
        assert p.returncode == 0, p.stderr
        shown = json.loads(w.case_text())
        assert any(c["author"] == ANALYST and "read from stdin" in c["text"] for c in shown["comments"]), shown
        assert any(e["actor"] == ANALYST for e in shown["events"]), shown["events"]
        # Through sudo to root, files are opened as the analyst.
        p = w.via_sudo("comment", "1", "-F", w.secret, target="root")
        assert p.returncode != 0 and b"Permission denied" in p.stderr, p.stderr
        p = w.via_sudo("comment", "1", "-F", w.own, target="root")
        assert p.returncode == 0, p.stderr
        text = w.case_text()
        assert "the analyst's own note" in text and SECRET not in text
    finally:
        w.close()


def test_config_is_not_the_callers_to_choose():
    w = World()
    try:
        p = w.as_root("ingest", input=message("s2@example.org", subject="a report").encode())
        assert p.returncode == 0, p.stderr
        w.give_to_service()
        for extra, args in (({}, ("--config", w.evil)), ({"CASED_CONFIG": w.evil}, ())):
            p = w.via_sudo(*args, "--json", "list", env_extra=extra)
            assert p.returncode == 0, p.stderr
            assert b"ignored" in p.stderr, p.stderr
            assert len(json.loads(p.stdout)) == 1  # the system configuration's database
            assert not os.path.exists(w.evil_db)
        # Root chooses freely (list reads only: init makes the database first).
        p = w.as_root("--config", w.evil, "--json", "init")
        assert p.returncode == 0 and json.loads(p.stdout)["database"] == w.evil_db, p.stderr
        p = w.as_root("--config", w.evil, "--json", "list")
        assert p.returncode == 0 and json.loads(p.stdout) == [], p.stderr
    finally:
        w.close()


def test_backup_is_written_with_the_invoking_users_rights():
    w = World()
    try:
        p = w.as_root("ingest", input=message("s3@example.org", subject="a report").encode())
        assert p.returncode == 0, p.stderr
        w.give_to_service()
        mine = os.path.join(w.dir, "analyst-backups")
        os.mkdir(mine, 0o700)
        os.chown(mine, w.analyst.pw_uid, w.analyst.pw_gid)
        # Through sudo to root: the copy is the analyst's, made where the analyst may write.
        copy = os.path.join(mine, "copy.db")
        p = w.via_sudo("backup", copy, target="root")
        assert p.returncode == 0, p.stderr
        st = os.stat(copy)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (w.analyst.pw_uid, w.analyst.pw_gid, 0o600), st
        # Not where only the service user may write, nor over a file the analyst could not replace.
        p = w.via_sudo("backup", os.path.join(w.dir, "gnupg", "copy.db"), target="root")
        assert p.returncode != 0 and b"Permission denied" in p.stderr, p.stderr
        assert not os.path.exists(os.path.join(w.dir, "gnupg", "copy.db"))
        p = w.via_sudo("backup", "--force", w.secret, target="root")
        assert p.returncode != 0
        with open(w.secret) as f:
            assert SECRET in f.read()
        # Through sudo to the service user, who cannot switch: refused, nothing made.
        other = os.path.join(mine, "other.db")
        p = w.via_sudo("backup", other)
        assert p.returncode == 4 and b"sudo" in p.stderr, p.stderr
        assert not os.path.exists(other)
        p = w.via_sudo("verify", "--database", w.db)
        assert p.returncode == 4, p.stderr
        # verify of the configured database, and of the analyst's copy as the analyst.
        p = w.via_sudo("verify")
        assert p.returncode == 0 and p.stdout.startswith(b"ok"), (p.stdout, p.stderr)
        p = w.via_sudo("verify", "--database", copy, target="root")
        assert p.returncode == 0 and p.stdout.startswith(b"ok"), (p.stdout, p.stderr)
    finally:
        w.close()


def analyst_dir(w, name):
    path = os.path.join(w.dir, name)
    os.mkdir(path, 0o700)
    os.chown(path, w.analyst.pw_uid, w.analyst.pw_gid)
    return path


def test_save_writes_as_the_invoking_user_or_only_to_stdout():
    w = World()
    try:
        report = headers(RITA, "a report with a proof", "poc@example.org") + multipart(
            [attachment_entity('filename="poc.c"', "text/x-c", POC),
             attachment_entity('filename="core.bin"', "application/octet-stream", BLOB)])
        p = w.as_root("ingest", input=report)
        assert p.returncode == 0, p.stderr
        w.give_to_service()
        mine = analyst_dir(w, "analyst-work")

        # Through sudo to the service user, who cannot switch: writing into a
        # directory is refused with the way that works, nothing is made (not
        # even where the service user could write), nothing is recorded.
        for args in (("--dir", os.path.join(w.dir, "svc-out")), ()):
            p = w.via_sudo("save", "1", *args)
            assert p.returncode == 4 and b"--stdout > FILE" in p.stderr, (p.returncode, p.stderr)
            assert p.stdout == b""
        assert not os.path.exists(os.path.join(w.dir, "svc-out")) and not os.path.exists(os.path.join(w.dir, "CASE-1"))
        assert not [e for e in json.loads(w.case_text())["events"] if e["kind"] == "attachment-saved"]
        # --stdout works: the analyst's shell opened the file.
        piped = os.path.join(mine, "core.bin")
        with open(piped, "wb") as f:
            os.fchown(f.fileno(), w.analyst.pw_uid, w.analyst.pw_gid)
            p = w.via_sudo("save", "1", "1.2", "--stdout", stdout=f)
        assert p.returncode == 0, p.stderr
        with open(piped, "rb") as f:
            assert f.read() == BLOB

        # Through sudo as root: DIR and the files are the analyst's, 0700 and 0600.
        out = os.path.join(mine, "out")
        p = w.via_sudo("save", "1", "--dir", out, target="root")
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().splitlines() == [f"{out}/poc.c", f"{out}/core.bin"], p.stdout
        st = os.stat(out)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (w.analyst.pw_uid, w.analyst.pw_gid, 0o700), st
        for name, data in (("poc.c", POC), ("core.bin", BLOB)):
            path = os.path.join(out, name)
            st = os.stat(path)
            assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (w.analyst.pw_uid, w.analyst.pw_gid, 0o600), st
            with open(path, "rb") as f:
                assert f.read() == data, name
        # Not where only the service user may write.
        hidden = os.path.join(w.dir, "gnupg", "out")
        p = w.via_sudo("save", "1", "--dir", hidden, target="root")
        assert p.returncode != 0 and b"Permission denied" in p.stderr, p.stderr
        assert not os.path.exists(hidden)

        # The analyst is the actor of every save, refused ones recorded nowhere.
        saved = [(e["actor"], e["detail"]) for e in json.loads(w.case_text())["events"] if e["kind"] == "attachment-saved"]
        assert saved == [(ANALYST, "1.2"), (ANALYST, "1.1 1.2")], saved
    finally:
        w.close()


if __name__ == "__main__":
    needs_root()
    run_tests(globals())
