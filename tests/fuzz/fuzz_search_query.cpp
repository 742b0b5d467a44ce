// `casectl search` queries: what the parser promises for any bytes, not
// just that it does not crash. The words reach FTS5 only as quoted words.
#include <cstdlib>
#include <string>

#include "cases/search_query.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = cased::fuzz::as_view(data, size);
  auto q = cased::parse_search_query(in);
  std::string quoted = cased::fts_quoted_words(in);
  if (!q) return 0;
  std::size_t terms = q->tags.size() + q->from.size() + q->subject.size() + q->cves.size() + q->attachments.size();
  if (terms > cased::kMaxSearchTerms) std::abort();
  if (q->words.empty() && !q->has_fields()) std::abort();  // an empty query is an error
  for (const auto* list : {&q->tags, &q->from, &q->subject, &q->cves, &q->attachments})
    for (const auto& v : *list)
      if (v.empty()) std::abort();  // an empty value is an error
  // Every FTS5 token is a quoted string (an optional * after it): an even
  // number of quotes, so no operator or column filter of FTS5 gets through.
  std::string words = cased::fts_quoted_words(q->words);
  std::size_t quotes = 0;
  for (char c : words) quotes += c == '"';
  if (quotes % 2 != 0) std::abort();
  return 0;
}
