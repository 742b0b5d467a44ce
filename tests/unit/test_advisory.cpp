// Advisories: the pure documents (cvd/advisory*.cpp) and the store's draft
// and revisions (store/advisories.cpp).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <string>

#include "../store_access.hpp"
#include "core/config.hpp"
#include "core/util.hpp"
#include "cvd/advisory.hpp"
#include "cvd/advisory_provider.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"

using namespace cased;
using nlohmann::json;

namespace {

advisory::Input sample() {
  advisory::Input in;
  in.publisher = {"Example PSIRT", "https://example.com", "https://example.com/.well-known/csaf", "vendor", "",
                  "Example Corp", "b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5b"};
  in.tracking_id = "EXAMPLE-SA-2026-0001";
  in.version = 1;
  in.initial_release = in.current_release = in.now = 1795000000;
  in.revisions = {{1, 1795000000, "Initial release."}};
  in.title = "Buffer overflow in the widget parser";
  in.summary = "A crafted widget crashes the server.";
  in.cves = {"CVE-2026-1234"};
  in.cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
  in.product = "Widget Server";
  in.versions = "1.0 - 1.4";
  in.fixed = "1.5";
  in.generator = "test";
  return in;
}

// Every product id the tree defines, and where it is defined.
void collect_ids(const json& branches, std::vector<std::string>& ids) {
  for (const auto& b : branches) {
    if (b.contains("product")) ids.push_back(b["product"]["product_id"]);
    if (b.contains("branches")) collect_ids(b["branches"], ids);
  }
}

struct TempDb {
  std::filesystem::path dir;
  TempDb() {
    char tmpl[] = "/tmp/cased-advisory-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~TempDb() { std::filesystem::remove_all(dir); }
  std::string path() const { return (dir / "cases.db").string(); }
};

PreparedMessage report(const std::string& id) {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nFrom: r@example.org\r\nSubject: secret subject\r\n\r\nbody\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.from = "r@example.org";
  p.parsed.subject = "secret subject";
  p.parsed.body = "body";
  p.parsed.to = {"security@example.com"};
  return p;
}

}  // namespace

TEST_CASE("advisory: versions parse; equal or inverted ranges are refused", "[advisory]") {
  auto v = advisory::parse_versions("1.0 - 1.4, 2.0, >=3.0 <3.2, <=0.9", "versions");
  REQUIRE(v.ok());
  REQUIRE(v->size() == 4);
  CHECK(v->at(0).vers() == "vers:generic/>=1.0|<=1.4");
  CHECK(v->at(0).label() == "1.0 to 1.4");
  CHECK(v->at(1).exact == "2.0");
  CHECK(v->at(2).vers() == "vers:generic/>=3.0|<3.2");
  CHECK(v->at(3).vers() == "vers:generic/<=0.9");
  auto refused = [](const char* text, const char* words) {
    auto r = advisory::parse_versions(text, "versions");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains(words));
  };
  refused("1.4 - 1.0", "inverted");
  refused("1.10 - 1.9", "inverted");
  refused("1.2 - 1.2", "same version");
  refused(">=2.0 <2.0", "same version");
  refused("1.0,,2.0", "empty version");
  refused("1.0;rm", "not a version");
  refused("all versions before the fix", "write 1.2");
  CHECK(advisory::compare_versions("1.10", "1.9") > 0);
  CHECK(advisory::compare_versions("1.0.0", "1.0") > 0);
  CHECK(advisory::compare_versions("2.0", "2.0") == 0);
}

TEST_CASE("advisory: file names follow the CSAF rules", "[advisory]") {
  CHECK(advisory::file_name("EXAMPLE-SA-2026-0001") == "example-sa-2026-0001.json");
  CHECK(advisory::file_name("Example Company - 2019-YH3234") == "example_company_-_2019-yh3234.json");
  CHECK(advisory::file_name("rhba-2019:0024") == "rhba-2019_0024.json");
  CHECK(advisory::file_name("a+b/c") == "a+b_c.json");
}

