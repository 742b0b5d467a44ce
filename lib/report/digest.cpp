#include "report/digest.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/util.hpp"

namespace cased {
namespace {

std::string age(std::int64_t now, std::int64_t t) {
  std::int64_t d = std::max<std::int64_t>(0, now - t);
  if (d < 3600) return fmt::format("{}m", d / 60);
  if (d < 86400) return fmt::format("{}h", d / 3600);
  return fmt::format("{}d", d / 86400);
}

// Days from today (UTC) to the embargo date: negative once it has passed.
std::int64_t days_until(std::int64_t now, const std::string& date) {
  auto when = parse_date(date);
  if (!when) return 0;
  std::int64_t today = now - now % 86400;
  return (*when - today) / 86400;
}

std::string embargo_note(std::int64_t now, const std::string& date) {
  std::int64_t days = days_until(now, date);
  if (days > 0) return fmt::format("embargo ends {} (in {}d)", date, days);
  if (days == 0) return fmt::format("embargo ends {} (today)", date);
  return fmt::format("embargo ENDED {} ({}d ago)", date, -days);
}

std::string render(const Digest& d, const std::string& tag, bool confidential) {
  std::string out;
  for (const auto& w : d.warnings) out += "WARNING: " + w + "\n";
  if (!d.warnings.empty()) out += "\n";
  bool any_case = std::any_of(d.sections.begin(), d.sections.end(), [](auto& s) { return !s.cases.empty(); });
  std::string vendors = render_vendor_alerts(d.vendors, d.now, tag, confidential);
  if (!any_case && vendors.empty()) {
    out += "Nothing to report: no new, stale, waiting or embargoed cases.\n";
    return out;
  }
  for (const auto& s : d.sections) {
    if (s.cases.empty()) continue;
    out += fmt::format("{} ({})\n", s.title, s.total);
    std::optional<std::optional<std::string>> group;
    for (const auto& c : s.cases) {
      if (!group || *group != c.assignee) {
        group = c.assignee;
        out += fmt::format("  {}\n", c.assignee.value_or("unassigned"));
      }
      // Short lines: this is read in mail clients as much as in terminals.
      out += fmt::format("    {:<10} {:<8} opened {} ago, idle {}", fmt::format("[{}#{}]", tag, c.id), c.status,
                         age(d.now, c.created), age(d.now, c.updated));
      if (confidential) {
        if (s.name == "embargo" && c.embargo) out += "; " + embargo_note(d.now, *c.embargo);
        out += "\n        " + clip(c.subject, 66);
      }
      out += "\n";
    }
    if (s.total > static_cast<std::int64_t>(s.cases.size()))
      out += fmt::format("  ... and {} more; the oldest {} are shown\n", s.total - static_cast<std::int64_t>(s.cases.size()),
                         s.cases.size());
    out += "\n";
  }
  return out + vendors;
}

}  // namespace

bool Digest::empty() const {
  return warnings.empty() && vendors.silent.empty() && vendors.bouncing.empty() &&
         std::all_of(sections.begin(), sections.end(), [](auto& s) { return s.cases.empty(); });
}

Result<Digest> build_digest(Store& store, int stale_days) {
  Digest d;
  d.now = now_unix();
  d.stale_days = stale_days;
  using K = SectionQuery::Kind;
  // The last embargo date that warns: kEmbargoWarningDays from today (UTC).
  std::string embargo_by = format_rfc3339(d.now - d.now % 86400 + kEmbargoWarningDays * 86400).substr(0, 10);
  struct Spec {
    K kind;
    const char* name;
    std::string title;
  };
  const Spec specs[] = {
      {K::embargo, "embargo", fmt::format("Embargo ending within {} days or past", kEmbargoWarningDays)},
      {K::new_unassigned, "new-unassigned", "New and unassigned"},
      {K::stale, "stale", fmt::format("No activity for {} days or more", stale_days)},
      {K::waiting, "waiting", "Waiting"},
  };
  // Grouped by assignee, unassigned last; within a group oldest first (for
  // embargoes, the earliest date first).
  auto order = [](bool by_embargo) {
    return [by_embargo](const CaseSummary& a, const CaseSummary& b) {
      if (a.assignee.has_value() != b.assignee.has_value()) return a.assignee.has_value();
      if (a.assignee != b.assignee) return *a.assignee < *b.assignee;
      if (by_embargo && a.embargo != b.embargo) return a.embargo < b.embargo;
      if (a.created != b.created) return a.created < b.created;
      return a.id < b.id;
    };
  };
  for (const auto& spec : specs) {
    SectionQuery q{spec.kind, d.now - std::int64_t{stale_days} * 86400, embargo_by, kDigestSectionCases};
    auto section = store.digest_section(q);
    if (!section) return section.error();
    DigestSection s{spec.name, spec.title, std::move(section->cases), section->total};
    std::stable_sort(s.cases.begin(), s.cases.end(), order(spec.kind == K::embargo));
    d.sections.push_back(std::move(s));
  }
  auto vendors = store.vendor_alerts(d.now - std::int64_t{stale_days} * 86400, kDigestSectionCases);
  if (!vendors) return vendors.error();
  d.vendors = std::move(*vendors);
  return d;
}

std::string render_digest(const Digest& d, const std::string& tag) { return render(d, tag, true); }
std::string render_digest_bare(const Digest& d, const std::string& tag) { return render(d, tag, false); }

nlohmann::json digest_json(const Digest& d) {
  nlohmann::json j = {{"generated", format_rfc3339(d.now)}, {"stale_days", d.stale_days}, {"warnings", d.warnings}};
  nlohmann::json sections = nlohmann::json::object();
  nlohmann::json totals = nlohmann::json::object();
  for (const auto& s : d.sections) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : s.cases)
      arr.push_back({{"id", c.id},
                     {"subject", c.subject},
                     {"status", c.status},
                     {"assignee", c.assignee ? nlohmann::json(*c.assignee) : nlohmann::json(nullptr)},
                     {"created", format_rfc3339(c.created)},
                     {"updated", format_rfc3339(c.updated)},
                     {"embargo", c.embargo ? nlohmann::json(*c.embargo) : nlohmann::json(nullptr)}});
    sections[s.name] = arr;
    totals[s.name] = s.total;
  }
  j["sections"] = sections;
  j["totals"] = totals;
  j["vendors"] = vendor_alerts_json(d.vendors);
  return j;
}

}  // namespace cased
