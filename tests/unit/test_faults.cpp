// The classes of environment faults: a full disk, a database locked by
// another process, a gpg-agent that does not answer. Each has its own Errc,
// its own LMTP reply and exit status, and is logged once, not per message.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <string>

#include "core/config.hpp"
#include "core/fault_log.hpp"
#include "mail/lmtp.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

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

// Captures what spdlog's default logger writes while it lives.
struct CapturedLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> saved = spdlog::default_logger();
  CapturedLog() {
    auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(saved); }
  std::size_t count(const std::string& what) const {
    std::string s = out.str();
    std::size_t n = 0;
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
    return n;
  }
};

}  // namespace

TEST_CASE("faults: SQLite result codes map to full, busy, temporary or internal", "[faults][sqlite]") {
  CHECK(sql::classify(SQLITE_FULL, 0) == Errc::full);
  CHECK(sql::classify(SQLITE_IOERR_WRITE, ENOSPC) == Errc::full);
  CHECK(sql::classify(SQLITE_IOERR_FSYNC, EDQUOT) == Errc::full);
  CHECK(sql::classify(SQLITE_IOERR_SHMSIZE, ENOSPC) == Errc::full);
  CHECK(sql::classify(SQLITE_IOERR_WRITE, EIO) == Errc::temporary);
  CHECK(sql::classify(SQLITE_BUSY, 0) == Errc::busy);
  CHECK(sql::classify(SQLITE_BUSY_SNAPSHOT, 0) == Errc::busy);
  CHECK(sql::classify(SQLITE_LOCKED, 0) == Errc::busy);
  CHECK(sql::classify(SQLITE_NOMEM, 0) == Errc::temporary);
  CHECK(sql::classify(SQLITE_CONSTRAINT_UNIQUE, 0) == Errc::internal);
  CHECK(sql::classify(SQLITE_CORRUPT, 0) == Errc::internal);
  for (Errc e : {Errc::temporary, Errc::full, Errc::busy, Errc::unavailable}) CHECK(is_temporary(e));
  for (Errc e : {Errc::invalid, Errc::not_found, Errc::refused, Errc::internal}) CHECK_FALSE(is_temporary(e));
}

TEST_CASE("faults: a full disk is 452 4.3.1, a locked database and a hung agent 451 4.3.0", "[faults][lmtp]") {
  auto full = outcome_for(Error{Errc::full, "database or disk is full"});
  CHECK(full.code == 452);
  CHECK(full.enhanced == "4.3.1");
  CHECK(full.text.find("full") != std::string::npos);
  auto busy = outcome_for(Error{Errc::busy, "database is locked"});
  CHECK(busy.code == 451);
  CHECK(busy.enhanced == "4.3.0");
  auto agent = outcome_for(Error{Errc::unavailable, "gpg did not finish"});
  CHECK(agent.code == 451);
  CHECK(agent.enhanced == "4.3.0");
}

TEST_CASE("faults: a write waits the store's busy timeout for another writer, then fails busy", "[faults][sqlite]") {
  TempDir dir;
  std::string path = dir.file("locked.db");
  {
    auto s = Store::open(path, StoreOptions());
    REQUIRE(s.ok());
  }
  sql::Db analyst = sql::Db::open(path, false);
  analyst.exec("BEGIN EXCLUSIVE");
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(300);
  auto s = Store::open(path, options);  // reading is not blocked in WAL mode
  REQUIRE(s.ok());
  auto t0 = std::chrono::steady_clock::now();
  auto r = s->index_pending();  // nothing to index: no write, no wait
  CHECK(r.ok());
  sql::Db writer = sql::Db::open(path, false);
  writer.busy_timeout(std::chrono::milliseconds(300));
  t0 = std::chrono::steady_clock::now();
  try {
    sql::Transaction tx(writer);
    FAIL("began a write transaction under another's exclusive lock");
  } catch (const StoreError& e) {
    CHECK(e.code() == Errc::busy);
  }
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::seconds(3));
  analyst.exec("ROLLBACK");
  sql::Transaction tx(writer);  // released: the next write goes through
  tx.commit();
}

TEST_CASE("faults: config case.busy_timeout is read and bounded", "[faults][config]") {
  const std::string head = "[case]\ndatabase = \"x\"\nalias = \"a@b.c\"\n";
  auto c = parse_config(head, "f.toml");
  REQUIRE(c.ok());
  CHECK(c->case_.busy_timeout_seconds == 10);
  CHECK(store_options(*c, false).busy_timeout == std::chrono::seconds(10));
  c = parse_config(head + "busy_timeout = 3\n", "f.toml");
  REQUIRE(c.ok());
  CHECK(store_options(*c, false).busy_timeout == std::chrono::seconds(3));
  c = parse_config(head + "busy_timeout = 0\n", "f.toml");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message.find("case.busy_timeout") != std::string::npos);
}

TEST_CASE("faults: one line when a fault begins, one when it clears, none per message between", "[faults][log]") {
  CapturedLog log;
  FaultLog faults;
  Error full{Errc::full, "step: database or disk is full"};
  CHECK(faults.failed(full, "deliveries get 452 4.3.1"));
  for (int i = 0; i < 50; ++i) CHECK_FALSE(faults.failed(full, "deliveries get 452 4.3.1"));
  CHECK(faults.active(Errc::full));
  CHECK_FALSE(faults.active(Errc::busy));
  // Another kind is its own fault, with its own line.
  CHECK(faults.failed(Error{Errc::unavailable, "gpg did not finish"}, "PGP mail gets 451"));
  faults.cleared(Errc::full);
  faults.cleared(Errc::full);  // once
  faults.cleared(Errc::busy);  // never began: nothing
  CHECK(log.count("fault: disk full: step: database or disk is full; deliveries get 452 4.3.1; free space") == 1);
  CHECK(log.count("fault: gpg-agent not answering") == 1);
  CHECK(log.count("fault cleared: disk full after") == 1);
  CHECK(log.count("51 failure(s)") == 1);
  CHECK(log.count("fault") == 3);
  // Not a lasting fault: not noted, the caller logs it as usual.
  CHECK_FALSE(faults.failed(Error{Errc::temporary, "parse failed"}, "x"));
  CHECK_FALSE(faults.active(Errc::temporary));
  // Begins again after it cleared.
  CHECK(faults.failed(full, "again"));
}
