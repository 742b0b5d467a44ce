#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include <fmt/format.h>

#include "cases/disclosure.hpp"
#include "core/text.hpp"
#include "store/store.hpp"

using namespace cased;

TEST_CASE("disclosure: CVSS v3.1 base scores match the specification's calculator", "[disclosure]") {
  // Scores as FIRST's v3.1 calculator gives them.
  struct Row {
    const char* vector;
    double score;
    const char* severity;
  };
  const Row rows[] = {
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "critical"},
      {"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, "high"},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium"},
      {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9, "medium"},
      {"CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, "low"},
      {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9, "critical"},
      {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, "none"},
      // Metrics in another order, with temporal metrics after them.
      {"CVSS:3.1/S:U/AV:N/AC:L/PR:N/UI:N/C:H/I:H/A:H/E:P/RL:O", 9.8, "critical"},
  };
  for (const auto& r : rows) {
    INFO(r.vector);
    auto c = parse_cvss(r.vector);
    REQUIRE(c.ok());
    CHECK(c->version == "3.1");
    REQUIRE(c->base_score);
    CHECK(*c->base_score == Approx(r.score).margin(1e-9));
    CHECK(c->severity == std::optional<std::string>(r.severity));
  }
}

TEST_CASE("disclosure: CVSS v4.0 vectors are validated, unscored", "[disclosure]") {
  auto c = parse_cvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/U:Red");
  REQUIRE(c.ok());
  CHECK(c->version == "4.0");
  CHECK_FALSE(c->base_score);
  // v4.0 fixes the order.
  CHECK_FALSE(parse_cvss("CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").ok());
  CHECK_FALSE(parse_cvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N").ok());  // SA missing
}

TEST_CASE("disclosure: bad vectors are refused with the reason", "[disclosure]") {
  const char* bad[] = {
      "",
      "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",        // another version
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",            // A missing
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L",    // twice
      "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",        // bad value
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1",   // unknown metric
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",       // empty part
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:",
      "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
  };
  for (const char* v : bad) {
    INFO(v);
    auto c = parse_cvss(v);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Errc::invalid);
    CHECK(c.error().message.find("does not parse") != std::string::npos);
  }
}

TEST_CASE("disclosure: CVE ids and dates", "[disclosure]") {
  CHECK(valid_cve_id("CVE-2026-12345"));
  CHECK(valid_cve_id("CVE-1999-0001"));
  CHECK(valid_cve_id("CVE-2026-1234567"));
  CHECK_FALSE(valid_cve_id("CVE-2026-123"));
  CHECK_FALSE(valid_cve_id("cve-2026-12345"));
  CHECK_FALSE(valid_cve_id("CVE-26-12345"));
  CHECK_FALSE(valid_cve_id("CVE-2026-12a45"));
  CHECK(parse_date("1970-01-01") == std::optional<std::int64_t>(0));
  CHECK(parse_date("2026-12-01") == std::optional<std::int64_t>(1796083200));
  CHECK(parse_date("2028-02-29"));
  CHECK_FALSE(parse_date("2026-02-29"));
  CHECK_FALSE(parse_date("2026-13-01"));
  CHECK_FALSE(parse_date("2026-1-01"));
  CHECK_FALSE(parse_date("2026-12-01T00:00:00Z"));
}

namespace {

// validate()'s message for a change of product (or versions) to `value`, "" when it passes.
std::string refusal(const std::string& value, bool versions = false) {
  DisclosureChange c;
  (versions ? c.versions : c.product) = value;
  auto st = validate(c);
  return st ? std::string() : st.error().message;
}

}  // namespace

