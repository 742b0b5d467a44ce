"""Advisories end to end: a report by LMTP, the case's disclosure fields,
an advisory drafted, exported (CSAF 2.0, CVE JSON 5.1, text) and published
into a CSAF provider directory: every JSON file validated against the
official schemas (tests/data/schemas) and the CSAF mandatory tests, every
signature verified with gpg against the published key, the checksums with
sha256sum/sha512sum, the embargo enforced, and the announcement received by
a STARTTLS SMTP server signed and not encrypted."""

import datetime
import email
import email.policy
import json
import os
import sqlite3
import subprocess
import tempfile

from csaf_checks import check_csaf, date_failures, schema_errors
from harness import CASECTL, Env, need_test_hooks, run_tests
from lmtp_client import deliver
from pgp import Keyring, gpg
from test_outbound import World, wait_for_mail

ADVISORY_CONFIG = (
    '[advisory]\npublisher = "Example Corp PSIRT"\nnamespace = "https://example.com"\n'
    'base_url = "https://example.com/.well-known/csaf"\nid_prefix = "EXAMPLE-SA"\nvendor = "Example Corp"\n'
    'cve_org_id = "b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5b"\n')
VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
LIST = "announce@lists.example.net"


def listing(d):
    out = []
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out.append((os.path.relpath(p, d), fh.read()))
    return sorted(out)


def verifier(key_file):
    """A keyring holding only the key the provider directory publishes."""
    home = tempfile.mkdtemp(prefix="cased-verify-")
    os.chmod(home, 0o700)
    with open(key_file, "rb") as f:
        gpg(home, "--import", input=f.read())
    return home


def verify(home, *args, input=None):
    p = gpg(home, "--status-fd", "1", "--verify", *args, input=input, check=False)
    status = p.stdout.decode()
    assert p.returncode == 0 and "[GNUPG:] GOODSIG" in status and "VALIDSIG" in status, (args, status, p.stderr)
    return status


def check_directory(d, fpr, path, version):
    """Every file of the provider directory, checked; returns the document."""
    year, name = path.split("/")
    with open(os.path.join(d, path), encoding="utf-8") as f:
        doc = json.load(f)
    assert check_csaf(doc) == [], check_csaf(doc)
    assert doc["document"]["tracking"]["status"] == "final"
    assert doc["document"]["tracking"]["version"] == str(version)
    assert [r["number"] for r in doc["document"]["tracking"]["revision_history"]] == \
        [str(n) for n in range(1, version + 1)]
    assert name == doc["document"]["tracking"]["id"].lower() + ".json"
    self_ref = [r["url"] for r in doc["document"]["references"] if r["category"] == "self"]
    assert self_ref == [f"https://example.com/.well-known/csaf/{path}"]
    for tool, ext in (("sha256sum", ".sha256"), ("sha512sum", ".sha512")):
        p = subprocess.run([tool, "-c", "--strict", name + ext], cwd=os.path.join(d, year), capture_output=True)
        assert p.returncode == 0 and p.stdout.decode().strip() == f"{name}: OK", (tool, p.stdout, p.stderr)
    with open(os.path.join(d, "provider-metadata.json"), encoding="utf-8") as f:
        meta = json.load(f)
    assert schema_errors("provider", meta) == [] and date_failures(meta) == []
    assert meta["public_openpgp_keys"] == [
        {"fingerprint": fpr, "url": f"https://example.com/.well-known/csaf/openpgp/{fpr}.asc"}]
    home = verifier(os.path.join(d, "openpgp", f"{fpr}.asc"))
    try:
        assert fpr in verify(home, os.path.join(d, path + ".asc"), os.path.join(d, path))
        text = os.path.join(d, year, f"{name[:-5]}-v{version}.txt")
        verify(home, text)
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
        subprocess.run(["rm", "-rf", home])
    with open(os.path.join(d, "index.txt")) as f:
        assert f.read().splitlines() == [path]
    with open(os.path.join(d, "changes.csv")) as f:
        rows = f.read().splitlines()
    assert len(rows) == 1 and rows[0].startswith(f'"{path}","') and rows[0].endswith('Z"'), rows
    assert rows[0].split(",")[1].strip('"') == doc["document"]["tracking"]["current_release_date"]
    return doc


