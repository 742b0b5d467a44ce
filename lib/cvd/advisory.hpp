// Advisories as documents, built from what the store holds without I/O: a
// CSAF 2.0 document (profile csaf_security_advisory), a CVE JSON 5.1 record
// (CNA container) and a plain-text advisory. Everything a document says
// comes from Input, which the caller fills only with what analysts set:
// nothing of a reporter's mail is in it unless an analyst put it there.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "cvd/cvss.hpp"

namespace cased::advisory {

// [advisory] in the configuration.
struct Publisher {
  std::string name;        // document.publisher.name
  std::string namespace_;  // document.publisher.namespace (a URL)
  std::string base_url;    // where the provider directory is served (no trailing /)
  std::string category = "vendor";  // coordinator | discoverer | other | user | vendor
  std::string contact;     // document.publisher.contact_details ("" leaves it out)
  std::string vendor;      // the product's vendor in the product tree ("" = name)
  std::string cve_org_id;  // the CNA's UUID in the CVE Program ("" = no CVE records)
};

struct Revision {
  int number = 0;
  std::int64_t date = 0;
  std::string summary;
};

// A vendor's status in the case: cve "" for every CVE id of the case.
struct VendorState {
  std::string vendor, cve, state;  // state: unknown investigating affected not-affected fixed unresponsive
  std::optional<std::string> statement;
};

struct Input {
  Publisher publisher;
  std::string tracking_id;
  int version = 0;                 // 0: never published (a draft)
  std::int64_t initial_release = 0;
  std::int64_t current_release = 0;
  std::vector<Revision> revisions;  // oldest first; empty for a draft
  std::string title, summary, details, remediation;
  std::optional<std::string> credit, fixed;
  std::vector<std::string> references;
  // From the case's disclosure fields and its vendors.
  std::vector<std::string> cves;
  std::optional<std::string> cvss, product, versions;
  std::vector<VendorState> vendors;
  std::string generator;           // "cased 1.0.0"
  std::int64_t now = 0;
};

// One affected (or fixed) version expression: an exact version, or a range
// with a lower and/or upper bound.
struct VersionRange {
  std::string exact;                       // set for one version
  std::optional<std::string> low, high;    // a range
  bool low_inclusive = true, high_inclusive = true;
  bool is_range() const { return exact.empty(); }
  std::string vers() const;   // "vers:generic/>=1.0|<=1.4"
  std::string label() const;  // "1.0 to 1.4", "before 2.0", ">1.0 <=2.0", "1.3"
  bool contains(std::string_view version) const;  // by compare_versions
  bool same_as(const VersionRange& other) const;  // the same versions, however written
};

// Compares two versions segment by segment (digits as numbers, other runs
// as text); <0, 0 or >0. A pre-release sorts before its release: "~"
// before anything, even the end (Debian: 1.0~rc1 < 1.0), and "-" followed
// by a letter (semver: 2.0.0-rc1 < 2.0.0-rc2 < 2.0.0); "1.0-1" and "1.0.1"
// sort after "1.0".
int compare_versions(std::string_view a, std::string_view b);

// "1.2", "1.0 - 1.4" (both ends included), ">=1.0 <1.4", "<2.0", "<=2.0",
// ">=1.0", separated by commas. Refused (Errc::invalid naming it): a range
// whose ends are equal or inverted, an empty item, a version with
// characters outside [A-Za-z0-9._+~-] or not starting with a letter or
// digit, a version holding a word CSAF reads as a range (after, all,
// before, earlier, later, prior, versions; any case, anywhere in it), and
// an item listed twice ("1.2, 1.2", or "1.0 - 1.4, >=1.0 <=1.4").
Result<std::vector<VersionRange>> parse_versions(std::string_view text, std::string_view field);

// An http(s) URL as RFC 3986 has it: printable ASCII, a host, no space or
// " < > \ ^ ` { | }, "%" only before two hex digits (a reference).
bool reference_url(std::string_view url);

// What check() found valid, parsed. affected is what the documents list
// as affected: the versions given, or, when none are given and exactly one
// fixed version is, the versions before it (affected_from_fixed).
struct Checked {
  std::vector<VersionRange> affected, fixed;
  bool affected_from_fixed = false;
  std::optional<cvss::Cvss31> cvss;  // a v3.1 vector; a v4.0 one has no place in CSAF 2.0
  bool cvss_v4 = false;
};

// Every refusal before a document is built: an empty title, no product, a
// CVE id in the wrong form, a CVSS vector that does not parse, versions
// that cannot be expressed, a fixed version among the affected ones,
// several fixed versions and no affected ones, a reference that is not an
// http(s) URL, an incomplete [advisory] section. Errc::invalid naming the
// first problem.
Result<Checked> check(const Input& in);

// CSAF 2.0 (csaf_json.cpp): the document and its canonical URL.
nlohmann::json csaf(const Input& in, const Checked& c);
std::string csaf_status(const Input& in);  // "draft" | "final"
// The CVE JSON 5.1 record of one CVE id of the case (advisory_cve.cpp).
// Refused (Errc::invalid, never cut short) when the record cannot say what
// the advisory says: a range with an exclusive lower bound (">1.0"), a
// text or name longer than the CVE schema allows, a cve_org_id that is not
// a UUID.
Result<nlohmann::json> cve_record(const Input& in, const Checked& c, std::string_view cve);
// The plain-text advisory (advisory_text.cpp).
std::string text(const Input& in, const Checked& c);

// CSAF 5.1: the tracking id lower-cased, every character outside
// [+\-a-z0-9] made "_", then ".json".
std::string file_name(std::string_view tracking_id);
// The year of the initial release (the directory of the file), and the
// document's path under the provider directory: "2026/example-sa-2026-0001.json".
int year_of(std::int64_t unix_seconds);
std::string document_path(const Input& in);
std::string canonical_url(const Input& in);

}  // namespace cased::advisory
