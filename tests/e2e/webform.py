"""Helpers for the web form tests: a cased with [web] and the alias's key,
and curl as the HTTP client (a real one, with a cookie jar)."""

import json
import os
import re
import socket
import subprocess
import tempfile

from harness import Env, free_port, wait_for
from pgp import Keyring

ALIAS = "security@example.com"
FIELDS = ("name", "email", "key", "product", "version", "title", "description", "attachment", "credit", "csrf",
          "website")
SECURITY_HEADERS = {
    "content-security-policy": None,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        values = self.headers.get(name.lower(), [])
        return values[-1] if values else None

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")


def check_security_headers(r):
    for name, want in SECURITY_HEADERS.items():
        got = r.headers.get(name)
        assert got and len(got) == 1, f"{name}: {got} (status {r.status})"
        if want:
            assert got[0] == want, f"{name}: {got[0]}"
    csp = r.header("content-security-policy")
    for part in ("default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'",
                 "base-uri 'none'"):
        assert part in csp, csp
    assert "script-src" not in csp and "unsafe" not in csp, csp


class WebWorld:
    """An Env with [gpg] (the alias's key) and [web] on a free port."""

    def __init__(self, rate_per_hour=100, max_upload=262144, extra_config="", alias_key=True, tls=None):
        """`tls`: (cert, key, ca) for HTTPS, or None for plain HTTP."""
        self.alias = Keyring(ALIAS) if alias_key else None
        self.web_port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.web_port}"
        self.ca = tls[2] if tls else None
        gpg = f'[gpg]\nhome = "{self.alias.home}"\n\n' if self.alias else ""
        tls_keys = f'tls_cert = "{tls[0]}"\ntls_key = "{tls[1]}"\n' if tls else ""
        self.env = Env(extra_config=(
            f"{gpg}[web]\nlisten = [\"127.0.0.1:{self.web_port}\"]\npublic_url = \"{self.url}\"\n{tls_keys}"
            f"max_upload = {max_upload}\nrate_per_hour = {rate_per_hour}\n\n{extra_config}"))
        self.tmp = tempfile.mkdtemp(prefix="cased-web-")
        self.jar = os.path.join(self.tmp, "cookies")

    def start(self):
        self.env.start()  # waits for the LMTP port; the web listener opens just after it

        def web_up():
            try:
                socket.create_connection(("127.0.0.1", self.web_port), timeout=0.5).close()
                return True
            except OSError:
                assert self.env.daemon.poll() is None, self.env.log()
                return False
        wait_for(web_up, 30, "the web listener")

    def curl(self, path, *args, jar=True):
        head = os.path.join(self.tmp, "head")
        body = os.path.join(self.tmp, "body")
        cmd = ["curl", "-sS", "--max-time", "60", "-D", head, "-o", body, "-w", "%{http_code}"]
        if jar:
            cmd += ["-b", self.jar, "-c", self.jar]
        if self.ca:
            cmd += ["--cacert", self.ca]
        p = subprocess.run(cmd + list(args) + [self.url + path], capture_output=True, timeout=90)
        # A refusal before the whole body was sent (413) may end curl's
        # upload with an error after the answer arrived: the answer counts.
        assert p.returncode == 0 or p.stdout.strip() not in (b"", b"000"), p.stderr.decode(errors="replace")
        headers = {}
        with open(head, "rb") as f:
            for line in f.read().decode("latin-1").split("\r\n")[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers.setdefault(k.strip().lower(), []).append(v.strip())
        with open(body, "rb") as f:
            data = f.read()
        return Response(int(p.stdout), headers, data)

    def form_token(self):
        r = self.curl("/")
        assert r.status == 200, r.status
        m = re.search(r'name="csrf" value="([^"]+)"', r.text)
        assert m, r.text
        return m.group(1)

    def post(self, fields, files=(), token=None, extra=()):
        """POSTs multipart/form-data; `files` are (path, filename) pairs."""
        if token is None:
            token = self.form_token()
        args = ["--form-string", f"csrf={token}"] if token is not False else []
        for k, v in fields.items():
            args += ["--form-string", f"{k}={v}"]
        for path, name in files:
            args += ["-F", f"attachment=@{path};filename={name}"]
        return self.curl("/report", *args, *extra)

    def cases(self):
        return self.env.json("list")

    def show(self, case_id):
        return self.env.json("show", str(case_id))

    def close(self):
        self.env.cleanup()
        if self.alias:
            self.alias.close()
        subprocess.run(["rm", "-rf", self.tmp])


def receipt_of(r):
    tag = re.search(r'class="tag">\[CASE#(\d+)\]<', r.text)
    code = re.search(r'class="receipt"><code>([A-Z0-9-]+)</code>', r.text)
    assert tag and code, r.text
    return int(tag.group(1)), code.group(1)


def good_fields(**over):
    f = {"name": "Rita Reporter", "email": "", "product": "widget", "version": "2.1",
         "title": "Heap overflow in the widget parser", "description": "Send 70000 bytes; zebra42 overflows.\n"}
    f.update(over)
    return f


def dump(obj):
    return json.dumps(obj, indent=1)[:3000]
