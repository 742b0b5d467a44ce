// The write-coalescing VFS (lib/sqlite_vfs.cpp) under Db::open: whatever a
// writer through it commits must be visible, byte for byte, to a connection
// on SQLite's default VFS (standing in for casectl or the sqlite3 shell),
// across buffer flushes in mid-transaction, cache spills, rollbacks and WAL
// restarts, at every synchronous setting.
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// Bytes that differ for every (seed, offset), so a stale or misplaced page
// cannot pass for the right one.
std::string body(std::uint32_t seed, std::size_t size) {
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

struct Row {
  std::uint32_t seed;
  std::size_t size;
};

// A connection on the default VFS: no vfs name, as other programs open it.
class Reader {
 public:
  explicit Reader(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~Reader() { sqlite3_close_v2(db_); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The first column of each row, as bytes.
  std::vector<std::string> column(const char* sql, std::int64_t arg = 0) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) == SQLITE_OK);
    if (sqlite3_bind_parameter_count(s) > 0) sqlite3_bind_int64(s, 1, arg);
    std::vector<std::string> out;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      auto* p = static_cast<const char*>(sqlite3_column_blob(s, 0));
      out.emplace_back(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, 0)));
    }
    sqlite3_finalize(s);
    INFO(sql << ": " << sqlite3_errmsg(db_));
    REQUIRE(rc == SQLITE_DONE);
    return out;
  }
  std::int64_t number(const char* sql) { return std::stoll(column(sql).at(0)); }

  // Everything committed so far, compared with the model.
  void check_all(const std::map<std::int64_t, Row>& rows) {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, "SELECT id, body FROM t ORDER BY id", -1, &s, nullptr) == SQLITE_OK);
    auto it = rows.begin();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      REQUIRE(it != rows.end());
      REQUIRE(sqlite3_column_int64(s, 0) == it->first);
      std::string expected = body(it->second.seed, it->second.size);
      auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, 1));
      auto* p = static_cast<const char*>(sqlite3_column_blob(s, 1));
      REQUIRE(std::string_view(p ? p : "", n) == expected);
      ++it;
    }
    sqlite3_finalize(s);
    REQUIRE(rc == SQLITE_DONE);
    REQUIRE(it == rows.end());
  }

  // What cheaply tells a missing or stale row after each commit.
  void check_summary(const std::map<std::int64_t, Row>& rows) {
    std::int64_t bytes = 0;
    for (auto& [id, r] : rows) bytes += static_cast<std::int64_t>(r.size);
    CHECK(number("SELECT count(*) FROM t") == static_cast<std::int64_t>(rows.size()));
    CHECK(number("SELECT coalesce(sum(length(body)), 0) FROM t") == bytes);
  }

  void check_row(const std::map<std::int64_t, Row>& rows, std::int64_t id) {
    auto got = column("SELECT body FROM t WHERE id = ?", id);
    auto it = rows.find(id);
    if (it == rows.end()) {
      CHECK(got.empty());
    } else {
      REQUIRE(got.size() == 1);
      CHECK(got[0] == body(it->second.seed, it->second.size));
    }
  }

  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

std::string one(sql::Db& db, const char* sql) {
  auto s = db.prepare(sql);
  REQUIRE(s.step());
  std::string v = s.text(0);
  s.reset();
  return v;
}

// Checkpoints that must complete (busy = 0), so the WAL restarts at offset 0.
void checkpoint_writer(sql::Db& db, const char* mode) {
  auto s = db.prepare(std::string("PRAGMA wal_checkpoint(") + mode + ")");
  REQUIRE(s.step());
  CHECK(s.int64(0) == 0);
  s.reset();
}

