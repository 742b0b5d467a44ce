"""The web report form with curl: the page and its headers, CSRF refusals
(missing, forged, expired), the honeypot, the rate limit, the upload limit,
malformed multipart, field errors that keep what was typed, a good report
that becomes a case (source web, its attachment, a receipt that echoes
nothing), 503 with nothing stored when the commit fails, the acknowledgement
encrypted to a pasted key, and security.txt and WKD."""

import email
import email.policy
import hmac
import hashlib
import os
import re
import sqlite3
import subprocess
import tempfile
import time

from harness import run_tests, wait_for
from pgp import Keyring, gpg
from webform import FIELDS, WebWorld, check_security_headers, good_fields, receipt_of

SECRET_WORDS = ("Rita Reporter", "Heap overflow in the widget parser", "zebra42", "poc.py", "widget")


def test_form_page_fields_and_headers_on_every_response():
    w = WebWorld(max_upload=262144)
    try:
        w.start()
        r = w.curl("/")
        assert r.status == 200 and r.header("content-type").startswith("text/html"), r.status
        page = r.text
        for name in FIELDS:
            assert f'name="{name}"' in page, name
        assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
        assert 'enctype="multipart/form-data"' in page and 'action="/report"' in page
        assert "256 KiB" in page  # the size limit is stated
        assert "<fieldset>" in page and '<label for="title">' in page and '<label for="description">' in page
        hp = re.search(r'<div class="hp" aria-hidden="true">.*?</div>', page, re.S).group(0)
        assert 'tabindex="-1"' in hp and 'autocomplete="off"' in hp and 'name="website"' in hp
        cookie = r.header("set-cookie")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
        check_security_headers(r)
        for path, status in (("/form.css", 200), ("/nothing-here", 404), ("/.well-known/openpgpkey/policy", 200),
                             ("/.well-known/openpgpkey/hu/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 404)):
            r = w.curl(path)
            assert r.status == status, (path, r.status)
            check_security_headers(r)
        r = w.curl("/report", "-X", "POST", "--data", "x=1")
        assert r.status == 400, r.status
        check_security_headers(r)
    finally:
        w.close()


def test_good_report_becomes_a_case_with_its_attachment():
    w = WebWorld()
    try:
        w.start()
        poc = os.path.join(w.tmp, "poc.py")
        with open(poc, "wb") as f:
            f.write(b"print('A' * 70000)\n")
        r = w.post(good_fields(credit="yes"), files=[(poc, "poc.py")])
        assert r.status == 200, (r.status, r.text)
        check_security_headers(r)
        case_id, receipt = receipt_of(r)
        assert re.fullmatch(r"[2-9A-Z]{5}(-[2-9A-Z]{5}){3}", receipt), receipt
        for word in SECRET_WORDS:  # the receipt echoes nothing the reporter typed
            assert word not in r.text, word
        assert "security@example.com" in r.text and f"[CASE#{case_id}]" in r.text
        cases = w.cases()
        assert [c["id"] for c in cases] == [case_id]
        assert cases[0]["participants"] == []  # the anonymous placeholder is nobody
        s = w.show(case_id)
        assert s["subject"] == "Heap overflow in the widget parser"
        m = s["messages"][0]
        assert m["source"] == "web" and m["direction"] == "in", m
        assert m["from"] == "noreply@web-form.invalid"  # anonymous: nothing answers it
        assert "zebra42" in m["body"] and receipt in m["body"] and "Credit:" in m["body"]
        att = [(a["filename"], a["size"]) for a in m["attachments"]]
        assert att == [("poc.py", 19)], att
        saved = w.env.casectl("save", m["attachments"][0]["handle"], "-o", "-", check=False)
        if saved.returncode == 0:
            assert saved.stdout == b"print('A' * 70000)\n"
        # Searchable like mail.
        wait_for(lambda: [c["id"] for c in w.env.json("search", "zebra42")] == [case_id], 20, "the search index")
        # A tag typed into the title names no case: a new one opens.
        r = w.post(good_fields(title=f"[CASE#{case_id}] more"))
        assert r.status == 200 and receipt_of(r)[0] == case_id + 1
        w.env.stop()
        log = w.env.log()
        for word in SECRET_WORDS + (receipt,):
            assert word not in log, word
        assert f"case={case_id}" in log
    finally:
        w.close()


def test_csrf_refused_missing_forged_expired_and_nothing_stored():
    w = WebWorld()
    try:
        w.start()
        token = w.form_token()
        assert w.post(good_fields(), token=False).status == 403  # no token
        assert w.post(good_fields(), token="1." + "0" * 64).status == 403  # forged
        t, mac = token.split(".")
        assert w.post(good_fields(), token=f"{int(t) - 1}.{mac}").status == 403  # not the time it was made for
        # The right token without the cookie it belongs to (another site's post).
        r = w.curl("/report", "--form-string", f"csrf={token}", "--form-string", "title=x", "--form-string",
                   "description=y", jar=False)
        assert r.status == 403, r.status
        check_security_headers(r)
        # Expired: a genuine MAC over a time four hours ago.
        with open(w.env.db + ".web-secret", "rb") as f:
            secret = f.read()
        with open(w.jar) as f:
            nonce = re.search(r"cased_csrf\t(\w+)", f.read()).group(1)
        old = int(time.time()) - 4 * 3600
        mac = hmac.new(secret, f"{nonce}.{old}".encode(), hashlib.sha256).hexdigest()
        assert w.post(good_fields(), token=f"{old}.{mac}").status == 403
        # The same computation for now is accepted: the expiry is what refused it.
        now = int(time.time())
        mac = hmac.new(secret, f"{nonce}.{now}".encode(), hashlib.sha256).hexdigest()
        r = w.post(good_fields(), token=f"{now}.{mac}")
        assert r.status == 200, r.status
        assert len(w.cases()) == 1
    finally:
        w.close()


def test_honeypot_refused_like_a_stale_form_and_nothing_stored():
    w = WebWorld()
    try:
        w.start()
        r = w.post(good_fields(website="http://spam.example"))
        assert r.status == 403, r.status
        assert "zebra42" not in r.text
        assert w.cases() == []
        assert w.post(good_fields(website="")).status == 200
    finally:
        w.close()


def test_rate_limit_429_after_rate_per_hour_accepted():
    w = WebWorld(rate_per_hour=3)
    try:
        w.start()
        # Refused forms do not count.
        assert w.post(good_fields(title="")).status == 400
        for i in range(3):
            assert w.post(good_fields(title=f"report {i}")).status == 200
        r = w.post(good_fields(title="one too many"))
        assert r.status == 429 and r.header("retry-after") == "3600", r.status
        check_security_headers(r)
        assert len(w.cases()) == 3
        # Another client (the proxy's X-Forwarded-For from loopback) has its own count.
        r = w.post(good_fields(title="from elsewhere"), extra=("-H", "X-Forwarded-For: 192.0.2.7"))
        assert r.status == 200, r.status
    finally:
        w.close()


def test_refused_forms_are_bounded_too():
    """A refused form gives its report slot back, but each submission costs
    a parse (and a pasted key a key parse): a client sending refused forms
    is stopped after 5 x rate_per_hour + 20 of them, others are not."""
    w = WebWorld(rate_per_hour=1)
    try:
        w.start()
        bad = good_fields(title="", key="-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n")
        statuses = [w.post(bad).status for _ in range(26)]
        assert statuses == [400] * 25 + [429], statuses
        assert w.post(good_fields(title="now a good one")).status == 429
        assert w.cases() == []
        r = w.post(good_fields(title="from elsewhere"), extra=("-H", "X-Forwarded-For: 192.0.2.8"))
        assert r.status == 200, r.status
    finally:
        w.close()


def test_oversize_413_and_malformed_multipart_400():
    w = WebWorld(max_upload=65536)
    try:
        w.start()
        big = os.path.join(w.tmp, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(100000))
        r = w.post(good_fields(), files=[(big, "big.bin")])
        assert r.status == 413, r.status
        check_security_headers(r)
        token = w.form_token()
        for body in (b"--xyz\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nno end",
                     b"garbage without any boundary", b"--xyz\r\nno headers end\r\n--xyz--\r\n"):
            r = w.curl("/report", "-H", "Content-Type: multipart/form-data; boundary=xyz", "--data-binary", body)
            assert r.status == 400, (body, r.status)
            check_security_headers(r)
        r = w.curl("/report", "--data", f"csrf={token}&title=t&description=d")  # urlencoded
        assert r.status == 400, r.status
        assert w.cases() == []
    finally:
        w.close()


def test_field_errors_next_to_fields_keep_typed_values():
    w = WebWorld()
    try:
        w.start()
        r = w.post(good_fields(title="", email="not an address", key="not a key <b>",
                               description="My <em>typed</em> text zebra42"))
        assert r.status == 400, r.status
        page = r.text
        assert 'id="title-error"' in page and 'id="email-error"' in page and 'id="key-error"' in page
        assert 'aria-invalid="true"' in page
        assert "My &lt;em&gt;typed&lt;/em&gt; text zebra42</textarea>" in page
        assert 'value="not an address"' in page and 'value="widget"' in page
        assert "not a key &lt;b&gt;</textarea>" in page and "<b>" not in page
        assert w.cases() == []
        check_security_headers(r)
    finally:
        w.close()


def test_commit_failure_503_and_nothing_stored():
    w = WebWorld()
    try:
        text = open(w.env.config).read()
        with open(w.env.config, "w") as f:
            f.write(text.replace('tag = "CASE"\n', 'tag = "CASE"\nbusy_timeout = 1\n', 1))
        w.start()
        assert w.post(good_fields(title="first")).status == 200
        token = w.form_token()
        analyst = sqlite3.connect(w.env.db, isolation_level=None, timeout=30)
        analyst.execute("BEGIN EXCLUSIVE")
        try:
            r = w.post(good_fields(title="while locked"), token=token)
        finally:
            analyst.execute("ROLLBACK")
            analyst.close()
        assert r.status == 503, r.status
        check_security_headers(r)
        assert "CASE#" not in r.text
        assert [c["subject"] for c in w.cases()] == ["first"]
        assert w.post(good_fields(title="after"), token=token).status == 200
        assert len(w.cases()) == 2
    finally:
        w.close()


def test_security_txt_signed_and_wkd_serves_the_alias_key():
    w = WebWorld()
    try:
        w.start()
        r = w.curl("/.well-known/security.txt")
        assert r.status == 200, (r.status, w.env.log())
        check_security_headers(r)
        assert r.body.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----"), r.text[:200]
        assert b"Contact: mailto:security@example.com\nContact: " + w.url.encode() + b"/\n" in r.body
        v = gpg(w.alias.home, "--status-fd", "1", "--verify", input=r.body, check=False)
        assert b"GOODSIG" in v.stdout, v.stdout
        out = gpg(w.alias.home, "--with-wkd-hash", "-k", "security@example.com").stdout.decode()
        wkd = re.search(r"^\s+([a-z0-9]{32})@example\.com$", out, re.M).group(1)
        r = w.curl(f"/.well-known/openpgpkey/hu/{wkd}?l=security")
        assert r.status == 200 and r.header("content-type") == "application/octet-stream", r.status
        check_security_headers(r)
        assert r.body[:1] != b"-"  # binary, not armored
        shown = gpg(w.alias.home, "--with-colons", "--show-keys", input=r.body).stdout.decode()
        assert f"fpr:::::::::{w.alias.fpr}:" in shown, shown
    finally:
        w.close()


def test_https_when_tls_cert_and_key_are_set():
    from certs import CA

    scratch = tempfile.mkdtemp(prefix="cased-web-ca-")
    ca = CA(os.path.join(scratch, "ca"))
    cert, key = ca.server("web")
    w = WebWorld(tls=(cert, key, ca.cert))
    try:
        w.start()
        r = w.curl("/")
        assert r.status == 200, r.status
        check_security_headers(r)
        assert "Secure" in r.header("set-cookie"), r.header("set-cookie")
        r = w.post(good_fields())
        assert r.status == 200, r.status
        case_id, _ = receipt_of(r)
        assert w.show(case_id)["messages"][0]["source"] == "web"
        # Plain HTTP on the HTTPS port is not served.
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{w.web_port}/"], capture_output=True, timeout=30)
        assert p.stdout.strip() in (b"000", b"400"), p.stdout
    finally:
        w.close()
        subprocess.run(["rm", "-rf", scratch])


def test_one_address_gets_at_most_per_sender_per_day_acknowledgements():
    w = WebWorld(extra_config="[ack]\nper_sender_per_day = 2\n")
    try:
        w.start()
        for i in range(4):
            r = w.post(good_fields(email="victim@example.org", title=f"report {i}"))
            assert r.status == 200, r.status
        acks = [o for o in w.env.json("outbox") if o["kind"] == "ack"]
        assert len(acks) == 2 and all(o["to"] == ["victim@example.org"] for o in acks), acks
        # An anonymous report is acknowledged to nobody.
        assert w.post(good_fields(title="anonymous")).status == 200
        assert len([o for o in w.env.json("outbox") if o["kind"] == "ack"]) == 2
    finally:
        w.close()


def test_ack_encrypted_to_the_pasted_key_which_is_pinned_for_that_case_only():
    from certs import CA
    from test_outbound import SmtpServer

    tmp = tempfile.mkdtemp(prefix="cased-web-ca-")  # a scratch directory for the CA
    ca = CA(os.path.join(tmp, "ca"))
    smtp = SmtpServer(tmp, "--starttls", ca.server("smtp"))
    w = WebWorld(extra_config=(f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "starttls"\n'
                               f'ca_file = "{ca.cert}"\n'))
    rita = Keyring("Rita Reporter <rita@example.org>")
    try:
        rita.import_key(w.alias.public())  # to check the acknowledgement's signature
        smtp.start()
        w.start()
        r = w.post(good_fields(email="Rita@Example.org", key=rita.public().decode()))
        assert r.status == 200, (r.status, r.text)
        case_id, _ = receipt_of(r)
        wait_for(lambda: len(smtp.messages()) >= 1, 60, "the acknowledgement")
        raw, env = smtp.messages()[0]
        assert env["to"] == ["rita@example.org"], env
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert msg.get_content_type() == "multipart/encrypted", msg.get_content_type()
        assert f"[CASE#{case_id}]" in msg["Subject"] and "zebra42" not in raw.decode(errors="replace")
        cipher = msg.get_payload()[1].get_payload(decode=True)
        plain = gpg(rita.home, "--decrypt", input=cipher).stdout
        assert f"[CASE#{case_id}]".encode() in plain and b"zebra42" not in plain
        # The key is recorded for the address, not pinned to it.
        keys = [k for k in w.env.json("keys") if k["fingerprint"] == rita.fpr]
        assert keys and all(not k["pinned"] for k in keys), keys
        events = " ".join(e.get("detail", "") for e in w.show(case_id)["events"])
        assert "pasted into the web form" in events, events

        # An analyst pins Rita's key; then someone types her address with a
        # key of their own. It never replaces her pin: the acknowledgement
        # is encrypted to her pinned key, and theirs stays unpinned.
        w.env.casectl("keys", "pin", "rita@example.org", rita.fpr)
        mallory = Keyring("Rita Reporter <rita@example.org>")
        try:
            r = w.post(good_fields(email="rita@example.org", key=mallory.public().decode(), title="second"))
            assert r.status == 200, (r.status, r.text)
            second, _ = receipt_of(r)
            wait_for(lambda: len(smtp.messages()) >= 2, 60, "the second acknowledgement")
            raw, env = smtp.messages()[1]
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            assert msg.get_content_type() == "multipart/encrypted" and f"[CASE#{second}]" in msg["Subject"]
            cipher = msg.get_payload()[1].get_payload(decode=True)
            assert f"[CASE#{second}]".encode() in gpg(rita.home, "--decrypt", input=cipher).stdout
            assert gpg(mallory.home, "--decrypt", input=cipher, check=False).returncode != 0
            pins = {k["fingerprint"]: k["pinned"] for k in w.env.json("keys") if k["address"] == "rita@example.org"}
            assert pins.get(rita.fpr) is True and pins.get(mallory.fpr) is False, pins
        finally:
            mallory.close()
    finally:
        w.close()
        rita.close()
        smtp.cleanup()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    run_tests(globals())
