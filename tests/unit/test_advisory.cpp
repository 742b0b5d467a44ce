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
#include "temp_db.hpp"

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
  test::TempDb db;
  auto opened = Store::open(db.path(), StoreOptions{});
  REQUIRE(opened.ok());
  Store& s = opened.value();
  auto one = test::ingest(s, test::plain_report("a@x", "secret subject")).case_id;
  auto two = test::ingest(s, test::plain_report("b@x", "secret subject")).case_id;
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
  test::TempDb db;
  auto opened = Store::open(db.path(), StoreOptions{});
  REQUIRE(opened.ok());
  Store& s = opened.value();
  auto id = test::ingest(s, test::plain_report("c@x", "secret subject")).case_id;
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

TEST_CASE("advisory: versions order pre-releases before their release", "[advisory]") {
  // Each pair is (lower, higher).
  const std::vector<std::pair<const char*, const char*>> ordered = {
      {"1.9", "1.10"},
      {"1.0", "1.0.0"},
      {"1.0", "1.0.1"},
      {"1.0", "1.0-1"},
      {"1.0-1", "1.0.1"},
      {"2.0.0-rc1", "2.0.0"},
      {"2.0.0-rc1", "2.0.0-rc2"},
      {"2.0.0-rc2", "2.0.0-rc10"},
      {"1.0.0-alpha", "1.0.0-alpha.1"},
      {"1.0.0-alpha.1", "1.0.0-beta"},
      {"1.0.0-beta.2", "1.0.0-beta.11"},
      {"1.0.0-beta", "1.0.0"},
      {"1.0.0-rc.1", "1.0.0"},
      {"1.0~rc1", "1.0"},
      {"1.0~rc1", "1.0~rc2"},
      {"1.0~~", "1.0~"},
      {"1.0~rc1", "1.0-rc1"},
      {"0.9", "1.0~rc1"},
      {"1.0-rc1", "1.0-1"},
      {"1.0", "1.0a"},
      {"1.0+build5", "1.0.1"},
      {"1.0", "1.0+build5"}};
  for (const auto& [lo, hi] : ordered) {
    INFO(lo << " < " << hi);
    CHECK(advisory::compare_versions(lo, hi) < 0);
    CHECK(advisory::compare_versions(hi, lo) > 0);
  }
  CHECK(advisory::compare_versions("1.02", "1.2") == 0);
  CHECK(advisory::compare_versions("2.0.0-rc1", "2.0.0-rc1") == 0);
  auto v = advisory::parse_versions("2.0.0-rc1 - 2.0.0, 1.0~rc1 - 1.0", "versions");
  REQUIRE(v.ok());
  CHECK(v->at(0).contains("2.0.0-rc2"));
  CHECK_FALSE(v->at(0).contains("2.0.0-1"));
  CHECK(v->at(1).contains("1.0~rc2"));
  CHECK_FALSE(v->at(1).contains("1.0.1"));
  CHECK_FALSE(advisory::parse_versions("2.0.0 - 2.0.0-rc1", "versions").ok());
}

TEST_CASE("advisory: a version listed twice or holding a CSAF range word is refused", "[advisory]") {
  auto refused = [](const char* text, const char* words) {
    auto r = advisory::parse_versions(text, "versions");
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid);
    CHECK_THAT(r.error().message, Catch::Contains(words));
  };
  refused("1.2, 1.2", "'1.2' is listed twice");
  refused("1.2, 1.3, 1.02", "'1.02' is listed twice (also as '1.2')");
  refused("1.0 - 1.4, >=1.0 <=1.4", "'>=1.0 <=1.4' is listed twice (also as '1.0 - 1.4')");
  refused("<2.0, <2.0", "listed twice");
  // CSAF 2.0 6.1.31 reads these, lower-cased, anywhere in a product version as a range.
  for (const char* w : {"all", "ALL", "after", "before", "Earlier", "later", "prior", "versions", "1.0-prior",
                        "1.0-install", "1.0 - later"})
    refused(w, "CSAF reads as a range");
  CHECK(advisory::parse_versions("1.0-alpha, 1.0-beta, 2.0 - 2.4", "versions").ok());
  CHECK(advisory::parse_versions("1.0 - 1.4, >=1.0 <1.4, >1.0 <=1.4", "versions").ok());  // three ranges
  auto in = sample();
  in.fixed = "1.5, 1.5";
  auto c = advisory::check(in);
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.error().message, Catch::Contains("fixed: '1.5' is listed twice"));
}

