// The store's boundary: opening read-only, refusing a database from a newer
// program, keys and pins, IMAP state.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "store/sqlite.hpp"
#include "store/store.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-boundary-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::string bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

PreparedMessage mail(const std::string& id, const std::string& from) {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nFrom: " + from + "\r\nSubject: a report\r\n\r\nbody\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.from = from;
  p.parsed.subject = "a report";
  p.parsed.body = "body";
  p.parsed.to = {"security@example.com"};
  return p;
}

// A database with one case, closed again (its WAL checkpointed into the file).
void make_database(const std::string& path) {
  auto s = Store::open(path, StoreOptions{});
  REQUIRE(s.ok());
  std::vector<PreparedMessage> batch;
  batch.push_back(mail("one@example.org", "rita@example.org"));
  auto r = s->ingest(batch);
  REQUIRE(r.ok());
  REQUIRE(r->at(0).ok());
}

void set_user_version(const std::string& path, int version) {
  auto db = sql::Db::open(path, false);
  db.exec("PRAGMA user_version = " + std::to_string(version));
}

}  // namespace

TEST_CASE("open_readonly reads, writes nothing and never creates", "[store][readonly]") {
  TempDir dir;
  std::string path = dir.file("cases.db");
  CHECK_FALSE(Store::open_readonly(path, StoreOptions{}).ok());
  CHECK_FALSE(std::filesystem::exists(path));
  make_database(path);
  std::string before = bytes(path);
  {
    auto s = Store::open_readonly(path, StoreOptions{});
    REQUIRE(s.ok());
    auto cases = s->list_cases(CaseFilter{});
    REQUIRE(cases.ok());
    CHECK(cases->size() == 1);
    CHECK(s->get_case(1).ok());
    CHECK(*s->schema_version() == Store::newest_schema_version());
    CHECK_FALSE(s->add_comment(1, "a note", "ana").ok());
    CHECK_FALSE(s->set_status(1, "open", "ana").ok());
  }
  CHECK(bytes(path) == before);
}

TEST_CASE("a database from a newer program is refused and left untouched", "[store][readonly]") {
  TempDir dir;
  std::string path = dir.file("cases.db");
  make_database(path);
  set_user_version(path, Store::newest_schema_version() + 1);
  std::string before = bytes(path);
  auto rw = Store::open(path, StoreOptions{});
  REQUIRE_FALSE(rw.ok());
  CHECK(rw.error().code == Errc::refused);
  CHECK_THAT(rw.error().message, Catch::Contains("newer than this program"));
  auto ro = Store::open_readonly(path, StoreOptions{});
  REQUIRE_FALSE(ro.ok());
  CHECK(ro.error().code == Errc::refused);
  CHECK(bytes(path) == before);
}

TEST_CASE("open_readonly refuses a database not yet migrated", "[store][readonly]") {
  TempDir dir;
  std::string path = dir.file("cases.db");
  REQUIRE(Store::open_at_version(path, StoreOptions{}, 1).ok());
  auto ro = Store::open_readonly(path, StoreOptions{});
  REQUIRE_FALSE(ro.ok());
  CHECK(ro.error().code == Errc::refused);
  CHECK_THAT(ro.error().message, Catch::Contains("older than this program"));
}

TEST_CASE("an analyst's pin replaces the address's pin and tells its cases", "[store][keys]") {
  TempDir dir;
  std::string path = dir.file("cases.db");
  make_database(path);
  auto s = Store::open(path, StoreOptions{});
  REQUIRE(s.ok());
  CHECK(*s->pinned_key("rita@example.org") == std::nullopt);
  REQUIRE(s->pin_key("rita@example.org", "AAAA", "ana").ok());
  REQUIRE(s->pin_key("rita@example.org", "BBBB", "ana").ok());
  CHECK(*s->pinned_key("Rita@Example.org") == std::optional<std::string>("BBBB"));
  CHECK_FALSE(*s->key_from_mail("BBBB"));
  auto keys = s->list_keys();
  REQUIRE(keys.ok());
  REQUIRE(keys->size() == 2);
  CHECK(keys->at(0).fingerprint == "AAAA");
  CHECK_FALSE(keys->at(0).pinned);
  CHECK(keys->at(1).fingerprint == "BBBB");
  CHECK(keys->at(1).pinned);
  CHECK(keys->at(1).source == "analyst");
  auto detail = s->get_case(1);
  REQUIRE(detail.ok());
  int pins = 0;
  for (const auto& e : detail->events)
    if (e.kind == "key" && e.actor == "ana" && e.detail.find("pinned to rita@example.org") != std::string::npos) ++pins;
  CHECK(pins == 2);
}

TEST_CASE("IMAP state: UIDVALIDITY per mailbox, 0 until recorded", "[store][imap]") {
  TempDir dir;
  auto s = Store::open(dir.file("cases.db"), StoreOptions{});
  REQUIRE(s.ok());
  CHECK(*s->imap_uidvalidity("cased@mail/INBOX") == 0u);
  REQUIRE(s->save_imap_state("cased@mail/INBOX", 4242, 7).ok());
  REQUIRE(s->save_imap_state("cased@mail/INBOX", 4243, 9).ok());
  CHECK(*s->imap_uidvalidity("cased@mail/INBOX") == 4243u);
  CHECK(*s->imap_uidvalidity("cased@mail/Other") == 0u);
}
