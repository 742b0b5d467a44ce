// The CVE JSON 5.1 record of one CVE id of an advisory: cveMetadata and
// the CNA container (advisory.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "core/util.hpp"
#include "cvd/advisory.hpp"
#include "cvd/advisory_parts.hpp"

namespace cased::advisory {
namespace {

using nlohmann::json;

json version_entry(const VersionRange& r, const char* status) {
  if (!r.is_range()) return json{{"version", r.exact}, {"status", status}};
  json v{{"version", r.low.value_or("0")}, {"status", status}, {"versionType", "custom"}};
  if (r.high) v[r.high_inclusive ? "lessThanOrEqual" : "lessThan"] = *r.high;
  else v["lessThan"] = "*";
  return v;
}

std::string our_vendor(const Input& in) {
  return in.publisher.vendor.empty() ? in.publisher.name : in.publisher.vendor;
}

json affected(const Input& in, const Checked& c, std::string_view cve) {
  json out = json::array();
  json versions = json::array();
  for (const auto& r : c.affected) versions.push_back(version_entry(r, "affected"));
  for (const auto& r : c.fixed) versions.push_back(version_entry(r, "unaffected"));
  json ours{{"vendor", our_vendor(in)}, {"product", *in.product}};
  if (versions.empty()) ours["defaultStatus"] = "affected";
  else ours["versions"] = versions, ours["defaultStatus"] = "unknown";
  out.push_back(ours);
  for (const auto& vendor : listed_vendors(in)) {
    if (vendor == our_vendor(in)) continue;  // ours is said above, from the case's versions
    const VendorState* s = vendor_state(in, vendor, std::string(cve));
    std::string word = csaf_status_word(s);
    if (word != "known_affected" && word != "known_not_affected") continue;
    out.push_back({{"vendor", vendor}, {"product", *in.product},
                   {"defaultStatus", word == "known_affected" ? "affected" : "unaffected"}});
  }
  return out;
}

json container(const Input& in, const Checked& c, std::string_view cve) {
  json cna{{"providerMetadata", {{"orgId", in.publisher.cve_org_id}, {"dateUpdated", format_rfc3339(in.now)}}},
           {"title", in.title},
           {"descriptions", json::array({{{"lang", "en"}, {"value", description(in)}}})},
           {"affected", affected(in, c, cve)}};
  json refs = json::array();
  refs.push_back({{"url", canonical_url(in)}, {"name", in.tracking_id}, {"tags", json::array({"vendor-advisory"})}});
  for (const auto& url : in.references) refs.push_back({{"url", url}});
  cna["references"] = refs;
  if (c.cvss)
    cna["metrics"] = json::array({{{"format", "CVSS"},
                                   {"cvssV3_1", {{"version", "3.1"},
                                                 {"vectorString", c.cvss->vector},
                                                 {"baseScore", c.cvss->base_score},
                                                 {"baseSeverity", c.cvss->severity}}}}});
  if (in.credit && !in.credit->empty())
    cna["credits"] = json::array({{{"lang", "en"}, {"value", *in.credit}, {"type", "finder"}}});
  if (in.version > 0) cna["datePublic"] = format_rfc3339(in.initial_release);
  return cna;
}

// The schema's uuidType (a version 4 UUID).
bool uuid(std::string_view s) {
  static constexpr std::string_view form = "xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx";
  if (s.size() != form.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i], f = form[i];
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (f == 'x' ? !hex : f == 'Y' ? std::string_view("89ABab").find(c) == std::string_view::npos : c != f)
      return false;
  }
  return true;
}

// Unicode characters, as the schema's maxLength counts them.
std::size_t characters(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

Status too_long(std::string_view what, std::string_view value, std::size_t max, std::string_view fix) {
  if (characters(value) <= max) return ok_status();
  return Error{Errc::invalid, fmt::format("{} has {} characters; a CVE JSON 5 record holds at most {} there: {}", what,
                                          characters(value), max, fix)};
}

// CVE JSON 5 has no exclusive lower bound: a range starts at its first
// affected version ("version", included).
Status expressible(const Checked& c) {
  for (const auto& r : c.affected) {
    if (!r.low || r.low_inclusive) continue;
    std::string example = ">=" + *r.low + ".1";
    if (r.high) example += (r.high_inclusive ? " <=" : " <") + *r.high;
    return Error{Errc::invalid,
                 fmt::format("versions: '{}' starts after {}, which a CVE JSON 5 record cannot say (a range there "
                             "starts at its first affected version): name that version (casectl set ID --versions "
                             "\"{}\" if {}.1 is the next one)", r.label(), *r.low, example, *r.low)};
  }
  return ok_status();
}

// Every maxLength of the CVE JSON 5.1 schema a field can reach: refused,
// never cut short.
Status fits(const Input& in, const Checked& c) {
  std::vector<Status> checks{
      too_long("the title", in.title, 256, "shorten it (casectl advisory ID set title TEXT)"),
      too_long(in.details.empty() ? in.summary.empty() ? "the title" : "the summary" : "the details", description(in),
               4096, "shorten it (casectl advisory ID set details|summary TEXT)"),
      too_long("the vendor", our_vendor(in), 512, "shorten [advisory] vendor"),
      too_long("the product", *in.product, 2048, "shorten it (casectl set ID --product NAME)"),
      too_long("the tracking id", in.tracking_id, 512, "shorten [advisory] id_prefix"),
      too_long("the canonical URL", canonical_url(in), 2048, "shorten [advisory] base_url"),
      too_long("the credit", in.credit.value_or(""), 4096, "shorten it (casectl advisory ID set credit NAME)")};
  for (const auto& r : c.affected)
    for (const auto* v : {&r.exact, r.low ? &*r.low : nullptr, r.high ? &*r.high : nullptr})
      if (v) checks.push_back(too_long(fmt::format("version '{}...'", v->substr(0, 20)), *v, 1024, "shorten it"));
  for (const auto& r : c.fixed)
    checks.push_back(
        too_long(fmt::format("fixed version '{}...'", r.exact.substr(0, 20)), r.exact, 1024, "shorten it"));
  for (const auto& url : in.references) checks.push_back(too_long("a reference URL", url, 2048, "shorten it"));
  for (const auto& vendor : listed_vendors(in))
    checks.push_back(too_long("a vendor's name in the case", vendor, 512, "shorten it"));
  for (auto& s : checks)
    if (!s) return s.error();
  if (in.references.size() + 1 > 512)
    return Error{Errc::invalid, fmt::format("{} references; a CVE JSON 5 record holds at most 511 besides the "
                                            "advisory's own", in.references.size())};
  return expressible(c);
}

}  // namespace

Result<json> cve_record(const Input& in, const Checked& c, std::string_view cve) {
  if (in.publisher.cve_org_id.empty())
    return Error{Errc::invalid, "[advisory] cve_org_id is not set: the CVE Program's UUID of your CNA"};
  if (std::find(in.cves.begin(), in.cves.end(), cve) == in.cves.end())
    return Error{Errc::invalid, fmt::format("{} is not a CVE id of this case", cve)};
  if (!uuid(in.publisher.cve_org_id))
    return Error{Errc::invalid, "[advisory] cve_org_id is not a UUID (the CVE Program's UUID of your CNA)"};
  if (auto f = fits(in, c); !f) return f.error();
  json meta{{"cveId", cve}, {"assignerOrgId", in.publisher.cve_org_id}, {"state", "PUBLISHED"}};
  if (in.version > 0) meta["datePublished"] = format_rfc3339(in.initial_release);
  return json{{"dataType", "CVE_RECORD"},
              {"dataVersion", "5.1"},
              {"cveMetadata", meta},
              {"containers", {{"cna", container(in, c, cve)}}}};
}

}  // namespace cased::advisory
