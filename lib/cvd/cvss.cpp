#include "cvd/cvss.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <vector>

namespace cased::cvss {
namespace {

struct Value {
  char letter;
  const char* name;  // the FIRST JSON schema's word
};

struct MetricDef {
  const char* id;
  const char* property;  // "" for metrics this module does not name
  bool base;
  std::vector<Value> values;
};

// CVSS v3.1 specification, Table 15: every metric and its values.
const std::vector<MetricDef>& definitions() {
  static const std::vector<MetricDef> defs = {
      {"AV", "attackVector", true, {{'N', "NETWORK"}, {'A', "ADJACENT_NETWORK"}, {'L', "LOCAL"}, {'P', "PHYSICAL"}}},
      {"AC", "attackComplexity", true, {{'L', "LOW"}, {'H', "HIGH"}}},
      {"PR", "privilegesRequired", true, {{'N', "NONE"}, {'L', "LOW"}, {'H', "HIGH"}}},
      {"UI", "userInteraction", true, {{'N', "NONE"}, {'R', "REQUIRED"}}},
      {"S", "scope", true, {{'U', "UNCHANGED"}, {'C', "CHANGED"}}},
      {"C", "confidentialityImpact", true, {{'H', "HIGH"}, {'L', "LOW"}, {'N', "NONE"}}},
      {"I", "integrityImpact", true, {{'H', "HIGH"}, {'L', "LOW"}, {'N', "NONE"}}},
      {"A", "availabilityImpact", true, {{'H', "HIGH"}, {'L', "LOW"}, {'N', "NONE"}}},
      {"E", "", false, {{'X', ""}, {'U', ""}, {'P', ""}, {'F', ""}, {'H', ""}}},
      {"RL", "", false, {{'X', ""}, {'O', ""}, {'T', ""}, {'W', ""}, {'U', ""}}},
      {"RC", "", false, {{'X', ""}, {'U', ""}, {'R', ""}, {'C', ""}}},
      {"CR", "", false, {{'X', ""}, {'L', ""}, {'M', ""}, {'H', ""}}},
      {"IR", "", false, {{'X', ""}, {'L', ""}, {'M', ""}, {'H', ""}}},
      {"AR", "", false, {{'X', ""}, {'L', ""}, {'M', ""}, {'H', ""}}},
      {"MAV", "", false, {{'X', ""}, {'N', ""}, {'A', ""}, {'L', ""}, {'P', ""}}},
      {"MAC", "", false, {{'X', ""}, {'L', ""}, {'H', ""}}},
      {"MPR", "", false, {{'X', ""}, {'N', ""}, {'L', ""}, {'H', ""}}},
      {"MUI", "", false, {{'X', ""}, {'N', ""}, {'R', ""}}},
      {"MS", "", false, {{'X', ""}, {'U', ""}, {'C', ""}}},
      {"MC", "", false, {{'X', ""}, {'N', ""}, {'L', ""}, {'H', ""}}},
      {"MI", "", false, {{'X', ""}, {'N', ""}, {'L', ""}, {'H', ""}}},
      {"MA", "", false, {{'X', ""}, {'N', ""}, {'L', ""}, {'H', ""}}},
  };
  return defs;
}

const MetricDef* find_metric(std::string_view id) {
  for (const auto& d : definitions())
    if (id == d.id) return &d;
  return nullptr;
}

// Section 7.4, Table 16: the weights of the base metrics.
double weight(const std::map<std::string, std::string>& m, const std::string& id, bool changed) {
  char v = m.at(id)[0];
  if (id == "AV") return v == 'N' ? 0.85 : v == 'A' ? 0.62 : v == 'L' ? 0.55 : 0.2;
  if (id == "AC") return v == 'L' ? 0.77 : 0.44;
  if (id == "UI") return v == 'N' ? 0.85 : 0.62;
  if (id == "PR") {
    if (v == 'N') return 0.85;
    if (v == 'L') return changed ? 0.68 : 0.62;
    return changed ? 0.5 : 0.27;
  }
  return v == 'H' ? 0.56 : v == 'L' ? 0.22 : 0.0;  // C, I, A
}

// Section 7.1: the base score.
double base_score(const std::map<std::string, std::string>& m) {
  const bool changed = m.at("S") == "C";
  double iss = 1.0 - (1.0 - weight(m, "C", changed)) * (1.0 - weight(m, "I", changed)) * (1.0 - weight(m, "A", changed));
  double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15.0) : 6.42 * iss;
  double exploitability =
      8.22 * weight(m, "AV", changed) * weight(m, "AC", changed) * weight(m, "PR", changed) * weight(m, "UI", changed);
  if (impact <= 0.0) return 0.0;
  double sum = changed ? 1.08 * (impact + exploitability) : impact + exploitability;
  return roundup(std::min(sum, 10.0));
}

// CVSS v4.0 specification, section 7: every metric in the vector's order.
struct Metric40 {
  std::string_view id;
  bool base;
  std::vector<std::string_view> values;
};

const std::vector<Metric40>& definitions40() {
  static const std::vector<Metric40> defs = {
      {"AV", true, {"N", "A", "L", "P"}}, {"AC", true, {"L", "H"}}, {"AT", true, {"N", "P"}},
      {"PR", true, {"N", "L", "H"}}, {"UI", true, {"N", "P", "A"}}, {"VC", true, {"H", "L", "N"}},
      {"VI", true, {"H", "L", "N"}}, {"VA", true, {"H", "L", "N"}}, {"SC", true, {"H", "L", "N"}},
      {"SI", true, {"H", "L", "N"}}, {"SA", true, {"H", "L", "N"}}, {"E", false, {"X", "A", "P", "U"}},
      {"CR", false, {"X", "H", "M", "L"}}, {"IR", false, {"X", "H", "M", "L"}}, {"AR", false, {"X", "H", "M", "L"}},
      {"MAV", false, {"X", "N", "A", "L", "P"}}, {"MAC", false, {"X", "L", "H"}}, {"MAT", false, {"X", "N", "P"}},
      {"MPR", false, {"X", "N", "L", "H"}}, {"MUI", false, {"X", "N", "P", "A"}},
      {"MVC", false, {"X", "H", "L", "N"}}, {"MVI", false, {"X", "H", "L", "N"}},
      {"MVA", false, {"X", "H", "L", "N"}}, {"MSC", false, {"X", "H", "L", "N"}},
      {"MSI", false, {"X", "S", "H", "L", "N"}}, {"MSA", false, {"X", "S", "H", "L", "N"}},
      {"S", false, {"X", "N", "P"}}, {"AU", false, {"X", "N", "Y"}}, {"R", false, {"X", "A", "U", "I"}},
      {"V", false, {"X", "D", "C"}}, {"RE", false, {"X", "L", "M", "H"}},
      {"U", false, {"X", "Clear", "Green", "Amber", "Red"}},
  };
  return defs;
}

Error refusal(std::string_view vector, const std::string& why) {
  return Error{Errc::invalid, fmt::format("CVSS vector '{}' does not parse: {}", vector.substr(0, 200), why)};
}

// The METRIC:VALUE parts after the prefix, each passed to `known` (which
// says what is wrong with it, if anything) and kept in `metrics`; the
// first problem, or nothing.
template <typename Known>
std::optional<std::string> walk(std::string_view rest, Known&& known, std::map<std::string, std::string>& metrics) {
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    std::size_t colon = part.find(':');
    if (colon == std::string_view::npos) return fmt::format("'{}' is not METRIC:VALUE", part);
    std::string_view id = part.substr(0, colon), value = part.substr(colon + 1);
    if (auto why = known(id, value)) return why;
    if (!metrics.emplace(std::string(id), std::string(value)).second) return fmt::format("{} given twice", id);
    if (slash == std::string_view::npos) return std::nullopt;
    rest = rest.substr(slash + 1);
  }
}

}  // namespace

