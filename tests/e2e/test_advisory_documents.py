"""Advisory documents end to end, for what a case's versions and fields can
say: each case is built with `casectl set` and `casectl advisory ... set`,
exported with `advisory N export --format csaf|cve`, and the output is
validated against the official schemas and the CSAF 2.0 mandatory tests
(csaf_checks). What a document cannot say is refused with a clear message
and nothing on stdout. The checks themselves are shown to catch the
defects they guard against, on documents altered by hand."""

import copy
import json
import os
import subprocess
import tempfile

from csaf_checks import (check_csaf, cve_failures, mandatory_failures, schema_errors, tlp_failures,
                         version_status_failures)
from harness import Env, run_tests
from pgp import Keyring

ADVISORY_CONFIG = (
    '[advisory]\npublisher = "Example Corp PSIRT"\nnamespace = "https://example.com"\n'
    'base_url = "https://example.com/.well-known/csaf"\nid_prefix = "EXAMPLE-SA"\nvendor = "Example Corp"\n'
    'cve_org_id = "b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5b"\n')
VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
CVE = "CVE-2026-1234"


class Case:
    """One case with a drafted advisory, in its own Env."""

    def __init__(self, gpg_home=None):
        extra = f'[gpg]\nhome = "{gpg_home}"\n\n' if gpg_home else ""
        self.env = Env(extra_config=extra + ADVISORY_CONFIG)
        self.env.casectl("init")
        self.env.casectl("ingest", input=b"Message-ID: <d1@example.org>\r\nFrom: r@example.org\r\nSubject: s\r\n\r\n"
                                         b"x\r\n")
        self.env.casectl("set", "1", "--cve", CVE, "--product", "Widget Server", "--cvss", VECTOR)
        self.env.casectl("advisory", "1", "init")
        self.advisory("title", "Buffer overflow in the widget parser")
        self.advisory("details", "The parser copies a length-prefixed field without checking it.")

    def versions(self, text):
        self.env.casectl("set", "1", "--versions", text)

    def advisory(self, field, value, check=True):
        return self.env.casectl("advisory", "1", "set", field, value, check=check)

    def export(self, fmt):
        p = self.env.casectl("advisory", "1", "export", "--format", fmt)
        return json.loads(p.stdout)

    def refused(self, fmt, *words):
        p = self.env.casectl("advisory", "1", "export", "--format", fmt, check=False)
        err = p.stderr.decode()
        assert p.returncode == 2 and p.stdout == b"", (fmt, p.returncode, p.stdout[:200], err)
        for w in words:
            assert w in err, (w, err)
        return err

    def valid(self):
        """Both documents, each checked."""
        doc = self.export("csaf")
        assert check_csaf(doc) == [], check_csaf(doc)
        assert tlp_failures(doc) == [], tlp_failures(doc)
        record = self.export("cve")
        assert cve_failures(record) == [], cve_failures(record)
        return doc, record

    def close(self):
        self.env.cleanup()


def version_branches(doc):
    """(category, name) of our product's version branches."""
    return [(b["category"], b["name"]) for b in doc["product_tree"]["branches"][0]["branches"][0]["branches"]]


def test_fixed_versions_and_affected_ones():
    case = Case()
    try:
        # One fixed version, no affected ones: the versions before it.
        case.advisory("fixed", "1.5.3")
        doc, record = case.valid()
        assert doc["document"]["distribution"]["tlp"]["label"] == "AMBER"  # a draft
        assert version_branches(doc) == [("product_version_range", "vers:generic/<1.5.3"),
                                         ("product_version", "1.5.3")]
        assert record["containers"]["cna"]["affected"][0]["versions"] == [
            {"version": "0", "status": "affected", "versionType": "custom", "lessThan": "1.5.3"},
            {"version": "1.5.3", "status": "unaffected"}]
        # Fixes on two branches, in either order: which versions are affected cannot be told.
        for fixed in ("1.5.3, 2.0.1", "2.0.1, 1.5.3"):
            case.advisory("fixed", fixed)
            for fmt in ("csaf", "cve", "text"):
                case.refused(fmt, "several fixed versions", "casectl set ID --versions")
        # Given, a fixed version inside the affected ones is a contradiction ...
        case.versions("<2.0.1")
        case.refused("csaf", "'1.5.3' is among the affected versions 'before 2.0.1'")
        # ... and the branches, each up to its fix, are what the documents say.
        case.versions(">=1.5 <1.5.3, >=2.0 <2.0.1")
        doc, record = case.valid()
        assert version_branches(doc) == [("product_version_range", "vers:generic/>=1.5|<1.5.3"),
                                         ("product_version_range", "vers:generic/>=2.0|<2.0.1"),
                                         ("product_version", "2.0.1"), ("product_version", "1.5.3")]
        # The checks catch what the old documents said: 1.5.3 fixed and inside <2.0.1 affected.
        bad = copy.deepcopy(doc)
        bad["product_tree"]["branches"][0]["branches"][0]["branches"][0]["name"] = "vers:generic/<2.0.1"
        assert any("1.5.3" in f for f in version_status_failures(bad)), version_status_failures(bad)
        bad_record = copy.deepcopy(record)
        bad_record["containers"]["cna"]["affected"][0]["versions"][0] = {
            "version": "0", "status": "affected", "versionType": "custom", "lessThan": "2.0.1"}
        assert cve_failures(bad_record) != []
    finally:
        case.close()


