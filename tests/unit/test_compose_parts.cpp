// A reply's Cc and files (`casectl reply --cc --attach`): addresses checked,
// Cc in the outer and the protected headers, files as base64 MIME parts that
// cased's own parser reads back byte for byte under their names.
#include <catch2/catch.hpp>

#include <string>

#include "core/util.hpp"
#include "mail/mime.hpp"
#include "outbound/compose.hpp"

using namespace cased;

namespace {

compose::Draft reply_draft() {
  compose::Draft d;
  d.from = "security@example.com";
  d.to = {"rita@example.org"};
  d.cc = {"carl@example.net"};
  d.message_id = "cased.7.1.abc@example.com";
  d.subject = {"Re: [CASE#7] bug", "[CASE#7] Encrypted message"};
  d.text = "Hello Rita,\n\nthe patch is attached.\n";
  d.date = 1'790'000'000;
  return d;
}

}  // namespace

TEST_CASE("the type of an attachment comes from its extension", "[compose][attach]") {
  CHECK(compose::guess_content_type("poc.c") == "text/x-c");
  CHECK(compose::guess_content_type("FIX.PATCH") == "text/x-diff");
  CHECK(compose::guess_content_type("report.pdf") == "application/pdf");
  CHECK(compose::guess_content_type("blob") == "application/octet-stream");
  CHECK(compose::guess_content_type(".bashrc") == "application/octet-stream");
  CHECK(compose::guess_content_type("x.exe") == "application/octet-stream");
}

TEST_CASE("a Cc that is not one addr-spec is refused", "[compose][attach]") {
  auto d = reply_draft();
  CHECK(compose::check_draft(d).ok());
  d.cc = {"carl@example.net\r\nBcc: eve@example.com"};
  CHECK(compose::check_draft(d).error().code == Errc::invalid);
}

TEST_CASE("Cc is in the outer and the protected headers", "[compose][attach]") {
  auto d = reply_draft();
  CHECK(compose::outer_headers(d).find("\r\nCc: carl@example.net\r\n") != std::string::npos);
  std::string inner = compose::inner_entity(d);
  CHECK(inner.find("\r\nCc: carl@example.net\r\n") != std::string::npos);
  CHECK(inner.rfind("Content-Type: text/plain;", 0) == 0);  // no files: a single part, as before
  d.cc.clear();
  CHECK(compose::outer_headers(d).find("Cc:") == std::string::npos);
}

TEST_CASE("files go as base64 parts that parse back byte for byte", "[compose][attach]") {
  auto d = reply_draft();
  std::string binary;
  for (int i = 0; i < 5000; ++i) binary += static_cast<char>(i % 256);
  d.attachments = {{"poc.c", "text/x-c", "int main(void) { return 0; }\n"},
                   {"dump \"1\".bin", "application/octet-stream", binary},
                   {"r\xC3\xA9sum\xC3\xA9\x1b[2J.txt", "text/plain", "x"}};
  std::string inner = compose::inner_entity(d);
  CHECK(inner.rfind("Content-Type: multipart/mixed; protected-headers=\"v1\";", 0) == 0);
  CHECK(inner.find('\x1b') == std::string::npos);  // a control character never reaches a header
  for (std::size_t at = 0, next = 0; at < inner.size(); at = next + 2) {
    next = inner.find("\r\n", at);
    REQUIRE(next != std::string::npos);
    CHECK(next - at <= 78);
  }
  ParsedMessage pm = parse_message(compose::to_crlf(inner));
  CHECK(pm.body.find("the patch is attached.") != std::string::npos);
  REQUIRE(pm.attachments.size() == 3);
  CHECK(pm.attachments[0].filename == "poc.c");
  CHECK(pm.attachments[0].content_type == "text/x-c");
  CHECK(pm.attachments[0].sha256 == sha256_hex("int main(void) { return 0; }\n"));
  CHECK(pm.attachments[1].filename == "dump \"1\".bin");
  CHECK(pm.attachments[1].size == binary.size());
  CHECK(pm.attachments[1].sha256 == sha256_hex(binary));
  CHECK(pm.attachments[2].filename == "r\xC3\xA9sum\xC3\xA9_[2J.txt");
}