def check_archive(d, fpr, path, version, doc):
    """The version replaced, kept in archive/YEAR/ as it was published: the
    same document, its signature still good, checksums naming it."""
    year, name = path.split("/")
    kept = f"{name[:-5]}-v{version}.json"
    folder = os.path.join(d, "archive", year)
    with open(os.path.join(folder, kept), encoding="utf-8") as f:
        assert json.load(f) == doc
    for tool, ext in (("sha256sum", ".sha256"), ("sha512sum", ".sha512")):
        p = subprocess.run([tool, "-c", "--strict", kept + ext], cwd=folder, capture_output=True)
        assert p.returncode == 0 and p.stdout.decode().strip() == f"{kept}: OK", (tool, p.stdout, p.stderr)
    home = verifier(os.path.join(d, "openpgp", f"{fpr}.asc"))
    try:
        verify(home, os.path.join(folder, kept + ".asc"), os.path.join(folder, kept))
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
        subprocess.run(["rm", "-rf", home])
    # Nothing in the archive is listed for aggregators.
    with open(os.path.join(d, "index.txt")) as f:
        assert not any(line.startswith("archive/") for line in f.read().splitlines())


def add_vendor_status(env, rows):
    """Each vendor in the book, reached by phone (which attaches it to the
    case), and its state set as an analyst does."""
    for vendor, cve, state, statement in rows:
        if vendor not in [v["name"] for v in env.json("vendor", "list")]:
            env.casectl("vendor", "add", vendor, "--contact", f"psirt@{vendor}.example", "--phone", "+1 555 0100")
            env.casectl("outreach", "1", vendor, "--via", "phone", "-m", "Called the PSIRT line.")
        args = (["--cve", cve] if cve else []) + (["--statement", statement] if statement else [])
        env.casectl("vendor-status", "1", vendor, state, *args)


def announced(w):
    for raw, env in w.smtp.messages():
        if env["to"] == [LIST]:
            return raw, env
    return None


