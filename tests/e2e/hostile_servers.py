"""Small misbehaving servers for the tests, run on 127.0.0.1 in a thread of
the test process: an IMAP server that speaks just enough of RFC 3501 for
cased's poller (and can refuse, flood or stall), and an SMTP server that
floods its replies. Every command received is recorded."""

import asyncio
import re
import threading

from harness import free_port


class _Loop:
    """An asyncio loop in a daemon thread serving one handler on a port."""

    def __init__(self, handler):
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.handler = handler
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.server = None

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def start():
            self.server = await asyncio.start_server(self.handler, "127.0.0.1", self.port)
            self.ready.set()
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def start(self):
        self.thread.start()
        assert self.ready.wait(10), "hostile server did not start"

    def stop(self):
        def close():
            self.server.close()
            for t in asyncio.all_tasks(self.loop):
                t.cancel()
            self.loop.stop()
        self.loop.call_soon_threadsafe(close)
        self.thread.join(10)


async def _flood(writer, chunk, line_end=b""):
    """Writes `chunk` (+ line_end) until the client goes away."""
    try:
        while True:
            writer.write(chunk + line_end)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class ImapServer:
    """messages: list of (uid, bytes). Options:
    caps       capability list (default without MOVE/UIDPLUS/IDLE)
    body_no    UIDs whose BODY.PEEK[] fetch is answered NO (with no_text)
    list_no    answer NO to the FETCH lo:hi (UID FLAGS) listing
    greeting   "flood-line" (never ends), "flood-lines" (endless untagged lines) or None
    list_flood claim 4294967295 messages and answer the listing with FETCH lines without end
    script     bytes sent as the whole server side at once (a fuzz input); then
               the connection closes when `close` is true, else waits for the client
    """

    def __init__(self, messages, caps=("IMAP4rev1",), body_no=(), list_no=False, greeting=None,
                 no_text="Message unavailable", list_flood=False, script=None, close=False):
        self.list_flood = list_flood
        self.script = script
        self.close = close
        self.messages = [[uid, data, set()] for uid, data in messages]
        self.caps = " ".join(caps)
        self.body_no = set(body_no)
        self.list_no = list_no
        self.greeting = greeting
        self.no_text = no_text
        self.commands = []   # every command line received, decoded
        self.expunged = []   # UIDs removed by EXPUNGE / MOVE
        self.connections = 0
        self.srv = _Loop(self._client)
        self.port = self.srv.port

    def start(self):
        self.srv.start()

    def stop(self):
        self.srv.stop()

    def flags(self, uid):
        return next((m[2] for m in self.messages if m[0] == uid), None)

    def body_fetches(self, uid):
        return sum(1 for c in self.commands if re.search(rf"UID FETCH {uid} .*BODY", c, re.I))

    async def _client(self, reader, writer):
        self.connections += 1
        if self.script is not None:
            writer.write(self.script)
            await writer.drain()
            if not self.close:
                while await reader.read(4096):
                    pass
            writer.close()
            return
        if self.greeting == "flood-line":
            writer.write(b"* OK ")
            return await _flood(writer, b"A" * 65536)
        if self.greeting == "flood-lines":
            return await _flood(writer, b"* OK [ALERT] " + b"A" * 200, b"\r\n")
        writer.write(f"* OK [CAPABILITY {self.caps}] hostile test server ready\r\n".encode())
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                text = line.decode(errors="replace").rstrip("\r\n")
                self.commands.append(text)
                parts = text.split(" ", 2)
                if len(parts) < 2:
                    continue
                tag, verb, rest = parts[0], parts[1].upper(), parts[2] if len(parts) > 2 else ""
                if self.list_flood and verb == "FETCH":
                    n = 0
                    while True:
                        n += 1
                        writer.write(f"* {n} FETCH (UID {n} FLAGS ())\r\n".encode())
                        if n % 1000 == 0:
                            await writer.drain()
                out = self._command(tag, verb, rest)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _seq(self, uid):
        return next(i + 1 for i, m in enumerate(self.messages) if m[0] == uid)

    def _command(self, tag, verb, rest):
        ok = f"{tag} OK done\r\n".encode()
        if verb == "CAPABILITY":
            return f"* CAPABILITY {self.caps}\r\n".encode() + ok
        if verb in ("LOGIN", "CREATE", "NOOP"):
            return ok
        if verb == "LOGOUT":
            return b"* BYE bye\r\n" + ok
        if verb == "SELECT":
            nxt = max([m[0] for m in self.messages], default=0) + 1
            exists = 4294967295 if self.list_flood else len(self.messages)
            return (f"* {exists} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] v\r\n"
                    f"* OK [UIDNEXT {nxt}] n\r\n* FLAGS (\\Seen \\Deleted \\Flagged)\r\n"
                    f"* OK [PERMANENTFLAGS (\\Seen \\Deleted \\Flagged \\*)] p\r\n"
                    f"{tag} OK [READ-WRITE] selected\r\n").encode()
        if verb == "EXPUNGE":
            out = b""
            for m in list(self.messages):
                if "\\Deleted" in m[2]:
                    out += f"* {self._seq(m[0])} EXPUNGE\r\n".encode()
                    self.expunged.append(m[0])
                    self.messages.remove(m)
            return out + ok
        if verb == "UID":
            return self._uid(tag, rest)
        if verb == "FETCH":
            return self._listing(tag, rest)
        return f"{tag} BAD unknown\r\n".encode()

    def _listing(self, tag, rest):
        if self.list_no:
            return f"{tag} NO {self.no_text}\r\n".encode()
        which = rest.split(" ", 1)[0]
        lo, _, hi = which.partition(":")
        lo = int(lo)
        hi = len(self.messages) if hi in ("*", "") else int(hi)
        out = b""
        for i, (uid, data, flags) in enumerate(self.messages):
            if lo <= i + 1 <= hi:
                fl = " ".join(sorted(flags))
                out += f"* {i + 1} FETCH (UID {uid} FLAGS ({fl}))\r\n".encode()
        return out + f"{tag} OK done\r\n".encode()

    def _uid(self, tag, rest):
        sub, _, args = rest.partition(" ")
        sub = sub.upper()
        ok = f"{tag} OK done\r\n".encode()
        if sub == "FETCH":
            which, _, items = args.partition(" ")
            if which == "1:*":
                if self.list_no:
                    return f"{tag} NO {self.no_text}\r\n".encode()
                out = b""
                for i, (uid, data, flags) in enumerate(self.messages):
                    fl = " ".join(sorted(flags))
                    out += f"* {i + 1} FETCH (UID {uid} RFC822.SIZE {len(data)} FLAGS ({fl}))\r\n".encode()
                return out + ok
            uid = int(which)
            if "BODY" not in items.upper():
                m = next((m for m in self.messages if m[0] == uid), None)
                return (f"* {self._seq(uid)} FETCH (UID {uid} RFC822.SIZE {len(m[1])})\r\n".encode() if m else b"") + ok
            if uid in self.body_no:
                return f"{tag} NO {self.no_text}\r\n".encode()
            m = next((m for m in self.messages if m[0] == uid), None)
            if m is None:
                return ok
            return (f"* {self._seq(uid)} FETCH (UID {uid} BODY[] {{{len(m[1])}}}\r\n".encode() + m[1] + b")\r\n" + ok)
        if sub == "STORE":
            uid, _, what = args.partition(" ")
            m = next((m for m in self.messages if m[0] == int(uid)), None)
            if m is not None:
                names = re.search(r"\((.*)\)", what)
                m[2].update((names.group(1) if names else what.split(" ", 1)[-1]).split())
            return ok
        if sub in ("COPY",):
            return ok
        if sub in ("MOVE", "EXPUNGE"):
            uid = int(args.split(" ")[0])
            m = next((m for m in self.messages if m[0] == uid), None)
            if m is None:
                return ok
            seq = self._seq(uid)
            self.messages.remove(m)
            self.expunged.append(uid)
            return f"* {seq} EXPUNGE\r\n".encode() + ok
        return f"{tag} BAD unknown\r\n".encode()


class SmtpFlood:
    """Greets, then answers EHLO with an endless reply: "lines" sends
    250- lines without end, "line" one line that never ends. "escape"
    answers EHLO and then refuses MAIL with terminal escapes in its text."""

    def __init__(self, mode="lines"):
        self.mode = mode
        self.srv = _Loop(self._client)
        self.port = self.srv.port

    def start(self):
        self.srv.start()

    def stop(self):
        self.srv.stop()

    async def _client(self, reader, writer):
        writer.write(b"220 hostile.test ESMTP\r\n")
        try:
            await writer.drain()
            await reader.readline()
        except (ConnectionError, asyncio.CancelledError):
            return
        if self.mode == "escape":
            try:
                writer.write(b"250 hostile.test\r\n")
                await writer.drain()
                await reader.readline()
                writer.write(b"451 4.3.0 \x1b[31mtry later\x1b]0;owned\x07 \xc2\x9b2J\r\n")
                await writer.drain()
                await reader.readline()
            except (ConnectionError, asyncio.CancelledError):
                pass
            writer.close()
            return
        if self.mode == "lines":
            await _flood(writer, b"250-" + b"x" * 500, b"\r\n")
        else:
            writer.write(b"250-")
            await _flood(writer, b"x" * 65536)
