#include "cases/disclosure.hpp"

#include "core/text.hpp"
#include "core/util.hpp"
#include "cvd/cvss.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cased {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Product and versions reach the text advisory, its clear-signed copy, the
// announcement mail and the CSAF and CVE documents: one line of plain text.
Status check_line(std::string_view field, const std::optional<std::string>& value, std::size_t max) {
  if (!value) return ok_status();
  if (value->size() > max) return Error{Errc::invalid, fmt::format("{}: longer than {} bytes", field, max)};
  if (auto bad = disguising_character(*value))
    return Error{Errc::invalid, fmt::format("{}: holds {}; it must be one line of plain text", field, *bad)};
  return ok_status();
}

}  // namespace

Result<Cvss> parse_cvss(std::string_view vector) {
  Cvss out;
  out.vector = std::string(vector);
  if (vector.starts_with("CVSS:4.0/")) {
    if (auto checked = cvss::check40(vector); !checked) return checked.error();
    out.version = "4.0";
    return out;
  }
  auto v31 = cvss::parse31(vector);
  if (!v31) return v31.error();
  out.version = "3.1";
  out.base_score = v31->base_score;
  out.severity = to_lower(v31->severity);
  return out;
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
  if (auto st = check_line("product", c.product, kMaxProduct); !st) return st;
  if (auto st = check_line("versions", c.versions, kMaxVersions); !st) return st;
  if (c.cvss && !c.cvss->empty()) {
    auto parsed = parse_cvss(*c.cvss);
    if (!parsed) return parsed.error();
  }
  return ok_status();
}

}  // namespace cased
