#include "cases/disclosure.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace cased {
namespace {

struct Metric {
  std::string_view name;
  std::vector<std::string_view> values;
  bool base;
};

// CVSS v3.1 specification, section 6 (vector string) and 7 (metric values).
const std::vector<Metric>& metrics_v31() {
  static const std::vector<Metric> m = {
      {"AV", {"N", "A", "L", "P"}, true}, {"AC", {"L", "H"}, true},      {"PR", {"N", "L", "H"}, true},
      {"UI", {"N", "R"}, true},           {"S", {"U", "C"}, true},       {"C", {"H", "L", "N"}, true},
      {"I", {"H", "L", "N"}, true},       {"A", {"H", "L", "N"}, true},  {"E", {"X", "U", "P", "F", "H"}, false},
      {"RL", {"X", "O", "T", "W", "U"}, false}, {"RC", {"X", "U", "R", "C"}, false},
      {"CR", {"X", "L", "M", "H"}, false}, {"IR", {"X", "L", "M", "H"}, false}, {"AR", {"X", "L", "M", "H"}, false},
      {"MAV", {"X", "N", "A", "L", "P"}, false}, {"MAC", {"X", "L", "H"}, false}, {"MPR", {"X", "N", "L", "H"}, false},
      {"MUI", {"X", "N", "R"}, false},    {"MS", {"X", "U", "C"}, false}, {"MC", {"X", "N", "L", "H"}, false},
      {"MI", {"X", "N", "L", "H"}, false}, {"MA", {"X", "N", "L", "H"}, false},
  };
  return m;
}

// CVSS v4.0 specification, section 7 (vector string).
const std::vector<Metric>& metrics_v40() {
  static const std::vector<Metric> m = {
      {"AV", {"N", "A", "L", "P"}, true}, {"AC", {"L", "H"}, true},          {"AT", {"N", "P"}, true},
      {"PR", {"N", "L", "H"}, true},      {"UI", {"N", "P", "A"}, true},     {"VC", {"H", "L", "N"}, true},
      {"VI", {"H", "L", "N"}, true},      {"VA", {"H", "L", "N"}, true},     {"SC", {"H", "L", "N"}, true},
      {"SI", {"H", "L", "N"}, true},      {"SA", {"H", "L", "N"}, true},     {"E", {"X", "A", "P", "U"}, false},
      {"CR", {"X", "H", "M", "L"}, false}, {"IR", {"X", "H", "M", "L"}, false}, {"AR", {"X", "H", "M", "L"}, false},
      {"MAV", {"X", "N", "A", "L", "P"}, false}, {"MAC", {"X", "L", "H"}, false}, {"MAT", {"X", "N", "P"}, false},
      {"MPR", {"X", "N", "L", "H"}, false}, {"MUI", {"X", "N", "P", "A"}, false}, {"MVC", {"X", "H", "L", "N"}, false},
      {"MVI", {"X", "H", "L", "N"}, false}, {"MVA", {"X", "H", "L", "N"}, false}, {"MSC", {"X", "H", "L", "N"}, false},
      {"MSI", {"X", "S", "H", "L", "N"}, false}, {"MSA", {"X", "S", "H", "L", "N"}, false},
      {"S", {"X", "N", "P"}, false},      {"AU", {"X", "N", "Y"}, false},    {"R", {"X", "A", "U", "I"}, false},
      {"V", {"X", "D", "C"}, false},      {"RE", {"X", "L", "M", "H"}, false},
      {"U", {"X", "Clear", "Green", "Amber", "Red"}, false},
  };
  return m;
}

// Roundup of CVSS v3.1 Appendix A: integer arithmetic, so 4.000001 is 4.1
// and 4.0000000001 (a floating-point artefact) stays 4.0.
double roundup(double value) {
  auto scaled = static_cast<long long>(std::llround(value * 100000.0));
  if (scaled % 10000 == 0) return static_cast<double>(scaled) / 100000.0;
  return static_cast<double>(scaled / 10000 + 1) / 10.0;
}

double base_score_v31(const std::map<std::string, std::string, std::less<>>& m) {
  bool changed = m.at("S") == "C";
  auto cia = [](const std::string& v) { return v == "H" ? 0.56 : v == "L" ? 0.22 : 0.0; };
  double iss = 1.0 - (1.0 - cia(m.at("C"))) * (1.0 - cia(m.at("I"))) * (1.0 - cia(m.at("A")));
  double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  const std::string& av = m.at("AV");
  double w_av = av == "N" ? 0.85 : av == "A" ? 0.62 : av == "L" ? 0.55 : 0.2;
  double w_ac = m.at("AC") == "L" ? 0.77 : 0.44;
  const std::string& pr = m.at("PR");
  double w_pr = pr == "N" ? 0.85 : pr == "L" ? (changed ? 0.68 : 0.62) : (changed ? 0.5 : 0.27);
  double w_ui = m.at("UI") == "N" ? 0.85 : 0.62;
  double exploitability = 8.22 * w_av * w_ac * w_pr * w_ui;
  if (impact <= 0) return 0.0;
  return changed ? roundup(std::min(1.08 * (impact + exploitability), 10.0))
                 : roundup(std::min(impact + exploitability, 10.0));
}

std::string severity_of(double score) {
  if (score == 0.0) return "none";
  if (score < 4.0) return "low";
  if (score < 7.0) return "medium";
  if (score < 9.0) return "high";
  return "critical";
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Result<Cvss> parse_cvss(std::string_view vector) {
  auto bad = [&](std::string why) {
    return Error{Errc::invalid, fmt::format("not a CVSS v3.1 or v4.0 vector: {} ({})", vector, why)};
  };
  Cvss out;
  out.vector = std::string(vector);
  const std::vector<Metric>* known = nullptr;
  if (vector.starts_with("CVSS:3.1/")) {
    out.version = "3.1";
    known = &metrics_v31();
  } else if (vector.starts_with("CVSS:4.0/")) {
    out.version = "4.0";
    known = &metrics_v40();
  } else {
    return bad("it must start with CVSS:3.1/ or CVSS:4.0/");
  }
  std::map<std::string, std::string, std::less<>> seen;
  std::string_view rest = vector.substr(9);
  std::size_t last_index = 0;
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    std::size_t colon = part.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == part.size())
      return bad(fmt::format("'{}' is not METRIC:VALUE", part));
    std::string_view name = part.substr(0, colon), value = part.substr(colon + 1);
    auto it = std::find_if(known->begin(), known->end(), [&](const Metric& m) { return m.name == name; });
    if (it == known->end()) return bad(fmt::format("unknown metric {}", name));
    if (std::find(it->values.begin(), it->values.end(), value) == it->values.end())
      return bad(fmt::format("{} cannot be {}", name, value));
    if (!seen.emplace(std::string(name), std::string(value)).second) return bad(fmt::format("{} twice", name));
    // v4.0 fixes the order of metrics; v3.1 only recommends one.
    auto index = static_cast<std::size_t>(it - known->begin());
    if (out.version == "4.0" && index < last_index) return bad(fmt::format("{} out of order", name));
    last_index = index;
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  for (const auto& m : *known)
    if (m.base && !seen.count(m.name)) return bad(fmt::format("base metric {} missing", m.name));
  if (out.version == "3.1") {
    out.base_score = base_score_v31(seen);
    out.severity = severity_of(*out.base_score);
  }
  return out;
}

bool valid_cve_id(std::string_view id) {
  if (!id.starts_with("CVE-") || id.size() < 13 || id[8] != '-') return false;
  return all_digits(id.substr(4, 4)) && all_digits(id.substr(9));
}

std::optional<std::int64_t> parse_date(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-' || !all_digits(t.substr(0, 4)) || !all_digits(t.substr(5, 2)) ||
      !all_digits(t.substr(8, 2)))
    return std::nullopt;
  // The digits are checked here; the calendar (no 2026-02-30) by parse_rfc3339.
  std::int64_t midnight = 0;
  if (!parse_rfc3339(t, midnight)) return std::nullopt;
  return midnight;
}

Status validate(const DisclosureChange& c) {
  if (c.embargo && !c.embargo->empty() && !parse_date(*c.embargo))
    return Error{Errc::invalid, fmt::format("embargo: '{}' is not a date as YYYY-MM-DD", *c.embargo)};
  for (const auto* list : {&c.add_cves, &c.remove_cves})
    for (const auto& id : *list)
      if (!valid_cve_id(id)) return Error{Errc::invalid, fmt::format("'{}' is not a CVE id like CVE-2026-12345", id)};
  if (c.cvss && !c.cvss->empty()) {
    auto parsed = parse_cvss(*c.cvss);
    if (!parsed) return parsed.error();
  }
  return ok_status();
}

}  // namespace cased