def test_versions_listed_twice_or_as_range_words_are_refused():
    case = Case()
    try:
        for text, words in (("1.2, 1.2", "'1.2' is listed twice"),
                            ("1.0 - 1.4, >=1.0 <=1.4", "'>=1.0 <=1.4' is listed twice"),
                            ("all", "CSAF reads as a range"), ("1.0-Later", "CSAF reads as a range"),
                            ("versions", "CSAF reads as a range")):
            case.versions(text)
            case.refused("csaf", words)
            case.refused("cve", words)
        p = case.advisory("fixed", "1.5, 1.5", check=False)
        assert p.returncode == 2 and b"fixed: '1.5' is listed twice" in p.stderr, p.stderr
        case.versions("1.2, 1.3")
        doc, record = case.valid()
        # What the refusals prevent: duplicate version entries break the CVE
        # schema's uniqueItems, and a range word in a product version fails 6.1.31.
        bad = copy.deepcopy(record)
        versions = bad["containers"]["cna"]["affected"][0]["versions"]
        versions.append(copy.deepcopy(versions[0]))
        assert schema_errors("cve", record) == [] and schema_errors("cve", bad) != []  # the schema's uniqueItems
        for name in ("all", "ALL", "1.0-install", "prior to 4.2", "<1.3"):
            bad = copy.deepcopy(doc)
            bad["product_tree"]["branches"][0]["branches"][0]["branches"][0]["name"] = name
            assert any(f.startswith("6.1.31") for f in mandatory_failures(bad)), name
    finally:
        case.close()


def test_prereleases_sort_before_their_release():
    case = Case()
    try:
        case.versions("2.0.0-rc1 - 2.0.0, 1.0~rc1 - 1.0")
        case.advisory("fixed", "2.0.1")
        case.valid()
        case.versions("2.0.0 - 2.0.0-rc1")
        case.refused("csaf", "inverted")
    finally:
        case.close()


def test_cve_record_refuses_what_it_cannot_say():
    case = Case()
    try:
        # CVE JSON 5 ranges start at a first affected version: ">1.0" has no encoding.
        case.versions(">1.0 <2.0")
        doc = case.export("csaf")
        assert check_csaf(doc) == [], check_csaf(doc)
        case.refused("cve", "'>1.0 <2.0' starts after 1.0", "--versions \">=1.0.1 <2.0\"")
        case.versions(">=1.0.1 <2.0")
        case.valid()
        # Longer than descriptions[].value holds: refused, never cut short.
        case.advisory("details", "x" * 5000)
        doc = case.export("csaf")
        assert check_csaf(doc) == []
        case.refused("cve", "the details has 5000 characters", "at most 4096")
        # The schema counts characters: 4096 two-byte ones fit.
        case.advisory("details", "\u00e9" * 4096)
        doc, record = case.valid()
        assert record["containers"]["cna"]["descriptions"][0]["value"] == "\u00e9" * 4096
        bad = copy.deepcopy(record)
        bad["containers"]["cna"]["descriptions"][0]["value"] += "x"
        assert schema_errors("cve", bad) != []
    finally:
        case.close()


def test_references_must_be_uris():
    case = Case()
    try:
        case.advisory("reference", "https://example.com/notes?a=1&b=%20#x")
        doc, record = case.valid()
        assert {"category": "external", "summary": "Reference", "url": "https://example.com/notes?a=1&b=%20#x"} \
            in doc["document"]["references"]
    finally:
        case.close()
    for url in ("https://example.com/a b", "https://example.com/{x}", "https://example.com/a|b",
                "https://example.com/caf\u00e9"):
        case = Case()
        try:
            p = case.advisory("reference", url, check=False)
            if p.returncode == 0:  # taken as typed: the export refuses it
                assert url in case.env.json("advisory", "1", "show")["references"]
                case.refused("csaf", "is not an http(s) URL")
                case.refused("cve", "is not an http(s) URL")
            else:
                assert p.returncode == 2 and b"reference" in p.stderr, p.stderr
        finally:
            case.close()


def test_published_document_is_white_and_valid():
    alias = Keyring("security@example.com")
    case = Case(gpg_home=alias.home)
    out = tempfile.mkdtemp(prefix="cased-csaf-")
    try:
        case.versions("2.0.0-rc1 - 2.0.0")
        case.advisory("fixed", "2.0.1")
        case.valid()
        case.env.casectl("advisory", "1", "publish", "--dir", out)
        paths = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs
                 if f.endswith(".json") and f != "provider-metadata.json"]
        assert len(paths) == 1, paths
        with open(paths[0], encoding="utf-8") as f:
            doc = json.load(f)
        assert doc["document"]["tracking"]["status"] == "final"
        assert doc["document"]["distribution"]["tlp"]["label"] == "WHITE"
        assert check_csaf(doc) == [] and tlp_failures(doc) == [], check_csaf(doc)
        draft = copy.deepcopy(doc)
        draft["document"]["tracking"]["status"] = "draft"
        assert tlp_failures(draft) != []
    finally:
        subprocess.run(["rm", "-rf", out])
        case.close()
        alias.close()


if __name__ == "__main__":
    run_tests(globals())
