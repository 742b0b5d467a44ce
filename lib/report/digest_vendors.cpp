// The digest's vendors section: vendors that owe a reply for stale_days or
// more, and contacts or notifications that bounced. Vendor names and
// addresses only in the confidential digest (an analyst's screen or an
// encrypted mail); the bare one counts them.
#include <fmt/format.h>

#include "core/text.hpp"
#include "core/util.hpp"
#include "report/digest.hpp"

namespace cased {
namespace {

std::string days(std::int64_t now, std::int64_t t) { return fmt::format("{}d", std::max<std::int64_t>(0, now - t) / 86400); }

std::string more(std::int64_t total, std::size_t shown) {
  if (total <= static_cast<std::int64_t>(shown)) return {};
  return fmt::format("  ... and {} more; the oldest {} are shown\n", total - static_cast<std::int64_t>(shown), shown);
}

}  // namespace

std::string render_vendor_alerts(const VendorAlerts& v, std::int64_t now, const std::string& tag, bool confidential) {
  if (v.silent.empty() && v.bouncing.empty()) return {};
  std::string out;
  if (!confidential)
    return fmt::format("Vendors: {} without a reply, {} bouncing\n\n", v.silent_total, v.bouncing_total);
  if (!v.silent.empty()) {
    out += fmt::format("Vendors notified without a reply ({})\n", v.silent_total);
    for (const auto& s : v.silent)
      out += fmt::format("    {:<10} {} notified {} ago, no reply yet\n", fmt::format("[{}#{}]", tag, s.case_id),
                         display_safe(s.vendor), days(now, s.waiting_since));
    out += more(v.silent_total, v.silent.size()) + "\n";
  }
  if (!v.bouncing.empty()) {
    out += fmt::format("Vendor contacts bouncing ({})\n", v.bouncing_total);
    for (const auto& b : v.bouncing) {
      std::string where = b.case_id ? fmt::format("[{}#{}] notification", tag, *b.case_id) : std::string("contact");
      out += fmt::format("    {} {}: {} (since {})\n", display_safe(b.vendor), where, clip(b.address, 120),
                         format_rfc3339(b.since));
    }
    out += more(v.bouncing_total, v.bouncing.size()) + "\n";
  }
  return out;
}

nlohmann::json vendor_alerts_json(const VendorAlerts& v) {
  nlohmann::json silent = nlohmann::json::array(), bouncing = nlohmann::json::array();
  for (const auto& s : v.silent)
    silent.push_back({{"case", s.case_id}, {"vendor", s.vendor}, {"waiting_since", format_rfc3339(s.waiting_since)}});
  for (const auto& b : v.bouncing)
    bouncing.push_back({{"case", b.case_id ? nlohmann::json(*b.case_id) : nlohmann::json(nullptr)},
                        {"vendor", b.vendor},
                        {"address", b.address},
                        {"since", format_rfc3339(b.since)}});
  return {{"silent", silent},
          {"bouncing", bouncing},
          {"totals", {{"silent", v.silent_total}, {"bouncing", v.bouncing_total}}}};
}

}  // namespace cased
