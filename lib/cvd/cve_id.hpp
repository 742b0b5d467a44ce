// CVE ids, checked the same way by the case's fields, vendor statuses and
// advisories.
#pragma once

#include <string_view>

namespace cased {

// "CVE-2026-12345": a four-digit year, then 4 to 19 digits (the CVE JSON 5
// schema's pattern).
bool valid_cve_id(std::string_view id);

}  // namespace cased
