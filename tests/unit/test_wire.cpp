// The encoding between the daemon and its parse workers: whatever a worker
// prepares arrives field for field, and a cut-off reply is an error, not a
// crash or a half message.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "intake/wire.hpp"

using namespace cased;

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A prepared message with every field away from its default.
PreparedMessage everything_set() {
  PreparedMessage p = prepare_message(read_file(std::filesystem::path(CASED_TEST_DATA) / "rfc2231-attachment.eml"),
                                      Envelope{MessageSource::lmtp, std::string(), {"security@example.com", "security+x@example.com"}});
  auto& m = p.parsed;
  m.in_reply_to = {"a@example.org"};
  m.references = {"b@example.org", "c@example.org"};
  m.reply_to = "reply@example.org";
  m.sender = "sender@example.org";
  m.cc = {"cc@example.org"};
  m.delivered_to = {"security@example.com"};
  m.x_original_to = {"security@example.com"};
  m.outer_subject = "...";
  m.auto_submitted = "auto-replied";
  m.precedence = "bulk";
  m.list_id = "<list.example.org>";
  m.autocrypt = "addr=rita@example.org; keydata=AAAA";
  m.cased_mark = "ack";
  m.malformed = true;
  m.problems = {"first", "second"};
  m.encrypted = true;
  m.mixed = true;
  m.decryption = DecryptionState::failed;
  m.decryption_error = "no secret key";
  m.signature = SignatureState::good;
  m.signer = "0123456789ABCDEF0123456789ABCDEF01234567";
  m.signer_uid = "Rita <rita@example.org>";
  m.keys_offered = {"-----BEGIN PGP PUBLIC KEY BLOCK-----\n..."};
  m.root.encrypted = true;
  m.root.is_signed = true;
  m.root.broken = true;
  m.attachments.push_back({"x.bin", "application/octet-stream", 3, "abc", true, true});
  p.keys.push_back({{"FPR", {"rita@example.org"}, "Rita <rita@example.org>", 1800000000, true, false}, "autocrypt"});
  p.keys.push_back({{"FPR2", {}, "", std::nullopt, false, true}, "inline"});
  return p;
}

}  // namespace

TEST_CASE("wire: every test message comes back from a worker unchanged") {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(CASED_TEST_DATA)) {
    if (entry.path().extension() != ".eml") continue;
    std::string raw = read_file(entry.path());
    Envelope env{MessageSource::lmtp, "rita@example.org", {"security@example.com"}};
    auto request = wire::decode_request(wire::encode_request(raw, env));
    CHECK(request.raw == raw);
    CHECK(request.envelope == env);
    PreparedMessage p = prepare_message(raw, env);
    auto back = wire::decode_reply(wire::encode_reply(p));
    REQUIRE(back.ok());
    CHECK(back.value() == p);
    ++seen;
  }
  CHECK(seen >= 10);
}

TEST_CASE("wire: every field survives, including the null sender and unset optionals") {
  PreparedMessage p = everything_set();
  REQUIRE(p.envelope.mail_from == std::string());
  REQUIRE_FALSE(p.parsed.root.children.empty());
  auto back = wire::decode_reply(wire::encode_reply(p));
  REQUIRE(back.ok());
  CHECK(back.value() == p);
  CHECK(back.value().envelope.mail_from.has_value());
  CHECK_FALSE(back.value().keys[1].key.expires.has_value());

  Envelope unknown{MessageSource::imap, std::nullopt, {}};
  CHECK_FALSE(wire::decode_request(wire::encode_request("x", unknown)).envelope.mail_from.has_value());
}

TEST_CASE("wire: an error reply keeps its kind and text") {
  Result<PreparedMessage> err = Error{Errc::temporary, "gpg timed out"};
  auto back = wire::decode_reply(wire::encode_reply(err));
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().code == Errc::temporary);
  CHECK(back.error().message == "gpg timed out");
}

TEST_CASE("wire: a cut-off or padded reply is refused") {
  std::string whole = wire::encode_reply(everything_set());
  // Every prefix: the decoder must throw, never read past the end.
  for (std::size_t n = 0; n < whole.size(); n += (n < 4096 ? 1 : 97))
    CHECK_THROWS_AS(wire::decode_reply(std::string_view(whole).substr(0, n)), wire::WireError);
  CHECK_THROWS_AS(wire::decode_reply(whole + "x"), wire::WireError);
  std::string request = wire::encode_request("raw", Envelope{});
  for (std::size_t n = 0; n < request.size(); ++n)
    CHECK_THROWS_AS(wire::decode_request(std::string_view(request).substr(0, n)), wire::WireError);
  // A count far larger than the bytes left fails before allocating.
  std::string huge(8, '\xff');
  CHECK_THROWS_AS(wire::decode_request(huge), wire::WireError);
}

namespace {

// `word` as the encoder writes a string: its length, then its bytes.
std::string framed(std::string_view word) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(word.size());
  out += word;
  return out;
}

// `bytes` with the one framed `from` replaced by `to` (same length).
std::string with_word(std::string bytes, std::string_view from, std::string_view to) {
  auto at = bytes.find(framed(from));
  REQUIRE(at != std::string::npos);
  REQUIRE(bytes.find(framed(from), at + 1) == std::string::npos);
  bytes.replace(at + 8, from.size(), to);
  return bytes;
}

}  // namespace

TEST_CASE("wire: states travel as the words the database stores") {
  std::string request = wire::encode_request("raw", Envelope{MessageSource::imap, std::nullopt, {}});
  CHECK(request.find(framed("imap")) != std::string::npos);
  std::string reply = wire::encode_reply(everything_set());
  CHECK(reply.find(framed("failed")) != std::string::npos);
  CHECK(reply.find(framed("good")) != std::string::npos);
}

TEST_CASE("wire: a state word the program does not know is refused") {
  std::string request = wire::encode_request("raw", Envelope{MessageSource::lmtp, std::nullopt, {}});
  CHECK_THROWS_AS(wire::decode_request(with_word(request, "lmtp", "LMTP")), wire::WireError);
  CHECK_THROWS_AS(wire::decode_request(with_word(request, "lmtp", "smtp")), wire::WireError);
  std::string reply = wire::encode_reply(everything_set());
  REQUIRE(wire::decode_reply(reply).ok());
  CHECK_THROWS_AS(wire::decode_reply(with_word(reply, "failed", "Failed")), wire::WireError);
  CHECK_THROWS_AS(wire::decode_reply(with_word(reply, "good", "gooD")), wire::WireError);
  // Another known word of the same length decodes to its own state.
  auto unsigned_reply = wire::decode_reply(with_word(reply, "good", "none"));
  REQUIRE(unsigned_reply.ok());
  CHECK(unsigned_reply.value().parsed.signature == SignatureState::none);
}
