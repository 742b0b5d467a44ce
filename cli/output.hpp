// One set of views, two renderings: JSON (the contract, documented in
// docs/json.md) and text for a terminal. Both are built from the same structs
// so they cannot drift.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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
std::string render_case(const CaseDetail& d, const TextStyle& style);
std::string render_search(const std::vector<SearchHit>& hits, const TextStyle& style);

}  // namespace cased::cli