def test_report_to_published_advisory():
    w = World(extra_config=ADVISORY_CONFIG)
    out = tempfile.mkdtemp(prefix="cased-csaf-")
    try:
        w.smtp.start()
        w.env.start()
        assert deliver(port=w.env.port, msgid="r1@example.org", data=w.report()) == [250]
        wait_for_mail(w.smtp, 1)  # the acknowledgement
        tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%d")
        w.env.casectl("set", "1", "--cve", "CVE-2026-1234", "--product", "Widget Server", "--versions", "1.0 - 1.4",
                      "--cvss", VECTOR, "--embargo", tomorrow)
        add_vendor_status(w.env, [("acme", "", "not-affected", "Acme does not ship the parser."),
                                  ("beta", "CVE-2026-1234", "affected", None)])
        w.env.casectl("advisory", "1", "init")
        draft = w.env.json("advisory", "1", "show")
        tracking = draft["tracking_id"]
        assert tracking.startswith("EXAMPLE-SA-") and tracking.endswith("-0001")
        assert draft["status"] == "draft" and draft["version"] == 0 and draft["title"] == ""
        # Nothing of the report reaches the draft by itself.
        for word in ("Heap", "overflow", "zebra42", "rita"):
            assert word not in json.dumps(draft), word
        for field, value in (("title", "Buffer overflow in the Widget Server parser"),
                             ("summary", "A crafted widget crashes the server or runs code."),
                             ("details", "The parser copies a length-prefixed field without checking it."),
                             ("fixed", "1.5"), ("reference", "https://example.com/widget/1.5/notes")):
            w.env.casectl("advisory", "1", "set", field, value)
        csaf = json.loads(w.env.casectl("advisory", "1", "export", "--format", "csaf").stdout)
        assert check_csaf(csaf) == [], check_csaf(csaf)
        assert csaf["document"]["tracking"]["status"] == "draft"
        assert "acknowledgments" not in csaf["document"]  # nobody credited until the analyst says so
        vuln = csaf["vulnerabilities"][0]
        assert vuln["scores"][0]["cvss_v3"]["baseScore"] == 9.8
        assert set(vuln["product_status"]) == {"known_affected", "fixed", "known_not_affected"}
        for word in ("zebra42", "rita@example.org", "Heap overflow in widget"):
            assert word not in json.dumps(csaf), word
        w.env.casectl("advisory", "1", "set", "credit", "Rita Reporter")
        cve = json.loads(w.env.casectl("advisory", "1", "export", "--format", "cve").stdout)
        assert schema_errors("cve", cve) == [], schema_errors("cve", cve)
        assert cve["containers"]["cna"]["credits"][0]["value"] == "Rita Reporter"
        text = w.env.casectl("advisory", "1", "export", "--format", "text").stdout.decode()
        assert "Buffer overflow in the Widget Server parser" in text and "9.8 CRITICAL" in text

        # The embargo holds: exit 1 naming the date in UTC, nothing written.
        p = w.env.casectl("advisory", "1", "publish", "--dir", out, check=False)
        assert p.returncode == 1 and f"until {tomorrow} 00:00 UTC" in p.stderr.decode(), p.stderr
        assert listing(out) == []
        p = w.env.casectl("advisory", "1", "publish", "--dir", out, "--force", check=False)
        assert p.returncode == 2 and b"--reason" in p.stderr and listing(out) == []
        p = w.env.casectl("advisory", "1", "publish", "--dir", out, "--force", "--reason",
                          "the vendor released the fix early", "--announce", LIST)
        events = w.env.json("show", "1")["events"]
        assert any(e["kind"] == "advisory-forced" and "released the fix early" in e["detail"] for e in events)
        published = w.env.json("advisory", "1", "show")
        assert published["status"] == "published" and published["version"] == 1
        path = f"{published['initial_release'][:4]}/{tracking.lower()}.json"
        doc1 = check_directory(out, w.alias.fpr, path, 1)
        assert doc1["document"]["acknowledgments"] == [{"names": ["Rita Reporter"]}]
        with open(os.path.join(out, path + ".asc"), "rb") as f:
            sig1 = f.read()

        # The announcement: at the STARTTLS sink, signed, not encrypted,
        # carrying the clear-signed advisory.
        wait_for_mail(w.smtp, 2)
        raw, env = announced(w)
        assert env["tls"] is True
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        assert msg.get_content_type() == "multipart/signed", msg.get_content_type()
        assert b"BEGIN PGP MESSAGE" not in raw
        body = msg.get_payload()[0].get_payload(decode=True)
        assert b"-----BEGIN PGP SIGNED MESSAGE-----" in body and tracking.encode() in body
        assert b"zebra42" not in raw and b"rita@example.org" not in raw
        # Its Message-ID names no case (the list is public).
        assert msg["Message-ID"].startswith("<cased.") and ".1." not in msg["Message-ID"], msg["Message-ID"]
        rows = [o for o in w.env.json("outbox") if o["kind"] == "announce"]
        assert [(o["status"], o["to"]) for o in rows] == [("sent", [LIST])], rows
        home = verifier(os.path.join(out, "openpgp", f"{w.alias.fpr}.asc"))
        try:
            verify(home, input=body)
        finally:
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
            subprocess.run(["rm", "-rf", home])

        # Republishing bumps the version, renews every signature, keeps the
        # old text and keeps index.txt and changes.csv to one row.
        w.env.casectl("set", "1", "--embargo", "none")
        w.env.casectl("advisory", "1", "set", "summary", "Updated: the workaround is no longer needed.")
        w.env.casectl("advisory", "1", "publish", "--dir", out)
        doc2 = check_directory(out, w.alias.fpr, path, 2)
        assert doc2["document"]["tracking"]["initial_release_date"] == doc1["document"]["tracking"]["initial_release_date"]
        with open(os.path.join(out, path + ".asc"), "rb") as f:
            assert f.read() != sig1
        assert os.path.exists(os.path.join(out, path[:-5] + "-v1.txt"))
        assert w.env.json("advisory", "1", "show")["version"] == 2
        check_archive(out, w.alias.fpr, path, 1, doc1)
    finally:
        subprocess.run(["rm", "-rf", out])
        w.close()


