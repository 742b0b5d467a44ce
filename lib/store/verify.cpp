// casectl verify: what a sound cased database satisfies, checked read-only.
//
//   integrity        PRAGMA integrity_check: pages, b-trees, indexes
//   foreign keys     PRAGMA foreign_key_check
//   schema           a version this program knows (and its newest: the
//                    invariants below are those of the newest schema)
//   case has mail    every case not merged into another has a message
//   message case     every message's case exists
//   attachment       every attachment's message exists
//   merge            a merged case points at another case that exists,
//                    its merges reach a case not merged within 64 steps
//                    (no cycle), and it holds no message
//   split            a case split off points at an older case that exists
//   body in raw      a message's text kept in raw lies inside raw
//   index progress   search_progress holds one row, not past the last message
//   message index    every message up to indexed_upto is in message_index,
//                    and message_index holds no other row
//   note index       every comment is in note_index
//   search index     FTS5 'integrity-check' of message_index and note_index
#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include "store/backup.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

namespace {

constexpr std::size_t kNamedRows = 10;  // rows named per problem; the rest counted

class Checker {
 public:
  // Without a database it only records problems.
  explicit Checker(VerifyReport& report, sql::Db* db = nullptr) : db_(db), report_(report) {}

  void problem(std::string check, std::string detail) {
    report_.problems.push_back({std::move(check), std::move(detail)});
  }

  // Runs `body`; a database too damaged to answer is itself the problem.
  bool run(const char* check, const std::function<void()>& body) {
    try {
      body();
      return true;
    } catch (const StoreError& e) {
      problem(check, e.what());
      return false;
    }
  }

  std::int64_t scalar(const char* query) {
    auto st = db_->prepare(query);
    return st.step() ? st.int64(0) : 0;
  }

  // One problem naming the ids `query` returns (the first few, and how many).
  void ids(const char* check, const char* query, const char* what, std::optional<std::int64_t> bound = {}) {
    run(check, [&] {
      auto st = db_->prepare(query);
      if (bound) st.bind(1, *bound);
      std::string named;
      std::size_t n = 0;
      while (st.step()) {
        if (n++ < kNamedRows) named += fmt::format("{}{}", named.empty() ? "" : ", ", st.int64(0));
      }
      if (n == 0) return;
      if (n > kNamedRows) named += fmt::format(" and {} more", n - kNamedRows);
      problem(check, fmt::format(fmt::runtime(what), named));
    });
  }

