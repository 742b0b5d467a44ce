"""LMTP end to end: the real cased against real clients (swaks, postfix's
smtp-source) and a raw-socket client for every error path."""

import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time

from harness import Env, run_tests, wait_for
from lmtp_client import Lmtp, deliver, message


def count(env, sql, *args):
    with sqlite3.connect(env.db) as db:
        return db.execute(sql, args).fetchone()[0]


def started(extra=""):
    env = Env(extra_config=extra)
    env.start()
    return env


def test_swaks_over_tcp_and_unix_socket():
    env = started()
    try:
        for target in (["--server", "127.0.0.1", "--port", str(env.port)], ["--socket", env.socket_path]):
            p = subprocess.run(["swaks", "--protocol", "LMTP", *target, "--from", "rita@example.org",
                                "--to", "security@example.com", "--header", "Subject: swaks report",
                                "--body", "found a bug"], capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stdout + p.stderr
            assert "250 2.0.0" in p.stdout
        cases = env.json("list")
        assert len(cases) == 2 and cases[0]["subject"] == "swaks report"
        assert "found a bug" in env.json("show", "1")["messages"][0]["body"]
        assert os.stat(env.socket_path).st_mode & 0o777 == 0o666
    finally:
        env.stop()
        env.cleanup()


def test_pipelined_transaction_in_one_write():
    env = started()
    try:
        c = Lmtp(port=env.port)
        assert c.reply()[0] == 220
        body = message("pipe@example.org")
        c.send("LHLO x\r\nMAIL FROM:<rita@example.org>\r\nRCPT TO:<security@example.com>\r\n"
               "RCPT TO:<nobody@example.com>\r\nDATA\r\n" + body + ".\r\nQUIT\r\n")
        code, lines = c.reply()
        assert code == 250 and any("PIPELINING" in l for l in lines) and any("ENHANCEDSTATUSCODES" in l for l in lines)
        assert any("SIZE" in l for l in lines) and any("8BITMIME" in l for l in lines)
        assert c.reply()[0] == 250  # MAIL
        assert c.reply()[0] == 250  # RCPT alias
        code, lines = c.reply()
        assert code == 550 and "5.1.1" in lines[0]
        assert c.reply()[0] == 354
        code, lines = c.reply()
        assert code == 250 and "2.0.0" in lines[0]  # one reply: one accepted recipient
        assert c.reply()[0] == 221
        assert c.closed()
        assert count(env, "SELECT count(*) FROM messages") == 1
    finally:
        env.stop()
        env.cleanup()


def test_error_paths_then_a_normal_delivery_on_the_same_connection():
    env = started("")
    try:
        c = Lmtp(port=env.port)
        assert c.reply()[0] == 220
        assert c.cmd("MAIL FROM:<a@b.c>")[0] == 503            # before LHLO
        assert c.cmd("HELO x")[0] == 500                       # this is LMTP
        assert c.cmd("LHLO x")[0] == 250
        assert c.cmd("FROB")[0] == 500                         # unknown command
        code, lines = c.cmd("X" * 600)                         # over 512 octets
        assert code == 500 and "5.5.2" in lines[0]
        assert c.cmd("RCPT TO:<security@example.com>")[0] == 503  # RCPT before MAIL
        assert c.cmd("DATA")[0] == 503                         # DATA before MAIL
        assert c.cmd("MAIL FROM:<a@b.c> SIZE=999999999999")[0] == 552
        assert c.cmd("MAIL FROM:<rita@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<other@example.com>")[0] == 550
        assert c.cmd("DATA")[0] == 503                         # no valid recipient
        assert c.cmd("RCPT TO:<security@example.com>")[0] == 250
        assert c.cmd("RSET")[0] == 250
        assert c.cmd("NOOP")[0] == 250
        assert c.cmd("VRFY security")[0] == 252
        c.send(b"\x00\xff\xfe garbage \x01\r\n")
        assert c.reply()[0] == 500
        # and now a normal delivery still works
        assert c.cmd("MAIL FROM:<rita@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<security@example.com>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(message("after-errors@example.org") + ".\r\n")
        assert c.reply()[0] == 250
        assert c.cmd("QUIT")[0] == 221
        assert count(env, "SELECT count(*) FROM messages") == 1
    finally:
        env.stop()
        env.cleanup()


def test_oversize_message_is_refused_and_not_stored():
    env = started("")
    try:
        # max_message_size in the config below is the default 50 MB; use a smaller daemon
        env.stop()
        with open(env.config) as f:
            cfg = f.read().replace("[lmtp]\n", "[lmtp]\nmax_message_size = 100000\n")
        with open(env.config, "w") as f:
            f.write(cfg)
        env.start()
        c = Lmtp(port=env.port)
        c.reply()
        c.cmd("LHLO x")
        c.cmd("MAIL FROM:<rita@example.org>")
        c.cmd("RCPT TO:<security@example.com>")
        assert c.cmd("DATA")[0] == 354
        big = message("big@example.org", body=("y" * 998 + "\r\n") * 300)
        c.send(big + ".\r\n")
        code, lines = c.reply()
        assert code == 552 and "5.3.4" in lines[0]
        # a long line inside DATA is fine when the message is within the limit
        assert c.cmd("MAIL FROM:<rita@example.org>")[0] == 250
        c.cmd("RCPT TO:<security@example.com>")
        c.cmd("DATA")
        c.send(message("longline@example.org", body="z" * 5000 + "\r\n") + ".\r\n")
        assert c.reply()[0] == 250
        c.cmd("QUIT")
        assert count(env, "SELECT count(*) FROM messages") == 1
        assert count(env, "SELECT length(body) FROM message_text") >= 5000
    finally:
        env.stop()
        env.cleanup()


def test_large_and_small_messages_on_one_connection():
    """Mail over 256 KiB is parsed on the pool, smaller mail on the
    session's thread: both are stored whole, in order, on one connection."""
    env = started()
    try:
        c = Lmtp(port=env.port)
        c.reply()
        c.cmd("LHLO x")
        sizes = {"small@example.org": 2_000, "large@example.org": 600_000, "small2@example.org": 70_000}
        for msgid, size in sizes.items():
            line = "q" * 98 + "\r\n"
            c.cmd("MAIL FROM:<rita@example.org>")
            c.cmd("RCPT TO:<security@example.com>")
            assert c.cmd("DATA")[0] == 354
            c.send(message(msgid, body=line * (size // 100)) + ".\r\n")
            assert c.reply()[0] == 250
        c.cmd("QUIT")
        with sqlite3.connect(env.db) as db:
            got = dict(db.execute("SELECT m.message_id, length(t.body) FROM messages m "
                                  "JOIN message_text t ON t.id = m.id").fetchall())
        assert got == {msgid: (size // 100) * 100 for msgid, size in sizes.items()}, got
    finally:
        env.stop()
        env.cleanup()


def test_delivered_mail_joins_the_search_index_on_its_own():
    """The writer indexes what it stored once it is idle: three deliveries
    are in the search index shortly after, with no search to prompt it."""
    env = started()
    try:
        for i in range(3):
            assert deliver(port=env.port, msgid=f"idx{i}@example.org") == [250]
        wait_for(lambda: count(env, "SELECT count(*) FROM message_index_docsize") == 3, 10, "three messages indexed")
        assert count(env, "SELECT indexed_upto FROM search_progress") == count(env, "SELECT max(id) FROM messages")
    finally:
        env.stop()
        env.cleanup()


def test_plus_address_routing_and_one_copy_for_two_recipients():
    env = started()
    try:
        assert deliver(port=env.port, msgid="first@example.org") == [250]
        codes = deliver(port=env.port, msgid="second@example.org",
                        rcpts=("security@example.com", "security+1@example.com"),
                        data=message("second@example.org", subject="unrelated subject"))
        assert codes == [250, 250]
        assert count(env, "SELECT count(*) FROM messages") == 2
        assert count(env, "SELECT count(*) FROM cases") == 1
        # a plus-form naming no case is the bare alias
        assert deliver(port=env.port, msgid="third@example.org", rcpts=("security+77@example.com",),
                       data=message("third@example.org", subject="new")) == [250]
        assert count(env, "SELECT count(*) FROM cases") == 2
        # the same message again: acknowledged, stored once
        assert deliver(port=env.port, msgid="first@example.org") == [250]
        assert count(env, "SELECT count(*) FROM messages") == 3
    finally:
        env.stop()
        env.cleanup()


def test_sessions_of_clients_that_leave_end_at_once():
    """A client that closes (after the greeting, mid-command, mid-DATA)
    frees its session slot at once, not after the idle timeout: with
    max_sessions = 2, ten such clients in a row leave room for a delivery,
    and the log says at once that the one in DATA left."""
    env = started("max_sessions = 2\nidle_timeout = 3600\n")  # keys of [lmtp], the config's last table
    try:
        for i in range(10):
            c = Lmtp(port=env.port)
            assert c.reply()[0] == 220
            if i % 3 == 1:
                c.cmd("LHLO x")
                c.send("MAIL FROM:<rita@exa")
            elif i % 3 == 2:
                c.cmd("LHLO x")
                c.cmd("MAIL FROM:<rita@example.org>")
                c.cmd("RCPT TO:<security@example.com>")
                c.cmd("DATA")
                c.send("Subject: gone\r\n\r\npart of a body")
            c.close()
            time.sleep(0.05)
        wait_for(lambda: env.log().count("client left during DATA") == 3, 10, "each DATA leaver noticed")
        assert deliver(port=env.port, msgid="after-leavers@example.org") == [250]
        assert "too many sessions" not in env.log()
    finally:
        env.stop()
        env.cleanup()


def test_idle_timeout_ends_silent_sessions_only():
    """With idle_timeout = 2: a client silent for longer gets 421 4.4.2 and
    is closed, also in the middle of DATA (nothing stored); a client that
    speaks every 0.7 s for 4 s is never cut off and delivers."""
    env = started("idle_timeout = 2\n")  # a key of [lmtp], the config's last table
    try:
        silent = Lmtp(port=env.port)
        assert silent.reply()[0] == 220
        silent.cmd("LHLO x")
        in_data = Lmtp(port=env.port)
        in_data.reply()
        in_data.cmd("LHLO x")
        in_data.cmd("MAIL FROM:<rita@example.org>")
        in_data.cmd("RCPT TO:<security@example.com>")
        assert in_data.cmd("DATA")[0] == 354
        in_data.send("Message-ID: <cut@example.org>\r\nSubject: cut\r\n\r\npart of a body\r\n")
        talker = Lmtp(port=env.port)
        talker.reply()
        talker.cmd("LHLO x")
        started_at = time.monotonic()
        for _ in range(6):
            time.sleep(0.7)
            assert talker.cmd("NOOP")[0] == 250
        for c in (silent, in_data):
            code, lines = c.reply()
            assert code == 421 and "4.4.2" in lines[0], lines
            assert c.sock.recv(1) == b""  # closed after the 421
        assert time.monotonic() - started_at >= 2 - 0.5
        talker.cmd("MAIL FROM:<rita@example.org>")
        talker.cmd("RCPT TO:<security@example.com>")
        talker.cmd("DATA")
        talker.send(message("talker@example.org") + ".\r\n")
        assert talker.reply()[0] == 250
        talker.cmd("QUIT")
        assert count(env, "SELECT count(*) FROM messages") == 1
        assert count(env, "SELECT count(*) FROM messages WHERE message_id = 'cut@example.org'") == 0
        assert env.log().count("idle timeout") == 2
    finally:
        env.stop()
        env.cleanup()


def test_client_vanishing_mid_data_stores_nothing():
    env = started()
    try:
        c = Lmtp(port=env.port)
        c.reply()
        c.cmd("LHLO x")
        c.cmd("MAIL FROM:<rita@example.org>")
        c.cmd("RCPT TO:<security@example.com>")
        c.cmd("DATA")
        c.send("Subject: half\r\nMessage-ID: <half@example.org>\r\n\r\nhalf a mess")
        c.sock.shutdown(socket.SHUT_RDWR)
        c.close()
        # binary garbage and a half-closed connection
        g = Lmtp(port=env.port)
        g.reply()
        g.send(os.urandom(4096))
        g.sock.shutdown(socket.SHUT_WR)
        g.close()
        assert deliver(port=env.port, msgid="whole@example.org") == [250]
        assert count(env, "SELECT count(*) FROM messages") == 1
        assert env.daemon.poll() is None
    finally:
        env.stop()
        env.cleanup()


def test_smtp_source_concurrent_sessions():
    env = started()
    try:
        p = subprocess.run(["smtp-source", "-L", "-s", "8", "-m", "200", "-c", "-f", "rita@example.org",
                            "-t", "security@example.com", f"127.0.0.1:{env.port}"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        # smtp-source sends the same headers each time: every delivery is acknowledged,
        # and the store holds each distinct message once.
        n = count(env, "SELECT count(*) FROM messages")
        assert n >= 1
        log = env.log()
        assert log.count("delivered queue=") == 200, log[-2000:]
        assert count(env, "PRAGMA integrity_check") == "ok"
    finally:
        env.stop()
        env.cleanup()


def test_sigterm_answers_421_to_idle_sessions_and_exits_0():
    env = started()
    try:
        c = Lmtp(port=env.port)
        c.reply()
        c.cmd("LHLO x")
        env.daemon.send_signal(signal.SIGTERM)
        code, lines = c.reply()
        assert code == 421, lines
        assert env.daemon.wait(timeout=30) == 0
        env.daemon = None
        assert not os.path.exists(env.socket_path)
    finally:
        env.cleanup()


def test_sigterm_the_moment_the_port_opens_still_exits_0():
    """A supervisor may signal as soon as it sees the port: the signal is
    handled from before the first listener opens, never the default action."""
    env = Env()
    try:
        for _ in range(10):
            env.start()
            env.stop()  # asserts exit status 0
    finally:
        env.cleanup()


def test_logs_name_cases_never_subjects_or_bodies():
    env = started()
    try:
        deliver(port=env.port, msgid="secret@example.org",
                data=message("secret@example.org", subject="TOPSECRETSUBJECT", body="TOPSECRETBODY\r\n"))
    finally:
        env.stop()
    try:
        log = env.log()
        assert "delivered queue=" in log and "case=1" in log
        assert "TOPSECRET" not in log
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_tests(globals())
