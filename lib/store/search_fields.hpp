// Store-internal: the cases a search query's field terms allow
// (tag:, from:, subject:, cve:, attachment:; cases/search_query.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "cases/search_query.hpp"
#include "store/sqlite.hpp"

namespace cased::detail {

// The cases (not merged) that every field term of `query` holds for, the
// most recently active first; at most `limit` of them (-1: all). Values
// are bound, and the subject's words are quoted for FTS5: no input is SQL
// or FTS5 syntax.
std::vector<std::int64_t> field_cases(sql::Db& db, const SearchQuery& query, std::int64_t limit);

// " AND id IN (...)" for each tag, bound as ?first, ?first + 1, ... (the
// caller binds them). Without statistics SQLite reads a tag's cases first
// and sorts them; for a tag of many cases, reading the cases in the order
// printed and stopping at the limit is faster. So only the rarest tag, and
// only when it has at most a few thousand cases, finds the cases; the
// others (+id) are looked up.
std::string tag_terms(sql::Db& db, const std::vector<std::string>& tags, int first);

}  // namespace cased::detail
