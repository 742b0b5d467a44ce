// Composition of outbound mail: header fields, encodings and the PGP/MIME
// structure, read back with the project's own MIME parser. The PGP tests
// use INSECURE throwaway keys made at test time in a temp GNUPGHOME.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include "core/base64.hpp"
#include "crypto/crypto.hpp"
#include "gpg_home.hpp"
#include "mail/mime.hpp"
#include "outbound/compose.hpp"

using namespace cased;

namespace {

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

std::size_t longest_line(std::string_view text) {
  std::size_t n = 0;
  for (const auto& l : lines_of(text)) n = std::max(n, l.size());
  return n;
}

// No CR or LF except as CRLF pairs.
bool only_crlf(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return false;
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return false;
  }
  return true;
}

// A header block around `field` and a body, parsed the way inbound mail is.
ParsedMessage with_field(const std::string& field) {
  return parse_message("From: a@example.org\r\nMessage-ID: <x@example.org>\r\n" + field + "\r\nbody\r\n");
}

compose::Draft draft(std::string inner = "Re: [CASE#7] Grüße aus Köln", std::string outer = "[CASE#7] Encrypted message") {
  compose::Draft d;
  d.from = "security@example.com";
  d.to = {"rita@example.org"};
  d.message_id = "cased.7.1.abc@example.com";
  d.subject = {std::move(inner), std::move(outer)};
  d.text = "Hello Rita,\n\nthanks.\n";
  d.in_reply_to = "r1@example.org";
  d.references = {"r0@example.org", "r1@example.org"};
  d.date = 1'790'000'000;
  return d;
}

testing::GpgHome& gpg_home() {
  static testing::GpgHome home({"security@example.com", "rita@example.org"});
  return home;
}

}  // namespace

TEST_CASE("base64 is the RFC 4648 codec, on one line", "[compose][base64]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(std::string("\0\xff\xfe", 3)) == "AP/+");
  std::string big(1000, 'x');
  std::string enc = base64_encode(big);
  CHECK(enc.size() == 1336);
  CHECK(enc.find_first_of("\r\n") == std::string::npos);
  CHECK(base64_decode(enc) == big);
  CHECK(base64_decode("Zm9v\r\n YmFy") == std::string("foobar"));
  CHECK(base64_decode("") == std::string());
  CHECK_FALSE(base64_decode("Zm9*"));
  CHECK_FALSE(base64_decode("Zg"));  // no encoder makes it
}

TEST_CASE("a short ASCII header value goes as it is; a long one is folded before spaces", "[compose][header]") {
  CHECK(compose::header_field("Subject", "[CASE#7] Encrypted message") == "Subject: [CASE#7] Encrypted message\r\n");
  std::string words;
  for (int i = 0; i < 40; ++i) words += (i ? " " : "") + std::string("word") + std::to_string(i);
  std::string field = compose::header_field("Subject", words);
  CHECK(field.find("=?") == std::string::npos);
  CHECK(lines_of(field).size() > 3);
  CHECK(longest_line(field) <= 78);
  for (const auto& l : lines_of(field)) CHECK(l.find_first_not_of(' ') != std::string::npos);  // no blank line
  CHECK(with_field(field).subject == words);
}

TEST_CASE("a non-ASCII subject becomes RFC 2047 encoded words of whole code points", "[compose][header]") {
  std::string subject = "Grüße aus Köln: ein Fehler in der Anmeldung, der alle Konten öffnet — 日本語のテキストも";
  std::string field = compose::header_field("Subject", subject);
  CHECK(field.rfind("Subject: =?UTF-8?B?", 0) == 0);
  CHECK(lines_of(field).size() >= 3);
  CHECK(longest_line(field) <= 78);
  for (const auto& l : lines_of(field)) {
    auto start = l.find("=?");
    REQUIRE(start != std::string::npos);
    CHECK(l.size() - start <= 75);  // RFC 2047: an encoded word is at most 75 characters
    auto b64 = l.substr(start + 10, l.size() - start - 12);
    auto bytes = base64_decode(b64);
    REQUIRE(bytes);
    CHECK((static_cast<unsigned char>(bytes->front()) & 0xC0) != 0x80);  // starts a code point
  }
  CHECK(with_field(field).subject == subject);
  // A word too long to fold is encoded too, rather than making a long line.
  std::string url = "https://example.org/" + std::string(120, 'a');
  std::string long_word = compose::header_field("Subject", url);
  CHECK(longest_line(long_word) <= 78);
  CHECK(with_field(long_word).subject == url);
}

