// The field terms of a search, each one condition on a case, all in one
// statement that reads the cases in order of last activity.
#include "store/search_fields.hpp"

#include <fmt/format.h>

#include <string>
#include <utility>

namespace cased::detail {
namespace {

// `text` as a LIKE pattern matching itself (ESCAPE '\').
std::string like_literal(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

struct Conditions {
  std::string sql;
  std::vector<std::string> values;  // bound as ?1, ?2, ... in order

  // Adds `condition`, in which {0} names the next value's parameter.
  void add(const char* condition, std::string value) {
    values.push_back(std::move(value));
    sql += " AND " + fmt::format(fmt::runtime(condition), fmt::format("?{}", values.size()));
  }
};

// The sender of a message a person sent into the case: a participant with
// that address (indexed, or a scan of the few participants for a domain)
// whose message says so.
void add_from(Conditions& c, const std::string& from) {
  bool domain = from.front() == '@';
  const char* exact =
      "id IN (SELECT p.case_id FROM participants p WHERE p.address = {0} AND EXISTS (SELECT 1 FROM messages m "
      "WHERE m.case_id = p.case_id AND m.direction = 'in' AND lower(m.from_addr) = {0}))";
  const char* suffix =
      "id IN (SELECT p.case_id FROM participants p WHERE p.address LIKE {0} ESCAPE '\\' AND EXISTS (SELECT 1 "
      "FROM messages m WHERE m.case_id = p.case_id AND m.direction = 'in' AND lower(m.from_addr) LIKE {0} "
      "ESCAPE '\\'))";
  c.add(domain ? suffix : exact, domain ? "%" + like_literal(from) : from);
}

Conditions conditions(sql::Db& db, const SearchQuery& q) {
  Conditions c;
  c.sql = tag_terms(db, q.tags, 1);
  c.values = q.tags;
  for (const auto& from : q.from) add_from(c, from);
  for (const auto& word : q.subject) {
    std::string words = fts_quoted_words(word);
    c.add("id IN (SELECT m.case_id FROM message_index i JOIN messages m ON m.id = i.rowid "
          "WHERE message_index MATCH {0})",
          words.empty() ? std::string("\"\"") : "subject : (" + words + ")");
  }
  for (const auto& cve : q.cves) c.add("id IN (SELECT case_id FROM case_cves WHERE cve = {0})", cve);
  for (const auto& name : q.attachments)
    c.add("id IN (SELECT m.case_id FROM attachments a JOIN messages m ON m.id = a.message "
          "WHERE a.filename LIKE {0} ESCAPE '\\')",
          "%" + like_literal(name) + "%");
  return c;
}

constexpr std::int64_t kFewCases = 2000;

}  // namespace

std::string tag_terms(sql::Db& db, const std::vector<std::string>& tags, int first) {
  std::size_t rarest = tags.size();
  std::int64_t fewest = kFewCases + 1;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    auto& count = db.cached("SELECT count(*) FROM (SELECT 1 FROM tags WHERE tag = ? LIMIT ?)");
    count.bind(1, tags[i]).bind(2, kFewCases + 1);
    std::int64_t n = count.step() ? count.int64(0) : 0;
    count.reset();
    if (n < fewest) {
      fewest = n;
      rarest = i;
    }
  }
  std::string sql;
  for (std::size_t i = 0; i < tags.size(); ++i)
    sql += fmt::format(" AND {}id IN (SELECT case_id FROM tags WHERE tag = ?{})", i == rarest ? "" : "+",
                       first + static_cast<int>(i));
  return sql;
}

std::vector<std::int64_t> field_cases(sql::Db& db, const SearchQuery& query, std::int64_t limit) {
  Conditions c = conditions(db, query);
  auto st = db.prepare(fmt::format(
      "SELECT id FROM cases WHERE merged_into IS NULL{} ORDER BY updated DESC, id DESC LIMIT ?{}", c.sql,
      c.values.size() + 1));
  for (std::size_t i = 0; i < c.values.size(); ++i) st.bind(static_cast<int>(i + 1), c.values[i]);
  st.bind(static_cast<int>(c.values.size() + 1), limit);
  std::vector<std::int64_t> out;
  while (st.step()) out.push_back(st.int64(0));
  return out;
}

}  // namespace cased::detail
