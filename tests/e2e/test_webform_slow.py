"""The web form against slow and greedy clients: httplib bounds the time
between two reads but not a whole request, so clients trickling a request a
byte a second (slowloris) held every server thread; each connection now has
a lifetime, and a client directly connected (no proxy in front) may hold at
most 8 connections at once."""

import os
import socket
import subprocess
import tempfile
import threading
import time

from harness import need_test_hooks, run_tests, wait_for
from webform import WebWorld

LIFETIME = 3  # seconds, through CASED_TEST_WEB_LIFETIME


def started(**kw):
    os.environ["CASED_TEST_WEB_LIFETIME"] = str(LIFETIME)
    try:
        w = WebWorld(**kw)
        w.start()
        return w
    finally:
        del os.environ["CASED_TEST_WEB_LIFETIME"]


def closed_by_server(s, within):
    """True when the server ends the connection within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if s.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except OSError:  # reset
            return True
    return False


def trickling(port):
    """A client that sent a request's first line and sends nothing more."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /report HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return s


class Trickle:
    """`n` clients that send a request's first line, then a byte a second
    each, from a thread, until stopped (slowloris)."""

    def __init__(self, port, n):
        self.sockets = [trickling(port) for _ in range(n)]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            for s in self.sockets:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            self.done.wait(1)

    def stop(self):
        self.done.set()
        self.thread.join(5)

    def close(self):
        self.stop()
        for s in self.sockets:
            s.close()


def test_slow_clients_are_cut_and_the_form_stays_up():
    if not need_test_hooks("slow clients (CASED_TEST_WEB_LIFETIME)"):
        return
    w = started()
    slow = None
    try:
        slow = Trickle(w.web_port, 20)  # more than the sixteen threads
        began = time.monotonic()
        r = w.curl("/")
        waited = time.monotonic() - began
        assert r.status == 200, r.status
        assert waited < 30, waited  # without lifetimes: until 8 KiB of header at a byte a second
        slow.stop()
        assert all(closed_by_server(s, LIFETIME + 10) for s in slow.sockets)
        assert "cut after 3s" in w.env.log()
    finally:
        if slow:
            slow.close()
        w.close()


def test_connections_served_unwatched_do_not_blind_the_watchdog():
    """With the daemon out of file descriptors, connections are served
    without a lifetime (nothing can be opened to look at them). They stayed
    among the sockets, each later accept saw two new ones and gave up: the
    watchdog was blind for good. Now it looks again: once descriptors are
    back, a new slow client is cut after its lifetime."""
    if not need_test_hooks("slow clients (CASED_TEST_WEB_LIFETIME)"):
        return
    w = started()
    pid = w.env.daemon.pid
    held = []
    try:
        limit = subprocess.run(["prlimit", "--pid", str(pid), "--nofile", "--noheadings", "--output=SOFT"],
                               capture_output=True, text=True, check=True).stdout.strip()
        in_use = len(os.listdir(f"/proc/{pid}/fd"))
        # Room for accept() and nothing more: the socket is served unwatched.
        subprocess.run(["prlimit", "--pid", str(pid), f"--nofile={in_use + 1}:"], check=True)
        held.append(trickling(w.web_port))
        wait_for(lambda: "served without a lifetime" in w.env.log(), 30, "a connection served unwatched")
        subprocess.run(["prlimit", "--pid", str(pid), f"--nofile={limit}:"], check=True)
        first, later = trickling(w.web_port), trickling(w.web_port)
        held += [first, later]
        assert closed_by_server(later, LIFETIME + 10), "the watchdog is blind"
    finally:
        for s in held:
            s.close()
        w.close()


def test_a_stop_does_not_wait_for_slow_clients():
    """SIGTERM: the requests being served get a few seconds, then every
    connection is cut; the daemon does not wait out their lifetime (here
    ten minutes, past the harness's minute)."""
    if not need_test_hooks("slow clients (CASED_TEST_WEB_LIFETIME)"):
        return
    os.environ["CASED_TEST_WEB_LIFETIME"] = "600"
    try:
        w = WebWorld()
        w.start()
    finally:
        del os.environ["CASED_TEST_WEB_LIFETIME"]
    slow = None
    try:
        slow = Trickle(w.web_port, 3)
        # Served after them: by now all three were accepted (one accept loop).
        assert w.curl("/").status == 200
        began = time.monotonic()
        assert w.env.stop() == 0
        took = time.monotonic() - began
        assert took < 20, took
        slow.stop()
        assert all(closed_by_server(s, 5) for s in slow.sockets)
    finally:
        if slow:
            slow.close()
        w.close()


def test_a_directly_connected_client_holds_at_most_eight_connections():
    from certs import CA

    scratch = tempfile.mkdtemp(prefix="cased-web-ca-")
    try:
        ca = CA(os.path.join(scratch, "ca"))
        cert, key = ca.server("web")
        w = WebWorld(tls=(cert, key, ca.cert))  # cased speaks HTTPS itself: no proxy in front
        held = []
        try:
            w.start()
            for _ in range(8):  # idle: no TLS handshake, each holds a thread
                held.append(socket.create_connection(("127.0.0.1", w.web_port), timeout=5))
            ninth = socket.create_connection(("127.0.0.1", w.web_port), timeout=5)
            held.append(ninth)
            assert closed_by_server(ninth, 10)
            assert not any(closed_by_server(s, 0.5) for s in held[:8])
            assert "8 open already" in w.env.log()
            for s in held[:8]:
                s.close()
            r = w.curl("/")  # room again once they are gone
            assert r.status == 200, r.status
        finally:
            for s in held:
                s.close()
            w.close()
    finally:
        subprocess.run(["rm", "-rf", scratch])


if __name__ == "__main__":
    run_tests(globals())
