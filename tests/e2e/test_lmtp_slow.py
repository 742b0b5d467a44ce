"""Slow senders do not starve LMTP: a transaction has a deadline however
often the client sends a byte, and one address gets only so many sessions."""

import socket
import time

from harness import Env, run_tests, wait_for
from lmtp_client import Lmtp, deliver


def started(extra):
    env = Env(extra_config="")
    with open(env.config) as f:
        text = f.read()
    with open(env.config, "w") as f:
        f.write(text.replace("[lmtp]\n", "[lmtp]\n" + extra))
    env.start()
    return env


def slow_client(port, source="127.0.0.2"):
    """Connects from `source` (any 127/8 address reaches loopback) and opens a transaction."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    c = Lmtp.__new__(Lmtp)
    c.sock, c.buf = s, b""
    code, _ = c.reply()
    if code != 220:
        return c, code
    assert c.cmd("LHLO slow.example")[0] == 250
    assert c.cmd("MAIL FROM:<slow@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<security@example.com>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    return c, 354


def test_a_trickling_transaction_gets_421_at_its_deadline():
    """A byte every half second keeps the idle timer happy; the transaction deadline does not."""
    env = started("transaction_timeout = 3\nidle_timeout = 60\n")
    try:
        c, code = slow_client(env.port)
        assert code == 354
        t0 = time.monotonic()
        closed_with = None
        while time.monotonic() - t0 < 15:
            try:
                c.send(b"x")
            except OSError:
                break
            c.sock.settimeout(0.5)
            try:
                data = c.sock.recv(4096)
            except socket.timeout:
                continue
            if not data:
                break
            closed_with = data.decode(errors="replace")
            break
        elapsed = time.monotonic() - t0
        assert closed_with and closed_with.startswith("421 4.4.2"), (closed_with, elapsed)
        assert 2 < elapsed < 8, elapsed
        assert "transaction timeout" in env.log()
        assert deliver(port=env.port, msgid="after@example.org") == [250]
    finally:
        env.cleanup()


def test_slow_clients_from_one_address_do_not_block_a_normal_delivery():
    env = started("max_sessions = 8\nmax_sessions_per_peer = 3\ntransaction_timeout = 600\nidle_timeout = 600\n")
    clients = []
    try:
        refused = 0
        for _ in range(8):
            c, code = slow_client(env.port)
            clients.append(c)
            if code == 421:
                refused += 1
        assert refused == 5, refused
        t0 = time.monotonic()
        assert deliver(port=env.port, msgid="normal@example.org") == [250]
        assert time.monotonic() - t0 < 5
        assert "sessions from that address" in env.log()
        # A slot from that address frees when one of its sessions ends.
        clients[0].close()
        wait_for(lambda: slow_client(env.port)[1] == 354, 10, "a slot for 127.0.0.2 again")
    finally:
        for c in clients:
            c.close()
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
