#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "mail/mime.hpp"
#include "core/util.hpp"

using namespace cased;

namespace {

std::string corpus(const std::string& name) {
  std::ifstream in(std::string(CASED_TEST_DATA) + "/" + name, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!n || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

void check_model(const ParsedMessage& m) {
  REQUIRE(valid_utf8(m.subject));
  REQUIRE(valid_utf8(m.body));
  REQUIRE(valid_utf8(m.from_name));
  for (const auto& a : m.attachments) {
    REQUIRE(valid_utf8(a.filename));
    REQUIRE(a.sha256.size() == 64);
  }
}

}  // namespace

TEST_CASE("mime: plain text and the header fields", "[mime]") {
  auto m = parse_message(corpus("plain.eml"));
  CHECK(m.message_id == "plain@example.org");
  CHECK(m.from == "rita@example.org");
  CHECK(m.from_name == "Rita Reporter");
  CHECK(m.to == std::vector<std::string>{"security@example.com"});
  CHECK(m.subject == "SQL injection in /search");
  REQUIRE(m.date);
  CHECK(format_rfc3339(*m.date) == "2026-11-22T21:56:20Z");
  CHECK(m.body.find("passed to the database unescaped") != std::string::npos);
  CHECK(m.attachments.empty());
  CHECK_FALSE(m.malformed);
}

TEST_CASE("mime: multipart/alternative prefers text/plain; HTML alone is reduced to text", "[mime]") {
  auto alt = parse_message(corpus("alternative.eml"));
  CHECK(alt.body == "Plain version: the bio field is not escaped.");
  CHECK(alt.attachments.empty());
  auto html = parse_message(corpus("html-only.eml"));
  CHECK(html.body.find("The next parameter & the login form") == 0);
  CHECK(html.body.find("alert") == std::string::npos);
  CHECK(html.body.find("color:red") == std::string::npos);
  CHECK(html.body.find("* step one\n* step two") != std::string::npos);
  CHECK(html.body.find("Café é ☺") != std::string::npos);
  CHECK(html_to_text("a<br>b<p>c</p>&lt;x&gt;") == "a\nb\n\nc\n\n<x>\n");
}

TEST_CASE("mime: charsets become UTF-8", "[mime]") {
  auto latin1 = parse_message(corpus("latin1.eml"));
  CHECK(latin1.subject == "Schöne Grüße");
  CHECK(latin1.body.find("Grüße aus Köln") == 0);
  auto cp1252 = parse_message(corpus("windows-1252.eml"));
  CHECK(cp1252.body.find("“quoted” – dash € euro") == 0);
  auto jp = parse_message(corpus("iso-2022-jp.eml"));
  CHECK(jp.subject == "サーバ");
  CHECK(jp.body.find("脆弱性の報告です。") == 0);
  auto utf16 = parse_message(corpus("utf16.eml"));
  CHECK(utf16.body.find("Überlauf im Parser – UTF-16") == 0);
  CHECK(to_utf8("\xff\xfe", "x-no-such-charset") == "ÿþ");
  CHECK(to_utf8("ok \xc3\xa9", "utf-8") == "ok é");
  CHECK(valid_utf8(to_utf8("\x1b$B%5\x1b(B\xff", "iso-2022-jp")));
}

TEST_CASE("mime: RFC 2047 words and RFC 2231 parameters", "[mime]") {
  auto subj = parse_message(corpus("encoded-subject.eml"));
  CHECK(subj.subject == "Überlauf im Parser (für 2.3)");
  CHECK(decode_header_words("=?utf-8?q?a_b?= =?utf-8?q?c?=") == "a bc");
  auto att = parse_message(corpus("rfc2231-attachment.eml"));
  CHECK(att.body == "The dump is attached.");
  REQUIRE(att.attachments.size() == 2);
  CHECK(att.attachments[0].filename == "überlauf dump.bin");
  CHECK(att.attachments[0].content_type == "application/octet-stream");
  CHECK(att.attachments[0].size == 256);
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  CHECK(att.attachments[0].sha256 == sha256_hex(bytes));
  CHECK(att.attachments[1].filename == "screenshot.png");
  CHECK(att.attachments[1].content_type == "image/png");
}

TEST_CASE("mime: digests and forwarded messages are listed as attachments", "[mime]") {
  auto digest = parse_message(corpus("list-digest.eml"));
  CHECK(digest.precedence == "list");
  CHECK(digest.list_id == "<oss-security.lists.example.net>");
  REQUIRE(digest.attachments.size() == 3);
  CHECK(digest.attachments[0].content_type == "message/rfc822");
  CHECK(digest.attachments[1].filename == "second post.eml");
  auto fwd = parse_message(corpus("forwarded-rfc822.eml"));
  CHECK(fwd.body == "Forwarding what a customer sent us.");
  REQUIRE(fwd.attachments.size() == 1);
  CHECK(fwd.attachments[0].filename == "I found a bug.eml");
}

TEST_CASE("mime: references, LF-only input", "[mime]") {
  auto reply = parse_message(corpus("reply-with-references.eml"));
  CHECK(reply.in_reply_to == std::vector<std::string>{"plain@example.org"});
  CHECK(reply.references == std::vector<std::string>{"plain@example.org"});
  REQUIRE(reply.date);
  CHECK(format_rfc3339(*reply.date) == "2026-11-23T07:00:00Z");
  auto lf = parse_message(corpus("lf-only.eml"));
  CHECK(lf.subject == "LF only");
  CHECK(lf.body == "line one\nline two\n");
}

TEST_CASE("mime: malformed mail is shown as well as it can be, and flagged", "[mime]") {
  auto boundary = parse_message(corpus("malformed-boundary.eml"));
  CHECK(boundary.malformed);
  CHECK(boundary.body.find("the text is still here") != std::string::npos);
  auto none = parse_message(corpus("malformed-no-headers.eml"));
  CHECK(none.malformed);
  CHECK(none.body.find("just some text") != std::string::npos);
  auto b64 = parse_message(corpus("malformed-bad-base64.eml"));
  CHECK(b64.malformed);
  auto garbage = parse_message(corpus("8bit-garbage.eml"));
  check_model(garbage);
  CHECK(garbage.message_id == "garbage@example.org");
  CHECK(garbage.body.find('\0') == std::string::npos);
  auto empty = parse_message("");
  check_model(empty);
  CHECK(empty.malformed);
}

TEST_CASE("mime: a 50 MB attachment", "[mime][large]") {
  std::string blob(50 * 1024 * 1024 / 4 * 3, '\0');
  std::mt19937 rng(7);
  for (char& c : blob) c = static_cast<char>(rng() & 0xff);
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  b64.reserve(blob.size() / 3 * 4 + blob.size() / 57 * 2);
  for (std::size_t i = 0; i + 2 < blob.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(blob[i]) << 16) | (static_cast<unsigned char>(blob[i + 1]) << 8) |
                 static_cast<unsigned char>(blob[i + 2]);
    b64 += table[v >> 18];
    b64 += table[(v >> 12) & 63];
    b64 += table[(v >> 6) & 63];
    b64 += table[v & 63];
    if ((i / 3 + 1) % 19 == 0) b64 += "\r\n";
  }
  std::string msg = "From: a@b.c\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
                    "Content-Type: text/plain\r\n\r\nsee attachment\r\n--B\r\nContent-Type: application/octet-stream\r\n"
                    "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=big.bin\r\n\r\n" +
                    b64 + "\r\n--B--\r\n";
  auto m = parse_message(msg);
  REQUIRE(m.attachments.size() == 1);
  CHECK(m.attachments[0].size == blob.size());
  CHECK(m.attachments[0].sha256 == sha256_hex(blob));
  CHECK(m.body == "see attachment");
}

TEST_CASE("mime: mutated corpus never crashes and always yields valid UTF-8", "[mime][fuzz]") {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(CASED_TEST_DATA))
    if (e.path().extension() == ".eml") files.push_back(corpus(e.path().filename().string()));
  REQUIRE(files.size() >= 15);
  std::mt19937 rng(99);
  int runs = 0;
  for (const auto& original : files) {
    // Every truncation point of the first kilobyte, then random mutations.
    for (std::size_t cut = 0; cut < std::min<std::size_t>(original.size(), 1024); cut += 7) {
      check_model(parse_message(original.substr(0, cut)));
      ++runs;
    }
    for (int i = 0; i < 150; ++i) {
      std::string s = original;
      for (int k = 0, n = 1 + static_cast<int>(rng() % 6); k < n && !s.empty(); ++k) {
        std::size_t pos = rng() % s.size();
        switch (rng() % 4) {
          case 0: s[pos] = static_cast<char>(rng() & 0xff); break;
          case 1: s.insert(pos, std::string(1 + rng() % 5, "=?-\r\n<>\"';*%"[rng() % 13])); break;
          case 2: s.erase(pos, 1 + rng() % 16); break;
          default: s.insert(pos, "\r\n--"); break;
        }
      }
      check_model(parse_message(s));
      ++runs;
    }
  }
  CHECK(runs > 2000);
}

TEST_CASE("mime: text conversion keeps ASCII runs whole at every alignment", "[mime]") {
  // The fast path reads eight bytes at a time; put NUL, 8-bit and UTF-8 bytes
  // at every offset around a word boundary.
  for (std::size_t at = 0; at < 20; ++at) {
    std::string ascii(24, 'a');
    std::string with_nul = ascii, with_high = ascii, with_utf8 = ascii;
    with_nul[at] = '\0';
    with_high[at] = '\xE9';  // latin-1 e-acute: not UTF-8
    with_utf8.insert(at, "\xC3\xA9");
    INFO(at);
    CHECK(to_utf8(ascii, "us-ascii") == ascii);
    CHECK(to_utf8(with_nul, "utf-8") == ascii.substr(0, at) + "\xEF\xBF\xBD" + ascii.substr(at + 1));
    CHECK(to_utf8(with_high, "") == ascii.substr(0, at) + "\xC3\xA9" + ascii.substr(at + 1));
    CHECK(to_utf8(with_utf8, "utf-8") == with_utf8);
  }
}