TEST_CASE("CR and LF in a header value cannot start a new field", "[compose][header]") {
  for (const std::string& hostile : std::vector<std::string>{"hi\r\nBcc: victim@example.net", "hi\nBcc: victim@example.net", "hi\rBcc: x@y.z",
                              "a\r\n\r\nbody injected", std::string("nul\0byte", 8)}) {
    std::string field = compose::header_field("Subject", hostile);
    CHECK(only_crlf(field));
    auto lines = lines_of(field);
    for (std::size_t i = 1; i < lines.size(); ++i) CHECK(lines[i].front() == ' ');  // continues the field
    auto parsed = with_field(field);
    CHECK(parsed.subject.find_first_of("\r\n") == std::string::npos);
    CHECK(parsed.root.header("Bcc").empty());
    CHECK(parsed.body.find("body") == 0);
  }
  auto parsed = with_field(compose::header_field("Subject", "hi\r\nBcc: victim@example.net"));
  CHECK(parsed.subject == "hi  Bcc: victim@example.net");
  CHECK(parsed.root.header("Bcc").empty());
}

TEST_CASE("addresses and Message-IDs are checked before anything is composed", "[compose][header]") {
  CHECK(compose::check_draft(draft()).ok());
  for (std::string bad : {"rita@example.org\r\nBcc: x@y.z", "rita@example.org>\r\nRCPT TO:<x@y.z", "two words@example.org",
                          "", "no-at-sign", "rita@example.org, x@y.z"}) {
    auto d = draft();
    d.to = {"ok@example.org", bad};
    auto r = compose::check_draft(d);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid);
  }
  auto d = draft();
  d.from = "security@example.com\r\nBcc: x@y.z";
  CHECK_FALSE(compose::check_draft(d).ok());
  d = draft();
  d.message_id = "x@y\r\nBcc: a@b.c";
  CHECK_FALSE(compose::check_draft(d).ok());
  // Ids from stored mail that are not msg-ids are left out of the header.
  d = draft();
  d.in_reply_to = "bad id>\r\nBcc: x@y.z";
  d.references = {"ok@example.org", "<bad>@x", "\r\nX-Evil: 1"};
  std::string head = compose::outer_headers(d);
  CHECK(head.find("In-Reply-To") == std::string::npos);
  CHECK(head.find("References: <ok@example.org>\r\n") != std::string::npos);
  CHECK(head.find("Evil") == std::string::npos);
}

TEST_CASE("many recipients are folded between addresses, never encoded", "[compose][header]") {
  auto d = draft("s", "s");
  d.to.clear();
  for (int i = 0; i < 12; ++i) d.to.push_back("reporter" + std::to_string(i) + "@example.org");
  std::string head = compose::outer_headers(d);
  CHECK(longest_line(head) <= 78);
  CHECK(head.find("=?") == std::string::npos);
  auto parsed = parse_message(head + "\r\nbody\r\n");
  CHECK(parsed.to == d.to);
  CHECK(parsed.message_id == d.message_id);
  CHECK(parsed.in_reply_to == std::vector<std::string>{"r1@example.org"});
  CHECK(parsed.references == d.references);
}

