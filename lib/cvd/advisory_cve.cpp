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

json affected(const Input& in, const Checked& c, std::string_view cve) {
  json out = json::array();
  json versions = json::array();
  for (const auto& r : c.affected) versions.push_back(version_entry(r, "affected"));
  if (c.affected.empty() && !c.fixed.empty()) {
    VersionRange before;
    before.high = c.fixed.front().exact;
    before.high_inclusive = false;
    versions.push_back(version_entry(before, "affected"));
  }
  for (const auto& r : c.fixed) versions.push_back(version_entry(r, "unaffected"));
  json ours{{"vendor", in.publisher.vendor.empty() ? in.publisher.name : in.publisher.vendor},
            {"product", *in.product}};
  if (versions.empty()) ours["defaultStatus"] = "affected";
  else ours["versions"] = versions, ours["defaultStatus"] = "unknown";
  out.push_back(ours);
  for (const auto& vendor : listed_vendors(in)) {
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
           {"title", in.title.substr(0, 256)},
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

}  // namespace

Result<json> cve_record(const Input& in, const Checked& c, std::string_view cve) {
  if (in.publisher.cve_org_id.empty())
    return Error{Errc::invalid, "[advisory] cve_org_id is not set: the CVE Program's UUID of your CNA"};
  if (std::find(in.cves.begin(), in.cves.end(), cve) == in.cves.end())
    return Error{Errc::invalid, fmt::format("{} is not a CVE id of this case", cve)};
  json meta{{"cveId", cve}, {"assignerOrgId", in.publisher.cve_org_id}, {"state", "PUBLISHED"}};
  if (in.version > 0) meta["datePublished"] = format_rfc3339(in.initial_release);
  return json{{"dataType", "CVE_RECORD"},
              {"dataVersion", "5.1"},
              {"cveMetadata", meta},
              {"containers", {{"cna", container(in, c, cve)}}}};
}

}  // namespace cased::advisory