 private:
  sql::Db* db_;
  VerifyReport& report_;
};

// False when the file is damaged: the checks after it would only repeat that.
bool check_pages(Checker& c, sql::Db& db) {
  bool sound = true;
  bool finished = c.run("integrity", [&] {
    auto st = db.prepare("PRAGMA integrity_check(100)");
    while (st.step()) {
      std::string text = st.text(0);
      if (text == "ok") continue;
      sound = false;
      // One line per finding; the first carries a "*** in database main ***" header.
      std::size_t start = 0;
      while (start <= text.size()) {
        std::size_t end = std::min(text.find('\n', start), text.size());
        std::string line = text.substr(start, end - start);
        if (!line.empty() && line.rfind("*** in database", 0) != 0) c.problem("integrity", line);
        start = end + 1;
      }
    }
  });
  c.run("foreign keys", [&] {
    auto st = db.prepare("PRAGMA foreign_key_check");
    while (st.step())
      c.problem("foreign keys", fmt::format("{} row {} names a {} row that does not exist", st.text(0), st.int64(1),
                                            st.text(2)));
  });
  return sound && finished;
}

// False when the invariants below cannot be checked (not the newest schema).
bool check_schema(Checker& c, VerifyReport& r) {
  int newest = Store::newest_schema_version();
  int v = r.schema_version;
  if (v == newest) return true;
  if (v == 0) c.problem("schema", "schema version 0: not a cased database (or an empty one)");
  else if (v > newest)
    c.problem("schema", fmt::format("schema version {} is unknown to this program (newest {})", v, newest));
  else
    c.problem("schema", fmt::format("schema version {} is older than this program's {}: migrate a copy (casectl init "
                                    "with case.database naming it) and verify that",
                                    v, newest));
  return false;
}

void check_cases(Checker& c) {
  c.ids("case has mail",
        "SELECT id FROM cases c WHERE merged_into IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id)",
        "cases without a message: {}");
  c.ids("message case", "SELECT id FROM messages WHERE case_id NOT IN (SELECT id FROM cases)",
        "messages whose case does not exist: {}");
  c.ids("attachment", "SELECT id FROM attachments WHERE message NOT IN (SELECT id FROM messages)",
        "attachments whose message does not exist: {}");
  c.ids("merge",
        "SELECT id FROM cases WHERE merged_into IS NOT NULL "
        "AND (merged_into = id OR merged_into NOT IN (SELECT id FROM cases))",
        "cases merged into themselves or into a case that does not exist: {}");
  c.ids("merge",
        "WITH RECURSIVE walk(start, at, hops) AS (SELECT id, merged_into, 1 FROM cases WHERE merged_into IS NOT NULL "
        "UNION ALL SELECT w.start, c.merged_into, w.hops + 1 FROM walk w JOIN cases c ON c.id = w.at "
        "WHERE c.merged_into IS NOT NULL AND w.hops < 64) SELECT DISTINCT start FROM walk WHERE hops = 64",
        "merged cases whose merges go round in a cycle or on past 64 cases: {}");
  c.ids("merge",
        "SELECT id FROM cases c WHERE merged_into IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM messages m WHERE m.case_id = c.id)",
        "merged cases that still hold messages: {}");
  c.ids("split",
        "SELECT id FROM cases WHERE split_from IS NOT NULL "
        "AND (split_from >= id OR split_from NOT IN (SELECT id FROM cases))",
        "cases split from themselves, from a newer case or from one that does not exist: {}");
  c.ids("body in raw",
        "SELECT r.message FROM message_body_in_raw r LEFT JOIN messages m ON m.id = r.message "
        "WHERE m.id IS NULL OR r.offset < 0 OR r.length < 0 OR r.offset + r.length > length(m.raw)",
        "messages whose text lies outside their raw bytes (or that do not exist): {}");
}

void check_index_rows(Checker& c, VerifyReport& r) {
  std::int64_t upto = 0;
  bool progress_ok = c.run("index progress", [&] {
    std::int64_t rows = c.scalar("SELECT count(*) FROM search_progress");
    std::int64_t last = c.scalar("SELECT coalesce(max(id), 0) FROM messages");
    upto = c.scalar("SELECT coalesce(max(indexed_upto), 0) FROM search_progress");
    if (rows != 1) c.problem("index progress", fmt::format("search_progress has {} rows, not 1", rows));
    else if (upto > last)
      c.problem("index progress", fmt::format("indexed_upto {} is past the last message {}", upto, last));
    r.unindexed = c.scalar(detail::kUnindexedCount);
  });
  if (!progress_ok) return;
  c.ids("message index",
        "SELECT id FROM messages m WHERE id <= ?1 "
        "AND NOT EXISTS (SELECT 1 FROM message_index_docsize d WHERE d.id = m.id)",
        "messages missing from the search index (message_index): {}", upto);
  c.ids("message index",
        "SELECT id FROM message_index_docsize d WHERE id > ?1 "
        "OR NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = d.id)",
        "rows of the search index (message_index) for messages not stored or not counted as indexed: {}", upto);
  c.run("note index", [&] {
    std::int64_t comments = c.scalar("SELECT count(*) FROM comments");
    std::int64_t indexed = c.scalar("SELECT count(*) FROM note_index WHERE kind = 'comment'");
    if (comments != indexed)
      c.problem("note index", fmt::format("{} comments but {} in the search index (note_index)", comments, indexed));
  });
}

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};

