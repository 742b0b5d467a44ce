// What the CSAF, CVE and text builders share (advisory_parts.cpp).
#pragma once

#include <string>
#include <vector>

#include "cvd/advisory.hpp"

namespace cased::advisory {

// The vendors with a status worth publishing (affected, not-affected,
// fixed, investigating) for some CVE id of the case, by name.
std::vector<std::string> listed_vendors(const Input& in);
// The vendor's row for `cve`, else its row for the whole case; nullptr.
const VendorState* vendor_state(const Input& in, const std::string& vendor, const std::string& cve);
// known_affected | known_not_affected | fixed | under_investigation | "".
std::string csaf_status_word(const VendorState* state);
// The vulnerability's description: details, else summary, else title.
std::string description(const Input& in);
// "1.5, 2.0.1"
std::string fixed_list(const Checked& c);

}  // namespace cased::advisory
