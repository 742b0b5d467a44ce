// For store tests: ingest one prepared message and require that it stored.
#pragma once

#include <catch2/catch.hpp>

#include <utility>
#include <vector>

#include "store/store.hpp"

namespace cased::test {

inline IngestResult ingest(Store& s, PreparedMessage m) {
  std::vector<PreparedMessage> batch;
  batch.push_back(std::move(m));
  auto r = s.ingest(batch);
  REQUIRE(r.ok());
  REQUIRE(r->at(0).ok());
  return r->at(0).value();
}

}  // namespace cased::test
