#include "cvd/cve_id.hpp"

#include <algorithm>

namespace cased {

bool valid_cve_id(std::string_view id) {
  auto digits = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (id.size() < 13 || id.size() > 28 || !id.starts_with("CVE-") || id[8] != '-') return false;
  return digits(id.substr(4, 4)) && digits(id.substr(9));
}

}  // namespace cased
