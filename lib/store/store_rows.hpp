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
// The vendors of `from` join `into` (coordination.cpp): a vendor in both
// keeps its earliest notification, its latest contact and reply, and per
// CVE id the newer status; the outreach logs join.
void move_vendor_rows(sql::Db& db, std::int64_t from, std::int64_t into);
// After a split moved messages and their outbox rows to `to`: the outreach
// rows of those notifications go with them, and each vendor with a message
// there is attached to `to` too, with its status (coordination.cpp).
void split_vendor_rows(sql::Db& db, std::int64_t from, std::int64_t to);

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