TEST_CASE("advisory: the CSAF document defines each product once and scores match the vector", "[advisory]") {
  auto in = sample();
  in.vendors = {{"acme", "", "not-affected", std::string("Acme does not ship the parser.")},
                {"beta", "CVE-2026-1234", "affected", std::nullopt},
                {"gamma", "", "unresponsive", std::nullopt}};
  auto c = advisory::check(in);
  REQUIRE(c.ok());
  json doc = advisory::csaf(in, *c);
  CHECK(doc["document"]["category"] == "csaf_security_advisory");
  CHECK(doc["document"]["tracking"]["status"] == "final");
  CHECK(doc["document"]["tracking"]["version"] == "1");
  std::vector<std::string> ids;
  collect_ids(doc["product_tree"]["branches"], ids);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
  CHECK(ids.size() == 4);  // 1.0-1.4, 1.5, acme, beta (gamma has nothing to say)
  const json& v = doc["vulnerabilities"][0];
  CHECK(v["cve"] == "CVE-2026-1234");
  CHECK(v["product_status"]["known_affected"].size() == 2);
  CHECK(v["product_status"]["fixed"].size() == 1);
  CHECK(v["product_status"]["known_not_affected"].size() == 1);
  CHECK(v["scores"][0]["cvss_v3"]["baseScore"] == 9.8);
  CHECK(v["scores"][0]["cvss_v3"]["baseSeverity"] == "CRITICAL");
  CHECK(v["remediations"][0]["category"] == "vendor_fix");
  CHECK_FALSE(doc["document"].contains("acknowledgments"));
  in.credit = "Jane Doe";
  CHECK(advisory::csaf(in, *c)["document"]["acknowledgments"][0]["names"][0] == "Jane Doe");
}

TEST_CASE("advisory: a draft is version 0 with one revision 0", "[advisory]") {
  auto in = sample();
  in.version = 0;
  in.revisions.clear();
  auto c = advisory::check(in);
  REQUIRE(c.ok());
  json t = advisory::csaf(in, *c)["document"]["tracking"];
  CHECK(t["status"] == "draft");
  CHECK(t["version"] == "0");
  REQUIRE(t["revision_history"].size() == 1);
  CHECK(t["revision_history"][0]["number"] == "0");
}

TEST_CASE("advisory: bad input is refused before any document is built", "[advisory]") {
  auto refused = [](advisory::Input in, const char* words) {
    auto c = advisory::check(in);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::invalid);
    CHECK_THAT(c.error().message, Catch::Contains(words));
  };
  auto in = sample();
  in.title = "  ";
  refused(in, "empty title");
  in = sample();
  in.cves = {"CVE-26-1"};
  refused(in, "not a CVE id");
  in = sample();
  in.cvss = "CVSS:3.1/AV:N/AC:L";
  refused(in, "does not parse");
  in = sample();
  in.versions = "2.0 - 1.0";
  refused(in, "inverted");
  in = sample();
  in.product.reset();
  refused(in, "no product");
  in = sample();
  in.references = {"javascript:alert(1)"};
  refused(in, "not an http(s) URL");
  in = sample();
  in.publisher.base_url.clear();
  refused(in, "base_url");
}

TEST_CASE("advisory: the CVE record carries the affected and fixed versions and the score", "[advisory]") {
  auto in = sample();
  auto c = advisory::check(in);
  REQUIRE(c.ok());
  auto r = advisory::cve_record(in, *c, "CVE-2026-1234");
  REQUIRE(r.ok());
  const json& cna = (*r)["containers"]["cna"];
  CHECK((*r)["cveMetadata"]["cveId"] == "CVE-2026-1234");
  const json& versions = cna["affected"][0]["versions"];
  CHECK(versions[0]["version"] == "1.0");
  CHECK(versions[0]["lessThanOrEqual"] == "1.4");
  CHECK(versions[1]["status"] == "unaffected");
  CHECK(cna["metrics"][0]["cvssV3_1"]["baseScore"] == 9.8);
  CHECK_FALSE(advisory::cve_record(in, *c, "CVE-2026-9999").ok());
  in.publisher.cve_org_id.clear();
  CHECK_FALSE(advisory::cve_record(in, *c, "CVE-2026-1234").ok());
}

TEST_CASE("advisory: changes.csv keeps one row per document, newest first", "[advisory]") {
  auto e = advisory::parse_changes("\"2026/a.json\",\"2026-01-01T00:00:00.000Z\"\n");
  REQUIRE(e.ok());
  auto up = advisory::with_change(*e, {"2026/b.json", "2026-02-01T00:00:00.000Z"});
  up = advisory::with_change(up, {"2026/a.json", "2026-03-01T00:00:00.000Z"});
  CHECK(advisory::changes_csv(up) ==
        "\"2026/a.json\",\"2026-03-01T00:00:00.000Z\"\n\"2026/b.json\",\"2026-02-01T00:00:00.000Z\"\n");
  CHECK(advisory::index_txt(up) == "2026/a.json\n2026/b.json\n");
  CHECK_FALSE(advisory::parse_changes("\"../etc/passwd\",\"x\"\n").ok());
  CHECK_FALSE(advisory::parse_changes("2026/a.json,2026\n").ok());
}

