#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace

TEST_CASE("sqlite: an empty string_view binds as empty, never NULL", "[sqlite]") {
  TempDir dir;
  sql::Db db = sql::Db::open(dir.file("bind.db"), true);
  auto q = db.prepare("SELECT ?1 IS NULL, typeof(?1), length(?1)");
  auto expect = [&](const char* type) {
    REQUIRE(q.step());
    CHECK(q.int64(0) == 0);
    CHECK(q.text(1) == type);
    CHECK(q.int64(2) == 0);
    q.reset();
  };

  std::string_view none;  // data() == nullptr
  REQUIRE(none.data() == nullptr);
  q.bind(1, none);
  expect("text");
  q.bind(1, std::string());
  expect("text");
  q.bind(1, "");
  expect("text");
  q.bind_blob(1, none);
  expect("blob");
  q.bind_blob(1, std::string());
  expect("blob");

  // Stored and read back, an empty value stays distinct from NULL.
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT, b BLOB)");
  db.prepare("INSERT INTO t VALUES (1, ?, ?)").bind(1, none).bind_blob(2, none).run();
  auto r = db.prepare("SELECT s, b FROM t WHERE id = 1");
  REQUIRE(r.step());
  CHECK(r.opt_text(0) == std::optional<std::string>(""));
  CHECK(r.opt_text(1) == std::optional<std::string>(""));
}
