#include <catch2/catch.hpp>

#include <sstream>
#include <string>

#include "intake/prepare_ahead.hpp"

using namespace cased;

namespace {

std::string mbox_of(int n) {
  std::string box;
  for (int i = 0; i < n; ++i)
    box += "From rita@example.org Mon Nov 30 10:00:00 2026\nFrom: rita@example.org\nMessage-ID: <m" + std::to_string(i) +
           "@example.org>\nSubject: number " + std::to_string(i) + "\n\nbody " + std::to_string(i) + "\n\n";
  return box;
}

}  // namespace

TEST_CASE("PrepareAhead hands over every message of an mbox in order, in bounded batches", "[prepare_ahead]") {
  std::istringstream in(mbox_of(7));
  BatchLimits limits;
  limits.messages = 3;
  PrepareAhead reader(in, Envelope{MessageSource::ingest, std::nullopt, {}}, nullptr, limits);
  std::vector<std::size_t> sizes;
  std::vector<std::string> ids;
  while (auto batch = reader.next()) {
    sizes.push_back(batch->size());
    for (auto& m : *batch) {
      ids.push_back(m.parsed.message_id);
      CHECK(m.envelope.source == MessageSource::ingest);
      CHECK(m.sha256.size() == 64);
      CHECK(m.raw.rfind("From: rita@example.org\n", 0) == 0);
    }
  }
  CHECK(sizes == std::vector<std::size_t>{3, 3, 1});
  REQUIRE(ids.size() == 7);
  for (int i = 0; i < 7; ++i) CHECK(ids[static_cast<std::size_t>(i)] == "m" + std::to_string(i) + "@example.org");
  CHECK(reader.messages() == 7);
  CHECK_FALSE(reader.next());  // and stays done
}

TEST_CASE("PrepareAhead closes a batch at its byte limit", "[prepare_ahead]") {
  std::istringstream in(mbox_of(4));
  BatchLimits limits;
  limits.bytes = 1;  // every message fills a batch
  PrepareAhead reader(in, Envelope{MessageSource::ingest, std::nullopt, {}}, nullptr, limits);
  int batches = 0;
  while (auto batch = reader.next()) {
    CHECK(batch->size() == 1);
    ++batches;
  }
  CHECK(batches == 4);
}

TEST_CASE("PrepareAhead stops reading when dropped early", "[prepare_ahead]") {
  std::istringstream in(mbox_of(50));
  BatchLimits limits;
  limits.messages = 2;
  std::size_t read = 0;
  {
    PrepareAhead reader(in, Envelope{MessageSource::ingest, std::nullopt, {}}, nullptr, limits);
    auto first = reader.next();
    REQUIRE(first);
    CHECK(first->size() == 2);
    read = reader.messages();
  }  // must not wait for the other 48
  CHECK(read >= 2);
  CHECK(read < 50);
}

TEST_CASE("PrepareAhead of an empty mbox has no batch", "[prepare_ahead]") {
  std::istringstream in("");
  PrepareAhead reader(in, Envelope{MessageSource::ingest, std::nullopt, {}}, nullptr);
  CHECK_FALSE(reader.next());
  CHECK(reader.messages() == 0);
}