def test_bad_input_is_refused_and_nothing_published():
    alias = Keyring("security@example.com")
    env = Env(extra_config=f'[gpg]\nhome = "{alias.home}"\n\n' + ADVISORY_CONFIG)
    out = tempfile.mkdtemp(prefix="cased-csaf-")
    try:
        env.casectl("init")
        env.casectl("ingest", input=b"Message-ID: <b1@example.org>\r\nFrom: r@example.org\r\nSubject: s\r\n\r\nx\r\n")
        env.casectl("set", "1", "--product", "Widget Server", "--versions", "1.0 - 1.4", "--cvss", VECTOR)
        env.casectl("advisory", "1", "init")

        def refused(words, code=2, *args):
            p = env.casectl("advisory", "1", *(args or ("publish", "--dir", out)), check=False)
            assert p.returncode == code and words in p.stderr.decode(), (p.returncode, p.stderr)
            assert listing(out) == []

        refused("empty title")
        refused("cannot be empty", 2, "set", "title", "")
        env.casectl("advisory", "1", "set", "title", "A title")
        # Bad values the case's own commands refuse are refused there ...
        p = env.casectl("set", "1", "--cvss", "CVSS:3.1/AV:N/AC:L", check=False)
        assert p.returncode == 2 and b"CVSS" in p.stderr
        p = env.casectl("set", "1", "--cve", "CVE-26-1", check=False)
        assert p.returncode == 2 and b"not a CVE id" in p.stderr
        # ... and again by the advisory, whatever reached the database.
        with sqlite3.connect(env.db) as db:
            db.execute("UPDATE cases SET cvss = 'CVSS:3.1/AV:N/AC:L/PR:N' WHERE id = 1")
        refused("does not parse")
        with sqlite3.connect(env.db) as db:
            db.execute(f"UPDATE cases SET cvss = '{VECTOR}' WHERE id = 1")
            db.execute("INSERT INTO case_cves(case_id, cve, added) VALUES (1, 'CVE-26-1', 0)")
        refused("not a CVE id")
        with sqlite3.connect(env.db) as db:
            db.execute("DELETE FROM case_cves")
            # A product stored raw before it was checked at input.
            db.execute("UPDATE cases SET product = 'Wid\x1b[31mget' WHERE id = 1")
        refused("product: holds")
        with sqlite3.connect(env.db) as db:
            db.execute("UPDATE cases SET product = 'Widget Server' WHERE id = 1")
        env.casectl("set", "1", "--versions", "2.0 - 1.0")
        refused("inverted")
        env.casectl("set", "1", "--versions", "1.2 - 1.2")
        refused("same version")
        refused("cannot be expressed", 2, "set", "fixed", "1.0 - 0.9")
        refused("not an http(s) URL", 2, "set", "reference", "javascript:alert(1)")
        env.casectl("set", "1", "--versions", "1.0 - 1.4")
        # An embargo date that does not parse (a hand-edited database) holds.
        with sqlite3.connect(env.db) as db:
            db.execute("UPDATE cases SET embargo = 'soon' WHERE id = 1")
        refused("under embargo until soon", 1)
        with sqlite3.connect(env.db) as db:
            db.execute("UPDATE cases SET embargo = NULL WHERE id = 1")
        p = env.casectl("advisory", "1", "publish", "--dir", out)
        assert b"version 1 published" in p.stdout
        assert listing(out) != []
        # A provider directory whose changes.csv is not CSAF's is left alone.
        other = os.path.join(out, "other")
        os.mkdir(other)
        with open(os.path.join(other, "changes.csv"), "w") as f:
            f.write("2026/x.json;yesterday\n")
        before = listing(other)
        p = env.casectl("advisory", "1", "publish", "--dir", other, check=False)
        assert p.returncode == 1 and b"changes.csv line 1" in p.stderr, p.stderr
        assert listing(other) == before
        assert env.json("advisory", "1", "show")["version"] == 1
    finally:
        subprocess.run(["rm", "-rf", out])
        env.cleanup()
        alias.close()


def drafted(env, n):
    """n cases, each with an advisory ready to publish; their tracking ids."""
    ids = []
    for i in range(1, n + 1):
        env.casectl("ingest", input=f"Message-ID: <d{i}@example.org>\r\nFrom: r@example.org\r\nSubject: s\r\n"
                                    "\r\nx\r\n".encode())
        env.casectl("set", str(i), "--product", "Widget Server", "--versions", "1.0 - 1.4", "--cvss", VECTOR)
        env.casectl("advisory", str(i), "init")
        env.casectl("advisory", str(i), "set", "title", f"Advisory {i}")
        ids.append(env.json("advisory", str(i), "show")["tracking_id"])
    return ids


