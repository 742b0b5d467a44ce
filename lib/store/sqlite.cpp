#include "store/sqlite.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "store/sqlite_vfs.hpp"

namespace cased::sql {

Errc classify(int rc, int system_errno) {
  switch (rc & 0xff) {
    case SQLITE_FULL: return Errc::full;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Errc::busy;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      // A write, a sync or the shared-memory file that failed for want of space.
      return system_errno == ENOSPC || system_errno == EDQUOT ? Errc::full : Errc::temporary;
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL: return Errc::temporary;
    default: return Errc::internal;
  }
}

void throw_error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = fmt::format("{}: {}", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  throw StoreError(classify(rc, db ? sqlite3_system_errno(db) : 0), msg);
}

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) throw_error(db, rc, "prepare");
  stmt_.reset(s);
}

Stmt& Stmt::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

// SQLite binds a null pointer as NULL, and an empty string_view may have one
// (a default-constructed one does): bind "" so empty stays empty, not NULL.
Stmt& Stmt::bind(int index, std::string_view text) {
  const char* p = text.data() ? text.data() : "";
  int rc = sqlite3_bind_text64(stmt_.get(), index, p, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::bind(int index, std::nullptr_t) {
  int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::bind(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bind(index, nullptr);
}

Stmt& Stmt::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind(index, nullptr);
}

// As for text: an empty view is a zero-length blob, never NULL.
Stmt& Stmt::bind_blob(int index, std::string_view bytes) {
  const char* p = bytes.data() ? bytes.data() : "";
  int rc = sqlite3_bind_blob64(stmt_.get(), index, p, bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::bind_view(int index, std::string_view text) {
  const char* p = text.data() ? text.data() : "";
  int rc = sqlite3_bind_text64(stmt_.get(), index, p, text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

Stmt& Stmt::bind_blob_view(int index, std::string_view bytes) {
  const char* p = bytes.data() ? bytes.data() : "";
  int rc = sqlite3_bind_blob64(stmt_.get(), index, p, bytes.size(), SQLITE_STATIC);
  if (rc != SQLITE_OK) throw_error(db_, rc, "bind");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Nothing bound may outlive a failed step: bind_view() bytes go with the caller.
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  throw_error(db_, rc, "step");
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }

std::string Stmt::text(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  int n = sqlite3_column_bytes(stmt_.get(), col);
  return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}

std::string_view Stmt::view(int col) const {
  const void* p = sqlite3_column_blob(stmt_.get(), col);
  int n = sqlite3_column_bytes(stmt_.get(), col);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string_view();
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

std::optional<std::int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }

namespace {

// file:PATH?immutable=1, with what a URI reserves in PATH percent-encoded.
std::string immutable_uri(const std::string& path) {
  std::string out = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x21 || c > 0x7e) out += fmt::format("%{:02X}", c);
    else out += static_cast<char>(c);
  }
  return out + "?immutable=1";
}

// The write-coalescing VFS, or in a test build with CASED_TEST_PLAIN_VFS=1
// SQLite's default one: tells a fault of the shim from one of SQLite's.
const char* vfs_name() {
#ifdef CASED_TEST_HOOKS
  if (const char* p = std::getenv("CASED_TEST_PLAIN_VFS"); p && std::strcmp(p, "1") == 0) return nullptr;
#endif
  return coalescing_vfs();
}

}  // namespace

Db Db::open(const std::string& path, bool create, bool readonly, bool immutable) {
  Db db;
  db.path_ = path;
  sqlite3* raw = nullptr;
  int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  struct stat st {};
  bool fresh = create && !readonly && ::stat(path.c_str(), &st) != 0 && errno == ENOENT;
  if (fresh) flags |= SQLITE_OPEN_CREATE;
  immutable = immutable && readonly;
  if (immutable) flags |= SQLITE_OPEN_URI;
  // Through the write-coalescing VFS (sqlite_vfs.hpp): one pwrite per run
  // of WAL frames or checkpointed pages instead of one or two per page.
  int rc = sqlite3_open_v2(immutable ? immutable_uri(path).c_str() : path.c_str(), &raw, flags, vfs_name());
  db.db_.reset(raw);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    throw StoreError(Errc::invalid, fmt::format("cannot open database {}: {}", path, msg));
  }
  // Never open()/close() the file ourselves: closing any descriptor of it
  // drops every POSIX lock this process holds on it, and another process
  // could then delete the WAL under our writer. SQLite creates the file
  // empty; it becomes 0600 before the first byte is written, and SQLite
  // gives its -wal/-shm/-journal companions the same mode.
  if (fresh && ::chmod(path.c_str(), 0600) != 0)
    throw StoreError(Errc::invalid, fmt::format("cannot chmod {}: {}", path, std::strerror(errno)));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);
  db.exec("PRAGMA temp_store = MEMORY");
  db.exec("PRAGMA foreign_keys = ON");
  if (!readonly) {
    db.exec("PRAGMA journal_mode = WAL");
    // FULL: every commit is fsynced before it returns (docs/contract.md "Mail in").
    db.exec("PRAGMA synchronous = FULL");
  }
  return db;
}

void Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  int rc = sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw StoreError(classify(rc, sqlite3_system_errno(db_.get())), msg);
  }
}

Stmt& Db::cached(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, Stmt(db_.get(), sql)).first;
  it->second.reset();
  return it->second;
}

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {  // NOLINT(bugprone-empty-catch): a failed rollback leaves SQLite to roll back on close
    }
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

Savepoint::Savepoint(Db& db) : db_(db) { db_.exec("SAVEPOINT msg"); }

Savepoint::~Savepoint() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK TO msg");
      db_.exec("RELEASE msg");
    } catch (...) {  // NOLINT(bugprone-empty-catch): the outer transaction still rolls back
    }
  }
}

void Savepoint::release() {
  db_.exec("RELEASE msg");
  done_ = true;
}

}  // namespace cased::sql
