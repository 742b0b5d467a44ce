#include <catch2/catch.hpp>

#include "cvd/cvss.hpp"

using namespace cased;

namespace {

double score(const char* vector) {
  auto r = cvss::parse31(vector);
  REQUIRE(r.ok());
  return r->base_score;
}

}  // namespace

TEST_CASE("cvss: base scores of known vectors match FIRST's calculator", "[cvss]") {
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8);
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N") == 6.4);
  CHECK(score("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N") == 0.0);
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H") == 10.0);
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N") == 6.1);   // reflected XSS
  CHECK(score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H") == 7.8);
  CHECK(score("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N") == 1.6);
  CHECK(score("CVSS:3.1/AV:A/AC:H/PR:L/UI:R/S:C/C:H/I:L/A:L") == 6.8);
  CHECK(score("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N") == 5.9);
  // Order of metrics is free in v3.1; temporal and environmental metrics
  // are accepted and do not change the base score.
  CHECK(score("CVSS:3.1/A:H/I:H/C:H/S:U/UI:N/PR:N/AC:L/AV:N") == 9.8);
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/MAV:L") == 9.8);
}

TEST_CASE("cvss: severity and properties follow the score and the vector", "[cvss]") {
  auto r = cvss::parse31("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N");
  REQUIRE(r.ok());
  CHECK(r->severity == "MEDIUM");
  auto p = cvss::base_properties(*r);
  CHECK(p.at("attackVector") == "NETWORK");
  CHECK(p.at("privilegesRequired") == "LOW");
  CHECK(p.at("scope") == "CHANGED");
  CHECK(p.at("availabilityImpact") == "NONE");
  CHECK(p.size() == 8);
  CHECK(cvss::severity(0.0) == "NONE");
  CHECK(cvss::severity(0.1) == "LOW");
  CHECK(cvss::severity(3.9) == "LOW");
  CHECK(cvss::severity(4.0) == "MEDIUM");
  CHECK(cvss::severity(7.0) == "HIGH");
  CHECK(cvss::severity(9.0) == "CRITICAL");
}

TEST_CASE("cvss: roundup as Appendix A defines it", "[cvss]") {
  CHECK(cvss::roundup(4.02) == 4.1);
  CHECK(cvss::roundup(4.0) == 4.0);
  CHECK(cvss::roundup(4.000000000000001) == 4.0);
  CHECK(cvss::roundup(9.75) == 9.8);
  CHECK(cvss::roundup(0.0) == 0.0);
}

TEST_CASE("cvss: a vector that does not parse is refused, naming the problem", "[cvss]") {
  auto refused = [](const char* v, const char* words) {
    auto r = cvss::parse31(v);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid);
    CHECK_THAT(r.error().message, Catch::Contains(words));
  };
  refused("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "must start with CVSS:3.1/");
  refused("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "must start with CVSS:3.1/");
  refused("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "must start with CVSS:3.1/");
  refused("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "base metric A is missing");
  refused("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV cannot be 'X'");
  refused("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:N", "AV given twice");
  refused("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", "is not METRIC:VALUE");
  refused("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:HH", "A cannot be 'HH'");
  refused("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1", "not a CVSS 3.1 metric");
  refused("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H ", "A cannot be 'H '");
  refused("CVSS:3.1/", "is not METRIC:VALUE");
}
