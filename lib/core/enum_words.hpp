// States that are enums inside the library and words at its edges (the
// database, JSON, the parse-worker wire, configuration files). Each enum
// keeps one table of its words next to it; these two look-ups read it.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace cased {

template <class Enum, std::size_t N>
using EnumWords = std::array<std::pair<Enum, std::string_view>, N>;

// The word for `value`; the table's words are string literals, so the
// pointer is NUL-terminated and lives for ever.
template <class Enum, std::size_t N>
const char* word_for(const EnumWords<Enum, N>& table, Enum value) {
  for (const auto& [v, word] : table)
    if (v == value) return word.data();
  return "unknown";
}

// The value a word names, exactly as written (case matters); nothing for
// any other word.
template <class Enum, std::size_t N>
std::optional<Enum> value_for(const EnumWords<Enum, N>& table, std::string_view word) {
  for (const auto& [v, w] : table)
    if (w == word) return v;
  return std::nullopt;
}

}  // namespace cased
