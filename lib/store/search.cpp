#include "store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "cases/threading.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"
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

Result<std::vector<SearchHit>> Store::search(const std::string& query) {
  // A reader without write access searches what is indexed so far.
  if (auto indexed = index_pending(); !indexed)
    spdlog::debug("search: could not index the newest messages first: {}", indexed.error().message);
  return guarded([&]() -> Result<std::vector<SearchHit>> {
    auto run = [&](const std::string& q) {
      // Both indexes rank with bm25 over the same columns; one list, best first.
      auto st = db_.prepare(
          "SELECT case_id, snip FROM ("
          " SELECT m.case_id AS case_id, snippet(message_index, -1, '[', ']', '...', 12) AS snip,"
          "        message_index.rank AS r"
          " FROM message_index JOIN messages m ON m.id = message_index.rowid WHERE message_index MATCH ?1"
          " UNION ALL"
          " SELECT case_id, snippet(note_index, -1, '[', ']', '...', 12), note_index.rank"
          " FROM note_index WHERE note_index MATCH ?1"
          ") ORDER BY r LIMIT 1000");
      st.bind(1, q);
      std::vector<std::pair<std::int64_t, std::string>> rows;
      while (st.step()) rows.emplace_back(st.int64(0), st.text(1));
      return rows;
    };
    std::vector<std::pair<std::int64_t, std::string>> rows;
    try {
      rows = run(query);
    } catch (const StoreError& e) {
      if (is_temporary(e.code())) throw;
      // Not FTS5 syntax: search for the words as typed, keeping a trailing * as a prefix query.
      std::string q;
      std::string word;
      auto flush = [&] {
        if (word.empty()) return;
        bool prefix = word.back() == '*';
        if (prefix) word.pop_back();
        std::string quoted = "\"";
        for (char ch : word) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        quoted += "\"";
        q += (q.empty() ? "" : " ") + quoted + (prefix ? "*" : "");
        word.clear();
      };
      for (char ch : query) {
        if (ch == ' ' || ch == '\t') flush();
        else word += ch;
      }
      flush();
      if (q.empty()) return std::vector<SearchHit>{};
      rows = run(q);
    }
    std::vector<SearchHit> hits;
    std::set<std::int64_t> seen;
    for (auto& [case_id, snippet] : rows) {
      auto id = resolve_case(case_id);
      if (!id || !seen.insert(*id).second) continue;
      if (auto s = summary(*id)) hits.push_back({std::move(*s), std::move(snippet)});
    }
    return hits;
  });
}

}  // namespace cased
