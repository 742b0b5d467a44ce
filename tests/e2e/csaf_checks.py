"""Offline validation of advisory documents for the tests: the JSON schemas
in tests/data/schemas (every $ref resolved locally) and the mandatory tests
of CSAF 2.0 section 6.1 that apply to what cased writes."""

import json
import os
import re

import jsonschema

SCHEMAS = os.path.join(os.environ.get("CASED_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data")),
                       "schemas")


def _load(rel):
    with open(os.path.join(SCHEMAS, rel), encoding="utf-8") as f:
        return json.load(f)


def _store():
    """Every schema a $ref may name, by the URL it is named with: nothing is
    fetched from the network."""
    store = {}
    for v in ("2.0", "3.0", "3.1"):
        schema = _load(f"csaf/cvss-v{v}.json")
        store[f"https://www.first.org/cvss/cvss-v{v}.json"] = schema
        store[schema.get("$id", schema.get("id"))] = schema
    for rel in ("csaf/csaf_json_schema.json", "csaf/provider_json_schema.json", "cve/CVE_JSON_5.1_bundled.json"):
        schema = _load(rel)
        store[schema["$id"]] = schema
    return store


class _OfflineResolver(jsonschema.RefResolver):
    def resolve_remote(self, uri):
        raise AssertionError(f"a $ref to {uri}, which tests/data/schemas does not hold")


def _validator(rel, cls):
    schema = _load(rel)
    resolver = _OfflineResolver.from_schema(schema, store=_store())
    return cls(schema, resolver=resolver, format_checker=cls.FORMAT_CHECKER)


def schema_errors(kind, doc):
    """Every schema error of doc: kind is csaf, provider or cve."""
    v = {"csaf": lambda: _validator("csaf/csaf_json_schema.json", jsonschema.Draft202012Validator),
         "provider": lambda: _validator("csaf/provider_json_schema.json", jsonschema.Draft202012Validator),
         "cve": lambda: _validator("cve/CVE_JSON_5.1_bundled.json", jsonschema.Draft7Validator)}[kind]()
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


# --- CVSS 3.1 (FIRST specification, section 7 and Appendix A) ------------

