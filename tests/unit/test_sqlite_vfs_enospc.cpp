// A write the coalescing VFS (lib/store/sqlite_vfs.cpp) could not flush must
// never reach the file later: once SQLite has rolled back the transaction
// (or given up the checkpoint) whose bytes they were, those offsets belong
// to whoever writes next, possibly another connection of the same process
// with its own file handle. Found as a corrupt database after a disk-full
// fault cleared (tests/e2e/test_faults_disk_full.py, about 1 run in 7).
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "store/sqlite.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::string blob(std::uint32_t seed, std::size_t size) {
  std::string s(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

// Makes the unix VFS's writes fail with ENOSPC while alive.
bool full = false;
ssize_t enospc_pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (full) {
    errno = ENOSPC;
    return -1;
  }
  return ::pwrite(fd, buf, n, off);
}

class Full {
 public:
  Full() {
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    int set = 0;
    for (const char* name : {"pwrite", "pwrite64"})
      if (unix_vfs->xSetSystemCall(unix_vfs, name, reinterpret_cast<sqlite3_syscall_ptr>(&enospc_pwrite)) == SQLITE_OK)
        ++set;
    REQUIRE(set > 0);
    full = true;
  }
  ~Full() {
    full = false;
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    unix_vfs->xSetSystemCall(unix_vfs, nullptr, nullptr);
  }
  Full(const Full&) = delete;
  Full& operator=(const Full&) = delete;
};

void insert(sql::Db& db, std::int64_t id, std::size_t size) {
  sql::Transaction tx(db);
  auto body = blob(static_cast<std::uint32_t>(id), size);
  db.prepare("INSERT INTO t(id, body) VALUES (?, ?)").bind(1, id).bind_blob(2, body).run();
  tx.commit();
}

std::string integrity(sql::Db& db) {
  auto s = db.prepare("PRAGMA integrity_check");
  REQUIRE(s.step());
  return s.text(0);
}

}  // namespace

// Connection a's commit fails on a full disk; the disk clears; connection b
// (the outbox worker, say) commits frames at the same WAL offsets; then a
// merely reads. Nothing a wrote may land over b's frames.
TEST_CASE("sqlite vfs: a failed commit's frames never overwrite another connection's", "[sqlite][vfs][enospc]") {
  TempDir dir;
  std::string path = dir.file("enospc.db");
  sql::Db a = sql::Db::open(path, true);
  a.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  sql::Db b = sql::Db::open(path, false);
  insert(a, 1, 1000);
  insert(b, 2, 1000);
  {
    Full disk;
    CHECK_THROWS_AS(insert(a, 3, 60000), StoreError);
  }
  insert(b, 4, 3000);
  insert(b, 5, 3000);
  // a starts a read: its locks are where a kept run would be flushed.
  auto s = a.prepare("SELECT count(*), sum(length(body)) FROM t");
  REQUIRE(s.step());
  CHECK(s.int64(0) == 4);
  CHECK(integrity(b) == "ok");
  CHECK(integrity(a) == "ok");
  insert(a, 6, 1000);
  CHECK(integrity(b) == "ok");
}
