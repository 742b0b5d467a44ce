// Hostile mail against the store's own scans: a bounce listing tens of
// thousands of recipients and quoted Message-IDs costs linear work.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "store/store.hpp"

using namespace cased;

TEST_CASE("store hostile: a bounce with 80,000 recipients is scanned in linear time", "[store][hostile]") {
  char tmpl[] = "/tmp/cased-test-XXXXXX";
  std::filesystem::path dir = mkdtemp(tmpl);
  {
    auto s = Store::open((dir / "cases.db").string(), StoreOptions{"security@example.com", "CASE"});
    REQUIRE(s.ok());
    std::string raw =
        "From: MAILER-DAEMON@example.net\r\nTo: security@example.com\r\nSubject: Undelivered\r\n"
        "Message-ID: <bounce@example.net>\r\n\r\n";
    for (int i = 0; i < 80000; ++i) raw += "Final-Recipient: rfc822; r" + std::to_string(i) + "@example.org\r\n";
    for (int i = 0; i < 20000; ++i) raw += "Message-ID: <q" + std::to_string(i) + "@example.com>\r\n";
    std::vector<PreparedMessage> batch;
    batch.push_back(prepare_message(raw, Envelope{MessageSource::lmtp, std::string(), {"security@example.com"}}, nullptr));
    auto start = std::chrono::steady_clock::now();
    auto r = s->ingest(batch);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(r.ok());
    CHECK(r->at(0).ok());
    CHECK(seconds < 5.0);  // the quadratic scan took far longer
  }
  std::filesystem::remove_all(dir);
}
