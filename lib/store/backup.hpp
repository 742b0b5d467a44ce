// Backup and verification of the case database (casectl backup, casectl
// verify; docs/operator.md "Backup and restore").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "store/sqlite.hpp"

namespace cased {

namespace detail {
// How many stored messages the search index has not reached yet.
inline constexpr const char* kUnindexedCount =
    "SELECT count(*) FROM messages WHERE id > (SELECT coalesce(max(indexed_upto), 0) FROM search_progress)";
}  // namespace detail

// What a backup holds, counted in the snapshot it copied.
struct BackupSummary {
  std::string path;
  std::uint64_t bytes = 0;
  std::int64_t cases = 0;
  std::int64_t messages = 0;
  std::int64_t unindexed = 0;  // stored but not yet in the search index (cased indexes them on start)
  int schema_version = 0;
};

// One snapshot of the database, pinned by a read transaction from open()
// until the object goes: a running cased keeps writing (in WAL mode a reader
// blocks no writer) and the copy is the database as it was at open(). The
// snapshot's files are opened by open(), so the copy can be written with
// other rights (casectl under sudo writes it as the invoking user).
class BackupSource {
 public:
  // Opens `database` read-only (it must exist) and starts the snapshot.
  static Result<BackupSource> open(const std::string& database);

  // Copies the snapshot, search index included, into `file`: a new file of
  // mode 0600 made in `file`'s directory, synced, renamed into place and the
  // directory synced. The copy is one self-contained file in rollback-journal
  // mode (no -wal beside it). An existing `file` is refused (Errc::refused)
  // unless `force`. On failure nothing is left behind. `progress` hears the
  // pages copied and the pages in all after each step (a few MB).
  using PageProgress = std::function<void(std::int64_t done, std::int64_t total)>;
  Result<BackupSummary> write_to(const std::string& file, bool force, const PageProgress& progress = {});

 private:
  explicit BackupSource(sql::Db db) : db_(std::move(db)) {}
  sql::Db db_;
  BackupSummary counts_;
};

// One thing wrong with a database: which check found it, and what.
struct VerifyProblem {
  std::string check;
  std::string detail;
};

struct VerifyReport {
  std::string database;
  int schema_version = 0;
  std::int64_t cases = 0;
  std::int64_t messages = 0;
  std::int64_t unindexed = 0;
  std::vector<VerifyProblem> problems;  // empty: the database is sound
};

// Checks `database` without changing it: SQLite's integrity and foreign key
// checks, the FTS5 integrity-check of both search indexes, and cased's own
// invariants (lib/store/verify.cpp lists them). It creates and migrates
// nothing; the FTS5 check runs in a write transaction that is rolled back
// (SQLite runs it only there), so it briefly holds the write lock and needs
// write access (without it, that is reported as a problem). An error only
// when the file cannot be opened at all; damage is reported as problems.
// `progress` hears each step as it starts: its number from 0, the number of
// steps, and its name.
using VerifyProgress = std::function<void(int step, int steps, std::string_view name)>;
Result<VerifyReport> verify_database(const std::string& database, const VerifyProgress& progress = {});

}  // namespace cased
