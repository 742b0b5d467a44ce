"""The vendor book fetching over HTTPS through the real casectl: a vendor's
security.txt and OpenPGP key served by a real HTTPS server on 127.0.0.1
(Python's http.server under TLS, in a thread) whose certificate comes from
a test CA made here with openssl and trusted through [vendors] ca_file.
Every way a fetch can go wrong is refused with a message that says what
failed, and changes neither the book nor the keyring."""

import json
import os
import socket
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from certs import CA
from certs import run as certs_run
from harness import Env, run_tests
from pgp import Keyring, gpg
from test_vendor_book import World as BookWorld
from test_vendor_book import pins, securitytxt

ALIAS = "Security Team <security@example.com>"
TIMEOUT = 2  # [vendors] fetch_timeout for these tests: the slow servers below


class Pki:
    """The test CA (certs.py) with a server certificate for IP:127.0.0.1 and
    DNS:localhost, one for another host only, and a self-signed one."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pki")
        ca = CA(self.dir)
        self.ca = ca.cert
        self.good = ca.server("good")
        self.other = ca.server("other", san="DNS:other.example")
        self.self_signed = (os.path.join(self.dir, "self.pem"), os.path.join(self.dir, "self.key"))
        certs_run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", self.self_signed[1], "-out", self.self_signed[0], "-days", "2", "-subj", "/CN=localhost",
                  "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")


class Site:
    """An HTTPS server on 127.0.0.1 in a thread; `routes` maps a path to a
    function writing the response. Unknown paths are 404."""

    def __init__(self, cert):
        self.routes = {}
        self.requests = []
        self.release = threading.Event()  # lets a handler that never answers go
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                site.requests.append((self.path, dict(self.headers)))
                route = site.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except OSError:
                    pass  # the client hung up (a body over its limit)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*cert)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path, host="127.0.0.1"):
        return f"https://{host}:{self.port}{path}"

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class Silent:
    """A TCP server on 127.0.0.1 that accepts and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)
        for c in self.conns:
            c.close()


def body(data, ctype="text/plain", length=True, headers=()):
    def route(r):
        r.send_response(200)
        r.send_header("Content-Type", ctype)
        for k, v in headers:
            r.send_header(k, v)
        if length:
            r.send_header("Content-Length", str(len(data)))
        else:
            r.send_header("Connection", "close")
        r.end_headers()
        r.wfile.write(data)
    return route


def stream(size, headers=(), chunked=False):
    """A body of `size` bytes of comment lines, with the given headers."""
    def route(r):
        r.send_response(200)
        for k, v in headers:
            r.send_header(k, v)
        if not chunked:
            r.send_header("Connection", "close")
        r.end_headers()
        line = b"#" * 1023 + b"\n"
        for _ in range(size // 1024):
            r.wfile.write(b"400\r\n" + line + b"\r\n" if chunked else line)
        if chunked:
            r.wfile.write(b"0\r\n\r\n")
    return route


def redirect(location, code=302):
    def route(r):
        r.send_response(code)
        r.send_header("Location", location)
        r.send_header("Content-Length", "0")
        r.end_headers()
    return route


def never_answers(site):
    def route(r):
        site.release.wait(60)
    return route


class World(BookWorld):
    """test_vendor_book's world with an HTTPS site and [vendors] settings."""

    def __init__(self):  # not super().__init__(): its config has no [vendors]
        self.tmp = tempfile.mkdtemp(prefix="cased-vfetch-")
        self.pki = Pki(self.tmp)
        self.alias = Keyring(ALIAS, parent=self.tmp)
        self.acme = Keyring("Acme PSIRT <psirt@acme.example>", parent=self.tmp)
        self.beta = Keyring("Beta Security <sec@beta.example>", parent=self.tmp)
        self.site = Site(self.pki.good)
        self.env = Env(extra_config=f'[gpg]\nhome = "{self.alias.home}"\n\n'
                                    f'[vendors]\nca_file = "{self.pki.ca}"\nfetch_timeout = {TIMEOUT}\n')
        self.env.casectl("init")

    def keyring(self):
        out = gpg(self.alias.home, "--with-colons", "--list-keys").stdout.decode()
        return sorted(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))

    def snapshot(self):
        return json.dumps(self.env.json("vendor", "list"), sort_keys=True), self.keyring()

    def close(self):
        self.site.close()
        super().close()


