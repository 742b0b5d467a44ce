// `casectl search` queries (pure parsing): words, and field terms that
// narrow the cases: tag:T, from:ADDR (or from:@domain), subject:WORD,
// cve:CVE-ID and attachment:NAME. Every term must hold (AND). The store
// turns the result into bound statements; nothing here is SQL.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace cased {

struct SearchQuery {
  // The words (every token that is not a field term), as typed, joined by
  // one space: the full-text part, "" when there is none.
  std::string words;
  std::vector<std::string> tags;         // lower case
  std::vector<std::string> from;         // a lower-case address, or "@domain"
  std::vector<std::string> subject;      // words of the subject; a trailing * is a prefix
  std::vector<std::string> cves;         // upper case
  std::vector<std::string> attachments;  // part of a file name, any case
  bool has_fields() const {
    return !tags.empty() || !from.empty() || !subject.empty() || !cves.empty() || !attachments.empty();
  }
};

// The most words and field terms one query may hold.
inline constexpr std::size_t kMaxSearchTerms = 100;

// Splits `query` at white space. A token NAME:VALUE with a known NAME (any
// case) is a field term; VALUE may be in double quotes ("" for one quote),
// which may hold spaces. An empty VALUE is an error (Errc::invalid, naming
// the field); so is a query with neither words nor fields, and one of more
// than kMaxSearchTerms terms.
Result<SearchQuery> parse_search_query(std::string_view query);

// The FTS5 form of free text: each word quoted (a trailing * kept as a
// prefix), joined by spaces (AND); "" when there are none.
std::string fts_quoted_words(std::string_view text);

}  // namespace cased
