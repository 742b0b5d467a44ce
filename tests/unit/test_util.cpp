#include <stdlib.h>

#include <catch2/catch.hpp>
#include <string>

#include "core/util.hpp"

using namespace cased;

TEST_CASE("util: CASED_NOW is a test hook, absent without CASED_TEST_HOOKS", "[util][trust]") {
  const char* old = std::getenv("CASED_NOW");
  std::string saved = old ? old : "";
  setenv("CASED_NOW", "2001-02-03T04:05:06Z", 1);
  std::int64_t now = now_unix();
  if (old) setenv("CASED_NOW", saved.c_str(), 1);
  else unsetenv("CASED_NOW");
#ifdef CASED_TEST_HOOKS
  CHECK(now == 981173106);
#else
  CHECK(now > 1700000000);
#endif
}
