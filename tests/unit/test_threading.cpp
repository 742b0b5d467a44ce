#include <catch2/catch.hpp>

#include "cases/threading.hpp"
#include "mail/address.hpp"

using namespace cased;

TEST_CASE("threading: alias and plus-forms", "[threading]") {
  const char* alias = "security@example.com";
  CHECK(match_alias("security@example.com", alias).ours);
  CHECK(match_alias("<Security@Example.COM>", alias).ours);
  CHECK_FALSE(match_alias("security@example.org", alias).ours);
  CHECK_FALSE(match_alias("securityx@example.com", alias).ours);
  CHECK_FALSE(match_alias("other@example.com", alias).ours);
  auto plus = match_alias("security+42@example.com", alias);
  CHECK(plus.ours);
  CHECK(plus.plus);
  REQUIRE(plus.case_id);
  CHECK(*plus.case_id == 42);
  auto word = match_alias("security+abc@example.com", alias);
  CHECK(word.ours);
  CHECK_FALSE(word.case_id);
  CHECK_FALSE(match_alias("security+@example.com", alias).ours);
  CHECK_FALSE(match_alias("", alias).ours);
  CHECK_FALSE(match_alias("@", alias).ours);
}

TEST_CASE("threading: subject tags", "[threading]") {
  CHECK(subject_tag("Re: [CASE#42] crash in parser", "CASE") == std::optional<std::int64_t>(42));
  CHECK(subject_tag("[case#7]", "CASE") == std::optional<std::int64_t>(7));
  CHECK(subject_tag("Re: [CASE#] x [CASE#9]", "CASE") == std::optional<std::int64_t>(9));
  CHECK_FALSE(subject_tag("[CASE#42", "CASE"));
  CHECK_FALSE(subject_tag("[CASE#4x2]", "CASE"));
  CHECK_FALSE(subject_tag("[OTHER#42]", "CASE"));
  CHECK_FALSE(subject_tag("[CASE#0]", "CASE"));
  CHECK_FALSE(subject_tag("[CASE#99999999999999999999999]", "CASE"));
  CHECK_FALSE(subject_tag("", "CASE"));
}

TEST_CASE("threading: plus routing takes the first plus-form", "[threading]") {
  const char* alias = "security@example.com";
  CHECK(plus_route({"security@example.com", "security+5@example.com"}, alias) == std::optional<std::int64_t>(5));
  CHECK_FALSE(plus_route({"security+x@example.com", "security+5@example.com"}, alias));
  CHECK_FALSE(plus_route({"a@b.c"}, alias));
}

TEST_CASE("threading: one rate key per mailbox", "[threading][trust]") {
  for (const char* variant : {"vic@example.net", "VIC@Example.NET", "\"vic\"@example.net", "vic+1@example.net",
                              "\"vic+x\"@example.net", "\"v\\ic\"@example.net", "<vic+a_b@EXAMPLE.net>"}) {
    INFO(variant);
    CHECK(rate_key(variant) == "vic@example.net");
  }
  CHECK(rate_key("v_c@example.net") == "v_c@example.net");
  CHECK(rate_key("v%c@example.net") == "v%c@example.net");
  CHECK(rate_key("\"a@b\"@example.net") == "a@b@example.net");
  CHECK(rate_key("+x@example.net") == "@example.net");
  CHECK(rate_key("") == "");
  CHECK(rate_key("no-at-sign") == "no-at-sign");
}