// Tells `progress` which step runs, at its start and again every so many
// SQLite VM instructions while one long statement runs (integrity_check,
// the FTS5 check), so that a progress line's clock keeps moving.
class StepTicker {
 public:
  static constexpr int kSteps = 4;
  explicit StepTicker(const VerifyProgress& progress) : progress_(progress) {}
  void start(int step, const char* name) {
    step_ = step;
    name_ = name;
    if (progress_) progress_(step_, kSteps, name_);
  }
  void watch(sqlite3* db) {
    if (progress_) sqlite3_progress_handler(db, 1000000, &StepTicker::tick, this);
  }

 private:
  static int tick(void* self) {
    auto* t = static_cast<StepTicker*>(self);
    t->progress_(t->step_, kSteps, t->name_);
    return 0;  // go on
  }
  const VerifyProgress& progress_;
  int step_ = 0;
  const char* name_ = "";
};

// FTS5 runs its 'integrity-check' only as an INSERT, so only in a write
// transaction: one of its own, rolled back, on a connection opened without
// CREATE and without changing the journal mode.
void check_fts(VerifyReport& r, const std::string& path, StepTicker& ticker) {
  Checker out(r);
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
  std::unique_ptr<sqlite3, CloseDb> db(raw);
  if (rc != SQLITE_OK || sqlite3_db_readonly(raw, "main") == 1) {
    out.problem("search index", fmt::format("not checked: FTS5 checks an index only with write access to {} (in a "
                                            "transaction it rolls back)",
                                            path));
    return;
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  ticker.watch(raw);
  out.run("search index", [&] {
    sql::Stmt(raw, "BEGIN IMMEDIATE").run();
    struct Rollback {
      sqlite3* db;
      ~Rollback() { sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr); }
    } rollback{raw};
    // Compared with the messages only when every one is indexed: the
    // comparison counts an unindexed message as missing.
    sql::Stmt pending(raw, detail::kUnindexedCount);
    int full = pending.step() && pending.int64(0) == 0 ? 1 : 0;
    pending.reset();
    for (const char* table : {"message_index", "note_index"}) {
      try {
        sql::Stmt(raw, fmt::format("INSERT INTO {0}({0}, rank) VALUES ('integrity-check', ?)", table))
            .bind(1, std::string_view(table) == "note_index" ? 1 : full)
            .run();
      } catch (const StoreError& e) {
        out.problem("search index", fmt::format("{}: the FTS5 integrity-check failed ({})", table, e.what()));
      }
    }
  });
}

}  // namespace

Result<VerifyReport> verify_database(const std::string& database, const VerifyProgress& progress) {
  return guarded([&]() -> Result<VerifyReport> {
    struct stat st {};
    if (::stat(database.c_str(), &st) != 0)
      return Error{Errc::invalid, fmt::format("cannot verify {}: {}", database, std::strerror(errno))};
    VerifyReport r;
    r.database = database;
    StepTicker ticker(progress);
    ticker.start(0, "integrity");
    sql::Db db = sql::Db::open(database, false, true);
    ticker.watch(db.handle());
    Checker c(r, &db);
    bool readable = c.run("integrity", [&] {
      db.exec("BEGIN");  // one snapshot for every check below
      r.schema_version = static_cast<int>(c.scalar("PRAGMA user_version"));
    });
    if (!readable) return r;
    if (!check_pages(c, db)) {
      c.problem("integrity", "the file is damaged: the other checks were not run (restore an earlier backup)");
      return r;
    }
    if (!check_schema(c, r)) return r;
    c.run("integrity", [&] {
      r.cases = c.scalar("SELECT count(*) FROM cases");
      r.messages = c.scalar("SELECT count(*) FROM messages");
    });
    ticker.start(1, "cases");
    check_cases(c);
    ticker.start(2, "search rows");
    check_index_rows(c, r);
    c.run("integrity", [&] { db.exec("COMMIT"); });
    ticker.start(3, "search index");
    check_fts(r, database, ticker);
    return r;
  });
}

}  // namespace cased
