// provider-metadata.json keeps the keys that signed earlier documents.
#include <catch2/catch.hpp>

#include "cvd/advisory_provider.hpp"

using namespace cased;

TEST_CASE("advisory: provider metadata lists the signing key first, then earlier keys", "[advisory]") {
  const std::string now_key(40, 'A'), old_key(40, 'b');
  advisory::Publisher p;
  p.name = "Example PSIRT";
  p.namespace_ = "https://example.com";
  p.base_url = "https://example.com/.well-known/csaf";
  p.category = "vendor";
  auto meta = advisory::provider_metadata(p, {now_key, old_key}, 0);
  REQUIRE(meta["public_openpgp_keys"].size() == 2);
  CHECK(meta["public_openpgp_keys"][0]["url"] == p.base_url + "/openpgp/" + now_key + ".asc");
  auto listed = advisory::listed_keys(meta.dump());
  REQUIRE(listed.ok());
  CHECK(*listed == std::vector<std::string>{now_key, old_key});

  CHECK(advisory::listed_keys("{}")->empty());
  for (const char* bad : {"", "[]", "not json", R"({"public_openpgp_keys": {}})",
                          R"({"public_openpgp_keys": [{"fingerprint": "../../etc/passwd"}]})",
                          R"({"public_openpgp_keys": [{"fingerprint": 7}]})",
                          R"({"public_openpgp_keys": [{"fingerprint": "ABCDEF"}]})"}) {
    INFO(bad);
    CHECK_FALSE(advisory::listed_keys(bad).ok());
  }
}
