// The pure parts of threading (docs/contract.md "Threading"): which case number an
// address or a subject names. The whole decision is route_message()
// (routing.hpp); the store answers its lookups.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cased {

struct AliasMatch {
  bool ours = false;                    // the alias or one of its plus-forms
  std::optional<std::int64_t> case_id;  // alias+42@ → 42
  bool plus = false;                    // a plus-form, numeric or not
};

// Compares local part and domain case-insensitively; `addr` may carry <>.
AliasMatch match_alias(std::string_view addr, std::string_view alias);

// The case number of the first [TAG#ID] in `subject` (tag case-insensitive).
std::optional<std::int64_t> subject_tag(std::string_view subject, std::string_view tag);

// The case number named by the first plus-form of the alias among `addresses`.
std::optional<std::int64_t> plus_route(const std::vector<std::string>& addresses, std::string_view alias);

}  // namespace cased
