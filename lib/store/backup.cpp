#include "store/backup.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "store/store_guard.hpp"
#include "core/unique_fd.hpp"

namespace cased {

using detail::guarded;

namespace {

[[noreturn]] void fail_errno(const std::string& what, int err) {
  Errc code = err == ENOSPC || err == EDQUOT || err == EIO || err == EINTR ? Errc::temporary : Errc::invalid;
  throw StoreError(code, fmt::format("{}: {}", what, std::strerror(err)));
}

// The new file in the target's directory; removed unless kept.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& target) {
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
      path_ = target.parent_path() / fmt::format(".{}.{:08x}.tmp", target.filename().string(), rd());
      UniqueFd f(::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!f && errno == EEXIST) continue;
      if (!f) fail_errno(fmt::format("cannot create a file beside {}", target.string()), errno);
      // 0600 whatever the umask; SQLite gives its journal the same mode.
      if (::fchmod(f.get(), 0600) != 0) fail_errno(fmt::format("cannot chmod {}", path_.string()), errno);
      made_ = true;
      return;
    }
    throw StoreError(Errc::temporary, fmt::format("cannot find a free temporary name beside {}", target.string()));
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (made_) ::unlink(path_.c_str());
  }
  const std::filesystem::path& path() const { return path_; }
  void keep() { made_ = false; }

 private:
  std::filesystem::path path_;
  bool made_ = false;
};

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

struct FinishBackup {
  void operator()(sqlite3_backup* b) const { sqlite3_backup_finish(b); }
};

// Pages per step: about 4 MB, so each step is short. The snapshot stays
// pinned between steps (the source's read transaction), so the copy never
// restarts however often cased commits meanwhile.
constexpr int kPagesPerStep = 1024;

void copy_pages(sqlite3* source, sqlite3* dest, const BackupSource::PageProgress& progress) {
  std::unique_ptr<sqlite3_backup, FinishBackup> backup(sqlite3_backup_init(dest, "main", source, "main"));
  if (!backup) sql::throw_error(dest, sqlite3_errcode(dest), "backup");
  for (;;) {
    int rc = sqlite3_backup_step(backup.get(), kPagesPerStep);
    if (progress) {
      int total = sqlite3_backup_pagecount(backup.get());
      progress(total - sqlite3_backup_remaining(backup.get()), total);
    }
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK) continue;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    sql::throw_error(nullptr, rc, "backup");
  }
  int rc = sqlite3_backup_finish(backup.release());
  if (rc != SQLITE_OK) sql::throw_error(dest, rc, "backup");
}

// The copy's pages say WAL, as the source's do: it becomes a rollback-journal
// database, one file that reads without a -wal or -shm beside it. cased
// turns it back to WAL when it opens it.
void make_self_contained(sqlite3* dest) {
  sql::Stmt mode(dest, "PRAGMA journal_mode = DELETE");
  if (!mode.step() || mode.text(0) != "delete")
    throw StoreError(Errc::internal, "backup: the copy did not leave WAL mode");
}

void sync_file(const std::filesystem::path& path, std::uint64_t& bytes) {
  UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!f || ::fstat(f.get(), &st) != 0) fail_errno(fmt::format("cannot open {}", path.string()), errno);
  if (::fsync(f.get()) != 0) fail_errno(fmt::format("cannot sync {}", path.string()), errno);
  bytes = static_cast<std::uint64_t>(st.st_size);
}

// Renames `from` to `to`, never replacing `to` unless `force`.
void put_in_place(const std::filesystem::path& from, const std::filesystem::path& to, bool force) {
  if (force) {
    if (::rename(from.c_str(), to.c_str()) != 0) fail_errno(fmt::format("cannot rename to {}", to.string()), errno);
    return;
  }
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  int err = errno;
  if (err == EINVAL || err == ENOSYS) {  // a file system without RENAME_NOREPLACE: link() never replaces either
    if (::link(from.c_str(), to.c_str()) == 0) {
      ::unlink(from.c_str());
      return;
    }
    err = errno;
  }
  if (err == EEXIST)
    throw StoreError(Errc::refused, fmt::format("{} exists: not overwritten (--force replaces it)", to.string()));
  fail_errno(fmt::format("cannot rename to {}", to.string()), err);
}

void sync_directory(const std::filesystem::path& dir) {
  UniqueFd f(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!f || ::fsync(f.get()) != 0) fail_errno(fmt::format("cannot sync directory {}", dir.string()), errno);
}

std::int64_t count(sql::Db& db, const char* query) {
  auto st = db.prepare(query);
  return st.step() ? st.int64(0) : 0;
}

}  // namespace

Result<BackupSource> BackupSource::open(const std::string& database) {
  return guarded([&]() -> Result<BackupSource> {
    struct stat st {};
    if (::stat(database.c_str(), &st) != 0)
      return Error{Errc::invalid, fmt::format("cannot back up {}: {}", database, std::strerror(errno))};
    BackupSource src(sql::Db::open(database, false, true));
    // BEGIN and a first read: the snapshot is fixed from here to the end.
    src.db_.exec("BEGIN");
    src.counts_.schema_version = static_cast<int>(count(src.db_, "PRAGMA user_version"));
    src.counts_.cases = count(src.db_, "SELECT count(*) FROM cases");
    src.counts_.messages = count(src.db_, "SELECT count(*) FROM messages");
    src.counts_.unindexed = count(src.db_, detail::kUnindexedCount);
    return src;
  });
}

Result<BackupSummary> BackupSource::write_to(const std::string& file, bool force, const PageProgress& progress) {
  return guarded([&]() -> Result<BackupSummary> {
    std::filesystem::path target = std::filesystem::absolute(file);
    struct stat st {};
    if (!force && ::lstat(target.c_str(), &st) == 0)
      return Error{Errc::refused, fmt::format("{} exists: not overwritten (--force replaces it)", file)};
    TempFile tmp(target);
    {
      sqlite3* raw = nullptr;
      int rc = sqlite3_open_v2(tmp.path().c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, nullptr);
      DbHandle dest(raw);
      if (rc != SQLITE_OK) sql::throw_error(raw, rc, fmt::format("cannot open {}", tmp.path().string()));
      sqlite3_extended_result_codes(raw, 1);
      copy_pages(db_.handle(), raw, progress);
      make_self_contained(raw);
      rc = sqlite3_close(dest.release());
      if (rc != SQLITE_OK) sql::throw_error(nullptr, rc, "closing the copy");
    }
    BackupSummary out = counts_;
    out.path = target.string();
    sync_file(tmp.path(), out.bytes);
    put_in_place(tmp.path(), target, force);
    tmp.keep();
    sync_directory(target.parent_path());
    return out;
  });
}

}  // namespace cased
