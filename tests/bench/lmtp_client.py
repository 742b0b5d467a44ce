#!/usr/bin/python3
"""Deliver ready-made messages over LMTP with S concurrent sessions and time it.

    lmtp_client.py HOST PORT SESSIONS MSGDIR [--count M] [--rcpt ADDR] [--from ADDR]

MSGDIR holds *.eml files (CRLF). M messages (default: all of them, sorted by
name) are dealt round-robin to SESSIONS sessions; each session connects,
sends LHLO once, then delivers its share one after the other, pipelining
MAIL, RCPT and DATA (the server offers PIPELINING) and waiting for the 250
after each message's final dot before the next. Messages are read, dot-stuffed
and encoded before the clock starts. The time runs from just before the first
connect to the last 250 (or failure). Prints one JSON object: sessions,
messages, ok, failed, seconds, msgs_per_s, the client's own CPU seconds (reading the
files included) and the first few failure replies.
Exits 1 when any message was not accepted.
"""
import json
import os
import resource
import socket
import sys
import threading
import time


def read_reply(f):
    """One (possibly multi-line) reply: (code, text)."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("connection closed")
        lines.append(line.decode("ascii", "replace").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            return int(lines[-1][:3]), "\n".join(lines)


def session(host, port, payloads, rcpt, sender, start, results, index):
    ok, failed, last = 0, [], None
    try:
        start.wait()
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        code, text = read_reply(f)
        if code != 220:
            raise ConnectionError("greeting: " + text)
        s.sendall(b"LHLO bench.invalid\r\n")
        code, text = read_reply(f)
        if code != 250:
            raise ConnectionError("LHLO: " + text)
        envelope = f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()
        for body in payloads:
            s.sendall(envelope)
            replies = [read_reply(f) for _ in range(3)]
            if [c for c, _ in replies] != [250, 250, 354]:
                failed.append(" | ".join(t for _, t in replies))
                if replies[2][0] == 354:  # DATA accepted anyway: end it
                    s.sendall(b".\r\n")
                    read_reply(f)
                s.sendall(b"RSET\r\n")
                read_reply(f)
                continue
            s.sendall(body)
            code, text = read_reply(f)
            if code == 250:
                ok += 1
                last = time.monotonic()
            else:
                failed.append(text)
        s.sendall(b"QUIT\r\n")
        read_reply(f)
        s.close()
    except Exception as e:  # noqa: BLE001 - reported, counted as failed
        failed.append(f"session {index}: {e!r}")
    results[index] = (ok, failed, last if last is not None else time.monotonic())


def main():
    args = sys.argv[1:]
    count = None
    rcpt, sender = "security@example.com", "rita@example.org"
    positional = []
    i = 0
    while i < len(args):
        if args[i] == "--count":
            count = int(args[i + 1]); i += 2
        elif args[i] == "--rcpt":
            rcpt = args[i + 1]; i += 2
        elif args[i] == "--from":
            sender = args[i + 1]; i += 2
        else:
            positional.append(args[i]); i += 1
    if len(positional) != 4:
        sys.exit(__doc__)
    host, port, sessions, msgdir = positional[0], int(positional[1]), int(positional[2]), positional[3]
    names = sorted(n for n in os.listdir(msgdir) if n.endswith(".eml"))
    if count is not None:
        names = names[:count]
    payloads = []
    for n in names:
        with open(os.path.join(msgdir, n), "rb") as fh:
            data = fh.read()
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        lines = data.split(b"\r\n")
        data = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
        payloads.append(data + b".\r\n")
    shares = [payloads[k::sessions] for k in range(sessions)]
    start = threading.Barrier(sessions + 1)
    results = [None] * sessions
    threads = [threading.Thread(target=session, args=(host, port, shares[k], rcpt, sender, start, results, k))
               for k in range(sessions)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join()
    t1 = max(r[2] for r in results)  # the last 250 of any session
    ok = sum(r[0] for r in results)
    failures = [x for r in results for x in r[1]]
    seconds = t1 - t0
    print(json.dumps({"sessions": sessions, "messages": len(payloads), "ok": ok, "failed": len(payloads) - ok,
                      "seconds": round(seconds, 3), "msgs_per_s": round(ok / seconds, 1),
                      "client_cpu_s": round(sum(getattr(resource.getrusage(resource.RUSAGE_SELF), f)
                                                for f in ("ru_utime", "ru_stime")), 1),
                      "failures": failures[:5]}))
    sys.exit(0 if ok == len(payloads) else 1)


if __name__ == "__main__":
    main()
