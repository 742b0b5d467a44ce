"""Shared helpers for the end-to-end tests: a temp directory with a config,
the real casectl and cased binaries, and a tiny test runner.

Every test starts what it needs on 127.0.0.1 with bounded waits and stops
it by pid."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

CASED = os.environ.get("CASED_BIN", "cased")
CASECTL = os.environ.get("CASECTL_BIN", "casectl")
DATA = os.environ.get("CASED_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
SANITIZER = os.environ.get("CASED_UNDER_SANITIZER") == "1"
# Binaries built with -DCASED_TEST_HOOKS=ON (scripts/test.sh) honour
# CASED_NOW; release builds do not, and tests that need a fixed clock skip.
TEST_HOOKS = os.environ.get("CASED_TEST_HOOKS", "1") == "1"
SKIP = 77  # ctest's SKIP_RETURN_CODE for the e2e scripts


def need_test_hooks(what):
    """True when the binaries have the test hooks; otherwise says what is skipped."""
    if not TEST_HOOKS:
        print(f"skip {what}: needs a build with -DCASED_TEST_HOOKS=ON (CASED_NOW)")
    return TEST_HOOKS


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Env:
    """A temp directory with a cased.toml and a database."""

    def __init__(self, extra_config="", listen=None, tag="CASE"):
        self.dir = tempfile.mkdtemp(prefix="cased-e2e-")
        self.db = os.path.join(self.dir, "cases.db")
        self.port = free_port()
        self.socket_path = os.path.join(self.dir, "lmtp.sock")
        if listen is None:
            listen = [f"127.0.0.1:{self.port}", f"unix:{self.socket_path}"]
        self.config = os.path.join(self.dir, "cased.toml")
        with open(self.config, "w") as f:
            f.write(
                f'[case]\ndatabase = "{self.db}"\nalias = "security@example.com"\ntag = "{tag}"\n\n'
                f"[lmtp]\nlisten = {json.dumps(listen)}\n\n{extra_config}"
            )
        self.daemon = None
        self.daemon_log = os.path.join(self.dir, "cased.log")

    # casectl -------------------------------------------------------------
    def casectl(self, *args, input=None, check=True, env=None):
        full_env = dict(os.environ)
        full_env["CASED_CONFIG"] = self.config
        full_env.update(env or {})
        p = subprocess.run(
            [CASECTL, *args], input=input, capture_output=True, env=full_env, timeout=300
        )
        if check and p.returncode != 0:
            raise AssertionError(
                f"casectl {' '.join(args)} exited {p.returncode}: {p.stderr.decode(errors='replace')}"
            )
        return p

    def json(self, *args, **kw):
        p = self.casectl("--json", *args, **kw)
        return json.loads(p.stdout)

    def ingest_file(self, name):
        with open(os.path.join(DATA, name), "rb") as f:
            return self.json("ingest", input=f.read())

    # cased ---------------------------------------------------------------
    def start(self, wait_port=True):
        log = open(self.daemon_log, "ab")
        self.daemon = subprocess.Popen(
            [CASED, "--config", self.config], stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        if wait_port:
            def up():
                if self.daemon.poll() is not None:
                    raise AssertionError(f"cased exited early: {self.log()}")
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return True
                except OSError:
                    return False
            wait_for(up, 30, "cased to listen")
        return self.daemon

    def stop(self, sig=signal.SIGTERM, expect=0):
        if not self.daemon:
            return None
        self.daemon.send_signal(sig)
        try:
            rc = self.daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()
            raise AssertionError("cased did not stop within 60s of the signal")
        self.daemon = None
        if expect is not None and rc != expect:
            raise AssertionError(f"cased exited {rc}, expected {expect}: {self.log()}")
        return rc

    def log(self):
        try:
            with open(self.daemon_log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def cleanup(self):
        if self.daemon:
            self.daemon.kill()
            self.daemon.wait()
        subprocess.run(["rm", "-rf", self.dir])


def data(name):
    with open(os.path.join(DATA, name), "rb") as f:
        return f.read()


def run_tests(namespace):
    """Runs every test_* function in `namespace`; prints a closing count line."""
    only = sys.argv[1:] or None
    tests = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        if only and name not in only:
            continue
        start = time.monotonic()
        try:
            fn()
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - start:.1f}s)")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name} ({time.monotonic() - start:.1f}s)")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or passed == 0 else 0)
