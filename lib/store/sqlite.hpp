// Owners for SQLite handles. Errors throw StoreError (see classify()),
// caught at the Store boundary and turned into values.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace cased::sql {

// The class of an SQLite result code (primary or extended): full (SQLITE_FULL,
// or an I/O error whose system errno is ENOSPC or EDQUOT), busy (another
// connection holds a lock past the busy timeout), temporary (other I/O,
// memory), or internal (a bug of ours: constraint, misuse, corruption).
Errc classify(int rc, int system_errno);

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view what);

class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
  Stmt(Stmt&&) noexcept = default;
  Stmt& operator=(Stmt&&) noexcept = default;

  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Stmt& bind(int index, bool value) { return bind(index, static_cast<std::int64_t>(value ? 1 : 0)); }
  Stmt& bind(int index, std::string_view text);
  Stmt& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Stmt& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Stmt& bind(int index, std::nullptr_t);
  Stmt& bind(int index, const std::optional<std::string>& text);
  Stmt& bind(int index, const std::optional<std::int64_t>& value);
  Stmt& bind_blob(int index, std::string_view bytes);
  // As bind() and bind_blob(), but SQLite keeps a pointer to the caller's
  // bytes instead of a copy: for large values, where the bytes outlive the
  // statement's run() or reset() (which drop the bindings).
  Stmt& bind_view(int index, std::string_view text);
  Stmt& bind_blob_view(int index, std::string_view bytes);
  // The text of a column without a copy; valid until the next step() or reset().
  std::string_view view(int col) const;

  // Steps once; true when a row is available.
  bool step();
  // Steps to completion, for statements that return no rows.
  void run();
  void reset();

  std::int64_t int64(int col) const;
  std::string text(int col) const;
  std::optional<std::string> opt_text(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;
  bool is_null(int col) const;

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  sqlite3* db_;
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

class Db {
 public:
  // Opens (and with `create`, creates mode 0600) the database file.
  // `immutable` (read-only only): SQLite takes no locks and needs no -shm
  // file, for a reader who can neither open nor create one.
  static Db open(const std::string& path, bool create, bool readonly = false, bool immutable = false);
  Db(Db&&) noexcept = default;
  Db& operator=(Db&&) noexcept = default;

  sqlite3* handle() const { return db_.get(); }
  // How long a statement waits for another connection's lock before it
  // fails with SQLITE_BUSY (Errc::busy). Db::open sets 10 s.
  void busy_timeout(std::chrono::milliseconds limit) {
    sqlite3_busy_timeout(db_.get(), static_cast<int>(limit.count()));
  }
  void exec(std::string_view sql);
  // A statement prepared once per connection and reset before reuse.
  Stmt& cached(const char* sql);
  Stmt prepare(std::string_view sql) { return Stmt(db_.get(), sql); }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const { return sqlite3_changes(db_.get()); }
  const std::string& path() const { return path_; }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  Db() = default;
  std::unique_ptr<sqlite3, Close> db_;
  std::map<const char*, Stmt> cache_;
  std::string path_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted.
class Transaction {
 public:
  explicit Transaction(Db& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

// SAVEPOINT inside a transaction, so one message of a batch can fail alone.
class Savepoint {
 public:
  explicit Savepoint(Db& db);
  ~Savepoint();
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  void release();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace cased::sql
