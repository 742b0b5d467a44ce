// For store tests: ingest one prepared message and require that it stored.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace cased::test {

// A plain report from r@example.org to the alias, parsed as intake would.
inline PreparedMessage plain_report(const std::string& id, const std::string& subject = "s") {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nFrom: r@example.org\r\nSubject: " + subject + "\r\n\r\nbody\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.from = "r@example.org";
  p.parsed.subject = subject;
  p.parsed.body = "body";
  p.parsed.to = {"security@example.com"};
  return p;
}

inline IngestResult ingest(Store& s, PreparedMessage m) {
  std::vector<PreparedMessage> batch;
  batch.push_back(std::move(m));
  auto r = s.ingest(batch);
  REQUIRE(r.ok());
  REQUIRE(r->at(0).ok());
  return r->at(0).value();
}

}  // namespace cased::test
