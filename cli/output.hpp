// One set of views, two renderings: JSON (the contract, documented in
// docs/json.md) and text for a terminal. Both are built from the same structs
// so they cannot drift.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/crypto.hpp"
#include "outbound/outbox.hpp"
#include "store/store.hpp"

namespace cased::cli {

nlohmann::json to_json(const CaseSummary& s);
nlohmann::json to_json(const CaseDetail& d);
nlohmann::json to_json(const IngestResult& r);
nlohmann::json to_json(const Disclosure& d);

struct TextStyle {
  bool color = false;
  std::string tag = "CASE";
};

std::string render_list(const std::vector<CaseSummary>& cases, const TextStyle& style);
// RFC 4180 CSV of the list items: a header row of their keys, one case per
// row, CRLF line ends, lists joined by spaces, every field whole. A cell
// that a spreadsheet would run as a formula (it starts with = + - @, TAB or
// CR; subjects and addresses are the sender's) gets a leading '.
std::string render_csv(const std::vector<CaseSummary>& cases, const std::function<void(std::size_t)>& on_row = {});
std::string render_case(const CaseDetail& d, const TextStyle& style);
std::string render_search(const std::vector<SearchHit>& hits, const TextStyle& style);

// Every JSON document casectl prints goes through print_json. Text from old
// rows or hostile mail may not be UTF-8: it prints U+FFFD, never throws.
void print_json(const nlohmann::json& j);

// The rest of the views (output_lists.cpp): search hits, the outbox, keys,
// and the summaries of init and an mbox import.
nlohmann::json to_json(const SearchHit& h);
nlohmann::json to_json(const OutboxRow& r);

// A recorded key with what gpg.home knows of it (nullopt: not in the keyring).
struct KeyView {
  KeyRecord record;
  std::optional<KeyInfo> info;
};
nlohmann::json to_json(const KeyView& k);

struct SchemaView {
  std::string database;
  int version = 0;
};
nlohmann::json to_json(const SchemaView& s);

struct MboxSummary {
  std::size_t messages = 0, stored = 0, new_cases = 0, duplicates = 0, failed = 0;
};
nlohmann::json to_json(const MboxSummary& m);

// The vendors of a case, for show (output_vendors.cpp).
nlohmann::json to_json(const std::vector<CaseVendorView>& vendors);
std::string render_vendors(const std::vector<CaseVendorView>& vendors, const TextStyle& style);

// `stats` (output_stats.cpp).
nlohmann::json to_json(const CaseStats& s);
std::string render_stats(const CaseStats& s);

std::string render_outbox(const std::vector<OutboxRow>& rows, const TextStyle& style);
std::string render_keys(const std::vector<KeyView>& keys);
// Addresses for the terminal: whatever a sender or a server put in them is shown inert.
std::string addresses(const std::vector<std::string>& v);

// A JSON array of the views above.
template <class T>
nlohmann::json json_array(const std::vector<T>& items) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& item : items) arr.push_back(to_json(item));
  return arr;
}

}  // namespace cased::cli
