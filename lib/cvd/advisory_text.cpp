// The plain-text advisory (advisory.hpp): what the clear-signed copy and
// the announcement carry.
#include <fmt/format.h>

#include "core/util.hpp"
#include "cvd/advisory.hpp"
#include "cvd/advisory_parts.hpp"

namespace cased::advisory {
namespace {

void section(std::string& out, std::string_view heading, std::string_view body) {
  if (body.empty()) return;
  out += fmt::format("\n{}\n{}\n{}\n", heading, std::string(heading.size(), '='), body);
  if (body.back() != '\n') out += "\n";
}

std::string date_of(std::int64_t t) { return format_rfc3339(t).substr(0, 10); }

std::string products(const Input& in, const Checked& c) {
  std::string vendor = in.publisher.vendor.empty() ? in.publisher.name : in.publisher.vendor;
  std::string out;
  if (c.affected.empty() && c.fixed.empty()) out += fmt::format("Affected: {} {}\n", vendor, *in.product);
  for (const auto& r : c.affected) out += fmt::format("Affected: {} {} {}\n", vendor, *in.product, r.label());
  for (const auto& r : c.fixed) out += fmt::format("Fixed:    {} {} {}\n", vendor, *in.product, r.exact);
  for (const auto& v : listed_vendors(in)) {
    const VendorState* s = vendor_state(in, v, "");
    if (s) out += fmt::format("Vendor {}: {}{}\n", v, s->state, s->statement ? " - " + *s->statement : "");
  }
  return out;
}

}  // namespace

std::string text(const Input& in, const Checked& c) {
  std::string out = fmt::format("{}: {}\n\n", in.tracking_id, in.title);
  out += fmt::format("Publisher:       {}\n", in.publisher.name);
  out += fmt::format("Advisory ID:     {}\n", in.tracking_id);
  out += fmt::format("Version:         {}{}\n", in.version, in.version == 0 ? " (draft)" : "");
  if (in.version == 0) out += "Distribution:    TLP:AMBER (a draft: not for publication)\n";
  if (in.version > 0) {
    out += fmt::format("Initial release: {}\n", date_of(in.initial_release));
    out += fmt::format("Current release: {}\n", date_of(in.current_release));
  }
  std::string cves;
  for (const auto& id : in.cves) cves += (cves.empty() ? "" : ", ") + id;
  if (!cves.empty()) out += fmt::format("CVE:             {}\n", cves);
  if (c.cvss) out += fmt::format("CVSS 3.1:        {:.1f} {} ({})\n", c.cvss->base_score, c.cvss->severity, c.cvss->vector);
  else if (c.cvss_v4 && in.cvss) out += fmt::format("CVSS 4.0:        {}\n", *in.cvss);
  out += fmt::format("CSAF:            {}\n", canonical_url(in));
  section(out, "Affected products", products(in, c));
  section(out, "Summary", in.summary);
  section(out, "Details", in.details);
  std::string remedy = in.remediation;
  if (remedy.empty() && !c.fixed.empty()) remedy = fmt::format("Update to {} {}.", *in.product, fixed_list(c));
  section(out, "Remediation", remedy);
  std::string refs;
  for (const auto& r : in.references) refs += r + "\n";
  section(out, "References", refs);
  if (in.credit && !in.credit->empty()) section(out, "Acknowledgments", "Thanks to " + *in.credit + ".");
  std::string history;
  for (const auto& r : in.revisions) history += fmt::format("{:>3}  {}  {}\n", r.number, date_of(r.date), r.summary);
  section(out, "Revision history", history);
  return out;
}

}  // namespace cased::advisory