void checkpoint_reader(Reader& r, const char* mode) {
  CHECK(r.column((std::string("PRAGMA wal_checkpoint(") + mode + ")").c_str()).at(0) == "0");
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

void exercise(const char* synchronous) {
  TempDir dir;
  std::string path = dir.file("vfs.db");
  mode_t old = umask(0);
  sql::Db w = sql::Db::open(path, true);
  umask(old);
  w.exec(std::string("PRAGMA synchronous = ") + synchronous);
  // A tiny page cache spills dirty pages into the WAL mid-transaction and
  // rewrites them later in the same transaction.
  w.exec("PRAGMA cache_size = 10");
  w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  Reader r(path);

  std::map<std::int64_t, Row> rows;
  std::int64_t next_id = 1;
  std::uint32_t next_seed = 1;
  auto insert = [&](std::size_t size) {
    std::int64_t id = next_id++;
    Row row{next_seed++, size};
    w.prepare("INSERT INTO t(id, body) VALUES (?, ?)").bind(1, id).bind_blob(2, body(row.seed, row.size)).run();
    rows[id] = row;
    return id;
  };

  for (int round = 0; round < 48; ++round) {
    INFO("synchronous=" << synchronous << " round " << round);
    std::map<std::int64_t, Row> before = rows;
    std::vector<std::int64_t> touched;
    std::optional<sql::Transaction> tx(std::in_place, w);
    switch (round % 6) {
      case 0:  // many small rows
        for (int i = 0; i < 200; ++i) touched.push_back(insert(50 + static_cast<std::size_t>(i % 7) * 30));
        break;
      case 1:  // a message-sized blob or two
        for (int i = 0; i < 2; ++i) touched.push_back(insert(64 * 1024 + static_cast<std::size_t>(round)));
        break;
      case 2: {  // 1.5 MiB: many runs and cache spills, read back before the commit
        for (int i = 0; i < 24; ++i) touched.push_back(insert(64 * 1024 - 100 + static_cast<std::size_t>(i)));
        auto s = w.prepare("SELECT body FROM t WHERE id = ?");
        s.bind(1, touched.front());
        REQUIRE(s.step());
        CHECK(s.text(0) == body(rows[touched.front()].seed, rows[touched.front()].size));
        s.reset();
        // Not committed yet: the other connection still sees the old state.
        r.check_summary(before);
        break;
      }
      case 3: {  // rewrite every 7th row in place, small and large
        int i = 0;
        for (auto& [id, row] : rows) {
          if (i++ % 7 != 0) continue;
          row = Row{next_seed++, row.size > 1000 ? std::size_t{64 * 1024 + 17} : std::size_t{333}};
          w.prepare("UPDATE t SET body = ? WHERE id = ?").bind_blob(1, body(row.seed, row.size)).bind(2, id).run();
          touched.push_back(id);
        }
        break;
      }
      case 4: {  // 1.4 MiB that is rolled back, then a delete
        for (int i = 0; i < 20; ++i) insert(70 * 1024);
        tx.reset();  // rolls back
        tx.emplace(w);
        rows = before;
        int n = 0;
        for (auto it = rows.begin(); it != rows.end() && n < 15; ++n) {
          w.prepare("DELETE FROM t WHERE id = ?").bind(1, it->first).run();
          touched.push_back(it->first);
          it = rows.erase(it);
        }
        break;
      }
      case 5:  // mixed
        for (int i = 0; i < 30; ++i) touched.push_back(insert(i % 3 == 0 ? 40 * 1024 : 200));
        break;
    }
    tx->commit();

    r.check_summary(rows);
    for (auto id : touched) r.check_row(rows, id);

    if (round % 8 == 3) {
      checkpoint_writer(w, "TRUNCATE");
      CHECK(std::filesystem::file_size(path + "-wal") == 0);
      r.check_all(rows);
    } else if (round % 8 == 6) {
      checkpoint_reader(r, round % 16 == 6 ? "RESTART" : "TRUNCATE");
      r.check_all(rows);
    } else if (round % 8 == 7) {
      checkpoint_writer(w, "RESTART");
      r.check_all(rows);
    }
  }

  r.check_all(rows);
  CHECK(one(w, "PRAGMA integrity_check") == "ok");
  CHECK(r.column("PRAGMA integrity_check").at(0) == "ok");
  CHECK(mode_of(path) == 0600);
  CHECK(mode_of(path + "-wal") == 0600);
  CHECK(mode_of(path + "-shm") == 0600);
}

}  // namespace

TEST_CASE("sqlite vfs: commits are visible to the default VFS (synchronous=FULL)", "[sqlite][vfs]") {
  exercise("FULL");
}

TEST_CASE("sqlite vfs: commits are visible to the default VFS (synchronous=NORMAL)", "[sqlite][vfs]") {
  exercise("NORMAL");
}

TEST_CASE("sqlite vfs: commits are visible to the default VFS (synchronous=OFF)", "[sqlite][vfs]") {
  exercise("OFF");
}

TEST_CASE("sqlite vfs: a database reopened through the VFS reads what it wrote", "[sqlite][vfs]") {
  TempDir dir;
  std::string path = dir.file("reopen.db");
  {
    sql::Db w = sql::Db::open(path, true);
    w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    sql::Transaction tx(w);
    for (int i = 1; i <= 40; ++i)
      w.prepare("INSERT INTO t VALUES (?, ?)").bind(1, i).bind_blob(2, body(static_cast<std::uint32_t>(i), 50000)).run();
    tx.commit();
  }  // the last close checkpoints and deletes the WAL
  sql::Db again = sql::Db::open(path, false);
  auto s = again.prepare("SELECT id, body FROM t ORDER BY id");
  int n = 0;
  while (s.step()) {
    ++n;
    CHECK(s.int64(0) == n);
    CHECK(s.text(1) == body(static_cast<std::uint32_t>(n), 50000));
  }
  CHECK(n == 40);
  CHECK(one(again, "PRAGMA integrity_check") == "ok");
}

