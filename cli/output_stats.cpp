// The view of `casectl stats`: one JSON object (docs/json.md) or a short
// text report.
#include <fmt/format.h>

#include "core/text.hpp"
#include "core/util.hpp"
#include "output.hpp"

namespace cased::cli {
namespace {

nlohmann::json durations_json(const Durations& d) {
  auto or_null = [](const std::optional<std::int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {{"cases", d.cases}, {"median", or_null(d.median)}, {"p90", or_null(d.p90)}};
}

std::string duration(std::int64_t s) {
  if (s < 3600) return fmt::format("{}m", s / 60);
  if (s < 2 * 86400) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
}

std::string durations_line(const char* label, const Durations& d) {
  if (!d.median) return fmt::format("{:<22}none\n", label);
  return fmt::format("{:<22}median {}, 90% within {} ({} cases)\n", label, duration(*d.median), duration(*d.p90),
                     d.cases);
}

}  // namespace

nlohmann::json to_json(const CaseStats& s) {
  nlohmann::json by_status = nlohmann::json::object();
  for (const auto& [state, n] : s.by_status) by_status[state] = n;
  nlohmann::json by_resolution = nlohmann::json::object();
  for (const auto& [reason, n] : s.by_resolution) by_resolution[reason] = n;
  nlohmann::json by_age = nlohmann::json::object();
  for (const auto& [bucket, n] : s.open_by_age) by_age[bucket] = n;
  nlohmann::json by_assignee = nlohmann::json::array();
  for (const auto& [who, n] : s.open_by_assignee)
    by_assignee.push_back({{"assignee", who ? nlohmann::json(valid_utf8(*who)) : nlohmann::json(nullptr)}, {"open", n}});
  return {{"since", format_rfc3339(s.since)},
          {"until", format_rfc3339(s.until)},
          {"generated", format_rfc3339(s.now)},
          {"by_status", by_status},
          {"by_resolution", by_resolution},
          {"opened", s.opened},
          {"closed", s.closed},
          {"first_response", durations_json(s.first_response)},
          {"time_to_resolution", durations_json(s.time_to_resolution)},
          {"open_by_age", by_age},
          {"open_by_assignee", by_assignee}};
}

std::string render_stats(const CaseStats& s) {
  std::string out = fmt::format("From {} to {}\n", format_rfc3339(s.since), format_rfc3339(s.until));
  out += fmt::format("{:<22}{} opened, {} closed\n", "Cases", s.opened, s.closed);
  out += durations_line("First response", s.first_response);
  out += durations_line("Time to resolution", s.time_to_resolution);
  out += "\nNow, by state:\n";
  for (const auto& [state, n] : s.by_status) out += fmt::format("  {:<10}{:>8}\n", state, n);
  out += "Closed cases by resolution:\n";
  for (const auto& [reason, n] : s.by_resolution) out += fmt::format("  {:<20}{:>8}\n", reason, n);
  out += "Open cases by age:\n";
  for (const auto& [bucket, n] : s.open_by_age) out += fmt::format("  {:<10}{:>8}\n", bucket, n);
  out += "Open cases by assignee:\n";
  if (s.open_by_assignee.empty()) out += "  none\n";
  for (const auto& [who, n] : s.open_by_assignee)
    out += fmt::format("  {:<20}{:>8}\n", who ? clip(*who, 20) : std::string("unassigned"), n);
  return out;
}

}  // namespace cased::cli