TEST_CASE("disclosure: product and versions are one line of plain text, bounded", "[disclosure]") {
  for (const char* good : {"", "Widget Server", "Wídget Sérver 企業版", "1.0 - 1.4, 2.0", "עברית product"}) {
    INFO(good);
    CHECK(refusal(good) == "");
    CHECK(refusal(good, true) == "");
  }
  // The review's forged line: an escape sequence and a line that reads as the advisory's own.
  CHECK(refusal("Wid\x1b[31mget\nFixed: all") ==
        "product: holds a control character (U+001B); it must be one line of plain text");
  CHECK(refusal("Widget\nFixed: all", true) ==
        "versions: holds a line break (U+000A); it must be one line of plain text");
  CHECK(refusal("Widget\r") == "product: holds a line break (U+000D); it must be one line of plain text");
  CHECK(refusal("Widget\tServer") == "product: holds a control character (U+0009); it must be one line of plain text");
  CHECK(refusal("Widget\x7f") == "product: holds a control character (U+007F); it must be one line of plain text");
  CHECK(refusal("Widget\xc2\x85 Fixed") == "product: holds a line break (U+0085); it must be one line of plain text");
  CHECK(refusal("Widget\xc2\x9b" "31m") ==
        "product: holds a control character (U+009B); it must be one line of plain text");
  CHECK(refusal("Widget\xe2\x80\xa8" "Fixed: all") ==
        "product: holds a line break (U+2028); it must be one line of plain text");
  CHECK(refusal("Widget \xff") == "product: holds bytes that are not UTF-8; it must be one line of plain text");
  CHECK(refusal("1.0 \xed\xa0\x80", true) ==
        "versions: holds bytes that are not UTF-8; it must be one line of plain text");
  // Bidi controls and invisible format characters that make the text read otherwise than it is.
  struct Row {
    const char* bytes;
    const char* named;
  };
  const Row hidden[] = {
      {"\xe2\x80\xae", "a bidi control that reorders text (U+202E)"},  // RIGHT-TO-LEFT OVERRIDE
      {"\xe2\x80\xaa", "a bidi control that reorders text (U+202A)"},
      {"\xe2\x81\xa6", "a bidi control that reorders text (U+2066)"},  // LEFT-TO-RIGHT ISOLATE
      {"\xe2\x81\xa9", "a bidi control that reorders text (U+2069)"},
      {"\xe2\x80\x8b", "an invisible format character (U+200B)"},      // ZERO WIDTH SPACE
      {"\xe2\x80\x8d", "an invisible format character (U+200D)"},
      {"\xe2\x80\x8f", "an invisible format character (U+200F)"},      // RIGHT-TO-LEFT MARK
      {"\xe2\x80\xa9", "a line break (U+2029)"},
      {"\xe2\x81\xa0", "an invisible format character (U+2060)"},      // WORD JOINER
      {"\xef\xbb\xbf", "an invisible format character (U+FEFF)"},
      {"\xd8\x9c", "an invisible format character (U+061C)"},
  };
  for (const auto& h : hidden) {
    INFO(h.named);
    CHECK(refusal(std::string("1.0") + h.bytes + " - 1.4", true) ==
          fmt::format("versions: holds {}; it must be one line of plain text", h.named));
    CHECK(refusal(std::string("Widget ") + h.bytes) ==
          fmt::format("product: holds {}; it must be one line of plain text", h.named));
  }
  CHECK(refusal(std::string(kMaxProduct, 'x')) == "");
  CHECK(refusal(std::string(kMaxProduct + 1, 'x')) == "product: longer than 200 bytes");
  CHECK(refusal(std::string(kMaxVersions, '1'), true) == "");
  CHECK(refusal(std::string(kMaxVersions + 1, '1'), true) == "versions: longer than 500 bytes");
}

TEST_CASE("text: disguising characters in long texts are the controls and the reordering ones", "[disclosure][text]") {
  CHECK_FALSE(disguising_character("Line one\n\tLine two\n", true));
  // Marks and joiners have uses in running text (Persian, emoji); overrides and isolates reorder it.
  CHECK_FALSE(disguising_character("\xd9\x85\xe2\x80\x8c\xd9\x86 \xe2\x80\x8f.", true));
  CHECK(disguising_character("if (x) {\xe2\x80\xae } \xe2\x81\xa6", true) ==
        std::optional<std::string>("a bidi control that reorders text (U+202E)"));
  CHECK(disguising_character("a\r\nb", true) == std::optional<std::string>("a line break (U+000D)"));
  CHECK(disguising_character("a\x1b[2Jb", true) == std::optional<std::string>("a control character (U+001B)"));
  CHECK(disguising_character("a\nb") == std::optional<std::string>("a line break (U+000A)"));
}

