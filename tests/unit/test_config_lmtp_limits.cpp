#include <catch2/catch.hpp>

#include <string>

#include "core/config.hpp"

using namespace cased;

namespace {
const std::string kCase = "[case]\ndatabase = \"/tmp/x.db\"\nalias = \"security@example.com\"\n";
}

TEST_CASE("config: lmtp transaction_timeout and max_sessions_per_peer", "[config]") {
  auto defaults = parse_config(kCase, "cased.toml");
  REQUIRE(defaults.ok());
  CHECK(defaults->lmtp.transaction_timeout_seconds == 600);
  CHECK(defaults->lmtp.max_sessions_per_peer == 32);

  auto set = parse_config(kCase + "[lmtp]\ntransaction_timeout = 30\nmax_sessions_per_peer = 4\n", "cased.toml");
  REQUIRE(set.ok());
  CHECK(set->lmtp.transaction_timeout_seconds == 30);
  CHECK(set->lmtp.max_sessions_per_peer == 4);

  auto zero = parse_config(kCase + "[lmtp]\ntransaction_timeout = 0\n", "cased.toml");
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().message.find("lmtp.transaction_timeout") != std::string::npos);
  CHECK_FALSE(parse_config(kCase + "[lmtp]\nmax_sessions_per_peer = 0\n", "cased.toml").ok());
}