def test_the_provider_directory_stays_whole():
    """Publishers at once into one directory, a foreign file at our path, a
    directory ahead of the case, a key list kept across a key change, a
    clock stepped back: the directory and the cases stay in agreement."""
    alias = Keyring("security@example.com")
    env = Env(extra_config=f'[gpg]\nhome = "{alias.home}"\n\n' + ADVISORY_CONFIG)
    out = tempfile.mkdtemp(prefix="cased-csaf-")
    try:
        env.casectl("init")
        ids = drafted(env, 6)
        old_key = "0123456789ABCDEF0123456789ABCDEF01234567"
        with open(os.path.join(out, "provider-metadata.json"), "w") as f:
            json.dump({"public_openpgp_keys": [{"fingerprint": old_key, "url": "https://example.com/old.asc"}]}, f)
        # Six publishers at once: every document in index.txt and changes.csv.
        full_env = dict(os.environ, CASED_CONFIG=env.config)
        procs = [subprocess.Popen([CASECTL, "advisory", str(i), "publish", "--dir", out], env=full_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(1, 7)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        paths = sorted(f"{t.split('-')[-2]}/{t.lower()}.json" for t in ids)
        with open(os.path.join(out, "index.txt")) as f:
            assert sorted(f.read().splitlines()) == paths
        with open(os.path.join(out, "changes.csv")) as f:
            assert sorted(r.split(",")[0].strip('"') for r in f.read().splitlines()) == paths
        for path in paths:
            assert os.path.exists(os.path.join(out, path + ".asc"))
        with open(os.path.join(out, "provider-metadata.json")) as f:
            meta = json.load(f)
        assert [k["fingerprint"] for k in meta["public_openpgp_keys"]] == [alias.fpr, old_key]
        assert schema_errors("provider", meta) == []

        # A file of another tracking id at case 1's path is not overwritten.
        one = os.path.join(out, paths[0])
        with open(one, encoding="utf-8") as f:
            doc = json.load(f)
        doc["document"]["tracking"]["id"] = ids[0].lower()
        with open(one, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        before = listing(out)
        p = env.casectl("advisory", "1", "publish", "--dir", out, check=False)
        assert p.returncode == 1 and b"is not a document of" in p.stderr, p.stderr
        assert listing(out) == before and env.json("advisory", "1", "show")["version"] == 1
        # A directory holding a version the case never recorded is refused.
        doc["document"]["tracking"]["id"] = ids[0]
        doc["document"]["tracking"]["version"] = "7"
        with open(one, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        before = listing(out)
        p = env.casectl("advisory", "1", "publish", "--dir", out, check=False)
        assert p.returncode == 1 and b"is version 7, but the case recorded version 1" in p.stderr, p.stderr
        assert listing(out) == before and env.json("advisory", "1", "show")["version"] == 1

        # A write that fails part way (a directory where the new text goes)
        # puts back what it replaced: the directory and the case as they were.
        three = os.path.join(out, paths[2])
        blocker = three[:-5] + "-v2.txt"
        os.mkdir(blocker)
        before = listing(out)
        p = env.casectl("advisory", "3", "publish", "--dir", out, check=False)
        assert p.returncode == 75 and b"cannot" in p.stderr, (p.returncode, p.stderr)
        assert listing(out) == before, "the directory changed"
        assert not any(".tmp-" in name for name, _ in listing(out))
        assert env.json("advisory", "3", "show")["version"] == 1
        os.rmdir(blocker)
        env.casectl("advisory", "3", "publish", "--dir", out)
        assert os.path.exists(os.path.join(out, "archive", paths[2][:4], os.path.basename(three)[:-5] + "-v1.json"))

        # A clock stepped back: the history still goes forward.
        if need_test_hooks("the clock stepped back (CASED_NOW)"):
            later = env.json("advisory", "2", "show")["current_release"]
            p = env.casectl("advisory", "2", "publish", "--dir", out, env={"CASED_NOW": "2020-01-01T00:00:00Z"})
            assert b"clock is behind" in p.stderr, p.stderr
            with open(os.path.join(out, paths[1]), encoding="utf-8") as f:
                doc2 = json.load(f)
            assert check_csaf(doc2) == [], check_csaf(doc2)
            dates = [r["date"] for r in doc2["document"]["tracking"]["revision_history"]]
            assert dates == [later, later], dates
    finally:
        subprocess.run(["rm", "-rf", out])
        env.cleanup()
        alias.close()


if __name__ == "__main__":
    run_tests(globals())