namespace {

// Makes the unix VFS's writes fail with ENOSPC while alive.
bool disk_full = false;
ssize_t failing_pwrite(int fd, const void* buf, size_t n, off_t off) {
  if (disk_full) {
    errno = ENOSPC;
    return -1;
  }
  return ::pwrite(fd, buf, n, off);
}

class DiskFull {
 public:
  DiskFull() {
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    int set = 0;
    for (const char* name : {"pwrite", "pwrite64"}) {
      if (unix_vfs->xSetSystemCall(unix_vfs, name, reinterpret_cast<sqlite3_syscall_ptr>(&failing_pwrite)) ==
          SQLITE_OK)
        ++set;
    }
    REQUIRE(set > 0);
    disk_full = true;
  }
  ~DiskFull() {
    disk_full = false;
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    unix_vfs->xSetSystemCall(unix_vfs, nullptr, nullptr);  // restores every default
  }
  DiskFull(const DiskFull&) = delete;
  DiskFull& operator=(const DiskFull&) = delete;
};

// A failed write must fail the commit, as it does without the VFS, even
// where the buffered frames would otherwise only be written at xShmBarrier
// (which cannot report an error), and the database must carry on afterwards.
void write_error(const char* synchronous) {
  TempDir dir;
  std::string path = dir.file("full.db");
  sql::Db w = sql::Db::open(path, true);
  w.exec(std::string("PRAGMA synchronous = ") + synchronous);
  w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  Reader r(path);
  std::map<std::int64_t, Row> rows;
  auto insert = [&](std::int64_t id) {
    Row row{static_cast<std::uint32_t>(id), 64 * 1024};
    w.prepare("INSERT INTO t(id, body) VALUES (?, ?)").bind(1, id).bind_blob(2, body(row.seed, row.size)).run();
    return row;
  };
  for (std::int64_t id = 1; id <= 3; ++id) {
    sql::Transaction tx(w);
    rows[id] = insert(id);
    tx.commit();
  }
  r.check_all(rows);
  {
    DiskFull full;
    bool committed = false;
    try {
      sql::Transaction tx(w);
      insert(4);
      tx.commit();
      committed = true;
    } catch (const StoreError&) {
    }
    CHECK_FALSE(committed);
  }
  r.check_all(rows);
  for (std::int64_t id = 5; id <= 7; ++id) {
    sql::Transaction tx(w);
    rows[id] = insert(id);
    tx.commit();
    r.check_all(rows);
  }
  checkpoint_writer(w, "TRUNCATE");
  r.check_all(rows);
  CHECK(one(w, "PRAGMA integrity_check") == "ok");
  CHECK(r.column("PRAGMA integrity_check").at(0) == "ok");
}

}  // namespace

TEST_CASE("sqlite vfs: a write error fails the commit (synchronous=FULL)", "[sqlite][vfs]") { write_error("FULL"); }

TEST_CASE("sqlite vfs: a write error fails the commit (synchronous=NORMAL)", "[sqlite][vfs]") {
  write_error("NORMAL");
}

// SQLite ignores the result of SQLITE_FCNTL_CKPT_DONE, where a checkpoint's
// pages are flushed; the failed flush's error must fail the checkpoint's next
// step instead of letting it record pages that never reached the file.
TEST_CASE("sqlite vfs: a write error in a checkpoint leaves it undone", "[sqlite][vfs]") {
  TempDir dir;
  std::string path = dir.file("ckpt.db");
  sql::Db w = sql::Db::open(path, true);
  w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  Reader r(path);
  std::map<std::int64_t, Row> rows;
  for (std::int64_t id = 1; id <= 2; ++id) {
    rows[id] = Row{static_cast<std::uint32_t>(id), 20000};
    w.prepare("INSERT INTO t(id, body) VALUES (?, ?)").bind(1, id).bind_blob(2, body(rows[id].seed, 20000)).run();
  }
  {
    DiskFull full;
    auto s = w.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    CHECK_THROWS_AS(s.step(), StoreError);
  }
  checkpoint_writer(w, "TRUNCATE");
  r.check_all(rows);
  CHECK(one(w, "PRAGMA integrity_check") == "ok");
  CHECK(r.column("PRAGMA integrity_check").at(0) == "ok");
}

