"""The web form against slow and greedy clients: httplib bounds the time
between two reads but not a whole request, so clients trickling a request a
byte a second (slowloris) held every server thread; each connection now has
a lifetime, and a client directly connected (no proxy in front) may hold at
most 8 connections at once."""

import os
import socket
import threading
import time

from harness import need_test_hooks, run_tests
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


def test_slow_clients_are_cut_and_the_form_stays_up():
    if not need_test_hooks("slow clients (CASED_TEST_WEB_LIFETIME)"):
        return
    w = started()
    slow, stop = [], threading.Event()
    try:
        for _ in range(20):  # more than the sixteen threads
            s = socket.create_connection(("127.0.0.1", w.web_port), timeout=5)
            s.sendall(b"POST /report HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(s)

        def trickle():
            while not stop.is_set():
                for s in slow:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                stop.wait(1)
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        began = time.monotonic()
        r = w.curl("/")
        waited = time.monotonic() - began
        assert r.status == 200, r.status
        assert waited < 30, waited  # without lifetimes: until 8 KiB of header at a byte a second
        stop.set()
        t.join(5)
        assert all(closed_by_server(s, LIFETIME + 10) for s in slow)
        assert "cut after 3s" in w.env.log()
    finally:
        stop.set()
        for s in slow:
            s.close()
        w.close()


def test_a_directly_connected_client_holds_at_most_eight_connections():
    from certs import CA

    scratch = WebWorld(alias_key=False)
    try:
        ca = CA(os.path.join(scratch.tmp, "ca"))
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
        scratch.close()


if __name__ == "__main__":
    run_tests(globals())
