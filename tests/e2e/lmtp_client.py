"""A raw LMTP client for the tests: speaks over a real socket and reads
replies with a watchdog, so a hang is a failure, not a stuck test."""

import socket
import time


class Lmtp:
    def __init__(self, port=None, path=None, timeout=30):
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by server; got so far: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if len(l) < 4 or l[3] != "-":
                return int(l[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True if the server closed the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()


def message(msgid, subject="LMTP report", body="body text\r\n", frm="rita@example.org", extra=""):
    return (f"From: {frm}\r\nTo: security@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{msgid}>\r\nDate: Sun, 22 Nov 2026 21:56:20 +0000\r\n{extra}\r\n{body}")


def deliver(port=None, path=None, msgid="m@example.org", rcpts=("security@example.com",), data=None, mail_from="rita@example.org"):
    """A whole transaction; returns the list of per-recipient reply codes after DATA."""
    c = Lmtp(port=port, path=path)
    try:
        code, _ = c.reply()
        assert code == 220
        assert c.cmd("LHLO test.example")[0] == 250
        assert c.cmd(f"MAIL FROM:<{mail_from}>")[0] == 250
        accepted = 0
        for r in rcpts:
            if c.cmd(f"RCPT TO:<{r}>")[0] == 250:
                accepted += 1
        code, _ = c.cmd("DATA")
        if code != 354:
            return [code]
        payload = data if data is not None else message(msgid)
        if isinstance(payload, str):
            payload = payload.encode()
        lines = payload.split(b"\r\n")
        stuffed = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        c.send(stuffed + b".\r\n")
        codes = [c.reply()[0] for _ in range(accepted)]
        c.cmd("QUIT")
        return codes
    finally:
        c.close()