// A run the VFS could not flush must never reach the file later: SQLite
// rolled back the transaction whose frames they were and reuses those WAL
// offsets, here from another connection of the process with its own handle
// (in cased, the outbox worker). Kept and retried, a's run landed over b's
// frames: a corrupt database once a disk-full fault cleared.
TEST_CASE("sqlite vfs: a failed commit's frames never overwrite another connection's", "[sqlite][vfs][enospc]") {
  TempDir dir;
  std::string path = dir.file("enospc.db");
  sql::Db a = sql::Db::open(path, true);
  a.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  sql::Db b = sql::Db::open(path, false);
  std::map<std::int64_t, Row> rows;
  auto insert = [&](sql::Db& db, std::int64_t id, std::size_t size) {
    Row row{static_cast<std::uint32_t>(id), size};
    sql::Transaction tx(db);
    db.prepare("INSERT INTO t(id, body) VALUES (?, ?)").bind(1, id).bind_blob(2, body(row.seed, size)).run();
    tx.commit();
    rows[id] = row;
  };
  insert(a, 1, 1000);
  insert(b, 2, 1000);
  {
    DiskFull full;
    CHECK_THROWS_AS(insert(a, 3, 60000), StoreError);
  }
  insert(b, 4, 3000);
  insert(b, 5, 3000);
  // a's next read takes the locks where a kept run used to be flushed.
  CHECK(one(a, "SELECT count(*) FROM t") == "4");
  Reader r(path);
  r.check_all(rows);
  insert(a, 6, 1000);
  r.check_all(rows);
  CHECK(one(a, "PRAGMA integrity_check") == "ok");
  CHECK(r.column("PRAGMA integrity_check").at(0) == "ok");
}

namespace {

// Counts the unix VFS's reads while alive.
std::size_t preads = 0;
ssize_t counting_pread(int fd, void* buf, size_t n, off_t off) {
  ++preads;
  return ::pread(fd, buf, n, off);
}

class CountReads {
 public:
  CountReads() {
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    int set = 0;
    for (const char* name : {"pread", "pread64"})
      if (unix_vfs->xSetSystemCall(unix_vfs, name, reinterpret_cast<sqlite3_syscall_ptr>(&counting_pread)) == SQLITE_OK)
        ++set;
    REQUIRE(set > 0);
    preads = 0;
  }
  ~CountReads() {
    sqlite3_vfs* unix_vfs = sqlite3_vfs_find(nullptr);
    unix_vfs->xSetSystemCall(unix_vfs, nullptr, nullptr);
  }
  CountReads(const CountReads&) = delete;
  CountReads& operator=(const CountReads&) = delete;
};

}  // namespace

// The checkpoint reads the WAL through a few windows instead of a read per
// frame, and what it copies is what was committed, including pages written
// several times, out of page order, in several transactions.
TEST_CASE("sqlite vfs: a checkpoint reads the WAL in windows and copies it faithfully", "[sqlite][vfs]") {
  TempDir dir;
  std::string path = dir.file("windows.db");
  sql::Db w = sql::Db::open(path, true);
  w.exec("PRAGMA wal_autocheckpoint = 0");
  w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  checkpoint_writer(w, "TRUNCATE");
  Reader r(path);
  std::map<std::int64_t, Row> rows;
  std::uint32_t seed = 1;
  for (int tx_no = 0; tx_no < 40; ++tx_no) {
    sql::Transaction tx(w);
    for (int i = 0; i < 3; ++i) {
      std::int64_t id = tx_no * 3 + i + 1;
      rows[id] = Row{seed++, 40 * 1024 + static_cast<std::size_t>(tx_no * 13 + i)};
      w.prepare("INSERT INTO t(id, body) VALUES (?, ?)").bind(1, id).bind_blob(2, body(rows[id].seed, rows[id].size)).run();
    }
    // Rewrite an older row: its pages' newest frames sit far from the rest.
    std::int64_t old_id = 1 + (tx_no * 7) % (tx_no * 3 + 1);
    rows[old_id] = Row{seed++, 300 + static_cast<std::size_t>(tx_no)};
    w.prepare("UPDATE t SET body = ? WHERE id = ?").bind_blob(1, body(rows[old_id].seed, rows[old_id].size)).bind(2, old_id).run();
    tx.commit();
  }
  auto wal_frames = std::filesystem::file_size(path + "-wal") / (4096 + 24);
  REQUIRE(wal_frames > 1000);
  {
    CountReads count;
    checkpoint_writer(w, "PASSIVE");
    INFO("frames " << wal_frames << ", reads " << preads);
    CHECK(preads < wal_frames / 20);
  }
  // The database file alone (after the WAL is gone) holds every row.
  checkpoint_writer(w, "TRUNCATE");
  CHECK(std::filesystem::file_size(path + "-wal") == 0);
  r.check_all(rows);
  CHECK(one(w, "PRAGMA integrity_check") == "ok");
  CHECK(r.column("PRAGMA integrity_check").at(0) == "ok");
}