def _roundup(x):
    i = round(x * 100000)
    return i / 100000.0 if i % 10000 == 0 else (i // 10000 + 1) / 10.0


def cvss31_base(vector):
    m = dict(p.split(":") for p in vector.split("/")[1:])
    changed = m["S"] == "C"
    cia = {"H": 0.56, "L": 0.22, "N": 0.0}
    iss = 1 - (1 - cia[m["C"]]) * (1 - cia[m["I"]]) * (1 - cia[m["A"]])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[m["PR"]]
    expl = 8.22 * {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[m["AV"]] * {"L": 0.77, "H": 0.44}[m["AC"]] * pr * \
        {"N": 0.85, "R": 0.62}[m["UI"]]
    if impact <= 0:
        return 0.0
    return _roundup(min(1.08 * (impact + expl), 10)) if changed else _roundup(min(impact + expl, 10))


def severity(score):
    return "NONE" if score == 0 else "LOW" if score < 4 else "MEDIUM" if score < 7 else "HIGH" if score < 9 \
        else "CRITICAL"


CVSS_NAMES = {"AV": ("attackVector", {"N": "NETWORK", "A": "ADJACENT_NETWORK", "L": "LOCAL", "P": "PHYSICAL"}),
              "AC": ("attackComplexity", {"L": "LOW", "H": "HIGH"}),
              "PR": ("privilegesRequired", {"N": "NONE", "L": "LOW", "H": "HIGH"}),
              "UI": ("userInteraction", {"N": "NONE", "R": "REQUIRED"}),
              "S": ("scope", {"U": "UNCHANGED", "C": "CHANGED"}),
              "C": ("confidentialityImpact", {"H": "HIGH", "L": "LOW", "N": "NONE"}),
              "I": ("integrityImpact", {"H": "HIGH", "L": "LOW", "N": "NONE"}),
              "A": ("availabilityImpact", {"H": "HIGH", "L": "LOW", "N": "NONE"})}


# --- CSAF 2.0 mandatory tests (section 6.1) ------------------------------

def _walk_branches(branches, out):
    for b in branches:
        if "product" in b:
            out.append(b["product"])
        _walk_branches(b.get("branches", []), out)


def _definitions(doc):
    tree = doc.get("product_tree", {})
    products = []
    _walk_branches(tree.get("branches", []), products)
    products += tree.get("full_product_names", [])
    products += [r["full_product_name"] for r in tree.get("relationships", [])]
    return [p["product_id"] for p in products], products


def _references(doc):
    """Every product id used outside the definitions, with where."""
    refs = []
    for i, v in enumerate(doc.get("vulnerabilities", [])):
        for status, ids in v.get("product_status", {}).items():
            refs += [(pid, f"vulnerabilities/{i}/product_status/{status}") for pid in ids]
        for key in ("scores", "remediations", "threats", "flags"):
            for j, item in enumerate(v.get(key, [])):
                refs += [(pid, f"vulnerabilities/{i}/{key}/{j}") for pid in item.get("products", [])]
                refs += [(pid, f"vulnerabilities/{i}/{key}/{j}") for pid in item.get("product_ids", [])]
    for g in doc.get("product_tree", {}).get("product_groups", []):
        refs += [(pid, "product_groups") for pid in g["product_ids"]]
    return refs


def _version_key(v):
    return [int(p) for p in v.split(".")] if re.fullmatch(r"\d+(\.\d+)*", v) else v


def mandatory_failures(doc):
    """The failures of the mandatory tests that apply, as strings."""
    fail = []
    defined, products = _definitions(doc)
    # 6.1.1 Missing Definition of Product ID
    for pid, where in _references(doc):
        if pid not in defined:
            fail.append(f"6.1.1 {pid} used in {where} is not defined")
    # 6.1.2 Multiple Definition of Product ID
    for pid in set(defined):
        if defined.count(pid) > 1:
            fail.append(f"6.1.2 {pid} defined {defined.count(pid)} times")
    # 6.1.3 Circular Definition of Product ID
    for r in doc.get("product_tree", {}).get("relationships", []):
        if r["full_product_name"]["product_id"] in (r["product_reference"], r["relates_to_product_reference"]):
            fail.append("6.1.3 circular relationship")
    vulns = doc.get("vulnerabilities", [])
    for i, v in enumerate(vulns):
        # 6.1.6 Contradicting Product Status
        ps = v.get("product_status", {})
        groups = {"affected": ps.get("first_affected", []) + ps.get("known_affected", []) + ps.get("last_affected", []),
                  "not_affected": ps.get("known_not_affected", []),
                  "fixed": ps.get("first_fixed", []) + ps.get("fixed", []),
                  "investigation": ps.get("under_investigation", [])}
        names = list(groups)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                for pid in set(groups[names[a]]) & set(groups[names[b]]):
                    fail.append(f"6.1.6 {pid} is {names[a]} and {names[b]} in vulnerability {i}")
        # 6.1.7 Multiple Scores with same Version per Product
        seen = set()
        for s in v.get("scores", []):
            for key in ("cvss_v2", "cvss_v3"):
                if key in s:
                    for pid in s["products"]:
                        if (pid, s[key]["version"]) in seen:
                            fail.append(f"6.1.7 {pid} scored twice with CVSS {s[key]['version']}")
                        seen.add((pid, s[key]["version"]))
            # 6.1.9 Invalid CVSS computation and 6.1.10 Inconsistent CVSS
            c = s.get("cvss_v3")
            if c and c["version"] == "3.1":
                score = cvss31_base(c["vectorString"])
                if c["baseScore"] != score:
                    fail.append(f"6.1.9 baseScore {c['baseScore']} but the vector computes {score}")
                if c["baseSeverity"] != severity(score):
                    fail.append(f"6.1.9 baseSeverity {c['baseSeverity']} but {severity(score)}")
                metrics = dict(p.split(":") for p in c["vectorString"].split("/")[1:])
                for m, (prop, words) in CVSS_NAMES.items():
                    if prop in c and c[prop] != words[metrics[m]]:
                        fail.append(f"6.1.10 {prop} {c[prop]} contradicts the vector")
        # 6.1.29 Remediation without Product Reference
        for r in v.get("remediations", []):
            if not r.get("product_ids") and not r.get("group_ids"):
                fail.append("6.1.29 a remediation names no product")
    tracking = doc["document"]["tracking"]
    history = tracking["revision_history"]
    numbers = [h["number"] for h in history]
    integer = all(re.fullmatch(r"\d+", n) for n in numbers + [tracking["version"]])
    semantic = all(not re.fullmatch(r"\d+", n) for n in numbers + [tracking["version"]])
    # 6.1.30 Mixed Integer and Semantic Versioning
    if not (integer or semantic):
        fail.append("6.1.30 integer and semantic versions mixed")
    keys = [int(n) for n in numbers] if integer else [_version_key(n) for n in numbers]
    # 6.1.14 Sorted Revision History: by date ascending, numbers ascending with them
    by_date = sorted(range(len(history)), key=lambda k: history[k]["date"])
    if [keys[k] for k in by_date] != sorted(keys):
        fail.append("6.1.14 revision history not sorted")
    # 6.1.16 Latest Document Version
    if integer and max(keys) != int(tracking["version"]):
        fail.append(f"6.1.16 latest revision {max(keys)} is not the version {tracking['version']}")
    # 6.1.17 Document Status Draft
    if tracking["status"] == "draft" and integer and int(tracking["version"]) != 0:
        fail.append("6.1.17 a draft with a version other than 0")
    # 6.1.18 Released Revision History, 6.1.20 Non-draft Document Version
    if tracking["status"] in ("final", "interim"):
        if integer and 0 in keys:
            fail.append("6.1.18 released document with revision 0")
        if integer and int(tracking["version"]) == 0:
            fail.append("6.1.20 released document with version 0")
    # 6.1.21 Missing Item in Revision History
    if integer and sorted(keys) != list(range(min(keys), min(keys) + len(keys))):
        fail.append(f"6.1.21 revision numbers {sorted(keys)} have a gap")
    if integer and min(keys) not in (0, 1):
        fail.append("6.1.21 revision history does not start at 0 or 1")
    # 6.1.22 Multiple Definition in Revision History
    if len(set(numbers)) != len(numbers):
        fail.append("6.1.22 a revision number appears twice")
    # 6.1.23 Multiple Use of Same CVE
    cves = [v["cve"] for v in vulns if "cve" in v]
    if len(set(cves)) != len(cves):
        fail.append("6.1.23 a CVE id appears twice")
    # 6.1.26 Prohibited Document Category Name (ours is a profile's own)
    # 6.1.27.4, .5, .6, .11: the csaf_security_advisory profile
    if doc["document"]["category"] == "csaf_security_advisory":
        if "product_tree" not in doc:
            fail.append("6.1.27.4 no product_tree")
        if not vulns:
            fail.append("6.1.27.11 no vulnerabilities")
        for i, v in enumerate(vulns):
            if not v.get("notes"):
                fail.append(f"6.1.27.5 vulnerability {i} has no notes")
            if not v.get("product_status"):
                fail.append(f"6.1.27.6 vulnerability {i} has no product_status")
    # 6.1.31 Version Range in Product Version
    _check_versions(doc.get("product_tree", {}).get("branches", []), fail)
    # 6.1.12 Language
    if "lang" in doc["document"] and not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*", doc["document"]["lang"]):
        fail.append("6.1.12 bad language")
    return fail


# CSAF 2.0 6.1.31: "when converted to lower case, the value of name does not
# contain any of the following strings" (substrings, not words).
RANGE_STRINGS = ("<", "<=", ">", ">=", "after", "all", "before", "earlier", "later", "prior", "versions")


def _check_versions(branches, fail):
    for b in branches:
        if b["category"] == "product_version":
            found = [w for w in RANGE_STRINGS if w in b["name"].lower()]
            if found:
                fail.append(f"6.1.31 product_version '{b['name']}' holds {found}: a range")
        _check_versions(b.get("branches", []), fail)


# --- Versions: what a fixed version may not be ----------------------------

def _rank(s, i):
    """After a common prefix: "~" first (Debian), "-" and a letter (a semver
    pre-release), the end, then any other character."""
    if i >= len(s):
        return 2
    if s[i] == "~":
        return 0
    if s[i] == "-" and i + 1 < len(s) and s[i + 1].isascii() and s[i + 1].isalpha():
        return 1
    return 3 + ord(s[i])


def compare_versions(a, b):
    """-1, 0 or 1: digit runs as numbers, pre-releases before their release."""
    i = j = 0
    while i < len(a) or j < len(b):
        if i < len(a) and j < len(b) and a[i].isdigit() and b[j].isdigit():
            ma, mb = re.match(r"\d+", a[i:]).group(), re.match(r"\d+", b[j:]).group()
            if int(ma) != int(mb):
                return -1 if int(ma) < int(mb) else 1
            i, j = i + len(ma), j + len(mb)
            continue
        ra, rb = _rank(a, i), _rank(b, j)
        if ra != rb:
            return -1 if ra < rb else 1
        i, j = i + 1, j + 1
    return 0


def in_vers(version, vers):
    """Whether version is in a vers:generic/ range of comparators."""
    for c in vers[len("vers:generic/"):].split("|"):
        op, v = re.fullmatch(r"(<=|>=|<|>|)(.+)", c).groups()
        order = compare_versions(version, v)
        if not {"<=": order <= 0, ">=": order >= 0, "<": order < 0, ">": order > 0, "": order == 0}[op]:
            return False
    return True


def _versions_by_id(branches, out):
    for b in branches:
        if b["category"] in ("product_version", "product_version_range") and "product" in b:
            out[b["product"]["product_id"]] = (b["category"], b["name"])
        _versions_by_id(b.get("branches", []), out)
    return out


def version_status_failures(doc):
    """6.1.6 by version: a fixed product version that a known_affected
    version or range of the tree also covers (two product ids, one version)."""
    fail = []
    versions = _versions_by_id(doc.get("product_tree", {}).get("branches", []), {})
    for i, v in enumerate(doc.get("vulnerabilities", [])):
        ps = v.get("product_status", {})
        for f in ps.get("fixed", []) + ps.get("first_fixed", []):
            if versions.get(f, ("",))[0] != "product_version":
                continue
            fixed = versions[f][1]
            for a in ps.get("known_affected", []) + ps.get("first_affected", []) + ps.get("last_affected", []):
                kind, name = versions.get(a, ("", ""))
                if (kind == "product_version" and compare_versions(fixed, name) == 0) or \
                        (kind == "product_version_range" and in_vers(fixed, name)):
                    fail.append(f"6.1.6 fixed version {fixed} ({f}) is inside affected {name} ({a}) in vulnerability {i}")
    return fail


def tlp_failures(doc):
    """A draft goes to those coordinating, not to the public: never TLP:WHITE."""
    label = doc["document"].get("distribution", {}).get("tlp", {}).get("label")
    if doc["document"]["tracking"]["status"] == "draft" and label in (None, "WHITE"):
        return [f"a draft labelled TLP:{label}"]
    return []


def cve_failures(record):
    """Schema errors of a CVE JSON 5 record and, per product, an unaffected
    version inside an affected range (the record would contradict itself)."""
    fail = schema_errors("cve", record)
    for p in record["containers"]["cna"].get("affected", []):
        versions = p.get("versions", [])
        for u in (x for x in versions if x["status"] == "unaffected" and "lessThan" not in x
                  and "lessThanOrEqual" not in x):
            for a in (x for x in versions if x["status"] == "affected"):
                low, high = a["version"], a.get("lessThan") or a.get("lessThanOrEqual")
                inside = compare_versions(u["version"], low) == 0 if high is None else \
                    compare_versions(low, u["version"]) <= 0 and \
                    (high == "*" or compare_versions(u["version"], high) < (1 if "lessThanOrEqual" in a else 0))
                if inside:
                    fail.append(f"{p['product']}: {u['version']} is unaffected and affected ({a})")
    return fail


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_DATE_KEYS = {"date", "initial_release_date", "current_release_date", "release_date", "discovery_date", "last_updated"}


def date_failures(node, where=""):
    """The schema's format date-time, checked here: jsonschema checks it only
    with an optional package that Debian's python3-jsonschema lacks."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _DATE_KEYS and not (isinstance(v, str) and _DATE_TIME.fullmatch(v)):
                out.append(f"{where}/{k}: {v!r} is not an RFC 3339 date-time")
            out += date_failures(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += date_failures(v, f"{where}/{i}")
    return out


def check_csaf(doc):
    """Schema errors, date-times and mandatory-test failures together."""
    return schema_errors("csaf", doc) + date_failures(doc) + mandatory_failures(doc) + version_status_failures(doc)