TEST_CASE("advisory: fixed versions and affected ones fit together", "[advisory]") {
  auto in = sample();
  in.versions.reset();
  in.fixed = "1.5.3";
  auto c = advisory::check(in);
  REQUIRE(c.ok());
  REQUIRE(c->affected.size() == 1);
  CHECK(c->affected_from_fixed);
  CHECK(c->affected[0].vers() == "vers:generic/<1.5.3");
  json doc = advisory::csaf(in, *c);
  const json& versions = doc["product_tree"]["branches"][0]["branches"][0]["branches"];
  REQUIRE(versions.size() == 2);
  CHECK(versions[0]["name"] == "vers:generic/<1.5.3");
  CHECK(versions[1]["name"] == "1.5.3");
  CHECK_THAT(advisory::text(in, *c), Catch::Contains("Example Corp Widget Server before 1.5.3\n"));
  auto r = advisory::cve_record(in, *c, "CVE-2026-1234");
  REQUIRE(r.ok());
  CHECK((*r)["containers"]["cna"]["affected"][0]["versions"][0] ==
        json({{"version", "0"}, {"status", "affected"}, {"versionType", "custom"}, {"lessThan", "1.5.3"}}));

  auto refused = [](const advisory::Input& x, const char* words) {
    auto checked = advisory::check(x);
    REQUIRE_FALSE(checked.ok());
    CHECK_THAT(checked.error().message, Catch::Contains(words));
  };
  // Backports on two branches: which versions are affected cannot be told, in either order.
  in.fixed = "1.5.3, 2.0.1";
  refused(in, "several fixed versions (1.5.3, 2.0.1) but no affected versions");
  refused(in, "--versions \">=1.5 <1.5.3, >=2.0 <2.0.1\"");
  in.fixed = "2.0.1, 1.5.3";
  refused(in, "several fixed versions");
  // A fixed version inside an affected range, or equal to an affected version.
  in.versions = "<2.0.1";
  refused(in, "'1.5.3' is among the affected versions 'before 2.0.1'");
  in.versions = "1.0 - 1.4";
  in.fixed = "1.4";
  refused(in, "'1.4' is among the affected versions '1.0 to 1.4'");
  in.versions = "1.3, 1.4";
  in.fixed = "1.3";
  refused(in, "'1.3' is among the affected versions '1.3'");
  // The branches given: each fixed version outside every affected range.
  in.versions = ">=1.5 <1.5.3, >=2.0 <2.0.1";
  in.fixed = "1.5.3, 2.0.1";
  c = advisory::check(in);
  REQUIRE(c.ok());
  CHECK_FALSE(c->affected_from_fixed);
  CHECK(c->affected.size() == 2);
  in.versions = "1.0 - 1.4";
  in.fixed = "1.4.1";
  CHECK(advisory::check(in).ok());
}

TEST_CASE("advisory: a draft is TLP:AMBER, a published version TLP:WHITE", "[advisory]") {
  auto in = sample();
  auto c = advisory::check(in);
  REQUIRE(c.ok());
  CHECK(advisory::csaf(in, *c)["document"]["distribution"]["tlp"]["label"] == "WHITE");
  CHECK(advisory::text(in, *c).find("TLP:AMBER") == std::string::npos);
  in.version = 0;
  in.revisions.clear();
  json doc = advisory::csaf(in, *c);
  CHECK(doc["document"]["tracking"]["status"] == "draft");
  CHECK(doc["document"]["distribution"]["tlp"]["label"] == "AMBER");
  CHECK_THAT(advisory::text(in, *c), Catch::Contains("TLP:AMBER"));
}

