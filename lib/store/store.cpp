#include "store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_set>

#include "core/util.hpp"
#include "store/migrations.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

const std::vector<std::string>& case_states() {
  static const std::vector<std::string> states = {"new", "open", "waiting", "resolved", "rejected"};
  return states;
}

namespace {

std::string newer_message(const std::string& path, int found) {
  return fmt::format(
      "database {} is at schema version {}, newer than this program knows ({}); it was left untouched: "
      "use the cased and casectl that wrote it",
      path, found, Store::newest_schema_version());
}

// The schema version of an existing database, read without writing to it
// (a read-write open would already set its journal mode); 0 when the file
// does not exist yet.
int existing_version(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return 0;
  sql::Db db = sql::Db::open(path, false, true);
  auto& q = db.cached("PRAGMA user_version");
  q.step();
  return static_cast<int>(q.int64(0));
}

// Whether a reader must open `path` immutable: SQLite reads a database in
// WAL mode through its -shm file, and a reader who may not create one
// (no write access to the directory) cannot read it when no writer has left
// one behind. Without a -wal file everything committed is in the database
// file itself; immutable reads it without locks, so a writer starting
// during the read could make this one reading inconsistent (it checkpoints
// only after 1000 pages or when it stops).
bool needs_immutable(const std::string& path) {
  auto exists = [](const std::string& p) { return ::access(p.c_str(), F_OK) == 0; };
  if (exists(path + "-wal") || exists(path + "-shm")) return false;
  std::string dir = std::filesystem::path(path).parent_path().string();
  return ::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0;
}

}  // namespace

int Store::newest_schema_version() { return migrations().empty() ? 0 : migrations().back().version; }

Result<Store> Store::open(const std::string& path, StoreOptions options) {
  return open_at_version(path, std::move(options), 1 << 30);
}

Result<Store> Store::open_at_version(const std::string& path, StoreOptions options, int version) {
  return guarded([&]() -> Result<Store> {
    if (int found = existing_version(path); found > newest_schema_version())
      return Error{Errc::refused, newer_message(path, found)};
    Store s(sql::Db::open(path, true), std::move(options));
    s.db_.busy_timeout(s.options_.busy_timeout);
    // Checked again: a newer program may have moved it on between the two opens.
    if (int found = s.user_version(); found > newest_schema_version())
      return Error{Errc::refused, newer_message(path, found)};
    s.register_functions();
    s.migrate(version);
    return s;
  });
}

Result<Store> Store::open_readonly(const std::string& path, StoreOptions options) {
  return guarded([&]() -> Result<Store> {
    Store s(sql::Db::open(path, false, true, needs_immutable(path)), std::move(options));
    s.db_.busy_timeout(s.options_.busy_timeout);
    s.register_functions();
    int found = s.user_version();
    if (found > newest_schema_version()) return Error{Errc::refused, newer_message(path, found)};
    if (found < newest_schema_version())
      return Error{Errc::refused,
                   fmt::format("database {} is at schema version {}, older than this program's {}; reading it needs "
                               "it migrated first: start cased or run casectl init as a user who may write it",
                               path, found, newest_schema_version())};
    return s;
  });
}

Result<int> Store::schema_version() {
  return guarded([&]() -> Result<int> { return user_version(); });
}

int Store::user_version() {
  auto& st = db_.cached("PRAGMA user_version");
  st.step();
  int v = static_cast<int>(st.int64(0));
  st.reset();
  return v;
}

void Store::migrate(int up_to) {
  if (user_version() >= std::min<int>(up_to, newest_schema_version())) return;
  // IMMEDIATE: cased and casectl starting together must not both migrate.
  sql::Transaction tx(db_);
  int current = user_version();
  if (current > newest_schema_version()) throw StoreError(Errc::refused, newer_message(db_.path(), current));
  for (const auto& m : migrations()) {
    if (m.version <= current || m.version > up_to) continue;
    db_.exec(m.sql);
    db_.exec(fmt::format("PRAGMA user_version = {}", m.version));
  }
  tx.commit();
}

Result<std::optional<std::int64_t>> Store::find_case(std::int64_t id) {
  return guarded([&]() -> Result<std::optional<std::int64_t>> { return resolve_case(id); });
}

std::optional<std::int64_t> Store::resolve_case(std::int64_t id) {
  for (int hops = 0; hops < 64; ++hops) {
    auto& st = db_.cached("SELECT merged_into FROM cases WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    auto next = st.opt_int64(0);
    st.reset();
    if (!next) return id;
    id = *next;
  }
  return std::nullopt;
}

void Store::add_event(std::int64_t case_id, std::string_view kind, std::string_view actor, std::string_view detail,
                      std::int64_t now) {
  db_.cached("INSERT INTO events(case_id, kind, actor, created, detail) VALUES (?, ?, ?, ?, ?)")
      .bind(1, case_id)
      .bind(2, kind)
      .bind(3, actor)
      .bind(4, now)
      .bind(5, detail)
      .run();
}

void Store::touch(std::int64_t case_id, std::int64_t now) {
  db_.cached("UPDATE cases SET updated = max(updated, ?) WHERE id = ?").bind(1, now).bind(2, case_id).run();
}

}  // namespace cased
