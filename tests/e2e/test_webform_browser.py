"""The web form as a person uses it: headless Chromium (driven by
chromedriver's W3C WebDriver API over plain HTTP, from urllib) opens the
form, types a report, pastes a public key, chooses a file, ticks the credit
box and presses Send. The report becomes a case with its attachment, the
receipt names it, and the acknowledgement reaches the SMTP sink encrypted
to the pasted key. Screenshots of the form and the receipt are written to
$CASED_WEBFORM_SCREENSHOTS (docs/ holds the committed ones) or a temp dir."""

import base64
import email
import email.policy
import json
import os
import tempfile
import shutil
import subprocess
import sys
import urllib.request

from certs import CA
from harness import SKIP, free_port, run_tests, wait_for
from pgp import Keyring, gpg
from test_outbound import SmtpServer
from webform import WebWorld, check_security_headers, receipt_of

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element identifier


class Browser:
    """One headless Chromium session through chromedriver."""

    def __init__(self, tmp):
        self.port = free_port()
        self.log = open(os.path.join(tmp, "chromedriver.log"), "wb")
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdout=self.log, stderr=self.log)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(self._ready, 30, "chromedriver")
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=900,1500",
                     "--disable-dev-shm-usage", f"--user-data-dir={os.path.join(tmp, 'profile')}",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking"]}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def _ready(self):
        try:
            return self.call("GET", "/status", timeout=2)["ready"]
        except OSError:
            return False

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())["value"]

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def type(self, css, text):
        self.s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        assert png.startswith(b"\x89PNG"), png[:8]
        with open(path, "wb") as f:
            f.write(png)

    def source(self):
        return self.s("GET", "/source")

    def close(self):
        try:
            self.s("DELETE", "")
        except OSError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def test_chromium_fills_and_submits_the_form():
    tmp = tempfile.mkdtemp(prefix="cased-web-ca-")
    ca = CA(os.path.join(tmp, "ca"))
    smtp = SmtpServer(tmp, "--starttls", ca.server("smtp"))
    w = WebWorld(max_upload=10485760, extra_config=(
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "starttls"\nca_file = "{ca.cert}"\n'))
    rita = Keyring("Rita Reporter <rita@example.org>")
    shots = os.environ.get("CASED_WEBFORM_SCREENSHOTS") or tmp
    browser = None
    try:
        rita.import_key(w.alias.public())  # to check the acknowledgement's signature
        smtp.start()
        w.start()
        poc = os.path.join(w.tmp, "poc.html")
        with open(poc, "w") as f:
            f.write("<svg onload=alert(document.domain)>\n")
        browser = Browser(w.tmp)
        browser.go(w.url + "/")
        browser.type("#title", "Stored XSS in the widget's comment field")
        browser.type("#product", "widget")
        browser.type("#version", "2.1.0")
        browser.type("#description", "A comment containing an SVG onload handler runs script for every "
                     "visitor of the page.\n\n1. Post the attached comment.\n2. Open the page: zebra42.\n")
        browser.type("#name", "Rita Reporter")
        browser.type("#email", "rita@example.org")
        browser.type("#key", rita.public().decode())
        browser.s("POST", f"/element/{browser.find('#attachment')}/value", {"text": poc})
        browser.click("#credit")
        # Tall enough for the whole form, so the screenshot starts at its top.
        browser.s("POST", "/window/rect", {"width": 900, "height": 2150})
        browser.screenshot(os.path.join(shots, "webform-form.png"))
        browser.click("button[type=submit]")
        wait_for(lambda: "Thank you" in browser.source(), 30, "the receipt page")
        browser.s("POST", "/window/rect", {"width": 900, "height": 560})
        browser.screenshot(os.path.join(shots, "webform-receipt.png"))
        page = browser.source()
        case_id, receipt = receipt_of(type("R", (), {"text": page})())
        assert "zebra42" not in page and "Rita" not in page

        s = w.show(case_id)
        m = s["messages"][0]
        assert m["source"] == "web" and m["from"] == "rita@example.org", m
        assert [a["filename"] for a in m["attachments"]] == ["poc.html", "key.asc"], m["attachments"]
        assert receipt in m["body"] and "zebra42" in m["body"] and "Credit:  yes" in m["body"]

        wait_for(lambda: len(smtp.messages()) >= 1, 60, "the acknowledgement at the sink")
        raw, env = smtp.messages()[0]
        assert env["to"] == ["rita@example.org"], env
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert msg.get_content_type() == "multipart/encrypted"
        plain = gpg(rita.home, "--decrypt", input=msg.get_payload()[1].get_payload(decode=True)).stdout
        assert f"[CASE#{case_id}]".encode() in plain
        check_security_headers(w.curl("/"))
    finally:
        if browser:
            browser.close()
        w.close()
        rita.close()
        smtp.cleanup()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    if not os.path.exists(CHROMEDRIVER) or not os.path.exists(CHROMIUM):
        print("skip: needs chromium and chromium-driver")
        sys.exit(SKIP)
    run_tests(globals())