TEST_CASE("advisory: references are http(s) URIs of printable ASCII", "[advisory]") {
  for (const char* good : {"https://example.com", "http://example.com/a/b?c=d&e=f#frag", "https://example.com/%20x",
                           "https://[2001:db8::1]:8443/x", "https://example.com/a(b)!$'*+,;=:@~"})
    CHECK(advisory::reference_url(good));
  for (const char* bad : {"https://", "https:///path", "ftp://example.com", "https://example.com/a b",
                          "https://example.com/a|b", "https://example.com/{x}", "https://example.com/\"x\"",
                          "https://example.com/<x>", "https://example.com/a\\b", "https://example.com/a^b",
                          "https://example.com/a`b", "https://example.com/caf\xc3\xa9", "https://example.com/%zz",
                          "https://example.com/%2", "https://example.com/a#b#c", "https://example.com/[x]",
                          "https://exa mple.com", "https://example.com/\x7f"}) {
    INFO(bad);
    CHECK_FALSE(advisory::reference_url(bad));
  }
  auto in = sample();
  in.references = {"https://example.com/a|b"};
  auto c = advisory::check(in);
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.error().message, Catch::Contains("not an http(s) URL"));
}

TEST_CASE("advisory: the CVE record refuses what it cannot say", "[advisory]") {
  auto refused = [](const advisory::Input& in, const char* words) {
    auto c = advisory::check(in);
    INFO((c.ok() ? std::string() : c.error().message));
    REQUIRE(c.ok());  // a CSAF document and a text can say it
    auto r = advisory::cve_record(in, *c, "CVE-2026-1234");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid);
    CHECK_THAT(r.error().message, Catch::Contains(words));
  };
  auto in = sample();
  in.versions = ">1.0 <2.0";
  in.fixed = "2.0";
  refused(in, "'>1.0 <2.0' starts after 1.0");
  refused(in, "--versions \">=1.0.1 <2.0\"");
  in.versions = ">1.0";
  in.fixed.reset();
  refused(in, "starts after 1.0");
  in = sample();
  in.details = std::string(4097, 'x');
  refused(in, "the details has 4097 characters; a CVE JSON 5 record holds at most 4096");
  in.details.clear();
  in.summary = std::string(5000, 'y');
  refused(in, "the summary has 5000 characters");
  in = sample();
  in.title = std::string(257, 't');
  refused(in, "the title has 257 characters");
  in = sample();
  in.product = std::string(2049, 'p');
  refused(in, "the product has 2049 characters");
  in = sample();
  in.publisher.vendor = std::string(513, 'v');
  refused(in, "the vendor has 513");
  in = sample();
  in.vendors = {{std::string(600, 'w'), "", "affected", std::nullopt}};
  refused(in, "a vendor's name");
  in = sample();
  in.credit = std::string(4097, 'c');
  refused(in, "the credit has 4097");
  in = sample();
  in.references = {"https://example.com/" + std::string(2030, 'r')};
  refused(in, "a reference URL has 2050");
  in = sample();
  in.versions = "1.0 - 1.4." + std::string(1028, '4');
  refused(in, "has 1032 characters");
  in = sample();
  in.publisher.cve_org_id = "not-a-uuid";
  refused(in, "cve_org_id is not a UUID");
  // maxLength counts characters, not bytes: 4096 two-byte characters fit.
  in = sample();
  std::string e_acute;
  for (int i = 0; i < 4096; ++i) e_acute += "\xc3\xa9";
  in.details = e_acute;
  auto c = advisory::check(in);
  REQUIRE(c.ok());
  auto r = advisory::cve_record(in, *c, "CVE-2026-1234");
  REQUIRE(r.ok());
  CHECK((*r)["containers"]["cna"]["descriptions"][0]["value"] == e_acute);
  in.title = std::string(256, 't');
  CHECK(advisory::cve_record(in, *c, "CVE-2026-1234").ok());
}

TEST_CASE("advisory: the CVE record says our own product once", "[advisory]") {
  auto in = sample();
  in.vendors = {{"Example Corp", "", "affected", std::nullopt}, {"acme", "", "not-affected", std::nullopt}};
  auto c = advisory::check(in);
  REQUIRE(c.ok());
  auto r = advisory::cve_record(in, *c, "CVE-2026-1234");
  REQUIRE(r.ok());
  const json& affected = (*r)["containers"]["cna"]["affected"];
  REQUIRE(affected.size() == 2);
  CHECK(affected[0]["vendor"] == "Example Corp");
  CHECK(affected[1]["vendor"] == "acme");
}
