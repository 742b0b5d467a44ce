// The plus-forms of the alias that name a case and, for mail we send to a
// vendor, that vendor: alias+ID@domain and alias+ID.NAME@domain. Pure and
// bounded: any bytes in, a case number in range and a well-formed vendor
// name out, or nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cased {

// A vendor's name as an address may carry it: [a-z0-9][a-z0-9._-]*, at
// most this many characters (the contact book's own rule).
inline constexpr std::size_t kMaxAddressVendor = 64;

struct PlusTarget {
  std::int64_t case_id = 0;  // > 0
  std::string vendor;        // "" for alias+ID
  bool operator==(const PlusTarget&) const = default;
};

// What the text after "alias+" names: "42" is case 42, "42.acme" case 42
// as vendor acme's. The number is decimal digits only (no sign, no leading
// zero, in range of a case number); the first '.' ends it. Anything else
// (a word, an overflowing number, a bad or over-long name, a trailing dot)
// names nothing.
std::optional<PlusTarget> parse_plus_detail(std::string_view detail);

// The first plus-form of `alias` among `addresses` (each may carry <>;
// compared as normalize_address() does) and what it names. As with
// plus_route(), the first plus-form decides: `named` is nullopt when it
// names nothing; `found` says whether there was a plus-form at all.
struct PlusForm {
  bool found = false;
  std::optional<PlusTarget> named;
};
PlusForm plus_target(const std::vector<std::string>& addresses, std::string_view alias);

// The party label of vendor `name`'s messages: "vendor:NAME".
std::string vendor_party(std::string_view name);

}  // namespace cased
