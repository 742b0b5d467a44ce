// Store-internal: how list columns are kept (a JSON array of strings).
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <optional>
#include <vector>

#include "mail/message.hpp"

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

// The messages.smime column: the S/MIME signer as a JSON object, or NULL.
inline std::optional<std::string> smime_json(const std::optional<SmimeSigner>& c) {
  if (!c) return std::nullopt;
  nlohmann::json j = {{"fingerprint", c->fingerprint}, {"subject", c->subject}, {"issuer", c->issuer},
                      {"addresses", c->addresses},     {"chain", c->chain},     {"revocation", c->revocation},
                      {"reason", c->reason}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline std::optional<SmimeSigner> parse_smime_json(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  auto j = nlohmann::json::parse(*s, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto text = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  SmimeSigner c{text("fingerprint"), text("subject"), text("issuer"), {}, text("chain"), text("revocation"),
                text("reason")};
  if (j.contains("addresses") && j["addresses"].is_array())
    for (auto& e : j["addresses"])
      if (e.is_string()) c.addresses.push_back(e.get<std::string>());
  return c;
}

}  // namespace cased::detail