TEST_CASE("quoted-printable keeps lines at 76 characters and round-trips", "[compose][qp]") {
  std::string text = "From the start: " + std::string(200, 'x') + "\n.\nGrüße = gleich   \nend with tab\t\n" +
                     std::string(30, '=') + "\nlast line";
  std::string qp = compose::quoted_printable(text);
  CHECK(only_crlf(qp));
  CHECK(longest_line(qp) <= 76);
  CHECK(qp.find("\r\nFrom ") == std::string::npos);
  CHECK(qp.rfind("From ", 0) != 0);
  CHECK(qp.find("\r\n.\r\n") == std::string::npos);
  for (const auto& l : lines_of(qp)) {
    if (l.empty()) continue;
    CHECK(l.back() != ' ');  // trailing white space is encoded
    CHECK(l.back() != '\t');
    for (char c : l) CHECK(static_cast<unsigned char>(c) < 0x80);
  }
  auto parsed = parse_message("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp);
  std::string crlf = compose::to_crlf(text) + "\r\n";
  CHECK(parsed.root.body == crlf);
}

TEST_CASE("subjects: the case's words only inside the encryption", "[compose][header]") {
  auto enc = compose::reply_subjects("CASE", 7, "Re: [case#7] RE: [CASE#3] login bypass", true);
  CHECK(enc.inner == "Re: [CASE#7] login bypass");
  CHECK(enc.outer == "[CASE#7] Encrypted message");
  auto clear = compose::reply_subjects("CASE", 7, "login bypass", false);
  CHECK(clear.inner == clear.outer);
  CHECK(clear.inner.find("login") == std::string::npos);
  CHECK(compose::ack_subject("SEC", 12) == "[SEC#12] Your report has been received");
  CHECK(compose::ack_text("{tag} for {alias}.\n{policy}-- \n", "[SEC#12]", "sec@example.com", "https://example.com/p") ==
        "[SEC#12] for sec@example.com.\nOur disclosure policy: https://example.com/p\n-- \n");
  auto id = compose::make_message_id(7, 1'790'000'000, "security@example.com");
  CHECK(id.rfind("cased.7.1790000000.", 0) == 0);
  CHECK(id.size() == std::string("cased.7.1790000000.0123456789abcdef@example.com").size());
}

TEST_CASE("an encrypted reply is multipart/encrypted with the subject protected inside", "[compose][gpg]") {
  auto& home = gpg_home();
  Crypto crypto(home.dir.string());
  auto rita = crypto.keys_for("rita@example.org");
  REQUIRE(rita.size() == 1);
  auto d = draft();
  auto composed = compose::compose(d, {"", true, {rita[0].fingerprint}}, crypto);
  REQUIRE(composed.ok());
  CHECK(composed->signer == crypto.signing_key("", "security@example.com")->fingerprint);
  CHECK(only_crlf(composed->raw));
  CHECK(longest_line(composed->raw) <= 78);
  CHECK(composed->raw.find("Grüße") == std::string::npos);
  CHECK(composed->raw.find("thanks") == std::string::npos);

  ParsedMessage msg = parse_message(composed->raw);
  const MimePart& root = msg.root;
  CHECK(root.is("multipart", "encrypted"));
  CHECK(root.param("protocol") == "application/pgp-encrypted");
  REQUIRE(root.children.size() == 2);
  CHECK(root.children[0].is("application", "pgp-encrypted"));
  CHECK(root.children[0].body.find("Version: 1") != std::string::npos);
  CHECK(root.children[1].is("application", "octet-stream"));
  CHECK(root.children[1].body.rfind("-----BEGIN PGP MESSAGE-----", 0) == 0);
  CHECK(msg.subject == "[CASE#7] Encrypted message");
  CHECK(msg.message_id == d.message_id);
  CHECK(msg.cased_mark == "security@example.com");

  // Decrypted as cased reads mail: signed by the alias, the inner subject applied.
  crypto.process(msg);
  CHECK(msg.decryption == DecryptionState::ok);
  CHECK(msg.signature == SignatureState::good);
  CHECK(msg.subject == "Re: [CASE#7] Grüße aus Köln");
  CHECK(msg.outer_subject == "[CASE#7] Encrypted message");
  CHECK(msg.body.find("thanks.") != std::string::npos);
}

TEST_CASE("a signed-only message is multipart/signed with protocol and micalg", "[compose][gpg]") {
  auto& home = gpg_home();
  Crypto crypto(home.dir.string());
  auto d = draft("[CASE#7] Message from the security team", "[CASE#7] Message from the security team");
  d.automatic = true;
  auto composed = compose::compose(d, {"", false, {}}, crypto);
  REQUIRE(composed.ok());
  CHECK(only_crlf(composed->raw));
  CHECK(composed->raw.find("\r\nAuto-Submitted: auto-replied\r\n") != std::string::npos);

  ParsedMessage msg = parse_message(composed->raw);
  const MimePart& root = msg.root;
  CHECK(root.is("multipart", "signed"));
  CHECK(root.param("protocol") == "application/pgp-signature");
  CHECK(root.param("micalg").rfind("pgp-sha", 0) == 0);
  REQUIRE(root.children.size() == 2);
  CHECK(root.children[0].is("text", "plain"));
  CHECK(root.children[0].param("protected-headers") == "v1");
  CHECK(root.children[0].header("Subject") == d.subject.inner);
  CHECK(root.children[1].is("application", "pgp-signature"));
  crypto.process(msg);
  CHECK(msg.signature == SignatureState::good);
  CHECK(msg.body.find("thanks.") != std::string::npos);
}

TEST_CASE("nothing is signed for a draft that fails its checks", "[compose][gpg]") {
  auto& home = gpg_home();
  Crypto crypto(home.dir.string());
  auto d = draft();
  d.to = {"rita@example.org\r\nBcc: x@y.z"};
  auto r = compose::compose(d, {"", false, {}}, crypto);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::invalid);
}
