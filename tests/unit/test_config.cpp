#include <catch2/catch.hpp>

#include "core/config.hpp"

using namespace cased;

namespace {
const char* kMinimal = R"(
[case]
database = "/tmp/x.db"
alias = "security@example.com"
)";
}

TEST_CASE("config: the minimal file gets the documented defaults", "[config]") {
  auto c = parse_config(kMinimal, "cased.toml");
  REQUIRE(c.ok());
  CHECK(c->case_.tag == "CASE");
  CHECK(c->lmtp.listen.empty());
  CHECK(c->lmtp.max_message_size == 52428800);
  CHECK_FALSE(c->imap.has_value());
  CHECK_FALSE(c->smtp.has_value());
  CHECK_FALSE(c->digest.has_value());
  CHECK(c->ack.enabled);
  CHECK(c->ack.per_sender_per_day == 10);
  CHECK(c->gpg.home == "/var/lib/cased/gnupg");
}

TEST_CASE("config: every section of the documented configuration parses", "[config]") {
  auto c = parse_config(R"(
[case]
database = "/var/lib/cased/cases.db"
alias    = "security@example.com"
tag      = "PSIRT"
analysts = ["alice", "bob"]
[lmtp]
listen = ["127.0.0.1:2424", "unix:/run/cased/lmtp.sock"]
max_message_size = 1000000
[imap]
host = "imap.example.com"
port = 993
security = "tls"
user = "security"
password_file = "/etc/cased/imap.pass"
mailbox = "INBOX"
done_mailbox = "Processed"
idle = true
poll_seconds = 60
ca_file = ""
[gpg]
home = "/var/lib/cased/gnupg"
signing_key = ""
[smtp]
host = "smtp.example.com"
port = 587
security = "starttls"
user = ""
password_file = ""
ca_file = ""
[ack]
enabled = false
[digest]
stale_days = 3
to = "psirt-team@example.com"
)", "full.toml");
  REQUIRE(c.ok());
  CHECK(c->case_.tag == "PSIRT");
  CHECK(c->case_.analysts == std::vector<std::string>{"alice", "bob"});
  CHECK(c->lmtp.listen.size() == 2);
  CHECK(c->lmtp.max_message_size == 1000000);
  REQUIRE(c->imap);
  CHECK(c->imap->port == 993);
  REQUIRE(c->smtp);
  CHECK(c->smtp->security == TransportSecurity::starttls);
  CHECK_FALSE(c->ack.enabled);
  REQUIRE(c->digest);
  CHECK(c->digest->stale_days == 3);
}

TEST_CASE("config: errors name the key, the file and the line", "[config]") {
  SECTION("unknown key") {
    auto c = parse_config("[case]\ndatabase = \"x\"\nalias = \"a@b.c\"\ncolour = 1\n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "f.toml:4: case.colour: unknown key");
  }
  SECTION("unknown section") {
    auto c = parse_config("[case]\ndatabase = \"x\"\nalias = \"a@b.c\"\n[lmpt]\nlisten=[]\n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "f.toml:4: lmpt: unknown key");
  }
  SECTION("wrong type") {
    auto c = parse_config("[case]\ndatabase = \"x\"\nalias = \"a@b.c\"\n[lmtp]\nmax_message_size = \"big\"\n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "f.toml:5: lmtp.max_message_size: expected an integer");
  }
  SECTION("missing required key") {
    auto c = parse_config("[case]\ndatabase = \"x\"\n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "f.toml:1: case.alias: required key is missing");
  }
  SECTION("missing section") {
    auto c = parse_config("[lmtp]\nlisten = []\n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message.find("case") != std::string::npos);
  }
  SECTION("TOML syntax") {
    auto c = parse_config("[case]\ndatabase = \n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message.rfind("f.toml:2:", 0) == 0);
  }
  SECTION("security none only on loopback") {
    auto c = parse_config(std::string(kMinimal) + "[smtp]\nhost = \"smtp.example.com\"\nsecurity = \"none\"\n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message.find("smtp.security") != std::string::npos);
    auto ok = parse_config(std::string(kMinimal) + "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"none\"\n", "f.toml");
    CHECK(ok.ok());
  }
  SECTION("bad enum value") {
    auto c = parse_config(std::string(kMinimal) + "[smtp]\nhost = \"h\"\nsecurity = \"ssl\"\n", "f.toml");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "f.toml:7: smtp.security: must be one of starttls | tls | none");
  }
}

TEST_CASE("config: loopback hosts", "[config]") {
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.1.2.3"));
  CHECK(is_loopback_host("::1"));
  CHECK_FALSE(is_loopback_host("127.0.0.256"));
  CHECK_FALSE(is_loopback_host("127.0.0.1.example.com"));
  CHECK_FALSE(is_loopback_host("10.0.0.1"));
  CHECK_FALSE(is_loopback_host("localhost.example.com"));
}

TEST_CASE("config: ack.per_sender_per_day is read and bounded", "[config][ack]") {
  auto c = parse_config(std::string(kMinimal) + "[ack]\nper_sender_per_day = 3\n", "cased.toml");
  REQUIRE(c.ok());
  CHECK(c->ack.per_sender_per_day == 3);
  for (const char* bad : {"0", "1001", "-1", "\"ten\""}) {
    auto e = parse_config(std::string(kMinimal) + "[ack]\nper_sender_per_day = " + bad + "\n", "cased.toml");
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().message.find("ack.per_sender_per_day") != std::string::npos);
  }
}

TEST_CASE("config: advisory.cve_org_id is a version 4 UUID or empty", "[config][advisory]") {
  auto with = [](const std::string& value) {
    return parse_config(std::string(kMinimal) + "[advisory]\ncve_org_id = \"" + value + "\"\n", "f.toml");
  };
  for (const char* good : {"", "b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5b", "B3D1F4A2-5C6E-4F70-AA9B-0C1D2E3F4A5B"}) {
    INFO(good);
    auto c = with(good);
    REQUIRE(c.ok());
    CHECK(c->advisory.cve_org_id == good);
  }
  for (const char* bad : {"Example Corp", "b3d1f4a2-5c6e-3f70-8a9b-0c1d2e3f4a5b",  // version 3
                          "b3d1f4a2-5c6e-4f70-7a9b-0c1d2e3f4a5b",                  // not the RFC 4122 variant
                          "b3d1f4a25c6e4f708a9b0c1d2e3f4a5b", "{b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5b}",
                          "b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5g", "b3d1f4a2-5c6e-4f70-8a9b-0c1d2e3f4a5b "}) {
    INFO(bad);
    auto c = with(bad);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message.rfind("f.toml:6: advisory.cve_org_id: expected the CVE Program's UUID", 0) == 0);
  }
}

TEST_CASE("config: advisory.category refuses translator and says why", "[config][advisory]") {
  for (const char* good : {"coordinator", "discoverer", "other", "user", "vendor"}) {
    auto c = parse_config(std::string(kMinimal) + "[advisory]\ncategory = \"" + good + "\"\n", "f.toml");
    REQUIRE(c.ok());
    CHECK(c->advisory.category == good);
  }
  auto t = parse_config(std::string(kMinimal) + "[advisory]\ncategory = \"translator\"\n", "f.toml");
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().message.rfind("f.toml:6: advisory.category: translator is not possible: cased publishes", 0) == 0);
  auto x = parse_config(std::string(kMinimal) + "[advisory]\ncategory = \"publisher\"\n", "f.toml");
  REQUIRE_FALSE(x.ok());
  CHECK(x.error().message == "f.toml:6: advisory.category: expected coordinator, discoverer, other, user or vendor");
}
