// The one check for addresses and Message-IDs that go into outbound headers
// and SMTP commands: RFC 5322 addr-spec and msg-id, strict, no controls.
#include <catch2/catch.hpp>

#include <string>

#include "mail/address.hpp"

using namespace cased;

TEST_CASE("address: addr-specs that are valid", "[address]") {
  for (std::string a : {"rita@example.org", "a.b+c@x", "x_y-z@mail.example-1.org", "\"john doe\"@example.org",
                        "\"a\\\"b\"@example.org", "o'brien@example.ie", "x@[192.0.2.1]", "a@x",
                        "!#$%&'*+-/=?^_`{|}~@example.org"})
    CHECK(valid_addr_spec(a));
  CHECK(valid_addr_spec(std::string(64, 'l') + "@" + std::string(63, 'd') + ".org"));
}

TEST_CASE("address: addr-specs that are not, controls above all", "[address]") {
  for (std::string a : {"", "@x", "a@", "a", "a..b@x", ".a@x", "a.@x", "a b@x", "<a@x>", "a@x>", "a@-x.org",
                        "a@x-.org", "a@x..org", "a@.x", "a@x.", "a@x y", "a(c)@x", "\"a@x", "a@[1.2.3.4",
                        "\"a\\\"@x", "a@b@c d", "a,b@x", "a;b@x", "a@x,y"})
    CHECK_FALSE(valid_addr_spec(a));
  for (std::string a : {std::string("victim2@example.net\rX:y"), std::string("a@b\n"), std::string("a\r\n@b"),
                        std::string("a@b\0c", 5), std::string("\"a\rb\"@x"), std::string("\"a\tb\"@x"),
                        std::string("\x1b" "c@x"), std::string("\xff@x"), std::string("a@\xc3\xa9.x"),
                        std::string("\xc2\x9b" "@x"), std::string("a@[1\r.2]")})
    CHECK_FALSE(valid_addr_spec(a));
  CHECK_FALSE(valid_addr_spec(std::string(65, 'l') + "@x"));
  CHECK_FALSE(valid_addr_spec("a@" + std::string(64, 'd') + ".org"));
  CHECK_FALSE(valid_addr_spec("a@" + std::string(250, 'd')));
}

TEST_CASE("address: Message-IDs for In-Reply-To and References", "[address]") {
  for (std::string id : {"r1@example.org", "CAF+x=y_z@mail.gmail.com", "1.2@[10.0.0.1]", "cased.1.2.ab@example.com"})
    CHECK(valid_msg_id(id));
  for (std::string id : {"", "noat", "@x", "x@", "a b@x", "a@b c", "<a@x>", "a@x>", "a..b@x", "a@[x"})
    CHECK_FALSE(valid_msg_id(id));
  for (std::string id : {std::string("x\rX-Injected:yes@x"), std::string("x@y\r\nX: 1"), std::string("\xff@x"),
                         std::string("a\0@x", 4), std::string("a@x\x1b")})
    CHECK_FALSE(valid_msg_id(id));
  CHECK_FALSE(valid_msg_id(std::string(300, 'a') + "@x"));
}
