// The "text around armour" split: one function (pgp::split_armor) cuts a
// text body into what comes before its first armour block, the block, and
// what comes after. Every shape of inline PGP (encrypted, clearsigned, a key
// block) and encrypted_data() go through it. No gpg here.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "crypto/pgp_packets.hpp"

using cased::pgp::encrypted_data;
using cased::pgp::split_armor;

namespace {

constexpr std::string_view kBlock = "-----BEGIN PGP MESSAGE-----\n\nhQEMA1234\n=abcd\n-----END PGP MESSAGE-----\n";

}  // namespace

TEST_CASE("split_armor: text before and after the block stays beside it", "[crypto][armour]") {
  std::string body = "Hello,\nplease read:\n" + std::string(kBlock) + "Thanks\n-- \nRita\n";
  auto split = split_armor(body, "MESSAGE", "MESSAGE");
  REQUIRE(split);
  CHECK(split->before == "Hello,\nplease read:\n");
  CHECK(split->block == kBlock);
  CHECK(split->after == "Thanks\n-- \nRita\n");
  CHECK_FALSE(split->alone());
  // The three pieces are the body, in order, with nothing lost or doubled.
  CHECK(std::string(split->before) + std::string(split->block) + std::string(split->after) == body);
}

TEST_CASE("split_armor: a block with only white space around it is alone", "[crypto][armour]") {
  auto bare = split_armor(kBlock, "MESSAGE", "MESSAGE");
  REQUIRE(bare);
  CHECK(bare->before.empty());
  CHECK(bare->after.empty());
  CHECK(bare->alone());
  std::string padded = " \t\n\n" + std::string(kBlock) + "\n  \n";
  auto spaced = split_armor(padded, "MESSAGE", "MESSAGE");
  REQUIRE(spaced);
  CHECK(spaced->alone());
  CHECK(spaced->block == kBlock);
}

TEST_CASE("split_armor: of two blocks the first is cut out, the second stays after it", "[crypto][armour]") {
  std::string second = "-----BEGIN PGP MESSAGE-----\n\nhQEMA5678\n-----END PGP MESSAGE-----\n";
  std::string body = "one\n" + std::string(kBlock) + "two\n" + second + "three\n";
  auto split = split_armor(body, "MESSAGE", "MESSAGE");
  REQUIRE(split);
  CHECK(split->before == "one\n");
  CHECK(split->block == kBlock);
  CHECK(split->after == "two\n" + second + "three\n");
  CHECK(encrypted_data(body) == std::optional<std::string_view>(kBlock));
}

TEST_CASE("split_armor: unterminated armour is no block at all", "[crypto][armour]") {
  std::string cut = "before\n-----BEGIN PGP MESSAGE-----\n\nhQEMA1234\n";
  CHECK_FALSE(split_armor(cut, "MESSAGE", "MESSAGE"));
  CHECK_FALSE(encrypted_data(cut));
  // An END of another kind does not close it; an END before the BEGIN neither.
  CHECK_FALSE(split_armor("-----BEGIN PGP MESSAGE-----\nx\n-----END PGP SIGNATURE-----\n", "MESSAGE", "MESSAGE"));
  CHECK_FALSE(split_armor("-----END PGP MESSAGE-----\n-----BEGIN PGP MESSAGE-----\nx\n", "MESSAGE", "MESSAGE"));
  CHECK_FALSE(split_armor("", "MESSAGE", "MESSAGE"));
}

TEST_CASE("split_armor: CRLF line ends, the END line's own break in the block", "[crypto][armour]") {
  std::string body = "hi\r\n-----BEGIN PGP MESSAGE-----\r\n\r\nhQ==\r\n-----END PGP MESSAGE-----\r\nbye\r\n";
  auto split = split_armor(body, "MESSAGE", "MESSAGE");
  REQUIRE(split);
  CHECK(split->before == "hi\r\n");
  CHECK(split->block == "-----BEGIN PGP MESSAGE-----\r\n\r\nhQ==\r\n-----END PGP MESSAGE-----\r\n");
  CHECK(split->after == "bye\r\n");
  // Without a break after END the block ends at the marker.
  auto last = split_armor("-----BEGIN PGP MESSAGE-----\r\nx\r\n-----END PGP MESSAGE-----", "MESSAGE", "MESSAGE");
  REQUIRE(last);
  CHECK(last->block.ends_with("-----END PGP MESSAGE-----"));
  CHECK(last->after.empty());
}

TEST_CASE("split_armor: markers count only at the start of a line", "[crypto][armour]") {
  // Quoted armour (a reply) is not the sender's block.
  CHECK_FALSE(split_armor("> -----BEGIN PGP MESSAGE-----\n> x\n> -----END PGP MESSAGE-----\n", "MESSAGE", "MESSAGE"));
  // A quoted END inside does not close a block that starts a line.
  std::string body = "-----BEGIN PGP MESSAGE-----\nx > -----END PGP MESSAGE-----\ny\n-----END PGP MESSAGE-----\nz\n";
  auto split = split_armor(body, "MESSAGE", "MESSAGE");
  REQUIRE(split);
  CHECK(split->after == "z\n");
}

TEST_CASE("split_armor: a clearsigned text runs from its BEGIN to the END of its signature", "[crypto][armour]") {
  std::string signed_block =
      "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nthe text\n-----BEGIN PGP SIGNATURE-----\n\niQ==\n"
      "-----END PGP SIGNATURE-----\n";
  std::string body = "note\n" + signed_block + "after\n";
  auto split = split_armor(body, "SIGNED MESSAGE", "SIGNATURE");
  REQUIRE(split);
  CHECK(split->before == "note\n");
  CHECK(split->block == signed_block);
  CHECK(split->after == "after\n");
  // Looking for an encrypted message finds none in it.
  CHECK_FALSE(split_armor(body, "MESSAGE", "MESSAGE"));
}
