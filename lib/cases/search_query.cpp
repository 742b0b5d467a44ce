#include "cases/search_query.hpp"

#include <fmt/format.h>

#include <array>

#include "core/text.hpp"
#include "core/util.hpp"

namespace cased {
namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One token from `pos`: up to white space, except inside double quotes
// (which are kept; "" inside quotes is one quote).
std::string_view next_token(std::string_view q, std::size_t& pos) {
  while (pos < q.size() && space(q[pos])) ++pos;
  std::size_t start = pos;
  bool quoted = false;
  for (; pos < q.size(); ++pos) {
    if (q[pos] == '"') quoted = !quoted;
    else if (!quoted && space(q[pos])) break;
  }
  return q.substr(start, pos - start);
}

// A field's value without its surrounding quotes ("" inside is one quote);
// a value that opens a quote and never closes it is taken as written.
std::string unquote(std::string_view v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return std::string(v);
  std::string out;
  for (std::size_t i = 1; i + 1 < v.size(); ++i) {
    out += v[i];
    if (v[i] == '"' && v[i + 1] == '"') ++i;
  }
  return out;
}

std::string to_upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

}  // namespace

Result<SearchQuery> parse_search_query(std::string_view query) {
  SearchQuery out;
  std::size_t pos = 0;
  for (std::size_t terms = 0;; ++terms) {
    std::string_view token = next_token(query, pos);
    if (token.empty()) break;
    // Each term is a condition of one statement (SQLite and FTS5 refuse
    // expressions deeper than 1000 and 256): a clear refusal instead.
    if (terms == kMaxSearchTerms)
      return Error{Errc::invalid, fmt::format("search: at most {} words and fields in one query", kMaxSearchTerms)};
    auto colon = token.find(':');
    std::string name = colon == std::string_view::npos ? std::string() : to_lower(token.substr(0, colon));
    std::array<std::pair<const char*, std::vector<std::string>*>, 5> fields = {{{"tag", &out.tags},
                                                                                {"from", &out.from},
                                                                                {"subject", &out.subject},
                                                                                {"cve", &out.cves},
                                                                                {"attachment", &out.attachments}}};
    std::vector<std::string>* into = nullptr;
    for (auto& [field, list] : fields)
      if (name == field) into = list;
    if (!into) {
      out.words += (out.words.empty() ? "" : " ") + std::string(token);
      continue;
    }
    std::string value = trim(unquote(token.substr(colon + 1)));
    if (value.empty())
      return Error{Errc::invalid, fmt::format("search: {}: needs a value, as in {}:{}", name, name,
                                              name == "from" ? "reporter@example.org" : "WORD")};
    if (into == &out.from && value.size() > 2 && value.front() == '<' && value.back() == '>')
      value = value.substr(1, value.size() - 2);
    if (into == &out.tags || into == &out.from) value = to_lower(value);
    if (into == &out.cves) value = to_upper(value);
    into->push_back(std::move(value));
  }
  if (out.words.empty() && !out.has_fields())
    return Error{Errc::invalid, "search: give words or fields (tag:, from:, subject:, cve:, attachment:)"};
  return out;
}

std::string fts_quoted_words(std::string_view text) {
  std::string q;
  std::size_t pos = 0;
  for (;;) {
    while (pos < text.size() && space(text[pos])) ++pos;
    std::size_t start = pos;
    while (pos < text.size() && !space(text[pos])) ++pos;
    std::string word(text.substr(start, pos - start));
    if (word.empty()) return q;
    bool prefix = word.back() == '*';
    if (prefix) word.pop_back();
    if (word.empty()) continue;  // a lone *
    std::string quoted = "\"";
    for (char ch : word) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    q += (q.empty() ? "" : " ") + quoted + "\"" + (prefix ? "*" : "");
  }
}

}  // namespace cased
