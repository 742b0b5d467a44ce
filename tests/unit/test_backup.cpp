#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "store/backup.hpp"
#include "store/store.hpp"
#include "../store_access.hpp"
#include "store_ingest.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-backup-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

PreparedMessage mail(int i, const std::string& extra = "") {
  return prepare_message("Message-ID: <m" + std::to_string(i) + "@example.org>\r\nFrom: r" + std::to_string(i) +
                             "@example.org\r\n" + extra + "Subject: report " + std::to_string(i) +
                             "\r\n\r\nthe widget overflows, case " + std::to_string(i) + "\r\n",
                         Envelope{});
}

Store store_with(const std::string& path, int messages) {
  auto s = Store::open(path, StoreOptions{});
  REQUIRE(s.ok());
  for (int i = 0; i < messages; ++i) test::ingest(*s, mail(i));
  REQUIRE(s->add_comment(1, "reproduced", "alice").ok());
  REQUIRE(s->index_pending().ok());
  return std::move(*s);
}

std::int64_t count(const std::string& db_path, const char* query) {
  sql::Db db = sql::Db::open(db_path, false, true);
  auto q = db.prepare(query);
  REQUIRE(q.step());
  return q.int64(0);
}

bool names(const VerifyReport& r, const std::string& check) {
  for (const auto& p : r.problems)
    if (p.check == check) return true;
  return false;
}

std::string listed(const VerifyReport& r) {
  std::string out;
  for (const auto& p : r.problems) out += p.check + ": " + p.detail + "\n";
  return out;
}

}  // namespace