def test_a_signed_securitytxt_and_its_key_are_fetched_and_imported():
    w = World()
    try:
        s = w.site
        text = securitytxt(["mailto:PSIRT@acme.example", "https://acme.example/report"],
                           extra=f"Encryption: {s.url('/pgp/acme.asc')}\n")
        s.routes["/.well-known/security.txt"] = body(w.acme.clearsign(text.encode()),
                                                     headers=[("Set-Cookie", "session=abc; Path=/")])
        s.routes["/pgp/acme.asc"] = body(w.acme.public(), "application/pgp-keys")
        assert w.acme.fpr not in w.keyring()
        p = w.env.casectl("vendor", "add", "acme", "--securitytxt", s.url("/.well-known/security.txt"))
        err = p.stderr.decode()
        assert f"good signature by {w.acme.fpr}" in err and "fetching its Encryption key" in err, err
        shown = w.env.json("vendor", "show", "acme")
        assert shown["contacts"] == ["psirt@acme.example"] and shown["key"] == w.acme.fpr, shown
        assert shown["url"] == "https://acme.example/report", shown
        st = shown["securitytxt"]
        assert st["signed"] is True and st["signature"] == "good" and st["signer"] == w.acme.fpr, st
        assert w.acme.fpr in w.keyring()
        assert pins(w) == {"psirt@acme.example": w.acme.fpr}
        paths = [r[0] for r in s.requests]
        assert paths == ["/.well-known/security.txt", "/pgp/acme.asc"], paths
        agent = s.requests[0][1].get("User-Agent", "")
        assert agent.startswith("cased/"), s.requests[0][1]
        assert "Cookie" not in s.requests[1][1], s.requests[1][1]  # the cookie set by the first is not sent

        # import-securitytxt by URL, through a redirect on the same server:
        # a contact added, the signature good again.
        more = securitytxt(["mailto:psirt@acme.example", "mailto:cert@acme.example"])
        s.routes["/v2.txt"] = body(w.acme.clearsign(more.encode()))
        s.routes["/moved"] = redirect(s.url("/v2.txt", host="localhost"), 301)
        p = w.env.casectl("vendor", "import-securitytxt", "acme", s.url("/moved"))
        assert f"good signature by {w.acme.fpr}" in p.stderr.decode(), p.stderr
        assert w.env.json("vendor", "show", "acme")["contacts"] == ["psirt@acme.example", "cert@acme.example"]

        # --key by https URL: fetched, imported and pinned like a key file.
        s.routes["/beta.asc"] = body(w.beta.public())
        w.env.casectl("vendor", "add", "beta", "--contact", "sec@beta.example", "--key", s.url("/beta.asc"))
        assert w.env.json("vendor", "show", "beta")["key"] == w.beta.fpr
        assert pins(w)["sec@beta.example"] == w.beta.fpr and w.beta.fpr in w.keyring()

        # By URL as by file: an unknown signer is warned about; an expired file is
        # refused until the analyst takes it with --allow-expired.
        gamma = Keyring("Gamma <sec@gamma.example>", parent=w.tmp)
        old = securitytxt(["mailto:sec@gamma.example"], expires="2020-01-01T00:00:00Z")
        s.routes["/gamma.txt"] = body(gamma.clearsign(old.encode()))
        assert "--allow-expired" in w.fail(4, "vendor", "add", "gamma", "--securitytxt", s.url("/gamma.txt"))
        assert "gamma" not in [v["name"] for v in w.env.json("vendor", "list")]
        p = w.env.casectl("vendor", "add", "gamma", "--allow-expired", "--securitytxt", s.url("/gamma.txt"))
        err = p.stderr.decode()
        assert "NOT checked" in err and "expired on 2020-01-01" in err, err
        assert w.env.json("vendor", "show", "gamma")["securitytxt"]["signature"] == "unknown-key"
        assert gamma.fpr not in w.keyring()
        gamma.close()
    finally:
        w.close()


