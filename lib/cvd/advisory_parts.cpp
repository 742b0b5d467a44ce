#include "cvd/advisory_parts.hpp"

#include <algorithm>
#include <set>

namespace cased::advisory {

const VendorState* vendor_state(const Input& in, const std::string& vendor, const std::string& cve) {
  const VendorState* whole = nullptr;
  for (const auto& s : in.vendors) {
    if (s.vendor != vendor) continue;
    if (!cve.empty() && s.cve == cve) return &s;
    if (s.cve.empty()) whole = &s;
  }
  return whole;
}

std::string csaf_status_word(const VendorState* s) {
  if (!s) return "";
  if (s->state == "affected") return "known_affected";
  if (s->state == "not-affected") return "known_not_affected";
  if (s->state == "fixed") return "fixed";
  if (s->state == "investigating") return "under_investigation";
  return "";
}

std::vector<std::string> listed_vendors(const Input& in) {
  std::set<std::string> names;
  for (const auto& s : in.vendors) {
    bool counts = s.cve.empty() || in.cves.empty() ||
                  std::find(in.cves.begin(), in.cves.end(), s.cve) != in.cves.end();
    if (counts && !csaf_status_word(&s).empty()) names.insert(s.vendor);
  }
  return {names.begin(), names.end()};
}

std::string description(const Input& in) {
  if (!in.details.empty()) return in.details;
  if (!in.summary.empty()) return in.summary;
  return in.title;
}

std::string fixed_list(const Checked& c) {
  std::string out;
  for (const auto& r : c.fixed) out += (out.empty() ? "" : ", ") + r.exact;
  return out;
}

}  // namespace cased::advisory