TEST_CASE("backup: a self-contained copy of mode 0600 that verifies", "[backup]") {
  TempDir dir;
  Store s = store_with(dir.file("cases.db"), 5);
  auto src = BackupSource::open(dir.file("cases.db"));
  REQUIRE(src.ok());
  auto sum = src->write_to(dir.file("copy.db"), false);
  REQUIRE(sum.ok());
  CHECK(sum->cases == 5);
  CHECK(sum->messages == 5);
  CHECK(sum->unindexed == 0);
  CHECK(sum->schema_version == Store::newest_schema_version());
  CHECK(sum->bytes == std::filesystem::file_size(dir.file("copy.db")));

  struct stat st {};
  REQUIRE(::stat(dir.file("copy.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  // Rollback-journal mode (file format bytes 18 and 19 are 1, WAL is 2), and
  // nothing else left in the directory: no -wal, no temporary file.
  std::string bytes = slurp(dir.file("copy.db"));
  REQUIRE(bytes.size() > 100);
  CHECK(bytes[18] == 1);
  CHECK(bytes[19] == 1);
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    if (e.path().filename().string().rfind("copy.db", 0) == 0 || e.path().filename().string()[0] == '.') ++entries;
  CHECK(entries == 1);

  CHECK(count(dir.file("copy.db"), "SELECT count(*) FROM message_index_docsize") == 5);
  auto v = verify_database(dir.file("copy.db"));
  REQUIRE(v.ok());
  INFO(listed(*v));
  CHECK(v->problems.empty());
  CHECK(v->messages == 5);
  // verify changed nothing and left nothing behind.
  CHECK(slurp(dir.file("copy.db")) == bytes);
  CHECK_FALSE(std::filesystem::exists(dir.file("copy.db-journal")));
  CHECK_FALSE(std::filesystem::exists(dir.file("copy.db-wal")));
}

TEST_CASE("backup: the copy is the snapshot taken at open, whatever is written after", "[backup]") {
  TempDir dir;
  Store s = store_with(dir.file("cases.db"), 3);
  auto src = BackupSource::open(dir.file("cases.db"));
  REQUIRE(src.ok());
  // Another connection commits while the snapshot is held: not blocked, and not in the copy.
  for (int i = 3; i < 8; ++i) test::ingest(s, mail(i));
  REQUIRE(s.index_pending().ok());
  auto sum = src->write_to(dir.file("copy.db"), false);
  REQUIRE(sum.ok());
  CHECK(sum->messages == 3);
  CHECK(count(dir.file("copy.db"), "SELECT count(*) FROM messages") == 3);
  CHECK(count(dir.file("cases.db"), "SELECT count(*) FROM messages") == 8);
  auto v = verify_database(dir.file("copy.db"));
  REQUIRE(v.ok());
  INFO(listed(*v));
  CHECK(v->problems.empty());
}

TEST_CASE("backup: a copy of many steps while another connection commits", "[backup]") {
  TempDir dir;
  auto s = Store::open(dir.file("cases.db"), StoreOptions{});
  REQUIRE(s.ok());
  // About 8 MB: the copy takes several steps of 1024 pages.
  std::string big(200 * 1024, 'w');
  for (int i = 0; i < 40; ++i) test::ingest(*s, mail(i, "X-Pad: " + big + "\r\n"));
  REQUIRE(s->index_pending().ok());
  auto src = BackupSource::open(dir.file("cases.db"));
  REQUIRE(src.ok());
  std::thread writer([&] {
    auto w = Store::open(dir.file("cases.db"), StoreOptions{});
    for (int i = 40; i < 60 && w.ok(); ++i) {
      std::vector<PreparedMessage> batch;
      batch.push_back(mail(i, "X-Pad: " + big + "\r\n"));
      (void)w->ingest(batch);
    }
  });
  auto sum = src->write_to(dir.file("copy.db"), false);
  writer.join();
  REQUIRE(sum.ok());
  CHECK(sum->bytes > 4096u * 2048u);
  CHECK(sum->messages == 40);
  CHECK(count(dir.file("copy.db"), "SELECT count(*) FROM messages") == 40);
  CHECK(count(dir.file("cases.db"), "SELECT count(*) FROM messages") == 60);
  auto v = verify_database(dir.file("copy.db"));
  REQUIRE(v.ok());
  INFO(listed(*v));
  CHECK(v->problems.empty());
}

TEST_CASE("backup: an existing file is replaced only with force", "[backup]") {
  TempDir dir;
  Store s = store_with(dir.file("cases.db"), 2);
  { std::ofstream(dir.file("copy.db")) << "precious"; }
  auto src = BackupSource::open(dir.file("cases.db"));
  REQUIRE(src.ok());
  auto refused = src->write_to(dir.file("copy.db"), false);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::refused);
  CHECK(slurp(dir.file("copy.db")) == "precious");
  auto forced = src->write_to(dir.file("copy.db"), true);
  REQUIRE(forced.ok());
  CHECK(count(dir.file("copy.db"), "SELECT count(*) FROM messages") == 2);
  // A missing source is an error, and creates nothing.
  CHECK_FALSE(BackupSource::open(dir.file("none.db")).ok());
  CHECK_FALSE(std::filesystem::exists(dir.file("none.db")));
}

TEST_CASE("verify: names an orphan row by its invariant", "[backup]") {
  TempDir dir;
  Store s = store_with(dir.file("cases.db"), 3);
  sql::Db& db = StoreTestAccess::db(s);
  db.exec("PRAGMA foreign_keys = OFF");
  db.exec("INSERT INTO attachments(message, filename, content_type, size, sha256) "
          "VALUES (999, 'x', 'text/plain', 1, 'ab')");
  db.exec("UPDATE messages SET case_id = 777 WHERE id = 2");
  auto v = verify_database(dir.file("cases.db"));
  REQUIRE(v.ok());
  INFO(listed(*v));
  CHECK(names(*v, "attachment"));
  CHECK(names(*v, "message case"));
  CHECK(names(*v, "case has mail"));  // case 2 lost its only message
  CHECK(names(*v, "foreign keys"));
  CHECK_FALSE(names(*v, "integrity"));
}

TEST_CASE("verify: names the search index when rows are missing from it", "[backup]") {
  TempDir dir;
  Store s = store_with(dir.file("cases.db"), 4);
  StoreTestAccess::db(s).exec("DELETE FROM message_index WHERE rowid = 3");
  auto v = verify_database(dir.file("cases.db"));
  REQUIRE(v.ok());
  INFO(listed(*v));
  REQUIRE(names(*v, "message index"));
  for (const auto& p : v->problems)
    if (p.check == "message index") CHECK(p.detail.find("message_index): 3") != std::string::npos);
  // Unindexed messages are no problem: the next search indexes them.
  TempDir other;
  auto fresh = Store::open(other.file("cases.db"), StoreOptions{});
  REQUIRE(fresh.ok());
  test::ingest(*fresh, mail(1));
  auto pending = verify_database(other.file("cases.db"));
  REQUIRE(pending.ok());
  INFO(listed(*pending));
  CHECK(pending->problems.empty());
  CHECK(pending->unindexed == 1);
}

TEST_CASE("verify: a damaged page is a problem, not a crash", "[backup]") {
  TempDir dir;
  Store s = store_with(dir.file("cases.db"), 20);
  auto src = BackupSource::open(dir.file("cases.db"));
  REQUIRE(src.ok());
  REQUIRE(src->write_to(dir.file("copy.db"), false).ok());
  std::int64_t root = count(dir.file("copy.db"), "SELECT rootpage FROM sqlite_schema WHERE name = 'messages'");
  std::int64_t page = count(dir.file("copy.db"), "PRAGMA page_size");
  {
    std::fstream f(dir.file("copy.db"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((root - 1) * page);
    std::string junk(static_cast<std::size_t>(page), '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto v = verify_database(dir.file("copy.db"));
  INFO((v.ok() ? listed(*v) : v.error().message));
  REQUIRE(v.ok());
  CHECK(names(*v, "integrity"));
  // A file that is not a database at all.
  { std::ofstream(dir.file("junk.db")) << std::string(8192, 'x'); }
  auto junk = verify_database(dir.file("junk.db"));
  REQUIRE(junk.ok());
  CHECK_FALSE(junk->problems.empty());
  // A missing file is an error, and verify does not create it.
  CHECK_FALSE(verify_database(dir.file("none.db")).ok());
  CHECK_FALSE(std::filesystem::exists(dir.file("none.db")));
}