TEST_CASE("advisory: the store allocates tracking ids once and records revisions in order", "[advisory]") {
  TempDb db;
  auto opened = Store::open(db.path(), StoreOptions{});
  REQUIRE(opened.ok());
  Store& s = opened.value();
  auto one = test::ingest(s, report("a@x")).case_id;
  auto two = test::ingest(s, report("b@x")).case_id;
  auto a = s.advisory_init(one, "EX-SA", "ana");
  REQUIRE(a.ok());
  CHECK(a->tracking_id.ends_with("-0001"));
  CHECK(a->title.empty());  // nothing of the report's subject
  CHECK_FALSE(a->published);
  auto again = s.advisory_init(one, "EX-SA", "ana");
  REQUIRE_FALSE(again.ok());
  CHECK_THAT(again.error().message, Catch::Contains("has an advisory already"));
  auto b = s.advisory_init(two, "EX-SA", "ana");
  REQUIRE(b.ok());
  CHECK(b->tracking_id.ends_with("-0002"));

  REQUIRE(s.set_advisory_field(one, AdvisoryField::title, std::string("T"), "ana").ok());
  REQUIRE(s.set_advisory_field(one, AdvisoryField::credit, std::string("Jane"), "ana").ok());
  REQUIRE(s.set_advisory_field(one, AdvisoryField::credit, std::nullopt, "ana").ok());
  REQUIRE(s.add_advisory_reference(one, "https://example.com/x", "ana").ok());
  REQUIRE(s.add_advisory_reference(one, "https://example.com/x", "ana").ok());
  auto placed = [] { return ok_status(); };
  REQUIRE(s.record_publication(one, {1, 100, "Initial release.", std::nullopt, "/srv"}, "ana", placed).ok());
  auto skipped = s.record_publication(one, {3, 200, "x", std::nullopt, "/srv"}, "ana", placed);
  CHECK_FALSE(skipped.ok());
  REQUIRE(s.record_publication(one, {2, 200, "Updated.", std::string("vendor asked"), "/srv"}, "ana", placed).ok());
  auto r = s.get_advisory(one);
  REQUIRE(r.ok());
  CHECK(r->title == "T");
  CHECK_FALSE(r->credit);
  CHECK(r->references.size() == 1);
  CHECK(r->published);
  CHECK(r->version == 2);
  CHECK(*r->initial_release == 100);
  CHECK(*r->current_release == 200);
  REQUIRE(r->revisions.size() == 2);
  CHECK(r->revisions[1].number == 2);
  auto d = s.get_case(one);
  REQUIRE(d.ok());
  bool forced = false;
  for (const auto& e : d->events) forced |= e.kind == "advisory-forced" && e.detail.find("vendor asked") != std::string::npos;
  CHECK(forced);
  CHECK_FALSE(s.get_advisory(9999).ok());
}

TEST_CASE("advisory: vendor status rows are read for the documents", "[advisory]") {
  TempDb db;
  auto opened = Store::open(db.path(), StoreOptions{});
  REQUIRE(opened.ok());
  Store& s = opened.value();
  auto id = test::ingest(s, report("c@x")).case_id;
  StoreTestAccess::db(s)
      .prepare("INSERT INTO vendor_status(case_id, vendor, cve, state, statement, actor, updated) VALUES "
               "(?, 'acme', '', 'fixed', 'patched', 'ana', 5)")
      .bind(1, id)
      .run();
  auto rows = s.vendor_statuses(id);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK(rows->at(0).state == "fixed");
  CHECK(*rows->at(0).statement == "patched");
}

TEST_CASE("advisory: [advisory] is read and checked", "[advisory][config]") {
  const std::string base = "[case]\ndatabase = \"/tmp/x.db\"\nalias = \"security@example.com\"\n";
  auto c = parse_config(base + "[advisory]\npublisher = \"P\"\nnamespace = \"https://example.com\"\n"
                               "base_url = \"https://example.com/csaf/\"\nid_prefix = \"EX-SA\"\n",
                        "t.toml");
  REQUIRE(c.ok());
  CHECK(c->advisory.publisher == "P");
  CHECK(c->advisory.base_url == "https://example.com/csaf");  // without the trailing slash
  CHECK(c->advisory.id_prefix == "EX-SA");
  CHECK(c->advisory.category == "vendor");
  auto refused = [&](const std::string& section, const char* words) {
    auto r = parse_config(base + "[advisory]\n" + section, "t.toml");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains(words));
  };
  refused("id_prefix = \"EX SA/\"\n", "advisory.id_prefix");
  refused("base_url = \"ftp://example.com\"\n", "advisory.base_url");
  refused("category = \"reseller\"\n", "advisory.category");
  refused("colour = \"red\"\n", "advisory.colour");
}
