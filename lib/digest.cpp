#include "digest.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "util.hpp"

namespace cased {
namespace {

std::string age(std::int64_t now, std::int64_t t) {
  std::int64_t d = std::max<std::int64_t>(0, now - t);
  if (d < 3600) return fmt::format("{}m", d / 60);
  if (d < 86400) return fmt::format("{}h", d / 3600);
  return fmt::format("{}d", d / 86400);
}

std::string render(const Digest& d, const std::string& tag, bool with_subjects) {
  if (d.empty()) return "Nothing to report: no new, stale or waiting cases.\n";
  std::string out;
  for (const auto& s : d.sections) {
    if (s.cases.empty()) continue;
    out += fmt::format("{} ({})\n", s.title, s.cases.size());
    for (const auto& c : s.cases) {
      out += fmt::format("  {:<12} {:<9} {:<12} opened {:>4} ago, idle {:>4}", fmt::format("[{}#{}]", tag, c.id),
                         c.status, c.assignee.value_or("unassigned"), age(d.now, c.created), age(d.now, c.updated));
      if (with_subjects) {
        std::string subject;
        for (char ch : c.subject) subject += (static_cast<unsigned char>(ch) < 0x20) ? ' ' : ch;
        out += "  " + subject;
      }
      out += "\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace

bool Digest::empty() const {
  return std::all_of(sections.begin(), sections.end(), [](auto& s) { return s.cases.empty(); });
}

Result<Digest> build_digest(Store& store, int stale_days) {
  Digest d;
  d.now = now_unix();
  d.stale_days = stale_days;
  auto all = store.list_cases({});
  if (!all) return all.error();
  DigestSection fresh{"new-unassigned", "New and unassigned", {}};
  DigestSection stale{"stale", fmt::format("No activity for {} days or more", stale_days), {}};
  DigestSection waiting{"waiting", "Waiting", {}};
  for (const auto& c : *all) {
    bool closed = c.status == "resolved" || c.status == "rejected";
    if (c.status == "new" && !c.assignee) fresh.cases.push_back(c);
    if (!closed && c.updated <= d.now - std::int64_t{stale_days} * 86400) stale.cases.push_back(c);
    if (c.status == "waiting") waiting.cases.push_back(c);
  }
  for (auto* s : {&fresh, &stale, &waiting}) {
    std::stable_sort(s->cases.begin(), s->cases.end(), [](auto& a, auto& b) { return a.created < b.created; });
    d.sections.push_back(std::move(*s));
  }
  return d;
}

std::string render_digest(const Digest& d, const std::string& tag) { return render(d, tag, true); }
std::string render_digest_bare(const Digest& d, const std::string& tag) { return render(d, tag, false); }

nlohmann::json digest_json(const Digest& d) {
  nlohmann::json j = {{"generated", format_rfc3339(d.now)}, {"stale_days", d.stale_days}};
  nlohmann::json sections = nlohmann::json::object();
  for (const auto& s : d.sections) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& c : s.cases)
      arr.push_back({{"id", c.id},
                     {"subject", c.subject},
                     {"status", c.status},
                     {"assignee", c.assignee ? nlohmann::json(*c.assignee) : nlohmann::json(nullptr)},
                     {"created", format_rfc3339(c.created)},
                     {"updated", format_rfc3339(c.updated)}});
    sections[s.name] = arr;
  }
  j["sections"] = sections;
  return j;
}

}  // namespace cased