TEST_CASE("disclosure: the store records each change as an event and clears fields", "[disclosure][store]") {
  char tmpl[] = "/tmp/cased-test-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  {
    auto opened = Store::open((dir / "cases.db").string(), StoreOptions{});
    REQUIRE(opened.ok());
    Store& s = *opened;
    PreparedMessage p;
    p.raw = "Message-ID: <d@x>\r\nSubject: s\r\n\r\nb\r\n";
    p.sha256 = normalized_sha256(p.raw);
    p.parsed.message_id = "d@x";
    p.parsed.from = "r@example.org";
    p.parsed.to = {"security@example.com"};
    std::vector<PreparedMessage> batch;
    batch.push_back(std::move(p));
    auto r = s.ingest(batch);
    REQUIRE(r.ok());
    REQUIRE(r->at(0).ok());
    std::int64_t id = r->at(0)->case_id;

    DisclosureChange c;
    c.embargo = "2026-12-01";
    c.add_cves = {"CVE-2026-1111", "CVE-2026-2222"};
    c.cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    auto changes = s.set_disclosure(id, c, "alice");
    REQUIRE(changes.ok());
    CHECK(changes->size() == 4);
    // The same change again changes nothing.
    CHECK(s.set_disclosure(id, c, "alice")->empty());

    DisclosureChange clear;
    clear.embargo = "";
    clear.remove_cves = {"CVE-2026-1111"};
    REQUIRE(s.set_disclosure(id, clear, "bob")->size() == 2);

    auto d = s.get_case(id);
    REQUIRE(d.ok());
    CHECK_FALSE(d->disclosure.embargo);
    CHECK(d->disclosure.cves == std::vector<std::string>{"CVE-2026-2222"});
    REQUIRE(d->disclosure.cvss);
    CHECK(*d->disclosure.cvss->base_score == Approx(9.8));
    int events = 0;
    for (const auto& e : d->events)
      if (e.kind == "disclosure") ++events;
    CHECK(events == 6);
    CHECK(d->events.back().actor == "bob");
    CHECK(d->events.back().detail == "cve: -CVE-2026-1111");

    auto hits = s.search("CVE-2026-2222");
    REQUIRE(hits.ok());
    CHECK(hits->size() == 1);
    CHECK(s.search("CVE-2026-1111")->empty());

    DisclosureChange invalid;
    invalid.add_cves = {"CVE-1"};
    auto refused = s.set_disclosure(id, invalid, "alice");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Errc::invalid);
    CHECK(s.set_disclosure(9999, c, "alice").error().code == Errc::not_found);

    // A forged product is refused by the store too, and leaves the case as it was.
    DisclosureChange forged;
    forged.product = "Wid\x1b[31mget\nFixed: all";
    REQUIRE(s.set_disclosure(id, forged, "alice").error().code == Errc::invalid);
    CHECK_FALSE(s.get_case(id)->disclosure.product);
  }
  std::filesystem::remove_all(dir);
}

#include "cvd/securitytxt.hpp"

TEST_CASE("securitytxt: WKD hash and locations", "[securitytxt]") {
  // The example of draft-koch-openpgp-webkey-service, section 3.1.
  CHECK(wkd_hash("Joe.Doe") == "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
  auto w = wkd_location("Joe.Doe@Example.ORG");
  CHECK(w.direct == "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
  CHECK(w.advanced ==
        "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe");
}

TEST_CASE("securitytxt: the file and its expiry warning", "[securitytxt]") {
  auto cfg = parse_config(
      "[case]\ndatabase = \"/tmp/x.db\"\nalias = \"security@example.com\"\n"
      "[securitytxt]\ncontact = [\"mailto:security@example.com\", \"https://example.com/report\"]\n"
      "expires = \"2027-01-01T00:00:00Z\"\npolicy = \"https://example.com/policy\"\n",
      "t.toml");
  REQUIRE(cfg.ok());
  std::int64_t now = 1795424400;  // 2026-11-23T09:00:00Z
  std::string text = render_securitytxt(*cfg, now);
  CHECK(text.rfind("Contact: mailto:security@example.com\nContact: https://example.com/report\n", 0) == 0);
  CHECK(text.find("Expires: 2027-01-01T00:00:00Z\n") != std::string::npos);
  CHECK(text.find("Policy: https://example.com/policy\n") != std::string::npos);
  CHECK_FALSE(securitytxt_expiry_warning(*cfg, now));
  auto soon = securitytxt_expiry_warning(*cfg, now + 20 * 86400);
  REQUIRE(soon);
  CHECK(soon->find("expires on 2027-01-01 (in 18 days)") != std::string::npos);
  CHECK(securitytxt_expiry_warning(*cfg, now + 60 * 86400)->find("expired on 2027-01-01") != std::string::npos);

  auto bad = parse_config(
      "[case]\ndatabase = \"/tmp/x.db\"\nalias = \"security@example.com\"\n[securitytxt]\nexpires = \"soon\"\n", "t.toml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "t.toml:5: securitytxt.expires: expected a date-time like 2027-11-23T00:00:00Z");
}
