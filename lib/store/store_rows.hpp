// Store-internal: how list columns are kept (a JSON array of strings).
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace cased::sql {
class Db;
}

namespace cased::detail {

// Moves every row that belongs to case `from` and is not its own history to
// `into` (merge.cpp): messages, comments, outbound mail, key records, CVE ids
// (the union), tags, and their search rows. Merge and the thread join share it.
void move_rows(sql::Db& db, std::int64_t from, std::int64_t into);

// Never throws on bytes that are not UTF-8 (older rows, hostile input): they become U+FFFD.
inline std::string json_list(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline std::vector<std::string> parse_json_list(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

}  // namespace cased::detail
