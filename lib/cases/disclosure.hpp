// Disclosure fields of a case (casectl set): embargo date, CVE ids, affected
// product and versions, severity as a CVSS vector. Validation lives here so
// that every program refuses the same bad input with the same words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "cvd/cve_id.hpp"

namespace cased {

struct Cvss {
  std::string vector;                 // as given, validated
  std::string version;                // "3.1" | "4.0"
  std::optional<double> base_score;   // v3.1 only: v4.0 scoring needs FIRST's lookup tables
  std::optional<std::string> severity;  // none | low | medium | high | critical (from the score)
};

// Validates a CVSS v3.1 or v4.0 vector (cvd/cvss.hpp: the prefix, every base
// metric exactly once, only known metrics with known values) and scores a
// v3.1 one.
Result<Cvss> parse_cvss(std::string_view vector);


// A real calendar date as YYYY-MM-DD; its midnight UTC as Unix seconds.
std::optional<std::int64_t> parse_date(std::string_view text);

struct Disclosure {
  std::optional<std::string> embargo;  // YYYY-MM-DD
  std::vector<std::string> cves;       // in the order they were added
  std::optional<std::string> product;
  std::optional<std::string> versions;
  std::optional<Cvss> cvss;
  bool empty() const { return !embargo && cves.empty() && !product && !versions && !cvss; }
};

// What `casectl set` asks to change; an empty optional leaves a field alone,
// an empty string clears it.
struct DisclosureChange {
  std::optional<std::string> embargo;
  std::vector<std::string> add_cves;
  std::vector<std::string> remove_cves;
  std::optional<std::string> product;
  std::optional<std::string> versions;
  std::optional<std::string> cvss;
  bool empty() const {
    return !embargo && add_cves.empty() && remove_cves.empty() && !product && !versions && !cvss;
  }
};

// Bounds of product and versions, in bytes.
inline constexpr std::size_t kMaxProduct = 200;
inline constexpr std::size_t kMaxVersions = 500;

// Checks every field of the change; the first problem, named. Product and
// versions are one line of UTF-8 without control, bidi or invisible format
// characters (core/text.hpp disguising_character).
Status validate(const DisclosureChange& change);

}  // namespace cased
