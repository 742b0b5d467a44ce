// States that are enums inside the library and words at its edges: every
// value has one word, the word names it back, and no other word (another
// case, a neighbour's word) names anything.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "intake/prepare.hpp"
#include "mail/message.hpp"

using namespace cased;

namespace {

template <class Enum, class Parse>
void check_words(const std::vector<std::pair<Enum, std::string>>& expected, Parse parse) {
  std::set<std::string> words;
  for (const auto& [value, word] : expected) {
    CAPTURE(word);
    CHECK(std::string(to_string(value)) == word);
    auto back = parse(word);
    REQUIRE(back);
    CHECK(*back == value);
    words.insert(word);
  }
  CHECK(words.size() == expected.size());  // one word each
  for (std::string other : {"", "unknown", "NONE", " none", "none ", "Good", "unknown_key", "ok\n", "ssl"}) {
    CAPTURE(other);
    if (!words.count(other)) CHECK_FALSE(parse(other));
  }
}

}  // namespace

TEST_CASE("states: decryption is none | ok | failed at the edges", "[states]") {
  check_words<DecryptionState>(
      {{DecryptionState::none, "none"}, {DecryptionState::ok, "ok"}, {DecryptionState::failed, "failed"}},
      parse_decryption_state);
  CHECK(ParsedMessage{}.decryption == DecryptionState::none);
}

TEST_CASE("states: signature is none | good | partial | bad | unknown-key at the edges", "[states]") {
  check_words<SignatureState>({{SignatureState::none, "none"},
                               {SignatureState::good, "good"},
                               {SignatureState::partial, "partial"},
                               {SignatureState::bad, "bad"},
                               {SignatureState::unknown_key, "unknown-key"}},
                              parse_signature_state);
  CHECK(ParsedMessage{}.signature == SignatureState::none);
}

TEST_CASE("states: a message's source is lmtp | ingest | imap at the edges", "[states]") {
  check_words<MessageSource>(
      {{MessageSource::lmtp, "lmtp"}, {MessageSource::ingest, "ingest"}, {MessageSource::imap, "imap"}},
      parse_message_source);
  CHECK(Envelope{}.source == MessageSource::ingest);
}

TEST_CASE("states: transport security is none | starttls | tls in the configuration", "[states][config]") {
  check_words<TransportSecurity>({{TransportSecurity::none, "none"},
                                  {TransportSecurity::starttls, "starttls"},
                                  {TransportSecurity::tls, "tls"}},
                                 parse_transport_security);
  CHECK(SmtpConfig{}.security == TransportSecurity::starttls);
  CHECK(ImapConfig{}.security == TransportSecurity::tls);
}

TEST_CASE("states: the configuration's security words become the enum", "[states][config]") {
  const std::string base = "[case]\ndatabase = \"/tmp/x.db\"\nalias = \"security@example.com\"\n";
  auto c = parse_config(base + "[smtp]\nhost = \"smtp.example.com\"\nsecurity = \"tls\"\n"
                               "[imap]\nhost = \"imap.example.com\"\nsecurity = \"starttls\"\nuser = \"u\"\n"
                               "password_file = \"/p\"\n",
                        "f.toml");
  REQUIRE(c);
  CHECK(c->smtp->security == TransportSecurity::tls);
  CHECK(c->imap->security == TransportSecurity::starttls);
  auto defaults = parse_config(base + "[smtp]\nhost = \"smtp.example.com\"\n", "f.toml");
  REQUIRE(defaults);
  CHECK(defaults->smtp->security == TransportSecurity::starttls);
  auto wrong = parse_config(base + "[imap]\nhost = \"h\"\nsecurity = \"TLS\"\nuser = \"u\"\npassword_file = \"/p\"\n", "f.toml");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message == "f.toml:6: imap.security: must be one of tls | starttls | none");
}
