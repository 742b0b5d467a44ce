"""A real SMTP server for the tests (Debian's python3-aiosmtpd), run as its
own process on 127.0.0.1. Each message lands in --spool as N.eml with N.json
(envelope). Prints "ready" once it listens.

  smtp_server.py --port P --spool DIR [--cert C --key K] [--starttls | --implicit-tls | --plain]
                 [--auth user:pass] [--reject-rcpt ADDR]..."""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Spool:
    def __init__(self, directory, reject):
        self.dir = directory
        self.reject = set(reject)
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.dir, f"{self.count}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "tls": session.ssl is not None}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK queued"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--spool", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--starttls", action="store_true")
    mode.add_argument("--implicit-tls", action="store_true")
    mode.add_argument("--plain", action="store_true")
    p.add_argument("--auth")
    p.add_argument("--reject-rcpt", action="append", default=[])
    a = p.parse_args()

    handler = Spool(a.spool, a.reject_rcpt)
    kwargs = {}
    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    if a.starttls:
        kwargs.update(tls_context=ctx, require_starttls=True)
    elif a.implicit_tls:
        kwargs.update(ssl_context=ctx)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok)

        # With implicit TLS aiosmtpd does not know the session is encrypted (it
        # tracks only STARTTLS), so it may not insist on TLS there.
        kwargs.update(authenticator=authenticator, auth_require_tls=not a.implicit_tls)
    controller = Controller(handler, hostname="127.0.0.1", port=a.port, **kwargs)
    if a.implicit_tls:
        # Controller's own readiness probe would speak plain text to a TLS port.
        controller.ready_timeout = 5
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