double roundup(double value) {
  // Appendix A: work in integers of 1/100000 so that 4.000000000000001
  // rounds to 4.0 and 4.02 to 4.1.
  auto scaled = static_cast<long long>(std::llround(value * 100000.0));
  if (scaled % 10000 == 0) return static_cast<double>(scaled) / 100000.0;
  return static_cast<double>(scaled / 10000 + 1) / 10.0;
}

std::string severity(double score) {
  if (score <= 0.0) return "NONE";
  if (score < 4.0) return "LOW";
  if (score < 7.0) return "MEDIUM";
  if (score < 9.0) return "HIGH";
  return "CRITICAL";
}

Result<Cvss31> parse31(std::string_view vector) {
  constexpr std::string_view prefix = "CVSS:3.1/";
  if (!vector.starts_with(prefix)) return refusal(vector, "it must start with CVSS:3.1/ or CVSS:4.0/");
  Cvss31 out;
  out.vector = std::string(vector);
  auto known = [](std::string_view id, std::string_view value) -> std::optional<std::string> {
    const MetricDef* def = find_metric(id);
    if (!def) return fmt::format("'{}' is not a CVSS 3.1 metric", id);
    bool ok = value.size() == 1 && std::any_of(def->values.begin(), def->values.end(),
                                               [&](const Value& v) { return v.letter == value[0]; });
    if (!ok) return fmt::format("{} cannot be '{}'", id, value);
    return std::nullopt;
  };
  if (auto why = walk(vector.substr(prefix.size()), known, out.metrics)) return refusal(vector, *why);
  for (const auto& d : definitions())
    if (d.base && !out.metrics.count(d.id)) return refusal(vector, fmt::format("base metric {} is missing", d.id));
  out.base_score = base_score(out.metrics);
  out.severity = severity(out.base_score);
  return out;
}

Status check40(std::string_view vector) {
  constexpr std::string_view prefix = "CVSS:4.0/";
  if (!vector.starts_with(prefix)) return refusal(vector, "it must start with CVSS:3.1/ or CVSS:4.0/");
  const auto& defs = definitions40();
  std::size_t last = 0;
  auto known = [&](std::string_view id, std::string_view value) -> std::optional<std::string> {
    auto it = std::find_if(defs.begin(), defs.end(), [&](const Metric40& m) { return m.id == id; });
    if (it == defs.end()) return fmt::format("'{}' is not a CVSS 4.0 metric", id);
    if (std::find(it->values.begin(), it->values.end(), value) == it->values.end())
      return fmt::format("{} cannot be '{}'", id, value);
    auto index = static_cast<std::size_t>(it - defs.begin());
    if (index < last) return fmt::format("{} is out of the specification's order", id);
    last = index;
    return std::nullopt;
  };
  std::map<std::string, std::string> metrics;
  if (auto why = walk(vector.substr(prefix.size()), known, metrics)) return refusal(vector, *why);
  for (const auto& d : defs)
    if (d.base && !metrics.count(std::string(d.id))) return refusal(vector, fmt::format("base metric {} is missing", d.id));
  return ok_status();
}

std::map<std::string, std::string> base_properties(const Cvss31& cvss) {
  std::map<std::string, std::string> out;
  for (const auto& d : definitions()) {
    if (!d.base) continue;
    char v = cvss.metrics.at(d.id)[0];
    for (const auto& val : d.values)
      if (val.letter == v) out[d.property] = val.name;
  }
  return out;
}

}  // namespace cased::cvss