def test_every_failed_fetch_says_why_and_changes_nothing():
    w = World()
    others = []
    try:
        s = w.site
        w.env.casectl("vendor", "add", "acme", "--contact", "psirt@acme.example")
        good = securitytxt(["mailto:new@acme.example"])
        s.routes["/ok.txt"] = body(good.encode())
        s.routes["/no-length"] = stream(100 * 1024)
        s.routes["/lying-length"] = stream(100 * 1024, [("Content-Length", "1000"),
                                                         ("Transfer-Encoding", "chunked")], chunked=True)
        s.routes["/huge-length"] = stream(4 * 1024, [("Content-Length", str(50 << 20))])
        # Declares 1000 bytes and sends 100 KiB: only the 1000 declared are the body (here no Contact).
        s.routes["/short-length"] = stream(100 * 1024, [("Content-Length", "1000")])
        s.routes["/to-http"] = redirect(f"http://127.0.0.1:{s.port}/ok.txt")
        for i in range(5):
            s.routes[f"/hop{i}"] = redirect(f"/hop{i + 1}")
        s.routes["/hop5"] = body(good.encode())
        s.routes["/silent"] = never_answers(s)
        s.routes["/malformed.txt"] = body(b"Contact mailto:x@acme.example\n")
        s.routes["/secret.asc"] = body(gpg(w.beta.home, "--armor", "--export-secret-keys", w.beta.fpr).stdout)
        # Signed by Acme, whose key the security.txt points at, then changed:
        # the key is fetched to check the signature, and taken back.
        s.routes["/acme.asc"] = body(w.acme.public())
        signed = w.acme.clearsign(securitytxt(["mailto:psirt@acme.example"],
                                              extra=f"Encryption: {s.url('/acme.asc')}\n").encode())
        s.routes["/tampered.txt"] = body(signed.replace(b"mailto:psirt@", b"mailto:evil1@"))
        s.routes["/st-key-404.txt"] = body(securitytxt(["mailto:psirt@acme.example"],
                                                       extra=f"Encryption: {s.url('/gone.asc')}\n").encode())

        untrusted = Site(w.pki.self_signed)
        wrong_host = Site(w.pki.other)
        silent = Silent()
        others += [untrusted, wrong_host, silent]
        for o in (untrusted, wrong_host):
            o.routes["/ok.txt"] = body(good.encode())

        before = w.snapshot()
        cases = [
            (s.url("/ok.txt").replace("https:", "http:"), 2, "http:// is not encrypted"),
            ("ftp://127.0.0.1/security.txt", 2, "only https:// URLs"),
            (untrusted.url("/ok.txt"), 4, "certificate is not accepted (self-signed certificate)"),
            (wrong_host.url("/ok.txt", host="localhost"), 4, "hostname mismatch"),
            (wrong_host.url("/ok.txt"), 4, "IP address mismatch"),
            (s.url("/missing.txt"), 3, "HTTP status 404"),
            (s.url("/no-length"), 4, "too large: more than 65536 bytes"),
            (s.url("/lying-length"), 4, "too large: more than 65536 bytes"),
            (s.url("/huge-length"), 4, f"it declares {50 << 20} bytes"),
            (s.url("/short-length"), 2, "no usable Contact"),
            (s.url("/to-http"), 4, "only https:// is followed"),
            (s.url("/hop0"), 4, "more than 3 redirects"),
            (f"https://127.0.0.1:{silent.port}/security.txt", 75, "timeout: no TLS handshake"),
            (s.url("/silent"), 75, "timeout: no answer within"),
            ("https://no-such-host.invalid/security.txt", 75, "DNS: cannot resolve no-such-host.invalid"),
            (s.url("/malformed.txt"), 2, "malformed security.txt"),
            (s.url("/tampered.txt"), 4, "BAD signature"),
            (s.url("/st-key-404.txt"), 3, "/gone.asc: HTTP status 404"),
        ]
        for url, code, why in cases:
            start = time.monotonic()
            err = w.fail(code, "vendor", "import-securitytxt", "acme", url)
            took = time.monotonic() - start
            assert why in err and ("nothing changed" in err or "nothing imported" in err), (url, err)
            # The slowest allowed: the deadline of three timeouts, and a margin for a loaded machine.
            assert took < 3 * TIMEOUT + 20, (url, took)
            assert w.snapshot() == before, url
        assert w.acme.fpr not in w.keyring()  # fetched for the bad signature, then taken back

        # --key by URL: the same checks as a key file, and the same refusals.
        for url, code, why in ((s.url("/secret.asc"), 4, "secret key"),
                               (s.url("/ok.txt"), 2, "no OpenPGP key"),
                               (untrusted.url("/beta.asc"), 4, "certificate is not accepted")):
            err = w.fail(code, "vendor", "edit", "acme", "--key", url)
            assert why in err, (url, err)
            assert w.snapshot() == before, url
        # A bad --securitytxt refuses the change and leaves --key's key out of the keyring too.
        beta_key = os.path.join(w.tmp, "beta.asc")
        with open(beta_key, "wb") as f:
            f.write(w.beta.public())
        beta_signed = w.beta.clearsign(securitytxt(["mailto:sec@beta.example"]).encode())
        s.routes["/beta-tampered.txt"] = body(beta_signed.replace(b"mailto:sec@", b"mailto:evil@"))
        err = w.fail(4, "vendor", "add", "beta", "--key", beta_key, "--securitytxt", s.url("/beta-tampered.txt"))
        assert "BAD signature" in err, err
        assert w.snapshot() == before
    finally:
        for o in others:
            o.close()
        w.close()


if __name__ == "__main__":
    run_tests(globals())
