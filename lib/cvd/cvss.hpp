// CVSS vectors, the one place cased reads them: a v3.1 vector parsed
// strictly and its base score computed as FIRST's specification (section 7
// and Appendix A) says, so that a shown or published score always matches
// its vector; a v4.0 vector checked but not scored (v4.0 scores come from
// FIRST's lookup tables, not from a formula).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace cased::cvss {

struct Cvss31 {
  std::string vector;                       // as given (validated)
  std::map<std::string, std::string> metrics;  // every metric given, METRIC -> value letter
  double base_score = 0.0;                  // 0.0 .. 10.0, one decimal
  std::string severity;                     // NONE | LOW | MEDIUM | HIGH | CRITICAL
};

// "CVSS:3.1/" then METRIC:VALUE parts separated by "/": each metric of the
// specification at most once with one of its values, all eight base
// metrics present, nothing else (no empty part, no trailing "/", no space).
// Errc::invalid naming the first problem.
Result<Cvss31> parse31(std::string_view vector);

// A v4.0 vector (specification section 7): "CVSS:4.0/", the metrics in the
// specification's order, each once with one of its values, every base
// metric present. Errc::invalid naming the first problem.
Status check40(std::string_view vector);

// Appendix A's Roundup: the smallest number with one decimal that is equal
// to or higher than `value`, without floating-point artefacts.
double roundup(double value);

// The qualitative rating of a score (NONE 0.0, LOW 0.1-3.9, MEDIUM 4.0-6.9,
// HIGH 7.0-8.9, CRITICAL 9.0-10.0).
std::string severity(double score);

// The long names the FIRST JSON schema uses for the base metrics of a
// vector, as {"attackVector": "NETWORK", ...}: property name and value per
// base metric (in the specification's order).
std::map<std::string, std::string> base_properties(const Cvss31& cvss);

}  // namespace cased::cvss
