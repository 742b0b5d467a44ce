#include "store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "cases/threading.hpp"
#include "cases/search_query.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"
#include "store/search_fields.hpp"
#include "store/store_guard.hpp"
#include "store/store_rows.hpp"

namespace cased {

using detail::guarded;
using detail::json_list;
using detail::parse_json_list;

Result<std::size_t> Store::index_pending(const std::vector<IndexText>& known, bool durable) {
  return guarded([&]() -> Result<std::size_t> {
    constexpr std::int64_t kChunk = 256;
    // Without a lock first: usually there is nothing to do.
    auto& any = db_.cached(
        "SELECT 1 FROM messages WHERE id > (SELECT indexed_upto FROM search_progress WHERE id = 1) LIMIT 1");
    bool pending = any.step();
    any.reset();
    if (!pending) return std::size_t{0};

    struct SyncSetting {
      sql::Db& db;
      bool relaxed;
      SyncSetting(sql::Db& d, bool r) : db(d), relaxed(r) {
        if (relaxed) db.exec("PRAGMA synchronous = NORMAL");
      }
      ~SyncSetting() {
        try {
          if (relaxed) db.exec("PRAGMA synchronous = FULL");
        } catch (...) {  // NOLINT(bugprone-empty-catch): cannot fail between transactions
        }
      }
    } sync_setting(db_, !durable);

    std::size_t total = 0;
    for (;;) {
      sql::Transaction tx(db_);
      auto& upto_q = db_.cached("SELECT indexed_upto FROM search_progress WHERE id = 1");
      std::int64_t upto = upto_q.step() ? upto_q.int64(0) : 0;
      upto_q.reset();
      std::vector<std::int64_t> ids;
      auto& ids_q = db_.cached("SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?");
      ids_q.bind(1, upto).bind(2, kChunk);
      while (ids_q.step()) ids.push_back(ids_q.int64(0));
      ids_q.reset();
      if (ids.empty()) return total;
      for (std::int64_t id : ids) {
        // The text is bound, not copied: it outlives run().
        auto insert = [&](std::string_view subject, std::string_view body) {
          db_.cached("INSERT INTO message_index(rowid, subject, body) VALUES (?, ?, ?)")
              .bind(1, id)
              .bind_view(2, subject)
              .bind_view(3, body)
              .run();
        };
        auto k = std::lower_bound(known.begin(), known.end(), id,
                                  [](const IndexText& t, std::int64_t v) { return t.id < v; });
        if (k != known.end() && k->id == id) {
          insert(k->subject, k->body);
          continue;
        }
        auto& text = db_.cached("SELECT subject, body FROM message_text WHERE id = ?");
        text.bind(1, id);
        if (text.step()) insert(text.view(0), text.view(1));
        text.reset();
      }
      db_.cached("UPDATE search_progress SET indexed_upto = ? WHERE id = 1").bind(1, ids.back()).run();
      tx.commit();
      total += ids.size();
      if (static_cast<std::int64_t>(ids.size()) < kChunk) return total;
    }
  });
}

namespace {

// A query matching more messages (or notes) than this is ranked among its
// newest this many: ranking costs about a microsecond a match, and a word in
// nearly every message of a million would otherwise take a second.
constexpr std::int64_t kRankedMatches = 10000;

// The lowest rowid among the newest kRankedMatches matches of `index`, or 0
// when it has fewer: reading rowids newest first is cheap, ranking is not.
std::int64_t rank_bound(sql::Db& db, const std::string& q, bool notes) {
  auto& st = notes ? db.cached("SELECT rowid FROM note_index WHERE note_index MATCH ?1 "
                               "ORDER BY rowid DESC LIMIT 1 OFFSET ?2")
                   : db.cached("SELECT rowid FROM message_index WHERE message_index MATCH ?1 "
                               "ORDER BY rowid DESC LIMIT 1 OFFSET ?2");
  st.bind(1, q).bind(2, kRankedMatches - 1);
  std::int64_t bound = st.step() ? st.int64(0) : 0;
  st.reset();
  return bound;
}

// The best `fetch` matches of each index, best first: a message (its id) or
// a note (its rowid), with the case each is in. Ranked and cut in SQL, so
// only those rows leave SQLite and nothing of a message is read but its case.
struct Match {
  bool note = false;
  std::int64_t ref = 0;
  std::int64_t case_id = 0;
};

std::vector<Match> best_matches(sql::Db& db, const std::string& q, std::int64_t fetch) {
  std::int64_t message_bound = rank_bound(db, q, false);
  std::int64_t note_bound = rank_bound(db, q, true);
  auto& st = db.cached(
      "SELECT kind, ref, case_id FROM ("
      " SELECT 0 AS kind, i.rowid AS ref, m.case_id AS case_id, i.r AS r FROM"
      "  (SELECT rowid, rank AS r FROM message_index WHERE message_index MATCH ?1 AND rowid >= ?3"
      "   ORDER BY rank LIMIT ?2) i"
      "  JOIN messages m ON m.id = i.rowid"
      " UNION ALL"
      " SELECT 1, rowid, case_id, rank FROM"
      "  (SELECT rowid, case_id, rank FROM note_index WHERE note_index MATCH ?1 AND rowid >= ?4"
      "   ORDER BY rank LIMIT ?2)"
      ") ORDER BY r");
  st.bind(1, q).bind(2, fetch).bind(3, message_bound).bind(4, note_bound);
  std::vector<Match> out;
  while (st.step()) out.push_back({st.int64(0) != 0, st.int64(1), st.int64(2)});
  st.reset();
  return out;
}

// The best match's text around the words found, with [ ] around them.
std::string snippet_of(sql::Db& db, const std::string& q, const Match& m) {
  auto& st = m.note ? db.cached("SELECT snippet(note_index, -1, '[', ']', '...', 12) FROM note_index "
                                "WHERE note_index MATCH ?1 AND rowid = ?2")
                    : db.cached("SELECT snippet(message_index, -1, '[', ']', '...', 12) FROM message_index "
                                "WHERE message_index MATCH ?1 AND rowid = ?2");
  st.bind(1, q).bind(2, m.ref);
  std::string out = st.step() ? st.text(0) : std::string();
  st.reset();
  return out;
}

}  // namespace

Result<std::vector<SearchHit>> Store::search(const std::string& query) { return search(query, kSearchLimit); }

Result<std::vector<SearchHit>> Store::search(const std::string& query, std::size_t limit) {
  auto parsed = parse_search_query(query);
  if (!parsed) return parsed.error();
  // A reader without write access searches what is indexed so far.
  if (auto indexed = index_pending(); !indexed)
    spdlog::debug("search: could not index the newest messages first: {}", indexed.error().message);
  return guarded([&]() -> Result<std::vector<SearchHit>> {
    std::vector<SearchHit> hits;
    if (limit == 0) return hits;
    const std::string& words = parsed->words;
    // Fields alone: the cases they allow, the most recently active first.
    if (words.empty()) {
      for (auto id : detail::field_cases(db_, *parsed, static_cast<std::int64_t>(limit)))
        if (auto s = summary(id)) hits.push_back({std::move(*s), std::string()});
      return hits;
    }
    std::optional<std::unordered_set<std::int64_t>> allowed;
    if (parsed->has_fields()) {
      auto ids = detail::field_cases(db_, *parsed, -1);
      if (ids.empty()) return hits;
      allowed.emplace(ids.begin(), ids.end());
    }
    std::string q = words;
    // Several matches may be in one case: fetch more than `limit` and, when
    // that does not make `limit` cases, four times as many again.
    for (auto fetch = static_cast<std::int64_t>(limit) * 4;; fetch *= 4) {
      std::vector<Match> rows;
      try {
        rows = best_matches(db_, q, fetch);
      } catch (const StoreError& e) {
        if (is_temporary(e.code()) || q != words) throw;
        // Not FTS5 syntax: search for the words as typed.
        q = fts_quoted_words(words);
        if (q.empty()) return hits;
        rows = best_matches(db_, q, fetch);
      }
      hits.clear();
      std::set<std::int64_t> seen;
      for (const auto& m : rows) {
        auto id = resolve_case(m.case_id);
        if (!id || (allowed && !allowed->count(*id)) || !seen.insert(*id).second) continue;
        if (auto s = summary(*id)) hits.push_back({std::move(*s), snippet_of(db_, q, m)});
        if (hits.size() == limit) return hits;
      }
      if (static_cast<std::int64_t>(rows.size()) < fetch) return hits;  // every match seen
    }
  });
}

}  // namespace cased
