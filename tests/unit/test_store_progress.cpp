// What backup and verify tell a progress line (casectl's cli/progress.hpp)
// while they work: pages copied of all, and the steps of a verification.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "store/backup.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-progress-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

void fill(const std::string& path, int messages) {
  auto s = Store::open(path, StoreOptions{});
  REQUIRE(s.ok());
  std::string body(2000, 'x');
  for (int i = 0; i < messages; ++i)
    test::ingest(*s, prepare_message("Message-ID: <m" + std::to_string(i) + "@example.org>\r\nFrom: r@example.org\r\n"
                                     "Subject: report " + std::to_string(i) + "\r\n\r\n" + body + "\r\n",
                                     Envelope{}));
  REQUIRE(s->index_pending().ok());
}

}  // namespace

TEST_CASE("progress hooks: backup reports pages copied of all, up to all", "[backup][progress]") {
  TempDir dir;
  fill(dir.file("cases.db"), 3000);  // several MB: more than one step of pages
  auto src = BackupSource::open(dir.file("cases.db"));
  REQUIRE(src.ok());
  std::vector<std::pair<std::int64_t, std::int64_t>> heard;
  auto sum = src->write_to(dir.file("copy.db"), false,
                           [&](std::int64_t done, std::int64_t total) { heard.emplace_back(done, total); });
  REQUIRE(sum.ok());
  REQUIRE(heard.size() >= 2);
  for (std::size_t i = 1; i < heard.size(); ++i) {
    CHECK(heard[i].first > heard[i - 1].first);
    CHECK(heard[i].second == heard[0].second);
  }
  CHECK(heard.back().first == heard.back().second);
  // Pages of 4096 bytes: the whole file.
  CHECK(static_cast<std::uint64_t>(heard.back().second) * 4096 == sum->bytes);
}

TEST_CASE("progress hooks: verify names each step as it starts", "[backup][progress]") {
  TempDir dir;
  fill(dir.file("cases.db"), 50);
  std::vector<std::string> steps;
  std::vector<int> numbers;
  auto r = verify_database(dir.file("cases.db"), [&](int step, int all, std::string_view name) {
    CHECK(all == 4);
    if (steps.empty() || steps.back() != name) {
      steps.emplace_back(name);
      numbers.push_back(step);
    }
  });
  REQUIRE(r.ok());
  CHECK(r->problems.empty());
  CHECK(steps == std::vector<std::string>{"integrity", "cases", "search rows", "search index"});
  CHECK(numbers == std::vector<int>{0, 1, 2, 3});
}
